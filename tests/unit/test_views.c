/* test_views.c -- what the shop's pages write of its catalog, prepared at
 * build of the catalog file (the view_* helpers of shop/layout.c, stored
 * by shop/catalog.c and read back from the map): each category's and item's href,
 * list entry, name, description and price must be the bytes the pages
 * used to build per request, for text that needs escaping and prices at
 * their bounds. The expected bytes are formatted here by hand, as the
 * pages formatted them before: link, name, then the price's euros with
 * %u and its cents with %02u.
 *
 * This tests the shop's own code, so it links libshop.a (SHOP_TESTS in
 * the Makefile). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shop/shop.h"

static char path[64], dir[64];
static struct catalog cat;

/* Names and descriptions with every byte HTML escapes, and prices from
 * the smallest to the largest the catalog reads. */
static const char catalog_text[] =
    "C\t1\tSides & <Soups>\tSmall \"plates\" & 'bowls'.\n"
    "C\t7\tDrinks\tTea.\n"
    "I\t26\t1\tMiso & <tofu>\t3.20\tA \"classic\".\n"
    "I\t3\t1\tO'toro\t0.05\tFive cents.\n"
    "I\t1000\t7\tSake\t1000.00\tA thousand.\n"
    "I\t2147483647\t7\tLast\t999999.99\tThe largest id and price.\n";

static void setup(void)
{
    char err[256] = "";
    FILE *f;

    snprintf(path, sizeof path, "/tmp/nori-test-views-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
    ck_assert_uint_eq(fwrite(catalog_text, 1, sizeof catalog_text - 1, f),
                      sizeof catalog_text - 1);
    ck_assert_int_eq(fclose(f), 0);
    snprintf(dir, sizeof dir, "/tmp/nori-test-views-dir-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_msg(catalog_open(&cat, path, dir, 0, err, sizeof err) == 0, "%s", err);
}

static void teardown(void)
{
    char file[128];

    catalog_close(&cat);
    unlink(path);
    snprintf(file, sizeof file, "%s/" CATALOG_FILE, dir);
    unlink(file);
    snprintf(file, sizeof file, "%s/" CATALOG_FILE ".lock", dir);
    unlink(file);
    ck_assert_int_eq(rmdir(dir), 0);
}

static void str_is(const char *got, size_t len, const char *want)
{
    ck_assert_uint_eq(strlen(got), len);
    ck_assert_str_eq(got, want);
}

START_TEST(category_views)
{
    const struct category *c = catalog_category(&cat, 1);
    const struct view *v = &c->view;

    ck_assert_ptr_nonnull(v);
    str_is(v->href, v->href_len, "?pg=Category&amp;id=1");
    str_is(v->name, v->name_len, "Sides &amp; &lt;Soups&gt;");
    str_is(v->description, v->description_len,
           "Small &quot;plates&quot; &amp; &#39;bowls&#39;.");
    /* Home's entry: the link's end, the count of dishes, the description. */
    str_is(v->entry, v->entry_len,
           "\">Sides &amp; &lt;Soups&gt;</a> <span class=\"count\">(2)</span> "
           "Small &quot;plates&quot; &amp; &#39;bowls&#39;.</li>\n");
    str_is(catalog_category(&cat, 7)->view.href,
           catalog_category(&cat, 7)->view.href_len, "?pg=Category&amp;id=7");
}
END_TEST

START_TEST(item_views)
{
    static const struct {
        uint32_t id;
        unsigned euros, cents;
    } want[] = {{26, 3, 20}, {3, 0, 5}, {1000, 1000, 0}, {2147483647, 999999, 99}};

    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        struct item item, *it = &item;
        ck_assert_int_eq(catalog_item(&cat, want[i].id, it), 0);
        const struct view *v = &it->view;
        char href[64], price[32], entry[256];

        snprintf(href, sizeof href, "?pg=Item&amp;id=%u", want[i].id);
        snprintf(price, sizeof price, "\xE2\x82\xAC%u.%02u", want[i].euros, want[i].cents);
        snprintf(entry, sizeof entry, "\">%s</a> <span class=\"price\">%s</span></li>\n",
                 it->name_html, price);
        str_is(v->href, v->href_len, href);
        str_is(v->price, v->price_len, price);
        str_is(v->entry, v->entry_len, entry);
        str_is(v->name, v->name_len, it->name_html);
        str_is(v->description, v->description_len, it->description_html);
    }
    struct item miso;
    ck_assert_int_eq(catalog_item(&cat, 26, &miso), 0);
    str_is(miso.view.name, miso.view.name_len, "Miso &amp; &lt;tofu&gt;");
    ck_assert_uint_eq(miso.category->id, 1);
    ck_assert_int_eq(catalog_item(&cat, 4, &miso), -1);
}
END_TEST

/* A category's items, in file order, and nothing past its last. */
START_TEST(category_items)
{
    const struct category *c = catalog_category(&cat, 7);
    struct item it;

    ck_assert_uint_eq(c->nitems, 2);
    ck_assert_int_eq(catalog_category_item(&cat, c, 0, &it), 0);
    ck_assert_uint_eq(it.id, 1000);
    ck_assert_int_eq(catalog_category_item(&cat, c, 1, &it), 0);
    ck_assert_uint_eq(it.id, 2147483647);
    ck_assert_int_eq(catalog_category_item(&cat, c, 2, &it), -1);
    ck_assert_ptr_null(catalog_category(&cat, 2));
}
END_TEST

/* A closed catalog leaves no pointer behind, and closing twice is
 * harmless. */
START_TEST(close_clears)
{
    struct item it;

    catalog_close(&cat);
    ck_assert_ptr_null(catalog_category(&cat, 1));
    ck_assert_int_eq(catalog_item(&cat, 26, &it), -1);
    ck_assert_uint_eq(cat.ncategories, 0);
    catalog_close(&cat);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("views");
    TCase *tc = tcase_create("views");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, category_views);
    tcase_add_test(tc, item_views);
    tcase_add_test(tc, category_items);
    tcase_add_test(tc, close_clears);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
