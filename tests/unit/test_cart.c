/* test_cart.c -- the shop's session state (shop/state.c): cart edits
 * and its codec's bounds. This tests the shop's own code, so it links
 * libshop.a (SHOP_TESTS in the Makefile); the session records that
 * carry a state are the library's, tested in test_session.c with the
 * tests' own application. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "shop/shop.h"

static void assert_same_state(const struct shop_state *a,
                              const struct shop_state *b)
{
    ck_assert_int_eq(a->counter, b->counter);
    ck_assert_uint_eq(a->ncart, b->ncart);
    for (uint32_t i = 0; i < a->ncart; i++) {
        ck_assert_uint_eq(a->cart[i].id, b->cart[i].id);
        ck_assert_uint_eq(a->cart[i].qty, b->cart[i].qty);
    }
}

static int decode(const unsigned char *buf, size_t len, struct shop_state *s)
{
    memset(s, 0, sizeof *s);
    return shop_state_codec.decode(s, 1, buf, len);
}

START_TEST(cart_add_merges_and_caps)
{
    struct shop_state s = {0}, same;

    same = s;
    ck_assert_int_eq(cart_add(&s, 5, 0), 0);                /* nothing */
    ck_assert_uint_eq(s.ncart, 0);
    ck_assert_int_eq(memcmp(&s, &same, sizeof s), 0);
    ck_assert_int_eq(cart_add(&s, 5, 2), 0);
    ck_assert_uint_eq(s.ncart, 1);
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
    struct shop_state s = {0}, before;

    for (uint32_t i = 1; i <= SHOP_CART_MAX; i++)
        ck_assert_int_eq(cart_add(&s, i, 1), 0);
    ck_assert_uint_eq(s.ncart, SHOP_CART_MAX);
    before = s;
    /* The 65th distinct item: refused, and the cart untouched. */
    ck_assert_int_eq(cart_add(&s, SHOP_CART_MAX + 1, 1), -1);
    ck_assert_int_eq(cart_set(&s, SHOP_CART_MAX + 1, 3), -1);
    ck_assert_int_eq(memcmp(&before, &s, sizeof s), 0);
    assert_same_state(&before, &s);
    /* Items already there still change. */
    ck_assert_int_eq(cart_add(&s, 1, 1), 0);
    ck_assert_uint_eq(s.cart[0].qty, 2);
    ck_assert_int_eq(cart_set(&s, 2, 9), 0);
    ck_assert_uint_eq(s.cart[1].qty, 9);
    /* Room again once one goes. */
    ck_assert_int_eq(cart_set(&s, 3, 0), 0);
    ck_assert_int_eq(cart_add(&s, SHOP_CART_MAX + 1, 1), 0);
    ck_assert_uint_eq(s.ncart, SHOP_CART_MAX);
    ck_assert_uint_eq(s.cart[SHOP_CART_MAX - 1].id, SHOP_CART_MAX + 1);
    /* 64 ones, +1 on id 1, +8 on id 2, -1 for id 3, +1 for the new one */
    ck_assert_uint_eq(cart_count(&s), SHOP_CART_MAX + 1 + 8);
}
END_TEST

START_TEST(cart_set_removes_in_order)
{
    struct shop_state s = {0}, same;

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
    same = s;
    ck_assert_int_eq(cart_set(&s, 70, 0), 0);
    ck_assert_uint_eq(s.ncart, 3);
    ck_assert_int_eq(memcmp(&s, &same, sizeof s), 0);
    ck_assert_uint_eq(cart_count(&s), 7 + 99 + 2);
    /* Emptied entirely. */
    ck_assert_int_eq(cart_set(&s, 20, 0), 0);
    ck_assert_int_eq(cart_set(&s, 60, 0), 0);
    ck_assert_int_eq(cart_set(&s, 40, 0), 0);
    ck_assert_uint_eq(s.ncart, 0);
    ck_assert_uint_eq(cart_count(&s), 0);
}
END_TEST

START_TEST(cart_edits_survive_the_codec)
{
    struct shop_state s = {0}, b;
    unsigned char buf[4096];
    size_t n = 0;

    s.counter = -42;
    for (uint32_t i = 0; i < 40; i++)
        ck_assert_int_eq(cart_add(&s, 1 + i * 7919, 1 + i % 99), 0);
    for (uint32_t i = 0; i < 40; i += 3)
        ck_assert_int_eq(cart_set(&s, 1 + i * 7919, 0), 0);
    ck_assert_int_eq(shop_state_codec.encode(&s, buf, sizeof buf, &n), 0);
    ck_assert_uint_eq(n, 8 + 2 + 5 * (size_t)s.ncart);
    ck_assert_int_eq(shop_state_codec.encode(&s, buf, n - 1, &n), -1);
    ck_assert_int_eq(decode(buf, 8 + 2 + 5 * (size_t)s.ncart, &b), 0);
    assert_same_state(&s, &b);
    ck_assert_uint_eq(cart_count(&b), cart_count(&s));
}
END_TEST

/* The codec is strict (shop/state.c): a line out of bounds, an id twice,
 * a count that lies or another version rejects the whole state. */
START_TEST(cart_codec_bounds)
{
    struct shop_state s = {0}, b;
    unsigned char buf[1024], bad[1024];
    size_t n;

    ck_assert_int_eq(cart_add(&s, 26, 3), 0);
    ck_assert_int_eq(cart_add(&s, 7, 1), 0);
    ck_assert_int_eq(shop_state_codec.encode(&s, buf, sizeof buf, &n), 0);
    ck_assert_int_eq(decode(buf, n, &b), 0);
    ck_assert_int_eq(shop_state_codec.decode(&b, 2, buf, n), -1);   /* version */
    ck_assert_int_eq(decode(buf, n - 1, &b), -1);                   /* short */
    ck_assert_int_eq(decode(buf, 9, &b), -1);            /* cut before the count */
    memcpy(bad, buf, n);
    bad[n] = 0;
    ck_assert_int_eq(decode(bad, n + 1, &b), -1);                   /* trailing */
    /* qty 0 and 100 of the second line (bytes 19: id 7's qty). */
    static const unsigned char bad_qty[] = {0, 100, 255};
    for (size_t i = 0; i < sizeof bad_qty; i++) {
        memcpy(bad, buf, n);
        bad[19] = bad_qty[i];
        ck_assert_msg(decode(bad, n, &b) == -1, "qty %u", bad_qty[i]);
    }
    /* id 0, 2^31 and a duplicate (bytes 15..18: the second id). */
    static const uint32_t bad_id[] = {0, (uint32_t)INT32_MAX + 1, 26};
    for (size_t i = 0; i < sizeof bad_id / sizeof *bad_id; i++) {
        memcpy(bad, buf, n);
        for (int k = 0; k < 4; k++)
            bad[15 + k] = (unsigned char)(bad_id[i] >> (8 * k));
        ck_assert_msg(decode(bad, n, &b) == -1, "id %u", bad_id[i]);
    }
    /* A count of 65 lines, present in full. */
    memset(&s, 0, sizeof s);
    for (uint32_t i = 0; i < SHOP_CART_MAX; i++)
        ck_assert_int_eq(cart_add(&s, 100 + i, 1), 0);
    ck_assert_int_eq(shop_state_codec.encode(&s, bad, sizeof bad, &n), 0);
    ck_assert_int_eq(decode(bad, n, &b), 0);
    bad[8] = SHOP_CART_MAX + 1;
    bad[n] = 0xAA, bad[n + 1] = 0, bad[n + 2] = 0, bad[n + 3] = 0, bad[n + 4] = 1;
    ck_assert_int_eq(decode(bad, n + 5, &b), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cart");
    TCase *tc = tcase_create("cart");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, cart_add_merges_and_caps);
    tcase_add_test(tc, cart_full);
    tcase_add_test(tc, cart_set_removes_in_order);
    tcase_add_test(tc, cart_edits_survive_the_codec);
    tcase_add_test(tc, cart_codec_bounds);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
