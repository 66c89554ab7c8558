/* test_store.c -- the LMDB session store, real, in a temporary directory:
 * compare-and-put, login's atomic key move, deletion, both kinds of
 * reclamation, and eight processes racing on one record. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "session/store.h"

static char dir[64], spec[96];
static const struct store_options opt = {.nosync = 1, .map_size = 16 << 20,
                                         .gc_foreground = 8};

static struct store *store_fresh(void)
{
    char err[256];
    struct store *st;

    strcpy(dir, "/tmp/nori-test-store.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(spec, sizeof spec, "lmdb:%s/sessions", dir);
    st = store_open(spec, &opt, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    return st;
}

static void store_gone(struct store *st)
{
    char cmd[128];

    store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static enum store_err put(struct store *st, const char *key, const char *val,
                          uint64_t expect, uint64_t expires, uint64_t now,
                          uint64_t *version, unsigned *reclaimed)
{
    struct store_write w = {.key = key, .rec = val, .len = strlen(val),
                            .expect = expect, .expires = expires};
    return store_put(st, &w, now, version, reclaimed);
}

START_TEST(compare_and_put)
{
    struct store *st = store_fresh();
    char buf[64];
    size_t len;
    uint64_t v, got;

    ck_assert_int_eq(store_get(st, "k1", buf, sizeof buf, &len, &got), STORE_ENOTFOUND);
    ck_assert_int_eq(put(st, "k1", "one", 0, 2000, 1000, &v, NULL), STORE_OK);
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(store_get(st, "k1", buf, sizeof buf, &len, &got), STORE_OK);
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(memcmp(buf, "one", 3), 0);
    ck_assert_uint_eq(got, 1);
    /* New on an existing key, and a stale version: both conflicts. */
    ck_assert_int_eq(put(st, "k1", "new", 0, 2000, 1000, &v, NULL), STORE_ECONFLICT);
    ck_assert_int_eq(put(st, "k1", "two", 1, 2000, 1000, &v, NULL), STORE_OK);
    ck_assert_uint_eq(v, 2);
    ck_assert_int_eq(put(st, "k1", "old", 1, 2000, 1000, &v, NULL), STORE_ECONFLICT);
    ck_assert_int_eq(store_get(st, "k1", buf, sizeof buf, &len, &got), STORE_OK);
    ck_assert_int_eq(memcmp(buf, "two", 3), 0);
    ck_assert_uint_eq(got, 2);
    /* A record larger than the caller's buffer is an error, not a cut. */
    ck_assert_int_eq(store_get(st, "k1", buf, 2, &len, &got), STORE_EIO);
    ck_assert_int_eq(store_del(st, "k1"), STORE_OK);
    ck_assert_int_eq(store_get(st, "k1", buf, sizeof buf, &len, &got), STORE_ENOTFOUND);
    ck_assert_int_eq(store_del(st, "k1"), STORE_ENOTFOUND);
    store_gone(st);
}
END_TEST

START_TEST(login_moves_the_key_atomically)
{
    struct store *st = store_fresh();
    char buf[64];
    size_t len, records, bytes;
    uint64_t v, got;

    ck_assert_int_eq(put(st, "old", "cart", 0, 2000, 1000, &v, NULL), STORE_OK);
    /* A stale version of the old key: nothing happens at all. */
    struct store_write w = {.key = "new", .rec = "cart+user", .len = 9,
                            .expect = 0, .expires = 2000,
                            .drop_key = "old", .drop_expect = 7};
    ck_assert_int_eq(store_put(st, &w, 1000, &v, NULL), STORE_ECONFLICT);
    ck_assert_int_eq(store_get(st, "new", buf, sizeof buf, &len, &got), STORE_ENOTFOUND);
    ck_assert_int_eq(store_get(st, "old", buf, sizeof buf, &len, &got), STORE_OK);
    w.drop_expect = 1;
    ck_assert_int_eq(store_put(st, &w, 1000, &v, NULL), STORE_OK);
    ck_assert_int_eq(store_get(st, "old", buf, sizeof buf, &len, &got), STORE_ENOTFOUND);
    ck_assert_int_eq(store_get(st, "new", buf, sizeof buf, &len, &got), STORE_OK);
    ck_assert_int_eq(store_stat(st, &records, &bytes), STORE_OK);
    ck_assert_uint_eq(records, 1);
    store_gone(st);
}
END_TEST

START_TEST(reclamation)
{
    struct store *st = store_fresh();
    char key[16];
    size_t records, bytes;
    unsigned n;
    uint64_t v;

    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "dead%02d", i);
        ck_assert_int_eq(put(st, key, "x", 0, 1500, 1000, &v, NULL), STORE_OK);
    }
    ck_assert_int_eq(put(st, "alive", "x", 0, 9000, 1000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);                    /* nothing expired yet */
    /* Foreground: each commit after expiry reclaims gc_foreground. */
    ck_assert_int_eq(put(st, "later", "x", 0, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 8);
    ck_assert_int_eq(store_stat(st, &records, &bytes), STORE_OK);
    ck_assert_uint_eq(records, 22 - 8);
    /* Background: at most max, at most once per interval. */
    ck_assert_int_eq(store_sweep(st, 2000, 2000000, 1000, 5, &n), STORE_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(store_sweep(st, 2000, 2000500, 1000, 100, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);                    /* another worker's turn */
    ck_assert_int_eq(store_sweep(st, 2000, 2001000, 1000, 100, &n), STORE_OK);
    ck_assert_uint_eq(n, 7);                    /* the rest, not the living */
    ck_assert_int_eq(store_stat(st, &records, &bytes), STORE_OK);
    ck_assert_uint_eq(records, 2);
    store_gone(st);
}
END_TEST

START_TEST(bad_specs_are_refused)
{
    char err[256];

    ck_assert_ptr_null(store_open("redis://x", &opt, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "lmdb:"));
    ck_assert_ptr_null(store_open("lmdb:", &opt, err, sizeof err));
    ck_assert_ptr_null(store_open("lmdb:/proc/nori/x", &opt, err, sizeof err));
}
END_TEST

/* Eight processes, each opening the store itself after the fork, each
 * adding 1 to one counter 200 times by compare-and-put, retrying on
 * conflicts: nothing may be lost. */
#define RACERS 8
#define ROUNDS 200

static int race(void)
{
    char err[256], buf[32];
    struct store *st = store_open(spec, &opt, err, sizeof err);
    size_t len;
    uint64_t v, nv;

    if (st == NULL)
        return 2;
    for (int i = 0; i < ROUNDS;) {
        if (store_get(st, "count", buf, sizeof buf - 1, &len, &v) != STORE_OK)
            return 3;
        buf[len] = '\0';
        char next[32];
        snprintf(next, sizeof next, "%lu", strtoul(buf, NULL, 10) + 1);
        enum store_err e = put(st, "count", next, v, 9000, 1000, &nv, NULL);
        if (e == STORE_OK)
            i++;
        else if (e != STORE_ECONFLICT)
            return 4;
    }
    store_close(st);
    return 0;
}

START_TEST(racing_processes_lose_nothing)
{
    struct store *st = store_fresh();
    char buf[32];
    size_t len;
    uint64_t v;
    pid_t pids[RACERS];
    int status;

    ck_assert_int_eq(put(st, "count", "0", 0, 9000, 1000, &v, NULL), STORE_OK);
    for (int i = 0; i < RACERS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0)
            _exit(race());
    }
    for (int i = 0; i < RACERS; i++) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    ck_assert_int_eq(store_get(st, "count", buf, sizeof buf - 1, &len, &v), STORE_OK);
    buf[len] = '\0';
    ck_assert_str_eq(buf, "1600");
    ck_assert_uint_eq(v, 1 + RACERS * ROUNDS);
    store_gone(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("lmdb");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, compare_and_put);
    tcase_add_test(tc, login_moves_the_key_atomically);
    tcase_add_test(tc, reclamation);
    tcase_add_test(tc, bad_specs_are_refused);
    tcase_add_test(tc, racing_processes_lose_nothing);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
