/* fuzz_cookie.c -- libFuzzer target for the session binding as a hostile
 * Cookie header reaches it: the real visit.c reads the header (nori_b,
 * nori_s, __Host- names, the route), creates a session in the real
 * memory store, answers with its cookies, and is then visited again.
 *
 * The first input byte picks the settings (carrier, binding, Secure,
 * HTTPS, a route, the mount); the rest is the Cookie header. What must
 * hold whatever the header says:
 *   - a created session's binding is minted here: 22 key characters,
 *     never a value the header carries (a planted nori_b is not adopted);
 *   - the answer sets that binding exactly once, and every cookie value
 *     is a key nori minted, in a line without CR or LF;
 *   - with the url carrier, the session's _s under the hostile header
 *     alone is not the session (the header does not hold its binding),
 *     and under its real binding cookie first it is.
 * A failed check aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/http.h"
#include "session/store_impl.h"
#include "session/visit.h"
#include "invariant.h"

/* This target links the memory store only: "memory" is the spec, and
 * the other backends' tables are here to be refused. */
static struct store *no_open(const char *spec, const struct store_options *opt,
                             char *err, size_t errlen)
{
    (void)spec, (void)opt, (void)err, (void)errlen;
    CHECK(!"a backend this target does not link");
    return NULL;
}
const struct store_ops store_lmdb_ops = {.name = "lmdb", .open = no_open};
const struct store_ops store_redis_ops = {.name = "redis", .open = no_open};
int lmdb_spec_check(const char *spec, char *err, size_t errlen)
{
    return no_open(spec, NULL, err, errlen) ? 0 : -1;
}
/* The worker's log calls (fcgi/worker.c, not linked): the memory store
 * logs a dead worker's sessions it claims, which a fuzz run never has. */
void request_log(const struct request *req, const char *fmt, ...) { (void)req, (void)fmt; }
void worker_log_text(const char *prefix, const char *kind, const char *text)
{
    (void)prefix, (void)kind, (void)text;
}

static int enc(const void *state, unsigned char *buf, size_t cap, size_t *len)
{
    (void)state, (void)buf, (void)cap;
    *len = 0;
    return 0;
}
static int dec(void *state, unsigned version, const unsigned char *buf, size_t len)
{
    (void)state, (void)buf;
    return version == 1 && len == 0 ? 0 : -1;
}
static const struct nori_state_codec codec = {1, 1, enc, dec};

/* ---- the actions ---- */

#define NOW 1000000

static int make_session(struct visit *v, void *arg)
{
    (void)arg;
    CHECK(visit_ensure(v, NOW) == VISIT_OK);
    return 303;
}

static int look(struct visit *v, void *arg)
{
    *(int *)arg = v->live;
    return 200;
}

/* Every Set-Cookie line of the answer: NAME=VALUE; ..., the value a
 * minted key (or KEY.ROUTE); the nori_b one, counted, is bind. */
static int check_cookies(const struct response *resp, const char *bind)
{
    const char *p = resp->head, *end = resp->head + resp->head_len;
    int binds = 0;

    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        CHECK(eol && eol + 1 < end && eol[1] == '\n');
        if ((size_t)(eol - p) > 12 && memcmp(p, "Set-Cookie: ", 12) == 0) {
            const char *line = p + 12;
            const char *eq = memchr(line, '=', (size_t)(eol - line));
            const char *semi = memchr(line, ';', (size_t)(eol - line));
            CHECK(eq && semi && eq < semi && memchr(line, '\n', (size_t)(eol - line)) == NULL);
            size_t n = (size_t)(semi - eq - 1);
            CHECK(n >= NAV_KEY_LEN && nav_key_shaped(eq + 1, NAV_KEY_LEN));
            if (eq - line >= 6 && memcmp(eq - 6, "nori_b", 6) == 0) {
                binds++;
                CHECK(n == NAV_KEY_LEN && memcmp(eq + 1, bind, NAV_KEY_LEN) == 0);
            }
        }
        p = eol + 2;
    }
    return binds;
}

struct req_ctx {
    struct arena ar;
    struct request req;
    struct response resp;
};

static void req_begin(struct req_ctx *c, uint8_t mode, const char *cookie)
{
    memset(c, 0, sizeof *c);
    CHECK(arena_init(&c->ar, 16 * 1024) == 0);
    c->req.arena = &c->ar;
    c->req.query = "";
    c->req.script_name = mode & 0x20 ? "" : "/shop";
    c->req.path_info = "";
    c->req.cookie = cookie;
    c->req.https = (mode & 0x40) != 0;
    c->req.body = "";
    response_init(&c->resp, &c->ar);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const routes[] = {"", "w1", "a-b_9"};
    struct sessions ss = {0};
    struct req_ctx c;
    struct visit v;
    char *cookie, *both, bind[NAV_KEY_LEN + 1] = "", skey[NAV_SKEY_MAX + 1];
    int status = 0, live = -1;

    if (size < 1 || size > 8192)
        return 0;
    uint8_t mode = data[0];
    data++, size--;
    CHECK((cookie = malloc(size + 1)) != NULL);
    memcpy(cookie, data, size);
    cookie[size] = '\0';        /* a NUL ends the header, as in a param */

    ss.store_spec = "memory";
    ss.carrier = mode & 1 ? CARRIER_COOKIE : CARRIER_URL;
    ss.bind = !(mode & 2);
    ss.cookie_secure = (mode & 4) != 0;
    ss.route = routes[(mode >> 3) % 3];
    ss.life.ttl = 600;
    ss.life.max_age = 8 * 3600;
    ss.codec = &codec;
    int url = ss.carrier == CARRIER_URL && ss.bind;

    /* 1: a first add under the hostile header. */
    req_begin(&c, mode, cookie);
    CHECK(visit_run(&v, &ss, &c.req, NULL, NOW, make_session, NULL, &status) == VISIT_OK);
    CHECK(status == 303 && v.live && v.fresh && v.committed);
    if (url) {
        memcpy(bind, v.s.bind, sizeof bind);
        CHECK(strlen(bind) == NAV_KEY_LEN && nav_key_shaped(bind, NAV_KEY_LEN));
        CHECK(strstr(cookie, bind) == NULL);        /* not adopted from it */
        CHECK(v.set_bind);
    }
    snprintf(skey, sizeof skey, "%s", visit_link_key(&v) ? visit_link_key(&v) : v.s.key);
    visit_cookies(&v, &c.resp);
    CHECK(!c.resp.bad_header && !c.resp.failed);
    CHECK(check_cookies(&c.resp, bind) == (url ? 1 : 0));
    const char *bname = visit_cookie_name(&ss, &c.req, COOKIE_BIND);
    arena_free(&c.ar);

    if (url) {
        /* 2: its _s with the hostile header only: not the session. */
        req_begin(&c, mode, cookie);
        CHECK(visit_run(&v, &ss, &c.req, skey, NOW + 1, look, &live, &status) == VISIT_OK);
        CHECK(live == 0);
        arena_free(&c.ar);
        /* 3: the real binding first, then the hostile header: it is. */
        size_t n = strlen(bname) + NAV_KEY_LEN + 3 + strlen(cookie) + 1;
        CHECK((both = malloc(n)) != NULL);
        snprintf(both, n, "%s=%s; %s", bname, bind, cookie);
        req_begin(&c, mode, both);
        CHECK(visit_run(&v, &ss, &c.req, skey, NOW + 1, look, &live, &status) == VISIT_OK);
        CHECK(live == 1);
        arena_free(&c.ar);
        free(both);
    }
    sessions_close(&ss);
    free(cookie);
    return 0;
}
