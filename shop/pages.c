/* pages.c -- the pages of the demo shop, with or without a session. Each renders
 * its whole page once its lookups succeed, or returns 404 having written
 * nothing, and the dispatcher answers with the error page. */
#include <string.h>

#include "view.h"

static uint32_t pages_for(size_t n)
{
    return n == 0 ? 1 : (uint32_t)((n + ITEMS_PER_PAGE - 1) / ITEMS_PER_PAGE);
}

static int home_render(struct view *v)
{
    const struct catalog *c = &v->shop->catalog;
    const struct item *featured[64];
    size_t nf = 0;

    view_open(v, "Home");
    response_puts(v->resp, "<h1>nori sushi</h1>\n<h2>Menu</h2>\n<ul class=\"categories\">\n");
    for (size_t i = 0; i < c->ncategories; i++) {
        const struct category *cat = c->categories[i];
        struct nav_link l = {.pg = "Category", .id = cat->id};
        response_puts(v->resp, "<li><a href=\"");
        view_url(v, &l);
        response_puts(v->resp, "\">");
        response_puts(v->resp, cat->name_html);
        response_puts(v->resp, "</a> <span class=\"count\">(");
        response_uint(v->resp, cat->nitems);
        response_puts(v->resp, ")</span> ");
        response_puts(v->resp, cat->description_html);
        response_puts(v->resp, "</li>\n");
        if (cat->nitems && nf < sizeof featured / sizeof featured[0])
            featured[nf++] = cat->items[0];
    }
    response_puts(v->resp, "</ul>\n<h2>Featured</h2>\n");
    view_item_list(v, featured, nf);
    view_close(v);
    return 200;
}

static int category_render(struct view *v)
{
    const struct category *cat =
        catalog_category(&v->shop->catalog, v->nav->id);
    uint32_t npages, page = v->nav->page;

    if (cat == NULL)
        return 404;
    npages = pages_for(cat->nitems);
    if (page > npages)
        return 404;
    view_open(v, cat->name_html);
    response_puts(v->resp, "<h1>");
    response_puts(v->resp, cat->name_html);
    response_puts(v->resp, "</h1>\n<p>");
    response_puts(v->resp, cat->description_html);
    response_puts(v->resp, "</p>\n");
    size_t first = (size_t)(page - 1) * ITEMS_PER_PAGE;
    size_t n = cat->nitems - first;
    view_item_list(v, (const struct item *const *)cat->items + first,
                   n < ITEMS_PER_PAGE ? n : ITEMS_PER_PAGE);
    struct nav_link base = {.pg = "Category", .id = cat->id};
    view_pager(v, &base, npages);
    view_close(v);
    return 200;
}

static int item_render(struct view *v)
{
    const struct item *it = catalog_item(&v->shop->catalog, v->nav->id);
    struct nav_link cat;

    if (it == NULL)
        return 404;
    cat = (struct nav_link){.pg = "Category", .id = it->category->id};
    view_open(v, it->name_html);
    response_puts(v->resp, "<article class=\"item\"><h1>");
    response_puts(v->resp, it->name_html);
    response_puts(v->resp, "</h1>\n<p class=\"price\">");
    view_price(v, it->price_cents);
    response_puts(v->resp, "</p>\n<p>");
    response_puts(v->resp, it->description_html);
    response_puts(v->resp, "</p>\n<p>In <a href=\"");
    view_url(v, &cat);
    response_puts(v->resp, "\">");
    response_puts(v->resp, it->category->name_html);
    response_puts(v->resp, "</a></p>\n");
    view_form_open(v, "add", "add");
    response_puts(v->resp, "<input type=\"hidden\" name=\"id\" value=\"");
    response_uint(v->resp, it->id);
    response_puts(v->resp,
                  "\"><label>Quantity <input type=\"number\" name=\"qty\" value=\"1\""
                  " min=\"1\" max=\"99\"></label> <button>Add to cart</button>"
                  "</form></article>\n");
    view_close(v);
    return 200;
}

/* Case-insensitive for ASCII letters; other bytes match as they are. */
static int search_render(struct view *v)
{
    const struct nav *nav = v->nav;
    const struct item *hits[ITEMS_PER_PAGE];
    char *needle;

    if (nav->q_len == 0) {
        if (nav->page > 1)
            return 404;
        view_open(v, "Search");
        response_puts(v->resp, "<h1>Search</h1>\n"
                      "<p>Type part of a dish's name in the search box.</p>\n");
        view_close(v);
        return 200;
    }
    if ((needle = arena_strndup(v->req->arena, nav->q, nav->q_len)) == NULL)
        return 503;
    for (char *p = needle; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    size_t skip = (size_t)(nav->page - 1) * ITEMS_PER_PAGE;
    size_t total = catalog_search(&v->shop->catalog, needle, nav->q_len, skip,
                                  hits, ITEMS_PER_PAGE);
    uint32_t npages = pages_for(total);
    if (nav->page > npages)
        return 404;
    view_open(v, "Search");
    response_puts(v->resp, "<h1>Search</h1>\n");
    response_printf(v->resp, "<p class=\"hits\">%zu %s \xE2\x80\x9C", total,
                    total == 1 ? "dish matches" : "dishes match");
    view_text(v, nav->q);
    response_puts(v->resp, "\xE2\x80\x9D.</p>\n");
    size_t shown = total - skip;
    view_item_list(v, hits, shown < ITEMS_PER_PAGE ? shown : ITEMS_PER_PAGE);
    struct nav_link base = {.pg = "Search", .q = nav->q};
    view_pager(v, &base, npages);
    view_close(v);
    return 200;
}

static void cart_line_render(struct view *v, const struct cart_line *l,
                             const struct item *it)
{
    struct nav_link link = {.pg = "Item", .id = it->id};

    response_puts(v->resp, "<tr><td><a href=\"");
    view_url(v, &link);
    response_puts(v->resp, "\">");
    response_puts(v->resp, it->name_html);
    response_puts(v->resp, "</a></td><td>");
    view_form_open(v, "qty", "set");
    response_printf(v->resp,
                    "<input type=\"hidden\" name=\"id\" value=\"%u\">"
                    "<input type=\"number\" name=\"qty\" value=\"%u\" min=\"0\""
                    " max=\"99\" aria-label=\"Quantity\"> <button>Update</button></form>"
                    "</td><td class=\"price\">",
                    it->id, l->qty);
    view_price(v, (uint64_t)it->price_cents * l->qty);
    response_puts(v->resp, "</td></tr>\n");
}

/* A cart line whose item left the catalog since is not shown or charged. */
static int cart_render(struct view *v)
{
    const struct session *s = view_session(v);
    uint64_t total = 0;

    view_open(v, "Cart");
    response_puts(v->resp, "<h1>Your cart</h1>\n");
    if (s == NULL || s->ncart == 0) {
        response_puts(v->resp, "<p class=\"empty\">Your cart is empty.</p>\n");
        view_close(v);
        return 200;
    }
    response_puts(v->resp, "<table class=\"cart\">\n<tr><th>Dish</th><th>Quantity</th>"
                  "<th>Price</th></tr>\n");
    for (uint32_t i = 0; i < s->ncart; i++) {
        const struct item *it = catalog_item(&v->shop->catalog, s->cart[i].id);
        if (it == NULL)
            continue;
        cart_line_render(v, &s->cart[i], it);
        total += (uint64_t)it->price_cents * s->cart[i].qty;
    }
    response_puts(v->resp, "<tr class=\"total\"><td>Total</td><td></td><td class=\"price\">");
    view_price(v, total);
    response_puts(v->resp, "</td></tr>\n</table>\n");
    view_close(v);
    return 200;
}

static void action_form(struct view *v, const char *act, const char *label)
{
    view_form_open(v, "inline", act);
    response_printf(v->resp, "<button>%s</button></form>\n", label);
}

static int counter_render(struct view *v)
{
    const struct session *s = view_session(v);

    view_open(v, "Counter");
    response_printf(v->resp, "<h1>Counter</h1>\n<p class=\"counter\">"
                    "<span id=\"count\">%lld</span></p>\n",
                    s ? (long long)s->counter : 0LL);
    action_form(v, "inc", "++");
    action_form(v, "dec", "--");
    view_close(v);
    return 200;
}

static int login_render(struct view *v)
{
    const struct session *s = view_session(v);

    view_open(v, "Login");
    response_puts(v->resp, "<h1>Login</h1>\n");
    if (v->notice) {
        response_puts(v->resp, "<p class=\"error\">");
        view_text(v, v->notice);
        response_puts(v->resp, "</p>\n");
    }
    if (s && s->user[0]) {
        response_puts(v->resp, "<p>You are logged in as ");
        view_text(v, s->user);
        response_puts(v->resp, ".</p>\n");
    }
    view_form_open(v, "login", "login");
    response_puts(v->resp,
                  "<label>User <input name=\"user\" required maxlength=\"64\""
                  " autocomplete=\"username\"></label> "
                  "<label>Password <input type=\"password\" name=\"password\" required"
                  " maxlength=\"128\" autocomplete=\"current-password\"></label> "
                  "<button>Log in</button></form>\n");
    view_close(v);
    return 200;
}

const struct page shop_pages[] = {
    {"Home", home_render},
    {"Category", category_render},
    {"Item", item_render},
    {"Search", search_render},
    {"Cart", cart_render},
    {"Counter", counter_render},
    {"Login", login_render},
};
const size_t shop_npages = sizeof shop_pages / sizeof shop_pages[0];
