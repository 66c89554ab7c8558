/* test_visit.c -- the pure parts of a visit: the form key check, which
 * key links carry, and reading cookies. The store-backed lifecycle is
 * tested end to end in tests/integration/sessions.sh. */
#include <check.h>
#include <string.h>

#include "fcgi/http.h"
#include "session/visit.h"

static struct sessions url_ss = {.carrier = CARRIER_URL, .bind = 1};
static struct sessions cookie_ss = {.carrier = CARRIER_COOKIE};

static void visit_live(struct visit *v, struct sessions *ss)
{
    memset(v, 0, sizeof *v);
    v->ss = ss;
    v->live = 1;
    ck_assert_int_eq(key_mint(v->s.key), 0);
    ck_assert_int_eq(key_mint(v->s.form_key), 0);
}

START_TEST(form_key_required_on_live_session)
{
    struct visit v;
    char wrong[NAV_KEY_LEN + 1];

    visit_live(&v, &url_ss);
    ck_assert(visit_form_ok(&v, v.s.form_key));
    ck_assert(!visit_form_ok(&v, ""));
    memcpy(wrong, v.s.form_key, sizeof wrong);
    wrong[NAV_KEY_LEN - 1] ^= 1;
    ck_assert(!visit_form_ok(&v, wrong));
    wrong[NAV_KEY_LEN - 1] ^= 1;
    wrong[NAV_KEY_LEN - 2] = '\0';
    ck_assert(!visit_form_ok(&v, wrong));      /* a prefix is not the key */
    ck_assert(!visit_form_ok(&v, v.s.key));    /* nor is the session key */
}
END_TEST

START_TEST(form_key_not_needed_without_session)
{
    struct visit v;

    memset(&v, 0, sizeof v);
    v.ss = &url_ss;
    ck_assert(visit_form_ok(&v, ""));
    /* A session made by this very request has no form out there yet. */
    visit_live(&v, &url_ss);
    v.fresh = 1;
    ck_assert(visit_form_ok(&v, ""));
}
END_TEST

START_TEST(link_key_by_carrier)
{
    struct visit v;

    visit_live(&v, &url_ss);
    ck_assert_str_eq(visit_link_key(&v), v.s.key);
    v.ended = 1;
    ck_assert_ptr_null(visit_link_key(&v));
    visit_live(&v, &cookie_ss);
    ck_assert_ptr_null(visit_link_key(&v));
    memset(&v, 0, sizeof v);
    v.ss = &url_ss;
    ck_assert_ptr_null(visit_link_key(&v));
}
END_TEST

static size_t cookie(const char *header, const char *name, char *out, size_t cap)
{
    struct request req = {.cookie = header};
    return request_cookie(&req, name, out, cap);
}

START_TEST(cookies_are_read_exactly)
{
    char out[32];

    ck_assert_uint_eq(cookie("nori_b=abc", "nori_b", out, sizeof out), 3);
    ck_assert_str_eq(out, "abc");
    ck_assert_uint_eq(cookie("x=1; nori_b=def; y=2", "nori_b", out, sizeof out), 3);
    ck_assert_str_eq(out, "def");
    ck_assert_uint_eq(cookie("nori_bx=1; xnori_b=2", "nori_b", out, sizeof out), 0);
    ck_assert_uint_eq(cookie("nori_b=\"q\"", "nori_b", out, sizeof out), 1);
    ck_assert_str_eq(out, "q");
    ck_assert_uint_eq(cookie("nori_b=first; nori_b=second", "nori_b", out, sizeof out), 5);
    ck_assert_str_eq(out, "first");
    ck_assert_uint_eq(cookie("nori_b=", "nori_b", out, sizeof out), 0);
    ck_assert_uint_eq(cookie(NULL, "nori_b", out, sizeof out), 0);
    ck_assert_uint_eq(cookie("nori_b=0123456789", "nori_b", out, 5), 0);  /* too long */
    ck_assert_uint_eq(cookie(";;  nori_s=k ;", "nori_s", out, sizeof out), 1);
}
END_TEST

/* A nori_b the browser brings to a new session may have been planted (a
 * sibling site, a shared machine): the session gets a binding minted
 * here, and the answer sets it. */
START_TEST(planted_binding_not_adopted)
{
    static const char planted[] = "AAAAAAAAAAAAAAAAAAAAAA";
    struct visit v;

    memset(&v, 0, sizeof v);
    v.ss = &url_ss;
    memcpy(v.bind, planted, sizeof planted);
    ck_assert_int_eq(visit_ensure(&v, 1000), VISIT_OK);
    ck_assert(v.live && v.fresh);
    ck_assert_str_ne(v.s.bind, planted);
    ck_assert_uint_eq(strlen(v.s.bind), NAV_KEY_LEN);
    ck_assert(v.set_bind);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("visit");
    TCase *tc = tcase_create("visit");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, form_key_required_on_live_session);
    tcase_add_test(tc, form_key_not_needed_without_session);
    tcase_add_test(tc, link_key_by_carrier);
    tcase_add_test(tc, cookies_are_read_exactly);
    tcase_add_test(tc, planted_binding_not_adopted);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
