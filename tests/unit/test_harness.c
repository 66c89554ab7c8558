/* test_harness.c -- the installed test harness (include/nori_test.h)
 * driving the example counter (examples/counter/counter.c, compiled in
 * here as it is, its main() renamed and its app captured when it calls
 * nori_main): what a visitor's browser would see, in memory. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <nori.h>
#include "nori_test.h"

static struct nori_app counter_app;

static int capture(const struct nori_app *app)
{
    counter_app = *app;
    return 0;
}

#define main counter_main
#define nori_main(app, argc, argv) ((void)(argc), (void)(argv), capture(app))
#include "../../examples/counter/counter.c"
#undef main
#undef nori_main

static char rundir[64];
static struct nori_test *t;
static struct nori_test_answer a;

static void open_counter(void)
{
    char err[512] = "";
    char *argv[] = {"counter", NULL};

    ck_assert_int_eq(counter_main(1, argv), 0);
    t = nori_test_open(&counter_app, rundir, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
}

static void setup(void)
{
    snprintf(rundir, sizeof rundir, "/tmp/nori-test-harness-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rundir));
    unsetenv("NORI_SESSION_CARRIER");
    unsetenv("NORI_STORE");
    open_counter();
}

static void teardown(void)
{
    char cmd[128];

    nori_test_close(t);
    t = NULL;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", rundir);
    ck_assert_int_eq(system(cmd), 0);
    unsetenv("NORI_SESSION_CARRIER");
    unsetenv("NORI_STORE");
}

static void count_is(long long want)
{
    char line[48];

    snprintf(line, sizeof line, "id=\"count\">%lld<", want);
    ck_assert_msg(strstr(a.body, line) != NULL, "want %s in: %s", line, a.body);
}

START_TEST(window_shopping)
{
    struct count c;

    ck_assert_int_eq(nori_test_get(t, "", &a), 200);
    ck_assert_int_eq(a.status, 200);
    count_is(0);
    ck_assert_str_eq(nori_test_header(t, "content-type"), "text/html; charset=utf-8");
    ck_assert_ptr_null(nori_test_header(t, "Set-Cookie"));
    ck_assert_ptr_nonnull(strstr(a.head, "X-Content-Type-Options: nosniff\r\n"));
    ck_assert_uint_eq(a.body_len, strlen(a.body));
    ck_assert_ptr_null(strstr(a.body, "_s="));
    ck_assert_int_eq(nori_test_state(t, &c), -1);
    ck_assert_int_eq(nori_test_follow(t, &a), -1);
}
END_TEST

/* The session made by ++ carries over, through the 303 and the page's
 * form, as a browser carries it; forgetting is a new visitor. */
START_TEST(session_carries_over)
{
    struct count c;

    ck_assert_int_eq(nori_test_post(t, "", "act=inc", &a), 303);
    ck_assert_ptr_nonnull(strstr(nori_test_header(t, "Location"), "_s="));
    ck_assert_int_eq(nori_test_follow(t, &a), 200);
    count_is(1);
    ck_assert_ptr_nonnull(strstr(a.body, "name=\"_k\""));
    ck_assert_int_eq(nori_test_post(t, "", "act=inc", &a), 303);
    ck_assert_int_eq(nori_test_follow(t, &a), 200);
    count_is(2);
    ck_assert_int_eq(nori_test_state(t, &c), 0);
    ck_assert_int_eq(c.n, 2);
    ck_assert_int_eq(nori_test_post(t, "", "act=dec", &a), 303);
    ck_assert_int_eq(nori_test_state(t, &c), 0);
    ck_assert_int_eq(c.n, 1);
    /* A form key given wins over the one held: a wrong one is refused. */
    ck_assert_int_eq(nori_test_post(t, "", "act=inc&_k=AAAAAAAAAAAAAAAAAAAAAA", &a), 403);
    ck_assert_int_eq(nori_test_state(t, &c), 0);
    ck_assert_int_eq(c.n, 1);
    nori_test_forget(t);
    ck_assert_int_eq(nori_test_get(t, "", &a), 200);
    count_is(0);
    ck_assert_int_eq(nori_test_state(t, &c), -1);
}
END_TEST

/* A path below the app is PATH_INFO: nori's status page, which does not
 * count itself, and a 404 for anything else there. */
START_TEST(status_page)
{
    ck_assert_int_eq(nori_test_get(t, "", &a), 200);
    ck_assert_int_eq(nori_test_get(t, "/nori-status", &a), 200);
    ck_assert_ptr_nonnull(strstr(a.body, "\"requests\": 1,"));
    ck_assert_int_eq(nori_test_get(t, "/nori-status", &a), 200);
    ck_assert_ptr_nonnull(strstr(a.body, "\"requests\": 1,"));
    ck_assert_int_eq(nori_test_get(t, "/elsewhere?pg=Counter", &a), 404);
    /* Reading the status page in between does not lose the session. */
    ck_assert_int_eq(nori_test_post(t, "", "act=inc", &a), 303);
    ck_assert_int_eq(nori_test_follow(t, &a), 200);
    ck_assert_int_eq(nori_test_get(t, "/nori-status", &a), 200);
    ck_assert_int_eq(nori_test_post(t, "", "act=inc", &a), 303);
    ck_assert_int_eq(nori_test_follow(t, &a), 200);
    count_is(2);
}
END_TEST

START_TEST(bad_requests)
{
    ck_assert_int_eq(nori_test_get(t, "pg=Nope", &a), 404);
    ck_assert_str_eq(nori_test_header(t, "Cache-Control"), "no-store");
    ck_assert_int_eq(nori_test_get(t, "x=%zz", &a), 400);
    ck_assert_int_eq(nori_test_post(t, "", "act=mul", &a), 400);
    /* The same POST from another site is refused before it acts. */
    ck_assert_int_eq(nori_test_request_header(t, "Origin", "http://evil.example"), 0);
    ck_assert_int_eq(nori_test_post(t, "", "act=inc", &a), 403);
    ck_assert_int_eq(nori_test_request_header(t, "Origin", NULL), 0);
    ck_assert_int_eq(nori_test_post(t, "", "act=inc", &a), 303);
    ck_assert_int_eq(nori_test_request_header(t, "X-Other", "1"), -1);
}
END_TEST

/* The validator the page gave (the page cache's date: it is on by
 * default) answers 304, without a body. */
START_TEST(validators)
{
    char date[128];

    ck_assert_int_eq(nori_test_get(t, "", &a), 200);
    ck_assert_ptr_nonnull(nori_test_header(t, "Last-Modified"));
    snprintf(date, sizeof date, "%s", nori_test_header(t, "Last-Modified"));
    ck_assert_int_eq(nori_test_request_header(t, "If-Modified-Since", date), 0);
    ck_assert_int_eq(nori_test_get(t, "", &a), 304);
    ck_assert_uint_eq(a.body_len, 0);
    ck_assert_str_eq(a.body, "");
}
END_TEST

/* NORI_SESSION_CARRIER=cookie from the environment, as a worker reads it: the
 * jar carries the session, and no key is in the page. */
START_TEST(cookie_carrier)
{
    struct count c;

    nori_test_close(t);
    setenv("NORI_SESSION_CARRIER", "cookie", 1);
    setenv("NORI_STORE", "memory", 1);
    open_counter();
    ck_assert_int_eq(nori_test_post(t, "", "act=inc", &a), 303);
    ck_assert_ptr_nonnull(strstr(nori_test_header(t, "Set-Cookie"), "nori_s="));
    ck_assert_ptr_null(strstr(nori_test_header(t, "Location"), "_s="));
    ck_assert_int_eq(nori_test_get(t, "", &a), 200);
    count_is(1);
    ck_assert_ptr_null(strstr(a.body, "_s="));
    ck_assert_int_eq(nori_test_state(t, &c), 0);
    ck_assert_int_eq(c.n, 1);
    nori_test_forget(t);
    ck_assert_int_eq(nori_test_get(t, "", &a), 200);
    count_is(0);
}
END_TEST

/* A bad setting or run directory is one line naming it, and no harness. */
START_TEST(open_refuses)
{
    char err[512] = "", path[128];

    snprintf(path, sizeof path, "%s/file", rundir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_ptr_null(nori_test_open(&counter_app, path, err, sizeof err));
    ck_assert_msg(strstr(err, "NORI_RUNDIR") || strstr(err, "--rundir"), "%s", err);
    setenv("NORI_SESSION_CARRIER", "pigeon", 1);
    err[0] = '\0';
    ck_assert_ptr_null(nori_test_open(&counter_app, rundir, err, sizeof err));
    ck_assert_msg(strstr(err, "NORI_SESSION_CARRIER=pigeon") != NULL, "%s", err);
}
END_TEST

/* A page whose text shows a key-like "_s=" before its links: the key
 * the harness goes on with is the one nori wrote, not the visitor's. */
static int decoy_render(struct nori_req *r)
{
    const struct count *c = nori_state(r);

    nori_textf(r, "count=%lld; see ?_s=AAAAAAAAAAAAAAAAAAAAAA and &_s=BBBBBBBBBBBBBBBBBBBBBB ",
               c ? (long long)c->n : 0LL);
    nori_elem_link(r, &(struct nori_link){"Decoy", NULL}, NULL);
    nori_text(r, "again");
    nori_close(r);
    nori_form_open(r, NULL, "inc");
    nori_html_unescaped_trusted(r, "</form>", 7);
    return 200;
}

static struct nori_result decoy_act(struct nori_req *r)
{
    struct count *c = nori_state_write(r);

    if (c == NULL)
        return nori_fail(503, "no session");
    c->n++;
    return nori_redirect("Decoy", NULL);
}

START_TEST(key_not_from_text)
{
    static const struct nori_page decoy_pages[] = {{"Decoy", decoy_render, 0}};
    struct nori_app decoy = {
        .name = "decoy", .pages = decoy_pages, .npages = 1, .act = decoy_act,
        .state = {sizeof(struct count), 1, count_encode, count_decode},
    };
    char err[256], dir[128];
    struct nori_test *d;
    struct count c;

    snprintf(dir, sizeof dir, "%s/decoy", rundir);      /* a store of its own */
    d = nori_test_open(&decoy, dir, err, sizeof err);
    ck_assert_msg(d != NULL, "%s", err);
    ck_assert_int_eq(nori_test_post(d, "", "act=inc", &a), 303);
    ck_assert_int_eq(nori_test_follow(d, &a), 200);
    ck_assert_ptr_nonnull(strstr(a.body, "?_s=AAAA"));
    ck_assert_int_eq(nori_test_get(d, "", &a), 200);    /* the key of the link */
    ck_assert_int_eq(nori_test_post(d, "", "act=inc", &a), 303);
    ck_assert_int_eq(nori_test_state(d, &c), 0);
    ck_assert_int_eq(c.n, 2);
    nori_test_close(d);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("harness");
    TCase *tc = tcase_create("counter");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, window_shopping);
    tcase_add_test(tc, session_carries_over);
    tcase_add_test(tc, bad_requests);
    tcase_add_test(tc, status_page);
    tcase_add_test(tc, validators);
    tcase_add_test(tc, cookie_carrier);
    tcase_add_test(tc, open_refuses);
    tcase_add_test(tc, key_not_from_text);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
