/* catalog.h -- the menu: categories and items. The TSV file is built once
 * into a read-only LMDB file in the run directory (catalog.mdb), rebuilt
 * when the TSV changes, and every worker maps that file: its pages are
 * the kernel's page cache, shared by every process, and opening it costs
 * the same for ten items as for a million. Records are read in place;
 * the strings of an item or a category point into the map, and stay valid
 * until catalog_close. */
#ifndef NORI_CATALOG_H
#define NORI_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

/* What the pages write of a category or an item, the same for every
 * request, prepared when the catalog file is built (layout.c's view_*
 * helpers): a listing copies its entries instead of building, escaping
 * and formatting each link, name and price on every page. */
struct view {
    const char *href;               /* its link's query (nori_link_prepare) */
    const char *entry;              /* its list entry, after the href */
    const char *name;               /* name_html */
    const char *description;        /* description_html */
    const char *price;              /* an item's, as view_price writes it */
    size_t href_len, entry_len, name_len, description_len, price_len;
};

struct category {
    uint32_t id;
    const char *name_html;          /* escaped once, at build */
    const char *description_html;
    size_t nitems;
    const unsigned char *item_ids;  /* nitems ids, 4 bytes each, in file order */
    struct view view;
    UT_hash_handle hh;
};

/* One item, decoded from its record into the caller's struct. */
struct item {
    uint32_t id;
    uint32_t ordinal;               /* its place in the file, from 0 */
    const struct category *category;
    uint32_t price_cents;
    const char *name_folded;        /* ASCII lower case, for search */
    const char *name_html;
    const char *description_html;
    struct view view;
};

struct catalog {
    struct MDB_env *env;
    struct MDB_txn *txn;            /* one read transaction for the map's life */
    unsigned items_dbi, words_dbi;
    struct category *categories;    /* in file order */
    size_t ncategories;
    struct category *category_index;
    size_t nitems;
    const unsigned char *ids;       /* every item's id in file order, 4 bytes each */
    /* Every item's folded name, in file order, each ended by a NUL, and
     * where each begins (4 bytes each; name_starts[nitems] is names_len). */
    const char *names;
    size_t names_len;
    const unsigned char *name_starts;
    uint64_t digest;                /* FNV-1a of the TSV's bytes */
};

/* The catalog file for the TSV at tsv_path, in directory dir: built (or
 * rebuilt, when the TSV changed since) under a lock, to a temporary file
 * renamed into place, then mapped. A TSV error names its line; a catalog
 * file that is corrupt or truncated is refused. On error, one line in err
 * and nothing is kept. progress: a progress bar on stderr while building
 * a large catalog, if stderr is a terminal. */
int catalog_open(struct catalog *c, const char *tsv_path, const char *dir, int progress,
                 char *err, size_t errlen);
void catalog_close(struct catalog *c);
/* The catalog file's name in its directory. */
#define CATALOG_FILE "catalog.mdb"

/* 0 and *out filled, or -1: no such item (or a record that does not
 * decode, which is the same to a visitor). */
int catalog_item(const struct catalog *c, uint32_t id, struct item *out);
int catalog_item_at(const struct catalog *c, size_t ordinal, struct item *out);
const struct category *catalog_category(const struct catalog *c, uint32_t id);
int catalog_category_item(const struct catalog *c, const struct category *cat,
                          size_t i, struct item *out);

/* Items whose folded name contains needle (already ASCII-lower-cased), in
 * file order: skips `skip` matches, stores up to `max` ordinals in out,
 * and returns the total number of matches. */
size_t catalog_search(const struct catalog *c, const char *needle,
                      size_t needle_len, size_t skip, uint32_t *out, size_t max);

#endif
