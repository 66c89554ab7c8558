/* users.h -- the demo shop's accounts: "name:crypt(3) hash" lines, read
 * once at start. */
#ifndef NORI_USERS_H
#define NORI_USERS_H

#include <stddef.h>

struct user;

struct users {
    char *text;             /* the file; names and hashes point into it */
    struct user *index;     /* uthash by name */
    char dummy[256];        /* hashed for unknown names: see users_load */
};

int users_load(struct users *u, const char *path, char *err, size_t errlen);
void users_free(struct users *u);
/* 1 when name exists and password matches its hash. Takes as long for an
 * unknown name as for a known one: an unknown name is checked against a
 * hash of the first entry's scheme and cost. */
int users_check(const struct users *u, const char *name, const char *password);

/* The hash unknown names are checked against. */
const char *users_dummy_hash(const struct users *u);

#endif
