/* test_catalog.c -- catalog_search against a straightforward reference:
 * every item's name, ASCII-lower-cased here, scanned with memmem in file
 * order. The two must agree on the total and on every item stored, in
 * order, for any needle, skip and max, on a generated catalog whose names
 * begin and end alike, differ only in case, carry UTF-8, and sit next to
 * names that a needle could straddle if names ran together.
 *
 * The catalog is the shop's (shop/catalog.c): this links libshop.a
 * (SHOP_TESTS in the Makefile). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shop/catalog.h"

#define GEN_ITEMS 3000
#define OUT_MAX (GEN_ITEMS + 64)

static struct catalog cat;
static char path[256], dir[256];
/* What the test wrote, in file order: the reference's names. */
static char names[GEN_ITEMS][128];
static size_t nnames;

/* Names that end where the next begins: "tail ab" then "cd head", so a
 * search for "abcd" must find neither. Words that are the start, the end
 * or the middle of others ("salmonella", "kingsalmon", "sashimis"), so
 * that the word index cannot answer from a word's own list. */
static const char *const special[] = {
    "x", "X", "ab", "cd", "Tail ab", "cd Head", "SALMON Nigiri",
    "salmon", "Ebi \xC3\x89" "crevisse", "\xC3\xA9" "t\xC3\xA9 roll",
    "Maki 0", "0", "Dish", "dish dish dish",
    "A name of exactly eighty bytes, the longest a catalog allows: padding padding pa",
    "Salmonella roll", "Kingsalmon-maki", "maki-sashimis", "sashimi",
};
#define NSPECIAL (sizeof special / sizeof *special)

static void name_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void name_add(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(names[nnames++], sizeof names[0], fmt, ap);
    va_end(ap);
}

static void write_catalog(FILE *f)
{
    fputs("# test_catalog\nC\t1\tOne\tThe first.\nC\t2\tTwo\tThe second.\n", f);
    nnames = 0;
    for (size_t i = 0; i < GEN_ITEMS; i++) {
        unsigned id = (unsigned)i + 1, cid = (unsigned)(i % 2) + 1;
        if (i % 97 < NSPECIAL)
            name_add("%s", special[i % 97]);
        else
            name_add("%s %u salmon %u", i % 3 ? "Dish" : "DISH", id, id % 97);
        fprintf(f, "I\t%u\t%u\t%s\t%u.%02u\tGenerated.\n", id, cid, names[i],
                3 + id % 20, id % 100);
    }
}

static void open_catalog(void)
{
    char err[512];

    ck_assert_msg(catalog_open(&cat, path, dir, 0, err, sizeof err) == 0, "%s", err);
}

/* The TSV replaced by text (and names by its items' names). */
static void rewrite(const char *text, const char *const *item_names, size_t n)
{
    FILE *f;

    catalog_close(&cat);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    nnames = 0;
    for (size_t i = 0; i < n; i++)
        name_add("%s", item_names[i]);
    open_catalog();
}

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    int fd;
    FILE *f;

    snprintf(dir, sizeof dir, "%s/nori-catalog-dir.XXXXXX", tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/nori-catalog.XXXXXX", tmp ? tmp : "/tmp");
    ck_assert_int_ge(fd = mkstemp(path), 0);
    ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
    write_catalog(f);
    ck_assert_int_eq(fclose(f), 0);
    open_catalog();
    ck_assert_uint_eq(cat.nitems, GEN_ITEMS);
}

static void teardown(void)
{
    char cmd[600];

    catalog_close(&cat);
    unlink(path);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Failures only are reported: every ck_assert that passes costs libcheck
 * a write to its pipe, and these run millions of times. */
static int name_contains(const char *name, const char *needle, size_t len)
{
    char folded[128];
    size_t n = strlen(name);

    if (n >= sizeof folded)
        ck_abort_msg("name '%s' longer than the catalog allows", name);
    for (size_t i = 0; i < n; i++)
        folded[i] = name[i] >= 'A' && name[i] <= 'Z' ? (char)(name[i] - 'A' + 'a')
                                                       : name[i];
    return memmem(folded, n, needle, len) != NULL;
}

/* The reference: the scan catalog_search did before it was made fast,
 * over the names as the test wrote them. */
static size_t search_reference(const char *needle, size_t len, size_t skip,
                               uint32_t *out, size_t max)
{
    size_t total = 0, stored = 0;

    for (size_t i = 0; i < nnames; i++) {
        if (!name_contains(names[i], needle, len))
            continue;
        if (total >= skip && stored < max)
            out[stored++] = (uint32_t)i;
        total++;
    }
    return total;
}

/* Both searches, the same answer; returns the total. out arrays are
 * poisoned so that a slot written by one and not the other shows. */
static size_t search_agree(const char *needle, size_t len, size_t skip, size_t max)
{
    static uint32_t want[OUT_MAX], got[OUT_MAX];
    size_t total_want, total_got;

    if (max > OUT_MAX)
        ck_abort_msg("max %zu over %d", max, OUT_MAX);
    memset(want, 0xA5, sizeof want);
    memset(got, 0xA5, sizeof got);
    total_want = search_reference(needle, len, skip, want, max);
    total_got = catalog_search(&cat, needle, len, skip, got, max);
    if (total_got != total_want)
        ck_abort_msg("'%.*s' skip %zu max %zu: total %zu, want %zu", (int)len,
                     needle, skip, max, total_got, total_want);
    if (memcmp(got, want, sizeof got) != 0)
        ck_abort_msg("'%.*s' skip %zu max %zu: other items stored", (int)len,
                     needle, skip, max);
    return total_want;
}

/* Every skip and max at the edges of this needle's total. */
static size_t search_edges(const char *needle)
{
    size_t len = strlen(needle);
    size_t total = search_agree(needle, len, 0, OUT_MAX);
    size_t skips[] = {0, 1, 19, 20, 21, total / 2, total - 1, total, total + 1,
                      GEN_ITEMS, (size_t)-1};
    size_t maxes[] = {0, 1, 20, total - 1, total, total + 1};

    for (size_t s = 0; s < sizeof skips / sizeof *skips; s++)
        for (size_t m = 0; m < sizeof maxes / sizeof *maxes; m++)
            if (maxes[m] <= OUT_MAX)
                search_agree(needle, len, skips[s], maxes[m]);
    return total;
}

START_TEST(names_folded)
{
    struct item it;

    for (size_t i = 0; i < cat.nitems; i++) {
        ck_assert_int_eq(catalog_item_at(&cat, i, &it), 0);
        ck_assert_uint_eq(it.ordinal, i);
        ck_assert_uint_eq(it.id, i + 1);
        ck_assert_uint_eq(strlen(it.name_folded), strlen(names[i]));
        ck_assert_msg(name_contains(names[i], it.name_folded, strlen(names[i])),
                      "item %u: '%s' folded to '%s'", it.id, names[i], it.name_folded);
    }
    ck_assert_int_eq(catalog_item_at(&cat, cat.nitems, &it), -1);
}
END_TEST

START_TEST(needles_at_edges)
{
    struct item a, b, z;
    ck_assert_int_eq(catalog_item_at(&cat, 0, &a), 0);
    ck_assert_int_eq(catalog_item_at(&cat, 1, &b), 0);
    ck_assert_int_eq(catalog_item_at(&cat, cat.nitems - 1, &z), 0);
    const char *first = a.name_folded, *last = z.name_folded;
    char buf[128];

    search_edges(first);                        /* a whole one-byte name, "x" */
    search_edges(last);
    snprintf(buf, sizeof buf, "%s", last + strlen(last) - 3);
    search_edges(buf);                          /* the end of the last name */
    snprintf(buf, sizeof buf, "%.3s", b.name_folded);
    search_edges(buf);                          /* the start of a name */
    ck_assert_uint_eq(search_edges("dish 21 "), 1);
    ck_assert_uint_gt(search_edges("dish 1"), 100);
    ck_assert_uint_gt(search_edges(" 9"), 100);
    search_edges("0");                          /* a whole one-byte name, and inside others */
    search_edges("ab");
    search_edges("cd");
    search_edges("salmon");
    search_edges("\xC3\xA9");                   /* UTF-8 bytes match as they are */
    search_edges("\xC3\x89" "crevisse");
    search_edges("padding pa");                 /* the end of the longest name */
    /* Words the index settles alone, and words it cannot: the start, the
     * end or the middle of another word. */
    ck_assert_uint_gt(search_edges("dish"), 1000);
    search_edges("sashimi");
    search_edges("sashimi ");
    search_edges("-sashimi");
    search_edges("-sashimis");
    search_edges("salmon-");
    search_edges("salmon ");
    search_edges(" salmon");
    search_edges("salmonella");
    search_edges("kingsalmon");
    search_edges("maki");
    search_edges("maki-");
    search_edges("-maki");
    search_edges(" 21 ");
    search_edges("dish 2999 salmon");
    search_edges("2999");
    search_edges("(salmon)");
}
END_TEST

START_TEST(needles_matching_nothing)
{
    ck_assert_uint_eq(search_edges("zzz"), 0);
    /* Across the end of one name and the start of the next. */
    ck_assert_uint_eq(search_edges("abcd"), 0);
    ck_assert_uint_eq(search_edges("ab\ncd"), 0);
    ck_assert_uint_eq(search_edges("tail abcd head"), 0);
    /* Longer than any name. */
    ck_assert_uint_eq(search_edges("a name of exactly eighty bytes, the longest a "
                                   "catalog allows: padding padding pad"), 0);
    /* Upper case: needles come folded, names are folded. */
    ck_assert_uint_eq(search_edges("DISH"), 0);
    /* A NUL byte: no name has one. */
    ck_assert_uint_eq(search_agree("ab\0cd", 5, 0, OUT_MAX), 0);
    ck_assert_uint_eq(search_agree("\0", 1, 0, OUT_MAX), 0);
}
END_TEST

START_TEST(needles_matching_everything)
{
    /* Every generated name has a space; the empty needle is in every name. */
    ck_assert_uint_eq(search_edges(""), GEN_ITEMS);
    size_t spaced = search_edges(" ");
    ck_assert_uint_gt(spaced, GEN_ITEMS / 2);
    ck_assert_uint_lt(spaced, GEN_ITEMS);
}
END_TEST

/* Every substring of a spread of names, and a few bytes around it. */
START_TEST(substrings_of_names)
{
    for (size_t i = 0; i < cat.nitems; i += 37) {
        struct item it;
        ck_assert_int_eq(catalog_item_at(&cat, i, &it), 0);
        const char *name = it.name_folded;
        size_t n = strlen(name);
        for (size_t a = 0; a < n; a += 2)
            for (size_t b = a + 1; b <= n; b += 3) {
                search_agree(name + a, b - a, 0, 20);
                search_agree(name + a, b - a, 20, 20);
            }
    }
}
END_TEST

START_TEST(one_item)
{
    static const char *const one[] = {"Salmon"};

    rewrite("C\t1\tOne\tThe first.\nI\t7\t1\tSalmon\t1.00\tThe only one.\n", one, 1);
    ck_assert_uint_eq(search_edges("salmon"), 1);
    ck_assert_uint_eq(search_edges("s"), 1);
    ck_assert_uint_eq(search_edges("n"), 1);
    ck_assert_uint_eq(search_edges("salmons"), 0);
    ck_assert_uint_eq(search_edges(""), 1);
}
END_TEST

START_TEST(no_items)
{
    rewrite("C\t1\tOne\tNothing in it.\n", NULL, 0);
    ck_assert_uint_eq(search_edges("salmon"), 0);
    ck_assert_uint_eq(search_edges(""), 0);
}
END_TEST

/* ---- the catalog file ---- */

static ino_t file_inode(void)
{
    char file[600];
    struct stat st;

    snprintf(file, sizeof file, "%s/" CATALOG_FILE, dir);
    ck_assert_int_eq(stat(file, &st), 0);
    return st.st_ino;
}

/* Nothing but the file and its lock in the directory: no temporary file
 * left by a build. */
static void dir_clean(void)
{
    char cmd[600];

    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s' | sort | tr '\\n' ' ')\" = "
             "'" CATALOG_FILE " " CATALOG_FILE ".lock '", dir);
    ck_assert_msg(system(cmd) == 0, "a stray file in %s", dir);
}

static const char changed[] = "C\t1\tOne\tThe first.\nI\t5\t1\tNew salmon\t2.00\tNew.\n";

START_TEST(kept_while_unchanged)
{
    ino_t before = file_inode();

    catalog_close(&cat);
    open_catalog();
    ck_assert_uint_eq(file_inode(), before);
    dir_clean();
}
END_TEST

START_TEST(rebuilt_when_changed)
{
    static const char *const one[] = {"New salmon"};
    ino_t before = file_inode();
    uint64_t digest = cat.digest;
    struct item it;

    rewrite(changed, one, 1);
    ck_assert_uint_ne(file_inode(), before);
    ck_assert_uint_ne(cat.digest, digest);
    ck_assert_uint_eq(cat.nitems, 1);
    ck_assert_int_eq(catalog_item(&cat, 5, &it), 0);
    ck_assert_str_eq(it.name_html, "New salmon");
    ck_assert_int_eq(catalog_item(&cat, 1, &it), -1);
    ck_assert_uint_eq(search_edges("salmon"), 1);
    dir_clean();
}
END_TEST

/* A TSV with a bad line builds nothing: the file built before stays as it
 * was, and no half-built file is left. */
START_TEST(bad_tsv_keeps_the_file)
{
    char err[512];
    ino_t before = file_inode();
    FILE *f;

    catalog_close(&cat);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fputs("C\t1\tOne\tThe first.\nI\tx\t1\tBad\t1.00\tBad id.\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(catalog_open(&cat, path, dir, 0, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "line 2") != NULL, "%s", err);
    ck_assert_uint_eq(file_inode(), before);
    dir_clean();
}
END_TEST

/* Refused with one line, whatever the TSV says: a file cut short would
 * fault (SIGBUS) where the map runs past its end. */
static void refused(const char *how)
{
    char err[512], file[600];

    ck_assert_msg(catalog_open(&cat, path, dir, 0, err, sizeof err) == -1, "%s", how);
    ck_assert_msg(strstr(err, "corrupt or truncated") != NULL, "%s: %s", how, err);
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_ptr_null(catalog_category(&cat, 1));
    /* Removed, it is built again. */
    snprintf(file, sizeof file, "%s/" CATALOG_FILE, dir);
    ck_assert_int_eq(unlink(file), 0);
    open_catalog();
    ck_assert_uint_eq(cat.nitems, GEN_ITEMS);
}

START_TEST(truncated_refused)
{
    char file[600];
    struct stat st;

    catalog_close(&cat);
    snprintf(file, sizeof file, "%s/" CATALOG_FILE, dir);
    ck_assert_int_eq(stat(file, &st), 0);
    ck_assert_int_gt(st.st_size, 64 * 1024);
    ck_assert_int_eq(truncate(file, st.st_size / 2), 0);
    refused("half a file");
    catalog_close(&cat);
    ck_assert_int_eq(truncate(file, 100), 0);
    refused("a hundred bytes");
}
END_TEST

START_TEST(corrupt_refused)
{
    char file[600], junk[8192];
    FILE *f;

    catalog_close(&cat);
    snprintf(file, sizeof file, "%s/" CATALOG_FILE, dir);
    memset(junk, 0x5A, sizeof junk);
    ck_assert_ptr_nonnull(f = fopen(file, "r+"));
    ck_assert_uint_eq(fwrite(junk, 1, sizeof junk, f), sizeof junk);
    ck_assert_int_eq(fclose(f), 0);
    refused("its first pages overwritten");
}
END_TEST

static Suite *catalog_suite(void)
{
    Suite *s = suite_create("catalog");
    TCase *tc = tcase_create("search");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, names_folded);
    tcase_add_test(tc, needles_at_edges);
    tcase_add_test(tc, needles_matching_nothing);
    tcase_add_test(tc, needles_matching_everything);
    tcase_add_test(tc, substrings_of_names);
    tcase_add_test(tc, one_item);
    tcase_add_test(tc, no_items);
    suite_add_tcase(s, tc);
    tc = tcase_create("file");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, kept_while_unchanged);
    tcase_add_test(tc, rebuilt_when_changed);
    tcase_add_test(tc, bad_tsv_keeps_the_file);
    tcase_add_test(tc, truncated_refused);
    tcase_add_test(tc, corrupt_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(catalog_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
