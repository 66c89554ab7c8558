/* test_catalog.c -- catalog_search against a straightforward reference:
 * every item's name, ASCII-lower-cased here, scanned with memmem in file
 * order. The two must agree on the total and on every item stored, in
 * order, for any needle, skip and max, on a generated catalog whose names
 * begin and end alike, differ only in case, carry UTF-8, and sit next to
 * names that a needle could straddle if names ran together. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shop/catalog.h"

#define GEN_ITEMS 3000
#define OUT_MAX (GEN_ITEMS + 64)

static struct catalog cat;
static char path[256];

/* Names that end where the next begins: "tail ab" then "cd head", so a
 * search for "abcd" must find neither. */
static const char *const special[] = {
    "x", "X", "ab", "cd", "Tail ab", "cd Head", "SALMON Nigiri",
    "salmon", "Ebi \xC3\x89" "crevisse", "\xC3\xA9" "t\xC3\xA9 roll",
    "Maki 0", "0", "Dish", "dish dish dish",
    "A name of exactly eighty bytes, the longest a catalog allows: padding padding pa",
};
#define NSPECIAL (sizeof special / sizeof *special)

static void write_catalog(FILE *f)
{
    fputs("# test_catalog\nC\t1\tOne\tThe first.\nC\t2\tTwo\tThe second.\n", f);
    for (size_t i = 0; i < GEN_ITEMS; i++) {
        unsigned id = (unsigned)i + 1, cid = (unsigned)(i % 2) + 1;
        if (i % 97 < NSPECIAL)
            fprintf(f, "I\t%u\t%u\t%s\t1.00\tSpecial.\n", id, cid, special[i % 97]);
        else
            fprintf(f, "I\t%u\t%u\t%s %u salmon %u\t%u.%02u\tGenerated.\n", id, cid,
                    i % 3 ? "Dish" : "DISH", id, id % 97, 3 + id % 20, id % 100);
    }
}

static void setup(void)
{
    char err[256];
    const char *dir = getenv("TMPDIR");
    int fd;
    FILE *f;

    snprintf(path, sizeof path, "%s/nori-catalog.XXXXXX", dir ? dir : "/tmp");
    ck_assert_int_ge(fd = mkstemp(path), 0);
    ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
    write_catalog(f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_msg(catalog_load(&cat, path, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(cat.nitems, GEN_ITEMS);
}

static void teardown(void)
{
    catalog_free(&cat);
    unlink(path);
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

/* The reference: the scan catalog_search did before it was made fast. */
static size_t search_reference(const char *needle, size_t len, size_t skip,
                               const struct item **out, size_t max)
{
    size_t total = 0, stored = 0;

    for (size_t i = 0; i < cat.nitems; i++) {
        if (!name_contains(cat.items[i]->name, needle, len))
            continue;
        if (total >= skip && stored < max)
            out[stored++] = cat.items[i];
        total++;
    }
    return total;
}

/* Both searches, the same answer; returns the total. out arrays are
 * poisoned so that a slot written by one and not the other shows. */
static size_t search_agree(const char *needle, size_t len, size_t skip, size_t max)
{
    static const struct item *want[OUT_MAX], *got[OUT_MAX];
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
    for (size_t i = 0; i < cat.nitems; i++) {
        const struct item *it = cat.items[i];
        ck_assert_uint_eq(strlen(it->name_folded), strlen(it->name));
        ck_assert_msg(name_contains(it->name, it->name_folded, strlen(it->name)),
                      "item %u: '%s' folded to '%s'", it->id, it->name,
                      it->name_folded);
    }
}
END_TEST

START_TEST(needles_at_edges)
{
    const char *first = cat.items[0]->name_folded;
    const char *last = cat.items[cat.nitems - 1]->name_folded;
    char buf[128];

    search_edges(first);                        /* a whole one-byte name, "x" */
    search_edges(last);
    snprintf(buf, sizeof buf, "%s", last + strlen(last) - 3);
    search_edges(buf);                          /* the end of the last name */
    snprintf(buf, sizeof buf, "%.3s", cat.items[1]->name_folded);
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
        const char *name = cat.items[i]->name_folded;
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
    char err[256];
    FILE *f;

    catalog_free(&cat);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fputs("C\t1\tOne\tThe first.\nI\t7\t1\tSalmon\t1.00\tThe only one.\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_msg(catalog_load(&cat, path, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(search_edges("salmon"), 1);
    ck_assert_uint_eq(search_edges("s"), 1);
    ck_assert_uint_eq(search_edges("n"), 1);
    ck_assert_uint_eq(search_edges("salmons"), 0);
    ck_assert_uint_eq(search_edges(""), 1);
}
END_TEST

START_TEST(no_items)
{
    char err[256];
    FILE *f;

    catalog_free(&cat);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fputs("C\t1\tOne\tNothing in it.\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_msg(catalog_load(&cat, path, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(search_edges("salmon"), 0);
    ck_assert_uint_eq(search_edges(""), 0);
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
