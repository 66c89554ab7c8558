/* test_dispatch.c -- the request pipeline (nori/dispatch.c) driven in
 * memory, as lighttpd's src/t/ drives its modules: a struct request built
 * by hand goes through service_handle() of a service made for a small
 * application defined here, and the status, the header lines and the body
 * of the response are checked. No web server, no socket, no fork: the
 * runner is told CK_NOFORK, and the store is the in-process memory store
 * (or LMDB in a temporary directory, for the session paths).
 *
 * The application: two pages, Home (the count, the notice, a form) and
 * Thing (id=1 only, 404 otherwise); a query grammar with one NORI_UINT
 * `id` in 1..1000; a form grammar with one NORI_UINT `n`; a counter as
 * session state; actions inc (writes, redirects), bad (writes, then fails
 * 409), show (writes, then shows Home with a notice) and login. Pages
 * and actions an application gets wrong: Odd returns odd_status, Typo
 * links to a page the table lacks, Hand writes such a link by hand
 * (nori_href); the actions failok, failfound, redirectfound, redirectnope,
 * shownope and outcomethree write, then return what act may not. */
#include <check.h>
#include <fcntl.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fcgi/arena.h"
#include "fcgi/http.h"
#include "fcgi/stats.h"
#include "nori/service.h"

/* ---- the test application ---- */

struct q {
    uint32_t id;
};

struct f {
    uint32_t n;
};

struct count {
    int64_t n;
};

#define PRINCIPAL "tester"

static const struct nori_field q_fields[] = {
    NORI_FIELD_UINT(struct q, id, "id", 1, 1000, 0),
};

static const struct nori_field f_fields[] = {
    NORI_FIELD_UINT(struct f, n, "n", 1, 100, 0),
};

static int count_encode(const void *state, unsigned char *buf, size_t cap, size_t *len)
{
    const struct count *c = state;

    if (cap < 8)
        return -1;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)c->n >> (8 * i));
    *len = 8;
    return 0;
}

static int count_decode(void *state, unsigned version, const unsigned char *buf,
                        size_t len)
{
    struct count *c = state;
    uint64_t v = 0;

    if (version != 1 || len != 8)
        return -1;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)buf[i] << (8 * i);
    c->n = (int64_t)v;
    return 0;
}

static int home_render(struct nori_req *r)
{
    const struct count *c = nori_state(r);

    nori_response_puts(r->resp, "<h1>Home</h1>\n<p>count=");
    nori_response_printf(r->resp, "%lld", c ? (long long)c->n : 0LL);
    nori_response_puts(r->resp, "</p>\n");
    if (r->notice) {
        nori_response_puts(r->resp, "<p class=\"notice\">");
        nori_text(r, r->notice);
        nori_response_puts(r->resp, "</p>\n");
    }
    nori_response_puts(r->resp, "<a href=\"");
    nori_url(r, &(struct nori_link){"Thing", &(struct q){1}});
    nori_response_puts(r->resp, "\">thing</a>\n");
    nori_form_open(r, "f", "inc");
    nori_response_puts(r->resp, "<button>++</button></form>\n");
    return 200;
}

static int thing_render(struct nori_req *r)
{
    const struct q *q = r->query;

    if (q->id != 1)
        return 404;
    nori_response_puts(r->resp, "<h1>Thing 1</h1>\n");
    return 200;
}

/* A form with no class: nori writes no class attribute. */
static int bare_render(struct nori_req *r)
{
    nori_form_open(r, NULL, "inc");
    nori_response_puts(r->resp, "</form>\n");
    return 200;
}

static const struct nori_grammar q_grammar = {q_fields, 1, sizeof(struct q)};

static int odd_status;

static int odd_render(struct nori_req *r)
{
    nori_response_puts(r->resp, "odd\n");
    return odd_status;
}

static int typo_render(struct nori_req *r)
{
    nori_response_puts(r->resp, "<a href=\"");
    nori_url(r, &(struct nori_link){"Thnig", NULL});
    nori_response_puts(r->resp, "\">typo</a>\n");
    return 200;
}

static int hand_render(struct nori_req *r)
{
    static const char ok[] = "?pg=Thing&amp;id=1", bad[] = "?id=1&amp;pg=Nope";

    nori_response_puts(r->resp, "<a href=\"");
    nori_href(r, ok, sizeof ok - 1);
    nori_response_puts(r->resp, "\">ok</a><a href=\"");
    if (((const struct q *)r->query)->id == 2)
        nori_href(r, bad, sizeof bad - 1);
    nori_response_puts(r->resp, "\">bad</a>\n");
    return 200;
}

/* Links, each written twice on a line: by nori_url, then "|", then by
 * nori_href from nori_link_prepare. The two halves must be the same. */
static int links_render(struct nori_req *r)
{
    static const struct q one = {1}, none = {0};
    const struct nori_link links[] = {
        {"Thing", &one}, {"Home", NULL}, {NULL, &one}, {NULL, NULL}, {"Thing", &none},
    };

    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        char prepared[256];
        size_t len = 99;

        ck_assert_int_eq(nori_link_prepare(prepared, sizeof prepared, &q_grammar,
                                           &links[i], &len), 0);
        ck_assert_uint_eq(strlen(prepared), len);
        nori_url(r, &links[i]);
        nori_response_puts(r->resp, "|");
        nori_href(r, prepared, len);
        nori_response_puts(r->resp, "\n");
    }
    return 200;
}

static struct nori_result test_act(struct nori_req *r)
{
    const struct f *f = r->form;
    struct count *c;

    if (strcmp(r->act, "login") == 0)
        return nori_login(r, "alice") < 0 ? nori_fail(503, "no session")
                                          : nori_redirect("Home", NULL);
    /* A login the action then refuses: nothing of it may show. */
    if (strcmp(r->act, "loginshow") == 0)
        return nori_login(r, "alice") < 0 ? nori_fail(503, "no session")
                                          : nori_show("Home", "Not now");
    if (strcmp(r->act, "logout") == 0) {
        nori_logout(r);
        return nori_redirect("Home", NULL);
    }
    if ((c = nori_state_write(r)) == NULL)
        return nori_fail(503, "No session could be made; please try again.");
    if (strcmp(r->act, "inc") == 0) {
        c->n += f->n ? f->n : 1;
        return nori_redirect("Home", NULL);
    }
    /* bad and show write first: what they wrote must not be kept. */
    c->n += 100;
    struct nori_result res = nori_redirect("Home", NULL);
    if (strcmp(r->act, "failok") == 0)
        return nori_fail(200, "Not a failure");
    if (strcmp(r->act, "failfound") == 0)
        return nori_fail(302, "Not a failure");
    if (strcmp(r->act, "redirectfound") == 0) {
        res.status = 302;
        return res;
    }
    if (strcmp(r->act, "redirectnope") == 0)
        return nori_redirect("Nope", NULL);
    if (strcmp(r->act, "shownope") == 0)
        return nori_show("Nope", "A notice for no page");
    if (strcmp(r->act, "outcomethree") == 0) {
        res.outcome = (enum nori_outcome)3;
        return res;
    }
    if (strcmp(r->act, "bad") == 0)
        return nori_fail(409, "That conflicts.");
    if (strcmp(r->act, "show") == 0)
        return nori_show("Home", "A notice for you");
    return nori_fail(400, "There is no such action.");
}

static const char *test_principal(struct nori_req *r)
{
    const struct count *c = nori_state(r);

    return c && c->n > 0 ? PRINCIPAL : NULL;
}

static const struct nori_page pages[] = {
    {"Home", home_render, 0},
    {"Thing", thing_render, 0},
    {"Links", links_render, 0},
    {"Bare", bare_render, 0},
    {"Odd", odd_render, 1},
    {"Typo", typo_render, 1},
    {"Hand", hand_render, 0},
};

static const struct nori_app app = {
    .name = "test_dispatch",
    .query = {q_fields, 1, sizeof(struct q)},
    .form = {f_fields, 1, sizeof(struct f)},
    .pages = pages,
    .npages = sizeof pages / sizeof pages[0],
    .act = test_act,
    .state = {sizeof(struct count), 1, count_encode, count_decode},
    .principal = test_principal,
};

/* ---- the service and one request ---- */


static char rundir[64];
static char store_spec[128];
static char stats_file[128];
static struct nori_config cfg;
static struct service svc;
static struct stats *stats;
#include "drive.h"

static void service_up(const char *spec, const char *route, enum carrier carrier)
{
    char err[512] = "";

    snprintf(rundir, sizeof rundir, "/tmp/nori-test-dispatch-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rundir));
    if (strcmp(spec, "lmdb") == 0)
        snprintf(store_spec, sizeof store_spec, "lmdb:%s/sessions", rundir);
    else
        snprintf(store_spec, sizeof store_spec, "%s", spec);
    config_defaults(&cfg, rundir, store_spec);
    cfg.route = route;
    cfg.carrier = carrier;
    cfg.carrier_name = carrier == CARRIER_COOKIE ? "cookie" : "url";
    ck_assert_msg(service_init(&svc, &app, &cfg, err, sizeof err) == 0, "%s", err);
    snprintf(stats_file, sizeof stats_file, "%s/stats", rundir);
    ck_assert_ptr_nonnull(stats = stats_open(stats_file, 1));
    svc.stats = svc.sessions.stats = stats;
    ck_assert_int_eq(arena_init(&arena, 64 * 1024), 0);
}

static void service_down(void)
{
    char cmd[160];

    service_free(&svc);
    stats_close(stats);
    stats = NULL;
    arena_free(&arena);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", rundir);
    ck_assert_int_eq(system(cmd), 0);
}

static void setup_memory(void)
{
    service_up("memory", "", CARRIER_URL);
}

static void security_headers(void)
{
    header_is("X-Content-Type-Options", "nosniff");
    header_is("Referrer-Policy", "same-origin");
    const char *csp = header("Content-Security-Policy");
    ck_assert_ptr_nonnull(csp);
    ck_assert_ptr_nonnull(strstr(csp, "default-src 'none'"));
    ck_assert_ptr_nonnull(strstr(csp, "frame-ancestors 'none'"));
}

/* An error answer: the status, nothing cached, the security headers. */
static void error_is(int status)
{
    ck_assert_int_eq(answer(), status);
    header_is("Cache-Control", "no-store");
    ck_assert_ptr_null(header("ETag"));
    security_headers();
}

static uint64_t counter(enum stat_id id)
{
    return stats_get(stats, id);
}

/* Copies the 22 characters after `marker` in s into out. */
static void key_after(const char *s, const char *marker, char out[NORI_KEY_LEN + 1])
{
    const char *p = strstr(s, marker);

    ck_assert_msg(p != NULL, "no %s in: %s", marker, s);
    p += strlen(marker);
    ck_assert_uint_ge(strlen(p), NORI_KEY_LEN);
    memcpy(out, p, NORI_KEY_LEN);
    out[NORI_KEY_LEN] = '\0';
    ck_assert_uint_eq(strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                  "0123456789-_"), NORI_KEY_LEN);
}

static void count_is(const char *s, long long want)
{
    char q[64], line[32];

    snprintf(q, sizeof q, "pg=Home&_s=%s", s);
    request(HTTP_GET, q);
    ck_assert_int_eq(answer(), 200);
    snprintf(line, sizeof line, "count=%lld<", want);
    ck_assert_msg(strstr(body, line) != NULL, "want %s in: %s", line, body);
}

/* ---- sessionless pages ---- */

/* Whether a page carries a session key in its links (_s=) or forms
 * (name="_s"). Not a bare "_s": a random key or form key may hold it. */
static int carries_key(const char *page)
{
    return strstr(page, "_s=") != NULL || strstr(page, "\"_s\"") != NULL;
}

START_TEST(home_is_public_and_validated)
{
    char etag[64];

    request(HTTP_GET, "");
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "<h1>Home</h1>"));
    ck_assert_ptr_nonnull(strstr(body, "count=0<"));
    header_is("Content-Type", "text/html; charset=utf-8");
    header_is("Cache-Control", "max-age=60");
    ck_assert_ptr_null(header("Vary"));         /* the url carrier */
    ck_assert_ptr_null(header("Set-Cookie"));
    security_headers();
    ck_assert_ptr_nonnull(header("ETag"));
    snprintf(etag, sizeof etag, "%s", header("ETag"));
    ck_assert_str_eq(etag, svc.etag);
    /* A sessionless link carries no _s, nor a form _k. */
    ck_assert_ptr_nonnull(strstr(body, "href=\"/app?pg=Thing&amp;id=1\""));
    ck_assert(!carries_key(body));
    ck_assert_ptr_null(strstr(body, "_k"));

    request(HTTP_GET, "pg=Home");
    ck_assert_int_eq(answer(), 200);
    header_is("ETag", etag);

    request(HTTP_GET, "pg=Home");
    req.if_none_match = etag;
    ck_assert_int_eq(answer(), 304);
    ck_assert_uint_eq(resp.body_len, 0);
    header_is("ETag", etag);
    header_is("Cache-Control", "max-age=60");
    security_headers();

    /* A list and a weak tag match too; another tag does not. */
    char list[128];
    snprintf(list, sizeof list, "\"0000000000000000\", W/%s", etag);
    request(HTTP_GET, "pg=Home");
    req.if_none_match = list;
    ck_assert_int_eq(answer(), 304);
    request(HTTP_GET, "pg=Home");
    req.if_none_match = "\"0000000000000000\"";
    ck_assert_int_eq(answer(), 200);

    request(HTTP_HEAD, "pg=Thing&id=1");
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "Thing 1"));

    /* Looking commits nothing and makes no session. */
    ck_assert_uint_eq(counter(STAT_COMMITS), 0);
    ck_assert_uint_eq(counter(STAT_SESSIONS_CREATED), 0);
    ck_assert_uint_eq(counter(STAT_COMMITS_AVOIDED), 6);
    ck_assert_uint_eq(counter(STAT_PAGES), 4);   /* the 304s rendered nothing */
}
END_TEST

/* A NULL class is no class attribute, not a crash. */
START_TEST(form_without_class)
{
    request(HTTP_GET, "pg=Bare");
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "<form method=\"post\" action=\""));
    ck_assert_ptr_null(strstr(body, "class="));
}
END_TEST

/* With the page cache on, the validator is the generation's date, sent
 * as Last-Modified and compared as lighttpd compares a file's, so that a
 * page from the cache and one from nori revalidate alike. */
START_TEST(page_cache_dates_pages)
{
    svc.cache.on = 1;           /* gen "": nothing is written */
    svc.cache.date = 1764000000;
    snprintf(svc.cache.last_modified, sizeof svc.cache.last_modified, "%s",
             "Mon, 24 Nov 2025 16:00:00 GMT");

    request(HTTP_GET, "pg=Thing&id=1");
    ck_assert_int_eq(answer(), 200);
    header_is("Last-Modified", "Mon, 24 Nov 2025 16:00:00 GMT");
    ck_assert_ptr_null(header("ETag"));
    header_is("Cache-Control", "max-age=60");
    header_is("Vary", "Cookie");    /* the cache cannot tell the carriers apart */

    const char *unchanged[] = {"Mon, 24 Nov 2025 16:00:00 GMT",
                               "Mon, 24 Nov 2025 16:00:01 GMT",
                               "Tue, 25 Nov 2025 09:00:00 GMT"};
    const char *changed[] = {"Mon, 24 Nov 2025 15:59:59 GMT", "yesterday",
                             "Mon, 24 Nov 2025 16:00:00 GMT trailing", ""};
    for (size_t i = 0; i < sizeof unchanged / sizeof *unchanged; i++) {
        request(HTTP_GET, "pg=Thing&id=1");
        req.if_modified_since = unchanged[i];
        ck_assert_msg(answer() == 304, "If-Modified-Since: %s", unchanged[i]);
        header_is("Last-Modified", "Mon, 24 Nov 2025 16:00:00 GMT");
    }
    for (size_t i = 0; i < sizeof changed / sizeof *changed; i++) {
        request(HTTP_GET, "pg=Thing&id=1");
        req.if_modified_since = changed[i];
        ck_assert_msg(answer() == 200, "If-Modified-Since: %s", changed[i]);
    }
    /* There is no ETag to match: If-None-Match is not looked at. */
    request(HTTP_GET, "pg=Thing&id=1");
    req.if_none_match = svc.etag;
    ck_assert_int_eq(answer(), 200);
    svc.cache.on = 0;
}
END_TEST

/* The HTTP-date of Last-Modified, in HTTP's names whatever the locale. */
START_TEST(http_dates)
{
    char d[32];
    time_t t = 0;

    ck_assert_int_eq(http_date(d, sizeof d, 784111777), 0);
    ck_assert_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    ck_assert_int_eq(http_date(d, 29, 784111777), -1);          /* no room for the NUL */
    ck_assert_int_eq(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    ck_assert_int_eq((long long)t, 784111777);
    /* The obsolete forms, and anything around a date, are no date. */
    ck_assert_int_eq(http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), -1);
    ck_assert_int_eq(http_date_parse("Sun Nov  6 08:49:37 1994", &t), -1);
    ck_assert_int_eq(http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT ", &t), -1);
    ck_assert_int_eq(http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT", &t), -1);
    ck_assert_int_eq(http_date_parse("", &t), -1);
    /* A locale with other day and month names changes nothing: de_DE
     * where it is installed (strftime would say "So, 06 Nov"), else
     * C.UTF-8, which only checks that switching is harmless. */
    if (setlocale(LC_TIME, "de_DE.UTF-8") || setlocale(LC_TIME, "C.UTF-8")) {
        ck_assert_int_eq(http_date(d, sizeof d, 784111777), 0);
        ck_assert_str_eq(d, "Sun, 06 Nov 1994 08:49:37 GMT");
        setlocale(LC_TIME, "C");
    }
}
END_TEST

START_TEST(bad_urls)
{
    char longq[2100];

    request(HTTP_GET, "pg=Thing&id=%zz");
    error_is(400);
    request(HTTP_GET, "pg=Thing&id=1%");
    error_is(400);
    request(HTTP_GET, "pg=Thing&id=0");
    error_is(400);
    request(HTTP_GET, "pg=Thing&id=01");
    error_is(400);
    request(HTTP_GET, "pg=Thing&id=1&id=1");
    error_is(400);
    request(HTTP_GET, "pg=Home&pg=Home");
    error_is(400);
    request(HTTP_GET, "pg=Ho%00me");
    error_is(400);

    request(HTTP_GET, "pg=Nowhere");
    error_is(404);
    request(HTTP_GET, "pg=Thing&id=2");
    error_is(404);
    request(HTTP_GET, "pg=Thing");
    error_is(404);
    request(HTTP_GET, "");
    req.path_info = "/x";
    error_is(404);
    /* "/" is the app itself. */
    request(HTTP_GET, "");
    req.path_info = "/";
    ck_assert_int_eq(answer(), 200);

    memset(longq, 'a', sizeof longq - 1);
    longq[sizeof longq - 1] = '\0';
    memcpy(longq, "pg=Home&x=", 10);
    request(HTTP_GET, longq);
    error_is(414);
    /* 2048 exactly is within bounds. */
    longq[2048] = '\0';
    request(HTTP_GET, longq);
    ck_assert_int_eq(answer(), 200);

    request(HTTP_OTHER, "");
    error_is(405);
    header_is("Allow", "GET, HEAD, POST");

    /* The error page names the status. */
    request(HTTP_GET, "pg=Nowhere");
    error_is(404);
    ck_assert_ptr_nonnull(strstr(body, "404 Not Found"));
    ck_assert_uint_eq(counter(STAT_COMMITS), 0);
}
END_TEST

START_TEST(bad_posts)
{
    post_form("", "act=inc");
    req.body_err = BODY_ETOOLARGE;
    error_is(413);

    post_form("", "act=inc");
    req.content_type = "text/plain";
    error_is(415);
    post_form("", "act=inc");
    req.content_type = NULL;
    error_is(415);

    post_form("", "act=inc");
    req.body_err = BODY_ETIMEOUT;
    error_is(408);

    post_form("", "act=inc");
    req.body_err = BODY_ETRUNCATED;
    error_is(400);

    post_form("", "act=inc");
    req.origin = "http://evil.example";
    error_is(403);
    post_form("", "act=inc");
    req.sec_fetch_site = "cross-site";
    error_is(403);

    post_form("", "act=inc&n=0");
    error_is(400);
    post_form("", "act=inc&n=1&n=1");
    error_is(400);
    post_form("id=0", "act=inc");
    error_is(400);
    post_form("", "n=1");                       /* no act */
    error_is(400);

    /* None of them acted, made a session or committed. */
    ck_assert_uint_eq(counter(STAT_ACTIONS), 1);   /* only the one without act */
    ck_assert_uint_eq(counter(STAT_SESSIONS_CREATED), 0);
    ck_assert_uint_eq(counter(STAT_COMMITS), 0);
}
END_TEST

/* ---- the session paths ---- */

START_TEST(session_lifecycle)
{
    char s[NORI_KEY_LEN + 1], k[NORI_KEY_LEN + 1], q[128], form[128];
    const char *loc;

    service_up(_i == 0 ? "memory" : "lmdb", "", CARRIER_URL);

    /* A same-site POST from a browser: the Origin is the Host's. */
    post_form("", "act=inc");
    req.origin = "http://127.0.0.1:8080";
    ck_assert_int_eq(answer(), 303);
    security_headers();
    header_is("Cache-Control", "private, no-store");
    ck_assert_ptr_null(header("ETag"));
    ck_assert_ptr_null(header("Set-Cookie"));   /* bind off, url carrier */
    loc = header("Location");
    ck_assert_ptr_nonnull(loc);
    ck_assert_msg(strncmp(loc, "/app?pg=Home&_s=", 16) == 0, "Location: %s", loc);
    ck_assert_uint_eq(strlen(loc), 16 + NORI_KEY_LEN);
    key_after(loc, "_s=", s);
    ck_assert_uint_eq(counter(STAT_COMMITS), 1);
    ck_assert_uint_eq(counter(STAT_SESSIONS_CREATED), 1);

    /* The page of the session: its state, private, no validator. */
    count_is(s, 1);
    header_is("Cache-Control", "private, no-store");
    ck_assert_ptr_null(header("ETag"));
    security_headers();
    snprintf(q, sizeof q, "href=\"/app?pg=Thing&amp;id=1&amp;_s=%s\"", s);
    ck_assert_msg(strstr(body, q) != NULL, "no %s in: %s", q, body);
    key_after(body, "name=\"_k\" value=\"", k);
    ck_assert_str_ne(k, s);
    /* An If-None-Match is no use on a session page. */
    snprintf(q, sizeof q, "pg=Home&_s=%s", s);
    request(HTTP_GET, q);
    req.if_none_match = svc.etag;
    ck_assert_int_eq(answer(), 200);
    ck_assert_uint_eq(counter(STAT_COMMITS), 1);   /* reading commits nothing */

    /* Without the form key, or with another, nothing happens. */
    snprintf(form, sizeof form, "act=inc&_s=%s", s);
    post_form("", form);
    error_is(403);
    count_is(s, 1);
    snprintf(form, sizeof form, "act=inc&_s=%s&_k=%s", s, s);
    post_form("", form);
    error_is(403);
    count_is(s, 1);
    ck_assert_uint_eq(counter(STAT_COMMITS), 1);

    /* With it, the count moves; the key stays. */
    snprintf(form, sizeof form, "act=inc&_s=%s&_k=%s", s, k);
    post_form("", form);
    ck_assert_int_eq(answer(), 303);
    snprintf(q, sizeof q, "/app?pg=Home&_s=%s", s);
    header_is("Location", q);
    count_is(s, 2);
    ck_assert_uint_eq(counter(STAT_COMMITS), 2);
    ck_assert_uint_eq(counter(STAT_SESSIONS_CREATED), 1);

    /* _s on the URL of the POST serves as well as in the form. */
    snprintf(q, sizeof q, "_s=%s", s);
    snprintf(form, sizeof form, "act=inc&n=3&_k=%s", k);
    post_form(q, form);
    ck_assert_int_eq(answer(), 303);
    count_is(s, 5);
    ck_assert_uint_eq(counter(STAT_COMMITS), 3);

    /* A refused action keeps nothing of what it wrote. */
    snprintf(form, sizeof form, "act=bad&_s=%s&_k=%s", s, k);
    post_form("", form);
    error_is(409);
    ck_assert_ptr_nonnull(strstr(body, "That conflicts."));
    count_is(s, 5);
    ck_assert_uint_eq(counter(STAT_COMMITS), 3);

    /* A shown page has the notice, the state as stored, and keeps
     * nothing either. */
    snprintf(form, sizeof form, "act=show&_s=%s&_k=%s", s, k);
    post_form("", form);
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "<p class=\"notice\">A notice for you</p>"));
    ck_assert_ptr_nonnull(strstr(body, "count=5<"));
    header_is("Cache-Control", "private, no-store");
    ck_assert_ptr_null(header("ETag"));
    security_headers();
    count_is(s, 5);
    ck_assert_uint_eq(counter(STAT_COMMITS), 3);

    /* An unknown key is no session: the page is the public one. */
    request(HTTP_GET, "pg=Home&_s=AAAAAAAAAAAAAAAAAAAAAA");
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "count=0<"));
    ck_assert_uint_eq(counter(STAT_SESSIONS_CREATED), 1);

    /* The authorizer: no session, 403; the live one, 200 and its name. */
    request(HTTP_GET, "");
    req.authorizer = 1;
    ck_assert_int_eq(answer(), 403);
    header_is("Content-Type", "text/plain; charset=utf-8");
    ck_assert_ptr_null(header("Variable-NORI_USER"));
    request(HTTP_GET, "_s=AAAAAAAAAAAAAAAAAAAAAA");
    req.authorizer = 1;
    ck_assert_int_eq(answer(), 403);
    snprintf(q, sizeof q, "_s=%s", s);
    request(HTTP_GET, q);
    req.authorizer = 1;
    ck_assert_int_eq(answer(), 200);
    header_is("Variable-NORI_USER", PRINCIPAL);
    header_is("Cache-Control", "no-store");
    /* nginx's /authorize, only with the parameter its config sets. */
    request(HTTP_GET, q);
    req.path_info = "/authorize";
    req.authorize_param = 1;
    ck_assert_int_eq(answer(), 200);
    header_is("Variable-NORI_USER", PRINCIPAL);
    request(HTTP_GET, q);
    req.path_info = "/authorize";
    error_is(404);
    ck_assert_uint_eq(counter(STAT_COMMITS), 3);

    /* Login moves the session to a new key; the old one is worth nothing. */
    char s2[NORI_KEY_LEN + 1];
    snprintf(form, sizeof form, "act=login&_s=%s&_k=%s", s, k);
    post_form("", form);
    ck_assert_int_eq(answer(), 303);
    key_after(header("Location"), "_s=", s2);
    ck_assert_str_ne(s2, s);
    count_is(s2, 5);
    char k2[NORI_KEY_LEN + 1];
    key_after(body, "name=\"_k\" value=\"", k2);
    ck_assert_str_ne(k2, k);
    count_is(s, 0);
    ck_assert_uint_eq(counter(STAT_COMMITS), 4);
    /* The old form key is worth nothing on the new session. */
    snprintf(form, sizeof form, "act=inc&_s=%s&_k=%s", s2, k);
    post_form("", form);
    error_is(403);
    count_is(s2, 5);
    /* The principal is the one the application names. */
    snprintf(q, sizeof q, "_s=%s", s2);
    request(HTTP_GET, q);
    req.authorizer = 1;
    ck_assert_int_eq(answer(), 200);
    header_is("Variable-NORI_USER", PRINCIPAL);

    /* Logout: the record goes, and the redirect carries no key. */
    snprintf(form, sizeof form, "act=logout&_s=%s&_k=%s", s2, k2);
    post_form("", form);
    ck_assert_int_eq(answer(), 303);
    header_is("Location", "/app?pg=Home");
    count_is(s2, 0);
    ck_assert_ptr_null(strstr(body, "_s="));
    ck_assert_uint_eq(counter(STAT_COMMITS), 5);

    service_down();
}
END_TEST

/* An action without a session that keeps nothing makes no session: no
 * commit, and no key on the page or in the answer. */
START_TEST(refused_actions_make_no_session)
{
    post_form("", "act=bad");
    error_is(409);
    ck_assert_ptr_null(strstr(body, "_s="));
    ck_assert_ptr_null(header("Location"));

    post_form("", "act=show");
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "<p class=\"notice\">A notice for you</p>"));
    ck_assert_ptr_nonnull(strstr(body, "count=0<"));
    ck_assert_msg(!carries_key(body), "a key no store holds: %s", body);
    ck_assert_msg(strstr(body, "_k") == NULL, "a form key for no session: %s", body);

    ck_assert_uint_eq(counter(STAT_ACTIONS), 2);
    ck_assert_uint_eq(counter(STAT_SESSIONS_CREATED), 0);
    ck_assert_uint_eq(counter(STAT_COMMITS), 0);
}
END_TEST

/* With a route (a sticky balancer in front of memory stores), keys
 * travel as KEY.ROUTE. A login the action then refuses keeps the old key,
 * in links and forms too. */
START_TEST(routed_keys)
{
    char s[NORI_KEY_LEN + 1], k[NORI_KEY_LEN + 1], q[128], form[128], want[128];

    service_up("memory", "w1", CARRIER_URL);
    post_form("", "act=inc");
    ck_assert_int_eq(answer(), 303);
    key_after(header("Location"), "_s=", s);
    snprintf(want, sizeof want, "/app?pg=Home&_s=%s.w1", s);
    header_is("Location", want);

    snprintf(q, sizeof q, "pg=Home&_s=%s.w1", s);
    request(HTTP_GET, q);
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "count=1<"));
    key_after(body, "name=\"_k\" value=\"", k);
    /* The form's action URL carries the routed key too. */
    snprintf(want, sizeof want, "action=\"/app?_s=%s.w1\"", s);
    ck_assert_msg(strstr(body, want) != NULL, "no %s in: %s", want, body);

    snprintf(form, sizeof form, "act=loginshow&_s=%s.w1&_k=%s", s, k);
    post_form("", form);
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "Not now"));
    snprintf(want, sizeof want, "&amp;_s=%s.w1\"", s);
    ck_assert_msg(strstr(body, want) != NULL, "links lost the stored key: %s", body);
    snprintf(want, sizeof want, "name=\"_k\" value=\"%s\"", k);
    ck_assert_msg(strstr(body, want) != NULL, "the form lost its key: %s", body);
    count_is(s, 0);             /* without the route, no such key */
    snprintf(q, sizeof q, "%s.w1", s);
    count_is(q, 1);
    service_down();
}
END_TEST

/* The cookie carrier: the key travels in nori_s (Path=/app), never in a
 * URL; a sessionless page says Vary: Cookie. */
START_TEST(cookie_carrier)
{
    char cookie[64], k[NORI_KEY_LEN + 1], form[128];
    const char *set;

    service_up("memory", "", CARRIER_COOKIE);
    request(HTTP_GET, "");
    ck_assert_int_eq(answer(), 200);
    header_is("Cache-Control", "max-age=60");
    header_is("Vary", "Cookie");

    post_form("", "act=inc");
    ck_assert_int_eq(answer(), 303);
    header_is("Location", "/app?pg=Home");
    set = header("Set-Cookie");
    ck_assert_ptr_nonnull(set);
    ck_assert_msg(strncmp(set, "nori_s=", 7) == 0, "Set-Cookie: %s", set);
    ck_assert_ptr_nonnull(strstr(set, "; Path=/app; HttpOnly; SameSite=Lax"));
    snprintf(cookie, sizeof cookie, "nori_s=%.*s", NORI_KEY_LEN, set + 7);

    request(HTTP_GET, "pg=Home");
    req.cookie = cookie;
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "count=1<"));
    header_is("Cache-Control", "private, no-store");
    ck_assert_ptr_null(header("ETag"));
    ck_assert_ptr_null(header("Set-Cookie"));   /* nothing new to say */
    ck_assert(!carries_key(body));
    key_after(body, "name=\"_k\" value=\"", k);

    snprintf(form, sizeof form, "act=inc&_k=%s", k);
    post_form("", form);
    req.cookie = cookie;
    ck_assert_int_eq(answer(), 303);
    post_form("", "act=inc");                   /* the cookie, but no _k */
    req.cookie = cookie;
    error_is(403);
    request(HTTP_GET, "pg=Home");
    req.cookie = cookie;
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "count=2<"));

    /* Logout expires the cookie. */
    snprintf(form, sizeof form, "act=logout&_k=%s", k);
    post_form("", form);
    req.cookie = cookie;
    ck_assert_int_eq(answer(), 303);
    set = header("Set-Cookie");
    ck_assert_ptr_nonnull(set);
    ck_assert_ptr_nonnull(strstr(set, "nori_s=; "));
    ck_assert_ptr_nonnull(strstr(set, "Max-Age=0"));
    ck_assert_uint_eq(counter(STAT_COMMITS), 3);
    service_down();
}
END_TEST

/* The Links page under a prefix: every line's two halves agree; the
 * body is left in body for more checks. */
static void links_agree(const char *prefix, const char *query, const char *cookie)
{
    int lines = 0;

    request(HTTP_GET, query);
    req.script_name = prefix;
    req.cookie = cookie;
    ck_assert_int_eq(answer(), 200);
    for (const char *line = body; *line; lines++) {
        const char *nl = strchr(line, '\n'), *bar = strchr(line, '|');
        ck_assert_msg(nl && bar && bar < nl, "not a line of links: %s", line);
        ck_assert_msg(bar - line == nl - bar - 1 &&
                      memcmp(line, bar + 1, (size_t)(bar - line)) == 0,
                      "nori_url and nori_href differ: %.*s", (int)(nl - line), line);
        line = nl + 1;
    }
    ck_assert_int_eq(lines, 5);
}

/* A prepared link is the link nori_url writes, under any prefix (the
 * worker's kept one, another, an empty one, one to escape), with or
 * without a session, a route or the cookie carrier. */
START_TEST(prepared_links)
{
    static const char *const prefixes[] = {"/app", "", "/a&b\"c", "/app"};
    char s[NORI_KEY_LEN + 1], q[128], cookie[64];
    struct q one = {1};
    char small[8];
    size_t len;

    for (int route = 0; route < 2; route++) {
        service_up("memory", route ? "w1" : "", CARRIER_URL);
        for (size_t i = 0; i < 4; i++)
            links_agree(prefixes[i], "pg=Links", NULL);
        ck_assert(!carries_key(body));
        post_form("", "act=inc");
        ck_assert_int_eq(answer(), 303);
        key_after(header("Location"), "_s=", s);
        snprintf(q, sizeof q, "pg=Links&_s=%s%s", s, route ? ".w1" : "");
        for (size_t i = 0; i < 4; i++)
            links_agree(prefixes[i], q, NULL);
        ck_assert_ptr_nonnull(strstr(body, "&amp;_s="));
        ck_assert_ptr_nonnull(strstr(body, "/app?_s="));
        service_down();
    }

    service_up("memory", "", CARRIER_COOKIE);
    post_form("", "act=inc");
    ck_assert_int_eq(answer(), 303);
    snprintf(cookie, sizeof cookie, "nori_s=%.*s", NORI_KEY_LEN, header("Set-Cookie") + 7);
    for (size_t i = 0; i < 4; i++)
        links_agree(prefixes[i], "pg=Links", cookie);
    ck_assert(!carries_key(body));

    /* Too small a buffer is refused, not cut. */
    ck_assert_int_eq(nori_link_prepare(small, sizeof small, &q_grammar,
                                       &(struct nori_link){"Thing", &one}, &len), -1);
    service_down();
}
END_TEST

/* The status endpoint: JSON counters for this machine only. */
START_TEST(status_endpoint)
{
    request(HTTP_GET, "");
    req.path_info = "/nori-status";
    ck_assert_int_eq(answer(), 200);
    header_is("Content-Type", "application/json");
    header_is("Cache-Control", "no-store");
    ck_assert_ptr_nonnull(strstr(body, "\"commits\": 0"));
    ck_assert_ptr_nonnull(strstr(body, "\"store_backend\": \"memory\""));

    request(HTTP_GET, "");
    req.path_info = "/nori-status";
    req.remote_addr = "192.0.2.1";
    error_is(403);
    request(HTTP_GET, "");
    req.path_info = "/nori-status";
    req.proxied = 1;
    error_is(403);

    /* The Prometheus form: a sample line for every counter. */
    request(HTTP_GET, "");
    req.path_info = "/nori-status";
    req.query = "openmetrics";
    req.query_len = strlen(req.query);
    ck_assert_int_eq(answer(), 200);
    header_is("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(body, "\n# TYPE nori_requests_total counter\nnori_requests_total "));
    ck_assert_ptr_nonnull(strstr(body, "\nnori_errors_by_status_total{status=\"429\"} "));
    ck_assert_ptr_nonnull(strstr(body, "\nnori_store_latency_seconds_sum "));
    ck_assert_ptr_nonnull(strstr(body, "\nnori_store_up{backend=\"memory\"} 1\n"));
}
END_TEST

/* The health check: pong from this machine, a memory store always up. */
START_TEST(ping_endpoint)
{
    request(HTTP_GET, "");
    req.path_info = "/nori-ping";
    ck_assert_int_eq(answer(), 200);
    ck_assert_str_eq(body, "pong\n");
    header_is("Cache-Control", "no-store");
    ck_assert(resp.uncounted);
    request(HTTP_GET, "");
    req.path_info = "/nori-ping";
    req.remote_addr = "192.0.2.1";
    error_is(403);
    ck_assert(!resp.uncounted);
}
END_TEST

/* ---- what an application gets wrong ---- */

/* Lines the service logs (request_log: stderr, here) while capturing. */
static int saved_stderr = -1;
static char log_file[128];

static void log_capture(void)
{
    int fd;

    snprintf(log_file, sizeof log_file, "%s/log", rundir);
    fflush(stderr);
    ck_assert_int_ge(fd = open(log_file, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
    ck_assert_int_ge(saved_stderr = dup(2), 0);
    ck_assert_int_ge(dup2(fd, 2), 0);
    close(fd);
}

/* Stops capturing; how many lines hold needle. */
static int log_lines(const char *needle)
{
    char line[1024];
    int n = 0;
    FILE *f;

    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    ck_assert_ptr_nonnull(f = fopen(log_file, "r"));
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* A page's status other than 200 or a 4xx/5xx: a 500 (not "0 Unknown",
 * not a 302 without a Location), nothing cached, one log line per page
 * and status however often it is asked, and the next page is served. */
START_TEST(page_statuses_checked)
{
    static const int odd[] = {0, 302, 600, -1, 304, 399};

    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        char needle[64];

        odd_status = odd[i];
        snprintf(needle, sizeof needle, "page Odd returned %d ", odd[i]);
        log_capture();
        for (int k = 0; k < 3; k++) {
            request(HTTP_GET, "pg=Odd");
            error_is(500);
            ck_assert_ptr_null(strstr(body, "odd\n"));
        }
        ck_assert_int_eq(log_lines(needle), 1);
        request(HTTP_GET, "pg=Home");
        ck_assert_int_eq(answer(), 200);
    }
    /* What a page may return is answered as it is. */
    odd_status = 404;
    request(HTTP_GET, "pg=Odd");
    error_is(404);
    odd_status = 418;
    request(HTTP_GET, "pg=Odd");
    error_is(418);
    odd_status = 200;
    request(HTTP_GET, "pg=Odd");
    ck_assert_int_eq(answer(), 200);
}
END_TEST

/* A link to a page not in the table: 500, with the name in the log;
 * a prepared one is refused when it is prepared. */
START_TEST(unknown_page_links)
{
    char prepared[64];
    size_t len = 0;

    log_capture();
    request(HTTP_GET, "pg=Typo");
    error_is(500);
    request(HTTP_GET, "pg=Typo");
    error_is(500);
    ck_assert_int_eq(log_lines("page Typo links to page 'Thnig'"), 1);

    request(HTTP_GET, "pg=Hand&id=1");
    ck_assert_int_eq(answer(), 200);
    ck_assert_ptr_nonnull(strstr(body, "href=\"/app?pg=Thing&amp;id=1\""));
    log_capture();
    request(HTTP_GET, "pg=Hand&id=2");
    error_is(500);
    ck_assert_int_eq(log_lines("page Hand links to page 'Nope'"), 1);

    ck_assert_int_eq(nori_link_prepare(prepared, sizeof prepared, &q_grammar,
                                       &(struct nori_link){"Nope", NULL}, &len), -1);
    ck_assert_int_eq(nori_link_prepare(prepared, sizeof prepared, &q_grammar,
                                       &(struct nori_link){"Thing", NULL}, &len), 0);
    ck_assert_str_eq(prepared, "?pg=Thing");
}
END_TEST

/* What act returns: a failure that is not a 4xx/5xx, a redirect that is
 * not a 303 or goes to no page, a page to show that is not in the table,
 * an outcome nori.h does not have. Each is a 500, logged with what was
 * wrong; what the action wrote is not kept, so no session is made. */
START_TEST(action_results_checked)
{
    static const struct {
        const char *act, *logged;
    } wrong[] = {
        {"failok", "action failok returned a failure of status 200"},
        {"failfound", "action failfound returned a failure of status 302"},
        {"redirectfound", "action redirectfound returned a redirect of status 302"},
        {"redirectnope", "action redirectnope returned a redirect to page 'Nope'"},
        {"shownope", "action shownope returned page 'Nope' to show"},
        {"outcomethree", "action outcomethree returned outcome 3"},
    };

    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        char form[64];

        snprintf(form, sizeof form, "act=%s", wrong[i].act);
        log_capture();
        for (int k = 0; k < 2; k++) {
            post_form("", form);
            error_is(500);
            ck_assert_ptr_null(header("Location"));
            ck_assert_msg(!carries_key(body), "%s: a key no store holds: %s", wrong[i].act,
                          body);
        }
        ck_assert_msg(log_lines(wrong[i].logged) == 1, "%s: not logged once", wrong[i].act);
    }
    ck_assert_uint_eq(counter(STAT_SESSIONS_CREATED), 0);
    ck_assert_uint_eq(counter(STAT_COMMITS), 0);
    post_form("", "act=inc");
    ck_assert_int_eq(answer(), 303);
}
END_TEST

/* On a live session too: the state the action wrote is put back. */
START_TEST(action_result_keeps_session)
{
    char s[NORI_KEY_LEN + 1], k[NORI_KEY_LEN + 1], form[128];

    service_up("memory", "", CARRIER_URL);
    post_form("", "act=inc");
    ck_assert_int_eq(answer(), 303);
    key_after(header("Location"), "_s=", s);
    count_is(s, 1);
    key_after(body, "name=\"_k\" value=\"", k);
    snprintf(form, sizeof form, "act=failok&_s=%s&_k=%s", s, k);
    post_form("", form);
    error_is(500);
    count_is(s, 1);
    ck_assert_uint_eq(counter(STAT_COMMITS), 1);
    service_down();
}
END_TEST

/* At start: a page table with a name twice, or a page without a name or
 * a render function, is refused with a line naming it. */
START_TEST(page_table_checked)
{
    struct nori_page twice[] = {{"Home", home_render, 0}, {"Home", thing_render, 0}};
    struct nori_page nameless[] = {{"Home", home_render, 0}, {NULL, thing_render, 0}};
    struct nori_page blank[] = {{"Home", home_render, 0}, {"Thing", NULL, 0}};
    struct nori_page spaced[] = {{"Home page", home_render, 0}};
    struct {
        struct nori_page *pages;
        size_t n;
        const char *said;
    } bad[] = {
        {twice, 2, "page 'Home'"}, {nameless, 2, "page 2 of"}, {blank, 2, "page 2 of"},
        {spaced, 1, "page 'Home page'"},
    };
    struct service other;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct nori_app a = app;
        char err[256] = "";

        a.pages = bad[i].pages;
        a.npages = bad[i].n;
        ck_assert_int_eq(service_init(&other, &a, &cfg, err, sizeof err), -1);
        ck_assert_msg(strstr(err, bad[i].said) != NULL, "%s", err);
    }
    page_table_set(&app);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("sessionless");
    TCase *ts = tcase_create("sessions");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup_memory, service_down);
    tcase_add_test(tc, home_is_public_and_validated);
    tcase_add_test(tc, form_without_class);
    tcase_add_test(tc, page_cache_dates_pages);
    tcase_add_test(tc, http_dates);
    tcase_add_test(tc, bad_urls);
    tcase_add_test(tc, bad_posts);
    tcase_add_test(tc, refused_actions_make_no_session);
    tcase_add_test(tc, status_endpoint);
    tcase_add_test(tc, ping_endpoint);
    tcase_add_test(tc, page_statuses_checked);
    tcase_add_test(tc, unknown_page_links);
    tcase_add_test(tc, action_results_checked);
    tcase_add_test(tc, page_table_checked);
    suite_add_tcase(s, tc);
    /* Loop 0: the memory store; 1: LMDB in the run directory. */
    tcase_add_loop_test(ts, session_lifecycle, 0, 2);
    tcase_add_test(ts, routed_keys);
    tcase_add_test(ts, cookie_carrier);
    tcase_add_test(ts, prepared_links);
    tcase_add_test(ts, action_result_keeps_session);
    suite_add_tcase(s, ts);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
