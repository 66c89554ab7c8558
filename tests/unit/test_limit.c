/* test_limit.c -- the shared limit table (fcgi/limit.c, nori.h): a token
 * bucket's burst, refill, Retry-After and slow rates; names kept apart;
 * one bucket shared by processes taking from it at once, with nothing
 * lost or invented; a lock left by a process killed holding it; more
 * names than slots; and the file refused when it is not a table. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nori.h"

static char root[64], path[128];

static struct nori_limits *table_fresh(void)
{
    struct nori_limits *l;

    snprintf(path, sizeof path, "%s/limits.%d", root, (int)getpid());
    ck_assert_ptr_nonnull(l = nori_limits_open(path));
    return l;
}

START_TEST(bucket_burst_then_rate)
{
    struct nori_limits *l = table_fresh();
    uint64_t t = 1000000;

    /* A minute's worth at once, then one every second at 60 a minute. */
    for (int i = 0; i < 60; i++)
        ck_assert_uint_eq(nori_limit_take(l, 'n', "192.0.2.1", t, 60, 60), 0);
    ck_assert_uint_eq(nori_limit_take(l, 'n', "192.0.2.1", t, 60, 60), 1);
    ck_assert_uint_eq(nori_limit_take(l, 'n', "192.0.2.1", t + 999, 60, 60), 1);
    ck_assert_uint_eq(nori_limit_take(l, 'n', "192.0.2.1", t + 1000, 60, 60), 0);
    ck_assert_uint_eq(nori_limit_take(l, 'n', "192.0.2.1", t + 1000, 60, 60), 1);
    /* Another name, or another kind, has its own bucket. */
    ck_assert_uint_eq(nori_limit_take(l, 'n', "192.0.2.2", t, 60, 60), 0);
    ck_assert_uint_eq(nori_limit_take(l, 'x', "192.0.2.1", t, 60, 60), 0);
    /* 0 a minute: no limit at all. */
    for (int i = 0; i < 1000; i++)
        ck_assert_uint_eq(nori_limit_take(l, 'n', "192.0.2.1", t, 0, 0), 0);
    nori_limits_close(l);
}
END_TEST

START_TEST(bucket_slow_rate_refills_when_polled)
{
    struct nori_limits *l = table_fresh();
    uint64_t t = 5000000;
    unsigned wait;

    /* 2 a minute: one every 30 s. Asked every 10 ms, it still refills. */
    ck_assert_uint_eq(nori_limit_take(l, 'n', "a", t, 2, 1), 0);
    ck_assert_uint_eq(wait = nori_limit_take(l, 'n', "a", t, 2, 1), 30);
    int got = 0;
    for (uint64_t dt = 10; dt <= 30000 && !got; dt += 10)
        got = nori_limit_take(l, 'n', "a", t + dt, 2, 1) == 0;
    ck_assert(got);
    /* Idle long enough, a bucket is full again (burst, not more). */
    t += 10 * 60 * 1000;
    ck_assert_uint_eq(nori_limit_take(l, 'n', "a", t, 2, 1), 0);
    ck_assert_uint_ne(nori_limit_take(l, 'n', "a", t, 2, 1), 0);
    nori_limits_close(l);
}
END_TEST

START_TEST(bucket_shared_by_processes)
{
    struct nori_limits *l = table_fresh();
    uint64_t t = 9000000;
    int *taken = mmap(NULL, sizeof(int) * 4, PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pids[4];

    ck_assert_ptr_ne(taken, MAP_FAILED);
    nori_limits_close(l);
    /* Four processes, each its own mapping, 2,000 tries each at one
     * instant: exactly the burst is taken, whoever takes it. */
    for (int p = 0; p < 4; p++) {
        if ((pids[p] = fork()) == 0) {
            struct nori_limits *m = nori_limits_open(path);
            int n = 0;
            for (int i = 0; i < 2000 && m; i++)
                n += nori_limit_take(m, 'n', "198.51.100.1", t, 500, 500) == 0;
            taken[p] = m ? n : -1;
            _exit(0);
        }
        ck_assert_int_gt(pids[p], 0);
    }
    for (int p = 0; p < 4; p++)
        ck_assert_int_eq(waitpid(pids[p], NULL, 0), pids[p]);
    ck_assert_int_eq(taken[0] + taken[1] + taken[2] + taken[3], 500);
    munmap(taken, sizeof(int) * 4);
}
END_TEST

static unsigned hold_forever(struct nori_limit_entry *e, int fresh, uint64_t now, void *arg)
{
    (void)e;
    (void)fresh;
    (void)now;
    (void)arg;
    kill(getpid(), SIGKILL);    /* dies with the entry's lock held */
    return 0;
}

START_TEST(lock_left_by_a_killed_holder_is_taken_over)
{
    struct nori_limits *l = table_fresh();
    uint64_t t = 15000000;
    pid_t pid;
    int st;

    ck_assert_uint_eq(nori_limit_take(l, 'n', "203.0.113.9", t, 60, 3), 0);
    if ((pid = fork()) == 0) {
        nori_limit_apply(l, 'n', "203.0.113.9", t, 1, hold_forever, NULL);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFSIGNALED(st));
    /* The lock is stale within milliseconds; the bucket is as it was. */
    ck_assert_uint_eq(nori_limit_take(l, 'n', "203.0.113.9", t, 60, 3), 0);
    ck_assert_uint_eq(nori_limit_take(l, 'n', "203.0.113.9", t, 60, 3), 0);
    ck_assert_uint_ne(nori_limit_take(l, 'n', "203.0.113.9", t, 60, 3), 0);
    nori_limits_close(l);
}
END_TEST

START_TEST(many_names_fit_or_evict_the_oldest)
{
    struct nori_limits *l = table_fresh();
    uint64_t t = 20000000;
    char name[32];

    /* Far more names than slots: every one still gets its burst (a name
     * pushed out comes back full, which errs towards letting through). */
    for (int i = 0; i < 40000; i++) {
        snprintf(name, sizeof name, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        ck_assert_uint_eq(nori_limit_take(l, 'n', name, t + (uint64_t)i, 60, 1), 0);
    }
    /* The latest names are remembered: their second take is refused. */
    int refused = 0;
    for (int i = 39990; i < 40000; i++) {
        snprintf(name, sizeof name, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        refused += nori_limit_take(l, 'n', name, t + 40000, 60, 1) != 0;
    }
    ck_assert_int_eq(refused, 10);
    nori_limits_close(l);
}
END_TEST

START_TEST(not_a_table_is_refused)
{
    char p2[160], target[160];
    FILE *f;

    snprintf(p2, sizeof p2, "%s/stranger", root);
    ck_assert_ptr_nonnull(f = fopen(p2, "w"));
    fputs("not a limit table, but a file of its own", f);
    fclose(f);
    errno = 0;
    ck_assert_ptr_null(nori_limits_open(p2));
    ck_assert_int_eq(errno, EPROTO);
    snprintf(p2, sizeof p2, "%s/link", root);
    snprintf(target, sizeof target, "%s/elsewhere", root);
    ck_assert_int_eq(symlink(target, p2), 0);
    ck_assert_ptr_null(nori_limits_open(p2));
    ck_assert_int_ne(access(target, F_OK), 0);      /* nothing created */
    ck_assert_ptr_null(nori_limits_open(root));      /* a directory */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("limit");
    TCase *tc = tcase_create("limit");
    SRunner *sr;
    char cmd[128];
    int failed;

    strcpy(root, "/tmp/nori-test-limit.XXXXXX");
    if (mkdtemp(root) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bucket_burst_then_rate);
    tcase_add_test(tc, bucket_slow_rate_refills_when_polled);
    tcase_add_test(tc, bucket_shared_by_processes);
    tcase_add_test(tc, lock_left_by_a_killed_holder_is_taken_over);
    tcase_add_test(tc, many_names_fit_or_evict_the_oldest);
    tcase_add_test(tc, not_a_table_is_refused);
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
