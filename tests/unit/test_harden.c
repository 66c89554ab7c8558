/* test_harden.c -- what an attacker leans on below the HTTP layer: stored
 * records of impossible sizes, a store filled to its last page, login
 * guessing counted across processes, the dummy hash of unknown users,
 * and a run directory that others could write.
 *
 * The login throttle and the dummy hash are the shop's (shop/throttle.c,
 * shop/users.c), so this links libshop.a (SHOP_TESTS in the Makefile);
 * the stored records carry the tests' own application's state.
 *
 * Every test runs in its own directory under a root that main removes,
 * and in its own process (libcheck's fork mode): LMDB environments and
 * the shared throttle file must not cross a fork. */
#include <check.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lmdb.h>

#include "fcgi/arena.h"
#include "fcgi/http.h"
#include "shop/throttle.h"
#include "session/store.h"
#include "session/visit.h"
#include "testapp.h"
#include "shop/users.h"

static char root[64], dir[96], spec[128];

static void dir_fresh(void)
{
    snprintf(dir, sizeof dir, "%s/t.XXXXXX", root);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(spec, sizeof spec, "lmdb:%s/sessions", dir);
}

/* ---- records of impossible sizes ---- */

/* Writes raw bytes at key in the store's "sessions" table, as a foreign
 * or older writer could; the store itself is not open meanwhile (LMDB
 * allows one environment handle per file and process). */
static void plant(const char *key, const void *val, size_t len)
{
    char path[128];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};

    snprintf(path, sizeof path, "%s/sessions", dir);
    mkdir(path, 0700);
    ck_assert_int_eq(mdb_env_create(&env), 0);
    ck_assert_int_eq(mdb_env_set_maxdbs(env, 4), 0);
    ck_assert_int_eq(mdb_env_open(env, path, MDB_NOSYNC, 0600), 0);
    ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
    ck_assert_int_eq(mdb_dbi_open(txn, "sessions", MDB_CREATE, &dbi), 0);
    ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
    ck_assert_int_eq(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static int page_read(struct visit *v, void *arg)
{
    (void)v;
    (void)arg;
    return 200;
}

static struct sessions sessions_url(void)
{
    return (struct sessions){
        .store_spec = spec,
        .store_opt = {.nosync = 1, .map_size = 16 << 20, .gc_foreground = 8},
        .gc_interval_ms = 3600000, .gc_batch = 10,
        .life = {.ttl = 600, .max_age = 28800},
        .policy = POLICY_LAZY, .carrier = CARRIER_URL, .bind = 0,
        .codec = &testapp_state_codec,
    };
}

/* A visit to a key whose stored value is `len` bytes: it must render
 * sessionless (absent, logged), not fail as if the store were down. */
static void visit_planted(size_t len)
{
    static const char key[] = "AAAAAAAAAAAAAAAAAAAAAA";    /* key-shaped */
    static unsigned char junk[8192];
    struct sessions ss;
    struct arena a;
    struct request req = {.remote_addr = "127.0.0.1", .arena = &a};
    struct visit v;
    int status = 0;

    ck_assert_int_eq(arena_init(&a, 4096), 0);
    dir_fresh();
    memset(junk, 'x', sizeof junk);
    plant(key, junk, len);
    ss = sessions_url();
    ck_assert_int_eq(visit_run(&v, &ss, &req, key, 1000, page_read, NULL, &status),
                     VISIT_OK);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(v.live, 0);
    sessions_close(&ss);
    arena_free(&a);
}

START_TEST(short_record_is_absent)
{
    visit_planted(3);       /* shorter than the version and expiry head */
}
END_TEST

START_TEST(long_record_is_absent)
{
    visit_planted(sizeof(uint64_t) * 2 + 5000);     /* over any session */
}
END_TEST

START_TEST(store_reports_bad_sizes_apart)
{
    unsigned char buf[16];
    size_t len;
    uint64_t version;
    char err[256] = "";
    struct store_options opt = {.nosync = 1, .map_size = 1 << 20};
    struct store *st;

    dir_fresh();
    plant("short", "abc", 3);
    st = store_open(spec, &opt, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    ck_assert_int_eq(store_get(st, "short", buf, sizeof buf, &len, &version),
                     STORE_EBADRECORD);
    ck_assert_int_eq(store_get(st, "nobody", buf, sizeof buf, &len, &version),
                     STORE_ENOTFOUND);
    store_close(st);
}
END_TEST

/* ---- a full store ---- */

static enum store_err put_new(struct store *st, unsigned i, uint64_t expires,
                              uint64_t now, unsigned *reclaimed)
{
    char key[32];
    static char rec[400];
    struct store_write w = {.key = key, .rec = rec, .len = sizeof rec,
                            .expect = 0, .expires = expires};

    memset(rec, 'r', sizeof rec);
    snprintf(key, sizeof key, "key%08u", i);
    return store_put(st, &w, now, NULL, reclaimed);
}

/* Fills a 256 KiB map with records that expire at 100; with foreground
 * reclamation off, only the full map may reclaim them. */
static struct store *store_filled(unsigned *count)
{
    char err[256] = "";
    struct store_options opt = {.nosync = 1, .map_size = 256 << 10,
                                .gc_foreground = 0};
    struct store *st;
    enum store_err se = STORE_OK;
    unsigned i;

    dir_fresh();
    st = store_open(spec, &opt, err, sizeof err);
    ck_assert_msg(st != NULL, "%s", err);
    for (i = 0; i < 100000 && (se = put_new(st, i, 100, 50, NULL)) == STORE_OK; i++)
        ;
    ck_assert_int_eq(se, STORE_EFULL);
    ck_assert_uint_gt(i, 10);
    *count = i;
    return st;
}

START_TEST(full_store_reclaims_expired_at_once)
{
    unsigned n, reclaimed = 0;
    struct store *st = store_filled(&n);

    /* Still before their expiry: nothing to reclaim, still full. */
    ck_assert_int_eq(put_new(st, n + 1, 1000, 99, &reclaimed), STORE_EFULL);
    ck_assert_uint_eq(reclaimed, 0);
    /* After it: every expired record goes, and the write lands. */
    ck_assert_int_eq(put_new(st, n + 1, 1000, 200, &reclaimed), STORE_OK);
    ck_assert_uint_eq(reclaimed, n);
    size_t records = 0, bytes = 0;
    ck_assert_int_eq(store_stat(st, &records, &bytes), STORE_OK);
    ck_assert_uint_eq(records, 1);
    store_close(st);
}
END_TEST

START_TEST(full_store_still_deletes)
{
    unsigned n;
    struct store *st = store_filled(&n);

    /* Logout in a full store: the record goes (a delete needs pages too). */
    ck_assert_int_eq(store_del(st, "key00000003"), STORE_OK);
    store_close(st);
}
END_TEST

/* A state change: the first write makes a session. */
static int write_one(struct visit *v, void *arg)
{
    (void)arg;
    if (visit_ensure(v, 99) != VISIT_OK)
        return 503;
    ((struct testapp_state *)v->s.state)->total++;
    v->s.dirty = 1;
    return 303;
}

START_TEST(full_store_visit_says_full)
{
    unsigned n;
    struct store *st = store_filled(&n);
    struct sessions ss = sessions_url();
    struct arena a;
    struct request req = {.remote_addr = "127.0.0.1", .arena = &a};
    struct visit v;
    int status = 0;

    ck_assert_int_eq(arena_init(&a, 4096), 0);
    store_close(st);
    ss.store_opt.map_size = 256 << 10;
    ss.store_opt.gc_foreground = 0;
    /* A write at a time before the planted records expire: full. */
    ck_assert_int_eq(visit_run(&v, &ss, &req, NULL, 99, write_one, NULL, &status),
                     VISIT_EFULL);
    sessions_close(&ss);
    arena_free(&a);
}
END_TEST

/* ---- login throttling ---- */

static const struct throttle_policy policy = {.failures = 10, .lockout_s = 900};

static void throttle_fresh(const struct throttle_policy *p)
{
    char path[160];

    dir_fresh();
    snprintf(path, sizeof path, "%s/throttle", dir);
    ck_assert_int_eq(throttle_open(path, p), THROTTLE_OK);
}

START_TEST(throttle_slows_then_locks)
{
    uint64_t t = 1000;

    throttle_fresh(&policy);
    /* The first failures are free. */
    for (int i = 0; i < THROTTLE_FREE; i++) {
        ck_assert_uint_eq(throttle_wait("demo", "192.0.2.1", t), 0);
        ck_assert_uint_eq(throttle_fail("demo", "192.0.2.1", t), 0);
    }
    /* Then each makes the next wait twice as long: 1, 2, 4, ... */
    unsigned want = 1;
    for (int i = THROTTLE_FREE; i < 9; i++) {
        ck_assert_uint_eq(throttle_fail("demo", "192.0.2.1", t), want);
        ck_assert_uint_eq(throttle_wait("demo", "192.0.2.1", t), want);
        ck_assert_uint_eq(throttle_wait("demo", "192.0.2.1", t + want - 1), 1);
        t += want;
        ck_assert_uint_eq(throttle_wait("demo", "192.0.2.1", t), 0);
        want *= 2;
    }
    /* The tenth: locked out for the whole lockout. */
    ck_assert_uint_eq(throttle_fail("demo", "192.0.2.1", t), 900);
    ck_assert_uint_eq(throttle_wait("demo", "192.0.2.1", t + 899), 1);
    ck_assert_uint_eq(throttle_wait("demo", "192.0.2.1", t + 900), 0);
    /* One second before the end a failure is still remembered: a fresh
     * lockout from then. No failure for lockout_s: forgotten, and the
     * count starts over. */
    ck_assert_uint_eq(throttle_fail("demo", "192.0.2.1", t + 899), 900);
    t += 899;
    ck_assert_uint_eq(throttle_wait("demo", "192.0.2.1", t + 900), 0);
    ck_assert_uint_eq(throttle_fail("demo", "192.0.2.1", t + 900), 0);
    throttle_close();
}
END_TEST

START_TEST(throttle_per_user_and_per_address)
{
    const struct throttle_policy p = {.failures = 3, .lockout_s = 600};
    uint64_t t = 5000;

    throttle_fresh(&p);
    for (int i = 0; i < 3; i++)
        throttle_fail("demo", "192.0.2.1", t);
    /* The user, from anywhere; anyone, from that address. */
    ck_assert_uint_eq(throttle_wait("demo", "192.0.2.99", t), 600);
    ck_assert_uint_eq(throttle_wait("alice", "192.0.2.1", t), 600);
    ck_assert_uint_eq(throttle_wait("alice", "192.0.2.99", t), 0);
    /* Guessing many names from one address locks the address alone. */
    throttle_fail("u1", "198.51.100.7", t);
    throttle_fail("u2", "198.51.100.7", t);
    ck_assert_uint_eq(throttle_wait("u3", "198.51.100.7", t), 0);
    throttle_fail("u3", "198.51.100.7", t);
    ck_assert_uint_eq(throttle_wait("u4", "198.51.100.7", t), 600);
    ck_assert_uint_eq(throttle_wait("u1", "203.0.113.5", t), 0);
    /* A success forgets the user, not the address. */
    throttle_forget_user("demo");
    ck_assert_uint_eq(throttle_wait("demo", "192.0.2.99", t), 0);
    ck_assert_uint_eq(throttle_wait("demo", "192.0.2.1", t), 600);
    throttle_close();
}
END_TEST

START_TEST(throttle_off)
{
    const struct throttle_policy p = {.failures = 0, .lockout_s = 600};

    throttle_fresh(&p);
    for (int i = 0; i < 50; i++)
        ck_assert_uint_eq(throttle_fail("demo", "192.0.2.1", 100), 0);
    ck_assert_uint_eq(throttle_wait("demo", "192.0.2.1", 100), 0);
    throttle_close();
}
END_TEST

/* Workers are processes: failures counted by four of them, each with its
 * own mapping of the file, add up. */
START_TEST(throttle_shared_by_processes)
{
    const struct throttle_policy p = {.failures = 40, .lockout_s = 600};
    char path[160];
    pid_t pids[4];
    int status;

    throttle_fresh(&p);
    snprintf(path, sizeof path, "%s/throttle", dir);
    throttle_close();           /* never across a fork: flock is per open */
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            char addr[32];
            if (throttle_open(path, &p) != THROTTLE_OK)
                _exit(2);
            for (int j = 0; j < 10; j++) {
                snprintf(addr, sizeof addr, "10.0.%d.%d", i, j);
                throttle_fail("demo", addr, 100);
            }
            _exit(0);
        }
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    ck_assert_int_eq(throttle_open(path, &p), THROTTLE_OK);
    /* 40 failures in all, none of them from one address 4 times. */
    ck_assert_uint_eq(throttle_wait("demo", "192.0.2.1", 100), 600);
    ck_assert_uint_eq(throttle_wait("other", "10.0.1.1", 100), 0);
    throttle_close();
}
END_TEST

START_TEST(throttle_refuses_symlinks_and_strangers)
{
    char path[160], target[160];
    FILE *f;

    dir_fresh();
    snprintf(target, sizeof target, "%s/elsewhere", dir);
    snprintf(path, sizeof path, "%s/throttle", dir);
    ck_assert_int_eq(symlink(target, path), 0);
    ck_assert_int_eq(throttle_open(path, &policy), THROTTLE_EOPEN);
    ck_assert_int_ne(access(target, F_OK), 0);          /* nothing created */
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fputs("not a throttle table", f);
    fclose(f);
    ck_assert_int_eq(throttle_open(path, &policy), THROTTLE_EFORMAT);
    ck_assert(!throttle_is_open());
}
END_TEST

/* ---- the dummy hash of unknown users ---- */

static void users_from(struct users *u, const char *text)
{
    char path[160], err[256] = "";
    FILE *f;

    dir_fresh();
    snprintf(path, sizeof path, "%s/users", dir);
    ck_assert_ptr_nonnull(f = fopen(path, "w"));
    fputs(text, f);
    fclose(f);
    ck_assert_msg(users_load(u, path, err, sizeof err) == 0, "%s", err);
}

/* The setting of a crypt(3) hash: everything before its last '$'. */
static size_t setting_len(const char *hash)
{
    return (size_t)(strrchr(hash, '$') - hash);
}

static void dummy_like(const char *setting, const char *password)
{
    struct crypt_data cd;
    struct users u;
    char line[512];
    const char *hash;

    memset(&cd, 0, sizeof cd);
    ck_assert_ptr_nonnull(hash = crypt_r(password, setting, &cd));
    snprintf(line, sizeof line, "# a comment\nfirst:%s\n", hash);
    users_from(&u, line);
    ck_assert_uint_gt(strlen(users_dummy_hash(&u)), 0);
    /* The real entry's scheme, cost parameters (and salt): the same work. */
    ck_assert_int_eq(strncmp(users_dummy_hash(&u), hash, setting_len(hash) + 1), 0);
    ck_assert(users_check(&u, "first", password));
    ck_assert(!users_check(&u, "first", "wrong"));
    /* An unknown name never logs in, even with a real password. */
    ck_assert(!users_check(&u, "nobody", password));
    users_free(&u);
}

START_TEST(dummy_hash_follows_the_entries)
{
    char y[CRYPT_GENSALT_OUTPUT_SIZE];

    ck_assert_ptr_nonnull(crypt_gensalt_rn("$y$", 0, NULL, 0, y, sizeof y));
    dummy_like(y, "nori-demo");
    dummy_like("$6$rounds=20000$abcdefgh", "pw");
    dummy_like("$6$saltsalt", "pw");
}
END_TEST

START_TEST(shipped_demo_user_is_yescrypt)
{
    struct users u;
    char err[256] = "";

    ck_assert_msg(users_load(&u, NORI_DATADIR "/users", err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(strncmp(users_dummy_hash(&u), "$y$", 3), 0);
    ck_assert(users_check(&u, "demo", "nori-demo"));
    users_free(&u);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("harden");
    TCase *tc = tcase_create("harden");
    SRunner *sr;
    char cmd[128];
    int failed;

    strcpy(root, "/tmp/nori-test-harden.XXXXXX");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, short_record_is_absent);
    tcase_add_test(tc, long_record_is_absent);
    tcase_add_test(tc, store_reports_bad_sizes_apart);
    tcase_add_test(tc, full_store_reclaims_expired_at_once);
    tcase_add_test(tc, full_store_still_deletes);
    tcase_add_test(tc, full_store_visit_says_full);
    tcase_add_test(tc, throttle_slows_then_locks);
    tcase_add_test(tc, throttle_per_user_and_per_address);
    tcase_add_test(tc, throttle_off);
    tcase_add_test(tc, throttle_shared_by_processes);
    tcase_add_test(tc, throttle_refuses_symlinks_and_strangers);
    tcase_add_test(tc, dummy_hash_follows_the_entries);
    tcase_add_test(tc, shipped_demo_user_is_yescrypt);
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
