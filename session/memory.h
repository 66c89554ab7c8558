/* memory.h -- what of a memory store outlives its worker.
 *
 * Every worker with a memory store keeps DIR/memory.PID (DIR: the run
 * directory) current: the records it holds, the latest expiry among them,
 * and its own start time. A worker that closes its store counts its own
 * lost sessions; one that is killed cannot, so whoever comes next claims
 * its file: the supervisor that reaps it (nori serve), a worker starting
 * (lighttpd's bin-path respawn), any worker's status page (spawn-fcgi,
 * where nothing respawns). */
#ifndef NORI_MEMORY_H
#define NORI_MEMORY_H

#include <stdint.h>
#include <sys/types.h>

struct stats;

/* Claims the files of memory-store workers that are gone (no such
 * process, a zombie, or a process of the same pid started at another
 * time: the pid was reused), pid's alone when pid > 0, every one in dir
 * when pid is 0. A claim is a rename to a name of the claimant's own, so
 * that of several claimants at once exactly one counts a file. For each
 * file claimed whose latest expiry is after `now` (unix seconds), its
 * records are added to sessions_lost in stats (NULL: nowhere) and one
 * line naming the worker and the count is logged, after PREFIX. Returns
 * the sessions counted; 0 when there was nothing to claim. */
uint64_t memory_claim_orphans(const char *dir, pid_t pid, uint64_t now,
                              struct stats *stats, const char *prefix);

#endif
