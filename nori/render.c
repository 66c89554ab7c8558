/* render.c -- the page path: a GET or HEAD parsed, routed, rendered,
 * with or without a session (the lazy rule), validated (304) and kept in
 * the page cache. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../fcgi/stats.h"
#include "service.h"

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

/* A page, or the error page when its lookups fail; errors are never
 * cached (service_answer_error says so), pages get their cache headers after.
 * A page answers 200, or a 4xx or 5xx (nori.h); any other status, and a
 * link to a page the table does not have, is the application's mistake:
 * a 500, logged, and the worker goes on. */
int service_render(struct nori_req *r, const struct nori_page *page)
{
    struct nori *n = r->nori;
    char what[160];
    int status;

    r->pg = page->name;
    n->bad_link = NULL;
    status = page->render(r);
    if (n->bad_link) {
        snprintf(what, sizeof what, "page %s links to page '%.*s', which is not in the "
                 "page table", page->name, service_shown_len(n->bad_link_len), n->bad_link);
        service_log_fault(r, what);
        n->bad_link = NULL;
        status = 500;
        n->page_why = NULL;
    } else if (status != 200 && (status < 400 || status > 599)) {
        snprintf(what, sizeof what, "page %s returned %d (a page returns 200, or a 4xx or "
                 "5xx having written nothing)", page->name, status);
        service_log_fault(r, what);
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
        service_answer_error(r, status, why, ANSWER_PAGE, 0);
        return status;
    }
    stats_add(r->nori->svc->stats, STAT_PAGES, 1);
    response_header(r->resp, "Content-Type", n->content_type
                    ? n->content_type : "text/html; charset=utf-8");
    service_add_headers(r->resp);
    return 200;
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
        if (service_render(r, page) == 200)
            response_header(r->resp, "Cache-Control", "no-store");
        return;
    }
    if (copy_current(svc, r->nori->req)) {
        r->resp->status = 304;
        service_add_headers(r->resp);
    } else if (service_render(r, page) != 200) {
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

void service_serve_page(struct nori_req *r, uint64_t now)
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
        service_answer_error(r, nav_status(err), nav_strerror(err), ANSWER_PAGE, 0);
        return;
    }
    page = route_find(svc->routes, (n->nav.core & NAV_HAS_PG) ? n->nav.pg
                                                              : svc->app->pages[0].name);
    if (page == NULL) {
        service_answer_error(r, 404, "There is no such page.", ANSWER_PAGE, 0);
        return;
    }
    const char *s_param = (n->nav.core & NAV_HAS_S) ? n->nav.s : NULL;
    if (svc->cfg.policy == POLICY_LAZY && !visit_has_key(&svc->sessions, req, s_param)) {
        serve_sessionless(r, page);
        return;
    }
    if ((visit = service_visit_new(r)) == NULL) {
        r->resp->failed = 1;
        return;
    }
    verr = visit_run(visit, &svc->sessions, req, s_param, now, service_read_only, NULL, &status);
    if (verr != VISIT_OK) {
        service_answer_visit_error(r, visit, verr);
        return;
    }
    n->visit = visit;
    service_add_session_headers(r, service_render(r, page));
}
