/* limit.c -- the shared limit table (nori.h, "limits shared by every
 * worker"): a header with a magic word and a random hash key, then a
 * fixed table of slots, open addressing over a few neighbours. A slot is
 * one cache line: its lock word, its tag, the rule's entry.
 *
 * No flock: a slot's lock is a word in the mapping, taken with a
 * compare-and-swap and held for the few instructions a rule takes. The
 * word holds the monotonic millisecond at which it was taken, so that a
 * lock whose holder died in those instructions (SIGKILL) is taken over
 * once it is older than STALE_MS instead of stopping every worker. A
 * holder merely descheduled that long would lose nothing worse than one
 * count: the entries are limits, not money. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nori.h"

#define LIMITS_MAGIC 0x6e6f72696c6d7401ull    /* "norilmt", format 1 */
#define SLOTS 16384                           /* a power of two */
#define PROBES 8
/* Far longer than a rule takes, even for a holder the scheduler put off
 * on a loaded machine (tens of ms), so that two live processes are never
 * in one entry at once in practice; short enough that a slot whose holder
 * died is back within a second, and only that slot waits meanwhile. */
#define STALE_MS 1000
#define RETRIES 4

struct slot {
    uint64_t lock;              /* 0: free; else 1 + monotonic ms when taken */
    uint64_t tag;               /* keyed hash of kind and name; 0: empty */
    struct nori_limit_entry e;
    uint64_t pad[2];
};

struct nori_limits {
    uint64_t magic;
    uint64_t key[2];            /* so that nobody can aim names at one slot */
    uint64_t pad[5];
    struct slot s[SLOTS];
};

_Static_assert(sizeof(struct slot) == 64, "a slot is one cache line");

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t nori_limits_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct nori_limits *nori_limits_open(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct nori_limits *t = NULL;
    struct stat st;
    void *m;
    uint64_t zero = 0, key[2];

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0)
        goto done;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        goto done;
    }
    /* Growing to the same size is idempotent; zero bytes are empty slots. */
    if ((st.st_size < (off_t)sizeof *t && ftruncate(fd, sizeof *t) < 0) ||
        (m = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
            MAP_FAILED)
        goto done;
    t = m;
    /* The first process writes the key, then the magic that says it is
     * there; the others wait for it (a few instructions). */
    if (__atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) == 0 &&
        getrandom(key, sizeof key, 0) == (ssize_t)sizeof key &&
        __atomic_compare_exchange_n(&t->pad[0], &zero, 1, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        memcpy(t->key, key, sizeof key);
        __atomic_store_n(&t->magic, LIMITS_MAGIC, __ATOMIC_RELEASE);
    }
    for (uint64_t until = mono_ms() + 1000;
         __atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) == 0 && mono_ms() < until;)
        sched_yield();
    /* Its maker died between the two stores: the table is still empty,
     * and whoever gets here first makes it. */
    if (__atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) == 0 &&
        getrandom(key, sizeof key, 0) == (ssize_t)sizeof key) {
        memcpy(t->key, key, sizeof key);
        zero = 0;
        __atomic_compare_exchange_n(&t->magic, &zero, LIMITS_MAGIC, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE);
    }
    if (__atomic_load_n(&t->magic, __ATOMIC_ACQUIRE) != LIMITS_MAGIC) {
        munmap(t, sizeof *t);
        t = NULL;
        errno = EPROTO;
    }
done:
    close(fd);
    return t;
}

void nori_limits_close(struct nori_limits *l)
{
    if (l)
        munmap(l, sizeof *l);
}

/* FNV-1a over the kind and the name, started from and finished with the
 * table's random key: not a MAC, but names cannot be chosen to collide. */
static uint64_t tag_of(const struct nori_limits *l, char kind, const char *name)
{
    uint64_t h = l->key[0] ^ 14695981039346656037ull;

    h = (h ^ (unsigned char)kind) * 1099511628211ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h ^= l->key[1];
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

static void slot_lock(struct slot *s)
{
    for (;;) {
        uint64_t now = mono_ms() + 1, seen = 0;
        if (__atomic_compare_exchange_n(&s->lock, &seen, now, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        /* Held since before the stale mark: its holder is gone. */
        if (seen + STALE_MS < now &&
            __atomic_compare_exchange_n(&s->lock, &seen, now, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return;
        sched_yield();
    }
}

static void slot_unlock(struct slot *s)
{
    __atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

static uint64_t tag_load(const struct slot *s)
{
    return __atomic_load_n(&s->tag, __ATOMIC_ACQUIRE);
}

static uint64_t expires_load(const struct slot *s)
{
    return __atomic_load_n(&s->e.expires, __ATOMIC_RELAXED);
}

static int free_at(const struct slot *s, uint64_t now)
{
    return tag_load(s) == 0 || expires_load(s) <= now;
}

/* The slot of tag, locked, or NULL when it has none. A slot that was
 * taken over between the look and the lock sends us round again, a few
 * times at most: then the name is as good as new. */
static struct slot *slot_find(struct nori_limits *l, uint64_t tag)
{
    for (int r = 0; r < RETRIES; r++) {
        int raced = 0;
        for (unsigned i = 0; i < PROBES; i++) {
            struct slot *s = &l->s[(tag + i) & (SLOTS - 1)];
            if (tag_load(s) != tag)
                continue;
            slot_lock(s);
            if (s->tag == tag)
                return s;
            slot_unlock(s);
            raced = 1;
            break;
        }
        if (!raced)
            break;
    }
    return NULL;
}

/* A slot for tag, locked and emptied: a free one in its neighbourhood,
 * else the one that expires first; *fresh says whether it was emptied
 * (0: another process made it meanwhile, and its entry counts). NULL when
 * the neighbourhood kept changing under us (the caller lets the request
 * through). */
static struct slot *slot_claim(struct nori_limits *l, uint64_t tag, uint64_t now,
                               int *fresh)
{
    for (int r = 0; r < RETRIES; r++) {
        struct slot *best = NULL;
        for (unsigned i = 0; i < PROBES; i++) {
            struct slot *s = &l->s[(tag + i) & (SLOTS - 1)];
            if (free_at(s, now)) {
                best = s;
                break;
            }
            if (best == NULL || expires_load(s) < expires_load(best))
                best = s;
        }
        uint64_t was = tag_load(best), until = expires_load(best);
        slot_lock(best);
        if (best->tag == tag && best->e.expires > now) {
            *fresh = 0;     /* another process made it meanwhile */
            return best;
        }
        if (best->tag == tag || (best->tag == was && best->e.expires == until)) {
            *fresh = 1;
            best->e = (struct nori_limit_entry){0};
            __atomic_store_n(&best->tag, tag, __ATOMIC_RELEASE);
            return best;
        }
        slot_unlock(best);
    }
    return NULL;
}

unsigned nori_limit_apply(struct nori_limits *l, char kind, const char *name,
                          uint64_t now_ms, int make, nori_limit_rule rule, void *arg)
{
    struct nori_limit_entry scratch = {0};
    uint64_t tag;
    struct slot *s;
    unsigned out;
    int fresh;

    if (l == NULL)
        return 0;
    tag = tag_of(l, kind, name);
    if ((s = slot_find(l, tag)) != NULL && s->e.expires <= now_ms && !make) {
        slot_unlock(s);     /* expired, and a question changes nothing */
        s = NULL;
    }
    if (s != NULL && s->e.expires <= now_ms) {
        s->e = (struct nori_limit_entry){0};    /* expired: as good as new */
        fresh = 1;
    } else {
        fresh = s == NULL;
    }
    if (s == NULL && make)
        s = slot_claim(l, tag, now_ms, &fresh);
    if (s == NULL)
        return rule(&scratch, 1, now_ms, arg);
    out = rule(&s->e, fresh, now_ms, arg);
    if (s->e.expires <= now_ms)
        __atomic_store_n(&s->tag, 0, __ATOMIC_RELEASE);
    slot_unlock(s);
    return out;
}

struct bucket {
    unsigned per_min, burst;
};

/* w[0]: thousandths of a token; w[1]: the ms up to which refills are
 * counted. Only whole thousandths are added, and only the time they took
 * is used up, so that a slow rate polled often still refills. */
static unsigned bucket_rule(struct nori_limit_entry *e, int fresh, uint64_t now, void *arg)
{
    const struct bucket *b = arg;
    uint64_t cap = (uint64_t)b->burst * 1000, add;

    if (fresh || e->w[1] > now) {   /* a new name, or the clock went back */
        e->w[0] = cap;
        e->w[1] = now;
    }
    add = (now - e->w[1]) * b->per_min / 60;
    if (add) {
        e->w[1] += add * 60 / b->per_min;
        e->w[0] = e->w[0] + add > cap ? cap : e->w[0] + add;
    }
    if (e->w[0] >= cap)
        e->w[1] = now;
    unsigned wait = 0;
    if (e->w[0] >= 1000) {
        e->w[0] -= 1000;
    } else {
        uint64_t ms = ((1000 - e->w[0]) * 60 + b->per_min - 1) / b->per_min;
        wait = (unsigned)((ms + 999) / 1000);
    }
    /* Once full again the entry is worth nothing: a fresh one is full. */
    e->expires = now + ((cap - e->w[0]) * 60 + b->per_min - 1) / b->per_min + 1;
    return wait;
}

unsigned nori_limit_take(struct nori_limits *l, char kind, const char *name,
                         uint64_t now_ms, unsigned per_min, unsigned burst)
{
    struct bucket b = {per_min, burst ? burst : 1};

    if (per_min == 0)
        return 0;
    return nori_limit_apply(l, kind, name, now_ms, 1, bucket_rule, &b);
}

static unsigned forget_rule(struct nori_limit_entry *e, int fresh, uint64_t now, void *arg)
{
    (void)fresh;
    (void)arg;
    e->expires = now;
    return 0;
}

void nori_limit_forget(struct nori_limits *l, char kind, const char *name)
{
    nori_limit_apply(l, kind, name, 0, 0, forget_rule, NULL);
}
