/* memory.c -- "one session per VM": each worker keeps its own sessions in
 * its own hash table, and a balancer sends every request of a session to
 * the worker that made it (the key carries that worker's route, as
 * KEY.ROUTE). No commit leaves the process, so nothing is written to disk
 * and nothing survives the worker: a worker that dies loses its sessions.
 *
 * The table is the worker's alone (its requests come one at a time and no
 * sweeper thread touches it), so no lock. Its order is the order of the
 * last write, which is close to expiry order: reclamation walks from the
 * front, as LMDB's walks its expiry index. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

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

struct memory_store {
    struct store base;          /* first: store.c dispatches on it */
    struct entry *table;
    size_t max, bytes;
    unsigned gc_foreground;
};

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
    return &st->base;
}

static void memory_close(struct store *base)
{
    struct memory_store *st = (struct memory_store *)base;
    struct entry *e, *tmp;

    HASH_ITER(hh, st->table, e, tmp)
        drop(st, e);
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
};
