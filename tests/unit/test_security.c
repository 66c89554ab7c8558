/* test_security.c -- the pure parts of issue 8's fixes: Origin against
 * Host and a configured list, cookies found past a planted one, header
 * values that would split a response, cookie paths, the __Host- names,
 * and a new binding cookie at login. */
#include <check.h>
#include <string.h>

#include "fcgi/http.h"
#include "fcgi/origin.h"
#include "session/visit.h"

START_TEST(origin_same_host)
{
    ck_assert(origin_matches_host("http://shop.example", "shop.example"));
    ck_assert(origin_matches_host("https://shop.example", "shop.example"));
    ck_assert(origin_matches_host("http://Shop.Example:8080", "shop.example:8080"));
    ck_assert(origin_matches_host("http://shop.example:80", "shop.example"));
    ck_assert(origin_matches_host("https://shop.example", "shop.example:443"));
    ck_assert(origin_matches_host("http://[::1]:8080", "[::1]:8080"));
    ck_assert(origin_matches_host("http://127.0.0.1:8080", "127.0.0.1:8080"));
}
END_TEST

START_TEST(origin_other_host)
{
    ck_assert(!origin_matches_host("http://evil.example", "shop.example"));
    ck_assert(!origin_matches_host("http://shop.example.evil", "shop.example"));
    ck_assert(!origin_matches_host("http://shop.exampl", "shop.example"));
    ck_assert(!origin_matches_host("http://shop.example:8080", "shop.example"));
    ck_assert(!origin_matches_host("http://shop.example", "shop.example:8080"));
    ck_assert(!origin_matches_host("https://shop.example", "shop.example:80"));
    ck_assert(!origin_matches_host("null", "shop.example"));
    ck_assert(!origin_matches_host("http://shop.example/", "shop.example"));
    ck_assert(!origin_matches_host("http://u@shop.example", "shop.example"));
    ck_assert(!origin_matches_host("ftp://shop.example", "shop.example"));
    ck_assert(!origin_matches_host("http://", ""));
    ck_assert(!origin_matches_host("http://shop.example:0", "shop.example:0"));
    ck_assert(!origin_matches_host("http://shop.example:65536", "shop.example:65536"));
    ck_assert(!origin_matches_host("http://shop.example", NULL));
    ck_assert(!origin_matches_host(NULL, "shop.example"));
}
END_TEST

START_TEST(origin_verdicts)
{
    const char *list = "https://shop.example, https://www.shop.example:8443";

    ck_assert_int_eq(origin_check(NULL, NULL, "shop.example", ""), ORIGIN_OK);
    ck_assert_int_eq(origin_check(NULL, NULL, NULL, NULL), ORIGIN_OK);
    ck_assert_int_eq(origin_check("http://shop.example", NULL, "shop.example", ""),
                     ORIGIN_OK);
    ck_assert_int_eq(origin_check("http://evil.example", NULL, "shop.example", ""),
                     ORIGIN_EFOREIGN);
    ck_assert_int_eq(origin_check("null", NULL, "shop.example", ""), ORIGIN_EMALFORMED);
    ck_assert_int_eq(origin_check(NULL, "cross-site", "shop.example", ""),
                     ORIGIN_ECROSS_SITE);
    ck_assert_int_eq(origin_check("http://shop.example", "Cross-Site", "shop.example", ""),
                     ORIGIN_ECROSS_SITE);
    ck_assert_int_eq(origin_check(NULL, "same-origin", "shop.example", ""), ORIGIN_OK);
    ck_assert_int_eq(origin_check(NULL, "none", "shop.example", ""), ORIGIN_OK);
    /* Behind a proxy that rewrites Host, the list says who we are. */
    ck_assert_int_eq(origin_check("https://shop.example", NULL, "127.0.0.1:8080", list),
                     ORIGIN_OK);
    ck_assert_int_eq(origin_check("https://www.shop.example:8443", NULL, "backend", list),
                     ORIGIN_OK);
    ck_assert_int_eq(origin_check("https://www.shop.example", NULL, "backend", list),
                     ORIGIN_EFOREIGN);
    ck_assert_int_eq(origin_check("http://shop.example", NULL, "backend", list),
                     ORIGIN_EFOREIGN);
}
END_TEST

START_TEST(origin_lists)
{
    ck_assert(origin_list_valid(""));
    ck_assert(origin_list_valid(NULL));
    ck_assert(origin_list_valid("https://a.example"));
    ck_assert(origin_list_valid(" https://a.example,http://b.example:81 "));
    ck_assert(!origin_list_valid("a.example"));
    ck_assert(!origin_list_valid("https://a.example/"));
    ck_assert(!origin_list_valid("https://a.example,*"));
    ck_assert(origin_in_list("https://a.example:443", "https://a.example"));
    ck_assert(!origin_in_list("https://a.example", "https://b.example"));
    ck_assert(!origin_in_list("https://a.example", ""));
}
END_TEST

static size_t cookie(const char *header, const char *name, char *out, size_t cap)
{
    struct request req = {.cookie = header};
    return request_cookie(&req, name, out, cap);
}

static int all_x(const char *v, size_t n)
{
    return strspn(v, "x") == n;
}

START_TEST(oversized_cookie_is_skipped)
{
    char out[8];
    struct request req = {.cookie = "nori_b=abc; nori_b=xx"};

    /* A planted over-long cookie first must not hide ours. */
    ck_assert_uint_eq(cookie("nori_b=0123456789abcdef; nori_b=real", "nori_b", out,
                             sizeof out), 4);
    ck_assert_str_eq(out, "real");
    ck_assert_uint_eq(cookie("nori_b=; nori_b=real", "nori_b", out, sizeof out), 4);
    ck_assert_uint_eq(cookie("nori_b=0123456789abcdef", "nori_b", out, sizeof out), 0);
    ck_assert_str_eq(out, "");
    /* Nor a well-sized one the caller refuses. */
    ck_assert_uint_eq(request_cookie_if(&req, "nori_b", out, sizeof out, all_x), 2);
    ck_assert_str_eq(out, "xx");
}
END_TEST

START_TEST(header_values_never_split)
{
    struct arena a;
    struct response r;

    ck_assert(header_value_ok("/shop?pg=Cart&_s=abc"));
    ck_assert(header_value_ok("a\tb"));
    ck_assert(!header_value_ok("/shop\r\nX-Evil: 1"));
    ck_assert(!header_value_ok("/shop\nX"));
    ck_assert(!header_value_ok("/shop\rX"));
    ck_assert(!header_value_ok("a\x7f"));
    ck_assert_int_eq(arena_init(&a, 4096), 0);
    response_init(&r, &a);
    response_header(&r, "Location", "/shop");
    ck_assert_int_eq(r.bad_header, 0);
    size_t len = r.head_len;
    response_header(&r, "Location", "/shop\r\nSet-Cookie: x=1");
    ck_assert_int_eq(r.bad_header, 1);
    ck_assert_uint_eq(r.head_len, len);     /* nothing of it was written */
    arena_free(&a);
}
END_TEST

START_TEST(cookie_paths)
{
    char longp[COOKIE_PATH_MAX + 2];

    ck_assert(cookie_path_valid("/"));
    ck_assert(cookie_path_valid("/shop"));
    ck_assert(!cookie_path_valid(""));
    ck_assert(!cookie_path_valid("shop"));
    ck_assert(!cookie_path_valid("/shop; Domain=evil.example"));
    ck_assert(!cookie_path_valid("/shop\r\nX: 1"));
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    ck_assert(!cookie_path_valid(longp));
    longp[COOKIE_PATH_MAX] = '\0';
    ck_assert(cookie_path_valid(longp));
}
END_TEST

/* The Set-Cookie lines of a fresh session's answer, as one string. */
static void fresh_cookies(struct sessions *ss, struct request *req, char *out,
                          size_t cap)
{
    struct arena a;
    struct response r;
    struct visit v;

    ck_assert_int_eq(arena_init(&a, 8192), 0);
    response_init(&r, &a);
    req->arena = &a;
    memset(&v, 0, sizeof v);
    v.ss = ss;
    v.req = req;
    ck_assert_int_eq(visit_ensure(&v, 1000), VISIT_OK);
    v.committed = 1;
    visit_cookies(&v, &r);
    ck_assert_int_eq(r.bad_header, 0);
    ck_assert_uint_lt(r.head_len, cap);
    memcpy(out, r.head, r.head_len);
    out[r.head_len] = '\0';
    arena_free(&a);
}

START_TEST(secure_cookies_and_host_prefix)
{
    struct sessions ss = {.carrier = CARRIER_COOKIE, .life = {600, 28800}};
    struct request req = {.script_name = "/shop"};
    char h[2048];

    fresh_cookies(&ss, &req, h, sizeof h);
    ck_assert_ptr_nonnull(strstr(h, "Set-Cookie: nori_s="));
    ck_assert_ptr_null(strstr(h, "Secure"));
    req.https = 1;
    fresh_cookies(&ss, &req, h, sizeof h);
    ck_assert_ptr_nonnull(strstr(h, "Set-Cookie: nori_s="));
    ck_assert_ptr_nonnull(strstr(h, "; Path=/shop; HttpOnly; SameSite=Lax; Secure\r\n"));
    ss.cookie_path = "/";
    fresh_cookies(&ss, &req, h, sizeof h);
    ck_assert_ptr_nonnull(strstr(h, "Set-Cookie: __Host-nori_s="));
    ck_assert_str_eq(visit_cookie_name(&ss, &req, COOKIE_SESSION), "__Host-nori_s");
    req.https = 0;
    ck_assert_str_eq(visit_cookie_name(&ss, &req, COOKIE_SESSION), "nori_s");
    ss.cookie_secure = 1;
    ck_assert_str_eq(visit_cookie_name(&ss, &req, COOKIE_BIND), "__Host-nori_b");
}
END_TEST

START_TEST(long_cookie_path_is_not_cut)
{
    static char path[202];
    struct sessions ss = {.carrier = CARRIER_COOKIE, .life = {600, 28800},
                          .cookie_path = path};
    struct request req = {.script_name = "/shop"};
    char h[2048];

    memset(path, 'p', 201);
    path[0] = '/';
    fresh_cookies(&ss, &req, h, sizeof h);
    ck_assert_ptr_nonnull(strstr(h, path));
    ck_assert_ptr_nonnull(strstr(h, "; HttpOnly; SameSite=Lax\r\n"));
}
END_TEST

START_TEST(script_name_that_is_no_cookie_path)
{
    struct sessions ss = {.carrier = CARRIER_COOKIE, .life = {600, 28800}};
    struct request req = {.script_name = "/shop;Domain=evil.example"};
    struct arena a;
    struct response r;
    struct visit v;

    ck_assert_int_eq(arena_init(&a, 8192), 0);
    response_init(&r, &a);
    req.arena = &a;
    memset(&v, 0, sizeof v);
    v.ss = &ss;
    v.req = &req;
    ck_assert_int_eq(visit_ensure(&v, 1000), VISIT_OK);
    v.committed = 1;
    visit_cookies(&v, &r);
    ck_assert_int_eq(r.bad_header, 1);
    arena_free(&a);
}
END_TEST

START_TEST(login_mints_a_new_binding)
{
    struct sessions ss = {.carrier = CARRIER_URL, .bind = 1, .life = {600, 28800}};
    struct request req = {.script_name = "/shop"};
    struct visit v;
    char before[NAV_KEY_LEN + 1];

    memset(&v, 0, sizeof v);
    v.ss = &ss;
    v.req = &req;
    /* A browser that came with a binding cookie (maybe a planted one). */
    memcpy(v.bind, "AAAAAAAAAAAAAAAAAAAAAA", NAV_KEY_LEN + 1);
    ck_assert_int_eq(visit_ensure(&v, 1000), VISIT_OK);
    ck_assert_str_ne(v.s.bind, v.bind);     /* never adopted: minted */
    ck_assert_int_eq(v.set_bind, 1);
    memcpy(before, v.s.bind, sizeof before);
    ck_assert_int_eq(visit_rotate(&v), VISIT_OK);
    ck_assert_str_ne(v.s.bind, "AAAAAAAAAAAAAAAAAAAAAA");
    ck_assert_str_ne(v.s.bind, before);
    ck_assert_int_eq(v.set_bind, 1);
    /* And on a session that was there before the login. */
    v.fresh = 0;
    memcpy(before, v.s.bind, sizeof before);
    ck_assert_int_eq(visit_rotate(&v), VISIT_OK);
    ck_assert_str_ne(v.s.bind, before);
    ck_assert_int_eq(v.rotated, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("security");
    TCase *tc = tcase_create("security");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, origin_same_host);
    tcase_add_test(tc, origin_other_host);
    tcase_add_test(tc, origin_verdicts);
    tcase_add_test(tc, origin_lists);
    tcase_add_test(tc, oversized_cookie_is_skipped);
    tcase_add_test(tc, header_values_never_split);
    tcase_add_test(tc, cookie_paths);
    tcase_add_test(tc, secure_cookies_and_host_prefix);
    tcase_add_test(tc, long_cookie_path_is_not_cut);
    tcase_add_test(tc, script_name_that_is_no_cookie_path);
    tcase_add_test(tc, login_mints_a_new_binding);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
