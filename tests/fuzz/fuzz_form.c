/* fuzz_form.c -- libFuzzer target for nav_parse_form (action POST bodies)
 * and nav_html_escape, by the tests' application's form grammar
 * (fuzz_check.h) and by one of extreme bounds.
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

#include "fuzz_check.h"

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

/* A session key may carry a route: KEY.ROUTE, the route 1..NAV_ROUTE_MAX
 * characters of the key alphabet. */
static int good_skey(const char *s)
{
    char key[NAV_KEY_LEN + 1];
    size_t n = strlen(s), r = n > NAV_KEY_LEN + 1 ? n - NAV_KEY_LEN - 1 : 0;

    if (n <= NAV_KEY_LEN)
        return good_key(s);
    if (s[NAV_KEY_LEN] != '.' || r == 0 || r > NAV_ROUTE_MAX)
        return 0;
    for (const char *p = s + NAV_KEY_LEN + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return 0;
    memcpy(key, s, NAV_KEY_LEN);
    key[NAV_KEY_LEN] = '\0';
    return good_key(key);
}

static void check_fields(const struct nav *f, const struct testapp_form *v)
{
    CHECK(terminated(f->act, sizeof f->act));
    CHECK(terminated(v->user, sizeof v->user));
    CHECK(terminated(v->note, sizeof v->note));
    CHECK(terminated(f->s, sizeof f->s));
    CHECK(terminated(f->k, sizeof f->k));
    check_grammar_fields(&form_grammar, f, v);

    if (f->core & NAV_HAS_ACT) {
        size_t n = strlen(f->act);
        CHECK(n >= 1 && n <= NAV_ACT_MAX);
        for (size_t i = 0; i < n; i++)
            CHECK(f->act[i] >= 'a' && f->act[i] <= 'z');
    } else {
        CHECK(f->act[0] == '\0');
    }
    if (f->seen & F_ID)
        CHECK(v->id >= 1 && v->id <= INT32_MAX);
    else
        CHECK(v->id == 0);
    if (f->seen & F_N)
        CHECK(v->n <= 99);
    else
        CHECK(v->n == TESTAPP_N_ABSENT);
    if (f->seen & F_USER)
        CHECK(good_text(v->user, NORI_USER_MAX));
    else
        CHECK(v->user[0] == '\0');
    if (f->seen & F_NOTE)
        CHECK(good_text(v->note, TESTAPP_NOTE_MAX));
    else
        CHECK(v->note[0] == '\0');
    CHECK(good_skey(f->s) && ((f->core & NAV_HAS_S) || f->s[0] == '\0'));
    CHECK(good_key(f->k) && ((f->core & NAV_HAS_K) || f->k[0] == '\0'));
    /* A form knows act, never pg. */
    CHECK((f->core & NAV_HAS_PG) == 0 && f->pg[0] == '\0');
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
static void check_round_trip(const struct nav *f, const struct testapp_form *v)
{
    char body[2048], num[16];
    size_t len = 0;
    struct nav g;
    struct testapp_form w;

    /* Fields in reverse grammar order: order must not matter. */
    if (f->core & NAV_HAS_K)
        len = put_field(body, len, "_k", f->k);
    if (f->core & NAV_HAS_S)
        len = put_field(body, len, "_s", f->s);
    if (f->seen & F_NOTE)
        len = put_field(body, len, "note", v->note);
    if (f->seen & F_USER)
        len = put_field(body, len, "user", v->user);
    if (f->seen & F_N) {
        snprintf(num, sizeof num, "%u", (unsigned)v->n);
        len = put_field(body, len, "n", num);
    }
    if (f->seen & F_ID) {
        snprintf(num, sizeof num, "%u", (unsigned)v->id);
        len = put_field(body, len, "id", num);
    }
    if (f->core & NAV_HAS_ACT)
        len = put_field(body, len, "act", f->act);
    CHECK(len < sizeof body);

    CHECK(nav_parse_form(&form_grammar, body, len, &g, &w) == NAV_OK);
    CHECK(g.seen == f->seen && g.core == f->core);
    CHECK(strcmp(g.act, f->act) == 0);
    CHECK(memcmp(&w, v, sizeof w) == 0);
    CHECK(strcmp(g.s, f->s) == 0 && strcmp(g.k, f->k) == 0);
}

/* Both grammars know id, _s and _k: when both parses succeed on the same
 * bytes, they must agree on those. */
static void check_same_as_query(const uint8_t *data, size_t size,
                                const struct nav *f, const struct testapp_form *v)
{
    const unsigned shared = NAV_HAS_S | NAV_HAS_K;
    struct nav n;
    struct testapp_query q;

    if (nav_parse(&query_grammar, (const char *)data, size, &n, &q) != NAV_OK)
        return;
    CHECK((n.core & shared) == (f->core & shared));
    CHECK(!(n.seen & Q_ID) == !(f->seen & F_ID));
    CHECK(q.id == v->id);
    CHECK(strcmp(n.s, f->s) == 0 && strcmp(n.k, f->k) == 0);
}

static const char *const known_keys[] = {"act", "id", "n", "user", "note", "_s", "_k"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct nav f;
    struct testapp_form v;
    struct edge e;
    enum nav_err err;

    err = nav_parse_form(&form_grammar, (const char *)data, size, &f, &v);
    /* Bodies are bounded by the HTTP layer (413), never by the parser. */
    CHECK(err != NAV_ETOOLONG);
    CHECK(nav_status(err) == (err == NAV_OK ? 200 : 400));
    CHECK(nav_strerror(err) != NULL && nav_strerror(err)[0] != '\0');
    CHECK(terminated(f.act, sizeof f.act) && terminated(v.user, sizeof v.user));
    CHECK(terminated(v.note, sizeof v.note));
    if (err == NAV_OK) {
        CHECK(!plain_repeat(data, size, known_keys,
                     sizeof known_keys / sizeof known_keys[0]));
        check_fields(&f, &v);
        check_round_trip(&f, &v);
        check_same_as_query(data, size, &f, &v);
    }
    /* The same bytes by a grammar of extreme bounds. */
    err = nav_parse_form(&edge_grammar, (const char *)data, size, &f, &e);
    CHECK(err != NAV_ETOOLONG);
    if (err == NAV_OK)
        check_grammar_fields(&edge_grammar, &f, &e);
    check_escape(data, size);
    return 0;
}
