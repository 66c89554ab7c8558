/* test_session.c -- records, keys and lifetimes: everything about
 * a session that is arithmetic on the struct, without a store.
 *
 * Records are also built here by hand, byte by byte after the layout
 * documented in session/record.c, so that the decoder is tested against
 * bytes record_encode would never write (a 23-character key, a 65-byte
 * user, a line count that lies, a state length that lies), not only
 * against its own output: format 2 as record_encode writes it, and
 * format 1 as older builds wrote it. The state is the tests' own
 * application's (testapp.c), so the lines' bounds are its codec's. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session.h"
#include "testapp.h"

static const struct session_policy life = {.ttl = 600, .max_age = 28800};
#define T0 1700000000ull
#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* Two well-formed keys that are not minted, for hand-built records. */
#define KEY_A "AAAAAAAAAAAAAAAAAAAAAA"
#define KEY_B "abcdefghijklmnopqrst-_"

/* ck_assert reports every passing check to the runner (a write(2) each),
 * which makes loops of many thousand decodes crawl; REQUIRE speaks only
 * on failure. */
#define REQUIRE(cond)                                                       \
    do {                                                                    \
        if (!(cond))                                                        \
            ck_abort_msg("requirement failed: %s", #cond);                  \
    } while (0)

/* ---- helpers ---- */

/* A session and the tests' application's state it carries, as a worker
 * keeps them: the header's state pointer always names st. */
struct sess {
    struct session h;
    struct testapp_state st;
};

#define CODEC (&testapp_state_codec)

static int sess_init(struct sess *x, const struct session_policy *p,
                     uint64_t now, int bind)
{
    x->h.state = &x->st;
    return session_init(&x->h, CODEC, p, now, bind);
}

static size_t enc(const struct sess *x, unsigned char *buf, size_t cap)
{
    REQUIRE(x->h.state == &x->st);
    return record_encode(&x->h, CODEC, buf, cap);
}

static void session_sample(struct sess *s)
{
    ck_assert_int_eq(sess_init(s, &life, T0, 1), 0);
    strcpy(s->h.user, "demo");
    s->st.total = -42;
    ck_assert_int_eq(testapp_line_add(&s->st, 26, 3), 0);
    ck_assert_int_eq(testapp_line_add(&s->st, 7, 1), 0);
}

/* The largest record: every field at its widest. */
static void session_full(struct sess *s)
{
    ck_assert_int_eq(sess_init(s, &life, T0, 1), 0);
    memset(s->h.user, 'u', NORI_USER_MAX);
    memcpy(s->h.user, "\xc3\xa9 ~", 4);        /* UTF-8, space, tilde */
    s->h.user[NORI_USER_MAX] = '\0';
    s->st.total = INT64_MIN;
    s->h.created = UINT64_MAX - 1;
    s->h.expires = UINT64_MAX;
    for (uint32_t i = 0; i < TESTAPP_LINES_MAX; i++)
        ck_assert_int_eq(testapp_line_add(&s->st, i == 0 ? INT32_MAX : 1000 + i,
                                  i % 2 ? 99 : 1), 0);
}

static void assert_same_state(const struct testapp_state *a,
                              const struct testapp_state *b)
{
    ck_assert_int_eq(a->total, b->total);
    ck_assert_uint_eq(a->nlines, b->nlines);
    for (uint32_t i = 0; i < a->nlines; i++) {
        ck_assert_uint_eq(a->line[i].id, b->line[i].id);
        ck_assert_uint_eq(a->line[i].n, b->line[i].n);
    }
}

/* Every persisted field; version and dirty are not part of a record. */
static void assert_same(const struct sess *a, const struct sess *b)
{
    ck_assert_str_eq(a->h.key, b->h.key);
    ck_assert_str_eq(a->h.bind, b->h.bind);
    ck_assert_str_eq(a->h.form_key, b->h.form_key);
    ck_assert_str_eq(a->h.user, b->h.user);
    ck_assert_uint_eq(a->h.created, b->h.created);
    ck_assert_uint_eq(a->h.expires, b->h.expires);
    assert_same_state(&a->st, &b->st);
}

/* What record_decode promises of any session it returns RECORD_OK for,
 * and the application's codec of the state beside it. */
static void assert_in_bounds(const struct sess *x)
{
    const struct session *s = &x->h;

    REQUIRE(s->state == &x->st);
    REQUIRE(strnlen(s->key, sizeof s->key) == NAV_KEY_LEN);
    REQUIRE(strnlen(s->form_key, sizeof s->form_key) == NAV_KEY_LEN);
    REQUIRE(strspn(s->key, B64URL) == NAV_KEY_LEN);
    REQUIRE(strspn(s->form_key, B64URL) == NAV_KEY_LEN);
    size_t bl = strnlen(s->bind, sizeof s->bind);
    REQUIRE(bl == 0 || bl == NAV_KEY_LEN);
    REQUIRE(strspn(s->bind, B64URL) == bl);
    REQUIRE(strnlen(s->user, sizeof s->user) <= NORI_USER_MAX);
    for (const char *p = s->user; *p; p++)
        REQUIRE((unsigned char)*p >= 0x20 && *p != 0x7F);
    REQUIRE(s->expires >= s->created);
    REQUIRE(x->st.nlines <= TESTAPP_LINES_MAX);
    for (uint32_t i = 0; i < x->st.nlines; i++) {
        REQUIRE(x->st.line[i].id >= 1);
        REQUIRE(x->st.line[i].id <= INT32_MAX);
        REQUIRE(x->st.line[i].n >= 1);
        REQUIRE(x->st.line[i].n <= TESTAPP_N_MAX);
        for (uint32_t j = 0; j < i; j++)
            REQUIRE(x->st.line[j].id != x->st.line[i].id);
    }
}

/* A failed decode must leave nothing a careless caller could trust or
 * overrun: the record.c decoder clears the header and the state. */
static void assert_cleared(const struct sess *x)
{
    static const struct testapp_state zero;

    REQUIRE(x->h.state == &x->st);
    REQUIRE(x->h.key[0] == '\0');
    REQUIRE(x->h.bind[0] == '\0');
    REQUIRE(x->h.form_key[0] == '\0');
    REQUIRE(x->h.user[0] == '\0');
    REQUIRE(x->h.expires == 0);
    REQUIRE(memcmp(&x->st, &zero, sizeof zero) == 0);
}

static enum record_err decode(const unsigned char *buf, size_t len,
                              struct sess *x)
{
    enum record_err e;

    memset(x, 0xA5, sizeof *x);                 /* garbage in, so a */
    x->h.state = &x->st;                        /* failure must clear it */
    e = record_decode(buf, len, CODEC, &x->h);
    if (e == RECORD_OK)
        assert_in_bounds(x);
    else
        assert_cleared(x);
    return e;
}

/* A record by hand, after the documented layout: format 2 (nori's
 * header, then state version u8, state length u16 and the application's
 * state), or format 1 (the header, then the state's total and lines to
 * the end). Strings are written by strlen, so they may be any length
 * (and any bytes but NUL); count is written as given, whatever the
 * number of lines that follow; state_len is the true one plus
 * len_delta. */
struct raw {
    unsigned format;                    /* 0: 2 */
    const char *key, *bind, *form_key, *user;
    uint64_t created, expires;
    unsigned version;                   /* format 2: 0 means 1 */
    int len_delta;
    int64_t total;
    unsigned count, nlines;
    struct testapp_line line[TESTAPP_LINES_MAX + 2];
};

static size_t put_le(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return n;
}

static size_t put_s(unsigned char *p, const char *s)
{
    size_t n = strlen(s);

    p[0] = (unsigned char)n;
    memcpy(p + 1, s, n);
    return n + 1;
}

static size_t craft(unsigned char *buf, const struct raw *r)
{
    unsigned format = r->format ? r->format : 2;
    size_t n = 0, at_len = 0;

    memcpy(buf, "NORS", 4);
    buf[4] = (unsigned char)format;
    buf[5] = 0;
    n = 6;
    n += put_s(buf + n, r->key);
    n += put_s(buf + n, r->bind);
    n += put_s(buf + n, r->form_key);
    n += put_s(buf + n, r->user);
    n += put_le(buf + n, r->created, 8);
    n += put_le(buf + n, r->expires, 8);
    if (format == 2) {
        n += put_le(buf + n, r->version ? r->version : 1, 1);
        at_len = n;
        n += 2;
    }
    size_t state_at = n;
    n += put_le(buf + n, (uint64_t)r->total, 8);
    n += put_le(buf + n, r->count, 2);
    for (unsigned i = 0; i < r->nlines; i++) {
        n += put_le(buf + n, r->line[i].id, 4);
        n += put_le(buf + n, r->line[i].n, 1);
    }
    if (at_len)
        put_le(buf + at_len, (uint64_t)((long)(n - state_at) + r->len_delta), 2);
    return n;
}

/* A valid hand-built record with two lines. */
static struct raw raw_sample(void)
{
    struct raw r = {.key = KEY_A, .bind = KEY_B, .form_key = KEY_B,
                    .user = "demo", .created = T0, .expires = T0 + 600,
                    .total = 5, .count = 2, .nlines = 2,
                    .line = {{26, 3}, {7, 1}}};
    return r;
}

static struct raw raw_sample1(void)
{
    struct raw r = raw_sample();

    r.format = 1;
    return r;
}

static enum record_err decode_raw(const struct raw *r)
{
    unsigned char buf[1024];
    struct sess s;

    return decode(buf, craft(buf, r), &s);
}

/* xorshift64: deterministic "random" mutations, so a failure replays. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A mutated record either fails, or decodes in bounds and (the format
 * being canonical) re-encodes to exactly the bytes it came from. */
static int check_mutant(const unsigned char *buf, size_t len)
{
    unsigned char again[SESSION_RECORD_MAX];
    struct sess s;

    if (decode(buf, len, &s) != RECORD_OK)
        return 0;
    if (buf[4] == 1) {
        /* Format 1 is read, never written: what it gave re-encodes as
         * format 2, and that decodes to the same session. */
        struct sess t;
        size_t n = enc(&s, again, sizeof again);
        REQUIRE(n > 0);
        REQUIRE(decode(again, n, &t) == RECORD_OK);
        assert_same(&s, &t);
        return 1;
    }
    REQUIRE(enc(&s, again, sizeof again) == len);
    REQUIRE(memcmp(again, buf, len) == 0);
    return 1;
}

/* ---- records: round trips ---- */

START_TEST(record_round_trip_sample)
{
    struct sess a, b;
    unsigned char buf[4096];
    size_t n;

    session_sample(&a);
    n = enc(&a, buf, sizeof buf);
    /* header 6, four strings 4 + 22 + 22 + 22 + 4, times 16, state version
     * and length 3, state: total 8, lines 2 + 2*5 */
    ck_assert_uint_eq(n, 6 + 74 + 16 + 3 + 8 + 12);
    ck_assert_int_eq(decode(buf, n, &b), RECORD_OK);
    assert_same(&a, &b);
    ck_assert_int_eq(b.st.total, -42);
    ck_assert_uint_eq(b.h.version, 0);            /* not in the record */
    ck_assert_int_eq(b.h.dirty, 0);
}
END_TEST

START_TEST(record_round_trip_empty)
{
    struct sess a, b;
    unsigned char buf[4096];
    size_t n;

    ck_assert_int_eq(sess_init(&a, &life, T0, 0), 0);
    n = enc(&a, buf, sizeof buf);
    ck_assert_uint_eq(n, 6 + 4 + 2 * NAV_KEY_LEN + 16 + 3 + 8 + 2);  /* no bind, user */
    ck_assert_int_eq(decode(buf, n, &b), RECORD_OK);
    assert_same(&a, &b);
    ck_assert_str_eq(b.h.bind, "");
    ck_assert_str_eq(b.h.user, "");
    ck_assert_uint_eq(b.st.nlines, 0);
    ck_assert_int_eq(b.st.total, 0);
}
END_TEST

START_TEST(record_round_trip_full)
{
    struct sess a, b;
    unsigned char buf[4096];
    size_t n;

    session_full(&a);
    ck_assert_uint_eq(a.st.nlines, TESTAPP_LINES_MAX);
    n = enc(&a, buf, sizeof buf);
    ck_assert_uint_eq(n, 6 + 4 + 3 * NAV_KEY_LEN + NORI_USER_MAX + 16 + 3 +
                         8 + 2 + 5 * TESTAPP_LINES_MAX);
    ck_assert_int_eq(decode(buf, n, &b), RECORD_OK);
    assert_same(&a, &b);
    ck_assert_uint_eq(strlen(b.h.user), NORI_USER_MAX);
    ck_assert_uint_eq(b.st.line[0].id, INT32_MAX);
    ck_assert_uint_eq(testapp_line_total(&b.st), 32 * 1 + 32 * 99);
}
END_TEST

START_TEST(record_round_trip_totals)
{
    static const int64_t values[] = {0, 1, -1, 42, -42, INT32_MIN,
                                     (int64_t)INT32_MAX + 1, INT64_MAX,
                                     INT64_MIN, INT64_MIN + 1};
    struct sess a, b;
    unsigned char buf[4096];

    session_sample(&a);
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        a.st.total = values[i];
        size_t n = enc(&a, buf, sizeof buf);
        ck_assert_int_eq(decode(buf, n, &b), RECORD_OK);
        ck_assert_int_eq(b.st.total, values[i]);
    }
}
END_TEST

/* record_encode writes exactly the layout documented in record.c. */
START_TEST(record_layout_is_the_documented_one)
{
    struct raw r = raw_sample();
    struct sess s, b;
    unsigned char mine[1024], theirs[1024];
    size_t n, m;

    n = craft(mine, &r);
    ck_assert_int_eq(decode(mine, n, &s), RECORD_OK);
    ck_assert_str_eq(s.h.key, KEY_A);
    ck_assert_str_eq(s.h.bind, KEY_B);
    ck_assert_str_eq(s.h.user, "demo");
    ck_assert_uint_eq(s.h.created, T0);
    ck_assert_uint_eq(s.h.expires, T0 + 600);
    ck_assert_int_eq(s.st.total, 5);
    ck_assert_uint_eq(s.st.nlines, 2);
    ck_assert_uint_eq(s.st.line[1].id, 7);
    m = enc(&s, theirs, sizeof theirs);
    ck_assert_uint_eq(m, n);
    ck_assert_int_eq(memcmp(mine, theirs, n), 0);
    /* Format 2, state version 1, and the state's length before it: the
     * header is 6 + 74 + 16 bytes, the state 8 + 2 + 2 * 5. */
    ck_assert_int_eq(memcmp(theirs, "NORS\x02\x00", 6), 0);
    ck_assert_uint_eq(theirs[96], 1);
    ck_assert_uint_eq(theirs[97], 20);
    ck_assert_uint_eq(theirs[98], 0);
    ck_assert_uint_eq(n, 99 + 20);
    /* The bind is optional: "" is written as a zero length. */
    r.bind = "";
    n = craft(mine, &r);
    ck_assert_int_eq(decode(mine, n, &b), RECORD_OK);
    ck_assert_str_eq(b.h.bind, "");
}
END_TEST

/* A format-1 record, as builds before the state codec wrote it (the
 * state's bytes in place of the state version and length), still
 * decodes with its lines: it is state version 1, running to the end.
 * Re-encoded, it is the format-2 record of the same session. */
START_TEST(record_format1_still_decodes)
{
    struct raw r1 = raw_sample1(), r2 = raw_sample();
    struct sess s;
    unsigned char old[1024], now[1024], again[1024];
    size_t n1, n2, m;

    n1 = craft(old, &r1);
    ck_assert_int_eq(memcmp(old, "NORS\x01\x00", 6), 0);
    ck_assert_uint_eq(n1, 96 + 20);                 /* no version, length */
    /* the bytes of a format-1 record of an older build, for the record */
    ck_assert_uint_eq(old[96], 5);                  /* total */
    ck_assert_uint_eq(old[104], 2);                 /* nlines */
    ck_assert_uint_eq(old[106], 26);                /* first line's id */
    ck_assert_uint_eq(old[110], 3);                 /* its n */
    ck_assert_int_eq(decode(old, n1, &s), RECORD_OK);
    ck_assert_str_eq(s.h.key, KEY_A);
    ck_assert_str_eq(s.h.bind, KEY_B);
    ck_assert_str_eq(s.h.form_key, KEY_B);
    ck_assert_str_eq(s.h.user, "demo");
    ck_assert_uint_eq(s.h.created, T0);
    ck_assert_uint_eq(s.h.expires, T0 + 600);
    ck_assert_int_eq(s.st.total, 5);
    ck_assert_uint_eq(s.st.nlines, 2);
    ck_assert_uint_eq(s.st.line[0].id, 26);
    ck_assert_uint_eq(s.st.line[0].n, 3);
    ck_assert_uint_eq(s.st.line[1].id, 7);
    ck_assert_uint_eq(s.st.line[1].n, 1);
    ck_assert_uint_eq(testapp_line_total(&s.st), 4);
    n2 = craft(now, &r2);
    m = enc(&s, again, sizeof again);
    ck_assert_uint_eq(m, n2);
    ck_assert_int_eq(memcmp(again, now, m), 0);
    /* No lines, and all of them. */
    r1.count = r1.nlines = 0;
    ck_assert_int_eq(decode_raw(&r1), RECORD_OK);
    r1.count = r1.nlines = TESTAPP_LINES_MAX;
    for (unsigned i = 0; i < TESTAPP_LINES_MAX; i++)
        r1.line[i] = (struct testapp_line){100 + i, 99};
    n1 = craft(old, &r1);
    ck_assert_int_eq(decode(old, n1, &s), RECORD_OK);
    ck_assert_uint_eq(testapp_line_total(&s.st), 99 * TESTAPP_LINES_MAX);
    /* Its header is checked as format 2's is. */
    r1 = raw_sample1();
    r1.key = "short";
    ck_assert_int_eq(decode_raw(&r1), RECORD_EFIELD);
    r1 = raw_sample1();
    r1.expires = T0 - 1;
    ck_assert_int_eq(decode_raw(&r1), RECORD_EFIELD);
    /* Cut inside the header: short; cut inside the state: the codec's. */
    r1 = raw_sample1();
    n1 = craft(old, &r1);
    for (size_t cut = 0; cut < 96; cut++)
        REQUIRE(decode(old, cut, &s) == RECORD_ESHORT);
    for (size_t cut = 96; cut < n1; cut++)
        REQUIRE(decode(old, cut, &s) == RECORD_ESTATE);
}
END_TEST

/* The state's version and length, as format 2 has them: a version the
 * codec does not know (0 never is one), or a length that does not match
 * the bytes that follow. */
START_TEST(record_state_version_and_length)
{
    struct raw r = raw_sample();

    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    static const unsigned bad_version[] = {2, 3, 0x80, 0xFF};
    for (size_t i = 0; i < sizeof bad_version / sizeof *bad_version; i++) {
        r.version = bad_version[i];
        ck_assert_msg(decode_raw(&r) == RECORD_ESTATE, "version %u",
                      bad_version[i]);
    }
    /* version 0, written as such (craft's 0 means 1) */
    unsigned char buf[1024];
    struct sess s;
    r = raw_sample();
    size_t n = craft(buf, &r);
    buf[96] = 0;
    ck_assert_int_eq(decode(buf, n, &s), RECORD_ESTATE);
    /* a length past the end is short; one before it leaves bytes over */
    r = raw_sample();
    r.len_delta = 1;
    ck_assert_int_eq(decode_raw(&r), RECORD_ESHORT);
    r.len_delta = 0x7000;
    ck_assert_int_eq(decode_raw(&r), RECORD_ESHORT);
    r.len_delta = -1;
    ck_assert_int_eq(decode_raw(&r), RECORD_ETRAILING);
    r.len_delta = -20;                              /* an empty blob */
    ck_assert_int_eq(decode_raw(&r), RECORD_ETRAILING);
    /* an empty blob that is the whole state: the codec refuses it */
    r = raw_sample();
    n = craft(buf, &r);
    buf[97] = 0;
    ck_assert_int_eq(decode(buf, 99, &s), RECORD_ESTATE);
}
END_TEST

START_TEST(record_encode_refuses_small_buffers)
{
    struct sess a;
    unsigned char buf[4096], want[4096];
    size_t n;

    session_full(&a);
    n = enc(&a, want, sizeof want);
    ck_assert_uint_gt(n, 0);
    for (size_t cap = 0; cap < n; cap++) {
        memset(buf, 0xA5, sizeof buf);
        REQUIRE(enc(&a, buf, cap) == 0);
        /* Nothing written past what it was given. */
        for (size_t i = cap; i < n + 8; i++)
            REQUIRE(buf[i] == 0xA5);
    }
    ck_assert_uint_eq(enc(&a, buf, n), n);         /* exact fit */
    ck_assert_int_eq(memcmp(buf, want, n), 0);
}
END_TEST

/* ---- records: corruptions ---- */

START_TEST(record_every_truncation_is_short)
{
    struct sess a, b;
    unsigned char buf[4096];
    size_t n;

    for (int full = 0; full < 2; full++) {
        if (full)
            session_full(&a);
        else
            session_sample(&a);
        n = enc(&a, buf, sizeof buf);
        for (size_t cut = 0; cut < n; cut++) {
            /* In a buffer of exactly cut bytes: ASan sees any over-read. */
            unsigned char *p = malloc(cut ? cut : 1);
            ck_assert_ptr_nonnull(p);
            memcpy(p, buf, cut);
            if (decode(p, cut, &b) != RECORD_ESHORT)
                ck_abort_msg("cut at %zu of %zu", cut, n);
            free(p);
        }
    }
}
END_TEST

START_TEST(record_trailing_bytes_are_refused)
{
    struct sess a, b;
    unsigned char buf[4096];
    size_t n;

    session_sample(&a);
    n = enc(&a, buf, sizeof buf);
    memset(buf + n, 0, 200);
    ck_assert_int_eq(decode(buf, n + 1, &b), RECORD_ETRAILING);
    ck_assert_int_eq(decode(buf, n + 200, &b), RECORD_ETRAILING);
    /* Two records back to back are not one record. */
    memcpy(buf + n, buf, n);
    ck_assert_int_eq(decode(buf, 2 * n, &b), RECORD_ETRAILING);
}
END_TEST

START_TEST(record_header_is_checked)
{
    struct sess a, b;
    unsigned char buf[4096], bad[4096];
    size_t n;

    session_sample(&a);
    n = enc(&a, buf, sizeof buf);
    for (int i = 0; i < 4; i++) {               /* each byte of the magic */
        memcpy(bad, buf, n);
        bad[i] ^= 0x20;                         /* "nORS", "NoRS", ... */
        ck_assert_int_eq(decode(bad, n, &b), RECORD_EMAGIC);
    }
    static const unsigned formats[] = {0, 3, 0x81, 0xFF};
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
        memcpy(bad, buf, n);
        bad[4] = (unsigned char)formats[i];
        ck_assert_int_eq(decode(bad, n, &b), RECORD_EFORMAT);
    }
    memcpy(bad, buf, n);
    bad[5] = 1;                                 /* reserved byte */
    ck_assert_int_eq(decode(bad, n, &b), RECORD_EFORMAT);
    /* Too short to say anything: short, whatever the bytes. */
    ck_assert_int_eq(decode((const unsigned char *)"", 0, &b), RECORD_ESHORT);
    ck_assert_int_eq(decode((const unsigned char *)"NOR", 3, &b), RECORD_ESHORT);
    ck_assert_int_eq(decode((const unsigned char *)"NORS", 4, &b), RECORD_ESHORT);
    ck_assert_int_eq(decode((const unsigned char *)"NORS\x01", 5, &b), RECORD_ESHORT);
    ck_assert_int_eq(decode((const unsigned char *)"XXXX", 4, &b), RECORD_EMAGIC);
    /* Not our format is not our format, even when short after it. */
    ck_assert_int_eq(decode((const unsigned char *)"NORS\x03\x00", 6, &b),
                     RECORD_EFORMAT);
    ck_assert_int_eq(decode((const unsigned char *)"NORS\x02\x00", 6, &b),
                     RECORD_ESHORT);
    ck_assert_int_eq(decode((const unsigned char *)"NORS\x01\x00", 6, &b),
                     RECORD_ESHORT);
}
END_TEST

START_TEST(record_bad_key_characters)
{
    static const unsigned char bad_chars[] = {'!', '=', '+', '/', '.', ' ',
                                              '\0', 0x7F, 0x80, 0xFF};
    struct sess a, b;
    unsigned char buf[4096], bad[4096];
    size_t n;
    /* Offsets of the three key fields in the sample (bind set): header 6,
     * then a length byte before each 22-byte key. */
    const size_t field[] = {7, 7 + 23, 7 + 46};

    session_sample(&a);
    n = enc(&a, buf, sizeof buf);
    for (size_t f = 0; f < 3; f++) {
        ck_assert_uint_eq(buf[field[f] - 1], NAV_KEY_LEN);
        for (size_t c = 0; c < sizeof bad_chars; c++) {
            const size_t at[] = {0, NAV_KEY_LEN / 2, NAV_KEY_LEN - 1};
            for (size_t i = 0; i < 3; i++) {
                memcpy(bad, buf, n);
                bad[field[f] + at[i]] = bad_chars[c];
                ck_assert_msg(decode(bad, n, &b) == RECORD_EFIELD,
                              "field %zu pos %zu char 0x%02x", f, at[i],
                              bad_chars[c]);
            }
        }
    }
}
END_TEST

START_TEST(record_keys_of_wrong_length)
{
    struct raw r = raw_sample();
    static const char *const wrong[] = {
        "", "A", "AAAAAAAAAAAAAAAAAAAAA",                     /* 0, 1, 21 */
        "AAAAAAAAAAAAAAAAAAAAAAA",                            /* 23 */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};

    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        r = raw_sample();
        r.key = wrong[i];
        ck_assert_msg(decode_raw(&r) == RECORD_EFIELD, "key %zu", strlen(wrong[i]));
        r = raw_sample();
        r.form_key = wrong[i];
        ck_assert_msg(decode_raw(&r) == RECORD_EFIELD, "form %zu", strlen(wrong[i]));
        r = raw_sample();
        r.bind = wrong[i];
        /* A bind is either off ("") or a whole key. */
        ck_assert_int_eq(decode_raw(&r), wrong[i][0] ? RECORD_EFIELD : RECORD_OK);
    }
}
END_TEST

START_TEST(record_user_bounds)
{
    struct raw r = raw_sample();
    char user[NORI_USER_MAX + 2];

    /* NORI_USER_MAX is fine, one more is not. */
    memset(user, 'u', NORI_USER_MAX);
    user[NORI_USER_MAX] = '\0';
    r.user = user;
    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    user[NORI_USER_MAX] = 'u';
    user[NORI_USER_MAX + 1] = '\0';
    ck_assert_int_eq(decode_raw(&r), RECORD_EFIELD);
    /* Every control character, at the start, middle and end. */
    for (int c = 1; c <= 0x7F; c++) {
        if (c >= 0x20 && c != 0x7F)
            continue;
        for (int at = 0; at < 3; at++) {
            strcpy(user, "alice");
            user[at == 0 ? 0 : at == 1 ? 2 : 4] = (char)c;
            ck_assert_msg(decode_raw(&r) == RECORD_EFIELD, "0x%02x at %d", c, at);
        }
    }
    /* A NUL inside the field: the length says 5, the string would say 2. */
    unsigned char buf[1024];
    struct sess s;
    size_t n;
    strcpy(user, "alice");
    n = craft(buf, &r);
    unsigned char *u = memmem(buf, n, "alice", 5);
    ck_assert_ptr_nonnull(u);
    u[2] = '\0';
    ck_assert_int_eq(decode(buf, n, &s), RECORD_EFIELD);
    /* Printable ASCII and UTF-8 bytes are a user name. */
    strcpy(user, " ~Zo\xc3\xab-");
    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
}
END_TEST

/* The lines' bounds are the application codec's (testapp.c): a state out of
 * them is refused whole, as RECORD_ESTATE, in either format. */
START_TEST(record_state_bounds)
{
    const unsigned format = (unsigned)_i ? 1 : 2;
    struct raw r, base = raw_sample();

    base.format = format;
    /* n outside 1..99. */
    static const unsigned bad_n[] = {0, 100, 128, 255};
    for (size_t i = 0; i < sizeof bad_n / sizeof *bad_n; i++) {
        r = base;
        r.line[1].n = bad_n[i];
        ck_assert_msg(decode_raw(&r) == RECORD_ESTATE, "n %u", bad_n[i]);
    }
    r = base;
    r.line[0].n = 99;
    r.line[1].n = 1;
    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    /* ids outside 1..2^31-1, as navigation URLs have them. */
    static const uint32_t bad_id[] = {0, (uint32_t)INT32_MAX + 1, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_id / sizeof *bad_id; i++) {
        r = base;
        r.line[0].id = bad_id[i];
        ck_assert_msg(decode_raw(&r) == RECORD_ESTATE, "id %u", bad_id[i]);
    }
    r = base;
    r.line[0].id = INT32_MAX;
    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    /* A duplicate id: the codec's line_valid rejects it, adjacent or far. */
    r = base;
    r.line[1].id = r.line[0].id;
    ck_assert_int_eq(decode_raw(&r), RECORD_ESTATE);
    r = base;
    r.count = r.nlines = TESTAPP_LINES_MAX;
    for (unsigned i = 0; i < TESTAPP_LINES_MAX; i++)
        r.line[i] = (struct testapp_line){100 + i, 1};
    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    r.line[TESTAPP_LINES_MAX - 1].id = 100;
    ck_assert_int_eq(decode_raw(&r), RECORD_ESTATE);
    /* One line too many, present in full; and a huge count. */
    r = base;
    r.count = r.nlines = TESTAPP_LINES_MAX + 1;
    for (unsigned i = 0; i < r.nlines; i++)
        r.line[i] = (struct testapp_line){100 + i, 1};
    ck_assert_int_eq(decode_raw(&r), RECORD_ESTATE);
    r.nlines = 0;
    r.count = 0xFFFF;
    ck_assert_int_eq(decode_raw(&r), RECORD_ESTATE);
    /* A count that does not match the lines: the blob's length (given
     * or to the end) is the state's, so it is the codec that refuses. */
    r = base;
    r.count = 3;
    ck_assert_int_eq(decode_raw(&r), RECORD_ESTATE);
    r.count = 1;
    ck_assert_int_eq(decode_raw(&r), RECORD_ESTATE);
    /* A state cut short of its total. */
    r = base;
    r.count = r.nlines = 0;
    unsigned char buf[1024];
    struct sess s;
    size_t n = craft(buf, &r);
    if (format == 2)
        buf[97] = 9;
    ck_assert_int_eq(decode(buf, n - 1, &s), RECORD_ESTATE);
}
END_TEST

START_TEST(record_time_bounds)
{
    struct raw r = raw_sample();

    r.expires = r.created;
    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    r.expires = r.created - 1;
    ck_assert_int_eq(decode_raw(&r), RECORD_EFIELD);
    r.created = UINT64_MAX;
    r.expires = 0;
    ck_assert_int_eq(decode_raw(&r), RECORD_EFIELD);
}
END_TEST

START_TEST(record_string_length_lies)
{
    struct sess a, b;
    unsigned char buf[4096], bad[4096];
    size_t n;

    session_sample(&a);
    n = enc(&a, buf, sizeof buf);
    /* The key's length byte, every value but the right one: the fields
     * after it shift, and nothing may come out OK. */
    for (int len = 0; len < 256; len++) {
        if (len == NAV_KEY_LEN)
            continue;
        memcpy(bad, buf, n);
        bad[6] = (unsigned char)len;
        REQUIRE(decode(bad, n, &b) != RECORD_OK);
    }
}
END_TEST

START_TEST(record_bit_flips_never_break_bounds)
{
    struct sess a;
    unsigned char buf[4096];
    size_t n, accepted = 0;

    for (int full = 0; full < 3; full++) {
        if (full == 2) {
            struct raw r = raw_sample1();       /* a format-1 record too */
            n = craft(buf, &r);
        } else {
            if (full)
                session_full(&a);
            else
                session_sample(&a);
            n = enc(&a, buf, sizeof buf);
        }
        for (size_t i = 0; i < n * 8; i++) {
            buf[i / 8] ^= (unsigned char)(1u << (i % 8));
            accepted += (size_t)check_mutant(buf, n);
            buf[i / 8] ^= (unsigned char)(1u << (i % 8));
        }
    }
    /* Flips in the total, times and key letters are legitimate records;
     * the test would prove nothing if every flip were refused. */
    ck_assert_uint_gt(accepted, 0);
}
END_TEST

START_TEST(record_random_mutations_never_break_bounds)
{
    struct sess a;
    unsigned char orig[4096], buf[4096];
    size_t n;

    session_full(&a);
    n = enc(&a, orig, sizeof orig);
    for (int round = 0; round < 20000; round++) {
        size_t len = n;
        memcpy(buf, orig, n);
        /* A few random bytes overwritten, sometimes cut or extended. */
        for (int k = 1 + (int)(rng() % 4); k > 0; k--)
            buf[rng() % n] = (unsigned char)rng();
        if (rng() % 8 == 0)
            len = (size_t)(rng() % (n + 16));
        if (len > n)
            memset(buf + n, (int)(rng() & 0xFF), len - n);
        check_mutant(buf, len);
    }
    /* And bytes that were never a record at all. */
    for (int round = 0; round < 5000; round++) {
        size_t len = (size_t)(rng() % 600);
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)rng();
        if (len >= 6 && rng() % 2)
            memcpy(buf, "NORS\x01\x00", 6);
        check_mutant(buf, len);
    }
}
END_TEST

START_TEST(record_errors_have_names)
{
    const char *seen[RECORD_ESTATE + 1];

    for (int e = RECORD_OK; e <= RECORD_ESTATE; e++) {
        seen[e] = record_strerror((enum record_err)e);
        ck_assert_ptr_nonnull(seen[e]);
        ck_assert_uint_gt(strlen(seen[e]), 0);
        for (int f = 0; f < e; f++)
            ck_assert_str_ne(seen[e], seen[f]);
    }
}
END_TEST

/* ---- keys ---- */

#define MINTS 1000

static int str_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

START_TEST(key_mint_shape)
{
    static char keys[MINTS][NAV_KEY_LEN + 1];
    static const char lasts[] = "AQgw";
    int last_seen[4] = {0}, char_seen[64] = {0};

    for (int i = 0; i < MINTS; i++) {
        char *k = keys[i];
        REQUIRE(key_mint(k) == 0);
        REQUIRE(strlen(k) == NAV_KEY_LEN);
        REQUIRE(strspn(k, B64URL) == NAV_KEY_LEN);
        /* 128 bits in 22 characters: the last carries only 2 bits (its
         * low 4 bits are zero), so it is one of A, Q, g, w. */
        const char *l = strchr(lasts, k[NAV_KEY_LEN - 1]);
        if (l == NULL)
            ck_abort_msg("last char %c", k[NAV_KEY_LEN - 1]);
        last_seen[l - lasts]++;
        for (int j = 0; j < NAV_KEY_LEN - 1; j++)
            char_seen[strchr(B64URL, k[j]) - B64URL]++;
    }
    /* 21000 characters from 64: each appears (a stuck bit would not);
     * 1000 last characters: each of the four. */
    for (int c = 0; c < 64; c++)
        ck_assert_msg(char_seen[c] > 0, "never minted %c", B64URL[c]);
    for (int c = 0; c < 4; c++)
        ck_assert_int_gt(last_seen[c], 0);
    /* No two alike. */
    qsort(keys, MINTS, sizeof keys[0], str_cmp);
    for (int i = 1; i < MINTS; i++)
        REQUIRE(strcmp(keys[i - 1], keys[i]) != 0);
}
END_TEST

START_TEST(key_equal_cases)
{
    char a[NAV_KEY_LEN + 1], b[NAV_KEY_LEN + 1], longer[NAV_KEY_LEN + 2];

    ck_assert_int_eq(key_mint(a), 0);
    memcpy(b, a, sizeof b);
    ck_assert(key_equal(a, a));
    ck_assert(key_equal(a, b));                 /* equal, apart */
    ck_assert_int_eq(key_mint(b), 0);
    ck_assert(!key_equal(a, b));
    /* Differ at the first and at the last character. */
    memcpy(b, a, sizeof b);
    b[0] = b[0] == 'A' ? 'B' : 'A';
    ck_assert(!key_equal(a, b));
    ck_assert(!key_equal(b, a));
    memcpy(b, a, sizeof b);
    b[NAV_KEY_LEN - 1] = b[NAV_KEY_LEN - 1] == 'A' ? 'Q' : 'A';
    ck_assert(!key_equal(a, b));
    ck_assert(!key_equal(b, a));
    /* A prefix is not the key, nor the key with one more character. */
    for (size_t cut = 1; cut < NAV_KEY_LEN; cut++) {
        memcpy(b, a, sizeof b);
        b[cut] = '\0';
        ck_assert(!key_equal(a, b));
        ck_assert(!key_equal(b, a));
    }
    memcpy(longer, a, NAV_KEY_LEN);
    longer[NAV_KEY_LEN] = 'x';
    longer[NAV_KEY_LEN + 1] = '\0';
    ck_assert(!key_equal(a, longer));
    ck_assert(!key_equal(longer, a));
    /* "" never equals anything, itself included. */
    ck_assert(!key_equal("", ""));
    ck_assert(!key_equal("", a));
    ck_assert(!key_equal(a, ""));
    /* Short secrets are compared too (a bind cookie may be anything). */
    ck_assert(key_equal("x", "x"));
    ck_assert(!key_equal("x", "y"));
}
END_TEST

/* ---- lifetime ---- */

START_TEST(session_init_fields)
{
    struct sess s;

    memset(&s, 0xA5, sizeof s);
    ck_assert_int_eq(sess_init(&s, &life, T0, 0), 0);
    ck_assert_uint_eq(strlen(s.h.key), NAV_KEY_LEN);
    ck_assert_uint_eq(strlen(s.h.form_key), NAV_KEY_LEN);
    ck_assert_str_ne(s.h.key, s.h.form_key);
    ck_assert_str_eq(s.h.bind, "");
    ck_assert_str_eq(s.h.user, "");
    ck_assert_int_eq(s.st.total, 0);
    ck_assert_uint_eq(s.st.nlines, 0);
    for (size_t i = 0; i < sizeof s.st; i++)        /* fresh state: zeroes */
        REQUIRE(((const unsigned char *)&s.st)[i] == 0);
    ck_assert_ptr_eq(s.h.state, &s.st);
    ck_assert_uint_eq(s.h.version, 0);
    ck_assert_uint_eq(s.h.created, T0);
    ck_assert_uint_eq(s.h.expires, T0 + life.ttl);
    ck_assert_int_eq(s.h.dirty, 1);

    ck_assert_int_eq(sess_init(&s, &life, T0, 1), 0);
    ck_assert_uint_eq(strlen(s.h.bind), NAV_KEY_LEN);
    ck_assert_str_ne(s.h.bind, s.h.key);
    ck_assert_str_ne(s.h.bind, s.h.form_key);

    /* The idle expiry is capped by the absolute lifetime. */
    struct session_policy p = {.ttl = 600, .max_age = 100};
    ck_assert_int_eq(sess_init(&s, &p, T0, 0), 0);
    ck_assert_uint_eq(s.h.expires, T0 + 100);
    p.max_age = 600;
    ck_assert_int_eq(sess_init(&s, &p, T0, 0), 0);
    ck_assert_uint_eq(s.h.expires, T0 + 600);
    p.max_age = 601;
    ck_assert_int_eq(sess_init(&s, &p, T0, 0), 0);
    ck_assert_uint_eq(s.h.expires, T0 + 600);
}
END_TEST

START_TEST(session_live_boundaries)
{
    struct sess s;

    ck_assert_int_eq(sess_init(&s, &life, T0, 0), 0);
    ck_assert(session_live(&s.h, &life, T0));
    ck_assert(session_live(&s.h, &life, T0 + 599));
    ck_assert(!session_live(&s.h, &life, T0 + 600));        /* now == expires */
    ck_assert(!session_live(&s.h, &life, T0 + 601));
    /* A record whose idle expiry lies past the absolute lifetime (written
     * under a longer max_age) dies at created + max_age all the same. */
    struct session_policy p = {.ttl = 600, .max_age = 300};
    s.h.expires = T0 + 600;
    ck_assert(session_live(&s.h, &p, T0 + 299));
    ck_assert(!session_live(&s.h, &p, T0 + 300));
}
END_TEST

/* Touch at `now` from a clean state: returns what session_touch did, and
 * checks that dirty was set exactly when it says it changed something. */
static int touch(struct session *s, const struct session_policy *p,
                 uint64_t now)
{
    uint64_t before = s->expires;
    int r;

    s->dirty = 0;
    r = session_touch(s, p, now);
    REQUIRE(s->dirty == r);
    if (r)
        REQUIRE(s->expires > before);
    else
        REQUIRE(s->expires == before);
    return r;
}

START_TEST(session_touch_half_ttl)
{
    struct sess s;

    ck_assert_int_eq(sess_init(&s, &life, T0, 0), 0);
    ck_assert_int_eq(touch(&s.h, &life, T0), 0);
    /* Exactly half left (300 of 600): not yet. */
    ck_assert_int_eq(touch(&s.h, &life, T0 + 300), 0);
    /* Less than half: a whole TTL from now. */
    ck_assert_int_eq(touch(&s.h, &life, T0 + 301), 1);
    ck_assert_uint_eq(s.h.expires, T0 + 901);
    /* And again only once less than half is left of the new expiry. */
    for (uint64_t t = T0 + 302; t <= T0 + 601; t++)
        REQUIRE(touch(&s.h, &life, t) == 0);
    ck_assert_int_eq(touch(&s.h, &life, T0 + 602), 1);
    ck_assert_uint_eq(s.h.expires, T0 + 1202);
    /* Dead is dead: not revived at or after the expiry. */
    ck_assert_int_eq(touch(&s.h, &life, T0 + 1202), 0);
    ck_assert_int_eq(touch(&s.h, &life, T0 + 5000), 0);
}
END_TEST

START_TEST(session_touch_odd_ttl)
{
    struct sess s;
    struct session_policy p = {.ttl = 601, .max_age = 28800};

    ck_assert_int_eq(sess_init(&s, &p, T0, 0), 0);
    ck_assert_uint_eq(s.h.expires, T0 + 601);
    ck_assert_int_eq(touch(&s.h, &p, T0 + 300), 0);     /* 301 left > 300.5 */
    ck_assert_int_eq(touch(&s.h, &p, T0 + 301), 1);     /* 300 left < 300.5 */
    ck_assert_uint_eq(s.h.expires, T0 + 902);
}
END_TEST

START_TEST(session_touch_max_age)
{
    struct sess s;
    struct session_policy p = {.ttl = 600, .max_age = 1000};

    ck_assert_int_eq(sess_init(&s, &p, T0, 0), 0);
    /* A whole TTL would be T0 + 950: within the lifetime. */
    ck_assert_int_eq(touch(&s.h, &p, T0 + 350), 1);
    ck_assert_uint_eq(s.h.expires, T0 + 950);
    /* T0 + 1300 wanted, cut at the lifetime, still later than before. */
    ck_assert_int_eq(touch(&s.h, &p, T0 + 700), 1);
    ck_assert_uint_eq(s.h.expires, T0 + 1000);
    /* Nothing left to gain: no change, no commit. */
    ck_assert_int_eq(touch(&s.h, &p, T0 + 800), 0);
    ck_assert_int_eq(touch(&s.h, &p, T0 + 999), 0);
    ck_assert(session_live(&s.h, &p, T0 + 999));
    ck_assert(!session_live(&s.h, &p, T0 + 1000));
    ck_assert_int_eq(touch(&s.h, &p, T0 + 1000), 0);
}
END_TEST

/* Browsing once a second for a whole lifetime: the session stays alive
 * to its end, never past it, and costs a couple of commits per TTL. */
START_TEST(session_touch_browsing)
{
    struct sess s;
    unsigned commits = 0;
    uint64_t t;

    ck_assert_int_eq(sess_init(&s, &life, T0, 0), 0);
    for (t = T0; t < T0 + life.max_age; t++) {
        if (!session_live(&s.h, &life, t))
            ck_abort_msg("died at +%llu", (unsigned long long)(t - T0));
        commits += (unsigned)touch(&s.h, &life, t);
        REQUIRE(s.h.expires <= s.h.created + life.max_age);
    }
    ck_assert(!session_live(&s.h, &life, t));
    ck_assert_uint_le(commits, 2 * (life.max_age / life.ttl) + 1);
    ck_assert_uint_ge(commits, life.max_age / life.ttl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("session");
    TCase *rec = tcase_create("record"), *key = tcase_create("key");
    TCase *lt = tcase_create("lifetime");
    SRunner *sr;
    int failed;

    tcase_add_test(rec, record_round_trip_sample);
    tcase_add_test(rec, record_round_trip_empty);
    tcase_add_test(rec, record_round_trip_full);
    tcase_add_test(rec, record_round_trip_totals);
    tcase_add_test(rec, record_layout_is_the_documented_one);
    tcase_add_test(rec, record_format1_still_decodes);
    tcase_add_test(rec, record_state_version_and_length);
    tcase_add_test(rec, record_encode_refuses_small_buffers);
    tcase_add_test(rec, record_every_truncation_is_short);
    tcase_add_test(rec, record_trailing_bytes_are_refused);
    tcase_add_test(rec, record_header_is_checked);
    tcase_add_test(rec, record_bad_key_characters);
    tcase_add_test(rec, record_keys_of_wrong_length);
    tcase_add_test(rec, record_user_bounds);
    tcase_add_loop_test(rec, record_state_bounds, 0, 2);
    tcase_add_test(rec, record_time_bounds);
    tcase_add_test(rec, record_string_length_lies);
    tcase_add_test(rec, record_bit_flips_never_break_bounds);
    tcase_add_test(rec, record_random_mutations_never_break_bounds);
    tcase_add_test(rec, record_errors_have_names);
    tcase_add_test(key, key_mint_shape);
    tcase_add_test(key, key_equal_cases);
    tcase_add_test(lt, session_init_fields);
    tcase_add_test(lt, session_live_boundaries);
    tcase_add_test(lt, session_touch_half_ttl);
    tcase_add_test(lt, session_touch_odd_ttl);
    tcase_add_test(lt, session_touch_max_age);
    tcase_add_test(lt, session_touch_browsing);
    /* The mutation loops are slow under ASan/UBSan; give them room. */
    tcase_set_timeout(rec, 60);
    suite_add_tcase(s, rec);
    suite_add_tcase(s, key);
    suite_add_tcase(s, lt);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
