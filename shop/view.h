/* view.h -- inside the shop: what a page renderer is given, and the
 * layout helpers every page shares. */
#ifndef NORI_VIEW_H
#define NORI_VIEW_H

#include "../nav/nav.h"
#include "shop.h"

#define ITEMS_PER_PAGE 20

struct view {
    const struct shop *shop;
    const struct request *req;
    struct response *resp;
    const struct nav *nav;
};

/* A page renders itself (view_open ... view_close) and returns 200, or
 * returns 404 before writing anything when its id or page number names
 * nothing; the dispatcher then answers with the error page. */
struct page {
    const char *name;
    int (*render)(struct view *v);
};

extern const struct page shop_pages[];
extern const size_t shop_npages;

void view_text(struct view *v, const char *s);          /* HTML-escaped */
void view_url(struct view *v, const struct nav_link *link);  /* escaped */
void view_price(struct view *v, uint32_t cents);
void view_form_action(struct view *v);                  /* the app URL */
void view_open(struct view *v, const char *title);
void view_close(struct view *v);
void view_pager(struct view *v, const struct nav_link *base, uint32_t npages);
void view_item_list(struct view *v, const struct item *const *items, size_t n);
void view_error(struct view *v, int status, const char *why);

#endif
