/* nav.h -- navigation URLs: strict query/form parsing, routing, URL
 * building and HTML escaping.
 *
 * Everything here is pure: no libfcgi, no globals that a request writes,
 * no allocation. Results land in fixed-size fields of the caller's
 * struct, so the parsers can be called from unit tests and fuzzers as
 * they are called from a worker. */
#ifndef NORI_NAV_H
#define NORI_NAV_H

#include <stddef.h>
#include <stdint.h>

#define NAV_QUERY_MAX   2048    /* longer query strings answer 414 */
#define NAV_PG_MAX      32      /* page names are short identifiers */
#define NAV_Q_MAX       200     /* search text, in bytes after decoding */
#define NAV_PAGE_MAX    10000   /* listing page numbers */
#define NAV_KEY_LEN     22      /* a 128-bit key in unpadded base64url */
#define NAV_ROUTE_MAX   16      /* KEY.ROUTE: the worker that holds the session */
#define NAV_SKEY_MAX    (NAV_KEY_LEN + 1 + NAV_ROUTE_MAX)
#define NAV_USER_MAX    64
#define NAV_PASSWORD_MAX 128
#define NAV_ACT_MAX     16

enum nav_err {
    NAV_OK = 0,
    NAV_ETOOLONG,       /* query string over NAV_QUERY_MAX: 414 */
    NAV_EENCODING,      /* malformed percent-encoding */
    NAV_ENUL,           /* %00 */
    NAV_EUTF8,          /* invalid UTF-8 after decoding */
    NAV_EREPEAT,        /* a known parameter given twice */
    NAV_ENUMBER,        /* id/page/qty not a plain decimal in range */
    NAV_ETEXT,          /* q/user/password: empty, too long or control chars */
};

/* Bits of nav.seen / nav_form.seen: which known parameters were given. */
enum {
    NAV_HAS_PG   = 1u << 0,
    NAV_HAS_ID   = 1u << 1,
    NAV_HAS_PAGE = 1u << 2,
    NAV_HAS_Q    = 1u << 3,
    NAV_HAS_S    = 1u << 4,
    NAV_HAS_K    = 1u << 5,
    NAV_HAS_ACT  = 1u << 6,
    NAV_HAS_QTY  = 1u << 7,
    NAV_HAS_USER = 1u << 8,
    NAV_HAS_PASSWORD = 1u << 9,
};

/* A parsed navigation URL. Strings are decoded and NUL-terminated. A
 * key (_s, _k) that is present but not shaped like a minted key sets its
 * NAV_HAS_ bit with an empty string: docs/design.md wants a malformed session
 * key treated like an unknown one (200, sessionless), not a 400. */
struct nav {
    unsigned seen;
    char pg[NAV_PG_MAX + 1];    /* "" when absent; absent means Home */
    int pg_known_shape;         /* 0: pg cannot name any page (too long, odd bytes) */
    uint32_t id;                /* 1..2^31-1 when NAV_HAS_ID */
    uint32_t page;              /* 1..10000; 1 when absent */
    char q[NAV_Q_MAX + 1];
    size_t q_len;
    char s[NAV_SKEY_MAX + 1];   /* session key, KEY or KEY.ROUTE */
    char k[NAV_KEY_LEN + 1];    /* form key */
};

/* The fields of an action POST (application/x-www-form-urlencoded). */
struct nav_form {
    unsigned seen;
    char act[NAV_ACT_MAX + 1];
    uint32_t id;
    uint32_t qty;               /* 0..99; the action checks its own range */
    char user[NAV_USER_MAX + 1];
    char password[NAV_PASSWORD_MAX + 1];
    char s[NAV_SKEY_MAX + 1];
    char k[NAV_KEY_LEN + 1];
};

/* Parse a query string (without the '?'). Pure and total: any byte
 * sequence of any length gives a result, never a crash. */
enum nav_err nav_parse(const char *qs, size_t len, struct nav *nav);

/* Parse a form-encoded request body with the same grammar. */
enum nav_err nav_parse_form(const char *body, size_t len, struct nav_form *form);

/* The HTTP status an error answers with (400 or 414), and a one-line
 * explanation for people. */
int nav_status(enum nav_err err);
const char *nav_strerror(enum nav_err err);

/* Canonical URL: prefix, then pg, id, q, page (only when > 1), and _s
 * last. Zero/NULL fields are left out. Returns the length written, or 0
 * when it does not fit in cap (cap includes the NUL). */
struct nav_link {
    const char *pg;
    uint32_t id;
    const char *q;
    uint32_t page;
    const char *s;
};
size_t nav_url(char *out, size_t cap, const char *prefix,
               const struct nav_link *link);

/* HTML-escape len bytes of src into dst, which must hold NAV_HTML_WORST
 * times len bytes. Returns the bytes written (no NUL). */
#define NAV_HTML_WORST 6
size_t nav_html_escape(char *dst, const char *src, size_t len);

#endif
