/* fuzz_query.c -- libFuzzer target for nav_parse, nav_url and
 * nav_html_escape, by the tests' application's query grammar and by one
 * of extreme bounds (fuzz_check.h).
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

#include "fuzz_check.h"

#define PREFIX "/app"

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

/* KEY.ROUTE: a key, a dot, a route of 1..NAV_ROUTE_MAX word characters. */
static int routed_key(const char *s)
{
    char key[NAV_KEY_LEN + 1];
    size_t n = strlen(s);

    if (n < NAV_KEY_LEN + 2 || n > NAV_SKEY_MAX || s[NAV_KEY_LEN] != '.')
        return 0;
    memcpy(key, s, NAV_KEY_LEN);
    key[NAV_KEY_LEN] = '\0';
    return is_word(key) && is_word(s + NAV_KEY_LEN + 1);
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

/* The application's fields obey docs/design.md ("URL grammar") whenever the
 * parse succeeded, and nori's own too. */
static void check_fields(const struct nav *n, const struct testapp_query *q)
{
    CHECK(terminated(n->pg, sizeof n->pg));
    CHECK(terminated(q->q, sizeof q->q));
    CHECK(terminated(n->s, sizeof n->s));
    CHECK(terminated(n->k, sizeof n->k));
    check_grammar_fields(&query_grammar, n, q);

    size_t q_len = strlen(q->q);
    if (n->seen & Q_ID)
        CHECK(q->id >= 1 && q->id <= INT32_MAX);
    else
        CHECK(q->id == 0);
    if (n->seen & Q_PAGE)
        CHECK(q->page >= 1 && q->page <= TESTAPP_PAGE_MAX);
    else
        CHECK(q->page == 1);
    if (n->seen & Q_Q) {
        CHECK(q_len >= 1 && q_len <= TESTAPP_Q_MAX);
        CHECK(valid_utf8((const unsigned char *)q->q, q_len));
        CHECK(no_controls((const unsigned char *)q->q, q_len));
    } else {
        CHECK(q_len == 0);
    }
    /* A query knows pg, never act. */
    CHECK((n->core & ~(unsigned)(NAV_HAS_PG | NAV_HAS_S | NAV_HAS_K)) == 0);
    CHECK(n->act[0] == '\0');
    CHECK(strlen(n->pg) <= NAV_PG_MAX && is_word(n->pg));
    CHECK((n->core & NAV_HAS_PG) || n->pg[0] == '\0');
    CHECK(n->pg_known_shape == (!(n->core & NAV_HAS_PG) || n->pg[0] != '\0'));
    /* A key is either empty or shaped as minted. */
    CHECK(n->s[0] == '\0' || (strlen(n->s) == NAV_KEY_LEN && is_word(n->s)) ||
          routed_key(n->s));
    CHECK(n->k[0] == '\0' || (strlen(n->k) == NAV_KEY_LEN && is_word(n->k)));
    CHECK((n->core & NAV_HAS_S) || n->s[0] == '\0');
    CHECK((n->core & NAV_HAS_K) || n->k[0] == '\0');
}

/* Build the canonical URL of a navigation by grammar g; check it is safe
 * to put in an attribute as it is, and return where its query string
 * starts. */
static const char *build(char *url, size_t cap, const struct nori_grammar *g,
                         const struct nav *n, const void *values, size_t *len)
{
    const struct nori_link l = {(n->core & NAV_HAS_PG) ? n->pg : NULL, values};
    const char *qs;

    *len = nav_url(url, cap, PREFIX, g, &l, n->s);
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

/* nav_url, then nav_parse again: the same navigation (every field of the
 * application's struct, byte for byte: a field left out of the URL
 * parses back to its absent value), and its canonical URL is a fixed
 * point. */
static void check_round_trip(const struct nori_grammar *g, const struct nav *n,
                             const void *values, void *scratch)
{
    char url[4096], again[4096];
    size_t len, len2;
    struct nav m;
    const char *qs;

    qs = build(url, sizeof url, g, n, values, &len);
    CHECK(nav_parse(g, qs, len - (size_t)(qs - url), &m, scratch) == NAV_OK);
    check_grammar_fields(g, &m, scratch);
    CHECK(memcmp(scratch, values, g->size) == 0);
    CHECK((m.core & NAV_HAS_PG) == (n->core & NAV_HAS_PG));
    CHECK(strcmp(m.pg, n->pg) == 0);
    CHECK(strcmp(m.s, n->s) == 0);
    CHECK(m.k[0] == '\0');      /* links never carry a form key */
    /* What the URL left out was absent or its absent value. */
    CHECK((m.seen & ~n->seen) == 0);

    build(again, sizeof again, g, &m, scratch, &len2);
    CHECK(len2 == len && memcmp(again, url, len) == 0);
}

static const char *const known_keys[] = {"pg", "id", "page", "q", "_s", "_k"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nav n;
    struct testapp_query q, q2;
    struct edge e, e2;
    enum nav_err err;

    err = nav_parse(&query_grammar, (const char *)data, size, &n, &q);
    check_status(err);
    CHECK((err == NAV_ETOOLONG) == (size > NAV_QUERY_MAX));
    /* Whatever the result, the structs are safe to read. */
    CHECK(terminated(n.pg, sizeof n.pg) && terminated(q.q, sizeof q.q));
    CHECK(terminated(n.s, sizeof n.s) && terminated(n.k, sizeof n.k));
    if (err == NAV_OK) {
        CHECK(!plain_repeat(data, size, known_keys,
                     sizeof known_keys / sizeof known_keys[0]));
        check_fields(&n, &q);
        check_round_trip(&query_grammar, &n, &q, &q2);
    }
    /* The same bytes by a grammar of extreme bounds. */
    err = nav_parse(&edge_grammar, (const char *)data, size, &n, &e);
    check_status(err);
    if (err == NAV_OK) {
        check_grammar_fields(&edge_grammar, &n, &e);
        check_round_trip(&edge_grammar, &n, &e, &e2);
    }
    check_escape(data, size);
    return 0;
}
