/* fuzz_query.c -- libFuzzer target for nav_parse, nav_url and
 * nav_html_escape.
 *
 * The sanitizers catch crashes and out-of-bounds reads; the checks below
 * catch a parser that "works" but breaks its contract: fields out of range,
 * strings not terminated, an error that is not a 4xx, or a canonical URL
 * that does not parse back to the navigation it was built from. Each
 * failed check aborts, so libFuzzer keeps the input as a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nav/nav.h"

#define PREFIX "/shop"

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* A second, independent UTF-8 check (by code point rather than by byte
 * ranges), so a mistake in nav.c's table is not shared by its checker. */
static int valid_utf8(const unsigned char *s, size_t n)
{
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
        static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* No C0 control, DEL or C1 control (U+0080..U+009F). */
static int no_controls(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7F)
            return 0;
        if (s[i] == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F)
            return 0;
    }
    return 1;
}

/* Letters, digits, '-' and '_': the alphabet of page names and keys. */
static int is_word(const char *s)
{
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

static void check_status(enum nav_err err)
{
    int st = nav_status(err);
    const char *why = nav_strerror(err);

    if (err == NAV_OK)
        CHECK(st == 200);
    else
        CHECK(st == 400 || st == 414);
    CHECK(why != NULL && why[0] != '\0');
}

/* The typed fields obey DESIGN.md whenever the parse succeeded. */
static void check_fields(const struct nav *n)
{
    CHECK(terminated(n->pg, sizeof n->pg));
    CHECK(terminated(n->q, sizeof n->q));
    CHECK(terminated(n->s, sizeof n->s));
    CHECK(terminated(n->k, sizeof n->k));
    CHECK(n->q_len == strlen(n->q));

    if (n->seen & NAV_HAS_ID)
        CHECK(n->id >= 1 && n->id <= INT32_MAX);
    else
        CHECK(n->id == 0);
    if (n->seen & NAV_HAS_PAGE)
        CHECK(n->page >= 1 && n->page <= NAV_PAGE_MAX);
    else
        CHECK(n->page == 1);
    if (n->seen & NAV_HAS_Q) {
        CHECK(n->q_len >= 1 && n->q_len <= NAV_Q_MAX);
        CHECK(valid_utf8((const unsigned char *)n->q, n->q_len));
        CHECK(no_controls((const unsigned char *)n->q, n->q_len));
    } else {
        CHECK(n->q_len == 0);
    }
    CHECK(strlen(n->pg) <= NAV_PG_MAX && is_word(n->pg));
    CHECK((n->seen & NAV_HAS_PG) || n->pg[0] == '\0');
    CHECK(n->pg_known_shape == (!(n->seen & NAV_HAS_PG) || n->pg[0] != '\0'));
    /* A key is either empty or shaped as minted. */
    CHECK(n->s[0] == '\0' || (strlen(n->s) == NAV_KEY_LEN && is_word(n->s)));
    CHECK(n->k[0] == '\0' || (strlen(n->k) == NAV_KEY_LEN && is_word(n->k)));
    CHECK((n->seen & NAV_HAS_S) || n->s[0] == '\0');
    CHECK((n->seen & NAV_HAS_K) || n->k[0] == '\0');
}

static struct nav_link link_of(const struct nav *n)
{
    struct nav_link l = {
        .pg = (n->seen & NAV_HAS_PG) ? n->pg : NULL,
        .id = (n->seen & NAV_HAS_ID) ? n->id : 0,
        .q = (n->seen & NAV_HAS_Q) ? n->q : NULL,
        .page = n->page,
        .s = n->s,
    };
    return l;
}

/* Build the canonical URL of a navigation; check it is safe to put in an
 * attribute as it is, and return where its query string starts. */
static const char *build(char *url, size_t cap, const struct nav *n,
                         size_t *len)
{
    struct nav_link l = link_of(n);
    const char *qs;

    *len = nav_url(url, cap, PREFIX, &l);
    CHECK(*len > 0);            /* every valid navigation fits in cap */
    CHECK(*len == strlen(url));
    CHECK(strncmp(url, PREFIX, strlen(PREFIX)) == 0);
    CHECK(strpbrk(url, " \"'<>#\\") == NULL);
    qs = url + strlen(PREFIX);
    if (*qs == '?')
        qs++;
    else
        CHECK(*qs == '\0');
    return qs;
}

/* nav_url, then nav_parse again: the same navigation, and its canonical
 * URL is a fixed point. */
static void check_round_trip(const struct nav *n)
{
    char url[4096], again[4096];
    size_t len, len2;
    struct nav m;
    const char *qs;

    if (!(n->seen & (NAV_HAS_PG | NAV_HAS_ID | NAV_HAS_Q | NAV_HAS_PAGE)))
        return;
    qs = build(url, sizeof url, n, &len);
    CHECK(nav_parse(qs, len - (size_t)(qs - url), &m) == NAV_OK);
    check_fields(&m);

    CHECK((m.seen & NAV_HAS_PG) == (n->seen & NAV_HAS_PG));
    CHECK(strcmp(m.pg, n->pg) == 0);
    CHECK(m.id == n->id);
    CHECK((m.seen & NAV_HAS_Q) == (n->seen & NAV_HAS_Q));
    CHECK(m.q_len == n->q_len && memcmp(m.q, n->q, n->q_len) == 0);
    CHECK(m.page == n->page);
    CHECK(strcmp(m.s, n->s) == 0);
    CHECK(m.k[0] == '\0');      /* links never carry a form key */

    build(again, sizeof again, &m, &len2);
    CHECK(len2 == len && memcmp(again, url, len) == 0);
}

/* Undo the five entities; returns the decoded length, or (size_t)-1 when
 * the escaped text holds anything but them after an '&'. */
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

/* Escaped text has no raw < > " ', stays within NAV_HTML_WORST per byte
 * (the buffer is exactly that big, so ASan sees one byte more), and
 * unescapes to the input. */
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
    static const char *const known[] = {"pg", "id", "page", "q", "_s", "_k"};
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
    struct nav n;
    enum nav_err err;

    err = nav_parse((const char *)data, size, &n);
    check_status(err);
    CHECK((err == NAV_ETOOLONG) == (size > NAV_QUERY_MAX));
    /* Whatever the result, the struct is safe to read. */
    CHECK(terminated(n.pg, sizeof n.pg) && terminated(n.q, sizeof n.q));
    CHECK(terminated(n.s, sizeof n.s) && terminated(n.k, sizeof n.k));
    if (err == NAV_OK) {
        CHECK(!plain_repeat(data, size));
        check_fields(&n);
        check_round_trip(&n);
    }
    check_escape(data, size);
    return 0;
}
