/* store.h -- where session records live between requests.
 *
 * A record is stored with a version; a write names the version it read
 * and fails with STORE_ECONFLICT when another worker wrote in between
 * (compare-and-put), so the caller runs its action again on fresh state.
 * Each record also carries its expiry, so the store can reclaim expired
 * records without decoding them.
 *
 * Several backends implement it (store_impl.h), chosen by the scheme of
 * the spec (storespec.h reads it): "lmdb:PATH" (one machine),
 * "redis://...", "rediss://..." (TLS), "redis+unix://...",
 * "redis-sentinel://..." and "rediss-sentinel://..." (several machines),
 * "memory" (each worker its own, with sticky routing). */
#ifndef NORI_STORE_H
#define NORI_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum store_err {
    STORE_OK = 0,
    STORE_ENOTFOUND,
    STORE_ECONFLICT,      /* the version read is no longer current */
    STORE_EFULL,          /* the map is full, even after reclaiming */
    STORE_EIO,
    STORE_EDOWN,          /* cannot reach the store now; try again later */
    STORE_EBADRECORD,     /* a stored value of a size no record can have */
};

struct stats;

struct store_options {
    int nosync;               /* NORI_SYNC=none|background: no fsync per commit */
    unsigned sync_ms;         /* NORI_SYNC=background: NORI_SYNC_MS; else 0 */
    size_t map_size;          /* NORI_LMDB_MAPSIZE, bytes */
    unsigned gc_foreground;   /* expired records reclaimed per commit */
    const char *redis_prefix; /* NORI_REDIS_PREFIX: before every key */
    unsigned redis_timeout_ms;/* NORI_REDIS_TIMEOUT_MS: connect, read, write */
    unsigned redis_wait;      /* NORI_REDIS_WAIT: replicas a commit waits for */
    size_t memory_max;        /* NORI_MEMORY_MAX: records one worker keeps */
    /* memory: where the live records a closed store still held are
     * counted (sessions_lost); NULL: nowhere. sessions_store (visit.h)
     * passes its sessions' stats. */
    struct stats *stats;
    /* memory: the directory (the run directory) where the store keeps
     * DIR/memory.PID, its record count, for whoever claims it if the
     * worker is killed (memory.h); NULL: no such file. */
    const char *orphan_dir;
};

/* One write: put `key` at version `expect` (0: must not exist yet). When
 * drop_key is set, that record (at drop_expect) is deleted in the same
 * transaction: login moves a session to a fresh key atomically. */
struct store_write {
    const char *key;
    const void *rec;
    size_t len;
    uint64_t expect;
    uint64_t expires;
    const char *drop_key;
    uint64_t drop_expect;
};

struct store;

/* Checks a store spec before any request is served, without opening
 * the store (a supervisor checks, then forks): every part parses
 * (storespec.c: ports, hosts, database, options), for lmdb:PATH the
 * directory is writable or can be made (lmdb.c: it is made, once, before
 * any worker starts, and kept; no store is opened in it), and the TLS
 * files a Redis spec names can be read. A Redis store is not
 * reached: it may be down at start, as store_open allows. On a bad spec,
 * writes why into err (without repeating the spec or its secret). */
int store_spec_check(const char *spec, char *err, size_t errlen);

/* spec: "lmdb:PATH", or a Redis URL (redis.c). The store must be opened
 * in the process that uses it, after any fork. A Redis store opens even
 * while Redis is down (its calls answer STORE_EDOWN until it is back);
 * only a spec that cannot be right is refused. */
struct store *store_open(const char *spec, const struct store_options *opt,
                         char *err, size_t errlen);
void store_close(struct store *st);

/* Copies the record into buf (cap bytes); *len is its length, *version
 * its version. A record larger than cap, or a value too short to hold a
 * record, is STORE_EBADRECORD: the caller treats it as absent. */
enum store_err store_get(struct store *st, const char *key, void *buf,
                         size_t cap, size_t *len, uint64_t *version);
/* now: reclaims up to gc_foreground records expired before it, in the
 * same transaction. *new_version and *reclaimed may be NULL. */
enum store_err store_put(struct store *st, const struct store_write *w,
                         uint64_t now, uint64_t *new_version,
                         unsigned *reclaimed);
enum store_err store_del(struct store *st, const char *key);
/* The background sweep: at most once per interval_ms across every
 * process sharing the store; deletes up to max expired records. */
enum store_err store_sweep(struct store *st, uint64_t now,
                           uint64_t now_ms, uint64_t interval_ms,
                           unsigned max, unsigned *reclaimed);
/* Clears reader slots left by processes that died mid-transaction. */
void store_readers_check(struct store *st);
/* Whether the store needs nori's sweeper: Redis expires keys itself. */
int store_sweeps(const struct store *st);
/* "lmdb", "redis": which backend the spec chose. */
const char *store_backend(const struct store *st);
/* Records in the store, and bytes of its data file in use. */
enum store_err store_stat(struct store *st, size_t *records, size_t *bytes);
/* Whether the store answers now, by its cheapest call (LMDB: a read
 * transaction; Redis: PING within NORI_REDIS_TIMEOUT_MS; memory: always):
 * what a health check asks. */
enum store_err store_ping(struct store *st);
const char *store_strerror(enum store_err err);

#endif
