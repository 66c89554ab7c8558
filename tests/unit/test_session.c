/* test_session.c -- records, keys, lifetimes and carts: everything about
 * a session that is arithmetic on the struct, without a store. */
#include <check.h>
#include <string.h>

#include "session/session.h"

static const struct session_policy life = {.ttl = 600, .max_age = 28800};
#define T0 1700000000ull

static void session_sample(struct session *s)
{
    ck_assert_int_eq(session_init(s, &life, T0, 1), 0);
    strcpy(s->user, "demo");
    s->counter = -42;
    ck_assert_int_eq(cart_add(s, 26, 3), 0);
    ck_assert_int_eq(cart_add(s, 7, 1), 0);
}

START_TEST(record_round_trip)
{
    struct session a, b;
    unsigned char buf[4096];
    size_t n;

    session_sample(&a);
    n = record_encode(&a, buf, sizeof buf);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(record_decode(buf, n, &b), RECORD_OK);
    ck_assert_str_eq(b.key, a.key);
    ck_assert_str_eq(b.bind, a.bind);
    ck_assert_str_eq(b.form_key, a.form_key);
    ck_assert_str_eq(b.user, "demo");
    ck_assert_int_eq(b.counter, -42);
    ck_assert_uint_eq(b.created, T0);
    ck_assert_uint_eq(b.expires, T0 + 600);
    ck_assert_uint_eq(b.ncart, 2);
    ck_assert_uint_eq(b.cart[0].id, 26);
    ck_assert_uint_eq(b.cart[0].qty, 3);
    ck_assert_uint_eq(cart_count(&b), 4);
    /* The smallest and the largest record. */
    ck_assert_int_eq(session_init(&a, &life, T0, 0), 0);
    n = record_encode(&a, buf, sizeof buf);
    ck_assert_int_eq(record_decode(buf, n, &b), RECORD_OK);
    ck_assert_str_eq(b.bind, "");
    memset(a.user, 'u', NAV_USER_MAX);
    for (uint32_t i = 1; i <= SESSION_CART_MAX; i++)
        ck_assert_int_eq(cart_add(&a, i, 99), 0);
    n = record_encode(&a, buf, sizeof buf);
    ck_assert_int_eq(record_decode(buf, n, &b), RECORD_OK);
    ck_assert_uint_eq(b.ncart, SESSION_CART_MAX);
    ck_assert_uint_eq(strlen(b.user), NAV_USER_MAX);
    ck_assert_uint_eq(record_encode(&a, buf, n - 1), 0);   /* too small */
}
END_TEST

START_TEST(record_every_truncation_is_short)
{
    struct session a, b;
    unsigned char buf[4096];
    size_t n;

    session_sample(&a);
    n = record_encode(&a, buf, sizeof buf);
    for (size_t cut = 0; cut < n; cut++)
        ck_assert_int_eq(record_decode(buf, cut, &b), RECORD_ESHORT);
    buf[n] = 0;
    ck_assert_int_eq(record_decode(buf, n + 1, &b), RECORD_ETRAILING);
}
END_TEST

/* Offsets in the sample record: magic 0..3, format 4, reserved 5, key
 * length 6, key 7..28, bind length 29, bind 30..51, form key length 52. */
START_TEST(record_corruptions_are_refused)
{
    struct session a, b;
    unsigned char buf[4096], bad[4096];
    size_t n;

    session_sample(&a);
    n = record_encode(&a, buf, sizeof buf);
#define CORRUPT(off, val, want)                                      \
    do {                                                             \
        memcpy(bad, buf, n);                                         \
        bad[off] = (unsigned char)(val);                             \
        ck_assert_int_eq(record_decode(bad, n, &b), want);           \
        ck_assert_str_eq(b.key, ""); /* nothing half-decoded kept */ \
    } while (0)
    CORRUPT(0, 'X', RECORD_EMAGIC);
    CORRUPT(4, 2, RECORD_EFORMAT);
    CORRUPT(5, 1, RECORD_EFORMAT);
    CORRUPT(7, '!', RECORD_EFIELD);        /* not base64url */
    CORRUPT(30, ' ', RECORD_EFIELD);
#undef CORRUPT
    /* Counts and lengths that do not add up. */
    memcpy(bad, buf, n);
    bad[6] = 21;                        /* key one short: fields shift */
    ck_assert_int_ne(record_decode(bad, n, &b), RECORD_OK);
    /* Cart lines: qty 0, qty 100, a duplicate id, id 0, too many lines. */
    struct session c = a;
    unsigned char *tail;
    size_t m;
    c.cart[1].qty = 0;
    m = record_encode(&c, bad, sizeof bad);
    ck_assert_int_eq(record_decode(bad, m, &b), RECORD_EFIELD);
    c = a;
    c.cart[1].qty = 100;
    m = record_encode(&c, bad, sizeof bad);
    ck_assert_int_eq(record_decode(bad, m, &b), RECORD_EFIELD);
    c = a;
    c.cart[1].id = c.cart[0].id;
    m = record_encode(&c, bad, sizeof bad);
    ck_assert_int_eq(record_decode(bad, m, &b), RECORD_EFIELD);
    c = a;
    c.cart[1].id = 0;
    m = record_encode(&c, bad, sizeof bad);
    ck_assert_int_eq(record_decode(bad, m, &b), RECORD_EFIELD);
    c = a;
    c.expires = c.created - 1;
    m = record_encode(&c, bad, sizeof bad);
    ck_assert_int_eq(record_decode(bad, m, &b), RECORD_EFIELD);
    c = a;
    c.user[0] = '\x01';
    m = record_encode(&c, bad, sizeof bad);
    ck_assert_int_eq(record_decode(bad, m, &b), RECORD_EFIELD);
    /* ncart says 65 and the lines are there: still too many. */
    c = a;
    for (uint32_t i = 1; c.ncart < SESSION_CART_MAX; i++)
        cart_add(&c, 1000 + i, 1);
    m = record_encode(&c, bad, sizeof bad);
    tail = bad + m - 2 - SESSION_CART_MAX * 5;
    tail[0] = SESSION_CART_MAX + 1;
    memcpy(bad + m, "\x01\x02\x03\x04\x05", 5);
    ck_assert_int_eq(record_decode(bad, m + 5, &b), RECORD_EFIELD);
}
END_TEST

START_TEST(record_bit_flips_never_break_bounds)
{
    struct session a, b;
    unsigned char buf[4096];
    size_t n;

    session_sample(&a);
    n = record_encode(&a, buf, sizeof buf);
    for (size_t i = 0; i < n * 8; i++) {
        buf[i / 8] ^= (unsigned char)(1u << (i % 8));
        if (record_decode(buf, n, &b) == RECORD_OK) {
            ck_assert_uint_le(b.ncart, SESSION_CART_MAX);
            ck_assert_uint_eq(strlen(b.key), NAV_KEY_LEN);
            ck_assert_uint_le(strlen(b.user), NAV_USER_MAX);
            ck_assert_uint_ge(b.expires, b.created);
        }
        buf[i / 8] ^= (unsigned char)(1u << (i % 8));
    }
}
END_TEST

START_TEST(keys_are_minted_and_compared)
{
    char a[NAV_KEY_LEN + 1], b[NAV_KEY_LEN + 1];

    ck_assert_int_eq(key_mint(a), 0);
    ck_assert_int_eq(key_mint(b), 0);
    ck_assert_uint_eq(strlen(a), NAV_KEY_LEN);
    ck_assert_uint_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789-_"), NAV_KEY_LEN);
    /* 128 bits in 22 characters: the last carries only 2 bits. */
    ck_assert_ptr_nonnull(strchr("AQgw", a[NAV_KEY_LEN - 1]));
    ck_assert_str_ne(a, b);
    ck_assert(key_equal(a, a));
    ck_assert(!key_equal(a, b));
    memcpy(b, a, sizeof b);
    b[0] ^= 1;
    ck_assert(!key_equal(a, b));
    memcpy(b, a, sizeof b);
    b[NAV_KEY_LEN - 1] = b[NAV_KEY_LEN - 1] == 'A' ? 'Q' : 'A';
    ck_assert(!key_equal(a, b));
    memcpy(b, a, sizeof b);
    b[10] = '\0';
    ck_assert(!key_equal(a, b));
    ck_assert(!key_equal(b, a));
    ck_assert(!key_equal("", ""));
    ck_assert(!key_equal("", a));
}
END_TEST

START_TEST(expiry_arithmetic)
{
    struct session s;
    struct session_policy shortlife = {.ttl = 600, .max_age = 1000};

    ck_assert_int_eq(session_init(&s, &life, T0, 0), 0);
    ck_assert_uint_eq(s.expires, T0 + 600);
    ck_assert(s.dirty);
    ck_assert(session_live(&s, &life, T0 + 599));
    ck_assert(!session_live(&s, &life, T0 + 600));
    /* More than half the TTL left: no refresh, no commit. */
    s.dirty = 0;
    ck_assert_int_eq(session_touch(&s, &life, T0 + 300), 0);
    ck_assert(!s.dirty);
    ck_assert_uint_eq(s.expires, T0 + 600);
    /* Less than half left: pushed out a whole TTL from now. */
    ck_assert_int_eq(session_touch(&s, &life, T0 + 301), 1);
    ck_assert(s.dirty);
    ck_assert_uint_eq(s.expires, T0 + 901);
    /* Expired sessions are not revived. */
    s.dirty = 0;
    ck_assert_int_eq(session_touch(&s, &life, T0 + 901), 0);
    ck_assert(!s.dirty);
    /* Never past created + max_age. */
    ck_assert_int_eq(session_init(&s, &shortlife, T0, 0), 0);
    ck_assert_int_eq(session_touch(&s, &shortlife, T0 + 500), 1);
    ck_assert_uint_eq(s.expires, T0 + 1000);
    ck_assert_int_eq(session_touch(&s, &shortlife, T0 + 800), 0);
    ck_assert(!session_live(&s, &shortlife, T0 + 1000));
    /* A TTL longer than the lifetime is cut at creation. */
    struct session_policy odd = {.ttl = 600, .max_age = 100};
    ck_assert_int_eq(session_init(&s, &odd, T0, 0), 0);
    ck_assert_uint_eq(s.expires, T0 + 100);
}
END_TEST

START_TEST(cart_edits)
{
    struct session s;

    ck_assert_int_eq(session_init(&s, &life, T0, 0), 0);
    ck_assert_int_eq(cart_add(&s, 5, 2), 0);
    ck_assert_int_eq(cart_add(&s, 5, 3), 0);
    ck_assert_uint_eq(s.ncart, 1);
    ck_assert_uint_eq(s.cart[0].qty, 5);
    ck_assert_int_eq(cart_add(&s, 5, 99), 0);
    ck_assert_uint_eq(s.cart[0].qty, 99);                  /* capped */
    ck_assert_int_eq(cart_add(&s, 6, 1), 0);
    ck_assert_int_eq(cart_add(&s, 7, 1), 0);
    ck_assert_int_eq(cart_set(&s, 6, 0), 0);               /* removes */
    ck_assert_uint_eq(s.ncart, 2);
    ck_assert_uint_eq(s.cart[1].id, 7);                    /* order kept */
    ck_assert_int_eq(cart_set(&s, 7, 4), 0);
    ck_assert_uint_eq(cart_count(&s), 103);
    for (uint32_t i = 100; s.ncart < SESSION_CART_MAX; i++)
        ck_assert_int_eq(cart_add(&s, i, 1), 0);
    ck_assert_int_eq(cart_add(&s, 9999, 1), -1);           /* full */
    ck_assert_int_eq(cart_add(&s, 5, 1), 0);               /* known: fine */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("session");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, record_round_trip);
    tcase_add_test(tc, record_every_truncation_is_short);
    tcase_add_test(tc, record_corruptions_are_refused);
    tcase_add_test(tc, record_bit_flips_never_break_bounds);
    tcase_add_test(tc, keys_are_minted_and_compared);
    tcase_add_test(tc, expiry_arithmetic);
    tcase_add_test(tc, cart_edits);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
