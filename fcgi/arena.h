/* arena.h -- a request's memory. Everything a request allocates comes from
 * its arena and is released at once when the request ends, so a worker
 * makes no malloc/free calls per request once it has warmed up. */
#ifndef NORI_ARENA_H
#define NORI_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
    struct arena_block *head;   /* the block allocations come from */
    size_t used_total;          /* bytes handed out since the last reset */
    size_t block_size;          /* the size of the block kept across resets */
};

int arena_init(struct arena *a, size_t block_size);
void *arena_alloc(struct arena *a, size_t n);      /* NULL when out of memory */
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
