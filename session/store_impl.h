/* store_impl.h -- what a store backend provides: one table of
 * operations, chosen by the scheme of NORI_STORE. store.c owns the
 * dispatch; the lifecycle code sees only store.h.
 *
 * A backend's handle begins with `struct store`, so that store.c can
 * find the table and the backend can find the rest of its handle. */
#ifndef NORI_STORE_IMPL_H
#define NORI_STORE_IMPL_H

#include "store.h"

struct store_ops {
    const char *name;           /* what /nori-status calls it */
    /* rest: the spec after "scheme:" (or the whole spec for URL forms) */
    struct store *(*open)(const char *spec, const struct store_options *opt,
                          char *err, size_t errlen);
    void (*close)(struct store *st);
    enum store_err (*get)(struct store *st, const char *key, void *buf,
                          size_t cap, size_t *len, uint64_t *version);
    enum store_err (*put)(struct store *st, const struct store_write *w,
                          uint64_t now, uint64_t *new_version,
                          unsigned *reclaimed);
    enum store_err (*del)(struct store *st, const char *key);
    /* NULL: the store reclaims by itself; no sweeper thread is needed. */
    enum store_err (*sweep)(struct store *st, uint64_t now, uint64_t now_ms,
                            uint64_t interval_ms, unsigned max,
                            unsigned *reclaimed);
    void (*readers_check)(struct store *st);    /* may be NULL */
    enum store_err (*stat)(struct store *st, size_t *records, size_t *bytes);
    /* The cheapest call that proves the store answers now. */
    enum store_err (*ping)(struct store *st);
};

struct store {
    const struct store_ops *ops;
    struct stats *stats;        /* store.c times every call into it */
};

/* Every backend keeps the same bytes for a session: its version and its
 * expiry, 8 bytes each, little-endian, then the record. */
#define STORE_VALUE_HEAD 16
void store_u64_put(unsigned char *b, uint64_t v);
uint64_t store_u64_get(const unsigned char *b);

extern const struct store_ops store_lmdb_ops;
/* lmdb.c: the directory of an lmdb:PATH spec is writable or makeable. */
int lmdb_spec_check(const char *spec, char *err, size_t errlen);
extern const struct store_ops store_redis_ops;
extern const struct store_ops store_memory_ops;

#endif
