/* test_html.c -- what an application author used to write by hand and
 * nori now owns (issue 19): the escaping HTML writer, the action table,
 * the default state codec, pages that shape their own answer, the
 * redirect whose query is copied, and load_config. Driven in memory as
 * test_dispatch.c drives its application: a struct request built by
 * hand through service_handle() of a service made for the apps below,
 * on the in-process memory store, CK_NOFORK. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "fcgi/arena.h"
#include "fcgi/http.h"
#include "fcgi/stats.h"
#include "fcgi/worker.h"
#include "nori/service.h"
#include "session/session.h"

/* ---- the applications ---- */

struct q {
    uint32_t id;
};

/* Kept by nori's default codec: the struct's bytes. */
struct st {
    uint32_t total;
    char last[17];
};

struct add_form {
    uint32_t n;
    char note[17];
};

static const struct nori_field q_fields[] = {
    NORI_FIELD_UINT(struct q, id, "id", 1, 100, 0),
};

static const struct nori_field add_fields[] = {
    NORI_FIELD_UINT(struct add_form, n, "n", 1, 50, 0),
    NORI_FIELD_TEXT(struct add_form, note, "note", 1, 16),
};

/* What each id of the Elems page does, so that one page exercises every
 * call of the writer. */
static int elems_render(struct nori_req *r)
{
    const struct q *q = r->query;

    switch (q->id) {
    case 1:     /* escaping, void elements, nesting, formatted text */
        nori_elem(r, "main", NULL);
        nori_elem(r, "p", "class", "a\"b<c>&'", "data-x", "", NULL);
        nori_text(r, "<b>&");
        nori_elem(r, "br", NULL);
        nori_textf(r, "%s=%d", "<i>", 7);
        nori_close(r);
        nori_elem(r, "ul", NULL);
        nori_elem(r, "li", NULL);
        nori_html_unescaped_trusted(r, "<em>ok</em>", 11);
        nori_close_all(r);
        return 200;
    case 2:     /* a tag name out of [a-z0-9-] */
        nori_elem(r, "main", NULL);
        nori_elem(r, "P", NULL);
        nori_text(r, "after");
        return 200;
    case 3:     /* an attribute name with a blank */
        nori_elem(r, "p", "on click", "x", NULL);
        return 200;
    case 4:     /* a close with nothing open */
        nori_html_unescaped_trusted(r, "<p>4", 4);
        nori_close(r);
        return 200;
    case 5:     /* one element more than the bound */
    case 6:     /* exactly the bound */
        for (unsigned i = 0; i < NORI_HTML_DEPTH + (q->id == 5); i++)
            nori_elem(r, "div", NULL);
        nori_close_all(r);
        return 200;
    case 7:     /* a tag that would end itself */
        nori_elem(r, "scr>ipt", NULL);
        return 200;
    case 8:     /* a link element */
        nori_elem_link(r, &(struct nori_link){"Elems", &(struct q){9}}, "class", "x\"y",
                       NULL);
        nori_text(r, "nine");
        nori_close(r);
        return 200;
    case 9:     /* an attribute without a value */
        nori_elem(r, "p", "data-z", NULL);
        return 200;
    case 10:    /* a name too long */
        nori_elem(r, "abcdefghijklmnopqrstuvwxyz0123456", NULL);
        return 200;
    case 11:    /* formatted text longer than the writer's small buffer */
        nori_textf(r, "%0300d<", 5);
        return 200;
    }
    return 404;
}

static int answers_render(struct nori_req *r)
{
    const struct q *q = r->query;
    const char *v;

    switch (q->id) {
    case 1:
        ck_assert_int_eq(nori_content_type(r, "application/json"), 0);
        nori_response_puts(r->resp, "{\"a\":1}\n");
        ck_assert(r->nori->page_private);
        return 200;
    case 2:
        ck_assert_int_eq(nori_content_type(r, "text/csv"), 0);
        nori_response_puts(r->resp, "a,b\n");
        return 200;
    case 3:
        ck_assert_int_eq(nori_content_type(r, "text/plain; charset=latin1"), 0);
        return 200;
    case 4:     /* refused: the default stays */
        ck_assert_int_eq(nori_content_type(r, "json"), -1);
        ck_assert_int_eq(nori_content_type(r, "text/html\r\nX: y"), -1);
        ck_assert_int_eq(nori_content_type(r, "a b/c"), -1);
        ck_assert(!r->nori->page_private);
        return 200;
    case 5:
        ck_assert(!r->nori->page_private);
        ck_assert_int_eq(nori_header(r, "X-Mine", "yes"), 0);
        ck_assert(r->nori->page_private);
        ck_assert_int_eq(nori_header(r, "Set-Cookie", "a=b"), -1);
        ck_assert_int_eq(nori_header(r, "cache-control", "public"), -1);
        ck_assert_int_eq(nori_header(r, "Content-Security-Policy", "x"), -1);
        ck_assert_int_eq(nori_header(r, "Status", "200"), -1);
        ck_assert_int_eq(nori_header(r, "Content-Length", "1"), -1);
        ck_assert_int_eq(nori_header(r, "X-Split", "a\r\nSet-Cookie: x"), -1);
        ck_assert_int_eq(nori_header(r, "X-Bad Name", "a"), -1);
        ck_assert_int_eq(nori_header(r, "X-Colon:", "a"), -1);
        ck_assert_int_eq(nori_header(r, "", "a"), -1);
        return 200;
    case 6:
        v = nori_request_header(r, "Accept-Language");
        ck_assert(r->nori->page_private);
        nori_text(r, v ? v : "(none)");
        nori_text(r, "|");
        v = nori_request_header(r, "content-type");
        nori_text(r, v ? v : "(none)");
        nori_text(r, "|");
        v = nori_request_header(r, "X-Absent");
        nori_text(r, v ? v : "(none)");
        nori_text(r, "|");
        v = nori_request_header(r, "Bad=Name");
        nori_text(r, v ? v : "(none)");
        return 200;
    case 7:     /* with an element left open: the error page's is its own */
        nori_elem(r, "section", NULL);
        return nori_page_fail(r, 404, "No such entry.");
    case 8:
        return 404;
    case 9:     /* not a failure's status */
        return nori_page_fail(r, 200, "fine");
    }
    return 404;
}

static int home_render(struct nori_req *r)
{
    const struct st *s = nori_state(r);

    nori_elem(r, "p", NULL);
    nori_textf(r, "total=%u last=%s", s ? s->total : 0, s ? s->last : "");
    nori_close(r);
    nori_form_open(r, NULL, "add");
    nori_html_unescaped_trusted(r, "</form>", 7);
    return 200;
}

static struct nori_result add_run(struct nori_req *r)
{
    const struct add_form *f = r->form;
    struct st *s = nori_state_write(r);
    struct q next = {f->n};     /* on the stack: nori_redirect_to copies it */

    if (s == NULL)
        return nori_fail(503, "No session.");
    s->total += f->n;
    memcpy(s->last, f->note, sizeof s->last);
    return nori_redirect_to(r, "Home", &next);
}

static struct nori_result clear_run(struct nori_req *r)
{
    struct st *s = nori_state_write(r);

    if (s == NULL)
        return nori_fail(503, "No session.");
    ck_assert_ptr_nonnull(r->form);
    memset(s, 0, sizeof *s);
    return nori_redirect("Home", NULL);
}

static const struct nori_action actions[] = {
    {"add", {add_fields, 2, sizeof(struct add_form)}, 1u << 0, add_run},
    {"clear", {NULL, 0, 0}, 0, clear_run},
};

static const struct nori_page pages[] = {
    {"Home", home_render, 0},
    {"Elems", elems_render, 0},
    {"Answers", answers_render, 1},
};

/* Written with the writer too: after a page's refused call or with the
 * page's elements still open, it starts from nothing open. */
static void error_page(struct nori_req *r, int status, const char *why)
{
    nori_elem(r, "div", "class", "err", NULL);
    nori_textf(r, "%d %s", status, why);
    nori_close_all(r);
}

/* No act, no codec: an action table and nori's state codec. */
static const struct nori_app app = {
    .name = "test_html",
    .query = {q_fields, 1, sizeof(struct q)},
    .pages = pages,
    .npages = sizeof pages / sizeof pages[0],
    .state = {.size = sizeof(struct st)},
    .actions = actions,
    .nactions = sizeof actions / sizeof actions[0],
    .error_page = error_page,
};

/* Pages only: nothing a POST could do. */
static const struct nori_app app_pages_only = {
    .name = "test_html_pages",
    .query = {q_fields, 1, sizeof(struct q)},
    .pages = pages,
    .npages = sizeof pages / sizeof pages[0],
};

/* ---- the service and one request (as test_dispatch.c has them) ---- */


static char rundir[64];
static char stats_file[128];
static struct nori_config cfg;
static struct service svc;
static struct stats *stats;
#include "drive.h"

static void service_up(const struct nori_app *a)
{
    char err[512] = "";

    snprintf(rundir, sizeof rundir, "/tmp/nori-test-html-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rundir));
    config_defaults(&cfg, rundir, "memory");
    ck_assert_msg(service_init(&svc, a, &cfg, err, sizeof err) == 0, "%s", err);
    snprintf(stats_file, sizeof stats_file, "%s/stats", rundir);
    ck_assert_ptr_nonnull(stats = stats_open(stats_file, 1));
    svc.stats = svc.sessions.stats = stats;
    ck_assert_int_eq(arena_init(&arena, 64 * 1024), 0);
}

static void setup(void)
{
    service_up(&app);
}

static void setup_pages_only(void)
{
    service_up(&app_pages_only);
}

static void teardown(void)
{
    char cmd[160];

    service_free(&svc);
    stats_close(stats);
    stats = NULL;
    arena_free(&arena);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", rundir);
    ck_assert_int_eq(system(cmd), 0);
}


static void body_lacks(const char *unwanted)
{
    ck_assert_msg(strstr(body, unwanted) == NULL, "did not want %s in: %s", unwanted, body);
}

static int get(const char *query)
{
    request(HTTP_GET, query);
    return answer();
}

/* ---- the HTML writer ---- */

START_TEST(writer_escapes_and_nests)
{
    ck_assert_int_eq(get("pg=Elems&id=1"), 200);
    ck_assert_str_eq(body, "<main><p class=\"a&quot;b&lt;c&gt;&amp;&#39;\" data-x=\"\">"
                           "&lt;b&gt;&amp;<br>&lt;i&gt;=7</p><ul><li><em>ok</em>"
                           "</li></ul></main>");
    ck_assert_int_eq(get("pg=Elems&id=6"), 200);
    ck_assert_uint_eq(strlen(body), NORI_HTML_DEPTH * strlen("<div></div>"));
    ck_assert_int_eq(get("pg=Elems&id=11"), 200);
    ck_assert_uint_eq(strlen(body), 299 + strlen("5&lt;"));
    body_has("00005&lt;");
}
END_TEST

/* Each refused call answers 500 with the error page, and nothing of
 * what the call was given reaches the body. */
START_TEST(writer_refuses_bad_calls)
{
    static const struct {
        const char *query, *unwanted;
    } cases[] = {
        {"pg=Elems&id=2", "<P"},       {"pg=Elems&id=3", "on click"},
        {"pg=Elems&id=4", "<p>4"},       {"pg=Elems&id=5", "<div>"},
        {"pg=Elems&id=7", "scr>ipt"},  {"pg=Elems&id=9", "data-z"},
        {"pg=Elems&id=10", "abcdefghijklmnopqrstuvwxyz"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_msg(get(cases[i].query) == 500, "%s", cases[i].query);
        header_is("Cache-Control", "no-store");
        body_lacks(cases[i].unwanted);
        body_lacks("after");
        ck_assert_str_eq(body, "<div class=\"err\">500 Please try again.</div>");
    }
}
END_TEST

START_TEST(writer_links)
{
    ck_assert_int_eq(get("pg=Elems&id=8"), 200);
    ck_assert_str_eq(body, "<a href=\"/app?pg=Elems&amp;id=9\" class=\"x&quot;y\">nine</a>");
}
END_TEST

/* ---- the action table and the default codec ---- */

static void key_after(const char *s, const char *marker, char out[NORI_KEY_LEN + 1])
{
    const char *p = strstr(s, marker);

    ck_assert_msg(p != NULL, "no %s in: %s", marker, s);
    memcpy(out, p + strlen(marker), NORI_KEY_LEN);
    out[NORI_KEY_LEN] = '\0';
}

START_TEST(actions_by_table)
{
    char key[NORI_KEY_LEN + 1], k[NORI_KEY_LEN + 1], form[256], q[64];

    post_form("", "act=nosuch&n=1");
    ck_assert_int_eq(answer(), 400);
    body_has("There is no such action.");

    /* n is required by add; note is not. */
    post_form("", "act=add&note=hi");
    ck_assert_int_eq(answer(), 400);
    body_has("The form needs its field &#39;n&#39;.");

    /* The action's grammar checks its fields as a page's does. */
    post_form("", "act=add&n=51");
    ck_assert_int_eq(answer(), 400);
    post_form("", "act=add&n=1&n=2");
    ck_assert_int_eq(answer(), 400);

    /* A form without act is refused as before. */
    post_form("", "n=1");
    ck_assert_int_eq(answer(), 400);
    body_has("The form says no action.");

    post_form("", "act=add&n=5&note=first");
    ck_assert_int_eq(answer(), 303);
    /* nori_redirect_to copied the query off add_run's stack. */
    const char *loc = header("Location");
    ck_assert_ptr_nonnull(loc);
    ck_assert_msg(strncmp(loc, "/app?pg=Home&id=5&_s=", 21) == 0, "%s", loc);
    key_after(loc, "_s=", key);

    /* The state went through nori's codec to the store and back. */
    snprintf(q, sizeof q, "pg=Home&_s=%s", key);
    ck_assert_int_eq(get(q), 200);
    body_has("total=5 last=first");
    key_after(body, "name=\"_k\" value=\"", k);
    snprintf(form, sizeof form, "act=add&n=7&note=second&_s=%s&_k=%s", key, k);
    post_form("", form);
    ck_assert_int_eq(answer(), 303);
    ck_assert_int_eq(get(q), 200);
    body_has("total=12 last=second");
    /* An action without fields: r->form is still a struct to read. */
    snprintf(form, sizeof form, "act=clear&_s=%s&_k=%s", key, k);
    post_form("", form);
    ck_assert_int_eq(answer(), 303);
    ck_assert_int_eq(get(q), 200);
    body_has("total=0 last=<");
}
END_TEST

/* nori's codec: the struct's bytes, refused back at another length or
 * version. */
START_TEST(default_codec)
{
    struct nori_state_codec codec = svc.codec;
    struct st in = {42, "note"}, out;
    struct session s = {.state = &in}, back = {.state = &out};
    unsigned char buf[512];
    size_t len;

    ck_assert_ptr_null(codec.encode);
    ck_assert_uint_eq(codec.version, 1);
    ck_assert_uint_eq(codec.size, sizeof(struct st));
    memset(s.key, 'A', NORI_KEY_LEN);
    memset(s.form_key, 'B', NORI_KEY_LEN);
    s.created = s.expires = 1000;
    ck_assert_uint_gt(len = record_encode(&s, &codec, buf, sizeof buf), sizeof in);
    memset(&out, 0xff, sizeof out);
    ck_assert_int_eq(record_decode(buf, len, &codec, &back), RECORD_OK);
    ck_assert_int_eq(memcmp(&in, &out, sizeof in), 0);

    struct nori_state_codec longer = codec, newer = codec;
    struct {
        struct st st;
        char more[8];
    } big;
    struct session bigger = {.state = &big};
    longer.size += 8;
    ck_assert_int_eq(record_decode(buf, len, &longer, &bigger), RECORD_ESTATE);
    newer.version = 2;
    ck_assert_int_eq(record_decode(buf, len, &newer, &back), RECORD_ESTATE);
}
END_TEST

/* ---- pages that shape their own answers ---- */

START_TEST(own_content_types)
{
    ck_assert_int_eq(get("pg=Answers&id=1"), 200);
    header_is("Content-Type", "application/json");
    ck_assert_str_eq(body, "{\"a\":1}\n");
    ck_assert_ptr_nonnull(header("Content-Security-Policy"));
    ck_assert_int_eq(get("pg=Answers&id=2"), 200);
    header_is("Content-Type", "text/csv; charset=utf-8");
    ck_assert_int_eq(get("pg=Answers&id=3"), 200);
    header_is("Content-Type", "text/plain; charset=latin1");
    ck_assert_int_eq(get("pg=Answers&id=4"), 200);
    header_is("Content-Type", "text/html; charset=utf-8");
}
END_TEST

START_TEST(own_headers)
{
    ck_assert_int_eq(get("pg=Answers&id=5"), 200);
    header_is("X-Mine", "yes");
    ck_assert_ptr_null(header("Set-Cookie"));
    ck_assert_ptr_null(header("X-Split"));
    header_is("Cache-Control", "max-age=60");
}
END_TEST

START_TEST(request_headers)
{
    char *env[] = {"QUERY_STRING=pg=Answers&id=6", "HTTP_ACCEPT_LANGUAGE=de, en;q=0.5",
                   "CONTENT_TYPE=text/x-test", "HTTP_ACCEPT_LANGUAGE=fr", NULL};

    request(HTTP_GET, "pg=Answers&id=6");
    req.env = env;
    ck_assert_int_eq(answer(), 200);
    ck_assert_str_eq(body, "de, en;q=0.5|text/x-test|(none)|(none)");
    header_is("Cache-Control", "private, max-age=60");
    request(HTTP_GET, "pg=Answers&id=6");
    ck_assert_int_eq(answer(), 200);
    ck_assert_str_eq(body, "(none)|(none)|(none)|(none)");
}
END_TEST

/* The page cache keeps Answers (cache 1) as nori renders it, but never
 * one that set its own type or a header, or read a request header. */
START_TEST(shaped_pages_are_not_kept)
{
    char err[256];

    ck_assert_msg(cache_open(&svc.cache, rundir, 1, 1 << 20, svc.etag, stats, err,
                             sizeof err) == CACHE_OK, "%s", err);
    ck_assert_uint_eq(stats_get(stats, STAT_CACHE_PAGES), 0);
    ck_assert_int_eq(get("pg=Answers&id=4"), 200);
    ck_assert_uint_eq(stats_get(stats, STAT_CACHE_PAGES), 1);
    ck_assert_int_eq(get("pg=Answers&id=1"), 200);     /* its own type */
    ck_assert_int_eq(get("pg=Answers&id=2"), 200);
    ck_assert_int_eq(get("pg=Answers&id=5"), 200);     /* its own header */
    ck_assert_int_eq(get("pg=Answers&id=6"), 200);     /* read a request header */
    ck_assert_uint_eq(stats_get(stats, STAT_CACHE_PAGES), 1);
}
END_TEST

START_TEST(page_reasons)
{
    ck_assert_int_eq(get("pg=Answers&id=7"), 404);
    ck_assert_str_eq(body, "<div class=\"err\">404 No such entry.</div>");
    body_lacks("Nothing here has that number.");
    /* A page that just returns 404 keeps today's wording. */
    ck_assert_int_eq(get("pg=Answers&id=8"), 404);
    body_has("Nothing here has that number.");
    ck_assert_int_eq(get("pg=Answers&id=9"), 500);
    body_lacks("fine");
}
END_TEST

/* ---- an application of pages only ---- */

START_TEST(pages_only_refuses_posts)
{
    post_form("", "act=add&n=1");
    ck_assert_int_eq(answer(), 405);
    header_is("Allow", "GET, HEAD");
    ck_assert_int_eq(get("pg=Home"), 200);
    body_has("total=0");
}
END_TEST

/* ---- what service_init refuses ---- */

static struct nori_result act_any(struct nori_req *r)
{
    (void)r;
    return nori_redirect("Home", NULL);
}

static int encode_any(const void *state, unsigned char *buf, size_t cap, size_t *len)
{
    (void)state, (void)buf, (void)cap;
    *len = 0;
    return 0;
}

START_TEST(init_refuses)
{
    struct nori_action bad_name[] = {{"Add", {NULL, 0, 0}, 0, act_any}};
    struct nori_action no_run[] = {{"add", {NULL, 0, 0}, 0, NULL}};
    struct nori_action twice[] = {{"add", {NULL, 0, 0}, 0, act_any},
                                  {"add", {NULL, 0, 0}, 0, act_any}};
    struct nori_action beyond[] = {{"add", {add_fields, 2, sizeof(struct add_form)},
                                    1u << 2, act_any}};
    struct nori_action long_name[] = {{"abcdefghijklmnopq", {NULL, 0, 0}, 0, act_any}};
    struct nori_app a;
    struct service s;
    char err[512];

#define REFUSED(...)                                                        \
    do {                                                                    \
        a = app;                                                            \
        __VA_ARGS__;                                                        \
        ck_assert_int_eq(service_init(&s, &a, &cfg, err, sizeof err), -1);  \
    } while (0)
    REFUSED(a.actions = bad_name, a.nactions = 1);
    REFUSED(a.actions = no_run, a.nactions = 1);
    REFUSED(a.actions = twice, a.nactions = 2);
    REFUSED(a.actions = beyond, a.nactions = 1);
    REFUSED(a.actions = long_name, a.nactions = 1);
    REFUSED(a.act = act_any);                           /* act and a table */
    REFUSED(a.form = app.query);                        /* the table's are the fields */
    REFUSED(a.actions = NULL, a.nactions = 0);          /* state, nothing to change it */
    REFUSED(a.state.encode = encode_any);               /* half a codec */
    REFUSED(a.state.size = NORI_STATE_MAX + 1);
    ck_assert_ptr_nonnull(strstr(err, "state"));
#undef REFUSED
}
END_TEST

/* ---- load_config, and the worker's parameter table ---- */

struct settings {
    const char *greeting;
};

static struct settings settings;
static int loaded_with_config;

static const struct nori_setting app_settings[] = {
    NORI_SETTING_STR(struct settings, "NORI_TEST_GREETING", "test-greeting", greeting,
                     "hello", "a word for the test"),
};

static int load_config(void *data, const void *config, const char *rundir_, char *err,
                       size_t errlen)
{
    const struct settings *c = config;

    (void)data, (void)rundir_;
    if (c != &settings || strcmp(c->greeting, "hi") != 0) {
        snprintf(err, errlen, "load_config saw the wrong settings");
        return -1;
    }
    loaded_with_config++;
    return 0;
}

static int load_old(void *data, const char *rundir_, char *err, size_t errlen)
{
    (void)data, (void)rundir_;
    snprintf(err, errlen, "load was called instead of load_config");
    return -1;
}

START_TEST(load_receives_settings)
{
    struct nori_app a = app;
    char dir[64] = "/tmp/nori-test-load-XXXXXX", flag[128], cmd[96];
    char *argv[] = {"test_html", "check", flag, "--test-greeting=hi", NULL};

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(flag, sizeof flag, "--rundir=%s", dir);
    a.settings = app_settings;
    a.nsettings = 1;
    a.config = &settings;
    a.load = load_old;
    a.load_config = load_config;
    ck_assert_int_eq(nori_main(&a, 4, argv), 0);
    ck_assert_int_eq(loaded_with_config, 1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(worker_params_table_sorted)
{
    ck_assert(worker_params_sorted());
}
END_TEST

int main(void)
{
    Suite *s = suite_create("html");
    TCase *tc = tcase_create("app");
    TCase *tp = tcase_create("pages-only");
    TCase *tl = tcase_create("load");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, writer_escapes_and_nests);
    tcase_add_test(tc, writer_refuses_bad_calls);
    tcase_add_test(tc, writer_links);
    tcase_add_test(tc, actions_by_table);
    tcase_add_test(tc, default_codec);
    tcase_add_test(tc, own_content_types);
    tcase_add_test(tc, own_headers);
    tcase_add_test(tc, request_headers);
    tcase_add_test(tc, page_reasons);
    tcase_add_test(tc, shaped_pages_are_not_kept);
    tcase_add_test(tc, init_refuses);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(tp, setup_pages_only, teardown);
    tcase_add_test(tp, pages_only_refuses_posts);
    suite_add_tcase(s, tp);
    tcase_add_test(tl, load_receives_settings);
    tcase_add_test(tl, worker_params_table_sorted);
    suite_add_tcase(s, tl);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
