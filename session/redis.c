/* redis.c -- the session store on Redis, for several web hosts sharing
 * sessions: one connection per worker (opened in the worker, after any
 * fork), compare-and-put done on the server by a Lua script, and Redis's
 * own expiry doing the reclamation.
 *
 *   PREFIX KEY -> version u64 | expires u64 | record   (the LMDB value),
 *                 with a PX expiry at the record's idle expiry
 *
 * Specs: storespec.h. Connections are nori's own (a socket, or TLS over
 * it with OpenSSL, the certificate checked against the host name or the
 * sni= name); hiredis formats the commands and parses the replies (the
 * packaged hiredis has no TLS of its own).
 *
 * While Redis cannot be reached every call answers STORE_EDOWN at once;
 * the next connection attempt waits a backoff that doubles up to
 * BACKOFF_MAX_MS, so a dead Redis costs a refused connect now and then,
 * not one per request. With Sentinel, every (re)connection asks the
 * sentinels where the master is, and a READONLY answer (a master demoted
 * under us) drops the connection so that the next call asks again. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "../nav/nav.h"
#include "store_impl.h"
#include "storespec.h"

#define SESSION_KEY_MAX 64
#define PREFIX_MAX 128
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

/* One connection: a socket, TLS over it or not, and the reply parser. */
struct link {
    int fd;
    SSL *ssl;                   /* NULL: plain */
    redisReader *rd;
    char errstr[160];
};

struct redis_store {
    struct store base;          /* first: store.c dispatches on it */
    struct store_spec spec;
    struct spec_endpoint server;/* with Sentinel, the master found */
    SSL_CTX *tls;               /* NULL: plain connections */
    char prefix[PREFIX_MAX + 1];
    size_t prefix_len;
    unsigned timeout_ms, wait;
    struct link *c;             /* NULL while disconnected */
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

static void link_free(struct link *l)
{
    if (l == NULL)
        return;
    if (l->ssl) {
        SSL_shutdown(l->ssl);
        SSL_free(l->ssl);
    }
    if (l->fd >= 0)
        close(l->fd);
    if (l->rd)
        redisReaderFree(l->rd);
    free(l);
}

/* A non-blocking connect, waited for at most ms; then blocking, with
 * SO_RCVTIMEO/SO_SNDTIMEO bounding every read and write. */
static int sock_connect(int fd, const struct sockaddr *sa, socklen_t len, unsigned ms)
{
    struct pollfd p = {fd, POLLOUT, 0};
    int soerr = 0, rc;
    socklen_t sl = sizeof soerr;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

    if (connect(fd, sa, len) < 0) {
        if (errno != EINPROGRESS)
            return -1;
        while ((rc = poll(&p, 1, (int)ms)) < 0 && errno == EINTR)
            ;
        if (rc == 0)
            errno = ETIMEDOUT;
        if (rc <= 0)
            return -1;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
            errno = soerr ? soerr : errno;
            return -1;
        }
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
        return -1;
    return 0;
}

static int dial_unix(const char *path, unsigned ms)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof sun.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sun.sun_path, path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return -1;
    if (sock_connect(fd, (struct sockaddr *)&sun, sizeof sun, ms) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int dial_tcp(const struct spec_endpoint *e, unsigned ms, char *why, size_t n)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai, *a;
    char port[8];
    int fd = -1, rc, one = 1;

    snprintf(port, sizeof port, "%d", e->port);
    if ((rc = getaddrinfo(e->host, port, &hints, &ai)) != 0) {
        snprintf(why, n, "%.200s: %s", e->host, gai_strerror(rc));
        return -1;
    }
    for (a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
        if (fd >= 0 && sock_connect(fd, a->ai_addr, a->ai_addrlen, ms) == 0)
            break;
        snprintf(why, n, "%.200s:%d: %s", e->host, e->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* OpenSSL's reason for the last failure, or the system's. */
static void tls_why(char *why, size_t n, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[200];

    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(why, n, "%s: %s", what, e ? buf : errno ? strerror(errno) : "closed");
    ERR_clear_error();
}

/* TLS on fd: the certificate must chain to the CAs of the spec and name
 * the host (or sni=): an address by its IP entry, a name by DNS. */
static SSL *tls_start(const struct redis_store *st, int fd, const char *host,
                      char *why, size_t n)
{
    const char *name = st->spec.tls_sni[0] ? st->spec.tls_sni : host;
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    SSL *ssl = SSL_new(st->tls);

    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 ||
        (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1
               : (SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set1_host(ssl, name) != 1))) {
        tls_why(why, n, "TLS setup");
        SSL_free(ssl);
        return NULL;
    }
    errno = 0;
    if (SSL_connect(ssl) != 1) {
        long v = SSL_get_verify_result(ssl);
        if (v != X509_V_OK)
            snprintf(why, n, "TLS: the certificate of %.200s: %s", name,
                     X509_verify_cert_error_string(v));
        else
            tls_why(why, n, "TLS handshake");
        ERR_clear_error();
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static struct link *dial(const struct redis_store *st, const struct spec_endpoint *e,
                         int unix_socket, char *why, size_t n)
{
    struct link *l = calloc(1, sizeof *l);

    if (l == NULL) {
        snprintf(why, n, "out of memory");
        return NULL;
    }
    l->fd = unix_socket ? dial_unix(e->host, st->timeout_ms) : dial_tcp(e, st->timeout_ms, why, n);
    if (l->fd < 0) {
        if (unix_socket)
            snprintf(why, n, "%.200s: %s", e->host, strerror(errno));
        goto fail;
    }
    if (st->tls && (l->ssl = tls_start(st, l->fd, e->host, why, n)) == NULL)
        goto fail;
    if ((l->rd = redisReaderCreate()) == NULL) {
        snprintf(why, n, "out of memory");
        goto fail;
    }
    return l;
fail:
    link_free(l);
    return NULL;
}

static int link_write(struct link *l, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w;
        if (l->ssl) {
            size_t done = 0;
            w = SSL_write_ex(l->ssl, b, n, &done) == 1 ? (ssize_t)done : -1;
        } else {
            w = send(l->fd, b, n, MSG_NOSIGNAL);
        }
        if (w < 0 && !l->ssl && errno == EINTR)
            continue;
        if (w <= 0) {
            if (l->ssl)
                tls_why(l->errstr, sizeof l->errstr, "TLS write");
            else
                snprintf(l->errstr, sizeof l->errstr, "write: %s", strerror(errno));
            return -1;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* One command, its reply: NULL when the link broke (errstr says why;
 * the link is then useless). */
static redisReply *link_call(struct link *l, int argc, const char **argv, const size_t *lens)
{
    char *cmd, buf[16384];
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    void *reply = NULL;

    if (len < 0) {
        snprintf(l->errstr, sizeof l->errstr, "out of memory");
        return NULL;
    }
    int rc = link_write(l, cmd, (size_t)len);
    redisFreeCommand(cmd);
    if (rc < 0)
        return NULL;
    for (;;) {
        if (redisReaderGetReply(l->rd, &reply) != REDIS_OK) {
            snprintf(l->errstr, sizeof l->errstr, "protocol error: %s", l->rd->errstr);
            return NULL;
        }
        if (reply)
            return reply;
        ssize_t got;
        if (l->ssl) {
            size_t done = 0;
            errno = 0;
            got = SSL_read_ex(l->ssl, buf, sizeof buf, &done) == 1 ? (ssize_t)done : -1;
        } else {
            while ((got = recv(l->fd, buf, sizeof buf, 0)) < 0 && errno == EINTR)
                ;
        }
        if (got <= 0) {
            if (l->ssl)
                tls_why(l->errstr, sizeof l->errstr, "TLS read");
            else
                snprintf(l->errstr, sizeof l->errstr, "read: %s",
                         got == 0 ? "connection closed" : strerror(errno));
            return NULL;
        }
        if (redisReaderFeed(l->rd, buf, (size_t)got) != REDIS_OK) {
            snprintf(l->errstr, sizeof l->errstr, "protocol error");
            return NULL;
        }
    }
}

/* link_call with NUL-terminated arguments. */
static redisReply *link_calls(struct link *l, int argc, ...)
{
    const char *argv[4];
    size_t lens[4];
    va_list ap;

    va_start(ap, argc);
    for (int i = 0; i < argc && i < 4; i++) {
        argv[i] = va_arg(ap, const char *);
        lens[i] = strlen(argv[i]);
    }
    va_end(ap);
    return link_call(l, argc < 4 ? argc : 4, argv, lens);
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
static int sentinel_resolve(struct redis_store *st, char *why, size_t n)
{
    snprintf(why, n, "no sentinel knows master %s", st->spec.master);
    for (int i = 0; i < st->spec.nsentinels; i++) {
        struct link *c = dial(st, &st->spec.sentinels[i], 0, why, n);
        redisReply *r;
        if (c == NULL)
            continue;
        r = expect(link_calls(c, 3, "SENTINEL", "get-master-addr-by-name", st->spec.master),
                   REDIS_REPLY_ARRAY);
        link_free(c);
        if (r && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            long port;
            const char *p = r->element[1]->str;
            int ok = strlen(r->element[0]->str) < SPEC_HOST_MAX &&
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
static int is_master(struct link *c)
{
    redisReply *r = expect(link_calls(c, 1, "ROLE"), REDIS_REPLY_ARRAY);
    int ok = r && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING &&
             strcmp(r->element[0]->str, "master") == 0;

    if (r)
        freeReplyObject(r);
    return ok;
}

/* AUTH, SELECT, and the script, on a fresh connection. */
static int session_setup(struct redis_store *st, struct link *c, char *why, size_t n)
{
    const struct store_spec *sp = &st->spec;
    redisReply *r;
    char db[16];

    if (sp->secret[0]) {
        r = sp->user[0] ? link_calls(c, 3, "AUTH", sp->user, sp->secret)
                        : link_calls(c, 2, "AUTH", sp->secret);
        if ((r = expect(r, REDIS_REPLY_STATUS)) == NULL) {
            snprintf(why, n, "AUTH refused");
            return -1;
        }
        freeReplyObject(r);
    }
    if (sp->db) {
        snprintf(db, sizeof db, "%d", sp->db);
        if ((r = expect(link_calls(c, 2, "SELECT", db), REDIS_REPLY_STATUS)) == NULL) {
            snprintf(why, n, "SELECT %d refused", sp->db);
            return -1;
        }
        freeReplyObject(r);
    }
    if ((r = expect(link_calls(c, 3, "SCRIPT", "LOAD", cas_script), REDIS_REPLY_STRING)) == NULL) {
        snprintf(why, n, "SCRIPT LOAD failed: %s", c->errstr[0] ? c->errstr : "refused");
        return -1;
    }
    snprintf(st->sha, sizeof st->sha, "%s", r->str);
    freeReplyObject(r);
    return 0;
}

static struct link *connect_now(struct redis_store *st, char *why, size_t n)
{
    struct link *c;

    if (st->spec.kind == SPEC_SENTINEL && sentinel_resolve(st, why, n) < 0)
        return NULL;
    if ((c = dial(st, &st->server, st->spec.kind == SPEC_REDIS_UNIX, why, n)) == NULL)
        return NULL;
    if (session_setup(st, c, why, n) < 0) {
        link_free(c);
        return NULL;
    }
    if (st->spec.kind == SPEC_SENTINEL && !is_master(c)) {
        snprintf(why, n, "%.200s:%d is not a master yet", st->server.host, st->server.port);
        link_free(c);
        return NULL;
    }
    return c;
}

static const char *where(const struct redis_store *st)
{
    return st->spec.kind == SPEC_SENTINEL ? st->spec.master : st->server.host;
}

/* Connected, or STORE_EDOWN until the backoff has passed. */
static enum store_err conn_ensure(struct redis_store *st)
{
    uint64_t now;
    char why[512] = "";

    if (st->c)
        return STORE_OK;
    now = mono_ms();
    if (now < st->retry_at_ms)
        return STORE_EDOWN;
    if ((st->c = connect_now(st, why, sizeof why)) != NULL) {
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
        conn_log(st, "cannot reach %s (%s); session requests answer 503 until it is back",
                 where(st), why);
    st->down_logged = 1;
    return STORE_EDOWN;
}

static void conn_drop(struct redis_store *st)
{
    link_free(st->c);
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
    r = link_call(st->c, argc, argv, lens);
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

/* The TLS settings every connection of this store shares: the peer's
 * certificate checked against the spec's CAs (or the system's), TLS 1.2
 * at least, and the client certificate when the spec names one. */
static SSL_CTX *tls_context(const struct store_spec *sp, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    const char *what = "TLS";

    if (ctx == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    what = "ca";
    if (sp->tls_ca[0] ? SSL_CTX_load_verify_locations(ctx, sp->tls_ca, NULL) != 1
                      : SSL_CTX_set_default_verify_paths(ctx) != 1)
        goto fail;
    what = "cert";
    if (sp->tls_cert[0] && SSL_CTX_use_certificate_chain_file(ctx, sp->tls_cert) != 1)
        goto fail;
    what = "key";
    if (sp->tls_key[0] && (SSL_CTX_use_PrivateKey_file(ctx, sp->tls_key, SSL_FILETYPE_PEM) != 1 ||
                           SSL_CTX_check_private_key(ctx) != 1))
        goto fail;
    return ctx;
fail:
    tls_why(err, errlen, what);
    SSL_CTX_free(ctx);
    return NULL;
}

static struct store *redis_open(const char *spec, const struct store_options *opt,
                                char *err, size_t errlen)
{
    struct redis_store *st = calloc(1, sizeof *st);
    const char *prefix = opt->redis_prefix ? opt->redis_prefix : "nori:";
    char why[512];

    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->base.ops = &store_redis_ops;
    if (store_spec_parse(spec, &st->spec, why, sizeof why) < 0 ||
        (st->spec.kind != SPEC_REDIS && st->spec.kind != SPEC_REDIS_UNIX &&
         st->spec.kind != SPEC_SENTINEL && snprintf(why, sizeof why, "not a Redis store"))) {
        snprintf(err, errlen, "bad store: %s", why);
        goto fail;
    }
    if (strlen(prefix) > PREFIX_MAX) {
        snprintf(err, errlen, "NORI_REDIS_PREFIX: longer than %d bytes", PREFIX_MAX);
        goto fail;
    }
    if (st->spec.kind == SPEC_REDIS_UNIX)
        memcpy(st->server.host, st->spec.path, strlen(st->spec.path) + 1);  /* < 108 */
    else
        st->server = st->spec.server;
    if (st->spec.tls && (st->tls = tls_context(&st->spec, why, sizeof why)) == NULL) {
        snprintf(err, errlen, "%s", why);
        goto fail;
    }
    strcpy(st->prefix, prefix);
    st->prefix_len = strlen(prefix);
    st->timeout_ms = opt->redis_timeout_ms ? opt->redis_timeout_ms : 500;
    st->wait = opt->redis_wait;
    /* Not connected yet: the first call connects, and a Redis that is
     * down now is no reason to refuse to serve pages without sessions. */
    return &st->base;
fail:
    explicit_bzero(&st->spec, sizeof st->spec);
    free(st);
    return NULL;
}

static void redis_close(struct store *base)
{
    struct redis_store *st = (struct redis_store *)base;

    conn_drop(st);
    SSL_CTX_free(st->tls);
    explicit_bzero(&st->spec, sizeof st->spec);
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
    if (r == NULL && e == STORE_EDOWN && st->spec.kind == SPEC_SENTINEL && st->c == NULL) {
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
