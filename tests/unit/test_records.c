/* test_records.c -- records_scan, the check of a request's opening
 * FastCGI records before libfcgi reads them: a whole request passes with
 * its pairs counted; a part of one waits for exactly the bytes it lacks;
 * declared lengths past the params, params past 64 KiB, padding libfcgi
 * would misread, management records and other requests are refused. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/records.h"

static unsigned char scratch[RECORDS_PARAMS_MAX];
static unsigned char buf[RECORDS_MAX + 64];
static size_t len;

static void put(const void *p, size_t n)
{
    memcpy(buf + len, p, n);
    len += n;
}

static void header(unsigned type, unsigned id, size_t clen, unsigned pad)
{
    unsigned char h[8] = {1, (unsigned char)type, (unsigned char)(id >> 8),
                          (unsigned char)id, (unsigned char)(clen >> 8),
                          (unsigned char)clen, (unsigned char)pad, 0};
    put(h, 8);
}

static void begin(void)
{
    static const unsigned char body[8] = {0, 1, 1, 0, 0, 0, 0, 0};

    header(1, 1, 8, 0);
    put(body, 8);
}

/* One PARAMS record holding NAME=VALUE with 1-byte lengths. */
static void pair(const char *name, const char *value)
{
    unsigned char l[2] = {(unsigned char)strlen(name), (unsigned char)strlen(value)};

    header(4, 1, 2 + l[0] + l[1], 0);
    put(l, 2);
    put(name, l[0]);
    put(value, l[1]);
}

static enum records_err scan(struct records_scan *sc)
{
    return records_scan(buf, len, scratch, sc);
}

static void setup(void)
{
    len = 0;
}

START_TEST(whole_request)
{
    struct records_scan sc;

    begin();
    pair("SCRIPT_NAME", "/shop");
    pair("QUERY_STRING", "pg=Item&id=26");
    header(4, 1, 0, 0);
    size_t end = len;
    header(5, 1, 0, 0);             /* the body is libfcgi's */
    ck_assert_int_eq(scan(&sc), RECORDS_OK);
    ck_assert_uint_eq(sc.pairs, 2);
    ck_assert_uint_eq(sc.end, end);
    ck_assert_uint_eq(sc.role, 1);
    ck_assert_int_eq(sc.keep, 1);
}
END_TEST

START_TEST(part_waits_for_what_it_lacks)
{
    struct records_scan sc;

    begin();
    ck_assert_int_eq(scan(&sc), RECORDS_EMORE);
    ck_assert_uint_eq(sc.need, len + 8);        /* the next header */
    pair("SCRIPT_NAME", "/shop");
    len -= 3;                                   /* the record cut short */
    ck_assert_int_eq(scan(&sc), RECORDS_EMORE);
    ck_assert_uint_eq(sc.need, len + 3);
}
END_TEST

START_TEST(absurd_lengths_refused)
{
    static const unsigned char name[] = {0xC0, 0, 0, 0, 1, 'N', 'A', 'M', 'E'};
    static const unsigned char value[] = {4, 0xC0, 0, 0, 0, 'N', 'A', 'M', 'E'};
    struct records_scan sc;

    begin();
    header(4, 1, sizeof name, 0);
    put(name, sizeof name);
    header(4, 1, 0, 0);
    ck_assert_int_eq(scan(&sc), RECORDS_EBAD);
    ck_assert_uint_eq(sc.declared, 0x40000000);
    len = 0;
    begin();
    header(4, 1, sizeof value, 0);
    put(value, sizeof value);
    header(4, 1, 0, 0);
    ck_assert_int_eq(scan(&sc), RECORDS_EBAD);
    ck_assert_uint_eq(sc.declared, 0x40000000);
}
END_TEST

START_TEST(params_bounded)
{
    static unsigned char junk[32768];
    struct records_scan sc;

    begin();
    for (int i = 0; i < 2; i++) {           /* exactly RECORDS_PARAMS_MAX */
        header(4, 1, sizeof junk, 0);
        put(junk, sizeof junk);
    }
    header(4, 1, 1, 0);                     /* and one byte more */
    put("x", 1);
    header(4, 1, 0, 0);
    ck_assert_int_eq(scan(&sc), RECORDS_EBAD);
    ck_assert_str_eq(sc.why, "the params are too long");
}
END_TEST

START_TEST(what_libfcgi_misreads_refused)
{
    struct records_scan sc;

    header(1, 1, 8, 8);                     /* a padded BEGIN_REQUEST */
    put("\0\1\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    header(4, 1, 0, 0);
    ck_assert_int_eq(scan(&sc), RECORDS_EBAD);
    len = 0;
    begin();
    header(4, 1, 0, 8);                     /* a padded end of the params */
    put("\0\0\0\0\0\0\0\0", 8);
    ck_assert_int_eq(scan(&sc), RECORDS_EBAD);
    len = 0;
    header(9, 0, 0, 0);                     /* FCGI_GET_VALUES */
    begin();
    header(4, 1, 0, 0);
    ck_assert_int_eq(scan(&sc), RECORDS_EBAD);
    len = 0;
    begin();
    header(5, 1, 0, 0);                     /* the body before the params end */
    ck_assert_int_eq(scan(&sc), RECORDS_EBAD);
    len = 0;
    begin();
    header(4, 2, 0, 0);                     /* another request's params */
    ck_assert_int_eq(scan(&sc), RECORDS_EBAD);
    len = 0;
    buf[0] = 2;                             /* not version 1 */
    len = 8;
    ck_assert_int_eq(scan(&sc), RECORDS_EBAD);
}
END_TEST

static Suite *records_suite(void)
{
    Suite *s = suite_create("records");
    TCase *tc = tcase_create("scan");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, whole_request);
    tcase_add_test(tc, part_waits_for_what_it_lacks);
    tcase_add_test(tc, absurd_lengths_refused);
    tcase_add_test(tc, params_bounded);
    tcase_add_test(tc, what_libfcgi_misreads_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(records_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
