/* status.c -- the monitor's endpoints: /nori-status (JSON, or the
 * OpenMetrics text) and /nori-ping, for this machine only. */
#include <stdio.h>
#include <string.h>

#include "../fcgi/build.h"
#include "../fcgi/stats.h"
#include "service.h"

static int is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
           strncmp(addr, "::ffff:127.", 11) == 0;
}

/* The status URLs are for monitoring on this machine. Behind a proxy on
 * this machine (a TLS terminator, say) every client is 127.0.0.1: a
 * request a proxy forwarded is nobody's on this machine, whatever
 * REMOTE_ADDR says. A trusted request is the monitor's, not a client's:
 * it is not counted, so that polling leaves the counters as they were. */
static int monitor_trusted(struct nori_req *r)
{
    const struct request *req = r->nori->req;

    if (!is_loopback(req->remote_addr) || req->proxied) {
        service_answer_error(r, 403, "The status is for this machine only.", ANSWER_PAGE, 0);
        return 0;
    }
    r->resp->uncounted = 1;
    return 1;
}

/* How a statistic is exposed to Prometheus: its name (counters end in
 * _total), its type, a label for one series of a family, and its help. */
struct metric {
    const char *name, *type, *label, *help;
};

static struct metric metric_of(enum stat_id id, char *label, size_t cap)
{
    int code = stats_id_status(id);

    if (code) {
        snprintf(label, cap, "status=\"%d\"", code);
        return (struct metric){"nori_errors_by_status_total", "counter", label,
                               "Error answers of each status nori gives."};
    }
    switch (id) {
    case STAT_REQUESTS: return (struct metric){"nori_requests_total", "counter", NULL,
        "Requests answered (the status URLs not included)."};
    case STAT_PAGES: return (struct metric){"nori_pages_total", "counter", NULL,
        "Pages rendered."};
    case STAT_SESSIONS_CREATED: return (struct metric){"nori_sessions_created_total",
        "counter", NULL, "Sessions created."};
    case STAT_COMMITS: return (struct metric){"nori_commits_total", "counter", NULL,
        "Session commits."};
    case STAT_COMMITS_AVOIDED: return (struct metric){"nori_commits_avoided_total",
        "counter", NULL, "Requests answered without a commit."};
    case STAT_CONFLICTS: return (struct metric){"nori_conflicts_total", "counter", NULL,
        "Commits that found the record changed, and ran the action again."};
    case STAT_RECLAIMED: return (struct metric){"nori_reclaimed_total", "counter", NULL,
        "Expired session records reclaimed."};
    case STAT_4XX: return (struct metric){"nori_errors_total", "counter", "class=\"4xx\"",
        "Error answers, by class."};
    case STAT_5XX: return (struct metric){"nori_errors_total", "counter", "class=\"5xx\"",
        "Error answers, by class."};
    case STAT_ACTIONS: return (struct metric){"nori_actions_total", "counter", NULL,
        "POSTs that reached the application."};
    case STAT_CACHE_BYTES: return (struct metric){"nori_page_cache_bytes", "gauge", NULL,
        "Bytes written to the current page cache generation."};
    case STAT_SESSIONS_LOST: return (struct metric){"nori_sessions_lost_total", "counter",
        NULL, "Live sessions a memory store held when its worker went away."};
    case STAT_THROTTLED: return (struct metric){"nori_throttled_total", "counter", NULL,
        "Answers of 429: sessions per address, failed logins."};
    case STAT_STORE_CALLS: return (struct metric){"nori_store_latency_seconds_count",
        "summary", NULL, "Session store calls and the time they took."};
    case STAT_STORE_MICROS: return (struct metric){"nori_store_latency_seconds_sum",
        "summary", NULL, "Session store calls and the time they took."};
    case STAT_NOT_MODIFIED: return (struct metric){"nori_cache_not_modified_total",
        "counter", NULL, "Answers of 304: the client's cached copy was current."};
    case STAT_CACHE_PAGES: return (struct metric){"nori_page_cache_pages_total",
        "counter", NULL, "Pages written for the page cache (the web server serves its hits)."};
    default: return (struct metric){NULL, NULL, NULL, NULL};
    }
}

/* The family of a sample: its name without the summary's suffixes. */
static size_t metric_family(const char *name)
{
    size_t n = strlen(name);
    const char *tails[] = {"_count", "_sum"};

    for (size_t i = 0; i < 2; i++) {
        size_t t = strlen(tails[i]);
        if (n > t && strcmp(name + n - t, tails[i]) == 0 &&
            strstr(name, "latency_seconds"))
            return n - t;
    }
    return n;
}

/* The Prometheus text exposition format (version 0.0.4): HELP and TYPE
 * once per family, then its samples. */
static void status_metrics(struct response *resp, const struct stats *stats,
                           const char *backend, int reachable, size_t records,
                           size_t bytes)
{
    const char *last = "";
    size_t last_len = 0;

    for (int i = 0; i < STAT_COUNT; i++) {
        char label[32];
        struct metric m = metric_of((enum stat_id)i, label, sizeof label);
        uint64_t v = stats_get(stats, (enum stat_id)i);
        size_t fam = m.name ? metric_family(m.name) : 0;

        if (m.name == NULL)
            continue;
        if (fam != last_len || strncmp(m.name, last, fam) != 0) {
            nori_response_printf(resp, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)fam, m.name,
                            m.help, (int)fam, m.name, m.type);
            last = m.name;
            last_len = fam;
        }
        if (i == STAT_STORE_MICROS)
            nori_response_printf(resp, "%s %llu.%06llu\n", m.name,
                            (unsigned long long)(v / 1000000),
                            (unsigned long long)(v % 1000000));
        else
            nori_response_printf(resp, m.label ? "%s{%s} %llu\n" : "%s%s %llu\n", m.name,
                            m.label ? m.label : "", (unsigned long long)v);
    }
    nori_response_printf(resp, "# HELP nori_store_up Whether the session store answered.\n"
                    "# TYPE nori_store_up gauge\nnori_store_up{backend=\"%s\"} %d\n",
                    backend, reachable);
    nori_response_printf(resp, "# HELP nori_store_records Records in the session store.\n"
                    "# TYPE nori_store_records gauge\nnori_store_records %zu\n", records);
    nori_response_printf(resp, "# HELP nori_store_bytes Bytes the session store uses.\n"
                    "# TYPE nori_store_bytes gauge\nnori_store_bytes %zu\n", bytes);
}

static int query_is(const struct request *req, const char *word)
{
    size_t n = strlen(word);

    return req->query_len >= n && strncmp(req->query, word, n) == 0 &&
           (req->query[n] == '\0' || req->query[n] == '&' || req->query[n] == '=');
}

/* The counters of every worker, and the store's size: JSON, or with
 * ?openmetrics the Prometheus text format. */
void service_serve_status(struct nori_req *r)
{
    struct nori *n = r->nori;
    struct service *svc = n->svc;
    struct response *resp = r->resp;
    struct store *st;
    size_t records = 0, bytes = 0;
    int reachable = 0;

    if (!monitor_trusted(r))
        return;
    st = sessions_store(&svc->sessions, n->req);
    if (st)
        reachable = store_stat(st, &records, &bytes) == STORE_OK;
    service_add_headers(resp);
    response_header(resp, "Cache-Control", "no-store");
    if (query_is(n->req, "openmetrics")) {
        response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        status_metrics(resp, svc->stats, st ? store_backend(st) : "none", reachable,
                       records, bytes);
        return;
    }
    response_header(resp, "Content-Type", "application/json");
    /* Which build answers: after an upgrade and a reload, the new one. */
    nori_response_printf(resp, "{\"build\": \"%s\", ", nori_build_id);
    for (int i = 0; i < STAT_COUNT; i++)
        nori_response_printf(resp, "\"%s\": %llu, ", stats_name((enum stat_id)i),
                        (unsigned long long)stats_get(svc->stats, (enum stat_id)i));
    nori_response_printf(resp, "\"store_backend\": \"%s\", \"store_reachable\": %s, ",
                    st ? store_backend(st) : "none", reachable ? "true" : "false");
    nori_response_printf(resp, "\"store_records\": %zu, \"store_bytes\": %zu}\n",
                    records, bytes);
}

/* A health check that can fail (PHP-FPM's ping.path, with the store
 * added): pong while this worker's store answers, 503 when it does not,
 * so that a balancer takes a machine whose store is gone out of service. */
void service_serve_ping(struct nori_req *r)
{
    struct nori *n = r->nori;
    struct store *st;

    if (!monitor_trusted(r))
        return;
    st = sessions_store(&n->svc->sessions, n->req);
    if (st == NULL || store_ping(st) != STORE_OK) {
        service_answer_error(r, 503, "The session store is not available.", ANSWER_PLAIN, 0);
        return;
    }
    service_add_headers(r->resp);
    response_header(r->resp, "Content-Type", "text/plain; charset=utf-8");
    response_header(r->resp, "Cache-Control", "no-store");
    nori_response_puts(r->resp, "pong\n");
}
