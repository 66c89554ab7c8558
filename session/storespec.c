/* storespec.c -- a store spec read into its parts (storespec.h). Every
 * part is checked for what can be known without the network or the
 * filesystem: a port in 1..65535, a host, a database number, a master
 * name, percent escapes that decode; lmdb.c adds whether a directory
 * can be written. Reasons name the part that is wrong and never print
 * the secret: they go to logs and to the terminal as they are. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "../nav/nav.h"
#include "storespec.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* s[0..n) percent-decoded into out (cap bytes, terminated). -1 for a
 * bad escape, a decoded NUL, or no room. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = hex(s[i + 1])) < 0 || (lo = hex(s[i + 2])) < 0)
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* A printable run of bytes for a reason: at most 64 of them, and none
 * that would let a spec write lines into a log. */
static const char *shown(const char *s, size_t n, char buf[72])
{
    size_t o = 0;

    for (size_t i = 0; i < n && o < 64; i++)
        buf[o++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (n > 64) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static int parse_num(const char *s, size_t n, long min, long max, long *out)
{
    uint64_t v;

    if (nav_decimal(s, n, (uint64_t)max, &v) < 0 || v < (uint64_t)min)
        return -1;
    *out = (long)v;
    return 0;
}

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_';
}

/* "HOST:PORT" or "[V6]:PORT" in s[0..n). */
static int parse_endpoint(const char *s, size_t n, struct spec_endpoint *e,
                          char *err, size_t errlen)
{
    const char *colon = NULL;
    size_t hlen;
    long port;
    char b[72];

    for (size_t i = n; i > 0; i--)
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    if (colon == NULL || (colon > s && s[0] == '[' && colon[-1] != ']'))
        return fail(err, errlen, "'%s': want HOST:PORT", shown(s, n, b));
    size_t plen = n - (size_t)(colon + 1 - s);
    if (parse_num(colon + 1, plen, 1, 65535, &port) < 0)
        return fail(err, errlen, "port '%s' is not a number from 1 to 65535",
                    shown(colon + 1, plen, b));
    hlen = (size_t)(colon - s);
    if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
        for (size_t i = 1; i + 1 < hlen; i++)
            if (!(hex(s[i]) >= 0 || s[i] == ':' || s[i] == '.'))
                return fail(err, errlen, "'%s': not an IPv6 address", shown(s, hlen, b));
        s++;
        hlen -= 2;
    } else {
        for (size_t i = 0; i < hlen; i++)
            if (!host_char(s[i]))
                return fail(err, errlen, "host '%s': not a host name or address",
                            shown(s, hlen, b));
    }
    if (hlen == 0)
        return fail(err, errlen, "no host before :%ld", port);
    if (hlen >= SPEC_HOST_MAX)
        return fail(err, errlen, "host longer than %d bytes", SPEC_HOST_MAX - 1);
    memcpy(e->host, s, hlen);
    e->host[hlen] = '\0';
    e->port = (int)port;
    return 0;
}

/* An optional "[USER]:SECRET@" at the front of s[0..*n): the last '@'
 * ends it (a raw '@' or '/' in a secret still works, as it always
 * did). s and *n move past it. */
static int parse_userinfo(struct store_spec *sp, const char **s, size_t *n,
                          char *err, size_t errlen)
{
    const char *at = NULL, *colon;

    for (size_t i = *n; i > 0; i--)
        if ((*s)[i - 1] == '@') {
            at = *s + i - 1;
            break;
        }
    if (at == NULL)
        return 0;
    colon = memchr(*s, ':', (size_t)(at - *s));
    if (colon == NULL)
        return fail(err, errlen, "want [USER]:SECRET@ before the host");
    if (pct_decode(*s, (size_t)(colon - *s), sp->user, sizeof sp->user) < 0)
        return fail(err, errlen, "the user name: a bad %% escape, or longer than %d bytes",
                    SPEC_SECRET_MAX - 1);
    if (pct_decode(colon + 1, (size_t)(at - colon - 1), sp->secret, sizeof sp->secret) < 0)
        return fail(err, errlen, "the secret: a bad %% escape (write '%%' as %%25), "
                    "or longer than %d bytes", SPEC_SECRET_MAX - 1);
    if (sp->secret[0] == '\0')
        return fail(err, errlen, "an empty secret (leave out ':@' for none)");
    *n -= (size_t)(at + 1 - *s);
    *s = at + 1;
    return 0;
}

static int parse_db(const char *s, size_t n, struct store_spec *sp, char *err, size_t errlen)
{
    long db;
    char b[72];

    if (parse_num(s, n, 0, 65535, &db) < 0)
        return fail(err, errlen, "database '%s' is not a number from 0 to 65535",
                    shown(s, n, b));
    sp->db = (int)db;
    return 0;
}

static int path_value(const char *s, size_t n, char *out, const char *what,
                      char *err, size_t errlen)
{
    if (n == 0 || pct_decode(s, n, out, SPEC_PATH_MAX) < 0)
        return fail(err, errlen, "%s: empty, a bad %% escape, or longer than %d bytes",
                    what, SPEC_PATH_MAX - 1);
    for (const char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return fail(err, errlen, "%s: a control character", what);
    return 0;
}

/* The options after '?': db=N for a socket, the TLS ones for rediss. */
static int parse_query(const char *q, struct store_spec *sp, char *err, size_t errlen)
{
    char b[72];

    while (*q) {
        const char *amp = strchr(q, '&'), *eq;
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        int rc;
        if ((eq = memchr(q, '=', n)) == NULL)
            return fail(err, errlen, "option '%s': want NAME=VALUE", shown(q, n, b));
        size_t kl = (size_t)(eq - q), vl = n - kl - 1;
        const char *v = eq + 1;
#define IS(k) (kl == sizeof k - 1 && memcmp(q, k, kl) == 0)
        if (IS("db") && sp->kind == SPEC_REDIS_UNIX)
            rc = parse_db(v, vl, sp, err, errlen);
        else if (IS("ca") && sp->tls)
            rc = path_value(v, vl, sp->tls_ca, "ca", err, errlen);
        else if (IS("cert") && sp->tls)
            rc = path_value(v, vl, sp->tls_cert, "cert", err, errlen);
        else if (IS("key") && sp->tls)
            rc = path_value(v, vl, sp->tls_key, "key", err, errlen);
        else if (IS("sni") && sp->tls) {
            rc = 0;
            for (size_t i = 0; i < vl; i++)
                rc |= !host_char(v[i]);
            rc = rc || vl == 0 || vl >= sizeof sp->tls_sni
                     ? fail(err, errlen, "sni: not a host name")
                     : (memcpy(sp->tls_sni, v, vl), sp->tls_sni[vl] = '\0', 0);
        } else
            rc = fail(err, errlen, "unknown option '%s' (%s)", shown(q, kl, b),
                      sp->kind == SPEC_REDIS_UNIX ? "redis+unix:// takes db=N"
                      : sp->tls ? "TLS takes ca, cert, key, sni"
                                : "options are for rediss:// and redis+unix://");
#undef IS
        if (rc < 0)
            return -1;
        q = amp ? amp + 1 : q + n;
        if (amp && *q == '\0')
            return fail(err, errlen, "a '&' with no option after it");
    }
    if (!sp->tls_cert[0] != !sp->tls_key[0])
        return fail(err, errlen, "cert and key go together");
    return 0;
}

static int master_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* HOST:PORT[/DB] */
static int parse_tcp(struct store_spec *sp, const char *s, size_t n, char *err, size_t errlen)
{
    const char *slash = memchr(s, '/', n);
    size_t hn = slash ? (size_t)(slash - s) : n;

    if (slash && parse_db(slash + 1, n - hn - 1, sp, err, errlen) < 0)
        return -1;
    return parse_endpoint(s, hn, &sp->server, err, errlen);
}

/* /PATH */
static int parse_unix(struct store_spec *sp, const char *s, size_t n, char *err, size_t errlen)
{
    if (n < 2 || s[0] != '/')
        return fail(err, errlen, "want redis+unix:///PATH, an absolute socket path");
    if (n >= sizeof ((struct sockaddr_un *)0)->sun_path)
        return fail(err, errlen, "socket path longer than %zu bytes",
                    sizeof ((struct sockaddr_un *)0)->sun_path - 1);
    return path_value(s, n, sp->path, "socket path", err, errlen);
}

/* HOST:PORT[,HOST:PORT...]/MASTER[/DB] */
static int parse_sentinel(struct store_spec *sp, const char *s, size_t n,
                          char *err, size_t errlen)
{
    const char *slash = memchr(s, '/', n), *name, *end, *stop = s + n;
    char b[72];

    if (slash == NULL)
        return fail(err, errlen, "want HOST:PORT[,HOST:PORT...]/MASTER");
    for (const char *p = s; p < slash;) {
        const char *comma = memchr(p, ',', (size_t)(slash - p));
        const char *until = comma ? comma : slash;
        if (sp->nsentinels == SPEC_SENTINELS_MAX)
            return fail(err, errlen, "more than %d sentinels", SPEC_SENTINELS_MAX);
        if (parse_endpoint(p, (size_t)(until - p), &sp->sentinels[sp->nsentinels],
                           err, errlen) < 0)
            return -1;
        sp->nsentinels++;
        p = comma ? comma + 1 : slash;
        if (comma && p == slash)
            return fail(err, errlen, "a ',' with no sentinel after it");
    }
    if (sp->nsentinels == 0)
        return fail(err, errlen, "no sentinel before /MASTER");
    name = slash + 1;
    end = memchr(name, '/', (size_t)(stop - name));
    if (end && parse_db(end + 1, (size_t)(stop - end - 1), sp, err, errlen) < 0)
        return -1;
    size_t nl = (size_t)((end ? end : stop) - name);
    if (nl == 0 || nl >= sizeof sp->master)
        return fail(err, errlen, "the master's name: 1 to %zu bytes", sizeof sp->master - 1);
    for (size_t i = 0; i < nl; i++)
        if (!master_char(name[i]))
            return fail(err, errlen, "master '%s': only A-Z a-z 0-9 - _ .",
                        shown(name, nl, b));
    memcpy(sp->master, name, nl);
    sp->master[nl] = '\0';
    return 0;
}

static const struct {
    const char *scheme;
    enum spec_kind kind;
    int tls;
} redis_schemes[] = {
    {"redis://", SPEC_REDIS, 0},
    {"rediss://", SPEC_REDIS, 1},
    {"redis+unix://", SPEC_REDIS_UNIX, 0},
    {"redis-sentinel://", SPEC_SENTINEL, 0},
    {"rediss-sentinel://", SPEC_SENTINEL, 1},
};

static int parse_redis(struct store_spec *sp, const char *s, char *err, size_t errlen)
{
    const char *q = strchr(s, '?');
    size_t n = q ? (size_t)(q - s) : strlen(s);
    int rc;

    /* A socket path begins with '/': no user part can come before it
     * unless it ends in "@/". */
    if (!(sp->kind == SPEC_REDIS_UNIX && s[0] == '/') &&
        parse_userinfo(sp, &s, &n, err, errlen) < 0)
        return -1;
    rc = sp->kind == SPEC_REDIS      ? parse_tcp(sp, s, n, err, errlen)
         : sp->kind == SPEC_SENTINEL ? parse_sentinel(sp, s, n, err, errlen)
                                     : parse_unix(sp, s, n, err, errlen);
    if (rc < 0)
        return -1;
    if (q && q[1] == '\0')
        return fail(err, errlen, "a '?' with no option after it");
    return q ? parse_query(q + 1, sp, err, errlen) : 0;
}

int store_spec_parse(const char *spec, struct store_spec *sp, char *err, size_t errlen)
{
    memset(sp, 0, sizeof *sp);
    if (spec == NULL)
        return fail(err, errlen, "no store");
    if (strcmp(spec, "memory") == 0) {
        sp->kind = SPEC_MEMORY;
        return 0;
    }
    if (strncmp(spec, "lmdb:", 5) == 0) {
        sp->kind = SPEC_LMDB;
        if (spec[5] == '\0')
            return fail(err, errlen, "want lmdb:PATH");
        if (strlen(spec + 5) >= sizeof sp->path)
            return fail(err, errlen, "path longer than %zu bytes", sizeof sp->path - 1);
        for (const char *p = spec + 5; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                return fail(err, errlen, "a control character in the path");
        strcpy(sp->path, spec + 5);
        return 0;
    }
    for (size_t i = 0; i < sizeof redis_schemes / sizeof *redis_schemes; i++) {
        size_t l = strlen(redis_schemes[i].scheme);
        if (strncmp(spec, redis_schemes[i].scheme, l) == 0) {
            sp->kind = redis_schemes[i].kind;
            sp->tls = redis_schemes[i].tls;
            return parse_redis(sp, spec + l, err, errlen);
        }
    }
    return fail(err, errlen, "unknown store (want lmdb:PATH, memory, redis://HOST:PORT, "
                "rediss://HOST:PORT, redis+unix:///PATH or redis-sentinel://HOST:PORT/MASTER)");
}

void store_spec_mask(const char *spec, char *out, size_t cap)
{
    const char *auth = spec ? strstr(spec, "://") : NULL, *end, *at = NULL, *colon;
    size_t keep;

    if (cap == 0)
        return;
    if (auth == NULL) {
        snprintf(out, cap, "%s", spec ? spec : "");
        return;
    }
    auth += 3;
    end = strchr(auth, '?');
    end = end ? end : auth + strlen(auth);
    for (const char *p = end; p > auth; p--)
        if (p[-1] == '@') {
            at = p - 1;
            break;
        }
    if (at == NULL) {
        snprintf(out, cap, "%s", spec);
        return;
    }
    colon = memchr(auth, ':', (size_t)(at - auth));
    keep = (size_t)((colon ? colon + 1 : auth) - spec);
    snprintf(out, cap, "%.*s***%s", (int)keep, spec, at);
}
