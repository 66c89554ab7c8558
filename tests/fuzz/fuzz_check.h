/* fuzz_check.h -- what the navigation fuzzers check the same way: the
 * grammars of the tests' application (tests/unit/testapp.c; the
 * library's fuzzers need no shop) and a small one of extreme bounds, a
 * check of any grammar's fields against their bounds, a UTF-8 decoder
 * written apart from nav.c's, HTML escaping that round-trips, and a
 * plain repeated key. Included by one fuzz target at a time, so
 * everything here is static. */
#ifndef NORI_FUZZ_CHECK_H
#define NORI_FUZZ_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invariant.h"
#include "nav/nav.h"
#include "tests/unit/testapp.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define query_grammar testapp_query_grammar
#define form_grammar testapp_form_grammar

/* Bits of nav.seen for the application's grammars: field i is bit i. */
enum { Q_ID = 1u << 0, Q_Q = 1u << 1, Q_PAGE = 1u << 2 };
enum { F_ID = 1u << 0, F_N = 1u << 1, F_USER = 1u << 2, F_NOTE = 1u << 3 };

/* Bounds the application's grammars never reach: a digit range below 10, a
 * number up to UINT32_MAX whose absent value is inside it, text that
 * may be empty or of one byte. Its names overlap the application's. */
struct edge {
    uint32_t d, big;
    char t[2], e[NORI_TEXT_MAX + 1];
};

static const struct nori_field edge_fields[] = {
    NORI_FIELD_UINT(struct edge, d, "id", 2, 5, 0),
    NORI_FIELD_UINT(struct edge, big, "page", 0, UINT32_MAX, 7),
    NORI_FIELD_TEXT(struct edge, t, "q", 1, 1),
    NORI_FIELD_TEXT(struct edge, e, "e", 0, NORI_TEXT_MAX),
};

static const struct nori_grammar edge_grammar = {
    edge_fields, COUNT(edge_fields), sizeof(struct edge)};

static int valid_utf8(const unsigned char *s, size_t n);

/* Whatever a grammar is, a successful parse left each field within its
 * bounds when given, and its absent value ("" for text) when not; text
 * terminated inside its slot, valid UTF-8 without controls. */
static void check_grammar_fields(const struct nori_grammar *g,
                                 const struct nav *n, const void *values)
{
    CHECK((n->seen >> g->nfields) == 0);
    for (size_t i = 0; i < g->nfields; i++) {
        const struct nori_field *f = &g->fields[i];
        const char *slot = (const char *)values + f->offset;
        int given = (n->seen >> i) & 1;

        if (f->kind == NORI_UINT) {
            uint32_t v;
            memcpy(&v, slot, sizeof v);
            if (given)
                CHECK(v >= f->min && v <= f->max);
            else
                CHECK(v == f->absent);
            continue;
        }
        CHECK(memchr(slot, '\0', (size_t)f->max + 1) != NULL);
        size_t len = strlen(slot);
        if (!given) {
            CHECK(len == 0);
            continue;
        }
        CHECK(len >= f->min && len <= f->max);
        CHECK(valid_utf8((const unsigned char *)slot, len));
        for (size_t j = 0; j < len; j++) {
            unsigned char b = (unsigned char)slot[j];
            CHECK(b >= 0x20 && b != 0x7F);
            CHECK(!(b == 0xC2 && j + 1 < len && (unsigned char)slot[j + 1] <= 0x9F));
        }
    }
}

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

static int terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
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
static int plain_repeat(const uint8_t *data, size_t size,
                        const char *const *known, size_t nknown)
{
    unsigned count[16] = {0};   /* more than either target knows */

    for (size_t i = 0; i < size;) {
        const uint8_t *amp = memchr(data + i, '&', size - i);
        size_t end = amp ? (size_t)(amp - data) : size;
        const uint8_t *eq = memchr(data + i, '=', end - i);
        size_t klen = (eq ? (size_t)(eq - data) : end) - i;

        for (size_t k = 0; k < nknown; k++)
            if (klen == strlen(known[k]) &&
                memcmp(data + i, known[k], klen) == 0 && ++count[k] > 1)
                return 1;
        i = end + 1;
    }
    return 0;
}

#endif
