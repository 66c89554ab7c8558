/* memory.c -- "one session per VM": each worker keeps its own sessions in
 * its own hash table, and a balancer sends every request of a session to
 * the worker that made it (the key carries that worker's route, as
 * KEY.ROUTE). No commit leaves the process, so nothing is written to disk
 * and nothing survives the worker: a worker that dies loses its sessions.
 *
 * Those losses are counted (sessions_lost). A store closed on the way
 * out counts its live records itself. Every store also publishes what it
 * holds in a small file mapped shared, DIR/memory.PID: records held,
 * latest expiry among them (stored into memory at each write, no system
 * call) and the process's start time. A worker killed before it could
 * count leaves the file behind, and whoever comes next claims it
 * (memory.h): the supervisor that reaps it, a worker that starts, a
 * status page. A store that counted itself empties and removes it.
 *
 * The table is the worker's alone (its requests come one at a time and no
 * sweeper thread touches it), so no lock. Its order is the order of the
 * last write, which is close to expiry order: reclamation walks from the
 * front, as LMDB's walks its expiry index. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uthash.h>

#include "../fcgi/stats.h"
#include "../fcgi/worker.h"
#include "memory.h"
#include "store_impl.h"

#define SESSION_KEY_MAX 64
/* A commit looks at this many entries from the front for expired ones. */
#define RECLAIM_LOOK 4

struct entry {
    UT_hash_handle hh;
    uint64_t version, expires;
    size_t len;
    char key[SESSION_KEY_MAX + 1];
    unsigned char rec[];
};

/* DIR/memory.PID: what the claimant of a killed worker's file reads. */
struct published {
    uint64_t records;           /* held, expired or not */
    uint64_t latest;            /* the latest expiry ever held; never lowered */
    uint64_t started;           /* /proc/PID/stat's starttime; 0: unknown */
};

struct memory_store {
    struct store base;          /* first: store.c dispatches on it */
    struct entry *table;
    size_t max, bytes;
    unsigned gc_foreground;
    struct stats *stats;        /* sessions_lost, at close */
    struct published *pub;      /* NULL: not published */
    char dir[4096];             /* where pub is; "" when it is not */
    char pub_path[4096];
};

static int published_path(char *out, size_t cap, const char *dir, pid_t pid)
{
    int n = snprintf(out, cap, "%s/memory.%ld", dir, (long)pid);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

enum proc_state { PROC_LIVE, PROC_GONE, PROC_UNKNOWN };

/* Whether pid runs, and since when (/proc/PID/stat's 22nd field, clock
 * ticks after boot): a pid reused by another process has another start
 * time. A zombie is gone: it has died and waits to be reaped. */
static enum proc_state proc_state(pid_t pid, uint64_t *started)
{
    char path[64], buf[1024], *p, *end;
    ssize_t n;
    int fd;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT || errno == ESRCH ? PROC_GONE : PROC_UNKNOWN;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return n == 0 || errno == ESRCH ? PROC_GONE : PROC_UNKNOWN;
    buf[n] = '\0';
    /* The name in parentheses may hold anything: fields start after the
     * last ')'. */
    if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
        return PROC_UNKNOWN;
    p += 2;
    if (*p == 'Z' || *p == 'X' || *p == 'x')
        return PROC_GONE;
    for (int field = 3; field < 22; field++) {
        if ((p = strchr(p, ' ')) == NULL)
            return PROC_UNKNOWN;
        p++;
    }
    errno = 0;
    *started = strtoull(p, &end, 10);
    return errno || end == p ? PROC_UNKNOWN : PROC_LIVE;
}

/* Whether the process that wrote p (of pid) is gone. A file too short to
 * say when its writer started was being made, or is not a count: it is
 * its writer's while a process of that pid runs. */
static int writer_gone(pid_t pid, const struct published *p, int whole)
{
    uint64_t started = 0;

    switch (proc_state(pid, &started)) {
    case PROC_GONE: return 1;
    case PROC_LIVE: return whole && p->started != 0 && p->started != started;
    default: return 0;
    }
}

/* 1: p is a count; 0: the file is of another size (not one, or an older
 * build's), and counts nothing; -1: no such file. */
static int read_published(const char *path, struct published *p)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    int whole;

    memset(p, 0, sizeof *p);
    if (fd < 0)
        return -1;
    whole = fstat(fd, &sb) == 0 && sb.st_size == (off_t)sizeof *p &&
            pread(fd, p, sizeof *p, 0) == (ssize_t)sizeof *p;
    if (!whole)
        memset(p, 0, sizeof *p);
    close(fd);
    return whole;
}

/* One file, pid's. The claim is the rename: of two claimants, the second
 * finds no file. What was read before it is read again after, since a
 * process of a reused pid may have put its own file there in between;
 * that one goes back. */
static uint64_t claim_one(const char *dir, pid_t pid, uint64_t now, struct stats *stats,
                          const char *prefix, int force)
{
    char path[4096], claimed[4200], line[256];
    struct published p;
    int whole, n;
    uint64_t lost;

    if (snprintf(path, sizeof path, "%s/memory.%ld", dir, (long)pid) >= (int)sizeof path)
        return 0;
    n = snprintf(claimed, sizeof claimed, "%s.claimed-by.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof claimed)
        return 0;
    if ((whole = read_published(path, &p)) < 0 || !(force || writer_gone(pid, &p, whole)))
        return 0;
    if (rename(path, claimed) < 0)
        return 0;                   /* another claimant has it */
    whole = read_published(claimed, &p);
    if (!force && !writer_gone(pid, &p, whole)) {
        (void)rename(claimed, path);
        return 0;
    }
    unlink(claimed);
    lost = whole > 0 && p.latest > now ? p.records : 0;
    if (lost == 0)
        return 0;
    stats_add(stats, STAT_SESSIONS_LOST, lost);
    /* The line an operator greps for after a crash: sessions_lost alone
     * says that sessions went, not which worker took them. */
    snprintf(line, sizeof line, "worker %ld died holding %llu live sessions of its "
             "memory store; they are lost (sessions_lost)", (long)pid,
             (unsigned long long)lost);
    worker_log_text(prefix, "memory: worker died holding sessions", line);
    return lost;
}

/* Every DIR/memory.PID; the caller's own file is skipped (it is live).
 * Other names (a file being made, another claimant's) are not counts. */
uint64_t memory_claim_orphans(const char *dir, pid_t pid, uint64_t now,
                              struct stats *stats, const char *prefix)
{
    DIR *d;
    struct dirent *e;
    uint64_t lost = 0;

    if (pid > 0)
        return pid == getpid() ? 0 : claim_one(dir, pid, now, stats, prefix, 0);
    if ((d = opendir(dir)) == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        const char *digits = e->d_name + 7;
        char *end;
        long other;

        if (strncmp(e->d_name, "memory.", 7) != 0 || *digits < '1' || *digits > '9')
            continue;
        errno = 0;
        other = strtol(digits, &end, 10);
        if (errno || *end != '\0' || other <= 0 || (pid_t)other != other ||
            (pid_t)other == getpid())
            continue;
        lost += claim_one(dir, (pid_t)other, now, stats, prefix, 0);
    }
    closedir(d);
    return lost;
}

/* The file is made whole under a name of its own and renamed into place,
 * so that a claimant never reads a half-made one as a count. What is at
 * DIR/memory.PID already is a dead process's of the same pid: it is
 * claimed first. Files of other dead workers are claimed too: a worker
 * that starts is often the one replacing a killed one (lighttpd's
 * bin-path). 0600, made with O_EXCL: a symlink planted in between is not
 * followed. Without the file the store still works; only a kill goes
 * uncounted. */
static void publish_open(struct memory_store *st, const char *dir)
{
    char tmp[4200];
    uint64_t now = (uint64_t)time(NULL), started = 0;
    void *p;
    int fd, n;

    if (published_path(st->pub_path, sizeof st->pub_path, dir, getpid()) < 0 ||
        strlen(dir) >= sizeof st->dir)
        return;
    claim_one(dir, getpid(), now, st->stats, "nori: ", 1);
    memory_claim_orphans(dir, 0, now, st->stats, "nori: ");
    n = snprintf(tmp, sizeof tmp, "%s.new", st->pub_path);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return;
    unlink(tmp);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (ftruncate(fd, sizeof *st->pub) < 0) {
        close(fd);
        unlink(tmp);
        return;
    }
    p = mmap(NULL, sizeof *st->pub, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        unlink(tmp);
        return;
    }
    if (proc_state(getpid(), &started) == PROC_LIVE)
        ((struct published *)p)->started = started;
    if (rename(tmp, st->pub_path) < 0) {
        munmap(p, sizeof *st->pub);
        unlink(tmp);
        return;
    }
    st->pub = p;
    strcpy(st->dir, dir);
}

/* After a write: two stores to shared memory, which outlive the process. */
static void publish(struct memory_store *st, uint64_t expires)
{
    if (st->pub == NULL)
        return;
    __atomic_store_n(&st->pub->records, (uint64_t)HASH_COUNT(st->table), __ATOMIC_RELAXED);
    if (expires > st->pub->latest)
        __atomic_store_n(&st->pub->latest, expires, __ATOMIC_RELAXED);
}

static struct entry *find(struct memory_store *st, const char *key)
{
    struct entry *e = NULL;

    HASH_FIND_STR(st->table, key, e);
    return e;
}

static void drop(struct memory_store *st, struct entry *e)
{
    HASH_DEL(st->table, e);
    st->bytes -= sizeof *e + e->len;
    free(e);
}

/* Deletes up to max records expired before now, looking at no more than
 * look entries from the front. */
static unsigned reclaim(struct memory_store *st, uint64_t now, unsigned max,
                        size_t look)
{
    struct entry *e, *tmp;
    unsigned n = 0;
    size_t seen = 0;

    HASH_ITER(hh, st->table, e, tmp) {
        if (n >= max || seen++ >= look)
            break;
        if (e->expires < now) {
            drop(st, e);
            n++;
        }
    }
    return n;
}

static struct store *memory_open(const char *spec, const struct store_options *opt,
                                 char *err, size_t errlen)
{
    struct memory_store *st;

    if (strcmp(spec, "memory") != 0) {
        snprintf(err, errlen, "bad store '%s' (want memory)", spec);
        return NULL;
    }
    if ((st = calloc(1, sizeof *st)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->base.ops = &store_memory_ops;
    st->max = opt->memory_max ? opt->memory_max : 100000;
    st->gc_foreground = opt->gc_foreground;
    st->stats = opt->stats;
    if (opt->orphan_dir)
        publish_open(st, opt->orphan_dir);
    return &st->base;
}

/* The worker goes away with its table: its live sessions are lost, and
 * counted here. The published file goes first, emptied before it is
 * removed (a claimant that renamed it meanwhile reads 0), so that a kill
 * between the two loses the count rather than counting twice. */
static void memory_close(struct store *base)
{
    struct memory_store *st = (struct memory_store *)base;
    struct entry *e, *tmp;
    uint64_t now = (uint64_t)time(NULL), live = 0;

    if (st->pub) {
        __atomic_store_n(&st->pub->records, 0, __ATOMIC_RELAXED);
        unlink(st->pub_path);
        munmap(st->pub, sizeof *st->pub);
    }
    HASH_ITER(hh, st->table, e, tmp) {
        live += e->expires > now;       /* as session_live has it */
        drop(st, e);
    }
    stats_add(st->stats, STAT_SESSIONS_LOST, live);
    free(st);
}

static enum store_err memory_get(struct store *base, const char *key, void *buf,
                                 size_t cap, size_t *len, uint64_t *version)
{
    struct entry *e = find((struct memory_store *)base, key);

    if (e == NULL)
        return STORE_ENOTFOUND;
    if (e->len > cap)
        return STORE_EBADRECORD;    /* absent to the caller, as in every store */
    memcpy(buf, e->rec, e->len);
    *len = e->len;
    *version = e->version;
    return STORE_OK;
}

static enum store_err memory_put(struct store *base, const struct store_write *w,
                                 uint64_t now, uint64_t *new_version,
                                 unsigned *reclaimed)
{
    struct memory_store *st = (struct memory_store *)base;
    struct entry *old = find(st, w->key), *gone = w->drop_key ? find(st, w->drop_key) : NULL;
    struct entry *e;
    size_t klen = strlen(w->key);
    unsigned n;

    if (klen == 0 || klen > SESSION_KEY_MAX)
        return STORE_EIO;
    if ((old ? old->version : 0) != w->expect ||
        (w->drop_key && (gone ? gone->version : 0) != w->drop_expect))
        return STORE_ECONFLICT;
    /* Full of live sessions: a new one is refused rather than a live one
     * thrown out; all expired ones go first. */
    if (old == NULL && (size_t)HASH_COUNT(st->table) >= st->max &&
        (reclaim(st, now, UINT32_MAX, SIZE_MAX), (size_t)HASH_COUNT(st->table) >= st->max))
        return STORE_EFULL;
    if ((e = malloc(sizeof *e + w->len)) == NULL)
        return STORE_EFULL;
    e->version = w->expect + 1;
    e->expires = w->expires;
    e->len = w->len;
    memcpy(e->key, w->key, klen + 1);
    memcpy(e->rec, w->rec, w->len);
    if (gone)
        drop(st, gone);
    if (old)
        drop(st, old);
    n = reclaim(st, now, st->gc_foreground, (size_t)st->gc_foreground * RECLAIM_LOOK);
    HASH_ADD_STR(st->table, key, e);
    st->bytes += sizeof *e + e->len;
    publish(st, e->expires);
    if (new_version)
        *new_version = e->version;
    if (reclaimed)
        *reclaimed = n;
    return STORE_OK;
}

static enum store_err memory_del(struct store *base, const char *key)
{
    struct memory_store *st = (struct memory_store *)base;
    struct entry *e = find(st, key);

    if (e == NULL)
        return STORE_ENOTFOUND;
    drop(st, e);
    publish(st, 0);
    return STORE_OK;
}

/* The status page asks: under spawn-fcgi nothing respawns a killed
 * worker, so the workers left claim its file when someone looks. */
static enum store_err memory_stat(struct store *base, size_t *records, size_t *bytes)
{
    struct memory_store *st = (struct memory_store *)base;

    if (st->pub)
        memory_claim_orphans(st->dir, 0, (uint64_t)time(NULL), st->stats, "nori: ");

    *records = HASH_COUNT(st->table);
    *bytes = st->bytes;
    return STORE_OK;
}

const struct store_ops store_memory_ops = {
    .name = "memory",
    .open = memory_open,
    .close = memory_close,
    .get = memory_get,
    .put = memory_put,
    .del = memory_del,
    .sweep = NULL,          /* no thread may touch the table */
    .readers_check = NULL,
    .stat = memory_stat,
    .ping = NULL,           /* in this process: it answers while we do */
};
