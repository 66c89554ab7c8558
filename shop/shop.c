/* shop.c -- one request through the shop: method, URL, route, cache
 * validation, page or action, and the headers every answer carries. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "view.h"

#define NORI_VERSION "0.1.0"

/* No script at all, styles only from our own origin, forms only to us:
 * a URL may carry a session key, so nothing may leak it or inject into it. */
#define CSP "default-src 'none'; style-src 'self'; img-src 'self'; " \
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

static void headers_common(struct response *resp)
{
    response_header(resp, "X-Content-Type-Options", "nosniff");
    response_header(resp, "Referrer-Policy", "no-referrer");
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
    view_error(v, status, why);
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

static void serve_page(struct view *v, const struct shop *s)
{
    const struct request *req = v->req;
    struct nav *nav = arena_alloc(req->arena, sizeof *nav);
    const struct page *page;
    enum nav_err err;

    if (nav == NULL) {
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
    /* Sessionless pages depend only on the URL and the catalog, so the
     * catalog's ETag validates them all and a 304 costs no rendering. */
    if (req->if_none_match && etag_matches(req->if_none_match, s->etag)) {
        v->resp->status = 304;
    } else {
        int status = page->render(v);
        if (status != 200) {
            answer_error(v, status, status == 404 ? "Nothing here has that number."
                                                  : "Please try again.");
            return;
        }
        response_header(v->resp, "Content-Type", "text/html; charset=utf-8");
    }
    headers_common(v->resp);
    response_header(v->resp, "ETag", s->etag);
    response_header(v->resp, "Cache-Control", "public, max-age=60");
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
 * whether it arrived whole, then its grammar. */
static void serve_action(struct view *v)
{
    const struct request *req = v->req;
    struct nav_form form;
    enum nav_err err;

    switch (req->body_err) {
    case BODY_OK:
        break;
    case BODY_ETOOLARGE:
        answer_error(v, 413, "The form is larger than 16 KiB.");
        return;
    case BODY_ENOMEM:
        v->resp->failed = 1;
        return;
    case BODY_ELENGTH:
    case BODY_ETRUNCATED:
        answer_error(v, 400, "The form arrived incomplete; nothing was done.");
        return;
    }
    if (!is_form(req->content_type)) {
        answer_error(v, 415, "Forms must be application/x-www-form-urlencoded.");
        return;
    }
    if ((err = nav_parse_form(req->body, req->body_len, &form)) != NAV_OK) {
        answer_error(v, nav_status(err), nav_strerror(err));
        return;
    }
    answer_error(v, 400, "There is no such action.");
}

void shop_handle(const struct request *req, struct response *resp, void *ctx)
{
    const struct shop *s = ctx;
    struct view v = {.shop = s, .req = req, .resp = resp, .nav = NULL};

    /* The app is one URL; anything below the mount point is not ours. */
    if (req->path_info[0] && strcmp(req->path_info, "/") != 0) {
        answer_error(&v, 404, "There is no such page.");
        return;
    }
    switch (req->method) {
    case HTTP_GET:
    case HTTP_HEAD:
        serve_page(&v, s);
        break;
    case HTTP_POST:
        serve_action(&v);
        break;
    case HTTP_OTHER:
        answer_error(&v, 405, "Pages are read with GET or HEAD; actions are POSTs.");
        break;
    }
}

static uint64_t fnv1a_str(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

int shop_init(struct shop *s, const struct shop_config *cfg, char *err,
              size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (catalog_load(&s->catalog, cfg->catalog_path, err, errlen) < 0)
        return -1;
    if ((s->routes = route_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < shop_npages; i++)
        if (route_add(s->routes, shop_pages[i].name, &shop_pages[i]) < 0) {
            snprintf(err, errlen, "cannot register page %s", shop_pages[i].name);
            goto fail;
        }
    /* What a sessionless page shows depends on the catalog, this code and
     * the stylesheet URL; the ETag covers all three. */
    uint64_t h = fnv1a_str(s->catalog.digest, NORI_VERSION);
    h = fnv1a_str(h, cfg->style_url);
    snprintf(s->etag, sizeof s->etag, "\"%016llx\"", (unsigned long long)h);
    return 0;
fail:
    shop_free(s);
    return -1;
}

void shop_free(struct shop *s)
{
    route_free(s->routes);
    catalog_free(&s->catalog);
    s->routes = NULL;
}
