/* shop.h -- the demo sushi shop: what main() sets up and what the worker
 * calls for each request. */
#ifndef NORI_SHOP_H
#define NORI_SHOP_H

#include "../fcgi/http.h"
#include "../nav/route.h"
#include "../session/visit.h"
#include "catalog.h"
#include "config.h"
#include "users.h"

/* The frame every sessionless page shares, rendered at the first one
 * (layout.c); the only thing a request writes outside its arena. */
struct frame {
    char *prefix;               /* the SCRIPT_NAME it was rendered for */
    char *bytes;
    size_t len;
};

struct shop {
    struct shop_config cfg;
    struct catalog catalog;
    struct users users;
    struct route_table *routes;
    struct sessions sessions;
    char etag[24];              /* of every sessionless page: see shop_init */
    struct frame *frame;        /* NULL when it could not be allocated */
};

int shop_init(struct shop *s, const struct shop_config *cfg, char *err,
              size_t errlen);
void shop_free(struct shop *s);
void shop_handle(const struct request *req, struct response *resp, void *shop);

#endif
