/* test_route.c -- the page table: exact, case-sensitive names; the first
 * registration of a name wins and a duplicate is refused; the table owns
 * copies of its names. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nav/route.h"

/* Stand-ins for the application's pages: only their addresses matter. */
static const int home, item, other;

static struct route_table *t;

static void setup(void)
{
    t = route_new();
    ck_assert_ptr_nonnull(t);
}

static void teardown(void)
{
    route_free(t);
    t = NULL;
}

START_TEST(empty_table)
{
    ck_assert_ptr_null(route_find(t, "Home"));
    ck_assert_ptr_null(route_find(t, ""));
}
END_TEST

START_TEST(found_and_not_found)
{
    ck_assert_int_eq(route_add(t, "Home", &home), 0);
    ck_assert_int_eq(route_add(t, "Item", &item), 0);
    ck_assert_ptr_eq(route_find(t, "Home"), &home);
    ck_assert_ptr_eq(route_find(t, "Item"), &item);
    ck_assert_ptr_null(route_find(t, "Cart"));
    /* Whole names only: no prefix or extension matches. */
    ck_assert_ptr_null(route_find(t, "Hom"));
    ck_assert_ptr_null(route_find(t, "Homes"));
    ck_assert_ptr_null(route_find(t, "Home "));
    ck_assert_ptr_null(route_find(t, ""));
}
END_TEST

START_TEST(case_sensitive)
{
    ck_assert_int_eq(route_add(t, "Item", &item), 0);
    ck_assert_ptr_null(route_find(t, "item"));
    ck_assert_ptr_null(route_find(t, "ITEM"));
    ck_assert_ptr_null(route_find(t, "iTEM"));
    /* A name differing only in case is a different page. */
    ck_assert_int_eq(route_add(t, "item", &other), 0);
    ck_assert_ptr_eq(route_find(t, "Item"), &item);
    ck_assert_ptr_eq(route_find(t, "item"), &other);
}
END_TEST

START_TEST(duplicate_refused)
{
    ck_assert_int_eq(route_add(t, "Home", &home), 0);
    ck_assert_int_eq(route_add(t, "Home", &other), -1);
    /* The first registration is kept. */
    ck_assert_ptr_eq(route_find(t, "Home"), &home);
    ck_assert_int_eq(route_add(t, "Home", &home), -1);
}
END_TEST

/* The table copies names: a caller's buffer may change or die. */
START_TEST(names_are_copied)
{
    char name[16];

    strcpy(name, "Counter");
    ck_assert_int_eq(route_add(t, name, &other), 0);
    strcpy(name, "Xxxxxxx");
    ck_assert_ptr_eq(route_find(t, "Counter"), &other);
    ck_assert_ptr_null(route_find(t, name));
}
END_TEST

START_TEST(empty_name)
{
    ck_assert_int_eq(route_add(t, "", &home), 0);
    ck_assert_ptr_eq(route_find(t, ""), &home);
    ck_assert_ptr_null(route_find(t, "Home"));
}
END_TEST

/* Enough entries to make uthash grow its buckets several times. */
START_TEST(many_entries)
{
    enum { N = 5000 };
    static int pages[N];
    char name[32];

    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "Page%d", i);
        ck_assert_int_eq(route_add(t, name, &pages[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "Page%d", i);
        ck_assert_msg(route_find(t, name) == &pages[i], "%s", name);
    }
    for (int i = 0; i < N; i += 97) {
        snprintf(name, sizeof name, "Page%d", i);
        ck_assert_int_eq(route_add(t, name, &home), -1);
        ck_assert_ptr_eq(route_find(t, name), &pages[i]);
    }
    ck_assert_ptr_null(route_find(t, "Page5000"));
    ck_assert_ptr_null(route_find(t, "page0"));
    ck_assert_ptr_null(route_find(t, "Page-1"));
}
END_TEST

START_TEST(free_null_and_empty)
{
    route_free(NULL);
    route_free(route_new());
}
END_TEST

static Suite *route_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("table");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, empty_table);
    tcase_add_test(tc, found_and_not_found);
    tcase_add_test(tc, case_sensitive);
    tcase_add_test(tc, duplicate_refused);
    tcase_add_test(tc, names_are_copied);
    tcase_add_test(tc, empty_name);
    tcase_add_test(tc, many_entries);
    tcase_add_test(tc, free_null_and_empty);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(route_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
