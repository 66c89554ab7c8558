/* stats.h -- counters summed over every worker of a machine.
 *
 * They live in a small file that each worker maps shared and adds to
 * with atomic increments: no lock, no system call per request. */
#ifndef NORI_STATS_H
#define NORI_STATS_H

#include <stdint.h>

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
    STAT_COUNT
};

/* Maps (creating if needed) the counters file. Until it succeeds,
 * stats_add does nothing and stats_get reads 0. */
int stats_open(const char *path, int writable);
void stats_close(void);
void stats_add(enum stat_id id, uint64_t n);
uint64_t stats_get(enum stat_id id);
const char *stats_name(enum stat_id id);

#endif
