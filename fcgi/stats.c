/* stats.c -- the shared statistics file: a magic word, then one u64
 * per statistic, each on its own cache line so that workers on different cores
 * do not fight over one line. */
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stats.h"

#define STATS_MAGIC 0x6e6f72697374a701ull   /* "noristat", format 1 */
#define LINE 64

struct slot {
    uint64_t value;
    char pad[LINE - sizeof(uint64_t)];
};

struct stats {
    uint64_t magic;
    char pad[LINE - sizeof(uint64_t)];
    struct slot slots[STAT_COUNT];
};

static const char *const names[STAT_COUNT] = {
    [STAT_REQUESTS] = "requests",
    [STAT_PAGES] = "pages",
    [STAT_ACTIONS] = "actions",
    [STAT_SESSIONS_CREATED] = "sessions_created",
    [STAT_COMMITS] = "commits",
    [STAT_COMMITS_AVOIDED] = "commits_avoided",
    [STAT_CONFLICTS] = "conflicts",
    [STAT_RECLAIMED] = "reclaimed",
    [STAT_4XX] = "status_4xx",
    [STAT_5XX] = "status_5xx",
    [STAT_CACHE_BYTES] = "page_cache_bytes",
    [STAT_SESSIONS_LOST] = "sessions_lost",
    [STAT_THROTTLED] = "throttled",
    [STAT_STORE_CALLS] = "store_calls",
    [STAT_STORE_MICROS] = "store_micros",
    [STAT_S400] = "status_400", [STAT_S403] = "status_403",
    [STAT_S404] = "status_404", [STAT_S405] = "status_405",
    [STAT_S408] = "status_408", [STAT_S413] = "status_413",
    [STAT_S414] = "status_414", [STAT_S415] = "status_415",
    [STAT_S429] = "status_429", [STAT_S500] = "status_500",
    [STAT_S502] = "status_502", [STAT_S503] = "status_503",
    [STAT_NOT_MODIFIED] = "not_modified",
    [STAT_CACHE_PAGES] = "page_cache_pages",
    [STAT_CACHE_FLUSHES] = "page_cache_flushes",
};

static const int statuses[] = {400, 403, 404, 405, 408, 413, 414, 415,
                               429, 500, 502, 503};

struct stats *stats_open(const char *path, int writable)
{
    /* O_NOFOLLOW: a symlink planted here must not choose what we write. */
    int fd = open(path, writable ? O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC
                                 : O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    void *p;

    if (fd < 0)
        return NULL;
    /* Every worker may get here at once; growing to the same size is
     * idempotent, and a fresh file's zero bytes are zero statistics. */
    if (fstat(fd, &st) < 0 ||
        (st.st_size < (off_t)sizeof(struct stats) &&
         (!writable || ftruncate(fd, sizeof(struct stats)) < 0))) {
        close(fd);
        return NULL;
    }
    p = mmap(NULL, sizeof(struct stats), writable ? PROT_READ | PROT_WRITE : PROT_READ,
             MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    struct stats *f = p;
    if (writable) {
        uint64_t zero = 0;
        __atomic_compare_exchange_n(&f->magic, &zero, STATS_MAGIC, 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    if (__atomic_load_n(&f->magic, __ATOMIC_SEQ_CST) != STATS_MAGIC) {
        munmap(p, sizeof(struct stats));
        return NULL;
    }
    return f;
}

void stats_close(struct stats *st)
{
    if (st)
        munmap(st, sizeof *st);
}

void stats_add(struct stats *st, enum stat_id id, uint64_t n)
{
    if (st && id < STAT_COUNT)
        __atomic_fetch_add(&st->slots[id].value, n, __ATOMIC_RELAXED);
}

uint64_t stats_get(const struct stats *st, enum stat_id id)
{
    if (st == NULL || id >= STAT_COUNT)
        return 0;
    return __atomic_load_n(&st->slots[id].value, __ATOMIC_RELAXED);
}

void stats_set(struct stats *st, enum stat_id id, uint64_t v)
{
    if (st && id < STAT_COUNT)
        __atomic_store_n(&st->slots[id].value, v, __ATOMIC_RELAXED);
}

const char *stats_name(enum stat_id id)
{
    return id < STAT_COUNT ? names[id] : "unknown";
}

enum stat_id stats_status_id(int status)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i] == status)
            return (enum stat_id)(STAT_S400 + i);
    return STAT_COUNT;
}

int stats_id_status(enum stat_id id)
{
    return id >= STAT_S400 && id <= STAT_S503 ? statuses[id - STAT_S400] : 0;
}
