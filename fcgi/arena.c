/* arena.c -- bump allocation in blocks.
 *
 * A reset keeps one block. If the request outgrew it, that one block is
 * replaced by one big enough for the whole request, so a worker whose
 * pages are larger than the initial block settles after one request and
 * then allocates nothing more. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define ARENA_ALIGN 16
#define ARENA_KEEP_MAX (4u << 20)   /* never keep more than this between requests */

struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    _Alignas(ARENA_ALIGN) char data[];
};

static struct arena_block *block_new(size_t cap, struct arena_block *next)
{
    struct arena_block *b = malloc(sizeof *b + cap);

    if (b) {
        b->next = next;
        b->cap = cap;
        b->used = 0;
    }
    return b;
}

int arena_init(struct arena *a, size_t block_size)
{
    a->block_size = block_size;
    a->used_total = 0;
    a->head = block_new(block_size, NULL);
    return a->head ? 0 : -1;
}

void *arena_alloc(struct arena *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    struct arena_block *b = a->head;

    if (need < n)
        return NULL;
    if (b == NULL || b->cap - b->used < need) {
        size_t cap = need > a->block_size ? need : a->block_size;
        if ((b = block_new(cap, a->head)) == NULL)
            return NULL;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used_total += need;
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static void blocks_free(struct arena_block *b)
{
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
}

void arena_reset(struct arena *a)
{
    if (a->head && a->head->next == NULL) {
        a->head->used = 0;
    } else {
        size_t want = a->used_total;
        if (want < a->block_size)
            want = a->block_size;
        if (want > ARENA_KEEP_MAX)
            want = a->block_size;
        blocks_free(a->head);
        a->block_size = want;
        a->head = block_new(want, NULL);    /* NULL: the next alloc retries */
    }
    a->used_total = 0;
}

void arena_free(struct arena *a)
{
    blocks_free(a->head);
    a->head = NULL;
}
