/* cache.c -- the page cache's files (cache.h): generations, the link
 * that names and dates the current one, and the pages themselves. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uthash.h>

#include "../fcgi/http.h"
#include "../fcgi/stats.h"
#include "cache.h"

#define KEY_MAX 200             /* a longer query is not kept: a name is 255 */

/* Written whole to a temporary name, dated, then renamed over the old
 * one: the web server sends the file's date as its Last-Modified. */
static int file_replace(const char *path, const char *bytes, size_t len, time_t date)
{
    const struct timespec times[2] = {{date, 0}, {date, 0}};
    char tmp[4200];
    int fd, ok;

    if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    ok = write(fd, bytes, len) == (ssize_t)len && futimens(fd, times) == 0;
    if (close(fd) < 0)
        ok = 0;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The link carries the generation's date as its own mtime. */
static int symlink_replace(const char *target, const char *path, time_t date)
{
    const struct timespec times[2] = {{date, 0}, {date, 0}};
    char tmp[4200];

    if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp)
        return -1;
    unlink(tmp);
    if (symlink(target, tmp) < 0)
        return -1;
    if (utimensat(AT_FDCWD, tmp, times, AT_SYMLINK_NOFOLLOW) < 0 || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Every generation but keep (a directory name), with what is in it. */
static void generations_prune(const char *pages, const char *keep)
{
    DIR *d = opendir(pages);
    struct dirent *e;
    char path[4200];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || e->d_type != DT_DIR || strcmp(e->d_name, keep) == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", pages, e->d_name) < (int)sizeof path)
            nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
    snprintf(err, errlen, "page cache: %s %s: %s", what, path, strerror(errno));
    return CACHE_EDIR;
}

/* The generation's name: the ETag's hex digits, without its quotes. */
static void generation_name(const char *etag, char *out, size_t cap)
{
    size_t n = 0;

    for (const char *p = etag; *p && n + 1 < cap; p++)
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
            out[n++] = *p;
    out[n] = '\0';
}

/* Sleeps until the clock has passed t, a second at most: used only
 * when a generation replaces one made within the same second. */
static void wait_past(time_t t)
{
    const struct timespec tick = {0, 50 * 1000 * 1000};

    for (int i = 0; i < 25 && time(NULL) <= t; i++)
        nanosleep(&tick, NULL);
}

/* What the link at path names: 1 generation name, 0 another one, -1 no
 * link. *st gets the link's own status, its date included. */
static int link_names(const char *path, const char *name, struct stat *st)
{
    char target[64];
    ssize_t n = readlink(path, target, sizeof target - 1);

    if (n < 0 || lstat(path, st) < 0)
        return -1;
    target[n] = '\0';
    return strcmp(target, name) == 0;
}

/* The date of generation name, made current through the link at path if
 * it is not already. Last-Modified has whole seconds: a new generation
 * must be dated after the one it replaces, or a browser holding a page
 * of the old one would be told that the new one is not modified. So a
 * switch within the old generation's second waits for the next one (and
 * a clock set back dates the new generation just after the old). */
static int generation_date(const char *path, const char *name, time_t *date)
{
    struct stat st;
    int named = link_names(path, name, &st);
    time_t old = named == 0 ? st.st_mtime : 0, now;

    if (named == 1) {
        *date = st.st_mtime;
        return 0;
    }
    if ((now = time(NULL)) <= old) {
        wait_past(old);
        now = time(NULL) > old ? time(NULL) : old + 1;
    }
    if (symlink_replace(name, path, now) < 0)
        return -1;
    /* Another worker may have switched at the same moment: the date read
     * back is the one every worker of the generation sends. */
    *date = link_names(path, name, &st) == 1 ? st.st_mtime : now;
    return 0;
}

enum cache_err cache_open(struct page_cache *pc, const char *rundir, int on,
                          unsigned long max, const char *etag,
                          struct stats *stats, char *err, size_t errlen)
{
    char pages[4096], path[4200], name[64];

    cache_close(pc);
    memset(pc, 0, sizeof *pc);
    pc->max = max;
    pc->stats = stats;
    if (snprintf(pages, sizeof pages, "%s/pages", rundir) >= (int)sizeof pages)
        return fail(err, errlen, "path too long:", rundir);
    if (mkdir(pages, 0755) < 0 && errno != EEXIST)
        return fail(err, errlen, "cannot make", pages);
    generation_name(etag, name, sizeof name);
    snprintf(path, sizeof path, "%s/current", pages);
    if (!on) {
        /* No link: every request the web server tries reaches nori. */
        if (unlink(path) < 0 && errno != ENOENT)
            return fail(err, errlen, "cannot remove", path);
        generations_prune(pages, "");
        return CACHE_OK;
    }
    if (snprintf(pc->gen, sizeof pc->gen, "%s/%s", pages, name) >= (int)sizeof pc->gen)
        return fail(err, errlen, "path too long:", pages);
    if (mkdir(pc->gen, 0755) < 0) {
        if (errno != EEXIST)
            return fail(err, errlen, "cannot make", pc->gen);
    } else if (stats) {
        /* A new generation starts empty: its size starts at 0. */
        stats_set(stats, STAT_CACHE_BYTES, 0);
    }
    /* The old generations go before the link moves: while they go, the
     * link names files that are going, so requests fall through to the
     * workers; once it has moved, no page of theirs is left for a web
     * server to find, even one that keeps what it looked up (lighttpd's
     * stat cache drops what an inotify event says is gone). */
    generations_prune(pages, name);
    if (generation_date(path, name, &pc->date) < 0)
        return fail(err, errlen, "cannot link", path);
    if (http_date(pc->last_modified, sizeof pc->last_modified, pc->date) < 0)
        return fail(err, errlen, "cannot date", path);
    pc->on = 1;
    return CACHE_OK;
}

/* What a canonical query and a mount prefix may hold to be a file name
 * under the generation, and a URL path the web server maps to it
 * unchanged: no '%', which the server would decode first (lighttpd.conf
 * sends any query with one to nori). */
static int key_ok(const char *prefix, const char *query)
{
    size_t q = strlen(query);

    if (q > KEY_MAX || strspn(query, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                     "qrstuvwxyz0123456789=&._~-") != q)
        return 0;
    return strspn(prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789/._-") == strlen(prefix) &&
           strstr(prefix, "..") == NULL;
}

/* The pages this worker wrote, or let go, in its generation, by
 * PREFIX?QUERY. Without a server in front that serves them (Apache,
 * one-shot runs), every render of a kept page comes here: this lookup,
 * before anything is formatted, is all it then costs. Only canonical
 * queries of rendered pages are recorded: bounded by the pages the
 * application has. */
struct written {
    UT_hash_handle hh;
    char key[];
};

/* PREFIX?QUERY into key (of KEY_CAP bytes); its length, 0 when too long. */
#define KEY_CAP (KEY_MAX + 4200)
static size_t key_make(char *key, const char *prefix, const char *query)
{
    size_t pl = strlen(prefix), ql = strlen(query);

    if (pl + ql + 2 > KEY_CAP)
        return 0;
    memcpy(key, prefix, pl);
    key[pl] = '?';
    memcpy(key + pl + 1, query, ql + 1);
    return pl + 1 + ql;
}

static struct written *written_find(const struct page_cache *pc, const char *key, size_t n)
{
    struct written *w = NULL;

    HASH_FIND(hh, pc->written, key, n, w);
    return w;
}

static void written_add(struct page_cache *pc, const char *key, size_t n)
{
    struct written *w = malloc(sizeof *w + n + 1);

    if (w != NULL) {
        memcpy(w->key, key, n + 1);
        HASH_ADD(hh, pc->written, key[0], n, w);
    }
}

int cache_seen(const struct page_cache *pc, const char *prefix, const char *query)
{
    char key[KEY_CAP];
    size_t n = key_make(key, prefix, query);

    return n > 0 && written_find(pc, key, n) != NULL;
}

void cache_close(struct page_cache *pc)
{
    struct written *w, *tmp;

    HASH_ITER(hh, pc->written, w, tmp) {
        HASH_DEL(pc->written, w);
        free(w);
    }
    pc->on = 0;
}

void cache_store(struct page_cache *pc, const char *prefix, const char *query,
                 const char *body, size_t len)
{
    char key[KEY_CAP], dir[4400], path[4700];
    const char *mount = prefix[0] ? prefix : "/";
    size_t n = key_make(key, prefix, query);

    /* A page seen once is not looked at again, whatever became of it. */
    if (!pc->on || n == 0 || written_find(pc, key, n) != NULL)
        return;
    written_add(pc, key, n);
    if (!key_ok(prefix, query))
        return;
    if (stats_get(pc->stats, STAT_CACHE_BYTES) + len > pc->max)
        return;
    if (snprintf(dir, sizeof dir, "%s%s", pc->gen, mount) >= (int)sizeof dir ||
        snprintf(path, sizeof path, "%s/%s.html", dir, query[0] ? query : "index") >=
            (int)sizeof path)
        return;
    /* The mount's directory, made at its first page. mkdir of the
     * generation itself is not tried: a generation that is gone was
     * replaced, and its pages would never be served. */
    if (access(pc->gen, F_OK) < 0)
        return;
    for (char *s = dir + strlen(pc->gen) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(dir, 0755);
            *s = '/';
        }
    mkdir(dir, 0755);
    if (file_replace(path, body, len, pc->date) == 0) {
        stats_add(pc->stats, STAT_CACHE_BYTES, len);
        stats_add(pc->stats, STAT_CACHE_PAGES, 1);
    }
}
