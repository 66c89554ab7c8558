/* memory.c -- "one session per VM": each worker keeps its own sessions in
 * its own hash table, and a balancer sends every request of a session to
 * the worker that made it (the key carries that worker's route, as
 * KEY.ROUTE). No commit leaves the process, so nothing is written to disk
 * and nothing survives the worker: a worker that dies loses its sessions.
 *
 * Those losses are counted (sessions_lost). A store closed on the way
 * out counts its live records itself. Under a supervisor, the store also
 * publishes what it holds in a small file mapped shared, DIR/memory.PID:
 * two u64s (records held; latest expiry among them) stored into memory
 * at each write, no system call. A worker killed before it could count
 * leaves the file behind, and the supervisor that reaps it counts from
 * it (store_memory_orphans); a store that counted itself removes it.
 *
 * The table is the worker's alone (its requests come one at a time and no
 * sweeper thread touches it), so no lock. Its order is the order of the
 * last write, which is close to expiry order: reclamation walks from the
 * front, as LMDB's walks its expiry index. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <uthash.h>

#include "../fcgi/stats.h"
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

/* DIR/memory.PID: what a killed worker's supervisor reads. */
struct published {
    uint64_t records;           /* held, expired or not */
    uint64_t latest;            /* the latest expiry ever held; never lowered */
};

struct memory_store {
    struct store base;          /* first: store.c dispatches on it */
    struct entry *table;
    size_t max, bytes;
    unsigned gc_foreground;
    struct stats *stats;        /* sessions_lost, at close */
    struct published *pub;      /* NULL: not published */
    char pub_path[4096];
};

static int published_path(char *out, size_t cap, const char *dir, pid_t pid)
{
    int n = snprintf(out, cap, "%s/memory.%ld", dir, (long)pid);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* A file left by an earlier process of the same pid is replaced by a
 * fresh one, 0600 (O_EXCL: a symlink planted in between is not followed).
 * Without it the store still works; only a kill goes uncounted. */
static void publish_open(struct memory_store *st, const char *dir)
{
    void *p;
    int fd;

    if (published_path(st->pub_path, sizeof st->pub_path, dir, getpid()) < 0)
        return;
    unlink(st->pub_path);
    fd = open(st->pub_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (ftruncate(fd, sizeof *st->pub) < 0) {
        close(fd);
        unlink(st->pub_path);
        return;
    }
    p = mmap(NULL, sizeof *st->pub, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        unlink(st->pub_path);
        return;
    }
    st->pub = p;
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
 * counted here. The published file goes first, so that a kill between
 * the two loses the count rather than counting twice. */
static void memory_close(struct store *base)
{
    struct memory_store *st = (struct memory_store *)base;
    struct entry *e, *tmp;
    uint64_t now = (uint64_t)time(NULL), live = 0;

    if (st->pub) {
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

uint64_t store_memory_orphans(const char *dir, pid_t pid, uint64_t now)
{
    char path[4096];
    struct published p;
    int fd;
    ssize_t n;

    if (published_path(path, sizeof path, dir, pid) < 0 ||
        (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        return 0;
    n = pread(fd, &p, sizeof p, 0);
    close(fd);
    unlink(path);
    if (n != (ssize_t)sizeof p || p.latest <= now)
        return 0;
    return p.records;
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

static enum store_err memory_stat(struct store *base, size_t *records, size_t *bytes)
{
    struct memory_store *st = (struct memory_store *)base;

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
