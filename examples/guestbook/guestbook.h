/* guestbook.h -- the guestbook's types, shared by its main() (main.c)
 * and its harness test (test.c). */
#ifndef GUESTBOOK_H
#define GUESTBOOK_H

#include <stdint.h>

#include <nori.h>

#define GB_NAME_MAX 40
#define GB_TEXT_MAX 200
#define GB_ENTRIES_LIMIT 100000     /* NORI_GUESTBOOK_MAX's upper bound */

struct gb_query {
    uint32_t id;                    /* an entry's number, from 1 */
};

struct gb_form {
    char name[GB_NAME_MAX + 1];
    char text[GB_TEXT_MAX + 1];
};

/* The session: the name the visitor signed with, offered next time. */
struct gb_state {
    char name[GB_NAME_MAX + 1];
};

struct gb_config {
    unsigned long max;              /* NORI_GUESTBOOK_MAX */
};

struct guestbook {
    struct gb_config cfg;
    char path[4096];                /* RUNDIR/guestbook.tsv */
    unsigned long long id;          /* the book's, from its first line */
};

extern struct guestbook guestbook_data;
extern const struct nori_app guestbook_app;

#endif
