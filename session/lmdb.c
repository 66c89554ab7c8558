/* lmdb.c -- the session store on LMDB: one environment shared by every
 * worker of a machine; readers never block, one writer at a time.
 *
 *   sessions: key -> version u64 | expires u64 | record
 *   expiry:   expires (big-endian u64) | key -> ""   (oldest first)
 *   meta:     "last_sweep_ms" -> u64
 *
 * The expiry index lets reclamation walk only expired records, oldest
 * first, without decoding any of them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "store_impl.h"

#define EXPIRY_KEY_MAX (8 + 64)
#define SESSION_KEY_MAX 64

struct lmdb_store {
    struct store base;              /* first: store.c dispatches on it */
    MDB_env *env;
    MDB_dbi sessions, expiry, meta;
    MDB_txn *reader;                /* reset between gets, renewed for the next */
    struct store_options opt;
};

static enum store_err map_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return STORE_OK;
    case MDB_NOTFOUND: return STORE_ENOTFOUND;
    case MDB_MAP_FULL: return STORE_EFULL;
    default: return STORE_EIO;
    }
}

/* Big-endian, so that LMDB's byte order is time order. */
static size_t expiry_key(unsigned char *out, uint64_t expires, const char *key,
                         size_t klen)
{
    for (int i = 0; i < 8; i++)
        out[i] = (unsigned char)(expires >> (56 - 8 * i));
    memcpy(out + 8, key, klen);
    return 8 + klen;
}

static int mkdir_p(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* Another process may have grown the map; adopt its size and retry. */
static int txn_begin(struct lmdb_store *st, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(st->env, NULL, flags, txn);

    if (rc == MDB_MAP_RESIZED && mdb_env_set_mapsize(st->env, 0) == 0)
        rc = mdb_txn_begin(st->env, NULL, flags, txn);
    return rc;
}

static int dbis_open(struct lmdb_store *st)
{
    MDB_txn *txn;
    int rc = txn_begin(st, 0, &txn);

    if (rc)
        return rc;
    if ((rc = mdb_dbi_open(txn, "sessions", MDB_CREATE, &st->sessions)) ||
        (rc = mdb_dbi_open(txn, "expiry", MDB_CREATE, &st->expiry)) ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &st->meta))) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/* A file of the environment that exists must be ours to read and write
 * (another user's store gives EACCES at the first commit otherwise). */
static int env_file_check(const char *dir, const char *name, char *err,
                          size_t errlen)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);

    if (n < 0 || (size_t)n >= sizeof path) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    if (access(path, F_OK) == 0 && access(path, R_OK | W_OK) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Whether the store's directory exists or can be made, made by trying:
 * the directories the try made are removed again, so that a request
 * without a session still finds no store (it is made by the first store_open).
 * Returns the depth made (0..) or -1 with errno. */
static int mkdir_try(char *tmp, int depth)
{
    char *slash = strrchr(tmp, '/');

    if (mkdir(tmp, 0700) == 0)
        return depth + 1;
    if (errno == EEXIST)
        return depth;
    if (errno != ENOENT || slash == NULL || slash == tmp)
        return -1;
    *slash = '\0';
    int made = mkdir_try(tmp, depth);
    *slash = '/';
    if (made < 0)
        return -1;
    if (mkdir(tmp, 0700) == 0)
        return made + 1;
    return errno == EEXIST ? made : -1;
}

static void rmdir_made(char *tmp, int made)
{
    for (; made > 0; made--) {
        char *slash = strrchr(tmp, '/');
        (void)rmdir(tmp);
        if (slash == NULL || slash == tmp)
            return;
        *slash = '\0';
    }
}

static int dir_reachable(const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    struct stat sb;
    size_t n = strlen(path);
    int made;

    if (n >= sizeof tmp) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    memcpy(tmp, path, n + 1);
    if ((made = mkdir_try(tmp, 0)) < 0) {
        snprintf(err, errlen, "cannot make the directory %s: %s", path, strerror(errno));
        return -1;
    }
    const char *why = stat(path, &sb) < 0 ? strerror(errno)
                      : !S_ISDIR(sb.st_mode) ? "not a directory"
                      : access(path, W_OK | X_OK) < 0 ? strerror(errno) : NULL;
    rmdir_made(tmp, made);
    if (why)
        snprintf(err, errlen, "cannot write in %s: %s", path, why);
    return why ? -1 : 0;
}

int lmdb_spec_check(const char *spec, char *err, size_t errlen)
{
    const char *path;

    if (strncmp(spec, "lmdb:", 5) != 0 || spec[5] == '\0') {
        snprintf(err, errlen, "want lmdb:PATH");
        return -1;
    }
    path = spec + 5;
    return dir_reachable(path, err, errlen) < 0 ||
                   env_file_check(path, "data.mdb", err, errlen) < 0 ||
                   env_file_check(path, "lock.mdb", err, errlen) < 0
               ? -1 : 0;
}

static void lmdb_close(struct store *base);

static struct store *lmdb_open(const char *spec, const struct store_options *opt,
                         char *err, size_t errlen)
{
    struct lmdb_store *st;
    const char *path;
    int rc, dead;

    if (strncmp(spec, "lmdb:", 5) != 0 || spec[5] == '\0') {
        snprintf(err, errlen, "unknown store '%s' (want lmdb:PATH)", spec);
        return NULL;
    }
    path = spec + 5;
    if (mkdir_p(path) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if ((st = calloc(1, sizeof *st)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->base.ops = &store_lmdb_ops;
    st->opt = *opt;
    if ((rc = mdb_env_create(&st->env)) ||
        (rc = mdb_env_set_maxdbs(st->env, 4)) ||
        (rc = mdb_env_set_mapsize(st->env, opt->map_size)) ||
        (rc = mdb_env_open(st->env, path, opt->nosync ? MDB_NOSYNC : 0, 0600)) ||
        (rc = dbis_open(st)) ||
        (rc = txn_begin(st, MDB_RDONLY, &st->reader))) {
        snprintf(err, errlen, "%s: %s", path, mdb_strerror(rc));
        lmdb_close(&st->base);
        return NULL;
    }
    mdb_txn_reset(st->reader);
    mdb_reader_check(st->env, &dead);
    return &st->base;
}

static void lmdb_close(struct store *base)
{
    struct lmdb_store *st = (struct lmdb_store *)base;

    if (st == NULL)
        return;
    if (st->reader)
        mdb_txn_abort(st->reader);
    if (st->env)
        mdb_env_close(st->env);
    free(st);
}

static enum store_err lmdb_get(struct store *base, const char *key, void *buf,
                         size_t cap, size_t *len, uint64_t *version)
{
    struct lmdb_store *st = (struct lmdb_store *)base;
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_txn_renew(st->reader);

    if (rc)
        return map_err(rc);
    if ((rc = mdb_get(st->reader, st->sessions, &k, &v)) == MDB_SUCCESS) {
        /* Not a store failure: bytes that cannot be a record of ours,
         * which the caller must be able to tell from a broken store. */
        if (v.mv_size < STORE_VALUE_HEAD || v.mv_size - STORE_VALUE_HEAD > cap) {
            mdb_txn_reset(st->reader);
            return STORE_EBADRECORD;
        } else {
            *version = store_u64_get(v.mv_data);
            *len = v.mv_size - STORE_VALUE_HEAD;
            memcpy(buf, (unsigned char *)v.mv_data + STORE_VALUE_HEAD, *len);
        }
    }
    mdb_txn_reset(st->reader);
    return map_err(rc);
}

/* Deletes a record and its index entry. */
static int record_drop(struct lmdb_store *st, MDB_txn *txn, MDB_val *k,
                       uint64_t expires)
{
    unsigned char ek[EXPIRY_KEY_MAX];
    MDB_val e = {expiry_key(ek, expires, k->mv_data, k->mv_size), ek};
    int rc = mdb_del(txn, st->expiry, &e, NULL);

    if (rc && rc != MDB_NOTFOUND)
        return rc;
    return mdb_del(txn, st->sessions, k, NULL);
}

/* The version and expiry of the record at k; version 0 when absent. */
static int record_head(struct lmdb_store *st, MDB_txn *txn, MDB_val *k,
                       uint64_t *version, uint64_t *expires)
{
    MDB_val v;
    int rc = mdb_get(txn, st->sessions, k, &v);

    *version = *expires = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.mv_size < STORE_VALUE_HEAD)
        return EINVAL;
    *version = store_u64_get(v.mv_data);
    *expires = store_u64_get((unsigned char *)v.mv_data + 8);
    return 0;
}

/* Deletes up to max records whose expiry is before now, oldest first. */
static int reclaim(struct lmdb_store *st, MDB_txn *txn, uint64_t now, unsigned max,
                   unsigned *count)
{
    MDB_cursor *cur;
    MDB_val e, unused;
    int rc;

    *count = 0;
    if (max == 0)
        return 0;
    if ((rc = mdb_cursor_open(txn, st->expiry, &cur)))
        return rc;
    while (*count < max &&
           (rc = mdb_cursor_get(cur, &e, &unused, MDB_FIRST)) == MDB_SUCCESS) {
        const unsigned char *ek = e.mv_data;
        uint64_t when = 0;
        for (int i = 0; i < 8 && e.mv_size >= 8; i++)
            when = when << 8 | ek[i];
        if (e.mv_size < 8 || when >= now || e.mv_size > EXPIRY_KEY_MAX)
            break;
        /* The key must be copied out first: deleting the index entry
         * may move the page that e points into. */
        unsigned char key[SESSION_KEY_MAX];
        MDB_val k = {e.mv_size - 8, key};
        memcpy(key, ek + 8, k.mv_size);
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
        rc = mdb_del(txn, st->sessions, &k, NULL);
        if (rc && rc != MDB_NOTFOUND)
            break;
        (*count)++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == MDB_SUCCESS ? 0 : rc;
}

/* LMDB needs free pages even to delete (copy-on-write), so a map that
 * is really full cannot be emptied. New records are therefore refused
 * (as MDB_MAP_FULL) once the trees fill all but a reserve of the map,
 * which leaves updates, logouts and reclamation room to work. The trees'
 * pages are counted, not the freelist's: pages freed by the last few
 * transactions are not reusable yet. Counted only once the file's high
 * water mark is near the end, in the read transaction, before a write
 * (LMDB lets no write transaction walk its freelist). */
static size_t tree_pages(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat ms;

    if (mdb_stat(txn, dbi, &ms))
        return 0;
    return ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages;
}

static int space_low(struct lmdb_store *st)
{
    MDB_envinfo info;
    MDB_stat ms;
    size_t pages, reserve, used;

    if (mdb_env_info(st->env, &info) || mdb_env_stat(st->env, &ms))
        return 0;
    pages = info.me_mapsize / ms.ms_psize;
    reserve = pages / 8 > 32 ? pages / 8 : 32;
    if (info.me_last_pgno + 1 + reserve < pages)
        return 0;
    if (mdb_txn_renew(st->reader))
        return 0;
    used = tree_pages(st->reader, st->sessions) + tree_pages(st->reader, st->expiry) +
           tree_pages(st->reader, st->meta) + tree_pages(st->reader, 1) /* main */;
    mdb_txn_reset(st->reader);
    return used + reserve >= pages;
}

static int put_checked(struct lmdb_store *st, MDB_txn *txn,
                       const struct store_write *w, uint64_t *new_version)
{
    MDB_val k = {strlen(w->key), (void *)w->key};
    uint64_t version, old_expires;
    int rc;

    if (k.mv_size > SESSION_KEY_MAX)
        return EINVAL;
    if ((rc = record_head(st, txn, &k, &version, &old_expires)))
        return rc;
    if (version != w->expect)
        return MDB_KEYEXIST;    /* stands for "conflict" inside this file */
    if (w->drop_key) {
        MDB_val d = {strlen(w->drop_key), (void *)w->drop_key};
        uint64_t dv, de;
        if ((rc = record_head(st, txn, &d, &dv, &de)))
            return rc;
        if (dv != w->drop_expect)
            return MDB_KEYEXIST;
        if (dv && (rc = record_drop(st, txn, &d, de)))
            return rc;
    }
    if (version && (rc = record_drop(st, txn, &k, old_expires)))
        return rc;

    MDB_val v = {STORE_VALUE_HEAD + w->len, NULL};
    if ((rc = mdb_put(txn, st->sessions, &k, &v, MDB_RESERVE)))
        return rc;
    store_u64_put(v.mv_data, version + 1);
    store_u64_put((unsigned char *)v.mv_data + 8, w->expires);
    memcpy((unsigned char *)v.mv_data + STORE_VALUE_HEAD, w->rec, w->len);

    unsigned char ek[EXPIRY_KEY_MAX];
    MDB_val e = {expiry_key(ek, w->expires, w->key, k.mv_size), ek}, empty = {0, ""};
    if ((rc = mdb_put(txn, st->expiry, &e, &empty, 0)))
        return rc;
    *new_version = version + 1;
    return 0;
}

/* One transaction: the compare-and-put, then foreground reclamation. */
static int put_once(struct lmdb_store *st, const struct store_write *w,
                    uint64_t now, uint64_t *nv, unsigned *n)
{
    MDB_txn *txn;
    int rc;

    if ((rc = txn_begin(st, 0, &txn)))
        return rc;
    if ((rc = put_checked(st, txn, w, nv)) ||
        (rc = reclaim(st, txn, now, st->opt.gc_foreground, n))) {
        mdb_txn_abort(txn);
        *n = 0;
        return rc;
    }
    if ((rc = mdb_txn_commit(txn)))
        *n = 0;
    return rc;
}

/* The map is full: every expired record goes now, whatever the batch
 * settings say, in transactions of their own (deleting frees pages for
 * the next one; a bounded batch keeps each within LMDB's dirty-page
 * limit). Returns how many went. */
#define RECLAIM_CHUNK 10000

static unsigned reclaim_all(struct lmdb_store *st, uint64_t now)
{
    unsigned total = 0, n;
    MDB_txn *txn;

    do {
        n = 0;
        if (txn_begin(st, 0, &txn))
            break;
        if (reclaim(st, txn, now, RECLAIM_CHUNK, &n)) {
            mdb_txn_abort(txn);
            break;
        }
        if (mdb_txn_commit(txn))
            break;
        total += n;
    } while (n == RECLAIM_CHUNK);
    return total;
}

static int put_new(const struct store_write *w)
{
    return w->expect == 0 && w->drop_key == NULL;
}

static enum store_err lmdb_put(struct store *base, const struct store_write *w,
                               uint64_t now, uint64_t *new_version,
                               unsigned *reclaimed)
{
    struct lmdb_store *st = (struct lmdb_store *)base;
    uint64_t nv = 0;
    unsigned n = 0, freed = 0;
    int rc = put_new(w) && space_low(st) ? MDB_MAP_FULL : put_once(st, w, now, &nv, &n);

    if (rc == MDB_MAP_FULL && (freed = reclaim_all(st, now)) > 0)
        rc = put_new(w) && space_low(st) ? MDB_MAP_FULL : put_once(st, w, now, &nv, &n);
    /* A failed commit reclaimed nothing, unless the full map's own
     * reclamation (transactions of its own) did. */
    if (reclaimed && (rc == 0 || freed))
        *reclaimed = (rc == 0 ? n : 0) + freed;
    if (rc)
        return rc == MDB_KEYEXIST ? STORE_ECONFLICT : map_err(rc);
    if (new_version)
        *new_version = nv;
    return STORE_OK;
}

static enum store_err lmdb_del(struct store *base, const char *key)
{
    struct lmdb_store *st = (struct lmdb_store *)base;
    MDB_val k = {strlen(key), (void *)key};
    uint64_t version, expires;
    MDB_txn *txn;
    int rc;

    for (int tries = 0; tries < 2; tries++) {
        if ((rc = txn_begin(st, 0, &txn)))
            return map_err(rc);
        if ((rc = record_head(st, txn, &k, &version, &expires)) == 0)
            rc = version ? record_drop(st, txn, &k, expires) : MDB_NOTFOUND;
        if (rc)
            mdb_txn_abort(txn);
        else
            rc = mdb_txn_commit(txn);
        /* Even a delete needs free pages; a full map gets them back from
         * the expired records first. */
        if (rc != MDB_MAP_FULL || reclaim_all(st, (uint64_t)time(NULL)) == 0)
            break;
    }
    return map_err(rc);
}

static enum store_err lmdb_sweep(struct store *base, uint64_t now, uint64_t now_ms,
                           uint64_t interval_ms, unsigned max,
                           unsigned *reclaimed)
{
    struct lmdb_store *st = (struct lmdb_store *)base;
    static const char last_key[] = "last_sweep_ms";
    MDB_val k = {sizeof last_key - 1, (void *)last_key}, v;
    unsigned char stamp[8];
    MDB_txn *txn;
    unsigned n = 0;
    int rc;

    *reclaimed = 0;
    if ((rc = txn_begin(st, 0, &txn)))
        return map_err(rc);
    /* Whoever finds the sweep due does it and stamps it; every other
     * worker waking in the same interval sees the stamp and leaves. */
    rc = mdb_get(txn, st->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8 && now_ms - store_u64_get(v.mv_data) < interval_ms) {
        mdb_txn_abort(txn);
        return STORE_OK;
    }
    store_u64_put(stamp, now_ms);
    v = (MDB_val){sizeof stamp, stamp};
    if ((rc = reclaim(st, txn, now, max, &n)) ||
        (rc = mdb_put(txn, st->meta, &k, &v, 0))) {
        mdb_txn_abort(txn);
        return map_err(rc);
    }
    if ((rc = mdb_txn_commit(txn)))
        return map_err(rc);
    *reclaimed = n;
    return STORE_OK;
}

static void lmdb_readers_check(struct store *base)
{
    struct lmdb_store *st = (struct lmdb_store *)base;
    int dead;

    mdb_reader_check(st->env, &dead);
}

static enum store_err lmdb_stat(struct store *base, size_t *records, size_t *bytes)
{
    struct lmdb_store *st = (struct lmdb_store *)base;
    MDB_stat ms;
    MDB_envinfo info;
    MDB_txn *txn;
    int rc;

    if ((rc = txn_begin(st, MDB_RDONLY, &txn)))
        return map_err(rc);
    rc = mdb_stat(txn, st->sessions, &ms);
    mdb_txn_abort(txn);
    if (rc || (rc = mdb_env_info(st->env, &info)))
        return map_err(rc);
    *records = ms.ms_entries;
    *bytes = (info.me_last_pgno + 1) * (size_t)ms.ms_psize;
    return STORE_OK;
}

/* A read transaction: the environment is open and its lock table usable. */
static enum store_err lmdb_ping(struct store *base)
{
    struct lmdb_store *st = (struct lmdb_store *)base;
    MDB_txn *txn;
    int rc;

    if ((rc = txn_begin(st, MDB_RDONLY, &txn)))
        return map_err(rc);
    mdb_txn_abort(txn);
    return STORE_OK;
}

const struct store_ops store_lmdb_ops = {
    .name = "lmdb",
    .open = lmdb_open,
    .close = lmdb_close,
    .get = lmdb_get,
    .put = lmdb_put,
    .del = lmdb_del,
    .sweep = lmdb_sweep,
    .readers_check = lmdb_readers_check,
    .stat = lmdb_stat,
    .ping = lmdb_ping,
};
