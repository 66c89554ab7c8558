/* layout.c -- the frame every page shares (header, search form, one
 * <main>, footer), the views of the catalog prepared at load, and small
 * HTML helpers. Every URL is built by nori
 * from SCRIPT_NAME, and every string from the catalog or the request is
 * escaped on its way out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shop.h"

static const struct shop *shop_of(const struct nori_req *r)
{
    return r->data;
}

/* "€4.50": the euro sign, whole euros, a dot and two digits of cents. */
size_t view_price_format(char *out, uint64_t cents)
{
    char digits[20], *end = digits + sizeof digits, *d = end;
    uint64_t euros = cents / 100;
    size_t n = 0;

    do {
        *--d = (char)('0' + euros % 10);
        euros /= 10;
    } while (euros);
    memcpy(out, "\xE2\x82\xAC", 3), n += 3;
    memcpy(out + n, d, (size_t)(end - d)), n += (size_t)(end - d);
    out[n++] = '.';
    out[n++] = (char)('0' + cents / 10 % 10);
    out[n++] = (char)('0' + cents % 10);
    return n;
}

void view_price(struct nori_req *r, uint64_t cents)
{
    char price[VIEW_PRICE_MAX];

    nori_response_write(r->resp, price, view_price_format(price, cents));
}

/* ---- views: what pages write of the catalog, formatted at build ---- */

/* An entry being built, in the caller's buffer. */
struct piece {
    char *buf;
    size_t len, cap;
    int overflow;
};

static void piece_add(struct piece *p, const char *s, size_t n)
{
    if (p->overflow || p->cap - p->len < n) {
        p->overflow = 1;
        return;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
}

static void piece_str(struct piece *p, const char *s)
{
    piece_add(p, s, strlen(s));
}

int view_href(char *out, size_t cap, const char *pg, uint32_t id, size_t *len)
{
    struct shop_query q = {.id = id};

    return nori_link_prepare(out, cap, &shop_query_grammar, &(struct nori_link){pg, &q},
                             len);
}

/* Home's entry of a category, after its href: the link's end, the count
 * of its dishes and its description. */
size_t view_category_entry(char *out, size_t cap, const char *name_html,
                           const char *description_html, size_t nitems)
{
    struct piece e = {out, 0, cap, 0};
    char count[24];

    piece_str(&e, "\">");
    piece_str(&e, name_html);
    piece_str(&e, "</a> <span class=\"count\">(");
    piece_add(&e, count, (size_t)snprintf(count, sizeof count, "%zu", nitems));
    piece_str(&e, ")</span> ");
    piece_str(&e, description_html);
    piece_str(&e, "</li>\n");
    return e.overflow ? 0 : e.len;
}

/* An item's entry in a list of dishes, after its href: the link's end
 * and the price. */
size_t view_item_entry(char *out, size_t cap, const char *name_html, const char *price,
                       size_t price_len)
{
    struct piece e = {out, 0, cap, 0};

    piece_str(&e, "\">");
    piece_str(&e, name_html);
    piece_str(&e, "</a> <span class=\"price\">");
    piece_add(&e, price, price_len);
    piece_str(&e, "</span></li>\n");
    return e.overflow ? 0 : e.len;
}

void view_link_to(struct nori_req *r, const struct view *v)
{
    nori_response_puts(r->resp, "<a href=\"");
    nori_href(r, v->href, v->href_len);
    nori_response_puts(r->resp, "\">");
    nori_response_write(r->resp, v->name, v->name_len);
    nori_response_puts(r->resp, "</a>");
}

/* label is HTML: a literal, or catalog text escaped at load. */
static void link_to(struct nori_req *r, const char *pg, const struct shop_query *q,
                    const char *label)
{
    nori_response_puts(r->resp, "<a href=\"");
    nori_url(r, &(struct nori_link){pg, q});
    nori_response_puts(r->resp, "\">");
    nori_response_puts(r->resp, label);
    nori_response_puts(r->resp, "</a>");
}

/* The three fields a link reads, set by hand: a whole shop_query zeroed
 * per link was a fair part of a page of links. */
void view_link(struct nori_req *r, const char *pg, uint32_t id, const char *label)
{
    struct shop_query q;

    q.id = id;
    q.q[0] = '\0';
    q.page = 0;
    link_to(r, pg, &q, label);
}

static const char *query_text(const struct nori_req *r)
{
    const struct shop_query *q = r->query;

    return q ? q->q : "";
}

static void header_render(struct nori_req *r)
{
    const struct catalog *c = &shop_of(r)->catalog;
    const struct shop_state *s = nori_state(r);
    const char *user = nori_user(r);

    nori_response_puts(r->resp, "<header><nav class=\"site\">");
    view_link(r, "Home", 0, "nori sushi");
    for (size_t i = 0; i < c->ncategories; i++) {
        nori_response_puts(r->resp, " ");
        view_link_to(r, &c->categories[i].view);
    }
    nori_response_puts(r->resp, " <a href=\"");
    nori_url(r, &(struct nori_link){"Cart", NULL});
    nori_response_puts(r->resp, "\">Cart (<span id=\"cart-count\">");
    nori_response_uint(r->resp, s ? cart_count(s) : 0);
    nori_response_puts(r->resp, "</span>)</a> ");
    view_link(r, "Counter", 0, "Counter");
    nori_response_puts(r->resp, " ");
    /* Logging out changes state, so it is a POST form, never a link. */
    if (user[0]) {
        nori_form_open(r, "logout", "logout");
        nori_response_puts(r->resp, "<button>Log out ");
        nori_text(r, user);
        nori_response_puts(r->resp, "</button></form>");
    } else {
        view_link(r, "Login", 0, "Login");
    }
    nori_response_puts(r->resp, "</nav>\n<form class=\"search\" method=\"get\" action=\"");
    nori_form_action(r);
    nori_response_puts(r->resp, "\"><input type=\"hidden\" name=\"pg\" value=\"Search\">"
                  "<input type=\"search\" name=\"q\" required maxlength=\"200\""
                  " placeholder=\"Search the menu\" aria-label=\"Search\"");
    if (query_text(r)[0]) {
        nori_response_puts(r->resp, " value=\"");
        nori_text(r, query_text(r));
        nori_response_puts(r->resp, "\"");
    }
    nori_response_puts(r->resp, ">");
    /* After q, so that the URL the browser builds has _s last too. */
    nori_form_keep(r);
    nori_response_puts(r->resp, "<button>Search</button></form></header>\n");
}

/* Everything from </title> to <main>. */
static void frame_render(struct nori_req *r)
{
    const struct shop *shop = shop_of(r);

    nori_response_puts(r->resp, " \xC2\xB7 nori sushi</title><link rel=\"stylesheet\" href=\"");
    nori_text(r, shop->cfg.style_url);
    /* Linked, so that a browser asks for the icon where the stylesheet
     * lives instead of guessing /favicon.ico (which is served too). */
    nori_response_puts(r->resp, "\"><link rel=\"icon\" href=\"");
    nori_text(r, shop->cfg.icon_url);
    nori_response_puts(r->resp, "\"></head>\n<body>\n");
    header_render(r);
    nori_response_puts(r->resp, "<main>\n");
}

/* A sessionless page's frame depends only on the prefix, the stylesheet
 * and icon URLs and the catalog, which are fixed for a worker's life (a
 * catalog reload starts new workers), so it is rendered once and copied
 * after: rebuilding the same links for every page was most of a page's
 * cost. The search box shows the search text, so a search page renders
 * its own.
 * One prefix is kept, since a worker is mounted at one place; another
 * prefix is rendered as before. */
static int frame_shared(const struct nori_req *r)
{
    return nori_sessionless(r) && query_text(r)[0] == '\0';
}

/* The frame is the response's bytes from `from` on: read back through
 * the one accessor the response has for it. */
static void frame_keep(struct nori_req *r, const char *bytes, size_t len)
{
    struct frame *f = shop_of(r)->frame;

    if (f == NULL || f->bytes || bytes == NULL)
        return;
    f->prefix = strdup(r->prefix);
    f->bytes = malloc(len);
    if (f->prefix == NULL || f->bytes == NULL) {
        free(f->prefix);
        free(f->bytes);
        f->prefix = f->bytes = NULL;
        return;
    }
    memcpy(f->bytes, bytes, len);
    f->len = len;
}

void view_open(struct nori_req *r, const char *title)
{
    const struct frame *f = shop_of(r)->frame;

    nori_response_puts(r->resp,
                  "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>");
    nori_response_puts(r->resp, title);
    if (!frame_shared(r)) {
        frame_render(r);
    } else if (f && f->bytes && strcmp(f->prefix, r->prefix) == 0) {
        nori_response_write(r->resp, f->bytes, f->len);
    } else {
        size_t from = nori_response_length(r->resp);
        frame_render(r);
        frame_keep(r, nori_response_since(r->resp, from), nori_response_length(r->resp) - from);
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

void view_close(struct nori_req *r)
{
    nori_response_puts(r->resp,
                  "</main>\n<footer>nori \xE2\x80\x94 stateless navigation, "
                  "sessions only when they matter.</footer>\n</body></html>\n");
}

void view_item_list(struct nori_req *r, const struct item *items, size_t n)
{
    nori_response_puts(r->resp, "<ul class=\"items\">\n");
    for (size_t i = 0; i < n; i++) {
        const struct view *v = &items[i].view;

        nori_response_puts(r->resp, "<li><a href=\"");
        nori_href(r, v->href, v->href_len);
        nori_response_write(r->resp, v->entry, v->entry_len);
    }
    nori_response_puts(r->resp, "</ul>\n");
}

void view_pager(struct nori_req *r, const char *pg, const struct shop_query *base,
                uint32_t npages)
{
    const struct shop_query *q = r->query;
    struct shop_query l = *base;
    uint32_t page = q->page;

    if (npages <= 1)
        return;
    nori_response_puts(r->resp, "<nav class=\"pager\">");
    if (page > 1) {
        l.page = page - 1;
        link_to(r, pg, &l, "\xE2\x80\xB9 Previous");
        nori_response_puts(r->resp, " ");
    }
    nori_response_printf(r->resp, "<span>Page %u of %u</span>", page, npages);
    if (page < npages) {
        l.page = page + 1;
        nori_response_puts(r->resp, " ");
        link_to(r, pg, &l, "Next \xE2\x80\xBA");
    }
    nori_response_puts(r->resp, "</nav>\n");
}

void view_error(struct nori_req *r, int status, const char *why)
{
    char title[64];

    snprintf(title, sizeof title, "%d %s", status, nori_reason(status));
    view_open(r, title);
    nori_response_puts(r->resp, "<h1>");
    nori_text(r, title);
    nori_response_puts(r->resp, "</h1>\n<p>");
    nori_text(r, why);
    nori_response_puts(r->resp, "</p>\n<p><a href=\"");
    nori_url(r, &(struct nori_link){"Home", NULL});
    nori_response_puts(r->resp, "\">Back to the shop</a></p>\n");
    view_close(r);
}
