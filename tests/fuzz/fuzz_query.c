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

#include "fuzz_check.h"

#define PREFIX "/shop"

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

/* The typed fields obey docs/design.md ("URL grammar") whenever the parse succeeded. */
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
    CHECK(n->s[0] == '\0' || (strlen(n->s) == NAV_KEY_LEN && is_word(n->s)) ||
          routed_key(n->s));
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

static const char *const known_keys[] = {"pg", "id", "page", "q", "_s", "_k"};

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
        CHECK(!plain_repeat(data, size, known_keys,
                     sizeof known_keys / sizeof known_keys[0]));
        check_fields(&n);
        check_round_trip(&n);
    }
    check_escape(data, size);
    return 0;
}
