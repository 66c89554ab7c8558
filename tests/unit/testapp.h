/* testapp.h -- the application the library's own tests and fuzzers parse
 * and decode with, so that they need nothing of the demo shop: a query
 * grammar (a number with "absent" outside its range, text, a number
 * whose absent value is inside it), a form grammar (numbers, a user
 * name, a longer text), and a session state of a running total and up to
 * TESTAPP_LINES_MAX lines (id, n), with its codec. The shapes are the
 * ones a real application has, bounds included, so the seeds in
 * tests/fuzz/corpus/ still reach every path. */
#ifndef NORI_TESTAPP_H
#define NORI_TESTAPP_H

#include <stdint.h>

#include "nori.h"

#define TESTAPP_Q_MAX      200      /* text, in bytes after decoding */
#define TESTAPP_PAGE_MAX   10000
#define TESTAPP_NOTE_MAX   128
#define TESTAPP_LINES_MAX  64       /* distinct ids in one state */
#define TESTAPP_N_MAX      99
#define TESTAPP_N_ABSENT   UINT32_MAX

/* ?pg=...&id=N&q=T&page=P, in this canonical order. */
struct testapp_query {
    uint32_t id;                    /* 0 when absent */
    char q[TESTAPP_Q_MAX + 1];
    uint32_t page;                  /* 1 when absent */
};

/* The fields of a POST besides act, _s and _k. */
struct testapp_form {
    uint32_t id;                    /* 0 when absent */
    uint32_t n;                     /* TESTAPP_N_ABSENT when absent */
    char user[NORI_USER_MAX + 1];
    char note[TESTAPP_NOTE_MAX + 1];
};

struct testapp_line {
    uint32_t id;                    /* 1..INT32_MAX, distinct */
    uint32_t n;                     /* 1..TESTAPP_N_MAX */
};

/* Its bytes (version 1), little-endian:
 *   total i64 | nlines u16 | nlines x (id u32, n u8)
 * the layout session records of format 1 ended with (session/record.c). */
struct testapp_state {
    int64_t total;
    uint32_t nlines;
    struct testapp_line line[TESTAPP_LINES_MAX];
};

extern const struct nori_grammar testapp_query_grammar, testapp_form_grammar;
extern const struct nori_state_codec testapp_state_codec;

/* n is capped at TESTAPP_N_MAX; 0 in testapp_line_set removes the line.
 * -1 when there is no room for another id. */
int testapp_line_add(struct testapp_state *s, uint32_t id, uint32_t n);
int testapp_line_set(struct testapp_state *s, uint32_t id, uint32_t n);
/* The sum of the lines' n. */
uint32_t testapp_line_total(const struct testapp_state *s);

#endif
