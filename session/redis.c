/* redis.c -- the session store on Redis, for several web hosts sharing
 * sessions: one connection per worker (opened in the worker, after any
 * fork), compare-and-put done on the server by a Lua script, and Redis's
 * own expiry doing the reclamation.
 *
 *   PREFIX KEY -> version u64 | expires u64 | record   (the LMDB value),
 *                 with a PX expiry at the record's idle expiry
 *
 * Specs:
 *   redis://[:AUTH@]HOST:PORT[/DB]
 *   redis+unix:///PATH[?db=N]
 *   redis-sentinel://[:AUTH@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]
 *
 * While Redis cannot be reached every call answers STORE_EDOWN at once;
 * the next connection attempt waits a backoff that doubles up to
 * BACKOFF_MAX_MS, so a dead Redis costs a refused connect now and then,
 * not one per request. With Sentinel, every (re)connection asks the
 * sentinels where the master is, and a READONLY answer (a master demoted
 * under us) drops the connection so that the next call asks again. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "../nav/nav.h"
#include "store_impl.h"

#define SESSION_KEY_MAX 64
#define PREFIX_MAX 128
#define HOST_MAX 256
#define SENTINELS_MAX 8
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define VALUE_MAX (STORE_VALUE_HEAD + 64 * 1024)

/* KEYS[1]: the record; KEYS[2], when given: the record login drops.
 * ARGV: expected version, new value, PX milliseconds, expected version
 * of KEYS[2]. Answers 1 (written), 0 (a version did not match: nothing
 * written) or -1 (a value that is not ours: nothing written). The
 * version is the value's first 8 bytes, little-endian, as in LMDB. */
static const char cas_script[] =
    "local function ver(k)\n"
    "  local s = redis.call('GET', k)\n"
    "  if not s then return 0 end\n"
    "  if #s < 16 then return -1 end\n"
    "  local v = 0\n"
    "  for i = 8, 1, -1 do v = v * 256 + string.byte(s, i) end\n"
    "  return v\n"
    "end\n"
    "local v = ver(KEYS[1])\n"
    "if v < 0 then return -1 end\n"
    "if v ~= tonumber(ARGV[1]) then return 0 end\n"
    "if #KEYS == 2 then\n"
    "  local d = ver(KEYS[2])\n"
    "  if d < 0 then return -1 end\n"
    "  if d ~= tonumber(ARGV[4]) then return 0 end\n"
    "  if d > 0 then redis.call('DEL', KEYS[2]) end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
    "return 1\n";

enum redis_kind { REDIS_TCP, REDIS_UNIX, REDIS_SENTINEL };

struct endpoint {
    char host[HOST_MAX];        /* or a socket path */
    int port;
};

struct redis_store {
    struct store base;          /* first: store.c dispatches on it */
    enum redis_kind kind;
    struct endpoint server;     /* TCP/unix; with Sentinel, the master found */
    struct endpoint sentinels[SENTINELS_MAX];
    int nsentinels;
    char master[128];
    char auth[256];
    int db;
    char prefix[PREFIX_MAX + 1];
    size_t prefix_len;
    unsigned timeout_ms, wait;
    redisContext *c;            /* NULL while disconnected */
    char sha[41];               /* of cas_script, from SCRIPT LOAD */
    uint64_t retry_at_ms;
    unsigned backoff_ms;
    int down_logged;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the spec ---- */

/* A strict decimal (nav.h: no sign, no leading zero) in [min, max]
 * filling exactly s[0..n). */
static int parse_num(const char *s, size_t n, long min, long max, long *out)
{
    uint64_t v;

    if (nav_decimal(s, n, (uint64_t)max, &v) < 0 || v < (uint64_t)min)
        return -1;
    *out = (long)v;
    return 0;
}

/* "HOST:PORT" or "[V6]:PORT" in s[0..n). */
static int parse_endpoint(const char *s, size_t n, struct endpoint *e)
{
    const char *colon = NULL;
    size_t hlen;
    long port;

    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    if (colon == NULL || parse_num(colon + 1, n - (size_t)(colon + 1 - s), 1, 65535, &port) < 0)
        return -1;
    hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        s++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= HOST_MAX || memchr(s, '/', hlen) || memchr(s, '@', hlen))
        return -1;
    memcpy(e->host, s, hlen);
    e->host[hlen] = '\0';
    e->port = (int)port;
    return 0;
}

/* An optional ":AUTH@" at the front of an authority; *rest moves past it. */
static int parse_auth(struct redis_store *st, const char **rest)
{
    const char *s = *rest, *at;
    size_t n;

    if (s[0] != ':')
        return 0;
    if ((at = strrchr(s, '@')) == NULL)
        return -1;
    n = (size_t)(at - s - 1);
    if (n == 0 || n >= sizeof st->auth)
        return -1;
    memcpy(st->auth, s + 1, n);
    st->auth[n] = '\0';
    *rest = at + 1;
    return 0;
}

static int parse_tcp(struct redis_store *st, const char *s)
{
    const char *slash;
    long db = 0;

    if (parse_auth(st, &s) < 0)
        return -1;
    slash = strchr(s, '/');
    if (slash && parse_num(slash + 1, strlen(slash + 1), 0, 65535, &db) < 0)
        return -1;
    st->db = (int)db;
    return parse_endpoint(s, slash ? (size_t)(slash - s) : strlen(s), &st->server);
}

static int parse_unix(struct redis_store *st, const char *s)
{
    const char *q = strchr(s, '?');
    size_t n = q ? (size_t)(q - s) : strlen(s);
    long db = 0;

    if (s[0] != '/' || n < 2 || n >= HOST_MAX)
        return -1;
    if (q && (strncmp(q, "?db=", 4) != 0 ||
              parse_num(q + 4, strlen(q + 4), 0, 65535, &db) < 0))
        return -1;
    memcpy(st->server.host, s, n);
    st->server.host[n] = '\0';
    st->db = (int)db;
    return 0;
}

static int master_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static int parse_sentinel(struct redis_store *st, const char *s)
{
    const char *slash, *name, *end;
    long db = 0;

    if (parse_auth(st, &s) < 0 || (slash = strchr(s, '/')) == NULL)
        return -1;
    for (const char *p = s; p < slash;) {
        const char *comma = memchr(p, ',', (size_t)(slash - p));
        const char *stop = comma ? comma : slash;
        if (st->nsentinels == SENTINELS_MAX || (comma && comma + 1 == slash) ||
            parse_endpoint(p, (size_t)(stop - p), &st->sentinels[st->nsentinels]) < 0)
            return -1;
        st->nsentinels++;
        p = comma ? comma + 1 : slash;
    }
    name = slash + 1;
    end = strchr(name, '/');
    if (end && parse_num(end + 1, strlen(end + 1), 0, 65535, &db) < 0)
        return -1;
    size_t n = end ? (size_t)(end - name) : strlen(name);
    if (st->nsentinels == 0 || n == 0 || n >= sizeof st->master)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!master_char(name[i]))
            return -1;
    memcpy(st->master, name, n);
    st->master[n] = '\0';
    st->db = (int)db;
    return 0;
}

static int parse_spec(struct redis_store *st, const char *spec)
{
    static const char tcp[] = "redis://", unx[] = "redis+unix://",
                      sen[] = "redis-sentinel://";

    if (strncmp(spec, tcp, sizeof tcp - 1) == 0) {
        st->kind = REDIS_TCP;
        return parse_tcp(st, spec + sizeof tcp - 1);
    }
    if (strncmp(spec, unx, sizeof unx - 1) == 0) {
        st->kind = REDIS_UNIX;
        return parse_unix(st, spec + sizeof unx - 1);
    }
    if (strncmp(spec, sen, sizeof sen - 1) == 0) {
        st->kind = REDIS_SENTINEL;
        return parse_sentinel(st, spec + sizeof sen - 1);
    }
    return -1;
}

/* ---- the connection ---- */

static void conn_log(struct redis_store *st, const char *fmt, ...)
{
    va_list ap;

    (void)st;
    fputs("nori: redis: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static redisContext *dial(const struct redis_store *st, const struct endpoint *e,
                          int unix_socket)
{
    struct timeval tv = {(time_t)(st->timeout_ms / 1000),
                         (suseconds_t)(st->timeout_ms % 1000) * 1000};
    redisContext *c = unix_socket ? redisConnectUnixWithTimeout(e->host, tv)
                                  : redisConnectWithTimeout(e->host, e->port, tv);

    if (c && !c->err && redisSetTimeout(c, tv) == REDIS_OK)
        return c;
    if (c)
        redisFree(c);
    return NULL;
}

/* A reply of the given type, or NULL (freed) for anything else. */
static redisReply *expect(redisReply *r, int type)
{
    if (r && r->type == type)
        return r;
    if (r)
        freeReplyObject(r);
    return NULL;
}

/* Asks the sentinels, in order, where the master is. */
static int sentinel_resolve(struct redis_store *st)
{
    for (int i = 0; i < st->nsentinels; i++) {
        redisContext *c = dial(st, &st->sentinels[i], 0);
        redisReply *r;
        if (c == NULL)
            continue;
        r = expect(redisCommand(c, "SENTINEL get-master-addr-by-name %s", st->master),
                   REDIS_REPLY_ARRAY);
        redisFree(c);
        if (r && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            long port;
            const char *p = r->element[1]->str;
            int ok = strlen(r->element[0]->str) < HOST_MAX &&
                     parse_num(p, strlen(p), 1, 65535, &port) == 0;
            if (ok) {
                snprintf(st->server.host, sizeof st->server.host, "%s", r->element[0]->str);
                st->server.port = (int)port;
            }
            freeReplyObject(r);
            if (ok)
                return 0;
        } else if (r) {
            freeReplyObject(r);
        }
    }
    return -1;
}

/* A server that Sentinel names may not know yet that it is a replica
 * (or a master may not know yet that it was demoted): ask it. */
static int is_master(redisContext *c)
{
    redisReply *r = expect(redisCommand(c, "ROLE"), REDIS_REPLY_ARRAY);
    int ok = r && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING &&
             strcmp(r->element[0]->str, "master") == 0;

    if (r)
        freeReplyObject(r);
    return ok;
}

/* AUTH, SELECT, and the script, on a fresh connection. */
static int session_setup(struct redis_store *st, redisContext *c)
{
    redisReply *r;

    if (st->auth[0]) {
        if ((r = expect(redisCommand(c, "AUTH %s", st->auth), REDIS_REPLY_STATUS)) == NULL) {
            conn_log(st, "AUTH refused");
            return -1;
        }
        freeReplyObject(r);
    }
    if (st->db) {
        if ((r = expect(redisCommand(c, "SELECT %d", st->db), REDIS_REPLY_STATUS)) == NULL) {
            conn_log(st, "SELECT %d refused", st->db);
            return -1;
        }
        freeReplyObject(r);
    }
    if ((r = expect(redisCommand(c, "SCRIPT LOAD %s", cas_script), REDIS_REPLY_STRING)) == NULL)
        return -1;
    snprintf(st->sha, sizeof st->sha, "%s", r->str);
    freeReplyObject(r);
    return 0;
}

static redisContext *connect_now(struct redis_store *st)
{
    redisContext *c;

    if (st->kind == REDIS_SENTINEL && sentinel_resolve(st) < 0)
        return NULL;
    if ((c = dial(st, &st->server, st->kind == REDIS_UNIX)) == NULL)
        return NULL;
    if (session_setup(st, c) < 0 || (st->kind == REDIS_SENTINEL && !is_master(c))) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static const char *where(const struct redis_store *st)
{
    return st->kind == REDIS_SENTINEL ? st->master : st->server.host;
}

/* Connected, or STORE_EDOWN until the backoff has passed. */
static enum store_err conn_ensure(struct redis_store *st)
{
    uint64_t now;

    if (st->c)
        return STORE_OK;
    now = mono_ms();
    if (now < st->retry_at_ms)
        return STORE_EDOWN;
    if ((st->c = connect_now(st)) != NULL) {
        if (st->down_logged)
            conn_log(st, "%s reachable again", where(st));
        st->backoff_ms = 0;
        st->down_logged = 0;
        return STORE_OK;
    }
    st->backoff_ms = st->backoff_ms ? st->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (st->backoff_ms > BACKOFF_MAX_MS)
        st->backoff_ms = BACKOFF_MAX_MS;
    st->retry_at_ms = now + st->backoff_ms;
    if (!st->down_logged)
        conn_log(st, "cannot reach %s; session requests answer 503 until it is back",
                 where(st));
    st->down_logged = 1;
    return STORE_EDOWN;
}

static void conn_drop(struct redis_store *st)
{
    if (st->c)
        redisFree(st->c);
    st->c = NULL;
}

static int is_error(const redisReply *r, const char *code)
{
    size_t n = strlen(code);

    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, code, n) == 0 &&
           (r->str[n] == ' ' || r->str[n] == '\0');
}

/* One command. A broken connection is dropped: the caller gets NULL and
 * *err STORE_EDOWN. A master turned replica (READONLY) or a server still
 * loading its data (LOADING) is the same for the caller, and READONLY
 * also drops the connection so that Sentinel is asked again. */
static redisReply *command(struct redis_store *st, int argc, const char **argv,
                           const size_t *lens, enum store_err *err)
{
    redisReply *r;

    if ((*err = conn_ensure(st)) != STORE_OK)
        return NULL;
    r = redisCommandArgv(st->c, argc, argv, lens);
    if (r == NULL) {
        conn_log(st, "%s: %s", where(st), st->c->errstr);
        conn_drop(st);
        *err = STORE_EDOWN;
        return NULL;
    }
    if (is_error(r, "READONLY") || is_error(r, "LOADING") || is_error(r, "MASTERDOWN")) {
        if (is_error(r, "READONLY"))
            conn_drop(st);
        freeReplyObject(r);
        *err = STORE_EDOWN;
        return NULL;
    }
    *err = STORE_OK;
    return r;
}

/* For commands that may safely run twice (GET, DEL): a connection found
 * broken at first use (Redis restarted, a failover) is replaced once at
 * once, without waiting for a backoff. */
static redisReply *command_idem(struct redis_store *st, int argc, const char **argv,
                                const size_t *lens, enum store_err *err)
{
    int had = st->c != NULL;
    redisReply *r = command(st, argc, argv, lens, err);

    if (r == NULL && *err == STORE_EDOWN && had && st->c == NULL) {
        st->retry_at_ms = 0;
        r = command(st, argc, argv, lens, err);
    }
    return r;
}

static size_t full_key(const struct redis_store *st, const char *key, char *out)
{
    size_t n = strlen(key);

    if (n == 0 || n > SESSION_KEY_MAX)
        return 0;
    memcpy(out, st->prefix, st->prefix_len);
    memcpy(out + st->prefix_len, key, n);
    return st->prefix_len + n;
}

/* ---- the operations ---- */

static struct store *redis_open(const char *spec, const struct store_options *opt,
                                char *err, size_t errlen)
{
    struct redis_store *st = calloc(1, sizeof *st);
    const char *prefix = opt->redis_prefix ? opt->redis_prefix : "nori:";

    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->base.ops = &store_redis_ops;
    if (parse_spec(st, spec) < 0) {
        snprintf(err, errlen, "bad store '%s' (want redis://[:AUTH@]HOST:PORT[/DB], "
                 "redis+unix:///PATH[?db=N] or "
                 "redis-sentinel://[:AUTH@]HOST:PORT[,HOST:PORT...]/MASTER[/DB])", spec);
        free(st);
        return NULL;
    }
    if (strlen(prefix) > PREFIX_MAX) {
        snprintf(err, errlen, "NORI_REDIS_PREFIX: longer than %d bytes", PREFIX_MAX);
        free(st);
        return NULL;
    }
    strcpy(st->prefix, prefix);
    st->prefix_len = strlen(prefix);
    st->timeout_ms = opt->redis_timeout_ms ? opt->redis_timeout_ms : 500;
    st->wait = opt->redis_wait;
    /* Not connected yet: the first call connects, and a Redis that is
     * down now is no reason to refuse to serve pages without sessions. */
    return &st->base;
}

static void redis_close(struct store *base)
{
    struct redis_store *st = (struct redis_store *)base;

    conn_drop(st);
    free(st);
}

/* One idempotent command on one session's key (GET, DEL): NULL, with *e
 * set, when the key cannot be a session's or Redis failed. */
static redisReply *key_command(struct redis_store *st, const char *verb,
                               const char *key, enum store_err *e)
{
    char k[PREFIX_MAX + SESSION_KEY_MAX];
    size_t klen = full_key(st, key, k);
    const char *argv[] = {verb, k};
    size_t lens[] = {strlen(verb), klen};

    if (klen == 0) {
        *e = STORE_ENOTFOUND;
        return NULL;
    }
    return command_idem(st, 2, argv, lens, e);
}

static enum store_err redis_get(struct store *base, const char *key, void *buf,
                                size_t cap, size_t *len, uint64_t *version)
{
    struct redis_store *st = (struct redis_store *)base;
    enum store_err e;
    redisReply *r;

    if ((r = key_command(st, "GET", key, &e)) == NULL)
        return e;
    if (r->type == REDIS_REPLY_NIL) {
        e = STORE_ENOTFOUND;
    } else if (r->type != REDIS_REPLY_STRING) {
        e = STORE_EIO;
    } else if (r->len < STORE_VALUE_HEAD) {
        /* Not a value nori wrote (a shared Redis): no session of ours. */
        conn_log(st, "ignoring a %d-byte value under a session key", r->len);
        e = STORE_ENOTFOUND;
    } else if ((size_t)r->len - STORE_VALUE_HEAD > cap) {
        e = STORE_EBADRECORD;       /* absent to the caller, as in every store */
    } else {
        *version = store_u64_get((const unsigned char *)r->str);
        *len = (size_t)r->len - STORE_VALUE_HEAD;
        memcpy(buf, r->str + STORE_VALUE_HEAD, *len);
    }
    freeReplyObject(r);
    return e;
}

/* EVALSHA, and EVAL when the server has forgotten the script (a restart,
 * a failover to a replica that never loaded it). */
static redisReply *cas_run(struct redis_store *st, int nkeys, const char **keys,
                           const size_t *klens, const char **args, const size_t *alens,
                           enum store_err *err)
{
    const char *argv[2 + 1 + 2 + 4];
    size_t lens[2 + 1 + 2 + 4];
    char nk[2] = {(char)('0' + nkeys), '\0'};
    int argc = 0;
    redisReply *r;

    /* Connected first: the script's digest comes with the connection. */
    if ((*err = conn_ensure(st)) != STORE_OK)
        return NULL;
    argv[argc] = "EVALSHA", lens[argc++] = 7;
    argv[argc] = st->sha, lens[argc++] = strlen(st->sha);
    argv[argc] = nk, lens[argc++] = 1;
    for (int i = 0; i < nkeys; i++)
        argv[argc] = keys[i], lens[argc++] = klens[i];
    for (int i = 0; i < 4; i++)
        argv[argc] = args[i], lens[argc++] = alens[i];
    r = command(st, argc, argv, lens, err);
    if (r && is_error(r, "NOSCRIPT")) {
        freeReplyObject(r);
        argv[0] = "EVAL", lens[0] = 4;
        argv[1] = cas_script, lens[1] = sizeof cas_script - 1;
        r = command(st, argc, argv, lens, err);
    }
    return r;
}

/* NORI_REDIS_WAIT: the commit is on the master; the answer waits until
 * that many replicas have it too, or the timeout says they do not. */
static enum store_err replicas_wait(struct redis_store *st)
{
    char n[16], ms[16];
    const char *argv[] = {"WAIT", n, ms};
    size_t lens[3];
    enum store_err e;
    redisReply *r;

    lens[0] = 4;
    lens[1] = (size_t)snprintf(n, sizeof n, "%u", st->wait);
    lens[2] = (size_t)snprintf(ms, sizeof ms, "%u", st->timeout_ms);
    if ((r = command(st, 3, argv, lens, &e)) == NULL)
        return e;
    e = r->type == REDIS_REPLY_INTEGER && r->integer >= st->wait ? STORE_OK : STORE_EIO;
    if (e != STORE_OK)
        conn_log(st, "a commit reached %lld of %u replicas in time",
                 r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL, st->wait);
    freeReplyObject(r);
    return e;
}

static enum store_err redis_put(struct store *base, const struct store_write *w,
                                uint64_t now, uint64_t *new_version,
                                unsigned *reclaimed)
{
    struct redis_store *st = (struct redis_store *)base;
    char k[2][PREFIX_MAX + SESSION_KEY_MAX];
    const char *keys[2] = {k[0], k[1]};
    size_t klens[2];
    unsigned char value[VALUE_MAX];
    char expect[24], ttl[24], drop_expect[24];
    const char *args[4] = {expect, (const char *)value, ttl, drop_expect};
    size_t alens[4];
    enum store_err e;
    redisReply *r;

    if (reclaimed)
        *reclaimed = 0;     /* Redis reclaims by itself */
    if ((klens[0] = full_key(st, w->key, k[0])) == 0 || w->len > VALUE_MAX - STORE_VALUE_HEAD ||
        (w->drop_key && (klens[1] = full_key(st, w->drop_key, k[1])) == 0))
        return STORE_EIO;
    store_u64_put(value, w->expect + 1);
    store_u64_put(value + 8, w->expires);
    memcpy(value + STORE_VALUE_HEAD, w->rec, w->len);
    /* Relative to nori's clock, as the expiry itself is: the hosts and
     * Redis need not agree on the time of day. */
    uint64_t ms = w->expires > now ? (w->expires - now) * 1000 : 1;
    alens[0] = (size_t)snprintf(expect, sizeof expect, "%llu", (unsigned long long)w->expect);
    alens[1] = STORE_VALUE_HEAD + w->len;
    alens[2] = (size_t)snprintf(ttl, sizeof ttl, "%llu", (unsigned long long)ms);
    alens[3] = (size_t)snprintf(drop_expect, sizeof drop_expect, "%llu",
                                (unsigned long long)w->drop_expect);
    r = cas_run(st, w->drop_key ? 2 : 1, keys, klens, args, alens, &e);
    /* A READONLY answer wrote nothing: the master moved, so ask again
     * once. A broken connection is not retried: the script may have run. */
    if (r == NULL && e == STORE_EDOWN && st->kind == REDIS_SENTINEL && st->c == NULL) {
        st->retry_at_ms = 0;
        r = cas_run(st, w->drop_key ? 2 : 1, keys, klens, args, alens, &e);
    }
    if (r == NULL)
        return e;
    if (r->type != REDIS_REPLY_INTEGER)
        conn_log(st, "compare-and-put: %s", r->type == REDIS_REPLY_ERROR ? r->str : "odd reply");
    e = r->type != REDIS_REPLY_INTEGER ? STORE_EIO
        : r->integer == 1              ? STORE_OK
        : r->integer == 0              ? STORE_ECONFLICT
                                       : STORE_EIO;
    freeReplyObject(r);
    if (e == STORE_OK && st->wait)
        e = replicas_wait(st);
    if (e == STORE_OK && new_version)
        *new_version = w->expect + 1;
    return e;
}

static enum store_err redis_del(struct store *base, const char *key)
{
    struct redis_store *st = (struct redis_store *)base;
    enum store_err e;
    redisReply *r;

    if ((r = key_command(st, "DEL", key, &e)) == NULL)
        return e;
    e = r->type != REDIS_REPLY_INTEGER ? STORE_EIO
        : r->integer ? STORE_OK : STORE_ENOTFOUND;
    freeReplyObject(r);
    if (e == STORE_OK && st->wait)
        e = replicas_wait(st);
    return e;
}

/* The glob of every key under the prefix, its special characters escaped. */
static size_t prefix_glob(const struct redis_store *st, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < st->prefix_len; i++) {
        if (strchr("*?[]\\", st->prefix[i]))
            out[o++] = '\\';
        out[o++] = st->prefix[i];
    }
    out[o++] = '*';
    return o;
}

/* Records: a SCAN over the prefix (O(keys in the database), which is why
 * only the status URL asks). Bytes: the whole server's used_memory. */
static enum store_err redis_stat(struct store *base, size_t *records, size_t *bytes)
{
    struct redis_store *st = (struct redis_store *)base;
    char glob[2 * PREFIX_MAX + 2], cursor[32] = "0";
    const char *argv[] = {"SCAN", cursor, "MATCH", glob, "COUNT", "1000"};
    size_t lens[] = {4, 1, 5, prefix_glob(st, glob), 5, 4};
    enum store_err e;
    redisReply *r;

    *records = 0;
    do {
        lens[1] = strlen(cursor);
        if ((r = command_idem(st, 6, argv, lens, &e)) == NULL)
            return e;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY || r->element[0]->len >= 31) {
            freeReplyObject(r);
            return STORE_EIO;
        }
        memcpy(cursor, r->element[0]->str, (size_t)r->element[0]->len + 1);
        *records += r->element[1]->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);

    const char *info[] = {"INFO", "memory"};
    size_t ilens[] = {4, 6};
    if ((r = command_idem(st, 2, info, ilens, &e)) == NULL)
        return e;
    const char *m = r->type == REDIS_REPLY_STRING ? strstr(r->str, "used_memory:") : NULL;
    if (m)
        *bytes = (size_t)strtoull(m + 12, NULL, 10);
    freeReplyObject(r);
    return STORE_OK;
}

/* PING, under the same connect/read timeout as every call: a Redis that
 * is down or stopped (SIGSTOP) answers STORE_EDOWN within it. */
static enum store_err redis_ping(struct store *base)
{
    struct redis_store *st = (struct redis_store *)base;
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    enum store_err e;
    redisReply *r;

    if ((r = command_idem(st, 1, argv, lens, &e)) == NULL)
        return e;
    e = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0 ? STORE_OK : STORE_EIO;
    freeReplyObject(r);
    return e;
}

const struct store_ops store_redis_ops = {
    .name = "redis",
    .open = redis_open,
    .close = redis_close,
    .get = redis_get,
    .put = redis_put,
    .del = redis_del,
    .sweep = NULL,          /* PX expiry: Redis reclaims */
    .readers_check = NULL,
    .stat = redis_stat,
    .ping = redis_ping,
};
