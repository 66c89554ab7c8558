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
    const struct visit *visit;  /* NULL on the sessionless fast path */
    const char *notice;         /* a line for the page, e.g. a failed login */
    int committed;              /* this request wrote to the store */
};

/* The session the page shows, or NULL when there is none. */
const struct session *view_session(const struct view *v);

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
void view_price(struct view *v, uint64_t cents);
void view_form_action(struct view *v);                  /* the app URL */
/* Opens a POST form for act, with the hidden _s and _k a live session
 * needs; the caller adds its fields and closes it. */
void view_form_open(struct view *v, const char *cls, const char *act);
/* title is HTML: a literal, or catalog text escaped at load (the
 * *_html strings of catalog.h). */
void view_open(struct view *v, const char *title);
void view_close(struct view *v);
void frame_free(struct frame *f);
void view_pager(struct view *v, const struct nav_link *base, uint32_t npages);
void view_item_list(struct view *v, const struct item *const *items, size_t n);
void view_error(struct view *v, int status, const char *why);

/* ---- actions (actions.c) ---- */

/* One POST, run by visit_run: perhaps more than once, on fresh state,
 * when another worker committed to the same session in between. */
struct action {
    const struct shop *shop;
    const struct nav_form *form;
    const struct request *req;
    uint64_t now;
    struct nav_link next;       /* where the 303 sends the browser */
    const char *why;            /* the explanation of a 4xx */
    int login_failed;           /* re-render the login page */
    int login_ok;               /* a login that will commit */
    unsigned retry_after;       /* 429: seconds before a login may be tried */
};

int action_apply(struct visit *v, void *arg);
/* After visit_run, once: what a login attempt leaves outside the session
 * (the shared failure counts, the error log). status: the answer. */
void action_done(struct action *a, int status);

#endif
