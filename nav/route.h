/* route.h -- the page table: page name -> handler, on uthash. */
#ifndef NORI_ROUTE_H
#define NORI_ROUTE_H

/* What a page is belongs to the application; the table only stores
 * a pointer to it under each name. */
struct route_table;

struct route_table *route_new(void);
int route_add(struct route_table *t, const char *name, const void *page);
const void *route_find(const struct route_table *t, const char *name);
void route_free(struct route_table *t);

#endif
