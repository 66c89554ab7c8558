/* testapp.c -- the tests' application (testapp.h): its grammars and its
 * state codec. Pure code, no libfcgi and no store, so the fuzzers
 * compile it beside the parsers they call. The decoder is strict, as an
 * application's should be: a line out of bounds, an id twice or a byte
 * too many rejects the whole state. */
#include <string.h>

#include "testapp.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define STATE_VERSION 1

static const struct nori_field query_fields[] = {
    NORI_FIELD_UINT(struct testapp_query, id, "id", 1, INT32_MAX, 0),
    NORI_FIELD_TEXT(struct testapp_query, q, "q", 1, TESTAPP_Q_MAX),
    NORI_FIELD_UINT(struct testapp_query, page, "page", 1, TESTAPP_PAGE_MAX, 1),
};

static const struct nori_field form_fields[] = {
    NORI_FIELD_UINT(struct testapp_form, id, "id", 1, INT32_MAX, 0),
    NORI_FIELD_UINT(struct testapp_form, n, "n", 0, TESTAPP_N_MAX, TESTAPP_N_ABSENT),
    NORI_FIELD_TEXT(struct testapp_form, user, "user", 1, NORI_USER_MAX),
    NORI_FIELD_TEXT(struct testapp_form, note, "note", 1, TESTAPP_NOTE_MAX),
};

const struct nori_grammar testapp_query_grammar = {
    query_fields, COUNT(query_fields), sizeof(struct testapp_query)};
const struct nori_grammar testapp_form_grammar = {
    form_fields, COUNT(form_fields), sizeof(struct testapp_form)};

static void put_le(unsigned char *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, size_t n)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int state_encode(const void *state, unsigned char *buf, size_t cap,
                        size_t *len)
{
    const struct testapp_state *s = state;
    size_t need = 8 + 2 + (size_t)s->nlines * 5;

    if (need > cap || s->nlines > TESTAPP_LINES_MAX)
        return -1;
    put_le(buf, (uint64_t)s->total, 8);
    put_le(buf + 8, s->nlines, 2);
    for (uint32_t i = 0; i < s->nlines; i++) {
        put_le(buf + 10 + 5 * i, s->line[i].id, 4);
        put_le(buf + 14 + 5 * i, s->line[i].n, 1);
    }
    *len = need;
    return 0;
}

static int line_valid(const struct testapp_state *s, uint32_t i)
{
    const struct testapp_line *l = &s->line[i];

    if (l->id == 0 || l->id > INT32_MAX || l->n == 0 || l->n > TESTAPP_N_MAX)
        return 0;
    for (uint32_t j = 0; j < i; j++)
        if (s->line[j].id == l->id)
            return 0;
    return 1;
}

static int state_decode(void *state, unsigned version, const unsigned char *buf,
                        size_t len)
{
    struct testapp_state *s = state;
    uint64_t n;

    if (version != STATE_VERSION || len < 10)
        return -1;
    n = get_le(buf + 8, 2);
    if (n > TESTAPP_LINES_MAX || len != 10 + 5 * n)
        return -1;
    s->total = (int64_t)get_le(buf, 8);
    s->nlines = (uint32_t)n;
    for (uint32_t i = 0; i < s->nlines; i++) {
        s->line[i].id = (uint32_t)get_le(buf + 10 + 5 * i, 4);
        s->line[i].n = (uint32_t)get_le(buf + 14 + 5 * i, 1);
        if (!line_valid(s, i))
            return -1;
    }
    return 0;
}

const struct nori_state_codec testapp_state_codec = {
    sizeof(struct testapp_state), STATE_VERSION, state_encode, state_decode,
};

static struct testapp_line *line_find(struct testapp_state *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->nlines; i++)
        if (s->line[i].id == id)
            return &s->line[i];
    return NULL;
}

int testapp_line_add(struct testapp_state *s, uint32_t id, uint32_t n)
{
    struct testapp_line *l = line_find(s, id);

    if (n == 0)
        return 0;
    if (l == NULL) {
        if (s->nlines == TESTAPP_LINES_MAX)
            return -1;
        l = &s->line[s->nlines++];
        l->id = id;
        l->n = 0;
    }
    uint64_t sum = (uint64_t)l->n + n;  /* a huge n caps, never wraps */
    l->n = sum > TESTAPP_N_MAX ? TESTAPP_N_MAX : (uint32_t)sum;
    return 0;
}

int testapp_line_set(struct testapp_state *s, uint32_t id, uint32_t n)
{
    struct testapp_line *l = line_find(s, id);

    if (n > TESTAPP_N_MAX)
        n = TESTAPP_N_MAX;
    if (l == NULL)
        return testapp_line_add(s, id, n);
    if (n == 0) {
        size_t i = (size_t)(l - s->line);
        memmove(l, l + 1, (s->nlines - i - 1) * sizeof *l);
        s->nlines--;
    } else {
        l->n = n;
    }
    return 0;
}

uint32_t testapp_line_total(const struct testapp_state *s)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < s->nlines; i++)
        n += s->line[i].n;
    return n;
}
