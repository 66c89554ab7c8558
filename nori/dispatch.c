/* dispatch.c -- one request through nori: which of the service's
 * answers it gets (page, action, status, authorizer), and the helpers
 * every answer shares (headers, error pages, faults logged once). The
 * application is reached only through its nori_app; everything here
 * holds for any application. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../fcgi/stats.h"
#include "service.h"

/* A 503 is a store that is down or busy for a moment. */
#define RETRY_AFTER_503 2

/* same-origin, not no-referrer: no other site sees a URL (it may carry a
 * session key), and our own form POSTs keep their Origin, which a browser
 * sends as "null" under no-referrer and the cross-site check refuses. */
void service_add_headers(struct response *resp)
{
    response_header(resp, "X-Content-Type-Options", "nosniff");
    response_header(resp, "Referrer-Policy", "same-origin");
    response_header(resp, "Content-Security-Policy", HEADER_CSP);
}

static void retry_after(struct response *resp, unsigned seconds)
{
    char n[24];

    n[http_uint(n, seconds)] = '\0';
    response_header(resp, "Retry-After", n);
}

/* What the application got wrong (a page's status, a link to no page,
 * an action's result) is logged once per worker, not once per request:
 * a page asked a thousand times a second would write as many lines.
 * The log's rate limit goes by format, and would keep all but the first
 * few faults of a burst from being named at all: a fault seen for the
 * first time is its own format, the line kept in the table (a '%'
 * doubled). Past the table's size, the limit of one shared format. */
void service_log_fault(struct nori_req *r, const char *what)
{
    struct service *svc = r->nori->svc;
    uint64_t h = nori_hash(NORI_HASH_INIT, what, strlen(what));
    struct service_fault *f;
    size_t n = 0;

    for (size_t i = 0; i < svc->nfaults; i++)
        if (svc->faults[i].digest == h)
            return;
    if (svc->nfaults == sizeof svc->faults / sizeof svc->faults[0]) {
        request_log(r->nori->req, "nori: %s; answered 500", what);
        return;
    }
    f = &svc->faults[svc->nfaults++];
    f->digest = h;
    n = (size_t)snprintf(f->line, sizeof f->line, "nori: ");
    for (const char *p = what; *p && n + 20 < sizeof f->line; p++) {
        if (*p == '%')
            f->line[n++] = '%';
        f->line[n++] = *p;
    }
    memcpy(f->line + n, "; answered 500", sizeof "; answered 500");
    request_log(r->nori->req, f->line);
}

/* Every error answer: what was written is dropped, nothing is cached,
 * and the body is the application's error page (or a line of text, for
 * callers that are not a browser). retry: seconds for Retry-After, 0 for
 * the default (RETRY_AFTER_503 on a 503, none otherwise). */
void service_answer_error(struct nori_req *r, int status, const char *why,
                         enum answer_form form, unsigned retry)
{
    const struct nori_app *app = r->nori->svc->app;
    struct response *resp = r->resp;

    response_clear(resp);
    /* The error page writes a document of its own: none of the page's
     * open elements, nor a refused call of the page's, is its. */
    r->nori->html_depth = 0;
    r->nori->html_bad = 0;
    resp->status = status;
    service_add_headers(resp);
    response_header(resp, "Content-Type", form == ANSWER_PLAIN
                    ? "text/plain; charset=utf-8" : "text/html; charset=utf-8");
    response_header(resp, "Cache-Control", "no-store");
    if (status == 405)
        response_header(resp, "Allow", app->act || app->nactions ? "GET, HEAD, POST"
                                                                 : "GET, HEAD");
    if (retry == 0 && status == 503)
        retry = RETRY_AFTER_503;
    if (retry)
        retry_after(resp, retry);
    if (form == ANSWER_PLAIN) {
        nori_response_puts(resp, why);
        nori_response_puts(resp, "\n");
    } else if (app->error_page) {
        r->nori->bad_link = NULL;
        app->error_page(r, status, why);
        /* Too late for a 500: the answer is an error already. */
        if (r->nori->bad_link) {
            char what[160];
            snprintf(what, sizeof what, "the error page links to page '%.*s', which is "
                     "not in the page table", service_shown_len(r->nori->bad_link_len),
                     r->nori->bad_link);
            service_log_fault(r, what);
            r->nori->bad_link = NULL;
        }
    } else {
        page_error_plain(r, status, why);
    }
}

/* A session that could not be had: the store's trouble is a 503; an
 * address past its cap on new sessions is a 429 that says when to retry. */
void service_answer_visit_error(struct nori_req *r, const struct visit *v,
                               enum visit_err err)
{
    if (err == VISIT_ETHROTTLED)
        service_answer_error(r, 429, visit_strerror(err), ANSWER_PAGE, v->retry_after);
    else
        service_answer_error(r, 503, visit_strerror(err), ANSWER_PAGE, 0);
}

int service_read_only(struct visit *v, void *arg)
{
    (void)v;
    (void)arg;
    return 200;     /* reading a page changes nothing */
}

/* A session-bearing answer is one visitor's: no shared cache may keep
 * it, and no validator could describe it. */
void service_add_session_headers(struct nori_req *r, int status)
{
    if (status < 400)
        response_header(r->resp, "Cache-Control", "private, no-store");
    visit_cookies(r->nori->visit, r->resp);
}

/* The visit and the state buffer a session request needs, from the
 * request's arena. */
struct visit *service_visit_new(struct nori_req *r)
{
    return arena_alloc(r->nori->req->arena, sizeof(struct visit));
}

/* Everything one request needs, from its arena, in one place: nori's
 * side, the application's view, and the struct its query fills (the
 * form's comes with a POST). An error answered before the parse shows a
 * page that reads the query, so it starts zeroed, not absent. */
static struct nori_req *request_new(struct service *svc, const struct request *req,
                                    struct response *resp)
{
    const struct nori_app *app = svc->app;
    struct {
        struct nori_req r;
        struct nori n;
    } *x = arena_alloc(req->arena, sizeof *x);
    size_t qsize = app->query.size ? app->query.size : 1;
    void *query = arena_alloc(req->arena, qsize);
    void *form = NULL;

    if (req->method == HTTP_POST)
        form = arena_alloc(req->arena, app->form.size ? app->form.size : 1);
    if (x == NULL || query == NULL || (req->method == HTTP_POST && form == NULL))
        return NULL;
    x->n = (struct nori){.svc = svc, .req = req};
    memset(query, 0, qsize);
    if (form)
        memset(form, 0, app->form.size);
    x->r = (struct nori_req){.resp = resp, .prefix = req->script_name, .pg = "",
                             .query = query, .form = form, .act = "",
                             .now = (uint64_t)time(NULL), .data = app->data,
                             .nori = &x->n};
    return &x->r;
}

/* A mount prefix spelt another way (//app, /app/, /./app) renders every
 * link under that spelling, and its page would be kept at the canonical
 * prefix's path in the page cache, where the web server serves it to
 * everyone: refused before anything renders, and the error page's links
 * get the canonical spelling. "/" is the root's, as some servers say it. */
static int prefix_refused(struct nori_req *r)
{
    const char *sn = r->nori->req->script_name;
    size_t cap = strlen(sn) + 1;
    char *canon = arena_alloc(r->nori->req->arena, cap);

    if (strcmp(sn, "/") == 0)
        return 0;
    if (canon == NULL || cache_prefix_canonical(canon, cap, sn) < 0) {
        r->prefix = "";
        return 1;
    }
    if (strcmp(canon, sn) == 0)
        return 0;
    r->prefix = canon;
    return 1;
}

void service_handle(const struct request *req, struct response *resp, void *ctx)
{
    struct service *svc = ctx;
    struct nori_req *r = request_new(svc, req, resp);

    if (r == NULL) {
        resp->failed = 1;
        return;
    }
    /* nginx has no authorizer role: its auth_request asks a responder,
     * at /authorize below the app, the same question; but only from the
     * internal location that sets NORI_AUTHORIZE=1 (a FastCGI parameter
     * no client can send), or any client could ask who a key belongs to. */
    if (req->authorizer ||
        (req->authorize_param && strcmp(req->path_info, "/authorize") == 0)) {
        service_serve_authorize(r, r->now);
        return;
    }
    if (svc->cfg.status_path[0] && strcmp(req->path_info, svc->cfg.status_path) == 0 &&
        req->method != HTTP_POST) {
        service_serve_status(r);
        return;
    }
    if (svc->cfg.ping_path[0] && strcmp(req->path_info, svc->cfg.ping_path) == 0 &&
        req->method != HTTP_POST) {
        service_serve_ping(r);
        return;
    }
    /* The app is one URL; anything below the mount point is not ours,
     * nor another spelling of the mount point (prefix_refused). */
    if (prefix_refused(r))
        service_answer_error(r, 404, "There is no such page.", ANSWER_PAGE, 0);
    else if (req->path_info[0] && strcmp(req->path_info, "/") != 0)
        service_answer_error(r, 404, "There is no such page.", ANSWER_PAGE, 0);
    else if (req->method == HTTP_GET || req->method == HTTP_HEAD)
        service_serve_page(r, r->now);
    else if (req->method == HTTP_POST && (svc->app->act || svc->app->nactions))
        service_serve_action(r, r->now);
    else if (req->method == HTTP_POST)
        service_answer_error(r, 405, "This application has no actions: its pages are read "
                     "with GET or HEAD.", ANSWER_PAGE, 0);
    else
        service_answer_error(r, 405, "Pages are read with GET or HEAD; actions are POSTs.",
                     ANSWER_PAGE, 0);
    if (r->nori->visit == NULL || !r->nori->visit->committed)
        stats_add(svc->stats, STAT_COMMITS_AVOIDED, 1);
}
