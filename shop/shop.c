/* shop.c -- one request through the shop: method, URL, route, cache
 * validation, page or action, and the headers every answer carries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../fcgi/build.h"
#include "../fcgi/origin.h"
#include "../fcgi/stats.h"
#include "view.h"

/* No script at all, styles only from our own origin, forms only to us:
 * a URL may carry a session key, so nothing may leak it or inject into it. */
#define CSP "default-src 'none'; style-src 'self'; img-src 'self'; " \
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/* same-origin, not no-referrer: no other site sees a URL (it may carry a
 * session key), and our own form POSTs keep their Origin, which a browser
 * sends as "null" under no-referrer and the cross-site check refuses. */
static void headers_common(struct response *resp)
{
    response_header(resp, "X-Content-Type-Options", "nosniff");
    response_header(resp, "Referrer-Policy", "same-origin");
    response_header(resp, "Content-Security-Policy", CSP);
}

static void answer_error(struct view *v, int status, const char *why)
{
    response_clear(v->resp);
    v->resp->status = status;
    headers_common(v->resp);
    response_header(v->resp, "Content-Type", "text/html; charset=utf-8");
    response_header(v->resp, "Cache-Control", "no-store");
    if (status == 405)
        response_header(v->resp, "Allow", "GET, HEAD, POST");
    /* Every 503 is a store that is down or busy for a moment. */
    if (status == 503)
        response_header(v->resp, "Retry-After", "2");
    view_error(v, status, why);
}

static void retry_after(struct view *v, unsigned seconds)
{
    char n[16];

    snprintf(n, sizeof n, "%u", seconds);
    response_header(v->resp, "Retry-After", n);
}

/* A short plain-text answer, for callers that are not a browser page. */
static void answer_plain(struct view *v, int status, const char *text)
{
    response_clear(v->resp);
    v->resp->status = status;
    headers_common(v->resp);
    response_header(v->resp, "Content-Type", "text/plain; charset=utf-8");
    response_header(v->resp, "Cache-Control", "no-store");
    response_puts(v->resp, text);
}

/* Weak comparison (RFC 9110 8.8.3.2) over a list of entity tags. */
static int etag_matches(const char *header, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = header;

    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (strncmp(p, etag, elen) == 0 &&
            (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' ' || p[elen] == '\t'))
            return 1;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

static int page_visit(struct visit *v, void *arg)
{
    (void)v;
    (void)arg;
    return 200;     /* reading a page changes nothing */
}

/* A page, or the error page when its lookups fail; errors are never
 * cached (answer_error says so), pages get their cache headers after. */
static int render(struct view *v, const struct page *page)
{
    int status = page->render(v);

    if (status != 200) {
        answer_error(v, status, status == 404 ? "Nothing here has that number."
                                              : "Please try again.");
        return status;
    }
    stats_add(STAT_PAGES, 1);
    response_header(v->resp, "Content-Type", "text/html; charset=utf-8");
    headers_common(v->resp);
    return 200;
}

/* A session-bearing answer is one visitor's: no shared cache may keep
 * it, and no validator could describe it. */
static void headers_session(struct view *v, const struct visit *visit, int status)
{
    if (status < 400)
        response_header(v->resp, "Cache-Control", "private, no-store");
    visit_cookies(visit, v->resp);
}

/* The window shopper's path: no key, so no store; the page depends only
 * on the URL and the catalog, so the catalog's ETag validates it and a
 * 304 costs no rendering. */
static void serve_sessionless(struct view *v, const struct shop *s,
                              const struct page *page)
{
    const struct request *req = v->req;

    if (req->if_none_match && etag_matches(req->if_none_match, s->etag)) {
        v->resp->status = 304;
        headers_common(v->resp);
    } else {
        if (render(v, page) != 200)
            return;
    }
    response_header(v->resp, "ETag", s->etag);
    response_header(v->resp, "Cache-Control", "public, max-age=60");
    /* With the cookie carrier the same URL is a personal page for a
     * nori_s holder: a shared cache must not hand this one to them, nor
     * theirs to anyone (theirs is no-store anyway). The url carrier puts
     * the key in the URL, so the URL alone tells the pages apart. */
    if (visit_cookie_carried(&s->sessions))
        response_header(v->resp, "Vary", "Cookie");
}

static void serve_page(struct view *v, struct shop *s, uint64_t now)
{
    const struct request *req = v->req;
    struct nav *nav = arena_alloc(req->arena, sizeof *nav);
    struct visit *visit = arena_alloc(req->arena, sizeof *visit);
    const struct page *page;
    const char *s_param;
    enum nav_err err;
    enum visit_err verr;
    int status;

    if (nav == NULL || visit == NULL) {
        v->resp->failed = 1;
        return;
    }
    if ((err = nav_parse(req->query, req->query_len, nav)) != NAV_OK) {
        answer_error(v, nav_status(err), nav_strerror(err));
        return;
    }
    v->nav = nav;
    page = route_find(s->routes, (nav->seen & NAV_HAS_PG) ? nav->pg : "Home");
    if (page == NULL) {
        answer_error(v, 404, "There is no such page.");
        return;
    }
    s_param = (nav->seen & NAV_HAS_S) ? nav->s : NULL;
    if (s->cfg.policy == POLICY_LAZY && !visit_has_key(&s->sessions, req, s_param)) {
        serve_sessionless(v, s, page);
        return;
    }
    verr = visit_run(visit, &s->sessions, req, s_param, now, page_visit, NULL, &status);
    if (verr != VISIT_OK) {
        answer_error(v, 503, visit_strerror(verr));
        return;
    }
    v->visit = visit;
    v->committed = visit->committed;
    headers_session(v, visit, render(v, page));
}

static int is_form(const char *content_type)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof form - 1;

    return content_type && strncasecmp(content_type, form, n) == 0 &&
           (content_type[n] == '\0' || content_type[n] == ';' ||
            content_type[n] == ' ');
}

/* Checks a POST in the order a client can act on: size, then type, then
 * whether it arrived whole, then its grammar. Only then may it act. */
static int form_read(struct view *v, struct nav_form *form, struct nav *nav)
{
    const struct request *req = v->req;
    enum nav_err err;

    switch (req->body_err) {
    case BODY_OK:
        break;
    case BODY_ETOOLARGE:
        answer_error(v, 413, "The form is larger than 16 KiB.");
        return -1;
    case BODY_ENOMEM:
        v->resp->failed = 1;
        return -1;
    case BODY_ETIMEOUT:
        answer_error(v, 408, "The form took too long to arrive; nothing was done.");
        return -1;
    case BODY_ELENGTH:
    case BODY_ETRUNCATED:
        answer_error(v, 400, "The form arrived incomplete; nothing was done.");
        return -1;
    }
    if (!is_form(req->content_type)) {
        answer_error(v, 415, "Forms must be application/x-www-form-urlencoded.");
        return -1;
    }
    if ((err = nav_parse_form(req->body, req->body_len, form)) != NAV_OK ||
        (err = nav_parse(req->query, req->query_len, nav)) != NAV_OK) {
        answer_error(v, nav_status(err), nav_strerror(err));
        return -1;
    }
    return 0;
}

static void redirect(struct view *v, const struct nav_link *next)
{
    char url[NAV_QUERY_MAX + 256];
    struct nav_link l = *next;

    l.s = visit_link_key(v->visit);
    if (nav_url(url, sizeof url, v->req->script_name, &l) == 0) {
        v->resp->failed = 1;
        return;
    }
    v->resp->status = 303;
    headers_common(v->resp);
    response_header(v->resp, "Location", url);
    response_header(v->resp, "Content-Type", "text/plain; charset=utf-8");
    response_puts(v->resp, "See Other\n");
}

/* A form posted from another site carries none of our SameSite=Lax
 * cookies, so without this it would pass for a new visitor's and could
 * log the victim into the attacker's account or replace their cookies.
 * Refused before anything is read from the store or the body. */
static int cross_site(struct view *v, const struct shop *s)
{
    const struct request *req = v->req;
    enum origin_err err = origin_check(req->origin, req->sec_fetch_site, req->host,
                                       s->cfg.allowed_origins);

    if (err == ORIGIN_OK)
        return 0;
    request_log(req, "nori: refused a POST from another site: %s", origin_strerror(err));
    answer_error(v, 403, "This form was sent from another site; nothing was done.");
    return 1;
}

static void serve_action(struct view *v, struct shop *s, uint64_t now)
{
    const struct request *req = v->req;
    struct nav_form *form = arena_alloc(req->arena, sizeof *form);
    struct nav *nav = arena_alloc(req->arena, sizeof *nav);
    struct visit *visit = arena_alloc(req->arena, sizeof *visit);
    struct action a = {.shop = s, .form = form, .req = req, .now = now};
    const char *s_param = NULL;
    enum visit_err verr;
    int status;

    if (form == NULL || nav == NULL || visit == NULL) {
        v->resp->failed = 1;
        return;
    }
    if (cross_site(v, s))
        return;
    if (form_read(v, form, nav) < 0)
        return;
    /* Forms carry _s as a hidden field; a client may also post to a URL
     * that carries it. */
    if (form->seen & NAV_HAS_S)
        s_param = form->s;
    else if (nav->seen & NAV_HAS_S)
        s_param = nav->s;
    verr = visit_run(visit, &s->sessions, req, s_param, now, action_apply, &a, &status);
    if (verr != VISIT_OK) {
        answer_error(v, 503, visit_strerror(verr));
        return;
    }
    v->visit = visit;
    v->committed = visit->committed;
    action_done(&a, status);
    if (a.login_failed) {
        v->notice = a.why;
        status = render(v, route_find(s->routes, "Login"));
    } else if (status >= 400) {
        answer_error(v, status, a.why ? a.why : "The action failed.");
        if (status == 429)
            retry_after(v, a.retry_after);
    } else {
        redirect(v, &a.next);
    }
    headers_session(v, visit, status);
}

static int is_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
           strncmp(addr, "::ffff:127.", 11) == 0;
}

/* The counters of every worker, and the store's size, as JSON. */
static void serve_status(struct view *v, struct shop *s)
{
    struct store *st;
    size_t records = 0, bytes = 0;
    int reachable = 0;

    /* Behind a proxy on this machine (a TLS terminator, say) every client
     * is 127.0.0.1: a request a proxy forwarded is nobody's on this
     * machine, whatever REMOTE_ADDR says. */
    if (!is_loopback(v->req->remote_addr) || v->req->proxied) {
        answer_error(v, 403, "The status is for this machine only.");
        return;
    }
    st = sessions_store(&s->sessions, v->req);
    if (st)
        reachable = store_stat(st, &records, &bytes) == STORE_OK;
    headers_common(v->resp);
    response_header(v->resp, "Content-Type", "application/json");
    response_header(v->resp, "Cache-Control", "no-store");
    response_puts(v->resp, "{");
    for (int i = 0; i < STAT_COUNT; i++)
        response_printf(v->resp, "\"%s\": %llu, ", stats_name((enum stat_id)i),
                        (unsigned long long)stats_get((enum stat_id)i));
    response_printf(v->resp, "\"store_backend\": \"%s\", \"store_reachable\": %s, ",
                    st ? store_backend(st) : "none", reachable ? "true" : "false");
    response_printf(v->resp, "\"store_records\": %zu, \"store_bytes\": %zu}\n",
                    records, bytes);
}

/* The FastCGI authorizer role (or nginx's auth_request subrequest to
 * /authorize): the web server asks whether the request it holds (for a
 * protected path, say /members/) may proceed. It may when
 * it carries a live session whose user logged in; the user's name goes
 * back as NORI_USER for whatever serves the path. Nothing is rendered or
 * committed: an authorizer answers for someone else's content. */
static void serve_authorize(struct view *v, struct shop *s, uint64_t now)
{
    const struct request *req = v->req;
    struct nav *nav = arena_alloc(req->arena, sizeof *nav);
    struct visit *visit = arena_alloc(req->arena, sizeof *visit);
    const char *s_param = NULL;
    const struct session *sess;
    int status;

    if (nav == NULL || visit == NULL) {
        v->resp->failed = 1;
        return;
    }
    if (nav_parse(req->query, req->query_len, nav) == NAV_OK && (nav->seen & NAV_HAS_S))
        s_param = nav->s;
    if (visit_run(visit, &s->sessions, req, s_param, now, page_visit, NULL,
                  &status) != VISIT_OK) {
        answer_plain(v, 503, "The session store is not available.\n");
        response_header(v->resp, "Retry-After", "2");
        return;
    }
    sess = visit->live ? &visit->s : NULL;
    if (sess == NULL || sess->user[0] == '\0') {
        answer_plain(v, 403, "Log in at the shop first.\n");
        return;
    }
    v->resp->status = 200;
    /* The answer names a user: no cache may keep it for another request. */
    response_header(v->resp, "Cache-Control", "no-store");
    response_header(v->resp, "Variable-NORI_USER", sess->user);
}

void shop_handle(const struct request *req, struct response *resp, void *ctx)
{
    struct shop *s = ctx;
    struct view v = {.shop = s, .req = req, .resp = resp};
    uint64_t now = (uint64_t)time(NULL);

    /* nginx has no authorizer role: its auth_request asks a responder,
     * at /authorize below the app, the same question; but only from the
     * internal location that sets NORI_AUTHORIZE=1 (a FastCGI parameter
     * no client can send), or any client could ask who a key belongs to. */
    if (req->authorizer ||
        (req->authorize_param && strcmp(req->path_info, "/authorize") == 0)) {
        serve_authorize(&v, s, now);
        return;
    }

    if (s->cfg.status_path[0] && strcmp(req->path_info, s->cfg.status_path) == 0 &&
        req->method != HTTP_POST) {
        serve_status(&v, s);
        return;
    }
    /* The app is one URL; anything below the mount point is not ours. */
    if (req->path_info[0] && strcmp(req->path_info, "/") != 0) {
        answer_error(&v, 404, "There is no such page.");
    } else if (req->method == HTTP_GET || req->method == HTTP_HEAD) {
        serve_page(&v, s, now);
    } else if (req->method == HTTP_POST) {
        serve_action(&v, s, now);
    } else {
        answer_error(&v, 405, "Pages are read with GET or HEAD; actions are POSTs.");
    }
    if (!v.committed)
        stats_add(STAT_COMMITS_AVOIDED, 1);
}

static uint64_t fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

/* Loaders say what is wrong; the message also names the setting. */
static int load_failed(const char *setting, const char *path, char *err,
                       size_t errlen)
{
    char why[256];

    snprintf(why, sizeof why, "%s", err);
    snprintf(err, errlen, "%s=%s: %s", setting, path, why);
    return -1;
}

int shop_init(struct shop *s, const struct shop_config *cfg, char *err,
              size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (catalog_load(&s->catalog, cfg->catalog_path, err, errlen) < 0)
        return load_failed("NORI_CATALOG", cfg->catalog_path, err, errlen);
    if (users_load(&s->users, cfg->users_path, err, errlen) < 0) {
        catalog_free(&s->catalog);
        return load_failed("NORI_USERS", cfg->users_path, err, errlen);
    }
    s->sessions = (struct sessions){
        .store_spec = cfg->store_spec,
        .store_opt = {.nosync = cfg->nosync,
                      .map_size = (size_t)cfg->map_size_mb << 20,
                      .gc_foreground = (unsigned)cfg->gc_foreground,
                      .redis_prefix = cfg->redis_prefix,
                      .redis_timeout_ms = (unsigned)cfg->redis_timeout_ms,
                      .redis_wait = (unsigned)cfg->redis_wait,
                      .memory_max = cfg->memory_max},
        .gc_interval_ms = cfg->gc_interval_ms,
        .gc_batch = (unsigned)cfg->gc_batch,
        .life = {.ttl = cfg->ttl, .max_age = cfg->max_age},
        .policy = cfg->policy,
        .carrier = cfg->carrier,
        .bind = cfg->bind,
        .cookie_path = cfg->cookie_path,
        .cookie_secure = cfg->cookie_secure,
        .route = cfg->route,
    };
    if ((s->routes = route_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < shop_npages; i++)
        if (route_add(s->routes, shop_pages[i].name, &shop_pages[i]) < 0) {
            snprintf(err, errlen, "cannot register page %s", shop_pages[i].name);
            goto fail;
        }
    /* What a sessionless page shows depends on the catalog, this build
     * and the stylesheet and icon URLs; the ETag covers them all. */
    uint64_t h = fnv1a_str(s->catalog.digest, nori_build_id);
    h = fnv1a_str(h, cfg->style_url);
    h = fnv1a_str(h, cfg->icon_url);
    snprintf(s->etag, sizeof s->etag, "\"%016llx\"", (unsigned long long)h);
    /* Without it every page renders its frame, as a session's page does. */
    s->frame = calloc(1, sizeof *s->frame);
    return 0;
fail:
    shop_free(s);
    return -1;
}

void shop_free(struct shop *s)
{
    sessions_close(&s->sessions);
    users_free(&s->users);
    route_free(s->routes);
    frame_free(s->frame);
    s->frame = NULL;
    catalog_free(&s->catalog);
    s->routes = NULL;
}
