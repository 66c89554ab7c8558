/* lmdb.c -- the session store on LMDB: one environment shared by every
 * worker of a machine; readers never block, one writer at a time.
 *
 *   sessions: key -> version u64 | expires u64 | record
 *   expiry:   expires (big-endian u64) | key -> ""   (oldest first)
 *   meta:     "last_sweep_ms" -> u64
 *
 * The expiry index lets reclamation walk only expired records, oldest
 * first, without decoding any of them.
 *
 * Group commit: the writes of several workers share one transaction and
 * so one sync (group_put below; the argument is in docs/design.md). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "../fcgi/rundir.h"
#include "store_impl.h"

#define EXPIRY_KEY_MAX (8 + 64)
#define SESSION_KEY_MAX 64

struct group;

struct lmdb_store {
    struct store base;              /* first: store.c dispatches on it */
    MDB_env *env;
    MDB_dbi sessions, expiry, meta;
    MDB_txn *reader;                /* reset between gets, renewed for the next */
    struct store_options opt;
    struct group *group;            /* NULL: every write commits alone */
    int group_fd;                   /* flock()ed by the leader of a batch */
    size_t group_size;
    int slot;                       /* this process's slot in the group */
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

/* The store's directory is made here, once, by the process that checks
 * the spec before any worker starts, and kept: a check that made it and
 * removed it again raced with a worker opening it (an empty directory
 * is not a store; window shoppers still open none). */
static int dir_reachable(const char *path, char *err, size_t errlen)
{
    struct stat sb;

    if (mkdir_p(path) < 0) {
        snprintf(err, errlen, "cannot make the directory %s: %s", path, strerror(errno));
        return -1;
    }
    /* The store is trusted as the run directory is: ours, and no one
     * else's to write in (a planted data.mdb or symlink). */
    if (rundir_check_dir("directory", path, err, errlen) != RUNDIR_OK)
        return -1;
    const char *why = stat(path, &sb) < 0 ? strerror(errno)
                      : !S_ISDIR(sb.st_mode) ? "not a directory"
                      : access(path, W_OK | X_OK) < 0 ? strerror(errno) : NULL;
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
static void group_open(struct lmdb_store *st, const char *dir);
static void group_close(struct lmdb_store *st);
static void sync_due(struct lmdb_store *st);

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
    st->group_fd = st->slot = -1;
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
    group_open(st, path);
    return &st->base;
}

static void lmdb_close(struct store *base)
{
    struct lmdb_store *st = (struct lmdb_store *)base;

    if (st == NULL)
        return;
    group_close(st);
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

/* ---- group commit ----
 *
 * DIR/group, mapped by every process of the store, holds one slot per
 * process. A worker copies its write into its slot, marks it PENDING and
 * takes the file's flock. Whoever holds the flock leads: it applies every
 * PENDING write in one transaction (each in a nested transaction, so a
 * conflict or a full map fails that write alone), commits it with LMDB's
 * own syncs, and marks each DONE with its result. A worker whose slot is
 * DONE when it gets the flock only reads its result: the writes that
 * queued while one commit was syncing share the next commit and its sync.
 *
 * A leader killed mid-batch leaves its slots TAKEN. The next leader asks
 * the store whether that batch committed (the batch number is written
 * in meta as "group_seq" by the batch's own transaction): if it did, its
 * results stand, after a sync (the leader may have died inside its
 * commit's sync); if not, its writes are PENDING again. So each write is
 * applied once, and answered only once a sync covering it has returned. */
#define GROUP_MAGIC 0x32677231u
#define GROUP_SLOTS 512
#define GROUP_REC_MAX (64 * 1024)

enum { SLOT_IDLE, SLOT_PENDING, SLOT_TAKEN, SLOT_DONE };

struct group_slot {
    _Atomic int owner;              /* pid; 0: free */
    _Atomic int state;
    uint64_t seq;                   /* TAKEN, DONE: the batch */
    int rc;                         /* DONE: the write's result, an MDB code */
    unsigned reclaimed;
    uint64_t new_version;
    uint64_t expect, expires, drop_expect;
    uint32_t len;
    int has_drop;
    char key[SESSION_KEY_MAX + 1], drop_key[SESSION_KEY_MAX + 1];
    unsigned char rec[GROUP_REC_MAX];
};

struct group {
    _Atomic uint32_t magic;
    uint32_t slots;
    uint64_t seq;                   /* the last batch begun; under the flock */
    _Atomic uint64_t synced_ms;     /* NORI_SYNC=background: the last sync */
    _Atomic uint32_t gen;           /* bumped, and waited on, at each release */
    struct group_slot slot[];
};

/* A waiter sleeps on gen rather than queueing on the flock: a batch's
 * results are read at once by all, not handed out one lock holder at a
 * time. A leader killed bumps nothing, so the sleep is bounded and the
 * flock tried again. */
#define GROUP_WAIT_NS (5 * 1000 * 1000)

static void gen_wait(_Atomic uint32_t *gen, uint32_t seen)
{
    struct timespec ts = {0, GROUP_WAIT_NS};

    syscall(SYS_futex, (uint32_t *)gen, FUTEX_WAIT, seen, &ts, NULL, 0);
}

static void gen_wake(_Atomic uint32_t *gen)
{
    atomic_fetch_add(gen, 1);
    syscall(SYS_futex, (uint32_t *)gen, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
}

static const char group_seq_key[] = "group_seq";

static int lock_ex(int fd)
{
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR)
            return -1;
    return 0;
}

static int slot_busy(struct group_slot *sl)
{
    int state = atomic_load(&sl->state);

    return state == SLOT_PENDING || state == SLOT_TAKEN;
}

/* A slot that is free, or whose owner has died with nothing in flight
 * (a write it left PENDING is still committed by a leader first). */
static int slot_claim(struct group *g)
{
    int me = (int)getpid();

    for (unsigned i = 0; i < g->slots; i++) {
        struct group_slot *sl = &g->slot[i];
        int owner = atomic_load(&sl->owner);

        if (slot_busy(sl) || owner == me ||
            (owner != 0 && (kill(owner, 0) == 0 || errno != ESRCH)))
            continue;
        if (atomic_compare_exchange_strong(&sl->owner, &owner, me)) {
            atomic_store(&sl->state, SLOT_IDLE);
            return (int)i;
        }
    }
    return -1;
}

static void group_close(struct lmdb_store *st)
{
    if (st->group && st->slot >= 0) {
        struct group_slot *sl = &st->group->slot[st->slot];
        int me = (int)getpid();
        if (!slot_busy(sl))
            atomic_compare_exchange_strong(&sl->owner, &me, 0);
    }
    if (st->group)
        munmap(st->group, st->group_size);
    if (st->group_fd >= 0)
        close(st->group_fd);
    st->group = NULL;
    st->group_fd = -1;
}

/* Without the file (another user's, a full disk) every write commits
 * alone, as durably, only more slowly. */
static void group_open(struct lmdb_store *st, const char *dir)
{
    char path[4096];
    struct stat sb;
    size_t size = sizeof(struct group) + GROUP_SLOTS * sizeof(struct group_slot);
    void *map;
    int n = snprintf(path, sizeof path, "%s/group", dir);

    st->slot = -1;
    if (n < 0 || (size_t)n >= sizeof path ||
        (st->group_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
        goto fail;
    if (lock_ex(st->group_fd) < 0)
        goto fail;
    if (fstat(st->group_fd, &sb) < 0 ||
        ((size_t)sb.st_size < size && ftruncate(st->group_fd, (off_t)size) < 0)) {
        flock(st->group_fd, LOCK_UN);
        goto fail;
    }
    map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, st->group_fd, 0);
    if (map == MAP_FAILED) {
        flock(st->group_fd, LOCK_UN);
        goto fail;
    }
    st->group = map;
    st->group_size = size;
    if (atomic_load(&st->group->magic) == 0) {
        st->group->slots = GROUP_SLOTS;
        atomic_store(&st->group->magic, GROUP_MAGIC);
    }
    flock(st->group_fd, LOCK_UN);
    if (atomic_load(&st->group->magic) != GROUP_MAGIC || st->group->slots != GROUP_SLOTS ||
        (st->slot = slot_claim(st->group)) < 0)
        goto fail;
    return;
fail:
    group_close(st);
}

static int group_seq_get(struct lmdb_store *st, MDB_txn *txn, uint64_t *seq)
{
    MDB_val k = {sizeof group_seq_key - 1, (void *)group_seq_key}, v;
    int rc = mdb_get(txn, st->meta, &k, &v);

    *seq = 0;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && v.mv_size == 8)
        *seq = store_u64_get(v.mv_data);
    return rc;
}

/* Slots a dead leader left TAKEN: DONE if its batch committed, else
 * PENDING again. Under the flock, and asked of a write transaction: a
 * leader killed between its meta page write and LMDB's update of the
 * shared last transaction id has committed, yet a read transaction
 * would not see it; beginning a write transaction repairs that id
 * (LMDB's dead-owner recovery of its write mutex). Redoing such a batch
 * would have its writes conflict with themselves, and the actions run
 * twice. */
static int group_recover(struct lmdb_store *st, MDB_txn *txn)
{
    struct group *g = st->group;
    uint64_t committed;
    unsigned taken = 0, kept = 0;
    int rc;

    for (unsigned i = 0; i < g->slots; i++)
        taken += atomic_load(&g->slot[i].state) == SLOT_TAKEN;
    if (taken == 0)
        return 0;
    if ((rc = group_seq_get(st, txn, &committed)))
        return rc;
    for (unsigned i = 0; i < g->slots; i++) {
        struct group_slot *sl = &g->slot[i];
        if (atomic_load(&sl->state) != SLOT_TAKEN)
            continue;
        if (sl->seq <= committed)
            kept++;
        else
            atomic_store(&sl->state, SLOT_PENDING);
    }
    /* The dead leader may have died between its commit and its sync. */
    if (kept && (rc = mdb_env_sync(st->env, 1)))
        return rc;
    for (unsigned i = 0; i < g->slots; i++)
        if (atomic_load(&g->slot[i].state) == SLOT_TAKEN)
            atomic_store(&g->slot[i].state, SLOT_DONE);
    return 0;
}

/* One write of a batch, alone in a nested transaction. */
static int group_apply(struct lmdb_store *st, MDB_txn *txn, struct group_slot *sl)
{
    struct store_write w = {
        .key = sl->key, .rec = sl->rec, .len = sl->len, .expect = sl->expect,
        .expires = sl->expires, .drop_key = sl->has_drop ? sl->drop_key : NULL,
        .drop_expect = sl->drop_expect,
    };
    MDB_txn *child;
    int rc = mdb_txn_begin(st->env, txn, 0, &child);

    if (rc)
        return rc;
    if ((rc = put_checked(st, child, &w, &sl->new_version))) {
        mdb_txn_abort(child);
        return rc;
    }
    return mdb_txn_commit(child);
}

/* The leader's batch: every PENDING write, then foreground reclamation
 * (as much as the writes would have done alone), one commit. Under the
 * flock. */
static int group_lead(struct lmdb_store *st, uint64_t now)
{
    struct group *g = st->group;
    MDB_val k = {sizeof group_seq_key - 1, (void *)group_seq_key}, v;
    unsigned char stamp[8];
    unsigned taken = 0, ok = 0, freed = 0;
    uint64_t seq;
    MDB_txn *txn, *child;
    int rc;

    if ((rc = txn_begin(st, 0, &txn)))
        return rc;
    if ((rc = group_recover(st, txn)) || (rc = group_seq_get(st, txn, &seq))) {
        mdb_txn_abort(txn);
        return rc;
    }
    seq = (seq > g->seq ? seq : g->seq) + 1;
    g->seq = seq;
    for (unsigned i = 0; i < g->slots; i++) {
        struct group_slot *sl = &g->slot[i];
        if (atomic_load_explicit(&sl->state, memory_order_acquire) != SLOT_PENDING)
            continue;
        sl->rc = group_apply(st, txn, sl);
        sl->reclaimed = 0;
        sl->seq = seq;
        atomic_store(&sl->state, SLOT_TAKEN);
        taken++;
        ok += sl->rc == 0;
    }
    if (taken == 0) {
        mdb_txn_abort(txn);
        return 0;
    }
    if (ok && st->opt.gc_foreground && mdb_txn_begin(st->env, txn, 0, &child) == 0) {
        if (reclaim(st, child, now, st->opt.gc_foreground * ok, &freed) == 0 &&
            mdb_txn_commit(child) == 0)
            child = NULL;
        if (child)
            mdb_txn_abort(child);
        if (child)
            freed = 0;
    }
    store_u64_put(stamp, seq);
    v = (MDB_val){sizeof stamp, stamp};
    if ((rc = mdb_put(txn, st->meta, &k, &v, 0)))
        mdb_txn_abort(txn);
    else
        rc = mdb_txn_commit(txn);
    for (unsigned i = 0; i < g->slots; i++) {
        struct group_slot *sl = &g->slot[i];
        if (atomic_load(&sl->state) != SLOT_TAKEN || sl->seq != seq)
            continue;
        if (rc)
            sl->rc = rc;
        else if ((int)i == st->slot)
            sl->reclaimed = freed;
        atomic_store_explicit(&sl->state, SLOT_DONE, memory_order_release);
    }
    return 0;
}

/* NORI_SYNC=background: a sync when the last is sync_ms old, by whoever
 * finds it due first. */
static void sync_due(struct lmdb_store *st)
{
    struct timespec ts;
    uint64_t now, last;

    if (st->opt.sync_ms == 0 || st->group == NULL)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    last = atomic_load(&st->group->synced_ms);
    if (now - last >= st->opt.sync_ms &&
        atomic_compare_exchange_strong(&st->group->synced_ms, &last, now))
        mdb_env_sync(st->env, 1);
}

/* Whether this write can go through the group: the handle must be this
 * process's own (a forked child shares the parent's slot and flock). */
static int group_usable(struct lmdb_store *st, const struct store_write *w)
{
    return st->group && st->slot >= 0 && w->len <= GROUP_REC_MAX &&
           strlen(w->key) <= SESSION_KEY_MAX &&
           (w->drop_key == NULL || strlen(w->drop_key) <= SESSION_KEY_MAX) &&
           atomic_load(&st->group->slot[st->slot].owner) == (int)getpid();
}

static int group_put(struct lmdb_store *st, const struct store_write *w,
                     uint64_t now, uint64_t *nv, unsigned *n)
{
    struct group_slot *sl = &st->group->slot[st->slot];
    int rc = 0;

    snprintf(sl->key, sizeof sl->key, "%s", w->key);
    sl->has_drop = w->drop_key != NULL;
    snprintf(sl->drop_key, sizeof sl->drop_key, "%s", w->drop_key ? w->drop_key : "");
    sl->len = (uint32_t)w->len;
    memcpy(sl->rec, w->rec, w->len);
    sl->expect = w->expect;
    sl->expires = w->expires;
    sl->drop_expect = w->drop_expect;
    atomic_store_explicit(&sl->state, SLOT_PENDING, memory_order_release);
    for (;;) {
        uint32_t seen = atomic_load(&st->group->gen);
        if (atomic_load_explicit(&sl->state, memory_order_acquire) == SLOT_DONE) {
            rc = sl->rc;
            *nv = sl->new_version;
            *n = rc ? 0 : sl->reclaimed;
            atomic_store(&sl->state, SLOT_IDLE);
            sync_due(st);
            return rc;
        }
        if (flock(st->group_fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            /* Cannot happen on a flock of our own file; the slot is
             * given up rather than risk a leader applying it twice. */
            st->slot = -1;
            return EIO;
        }
        gen_wait(&st->group->gen, seen);
    }
    if (atomic_load_explicit(&sl->state, memory_order_acquire) != SLOT_DONE)
        rc = group_lead(st, now);
    if (atomic_load_explicit(&sl->state, memory_order_acquire) == SLOT_DONE) {
        rc = sl->rc;
        *nv = sl->new_version;
        *n = rc ? 0 : sl->reclaimed;
    } else if (rc == 0) {
        rc = EIO;
    }
    /* Withdrawn under the flock: no leader can be holding it. */
    atomic_store(&sl->state, SLOT_IDLE);
    flock(st->group_fd, LOCK_UN);
    /* Woken: those this batch answered, and those that posted while it
     * synced, one of whom leads the next. */
    gen_wake(&st->group->gen);
    sync_due(st);
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
    int rc = put_new(w) && space_low(st) ? MDB_MAP_FULL
             : group_usable(st, w) ? group_put(st, w, now, &nv, &n)
             : put_once(st, w, now, &nv, &n);

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
    /* NORI_SYNC=background: idle workers still sync what was answered. */
    sync_due(st);
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
