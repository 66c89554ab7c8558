/* origin.c -- comparing a request's Origin with its own site. Strict:
 * anything but http(s)://host[:port] is not our origin, since browsers
 * serialise origins exactly so and "null" means an opaque one. */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "../nav/nav.h"
#include "origin.h"

#define HOST_MAX 255

/* An origin or a Host header, split and normalised for comparison. */
struct site {
    const char *host;       /* not terminated: hostlen bytes */
    size_t hostlen;
    unsigned port;          /* 0 when the text gave none */
};

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

static int ipv6_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

/* host[:port] up to end; 0 on success. A port is 1..65535 in decimal. */
static int authority_parse(const char *p, const char *end, struct site *s)
{
    const char *h = p;

    if (p < end && *p == '[') {
        for (p++; p < end && *p != ']'; p++)
            if (!ipv6_char(*p))
                return -1;
        if (p == end || p - h < 3)
            return -1;
        p++;
    } else {
        while (p < end && host_char(*p))
            p++;
    }
    s->host = h;
    s->hostlen = (size_t)(p - h);
    s->port = 0;
    if (s->hostlen == 0 || s->hostlen > HOST_MAX)
        return -1;
    if (p == end)
        return 0;
    /* Browsers write ports without leading zeros; one with them is
     * nobody's origin, and refusing it keeps comparison byte-exact: the
     * strict decimal of the URL grammar. */
    uint64_t n;
    if (*p++ != ':' || nav_decimal(p, (size_t)(end - p), 65535, &n) < 0 || n == 0)
        return -1;
    s->port = (unsigned)n;
    return 0;
}

/* scheme://host[:port] between p and end; the port defaults by scheme. */
static int origin_parse(const char *p, const char *end, struct site *s)
{
    unsigned def;

    if (end - p > 7 && strncasecmp(p, "http://", 7) == 0)
        p += 7, def = 80;
    else if (end - p > 8 && strncasecmp(p, "https://", 8) == 0)
        p += 8, def = 443;
    else
        return -1;
    if (authority_parse(p, end, s) < 0)
        return -1;
    if (s->port == 0)
        s->port = def;
    return 0;
}

static int site_equal(const struct site *a, const struct site *b)
{
    return a->hostlen == b->hostlen && a->port == b->port &&
           strncasecmp(a->host, b->host, a->hostlen) == 0;
}

int origin_matches_host(const char *origin, const char *host)
{
    struct site o, h;

    if (origin == NULL || host == NULL)
        return 0;
    if (origin_parse(origin, origin + strlen(origin), &o) < 0 ||
        authority_parse(host, host + strlen(host), &h) < 0)
        return 0;
    /* Host leaves out the default port of the scheme the client used,
     * which is the Origin's scheme (or a TLS proxy's in front of us). */
    if (h.port == 0)
        h.port = strncasecmp(origin, "https:", 6) == 0 ? 443 : 80;
    return site_equal(&o, &h);
}

static int list_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t';
}

/* Calls each entry of list with its bounds until fn returns nonzero. */
static int list_each(const char *list, int (*fn)(const char *, const char *, void *),
                     void *arg)
{
    const char *p = list;

    while (p && *p) {
        while (list_sep(*p))
            p++;
        const char *e = p;
        while (*e && !list_sep(*e))
            e++;
        if (e > p && fn(p, e, arg))
            return 1;
        p = e;
    }
    return 0;
}

static int entry_matches(const char *p, const char *e, void *arg)
{
    const struct site *o = arg;
    struct site s;

    return origin_parse(p, e, &s) == 0 && site_equal(&s, o);
}

int origin_in_list(const char *origin, const char *list)
{
    struct site o;

    if (origin == NULL || origin_parse(origin, origin + strlen(origin), &o) < 0)
        return 0;
    return list_each(list, entry_matches, &o);
}

static int entry_bad(const char *p, const char *e, void *arg)
{
    struct site s;

    (void)arg;
    return origin_parse(p, e, &s) < 0;
}

int origin_list_valid(const char *list)
{
    return !list_each(list, entry_bad, NULL);
}

enum origin_err origin_check(const char *origin, const char *sec_fetch_site,
                             const char *host, const char *allowed)
{
    struct site o;

    if (sec_fetch_site && strcasecmp(sec_fetch_site, "cross-site") == 0)
        return ORIGIN_ECROSS_SITE;
    if (origin == NULL)
        return ORIGIN_OK;
    if (origin_parse(origin, origin + strlen(origin), &o) < 0)
        return ORIGIN_EMALFORMED;
    if (origin_matches_host(origin, host) || origin_in_list(origin, allowed))
        return ORIGIN_OK;
    return ORIGIN_EFOREIGN;
}

const char *origin_strerror(enum origin_err err)
{
    switch (err) {
    case ORIGIN_OK: return "same site";
    case ORIGIN_ECROSS_SITE: return "Sec-Fetch-Site says cross-site";
    case ORIGIN_EFOREIGN: return "Origin names another site";
    case ORIGIN_EMALFORMED: return "Origin is not an origin";
    }
    return "origin error";
}
