/* sweeper.h -- the background collector: a thread in each worker that
 * wakes every interval and reclaims expired sessions. The store lets one
 * worker a period do the work; the others find it done and sleep on. It
 * also clears reader slots left by workers killed mid-read. */
#ifndef NORI_SWEEPER_H
#define NORI_SWEEPER_H

#include <stdint.h>

#include "store.h"

struct sweeper;

/* Starts the thread with every signal blocked, so that SIGTERM reaches
 * the thread that serves requests. NULL when it cannot start. */
struct stats;
struct sweeper *sweeper_start(struct store *st, uint64_t interval_ms,
                              unsigned batch, struct stats *stats);
/* Wakes the thread, waits for it to finish its sweep, and frees it. */
void sweeper_stop(struct sweeper *sw);

#endif
