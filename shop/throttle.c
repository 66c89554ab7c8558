/* throttle.c -- the shared failed-login table: a header with a magic
 * word and a random hash key, then a fixed table of entries, open
 * addressing over a few slots. Every operation holds flock(2) on the
 * file: failed logins are rare and each already costs a password hash,
 * and the kernel drops the lock of a worker that dies holding it. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "throttle.h"

#define THROTTLE_MAGIC 0x6e6f72697468a701ull   /* "norith", format 1 */
#define ENTRIES 4096                           /* a power of two */
#define PROBES 8

struct entry {
    uint64_t tag;               /* keyed hash of kind and name; 0: empty */
    uint64_t last;              /* last failure, unix seconds */
    uint64_t until;             /* no attempt before this */
    uint32_t count;             /* failures since the name was last forgotten */
    uint32_t pad;
};

struct table {
    uint64_t magic;
    uint64_t key[2];            /* so that nobody can aim names at one slot */
    uint64_t pad[5];
    struct entry e[ENTRIES];
};

static struct table *shared;
static int lock_fd = -1;
static struct throttle_policy policy;

static void lock(int op)
{
    while (flock(lock_fd, op) < 0 && errno == EINTR)
        ;
}

/* Under the lock: a fresh file gets its magic and key once. */
static enum throttle_err table_init(struct table *t)
{
    if (t->magic == THROTTLE_MAGIC)
        return THROTTLE_OK;
    if (t->magic != 0)
        return THROTTLE_EFORMAT;
    if (getrandom(t->key, sizeof t->key, 0) != (ssize_t)sizeof t->key)
        return THROTTLE_EOPEN;
    t->magic = THROTTLE_MAGIC;
    return THROTTLE_OK;
}

enum throttle_err throttle_open(const char *path, const struct throttle_policy *p)
{
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    void *m;
    enum throttle_err err;

    if (fd < 0)
        return THROTTLE_EOPEN;
    /* Growing to the same size is idempotent; zero bytes are empty slots. */
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (st.st_size < (off_t)sizeof *shared && ftruncate(fd, sizeof *shared) < 0) ||
        (m = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
            MAP_FAILED) {
        close(fd);
        return THROTTLE_EOPEN;
    }
    throttle_close();
    shared = m;
    lock_fd = fd;
    lock(LOCK_EX);
    err = table_init(shared);
    lock(LOCK_UN);
    if (err != THROTTLE_OK) {
        throttle_close();
        return err;
    }
    policy = *p;
    return THROTTLE_OK;
}

void throttle_close(void)
{
    if (shared)
        munmap(shared, sizeof *shared);
    if (lock_fd >= 0)
        close(lock_fd);
    shared = NULL;
    lock_fd = -1;
}

int throttle_is_open(void)
{
    return shared != NULL;
}

/* FNV-1a over the kind and the name, started from and finished with the
 * table's random key: not a MAC, but names cannot be chosen to collide. */
static uint64_t tag_of(char kind, const char *name)
{
    uint64_t h = shared->key[0] ^ 14695981039346656037ull;

    h = (h ^ (unsigned char)kind) * 1099511628211ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    h ^= shared->key[1];
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h ? h : 1;
}

static int stale(const struct entry *e, uint64_t now)
{
    return e->tag == 0 || e->last + policy.lockout_s <= now;
}

/* The entry of a name, or NULL when it has none (or only a stale one). */
static struct entry *entry_find(uint64_t tag, uint64_t now)
{
    for (unsigned i = 0; i < PROBES; i++) {
        struct entry *e = &shared->e[(tag + i) & (ENTRIES - 1)];
        if (e->tag == tag)
            return stale(e, now) ? NULL : e;
    }
    return NULL;
}

/* The entry of a name, made if needed: in its own slot, else an empty or
 * stale one, else the one whose wait ends first (a name still locked out
 * is the last to be pushed out). Its count starts at 0 when fresh. */
static struct entry *entry_take(uint64_t tag, uint64_t now)
{
    struct entry *best = NULL;

    for (unsigned i = 0; i < PROBES; i++) {
        struct entry *e = &shared->e[(tag + i) & (ENTRIES - 1)];
        if (e->tag == tag) {
            best = e;
            break;
        }
        if (best == NULL || (!stale(best, now) &&
                             (stale(e, now) || e->until < best->until)))
            best = e;
    }
    if (best->tag != tag || stale(best, now))
        *best = (struct entry){.tag = tag};
    return best;
}

static unsigned left(const struct entry *e, uint64_t now)
{
    return e && e->until > now ? (unsigned)(e->until - now) : 0;
}

static uint64_t delay(uint32_t count)
{
    if (count >= policy.failures)
        return policy.lockout_s;
    if (count <= THROTTLE_FREE)
        return 0;
    uint64_t d = count - THROTTLE_FREE > 30 ? UINT32_MAX : 1ull << (count - THROTTLE_FREE - 1);
    return d < policy.lockout_s ? d : policy.lockout_s;
}

static unsigned longer(unsigned a, unsigned b)
{
    return a > b ? a : b;
}

unsigned throttle_wait(const char *user, const char *addr, uint64_t now)
{
    unsigned w;

    if (shared == NULL || policy.failures == 0)
        return 0;
    lock(LOCK_SH);
    w = longer(left(entry_find(tag_of('u', user), now), now),
               left(entry_find(tag_of('a', addr), now), now));
    lock(LOCK_UN);
    return w;
}

static unsigned fail_one(char kind, const char *name, uint64_t now)
{
    struct entry *e = entry_take(tag_of(kind, name), now);

    if (e->count < UINT32_MAX)
        e->count++;
    e->last = now;
    e->until = now + delay(e->count);
    return left(e, now);
}

unsigned throttle_fail(const char *user, const char *addr, uint64_t now)
{
    unsigned w;

    if (shared == NULL || policy.failures == 0)
        return 0;
    lock(LOCK_EX);
    w = longer(fail_one('u', user, now), fail_one('a', addr, now));
    lock(LOCK_UN);
    return w;
}

void throttle_forget_user(const char *user)
{
    uint64_t tag;

    if (shared == NULL)
        return;
    lock(LOCK_EX);
    tag = tag_of('u', user);
    for (unsigned i = 0; i < PROBES; i++) {
        struct entry *e = &shared->e[(tag + i) & (ENTRIES - 1)];
        if (e->tag == tag)
            *e = (struct entry){0};
    }
    lock(LOCK_UN);
}

const char *throttle_strerror(enum throttle_err err)
{
    switch (err) {
    case THROTTLE_OK: return "ok";
    case THROTTLE_EOPEN: return "cannot open or map the file (a symlink, or no room?)";
    case THROTTLE_EFORMAT: return "not a throttle file of this build";
    }
    return "throttle error";
}
