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
    /* Answers of 429 (a bucket empty: sessions per address, logins). */
    STAT_THROTTLED,
    /* Calls to the session store and the microseconds they took, summed:
     * their ratio is the mean latency (a Prometheus summary). */
    STAT_STORE_CALLS,
    STAT_STORE_MICROS,
    /* Answers by status, for the error statuses nori gives (DESIGN.md's
     * list); the rest of 4xx and 5xx are in STAT_4XX and STAT_5XX only. */
    STAT_S400, STAT_S403, STAT_S404, STAT_S405, STAT_S408, STAT_S413,
    STAT_S414, STAT_S415, STAT_S429, STAT_S500, STAT_S502, STAT_S503,
    /* Cache hits nori sees: answers of 304 (the client's copy is current)
     * and pages written for the page cache (its hits are the web
     * server's, which answers them without a worker). */
    STAT_NOT_MODIFIED,
    STAT_CACHE_PAGES,
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
/* The slot counting answers of this status (STAT_S400 .. STAT_S503);
 * STAT_COUNT for a status that has none of its own. */
enum stat_id stats_status_id(int status);
/* The status a STAT_S* slot counts; 0 for any other statistic. */
int stats_id_status(enum stat_id id);

#endif
