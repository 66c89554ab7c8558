/* catalog.c -- TSV loading. The file is read whole and split in place;
 * records point into it, so loading is two passes and few allocations.
 *
 *   C <TAB> id <TAB> name <TAB> description
 *   I <TAB> id <TAB> category-id <TAB> name <TAB> price <TAB> description
 *
 * '#' starts a comment line; blank lines are skipped. A malformed line
 * stops the load: a shop that starts with half its menu is worse than one
 * that refuses to start with a message naming the line. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nori.h"
#include "catalog.h"
#include "textfile.h"

#define FIELDS_MAX 6
#define NAME_MAX_BYTES 80
#define CATALOG_FILE_MAX (256u << 20)  /* bench catalogs are large */

static int fail(char *err, size_t errlen, size_t line, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "line %zu: ", line);

    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The same rule as an id in a URL: 1..2^31-1, a strict decimal. */
static int id_parse(const char *s, uint32_t *out)
{
    uint64_t n;

    if (nori_decimal(s, strlen(s), INT32_MAX, &n) < 0 || n == 0)
        return -1;
    *out = (uint32_t)n;
    return 0;
}

/* "4.50" -> 450: digits, a dot, exactly two digits. */
static int price_parse(const char *s, uint32_t *cents)
{
    const char *dot = strchr(s, '.');
    uint64_t n = 0;

    if (dot == NULL || dot == s || strlen(dot) != 3 || dot - s > 6)
        return -1;
    for (const char *p = s; *p; p++) {
        if (p == dot)
            continue;
        if (!isdigit((unsigned char)*p))
            return -1;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    *cents = (uint32_t)n;
    return 0;
}

static size_t split(char *line, char **fields)
{
    size_t n = 0;

    for (char *p = line;; p++) {
        if (n < FIELDS_MAX + 1)
            fields[n] = p;
        n++;
        p = strchr(p, '\t');
        if (p == NULL)
            break;
        *p = '\0';
    }
    return n;
}

static int text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20)
            return 0;
    return 1;
}

/* The catalog's text is escaped once, at load, instead of on every page
 * that shows it; the limits above bound the worst case. */
static char *html_dup(const char *s)
{
    char buf[1000 * NORI_HTML_WORST + 1];
    size_t n = strlen(s);

    if (n > 1000)
        return NULL;
    n = nori_html_escape(buf, s, n);
    buf[n] = '\0';
    return strdup(buf);
}

static int strings_escape(const char *name, const char *description,
                          const char **name_html, const char **description_html)
{
    char *n = html_dup(name), *d = html_dup(description);

    if (n == NULL || d == NULL) {
        free(n);
        free(d);
        return -1;
    }
    *name_html = n;
    *description_html = d;
    return 0;
}

static void strings_free(const char *name_html, const char *description_html)
{
    free((char *)name_html);
    free((char *)description_html);
}

static int category_add(struct catalog *c, char **f, size_t nf, size_t line,
                        char *err, size_t errlen)
{
    struct category *cat, *dup;
    uint32_t id;

    if (nf != 4)
        return fail(err, errlen, line, "a category has 4 fields, not %zu", nf);
    if (id_parse(f[1], &id) < 0)
        return fail(err, errlen, line, "bad category id '%s'", f[1]);
    HASH_FIND(hh, c->category_index, &id, sizeof id, dup);
    if (dup)
        return fail(err, errlen, line, "category %u defined twice", id);
    if (!text_ok(f[2], NAME_MAX_BYTES) || !text_ok(f[3], 1000))
        return fail(err, errlen, line, "bad category name or description");
    if ((cat = calloc(1, sizeof *cat)) == NULL)
        return fail(err, errlen, line, "out of memory");
    if (strings_escape(f[2], f[3], &cat->name_html, &cat->description_html) < 0) {
        free(cat);
        return fail(err, errlen, line, "out of memory");
    }
    cat->id = id;
    cat->name = f[2];
    cat->description = f[3];
    HASH_ADD(hh, c->category_index, id, sizeof cat->id, cat);
    c->categories[c->ncategories++] = cat;
    return 0;
}

static int item_add(struct catalog *c, char **f, size_t nf, size_t line,
                    char *err, size_t errlen)
{
    struct item *it, *dup;
    struct category *cat;
    uint32_t id, catid, cents;

    if (nf != 6)
        return fail(err, errlen, line, "an item has 6 fields, not %zu", nf);
    if (id_parse(f[1], &id) < 0)
        return fail(err, errlen, line, "bad item id '%s'", f[1]);
    HASH_FIND(hh, c->item_index, &id, sizeof id, dup);
    if (dup)
        return fail(err, errlen, line, "item %u defined twice", id);
    if (id_parse(f[2], &catid) < 0)
        return fail(err, errlen, line, "bad category id '%s'", f[2]);
    HASH_FIND(hh, c->category_index, &catid, sizeof catid, cat);
    if (cat == NULL)
        return fail(err, errlen, line, "category %u is not defined above", catid);
    if (!text_ok(f[3], NAME_MAX_BYTES) || !text_ok(f[5], 1000))
        return fail(err, errlen, line, "bad item name or description");
    if (price_parse(f[4], &cents) < 0)
        return fail(err, errlen, line, "bad price '%s' (want 4.50)", f[4]);
    if ((it = calloc(1, sizeof *it)) == NULL)
        return fail(err, errlen, line, "out of memory");
    if (strings_escape(f[3], f[5], &it->name_html, &it->description_html) < 0) {
        free(it);
        return fail(err, errlen, line, "out of memory");
    }
    it->id = id;
    it->category = cat;
    it->name = f[3];
    it->description = f[5];
    it->price_cents = cents;
    HASH_ADD(hh, c->item_index, id, sizeof it->id, it);
    c->items[c->nitems++] = it;
    cat->nitems++;
    return 0;
}

static int line_parse(struct catalog *c, char *line, size_t lineno, char *err,
                      size_t errlen)
{
    char *f[FIELDS_MAX + 1];
    size_t len = strlen(line);

    if (len && line[len - 1] == '\r')
        line[--len] = '\0';
    if (len == 0 || line[0] == '#')
        return 0;
    size_t nf = split(line, f);
    if (strcmp(f[0], "C") == 0)
        return category_add(c, f, nf, lineno, err, errlen);
    if (strcmp(f[0], "I") == 0)
        return item_add(c, f, nf, lineno, err, errlen);
    return fail(err, errlen, lineno, "a line starts with C or I, not '%s'", f[0]);
}

/* Second pass: each category's item list, in file order. */
static int categories_index(struct catalog *c)
{
    for (size_t i = 0; i < c->ncategories; i++) {
        struct category *cat = c->categories[i];
        cat->items = calloc(cat->nitems ? cat->nitems : 1, sizeof *cat->items);
        if (cat->items == NULL)
            return -1;
        cat->nitems = 0;
    }
    for (size_t i = 0; i < c->nitems; i++) {
        struct category *cat = c->items[i]->category;
        cat->items[cat->nitems++] = c->items[i];
    }
    return 0;
}

/* Third pass: the folded names, one after another in one buffer, so that
 * a search is one memmem over all of them instead of one call per item.
 * The NUL between names can be in no name (the file has none) and in no
 * needle the shop passes (the query grammar refuses control characters),
 * so no match runs from one name into the next. Offsets fit in 32 bits:
 * the buffer is no larger than the file, and the file is at most
 * CATALOG_FILE_MAX. */
static int names_index(struct catalog *c)
{
    size_t len = 0;

    for (size_t i = 0; i < c->nitems; i++)
        len += strlen(c->items[i]->name) + 1;
    c->names = malloc(len ? len : 1);
    c->name_starts = calloc(c->nitems + 1, sizeof *c->name_starts);
    if (c->names == NULL || c->name_starts == NULL)
        return -1;
    for (size_t i = 0, at = 0; i < c->nitems; i++) {
        struct item *it = c->items[i];
        c->name_starts[i] = (uint32_t)at;
        it->name_folded = c->names + at;
        for (const char *p = it->name; *p; p++)
            c->names[at++] = (char)tolower((unsigned char)*p);
        c->names[at++] = '\0';
    }
    c->name_starts[c->nitems] = (uint32_t)len;
    c->names_len = len;
    return 0;
}

int catalog_load(struct catalog *c, const char *path, char *err, size_t errlen)
{
    size_t len, lines = 1, lineno = 0;
    char *text, *line, *next;

    memset(c, 0, sizeof *c);
    if ((text = textfile_read(path, CATALOG_FILE_MAX, &len, err, errlen)) == NULL)
        return -1;
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "contains a NUL byte");
        free(text);
        return -1;
    }
    c->text = text;
    c->digest = nori_hash(NORI_HASH_INIT, text, len);
    for (const char *p = text; (p = strchr(p, '\n')); p++)
        lines++;
    c->categories = calloc(lines, sizeof *c->categories);
    c->items = calloc(lines, sizeof *c->items);
    if (c->categories == NULL || c->items == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (line = text; line; line = next) {
        if ((next = strchr(line, '\n')))
            *next++ = '\0';
        if (line_parse(c, line, ++lineno, err, errlen) < 0)
            goto fail;
    }
    if (c->ncategories == 0) {
        snprintf(err, errlen, "no categories");
        goto fail;
    }
    if (categories_index(c) < 0 || names_index(c) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    catalog_free(c);
    return -1;
}

void catalog_free(struct catalog *c)
{
    struct category *cat, *ctmp;
    struct item *it, *itmp;

    HASH_ITER(hh, c->item_index, it, itmp) {
        HASH_DEL(c->item_index, it);
        strings_free(it->name_html, it->description_html);
        free(it);
    }
    HASH_ITER(hh, c->category_index, cat, ctmp) {
        HASH_DEL(c->category_index, cat);
        free(cat->items);
        strings_free(cat->name_html, cat->description_html);
        free(cat);
    }
    free(c->categories);
    free(c->items);
    free(c->names);
    free(c->name_starts);
    free(c->text);
    memset(c, 0, sizeof *c);
}

const struct item *catalog_item(const struct catalog *c, uint32_t id)
{
    struct item *it;

    HASH_FIND(hh, c->item_index, &id, sizeof id, it);
    return it;
}

const struct category *catalog_category(const struct catalog *c, uint32_t id)
{
    struct category *cat;

    HASH_FIND(hh, c->category_index, &id, sizeof id, cat);
    return cat;
}

/* The item whose name holds offset `at` of c->names: the last one that
 * starts at or before it, from item `from` on (matches come in order).
 * Galloping: dense matches find their item in a step or two, sparse ones
 * in a binary search no longer than the distance's logarithm. */
static size_t name_find(const struct catalog *c, size_t at, size_t from)
{
    size_t lo = from, hi = from + 1, step = 1;

    while (hi < c->nitems && c->name_starts[hi] <= at) {
        lo = hi;
        step *= 2;
        hi = lo + step < c->nitems ? lo + step : c->nitems;
    }
    while (hi - lo > 1) {       /* name_starts[lo] <= at < name_starts[hi] */
        size_t mid = lo + (hi - lo) / 2;
        if (c->name_starts[mid] <= at)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The empty needle is in every name; one with a NUL byte, in none (the
 * only NULs in c->names are between names). */
static size_t search_trivial(const struct catalog *c, size_t needle_len,
                             size_t skip, const struct item **out, size_t max)
{
    if (needle_len != 0)
        return 0;
    for (size_t i = skip, stored = 0; i < c->nitems && stored < max; i++)
        out[stored++] = c->items[i];
    return c->nitems;
}

/* One memmem over every name at once; after a match, the search goes on
 * at the start of the next name, so that an item is counted once. */
size_t catalog_search(const struct catalog *c, const char *needle,
                      size_t needle_len, size_t skip, const struct item **out,
                      size_t max)
{
    size_t total = 0, stored = 0, at = 0, i = 0;
    const char *hit;

    if (needle_len == 0 || memchr(needle, '\0', needle_len))
        return search_trivial(c, needle_len, skip, out, max);
    while (at < c->names_len &&
           (hit = memmem(c->names + at, c->names_len - at, needle, needle_len))) {
        i = name_find(c, (size_t)(hit - c->names), i);
        if (total >= skip && stored < max)
            out[stored++] = c->items[i];
        total++;
        at = c->name_starts[++i];
    }
    return total;
}
