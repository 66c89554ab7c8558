/* dispatch.c -- one request through nori: method, URL, route, the lazy
 * rule, cache validation, the application's page or action, and the
 * headers every answer carries. The application is reached only through
 * its nori_app; everything here holds for any application. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../fcgi/build.h"
#include "../fcgi/origin.h"
#include "../fcgi/stats.h"
#include "service.h"


/* A 503 is a store that is down or busy for a moment. */
#define RETRY_AFTER_503 2

/* same-origin, not no-referrer: no other site sees a URL (it may carry a
 * session key), and our own form POSTs keep their Origin, which a browser
 * sends as "null" under no-referrer and the cross-site check refuses. */
static void headers_common(struct response *resp)
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

enum answer_form { ANSWER_PAGE, ANSWER_PLAIN };

/* What the application got wrong (a page's status, a link to no page,
 * an action's result) is logged once per worker, not once per request:
 * a page asked a thousand times a second would write as many lines.
 * The log's rate limit goes by format, and would keep all but the first
 * few faults of a burst from being named at all: a fault seen for the
 * first time is its own format, the line kept in the table (a '%'
 * doubled). Past the table's size, the limit of one shared format. */
static void fault_log(struct nori_req *r, const char *what)
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

/* The name a link gave, as much of it as a log line needs. */
static int shown_len(size_t n)
{
    return n > 64 ? 64 : (int)n;
}

/* Every error answer: what was written is dropped, nothing is cached,
 * and the body is the application's error page (or a line of text, for
 * callers that are not a browser). retry: seconds for Retry-After, 0 for
 * the default (RETRY_AFTER_503 on a 503, none otherwise). */
static void answer_error(struct nori_req *r, int status, const char *why,
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
    headers_common(resp);
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
                     "not in the page table", shown_len(r->nori->bad_link_len),
                     r->nori->bad_link);
            fault_log(r, what);
            r->nori->bad_link = NULL;
        }
    } else {
        page_error_plain(r, status, why);
    }
}

/* A session that could not be had: the store's trouble is a 503; an
 * address past its cap on new sessions is a 429 that says when to retry. */
static void answer_visit_error(struct nori_req *r, const struct visit *v,
                               enum visit_err err)
{
    if (err == VISIT_ETHROTTLED)
        answer_error(r, 429, visit_strerror(err), ANSWER_PAGE, v->retry_after);
    else
        answer_error(r, 503, visit_strerror(err), ANSWER_PAGE, 0);
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

static int read_only(struct visit *v, void *arg)
{
    (void)v;
    (void)arg;
    return 200;     /* reading a page changes nothing */
}

/* A page, or the error page when its lookups fail; errors are never
 * cached (answer_error says so), pages get their cache headers after.
 * A page answers 200, or a 4xx or 5xx (nori.h); any other status, and a
 * link to a page the table does not have, is the application's mistake:
 * a 500, logged, and the worker goes on. */
static int render(struct nori_req *r, const struct nori_page *page)
{
    struct nori *n = r->nori;
    char what[160];
    int status;

    r->pg = page->name;
    n->bad_link = NULL;
    status = page->render(r);
    if (n->bad_link) {
        snprintf(what, sizeof what, "page %s links to page '%.*s', which is not in the "
                 "page table", page->name, shown_len(n->bad_link_len), n->bad_link);
        fault_log(r, what);
        n->bad_link = NULL;
        status = 500;
        n->page_why = NULL;
    } else if (status != 200 && (status < 400 || status > 599)) {
        snprintf(what, sizeof what, "page %s returned %d (a page returns 200, or a 4xx or "
                 "5xx having written nothing)", page->name, status);
        fault_log(r, what);
        status = 500;
        n->page_why = NULL;
    } else if (n->html_bad) {
        /* A refused call of the HTML writer wrote nothing of its own:
         * the page is not what its author meant (html.c logged it). */
        status = 500;
        n->page_why = NULL;
    }
    if (status != 200) {
        const char *why = n->page_why;
        if (why == NULL)
            why = status == 404 ? "Nothing here has that number." : "Please try again.";
        answer_error(r, status, why, ANSWER_PAGE, 0);
        return status;
    }
    stats_add(r->nori->svc->stats, STAT_PAGES, 1);
    response_header(r->resp, "Content-Type", n->content_type
                    ? n->content_type : "text/html; charset=utf-8");
    headers_common(r->resp);
    return 200;
}

/* A session-bearing answer is one visitor's: no shared cache may keep
 * it, and no validator could describe it. */
static void headers_session(struct nori_req *r, int status)
{
    if (status < 400)
        response_header(r->resp, "Cache-Control", "private, no-store");
    visit_cookies(r->nori->visit, r->resp);
}

/* A page the application lets nori keep, for the URL it was asked by:
 * only the canonical one, so that the web server finds it by the URL
 * links carry, and a URL with anything else in it (a tracking tag, an
 * order of its own) always reaches nori. */
static void page_keep(struct nori_req *r)
{
    const struct nori *n = r->nori;
    const struct request *req = n->req;
    char url[NAV_QUERY_MAX + 8];
    struct nori_link link = {(n->nav.core & NAV_HAS_PG) ? n->nav.pg : NULL, r->query};
    const char *canon;

    /* Seen: kept already, or not keepable; the canonical form is made
     * only for a query not seen, and only a canonical one is recorded,
     * so that made-up queries cannot grow the record. */
    if (req->method != HTTP_GET || req->path_info[0] || r->resp->failed ||
        cache_seen(&n->svc->cache, req->script_name, req->query) ||
        nav_url(url, sizeof url, "", &n->svc->app->query, &link, NULL) == 0)
        return;
    canon = url[0] == '?' ? url + 1 : "";
    if (strcmp(canon, req->query) == 0)
        cache_store(&n->svc->cache, req->script_name, canon,
                    r->resp->body, r->resp->body_len);
}

/* With the page cache on, If-Modified-Since against the generation's
 * date, compared as lighttpd compares a file's (the same string, or a
 * date that is not before it), so that nori and the web server answer a
 * revalidation alike. An unreadable date is no match. */
static int unmodified_since(const char *ims, const struct page_cache *pc)
{
    time_t t;

    return strcmp(ims, pc->last_modified) == 0 ||
           (http_date_parse(ims, &t) == 0 && t >= pc->date);
}

/* Whether the visitor's copy of a sessionless page is the current one.
 * The validator is the generation's date with the page cache on (cache.h
 * says why), and then If-None-Match is not looked at, there being no
 * ETag to match; the ETag otherwise. */
static int copy_current(const struct service *svc, const struct request *req)
{
    if (svc->cache.on)
        return req->if_modified_since && unmodified_since(req->if_modified_since, &svc->cache);
    return req->if_none_match && etag_matches(req->if_none_match, svc->etag);
}

/* The browsing visitor's path: no key, so no store; the page depends only
 * on the URL and what the validator covers, so a 304 costs no rendering. */
static void serve_sessionless(struct nori_req *r, const struct nori_page *page)
{
    const struct service *svc = r->nori->svc;

    /* Its content moves without its URL (another visitor's action grows
     * it): the generation's date and the ETag do not describe it, so it
     * has no validator and nobody may keep it. */
    if (page->cache == NORI_PAGE_LIVE) {
        if (render(r, page) == 200)
            response_header(r->resp, "Cache-Control", "no-store");
        return;
    }
    if (copy_current(svc, r->nori->req)) {
        r->resp->status = 304;
        headers_common(r->resp);
    } else if (render(r, page) != 200) {
        return;
    } else if (page->cache && svc->cache.on && !r->nori->page_private) {
        /* The web server serves a kept page by its URL alone, as
         * text/html with nori's headers: a page that set its own type or
         * headers would lose them there, and one that read a request
         * header depends on more than its URL. */
        page_keep(r);
    }
    if (svc->cache.on)
        response_header(r->resp, "Last-Modified", svc->cache.last_modified);
    else
        response_header(r->resp, "ETag", svc->etag);
    /* Not "public": nothing here answers an Authorization, so it adds
     * nothing, and it is what lighttpd's mod_expire sends with a page
     * from the cache (lighttpd.conf). */
    /* A page that read a request header (Accept-Language, say) differs
     * between visitors at the same URL: only the visitor's own cache may
     * keep it. */
    response_header(r->resp, "Cache-Control", r->nori->read_request ? "private, max-age=60"
                                                                    : "max-age=60");
    /* With the cookie carrier the same URL is a personal page for a
     * nori_s holder: a shared cache must not hand this one to them, nor
     * theirs to anyone (theirs is no-store anyway). The url carrier puts
     * the key in the URL, so the URL alone tells the pages apart; but the
     * web server that answers from the page cache cannot tell the
     * carriers apart, and says it always. */
    if (visit_cookie_carried(&svc->sessions) || svc->cache.on)
        response_header(r->resp, "Vary", "Cookie");
}

/* The visit and the state buffer a session request needs, from the
 * request's arena. */
static struct visit *visit_new(struct nori_req *r)
{
    return arena_alloc(r->nori->req->arena, sizeof(struct visit));
}

static void serve_page(struct nori_req *r, uint64_t now)
{
    struct nori *n = r->nori;
    struct service *svc = n->svc;
    const struct request *req = n->req;
    const struct nori_page *page;
    struct visit *visit;
    enum nav_err err;
    enum visit_err verr;
    int status;

    err = nav_parse(&svc->app->query, req->query, req->query_len, &n->nav,
                    (void *)r->query);
    if (err != NAV_OK) {
        answer_error(r, nav_status(err), nav_strerror(err), ANSWER_PAGE, 0);
        return;
    }
    page = route_find(svc->routes, (n->nav.core & NAV_HAS_PG) ? n->nav.pg
                                                              : svc->app->pages[0].name);
    if (page == NULL) {
        answer_error(r, 404, "There is no such page.", ANSWER_PAGE, 0);
        return;
    }
    const char *s_param = (n->nav.core & NAV_HAS_S) ? n->nav.s : NULL;
    if (svc->cfg.policy == POLICY_LAZY && !visit_has_key(&svc->sessions, req, s_param)) {
        serve_sessionless(r, page);
        return;
    }
    if ((visit = visit_new(r)) == NULL) {
        r->resp->failed = 1;
        return;
    }
    verr = visit_run(visit, &svc->sessions, req, s_param, now, read_only, NULL, &status);
    if (verr != VISIT_OK) {
        answer_visit_error(r, visit, verr);
        return;
    }
    n->visit = visit;
    headers_session(r, render(r, page));
}

static int is_form(const char *content_type)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof form - 1;

    return content_type && strncasecmp(content_type, form, n) == 0 &&
           (content_type[n] == '\0' || content_type[n] == ';' ||
            content_type[n] == ' ');
}

/* With an action table, the first parse (by app->form, which such an
 * application leaves empty) has read nori's fields: act picks the
 * action, whose grammar parses the body again into its own struct, and
 * whose required fields must be there, before anything runs. A form
 * without act is left to action_visit, which answers it as before. */
static int action_pick(struct nori_req *r)
{
    struct nori *n = r->nori;
    const struct nori_app *app = n->svc->app;
    const struct request *req = n->req;
    const struct nori_action *action = NULL;
    struct nav nav;
    enum nav_err err;
    void *form;

    if (!(n->nav.core & NAV_HAS_ACT))
        return 0;
    for (size_t i = 0; i < app->nactions && action == NULL; i++)
        if (strcmp(app->actions[i].name, n->nav.act) == 0)
            action = &app->actions[i];
    if (action == NULL) {
        answer_error(r, 400, "There is no such action.", ANSWER_PAGE, 0);
        return -1;
    }
    if ((form = nori_alloc(r, action->form.size)) == NULL)
        return -1;
    if ((err = nav_parse_form(&action->form, req->body, req->body_len, &nav, form)) != NAV_OK) {
        answer_error(r, nav_status(err), nav_strerror(err), ANSWER_PAGE, 0);
        return -1;
    }
    for (size_t i = 0; i < action->form.nfields; i++) {
        if ((action->required & (1u << i)) && !(nav.seen & (1u << i))) {
            char *why = nori_alloc(r, 64 + NORI_NAME_MAX);
            if (why)
                snprintf(why, 64 + NORI_NAME_MAX, "The form needs its field '%.*s'.",
                         NORI_NAME_MAX, action->form.fields[i].name);
            answer_error(r, 400, why ? why : "The form misses a field.", ANSWER_PAGE, 0);
            return -1;
        }
    }
    n->action = action;
    r->form = form;
    return 0;
}

/* Checks a POST in the order a client can act on: size, then type, then
 * whether it arrived whole, then its grammar. Only then may it act. */
static int form_read(struct nori_req *r, struct nav *query_nav)
{
    struct nori *n = r->nori;
    const struct nori_app *app = n->svc->app;
    const struct request *req = n->req;
    enum nav_err err;

    switch (req->body_err) {
    case BODY_OK:
        break;
    case BODY_ETOOLARGE:
        answer_error(r, 413, "The form is larger than 16 KiB.", ANSWER_PAGE, 0);
        return -1;
    case BODY_ENOMEM:
        r->resp->failed = 1;
        return -1;
    case BODY_ETIMEOUT:
        answer_error(r, 408, "The form took too long to arrive; nothing was done.",
                     ANSWER_PAGE, 0);
        return -1;
    case BODY_ELENGTH:
    case BODY_ETRUNCATED:
        answer_error(r, 400, "The form arrived incomplete; nothing was done.",
                     ANSWER_PAGE, 0);
        return -1;
    }
    if (!is_form(req->content_type)) {
        answer_error(r, 415, "Forms must be application/x-www-form-urlencoded.",
                     ANSWER_PAGE, 0);
        return -1;
    }
    if ((err = nav_parse_form(&app->form, req->body, req->body_len, &n->nav,
                              (void *)r->form)) != NAV_OK ||
        (err = nav_parse(&app->query, req->query, req->query_len, query_nav,
                         (void *)r->query)) != NAV_OK) {
        answer_error(r, nav_status(err), nav_strerror(err), ANSWER_PAGE, 0);
        return -1;
    }
    return app->nactions ? action_pick(r) : 0;
}

static void redirect(struct nori_req *r, const struct nori_link *next)
{
    char url[NAV_QUERY_MAX + 256];
    const struct nori *n = r->nori;

    if (nav_url(url, sizeof url, n->req->script_name, &n->svc->app->query, next,
                visit_link_key(n->visit)) == 0) {
        r->resp->failed = 1;
        return;
    }
    r->resp->status = 303;
    headers_common(r->resp);
    response_header(r->resp, "Location", url);
    response_header(r->resp, "Content-Type", "text/plain; charset=utf-8");
    nori_response_puts(r->resp, "See Other\n");
}

/* A form posted from another site carries none of our SameSite=Lax
 * cookies, so without this it would pass for a new visitor's and could
 * log the victim into the attacker's account or replace their cookies.
 * Refused before anything is read from the store or the body. */
static int cross_site(struct nori_req *r)
{
    const struct request *req = r->nori->req;
    enum origin_err err = origin_check(req->origin, req->sec_fetch_site, req->host,
                                       r->nori->svc->cfg.allowed_origins);

    if (err == ORIGIN_OK)
        return 0;
    request_log(req, "nori: refused a POST from another site: %s", origin_strerror(err));
    answer_error(r, 403, "This form was sent from another site; nothing was done.",
                 ANSWER_PAGE, 0);
    return 1;
}

/* One run of the application's action, as visit_run calls it: perhaps
 * again, on fresh state, after a conflict. What a refused action wrote
 * is put back, so that a page shown after it shows the session as it is
 * in the store. */
struct action_run {
    struct nori_req *r;
    struct nori_result res;
    char fault[160];            /* what was wrong with act's result, "" nothing */
    struct session saved;
    char saved_carried[NAV_SKEY_MAX + 1];   /* KEY.ROUTE, as links carry it */
    void *saved_state;
};

/* What act may return: each outcome with its one status, and a page
 * the table has (NULL: the first). Anything else is the application's
 * mistake, said in what: the answer is a 500 and nothing is kept. */
static int result_check(const struct service *svc, const struct nori_result *res,
                        char *what, size_t cap)
{
    switch (res->outcome) {
    case NORI_REDIRECT:
        if (res->status != 303)
            snprintf(what, cap, "a redirect of status %d (a redirect is a 303)",
                     res->status);
        else if (res->next.pg && route_find(svc->routes, res->next.pg) == NULL)
            snprintf(what, cap, "a redirect to page '%.64s', which is not in the page "
                     "table", res->next.pg);
        else
            return 0;
        return -1;
    case NORI_SHOW:
        if (res->status != 200)
            snprintf(what, cap, "a page shown with status %d (a page shown is a 200)",
                     res->status);
        else if (res->page && route_find(svc->routes, res->page) == NULL)
            snprintf(what, cap, "page '%.64s' to show, which is not in the page table",
                     res->page);
        else
            return 0;
        return -1;
    case NORI_FAIL:
        if (res->status >= 400 && res->status <= 599)
            return 0;
        snprintf(what, cap, "a failure of status %d (a failure is a 4xx or 5xx)",
                 res->status);
        return -1;
    }
    snprintf(what, cap, "outcome %d, which is none of nori.h's", (int)res->outcome);
    return -1;
}

static int action_visit(struct visit *v, void *arg)
{
    struct action_run *a = arg;
    struct nori *n = a->r->nori;
    const struct nori_app *app = n->svc->app;
    int live = v->live;

    n->visit = v;
    n->write_failed = 0;
    a->fault[0] = '\0';
    if (!visit_form_ok(v, n->nav.k)) {
        a->res = nori_fail(403, "This form is not from your session (or it is too "
                           "old); nothing was changed. Reload the page and try again.");
        return a->res.status;
    }
    if (!(n->nav.core & NAV_HAS_ACT)) {
        a->res = nori_fail(400, "The form says no action.");
        return a->res.status;
    }
    if (live) {
        a->saved = v->s;
        memcpy(a->saved_carried, v->carried, sizeof a->saved_carried);
        memcpy(a->saved_state, v->s.state, app->state.size);
    }
    n->in_action = 1;
    a->res = n->action ? n->action->run(a->r) : app->act(a->r);
    n->in_action = 0;
    if (n->write_failed)
        a->res = nori_fail(503, "No session could be made; please try again.");
    else if (result_check(n->svc, &a->res, a->fault, sizeof a->fault) < 0)
        a->res = nori_fail(500, "Please try again.");
    if (a->res.outcome == NORI_REDIRECT)
        return 303;
    if (live) {
        void *state = v->s.state;
        v->s = a->saved;
        v->s.state = state;
        /* A refused login minted a key: links must carry the stored one. */
        memcpy(v->carried, a->saved_carried, sizeof v->carried);
        memcpy(state, a->saved_state, app->state.size);
    }
    /* Any 4xx makes visit_run drop what was written; a NORI_SHOW is
     * answered 200 after it. */
    return a->res.outcome == NORI_SHOW ? 400 : a->res.status;
}

static void serve_action(struct nori_req *r, uint64_t now)
{
    struct nori *n = r->nori;
    struct service *svc = n->svc;
    const struct request *req = n->req;
    struct nav query_nav;
    struct visit *visit;
    struct action_run a = {.r = r};
    const char *s_param = NULL;
    enum visit_err verr;
    int status;

    if (cross_site(r) || form_read(r, &query_nav) < 0)
        return;
    visit = visit_new(r);
    a.saved_state = arena_alloc(req->arena, svc->app->state.size ? svc->app->state.size : 1);
    if (visit == NULL || a.saved_state == NULL) {
        r->resp->failed = 1;
        return;
    }
    /* Forms carry _s as a hidden field; a client may also post to a URL
     * that carries it. */
    if (n->nav.core & NAV_HAS_S)
        s_param = n->nav.s;
    else if (query_nav.core & NAV_HAS_S)
        s_param = query_nav.s;
    r->act = n->nav.act;
    verr = visit_run(visit, &svc->sessions, req, s_param, now, action_visit, &a, &status);
    if (verr != VISIT_OK) {
        n->visit = NULL;
        answer_visit_error(r, visit, verr);
        return;
    }
    n->visit = visit;
    if (a.fault[0]) {
        char what[200];
        snprintf(what, sizeof what, "action %s returned %s", r->act, a.fault);
        fault_log(r, what);
    }
    stats_add(svc->stats, STAT_ACTIONS, 1);
    if (svc->app->acted)
        svc->app->acted(r, &a.res);
    switch (a.res.outcome) {
    case NORI_SHOW: {
        const struct nori_page *page = route_find(svc->routes, a.res.page ? a.res.page
                                                               : svc->app->pages[0].name);
        r->notice = a.res.why;
        status = page ? render(r, page) : 404;
        if (page == NULL)
            answer_error(r, 404, "There is no such page.", ANSWER_PAGE, 0);
        break;
    }
    case NORI_FAIL:
        status = a.res.status;
        answer_error(r, status, a.res.why ? a.res.why : "The action failed.",
                     ANSWER_PAGE, a.res.retry_after);
        break;
    case NORI_REDIRECT:
    default:
        status = 303;
        redirect(r, &a.res.next);
        break;
    }
    headers_session(r, status);
}

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
        answer_error(r, 403, "The status is for this machine only.", ANSWER_PAGE, 0);
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
static void serve_status(struct nori_req *r)
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
    headers_common(resp);
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
static void serve_ping(struct nori_req *r)
{
    struct nori *n = r->nori;
    struct store *st;

    if (!monitor_trusted(r))
        return;
    st = sessions_store(&n->svc->sessions, n->req);
    if (st == NULL || store_ping(st) != STORE_OK) {
        answer_error(r, 503, "The session store is not available.", ANSWER_PLAIN, 0);
        return;
    }
    headers_common(r->resp);
    response_header(r->resp, "Content-Type", "text/plain; charset=utf-8");
    response_header(r->resp, "Cache-Control", "no-store");
    nori_response_puts(r->resp, "pong\n");
}

/* The FastCGI authorizer role (or nginx's auth_request subrequest to
 * /authorize): the web server asks whether the request it holds (for a
 * protected path, say /members/) may proceed. It may when it carries a
 * live session with a principal; the name goes back as NORI_USER for
 * whatever serves the path. Nothing is rendered or committed: an
 * authorizer answers for someone else's content. */
static void serve_authorize(struct nori_req *r, uint64_t now)
{
    struct nori *n = r->nori;
    struct service *svc = n->svc;
    const struct request *req = n->req;
    struct nav nav;
    const char *s_param = NULL, *who;
    int status;

    if ((n->visit = visit_new(r)) == NULL) {
        r->resp->failed = 1;
        return;
    }
    if (nav_parse(&svc->app->query, req->query, req->query_len, &nav,
                  (void *)r->query) == NAV_OK && (nav.core & NAV_HAS_S))
        s_param = nav.s;
    if (visit_run(n->visit, &svc->sessions, req, s_param, now, read_only, NULL,
                  &status) != VISIT_OK) {
        answer_error(r, 503, "The session store is not available.", ANSWER_PLAIN, 0);
        return;
    }
    who = svc->app->principal ? svc->app->principal(r) : nori_user(r);
    if (nori_state(r) == NULL || who == NULL || who[0] == '\0') {
        answer_error(r, 403, "Log in first.", ANSWER_PLAIN, 0);
        return;
    }
    r->resp->status = 200;
    /* The answer names a user: no cache may keep it for another request. */
    response_header(r->resp, "Cache-Control", "no-store");
    response_header(r->resp, "Variable-NORI_USER", who);
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
        serve_authorize(r, r->now);
        return;
    }
    if (svc->cfg.status_path[0] && strcmp(req->path_info, svc->cfg.status_path) == 0 &&
        req->method != HTTP_POST) {
        serve_status(r);
        return;
    }
    if (svc->cfg.ping_path[0] && strcmp(req->path_info, svc->cfg.ping_path) == 0 &&
        req->method != HTTP_POST) {
        serve_ping(r);
        return;
    }
    /* The app is one URL; anything below the mount point is not ours,
     * nor another spelling of the mount point (prefix_refused). */
    if (prefix_refused(r))
        answer_error(r, 404, "There is no such page.", ANSWER_PAGE, 0);
    else if (req->path_info[0] && strcmp(req->path_info, "/") != 0)
        answer_error(r, 404, "There is no such page.", ANSWER_PAGE, 0);
    else if (req->method == HTTP_GET || req->method == HTTP_HEAD)
        serve_page(r, r->now);
    else if (req->method == HTTP_POST && (svc->app->act || svc->app->nactions))
        serve_action(r, r->now);
    else if (req->method == HTTP_POST)
        answer_error(r, 405, "This application has no actions: its pages are read "
                     "with GET or HEAD.", ANSWER_PAGE, 0);
    else
        answer_error(r, 405, "Pages are read with GET or HEAD; actions are POSTs.",
                     ANSWER_PAGE, 0);
    if (r->nori->visit == NULL || !r->nori->visit->committed)
        stats_add(svc->stats, STAT_COMMITS_AVOIDED, 1);
}

/* Every action has a run, a name act can carry (nav.c's rule for it),
 * its own grammar, and requires only fields it has; no name twice. */
static int actions_check(const struct nori_app *app, char *err, size_t errlen)
{
    if (app->nactions && app->act) {
        snprintf(err, errlen, "%s: an application has an act function or an "
                 "action table, not both", app->name);
        return -1;
    }
    if (app->nactions && (app->actions == NULL || app->form.nfields)) {
        snprintf(err, errlen, "%s: with an action table, the fields are the actions' "
                 "(nori_app.form stays empty)", app->name);
        return -1;
    }
    for (size_t i = 0; i < app->nactions; i++) {
        const struct nori_action *a = &app->actions[i];
        size_t len = a->name ? strlen(a->name) : 0;
        int bad = len == 0 || len > NAV_ACT_MAX || a->run == NULL ||
                  (a->form.nfields < 32 && (a->required >> a->form.nfields) != 0);

        for (size_t c = 0; c < len; c++)
            bad |= !(a->name[c] >= 'a' && a->name[c] <= 'z');
        for (size_t j = 0; j < i && !bad; j++)
            bad |= strcmp(a->name, app->actions[j].name) == 0;
        if (bad) {
            snprintf(err, errlen, "action '%s': not a name of 1..%d of a-z, given "
                     "twice, without run, or requiring a field it has not",
                     a->name ? a->name : "", NAV_ACT_MAX);
            return -1;
        }
        if (nav_grammar_check(&a->form, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* Loaders say what is wrong; the message also names the setting. */
int service_init(struct service *svc, const struct nori_app *app,
                 const struct nori_config *cfg, char *err, size_t errlen)
{
    memset(svc, 0, sizeof *svc);
    svc->app = app;
    svc->cfg = *cfg;
    if (nav_grammar_check(&app->query, err, errlen) < 0 ||
        nav_grammar_check(&app->form, err, errlen) < 0 ||
        actions_check(app, err, errlen) < 0)
        return -1;
    /* No codec of its own: nori's, the struct's bytes (record.c), for an
     * application with state; version 1 unless it says. */
    svc->codec = app->state;
    if (svc->codec.encode == NULL && svc->codec.decode == NULL && svc->codec.size &&
        svc->codec.version == 0)
        svc->codec.version = 1;
    /* An application without state and without actions has nothing a
     * POST could do: it needs neither act nor a codec (dispatch answers
     * its POSTs 405). */
    int stateless = app->act == NULL && app->nactions == 0 && app->state.size == 0 &&
                    app->state.encode == NULL && app->state.decode == NULL;
    if (stateless)
        svc->codec.version = 1;
    if (app->npages == 0 ||
        (!stateless && app->act == NULL && app->nactions == 0) ||
        (app->state.encode == NULL) != (app->state.decode == NULL) ||
        svc->codec.size > NORI_STATE_MAX ||
        svc->codec.version == 0 || svc->codec.version > 255) {
        snprintf(err, errlen, "%s: an application needs pages, an act function or "
                 "actions, and a state codec or a state size (version 1..255, at "
                 "most %d bytes)", app->name, NORI_STATE_MAX);
        return -1;
    }
    svc->sessions = (struct sessions){
        .store_spec = cfg->store_spec,
        .store_opt = {.nosync = cfg->nosync,
                      .sync_ms = (unsigned)cfg->background_sync_ms,
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
        .codec = &svc->codec,
        .new_per_min = (unsigned)cfg->new_sessions_per_min,
    };
    page_table_set(app);
    if ((svc->routes = route_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < app->npages; i++) {
        const char *name = app->pages[i].name;
        if (name == NULL || app->pages[i].render == NULL) {
            snprintf(err, errlen, "page %zu of %s: it needs a name and a render function",
                     i + 1, app->name);
            goto fail;
        }
        if (!nav_word(name, strlen(name)) || strlen(name) > NAV_PG_MAX ||
            route_add(svc->routes, name, &app->pages[i]) < 0) {
            snprintf(err, errlen, "page '%s': not a name of 1..%d of A-Z a-z 0-9 - _, "
                     "or given twice", name, NAV_PG_MAX);
            goto fail;
        }
    }
    /* What a sessionless page shows depends on what the application says
     * (its data and settings) and on this build; the ETag covers both. */
    uint64_t h = app->etag ? app->etag(app->data) : NORI_HASH_INIT;
    h = nori_hash(h, nori_build_id, strlen(nori_build_id));
    /* And on the application's own build, which an application linked
     * against an installed libnori.a has no build id of nori's for, and
     * on the policy, which decides what a sessionless page is. */
    uint64_t program = cache_program_digest();
    h = nori_hash(h, &program, sizeof program);
    h = nori_hash(h, &cfg->policy, sizeof cfg->policy);
    snprintf(svc->etag, sizeof svc->etag, "\"%016llx\"", (unsigned long long)h);
    return 0;
fail:
    service_free(svc);
    return -1;
}

void service_free(struct service *svc)
{
    cache_close(&svc->cache);
    free(svc->prefix);
    free(svc->prefix_html);
    svc->prefix = svc->prefix_html = NULL;
    sessions_close(&svc->sessions);
    route_free(svc->routes);
    svc->routes = NULL;
}
