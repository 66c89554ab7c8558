/* layout.c -- the frame every page shares (header, search form, one
 * <main>, footer) and small HTML helpers. Every URL is built by nav_url
 * from SCRIPT_NAME, and every string from the catalog or the request is
 * escaped on its way out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"

void view_text(struct view *v, const char *s)
{
    size_t len = strlen(s);
    char *p = response_reserve(v->resp, len * NAV_HTML_WORST);

    if (p)
        response_commit(v->resp, nav_html_escape(p, s, len));
}

const struct session *view_session(const struct view *v)
{
    return v->visit && v->visit->live && !v->visit->ended ? &v->visit->s : NULL;
}

/* Every link of a session-bearing page carries _s (url carrier), last. */
void view_url(struct view *v, const struct nav_link *link)
{
    char url[NAV_QUERY_MAX + 1024];
    struct nav_link l = *link;

    if (l.s == NULL && v->visit)
        l.s = visit_link_key(v->visit);
    if (nav_url(url, sizeof url, v->req->script_name, &l) == 0)
        snprintf(url, sizeof url, "%s", v->req->script_name);
    view_text(v, url);
}

void view_price(struct view *v, uint64_t cents)
{
    char buf[32];
    size_t n = 3;

    memcpy(buf, "\xE2\x82\xAC", 3);
    n += http_uint(buf + n, cents / 100);
    buf[n++] = '.';
    buf[n++] = (char)('0' + cents / 10 % 10);
    buf[n++] = (char)('0' + cents % 10);
    response_write(v->resp, buf, n);
}

/* Forms post (or GET the search) to the app itself. */
void view_form_action(struct view *v)
{
    view_text(v, v->req->script_name[0] ? v->req->script_name : "/");
}

static void hidden(struct view *v, const char *name, const char *value)
{
    response_puts(v->resp, "<input type=\"hidden\" name=\"");
    response_puts(v->resp, name);       /* a literal of ours */
    response_puts(v->resp, "\" value=\"");
    view_text(v, value);
    response_puts(v->resp, "\">");
}

void view_form_open(struct view *v, const char *cls, const char *act)
{
    const struct session *s = view_session(v);
    const char *key = v->visit ? visit_link_key(v->visit) : NULL;

    response_puts(v->resp, "<form class=\"");
    response_puts(v->resp, cls);        /* a literal of ours */
    response_puts(v->resp, "\" method=\"post\" action=\"");
    view_form_action(v);
    /* A sticky balancer reads the route from the URL, never from a
     * body: with a route, the key goes in the action URL too. */
    if (key && v->shop->cfg.route[0]) {
        response_puts(v->resp, "?_s=");
        view_text(v, key);
    }
    response_puts(v->resp, "\">");
    hidden(v, "act", act);
    if (key)
        hidden(v, "_s", key);
    if (s)
        hidden(v, "_k", s->form_key);
}

/* label is HTML: a literal, or catalog text escaped at load. */
static void view_link(struct view *v, const struct nav_link *link,
                      const char *label)
{
    response_puts(v->resp, "<a href=\"");
    view_url(v, link);
    response_puts(v->resp, "\">");
    response_puts(v->resp, label);
    response_puts(v->resp, "</a>");
}

static void header_render(struct view *v)
{
    const struct catalog *c = &v->shop->catalog;
    struct nav_link home = {.pg = "Home"}, cart = {.pg = "Cart"};
    struct nav_link login = {.pg = "Login"}, counter = {.pg = "Counter"};

    response_puts(v->resp, "<header><nav class=\"site\">");
    view_link(v, &home, "nori sushi");
    for (size_t i = 0; i < c->ncategories; i++) {
        struct nav_link l = {.pg = "Category", .id = c->categories[i]->id};
        response_puts(v->resp, " ");
        view_link(v, &l, c->categories[i]->name_html);
    }
    const struct session *sess = view_session(v);
    const char *key = v->visit ? visit_link_key(v->visit) : NULL;
    response_puts(v->resp, " <a href=\"");
    view_url(v, &cart);
    response_puts(v->resp, "\">Cart (<span id=\"cart-count\">");
    response_uint(v->resp, sess ? cart_count(sess) : 0);
    response_puts(v->resp, "</span>)</a> ");
    view_link(v, &counter, "Counter");
    response_puts(v->resp, " ");
    /* Logging out changes state, so it is a POST form, never a link. */
    if (sess && sess->user[0]) {
        view_form_open(v, "logout", "logout");
        response_puts(v->resp, "<button>Log out ");
        view_text(v, sess->user);
        response_puts(v->resp, "</button></form>");
    } else {
        view_link(v, &login, "Login");
    }
    response_puts(v->resp, "</nav>\n<form class=\"search\" method=\"get\" action=\"");
    view_form_action(v);
    response_puts(v->resp, "\">");
    hidden(v, "pg", "Search");
    response_puts(v->resp,
                  "<input type=\"search\" name=\"q\" required maxlength=\"200\""
                  " placeholder=\"Search the menu\" aria-label=\"Search\"");
    if (v->nav && v->nav->q_len) {
        response_puts(v->resp, " value=\"");
        view_text(v, v->nav->q);
        response_puts(v->resp, "\"");
    }
    response_puts(v->resp, ">");
    /* After q, so that the URL the browser builds has _s last too. */
    if (key)
        hidden(v, "_s", key);
    response_puts(v->resp, "<button>Search</button></form></header>\n");
}

/* Everything from </title> to <main>. */
static void frame_render(struct view *v)
{
    response_puts(v->resp, " \xC2\xB7 nori sushi</title><link rel=\"stylesheet\" href=\"");
    view_text(v, v->shop->cfg.style_url);
    /* Linked, so that a browser asks for the icon where the stylesheet
     * lives instead of guessing /favicon.ico (which is served too). */
    response_puts(v->resp, "\"><link rel=\"icon\" href=\"");
    view_text(v, v->shop->cfg.icon_url);
    response_puts(v->resp, "\"></head>\n<body>\n");
    header_render(v);
    response_puts(v->resp, "<main>\n");
}

/* A sessionless page's frame depends only on the prefix, the stylesheet
 * and icon URLs and the catalog, which are fixed for a worker's life (a
 * catalog reload starts new workers), so it is rendered once and copied
 * after: rebuilding the same links for every page was most of a page's
 * cost.
 * One prefix is kept, since a worker is mounted at one place; another
 * prefix is rendered as before. */
static int frame_shared(const struct view *v)
{
    return v->visit == NULL && !(v->nav && v->nav->q_len);
}

static void frame_keep(struct view *v, size_t from)
{
    struct frame *f = v->shop->frame;
    size_t len = v->resp->body_len - from;

    if (f == NULL || f->bytes || v->resp->failed)
        return;
    f->prefix = strdup(v->req->script_name);
    f->bytes = malloc(len);
    if (f->prefix == NULL || f->bytes == NULL) {
        free(f->prefix);
        free(f->bytes);
        f->prefix = f->bytes = NULL;
        return;
    }
    memcpy(f->bytes, v->resp->body + from, len);
    f->len = len;
}

void view_open(struct view *v, const char *title)
{
    const struct frame *f = v->shop->frame;

    response_puts(v->resp,
                  "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>");
    response_puts(v->resp, title);
    if (!frame_shared(v)) {
        frame_render(v);
    } else if (f && f->bytes && strcmp(f->prefix, v->req->script_name) == 0) {
        response_write(v->resp, f->bytes, f->len);
    } else {
        size_t from = v->resp->body_len;
        frame_render(v);
        frame_keep(v, from);
    }
}

void frame_free(struct frame *f)
{
    if (f == NULL)
        return;
    free(f->prefix);
    free(f->bytes);
    free(f);
}

void view_close(struct view *v)
{
    response_puts(v->resp,
                  "</main>\n<footer>nori \xE2\x80\x94 stateless navigation, "
                  "sessions only when they matter.</footer>\n</body></html>\n");
}

void view_item_list(struct view *v, const struct item *const *items, size_t n)
{
    response_puts(v->resp, "<ul class=\"items\">\n");
    for (size_t i = 0; i < n; i++) {
        struct nav_link l = {.pg = "Item", .id = items[i]->id};
        response_puts(v->resp, "<li>");
        view_link(v, &l, items[i]->name_html);
        response_puts(v->resp, " <span class=\"price\">");
        view_price(v, items[i]->price_cents);
        response_puts(v->resp, "</span></li>\n");
    }
    response_puts(v->resp, "</ul>\n");
}

void view_pager(struct view *v, const struct nav_link *base, uint32_t npages)
{
    struct nav_link l = *base;
    uint32_t page = v->nav->page;

    if (npages <= 1)
        return;
    response_puts(v->resp, "<nav class=\"pager\">");
    if (page > 1) {
        l.page = page - 1;
        view_link(v, &l, "\xE2\x80\xB9 Previous");
        response_puts(v->resp, " ");
    }
    response_printf(v->resp, "<span>Page %u of %u</span>", page, npages);
    if (page < npages) {
        l.page = page + 1;
        response_puts(v->resp, " ");
        view_link(v, &l, "Next \xE2\x80\xBA");
    }
    response_puts(v->resp, "</nav>\n");
}

void view_error(struct view *v, int status, const char *why)
{
    char title[64];

    snprintf(title, sizeof title, "%d %s", status, http_reason(status));
    view_open(v, title);
    response_puts(v->resp, "<h1>");
    view_text(v, title);
    response_puts(v->resp, "</h1>\n<p>");
    view_text(v, why);
    response_puts(v->resp, "</p>\n<p><a href=\"");
    view_url(v, &(struct nav_link){.pg = "Home"});
    response_puts(v->resp, "\">Back to the shop</a></p>\n");
    view_close(v);
}
