/* pages.c -- the pages of the demo shop, with or without a session. Each renders
 * its whole page once its lookups succeed, or returns 404 having written
 * nothing, and the dispatcher answers with the error page. */
#include <string.h>

#include "shop.h"

static uint32_t pages_for(size_t n)
{
    return n == 0 ? 1 : (uint32_t)((n + ITEMS_PER_PAGE - 1) / ITEMS_PER_PAGE);
}

static const struct shop *shop_of(const struct nori_req *r)
{
    return r->data;
}

static const struct shop_query *query_of(const struct nori_req *r)
{
    return r->query;
}

static int home_render(struct nori_req *r)
{
    const struct catalog *c = &shop_of(r)->catalog;
    struct item featured[64];
    size_t nf = 0;

    view_open(r, "Home");
    nori_response_puts(r->resp, "<h1>nori sushi</h1>\n<h2>Menu</h2>\n<ul class=\"categories\">\n");
    for (size_t i = 0; i < c->ncategories; i++) {
        const struct category *cat = &c->categories[i];
        nori_response_puts(r->resp, "<li><a href=\"");
        nori_href(r, cat->view.href, cat->view.href_len);
        nori_response_write(r->resp, cat->view.entry, cat->view.entry_len);
        if (cat->nitems && nf < sizeof featured / sizeof featured[0] &&
            catalog_category_item(c, cat, 0, &featured[nf]) == 0)
            nf++;
    }
    nori_response_puts(r->resp, "</ul>\n<h2>Featured</h2>\n");
    view_item_list(r, featured, nf);
    view_close(r);
    return 200;
}

static int category_render(struct nori_req *r)
{
    const struct catalog *c = &shop_of(r)->catalog;
    const struct category *cat = catalog_category(c, query_of(r)->id);
    uint32_t npages, page = query_of(r)->page;
    struct item items[ITEMS_PER_PAGE];
    size_t n = 0;

    if (cat == NULL)
        return 404;
    npages = pages_for(cat->nitems);
    if (page > npages)
        return 404;
    view_open(r, cat->name_html);
    nori_response_puts(r->resp, "<h1>");
    nori_response_write(r->resp, cat->view.name, cat->view.name_len);
    nori_response_puts(r->resp, "</h1>\n<p>");
    nori_response_write(r->resp, cat->view.description, cat->view.description_len);
    nori_response_puts(r->resp, "</p>\n");
    size_t first = (size_t)(page - 1) * ITEMS_PER_PAGE;
    for (size_t i = first; i < cat->nitems && i < first + ITEMS_PER_PAGE; i++)
        if (catalog_category_item(c, cat, i, &items[n]) == 0)
            n++;
    view_item_list(r, items, n);
    view_pager(r, "Category", &(struct shop_query){.id = cat->id}, npages);
    view_close(r);
    return 200;
}

static int item_render(struct nori_req *r)
{
    struct item it;

    if (catalog_item(&shop_of(r)->catalog, query_of(r)->id, &it) < 0)
        return 404;
    view_open(r, it.name_html);
    nori_response_puts(r->resp, "<article class=\"item\"><h1>");
    nori_response_write(r->resp, it.view.name, it.view.name_len);
    nori_response_puts(r->resp, "</h1>\n<p class=\"price\">");
    nori_response_write(r->resp, it.view.price, it.view.price_len);
    nori_response_puts(r->resp, "</p>\n<p>");
    nori_response_write(r->resp, it.view.description, it.view.description_len);
    nori_response_puts(r->resp, "</p>\n<p>In ");
    view_link_to(r, &it.category->view);
    nori_response_puts(r->resp, "</p>\n");
    nori_form_open(r, "add", "add");
    nori_response_puts(r->resp, "<input type=\"hidden\" name=\"id\" value=\"");
    nori_response_uint(r->resp, it.id);
    nori_response_puts(r->resp,
                  "\"><label>Quantity <input type=\"number\" name=\"qty\" value=\"1\""
                  " min=\"1\" max=\"99\"></label> <button>Add to cart</button>"
                  "</form></article>\n");
    view_close(r);
    return 200;
}

/* Case-insensitive for ASCII letters; other bytes match as they are. */
static int search_render(struct nori_req *r)
{
    const struct shop_query *q = query_of(r);
    uint32_t hits[ITEMS_PER_PAGE];
    struct item items[ITEMS_PER_PAGE];
    size_t q_len = strlen(q->q);
    char *needle;

    if (q_len == 0) {
        if (q->page > 1)
            return 404;
        view_open(r, "Search");
        nori_response_puts(r->resp, "<h1>Search</h1>\n"
                      "<p>Type part of a dish's name in the search box.</p>\n");
        view_close(r);
        return 200;
    }
    if ((needle = nori_alloc(r, q_len + 1)) == NULL)
        return 503;
    memcpy(needle, q->q, q_len);
    for (char *p = needle; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    size_t skip = (size_t)(q->page - 1) * ITEMS_PER_PAGE;
    size_t total = catalog_search(&shop_of(r)->catalog, needle, q_len, skip,
                                  hits, ITEMS_PER_PAGE);
    uint32_t npages = pages_for(total);
    if (q->page > npages)
        return 404;
    view_open(r, "Search");
    nori_response_puts(r->resp, "<h1>Search</h1>\n");
    nori_response_printf(r->resp, "<p class=\"hits\">%zu %s \xE2\x80\x9C", total,
                    total == 1 ? "dish matches" : "dishes match");
    nori_text(r, q->q);
    nori_response_puts(r->resp, "\xE2\x80\x9D.</p>\n");
    size_t shown = total - skip, n = 0;
    for (size_t i = 0; i < shown && i < ITEMS_PER_PAGE; i++)
        if (catalog_item_at(&shop_of(r)->catalog, hits[i], &items[n]) == 0)
            n++;
    view_item_list(r, items, n);
    struct shop_query base = {0};
    memcpy(base.q, q->q, q_len + 1);
    view_pager(r, "Search", &base, npages);
    view_close(r);
    return 200;
}

static void cart_line_render(struct nori_req *r, const struct cart_line *l,
                             const struct item *it)
{
    nori_response_puts(r->resp, "<tr><td>");
    view_link_to(r, &it->view);
    nori_response_puts(r->resp, "</td><td>");
    nori_form_open(r, "qty", "set");
    nori_response_printf(r->resp,
                    "<input type=\"hidden\" name=\"id\" value=\"%u\">"
                    "<input type=\"number\" name=\"qty\" value=\"%u\" min=\"0\""
                    " max=\"99\" aria-label=\"Quantity\"> <button>Update</button></form>"
                    "</td><td class=\"price\">",
                    it->id, l->qty);
    view_price(r, (uint64_t)it->price_cents * l->qty);
    nori_response_puts(r->resp, "</td></tr>\n");
}

/* A cart line whose item left the catalog since is not shown or charged. */
static int cart_render(struct nori_req *r)
{
    const struct shop_state *s = nori_state(r);
    uint64_t total = 0;

    view_open(r, "Cart");
    nori_response_puts(r->resp, "<h1>Your cart</h1>\n");
    if (s == NULL || s->ncart == 0) {
        nori_response_puts(r->resp, "<p class=\"empty\">Your cart is empty.</p>\n");
        view_close(r);
        return 200;
    }
    nori_response_puts(r->resp, "<table class=\"cart\">\n<tr><th>Dish</th><th>Quantity</th>"
                  "<th>Price</th></tr>\n");
    for (uint32_t i = 0; i < s->ncart; i++) {
        struct item it;
        if (catalog_item(&shop_of(r)->catalog, s->cart[i].id, &it) < 0)
            continue;
        cart_line_render(r, &s->cart[i], &it);
        total += (uint64_t)it.price_cents * s->cart[i].qty;
    }
    nori_response_puts(r->resp, "<tr class=\"total\"><td>Total</td><td></td><td class=\"price\">");
    view_price(r, total);
    nori_response_puts(r->resp, "</td></tr>\n</table>\n");
    view_close(r);
    return 200;
}

static void action_form(struct nori_req *r, const char *act, const char *label)
{
    nori_form_open(r, "inline", act);
    nori_response_printf(r->resp, "<button>%s</button></form>\n", label);
}

static int counter_render(struct nori_req *r)
{
    const struct shop_state *s = nori_state(r);

    view_open(r, "Counter");
    nori_response_printf(r->resp, "<h1>Counter</h1>\n<p class=\"counter\">"
                    "<span id=\"count\">%lld</span></p>\n",
                    s ? (long long)s->counter : 0LL);
    action_form(r, "inc", "++");
    action_form(r, "dec", "--");
    view_close(r);
    return 200;
}

static int login_render(struct nori_req *r)
{
    const char *user = nori_user(r);

    view_open(r, "Login");
    nori_response_puts(r->resp, "<h1>Login</h1>\n");
    if (r->notice) {
        nori_response_puts(r->resp, "<p class=\"error\">");
        nori_text(r, r->notice);
        nori_response_puts(r->resp, "</p>\n");
    }
    if (user[0]) {
        nori_response_puts(r->resp, "<p>You are logged in as ");
        nori_text(r, user);
        nori_response_puts(r->resp, ".</p>\n");
    }
    nori_form_open(r, "login", "login");
    nori_response_puts(r->resp,
                  "<label>User <input name=\"user\" required maxlength=\"64\""
                  " autocomplete=\"username\"></label> "
                  "<label>Password <input type=\"password\" name=\"password\" required"
                  " maxlength=\"128\" autocomplete=\"current-password\"></label> "
                  "<button>Log in</button></form>\n");
    view_close(r);
    return 200;
}

const struct nori_page shop_pages[] = {
    {"Home", home_render, 1},
    {"Category", category_render, 1},
    {"Item", item_render, 1},
    {"Search", search_render, 0},
    {"Cart", cart_render, 0},
    {"Counter", counter_render, 0},
    {"Login", login_render, 0},
};
const size_t shop_npages = sizeof shop_pages / sizeof shop_pages[0];
