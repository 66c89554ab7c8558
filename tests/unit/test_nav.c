/* test_nav.c -- the navigation URL contract of docs/design.md, against nav.c:
 * strict query and form parsing by an application's grammar (every
 * bad-input case with its status), canonical URLs, HTML escaping, and
 * the engine's own pieces (nav_decimal, nav_grammar_check).
 *
 * The grammars are the tests' application's (testapp.c), shaped as a
 * real application's are (numbers with an absent value outside and
 * inside their range, short and long text); they are not the shop's, so
 * that a change to the shop changes nothing here.
 *
 * Inputs are given with explicit lengths wherever it matters, so that a
 * parser reading past len, or stopping at an embedded NUL, shows up. */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nav/nav.h"
#include "testapp.h"

#define KEY "3q2-7wAbcD_eF9hIjKlMnO"      /* 22 chars of base64url */
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The grammars of the tests' application (testapp.c). */
#define QG testapp_query_grammar
#define FG testapp_form_grammar

/* Bits of nav.seen: field i of its grammar. */
enum { Q_ID = 1u << 0, Q_Q = 1u << 1, Q_PAGE = 1u << 2 };
enum { F_ID = 1u << 0, F_N = 1u << 1, F_USER = 1u << 2, F_NOTE = 1u << 3 };

/* The application's side of the last parse (tests are sequential). */
static struct testapp_query Q;
static struct testapp_form F;

static enum nav_err parse(const char *qs, struct nav *n)
{
    return nav_parse(&QG, qs, strlen(qs), n, &Q);
}

static enum nav_err parse_form(const char *body, struct nav *f)
{
    return nav_parse_form(&FG, body, strlen(body), f, &F);
}

/* A string of n copies of c, in a static buffer (tests are sequential). */
static const char *rep(char c, size_t n)
{
    static char buf[4096];

    ck_assert_uint_lt(n, sizeof buf);
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* "key=" and n copies of c, in the caller's buffer. */
static const char *pair(char *buf, size_t cap, const char *key, char c,
                        size_t n)
{
    size_t k = strlen(key);

    ck_assert_uint_lt(k + 1 + n, cap);
    memcpy(buf, key, k);
    buf[k] = '=';
    memset(buf + k + 1, c, n);
    buf[k + 1 + n] = '\0';
    return buf;
}

/* ---- bad input: each case, its error and its HTTP status ---- */

struct bad {
    const char *qs;
    enum nav_err err;
    int status;
};

static const struct bad bad_queries[] = {
    /* malformed percent-encoding */
    {"q=%", NAV_EENCODING, 400},
    {"q=%4", NAV_EENCODING, 400},
    {"q=%zz", NAV_EENCODING, 400},
    {"q=%4g", NAV_EENCODING, 400},
    {"q=%g4", NAV_EENCODING, 400},
    {"q=ab%", NAV_EENCODING, 400},
    {"pg=Item&id=%2", NAV_EENCODING, 400},
    {"%zz=1", NAV_EENCODING, 400},          /* keys are decoded too */
    {"utm=%zz&pg=Item", NAV_EENCODING, 400}, /* unknown, but must be well-formed */
    /* NUL */
    {"q=a%00b", NAV_ENUL, 400},
    {"q=%00", NAV_ENUL, 400},
    {"x%00=1", NAV_ENUL, 400},
    {"utm=%00", NAV_ENUL, 400},
    /* invalid UTF-8 after decoding */
    {"q=%C0%AF", NAV_EUTF8, 400},           /* overlong '/' */
    {"q=%C1%81", NAV_EUTF8, 400},           /* overlong 'A' */
    {"q=%E0%80%AF", NAV_EUTF8, 400},        /* overlong, 3 bytes */
    {"q=%F0%80%80%AF", NAV_EUTF8, 400},     /* overlong, 4 bytes */
    {"q=%ED%A0%80", NAV_EUTF8, 400},        /* U+D800, a surrogate */
    {"q=%ED%BF%BF", NAV_EUTF8, 400},        /* U+DFFF */
    {"q=%F4%90%80%80", NAV_EUTF8, 400},     /* U+110000 */
    {"q=%F5%80%80%80", NAV_EUTF8, 400},
    {"q=%FF", NAV_EUTF8, 400},
    {"q=%80", NAV_EUTF8, 400},              /* lone continuation byte */
    {"q=%E3%81", NAV_EUTF8, 400},           /* truncated at the end */
    {"q=%E3%81a", NAV_EUTF8, 400},          /* truncated by ASCII */
    {"q=%F0%9F%8D", NAV_EUTF8, 400},
    {"q=%C3&pg=Home", NAV_EUTF8, 400},      /* truncated at the '&' */
    {"q=\xC0\xAF", NAV_EUTF8, 400},         /* raw bytes, not escaped */
    {"q=\xED\xA0\x80", NAV_EUTF8, 400},
    {"utm=%C0%AF", NAV_EUTF8, 400},
    {"%E3%81=1", NAV_EUTF8, 400},
    /* a known parameter given twice */
    {"id=1&id=2", NAV_EREPEAT, 400},
    {"id=1&id=1", NAV_EREPEAT, 400},
    {"pg=Item&pg=Home", NAV_EREPEAT, 400},
    {"page=1&page=2", NAV_EREPEAT, 400},
    {"q=a&q=b", NAV_EREPEAT, 400},
    {"_s=" KEY "&_s=" KEY, NAV_EREPEAT, 400},
    {"_k=x&_k=y", NAV_EREPEAT, 400},
    {"pg&pg", NAV_EREPEAT, 400},
    {"pg=Item&%70g=Home", NAV_EREPEAT, 400}, /* same key, once encoded */
    /* id: plain decimal 1..2^31-1 */
    {"id=0", NAV_ENUMBER, 400},
    {"id=01", NAV_ENUMBER, 400},
    {"id=00", NAV_ENUMBER, 400},
    {"id=-1", NAV_ENUMBER, 400},
    {"id=+1", NAV_ENUMBER, 400},            /* '+' is a space */
    {"id=%2B1", NAV_ENUMBER, 400},          /* a real '+' */
    {"id=2147483648", NAV_ENUMBER, 400},
    {"id=4294967295", NAV_ENUMBER, 400},
    {"id=4294967296", NAV_ENUMBER, 400},    /* wraps uint32 */
    {"id=99999999999", NAV_ENUMBER, 400},
    {"id=abc", NAV_ENUMBER, 400},
    {"id=1a", NAV_ENUMBER, 400},
    {"id=1.0", NAV_ENUMBER, 400},
    {"id=1%20", NAV_ENUMBER, 400},
    {"id=0x1A", NAV_ENUMBER, 400},
    {"id=", NAV_ENUMBER, 400},
    {"id", NAV_ENUMBER, 400},
    /* page: 1..10000 */
    {"page=0", NAV_ENUMBER, 400},
    {"page=10001", NAV_ENUMBER, 400},
    {"page=010", NAV_ENUMBER, 400},
    {"page=-2", NAV_ENUMBER, 400},
    {"page=", NAV_ENUMBER, 400},
    /* q: 1..200 bytes, no control characters */
    {"q=", NAV_ETEXT, 400},
    {"q", NAV_ETEXT, 400},
    {"q=%01", NAV_ETEXT, 400},
    {"q=a%09b", NAV_ETEXT, 400},            /* tab */
    {"q=a%0Ab", NAV_ETEXT, 400},            /* newline */
    {"q=%1F", NAV_ETEXT, 400},
    {"q=%7F", NAV_ETEXT, 400},              /* DEL */
    {"q=%C2%80", NAV_ETEXT, 400},           /* first C1 control */
    {"q=%C2%85", NAV_ETEXT, 400},           /* NEL */
    {"q=x%C2%9F", NAV_ETEXT, 400},          /* last C1 control */
};

START_TEST(bad_query)
{
    const struct bad *b = &bad_queries[_i];
    struct nav n;
    enum nav_err err = parse(b->qs, &n);

    ck_assert_msg(err == b->err, "\"%s\": error %d, want %d", b->qs, err,
                  b->err);
    ck_assert_msg(nav_status(err) == b->status, "\"%s\": status %d, want %d",
                  b->qs, nav_status(err), b->status);
    ck_assert_str_ne(nav_strerror(err), "");
}
END_TEST

/* Every error is a client error with an explanation; only NAV_OK is 200. */
START_TEST(status_of_every_error)
{
    ck_assert_int_eq(nav_status(NAV_OK), 200);
    ck_assert_int_eq(nav_status(NAV_ETOOLONG), 414);
    for (int e = NAV_EENCODING; e <= NAV_ETEXT; e++) {
        ck_assert_int_eq(nav_status((enum nav_err)e), 400);
        ck_assert_ptr_nonnull(nav_strerror((enum nav_err)e));
        ck_assert_str_ne(nav_strerror((enum nav_err)e),
                         nav_strerror(NAV_OK));
    }
}
END_TEST

/* A NUL byte in the raw query is a NUL all the same: the parser works on
 * len bytes, not on a C string. */
START_TEST(raw_nul_byte)
{
    struct nav n;
    static const char qs[] = "q=a\0b";

    ck_assert_int_eq(nav_parse(&QG, qs, sizeof qs - 1, &n, &Q), NAV_ENUL);
    ck_assert_int_eq(nav_status(NAV_ENUL), 400);
}
END_TEST

/* Nothing past len is read: "id=1&id=2" cut after "id=1" is one id. */
START_TEST(stops_at_len)
{
    struct nav n;

    ck_assert_int_eq(nav_parse(&QG, "id=1&id=2", 4, &n, &Q), NAV_OK);
    ck_assert_uint_eq(Q.id, 1);
    ck_assert_int_eq(nav_parse(&QG, "id=12", 4, &n, &Q), NAV_OK);
    ck_assert_uint_eq(Q.id, 1);
    ck_assert_int_eq(nav_parse(&QG, "q=%41", 4, &n, &Q), NAV_EENCODING);
    ck_assert_int_eq(nav_parse(&QG, "pg=Item", 0, &n, &Q), NAV_OK);
    ck_assert_uint_eq(n.core | n.seen, 0);
}
END_TEST

/* ---- length limits ---- */

/* A query of exactly len bytes: "pg=Home&x=" padded with 'a'. */
static const char *query_of(size_t len)
{
    static char buf[4096];
    const char *head = "pg=Home&x=";
    size_t h = strlen(head);

    ck_assert_uint_lt(len, sizeof buf);
    ck_assert_uint_ge(len, h);
    memcpy(buf, head, h);
    memset(buf + h, 'a', len - h);
    buf[len] = '\0';
    return buf;
}

START_TEST(query_length_limit)
{
    struct nav n;
    const char *qs;

    qs = query_of(NAV_QUERY_MAX);
    ck_assert_uint_eq(strlen(qs), 2048);
    ck_assert_int_eq(nav_parse(&QG, qs, strlen(qs), &n, &Q), NAV_OK);
    ck_assert_str_eq(n.pg, "Home");

    qs = query_of(NAV_QUERY_MAX + 1);
    ck_assert_int_eq(nav_parse(&QG, qs, strlen(qs), &n, &Q), NAV_ETOOLONG);
    ck_assert_int_eq(nav_status(NAV_ETOOLONG), 414);

    /* Length is judged before content: 2049 bytes of garbage is 414. */
    qs = rep('%', NAV_QUERY_MAX + 1);
    ck_assert_int_eq(nav_parse(&QG, qs, strlen(qs), &n, &Q), NAV_ETOOLONG);
    qs = rep('%', NAV_QUERY_MAX);
    ck_assert_int_eq(nav_parse(&QG, qs, strlen(qs), &n, &Q), NAV_EENCODING);
}
END_TEST

START_TEST(q_length_limit)
{
    struct nav n;
    char qs[1024];

    pair(qs, sizeof qs, "q", 'a', TESTAPP_Q_MAX);
    ck_assert_int_eq(parse(qs, &n), NAV_OK);
    ck_assert_uint_eq(strlen(Q.q), 200);
    ck_assert_uint_eq(strlen(Q.q), 200);

    pair(qs, sizeof qs, "q", 'a', TESTAPP_Q_MAX + 1);
    ck_assert_int_eq(parse(qs, &n), NAV_ETEXT);
    ck_assert_int_eq(nav_status(NAV_ETEXT), 400);

    ck_assert_int_eq(parse("q=a", &n), NAV_OK);
    ck_assert_uint_eq(strlen(Q.q), 1);

    /* The bound is on decoded bytes: 600 bytes of %41 are 200 bytes. */
    qs[0] = '\0';
    strcat(qs, "q=");
    for (int i = 0; i < TESTAPP_Q_MAX; i++)
        strcat(qs, "%41");
    ck_assert_int_eq(parse(qs, &n), NAV_OK);
    ck_assert_uint_eq(strlen(Q.q), 200);
    ck_assert_str_eq(Q.q, rep('A', 200));
    strcat(qs, "%41");
    ck_assert_int_eq(parse(qs, &n), NAV_ETEXT);
}
END_TEST

/* 66 three-byte characters and two letters are 200 bytes; 67 are 201. */
START_TEST(q_length_multibyte)
{
    struct nav n;
    char qs[1024] = "q=";

    for (int i = 0; i < 66; i++)
        strcat(qs, "%E3%81%82");    /* U+3042 HIRAGANA A */
    strcat(qs, "ab");
    ck_assert_int_eq(parse(qs, &n), NAV_OK);
    ck_assert_uint_eq(strlen(Q.q), 200);

    strcpy(qs, "q=");
    for (int i = 0; i < 67; i++)
        strcat(qs, "%E3%81%82");
    ck_assert_int_eq(parse(qs, &n), NAV_ETEXT);
}
END_TEST

/* ---- valid queries ---- */

START_TEST(canonical_example)
{
    struct nav n;

    ck_assert_int_eq(parse("pg=Item&id=26&_s=" KEY, &n), NAV_OK);
    ck_assert_uint_eq(n.core, NAV_HAS_PG | NAV_HAS_S);
    ck_assert_uint_eq(n.seen, Q_ID);
    ck_assert_str_eq(n.pg, "Item");
    ck_assert_int_eq(n.pg_known_shape, 1);
    ck_assert_uint_eq(Q.id, 26);
    ck_assert_uint_eq(Q.page, 1);
    ck_assert_str_eq(n.s, KEY);
    ck_assert_str_eq(n.k, "");
    ck_assert_str_eq(Q.q, "");
    ck_assert_uint_eq(strlen(Q.q), 0);
}
END_TEST

START_TEST(empty_query_is_home)
{
    struct nav n;

    ck_assert_int_eq(parse("", &n), NAV_OK);
    ck_assert_uint_eq(n.core | n.seen, 0);
    ck_assert_str_eq(n.pg, "");
    ck_assert_int_eq(n.pg_known_shape, 1);   /* absent pg is Home */
    ck_assert_uint_eq(Q.page, 1);
    ck_assert_uint_eq(Q.id, 0);
}
END_TEST

START_TEST(id_bounds)
{
    struct nav n;

    ck_assert_int_eq(parse("id=1", &n), NAV_OK);
    ck_assert_uint_eq(Q.id, 1);
    ck_assert(n.seen & Q_ID);
    ck_assert_int_eq(parse("id=2147483647", &n), NAV_OK);
    ck_assert_uint_eq(Q.id, 2147483647u);
    ck_assert_int_eq(parse("id=10", &n), NAV_OK);
    ck_assert_uint_eq(Q.id, 10);
    /* Decoding comes before validation: %31 is the digit 1. */
    ck_assert_int_eq(parse("id=%31%30", &n), NAV_OK);
    ck_assert_uint_eq(Q.id, 10);
}
END_TEST

START_TEST(page_bounds)
{
    struct nav n;

    ck_assert_int_eq(parse("pg=Category&id=1", &n), NAV_OK);
    ck_assert_uint_eq(Q.page, 1);
    ck_assert(!(n.seen & Q_PAGE));
    ck_assert_int_eq(parse("page=1", &n), NAV_OK);
    ck_assert_uint_eq(Q.page, 1);
    ck_assert(n.seen & Q_PAGE);
    ck_assert_int_eq(parse("page=10000", &n), NAV_OK);
    ck_assert_uint_eq(Q.page, 10000);
    ck_assert_int_eq(parse("page=37", &n), NAV_OK);
    ck_assert_uint_eq(Q.page, 37);
}
END_TEST

START_TEST(q_decoding)
{
    struct nav n;

    ck_assert_int_eq(parse("pg=Search&q=salmon+roll", &n), NAV_OK);
    ck_assert_str_eq(Q.q, "salmon roll");
    ck_assert_uint_eq(strlen(Q.q), 11);
    ck_assert_int_eq(parse("q=1%2B1%3D2", &n), NAV_OK);
    ck_assert_str_eq(Q.q, "1+1=2");
    ck_assert_int_eq(parse("q=a=b", &n), NAV_OK);   /* first '=' splits */
    ck_assert_str_eq(Q.q, "a=b");
    ck_assert_int_eq(parse("q=%e3%81%99%E3%81%97", &n), NAV_OK);
    ck_assert_str_eq(Q.q, "\xE3\x81\x99\xE3\x81\x97");    /* sushi */
    ck_assert_uint_eq(strlen(Q.q), 6);
    ck_assert_int_eq(parse("q=%F0%9F%8D%A3", &n), NAV_OK); /* U+1F363 */
    ck_assert_uint_eq(strlen(Q.q), 4);
    ck_assert_int_eq(parse("q=\xE3\x81\x99", &n), NAV_OK); /* raw UTF-8 */
    ck_assert_str_eq(Q.q, "\xE3\x81\x99");
    ck_assert_int_eq(parse("q=%F4%8F%BF%BF", &n), NAV_OK); /* U+10FFFF */
    ck_assert_int_eq(parse("q=%C2%A0", &n), NAV_OK);       /* NBSP, not C1 */
    ck_assert_int_eq(parse("q=%EF%BF%BD", &n), NAV_OK);    /* U+FFFD */
    ck_assert_int_eq(parse("q=%ED%9F%BF", &n), NAV_OK);    /* U+D7FF */
    ck_assert_int_eq(parse("q=+", &n), NAV_OK);            /* one space */
    ck_assert_str_eq(Q.q, " ");
}
END_TEST

START_TEST(unknown_keys_ignored)
{
    struct nav n;

    ck_assert_int_eq(parse("utm_source=mail&pg=Item&fbclid=x&id=3", &n),
                     NAV_OK);
    ck_assert_uint_eq(n.core, NAV_HAS_PG);
    ck_assert_uint_eq(n.seen, Q_ID);
    ck_assert_str_eq(n.pg, "Item");
    ck_assert_uint_eq(Q.id, 3);
    /* Repeats of an unknown key are no one's business. */
    ck_assert_int_eq(parse("x=1&x=2&pg=Home", &n), NAV_OK);
    /* Names are exact: close is not the same. */
    ck_assert_int_eq(parse("ID=1&Pg=x&pages=0&qq=&_S=1", &n), NAV_OK);
    ck_assert_uint_eq(n.core | n.seen, 0);
    /* A long unknown key is still ignored, not truncated into a known one. */
    ck_assert_int_eq(parse("idxxxxxxxxxxxxxxxxxxxxxxx=0", &n), NAV_OK);
    ck_assert_uint_eq(n.core | n.seen, 0);
    /* Keys are decoded: %70g is pg. */
    ck_assert_int_eq(parse("%70g=Item", &n), NAV_OK);
    ck_assert_str_eq(n.pg, "Item");
}
END_TEST

START_TEST(empty_pairs_and_bare_keys)
{
    struct nav n;

    ck_assert_int_eq(parse("&&pg=Item&&id=2&", &n), NAV_OK);
    ck_assert_str_eq(n.pg, "Item");
    ck_assert_uint_eq(Q.id, 2);
    ck_assert_int_eq(parse("&", &n), NAV_OK);
    ck_assert_uint_eq(n.core | n.seen, 0);
    ck_assert_int_eq(parse("=", &n), NAV_OK);
    ck_assert_int_eq(parse("=x&pg=Home", &n), NAV_OK);
    ck_assert_str_eq(n.pg, "Home");
    ck_assert_int_eq(parse("flag&pg=Home", &n), NAV_OK);
    ck_assert_str_eq(n.pg, "Home");
    /* A bare pg is given but names nothing: 404 later, not 400. */
    ck_assert_int_eq(parse("pg", &n), NAV_OK);
    ck_assert(n.core & NAV_HAS_PG);
    ck_assert_str_eq(n.pg, "");
    ck_assert_int_eq(n.pg_known_shape, 0);
}
END_TEST

START_TEST(pg_shape)
{
    struct nav n;
    char qs[128];

    ck_assert_int_eq(parse("pg=Search", &n), NAV_OK);
    ck_assert_str_eq(n.pg, "Search");
    ck_assert_int_eq(n.pg_known_shape, 1);

    pair(qs, sizeof qs, "pg", 'P', NAV_PG_MAX);
    ck_assert_int_eq(parse(qs, &n), NAV_OK);
    ck_assert_uint_eq(strlen(n.pg), 32);
    ck_assert_int_eq(n.pg_known_shape, 1);

    /* Too long, or bytes no page name has: OK here, 404 at routing. */
    pair(qs, sizeof qs, "pg", 'P', NAV_PG_MAX + 1);
    ck_assert_int_eq(parse(qs, &n), NAV_OK);
    ck_assert(n.core & NAV_HAS_PG);
    ck_assert_str_eq(n.pg, "");
    ck_assert_int_eq(n.pg_known_shape, 0);
    ck_assert_int_eq(parse("pg=It%20em", &n), NAV_OK);
    ck_assert_str_eq(n.pg, "");
    ck_assert_int_eq(n.pg_known_shape, 0);
    ck_assert_int_eq(parse("pg=%3Cscript%3E", &n), NAV_OK);
    ck_assert_str_eq(n.pg, "");
    ck_assert_int_eq(parse("pg=", &n), NAV_OK);
    ck_assert_int_eq(n.pg_known_shape, 0);
}
END_TEST

START_TEST(session_keys)
{
    struct nav n;

    ck_assert_int_eq(parse("pg=List&_s=" KEY, &n), NAV_OK);
    ck_assert(n.core & NAV_HAS_S);
    ck_assert_str_eq(n.s, KEY);
    /* KEY.ROUTE, for sticky balancers; a form key never has one. */
    ck_assert_int_eq(parse("pg=List&_s=" KEY ".w-2_b", &n), NAV_OK);
    ck_assert_str_eq(n.s, KEY ".w-2_b");
    ck_assert_int_eq(parse("_s=" KEY "." "abcdefghijklmnop", &n), NAV_OK);
    ck_assert_str_eq(n.s, KEY ".abcdefghijklmnop");
    ck_assert_int_eq(parse("_k=" KEY ".r1", &n), NAV_OK);
    ck_assert_str_eq(n.k, "");
    ck_assert_int_eq(parse("_k=" KEY, &n), NAV_OK);
    ck_assert(n.core & NAV_HAS_K);
    ck_assert_str_eq(n.k, KEY);

    /* Malformed keys: present, empty, and not an error (sessionless 200). */
    static const char *const bad[] = {
        "_s=", "_s", "_s=short",
        "_s=3q2-7wAbcD_eF9hIjKlMn",             /* 21 */
        "_s=3q2-7wAbcD_eF9hIjKlMnOP",           /* 23 */
        "_s=3q2-7wAbcD_eF9hIjKl!nO",            /* 22, bad char */
        "_s=3q2-7wAbcD_eF9hIjKl%2BnO",          /* '+' is not base64url */
        "_s=3q2-7wAbcD_eF9hIjKl+nO",            /* a space */
        "_s=3q2-7wAbcD_eF9hIjKl/nO",
        "_s=" KEY ".",                          /* an empty route */
        "_s=" KEY ".r1.r2", "_s=" KEY ".r%21",  /* a route is one word */
        "_s=" KEY "." "abcdefghijklmnopq",      /* 17: too long a route */
        "_s=" KEY "x.r1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse(bad[i], &n) == NAV_OK, "%s", bad[i]);
        ck_assert_msg(n.core == NAV_HAS_S && n.seen == 0, "%s", bad[i]);
        ck_assert_msg(n.s[0] == '\0', "%s kept \"%s\"", bad[i], n.s);
    }
    ck_assert_int_eq(parse("_k=nope", &n), NAV_OK);
    ck_assert_uint_eq(n.core, NAV_HAS_K);
    ck_assert_str_eq(n.k, "");

    /* But the key's encoding is still checked like any other value. */
    ck_assert_int_eq(parse("_s=%zz", &n), NAV_EENCODING);
    ck_assert_int_eq(parse("_s=%C0%AF", &n), NAV_EUTF8);
}
END_TEST

/* ---- forms ---- */

START_TEST(form_actions)
{
    struct nav f;

    ck_assert_int_eq(parse_form("act=add&id=26&n=2&_s=" KEY "&_k=" KEY, &f),
                     NAV_OK);
    ck_assert_uint_eq(f.core, NAV_HAS_ACT | NAV_HAS_S | NAV_HAS_K);
    ck_assert_uint_eq(f.seen, F_ID | F_N);
    ck_assert_str_eq(f.act, "add");
    ck_assert_uint_eq(F.id, 26);
    ck_assert_uint_eq(F.n, 2);
    ck_assert_str_eq(f.s, KEY);
    ck_assert_str_eq(f.k, KEY);

    ck_assert_int_eq(parse_form("act=logout", &f), NAV_OK);
    ck_assert_uint_eq(f.core, NAV_HAS_ACT);
    ck_assert_uint_eq(f.seen, 0);
    ck_assert_uint_eq(F.n, TESTAPP_N_ABSENT);    /* absent: its absent value */
    ck_assert_uint_eq(F.id, 0);
    ck_assert_str_eq(f.act, "logout");

    ck_assert_int_eq(parse_form("act=login&user=demo&note=nori-demo",
                                &f), NAV_OK);
    ck_assert_str_eq(F.user, "demo");
    ck_assert_str_eq(F.note, "nori-demo");
    ck_assert_int_eq(parse_form("note=a+b%26c%3D", &f), NAV_OK);
    ck_assert_str_eq(F.note, "a b&c=");
    ck_assert_int_eq(parse_form("user=%E3%81%99", &f), NAV_OK);
    ck_assert_str_eq(F.user, "\xE3\x81\x99");
}
END_TEST

START_TEST(form_n)
{
    struct nav f;

    ck_assert_int_eq(parse_form("n=0", &f), NAV_OK);
    ck_assert_uint_eq(F.n, 0);
    ck_assert(f.seen & F_N);
    ck_assert_int_eq(parse_form("n=99", &f), NAV_OK);
    ck_assert_uint_eq(F.n, 99);
    static const char *const bad[] = {
        "n=100", "n=-1", "n=", "n", "n=00", "n=07", "n=1e1",
        "n=4294967296", "id=0", "id=2147483648",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum nav_err err = parse_form(bad[i], &f);
        ck_assert_msg(err == NAV_ENUMBER, "%s: %d", bad[i], err);
        ck_assert_int_eq(nav_status(err), 400);
    }
}
END_TEST

START_TEST(form_text_fields)
{
    struct nav f;
    char body[512];

    ck_assert_int_eq(parse_form("act=Add", &f), NAV_ETEXT);   /* lower only */
    ck_assert_int_eq(parse_form("act=", &f), NAV_ETEXT);
    ck_assert_int_eq(parse_form("act=add1", &f), NAV_ETEXT);
    ck_assert_int_eq(parse_form("act=a%0A", &f), NAV_ETEXT);
    pair(body, sizeof body, "act", 'a', NAV_ACT_MAX);
    ck_assert_int_eq(parse_form(body, &f), NAV_OK);
    ck_assert_uint_eq(strlen(f.act), 16);
    pair(body, sizeof body, "act", 'a', NAV_ACT_MAX + 1);
    ck_assert_int_eq(parse_form(body, &f), NAV_ETEXT);

    ck_assert_int_eq(parse_form("user=", &f), NAV_ETEXT);
    ck_assert_int_eq(parse_form("note=", &f), NAV_ETEXT);
    ck_assert_int_eq(parse_form("user=de%01mo", &f), NAV_ETEXT);
    ck_assert_int_eq(parse_form("note=x%7F", &f), NAV_ETEXT);
    ck_assert_int_eq(parse_form("note=x%C2%85", &f), NAV_ETEXT);

    pair(body, sizeof body, "user", 'u', NORI_USER_MAX);
    ck_assert_int_eq(parse_form(body, &f), NAV_OK);
    ck_assert_uint_eq(strlen(F.user), 64);
    pair(body, sizeof body, "user", 'u', NORI_USER_MAX + 1);
    ck_assert_int_eq(parse_form(body, &f), NAV_ETEXT);

    pair(body, sizeof body, "note", 'p', TESTAPP_NOTE_MAX);
    ck_assert_int_eq(parse_form(body, &f), NAV_OK);
    ck_assert_uint_eq(strlen(F.note), 128);
    pair(body, sizeof body, "note", 'p', TESTAPP_NOTE_MAX + 1);
    ck_assert_int_eq(parse_form(body, &f), NAV_ETEXT);
}
END_TEST

START_TEST(form_bad_input)
{
    struct nav f;

    ck_assert_int_eq(parse_form("act=add&act=set", &f), NAV_EREPEAT);
    ck_assert_int_eq(parse_form("n=1&n=1", &f), NAV_EREPEAT);
    ck_assert_int_eq(parse_form("_k=a&_k=b", &f), NAV_EREPEAT);
    ck_assert_int_eq(parse_form("act=%", &f), NAV_EENCODING);
    ck_assert_int_eq(parse_form("user=%00", &f), NAV_ENUL);
    ck_assert_int_eq(parse_form("note=%ED%A0%80", &f), NAV_EUTF8);
    ck_assert_int_eq(parse_form("junk=%C0%AF", &f), NAV_EUTF8);

    /* Malformed keys are kept as present-but-empty, as in queries. */
    ck_assert_int_eq(parse_form("act=inc&_s=old&_k=" KEY "x", &f), NAV_OK);
    ck_assert(f.core & NAV_HAS_S);
    ck_assert(f.core & NAV_HAS_K);
    ck_assert_str_eq(f.s, "");
    ck_assert_str_eq(f.k, "");

    /* The form table is its own: query names are unknown here. */
    ck_assert_int_eq(parse_form("pg=a&pg=b&q=&page=0", &f), NAV_OK);
    ck_assert_uint_eq(f.core | f.seen, 0);
}
END_TEST

/* The 2048-byte bound is the query string's (414); bodies are bounded by
 * the HTTP layer (16 KiB, 413), so the form parser takes them whole. */
START_TEST(form_has_no_query_limit)
{
    struct nav f;
    char body[4096];

    pair(body, sizeof body, "pad", 'x', 3000);
    strcat(body, "&act=inc");       /* after the first 2048 bytes */
    ck_assert_int_eq(parse_form(body, &f), NAV_OK);
    ck_assert_str_eq(f.act, "inc");
}
END_TEST

/* ---- nav_url ---- */

/* A query of the tests' application: zeroes are "not given" for id and out of range for page,
 * as the old link struct's zeroes were. */
#define SQ(...) (&(struct testapp_query){__VA_ARGS__})

static const char *url_g(const char *prefix, const struct nori_grammar *g,
                         const char *pg, const void *query, const char *s)
{
    static char buf[2048];
    const struct nori_link l = {pg, query};
    size_t n = nav_url(buf, sizeof buf, prefix, g, &l, s);

    ck_assert_uint_gt(n, 0);
    ck_assert_uint_eq(n, strlen(buf));
    return buf;
}

static const char *url(const char *prefix, const char *pg,
                       const struct testapp_query *query, const char *s)
{
    return url_g(prefix, &QG, pg, query, s);
}

START_TEST(url_canonical_order)
{
    ck_assert_str_eq(url("/app", "Item", SQ(.id = 26), KEY),
                     "/app?pg=Item&id=26&_s=" KEY);
    /* Designated initialisers in any order: the output order is fixed. */
    ck_assert_str_eq(url("/app", "Search", SQ(.page = 3, .q = "maki", .id = 5), KEY),
                     "/app?pg=Search&id=5&q=maki&page=3&_s=" KEY);
    ck_assert_str_eq(url("/app", "Category", SQ(.id = 2, .page = 2), NULL),
                     "/app?pg=Category&id=2&page=2");
    ck_assert_str_eq(url("/app", "Home", NULL, NULL), "/app?pg=Home");
    ck_assert_str_eq(url("/app", NULL, SQ(.id = 2147483647u), NULL),
                     "/app?id=2147483647");
}
END_TEST

/* The canonical order is the grammar's, not the struct's nor the
 * alphabet's: the same struct through a grammar listing its fields the
 * other way round. */
static const struct nori_field reversed_fields[] = {
    NORI_FIELD_UINT(struct testapp_query, page, "page", 1, TESTAPP_PAGE_MAX, 1),
    NORI_FIELD_TEXT(struct testapp_query, q, "q", 1, TESTAPP_Q_MAX),
    NORI_FIELD_UINT(struct testapp_query, id, "id", 1, INT32_MAX, 0),
};
static const struct nori_grammar RG = {reversed_fields, COUNT(reversed_fields),
                                       sizeof(struct testapp_query)};

START_TEST(url_grammar_order)
{
    const struct testapp_query *q = SQ(.id = 5, .q = "maki", .page = 3);
    struct nav n;

    ck_assert_str_eq(url_g("/app", &RG, "Search", q, KEY),
                     "/app?pg=Search&page=3&q=maki&id=5&_s=" KEY);
    ck_assert_str_eq(url_g("/app", &QG, "Search", q, KEY),
                     "/app?pg=Search&id=5&q=maki&page=3&_s=" KEY);
    /* pg first and _s last whatever the grammar. */
    ck_assert_str_eq(url_g("", &RG, NULL, SQ(.id = 1), KEY), "?id=1&_s=" KEY);
    /* Either order parses to the same fields; bits follow the grammar. */
    ck_assert_int_eq(nav_parse(&RG, "id=5&q=maki&page=3", 18, &n, &Q), NAV_OK);
    ck_assert_uint_eq(n.seen, 7);
    ck_assert_uint_eq(Q.id, 5);
    ck_assert_uint_eq(Q.page, 3);
    ck_assert_int_eq(nav_parse(&RG, "page=3", 6, &n, &Q), NAV_OK);
    ck_assert_uint_eq(n.seen, 1u << 0);         /* page is field 0 here */
}
END_TEST

START_TEST(url_omits_defaults)
{
    /* page 1 is the absent value and 0 is out of range: neither is written. */
    ck_assert_str_eq(url("/app", "Category", SQ(.id = 2, .page = 1), NULL),
                     "/app?pg=Category&id=2");
    ck_assert_str_eq(url("/app", "Category", SQ(.page = 0), NULL),
                     "/app?pg=Category");
    /* An empty session key is no session: a sessionless page emits no _s. */
    ck_assert_str_eq(url("/app", "List", NULL, ""), "/app?pg=List");
    ck_assert_str_eq(url("/app", NULL, NULL, NULL), "/app");
    ck_assert_str_eq(url("/app", NULL, SQ(0), NULL), "/app");
}
END_TEST

/* A UINT slot holding its absent value, or a value outside [min, max],
 * is left out; anything in range that is not `absent` is written, 0
 * included when 0 is not the absent value. Empty text is left out. */
START_TEST(url_omits_absent_and_out_of_range)
{
    ck_assert_str_eq(url("/s", NULL, SQ(.id = 2147483648u, .page = 10001), NULL),
                     "/s");
    ck_assert_str_eq(url("/s", NULL, SQ(.id = UINT32_MAX, .page = UINT32_MAX), NULL),
                     "/s");
    ck_assert_str_eq(url("/s", NULL, SQ(.page = 10000, .q = ""), NULL),
                     "/s?page=10000");
    ck_assert_str_eq(url("/s", NULL, SQ(.page = 2), NULL), "/s?page=2");

    /* The form grammar: n's absent value is UINT32_MAX, and 0 is in range. */
    const struct testapp_form f0 = {.id = 0, .n = TESTAPP_N_ABSENT};
    const struct testapp_form f1 = {.id = 7, .n = 0};
    const struct testapp_form f2 = {.id = 7, .n = TESTAPP_N_MAX + 1, .user = "demo"};
    const struct testapp_form f3 = {.id = 7, .n = TESTAPP_N_MAX};

    ck_assert_str_eq(url_g("/s", &FG, NULL, &f0, NULL), "/s");
    ck_assert_str_eq(url_g("/s", &FG, NULL, &f1, NULL), "/s?id=7&n=0");
    ck_assert_str_eq(url_g("/s", &FG, NULL, &f2, NULL), "/s?id=7&user=demo");
    ck_assert_str_eq(url_g("/s", &FG, NULL, &f3, NULL), "/s?id=7&n=99");
}
END_TEST

/* What the parser fills for a field not given is the field's `absent`
 * (UINT) or "" (TEXT), and a parse starts from that, not from what the
 * last one left. */
START_TEST(absent_values)
{
    struct nav n;

    ck_assert_int_eq(parse("id=3&q=maki&page=9", &n), NAV_OK);
    ck_assert_int_eq(parse("pg=Home", &n), NAV_OK);
    ck_assert_uint_eq(Q.id, 0);
    ck_assert_str_eq(Q.q, "");
    ck_assert_uint_eq(Q.page, 1);
    ck_assert_uint_eq(n.seen, 0);

    ck_assert_int_eq(parse_form("id=3&n=4&user=u&note=p", &n), NAV_OK);
    ck_assert_uint_eq(n.seen, F_ID | F_N | F_USER | F_NOTE);
    ck_assert_int_eq(parse_form("act=inc", &n), NAV_OK);
    ck_assert_uint_eq(F.id, 0);
    ck_assert_uint_eq(F.n, TESTAPP_N_ABSENT);
    ck_assert_str_eq(F.user, "");
    ck_assert_str_eq(F.note, "");
    ck_assert_uint_eq(n.seen, 0);
    /* n=0 is given, and is not the absent value. */
    ck_assert_int_eq(parse_form("n=0", &n), NAV_OK);
    ck_assert_uint_eq(F.n, 0);
    ck_assert_uint_eq(n.seen, F_N);
}
END_TEST

START_TEST(url_prefix)
{
    ck_assert_str_eq(url("", "Item", SQ(.id = 1), NULL), "?pg=Item&id=1");
    ck_assert_str_eq(url("", NULL, NULL, KEY), "?_s=" KEY);
    /* Nothing at all still makes a usable href. */
    ck_assert_str_eq(url("", NULL, NULL, NULL), "/");
    ck_assert_str_eq(url("/a/b/nori.fcgi", "Login", NULL, NULL),
                     "/a/b/nori.fcgi?pg=Login");
}
END_TEST

START_TEST(url_encodes_q)
{
    ck_assert_str_eq(url("/app", "Search", SQ(.q = "a b&c=d#e"), NULL),
                     "/app?pg=Search&q=a%20b%26c%3Dd%23e");
    ck_assert_str_eq(url("/app", NULL, SQ(.q = "1+1%?/"), NULL),
                     "/app?q=1%2B1%25%3F%2F");
    ck_assert_str_eq(url("/app", NULL, SQ(.q = "\xE3\x81\x99\xE3\x81\x97"), NULL),
                     "/app?q=%E3%81%99%E3%81%97");
    ck_assert_str_eq(url("/app", NULL, SQ(.q = "<\"'>"), NULL),
                     "/app?q=%3C%22%27%3E");
    /* RFC 3986 unreserved characters stay as they are. */
    ck_assert_str_eq(url("/app", NULL, SQ(.q = "Az09-._~"), NULL),
                     "/app?q=Az09-._~");
    /* pg and _s are encoded too, though a valid one never needs it. */
    ck_assert_str_eq(url("/app", "a b", NULL, "k&"), "/app?pg=a%20b&_s=k%26");
}
END_TEST

/* Whatever nav_url writes parses back to the same navigation. */
START_TEST(url_round_trip)
{
    static const char *const qs[] = {
        "a b", "salmon+roll&x=1", "100%", "\xF0\x9F\x8D\xA3 \xE3\x81\x99",
        "#frag?", "=",
    };
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        struct testapp_query sq = {.page = 7};
        snprintf(sq.q, sizeof sq.q, "%s", qs[i]);
        const char *u = url("/app", "Search", &sq, KEY);
        const char *query = strchr(u, '?');
        struct nav n;

        ck_assert_ptr_nonnull(query);
        ck_assert_msg(parse(query + 1, &n) == NAV_OK, "%s", u);
        ck_assert_str_eq(n.pg, "Search");
        ck_assert_str_eq(Q.q, qs[i]);
        ck_assert_uint_eq(Q.page, 7);
        ck_assert_str_eq(n.s, KEY);
    }
}
END_TEST

/* The result fits exactly when cap is its length plus the NUL; one byte
 * less gives 0, and nothing is written past cap either way. */
START_TEST(url_buffer_bounds)
{
    static const struct testapp_query q1 = {.id = 26, .page = 1};
    static const struct testapp_query q2 = {.q = "\xE3\x81\x99 a", .page = 12};
    static const struct {
        struct nori_link l;
        const char *s;
    } links[] = {
        {{"Item", &q1}, KEY},
        {{"Search", &q2}, NULL},
        {{NULL, NULL}, NULL},
    };
    static const char *const prefixes[] = {"/app", ""};

    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
            char want[256], buf[256];
            size_t len = nav_url(want, sizeof want, prefixes[p], &QG,
                                 &links[i].l, links[i].s);

            ck_assert_uint_gt(len, 0);
            for (size_t cap = 0; cap <= len + 1; cap++) {
                memset(buf, '#', sizeof buf);
                size_t n = nav_url(buf, cap, prefixes[p], &QG, &links[i].l,
                                   links[i].s);
                if (cap > len) {
                    ck_assert_uint_eq(n, len);
                    ck_assert_str_eq(buf, want);
                } else {
                    ck_assert_msg(n == 0, "cap %zu of %zu gave %zu", cap, len,
                                  n);
                }
                for (size_t j = cap; j < sizeof buf; j++)
                    ck_assert_msg(buf[j] == '#', "wrote at %zu, cap %zu", j,
                                  cap);
            }
        }
    }
}
END_TEST

/* ---- the engine's pieces ---- */

static int dec(const char *s, uint64_t max, uint64_t *out)
{
    return nav_decimal(s, strlen(s), max, out);
}

START_TEST(decimal_strict)
{
    uint64_t v = 12345;

    ck_assert_int_eq(dec("0", 10, &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(dec("7", 10, &v), 0);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(dec("10", 10, &v), 0);
    ck_assert_uint_eq(v, 10);
    /* no leading zero, sign, blank or other byte */
    static const char *const bad[] = {
        "", "00", "01", "007", "-1", "+1", " 1", "1 ", "1a", "0x1", "1.0", "١",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        v = 12345;
        ck_assert_msg(dec(bad[i], UINT64_MAX, &v) == -1, "\"%s\"", bad[i]);
        ck_assert_msg(v == 12345, "\"%s\" wrote %llu", bad[i],
                      (unsigned long long)v);
    }
    /* n bytes, not a C string: a NUL inside is a non-digit. */
    ck_assert_int_eq(nav_decimal("1\0", 2, 10, &v), -1);
    ck_assert_int_eq(nav_decimal("12", 1, 10, &v), 0);
    ck_assert_uint_eq(v, 1);
    /* the public name is the same rule */
    ck_assert_int_eq(nori_decimal("01", 2, 10, &v), -1);
    ck_assert_int_eq(nori_decimal("10", 2, 10, &v), 0);
}
END_TEST

START_TEST(decimal_max)
{
    uint64_t v = 0;

    /* at max, one over */
    ck_assert_int_eq(dec("99", 99, &v), 0);
    ck_assert_uint_eq(v, 99);
    ck_assert_int_eq(dec("100", 99, &v), -1);
    ck_assert_int_eq(dec("2147483647", INT32_MAX, &v), 0);
    ck_assert_int_eq(dec("2147483648", INT32_MAX, &v), -1);
    ck_assert_int_eq(dec("4294967295", UINT32_MAX, &v), 0);
    ck_assert_int_eq(dec("4294967296", UINT32_MAX, &v), -1);
    /* a max below 10: one digit over it is refused too */
    ck_assert_int_eq(dec("0", 0, &v), 0);
    ck_assert_int_eq(dec("1", 0, &v), -1);
    ck_assert_int_eq(dec("3", 3, &v), 0);
    ck_assert_int_eq(dec("4", 3, &v), -1);
    ck_assert_int_eq(dec("9", 3, &v), -1);
    ck_assert_int_eq(dec("10", 3, &v), -1);
    ck_assert_int_eq(dec("5", 9, &v), 0);
    ck_assert_int_eq(dec("10", 9, &v), -1);
    /* a max that is not round: the last digit decides */
    ck_assert_int_eq(dec("123", 123, &v), 0);
    ck_assert_int_eq(dec("124", 123, &v), -1);
    ck_assert_int_eq(dec("130", 123, &v), -1);
}
END_TEST

/* 20 digits: UINT64_MAX is the largest, one more wraps and is refused;
 * 21 digits are refused whatever they say. */
START_TEST(decimal_twenty_digits)
{
    uint64_t v = 0;

    ck_assert_int_eq(dec("18446744073709551615", UINT64_MAX, &v), 0);
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(dec("18446744073709551616", UINT64_MAX, &v), -1);
    ck_assert_int_eq(dec("18446744073709551625", UINT64_MAX, &v), -1);
    ck_assert_int_eq(dec("19999999999999999999", UINT64_MAX, &v), -1);
    ck_assert_int_eq(dec("99999999999999999999", UINT64_MAX, &v), -1);
    ck_assert_int_eq(dec("10000000000000000000", UINT64_MAX, &v), 0);
    ck_assert_uint_eq(v, 10000000000000000000ull);
    ck_assert_int_eq(dec("10000000000000000000", UINT64_MAX - 1, &v), 0);
    ck_assert_int_eq(dec("18446744073709551615", UINT64_MAX - 1, &v), -1);
    ck_assert_int_eq(dec("100000000000000000000", UINT64_MAX, &v), -1);
    ck_assert_int_eq(dec("000000000000000000001", UINT64_MAX, &v), -1);
}
END_TEST

/* A UINT field with a small max is as strict as its decimal. */
struct small {
    uint32_t d;
};
static const struct nori_field small_fields[] = {
    NORI_FIELD_UINT(struct small, d, "d", 2, 5, 0),
};
static const struct nori_grammar SG = {small_fields, 1, sizeof(struct small)};

START_TEST(uint_small_range)
{
    struct nav n;
    struct small v;

    for (unsigned d = 0; d <= 9; d++) {
        char qs[8];
        snprintf(qs, sizeof qs, "d=%u", d);
        enum nav_err err = nav_parse(&SG, qs, strlen(qs), &n, &v);
        if (d >= 2 && d <= 5) {
            ck_assert_msg(err == NAV_OK, "%s: %d", qs, err);
            ck_assert_uint_eq(v.d, d);
        } else {
            ck_assert_msg(err == NAV_ENUMBER, "%s: %d", qs, err);
        }
    }
}
END_TEST

static int check_grammar(const struct nori_field *f, size_t n, size_t size)
{
    const struct nori_grammar g = {f, n, size};
    char err[200] = "";
    int r = nav_grammar_check(&g, err, sizeof err);

    if (r < 0)
        ck_assert_msg(err[0] != '\0', "a refusal says why");
    return r;
}

struct two {
    uint32_t a;
    char t[9];
    uint32_t b;
};

START_TEST(grammar_check_good)
{
    char err[200];

    ck_assert_int_eq(nav_grammar_check(&QG, err, sizeof err), 0);
    ck_assert_int_eq(nav_grammar_check(&FG, err, sizeof err), 0);
    ck_assert_int_eq(nav_grammar_check(&RG, err, sizeof err), 0);
    ck_assert_int_eq(nav_grammar_check(&SG, err, sizeof err), 0);
    ck_assert_int_eq(check_grammar(NULL, 0, 0), 0);     /* no fields */
    const struct nori_field ok[] = {
        NORI_FIELD_UINT(struct two, a, "a", 0, UINT32_MAX, 0),
        NORI_FIELD_TEXT(struct two, t, "t", 0, 8),
        NORI_FIELD_UINT(struct two, b, "pgx", 0, 1, 0),     /* not pg */
    };
    ck_assert_int_eq(check_grammar(ok, 3, sizeof(struct two)), 0);
}
END_TEST

START_TEST(grammar_check_names)
{
    struct nori_field f[2] = {
        NORI_FIELD_UINT(struct two, a, "a", 0, 10, 0),
        NORI_FIELD_UINT(struct two, b, "b", 0, 10, 0),
    };

    ck_assert_int_eq(check_grammar(f, 2, sizeof(struct two)), 0);
    f[1].name = "a";                                    /* given twice */
    ck_assert_int_eq(check_grammar(f, 2, sizeof(struct two)), -1);
    static const char *const nori_own[] = {"pg", "act", "_s", "_k"};
    for (size_t i = 0; i < COUNT(nori_own); i++) {
        f[1].name = nori_own[i];
        ck_assert_msg(check_grammar(f, 2, sizeof(struct two)) == -1, "%s",
                      nori_own[i]);
        f[0].name = nori_own[i];
        f[1].name = "b";
        ck_assert_msg(check_grammar(f, 2, sizeof(struct two)) == -1, "%s first",
                      nori_own[i]);
        f[0].name = "a";
    }
    f[1].name = "";                                     /* no name */
    ck_assert_int_eq(check_grammar(f, 2, sizeof(struct two)), -1);
    f[1].name = NULL;
    ck_assert_int_eq(check_grammar(f, 2, sizeof(struct two)), -1);
    f[1].name = "abcdefghijklmno";                      /* 15: still a name */
    ck_assert_int_eq(check_grammar(f, 2, sizeof(struct two)), 0);
    f[1].name = "abcdefghijklmnop";                     /* 16: never parsed */
    ck_assert_int_eq(check_grammar(f, 2, sizeof(struct two)), -1);
}
END_TEST

START_TEST(grammar_check_slots)
{
    struct nori_field f[1] = {NORI_FIELD_UINT(struct two, b, "b", 0, 10, 0)};

    ck_assert_int_eq(check_grammar(f, 1, sizeof(struct two)), 0);
    /* the struct too small for the slot: by one byte, or wholly */
    ck_assert_int_eq(check_grammar(f, 1, offsetof(struct two, b) + 3), -1);
    ck_assert_int_eq(check_grammar(f, 1, offsetof(struct two, b) + 4), 0);
    f[0].offset = sizeof(struct two);
    ck_assert_int_eq(check_grammar(f, 1, sizeof(struct two)), -1);
    f[0].offset = SIZE_MAX - 1;                         /* no wrap-around */
    ck_assert_int_eq(check_grammar(f, 1, sizeof(struct two)), -1);

    /* text: max bytes and the NUL */
    struct nori_field t[1] = {NORI_FIELD_TEXT(struct two, t, "t", 1, 8)};
    size_t end = offsetof(struct two, t) + 9;
    ck_assert_int_eq(check_grammar(t, 1, end), 0);
    ck_assert_int_eq(check_grammar(t, 1, end - 1), -1);
    t[0].max = NORI_TEXT_MAX + 1;                       /* over the engine's */
    ck_assert_int_eq(check_grammar(t, 1, 4096), -1);
    t[0].max = 4;
    t[0].min = 5;                                       /* min over max */
    ck_assert_int_eq(check_grammar(t, 1, end), -1);

    /* too many fields */
    struct nori_field many[NORI_FIELDS_MAX + 1];
    static char names[NORI_FIELDS_MAX + 1][4];
    for (size_t i = 0; i < COUNT(many); i++) {
        snprintf(names[i], sizeof names[i], "f%zu", i);
        many[i] = (struct nori_field){names[i], NORI_UINT, 0, 0, 1, 0};
    }
    ck_assert_int_eq(check_grammar(many, NORI_FIELDS_MAX, 4), 0);
    ck_assert_int_eq(check_grammar(many, NORI_FIELDS_MAX + 1, 4), -1);
}
END_TEST

/* Any field the parse knows, given twice, is NAV_EREPEAT: the
 * application's (each of them) and nori's own, under its own name or an
 * encoded one, with the same value or another, near or far apart. */
START_TEST(repeat_every_field)
{
    static const char *const query[] = {
        "id=1&id=2", "q=a&x=1&q=a", "page=2&page=2", "pg=A&pg=A", "pg=A&%70g=B",
        "_s=" KEY "&_s=x", "_k=" KEY "&_k=" KEY, "_s&_s", "i%64=1&id=1",
    };
    static const char *const form[] = {
        "id=1&id=2", "n=0&n=0", "user=a&user=b", "note=a&note=a",
        "act=inc&act=inc", "act=inc&%61ct=add", "_s=x&_s=y", "_k=x&_k=" KEY,
        "n=1&act=inc&n=2",
    };
    struct nav n;

    for (size_t i = 0; i < COUNT(query); i++)
        ck_assert_msg(parse(query[i], &n) == NAV_EREPEAT, "query %s", query[i]);
    for (size_t i = 0; i < COUNT(form); i++)
        ck_assert_msg(parse_form(form[i], &n) == NAV_EREPEAT, "form %s", form[i]);
    /* nori's field of the other parse is unknown, so never a repeat. */
    ck_assert_int_eq(parse("act=a&act=b", &n), NAV_OK);
    ck_assert_uint_eq(n.core | n.seen, 0);
    ck_assert_int_eq(parse_form("pg=a&pg=b", &n), NAV_OK);
    ck_assert_uint_eq(n.core | n.seen, 0);
    /* A repeat is a repeat even when the first was malformed-but-kept. */
    ck_assert_int_eq(parse("pg=%3C&pg=Home", &n), NAV_EREPEAT);
    ck_assert_int_eq(parse("_s=short&_s=" KEY, &n), NAV_EREPEAT);
}
END_TEST

/* ---- nav_html_escape ---- */

static const char *escape(const char *s, size_t len)
{
    static char buf[1024];
    size_t n;

    ck_assert_uint_le(len * NAV_HTML_WORST, sizeof buf - 1);
    n = nav_html_escape(buf, s, len);
    ck_assert_uint_le(n, len * NAV_HTML_WORST);
    buf[n] = '\0';
    return buf;
}

START_TEST(html_escape)
{
    const char *s = "<a href=\"x\">Tom & Jerry's</a>";

    ck_assert_str_eq(escape(s, strlen(s)),
                     "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s"
                     "&lt;/a&gt;");
    ck_assert_str_eq(escape("&amp;", 5), "&amp;amp;");  /* not idempotent */
    ck_assert_str_eq(escape("plain text, \xE3\x81\x99", 15),
                     "plain text, \xE3\x81\x99");
    ck_assert_str_eq(escape("", 0), "");
    ck_assert_str_eq(escape("<<", 1), "&lt;");          /* len, not NUL */
    ck_assert_uint_eq(nav_html_escape((char[18]){0}, "a\0b", 3), 3);
    /* spans: a special byte first, last, alone and in a row */
    ck_assert_str_eq(escape("&ab", 3), "&amp;ab");
    ck_assert_str_eq(escape("ab>", 3), "ab&gt;");
    ck_assert_str_eq(escape("'", 1), "&#39;");
    ck_assert_str_eq(escape("a<>\"b", 5), "a&lt;&gt;&quot;b");
}
END_TEST

/* The worst case is exactly NAV_HTML_WORST bytes per input byte; a heap
 * buffer of that size lets ASan catch a byte more. */
START_TEST(html_escape_worst_case)
{
    static const char worst[] = "\"'&<>";
    size_t len = 300;
    char *src = malloc(len), *dst = malloc(len * NAV_HTML_WORST);
    size_t n, most = 0;

    ck_assert_ptr_nonnull(src);
    ck_assert_ptr_nonnull(dst);
    for (size_t i = 0; i < 5; i++) {
        memset(src, worst[i], len);
        n = nav_html_escape(dst, src, len);
        ck_assert_uint_le(n, len * NAV_HTML_WORST);
        ck_assert(memchr(dst, worst[i], n) == NULL || worst[i] == '&');
        if (n > most)
            most = n;
    }
    ck_assert_uint_eq(most, len * NAV_HTML_WORST);   /* &quot; */
    free(src);
    free(dst);
}
END_TEST

static Suite *nav_suite(void)
{
    Suite *s = suite_create("nav");
    TCase *tc;

    tc = tcase_create("bad input");
    tcase_add_loop_test(tc, bad_query, 0,
                        (int)(sizeof bad_queries / sizeof bad_queries[0]));
    tcase_add_test(tc, status_of_every_error);
    tcase_add_test(tc, raw_nul_byte);
    tcase_add_test(tc, stops_at_len);
    tcase_add_test(tc, query_length_limit);
    tcase_add_test(tc, q_length_limit);
    tcase_add_test(tc, q_length_multibyte);
    suite_add_tcase(s, tc);

    tc = tcase_create("query");
    tcase_add_test(tc, canonical_example);
    tcase_add_test(tc, empty_query_is_home);
    tcase_add_test(tc, id_bounds);
    tcase_add_test(tc, page_bounds);
    tcase_add_test(tc, q_decoding);
    tcase_add_test(tc, unknown_keys_ignored);
    tcase_add_test(tc, empty_pairs_and_bare_keys);
    tcase_add_test(tc, pg_shape);
    tcase_add_test(tc, session_keys);
    suite_add_tcase(s, tc);

    tc = tcase_create("form");
    tcase_add_test(tc, form_actions);
    tcase_add_test(tc, form_n);
    tcase_add_test(tc, form_text_fields);
    tcase_add_test(tc, form_bad_input);
    tcase_add_test(tc, form_has_no_query_limit);
    suite_add_tcase(s, tc);

    tc = tcase_create("url");
    tcase_add_test(tc, url_canonical_order);
    tcase_add_test(tc, url_grammar_order);
    tcase_add_test(tc, url_omits_defaults);
    tcase_add_test(tc, url_omits_absent_and_out_of_range);
    tcase_add_test(tc, absent_values);
    tcase_add_test(tc, url_prefix);
    tcase_add_test(tc, url_encodes_q);
    tcase_add_test(tc, url_round_trip);
    tcase_add_test(tc, url_buffer_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("engine");
    tcase_add_test(tc, decimal_strict);
    tcase_add_test(tc, decimal_max);
    tcase_add_test(tc, decimal_twenty_digits);
    tcase_add_test(tc, uint_small_range);
    tcase_add_test(tc, grammar_check_good);
    tcase_add_test(tc, grammar_check_names);
    tcase_add_test(tc, grammar_check_slots);
    tcase_add_test(tc, repeat_every_field);
    suite_add_tcase(s, tc);

    tc = tcase_create("html");
    tcase_add_test(tc, html_escape);
    tcase_add_test(tc, html_escape_worst_case);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(nav_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
