/* stats.h -- statistics summed over every worker of a machine.
 *
 * They live in a small file that each worker maps shared and adds to
 * with atomic increments: no lock, no system call per request. The
 * mapping is a handle that is passed down to whoever counts (the worker
 * loop, the pipeline, the session lifecycle); a NULL handle counts
 * nothing. */
#ifndef NORI_STATS_H
#define NORI_STATS_H

#include <stdint.h>

/* A new statistic goes at the end: the file is shared with workers of
 * the build before, and the slots already there keep their place. */
enum stat_id {
    STAT_REQUESTS,
    STAT_PAGES,
    STAT_SESSIONS_CREATED,
    STAT_COMMITS,
    STAT_COMMITS_AVOIDED,   /* requests answered without a commit */
    STAT_CONFLICTS,
    STAT_RECLAIMED,
    STAT_4XX,
    STAT_5XX,
    STAT_ACTIONS,           /* POSTs that reached the application */
    STAT_CACHE_BYTES,       /* written to the current page cache generation */
    /* Live sessions a memory store held when its worker went away. */
    STAT_SESSIONS_LOST,
    STAT_CACHE_FLUSHES,     /* times a full page cache generation was emptied */
    STAT_COUNT
};

struct stats;

/* Maps (creating it if writable and missing) the statistics file; NULL
 * when it cannot. */
struct stats *stats_open(const char *path, int writable);
void stats_close(struct stats *st);
void stats_add(struct stats *st, enum stat_id id, uint64_t n);
uint64_t stats_get(const struct stats *st, enum stat_id id);
/* For a gauge (STAT_CACHE_BYTES) that starts again at a new state. */
void stats_set(struct stats *st, enum stat_id id, uint64_t v);
const char *stats_name(enum stat_id id);

#endif
