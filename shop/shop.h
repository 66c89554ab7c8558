/* shop.h -- the demo sushi shop, an application on nori (nori.h): its
 * URL and form fields, its session state (a counter and a cart), its
 * settings and data, and what its pages and actions share. */
#ifndef NORI_SHOP_H
#define NORI_SHOP_H

#include <stdint.h>

#include "nori.h"
#include "catalog.h"
#include "users.h"

#define SHOP_Q_MAX        200       /* search text, in bytes after decoding */
#define SHOP_PAGE_MAX     10000     /* listing page numbers */
#define SHOP_PASSWORD_MAX 128
#define SHOP_CART_MAX     64        /* distinct items in one cart */
#define SHOP_QTY_MAX      99
#define SHOP_QTY_ABSENT   UINT32_MAX
#define ITEMS_PER_PAGE    20

/* ?pg=...&id=N&q=T&page=P, in this canonical order. */
struct shop_query {
    uint32_t id;                    /* 0 when absent */
    char q[SHOP_Q_MAX + 1];
    uint32_t page;                  /* 1 when absent */
};

/* The fields of an action POST besides act, _s and _k. */
struct shop_form {
    uint32_t id;                    /* 0 when absent */
    uint32_t qty;                   /* SHOP_QTY_ABSENT when absent */
    char user[NORI_USER_MAX + 1];
    char password[SHOP_PASSWORD_MAX + 1];
};

struct cart_line {
    uint32_t id;
    uint32_t qty;                   /* 1..SHOP_QTY_MAX */
};

/* A visitor's state, as the session keeps it (state.c encodes it). */
struct shop_state {
    int64_t counter;
    uint32_t ncart;
    struct cart_line cart[SHOP_CART_MAX];
};

struct shop_config {
    const char *catalog_path;
    const char *users_path;
    const char *style_url;
    const char *icon_url;
    unsigned long login_failures, login_lockout;
};

/* The frame every sessionless page shares, rendered at the first one
 * (layout.c); the only thing a request writes outside its arena. */
struct frame {
    char *prefix;                   /* the SCRIPT_NAME it was rendered for */
    char *bytes;
    size_t len;
};

struct shop {
    struct shop_config cfg;
    struct catalog catalog;
    struct users users;
    const char *rundir;             /* for the login throttle's file */
    struct frame *frame;            /* NULL when it could not be allocated */
};

/* ---- fields.c ---- */
extern const struct nori_grammar shop_query_grammar, shop_form_grammar;

/* ---- state.c ---- */
extern const struct nori_state_codec shop_state_codec;
/* Cart edits. qty is capped at SHOP_QTY_MAX; 0 in cart_set removes.
 * -1 when the cart has no room for another item. */
int cart_add(struct shop_state *s, uint32_t id, uint32_t qty);
int cart_set(struct shop_state *s, uint32_t id, uint32_t qty);
uint32_t cart_count(const struct shop_state *s);

/* ---- pages.c ---- */
extern const struct nori_page shop_pages[];
extern const size_t shop_npages;

/* ---- actions.c ---- */
struct nori_result shop_act(struct nori_req *r);
void shop_acted(struct nori_req *r, const struct nori_result *res);

/* ---- layout.c: what every page shares ---- */
void view_price(struct nori_req *r, uint64_t cents);
/* The views of the catalog, formatted when its file is built: a price
 * ("€4.50", at most VIEW_PRICE_MAX bytes), a link's query part, and the
 * list entries after the href (0: it does not fit in cap). */
#define VIEW_PRICE_MAX 32
size_t view_price_format(char *out, uint64_t cents);
int view_href(char *out, size_t cap, const char *pg, uint32_t id, size_t *len);
size_t view_category_entry(char *out, size_t cap, const char *name_html,
                           const char *description_html, size_t nitems);
size_t view_item_entry(char *out, size_t cap, const char *name_html, const char *price,
                       size_t price_len);
/* <a href="...">name</a> to a category or an item. */
void view_link_to(struct nori_req *r, const struct view *v);
/* title is HTML: a literal, or catalog text escaped at load (the *_html
 * strings of catalog.h). */
void view_open(struct nori_req *r, const char *title);
void view_close(struct nori_req *r);
void view_link(struct nori_req *r, const char *pg, uint32_t id, const char *label);
void view_pager(struct nori_req *r, const char *pg, const struct shop_query *base,
                uint32_t npages);
void view_item_list(struct nori_req *r, const struct item *items, size_t n);
void view_error(struct nori_req *r, int status, const char *why);
void frame_free(struct frame *f);

#endif
