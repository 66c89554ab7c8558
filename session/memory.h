/* memory.h -- what the memory store ("memory", memory.c) offers besides
 * the interface every store has (store.h): the supervisor's side of the
 * record count each of its workers publishes. Only that backend has it,
 * so it is not in the generic header. */
#ifndef NORI_MEMORY_H
#define NORI_MEMORY_H

#include <stdint.h>
#include <sys/types.h>

/* When worker pid has gone (reaped) leaving dir/memory.PID behind, it
 * never counted its own sessions at close; returns the records it held
 * then (0 when the latest expiry among them had passed at `now`, unix
 * seconds), and removes the file. 0 when there is no such file. */
uint64_t store_memory_orphans(const char *dir, pid_t pid, uint64_t now);

#endif
