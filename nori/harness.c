/* harness.c -- the in-memory test harness of nori_test.h: an application
 * loaded as a worker loads it (main.c's process_load is the model), and
 * requests built by hand sent through service_handle, as the library's
 * own tests/unit/test_dispatch.c does, with a browser's memory of
 * cookies and keys kept between them. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../fcgi/rundir.h"
#include "../fcgi/stats.h"
#include "../session/store.h"
#include "nori_test.h"
#include "service.h"

#define JAR_MAX     8           /* nori sets two cookies at most */
#define COOKIE_MAX  256         /* name=value of one */
#define HOST        "localhost"
#define PREFIX      "/app"

struct jar_cookie {
    char name[64];
    char value[COOKIE_MAX];
};

enum req_header { RH_INM, RH_IMS, RH_ORIGIN, RH_HOST, RH_FETCH, RH_COUNT };
static const char *const req_header_names[RH_COUNT] = {
    "If-None-Match", "If-Modified-Since", "Origin", "Host", "Sec-Fetch-Site",
};

struct nori_test {
    const struct nori_app *app;
    struct nori_config cfg;
    struct service svc;
    struct stats *stats;
    struct nori_limits *limits;
    int app_loaded;
    char *rundir_flag;          /* "--rundir=..." that cfg.rundir points into */
    struct arena arena;
    struct request req;
    struct response resp;
    /* The last answer, copied out of the arena. */
    char *head, *body, *split;  /* split: head with each CRLF made NULs */
    size_t head_len, body_len;
    char location[NAV_QUERY_MAX + 256];
    /* What a browser remembers between requests. */
    char key[NAV_SKEY_MAX + 1];     /* the _s the last page carried */
    char form_key[NAV_KEY_LEN + 1]; /* the _k of its forms */
    struct jar_cookie jar[JAR_MAX];
    size_t njar;
    char cookie[JAR_MAX * (COOKIE_MAX + 70)];
    char *extra[RH_COUNT];      /* nori_test_request_header */
    char *query, *form;         /* what was sent: the caller's and the keys */
    char *path;                 /* PATH_INFO, "" for the app itself */
};

static int stats_path(const char *rundir, const char *file, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", rundir, file);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* What a worker does before it serves, in its order; a fault is one line
 * naming the setting, as nori_main prints it. */
static int harness_load(struct nori_test *t, char *err, size_t errlen)
{
    struct nori_config *cfg = &t->cfg;
    char path[4096], why[512];

    if (rundir_check(cfg->rundir, err, errlen) != RUNDIR_OK)
        return -1;
    if (store_spec_check(cfg->store_spec, why, sizeof why) < 0) {
        snprintf(err, errlen, "NORI_STORE: %s", why);
        return -1;
    }
    if (t->app->load && t->app->load(t->app->data, cfg->rundir, err, errlen) < 0)
        return -1;
    t->app_loaded = 1;
    if (service_init(&t->svc, t->app, cfg, err, errlen) < 0)
        return -1;
    if (stats_path(cfg->rundir, "stats", path, sizeof path) < 0 ||
        (t->stats = stats_open(path, 1)) == NULL) {
        snprintf(err, errlen, "NORI_RUNDIR=%s: cannot map the counters file: %s",
                 cfg->rundir, strerror(errno));
        return -1;
    }
    t->svc.stats = t->svc.sessions.stats = t->stats;
    t->svc.sessions.store_opt.stats = t->stats;
    if (cfg->new_sessions_per_min > 0) {
        if (stats_path(cfg->rundir, "limits", path, sizeof path) < 0 ||
            (t->limits = nori_limits_open(path)) == NULL) {
            snprintf(err, errlen, "NORI_RUNDIR=%s: cannot map the limits file: %s",
                     cfg->rundir, strerror(errno));
            return -1;
        }
        t->svc.sessions.limits = t->limits;
    }
    if (cache_open(&t->svc.cache, cfg->rundir, cfg->page_cache,
                   cfg->page_cache_max_kb << 10, t->svc.etag, t->stats, err,
                   errlen) != CACHE_OK)
        return -1;
    if (arena_init(&t->arena, 64 * 1024) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

struct nori_test *nori_test_open(const struct nori_app *app, const char *rundir,
                                 char *err, size_t errlen)
{
    struct nori_test *t = calloc(1, sizeof *t);
    char prog[] = "nori_test";
    char *argv[3] = {prog, NULL, NULL};
    int argc = 1;

    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    t->app = app;
    if (rundir) {
        size_t n = strlen(rundir) + sizeof "--rundir=";
        if ((t->rundir_flag = malloc(n)) == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        snprintf(t->rundir_flag, n, "--rundir=%s", rundir);
        argv[argc++] = t->rundir_flag;
    }
    optind = 0;                 /* getopt starts afresh for each harness */
    if (config_load(&t->cfg, app, argc, argv, err, errlen) != CONFIG_OK)
        goto fail;
    if (harness_load(t, err, errlen) < 0) {
        config_name_given(&t->cfg, app, err, errlen);
        goto fail;
    }
    return t;
fail:
    nori_test_close(t);
    return NULL;
}

void nori_test_close(struct nori_test *t)
{
    if (t == NULL)
        return;
    service_free(&t->svc);
    if (t->app_loaded && t->app->unload)
        t->app->unload(t->app->data);
    stats_close(t->stats);
    nori_limits_close(t->limits);
    arena_free(&t->arena);
    for (int i = 0; i < RH_COUNT; i++)
        free(t->extra[i]);
    free(t->head);
    free(t->body);
    free(t->split);
    free(t->query);
    free(t->form);
    free(t->path);
    free(t->rundir_flag);
    free(t);
}

/* ---- what the browser remembers ---- */

static void jar_set(struct nori_test *t, const char *line)
{
    const char *eq = strchr(line, '='), *end = strchr(line, ';');
    size_t nl, vl, i;

    if (eq == NULL || (end && end < eq))
        return;
    if (end == NULL)
        end = line + strlen(line);
    nl = (size_t)(eq - line);
    vl = (size_t)(end - eq - 1);
    if (nl == 0 || nl >= sizeof t->jar[0].name || vl >= COOKIE_MAX)
        return;
    for (i = 0; i < t->njar; i++)
        if (strlen(t->jar[i].name) == nl && memcmp(t->jar[i].name, line, nl) == 0)
            break;
    /* Max-Age=0, or an empty value: the cookie goes. */
    if (strstr(end, "Max-Age=0") || vl == 0) {
        if (i < t->njar)
            t->jar[i] = t->jar[--t->njar];
        return;
    }
    if (i == t->njar) {
        if (t->njar == JAR_MAX)
            return;
        t->njar++;
    }
    memcpy(t->jar[i].name, line, nl);
    t->jar[i].name[nl] = '\0';
    memcpy(t->jar[i].value, eq + 1, vl);
    t->jar[i].value[vl] = '\0';
}

static const char *jar_header(struct nori_test *t)
{
    size_t off = 0;

    if (t->njar == 0)
        return NULL;
    for (size_t i = 0; i < t->njar; i++)
        off += (size_t)snprintf(t->cookie + off, sizeof t->cookie - off, "%s%s=%s",
                                i ? "; " : "", t->jar[i].name, t->jar[i].value);
    return t->cookie;
}

#define KEY_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

/* The key after the first marker in s, into out (cap bytes); 0 when none. */
static int key_after(const char *s, const char *marker, char *out, size_t cap)
{
    const char *p = strstr(s, marker);
    size_t n;

    if (p == NULL)
        return 0;
    p += strlen(marker);
    n = strspn(p, KEY_CHARS);
    if (n == 0 || n >= cap)
        return 0;
    memcpy(out, p, n);
    out[n] = '\0';
    return 1;
}

/* The session key of the page's forms, or else of its first link that
 * carries one: looked for only where nori writes it (a hidden field, an
 * href), never in the page's text, where a visitor may have typed
 * "_s=" (escaped, "&amp;_s=" too). */
static int key_of_page(const char *body, char *out, size_t cap)
{
    if (key_after(body, "name=\"_s\" value=\"", out, cap))
        return 1;
    for (const char *p = body; (p = strstr(p, "href=\"")) != NULL; ) {
        const char *end = strchr(p += 6, '"');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char href[NAV_QUERY_MAX + 256];

        if (n < sizeof href) {
            memcpy(href, p, n);
            href[n] = '\0';
            if (key_after(href, "?_s=", out, cap) || key_after(href, "&amp;_s=", out, cap))
                return 1;
        }
        p += n;
    }
    return 0;
}

/* A page's links and forms carry the keys a visitor goes on with; a
 * redirect's Location the session key. An error page is one the visitor
 * goes back from, so it changes nothing remembered; nor does an answer
 * that is not an HTML page of the app. */
static void keys_remember(struct nori_test *t)
{
    if (t->resp.status == 303) {
        if (!key_after(t->location, "?_s=", t->key, sizeof t->key) &&
            !key_after(t->location, "&_s=", t->key, sizeof t->key))
            t->key[0] = '\0';
        return;
    }
    const char *type = nori_test_header(t, "Content-Type");

    /* Only an HTML page of the app has links a visitor follows: JSON or
     * the status page is read and left. */
    if (t->resp.status != 200 || t->body == NULL || t->req.path_info[0] ||
        type == NULL || strncmp(type, "text/html", 9) != 0)
        return;
    if (!key_of_page(t->body, t->key, sizeof t->key))
        t->key[0] = '\0';
    if (!key_after(t->body, "name=\"_k\" value=\"", t->form_key, sizeof t->form_key))
        t->form_key[0] = '\0';
}

void nori_test_forget(struct nori_test *t)
{
    t->njar = 0;
    t->key[0] = t->form_key[0] = '\0';
}

int nori_test_request_header(struct nori_test *t, const char *name, const char *value)
{
    for (int i = 0; i < RH_COUNT; i++) {
        if (strcasecmp(name, req_header_names[i]) != 0)
            continue;
        char *copy = value ? strdup(value) : NULL;
        if (value && copy == NULL)
            return -1;
        free(t->extra[i]);
        t->extra[i] = copy;
        return 0;
    }
    return -1;
}

/* ---- one request ---- */

static int has_field(const char *s, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = s; *p; p++)
        if ((p == s || p[-1] == '&') && strncmp(p, name, n) == 0 && p[n] == '=')
            return 1;
    return 0;
}

/* s, and &name=value for each key held that s does not give itself. */
static char *with_keys(const char *s, const char *k1, const char *v1, const char *k2,
                       const char *v2)
{
    size_t n = strlen(s) + strlen(v1) + strlen(v2) + 16;
    char *out = malloc(n);
    size_t off;

    if (out == NULL)
        return NULL;
    off = (size_t)snprintf(out, n, "%s", s);
    if (v1[0] && !has_field(s, k1))
        off += (size_t)snprintf(out + off, n - off, "%s%s=%s", off ? "&" : "", k1, v1);
    if (k2 && v2[0] && !has_field(s, k2))
        snprintf(out + off, n - off, "%s%s=%s", off ? "&" : "", k2, v2);
    return out;
}

static char *dup_n(const char *s, size_t n)
{
    char *out = malloc(n + 1);

    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* What a worker sends for an answer nobody could build (worker.c's
 * response_send), and the counters it moves. */
static void answer_settle(struct nori_test *t)
{
    struct response *resp = &t->resp;
    int status;

    if (resp->failed || resp->bad_header) {
        int bad = resp->bad_header;
        response_init(resp, &t->arena);
        resp->status = bad ? 502 : 503;
        response_header(resp, "Content-Type", "text/plain; charset=utf-8");
        nori_response_puts(resp, bad ? "The web server passed a request nori cannot "
                                       "answer safely.\n" : "Out of memory.\n");
    }
    if (resp->uncounted)
        return;
    status = resp->status;
    stats_add(t->stats, STAT_REQUESTS, 1);
    if (status >= 500)
        stats_add(t->stats, STAT_5XX, 1);
    else if (status >= 400)
        stats_add(t->stats, STAT_4XX, 1);
    if (status == 429)
        stats_add(t->stats, STAT_THROTTLED, 1);
    if (status == 304)
        stats_add(t->stats, STAT_NOT_MODIFIED, 1);
    stats_add(t->stats, stats_status_id(status), 1);
}

static int answer_copy(struct nori_test *t, struct nori_test_answer *a)
{
    const struct response *resp = &t->resp;
    int has_body = t->req.method != HTTP_HEAD && resp->status != 304;

    free(t->head);
    free(t->body);
    free(t->split);
    t->head = dup_n(resp->head ? resp->head : "", resp->head_len);
    t->split = dup_n(resp->head ? resp->head : "", resp->head_len);
    t->body = dup_n(has_body && resp->body ? resp->body : "", has_body ? resp->body_len : 0);
    if (t->head == NULL || t->split == NULL || t->body == NULL)
        return -1;
    t->head_len = resp->head_len;
    t->body_len = has_body ? resp->body_len : 0;
    for (char *p = t->split; (p = strstr(p, "\r\n")) != NULL; p += 2)
        p[0] = p[1] = '\0';
    const char *loc = nori_test_header(t, "Location");
    snprintf(t->location, sizeof t->location, "%s", loc ? loc : "");
    for (size_t off = 0; off < t->head_len; off += strlen(t->split + off) + 2)
        if (strncasecmp(t->split + off, "Set-Cookie: ", 12) == 0)
            jar_set(t, t->split + off + 12);
    keys_remember(t);
    *a = (struct nori_test_answer){resp->status, t->head, t->head_len, t->body,
                                   t->body_len};
    return 0;
}

static int send_request(struct nori_test *t, enum http_method method, const char *query,
                        const char *form, struct nori_test_answer *a)
{
    struct request *req = &t->req;
    size_t path_len = 0;

    *a = (struct nori_test_answer){503, "", 0, "", 0};
    free(t->query);
    free(t->form);
    free(t->path);
    t->form = t->path = NULL;
    /* "/nori-status?x": a path below the app (PATH_INFO), then the query. */
    const char *path = query;
    if (query[0] == '/') {
        path_len = strcspn(query, "?");
        query += path_len + (query[path_len] == '?');
    }
    if ((t->path = dup_n(path, path_len)) == NULL ||
        (t->query = with_keys(query, "_s", t->key, NULL, "")) == NULL)
        return 503;
    if (form && (t->form = with_keys(form, "_s", t->key, "_k", t->form_key)) == NULL)
        return 503;
    arena_reset(&t->arena);
    memset(req, 0, sizeof *req);
    req->arena = &t->arena;
    req->method = method;
    req->query = t->query;
    req->query_len = strlen(t->query);
    req->script_name = PREFIX;
    req->path_info = t->path;
    req->remote_addr = "127.0.0.1";
    req->host = t->extra[RH_HOST] ? t->extra[RH_HOST] : HOST;
    req->cookie = jar_header(t);
    req->if_none_match = t->extra[RH_INM];
    req->if_modified_since = t->extra[RH_IMS];
    req->origin = t->extra[RH_ORIGIN];
    req->sec_fetch_site = t->extra[RH_FETCH];
    req->body = "";
    req->body_err = BODY_OK;
    if (form) {
        req->content_type = "application/x-www-form-urlencoded";
        req->body = t->form;
        req->body_len = strlen(t->form);
        if (req->origin == NULL)
            req->origin = "http://" HOST;
        if (req->sec_fetch_site == NULL)
            req->sec_fetch_site = "same-origin";
    }
    response_init(&t->resp, &t->arena);
    service_handle(req, &t->resp, &t->svc);
    answer_settle(t);
    if (answer_copy(t, a) < 0)
        return a->status = 503;
    return a->status;
}

int nori_test_get(struct nori_test *t, const char *query, struct nori_test_answer *a)
{
    return send_request(t, HTTP_GET, query ? query : "", NULL, a);
}

int nori_test_post(struct nori_test *t, const char *query, const char *form,
                   struct nori_test_answer *a)
{
    return send_request(t, HTTP_POST, query ? query : "", form ? form : "", a);
}

int nori_test_follow(struct nori_test *t, struct nori_test_answer *a)
{
    char query[sizeof t->location];
    const char *q = strchr(t->location, '?');

    if (t->location[0] == '\0')
        return -1;
    snprintf(query, sizeof query, "%s", q ? q + 1 : "");
    return send_request(t, HTTP_GET, query, NULL, a);
}

const char *nori_test_header(const struct nori_test *t, const char *name)
{
    size_t nl = strlen(name);

    if (t->split == NULL)
        return NULL;
    for (size_t off = 0; off < t->head_len; off += strlen(t->split + off) + 2) {
        const char *line = t->split + off;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':' && line[nl + 1] == ' ')
            return line + nl + 2;
    }
    return NULL;
}

int nori_test_state(struct nori_test *t, void *state)
{
    const struct nori_state_codec *codec = &t->app->state;
    unsigned char buf[SESSION_RECORD_MAX];
    char key[NAV_KEY_LEN + 1] = "";
    struct session s = {.state = state};
    struct store *st;
    size_t len;
    uint64_t version;

    if (t->key[0])
        snprintf(key, sizeof key, "%.*s", NAV_KEY_LEN, t->key);
    for (size_t i = 0; !key[0] && i < t->njar; i++) {
        const char *n = t->jar[i].name;
        if (strncmp(n, COOKIE_HOST_PREFIX, strlen(COOKIE_HOST_PREFIX)) == 0)
            n += strlen(COOKIE_HOST_PREFIX);
        if (strcmp(n, COOKIE_SESSION) == 0)
            snprintf(key, sizeof key, "%.*s", NAV_KEY_LEN, t->jar[i].value);
    }
    if (!key[0] || codec->size == 0 || (st = sessions_store(&t->svc.sessions, &t->req)) == NULL)
        return -1;
    if (store_get(st, key, buf, sizeof buf, &len, &version) != STORE_OK ||
        record_decode(buf, len, codec, &s) != RECORD_OK)
        return -1;
    return 0;
}
