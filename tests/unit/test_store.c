/* test_store.c -- the LMDB session store, real, in a temporary directory:
 * compare-and-put, login's atomic key move, deletion, both kinds of
 * reclamation, bad specs, and eight processes racing on one record.
 *
 * Every test runs in its own directory and its own process (libcheck's
 * fork mode), and a process that forks closes its store first: LMDB
 * environments must not cross a fork. */
#include <check.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcgi/stats.h"
#include "session/memory.h"
#include "session/store.h"
#include "session/storespec.h"

static char root[64], dir[96], spec[128];
static const struct store_options opt = {.nosync = 1, .map_size = 16 << 20,
                                         .gc_foreground = 8};

/* ---- helpers ---- */

static struct store *store_reopen(void)
{
    char err[256] = "";
    struct store *st = store_open(spec, &opt, err, sizeof err);

    ck_assert_msg(st != NULL, "%s", err);
    return st;
}

/* A directory of the test's own under root, which main removes whatever
 * happened (a failed assertion skips store_gone). */
static void dir_fresh(void)
{
    snprintf(dir, sizeof dir, "%s/t.XXXXXX", root);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static struct store *store_fresh(void)
{
    dir_fresh();
    snprintf(spec, sizeof spec, "lmdb:%s/sessions", dir);
    return store_reopen();
}

static void store_gone(struct store *st)
{
    char cmd[128];

    store_close(st);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
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

/* The record at key is exactly `want` at version `v`. */
static void assert_record(struct store *st, const char *key, const char *want,
                          uint64_t v)
{
    char buf[256];
    size_t len = 0;
    uint64_t got = 0;

    ck_assert_msg(store_get(st, key, buf, sizeof buf, &len, &got) == STORE_OK,
                  "%s: missing", key);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_int_eq(memcmp(buf, want, len), 0);
    ck_assert_uint_eq(got, v);
}

static void assert_absent(struct store *st, const char *key)
{
    char buf[256];
    size_t len;
    uint64_t got;

    ck_assert_msg(store_get(st, key, buf, sizeof buf, &len, &got) == STORE_ENOTFOUND,
                  "%s: still there", key);
}

static size_t records(struct store *st)
{
    size_t n = (size_t)-1, bytes = 0;

    ck_assert_int_eq(store_stat(st, &n, &bytes), STORE_OK);
    ck_assert_uint_gt(bytes, 0);
    return n;
}

/* ---- compare-and-put ---- */

START_TEST(get_missing_is_not_found)
{
    struct store *st = store_fresh();
    char buf[64];
    size_t len = 77;
    uint64_t v = 77;

    ck_assert_int_eq(store_get(st, "nobody", buf, sizeof buf, &len, &v),
                     STORE_ENOTFOUND);
    ck_assert_uint_eq(records(st), 0);
    store_gone(st);
}
END_TEST

START_TEST(compare_and_put)
{
    struct store *st = store_fresh();
    uint64_t v = 0;
    unsigned n = 99;

    /* New: version 1, readable as written. */
    ck_assert_int_eq(put(st, "k1", "one", 0, 2000, 1000, &v, &n), STORE_OK);
    ck_assert_uint_eq(v, 1);
    ck_assert_uint_eq(n, 0);
    assert_record(st, "k1", "one", 1);
    /* New on an existing key: a conflict, nothing changed. */
    ck_assert_int_eq(put(st, "k1", "new", 0, 2000, 1000, &v, NULL), STORE_ECONFLICT);
    assert_record(st, "k1", "one", 1);
    /* The version read: accepted, one more. */
    ck_assert_int_eq(put(st, "k1", "two", 1, 2000, 1000, &v, NULL), STORE_OK);
    ck_assert_uint_eq(v, 2);
    assert_record(st, "k1", "two", 2);
    /* A stale version, and one from the future: conflicts. */
    ck_assert_int_eq(put(st, "k1", "old", 1, 2000, 1000, &v, NULL), STORE_ECONFLICT);
    ck_assert_int_eq(put(st, "k1", "fut", 3, 2000, 1000, &v, NULL), STORE_ECONFLICT);
    assert_record(st, "k1", "two", 2);
    /* An existing version on a key that does not exist: a conflict too
     * (the record was deleted, or reclaimed, since it was read). */
    ck_assert_int_eq(put(st, "k2", "x", 1, 2000, 1000, &v, NULL), STORE_ECONFLICT);
    assert_absent(st, "k2");
    /* Keys are independent. */
    ck_assert_int_eq(put(st, "k2", "other", 0, 2000, 1000, &v, NULL), STORE_OK);
    ck_assert_uint_eq(v, 1);
    assert_record(st, "k1", "two", 2);
    ck_assert_uint_eq(records(st), 2);
    /* NULL out-pointers are allowed. */
    ck_assert_int_eq(put(st, "k2", "again", 1, 2000, 1000, NULL, NULL), STORE_OK);
    assert_record(st, "k2", "again", 2);
    /* An empty record is a record. */
    ck_assert_int_eq(put(st, "k3", "", 0, 2000, 1000, &v, NULL), STORE_OK);
    assert_record(st, "k3", "", 1);
    store_gone(st);
}
END_TEST

START_TEST(records_outlive_the_handle)
{
    struct store *st = store_fresh();
    uint64_t v;

    ck_assert_int_eq(put(st, "k", "kept", 0, 2000, 1000, &v, NULL), STORE_OK);
    ck_assert_int_eq(put(st, "k", "kept2", 1, 2000, 1000, &v, NULL), STORE_OK);
    store_close(st);
    st = store_reopen();
    assert_record(st, "k", "kept2", 2);
    store_gone(st);
}
END_TEST

START_TEST(get_buffer_bounds)
{
    struct store *st = store_fresh();
    static unsigned char big[64 * 1024], back[64 * 1024];
    char buf[8];
    size_t len;
    uint64_t v;

    ck_assert_int_eq(put(st, "k", "12345", 0, 2000, 1000, &v, NULL), STORE_OK);
    /* Exactly big enough: fine. One byte short: an error, not a cut. */
    memset(buf, '#', sizeof buf);
    ck_assert_int_eq(store_get(st, "k", buf, 5, &len, &v), STORE_OK);
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(buf[5], '#');
    memset(buf, '#', sizeof buf);
    ck_assert_int_eq(store_get(st, "k", buf, 4, &len, &v), STORE_EBADRECORD);
    for (size_t i = 0; i < sizeof buf; i++)
        ck_assert_int_eq(buf[i], '#');                 /* nothing copied */
    ck_assert_int_eq(store_get(st, "k", buf, 0, &len, &v), STORE_EBADRECORD);
    /* The largest record a session may be (64 KiB), in and out whole. */
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    struct store_write w = {.key = "big", .rec = big, .len = sizeof big,
                            .expect = 0, .expires = 2000};
    ck_assert_int_eq(store_put(st, &w, 1000, &v, NULL), STORE_OK);
    ck_assert_int_eq(store_get(st, "big", back, sizeof back, &len, &v), STORE_OK);
    ck_assert_uint_eq(len, sizeof big);
    ck_assert_int_eq(memcmp(back, big, sizeof big), 0);
    ck_assert_int_eq(store_get(st, "big", back, sizeof back - 1, &len, &v), STORE_EBADRECORD);
    /* Reads after an error still work (the reader was reset). */
    assert_record(st, "k", "12345", 1);
    store_gone(st);
}
END_TEST

START_TEST(oversized_keys_are_refused)
{
    struct store *st = store_fresh();
    char key[200];
    uint64_t v;

    /* Session keys are 22 characters; lmdb.c bounds them at 64 so that its
     * expiry index entries have a fixed maximum. Refused, not truncated. */
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    ck_assert_int_ne(put(st, key, "x", 0, 2000, 1000, &v, NULL), STORE_OK);
    ck_assert_uint_eq(records(st), 0);
    key[64] = '\0';
    ck_assert_int_eq(put(st, key, "x", 0, 2000, 1000, &v, NULL), STORE_OK);
    assert_record(st, key, "x", 1);
    store_gone(st);
}
END_TEST

START_TEST(store_del_deletes)
{
    struct store *st = store_fresh();
    uint64_t v;
    unsigned n;

    ck_assert_int_eq(put(st, "k1", "one", 0, 1500, 1000, &v, NULL), STORE_OK);
    ck_assert_int_eq(put(st, "k2", "two", 0, 1500, 1000, &v, NULL), STORE_OK);
    ck_assert_int_eq(store_del(st, "k1"), STORE_OK);
    assert_absent(st, "k1");
    assert_record(st, "k2", "two", 1);
    ck_assert_int_eq(store_del(st, "k1"), STORE_ENOTFOUND);
    ck_assert_int_eq(store_del(st, "never"), STORE_ENOTFOUND);
    ck_assert_uint_eq(records(st), 1);
    /* Its expiry index entry went with it: after both expire, a commit
     * reclaims exactly the one record left, not a ghost of the other. */
    ck_assert_int_eq(put(st, "k3", "three", 0, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 1);
    assert_absent(st, "k2");
    /* A deleted key starts over. */
    ck_assert_int_eq(put(st, "k1", "reborn", 0, 9000, 2000, &v, NULL), STORE_OK);
    ck_assert_uint_eq(v, 1);
    store_gone(st);
}
END_TEST

/* An update moves the record's expiry: the old index entry must go, or
 * the live record would be reclaimed at its old expiry. */
START_TEST(updates_move_the_expiry)
{
    struct store *st = store_fresh();
    uint64_t v;
    unsigned n;

    ck_assert_int_eq(put(st, "k", "a", 0, 1500, 1000, &v, NULL), STORE_OK);
    ck_assert_int_eq(put(st, "k", "b", 1, 9000, 1400, &v, NULL), STORE_OK);
    ck_assert_int_eq(put(st, "other", "c", 0, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    assert_record(st, "k", "b", 2);
    /* And shortening it works the other way. */
    ck_assert_int_eq(put(st, "k", "d", 2, 2500, 2000, &v, &n), STORE_OK);
    ck_assert_int_eq(put(st, "other", "e", 1, 9000, 3000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 1);
    assert_absent(st, "k");
    store_gone(st);
}
END_TEST

/* ---- login: one transaction moves a session to a fresh key ---- */

START_TEST(drop_key_moves_atomically)
{
    struct store *st = store_fresh();
    uint64_t v;
    unsigned n;

    ck_assert_int_eq(put(st, "old", "cart", 0, 1500, 1000, &v, NULL), STORE_OK);
    ck_assert_int_eq(put(st, "old", "cart2", 1, 1500, 1000, &v, NULL), STORE_OK);
    struct store_write w = {.key = "new", .rec = "cart+user", .len = 9,
                            .expect = 0, .expires = 9000,
                            .drop_key = "old", .drop_expect = 2};
    ck_assert_int_eq(store_put(st, &w, 1000, &v, NULL), STORE_OK);
    ck_assert_uint_eq(v, 1);
    assert_absent(st, "old");
    assert_record(st, "new", "cart+user", 1);
    ck_assert_uint_eq(records(st), 1);
    /* The old key's expiry entry went too: nothing to reclaim later. */
    ck_assert_int_eq(put(st, "x", "x", 0, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    assert_record(st, "new", "cart+user", 1);
    store_gone(st);
}
END_TEST

START_TEST(drop_key_conflicts_change_nothing)
{
    struct store *st = store_fresh();
    uint64_t v = 0;

    ck_assert_int_eq(put(st, "old", "cart", 0, 2000, 1000, &v, NULL), STORE_OK);
    ck_assert_int_eq(put(st, "taken", "t", 0, 2000, 1000, &v, NULL), STORE_OK);
    struct store_write w = {.key = "new", .rec = "cart+user", .len = 9,
                            .expect = 0, .expires = 2000,
                            .drop_key = "old", .drop_expect = 7};
    /* A stale version of the old key: the whole put fails. */
    ck_assert_int_eq(store_put(st, &w, 1000, &v, NULL), STORE_ECONFLICT);
    assert_absent(st, "new");
    assert_record(st, "old", "cart", 1);
    /* The old key already gone (another worker logged out): conflict. */
    w.drop_key = "vanished";
    w.drop_expect = 1;
    ck_assert_int_eq(store_put(st, &w, 1000, &v, NULL), STORE_ECONFLICT);
    assert_absent(st, "new");
    /* The new key's own check fails: the old key is not dropped. */
    w.key = "taken";
    w.drop_key = "old";
    w.drop_expect = 1;
    ck_assert_int_eq(store_put(st, &w, 1000, &v, NULL), STORE_ECONFLICT);
    assert_record(st, "old", "cart", 1);
    assert_record(st, "taken", "t", 1);
    ck_assert_uint_eq(records(st), 2);
    /* A drop_key that does not exist, expected absent (0): nothing to
     * drop, the put goes through. */
    w.key = "new";
    w.drop_key = "vanished";
    w.drop_expect = 0;
    ck_assert_int_eq(store_put(st, &w, 1000, &v, NULL), STORE_OK);
    assert_record(st, "new", "cart+user", 1);
    assert_record(st, "old", "cart", 1);
    store_gone(st);
}
END_TEST

/* ---- reclamation ---- */

START_TEST(foreground_reclamation)
{
    struct store *st = store_fresh();
    char key[16];
    uint64_t v;
    unsigned n = 99;

    /* 20 records alive when written (now 1000) that are all expired by
     * now 2000, oldest first dead00 (1100) .. dead19 (1119). */
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "dead%02d", i);
        ck_assert_int_eq(put(st, key, "x", 0, 1100 + (uint64_t)i, 1000, &v, &n),
                         STORE_OK);
        ck_assert_uint_eq(n, 0);
    }
    ck_assert_int_eq(put(st, "alive", "x", 0, 9000, 1000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(records(st), 21);
    /* Each commit after their expiry reclaims gc_foreground, oldest
     * first, and says so. */
    ck_assert_int_eq(put(st, "later1", "x", 0, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, opt.gc_foreground);
    ck_assert_uint_eq(records(st), 21 + 1 - 8);
    assert_absent(st, "dead07");
    assert_record(st, "dead08", "x", 1);
    /* A commit that fails reclaims nothing (one transaction). */
    n = 99;
    ck_assert_int_eq(put(st, "alive", "x", 0, 9000, 2000, &v, &n), STORE_ECONFLICT);
    ck_assert_uint_eq(n, 99);
    ck_assert_uint_eq(records(st), 14);
    ck_assert_int_eq(put(st, "later2", "x", 0, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 8);
    ck_assert_uint_eq(records(st), 14 + 1 - 8);
    ck_assert_int_eq(put(st, "later3", "x", 0, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 4);                              /* the rest */
    ck_assert_uint_eq(records(st), 4);
    ck_assert_int_eq(put(st, "later4", "x", 0, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    /* The living were never touched. */
    assert_record(st, "alive", "x", 1);
    assert_record(st, "later1", "x", 1);
    assert_record(st, "later3", "x", 1);
    ck_assert_uint_eq(records(st), 5);
    store_gone(st);
}
END_TEST

/* "Expired before now": a record expiring at exactly now is left for the
 * next commit; one already expired when written is reclaimed by its own
 * commit (the put succeeds, the record does not stay). */
START_TEST(reclamation_boundary)
{
    struct store *st = store_fresh();
    uint64_t v;
    unsigned n;

    ck_assert_int_eq(put(st, "edge", "x", 0, 1000, 1000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    assert_record(st, "edge", "x", 1);
    ck_assert_int_eq(put(st, "next", "x", 0, 9000, 1001, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 1);
    assert_absent(st, "edge");
    ck_assert_int_eq(put(st, "stale", "x", 0, 999, 1001, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 1);
    assert_absent(st, "stale");
    store_gone(st);
}
END_TEST

START_TEST(gc_foreground_zero_reclaims_nothing)
{
    struct store_options o = opt;
    char err[256];
    uint64_t v;
    unsigned n = 99;

    dir_fresh();
    snprintf(spec, sizeof spec, "lmdb:%s/sessions", dir);
    o.gc_foreground = 0;
    struct store *st = store_open(spec, &o, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_int_eq(put(st, "dead", "x", 0, 1100, 1000, &v, &n), STORE_OK);
    ck_assert_int_eq(put(st, "k", "x", 0, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    assert_record(st, "dead", "x", 1);
    /* The sweeper still gets it. */
    ck_assert_int_eq(store_sweep(st, 2000, 1, 1000, 10, &n), STORE_OK);
    ck_assert_uint_eq(n, 1);
    assert_absent(st, "dead");
    store_gone(st);
}
END_TEST

START_TEST(background_sweep)
{
    struct store *st = store_fresh();
    char key[16];
    uint64_t v, ms = 5000000;
    unsigned n = 99;

    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "dead%02d", i);
        ck_assert_int_eq(put(st, key, "x", 0, 1100 + (uint64_t)i, 1000, &v, NULL),
                         STORE_OK);
    }
    ck_assert_int_eq(put(st, "alive1", "x", 0, 9000, 1000, &v, NULL), STORE_OK);
    ck_assert_int_eq(put(st, "alive2", "x", 0, 2001, 1000, &v, NULL), STORE_OK);
    /* Before anything expired: the sweep runs and finds nothing. */
    ck_assert_int_eq(store_sweep(st, 1000, ms, 1000, 100, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(records(st), 22);
    /* Within the interval of that run: nothing, even though due now. */
    ms += 999;
    ck_assert_int_eq(store_sweep(st, 2000, ms, 1000, 100, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(records(st), 22);
    /* A whole interval after it: runs, at most max, oldest first. */
    ms += 1;
    ck_assert_int_eq(store_sweep(st, 2000, ms, 1000, 5, &n), STORE_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_uint_eq(records(st), 17);
    assert_absent(st, "dead04");
    assert_record(st, "dead05", "x", 1);
    /* Another worker in the same interval leaves it alone. */
    ck_assert_int_eq(store_sweep(st, 2000, ms + 500, 1000, 100, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_uint_eq(records(st), 17);
    /* Next interval: the rest, and never the living. */
    ck_assert_int_eq(store_sweep(st, 2000, ms + 1000, 1000, 100, &n), STORE_OK);
    ck_assert_uint_eq(n, 15);
    ck_assert_uint_eq(records(st), 2);
    assert_record(st, "alive1", "x", 1);
    assert_record(st, "alive2", "x", 1);
    ck_assert_int_eq(store_sweep(st, 2000, ms + 5000, 1000, 100, &n), STORE_OK);
    ck_assert_uint_eq(n, 0);
    store_gone(st);
}
END_TEST

/* The interval is shared through the store: a sweep stamped by one
 * process keeps another one's sweep from running. */
START_TEST(sweep_interval_spans_processes)
{
    struct store *st = store_fresh();
    uint64_t v;
    unsigned n;
    int status;
    pid_t pid;

    ck_assert_int_eq(put(st, "dead", "x", 0, 1100, 1000, &v, NULL), STORE_OK);
    ck_assert_int_eq(store_sweep(st, 1000, 10000, 1000, 100, &n), STORE_OK);
    store_close(st);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char err[256];
        struct store *mine = store_open(spec, &opt, err, sizeof err);
        if (mine == NULL)
            _exit(100);
        if (store_sweep(mine, 2000, 10500, 1000, 100, &n) != STORE_OK)
            _exit(101);
        store_close(mine);
        _exit((int)n);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);       /* reclaimed nothing */
    st = store_reopen();
    assert_record(st, "dead", "x", 1);
    ck_assert_int_eq(store_sweep(st, 2000, 11000, 1000, 100, &n), STORE_OK);
    ck_assert_uint_eq(n, 1);
    store_gone(st);
}
END_TEST

/* ---- opening ---- */

START_TEST(bad_specs_are_refused)
{
    char err[256], path[160];
    struct store *st;
    FILE *f;

    static const char *const specs[] = {"not-lmdb:x", "redis://x", "memory:x",
                                        "", "lmdb", "lmdb:", "LMDB:/tmp/x"};
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        err[0] = '\0';
        ck_assert_msg(store_open(specs[i], &opt, err, sizeof err) == NULL,
                      "'%s' accepted", specs[i]);
        ck_assert_msg(err[0] != '\0', "'%s': no message", specs[i]);
    }
    err[0] = '\0';
    ck_assert_ptr_null(store_open("not-lmdb:x", &opt, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "not-lmdb:x"));
    /* A small error buffer is filled, not overrun. */
    char tiny[8];
    memset(tiny, 'Z', sizeof tiny);
    ck_assert_ptr_null(store_open("not-lmdb:x", &opt, tiny, 4));
    ck_assert_uint_eq(strlen(tiny), 3);
    ck_assert_int_eq(tiny[4], 'Z');

    /* Paths that cannot hold a store: under /proc (unwritable even for
     * root), under a regular file, and a regular file itself. */
    err[0] = '\0';
    ck_assert_ptr_null(store_open("lmdb:/proc/nori/x", &opt, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "/proc/nori/x"));
    dir_fresh();
    snprintf(path, sizeof path, "%s/file", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fputs("not a database\n", f);
    fclose(f);
    snprintf(spec, sizeof spec, "lmdb:%s/file/sub", dir);
    err[0] = '\0';
    ck_assert_ptr_null(store_open(spec, &opt, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "file/sub"));
    snprintf(spec, sizeof spec, "lmdb:%s/file", dir);
    err[0] = '\0';
    ck_assert_ptr_null(store_open(spec, &opt, err, sizeof err));
    ck_assert_uint_gt(strlen(err), 0);
    /* A good path next to them still opens. */
    snprintf(spec, sizeof spec, "lmdb:%s/a/b/c", dir);
    st = store_reopen();
    store_gone(st);
}
END_TEST

/* store_spec_check agrees with store_open on what is refused, and makes a
 * good spec's directory and keeps it: the supervisor checks before its
 * workers start, and a check that removed what it made raced with a
 * worker opening the store (issue 21, item 10). It opens no store. */
START_TEST(spec_check_refuses_what_open_refuses)
{
    char err[256], path[200], good[220];
    FILE *f;
    struct stat sb;

    static const char *const bad[] = {"not-lmdb:x", "redis+nothing://x", "memcached:x",
                                      "", "lmdb", "lmdb:", "LMDB:/tmp/x",
                                      "lmdb:/proc/nori/x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        ck_assert_msg(store_spec_check(bad[i], err, sizeof err) < 0, "'%s' passed", bad[i]);
        ck_assert_msg(err[0] != '\0', "'%s': no reason", bad[i]);
    }
    dir_fresh();
    snprintf(path, sizeof path, "%s/file", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fclose(f);
    snprintf(good, sizeof good, "lmdb:%s/sub", path);
    ck_assert_int_lt(store_spec_check(good, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "file/sub"));
    snprintf(good, sizeof good, "lmdb:%s", path);
    ck_assert_int_lt(store_spec_check(good, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "not a directory"));

    snprintf(good, sizeof good, "lmdb:%s/x/y", dir);
    ck_assert_int_eq(store_spec_check(good, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/x/y", dir);
    ck_assert_int_eq(stat(path, &sb), 0);       /* made, and kept */
    ck_assert(S_ISDIR(sb.st_mode));
    snprintf(path, sizeof path, "%s/x/y/data.mdb", dir);
    ck_assert_int_ne(stat(path, &sb), 0);       /* but no store opened */
    snprintf(good, sizeof good, "lmdb:%s/x/y", dir);
    ck_assert_int_eq(store_spec_check(good, err, sizeof err), 0);   /* again */
    ck_assert_int_eq(store_spec_check("lmdb:/", err, sizeof err), 0);
}
END_TEST

/* ---- eight processes, one counter ---- */

#define RACERS 8
#define ROUNDS 200

static void u64_put(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t u64_get(const unsigned char *b)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* One racer: opens the store itself (after the fork), adds 1 to the
 * counter ROUNDS times by compare-and-put, retrying on conflicts, and
 * counts its conflicts in shared memory. The exit code says what broke. */
static int race(atomic_ulong *conflicts)
{
    char err[256];
    unsigned char buf[16], next[8];
    struct store *st = store_open(spec, &opt, err, sizeof err);
    size_t len;
    uint64_t v, nv;

    if (st == NULL)
        return 2;
    for (int i = 0; i < ROUNDS;) {
        if (store_get(st, "count", buf, sizeof buf, &len, &v) != STORE_OK ||
            len != 8)
            return 3;
        u64_put(next, u64_get(buf) + 1);
        struct store_write w = {.key = "count", .rec = next, .len = 8,
                                .expect = v, .expires = 9000};
        enum store_err e = store_put(st, &w, 1000, &nv, NULL);
        if (e == STORE_OK) {
            if (nv != v + 1)
                return 5;
            i++;
        } else if (e == STORE_ECONFLICT) {
            atomic_fetch_add(conflicts, 1);
        } else {
            return 4;
        }
    }
    store_close(st);
    return 0;
}

/* Redis specs are checked when opened, before any connection: a good
 * one opens (Redis need not be up), a bad one is refused with a reason. */
START_TEST(redis_specs)
{
    static const char *const good[] = {
        "redis://127.0.0.1:6379", "redis://localhost:1/15", "redis://:s3cret@h:6379/2",
        "redis://[::1]:6380", "redis+unix:///run/redis.sock", "redis+unix:///r.sock?db=4",
        "redis-sentinel://10.0.0.1:26379/shop",
        "redis-sentinel://:pw@a:26379,b:26380,[::1]:26381/my-master.1/3",
    };
    static const char *const bad[] = {
        "redis://", "redis://host", "redis://host:", "redis://host:0", "redis://host:65536",
        "redis://host:6379/", "redis://host:6379/x", "redis://host:6379/-1",
        "redis://:@host:6379", "redis://:pw", "redis://ho/st:6379", "redis://:6379",
        "redis+unix://", "redis+unix://relative.sock", "redis+unix:///r.sock?db=",
        "redis+unix:///r.sock?database=1", "redis-sentinel://h:26379",
        "redis-sentinel://h:26379/", "redis-sentinel:///master", "redis-sentinel://h/master",
        "redis-sentinel://h:26379/bad name", "redis-sentinel://h:1,/m", "rediss://h:6379?x=1",
    };
    struct store_options ro = opt;
    char err[512];
    struct store *st;

    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        err[0] = '\0';
        st = store_open(good[i], &ro, err, sizeof err);
        ck_assert_msg(st != NULL, "'%s' refused: %s", good[i], err);
        ck_assert_str_eq(store_backend(st), "redis");
        ck_assert_int_eq(store_sweeps(st), 0);
        store_close(st);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        ck_assert_msg(store_open(bad[i], &ro, err, sizeof err) == NULL, "'%s' accepted", bad[i]);
        ck_assert_msg(err[0] != '\0', "'%s': no message", bad[i]);
    }
    char longp[200];
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    ro.redis_prefix = longp;
    ck_assert_ptr_null(store_open("redis://h:1", &ro, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "NORI_REDIS_PREFIX"));
}
END_TEST

/* Nothing listens on the port: every call says "down", at once, and
 * nothing is pretended. */
START_TEST(redis_down_is_edown)
{
    char err[256], buf[64];
    size_t len, n, bytes;
    uint64_t v;
    struct store *st = store_open("redis+unix:///nonexistent/nori-test.sock", &opt,
                                  err, sizeof err);

    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_int_eq(store_get(st, "k", buf, sizeof buf, &len, &v), STORE_EDOWN);
    ck_assert_int_eq(put(st, "k", "x", 0, 2000, 1000, &v, NULL), STORE_EDOWN);
    ck_assert_int_eq(store_del(st, "k"), STORE_EDOWN);
    ck_assert_int_eq(store_stat(st, &n, &bytes), STORE_EDOWN);
    store_close(st);
}
END_TEST

/* The memory store: the same compare-and-put and login move, its own
 * bound, and reclamation by commits (it has no sweeper). */
START_TEST(memory_store)
{
    struct store_options mo = opt;
    char err[256];
    uint64_t v;
    unsigned n;
    size_t recs, bytes;

    mo.memory_max = 4;
    mo.gc_foreground = 2;
    struct store *st = store_open("memory", &mo, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_str_eq(store_backend(st), "memory");
    ck_assert_int_eq(store_sweeps(st), 0);
    ck_assert_int_eq(put(st, "a", "one", 0, 2000, 1000, &v, &n), STORE_OK);
    ck_assert_uint_eq(v, 1);
    ck_assert_int_eq(put(st, "a", "two", 0, 2000, 1000, &v, &n), STORE_ECONFLICT);
    ck_assert_int_eq(put(st, "a", "two", 1, 2000, 1000, &v, &n), STORE_OK);
    assert_record(st, "a", "two", 2);
    /* Login: b replaces a at once, or nothing happens. */
    struct store_write w = {.key = "b", .rec = "three", .len = 5, .expect = 0,
                            .expires = 2000, .drop_key = "a", .drop_expect = 1};
    ck_assert_int_eq(store_put(st, &w, 1000, &v, &n), STORE_ECONFLICT);
    assert_record(st, "a", "two", 2);
    w.drop_expect = 2;
    ck_assert_int_eq(store_put(st, &w, 1000, &v, &n), STORE_OK);
    assert_absent(st, "a");
    assert_record(st, "b", "three", 1);
    ck_assert_int_eq(store_del(st, "b"), STORE_OK);
    ck_assert_int_eq(store_del(st, "b"), STORE_ENOTFOUND);
    /* Full of live sessions: a new one is refused, an update is not. */
    ck_assert_int_eq(put(st, "c1", "x", 0, 1500, 1000, &v, &n), STORE_OK);
    ck_assert_int_eq(put(st, "c2", "x", 0, 1500, 1000, &v, &n), STORE_OK);
    ck_assert_int_eq(put(st, "c3", "x", 0, 1500, 1000, &v, &n), STORE_OK);
    ck_assert_int_eq(put(st, "c4", "x", 0, 9000, 1000, &v, &n), STORE_OK);
    ck_assert_int_eq(put(st, "c5", "x", 0, 9000, 1000, &v, &n), STORE_EFULL);
    ck_assert_int_eq(put(st, "c4", "y", 1, 9000, 1000, &v, &n), STORE_OK);
    ck_assert_int_eq(store_stat(st, &recs, &bytes), STORE_OK);
    ck_assert_uint_eq(recs, 4);
    ck_assert_uint_gt(bytes, 0);
    /* Once c1..c3 expired, a commit reclaims up to gc_foreground of them,
     * and a new session finds room by reclaiming the rest. */
    ck_assert_int_eq(put(st, "c4", "z", 2, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(put(st, "c5", "x", 0, 9000, 2000, &v, &n), STORE_OK);
    ck_assert_int_eq(put(st, "c6", "x", 0, 9000, 2000, &v, &n), STORE_OK);
    assert_absent(st, "c1");
    assert_absent(st, "c3");
    assert_record(st, "c4", "z", 3);
    ck_assert_int_eq(store_stat(st, &recs, &bytes), STORE_OK);
    ck_assert_uint_eq(recs, 3);
    store_close(st);
}
END_TEST

/* A memory store closed on the way out counts the live records it
 * drops in sessions_lost, and not the expired ones. */
START_TEST(memory_close_counts_lost_sessions)
{
    struct store_options mo = opt;
    char err[256], path[160], key[16];
    uint64_t now = (uint64_t)time(NULL), v;
    unsigned n;

    dir_fresh();
    snprintf(path, sizeof path, "%s/stats", dir);
    struct stats *stats = stats_open(path, 1);
    ck_assert_ptr_nonnull(stats);
    stats_add(stats, STAT_SESSIONS_LOST, 7);    /* an earlier worker's */
    mo.stats = stats;
    mo.gc_foreground = 0;                       /* the expired ones stay */
    struct store *st = store_open("memory", &mo, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof key, "live%d", i);
        ck_assert_int_eq(put(st, key, "x", 0, now + 3600, now, &v, &n), STORE_OK);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof key, "old%d", i);
        ck_assert_int_eq(put(st, key, "x", 0, now - 10, now - 20, &v, &n), STORE_OK);
    }
    ck_assert_int_eq(store_del(st, "live0"), STORE_OK);   /* ended: not lost */
    ck_assert_uint_eq(stats_get(stats, STAT_SESSIONS_LOST), 7);
    store_close(st);
    ck_assert_uint_eq(stats_get(stats, STAT_SESSIONS_LOST), 7 + 4);
    /* Without a handle, a close counts nowhere and still frees. */
    mo.stats = NULL;
    st = store_open("memory", &mo, err, sizeof err);
    ck_assert_int_eq(put(st, "k", "x", 0, now + 3600, now, &v, &n), STORE_OK);
    store_close(st);
    ck_assert_uint_eq(stats_get(stats, STAT_SESSIONS_LOST), 7 + 4);
    stats_close(stats);
    store_gone(NULL);
}
END_TEST

/* Every memory store keeps DIR/memory.PID current: a killed worker's
 * count is claimed from it by memory_claim_orphans (which removes it),
 * and a store that counted itself at close leaves none behind. */
START_TEST(memory_publishes_for_the_claimant)
{
    struct store_options mo = opt;
    char err[256], path[160];
    uint64_t now = (uint64_t)time(NULL), v;
    unsigned n;
    struct stat sb;
    pid_t pid;
    int status;

    dir_fresh();
    snprintf(path, sizeof path, "%s/memory.%ld", dir, (long)getpid());
    mo.orphan_dir = dir;
    /* A file left by a dead process of the same pid starts again at 0. */
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("stale bytes, more than sixteen of them", f);
    fclose(f);
    struct store *st = store_open("memory", &mo, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq(sb.st_mode & 0777, 0600);
    ck_assert_uint_eq(sb.st_size, 24);
    /* Its own file is not claimed while it runs. */
    ck_assert_uint_eq(memory_claim_orphans(dir, 0, now, NULL, ""), 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    store_close(st);
    ck_assert_int_eq(stat(path, &sb), -1);          /* counted itself: gone */
    ck_assert_uint_eq(memory_claim_orphans(dir, getpid(), now, NULL, ""), 0);

    /* A child that dies without closing: its count survives it. */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct store *cs = store_open("memory", &mo, err, sizeof err);
        int ok = cs != NULL &&
                 put(cs, "a", "x", 0, now + 3600, now, &v, &n) == STORE_OK &&
                 put(cs, "b", "x", 0, now + 3600, now, &v, &n) == STORE_OK &&
                 put(cs, "c", "x", 0, now + 3600, now, &v, &n) == STORE_OK &&
                 put(cs, "d", "x", 0, now + 3600, now, &v, &n) == STORE_OK &&
                 store_del(cs, "d") == STORE_OK;
        _exit(ok ? 0 : 1);                          /* no store_close */
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(path, sizeof path, "%s/memory.%ld", dir, (long)pid);
    ck_assert_int_eq(stat(path, &sb), 0);
    /* Once every record it held has expired, nothing live was lost. */
    ck_assert_uint_eq(memory_claim_orphans(dir, pid, now + 3600, NULL, ""), 0);
    ck_assert_int_eq(stat(path, &sb), -1);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct store *cs = store_open("memory", &mo, err, sizeof err);
        int ok = cs != NULL &&
                 put(cs, "a", "x", 0, now + 3600, now, &v, &n) == STORE_OK &&
                 put(cs, "b", "x", 0, now + 3600, now, &v, &n) == STORE_OK &&
                 put(cs, "b", "y", 1, now + 3600, now, &v, &n) == STORE_OK;
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_uint_eq(memory_claim_orphans(dir, 0, now, NULL, ""), 2);
    ck_assert_uint_eq(memory_claim_orphans(dir, pid, now, NULL, ""), 0);    /* once */
    store_gone(NULL);
}
END_TEST

/* A child with a memory store of `records` live records that, told to
 * (a byte to read on go; -1: at once), dies without closing it. Its pid. */
static pid_t memory_child(const struct store_options *mo, unsigned records, int go)
{
    uint64_t now = (uint64_t)time(NULL), v;
    unsigned n;
    char err[256], key[16], c;
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct store *cs = store_open("memory", mo, err, sizeof err);
        int ok = cs != NULL;
        for (unsigned i = 0; ok && i < records; i++) {
            snprintf(key, sizeof key, "k%u", i);
            ok = put(cs, key, "x", 0, now + 3600, now, &v, &n) == STORE_OK;
        }
        if (go >= 0 && read(go, &c, 1) < 0)
            ok = 0;
        _exit(ok ? 0 : 1);
    }
    return pid;
}

/* Until pid's DIR/memory.PID says it holds `records` (libcheck's
 * timeout bounds the wait). */
static void memory_wait_records(pid_t pid, uint64_t records)
{
    char path[160];
    uint64_t held = 0;
    int fd;

    snprintf(path, sizeof path, "%s/memory.%ld", dir, (long)pid);
    while (held < records) {
        usleep(1000);
        if ((fd = open(path, O_RDONLY)) < 0)
            continue;
        if (pread(fd, &held, 8, 0) != 8)
            held = 0;
        close(fd);
    }
}

static void reap_ok(pid_t pid)
{
    int status;

    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A live worker's file is its own, unless the pid it names now belongs
 * to a process started at another time (the writer died and the pid was
 * reused): then it is claimed. */
START_TEST(memory_claim_guards_pid_reuse)
{
    struct store_options mo = opt;
    char path[160];
    uint64_t now = (uint64_t)time(NULL), started;
    int go[2];
    pid_t pid;

    dir_fresh();
    mo.orphan_dir = dir;
    ck_assert_int_eq(pipe(go), 0);
    pid = memory_child(&mo, 2, go[0]);
    memory_wait_records(pid, 2);
    snprintf(path, sizeof path, "%s/memory.%ld", dir, (long)pid);
    int fd;
    ck_assert_uint_eq(memory_claim_orphans(dir, 0, now, NULL, ""), 0);
    ck_assert_uint_eq(memory_claim_orphans(dir, pid, now, NULL, ""), 0);
    ck_assert_int_eq(access(path, F_OK), 0);
    /* The same pid, another start time: an earlier process's file. */
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &started, 8, 16), 8);
    ck_assert_uint_ne(started, 0);
    started++;
    ck_assert_int_eq(pwrite(fd, &started, 8, 16), 8);
    close(fd);
    ck_assert_uint_eq(memory_claim_orphans(dir, 0, now, NULL, ""), 2);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(write(go[1], "x", 1), 1);
    reap_ok(pid);
    store_gone(NULL);
}
END_TEST

/* Several claimants at once (workers starting together after a kill of
 * several): every dead worker's sessions are counted exactly once. */
START_TEST(memory_claims_count_once)
{
    struct store_options mo = opt;
    char path[160];
    uint64_t now = (uint64_t)time(NULL);
    enum { DEAD = 4, CLAIMANTS = 6 };
    pid_t claimant[CLAIMANTS];
    int go[2];

    pid_t dead[DEAD];
    int die[2];

    dir_fresh();
    mo.orphan_dir = dir;
    /* Alive together until each has published (a store that opens claims
     * the files of those already dead), then all gone. */
    ck_assert_int_eq(pipe(die), 0);
    for (unsigned i = 0; i < DEAD; i++)
        dead[i] = memory_child(&mo, i + 1, die[0]);     /* 1 + 2 + 3 + 4 */
    for (unsigned i = 0; i < DEAD; i++)
        memory_wait_records(dead[i], i + 1);
    ck_assert_int_eq(write(die[1], "xxxx", DEAD), DEAD);   /* a byte each */
    for (unsigned i = 0; i < DEAD; i++)
        reap_ok(dead[i]);
    close(die[0]);
    close(die[1]);
    snprintf(path, sizeof path, "%s/stats", dir);
    struct stats *stats = stats_open(path, 1);
    ck_assert_ptr_nonnull(stats);
    ck_assert_int_eq(pipe(go), 0);
    for (int i = 0; i < CLAIMANTS; i++) {
        claimant[i] = fork();
        ck_assert_int_ge(claimant[i], 0);
        if (claimant[i] == 0) {
            char c;
            close(go[1]);
            int ok = read(go[0], &c, 1) == 0;     /* all at once, at EOF */
            memory_claim_orphans(dir, 0, now, stats, "");
            _exit(ok ? 0 : 1);
        }
    }
    close(go[0]);
    close(go[1]);
    for (int i = 0; i < CLAIMANTS; i++)
        reap_ok(claimant[i]);
    ck_assert_uint_eq(stats_get(stats, STAT_SESSIONS_LOST), 10);
    ck_assert_uint_eq(memory_claim_orphans(dir, 0, now, stats, ""), 0);
    stats_close(stats);
    store_gone(NULL);
}
END_TEST

START_TEST(racing_processes_lose_nothing)
{
    struct store *st = store_fresh();
    unsigned char buf[16], zero[8] = {0};
    size_t len;
    uint64_t v;
    pid_t pids[RACERS];
    int status;
    atomic_ulong *conflicts = mmap(NULL, sizeof *conflicts,
                                   PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(conflicts, MAP_FAILED);
    atomic_init(conflicts, 0);
    struct store_write w = {.key = "count", .rec = zero, .len = 8,
                            .expect = 0, .expires = 9000};
    ck_assert_int_eq(store_put(st, &w, 1000, &v, NULL), STORE_OK);
    store_close(st);                        /* never across a fork */
    for (int i = 0; i < RACERS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0)
            _exit(race(conflicts));
    }
    for (int i = 0; i < RACERS; i++) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status));
        ck_assert_int_eq(WEXITSTATUS(status), 0);
    }
    st = store_reopen();
    ck_assert_int_eq(store_get(st, "count", buf, sizeof buf, &len, &v), STORE_OK);
    ck_assert_uint_eq(len, 8);
    ck_assert_uint_eq(u64_get(buf), RACERS * ROUNDS);
    ck_assert_uint_eq(v, 1 + RACERS * ROUNDS);
    /* Not an assertion: whether the racers collided depends on timing. */
    printf("racing_processes_lose_nothing: %d x %d increments, %lu conflicts\n",
           RACERS, ROUNDS, (unsigned long)atomic_load(conflicts));
    munmap(conflicts, sizeof *conflicts);
    store_gone(st);
}
END_TEST

/* ---- store specs: parsed, checked, masked (storespec.h) ---- */

/* What once passed nori check and failed at the first add. */
START_TEST(spec_check_refuses_malformed_redis)
{
    static const char *const bad[] = {
        "redis://127.0.0.1:99999", "redis://:6379", "redis://:s3cret@:6379",
        "redis://h:6379?ca=/x", "rediss://h:6379?verify=off", "rediss://h:1?cert=/c",
        "redis://:bad%zzpass@h:1", "redis://:a%00b@h:1", "redis://:pw%4@h:1",
        "redis-sentinel://h:99999/m", "redis+unix:///r.sock?db=99999",
        "redis://ho st:1", "lmdb:/tmp/a\nb", "memcached://h:1",
    };
    char err[512];

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        ck_assert_msg(store_spec_check(bad[i], err, sizeof err) < 0, "'%s' passed", bad[i]);
        ck_assert_msg(err[0] != '\0', "'%s': no reason", bad[i]);
        ck_assert_msg(strchr(err, '\n') == NULL, "'%s': a newline in the reason", bad[i]);
    }
    ck_assert_int_lt(store_spec_check("redis://127.0.0.1:99999", err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "99999"));
    ck_assert_ptr_nonnull(strstr(err, "65535"));
    ck_assert_int_lt(store_spec_check("redis://:6379", err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "no host"));
    ck_assert_int_lt(store_spec_check("rediss://h:1?ca=/nonexistent/ca.pem", err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/ca.pem"));
    /* Reasons never carry the secret, whatever is wrong. */
    static const char *const secret[] = {
        "redis://:hunter2@h:99999", "redis://:hunter2@:1", "redis://u:hunter2@h:1/x",
        "redis-sentinel://:hunter2@h:1/bad name", "redis://:hunter2@h:1?x=y",
        "nosuch://:hunter2@h:1", "redis://:hunter2%zz@h:1",
    };
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++) {
        ck_assert_int_lt(store_spec_check(secret[i], err, sizeof err), 0);
        ck_assert_msg(strstr(err, "hunter2") == NULL, "'%s': %s", secret[i], err);
        ck_assert_ptr_null(store_open(secret[i], &opt, err, sizeof err));
        ck_assert_msg(strstr(err, "hunter2") == NULL, "open '%s': %s", secret[i], err);
    }
}
END_TEST

START_TEST(spec_parse_parts)
{
    struct store_spec sp;
    char err[256];

    ck_assert_int_eq(store_spec_parse("redis://:p%40ss%2Fw%25rd@h:6379/2", &sp, err, sizeof err), 0);
    ck_assert_int_eq(sp.kind, SPEC_REDIS);
    ck_assert_str_eq(sp.secret, "p@ss/w%rd");
    ck_assert_str_eq(sp.user, "");
    ck_assert_str_eq(sp.server.host, "h");
    ck_assert_int_eq(sp.server.port, 6379);
    ck_assert_int_eq(sp.db, 2);
    ck_assert_int_eq(sp.tls, 0);
    /* A raw '@' in a secret still works: the last '@' ends it. */
    ck_assert_int_eq(store_spec_parse("redis://:a@b@h:1", &sp, err, sizeof err), 0);
    ck_assert_str_eq(sp.secret, "a@b");
    ck_assert_int_eq(store_spec_parse("rediss://shop:pw@[::1]:6380/1?ca=/etc/ca%20x.pem"
                                      "&cert=/c.pem&key=/k.pem&sni=redis.example",
                                      &sp, err, sizeof err), 0);
    ck_assert_int_eq(sp.tls, 1);
    ck_assert_str_eq(sp.user, "shop");
    ck_assert_str_eq(sp.server.host, "::1");
    ck_assert_str_eq(sp.tls_ca, "/etc/ca x.pem");
    ck_assert_str_eq(sp.tls_cert, "/c.pem");
    ck_assert_str_eq(sp.tls_key, "/k.pem");
    ck_assert_str_eq(sp.tls_sni, "redis.example");
    ck_assert_int_eq(store_spec_parse("rediss-sentinel://:pw@a:1,b:2/mymaster/3?ca=/ca",
                                      &sp, err, sizeof err), 0);
    ck_assert_int_eq(sp.kind, SPEC_SENTINEL);
    ck_assert_int_eq(sp.nsentinels, 2);
    ck_assert_str_eq(sp.master, "mymaster");
    ck_assert_int_eq(sp.db, 3);
    ck_assert_int_eq(store_spec_parse("redis+unix://:pw@/run/r.sock?db=4", &sp, err, sizeof err), 0);
    ck_assert_str_eq(sp.path, "/run/r.sock");
    ck_assert_str_eq(sp.secret, "pw");
    ck_assert_int_eq(sp.db, 4);
    ck_assert_int_eq(store_spec_parse("lmdb:/var/lib/nori", &sp, err, sizeof err), 0);
    ck_assert_int_eq(sp.kind, SPEC_LMDB);
    ck_assert_str_eq(sp.path, "/var/lib/nori");
    ck_assert_int_eq(store_spec_parse("memory", &sp, err, sizeof err), 0);
    ck_assert_int_eq(sp.kind, SPEC_MEMORY);
    /* Every good form also opens. */
    struct store *st = store_open("rediss://:pw@127.0.0.1:1?sni=localhost", &opt, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    store_close(st);
}
END_TEST

START_TEST(spec_mask_hides_the_password)
{
    static const char *const in[][2] = {
        {"redis://:s3cret@h:6379/2", "redis://:***@h:6379/2"},
        {"redis://shop:s3cret@h:1", "redis://shop:***@h:1"},
        {"rediss://:a@b@h:1?ca=/x@y", "rediss://:***@h:1?ca=/x@y"},
        {"redis-sentinel://:pw@a:1,b:2/m", "redis-sentinel://:***@a:1,b:2/m"},
        {"redis://tokenonly@h:1", "redis://***@h:1"},
        {"nosuch://:pw@h", "nosuch://:***@h"},
        {"redis://h:1", "redis://h:1"},
        {"lmdb:/var/lib/nori", "lmdb:/var/lib/nori"},
        {"memory", "memory"},
        {"", ""},
    };
    char out[128];

    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        store_spec_mask(in[i][0], out, sizeof out);
        ck_assert_str_eq(out, in[i][1]);
    }
    memset(out, 'Z', sizeof out);
    store_spec_mask("redis://:s3cret@h:6379", out, 12);
    ck_assert_uint_eq(strlen(out), 11);
    ck_assert_ptr_null(strstr(out, "s3c"));
    ck_assert_int_eq(out[12], 'Z');
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("lmdb");
    SRunner *sr;
    char cmd[128];
    int failed;

    strcpy(root, "/tmp/nori-test-store.XXXXXX");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, get_missing_is_not_found);
    tcase_add_test(tc, compare_and_put);
    tcase_add_test(tc, records_outlive_the_handle);
    tcase_add_test(tc, get_buffer_bounds);
    tcase_add_test(tc, oversized_keys_are_refused);
    tcase_add_test(tc, store_del_deletes);
    tcase_add_test(tc, updates_move_the_expiry);
    tcase_add_test(tc, drop_key_moves_atomically);
    tcase_add_test(tc, drop_key_conflicts_change_nothing);
    tcase_add_test(tc, foreground_reclamation);
    tcase_add_test(tc, reclamation_boundary);
    tcase_add_test(tc, gc_foreground_zero_reclaims_nothing);
    tcase_add_test(tc, background_sweep);
    tcase_add_test(tc, sweep_interval_spans_processes);
    tcase_add_test(tc, bad_specs_are_refused);
    tcase_add_test(tc, spec_check_refuses_what_open_refuses);
    tcase_add_test(tc, racing_processes_lose_nothing);
    tcase_add_test(tc, redis_specs);
    tcase_add_test(tc, redis_down_is_edown);
    tcase_add_test(tc, memory_store);
    tcase_add_test(tc, memory_close_counts_lost_sessions);
    tcase_add_test(tc, memory_publishes_for_the_claimant);
    tcase_add_test(tc, memory_claim_guards_pid_reuse);
    tcase_add_test(tc, memory_claims_count_once);
    tcase_add_test(tc, spec_check_refuses_malformed_redis);
    tcase_add_test(tc, spec_parse_parts);
    tcase_add_test(tc, spec_mask_hides_the_password);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        failed = 1;
    return failed ? 1 : 0;
}
