/* throttle.c -- the failed-login rule, on nori's shared limit table
 * (nori_limit_apply): one entry per user ('u') and per address ('a'),
 * changed under that entry's own lock in the shared mapping, so that a
 * guess spread over workers counts the same and no request takes a file
 * lock. An entry's words: failures, the last one, and the time before
 * which no attempt is checked (unix seconds); it expires lockout_s after
 * its last failure, which is when the name is forgotten. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "shop.h"
#include "throttle.h"

/* The table of the build before this one: a file of its own format at
 * the same path, replaced by the first worker that opens it. */
#define THROTTLE_MAGIC_OLD 0x6e6f72697468a701ull

enum { W_COUNT, W_LAST, W_UNTIL };

static struct nori_limits *shared;
static struct throttle_policy policy;

static int old_format(const char *path)
{
    uint64_t magic = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int old;

    if (fd < 0)
        return 0;
    old = read(fd, &magic, sizeof magic) == (ssize_t)sizeof magic &&
          magic == THROTTLE_MAGIC_OLD;
    close(fd);
    return old;
}

enum throttle_err throttle_open(const char *path, const struct throttle_policy *p)
{
    struct nori_limits *l = nori_limits_open(path);

    if (l == NULL && errno == EPROTO && old_format(path) && unlink(path) == 0)
        l = nori_limits_open(path);
    if (l == NULL)
        return errno == EPROTO ? THROTTLE_EFORMAT : THROTTLE_EOPEN;
    throttle_close();
    shared = l;
    policy = *p;
    return THROTTLE_OK;
}

void throttle_close(void)
{
    nori_limits_close(shared);
    shared = NULL;
}

int throttle_is_open(void)
{
    return shared != NULL;
}

static unsigned left(const struct nori_limit_entry *e, uint64_t now)
{
    return e->w[W_UNTIL] > now ? (unsigned)(e->w[W_UNTIL] - now) : 0;
}

static uint64_t delay(uint64_t count)
{
    if (count >= policy.failures)
        return policy.lockout_s;
    if (count <= THROTTLE_FREE)
        return 0;
    uint64_t d = count - THROTTLE_FREE > 30 ? UINT32_MAX : 1ull << (count - THROTTLE_FREE - 1);
    return d < policy.lockout_s ? d : policy.lockout_s;
}

static unsigned wait_rule(struct nori_limit_entry *e, int fresh, uint64_t now_ms, void *arg)
{
    (void)fresh;
    (void)arg;
    return left(e, now_ms / 1000);
}

static unsigned fail_rule(struct nori_limit_entry *e, int fresh, uint64_t now_ms, void *arg)
{
    uint64_t now = now_ms / 1000;

    (void)fresh;
    (void)arg;
    if (e->w[W_COUNT] < UINT32_MAX)
        e->w[W_COUNT]++;
    e->w[W_LAST] = now;
    e->w[W_UNTIL] = now + delay(e->w[W_COUNT]);
    e->expires = (now + policy.lockout_s) * 1000;
    return left(e, now);
}

static unsigned longer(unsigned a, unsigned b)
{
    return a > b ? a : b;
}

unsigned throttle_wait(const char *user, const char *addr, uint64_t now)
{
    if (shared == NULL || policy.failures == 0)
        return 0;
    return longer(nori_limit_apply(shared, 'u', user, now * 1000, 0, wait_rule, NULL),
                  nori_limit_apply(shared, 'a', addr, now * 1000, 0, wait_rule, NULL));
}

unsigned throttle_fail(const char *user, const char *addr, uint64_t now)
{
    if (shared == NULL || policy.failures == 0)
        return 0;
    return longer(nori_limit_apply(shared, 'u', user, now * 1000, 1, fail_rule, NULL),
                  nori_limit_apply(shared, 'a', addr, now * 1000, 1, fail_rule, NULL));
}

void throttle_forget_user(const char *user)
{
    nori_limit_forget(shared, 'u', user);
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
