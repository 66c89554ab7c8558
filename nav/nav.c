/* nav.c -- strict parsing of query strings and form bodies, canonical URLs,
 * HTML escaping.
 *
 * Validation is by table, after kcgi: every known key names a validator
 * and the typed field it fills. Unknown keys are checked for well-formed
 * encoding and otherwise ignored, so a bookmark with tracking tags still
 * works while a malformed one is still refused. */
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

struct field;
typedef enum nav_err (*validator)(const struct field *f, const char *v,
                                  size_t len, char *dst);

struct field {
    const char *name;
    unsigned bit;
    size_t offset;      /* of the typed result in struct nav / nav_form */
    uint32_t min, max;  /* numbers: value range; text: length range */
    validator validate;
};

/* A plain decimal: no sign, no blanks, no leading zeros. */
static enum nav_err v_number(const struct field *f, const char *v, size_t len,
                             char *dst)
{
    uint32_t n = 0;

    if (len == 0 || len > 10 || (len > 1 && v[0] == '0'))
        return NAV_ENUMBER;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return NAV_ENUMBER;
        uint64_t next = (uint64_t)n * 10 + (uint32_t)(v[i] - '0');
        if (next > f->max)
            return NAV_ENUMBER;
        n = (uint32_t)next;
    }
    if (n < f->min)
        return NAV_ENUMBER;
    memcpy(dst, &n, sizeof n);
    return NAV_OK;
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

static enum nav_err v_text(const struct field *f, const char *v, size_t len,
                           char *dst)
{
    if (len < f->min || len > f->max || has_control(v, len))
        return NAV_ETEXT;
    memcpy(dst, v, len);
    dst[len] = '\0';
    return NAV_OK;
}

static int is_word(const char *v, size_t len, int lower_only)
{
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        int ok = (c >= 'a' && c <= 'z') ||
                 (!lower_only && ((c >= 'A' && c <= 'Z') ||
                                  (c >= '0' && c <= '9') || c == '-' ||
                                  c == '_'));
        if (!ok)
            return 0;
    }
    return 1;
}

/* An action name: lower-case letters only. */
static enum nav_err v_act(const struct field *f, const char *v, size_t len,
                          char *dst)
{
    if (len < f->min || len > f->max || !is_word(v, len, 1))
        return NAV_ETEXT;
    return v_text(f, v, len, dst);
}

/* A page name that cannot be registered is not an error of the request
 * but a page that does not exist: it is left empty and routes to 404. */
static enum nav_err v_pgname(const struct field *f, const char *v, size_t len,
                             char *dst)
{
    if (len > f->max || !is_word(v, len, 0))
        len = 0;
    memcpy(dst, v, len);
    dst[len] = '\0';
    return NAV_OK;
}

/* A key that is not shaped as minted is kept as "" rather than refused:
 * an old or mangled bookmark still renders (sessionless). */
static enum nav_err v_key(const struct field *f, const char *v, size_t len,
                          char *dst)
{
    (void)f;
    if (len != NAV_KEY_LEN || !is_word(v, len, 0))
        len = 0;
    memcpy(dst, v, len);
    dst[len] = '\0';
    return NAV_OK;
}

/* A session key may carry the route of the worker that holds it, as
 * KEY.ROUTE (the memory store's sticky routing); the route is a word of
 * 1..NAV_ROUTE_MAX characters. Anything else is kept as "", as above. */
static enum nav_err v_skey(const struct field *f, const char *v, size_t len,
                           char *dst)
{
    size_t r = len > NAV_KEY_LEN + 1 ? len - NAV_KEY_LEN - 1 : 0;
    int ok = len == NAV_KEY_LEN ? is_word(v, len, 0)
             : r >= 1 && r <= NAV_ROUTE_MAX && v[NAV_KEY_LEN] == '.' &&
               is_word(v, NAV_KEY_LEN, 0) && is_word(v + NAV_KEY_LEN + 1, r, 0);

    (void)f;
    if (!ok)
        len = 0;
    memcpy(dst, v, len);
    dst[len] = '\0';
    return NAV_OK;
}

#define NAV_FIELD(name, bit, member, min, max, fn) \
    { name, bit, offsetof(struct nav, member), min, max, fn }
#define FORM_FIELD(name, bit, member, min, max, fn) \
    { name, bit, offsetof(struct nav_form, member), min, max, fn }

static const struct field query_fields[] = {
    NAV_FIELD("pg", NAV_HAS_PG, pg, 0, NAV_PG_MAX, v_pgname),
    NAV_FIELD("id", NAV_HAS_ID, id, 1, INT32_MAX, v_number),
    NAV_FIELD("page", NAV_HAS_PAGE, page, 1, NAV_PAGE_MAX, v_number),
    NAV_FIELD("q", NAV_HAS_Q, q, 1, NAV_Q_MAX, v_text),
    NAV_FIELD("_s", NAV_HAS_S, s, 0, 0, v_skey),
    NAV_FIELD("_k", NAV_HAS_K, k, 0, 0, v_key),
};

static const struct field form_fields[] = {
    FORM_FIELD("act", NAV_HAS_ACT, act, 1, NAV_ACT_MAX, v_act),
    FORM_FIELD("id", NAV_HAS_ID, id, 1, INT32_MAX, v_number),
    FORM_FIELD("qty", NAV_HAS_QTY, qty, 0, 99, v_number),
    FORM_FIELD("user", NAV_HAS_USER, user, 1, NAV_USER_MAX, v_text),
    FORM_FIELD("password", NAV_HAS_PASSWORD, password, 1, NAV_PASSWORD_MAX,
               v_text),
    FORM_FIELD("_s", NAV_HAS_S, s, 0, 0, v_skey),
    FORM_FIELD("_k", NAV_HAS_K, k, 0, 0, v_key),
};

static const struct field *field_find(const struct field *fields, size_t n,
                                      const char *key, size_t keylen)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(fields[i].name) == keylen &&
            memcmp(fields[i].name, key, keylen) == 0)
            return &fields[i];
    return NULL;
}

/* One key=value pair. A key without '=' has the empty value. */
static enum nav_err parse_pair(const char *p, size_t n,
                               const struct field *fields, size_t nfields,
                               void *result, unsigned *seen)
{
    const char *eq = memchr(p, '=', n);
    size_t klen_raw = eq ? (size_t)(eq - p) : n;
    const char *v = eq ? eq + 1 : p + n;
    size_t vlen_raw = eq ? n - klen_raw - 1 : 0;
    char key[KEY_SCRATCH], val[VALUE_SCRATCH];
    size_t klen, vlen;
    enum nav_err err;

    if ((err = decode(p, klen_raw, key, sizeof key, &klen)) != NAV_OK)
        return err;
    if ((err = decode(v, vlen_raw, val, sizeof val, &vlen)) != NAV_OK)
        return err;

    const struct field *f =
        klen <= sizeof key ? field_find(fields, nfields, key, klen) : NULL;
    if (f == NULL)
        return NAV_OK;
    if (*seen & f->bit)
        return NAV_EREPEAT;
    *seen |= f->bit;
    return f->validate(f, val, vlen, (char *)result + f->offset);
}

static enum nav_err parse_pairs(const char *s, size_t n,
                                const struct field *fields, size_t nfields,
                                void *result, unsigned *seen)
{
    size_t i = 0;

    while (i < n) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - s) : n;
        if (end > i) {
            enum nav_err err =
                parse_pair(s + i, end - i, fields, nfields, result, seen);
            if (err != NAV_OK)
                return err;
        }
        i = end + 1;
    }
    return NAV_OK;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

enum nav_err nav_parse(const char *qs, size_t len, struct nav *nav)
{
    enum nav_err err;

    memset(nav, 0, sizeof *nav);
    if (len > NAV_QUERY_MAX)
        return NAV_ETOOLONG;
    err = parse_pairs(qs, len, query_fields, COUNT(query_fields), nav,
                      &nav->seen);
    if (!(nav->seen & NAV_HAS_PAGE))
        nav->page = 1;
    nav->q_len = strlen(nav->q);
    nav->pg_known_shape = !(nav->seen & NAV_HAS_PG) || nav->pg[0] != '\0';
    return err;
}

enum nav_err nav_parse_form(const char *body, size_t len,
                            struct nav_form *form)
{
    memset(form, 0, sizeof *form);
    return parse_pairs(body, len, form_fields, COUNT(form_fields), form,
                       &form->seen);
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

size_t nav_url(char *out, size_t cap, const char *prefix,
               const struct nav_link *link)
{
    struct out o = {out, cap, 0, cap == 0};
    int first = 1;

    put_str(&o, prefix);
    if (link->pg) {
        put_param(&o, &first, "pg");
        put_encoded(&o, link->pg);
    }
    if (link->id) {
        put_param(&o, &first, "id");
        put_uint(&o, link->id);
    }
    if (link->q) {
        put_param(&o, &first, "q");
        put_encoded(&o, link->q);
    }
    if (link->page > 1) {
        put_param(&o, &first, "page");
        put_uint(&o, link->page);
    }
    if (link->s && link->s[0]) {
        put_param(&o, &first, "_s");
        put_encoded(&o, link->s);
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
