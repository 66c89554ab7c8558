/* nav.h -- navigation URLs: strict query and form parsing by an
 * application's grammar (nori.h), canonical URLs, HTML escaping, and the
 * small lexical rules (key shape, strict decimal) every layer shares.
 *
 * Everything here is pure: no libfcgi, no globals, no allocation.
 * Results land in the caller's struct nav and the application's struct,
 * so the parsers are called from unit tests and fuzzers as they are
 * called from a worker. */
#ifndef NORI_NAV_H
#define NORI_NAV_H

#include <stddef.h>
#include <stdint.h>

#include "nori.h"

#define NAV_QUERY_MAX   2048    /* longer query strings answer 414 */
#define NAV_PG_MAX      32      /* page names are short identifiers */
#define NAV_KEY_LEN     NORI_KEY_LEN
#define NAV_ROUTE_MAX   16      /* KEY.ROUTE: the worker that holds the session */
#define NAV_SKEY_MAX    (NAV_KEY_LEN + 1 + NAV_ROUTE_MAX)
#define NAV_ACT_MAX     16

enum nav_err {
    NAV_OK = 0,
    NAV_ETOOLONG,       /* query string over NAV_QUERY_MAX: 414 */
    NAV_EENCODING,      /* malformed percent-encoding */
    NAV_ENUL,           /* %00 */
    NAV_EUTF8,          /* invalid UTF-8 after decoding */
    NAV_EREPEAT,        /* a known parameter given twice */
    NAV_ENUMBER,        /* a number field not a plain decimal in range */
    NAV_ETEXT,          /* a text field empty, too long or with control chars */
};

/* Bits of nav.core: which of nori's own fields were given. Bit i of
 * nav.seen is field i of the application's grammar. */
enum {
    NAV_HAS_PG   = 1u << 0,
    NAV_HAS_S    = 1u << 1,
    NAV_HAS_K    = 1u << 2,
    NAV_HAS_ACT  = 1u << 3,
};

/* nori's side of a parsed query or form. A key (_s, _k) that is present
 * but not shaped as minted sets its bit with an empty string: a
 * malformed session key is treated like an unknown one (200,
 * sessionless), not a 400. */
struct nav {
    unsigned core;
    unsigned seen;
    char pg[NAV_PG_MAX + 1];    /* queries: "" when absent (the first page) */
    int pg_known_shape;         /* 0: pg cannot name any page */
    char act[NAV_ACT_MAX + 1];  /* forms: the action, lower-case letters */
    char s[NAV_SKEY_MAX + 1];   /* session key, KEY or KEY.ROUTE */
    char k[NAV_KEY_LEN + 1];    /* form key */
};

/* Whether a grammar can be parsed: at most NORI_FIELDS_MAX fields, no
 * name twice or one of nori's own, every slot inside the struct. -1
 * with a line in err otherwise. */
int nav_grammar_check(const struct nori_grammar *g, char *err, size_t errlen);

/* Parse a query string (without the '?') into nav and the application's
 * struct `values` (g->size bytes, reset first). Pure and total: any byte
 * sequence of any length gives a result, never a crash. */
enum nav_err nav_parse(const struct nori_grammar *g, const char *qs, size_t len,
                       struct nav *nav, void *values);
/* Parse a form-encoded request body with the same engine. */
enum nav_err nav_parse_form(const struct nori_grammar *g, const char *body,
                            size_t len, struct nav *nav, void *values);

/* The HTTP status an error answers with (400 or 414), and a one-line
 * explanation for people. */
int nav_status(enum nav_err err);
const char *nav_strerror(enum nav_err err);

/* The canonical URL of a link: prefix, then pg, the grammar's fields in
 * order (a number equal to its `absent` or out of its range, or empty
 * text, left out), and s last unless NULL or "". Returns the length
 * written, or 0 when it does not fit in cap (which includes the NUL). */
size_t nav_url(char *out, size_t cap, const char *prefix,
               const struct nori_grammar *g, const struct nori_link *link,
               const char *s);

/* HTML-escape len bytes of src into dst, which must hold NAV_HTML_WORST
 * times len bytes. Returns the bytes written (no NUL). */
#define NAV_HTML_WORST NORI_HTML_WORST
size_t nav_html_escape(char *dst, const char *src, size_t len);

/* A strict decimal: 1..20 digits, no sign, no blanks, no leading zero,
 * at most max. 0 and *out, or -1. */
int nav_decimal(const char *s, size_t n, uint64_t max, uint64_t *out);
/* n bytes of A-Z a-z 0-9 - _ (base64url), n >= 1. */
int nav_word(const char *s, size_t n);
/* A minted key: exactly NAV_KEY_LEN base64url characters. */
int nav_key_shaped(const char *k, size_t n);
/* KEY or KEY.ROUTE, a route of 1..NAV_ROUTE_MAX base64url characters. */
int nav_skey_shaped(const char *k, size_t n);

#endif
