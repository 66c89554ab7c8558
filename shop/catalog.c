/* catalog.c -- the TSV file, built into a read-only LMDB file that every
 * worker maps.
 *
 *   C <TAB> id <TAB> name <TAB> description
 *   I <TAB> id <TAB> category-id <TAB> name <TAB> price <TAB> description
 *
 * '#' starts a comment line; blank lines are skipped. A malformed line
 * stops the build: a shop that starts with half its menu is worse than one
 * that refuses to start with a message naming the line.
 *
 * The file (CATALOG_FILE in the run directory) holds, in four databases:
 *   meta   the format, the TSV's identity (device, inode, size, times) and
 *          digest, the counts, every item's id in file order, the folded
 *          names and where each begins;
 *   cats   each category's record, by its place in the file;
 *   items  each item's record, by id: its views, escaped and formatted;
 *   words  each distinct word of the folded names: whether it is a part of
 *          another word, and the items whose name has it, in file order.
 * It is built to a temporary file and renamed into place, so a reader sees
 * the old file or the new one, never half of one; readers keep one read
 * transaction for the map's life (nothing writes the file after the
 * rename, so the map's pointers stay valid). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "shop.h"
#include "textfile.h"

#define FIELDS_MAX 6
#define NAME_MAX_BYTES 80
#define TEXT_MAX_BYTES 1000
#define CATALOG_FILE_MAX (256u << 20)  /* bench catalogs are large */
#define FORMAT "nori-catalog 2"
/* A progress bar is worth it past this many lines (about a second). */
#define PROGRESS_LINES 100000

/* Word flags: a word that is part of another word of the catalog cannot
 * answer a search for it from its own list alone. */
#define WORD_IN_OTHER   1u      /* a proper substring of another word */
#define WORD_PREFIX     2u      /* a proper prefix of another word */
#define WORD_SUFFIX     4u      /* a proper suffix of another word */

/* ---- small helpers ---- */

static uint32_t u32_at(const unsigned char *p)
{
    uint32_t v;

    memcpy(&v, p, sizeof v);
    return v;
}

static int word_byte(unsigned char b)
{
    return isalnum(b) || b >= 0x80;
}

static char fold(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

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

/* ---- the TSV, parsed in place (the build's side) ---- */

struct src_category {
    uint32_t id;
    const char *name, *description;
    size_t nitems, filled;
    uint32_t *items;
    UT_hash_handle hh;
};

struct src_item {
    uint32_t id;
    struct src_category *category;
    const char *name, *description;
    uint32_t price_cents;
    UT_hash_handle hh;
};

struct source {
    char *text;
    size_t len;
    struct src_category *categories;
    size_t ncategories;
    struct src_item *items;
    size_t nitems;
    struct src_category *category_index;
    struct src_item *item_index;
    char *names;                /* folded, each ended by a NUL */
    uint32_t *name_starts;
    size_t names_len;
    int progress;               /* a bar is being drawn */
    uint64_t digest;            /* of the bytes as read, before they are split */
};

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

static int category_add(struct source *c, char **f, size_t nf, size_t line,
                        char *err, size_t errlen)
{
    struct src_category *cat, *dup;
    uint32_t id;

    if (nf != 4)
        return fail(err, errlen, line, "a category has 4 fields, not %zu", nf);
    if (id_parse(f[1], &id) < 0)
        return fail(err, errlen, line, "bad category id '%s'", f[1]);
    HASH_FIND(hh, c->category_index, &id, sizeof id, dup);
    if (dup)
        return fail(err, errlen, line, "category %u defined twice", id);
    if (!text_ok(f[2], NAME_MAX_BYTES) || !text_ok(f[3], TEXT_MAX_BYTES))
        return fail(err, errlen, line, "bad category name or description");
    cat = &c->categories[c->ncategories++];
    cat->id = id;
    cat->name = f[2];
    cat->description = f[3];
    HASH_ADD(hh, c->category_index, id, sizeof cat->id, cat);
    return 0;
}

static int item_add(struct source *c, char **f, size_t nf, size_t line,
                    char *err, size_t errlen)
{
    struct src_item *it, *dup;
    struct src_category *cat;
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
    if (!text_ok(f[3], NAME_MAX_BYTES) || !text_ok(f[5], TEXT_MAX_BYTES))
        return fail(err, errlen, line, "bad item name or description");
    if (price_parse(f[4], &cents) < 0)
        return fail(err, errlen, line, "bad price '%s' (want 4.50)", f[4]);
    it = &c->items[c->nitems++];
    it->id = id;
    it->category = cat;
    it->name = f[3];
    it->description = f[5];
    it->price_cents = cents;
    HASH_ADD(hh, c->item_index, id, sizeof it->id, it);
    cat->nitems++;
    return 0;
}

static int line_parse(struct source *c, char *line, size_t lineno, char *err,
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

/* "nori: building the catalog [#########           ]  45% items" */
static void progress_show(int on, const char *what, size_t done, size_t total)
{
    char bar[41];
    size_t pct = total ? done * 100 / total : 100, n = pct * 40 / 100;

    if (!on)
        return;
    memset(bar, '#', n);
    memset(bar + n, ' ', 40 - n);
    bar[40] = '\0';
    fprintf(stderr, "\rnori: building the catalog [%s] %3zu%% %-5s", bar, pct, what);
}

static void source_free(struct source *c)
{
    HASH_CLEAR(hh, c->item_index);
    HASH_CLEAR(hh, c->category_index);
    for (size_t i = 0; i < c->ncategories; i++)
        free(c->categories[i].items);
    free(c->categories);
    free(c->items);
    free(c->names);
    free(c->name_starts);
    free(c->text);
    memset(c, 0, sizeof *c);
}

/* Each category's items and the folded names, once every line is read. */
static int source_index(struct source *c)
{
    size_t len = 0;

    for (size_t i = 0; i < c->ncategories; i++)
        if ((c->categories[i].items =
                 malloc((c->categories[i].nitems + 1) * sizeof(uint32_t))) == NULL)
            return -1;
    for (size_t i = 0; i < c->nitems; i++) {
        struct src_category *cat = c->items[i].category;
        cat->items[cat->filled++] = c->items[i].id;
        len += strlen(c->items[i].name) + 1;
    }
    /* Offsets fit in 32 bits: the names are no larger than the file. */
    c->names = malloc(len ? len : 1);
    c->name_starts = malloc((c->nitems + 1) * sizeof *c->name_starts);
    if (c->names == NULL || c->name_starts == NULL)
        return -1;
    size_t at = 0;
    for (size_t i = 0; i < c->nitems; i++) {
        c->name_starts[i] = (uint32_t)at;
        for (const char *p = c->items[i].name; *p; p++)
            c->names[at++] = fold(*p);
        c->names[at++] = '\0';
    }
    c->name_starts[c->nitems] = (uint32_t)at;
    c->names_len = at;
    return 0;
}

static int source_read(struct source *c, const char *path, int progress, char *err,
                       size_t errlen)
{
    size_t lines = 1, lineno = 0;
    char *line, *next;

    memset(c, 0, sizeof *c);
    if ((c->text = textfile_read(path, CATALOG_FILE_MAX, &c->len, err, errlen)) == NULL)
        return -1;
    if (memchr(c->text, '\0', c->len)) {
        snprintf(err, errlen, "contains a NUL byte");
        goto fail;
    }
    c->digest = nori_hash(NORI_HASH_INIT, c->text, c->len);
    for (const char *p = c->text; (p = strchr(p, '\n')); p++)
        lines++;
    c->categories = calloc(lines, sizeof *c->categories);
    c->items = calloc(lines, sizeof *c->items);
    if (c->categories == NULL || c->items == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    c->progress = progress = progress && lines >= PROGRESS_LINES;
    for (line = c->text; line; line = next) {
        if ((next = strchr(line, '\n')))
            *next++ = '\0';
        if (line_parse(c, line, ++lineno, err, errlen) < 0)
            goto fail;
        if (lineno % 65536 == 0)
            progress_show(progress, "lines", lineno, lines);
    }
    if (c->ncategories == 0) {
        snprintf(err, errlen, "no categories");
        goto fail;
    }
    if (source_index(c) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    if (c->progress)
        fputc('\n', stderr);   /* the error's line starts a line */
    source_free(c);
    return -1;
}

/* ---- the words of the names ---- */

struct word {
    const char *text;           /* in source.names */
    uint32_t len, flags;
    uint32_t *postings;         /* ordinals, ascending */
    size_t n, cap;
    UT_hash_handle hh;
};

static int word_note(struct word **index, const char *text, size_t len, uint32_t ord)
{
    struct word *w;

    HASH_FIND(hh, *index, text, len, w);
    if (w == NULL) {
        if ((w = calloc(1, sizeof *w)) == NULL)
            return -1;
        w->text = text;
        w->len = (uint32_t)len;
        HASH_ADD_KEYPTR(hh, *index, w->text, w->len, w);
    }
    if (w->n && w->postings[w->n - 1] == ord)
        return 0;               /* "dish dish": one item, once */
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4;
        uint32_t *p = realloc(w->postings, cap * sizeof *p);
        if (p == NULL)
            return -1;
        w->postings = p, w->cap = cap;
    }
    w->postings[w->n++] = ord;
    return 0;
}

/* Which words are part of another: every proper substring of every word
 * is looked up (a name's word is at most NAME_MAX_BYTES). */
static void words_flag(struct word *index)
{
    for (struct word *w = index; w; w = w->hh.next)
        for (uint32_t i = 0; i < w->len; i++)
            for (uint32_t j = i + 1; j <= w->len; j++) {
                struct word *part;
                if (i == 0 && j == w->len)
                    continue;
                HASH_FIND(hh, index, w->text + i, j - i, part);
                if (part == NULL)
                    continue;
                part->flags |= WORD_IN_OTHER;
                if (i == 0)
                    part->flags |= WORD_PREFIX;
                if (j == w->len)
                    part->flags |= WORD_SUFFIX;
            }
}

/* LMDB's own order for keys: bytes, then the shorter first. */
static int word_cmp(const void *a, const void *b)
{
    const struct word *x = *(struct word *const *)a, *y = *(struct word *const *)b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int d = memcmp(x->text, y->text, n);

    return d ? d : (x->len > y->len) - (x->len < y->len);
}

static void words_free(struct word **index)
{
    struct word *w, *tmp;

    HASH_ITER(hh, *index, w, tmp) {
        HASH_DEL(*index, w);
        free(w->postings);
        free(w);
    }
}

/* ---- writing the file ---- */

struct writer {
    MDB_txn *txn;
    MDB_dbi meta, cats, items, words;
    unsigned char *buf;         /* one record */
    size_t cap;
    int rc;                     /* the first LMDB error */
};

static int put(struct writer *w, MDB_dbi dbi, const void *key, size_t klen,
               const void *val, size_t vlen, unsigned flags)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};

    if (w->rc == 0)
        w->rc = mdb_put(w->txn, dbi, &k, &v, flags);
    return w->rc ? -1 : 0;
}

/* A record: `nfix` numbers, then the lengths of `nstr` strings, then the
 * strings, each ended by a NUL, then `tail`. */
static int record_put(struct writer *w, MDB_dbi dbi, uint32_t key, unsigned flags,
                      const uint32_t *fix, size_t nfix, const char *const *s,
                      const size_t *len, size_t nstr, const void *tail, size_t tail_len)
{
    size_t need = (nfix + nstr) * 4 + tail_len, at = 0;

    for (size_t i = 0; i < nstr; i++)
        need += len[i] + 1;
    if (need > w->cap) {
        unsigned char *p = realloc(w->buf, need);
        if (p == NULL)
            return -1;
        w->buf = p, w->cap = need;
    }
    for (size_t i = 0; i < nfix; i++, at += 4)
        memcpy(w->buf + at, &fix[i], 4);
    for (size_t i = 0; i < nstr; i++, at += 4) {
        uint32_t l = (uint32_t)len[i];
        memcpy(w->buf + at, &l, 4);
    }
    for (size_t i = 0; i < nstr; i++) {
        memcpy(w->buf + at, s[i], len[i]);
        at += len[i];
        w->buf[at++] = '\0';
    }
    if (tail_len)
        memcpy(w->buf + at, tail, tail_len);
    return put(w, dbi, &key, sizeof key, w->buf, need, flags);
}

/* The escaped text: at most NORI_HTML_WORST times the longest field. */
struct escaped {
    char name[NAME_MAX_BYTES * NORI_HTML_WORST + 1];
    char description[TEXT_MAX_BYTES * NORI_HTML_WORST + 1];
    size_t name_len, description_len;
};

static void escape(struct escaped *e, const char *name, const char *description)
{
    e->name_len = nori_html_escape(e->name, name, strlen(name));
    e->name[e->name_len] = '\0';
    e->description_len = nori_html_escape(e->description, description,
                                          strlen(description));
    e->description[e->description_len] = '\0';
}

static int categories_write(struct writer *w, const struct source *c)
{
    static struct escaped e;
    static char entry[8192];
    char href[256];
    size_t href_len;

    for (size_t i = 0; i < c->ncategories; i++) {
        const struct src_category *cat = &c->categories[i];
        escape(&e, cat->name, cat->description);
        size_t entry_len = view_category_entry(entry, sizeof entry, e.name,
                                               e.description, cat->nitems);
        if (entry_len == 0 ||
            view_href(href, sizeof href, "Category", cat->id, &href_len) < 0)
            return -1;
        uint32_t fix[] = {cat->id, (uint32_t)cat->nitems};
        const char *s[] = {href, entry, e.name, e.description};
        size_t len[] = {href_len, entry_len, e.name_len, e.description_len};
        if (record_put(w, w->cats, (uint32_t)i, MDB_APPEND, fix, 2, s, len, 4,
                       cat->items, cat->nitems * 4) < 0)
            return -1;
    }
    return 0;
}

static int item_id_cmp(const void *a, const void *b)
{
    uint32_t x = (*(const struct src_item *const *)a)->id;
    uint32_t y = (*(const struct src_item *const *)b)->id;

    return (x > y) - (x < y);
}

static int items_write(struct writer *w, const struct source *c, int progress)
{
    static struct escaped e;
    char entry[NAME_MAX_BYTES * NORI_HTML_WORST + 128], href[256], price[VIEW_PRICE_MAX];
    size_t href_len;
    const struct src_item **sorted = malloc((c->nitems + 1) * sizeof *sorted);
    int rc = -1;

    if (sorted == NULL)
        return -1;
    for (size_t i = 0; i < c->nitems; i++)
        sorted[i] = &c->items[i];
    /* In key order, each record appends to the last page. */
    qsort(sorted, c->nitems, sizeof *sorted, item_id_cmp);
    for (size_t i = 0; i < c->nitems; i++) {
        const struct src_item *it = sorted[i];
        escape(&e, it->name, it->description);
        size_t price_len = view_price_format(price, it->price_cents);
        size_t entry_len = view_item_entry(entry, sizeof entry, e.name, price, price_len);
        if (entry_len == 0 || view_href(href, sizeof href, "Item", it->id, &href_len) < 0)
            goto done;
        /* The category's place too: a worker finds it without a hash. */
        uint32_t fix[] = {it->id, it->category->id, (uint32_t)(it - c->items),
                          it->price_cents, (uint32_t)(it->category - c->categories)};
        const char *s[] = {href, entry, e.name, e.description, price};
        size_t len[] = {href_len, entry_len, e.name_len, e.description_len, price_len};
        if (record_put(w, w->items, it->id, MDB_APPEND, fix, 5, s, len, 5, NULL, 0) < 0)
            goto done;
        if (i % 65536 == 0)
            progress_show(progress, "items", i, c->nitems);
    }
    rc = 0;
done:
    free(sorted);
    return rc;
}

static int words_write(struct writer *w, const struct source *c, int progress)
{
    struct word *index = NULL, **sorted = NULL;
    size_t n = 0;
    int rc = -1;

    for (size_t i = 0; i < c->nitems; i++) {
        const char *name = c->names + c->name_starts[i];
        for (size_t a = 0; name[a];) {
            size_t b = a;
            while (name[b] && word_byte((unsigned char)name[b]))
                b++;
            if (b > a && word_note(&index, name + a, b - a, (uint32_t)i) < 0)
                goto done;
            a = name[b] ? b + 1 : b;
        }
        if (i % 65536 == 0)
            progress_show(progress, "words", i, c->nitems);
    }
    words_flag(index);
    n = HASH_COUNT(index);
    if ((sorted = malloc((n + 1) * sizeof *sorted)) == NULL)
        goto done;
    n = 0;
    for (struct word *x = index; x; x = x->hh.next)
        sorted[n++] = x;
    qsort(sorted, n, sizeof *sorted, word_cmp);
    for (size_t i = 0; i < n; i++) {
        struct word *x = sorted[i];
        size_t vlen = 4 + x->n * 4;
        if (vlen > w->cap) {
            unsigned char *p = realloc(w->buf, vlen);
            if (p == NULL)
                goto done;
            w->buf = p, w->cap = vlen;
        }
        memcpy(w->buf, &x->flags, 4);
        memcpy(w->buf + 4, x->postings, x->n * 4);
        if (put(w, w->words, x->text, x->len, w->buf, vlen, MDB_APPEND) < 0)
            goto done;
    }
    rc = 0;
done:
    free(sorted);
    words_free(&index);
    return rc;
}

/* What says that a catalog file was built from this TSV: the file as
 * stat(2) sees it. Any write to it changes its ctime. */
struct identity {
    uint64_t dev, ino, size;
    int64_t mtime_s, mtime_ns, ctime_s, ctime_ns;
};

static void identity_of(const struct stat *st, struct identity *id)
{
    memset(id, 0, sizeof *id);
    id->dev = (uint64_t)st->st_dev;
    id->ino = (uint64_t)st->st_ino;
    id->size = (uint64_t)st->st_size;
    id->mtime_s = (int64_t)st->st_mtim.tv_sec;
    id->mtime_ns = (int64_t)st->st_mtim.tv_nsec;
    id->ctime_s = (int64_t)st->st_ctim.tv_sec;
    id->ctime_ns = (int64_t)st->st_ctim.tv_nsec;
}

static int meta_write(struct writer *w, const struct source *c,
                      const struct identity *id)
{
    uint64_t digest = c->digest;
    uint64_t counts[2] = {c->ncategories, c->nitems};
    uint32_t *ids = malloc((c->nitems + 1) * sizeof *ids);
    int rc;

    if (ids == NULL)
        return -1;
    for (size_t i = 0; i < c->nitems; i++)
        ids[i] = c->items[i].id;
    rc = put(w, w->meta, "counts", 6, counts, sizeof counts, 0) |
         put(w, w->meta, "digest", 6, &digest, sizeof digest, 0) |
         put(w, w->meta, "ids", 3, ids, c->nitems * 4, 0) |
         put(w, w->meta, "names", 5, c->names, c->names_len, 0) |
         put(w, w->meta, "starts", 6, c->name_starts, (c->nitems + 1) * 4, 0) |
         put(w, w->meta, "source", 6, id, sizeof *id, 0) |
         put(w, w->meta, "format", 6, FORMAT, sizeof FORMAT, 0);
    free(ids);
    return rc;
}

static int dbs_open(struct writer *w)
{
    return -(mdb_dbi_open(w->txn, "meta", MDB_CREATE, &w->meta) ||
             mdb_dbi_open(w->txn, "cats", MDB_CREATE | MDB_INTEGERKEY, &w->cats) ||
             mdb_dbi_open(w->txn, "items", MDB_CREATE | MDB_INTEGERKEY, &w->items) ||
             mdb_dbi_open(w->txn, "words", MDB_CREATE, &w->words));
}

/* The TSV into a new file at tmp: synced before the caller renames it. */
static int file_write(const char *tmp, const struct source *c, const struct identity *id,
                      int progress, char *err, size_t errlen)
{
    struct writer w = {0};
    MDB_env *env = NULL;
    int rc;

    if ((rc = mdb_env_create(&env)) != 0 ||
        (rc = mdb_env_set_maxdbs(env, 4)) != 0 ||
        (rc = mdb_env_set_mapsize(env, ((size_t)64 << 20) + c->len * 16)) != 0 ||
        (rc = mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOSYNC, 0644)) != 0 ||
        (rc = mdb_txn_begin(env, NULL, 0, &w.txn)) != 0 ||
        (rc = dbs_open(&w) ? -1 : 0) != 0)
        goto done;
    if (categories_write(&w, c) < 0 || items_write(&w, c, progress) < 0 ||
        words_write(&w, c, progress) < 0 || meta_write(&w, c, id) < 0) {
        rc = w.rc ? w.rc : ENOMEM;
        goto done;
    }
    rc = mdb_txn_commit(w.txn);
    w.txn = NULL;
    if (rc == 0)
        rc = mdb_env_sync(env, 1);
done:
    if (w.txn)
        mdb_txn_abort(w.txn);
    free(w.buf);
    if (env)
        mdb_env_close(env);
    if (rc)
        snprintf(err, errlen, "cannot write %s: %s", tmp,
                 rc < 0 ? "a view does not fit" : mdb_strerror(rc));
    return rc ? -1 : 0;
}

static int catalog_build(const char *tsv, const struct stat *st, const char *file,
                         int progress, char *err, size_t errlen)
{
    struct source src;
    struct identity id;
    char tmp[4096];
    int rc = -1;

    progress = progress && isatty(STDERR_FILENO);
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", file, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "the run directory's path is too long");
        return -1;
    }
    identity_of(st, &id);
    if (source_read(&src, tsv, progress, err, errlen) < 0)
        return -1;
    progress = src.progress;
    unlink(tmp);
    if (file_write(tmp, &src, &id, progress, err, errlen) == 0) {
        if (rename(tmp, file) == 0)
            rc = 0;
        else
            snprintf(err, errlen, "cannot rename %s: %s", tmp, strerror(errno));
    }
    if (progress && rc == 0)
        fprintf(stderr, "\rnori: building the catalog: %zu items, done.%40s\n",
                src.nitems, "");
    else if (progress)
        fputc('\n', stderr);    /* the error's line starts a line */
    if (rc < 0)
        unlink(tmp);
    source_free(&src);
    /* The build's many small blocks (a word, its list) go back to the
     * system: the supervisor that built the file lives on. */
    malloc_trim(0);
    return rc;
}

/* ---- reading the file ---- */

static int meta_get(const struct catalog *c, MDB_dbi meta, const char *key, MDB_val *v)
{
    MDB_val k = {strlen(key), (void *)key};

    return mdb_get(c->txn, meta, &k, v);
}

/* Records are checked as they are read: a record that does not decode is
 * no item, never a read past its end. */
static int record_decode(const unsigned char *p, size_t len, uint32_t *fix, size_t nfix,
                         const char **s, size_t *slen, size_t nstr, size_t *used)
{
    size_t at = (nfix + nstr) * 4;

    if (len < at)
        return -1;
    for (size_t i = 0; i < nfix; i++)
        fix[i] = u32_at(p + i * 4);
    for (size_t i = 0; i < nstr; i++) {
        slen[i] = u32_at(p + (nfix + i) * 4);
        if (slen[i] >= len - at || p[at + slen[i]] != '\0')
            return -1;
        s[i] = (const char *)p + at;
        at += slen[i] + 1;
    }
    *used = at;
    return 0;
}

static int categories_read(struct catalog *c, MDB_dbi dbi, size_t n)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int op = MDB_FIRST;

    if ((c->categories = calloc(n ? n : 1, sizeof *c->categories)) == NULL ||
        mdb_cursor_open(c->txn, dbi, &cur) != 0)
        return -1;
    while (c->ncategories < n && mdb_cursor_get(cur, &k, &v, op) == 0) {
        struct category *cat = &c->categories[c->ncategories];
        const char *s[4];
        size_t len[4], used;
        uint32_t fix[2];
        op = MDB_NEXT;
        if (record_decode(v.mv_data, v.mv_size, fix, 2, s, len, 4, &used) < 0 ||
            v.mv_size - used != (size_t)fix[1] * 4)
            break;
        cat->id = fix[0];
        cat->nitems = fix[1];
        cat->item_ids = (const unsigned char *)v.mv_data + used;
        cat->view = (struct view){s[0], s[1], s[2], s[3], "", len[0], len[1], len[2],
                                  len[3], 0};
        cat->name_html = s[2];
        cat->description_html = s[3];
        HASH_ADD(hh, c->category_index, id, sizeof cat->id, cat);
        c->ncategories++;
    }
    mdb_cursor_close(cur);
    return c->ncategories == n ? 0 : -1;
}

enum map_result { MAP_OK, MAP_STALE, MAP_BAD };

/* The file mapped and checked; MAP_STALE when it is sound but from
 * another TSV or format. */
static enum map_result file_map(struct catalog *c, const char *file,
                                const struct identity *want, char *err, size_t errlen)
{
    MDB_dbi meta, cats;
    MDB_val v, ids, starts, names;
    MDB_envinfo info;
    MDB_stat mst;
    struct stat st;
    uint64_t counts[2];
    struct identity have;
    int rc = 0;

    if (stat(file, &st) < 0 ||
        (rc = mdb_env_create(&c->env)) != 0 ||
        (rc = mdb_env_set_maxdbs(c->env, 4)) != 0 ||
        (rc = mdb_env_set_mapsize(c->env, (size_t)st.st_size)) != 0 ||
        (rc = mdb_env_open(c->env, file, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK |
                           MDB_NORDAHEAD, 0)) != 0)
        goto bad;
    /* A file cut short maps past its end: the first read there would be
     * a SIGBUS, so its length is checked against its last page. */
    if ((rc = mdb_env_info(c->env, &info)) != 0 || (rc = mdb_env_stat(c->env, &mst)) != 0)
        goto bad;
    if ((uint64_t)st.st_size < ((uint64_t)info.me_last_pgno + 1) * mst.ms_psize) {
        rc = MDB_CORRUPTED;
        goto bad;
    }
    if ((rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &c->txn)) != 0 ||
        (rc = mdb_dbi_open(c->txn, "meta", 0, &meta)) != 0)
        goto bad;
    if ((rc = meta_get(c, meta, "format", &v)) != 0)
        goto bad;
    if (v.mv_size != sizeof FORMAT || memcmp(v.mv_data, FORMAT, sizeof FORMAT) != 0)
        return MAP_STALE;
    if ((rc = meta_get(c, meta, "source", &v)) != 0)
        goto bad;
    memcpy(&have, v.mv_data, v.mv_size == sizeof have ? sizeof have : 0);
    if (v.mv_size != sizeof have || memcmp(&have, want, sizeof have) != 0)
        return MAP_STALE;
    if ((rc = mdb_dbi_open(c->txn, "cats", MDB_INTEGERKEY, &cats)) != 0 ||
        (rc = mdb_dbi_open(c->txn, "items", MDB_INTEGERKEY, &c->items_dbi)) != 0 ||
        (rc = mdb_dbi_open(c->txn, "words", 0, &c->words_dbi)) != 0 ||
        (rc = meta_get(c, meta, "counts", &v)) != 0 ||
        (rc = v.mv_size == sizeof counts ? 0 : MDB_CORRUPTED) != 0)
        goto bad;
    memcpy(counts, v.mv_data, sizeof counts);
    if ((rc = meta_get(c, meta, "digest", &v)) != 0 ||
        (rc = v.mv_size == sizeof c->digest ? 0 : MDB_CORRUPTED) != 0 ||
        (rc = meta_get(c, meta, "ids", &ids)) != 0 ||
        (rc = meta_get(c, meta, "starts", &starts)) != 0 ||
        (rc = meta_get(c, meta, "names", &names)) != 0)
        goto bad;
    memcpy(&c->digest, v.mv_data, sizeof c->digest);
    c->nitems = (size_t)counts[1];
    c->ids = ids.mv_data;
    c->name_starts = starts.mv_data;
    c->names = names.mv_data;
    c->names_len = names.mv_size;
    if (ids.mv_size != c->nitems * 4 || starts.mv_size != (c->nitems + 1) * 4 ||
        u32_at(c->name_starts + c->nitems * 4) != names.mv_size ||
        (names.mv_size && c->names[names.mv_size - 1] != '\0') ||
        counts[0] == 0 || categories_read(c, cats, (size_t)counts[0]) < 0) {
        rc = MDB_CORRUPTED;
        goto bad;
    }
    return MAP_OK;
bad:
    snprintf(err, errlen, "%s: corrupt or truncated (%s); remove it and it is rebuilt",
             file, rc ? mdb_strerror(rc) : strerror(errno));
    return MAP_BAD;
}

static void map_close(struct catalog *c)
{
    HASH_CLEAR(hh, c->category_index);
    free(c->categories);
    if (c->txn)
        mdb_txn_abort(c->txn);
    if (c->env)
        mdb_env_close(c->env);
    memset(c, 0, sizeof *c);
}

/* Builders and readers of one run directory take turns: a reader never
 * opens a file while another process decides to replace it, and two
 * processes starting at once (workers spawned by a web server) build it
 * once. */
static int lock_take(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    int fd;

    /* Read-only and readable by all: `nori check` run by root at install
     * leaves a lock the service's own user can still take. */
    snprintf(path, sizeof path, "%s/" CATALOG_FILE ".lock", dir);
    if ((fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0 ||
        flock(fd, LOCK_EX) < 0) {
        snprintf(err, errlen, "cannot lock %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int catalog_open(struct catalog *c, const char *tsv_path, const char *dir, int progress,
                 char *err, size_t errlen)
{
    char file[4096];
    struct identity want;
    struct stat st;
    enum map_result m;
    int lock;

    memset(c, 0, sizeof *c);
    if (snprintf(file, sizeof file, "%s/" CATALOG_FILE, dir) >= (int)sizeof file) {
        snprintf(err, errlen, "the run directory's path is too long");
        return -1;
    }
    if (stat(tsv_path, &st) < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    identity_of(&st, &want);
    if ((lock = lock_take(dir, err, errlen)) < 0)
        return -1;
    m = access(file, F_OK) == 0 ? file_map(c, file, &want, err, errlen) : MAP_STALE;
    if (m == MAP_STALE) {
        map_close(c);
        m = catalog_build(tsv_path, &st, file, progress, err, errlen) < 0
                ? MAP_BAD : file_map(c, file, &want, err, errlen);
        if (m == MAP_STALE)
            snprintf(err, errlen, "%s changed while it was built; try again", tsv_path);
    }
    close(lock);
    if (m != MAP_OK) {
        map_close(c);
        return -1;
    }
    return 0;
}

void catalog_close(struct catalog *c)
{
    map_close(c);
}

static int item_decode(const struct catalog *c, const MDB_val *v, struct item *out)
{
    const char *s[5];
    size_t len[5], used;
    uint32_t fix[5];

    if (record_decode(v->mv_data, v->mv_size, fix, 5, s, len, 5, &used) < 0 ||
        fix[2] >= c->nitems || fix[4] >= c->ncategories ||
        c->categories[fix[4]].id != fix[1])
        return -1;
    out->id = fix[0];
    out->category = &c->categories[fix[4]];
    out->ordinal = fix[2];
    out->price_cents = fix[3];
    out->name_folded = c->names + u32_at(c->name_starts + (size_t)fix[2] * 4);
    out->name_html = s[2];
    out->description_html = s[3];
    out->view = (struct view){s[0], s[1], s[2], s[3], s[4],
                              len[0], len[1], len[2], len[3], len[4]};
    return 0;
}

int catalog_item(const struct catalog *c, uint32_t id, struct item *out)
{
    MDB_val k = {sizeof id, &id}, v;

    if (c->txn == NULL || mdb_get(c->txn, c->items_dbi, &k, &v) != 0)
        return -1;
    return item_decode(c, &v, out);
}

int catalog_item_at(const struct catalog *c, size_t ordinal, struct item *out)
{
    if (ordinal >= c->nitems)
        return -1;
    return catalog_item(c, u32_at(c->ids + ordinal * 4), out);
}

const struct category *catalog_category(const struct catalog *c, uint32_t id)
{
    struct category *cat;

    HASH_FIND(hh, c->category_index, &id, sizeof id, cat);
    return cat;
}

int catalog_category_item(const struct catalog *c, const struct category *cat,
                          size_t i, struct item *out)
{
    if (i >= cat->nitems)
        return -1;
    return catalog_item(c, u32_at(cat->item_ids + i * 4), out);
}

/* ---- search ---- */

static size_t name_start(const struct catalog *c, size_t i)
{
    return u32_at(c->name_starts + i * 4);
}

/* The item whose name holds offset `at` of c->names: the last one that
 * starts at or before it, from item `from` on (matches come in order).
 * Galloping: dense matches find their item in a step or two, sparse ones
 * in a binary search no longer than the distance's logarithm. */
static size_t name_find(const struct catalog *c, size_t at, size_t from)
{
    size_t lo = from, hi = from + 1, step = 1;

    while (hi < c->nitems && name_start(c, hi) <= at) {
        lo = hi;
        step *= 2;
        hi = lo + step < c->nitems ? lo + step : c->nitems;
    }
    while (hi - lo > 1) {       /* start(lo) <= at < start(hi) */
        size_t mid = lo + (hi - lo) / 2;
        if (name_start(c, mid) <= at)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* No word settles it: one memmem over every name at once; after a match,
 * the search goes on at the start of the next name, so that an item is
 * counted once. The NUL between names is in no needle. */
static size_t search_scan(const struct catalog *c, const char *needle, size_t needle_len,
                          size_t skip, uint32_t *out, size_t max)
{
    size_t total = 0, stored = 0, at = 0, i = 0;
    const char *hit;

    while (at < c->names_len &&
           (hit = memmem(c->names + at, c->names_len - at, needle, needle_len))) {
        i = name_find(c, (size_t)(hit - c->names), i);
        if (total >= skip && stored < max)
            out[stored++] = (uint32_t)i;
        total++;
        at = name_start(c, ++i);
    }
    return total;
}

/* A word's list of items: every item whose name could hold the needle. */
struct candidates {
    const unsigned char *ord;   /* ordinals, 4 bytes each, ascending */
    size_t n;
};

/* For one word of the needle, the items that can match, when its own list
 * holds them all: a word with a separator on both sides must be a whole
 * word of the name; with one on its left only, the start of one (a word
 * that is the start of no other word); on its right only, the end of one;
 * with neither, a part of one (a word that is a part of no other).
 * 1: a list; 0: no list answers; -1: nothing can match. */
static int word_candidates(const struct catalog *c, const char *w, size_t len,
                           int left, int right, struct candidates *out)
{
    MDB_val k = {len, (void *)w}, v;
    uint32_t flags, bar;

    if (mdb_get(c->txn, c->words_dbi, &k, &v) != 0 || v.mv_size < 4 ||
        v.mv_size % 4)
        return left && right ? -1 : 0;
    flags = u32_at(v.mv_data);
    bar = left && right ? 0 : left ? WORD_PREFIX : right ? WORD_SUFFIX : WORD_IN_OTHER;
    if (flags & bar)
        return 0;
    out->ord = (const unsigned char *)v.mv_data + 4;
    out->n = v.mv_size / 4 - 1;
    return 1;
}

/* Case-sensitive bytes: the needle and the names come folded. Every word
 * of the needle narrows the candidates; the narrowest list is checked
 * name by name, unless the needle is that one word, whose list is the
 * answer: a slice of it, whatever the catalog's size. */
size_t catalog_search(const struct catalog *c, const char *needle, size_t needle_len,
                      size_t skip, uint32_t *out, size_t max)
{
    struct candidates best = {NULL, 0}, cand;
    int have = 0, words = 0;
    size_t total = 0, stored = 0;

    if (needle_len == 0) {
        for (size_t i = skip; i < c->nitems && stored < max; i++)
            out[stored++] = (uint32_t)i;
        return c->nitems;
    }
    /* No name is longer; no name holds a NUL. */
    if (needle_len > NAME_MAX_BYTES || memchr(needle, '\0', needle_len))
        return 0;
    for (size_t a = 0; a < needle_len;) {
        size_t b = a;
        while (b < needle_len && word_byte((unsigned char)needle[b]))
            b++;
        if (b > a) {
            words++;
            switch (word_candidates(c, needle + a, b - a, a > 0, b < needle_len, &cand)) {
            case -1: return 0;
            case 1:
                if (!have || cand.n < best.n)
                    best = cand;
                have = 1;
                break;
            }
        }
        a = b + 1;
    }
    if (!have)
        return search_scan(c, needle, needle_len, skip, out, max);
    if (words == 1 && word_byte((unsigned char)needle[0]) &&
        word_byte((unsigned char)needle[needle_len - 1])) {
        for (size_t i = skip; i < best.n && stored < max; i++)
            out[stored++] = u32_at(best.ord + i * 4);
        return best.n;
    }
    for (size_t i = 0; i < best.n; i++) {
        uint32_t ord = u32_at(best.ord + i * 4);
        if (ord >= c->nitems)
            continue;
        size_t from = name_start(c, ord), to = name_start(c, ord + 1);
        if (to <= from || to > c->names_len ||
            !memmem(c->names + from, to - from - 1, needle, needle_len))
            continue;
        if (total >= skip && stored < max)
            out[stored++] = ord;
        total++;
    }
    return total;
}
