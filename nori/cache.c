/* cache.c -- the page cache's files (cache.h): generations, the link
 * that names and dates the current one, and the pages themselves. */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nori.h>

#include "../fcgi/http.h"
#include "../fcgi/stats.h"
#include "cache.h"

#define KEY_MAX 200             /* a longer query is not kept: a name is 255 */
#define DEPTH_MAX 16            /* directories a generation is removed through */
#define FLUSH_SECONDS 60        /* a full generation is emptied at most this often */

/* What the disk spends on a file: its allocated blocks (what du counts). */
static uint64_t disk_bytes(const struct stat *st)
{
    return (uint64_t)st->st_blocks * 512;
}

int cache_entry_is_dir(int dirfd, const char *name, unsigned char d_type)
{
    struct stat st;

    if (d_type != DT_UNKNOWN)
        return d_type == DT_DIR;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* A stream over the directory fd on a descriptor of its own, so that
 * closedir leaves fd open for the caller. NULL when it cannot. */
static DIR *dir_stream(int fd)
{
    int rfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = rfd < 0 ? NULL : fdopendir(rfd);

    if (d == NULL && rfd >= 0)
        close(rfd);
    return d;
}

static void tree_empty(int fd, int depth);

/* The directory name in fd, with what is in it; a symlink in its place
 * is not followed (O_NOFOLLOW), and past DEPTH_MAX it is only rmdir'd. */
static void subtree_remove(int fd, const char *name, int depth)
{
    int sub = depth < DEPTH_MAX
        ? openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;

    if (sub >= 0) {
        tree_empty(sub, depth + 1);
        close(sub);
    }
    unlinkat(fd, name, AT_REMOVEDIR);
}

/* Everything in the directory fd, depth first, through descriptors: a
 * symlink is removed as itself, never followed. fd stays open. */
static void tree_empty(int fd, int depth)
{
    DIR *d = dir_stream(fd);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (cache_entry_is_dir(fd, e->d_name, e->d_type))
            subtree_remove(fd, e->d_name, depth);
        else
            unlinkat(fd, e->d_name, 0);
    }
    closedir(d);
}

/* Every generation but keep (a directory name), with what is in it. */
static void generations_prune(int pages_fd, const char *keep)
{
    DIR *d = dir_stream(pages_fd);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, keep) == 0 ||
            !cache_entry_is_dir(pages_fd, e->d_name, e->d_type))
            continue;
        subtree_remove(pages_fd, e->d_name, 0);
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

/* What the link "current" in pages_fd names: 1 generation name, 0 another
 * one, -1 no link. *st gets the link's own status, its date included. */
static int link_names(int pages_fd, const char *name, struct stat *st)
{
    char target[64];
    ssize_t n = readlinkat(pages_fd, "current", target, sizeof target - 1);

    if (n < 0 || fstatat(pages_fd, "current", st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    target[n] = '\0';
    return strcmp(target, name) == 0;
}

/* The link carries the generation's date as its own mtime. */
static int link_replace(int pages_fd, const char *target, time_t date)
{
    const struct timespec times[2] = {{date, 0}, {date, 0}};
    char tmp[64];

    snprintf(tmp, sizeof tmp, "current.%d.tmp", (int)getpid());
    unlinkat(pages_fd, tmp, 0);
    if (symlinkat(target, pages_fd, tmp) < 0)
        return -1;
    if (utimensat(pages_fd, tmp, times, AT_SYMLINK_NOFOLLOW) < 0 ||
        renameat(pages_fd, tmp, pages_fd, "current") < 0) {
        unlinkat(pages_fd, tmp, 0);
        return -1;
    }
    return 0;
}

/* The date of generation name, made current through the link if it is
 * not already. Last-Modified has whole seconds: a new generation must be
 * dated after the one it replaces, or a browser holding a page of the old
 * one would be told that the new one is not modified. So a switch within
 * the old generation's second waits for the next one (and a clock set
 * back dates the new generation just after the old). */
static int generation_date(int pages_fd, const char *name, time_t *date)
{
    struct stat st;
    int named = link_names(pages_fd, name, &st);
    time_t old = named == 0 ? st.st_mtime : 0, now;

    if (named == 1) {
        *date = st.st_mtime;
        return 0;
    }
    if ((now = time(NULL)) <= old) {
        wait_past(old);
        now = time(NULL) > old ? time(NULL) : old + 1;
    }
    if (link_replace(pages_fd, name, now) < 0)
        return -1;
    /* Another worker may have switched at the same moment: the date read
     * back is the one every worker of the generation sends. */
    *date = link_names(pages_fd, name, &st) == 1 ? st.st_mtime : now;
    return 0;
}

/* RUNDIR/pages, made if missing: a directory of ours, not a symlink (an
 * O_NOFOLLOW open refuses one), that no one else may write in. */
static int pages_open(const char *rundir, char *err, size_t errlen)
{
    char pages[4096];
    struct stat st;
    int rfd, fd;

    if (snprintf(pages, sizeof pages, "%s/pages", rundir) >= (int)sizeof pages) {
        errno = ENAMETOOLONG;
        return fail(err, errlen, "path too long:", rundir), -1;
    }
    if ((rfd = open(rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return fail(err, errlen, "cannot open", rundir), -1;
    if (mkdirat(rfd, "pages", 0755) < 0 && errno != EEXIST) {
        close(rfd);
        return fail(err, errlen, "cannot make", pages), -1;
    }
    fd = openat(rfd, "pages", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close(rfd);
    if (fd < 0) {
        snprintf(err, errlen, "page cache: %s: not a directory (a symlink is never "
                 "followed there; remove it)", pages);
        return -1;
    }
    if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
        snprintf(err, errlen, "page cache: %s: must be owned by uid %u and writable "
                 "by it alone", pages, (unsigned)geteuid());
        close(fd);
        return -1;
    }
    return fd;
}

enum cache_err cache_open(struct page_cache *pc, const char *rundir, int on,
                          unsigned long max, const char *etag,
                          struct stats *stats, char *err, size_t errlen)
{
    char name[64];
    struct stat st;
    int pages_fd, made;

    cache_close(pc);
    memset(pc, 0, sizeof *pc);
    pc->max = max;
    pc->stats = stats;
    if ((pages_fd = pages_open(rundir, err, errlen)) < 0)
        return CACHE_EDIR;
    generation_name(etag, name, sizeof name);
    if (!on) {
        /* No link: every request the web server tries reaches nori. */
        if (unlinkat(pages_fd, "current", 0) < 0 && errno != ENOENT) {
            fail(err, errlen, "cannot remove", "pages/current");
            goto fail;
        }
        generations_prune(pages_fd, "");
        close(pages_fd);
        return CACHE_OK;
    }
    if (snprintf(pc->gen, sizeof pc->gen, "%s/pages/%s", rundir, name) >= (int)sizeof pc->gen) {
        errno = ENAMETOOLONG;
        fail(err, errlen, "path too long:", rundir);
        goto fail;
    }
    made = mkdirat(pages_fd, name, 0755) == 0;
    if (!made && errno != EEXIST) {
        fail(err, errlen, "cannot make", pc->gen);
        goto fail;
    }
    if (fstatat(pages_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        fail(err, errlen, "cannot open (a symlink is never followed)", pc->gen);
        goto fail;
    }
    /* A new generation starts with its own directory's blocks. */
    if (made && stats)
        stats_set(stats, STAT_CACHE_BYTES, disk_bytes(&st));
    if ((pc->seen = calloc(CACHE_SEEN_SLOTS, sizeof *pc->seen)) == NULL) {
        fail(err, errlen, "no memory for", pc->gen);
        goto fail;
    }
    snprintf(pc->name, sizeof pc->name, "%s", name);
    pc->pages_fd = pages_fd;
    pc->fds = 1;
    pc->flushes = stats_get(stats, STAT_CACHE_FLUSHES);
    /* The old generations go before the link moves: while they go, the
     * link names files that are going, so requests fall through to the
     * workers; once it has moved, no page of theirs is left for a web
     * server to find, even one that keeps what it looked up (lighttpd's
     * stat cache drops what an inotify event says is gone). */
    generations_prune(pages_fd, name);
    if (generation_date(pages_fd, name, &pc->date) < 0) {
        fail(err, errlen, "cannot link", "pages/current");
        cache_close(pc);
        return CACHE_EDIR;
    }
    if (http_date(pc->last_modified, sizeof pc->last_modified, pc->date) < 0) {
        fail(err, errlen, "cannot date", pc->gen);
        cache_close(pc);
        return CACHE_EDIR;
    }
    pc->on = 1;
    return CACHE_OK;
fail:
    close(pages_fd);
    pc->gen[0] = '\0';
    return CACHE_EDIR;
}

int cache_prefix_canonical(char *out, size_t cap, const char *prefix)
{
    size_t n = 0;
    const char *p = prefix;

    while (*p) {
        const char *s;
        size_t len;

        while (*p == '/')
            p++;
        for (s = p; *p && *p != '/'; p++)
            ;
        len = (size_t)(p - s);
        if (len == 0 || (len == 1 && s[0] == '.'))
            continue;
        if (len == 2 && s[0] == '.' && s[1] == '.')
            return -1;
        if (n + 1 + len + 1 > cap)
            return -1;
        out[n++] = '/';
        memcpy(out + n, s, len);
        n += len;
    }
    if (cap == 0)
        return -1;
    out[n] = '\0';
    return (int)n;
}

/* What a canonical query and a mount prefix may hold to be a file name
 * under the generation, and a URL path the web server maps to it
 * unchanged: no '%', which the server would decode first (lighttpd.conf
 * sends any query with one to nori). The prefix must be canonical: a
 * page rendered under another spelling of it carries that spelling in
 * its links, and must not be what the canonical URL is served. */
static int key_ok(const char *prefix, const char *query)
{
    size_t q = strlen(query), pl = strlen(prefix);
    char canon[256];

    if (q > KEY_MAX || strspn(query, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                     "qrstuvwxyz0123456789=&._~-") != q)
        return 0;
    return strspn(prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789/._-") == pl &&
           cache_prefix_canonical(canon, sizeof canon, prefix) == (int)pl &&
           strcmp(canon, prefix) == 0;
}

/* The digest of PREFIX?QUERY, never 0 (an empty slot). */
static uint64_t key_digest(const char *prefix, const char *query)
{
    uint64_t h = nori_hash(NORI_HASH_INIT, prefix, strlen(prefix));

    h = nori_hash(h, "?", 1);
    h = nori_hash(h, query, strlen(query));
    return h ? h : 1;
}

/* The page's slot in the table of what this worker kept. */
static uint64_t *seen_slot(const struct page_cache *pc, uint64_t h)
{
    return &pc->seen[(h ^ (h >> 29)) % CACHE_SEEN_SLOTS];
}

/* Another worker emptied the generation: what this one remembers keeping
 * is gone, and must be kept again when it is asked for. */
static void seen_refresh(struct page_cache *pc)
{
    uint64_t f = stats_get(pc->stats, STAT_CACHE_FLUSHES);

    if (f != pc->flushes) {
        memset(pc->seen, 0, CACHE_SEEN_SLOTS * sizeof *pc->seen);
        pc->flushes = f;
    }
}

int cache_seen(const struct page_cache *pc, const char *prefix, const char *query)
{
    uint64_t h;

    if (pc->seen == NULL)
        return 0;
    /* A stale table only says "not seen" too often once refreshed: the
     * check that refreshes it is cache_store's, which follows a miss. */
    if (stats_get(pc->stats, STAT_CACHE_FLUSHES) != pc->flushes)
        return 0;
    h = key_digest(prefix, query);
    return *seen_slot(pc, h) == h;
}

void cache_close(struct page_cache *pc)
{
    if (pc->fds) {
        close(pc->pages_fd);
        pc->fds = 0;
    }
    free(pc->seen);
    pc->seen = NULL;
    pc->on = 0;
}

/* Empties the full generation, at most once a FLUSH_SECONDS: the worker
 * that holds its lock does it while the others skip the page they had
 * (the next request keeps it). What is left is the generation's own
 * directory. Its mtime is the date of the last emptying (or of its
 * making, or of its first mount directory): a flood of junk URLs then
 * costs a budget's worth of writes a FLUSH_SECONDS, not one per request,
 * and the pages asked for come back within that. */
static int generation_flush(struct page_cache *pc, int gen_fd, uint64_t need)
{
    const struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    struct stat st;

    if (fstat(gen_fd, &st) < 0 || st.st_mtime + FLUSH_SECONDS > time(NULL) ||
        flock(gen_fd, LOCK_EX | LOCK_NB) < 0)
        return 0;
    /* Emptied by another worker between our look and the lock? */
    if (stats_get(pc->stats, STAT_CACHE_BYTES) + need > pc->max) {
        tree_empty(gen_fd, 1);
        futimens(gen_fd, now);
        if (fstat(gen_fd, &st) == 0)
            stats_set(pc->stats, STAT_CACHE_BYTES, disk_bytes(&st));
        stats_add(pc->stats, STAT_CACHE_FLUSHES, 1);
    }
    flock(gen_fd, LOCK_UN);
    seen_refresh(pc);
    return 1;
}

/* The directory of the mount prefix under the generation, each segment
 * made (its blocks counted) when missing and opened O_NOFOLLOW: -1 if
 * one is a symlink, or cannot be made. */
static int mount_open(struct page_cache *pc, int gen_fd, const char *prefix)
{
    int fd = openat(gen_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const char *p = prefix;
    char seg[256];

    while (fd >= 0 && *p) {
        const char *s = ++p;    /* past the '/' */
        size_t len;
        struct stat st;
        int next;

        while (*p && *p != '/')
            p++;
        len = (size_t)(p - s);
        if (len == 0 || len >= sizeof seg)
            break;
        memcpy(seg, s, len);
        seg[len] = '\0';
        if (mkdirat(fd, seg, 0755) == 0 && fstatat(fd, seg, &st, AT_SYMLINK_NOFOLLOW) == 0)
            stats_add(pc->stats, STAT_CACHE_BYTES, disk_bytes(&st));
        next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(fd);
        fd = next;
    }
    if (fd >= 0 && *p) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Written whole to a temporary name in dfd, dated, then renamed over the
 * old one (the web server sends the file's date as its Last-Modified);
 * the counter gets the blocks it adds, less those of the file replaced. */
static void page_write(struct page_cache *pc, int dfd, const char *name,
                       const char *bytes, size_t len)
{
    const struct timespec times[2] = {{pc->date, 0}, {pc->date, 0}};
    char tmp[KEY_MAX + 64];
    struct stat st, old;
    int fd, ok;

    snprintf(tmp, sizeof tmp, "%s.%d.tmp", name, (int)getpid());
    unlinkat(dfd, tmp, 0);
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ok = write(fd, bytes, len) == (ssize_t)len && futimens(fd, times) == 0 &&
         fstat(fd, &st) == 0;
    if (close(fd) < 0)
        ok = 0;
    if (ok && fstatat(dfd, name, &old, AT_SYMLINK_NOFOLLOW) < 0)
        memset(&old, 0, sizeof old);
    if (!ok || renameat(dfd, tmp, dfd, name) < 0) {
        unlinkat(dfd, tmp, 0);
        return;
    }
    /* Unsigned wrap-around subtracts a larger file replaced. */
    stats_add(pc->stats, STAT_CACHE_BYTES, disk_bytes(&st) - disk_bytes(&old));
    stats_add(pc->stats, STAT_CACHE_PAGES, 1);
}

void cache_store(struct page_cache *pc, const char *prefix, const char *query,
                 const char *body, size_t len)
{
    char name[KEY_MAX + 8];
    uint64_t h, *slot, need;
    int gfd, dfd;

    if (!pc->on || !pc->fds || pc->seen == NULL)
        return;
    seen_refresh(pc);
    h = key_digest(prefix, query);
    slot = seen_slot(pc, h);
    /* A page seen once is not looked at again, whatever became of it;
     * but for one let go because the generation was full: that one comes
     * back here, so that the page asked for is what empties a generation
     * full of junk once it may be emptied (generation_flush). */
    if (*slot == h)
        return;
    /* Blocks, rounded up as the disk rounds them, with room for the
     * mount's directories. */
    need = ((uint64_t)len + 4095) / 4096 * 4096 + 4096;
    if (!key_ok(prefix, query) || need > pc->max) {
        *slot = h;
        return;
    }
    /* The generation is opened for each page, not held: a worker of the
     * old data would otherwise keep a removed generation's inode alive
     * until it exits (and inotify reports a directory's removal only when
     * its inode goes). A generation that is gone was replaced: its pages
     * would never be served. */
    gfd = openat(pc->pages_fd, pc->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (gfd < 0)
        return;
    if (stats_get(pc->stats, STAT_CACHE_BYTES) + need > pc->max &&
        (!generation_flush(pc, gfd, need) ||
         stats_get(pc->stats, STAT_CACHE_BYTES) + need > pc->max)) {
        close(gfd);
        return;
    }
    /* After the table was emptied with the generation, too. */
    *seen_slot(pc, h) = h;
    snprintf(name, sizeof name, "%s.html", query[0] ? query : "index");
    dfd = mount_open(pc, gfd, prefix);
    close(gfd);
    if (dfd < 0)
        return;
    page_write(pc, dfd, name, body, len);
    close(dfd);
}

uint64_t cache_program_digest(void)
{
    static uint64_t digest;
    static int done;
    char buf[65536];
    ssize_t n;
    int fd;

    if (done)
        return digest;
    done = 1;
    if ((fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    uint64_t h = NORI_HASH_INIT;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        h = nori_hash(h, buf, (size_t)n);
    if (n == 0)
        digest = h ? h : 1;
    close(fd);
    return digest;
}
