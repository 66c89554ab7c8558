/* fuzz_form.c -- libFuzzer target for nav_parse_form (action POST bodies)
 * and nav_html_escape.
 *
 * Besides what the sanitizers catch, each successful parse is checked
 * against the contract (ranges, lengths, terminated strings), encoded
 * back into a body and parsed again (same fields), and compared with
 * nav_parse on the same bytes for the fields both grammars share. A
 * failed check aborts, so libFuzzer keeps the input as a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nav/nav.h"

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* Independent UTF-8 check, by code point (nav.c checks by byte ranges). */
static int valid_utf8(const unsigned char *s, size_t n)
{
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};

    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len;

        if (s[i] < 0x80) {
            i++;
            continue;
        } else if ((s[i] & 0xE0) == 0xC0) {
            cp = s[i] & 0x1F, len = 2;
        } else if ((s[i] & 0xF0) == 0xE0) {
            cp = s[i] & 0x0F, len = 3;
        } else if ((s[i] & 0xF8) == 0xF0) {
            cp = s[i] & 0x07, len = 4;
        } else {
            return 0;
        }
        if (n - i < len)
            return 0;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3F);
        }
        if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Text a person typed: valid UTF-8, 1..max bytes, no C0, DEL or C1. */
static int good_text(const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);

    if (n < 1 || n > max || !valid_utf8(u, n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (u[i] < 0x20 || u[i] == 0x7F)
            return 0;
        if (u[i] == 0xC2 && i + 1 < n && u[i + 1] <= 0x9F)
            return 0;
    }
    return 1;
}

static int good_key(const char *s)
{
    if (s[0] == '\0')
        return 1;               /* present but malformed, or absent */
    if (strlen(s) != NAV_KEY_LEN)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

static void check_fields(const struct nav_form *f)
{
    CHECK(terminated(f->act, sizeof f->act));
    CHECK(terminated(f->user, sizeof f->user));
    CHECK(terminated(f->password, sizeof f->password));
    CHECK(terminated(f->s, sizeof f->s));
    CHECK(terminated(f->k, sizeof f->k));

    if (f->seen & NAV_HAS_ACT) {
        size_t n = strlen(f->act);
        CHECK(n >= 1 && n <= NAV_ACT_MAX);
        for (size_t i = 0; i < n; i++)
            CHECK(f->act[i] >= 'a' && f->act[i] <= 'z');
    } else {
        CHECK(f->act[0] == '\0');
    }
    if (f->seen & NAV_HAS_ID)
        CHECK(f->id >= 1 && f->id <= INT32_MAX);
    else
        CHECK(f->id == 0);
    if (f->seen & NAV_HAS_QTY)
        CHECK(f->qty <= 99);
    else
        CHECK(f->qty == 0);
    if (f->seen & NAV_HAS_USER)
        CHECK(good_text(f->user, NAV_USER_MAX));
    else
        CHECK(f->user[0] == '\0');
    if (f->seen & NAV_HAS_PASSWORD)
        CHECK(good_text(f->password, NAV_PASSWORD_MAX));
    else
        CHECK(f->password[0] == '\0');
    CHECK(good_key(f->s) && ((f->seen & NAV_HAS_S) || f->s[0] == '\0'));
    CHECK(good_key(f->k) && ((f->seen & NAV_HAS_K) || f->k[0] == '\0'));
    /* Query-only bits never appear in a form. */
    CHECK((f->seen & (NAV_HAS_PG | NAV_HAS_PAGE | NAV_HAS_Q)) == 0);
}

/* Append "&name=" and every byte of v as %XX: the most encoded body a
 * browser could send for these fields. */
static size_t put_field(char *out, size_t len, const char *name,
                        const char *v)
{
    static const char hex[] = "0123456789abcdef";

    len += (size_t)sprintf(out + len, "%s%s=", len ? "&" : "", name);
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        out[len++] = '%';
        out[len++] = hex[c >> 4];
        out[len++] = hex[c & 15];
    }
    return len;
}

/* Encode the parsed form again and parse that: the same form. */
static void check_round_trip(const struct nav_form *f)
{
    char body[2048], num[16];
    size_t len = 0;
    struct nav_form g;

    /* Fields in reverse table order: order must not matter. */
    if (f->seen & NAV_HAS_K)
        len = put_field(body, len, "_k", f->k);
    if (f->seen & NAV_HAS_S)
        len = put_field(body, len, "_s", f->s);
    if (f->seen & NAV_HAS_PASSWORD)
        len = put_field(body, len, "password", f->password);
    if (f->seen & NAV_HAS_USER)
        len = put_field(body, len, "user", f->user);
    if (f->seen & NAV_HAS_QTY) {
        snprintf(num, sizeof num, "%u", (unsigned)f->qty);
        len = put_field(body, len, "qty", num);
    }
    if (f->seen & NAV_HAS_ID) {
        snprintf(num, sizeof num, "%u", (unsigned)f->id);
        len = put_field(body, len, "id", num);
    }
    if (f->seen & NAV_HAS_ACT)
        len = put_field(body, len, "act", f->act);
    CHECK(len < sizeof body);

    CHECK(nav_parse_form(body, len, &g) == NAV_OK);
    CHECK(g.seen == f->seen);
    CHECK(strcmp(g.act, f->act) == 0 && g.id == f->id && g.qty == f->qty);
    CHECK(strcmp(g.user, f->user) == 0);
    CHECK(strcmp(g.password, f->password) == 0);
    CHECK(strcmp(g.s, f->s) == 0 && strcmp(g.k, f->k) == 0);
}

/* Both grammars know id, _s and _k: when both parses succeed on the same
 * bytes, they must agree on those. */
static void check_same_as_query(const uint8_t *data, size_t size,
                                const struct nav_form *f)
{
    const unsigned shared = NAV_HAS_ID | NAV_HAS_S | NAV_HAS_K;
    struct nav n;

    if (nav_parse((const char *)data, size, &n) != NAV_OK)
        return;
    CHECK((n.seen & shared) == (f->seen & shared));
    CHECK(n.id == f->id);
    CHECK(strcmp(n.s, f->s) == 0 && strcmp(n.k, f->k) == 0);
}

/* Undo the five entities; (size_t)-1 when an '&' starts anything else. */
static size_t unescape(char *dst, const char *s, size_t n)
{
    static const struct { const char *ent; char c; } ents[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
        {"&#39;", '\''},
    };
    size_t out = 0;

    for (size_t i = 0; i < n;) {
        if (s[i] != '&') {
            dst[out++] = s[i++];
            continue;
        }
        size_t e = 0;
        while (e < 5 && (n - i < strlen(ents[e].ent) ||
                         memcmp(s + i, ents[e].ent, strlen(ents[e].ent)) != 0))
            e++;
        if (e == 5)
            return (size_t)-1;
        dst[out++] = ents[e].c;
        i += strlen(ents[e].ent);
    }
    return out;
}

/* The escape buffer is exactly NAV_HTML_WORST * size, so ASan sees a
 * byte more; the output has no raw < > " ' and unescapes to the input. */
static void check_escape(const uint8_t *data, size_t size)
{
    char *dst, *back;
    size_t n;

    if (size == 0)
        return;
    dst = malloc(NAV_HTML_WORST * size);
    CHECK(dst != NULL);
    n = nav_html_escape(dst, (const char *)data, size);
    CHECK(n >= size && n <= NAV_HTML_WORST * size);
    CHECK(memchr(dst, '<', n) == NULL && memchr(dst, '>', n) == NULL);
    CHECK(memchr(dst, '"', n) == NULL && memchr(dst, '\'', n) == NULL);

    back = malloc(n);
    CHECK(back != NULL);
    CHECK(unescape(back, dst, n) == size && memcmp(back, data, size) == 0);
    free(back);
    free(dst);
}

/* A rough second opinion on repeats: a known key spelled plainly (no
 * escapes) at the start of two pairs must not parse. */
static int plain_repeat(const uint8_t *data, size_t size)
{
    static const char *const known[] = {"act", "id", "qty", "user", "password", "_s", "_k"};
    enum { NKNOWN = sizeof known / sizeof known[0] };
    unsigned count[NKNOWN] = {0};

    for (size_t i = 0; i < size;) {
        const uint8_t *amp = memchr(data + i, '&', size - i);
        size_t end = amp ? (size_t)(amp - data) : size;
        const uint8_t *eq = memchr(data + i, '=', end - i);
        size_t klen = (eq ? (size_t)(eq - data) : end) - i;

        for (size_t k = 0; k < NKNOWN; k++)
            if (klen == strlen(known[k]) &&
                memcmp(data + i, known[k], klen) == 0 && ++count[k] > 1)
                return 1;
        i = end + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nav_form f;
    enum nav_err err;

    err = nav_parse_form((const char *)data, size, &f);
    /* Bodies are bounded by the HTTP layer (413), never by the parser. */
    CHECK(err != NAV_ETOOLONG);
    CHECK(nav_status(err) == (err == NAV_OK ? 200 : 400));
    CHECK(nav_strerror(err) != NULL && nav_strerror(err)[0] != '\0');
    CHECK(terminated(f.act, sizeof f.act) && terminated(f.user, sizeof f.user));
    CHECK(terminated(f.password, sizeof f.password));
    if (err == NAV_OK) {
        CHECK(!plain_repeat(data, size));
        check_fields(&f);
        check_round_trip(&f);
        check_same_as_query(data, size, &f);
    }
    check_escape(data, size);
    return 0;
}
