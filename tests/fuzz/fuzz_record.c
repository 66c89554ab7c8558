/* fuzz_record.c -- libFuzzer target for the session record decoder.
 *
 * A store may hold bytes that were never ours (another build, a disk
 * error, a hand-edited file), so record_decode must turn any input into
 * either an error or a session whose every field is within bounds. The
 * format is canonical (record.c: fixed-width integers, exact lengths, a
 * zero reserved byte, strict field checks), so a record that decodes
 * re-encodes to exactly the same bytes: a decoder that accepts something
 * the encoder would never write is caught too. The state is the tests'
 * application's (tests/unit/testapp.c), decoded by its codec: the same
 * layout the shop's state has, so the seeds' carts are its lines.
 * Format 1, written by older builds, is still read: it re-encodes as
 * format 2 of the same session. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session/session.h"
#include "fuzz_check.h"

#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* A NUL-terminated base64url key inside its buffer: exactly NAV_KEY_LEN
 * characters, or empty where empty is allowed (the bind). */
static int key_shaped(const char *s, size_t cap, int may_be_empty)
{
    if (!terminated(s, cap))
        return 0;
    size_t n = strlen(s);
    if (n == 0)
        return may_be_empty;
    return n == NAV_KEY_LEN && strspn(s, B64URL) == n;
}

static void check_session(const struct session *s, const struct testapp_state *st)
{
    CHECK(s->state == st);
    CHECK(key_shaped(s->key, sizeof s->key, 0));
    CHECK(key_shaped(s->form_key, sizeof s->form_key, 0));
    CHECK(key_shaped(s->bind, sizeof s->bind, 1));
    CHECK(terminated(s->user, sizeof s->user));
    CHECK(strlen(s->user) <= NORI_USER_MAX);
    for (const char *p = s->user; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && *p != 0x7F);
    CHECK(s->expires >= s->created);
    /* The application's state, as its codec promises it. */
    CHECK(st->nlines <= TESTAPP_LINES_MAX);
    for (uint32_t i = 0; i < st->nlines; i++) {
        CHECK(st->line[i].id >= 1 && st->line[i].id <= INT32_MAX);
        CHECK(st->line[i].n >= 1 && st->line[i].n <= TESTAPP_N_MAX);
        for (uint32_t j = 0; j < i; j++)
            CHECK(st->line[j].id != st->line[i].id);
    }
    /* Not part of a record: a decoded session is clean and unversioned. */
    CHECK(s->version == 0 && s->dirty == 0);
}

/* A failed decode leaves nothing a careless caller could overrun or
 * mistake for a session: record.c clears the header and the state. */
static void check_cleared(const struct session *s, const struct testapp_state *st)
{
    static const struct testapp_state zero;

    CHECK(s->state == st);
    CHECK(s->key[0] == '\0' && s->bind[0] == '\0');
    CHECK(s->form_key[0] == '\0' && s->user[0] == '\0');
    CHECK(s->created == 0 && s->expires == 0);
    CHECK(memcmp(st, &zero, sizeof zero) == 0);
}

static enum record_err decode(const uint8_t *p, size_t n, struct session *s,
                              struct testapp_state *st)
{
    /* Garbage in the structs first: the decoder must not rely on it. */
    memset(s, 0xA5, sizeof *s);
    memset(st, 0xA5, sizeof *st);
    s->state = st;
    return record_decode(p, n, &testapp_state_codec, s);
}

/* Every strict prefix of a valid format-2 record ends inside a field, and
 * one more byte after it is trailing. A format-1 record's state runs to
 * the end, so its prefixes and a byte more are refused, short or by the
 * codec. Each prefix is copied into a buffer of its own size, so ASan
 * sees a read past the length the decoder was given. */
static void check_prefixes(const uint8_t *data, size_t size, int format1)
{
    struct session s;
    struct testapp_state st;
    enum record_err err;

    for (size_t cut = 0; cut < size; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        CHECK(p != NULL);
        memcpy(p, data, cut);
        err = decode(p, cut, &s, &st);
        CHECK(format1 ? err == RECORD_ESHORT || err == RECORD_ESTATE
                      : err == RECORD_ESHORT);
        check_cleared(&s, &st);
        free(p);
    }
    uint8_t *more = malloc(size + 1);
    CHECK(more != NULL);
    memcpy(more, data, size);
    more[size] = data[size - 1];
    err = decode(more, size + 1, &s, &st);
    CHECK(err == (format1 ? RECORD_ESTATE : RECORD_ETRAILING));
    check_cleared(&s, &st);
    free(more);
}

/* nori's default codec (encode and decode NULL: the struct's bytes) on
 * the same input: it takes only a state of its size and version, and
 * what it takes re-encodes to the same bytes. */
static void check_default_codec(const uint8_t *data, size_t size)
{
    static const struct nori_state_codec raw = {12, 1, NULL, NULL};
    static unsigned char again[SESSION_RECORD_MAX];
    unsigned char state[12];
    struct session s;
    enum record_err err;

    memset(&s, 0xA5, sizeof s);
    memset(state, 0xA5, sizeof state);
    s.state = state;
    err = record_decode(data, size, &raw, &s);
    if (err != RECORD_OK) {
        static const unsigned char zero[12];
        CHECK(s.key[0] == '\0' && memcmp(state, zero, sizeof zero) == 0);
        return;
    }
    CHECK(data[4] != 1 || size >= sizeof state);
    if (data[4] == 1)
        return;     /* format 1 re-encodes as 2: the shop's pass checks that */
    CHECK(record_encode(&s, &raw, again, sizeof again) == size);
    CHECK(memcmp(again, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char again[SESSION_RECORD_MAX];
    struct session s;
    struct testapp_state st;
    enum record_err err;

    check_default_codec(data, size);
    err = decode(data, size, &s, &st);
    CHECK(record_strerror(err) != NULL && record_strerror(err)[0] != '\0');
    if (err != RECORD_OK) {
        CHECK(err >= RECORD_ESHORT && err <= RECORD_ESTATE);
        check_cleared(&s, &st);
        return 0;
    }
    check_session(&s, &st);
    size_t n = record_encode(&s, &testapp_state_codec, again, sizeof again);
    if (data[4] == 1) {
        /* Format 1 is read, never written: its re-encoding is format 2,
         * the same bytes with the format changed and the state's version
         * (1) and length put before the state, which ran to the end. */
        size_t state_len = 10 + 5 * (size_t)st.nlines;
        CHECK(size >= state_len + 6);
        size_t head = size - state_len;
        CHECK(n == size + 3);
        CHECK(memcmp(again, data, 4) == 0 && again[4] == 2);
        CHECK(memcmp(again + 5, data + 5, head - 5) == 0);
        CHECK(again[head] == 1 && again[head + 1] == (state_len & 0xFF) &&
              again[head + 2] == (state_len >> 8));
        CHECK(memcmp(again + head + 3, data + head, state_len) == 0);
        check_prefixes(data, size, 1);
        return 0;
    }
    CHECK(n == size && memcmp(again, data, size) == 0);
    check_prefixes(data, size, 0);
    return 0;
}
