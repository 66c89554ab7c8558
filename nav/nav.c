/* nav.c -- strict parsing of query strings and form bodies, canonical URLs,
 * HTML escaping.
 *
 * Validation is by table, after kcgi: the application's grammar (nori.h)
 * names each of its keys' kind and the typed slot it fills, beside
 * nori's own pg, act, _s and _k. Unknown keys are checked for
 * well-formed encoding and otherwise ignored, so a bookmark with tracking
 * tags still works while a malformed one is still refused. */
#include <stdio.h>
#include <string.h>

#include "nav.h"

/* Decoded values are copied into a scratch buffer this large. Every field
 * bound is below it, so a longer value is refused by length before its
 * (truncated) bytes are read. */
#define VALUE_SCRATCH 256
#define KEY_SCRATCH 16

/* Incremental UTF-8 check (Unicode 15, table 3-7): no overlongs, no
 * surrogates, nothing above U+10FFFF. */
struct utf8 {
    unsigned need;
    unsigned char lo, hi;
};

static int utf8_feed(struct utf8 *u, unsigned char b)
{
    if (u->need) {
        if (b < u->lo || b > u->hi)
            return -1;
        u->lo = 0x80;
        u->hi = 0xBF;
        u->need--;
        return 0;
    }
    if (b < 0x80)
        return 0;
    u->lo = 0x80;
    u->hi = 0xBF;
    if (b < 0xC2)
        return -1;
    if (b < 0xE0) {
        u->need = 1;
    } else if (b < 0xF0) {
        u->need = 2;
        if (b == 0xE0) u->lo = 0xA0;
        if (b == 0xED) u->hi = 0x9F;
    } else if (b < 0xF5) {
        u->need = 3;
        if (b == 0xF0) u->lo = 0x90;
        if (b == 0xF4) u->hi = 0x8F;
    } else {
        return -1;
    }
    return 0;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into dst, keeping at most cap bytes but checking
 * all of them. *outlen is the full decoded length. */
static enum nav_err decode(const char *s, size_t n, char *dst, size_t cap,
                           size_t *outlen)
{
    struct utf8 u = {0, 0x80, 0xBF};
    size_t len = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b == '+') {
            b = ' ';
        } else if (b == '%') {
            int hi, lo;
            if (n - i < 3 || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
                (lo = hexval((unsigned char)s[i + 2])) < 0)
                return NAV_EENCODING;
            b = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        if (b == 0)
            return NAV_ENUL;
        if (utf8_feed(&u, b) < 0)
            return NAV_EUTF8;
        if (len < cap)
            dst[len] = (char)b;
        len++;
    }
    if (u.need)
        return NAV_EUTF8;
    *outlen = len;
    return NAV_OK;
}

int nav_decimal(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 20 || (n > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (d > max || v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* C0 controls, DEL, and C1 controls (U+0080..U+009F, encoded C2 80..9F).
 * The bytes are valid UTF-8 already. */
static int has_control(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)v[i];
        if (b < 0x20 || b == 0x7F)
            return 1;
        if (b == 0xC2 && i + 1 < len && (unsigned char)v[i + 1] <= 0x9F)
            return 1;
    }
    return 0;
}

static int word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_';
}

int nav_word(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!word_char(s[i]))
            return 0;
    return 1;
}

int nav_key_shaped(const char *k, size_t n)
{
    return n == NAV_KEY_LEN && nav_word(k, n);
}

int nav_skey_shaped(const char *k, size_t n)
{
    size_t r = n > NAV_KEY_LEN + 1 ? n - NAV_KEY_LEN - 1 : 0;

    if (n == NAV_KEY_LEN)
        return nav_word(k, n);
    return r >= 1 && r <= NAV_ROUTE_MAX && k[NAV_KEY_LEN] == '.' &&
           nav_word(k, NAV_KEY_LEN) && nav_word(k + NAV_KEY_LEN + 1, r);
}

/* Copies v to dst as a string, or "" when shaped() refuses it. */
static void keep_if(char *dst, const char *v, size_t len, int shaped)
{
    if (!shaped)
        len = 0;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static enum nav_err v_number(const struct nori_field *f, const char *v,
                             size_t len, void *dst)
{
    uint64_t n;

    if (nav_decimal(v, len, f->max, &n) < 0 || n < f->min)
        return NAV_ENUMBER;
    uint32_t n32 = (uint32_t)n;
    memcpy(dst, &n32, sizeof n32);
    return NAV_OK;
}

static enum nav_err v_text(const struct nori_field *f, const char *v,
                           size_t len, void *dst)
{
    if (len < f->min || len > f->max || has_control(v, len))
        return NAV_ETEXT;
    memcpy(dst, v, len);
    ((char *)dst)[len] = '\0';
    return NAV_OK;
}

/* nori's own fields. A page name that cannot be registered is not an
 * error of the request but a page that does not exist: it is kept as ""
 * and routes to 404. A key not shaped as minted is kept as "" rather
 * than refused: an old or mangled bookmark still renders sessionless.
 * An action name is lower-case letters. */
enum core_field { CORE_PG, CORE_S, CORE_K, CORE_ACT, CORE_NONE };

static const char *const core_names[] = {"pg", "_s", "_k", "act"};
static const unsigned core_bits[] = {NAV_HAS_PG, NAV_HAS_S, NAV_HAS_K, NAV_HAS_ACT};

static int lower_word(const char *v, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (v[i] < 'a' || v[i] > 'z')
            return 0;
    return len > 0;
}

static enum nav_err core_set(struct nav *nav, enum core_field c, const char *v,
                             size_t len)
{
    switch (c) {
    case CORE_PG:
        keep_if(nav->pg, v, len, len <= NAV_PG_MAX && nav_word(v, len));
        return NAV_OK;
    case CORE_S:
        keep_if(nav->s, v, len, nav_skey_shaped(v, len));
        return NAV_OK;
    case CORE_K:
        keep_if(nav->k, v, len, nav_key_shaped(v, len));
        return NAV_OK;
    case CORE_ACT:
        if (len > NAV_ACT_MAX || !lower_word(v, len))
            return NAV_ETEXT;
        keep_if(nav->act, v, len, 1);
        return NAV_OK;
    case CORE_NONE:
        break;
    }
    return NAV_OK;
}

/* Which fields a parse knows: a query knows pg, a form knows act. */
struct parse {
    const struct nori_grammar *g;
    struct nav *nav;
    void *values;
    enum core_field own;        /* CORE_PG or CORE_ACT */
};

/* Names are a few bytes and most differ at the first: compared here,
 * without a call to strncmp for each name a key is tried against. A
 * decoded key holds no NUL, so a shorter name stops at its own end. */
static int name_is(const char *name, const char *key, size_t keylen)
{
    for (size_t i = 0; i < keylen; i++)
        if (name[i] != key[i])
            return 0;
    return name[keylen] == '\0';
}

static enum core_field core_find(const struct parse *p, const char *key, size_t keylen)
{
    if (name_is(core_names[CORE_S], key, keylen))
        return CORE_S;
    if (name_is(core_names[CORE_K], key, keylen))
        return CORE_K;
    if (name_is(core_names[p->own], key, keylen))
        return p->own;
    return CORE_NONE;
}

/* A known field, once: its bit, then its validator. */
static enum nav_err field_set(struct parse *p, const char *key, size_t klen,
                              const char *val, size_t vlen)
{
    enum core_field c = core_find(p, key, klen);

    if (c != CORE_NONE) {
        if (p->nav->core & core_bits[c])
            return NAV_EREPEAT;
        p->nav->core |= core_bits[c];
        return core_set(p->nav, c, val, vlen);
    }
    for (size_t i = 0; i < p->g->nfields; i++) {
        const struct nori_field *f = &p->g->fields[i];
        if (!name_is(f->name, key, klen))
            continue;
        if (p->nav->seen & (1u << i))
            return NAV_EREPEAT;
        p->nav->seen |= 1u << i;
        void *dst = (char *)p->values + f->offset;
        return f->kind == NORI_UINT ? v_number(f, val, vlen, dst)
                                    : v_text(f, val, vlen, dst);
    }
    return NAV_OK;
}

/* One key=value pair. A key without '=' has the empty value. */
static enum nav_err parse_pair(struct parse *p, const char *s, size_t n)
{
    const char *eq = memchr(s, '=', n);
    size_t klen_raw = eq ? (size_t)(eq - s) : n;
    const char *v = eq ? eq + 1 : s + n;
    size_t vlen_raw = eq ? n - klen_raw - 1 : 0;
    char key[KEY_SCRATCH], val[VALUE_SCRATCH];
    size_t klen, vlen;
    enum nav_err err;

    if ((err = decode(s, klen_raw, key, sizeof key, &klen)) != NAV_OK)
        return err;
    if ((err = decode(v, vlen_raw, val, sizeof val, &vlen)) != NAV_OK)
        return err;
    if (klen >= sizeof key)
        return NAV_OK;          /* longer than any name we know */
    key[klen] = '\0';
    return field_set(p, key, klen, val, vlen);
}

static enum nav_err parse_pairs(struct parse *p, const char *s, size_t n)
{
    size_t i = 0;

    memset(p->nav, 0, sizeof *p->nav);
    memset(p->values, 0, p->g->size);
    for (size_t f = 0; f < p->g->nfields; f++)
        if (p->g->fields[f].kind == NORI_UINT)
            memcpy((char *)p->values + p->g->fields[f].offset,
                   &p->g->fields[f].absent, sizeof(uint32_t));
    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - s) : n;
        if (end > i) {
            enum nav_err err = parse_pair(p, s + i, end - i);
            if (err != NAV_OK)
                return err;
        }
        i = end + 1;
    }
    return NAV_OK;
}

enum nav_err nav_parse(const struct nori_grammar *g, const char *qs, size_t len,
                       struct nav *nav, void *values)
{
    struct parse p = {g, nav, values, CORE_PG};
    enum nav_err err;

    if (len > NAV_QUERY_MAX) {
        memset(nav, 0, sizeof *nav);
        memset(values, 0, g->size);
        return NAV_ETOOLONG;
    }
    err = parse_pairs(&p, qs, len);
    nav->pg_known_shape = !(nav->core & NAV_HAS_PG) || nav->pg[0] != '\0';
    return err;
}

enum nav_err nav_parse_form(const struct nori_grammar *g, const char *body,
                            size_t len, struct nav *nav, void *values)
{
    struct parse p = {g, nav, values, CORE_ACT};

    return parse_pairs(&p, body, len);
}

int nav_grammar_check(const struct nori_grammar *g, char *err, size_t errlen)
{
    if (g->nfields > NORI_FIELDS_MAX) {
        snprintf(err, errlen, "a grammar has %zu fields, at most %d", g->nfields,
                 NORI_FIELDS_MAX);
        return -1;
    }
    for (size_t i = 0; i < g->nfields; i++) {
        const struct nori_field *f = &g->fields[i];
        size_t n = f->name ? strlen(f->name) : 0;
        size_t need = f->kind == NORI_UINT ? sizeof(uint32_t) : (size_t)f->max + 1;
        int clash = n == 0 || n >= KEY_SCRATCH;

        for (size_t c = 0; c < sizeof core_names / sizeof core_names[0]; c++)
            clash |= n && strcmp(f->name, core_names[c]) == 0;
        for (size_t j = 0; j < i; j++)
            clash |= n && strcmp(f->name, g->fields[j].name) == 0;
        if (clash || f->offset > g->size || need > g->size - f->offset ||
            f->min > f->max ||
            (f->kind == NORI_TEXT && f->max > NORI_TEXT_MAX)) {
            snprintf(err, errlen, "field '%s': a name given twice, one of nori's "
                     "(pg, act, _s, _k), or a slot out of bounds",
                     f->name ? f->name : "");
            return -1;
        }
    }
    return 0;
}

int nav_status(enum nav_err err)
{
    switch (err) {
    case NAV_OK:
        return 200;
    case NAV_ETOOLONG:
        return 414;
    default:
        return 400;
    }
}

const char *nav_strerror(enum nav_err err)
{
    switch (err) {
    case NAV_OK:
        return "No error.";
    case NAV_ETOOLONG:
        return "The query string is longer than 2048 bytes.";
    case NAV_EENCODING:
        return "The URL has a malformed percent-encoding.";
    case NAV_ENUL:
        return "The URL contains a NUL byte (%00).";
    case NAV_EUTF8:
        return "The URL does not decode to valid UTF-8.";
    case NAV_EREPEAT:
        return "A parameter is given more than once.";
    case NAV_ENUMBER:
        return "A number is malformed or out of range.";
    case NAV_ETEXT:
        return "A text field is empty, too long, or has control characters.";
    }
    return "The request is malformed.";
}

/* A bounded string builder over the caller's buffer. */
struct out {
    char *p;
    size_t cap, len;
    int overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->overflow || o->cap - o->len <= n) {
        o->overflow = 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_uint(struct out *o, uint32_t n)
{
    char tmp[10];
    size_t i = sizeof tmp;

    do {
        tmp[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    put(o, tmp + i, sizeof tmp - i);
}

/* RFC 3986 unreserved characters stay; everything else is %XX. */
static int url_plain(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Unreserved bytes go out in spans, the rest as %XX. */
static void put_encoded(struct out *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    while (*s) {
        const char *run = s;
        while (*run && url_plain((unsigned char)*run))
            run++;
        put(o, s, (size_t)(run - s));
        if (*run == '\0')
            break;
        unsigned char c = (unsigned char)*run;
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        put(o, e, 3);
        s = run + 1;
    }
}

static void put_param(struct out *o, int *first, const char *name)
{
    put_str(o, *first ? "?" : "&");
    put_str(o, name);
    put_str(o, "=");
    *first = 0;
}

static void put_field(struct out *o, int *first, const struct nori_field *f,
                      const void *values)
{
    const char *slot = (const char *)values + f->offset;
    uint32_t n;

    if (f->kind == NORI_TEXT) {
        if (slot[0] == '\0')
            return;
        put_param(o, first, f->name);
        put_encoded(o, slot);
        return;
    }
    memcpy(&n, slot, sizeof n);
    if (n == f->absent || n < f->min || n > f->max)
        return;
    put_param(o, first, f->name);
    put_uint(o, n);
}

size_t nav_url(char *out, size_t cap, const char *prefix,
               const struct nori_grammar *g, const struct nori_link *link,
               const char *s)
{
    struct out o = {out, cap, 0, cap == 0};
    int first = 1;

    put_str(&o, prefix);
    if (link->pg) {
        put_param(&o, &first, "pg");
        put_encoded(&o, link->pg);
    }
    for (size_t i = 0; link->query && i < g->nfields; i++)
        put_field(&o, &first, &g->fields[i], link->query);
    if (s && s[0]) {
        put_param(&o, &first, "_s");
        put_encoded(&o, s);
    }
    if (o.len == 0)
        put_str(&o, "/");   /* an empty prefix still needs a valid href */
    if (o.overflow)
        return 0;
    out[o.len] = '\0';
    return o.len;
}

/* Which bytes HTML needs escaped, and as what. Text is copied in spans
 * between them: most strings have none, and a byte-at-a-time copy was
 * the hottest loop of a page. */
static const char *const html_rep[256] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
};
static const unsigned char html_rep_len[256] = {
    ['&'] = 5, ['<'] = 4, ['>'] = 4, ['"'] = 6, ['\''] = 5,
};

size_t nav_html_escape(char *dst, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t n = 0, i = 0;

    while (i < len) {
        size_t run = i;
        while (run < len && html_rep_len[s[run]] == 0)
            run++;
        memcpy(dst + n, src + i, run - i);
        n += run - i;
        if (run == len)
            break;
        memcpy(dst + n, html_rep[s[run]], html_rep_len[s[run]]);
        n += html_rep_len[s[run]];
        i = run + 1;
    }
    return n;
}
