/* route.c -- page name -> page, on uthash. Built once at start, read by
 * every request; no request adds or removes routes. */
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "route.h"

struct route {
    char *name;
    const void *page;
    UT_hash_handle hh;
};

struct route_table {
    struct route *head;
};

struct route_table *route_new(void)
{
    return calloc(1, sizeof(struct route_table));
}

int route_add(struct route_table *t, const char *name, const void *page)
{
    struct route *r;

    HASH_FIND_STR(t->head, name, r);
    if (r)
        return -1;
    if ((r = calloc(1, sizeof *r)) == NULL || (r->name = strdup(name)) == NULL) {
        free(r);
        return -1;
    }
    r->page = page;
    HASH_ADD_KEYPTR(hh, t->head, r->name, strlen(r->name), r);
    return 0;
}

const void *route_find(const struct route_table *t, const char *name)
{
    struct route *r;

    HASH_FIND_STR(t->head, name, r);
    return r ? r->page : NULL;
}

void route_free(struct route_table *t)
{
    struct route *r, *tmp;

    if (t == NULL)
        return;
    HASH_ITER(hh, t->head, r, tmp) {
        HASH_DEL(t->head, r);
        free(r->name);
        free(r);
    }
    free(t);
}
