/* test_cache.c -- the page cache's bounds and files (nori/cache.c) and
 * the run directory's check (fcgi/rundir.c), in a temporary run
 * directory: what one worker remembers stays the same size whatever the
 * URLs it is sent (driven through service_handle() in process, its RSS
 * read from /proc); the budget counts what du counts; junk is emptied
 * out; a symlink planted anywhere under RUNDIR/pages is never followed;
 * DT_UNKNOWN entries are typed by fstatat; only a canonical mount prefix
 * renders; the generation follows the program and the policy. */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcgi/arena.h"
#include "fcgi/http.h"
#include "fcgi/rundir.h"
#include "fcgi/stats.h"
#include "nori/service.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- a one-page application: Find?q=TEXT, kept in the page cache ---- */

struct q {
    char q[41];
};

static const struct nori_field q_fields[] = {
    NORI_FIELD_TEXT(struct q, q, "q", 0, 40),
};

static int find_render(struct nori_req *r)
{
    const struct q *q = r->query;

    nori_response_puts(r->resp, "<h1>Find</h1><p>");
    nori_text(r, q->q);
    nori_response_puts(r->resp, "</p><a href=\"");
    nori_url(r, &(struct nori_link){"Find", NULL});
    nori_response_puts(r->resp, "\">again</a>\n");
    return 200;
}

static struct nori_result no_act(struct nori_req *r)
{
    (void)r;
    return nori_fail(400, "There is no such action.");
}

static int none_encode(const void *state, unsigned char *buf, size_t cap, size_t *len)
{
    (void)state;
    (void)buf;
    (void)cap;
    *len = 0;
    return 0;
}

static int none_decode(void *state, unsigned version, const unsigned char *buf, size_t len)
{
    (void)state;
    (void)buf;
    return version == 1 && len == 0 ? 0 : -1;
}

static const struct nori_page pages[] = {
    {"Find", find_render, 1},
};

static const struct nori_app app = {
    .name = "test_cache",
    .query = {q_fields, 1, sizeof(struct q)},
    .pages = pages,
    .npages = 1,
    .act = no_act,
    .state = {1, 1, none_encode, none_decode},
};

/* ---- a run directory, a service on it, one request ---- */

static char rundir[64];
static char store_spec[128];
static struct nori_config cfg;
static struct service svc;
static struct stats *stats;
static struct arena arena;
static struct request req;
static struct response resp;

static void rundir_up(void)
{
    char path[128];

    snprintf(rundir, sizeof rundir, "/tmp/nori-test-cache-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(rundir));
    snprintf(path, sizeof path, "%s/stats", rundir);
    ck_assert_ptr_nonnull(stats = stats_open(path, 1));
}

static void rundir_down(void)
{
    char cmd[160];

    stats_close(stats);
    stats = NULL;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", rundir);
    ck_assert_int_eq(system(cmd), 0);
}

static void service_up(enum policy policy, unsigned long max)
{
    char err[512] = "";

    memset(&cfg, 0, sizeof cfg);
    snprintf(store_spec, sizeof store_spec, "memory");
    cfg.rundir = rundir;
    cfg.store_spec = store_spec;
    cfg.status_path = "/nori-status";
    cfg.ping_path = "/nori-ping";
    cfg.policy_name = policy == POLICY_EAGER ? "eager" : "lazy";
    cfg.policy = policy;
    cfg.carrier_name = "url";
    cfg.carrier = CARRIER_URL;
    cfg.bind_name = "off";
    cfg.sync_name = "fsync";
    cfg.cookie_path = "";
    cfg.cookie_secure_name = "auto";
    cfg.allowed_origins = "";
    cfg.ttl = 600;
    cfg.max_age = 28800;
    cfg.gc_interval_ms = 1000;
    cfg.gc_batch = 1000;
    cfg.map_size_mb = 16;
    cfg.redis_prefix = "nori:";
    cfg.route = "";
    cfg.memory_max = 100;
    cfg.listen = "";
    cfg.socket_group = "";
    ck_assert_msg(service_init(&svc, &app, &cfg, err, sizeof err) == 0, "%s", err);
    svc.stats = svc.sessions.stats = stats;
    ck_assert_msg(cache_open(&svc.cache, rundir, 1, max, svc.etag, stats, err,
                             sizeof err) == CACHE_OK, "%s", err);
    ck_assert_int_eq(arena_init(&arena, 64 * 1024), 0);
}

static void service_down(void)
{
    service_free(&svc);
    arena_free(&arena);
}

static int get(const char *prefix, const char *query)
{
    arena_reset(&arena);
    memset(&req, 0, sizeof req);
    req.arena = &arena;
    req.method = HTTP_GET;
    req.query = query;
    req.query_len = strlen(query);
    req.script_name = prefix;
    req.path_info = "";
    req.remote_addr = "127.0.0.1";
    req.host = "127.0.0.1:8080";
    req.body = "";
    response_init(&resp, &arena);
    service_handle(&req, &resp, &svc);
    ck_assert(!resp.failed);
    return resp.status;
}

static int body_has(const char *s)
{
    return resp.body && memmem(resp.body, resp.body_len, s, strlen(s)) != NULL;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* What du counts under dir: the blocks of everything, the directories too. */
static uint64_t du_total;
static int du_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path;
    (void)type;
    (void)ftw;
    du_total += (uint64_t)st->st_blocks * 512;
    return 0;
}

static uint64_t du(const char *dir)
{
    du_total = 0;
    ck_assert_int_eq(nftw(dir, du_one, 16, FTW_PHYS), 0);
    return du_total;
}

static void path_of(char *out, size_t cap, const char *rel)
{
    snprintf(out, cap, "%s/%s", rundir, rel);
}

static int exists(const char *rel)
{
    char p[512];
    struct stat st;

    path_of(p, sizeof p, rel);
    return lstat(p, &st) == 0;
}

/* The generation's mtime moved back, as if it had been filled long ago:
 * how a test lets the next flush happen without waiting for it. */
static void generation_age(void)
{
    const struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};

    ck_assert_int_eq(utimensat(svc.cache.pages_fd, svc.cache.name, old, 0), 0);
}

/* ---- the tests ---- */

/* 100,000 distinct URLs that render 200 and are canonical: what the
 * worker remembers of them is a fixed table, so its RSS grows by at most
 * 8 MB (the old record of every URL took about 570 bytes each, 57 MB). */
START_TEST(seen_is_bounded)
{
    char query[64];
    long before, after;

    service_up(POLICY_LAZY, 256 << 10);
    for (int i = 0; i < 2000; i++) {      /* warm: the arena, the table, the pages */
        snprintf(query, sizeof query, "pg=Find&q=w%039d", i);
        ck_assert_int_eq(get("/app", query), 200);
    }
    before = rss_kb();
    for (int i = 2000; i < 102000; i++) {
        snprintf(query, sizeof query, "pg=Find&q=w%039d", i);
        ck_assert_int_eq(get("/app", query), 200);
    }
    after = rss_kb();
    /* AddressSanitizer keeps what is freed in quarantine (256 MB), so its
     * RSS says nothing of what nori keeps: there the run checks memory
     * errors only. */
    if (!UNDER_ASAN)
        ck_assert_msg(after - before <= 8 * 1024, "RSS grew by %ld kB over 100,000 URLs",
                      after - before);
    /* And the page cache stayed within its budget meanwhile. */
    ck_assert_uint_le(stats_get(stats, STAT_CACHE_BYTES), 256 << 10);
    service_down();
}
END_TEST

/* The budget counts blocks and directories: du of the generation stays
 * within 1.25 times it (one page per worker may overshoot while others
 * write); tiny pages used to be counted by their bytes, 100 for 4 KiB. */
START_TEST(budget_counts_blocks)
{
    char pages[256], query[64];
    const unsigned long max = 64 << 10;

    service_up(POLICY_LAZY, max);
    path_of(pages, sizeof pages, "pages");
    for (int i = 0; i < 200; i++) {
        snprintf(query, sizeof query, "q=junk%d", i);
        cache_store(&svc.cache, "/app", query, "tiny", 4);
    }
    ck_assert_msg(du(pages) <= max + max / 4, "du %llu for a budget of %lu",
                  (unsigned long long)du(pages), max);
    ck_assert(exists("pages/current/app/q=junk0.html"));
    ck_assert(!exists("pages/current/app/q=junk199.html"));
    /* The generation is full of junk: a real page is let go for now,
     * and not remembered as seen, so that it comes back... */
    cache_store(&svc.cache, "/app", "q=real", "real", 4);
    ck_assert(!exists("pages/current/app/q=real.html"));
    ck_assert(!cache_seen(&svc.cache, "/app", "q=real"));
    cache_store(&svc.cache, "/app", "q=real", "real", 4);
    ck_assert(!exists("pages/current/app/q=real.html"));
    ck_assert_uint_eq(stats_get(stats, STAT_CACHE_FLUSHES), 0);
    /* ...and is kept once the generation has been full a while: asked
     * for again, it empties the junk out. */
    generation_age();
    cache_store(&svc.cache, "/app", "q=real", "real", 4);
    ck_assert(exists("pages/current/app/q=real.html"));
    ck_assert(cache_seen(&svc.cache, "/app", "q=real"));
    ck_assert(!exists("pages/current/app/q=junk0.html"));
    ck_assert_uint_eq(stats_get(stats, STAT_CACHE_FLUSHES), 1);
    /* A junk page the worker had kept is forgotten with the emptying. */
    ck_assert(!cache_seen(&svc.cache, "/app", "q=junk0"));
    cache_store(&svc.cache, "/app", "q=real2", "real", 4);
    ck_assert(exists("pages/current/app/q=real2.html"));
    ck_assert_msg(du(pages) <= max + max / 4, "du after the flush");
    /* A page larger than the whole budget is never kept. */
    static char big[128 << 10];
    memset(big, 'x', sizeof big);
    cache_store(&svc.cache, "/app", "q=big", big, sizeof big);
    ck_assert(!exists("pages/current/app/q=big.html"));
    /* Replacing a page counts its blocks once. */
    uint64_t n = stats_get(stats, STAT_CACHE_BYTES);
    cache_close(&svc.cache);
    char err[256];
    ck_assert_int_eq(cache_open(&svc.cache, rundir, 1, max, svc.etag, stats, err,
                                sizeof err), CACHE_OK);
    cache_store(&svc.cache, "/app", "q=real", "real", 4);
    ck_assert_uint_eq(stats_get(stats, STAT_CACHE_BYTES), n);
    service_down();
}
END_TEST

/* A canary behind symlinks planted where the cache goes survives start,
 * caching and a new generation: nothing removed, nothing written. */
static int canary_intact(const char *canary)
{
    char p[512];
    struct stat st;
    int files = 0;

    snprintf(p, sizeof p, "%s/canary", canary);
    if (stat(p, &st) < 0)
        return 0;
    snprintf(p, sizeof p, "%s/sub/deep", canary);
    if (stat(p, &st) < 0)
        return 0;
    DIR *d = opendir(canary);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        files += e->d_name[0] != '.';
    closedir(d);
    return files == 2;      /* canary and sub: nothing was added */
}

START_TEST(symlinks_never_followed)
{
    char canary[128], p[512], link[512], err[512];
    struct page_cache pc = {0};
    int fd;

    rundir_up();
    snprintf(canary, sizeof canary, "%s.canary", rundir);
    ck_assert_int_eq(mkdir(canary, 0700), 0);
    snprintf(p, sizeof p, "%s/canary", canary);
    ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
    close(fd);
    snprintf(p, sizeof p, "%s/sub", canary);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/sub/deep", canary);
    ck_assert_int_eq(mkdir(p, 0700), 0);

    /* RUNDIR/pages a symlink: refused, the canary untouched. */
    path_of(link, sizeof link, "pages");
    ck_assert_int_eq(symlink(canary, link), 0);
    ck_assert_int_eq(cache_open(&pc, rundir, 1, 1 << 20, "\"aaaa\"", stats, err,
                                sizeof err), CACHE_EDIR);
    ck_assert_msg(strstr(err, "symlink") != NULL, "%s", err);
    ck_assert_int_eq(cache_open(&pc, rundir, 0, 1 << 20, "\"aaaa\"", stats, err,
                                sizeof err), CACHE_EDIR);
    ck_assert(canary_intact(canary));
    unlink(link);

    /* The mount directory a symlink: the page is not written through it. */
    ck_assert_int_eq(cache_open(&pc, rundir, 1, 1 << 20, "\"aaaa\"", stats, err,
                                sizeof err), CACHE_OK);
    path_of(link, sizeof link, "pages/aaaa/app");
    ck_assert_int_eq(symlink(canary, link), 0);
    cache_store(&pc, "/app", "q=x", "page", 4);
    ck_assert(canary_intact(canary));
    /* A prefix below it: not followed either. */
    cache_store(&pc, "/app/sub", "q=y", "page", 4);
    ck_assert(canary_intact(canary));

    /* Old generations holding symlinks, and a symlink posing as one:
     * the new generation removes the links, never what they name. */
    path_of(p, sizeof p, "pages/bbbb");
    ck_assert_int_eq(mkdir(p, 0755), 0);
    path_of(link, sizeof link, "pages/bbbb/app");
    ck_assert_int_eq(symlink(canary, link), 0);
    path_of(link, sizeof link, "pages/cccc");
    ck_assert_int_eq(symlink(canary, link), 0);
    cache_close(&pc);
    ck_assert_int_eq(cache_open(&pc, rundir, 1, 1 << 20, "\"dddd\"", stats, err,
                                sizeof err), CACHE_OK);
    ck_assert(canary_intact(canary));
    ck_assert(!exists("pages/aaaa"));
    ck_assert(!exists("pages/bbbb"));
    cache_store(&pc, "/app", "q=x", "page", 4);
    ck_assert(exists("pages/current/app/q=x.html"));
    /* Off: every generation goes, the canary stays. */
    cache_close(&pc);
    ck_assert_int_eq(cache_open(&pc, rundir, 0, 1 << 20, "\"dddd\"", stats, err,
                                sizeof err), CACHE_OK);
    ck_assert(!exists("pages/dddd"));
    ck_assert(canary_intact(canary));
    cache_close(&pc);
    snprintf(p, sizeof p, "rm -rf '%s'", canary);
    ck_assert_int_eq(system(p), 0);
    rundir_down();
}
END_TEST

/* Some filesystems type every entry DT_UNKNOWN: fstatat decides then,
 * and a symlink to a directory is not one. */
START_TEST(unknown_entries_are_looked_at)
{
    char p[512];
    int dfd, fd;

    rundir_up();
    path_of(p, sizeof p, "dir");
    ck_assert_int_eq(mkdir(p, 0700), 0);
    path_of(p, sizeof p, "link");
    ck_assert_int_eq(symlink(rundir, p), 0);
    path_of(p, sizeof p, "file");
    ck_assert_int_ge(fd = open(p, O_CREAT | O_WRONLY, 0600), 0);
    close(fd);
    ck_assert_int_ge(dfd = open(rundir, O_RDONLY | O_DIRECTORY), 0);
    ck_assert_int_eq(cache_entry_is_dir(dfd, "dir", DT_UNKNOWN), 1);
    ck_assert_int_eq(cache_entry_is_dir(dfd, "link", DT_UNKNOWN), 0);
    ck_assert_int_eq(cache_entry_is_dir(dfd, "file", DT_UNKNOWN), 0);
    ck_assert_int_eq(cache_entry_is_dir(dfd, "gone", DT_UNKNOWN), 0);
    ck_assert_int_eq(cache_entry_is_dir(dfd, "dir", DT_DIR), 1);
    ck_assert_int_eq(cache_entry_is_dir(dfd, "link", DT_LNK), 0);
    close(dfd);
    rundir_down();
}
END_TEST

START_TEST(prefixes_canonical)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", ""}, {"/", ""}, {"/shop", "/shop"}, {"//shop", "/shop"},
        {"/shop/", "/shop"}, {"/./shop", "/shop"}, {"/a//b/./", "/a/b"},
        {"/a&b\"c", "/a&b\"c"}, {"/a/../b", NULL}, {"/..", NULL}, {"/.../x", "/.../x"},
    };
    char out[64];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = cache_prefix_canonical(out, sizeof out, cases[i].in);
        if (cases[i].out == NULL) {
            ck_assert_msg(n < 0, "%s", cases[i].in);
        } else {
            ck_assert_msg(n >= 0 && strcmp(out, cases[i].out) == 0, "%s: %s", cases[i].in, out);
            ck_assert_int_eq(n, (int)strlen(out));
        }
    }
    ck_assert_int_lt(cache_prefix_canonical(out, 4, "/shop"), 0);
}
END_TEST

/* //app, /app/ and /./app render nothing: their links would carry that
 * spelling, and their page would be kept at /app's path. */
START_TEST(noncanonical_prefix_refused)
{
    const char *bad[] = {"//app", "/app/", "/./app", "/x/../app"};

    service_up(POLICY_LAZY, 1 << 20);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(get(bad[i], "pg=Find&q=poison") == 404, "%s", bad[i]);
        ck_assert(!body_has("poison"));
        ck_assert(!exists("pages/current/app/pg=Find&q=poison.html"));
    }
    ck_assert_int_eq(get("/app", "pg=Find&q=fine"), 200);
    ck_assert(body_has("href=\"/app?pg=Find\""));
    ck_assert(exists("pages/current/app/pg=Find&q=fine.html"));
    /* "/" is the root as some servers say it: served, never kept. */
    ck_assert_int_eq(get("/", "pg=Find&q=root"), 200);
    ck_assert(!exists("pages/current/pg=Find&q=root.html"));
    service_down();
}
END_TEST

/* The policy and the program are in the generation and the ETag. */
START_TEST(generation_keys)
{
    char lazy[32];

    ck_assert_uint_ne(cache_program_digest(), 0);
    ck_assert_uint_eq(cache_program_digest(), cache_program_digest());
    service_up(POLICY_LAZY, 1 << 20);
    snprintf(lazy, sizeof lazy, "%s", svc.etag);
    service_down();
    service_up(POLICY_EAGER, 1 << 20);
    ck_assert_str_ne(lazy, svc.etag);
    service_down();
}
END_TEST

/* A run directory, and an LMDB store's directory, writable by group or
 * others is refused; a missing store directory is said to be missing. */
START_TEST(directory_modes)
{
    char p[512], err[512];

    rundir_up();
    ck_assert_int_eq(chmod(rundir, 0700), 0);
    ck_assert_int_eq(rundir_check(rundir, err, sizeof err), RUNDIR_OK);
    ck_assert_int_eq(chmod(rundir, 0770), 0);
    ck_assert_int_eq(rundir_check(rundir, err, sizeof err), RUNDIR_EWRITABLE);
    ck_assert_msg(strstr(err, "NORI_RUNDIR=") && strstr(err, "group"), "%s", err);
    ck_assert_int_eq(chmod(rundir, 0757), 0);
    ck_assert_int_eq(rundir_check(rundir, err, sizeof err), RUNDIR_EWRITABLE);
    ck_assert_int_eq(chmod(rundir, 0750), 0);
    ck_assert_int_eq(rundir_check(rundir, err, sizeof err), RUNDIR_OK);

    path_of(p, sizeof p, "sessions");
    ck_assert_int_eq(rundir_check_dir("NORI_STORE", p, err, sizeof err), RUNDIR_EMISSING);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    ck_assert_int_eq(rundir_check_dir("NORI_STORE", p, err, sizeof err), RUNDIR_OK);
    ck_assert_int_eq(chmod(p, 0770), 0);
    ck_assert_int_eq(rundir_check_dir("NORI_STORE", p, err, sizeof err), RUNDIR_EWRITABLE);
    ck_assert_msg(strstr(err, "NORI_STORE="), "%s", err);
    ck_assert_int_eq(chmod(p, 0700), 0);
    path_of(p, sizeof p, "stats");
    ck_assert_int_eq(rundir_check_dir("NORI_STORE", p, err, sizeof err), RUNDIR_ENOTDIR);
    rundir_down();
}
END_TEST

static void setup(void)
{
    rundir_up();
}

int main(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("service");
    TCase *tf = tcase_create("files");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, rundir_down);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, seen_is_bounded);
    tcase_add_test(tc, budget_counts_blocks);
    tcase_add_test(tc, noncanonical_prefix_refused);
    tcase_add_test(tc, generation_keys);
    suite_add_tcase(s, tc);
    tcase_add_test(tf, symlinks_never_followed);
    tcase_add_test(tf, unknown_entries_are_looked_at);
    tcase_add_test(tf, prefixes_canonical);
    tcase_add_test(tf, directory_modes);
    suite_add_tcase(s, tf);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
