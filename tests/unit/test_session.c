/* test_session.c -- records, keys, lifetimes and carts: everything about
 * a session that is arithmetic on the struct, without a store.
 *
 * Records are also built here by hand, byte by byte after the layout
 * documented in session/record.c, so that the decoder is tested against
 * bytes record_encode would never write (a 23-character key, a 65-byte
 * user, a cart count that lies), not only against its own output. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/session.h"

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

static void session_sample(struct session *s)
{
    ck_assert_int_eq(session_init(s, &life, T0, 1), 0);
    strcpy(s->user, "demo");
    s->counter = -42;
    ck_assert_int_eq(cart_add(s, 26, 3), 0);
    ck_assert_int_eq(cart_add(s, 7, 1), 0);
}

/* The largest record: every field at its widest. */
static void session_full(struct session *s)
{
    ck_assert_int_eq(session_init(s, &life, T0, 1), 0);
    memset(s->user, 'u', NAV_USER_MAX);
    memcpy(s->user, "\xc3\xa9 ~", 4);          /* UTF-8, space, tilde */
    s->user[NAV_USER_MAX] = '\0';
    s->counter = INT64_MIN;
    s->created = UINT64_MAX - 1;
    s->expires = UINT64_MAX;
    for (uint32_t i = 0; i < SESSION_CART_MAX; i++)
        ck_assert_int_eq(cart_add(s, i == 0 ? INT32_MAX : 1000 + i,
                                  i % 2 ? 99 : 1), 0);
}

/* Every persisted field; version and dirty are not part of a record. */
static void assert_same(const struct session *a, const struct session *b)
{
    ck_assert_str_eq(a->key, b->key);
    ck_assert_str_eq(a->bind, b->bind);
    ck_assert_str_eq(a->form_key, b->form_key);
    ck_assert_str_eq(a->user, b->user);
    ck_assert_int_eq(a->counter, b->counter);
    ck_assert_uint_eq(a->created, b->created);
    ck_assert_uint_eq(a->expires, b->expires);
    ck_assert_uint_eq(a->ncart, b->ncart);
    for (uint32_t i = 0; i < a->ncart; i++) {
        ck_assert_uint_eq(a->cart[i].id, b->cart[i].id);
        ck_assert_uint_eq(a->cart[i].qty, b->cart[i].qty);
    }
}

/* What record_decode promises of any session it returns RECORD_OK for. */
static void assert_in_bounds(const struct session *s)
{
    REQUIRE(strnlen(s->key, sizeof s->key) == NAV_KEY_LEN);
    REQUIRE(strnlen(s->form_key, sizeof s->form_key) == NAV_KEY_LEN);
    REQUIRE(strspn(s->key, B64URL) == NAV_KEY_LEN);
    REQUIRE(strspn(s->form_key, B64URL) == NAV_KEY_LEN);
    size_t bl = strnlen(s->bind, sizeof s->bind);
    REQUIRE(bl == 0 || bl == NAV_KEY_LEN);
    REQUIRE(strspn(s->bind, B64URL) == bl);
    REQUIRE(strnlen(s->user, sizeof s->user) <= NAV_USER_MAX);
    for (const char *p = s->user; *p; p++)
        REQUIRE((unsigned char)*p >= 0x20 && *p != 0x7F);
    REQUIRE(s->expires >= s->created);
    REQUIRE(s->ncart <= SESSION_CART_MAX);
    for (uint32_t i = 0; i < s->ncart; i++) {
        REQUIRE(s->cart[i].id >= 1);
        REQUIRE(s->cart[i].id <= INT32_MAX);
        REQUIRE(s->cart[i].qty >= 1);
        REQUIRE(s->cart[i].qty <= SESSION_QTY_MAX);
        for (uint32_t j = 0; j < i; j++)
            REQUIRE(s->cart[j].id != s->cart[i].id);
    }
}

/* A failed decode must leave nothing a careless caller could trust or
 * overrun: the record.c decoder clears the whole struct. */
static void assert_cleared(const struct session *s)
{
    REQUIRE(s->key[0] == '\0');
    REQUIRE(s->bind[0] == '\0');
    REQUIRE(s->form_key[0] == '\0');
    REQUIRE(s->user[0] == '\0');
    REQUIRE(s->ncart == 0);
    REQUIRE(s->expires == 0);
}

static enum record_err decode(const unsigned char *buf, size_t len,
                              struct session *s)
{
    enum record_err e;

    memset(s, 0xA5, sizeof *s);                 /* garbage in, so a */
    e = record_decode(buf, len, s);             /* failure must clear it */
    if (e == RECORD_OK)
        assert_in_bounds(s);
    else
        assert_cleared(s);
    return e;
}

/* A record by hand, after the documented layout. Strings are written by
 * strlen, so they may be any length (and any bytes but NUL); ncart is
 * written as given, whatever the number of lines that follow. */
struct raw {
    const char *key, *bind, *form_key, *user;
    uint64_t created, expires;
    int64_t counter;
    unsigned ncart, nlines;
    struct cart_line line[SESSION_CART_MAX + 2];
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
    size_t n = 0;

    memcpy(buf, "NORS\x01\x00", 6);
    n = 6;
    n += put_s(buf + n, r->key);
    n += put_s(buf + n, r->bind);
    n += put_s(buf + n, r->form_key);
    n += put_s(buf + n, r->user);
    n += put_le(buf + n, r->created, 8);
    n += put_le(buf + n, r->expires, 8);
    n += put_le(buf + n, (uint64_t)r->counter, 8);
    n += put_le(buf + n, r->ncart, 2);
    for (unsigned i = 0; i < r->nlines; i++) {
        n += put_le(buf + n, r->line[i].id, 4);
        n += put_le(buf + n, r->line[i].qty, 1);
    }
    return n;
}

/* A valid hand-built record with two cart lines. */
static struct raw raw_sample(void)
{
    struct raw r = {.key = KEY_A, .bind = KEY_B, .form_key = KEY_B,
                    .user = "demo", .created = T0, .expires = T0 + 600,
                    .counter = 5, .ncart = 2, .nlines = 2,
                    .line = {{26, 3}, {7, 1}}};
    return r;
}

static enum record_err decode_raw(const struct raw *r)
{
    unsigned char buf[1024];
    struct session s;

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
    struct session s;

    if (decode(buf, len, &s) != RECORD_OK)
        return 0;
    REQUIRE(record_encode(&s, again, sizeof again) == len);
    REQUIRE(memcmp(again, buf, len) == 0);
    return 1;
}

/* ---- records: round trips ---- */

START_TEST(record_round_trip_sample)
{
    struct session a, b;
    unsigned char buf[4096];
    size_t n;

    session_sample(&a);
    n = record_encode(&a, buf, sizeof buf);
    /* header 6, four strings 4 + 22 + 22 + 22 + 4, times 24, cart 2 + 2*5 */
    ck_assert_uint_eq(n, 6 + 74 + 24 + 12);
    ck_assert_int_eq(decode(buf, n, &b), RECORD_OK);
    assert_same(&a, &b);
    ck_assert_int_eq(b.counter, -42);
    ck_assert_uint_eq(b.version, 0);            /* not in the record */
    ck_assert_int_eq(b.dirty, 0);
}
END_TEST

START_TEST(record_round_trip_empty)
{
    struct session a, b;
    unsigned char buf[4096];
    size_t n;

    ck_assert_int_eq(session_init(&a, &life, T0, 0), 0);
    n = record_encode(&a, buf, sizeof buf);
    ck_assert_uint_eq(n, 6 + 4 + 2 * NAV_KEY_LEN + 24 + 2);  /* no bind, user */
    ck_assert_int_eq(decode(buf, n, &b), RECORD_OK);
    assert_same(&a, &b);
    ck_assert_str_eq(b.bind, "");
    ck_assert_str_eq(b.user, "");
    ck_assert_uint_eq(b.ncart, 0);
    ck_assert_int_eq(b.counter, 0);
}
END_TEST

START_TEST(record_round_trip_full)
{
    struct session a, b;
    unsigned char buf[4096];
    size_t n;

    session_full(&a);
    ck_assert_uint_eq(a.ncart, SESSION_CART_MAX);
    n = record_encode(&a, buf, sizeof buf);
    ck_assert_uint_eq(n, 6 + 4 + 3 * NAV_KEY_LEN + NAV_USER_MAX + 24 + 2 +
                         5 * SESSION_CART_MAX);
    ck_assert_int_eq(decode(buf, n, &b), RECORD_OK);
    assert_same(&a, &b);
    ck_assert_uint_eq(strlen(b.user), NAV_USER_MAX);
    ck_assert_uint_eq(b.cart[0].id, INT32_MAX);
    ck_assert_uint_eq(cart_count(&b), 32 * 1 + 32 * 99);
}
END_TEST

START_TEST(record_round_trip_counters)
{
    static const int64_t values[] = {0, 1, -1, 42, -42, INT32_MIN,
                                     (int64_t)INT32_MAX + 1, INT64_MAX,
                                     INT64_MIN, INT64_MIN + 1};
    struct session a, b;
    unsigned char buf[4096];

    session_sample(&a);
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        a.counter = values[i];
        size_t n = record_encode(&a, buf, sizeof buf);
        ck_assert_int_eq(decode(buf, n, &b), RECORD_OK);
        ck_assert_int_eq(b.counter, values[i]);
    }
}
END_TEST

/* record_encode writes exactly the layout documented in record.c. */
START_TEST(record_layout_is_the_documented_one)
{
    struct raw r = raw_sample();
    struct session s, b;
    unsigned char mine[1024], theirs[1024];
    size_t n, m;

    n = craft(mine, &r);
    ck_assert_int_eq(decode(mine, n, &s), RECORD_OK);
    ck_assert_str_eq(s.key, KEY_A);
    ck_assert_str_eq(s.bind, KEY_B);
    ck_assert_str_eq(s.user, "demo");
    ck_assert_uint_eq(s.created, T0);
    ck_assert_uint_eq(s.expires, T0 + 600);
    ck_assert_int_eq(s.counter, 5);
    ck_assert_uint_eq(s.ncart, 2);
    ck_assert_uint_eq(s.cart[1].id, 7);
    m = record_encode(&s, theirs, sizeof theirs);
    ck_assert_uint_eq(m, n);
    ck_assert_int_eq(memcmp(mine, theirs, n), 0);
    /* The bind is optional: "" is written as a zero length. */
    r.bind = "";
    n = craft(mine, &r);
    ck_assert_int_eq(decode(mine, n, &b), RECORD_OK);
    ck_assert_str_eq(b.bind, "");
}
END_TEST

START_TEST(record_encode_refuses_small_buffers)
{
    struct session a;
    unsigned char buf[4096], want[4096];
    size_t n;

    session_full(&a);
    n = record_encode(&a, want, sizeof want);
    ck_assert_uint_gt(n, 0);
    for (size_t cap = 0; cap < n; cap++) {
        memset(buf, 0xA5, sizeof buf);
        REQUIRE(record_encode(&a, buf, cap) == 0);
        /* Nothing written past what it was given. */
        for (size_t i = cap; i < n + 8; i++)
            REQUIRE(buf[i] == 0xA5);
    }
    ck_assert_uint_eq(record_encode(&a, buf, n), n);         /* exact fit */
    ck_assert_int_eq(memcmp(buf, want, n), 0);
}
END_TEST

/* ---- records: corruptions ---- */

START_TEST(record_every_truncation_is_short)
{
    struct session a, b;
    unsigned char buf[4096];
    size_t n;

    for (int full = 0; full < 2; full++) {
        if (full)
            session_full(&a);
        else
            session_sample(&a);
        n = record_encode(&a, buf, sizeof buf);
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
    struct session a, b;
    unsigned char buf[4096];
    size_t n;

    session_sample(&a);
    n = record_encode(&a, buf, sizeof buf);
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
    struct session a, b;
    unsigned char buf[4096], bad[4096];
    size_t n;

    session_sample(&a);
    n = record_encode(&a, buf, sizeof buf);
    for (int i = 0; i < 4; i++) {               /* each byte of the magic */
        memcpy(bad, buf, n);
        bad[i] ^= 0x20;                         /* "nORS", "NoRS", ... */
        ck_assert_int_eq(decode(bad, n, &b), RECORD_EMAGIC);
    }
    static const unsigned formats[] = {0, 2, 0x81, 0xFF};
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
    ck_assert_int_eq(decode((const unsigned char *)"NORS\x02\x00", 6, &b),
                     RECORD_EFORMAT);
}
END_TEST

START_TEST(record_bad_key_characters)
{
    static const unsigned char bad_chars[] = {'!', '=', '+', '/', '.', ' ',
                                              '\0', 0x7F, 0x80, 0xFF};
    struct session a, b;
    unsigned char buf[4096], bad[4096];
    size_t n;
    /* Offsets of the three key fields in the sample (bind set): header 6,
     * then a length byte before each 22-byte key. */
    const size_t field[] = {7, 7 + 23, 7 + 46};

    session_sample(&a);
    n = record_encode(&a, buf, sizeof buf);
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
    char user[NAV_USER_MAX + 2];

    /* NAV_USER_MAX is fine, one more is not. */
    memset(user, 'u', NAV_USER_MAX);
    user[NAV_USER_MAX] = '\0';
    r.user = user;
    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    user[NAV_USER_MAX] = 'u';
    user[NAV_USER_MAX + 1] = '\0';
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
    struct session s;
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

START_TEST(record_cart_bounds)
{
    struct raw r;

    /* qty outside 1..99. */
    static const unsigned bad_qty[] = {0, 100, 128, 255};
    for (size_t i = 0; i < sizeof bad_qty / sizeof *bad_qty; i++) {
        r = raw_sample();
        r.line[1].qty = bad_qty[i];
        ck_assert_msg(decode_raw(&r) == RECORD_EFIELD, "qty %u", bad_qty[i]);
    }
    r = raw_sample();
    r.line[0].qty = 99;
    r.line[1].qty = 1;
    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    /* ids outside 1..2^31-1, as navigation URLs have them. */
    static const uint32_t bad_id[] = {0, (uint32_t)INT32_MAX + 1, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad_id / sizeof *bad_id; i++) {
        r = raw_sample();
        r.line[0].id = bad_id[i];
        ck_assert_msg(decode_raw(&r) == RECORD_EFIELD, "id %u", bad_id[i]);
    }
    r = raw_sample();
    r.line[0].id = INT32_MAX;
    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    /* A duplicate id: record.c's cart_valid rejects it, adjacent or far. */
    r = raw_sample();
    r.line[1].id = r.line[0].id;
    ck_assert_int_eq(decode_raw(&r), RECORD_EFIELD);
    r = raw_sample();
    r.ncart = r.nlines = SESSION_CART_MAX;
    for (unsigned i = 0; i < SESSION_CART_MAX; i++)
        r.line[i] = (struct cart_line){100 + i, 1};
    ck_assert_int_eq(decode_raw(&r), RECORD_OK);
    r.line[SESSION_CART_MAX - 1].id = 100;
    ck_assert_int_eq(decode_raw(&r), RECORD_EFIELD);
    /* One line too many, present in full; and a huge count. */
    r = raw_sample();
    r.ncart = r.nlines = SESSION_CART_MAX + 1;
    for (unsigned i = 0; i < r.nlines; i++)
        r.line[i] = (struct cart_line){100 + i, 1};
    ck_assert_int_eq(decode_raw(&r), RECORD_EFIELD);
    r.nlines = 0;
    r.ncart = 0xFFFF;
    ck_assert_int_eq(decode_raw(&r), RECORD_EFIELD);
    /* A count that does not match the lines. */
    r = raw_sample();
    r.ncart = 3;
    ck_assert_int_eq(decode_raw(&r), RECORD_ESHORT);
    r.ncart = 1;
    ck_assert_int_eq(decode_raw(&r), RECORD_ETRAILING);
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
    struct session a, b;
    unsigned char buf[4096], bad[4096];
    size_t n;

    session_sample(&a);
    n = record_encode(&a, buf, sizeof buf);
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
    struct session a;
    unsigned char buf[4096];
    size_t n, accepted = 0;

    for (int full = 0; full < 2; full++) {
        if (full)
            session_full(&a);
        else
            session_sample(&a);
        n = record_encode(&a, buf, sizeof buf);
        for (size_t i = 0; i < n * 8; i++) {
            buf[i / 8] ^= (unsigned char)(1u << (i % 8));
            accepted += (size_t)check_mutant(buf, n);
            buf[i / 8] ^= (unsigned char)(1u << (i % 8));
        }
    }
    /* Flips in the counter, times and key letters are legitimate records;
     * the test would prove nothing if every flip were refused. */
    ck_assert_uint_gt(accepted, 0);
}
END_TEST

START_TEST(record_random_mutations_never_break_bounds)
{
    struct session a;
    unsigned char orig[4096], buf[4096];
    size_t n;

    session_full(&a);
    n = record_encode(&a, orig, sizeof orig);
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
    const char *seen[RECORD_ETRAILING + 1];

    for (int e = RECORD_OK; e <= RECORD_ETRAILING; e++) {
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
    struct session s;

    memset(&s, 0xA5, sizeof s);
    ck_assert_int_eq(session_init(&s, &life, T0, 0), 0);
    ck_assert_uint_eq(strlen(s.key), NAV_KEY_LEN);
    ck_assert_uint_eq(strlen(s.form_key), NAV_KEY_LEN);
    ck_assert_str_ne(s.key, s.form_key);
    ck_assert_str_eq(s.bind, "");
    ck_assert_str_eq(s.user, "");
    ck_assert_int_eq(s.counter, 0);
    ck_assert_uint_eq(s.ncart, 0);
    ck_assert_uint_eq(s.version, 0);
    ck_assert_uint_eq(s.created, T0);
    ck_assert_uint_eq(s.expires, T0 + life.ttl);
    ck_assert_int_eq(s.dirty, 1);

    ck_assert_int_eq(session_init(&s, &life, T0, 1), 0);
    ck_assert_uint_eq(strlen(s.bind), NAV_KEY_LEN);
    ck_assert_str_ne(s.bind, s.key);
    ck_assert_str_ne(s.bind, s.form_key);

    /* The idle expiry is capped by the absolute lifetime. */
    struct session_policy p = {.ttl = 600, .max_age = 100};
    ck_assert_int_eq(session_init(&s, &p, T0, 0), 0);
    ck_assert_uint_eq(s.expires, T0 + 100);
    p.max_age = 600;
    ck_assert_int_eq(session_init(&s, &p, T0, 0), 0);
    ck_assert_uint_eq(s.expires, T0 + 600);
    p.max_age = 601;
    ck_assert_int_eq(session_init(&s, &p, T0, 0), 0);
    ck_assert_uint_eq(s.expires, T0 + 600);
}
END_TEST

START_TEST(session_live_boundaries)
{
    struct session s;

    ck_assert_int_eq(session_init(&s, &life, T0, 0), 0);
    ck_assert(session_live(&s, &life, T0));
    ck_assert(session_live(&s, &life, T0 + 599));
    ck_assert(!session_live(&s, &life, T0 + 600));        /* now == expires */
    ck_assert(!session_live(&s, &life, T0 + 601));
    /* A record whose idle expiry lies past the absolute lifetime (written
     * under a longer max_age) dies at created + max_age all the same. */
    struct session_policy p = {.ttl = 600, .max_age = 300};
    s.expires = T0 + 600;
    ck_assert(session_live(&s, &p, T0 + 299));
    ck_assert(!session_live(&s, &p, T0 + 300));
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
    struct session s;

    ck_assert_int_eq(session_init(&s, &life, T0, 0), 0);
    ck_assert_int_eq(touch(&s, &life, T0), 0);
    /* Exactly half left (300 of 600): not yet. */
    ck_assert_int_eq(touch(&s, &life, T0 + 300), 0);
    /* Less than half: a whole TTL from now. */
    ck_assert_int_eq(touch(&s, &life, T0 + 301), 1);
    ck_assert_uint_eq(s.expires, T0 + 901);
    /* And again only once less than half is left of the new expiry. */
    for (uint64_t t = T0 + 302; t <= T0 + 601; t++)
        REQUIRE(touch(&s, &life, t) == 0);
    ck_assert_int_eq(touch(&s, &life, T0 + 602), 1);
    ck_assert_uint_eq(s.expires, T0 + 1202);
    /* Dead is dead: not revived at or after the expiry. */
    ck_assert_int_eq(touch(&s, &life, T0 + 1202), 0);
    ck_assert_int_eq(touch(&s, &life, T0 + 5000), 0);
}
END_TEST

START_TEST(session_touch_odd_ttl)
{
    struct session s;
    struct session_policy p = {.ttl = 601, .max_age = 28800};

    ck_assert_int_eq(session_init(&s, &p, T0, 0), 0);
    ck_assert_uint_eq(s.expires, T0 + 601);
    ck_assert_int_eq(touch(&s, &p, T0 + 300), 0);     /* 301 left > 300.5 */
    ck_assert_int_eq(touch(&s, &p, T0 + 301), 1);     /* 300 left < 300.5 */
    ck_assert_uint_eq(s.expires, T0 + 902);
}
END_TEST

START_TEST(session_touch_max_age)
{
    struct session s;
    struct session_policy p = {.ttl = 600, .max_age = 1000};

    ck_assert_int_eq(session_init(&s, &p, T0, 0), 0);
    /* A whole TTL would be T0 + 950: within the lifetime. */
    ck_assert_int_eq(touch(&s, &p, T0 + 350), 1);
    ck_assert_uint_eq(s.expires, T0 + 950);
    /* T0 + 1300 wanted, cut at the lifetime, still later than before. */
    ck_assert_int_eq(touch(&s, &p, T0 + 700), 1);
    ck_assert_uint_eq(s.expires, T0 + 1000);
    /* Nothing left to gain: no change, no commit. */
    ck_assert_int_eq(touch(&s, &p, T0 + 800), 0);
    ck_assert_int_eq(touch(&s, &p, T0 + 999), 0);
    ck_assert(session_live(&s, &p, T0 + 999));
    ck_assert(!session_live(&s, &p, T0 + 1000));
    ck_assert_int_eq(touch(&s, &p, T0 + 1000), 0);
}
END_TEST

/* Browsing once a second for a whole lifetime: the session stays alive
 * to its end, never past it, and costs a couple of commits per TTL. */
START_TEST(session_touch_browsing)
{
    struct session s;
    unsigned commits = 0;
    uint64_t t;

    ck_assert_int_eq(session_init(&s, &life, T0, 0), 0);
    for (t = T0; t < T0 + life.max_age; t++) {
        if (!session_live(&s, &life, t))
            ck_abort_msg("died at +%llu", (unsigned long long)(t - T0));
        commits += (unsigned)touch(&s, &life, t);
        REQUIRE(s.expires <= s.created + life.max_age);
    }
    ck_assert(!session_live(&s, &life, t));
    ck_assert_uint_le(commits, 2 * (life.max_age / life.ttl) + 1);
    ck_assert_uint_ge(commits, life.max_age / life.ttl);
}
END_TEST

/* ---- cart ---- */

START_TEST(cart_add_merges_and_caps)
{
    struct session s;

    ck_assert_int_eq(session_init(&s, &life, T0, 0), 0);
    s.dirty = 0;
    ck_assert_int_eq(cart_add(&s, 5, 0), 0);                /* nothing */
    ck_assert_uint_eq(s.ncart, 0);
    ck_assert_int_eq(s.dirty, 0);
    ck_assert_int_eq(cart_add(&s, 5, 2), 0);
    ck_assert_int_eq(s.dirty, 1);
    ck_assert_int_eq(cart_add(&s, 5, 3), 0);
    ck_assert_uint_eq(s.ncart, 1);
    ck_assert_uint_eq(s.cart[0].qty, 5);
    ck_assert_int_eq(cart_add(&s, 5, 94), 0);
    ck_assert_uint_eq(s.cart[0].qty, 99);
    ck_assert_int_eq(cart_add(&s, 5, 1), 0);
    ck_assert_uint_eq(s.cart[0].qty, 99);                   /* capped */
    ck_assert_int_eq(cart_add(&s, 6, 150), 0);
    ck_assert_uint_eq(s.cart[1].qty, 99);                   /* capped new */
    /* A huge quantity must cap, not wrap around. */
    ck_assert_int_eq(cart_add(&s, 7, 1), 0);
    ck_assert_int_eq(cart_add(&s, 7, UINT32_MAX), 0);
    ck_assert_uint_eq(s.cart[2].qty, 99);
    ck_assert_uint_eq(s.ncart, 3);
    ck_assert_uint_eq(cart_count(&s), 3 * 99);
}
END_TEST

START_TEST(cart_full)
{
    struct session s, before;

    ck_assert_int_eq(session_init(&s, &life, T0, 0), 0);
    for (uint32_t i = 1; i <= SESSION_CART_MAX; i++)
        ck_assert_int_eq(cart_add(&s, i, 1), 0);
    ck_assert_uint_eq(s.ncart, SESSION_CART_MAX);
    before = s;
    /* The 65th distinct item: refused, and the cart untouched. */
    s.dirty = 0;
    ck_assert_int_eq(cart_add(&s, SESSION_CART_MAX + 1, 1), -1);
    ck_assert_int_eq(cart_set(&s, SESSION_CART_MAX + 1, 3), -1);
    ck_assert_int_eq(s.dirty, 0);
    assert_same(&before, &s);
    /* Items already there still change. */
    ck_assert_int_eq(cart_add(&s, 1, 1), 0);
    ck_assert_uint_eq(s.cart[0].qty, 2);
    ck_assert_int_eq(cart_set(&s, 2, 9), 0);
    ck_assert_uint_eq(s.cart[1].qty, 9);
    /* Room again once one goes. */
    ck_assert_int_eq(cart_set(&s, 3, 0), 0);
    ck_assert_int_eq(cart_add(&s, SESSION_CART_MAX + 1, 1), 0);
    ck_assert_uint_eq(s.ncart, SESSION_CART_MAX);
    ck_assert_uint_eq(s.cart[SESSION_CART_MAX - 1].id, SESSION_CART_MAX + 1);
    /* 64 ones, +1 on id 1, +8 on id 2, -1 for id 3, +1 for the new one */
    ck_assert_uint_eq(cart_count(&s), SESSION_CART_MAX + 1 + 8);
}
END_TEST

START_TEST(cart_set_removes_in_order)
{
    struct session s;

    ck_assert_int_eq(session_init(&s, &life, T0, 0), 0);
    for (uint32_t id = 10; id <= 50; id += 10)
        ck_assert_int_eq(cart_add(&s, id, id / 10), 0);
    /* Remove the middle, the first and the last: order of the rest kept. */
    ck_assert_int_eq(cart_set(&s, 30, 0), 0);
    ck_assert_int_eq(cart_set(&s, 10, 0), 0);
    ck_assert_int_eq(cart_set(&s, 50, 0), 0);
    ck_assert_uint_eq(s.ncart, 2);
    ck_assert_uint_eq(s.cart[0].id, 20);
    ck_assert_uint_eq(s.cart[1].id, 40);
    ck_assert_uint_eq(cart_count(&s), 2 + 4);
    /* Setting replaces, capped; an unknown id is appended. */
    ck_assert_int_eq(cart_set(&s, 20, 7), 0);
    ck_assert_uint_eq(s.cart[0].qty, 7);
    ck_assert_int_eq(cart_set(&s, 40, 1000), 0);
    ck_assert_uint_eq(s.cart[1].qty, 99);
    ck_assert_int_eq(cart_set(&s, 60, 2), 0);
    ck_assert_uint_eq(s.ncart, 3);
    ck_assert_uint_eq(s.cart[2].id, 60);
    /* Removing what is not there changes nothing. */
    s.dirty = 0;
    ck_assert_int_eq(cart_set(&s, 70, 0), 0);
    ck_assert_uint_eq(s.ncart, 3);
    ck_assert_int_eq(s.dirty, 0);
    ck_assert_uint_eq(cart_count(&s), 7 + 99 + 2);
    /* Emptied entirely. */
    ck_assert_int_eq(cart_set(&s, 20, 0), 0);
    ck_assert_int_eq(cart_set(&s, 60, 0), 0);
    ck_assert_int_eq(cart_set(&s, 40, 0), 0);
    ck_assert_uint_eq(s.ncart, 0);
    ck_assert_uint_eq(cart_count(&s), 0);
}
END_TEST

START_TEST(cart_edits_survive_a_record)
{
    struct session s, b;
    unsigned char buf[4096];
    size_t n;

    ck_assert_int_eq(session_init(&s, &life, T0, 1), 0);
    for (uint32_t i = 0; i < 40; i++)
        ck_assert_int_eq(cart_add(&s, 1 + i * 7919, 1 + i % 99), 0);
    for (uint32_t i = 0; i < 40; i += 3)
        ck_assert_int_eq(cart_set(&s, 1 + i * 7919, 0), 0);
    n = record_encode(&s, buf, sizeof buf);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(decode(buf, n, &b), RECORD_OK);
    assert_same(&s, &b);
    ck_assert_uint_eq(cart_count(&b), cart_count(&s));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("session");
    TCase *rec = tcase_create("record"), *key = tcase_create("key");
    TCase *lt = tcase_create("lifetime"), *cart = tcase_create("cart");
    SRunner *sr;
    int failed;

    tcase_add_test(rec, record_round_trip_sample);
    tcase_add_test(rec, record_round_trip_empty);
    tcase_add_test(rec, record_round_trip_full);
    tcase_add_test(rec, record_round_trip_counters);
    tcase_add_test(rec, record_layout_is_the_documented_one);
    tcase_add_test(rec, record_encode_refuses_small_buffers);
    tcase_add_test(rec, record_every_truncation_is_short);
    tcase_add_test(rec, record_trailing_bytes_are_refused);
    tcase_add_test(rec, record_header_is_checked);
    tcase_add_test(rec, record_bad_key_characters);
    tcase_add_test(rec, record_keys_of_wrong_length);
    tcase_add_test(rec, record_user_bounds);
    tcase_add_test(rec, record_cart_bounds);
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
    tcase_add_test(cart, cart_add_merges_and_caps);
    tcase_add_test(cart, cart_full);
    tcase_add_test(cart, cart_set_removes_in_order);
    tcase_add_test(cart, cart_edits_survive_a_record);
    /* The mutation loops are slow under ASan/UBSan; give them room. */
    tcase_set_timeout(rec, 60);
    suite_add_tcase(s, rec);
    suite_add_tcase(s, key);
    suite_add_tcase(s, lt);
    suite_add_tcase(s, cart);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
