/* catalog.h -- the menu: categories and items, loaded once from a TSV file
 * and read-only afterwards. */
#ifndef NORI_CATALOG_H
#define NORI_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

struct item;
struct view;                    /* the shop's pages' (shop.h) */

struct category {
    uint32_t id;
    const char *name;
    const char *description;
    const char *name_html;      /* escaped once at load, for the pages */
    const char *description_html;
    struct item **items;        /* in file order */
    size_t nitems;
    const struct view *view;    /* its HTML, prepared at load by the pages */
    UT_hash_handle hh;
};

struct item {
    uint32_t id;
    struct category *category;
    const char *name;
    const char *name_folded;    /* ASCII lower case, for search; in catalog.names */
    const char *description;
    const char *name_html;      /* escaped once at load, for the pages */
    const char *description_html;
    uint32_t price_cents;
    const struct view *view;    /* its HTML, prepared at load by the pages */
    UT_hash_handle hh;
};

struct catalog {
    char *text;                 /* the file; every string points into it */
    struct category **categories;   /* in file order */
    size_t ncategories;
    struct item **items;
    size_t nitems;
    struct category *category_index;
    struct item *item_index;
    /* Search: every item's folded name, in file order, each ended by a
     * NUL, and where each begins (name_starts[nitems] is names_len). */
    char *names;
    size_t names_len;
    uint32_t *name_starts;
    uint64_t digest;            /* FNV-1a of the file's bytes */
};

/* Loads and validates the whole file; on error, err says which line and
 * why, and nothing is kept. */
int catalog_load(struct catalog *c, const char *path, char *err, size_t errlen);
void catalog_free(struct catalog *c);

const struct item *catalog_item(const struct catalog *c, uint32_t id);
const struct category *catalog_category(const struct catalog *c, uint32_t id);

/* Items whose name contains needle (already ASCII-lower-cased), in file
 * order: skips `skip` matches, stores up to `max` in out, and returns the
 * total number of matches. */
size_t catalog_search(const struct catalog *c, const char *needle,
                      size_t needle_len, size_t skip, const struct item **out,
                      size_t max);

#endif
