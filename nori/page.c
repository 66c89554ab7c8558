/* page.c -- what an application's pages and actions call (nori.h): the
 * session as they may see and change it, escaped output, URLs built by
 * the application's grammar, and forms that keep the session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "service.h"

/* ---- the session ---- */

static const struct visit *live_visit(const struct nori_req *r)
{
    const struct visit *v = r->nori->visit;

    return v && v->live && !v->ended ? v : NULL;
}

const void *nori_state(const struct nori_req *r)
{
    const struct visit *v = live_visit(r);

    return v ? v->s.state : NULL;
}

const char *nori_user(const struct nori_req *r)
{
    const struct visit *v = live_visit(r);

    return v ? v->s.user : "";
}

int nori_sessionless(const struct nori_req *r)
{
    return r->nori->visit == NULL;
}

/* The one way an action writes: the first write makes the session. */
void *nori_state_write(struct nori_req *r)
{
    struct nori *n = r->nori;

    void *state = n->in_action && n->visit ? visit_state_write(n->visit, r->now) : NULL;

    if (state == NULL)
        n->write_failed = 1;
    return state;
}

int nori_login(struct nori_req *r, const char *user)
{
    struct nori *n = r->nori;
    struct visit *v = n->visit;
    size_t len = strlen(user);

    if (len == 0 || len > NORI_USER_MAX || nori_state_write(r) == NULL ||
        visit_login(v, user) != VISIT_OK) {
        n->write_failed = 1;
        return -1;
    }
    return 0;
}

void nori_logout(struct nori_req *r)
{
    if (r->nori->in_action && r->nori->visit)
        visit_end(r->nori->visit);
}

/* ---- the request ---- */

void *nori_alloc(struct nori_req *r, size_t n)
{
    void *p = arena_alloc(r->nori->req->arena, n ? n : 1);

    if (p)
        memset(p, 0, n);
    else
        r->resp->failed = 1;
    return p;
}

const char *nori_remote_addr(const struct nori_req *r)
{
    return r->nori->req->remote_addr;
}

void nori_log(const struct nori_req *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    request_vlog(r->nori->req, fmt, ap);
    va_end(ap);
}

/* ---- output ---- */

void nori_text(struct nori_req *r, const char *s)
{
    size_t len = strlen(s);
    char *p = response_reserve(r->resp, len * NAV_HTML_WORST);

    if (p)
        response_commit(r->resp, nav_html_escape(p, s, len));
}

/* ---- page names in links ---- */

static const struct nori_app *table_app;

void page_table_set(const struct nori_app *app)
{
    table_app = app;
}

int page_known(const struct nori_app *app, const char *name, size_t n)
{
    for (size_t i = 0; i < app->npages; i++)
        if (app->pages[i].name && strlen(app->pages[i].name) == n &&
            memcmp(app->pages[i].name, name, n) == 0)
            return 1;
    return 0;
}

/* A link to a page the table does not have is a typo the visitor would
 * meet as a 404: the request is marked, and its answer is a 500
 * (render.c logs the name). */
static void link_check(struct nori_req *r, const char *pg, size_t n)
{
    struct nori *nori = r->nori;
    char name[NAV_PG_MAX + 1];

    if (n <= NAV_PG_MAX) {
        memcpy(name, pg, n);
        name[n] = '\0';
        if (route_find(nori->svc->routes, name))
            return;
    }
    if (nori->bad_link == NULL) {
        nori->bad_link = pg;
        nori->bad_link_len = n;
    }
}

static const char *link_key(const struct nori_req *r)
{
    return r->nori->visit ? visit_link_key(r->nori->visit) : NULL;
}


/* The prefix escaped into fresh memory (malloc'd when a is NULL). */
static char *prefix_escape(struct arena *a, const char *prefix, size_t *len)
{
    size_t n = strlen(prefix);
    char *p = a ? arena_alloc(a, n * NAV_HTML_WORST + 1) : malloc(n * NAV_HTML_WORST + 1);

    if (p)
        *len = nav_html_escape(p, prefix, n);
    return p;
}

/* The prefix starts every URL a page writes. A worker is mounted at one
 * place, so the first prefix it sees is escaped once for its life (the
 * service keeps it, as the page cache keeps its pages); another prefix
 * is escaped per request, at its first link. */
static void prefix_find(struct nori_req *r)
{
    struct service *svc = r->nori->svc;
    struct nori *n = r->nori;

    if (svc->prefix == NULL && (svc->prefix = strdup(r->prefix)) != NULL &&
        (svc->prefix_html = prefix_escape(NULL, r->prefix, &svc->prefix_html_len)) == NULL) {
        free(svc->prefix);
        svc->prefix = NULL;
    }
    if (svc->prefix && strcmp(svc->prefix, r->prefix) == 0) {
        n->prefix_html = svc->prefix_html;
        n->prefix_html_len = svc->prefix_html_len;
    } else if ((n->prefix_html = prefix_escape(n->req->arena, r->prefix,
                                               &n->prefix_html_len)) == NULL) {
        r->resp->failed = 1;
    }
}

static void prefix_write(struct nori_req *r)
{
    struct nori *n = r->nori;

    if (n->prefix_html == NULL)
        prefix_find(r);
    if (n->prefix_html)
        nori_response_write(r->resp, n->prefix_html, n->prefix_html_len);
}

int nori_link_prepare(char *out, size_t cap, const struct nori_grammar *g,
                      const struct nori_link *link, size_t *len)
{
    char url[NAV_QUERY_MAX + 1024], html[sizeof url * NAV_HTML_WORST];
    size_t n;

    /* At load there is no request to answer 500: the link is refused,
     * and the application's load says so at start. */
    if (link->pg && table_app && !page_known(table_app, link->pg, strlen(link->pg)))
        return -1;
    if ((n = nav_url(url, sizeof url, "", g, link, NULL)) == 0)
        return -1;
    /* Without a prefix, a link with no fields is nav_url's "/": that
     * belongs to the request (nori_href writes it), not to the link. */
    if (url[0] != '?')
        n = 0;
    n = nav_html_escape(html, url, n);
    if (n >= cap)
        return -1;
    memcpy(out, html, n);
    out[n] = '\0';
    *len = n;
    return 0;
}

/* Every link of a session-bearing page carries _s (url carrier), last.
 * Built on nori_link_prepare and nori_href, so that a link written
 * either way is the same bytes. A link that cannot be built (too long)
 * is the application's URL alone. */
void nori_url(struct nori_req *r, const struct nori_link *link)
{
    char html[(NAV_QUERY_MAX + 1024) * NAV_HTML_WORST];
    size_t len;

    if (link->pg)
        link_check(r, link->pg, strlen(link->pg));
    if (nori_link_prepare(html, sizeof html, &r->nori->svc->app->query, link, &len) < 0)
        len = 0;
    nori_href(r, html, len);
}

/* A prepared link names its page first (nav_url's order), but one
 * written by hand may name it anywhere: each parameter is looked at,
 * after the ? and after each & (or &amp;). */
static void href_check(struct nori_req *r, const char *p, size_t len)
{
    const char *end = p + len;

    if (len == 0 || p[0] != '?')
        return;
    for (p++; p < end;) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop - p >= 3 && memcmp(p, "pg=", 3) == 0)
            link_check(r, p + 3, (size_t)(stop - p - 3));
        if (amp == NULL)
            break;
        p = end - amp >= 5 && memcmp(amp, "&amp;", 5) == 0 ? amp + 5 : amp + 1;
    }
}

/* nori_url's bytes, nav_url's rules: the prefix, the prepared query, _s
 * last (a key is base64url and a dot: nothing in it is encoded or
 * escaped), and "/" for a URL that would be empty. */
void nori_href(struct nori_req *r, const char *prepared, size_t len)
{
    const char *key = link_key(r);
    int keyed = key && key[0];

    href_check(r, prepared, len);
    if (len == 0 && r->prefix[0] == '\0' && !keyed) {
        nori_response_puts(r->resp, "/");
        return;
    }
    prefix_write(r);
    nori_response_write(r->resp, prepared, len);
    if (keyed) {
        nori_response_puts(r->resp, len ? "&amp;_s=" : "?_s=");
        nori_text(r, key);
    }
}

void nori_form_action(struct nori_req *r)
{
    if (r->prefix[0])
        prefix_write(r);
    else
        nori_response_puts(r->resp, "/");
}

/* A hidden field's value and the end of its tag: the start, with the
 * field's name, is a literal the caller writes. */
static void hidden_value(struct nori_req *r, const char *value)
{
    nori_text(r, value);
    nori_response_puts(r->resp, "\">");
}

void nori_form_keep(struct nori_req *r)
{
    const char *key = link_key(r);

    if (key) {
        nori_response_puts(r->resp, "<input type=\"hidden\" name=\"_s\" value=\"");
        hidden_value(r, key);
    }
}

void nori_form_open(struct nori_req *r, const char *cls, const char *act)
{
    const struct visit *v = live_visit(r);
    const char *key = link_key(r);

    /* No class is no attribute: an empty class="" says nothing. */
    nori_response_puts(r->resp, "<form ");
    if (cls) {
        nori_response_puts(r->resp, "class=\"");
        nori_text(r, cls);
        nori_response_puts(r->resp, "\" ");
    }
    nori_response_puts(r->resp, "method=\"post\" action=\"");
    nori_form_action(r);
    /* A sticky balancer reads the route from the URL, never from a
     * body: with a route, the key goes in the action URL too. */
    if (key && r->nori->svc->cfg.route[0]) {
        nori_response_puts(r->resp, "?_s=");
        nori_text(r, key);
    }
    nori_response_puts(r->resp, "\"><input type=\"hidden\" name=\"act\" value=\"");
    hidden_value(r, act);
    nori_form_keep(r);
    if (v) {
        nori_response_puts(r->resp, "<input type=\"hidden\" name=\"_k\" value=\"");
        hidden_value(r, v->s.form_key);
    }
}

/* ---- small rules the application shares with nori ---- */

size_t nori_html_escape(char *dst, const char *src, size_t n)
{
    return nav_html_escape(dst, src, n);
}

int nori_decimal(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    return nav_decimal(s, n, max, out);
}

uint64_t nori_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

const char *nori_reason(int status)
{
    return http_reason(status);
}

/* ---- nori's error page, for applications without one ---- */

void page_error_plain(struct nori_req *r, int status, const char *why)
{
    char title[64];

    snprintf(title, sizeof title, "%d %s", status, http_reason(status));
    nori_response_puts(r->resp, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<title>");
    nori_text(r, title);
    nori_response_puts(r->resp, "</title></head>\n<body>\n<main>\n<h1>");
    nori_text(r, title);
    nori_response_puts(r->resp, "</h1>\n<p>");
    nori_text(r, why);
    nori_response_puts(r->resp, "</p>\n<p><a href=\"");
    nori_url(r, &(struct nori_link){NULL, NULL});
    nori_response_puts(r->resp, "\">Back</a></p>\n</main>\n</body></html>\n");
}

/* ---- answers a page shapes itself ---- */

static int token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t token_len(const char *s)
{
    size_t n = 0;

    while (token_char(s[n]))
        n++;
    return n;
}

int nori_content_type(struct nori_req *r, const char *type)
{
    size_t t = type ? token_len(type) : 0, sub;
    const char *params;
    char *value;

    if (t == 0 || type[t] != '/' || (sub = token_len(type + t + 1)) == 0 ||
        !header_value_ok(type) ||
        (type[t + 1 + sub] != '\0' && type[t + 1 + sub] != ';')) {
        nori_log(r, "nori: refused a content type: not type/subtype");
        return -1;
    }
    params = type + t + 1 + sub;
    /* Text without a charset is read in the browser's guess: UTF-8 is
     * what nori_text writes, so it says so. */
    int text = t == 4 && strncasecmp(type, "text", 4) == 0 && strcasestr(params, "charset") == NULL;
    size_t len = strlen(type) + (text ? sizeof "; charset=utf-8" : 1);
    if ((value = nori_alloc(r, len)) == NULL)
        return -1;
    snprintf(value, len, "%s%s", type, text ? "; charset=utf-8" : "");
    r->nori->content_type = value;
    r->nori->page_private = 1;
    return 0;
}

/* The headers nori writes or depends on: a page's own would contradict
 * them (two Content-Lengths, a cookie nori did not mint, a weaker CSP). */
static int header_owned(const char *name)
{
    static const char *const owned[] = {
        "Status", "Content-Type", "Content-Length", "Transfer-Encoding", "Location",
        "Set-Cookie", "Cache-Control", "Expires", "ETag", "Last-Modified", "Vary",
        "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options",
        "Referrer-Policy", "Strict-Transport-Security", "Retry-After", "Allow",
        "Connection", "Variable-NORI_USER"};

    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (strcasecmp(name, owned[i]) == 0)
            return 1;
    return 0;
}

int nori_header(struct nori_req *r, const char *name, const char *value)
{
    size_t n = name ? token_len(name) : 0;

    if (n == 0 || name[n] != '\0' || value == NULL || !header_value_ok(value) ||
        header_owned(name)) {
        nori_log(r, "nori: refused a page's header '%.*s': not a token, a value with "
                 "a control character, or one of nori's", 64, name ? name : "");
        return -1;
    }
    /* Set: this answer is no longer only its URL's, so no cache keeps it. */
    r->nori->page_private = 1;
    response_header(r->resp, name, value);
    return r->resp->failed ? -1 : 0;
}

int nori_page_fail(struct nori_req *r, int status, const char *why)
{
    if (status < 400 || status > 599) {
        nori_log(r, "nori: nori_page_fail with status %d: answered 500", status);
        status = 500;
        why = NULL;
    }
    r->nori->page_why = why;
    return status;
}

struct nori_result nori_redirect_to(struct nori_req *r, const char *pg, const void *query)
{
    size_t size = r->nori->svc->app->query.size;
    void *copy = NULL;

    if (query && (copy = nori_alloc(r, size)) != NULL)
        memcpy(copy, query, size);
    if (query && copy == NULL)
        return nori_fail(503, "Out of memory; please try again.");
    return nori_redirect(pg, copy);
}

const char *nori_request_header(const struct nori_req *r, const char *name)
{
    char param[5 + 64 + 1] = "HTTP_";
    size_t n = name ? strlen(name) : 0;

    /* Read: the answer depends on more than its URL (render.c). */
    r->nori->page_private = 1;
    r->nori->read_request = 1;
    if (n == 0 || n > 64)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return NULL;
        param[5 + i] = c == '-' ? '_' : (char)toupper((unsigned char)c);
    }
    param[5 + n] = '\0';
    /* CGI passes these two without the HTTP_ (RFC 3875 4.1). */
    if (strcmp(param, "HTTP_CONTENT_TYPE") == 0 || strcmp(param, "HTTP_CONTENT_LENGTH") == 0)
        return request_param(r->nori->req, param + 5);
    return request_param(r->nori->req, param);
}
