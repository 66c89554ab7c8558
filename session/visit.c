/* visit.c -- the session lifecycle of docs/design.md, one request at a time:
 *
 *   no key               -> no store access (lazy) or a new session (eager)
 *   unknown/expired key  -> sessionless, nothing created, the key forgotten
 *   first write          -> a new session, committed once before the answer
 *   read without writes  -> no commit (unless the idle expiry needs a push)
 *   commit conflict      -> the application's function runs again on the
 *                           state that won, as object databases retry a
 *                           transaction whose write set conflicted */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "../fcgi/stats.h"
#include "nori.h"
#include "visit.h"

/* Each retry rereads the record, so a conflict means another commit
 * landed in between; this many in a row means something is wrong. */
#define VISIT_TRIES 64

/* A carried key: KEY, or KEY.ROUTE when this worker has a route, and
 * then only its own route (a key routed elsewhere reached the wrong
 * worker, which does not hold it). Copies KEY to out, or "" for none. */
static void key_take(const struct sessions *ss, const char *k, size_t n,
                     char out[NAV_KEY_LEN + 1])
{
    const char *route = ss->route ? ss->route : "";
    size_t rl = strlen(route);

    out[0] = '\0';
    if (n < NAV_KEY_LEN || !nav_key_shaped(k, NAV_KEY_LEN))
        return;
    if (rl ? n == NAV_KEY_LEN + 1 + rl && k[NAV_KEY_LEN] == '.' &&
                 memcmp(k + NAV_KEY_LEN + 1, route, rl) == 0
           : n == NAV_KEY_LEN) {
        memcpy(out, k, NAV_KEY_LEN);
        out[NAV_KEY_LEN] = '\0';
    }
}

/* s.key as links and cookies carry it: with the route when there is one. */
static void carried_set(struct visit *v)
{
    const char *route = v->ss->route ? v->ss->route : "";

    snprintf(v->carried, sizeof v->carried, "%s%s%s", v->s.key, route[0] ? "." : "",
             route);
}

/* The key as carried: s.key itself when there is no route. */
static const char *carried(const struct visit *v)
{
    return v->ss->route && v->ss->route[0] ? v->carried : v->s.key;
}

/* The key the request carries with the configured carrier, and its
 * binding cookie; anything not shaped like a minted key counts as none. */
static void keys_read(struct visit *v, const char *s_param)
{
    const struct sessions *ss = v->ss;
    char raw[NAV_SKEY_MAX + 1];
    size_t n;

    v->given[0] = v->bind[0] = '\0';
    if (ss->carrier == CARRIER_COOKIE) {
        n = request_cookie_if(v->req, visit_cookie_name(ss, v->req, COOKIE_SESSION),
                              raw, sizeof raw, nav_skey_shaped);
        key_take(ss, raw, n, v->given);
        return;
    }
    if (s_param)
        key_take(ss, s_param, strlen(s_param), v->given);
    n = request_cookie_if(v->req, visit_cookie_name(ss, v->req, COOKIE_BIND),
                          v->bind, sizeof v->bind, nav_key_shaped);
    if (n == 0)
        v->bind[0] = '\0';
}

static const char *cookie_path(const struct sessions *ss, const struct request *req)
{
    return ss->cookie_path && ss->cookie_path[0] ? ss->cookie_path
           : req->script_name[0] ? req->script_name : "/";
}

static int cookie_secure(const struct sessions *ss, const struct request *req)
{
    return ss->cookie_secure || req->https;
}

const char *visit_cookie_name(const struct sessions *ss, const struct request *req,
                              const char *base)
{
    int host = cookie_secure(ss, req) && strcmp(cookie_path(ss, req), "/") == 0;

    if (strcmp(base, COOKIE_SESSION) == 0)
        return host ? COOKIE_HOST_PREFIX COOKIE_SESSION : COOKIE_SESSION;
    return host ? COOKIE_HOST_PREFIX COOKIE_BIND : COOKIE_BIND;
}

int visit_cookie_carried(const struct sessions *ss)
{
    return ss->carrier == CARRIER_COOKIE;
}

int visit_has_key(const struct sessions *ss, const struct request *req,
                  const char *s_param)
{
    char tmp[NAV_SKEY_MAX + 1];

    if (ss->carrier == CARRIER_COOKIE)
        return request_cookie(req, visit_cookie_name(ss, req, COOKIE_SESSION), tmp,
                              sizeof tmp) > 0;
    return s_param != NULL;
}

/* A record that cannot be decoded, belongs to another key, has expired,
 * or arrives without its browser's binding cookie is not this visitor's
 * session: the page renders sessionless and nothing is created. */
static enum visit_err load(struct visit *v, uint64_t now)
{
    struct sessions *ss = v->ss;
    unsigned char buf[SESSION_RECORD_MAX];
    size_t len;
    enum store_err se;
    enum record_err re;

    if (v->given[0] == '\0')
        return VISIT_OK;
    if (sessions_store(ss, v->req) == NULL)
        return VISIT_ESTORE;
    se = store_get(ss->store, v->given, buf, sizeof buf, &len, &v->version);
    if (se == STORE_ENOTFOUND)
        return VISIT_OK;
    if (se == STORE_EBADRECORD) {
        request_log(v->req, "nori: ignoring a session record: %s",
                    store_strerror(se));
        return VISIT_OK;
    }
    if (se != STORE_OK) {
        request_log(v->req, "nori: session store: %s", store_strerror(se));
        return VISIT_ESTORE;
    }
    if ((re = record_decode(buf, len, ss->codec, &v->s)) != RECORD_OK) {
        request_log(v->req, "nori: ignoring an undecodable session record: %s",
                    record_strerror(re));
        return VISIT_OK;
    }
    if (!key_equal(v->s.key, v->given) || !session_live(&v->s, &ss->life, now))
        return VISIT_OK;
    if (ss->carrier == CARRIER_URL && ss->bind && v->s.bind[0] &&
        !key_equal(v->s.bind, v->bind))
        return VISIT_OK;
    v->live = 1;
    carried_set(v);
    return VISIT_OK;
}

enum visit_err visit_ensure(struct visit *v, uint64_t now)
{
    const struct sessions *ss = v->ss;
    int bind = ss->carrier == CARRIER_URL && ss->bind;

    if (v->live)
        return VISIT_OK;
    /* Every new session gets a binding minted here, never the nori_b the
     * request carries: nothing tells a cookie nori set for this browser
     * from one planted by a sibling site or a shared machine, and a
     * planted value adopted would be a binding its planter knows. The
     * price: a browser's other tabs, bound to the old nori_b, become
     * sessionless, as they do at login (docs/design.md). */
    if (session_init(&v->s, ss->codec, &ss->life, now, bind) < 0)
        return VISIT_ERANDOM;
    v->set_bind = bind;
    v->live = v->fresh = 1;
    carried_set(v);
    v->version = 0;
    return VISIT_OK;
}

/* A binding cookie known before login (planted by a sibling site, say,
 * or read off a shared machine) must be worth nothing after it. */
static enum visit_err rebind(struct visit *v)
{
    if (v->ss->carrier != CARRIER_URL || !v->ss->bind)
        return VISIT_OK;
    if (key_mint(v->s.bind) < 0)
        return VISIT_ERANDOM;
    v->set_bind = 1;
    v->s.dirty = 1;
    return VISIT_OK;
}

enum visit_err visit_rotate(struct visit *v)
{
    if (!v->live)
        return VISIT_OK;
    if (rebind(v) != VISIT_OK)
        return VISIT_ERANDOM;
    if (v->fresh)
        return VISIT_OK;    /* a session made by this request is new anyway */
    memcpy(v->old_key, v->s.key, sizeof v->old_key);
    if (key_mint(v->s.key) < 0 || key_mint(v->s.form_key) < 0)
        return VISIT_ERANDOM;
    v->rotated = 1;
    v->s.dirty = 1;
    carried_set(v);
    return VISIT_OK;
}

void visit_end(struct visit *v)
{
    v->ended = v->live;
}

void *visit_state_write(struct visit *v, uint64_t now)
{
    if (visit_ensure(v, now) != VISIT_OK)
        return NULL;
    v->s.dirty = 1;
    return v->s.state;
}

enum visit_err visit_login(struct visit *v, const char *user)
{
    enum visit_err err = visit_rotate(v);

    if (err == VISIT_OK)
        snprintf(v->s.user, sizeof v->s.user, "%s", user);
    return err;
}

enum visit_err visit_begin(struct visit *v)
{
    size_t size = v->ss->codec->size;

    if (!v->live)
        return VISIT_OK;
    if (v->saved_state == NULL &&
        (v->saved_state = arena_alloc(v->req->arena, size ? size : 1)) == NULL)
        return VISIT_ENOMEM;
    v->saved = v->s;
    memcpy(v->saved_carried, v->carried, sizeof v->saved_carried);
    memcpy(v->saved_state, v->s.state, size);
    v->begun = 1;
    return VISIT_OK;
}

void visit_rollback(struct visit *v)
{
    v->rolled_back = 1;
    if (!v->begun)
        return;
    void *state = v->s.state;
    v->s = v->saved;
    v->s.state = state;
    memcpy(v->carried, v->saved_carried, sizeof v->carried);
    memcpy(state, v->saved_state, v->ss->codec->size);
    v->begun = 0;
}

int visit_form_ok(const struct visit *v, const char *k)
{
    return !v->live || v->fresh || key_equal(k, v->s.form_key);
}

const char *visit_link_key(const struct visit *v)
{
    return v->live && !v->ended && v->ss->carrier == CARRIER_URL ? carried(v)
                                                                  : NULL;
}

/* The value is a minted key and the path the mount prefix or a setting
 * (checked at start): neither comes from the visitor. A SCRIPT_NAME that
 * is no cookie path (a ';' would add attributes) is the front end's
 * fault: the answer becomes a 502, as for CR/LF in any header. The line
 * is sized to fit, never cut: a cut line loses HttpOnly and SameSite. */
static void cookie_set(const struct visit *v, struct response *resp,
                       const char *base, const char *value, int expire)
{
    const char *path = cookie_path(v->ss, v->req);
    const char *name = visit_cookie_name(v->ss, v->req, base);
    const char *secure = cookie_secure(v->ss, v->req) ? "; Secure" : "";
    const char *fmt = "%s=%s; Path=%s; HttpOnly; SameSite=Lax%s%s";
    const char *max_age = expire ? "; Max-Age=0" : "";

    if (!cookie_path_valid(path)) {
        resp->bad_header = 1;
        return;
    }
    int n = snprintf(NULL, 0, fmt, name, value, path, secure, max_age);
    char *line = n > 0 ? arena_alloc(resp->arena, (size_t)n + 1) : NULL;
    if (line == NULL) {
        resp->failed = 1;
        return;
    }
    snprintf(line, (size_t)n + 1, fmt, name, value, path, secure, max_age);
    response_header(resp, "Set-Cookie", line);
}

void visit_cookies(const struct visit *v, struct response *resp)
{
    if (v->set_bind && v->live && !v->ended && v->committed)
        cookie_set(v, resp, COOKIE_BIND, v->s.bind, 0);
    if (v->ss->carrier != CARRIER_COOKIE)
        return;
    if (v->ended && v->committed)
        cookie_set(v, resp, COOKIE_SESSION, "", 1);
    else if ((v->fresh || v->rotated) && v->committed)
        cookie_set(v, resp, COOKIE_SESSION, carried(v), 0);
}

static enum visit_err commit_end(struct visit *v)
{
    const char *key = v->rotated ? v->old_key : v->s.key;
    enum store_err se;

    v->live = 0;
    if (v->fresh)
        return VISIT_OK;
    if (sessions_store(v->ss, v->req) == NULL)
        return VISIT_ESTORE;
    se = store_del(v->ss->store, key);
    if (se != STORE_OK && se != STORE_ENOTFOUND)
        return VISIT_ESTORE;
    v->committed = 1;
    stats_add(v->ss->stats, STAT_COMMITS, 1);
    return VISIT_OK;
}

/* One compare-and-put of the dirty session: a new session must not
 * exist yet, a read one must still be at the version read, and a login
 * drops the old key in the same transaction. */
static enum store_err commit_put(struct visit *v, uint64_t now)
{
    unsigned char buf[SESSION_RECORD_MAX];
    size_t len = record_encode(&v->s, v->ss->codec, buf, sizeof buf);
    unsigned reclaimed = 0;
    uint64_t nv;
    enum store_err se;

    if (len == 0)
        return STORE_EIO;
    if (sessions_store(v->ss, v->req) == NULL)
        return STORE_EIO;
    struct store_write w = {
        .key = v->s.key, .rec = buf, .len = len,
        .expect = v->fresh || v->rotated ? 0 : v->version,
        .expires = v->s.expires,
        .drop_key = v->rotated ? v->old_key : NULL,
        .drop_expect = v->version,
    };
    se = store_put(v->ss->store, &w, now, &nv, &reclaimed);
    if (reclaimed)
        stats_add(v->ss->stats, STAT_RECLAIMED, reclaimed);
    if (se != STORE_OK)
        return se;
    v->version = nv;
    v->committed = 1;
    v->s.dirty = 0;
    stats_add(v->ss->stats, STAT_COMMITS, 1);
    if (v->fresh)
        stats_add(v->ss->stats, STAT_SESSIONS_CREATED, 1);
    return STORE_OK;
}

static void attempt_reset(struct visit *v)
{
    session_clear(&v->s, v->ss->codec);
    v->live = v->fresh = v->rotated = v->ended = v->set_bind = 0;
    v->begun = v->rolled_back = 0;
    v->committed = 0;
    v->version = 0;
    v->old_key[0] = '\0';
}

/* The name a client address is counted under: the address itself, but
 * for IPv6 its /64, which one machine (or one customer of a provider)
 * holds whole, and could otherwise spend as 2^64 addresses. */
static void address_name(const char *addr, char *out, size_t cap)
{
    struct in6_addr a6;
    char text[INET6_ADDRSTRLEN];

    if (strchr(addr, ':') && strncmp(addr, "::ffff:", 7) != 0 &&
        inet_pton(AF_INET6, addr, &a6) == 1) {
        memset(a6.s6_addr + 8, 0, 8);
        if (inet_ntop(AF_INET6, &a6, text, sizeof text)) {
            snprintf(out, cap, "%s/64", text);
            return;
        }
    }
    snprintf(out, cap, "%s", strncmp(addr, "::ffff:", 7) == 0 ? addr + 7 : addr);
}

/* The cap on new sessions per client address: a token from the
 * address's bucket, or a 429 and nothing created. The bucket holds a
 * minute's worth, so that an office behind one address starts its day
 * unhindered, and a flood from one address is held to the rate. */
static enum visit_err creation_allowed(struct visit *v)
{
    const struct sessions *ss = v->ss;
    char name[INET6_ADDRSTRLEN + 4];

    if (ss->limits == NULL || ss->new_per_min == 0)
        return VISIT_OK;
    address_name(v->req->remote_addr, name, sizeof name);
    v->retry_after = nori_limit_take(ss->limits, 'n', name, nori_limits_now(),
                                     ss->new_per_min, ss->new_per_min);
    return v->retry_after ? VISIT_ETHROTTLED : VISIT_OK;
}

enum visit_err visit_run(struct visit *v, struct sessions *ss,
                         const struct request *req, const char *s_param,
                         uint64_t now, visit_fn fn, void *arg, int *status)
{
    enum visit_err err;

    memset(v, 0, sizeof *v);
    v->ss = ss;
    v->req = req;
    /* The application's state lives in the request's arena; a codec of
     * size 0 (no state) still gets a valid pointer. */
    v->s.state = arena_alloc(req->arena, ss->codec->size ? ss->codec->size : 1);
    if (v->s.state == NULL)
        return VISIT_ENOMEM;
    keys_read(v, s_param);
    for (int attempt = 0; attempt < VISIT_TRIES; attempt++) {
        attempt_reset(v);
        if ((err = load(v, now)) != VISIT_OK)
            return err;
        if (ss->policy == POLICY_EAGER) {
            /* Seaside's WASession: every request has a session and
             * commits it, which is the cost lazy sessions avoid. */
            if ((err = visit_ensure(v, now)) != VISIT_OK)
                return err;
            v->s.dirty = 1;
        }
        if (v->live)
            session_touch(&v->s, &ss->life, now);
        *status = fn(v, arg);
        if (*status >= 400 || v->rolled_back) {
            v->s.dirty = 0;
            v->ended = v->rotated = 0;
            v->live = v->live && !v->fresh;
            return VISIT_OK;
        }
        if (v->ended)
            return commit_end(v);
        if (!v->live || !v->s.dirty)
            return VISIT_OK;
        if (v->fresh && (err = creation_allowed(v)) != VISIT_OK)
            return err;
        enum store_err se = commit_put(v, now);
        if (se == STORE_OK)
            return VISIT_OK;
        if (se != STORE_ECONFLICT) {
            request_log(req, "nori: session commit: %s", store_strerror(se));
            return se == STORE_EFULL ? VISIT_EFULL : VISIT_ESTORE;
        }
        stats_add(v->ss->stats, STAT_CONFLICTS, 1);
    }
    request_log(req, "nori: session commit: gave up after %d conflicts", VISIT_TRIES);
    return VISIT_EBUSY;
}

const char *visit_strerror(enum visit_err err)
{
    switch (err) {
    case VISIT_OK: return "ok";
    case VISIT_ESTORE: return "The session store is not available; please try again.";
    case VISIT_EBUSY: return "Your session is busy; please try again.";
    case VISIT_ERANDOM: return "No random numbers for a session key; please try again.";
    case VISIT_EFULL: return "No new sessions can be taken right now; please try again later.";
    case VISIT_ENOMEM: return "Out of memory; please try again.";
    case VISIT_ETHROTTLED: return "Too many new sessions from your address; please try again in a moment.";
    }
    return "session error";
}

struct store *sessions_store(struct sessions *ss, const struct request *req)
{
    char err[512];
    struct store_options opt = ss->store_opt;

    if (ss->store)
        return ss->store;
    /* A memory store counts the sessions it loses where the sessions'
     * commits are counted: one pointer, ss->stats, not a second copy. */
    opt.stats = ss->stats;
    ss->store = store_open(ss->store_spec, &opt, err, sizeof err);
    if (ss->store == NULL) {
        request_log(req, "nori: session store: %s", err);
        return NULL;
    }
    /* Without the sweeper, sessions still expire and commits still
     * reclaim them; it only keeps idle periods tidy. A store that
     * expires records by itself (Redis) needs none. */
    if (!store_sweeps(ss->store))
        return ss->store;
    ss->sweeper = sweeper_start(ss->store, ss->gc_interval_ms, ss->gc_batch, ss->stats);
    if (ss->sweeper == NULL)
        request_log(req, "nori: no background sweeper; commits still reclaim");
    return ss->store;
}

void sessions_close(struct sessions *ss)
{
    sweeper_stop(ss->sweeper);
    store_close(ss->store);
    ss->sweeper = NULL;
    ss->store = NULL;
}
