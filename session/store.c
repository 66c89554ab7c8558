/* store.c -- the one store interface, dispatched to the backend that the
 * spec's scheme names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../fcgi/stats.h"
#include "store_impl.h"
#include "storespec.h"

static uint64_t micros_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Every request's store calls, timed: the status page's latency is the
 * sum over the calls that requests made, not a sample of them. */
static enum store_err timed(struct store *st, uint64_t t0, enum store_err e)
{
    stats_add(st->stats, STAT_STORE_CALLS, 1);
    stats_add(st->stats, STAT_STORE_MICROS, micros_now() - t0);
    return e;
}

static const struct {
    enum spec_kind kind;
    const struct store_ops *ops;
} backends[] = {
    {SPEC_LMDB, &store_lmdb_ops},
    {SPEC_MEMORY, &store_memory_ops},
    {SPEC_REDIS, &store_redis_ops},
    {SPEC_REDIS_UNIX, &store_redis_ops},
    {SPEC_SENTINEL, &store_redis_ops},
};

struct store *store_open(const char *spec, const struct store_options *opt,
                         char *err, size_t errlen)
{
    struct store_spec *sp = malloc(sizeof *sp);
    char why[256], shown[512];
    const struct store_ops *ops = NULL;

    if (sp == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (store_spec_parse(spec, sp, why, sizeof why) == 0)
        for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
            if (backends[i].kind == sp->kind)
                ops = backends[i].ops;
    explicit_bzero(sp, sizeof *sp);
    free(sp);
    if (ops == NULL) {
        store_spec_mask(spec, shown, sizeof shown);
        snprintf(err, errlen, "store '%s': %s", shown, why);
        return NULL;
    }
    struct store *st = ops->open(spec, opt, err, errlen);
    if (st)
        st->stats = opt->stats;
    return st;
}

/* A TLS file named by the spec must be there and readable now: a worker
 * would otherwise fail at its first session, not at start. */
static int tls_file_check(const char *what, const char *path, char *err, size_t errlen)
{
    if (path[0] == '\0' || access(path, R_OK) == 0)
        return 0;
    snprintf(err, errlen, "%s=%s: %s", what, path, strerror(errno));
    return -1;
}

int store_spec_check(const char *spec, char *err, size_t errlen)
{
    struct store_spec *sp = malloc(sizeof *sp);
    int rc = -1;

    if (sp == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (store_spec_parse(spec, sp, err, errlen) < 0)
        goto done;
    if (sp->kind == SPEC_LMDB)
        rc = lmdb_spec_check(spec, err, errlen);
    else
        rc = tls_file_check("ca", sp->tls_ca, err, errlen) < 0 ||
                     tls_file_check("cert", sp->tls_cert, err, errlen) < 0 ||
                     tls_file_check("key", sp->tls_key, err, errlen) < 0
                 ? -1 : 0;
done:
    explicit_bzero(sp, sizeof *sp);
    free(sp);
    return rc;
}

void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
}

enum store_err store_get(struct store *st, const char *key, void *buf,
                         size_t cap, size_t *len, uint64_t *version)
{
    uint64_t t0 = micros_now();
    return timed(st, t0, st->ops->get(st, key, buf, cap, len, version));
}

enum store_err store_put(struct store *st, const struct store_write *w,
                         uint64_t now, uint64_t *new_version,
                         unsigned *reclaimed)
{
    uint64_t t0 = micros_now();
    return timed(st, t0, st->ops->put(st, w, now, new_version, reclaimed));
}

enum store_err store_del(struct store *st, const char *key)
{
    uint64_t t0 = micros_now();
    return timed(st, t0, st->ops->del(st, key));
}

enum store_err store_ping(struct store *st)
{
    return st->ops->ping ? st->ops->ping(st) : STORE_OK;
}

enum store_err store_sweep(struct store *st, uint64_t now, uint64_t now_ms,
                           uint64_t interval_ms, unsigned max,
                           unsigned *reclaimed)
{
    *reclaimed = 0;
    if (st->ops->sweep == NULL)
        return STORE_OK;
    return st->ops->sweep(st, now, now_ms, interval_ms, max, reclaimed);
}

void store_readers_check(struct store *st)
{
    if (st->ops->readers_check)
        st->ops->readers_check(st);
}

int store_sweeps(const struct store *st)
{
    return st->ops->sweep != NULL;
}

const char *store_backend(const struct store *st)
{
    return st->ops->name;
}

enum store_err store_stat(struct store *st, size_t *records, size_t *bytes)
{
    *records = *bytes = 0;
    return st->ops->stat(st, records, bytes);
}

const char *store_strerror(enum store_err err)
{
    switch (err) {
    case STORE_OK: return "ok";
    case STORE_ENOTFOUND: return "no such record";
    case STORE_ECONFLICT: return "the record changed since it was read";
    case STORE_EFULL: return "the store is full";
    case STORE_EIO: return "the store failed";
    case STORE_EBADRECORD: return "a stored record of an impossible size";
    case STORE_EDOWN: return "the store cannot be reached";
    }
    return "store error";
}

void store_u64_put(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

uint64_t store_u64_get(const unsigned char *b)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}
