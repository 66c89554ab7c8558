/* fuzz_record.c -- libFuzzer target for the session record decoder.
 *
 * A store may hold bytes that were never ours (another build, a disk
 * error, a hand-edited file), so record_decode must turn any input into
 * either an error or a session whose every field is within bounds. The
 * format is canonical (record.c: fixed-width integers, exact lengths, a
 * zero reserved byte, strict field checks), so a record that decodes
 * re-encodes to exactly the same bytes: a decoder that accepts something
 * the encoder would never write is caught too. */
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

static void check_session(const struct session *s)
{
    CHECK(key_shaped(s->key, sizeof s->key, 0));
    CHECK(key_shaped(s->form_key, sizeof s->form_key, 0));
    CHECK(key_shaped(s->bind, sizeof s->bind, 1));
    CHECK(terminated(s->user, sizeof s->user));
    CHECK(strlen(s->user) <= NAV_USER_MAX);
    for (const char *p = s->user; *p; p++)
        CHECK((unsigned char)*p >= 0x20 && *p != 0x7F);
    CHECK(s->expires >= s->created);
    CHECK(s->ncart <= SESSION_CART_MAX);
    for (uint32_t i = 0; i < s->ncart; i++) {
        CHECK(s->cart[i].id >= 1 && s->cart[i].id <= INT32_MAX);
        CHECK(s->cart[i].qty >= 1 && s->cart[i].qty <= SESSION_QTY_MAX);
        for (uint32_t j = 0; j < i; j++)
            CHECK(s->cart[j].id != s->cart[i].id);
    }
    /* Not part of a record: a decoded session is clean and unversioned. */
    CHECK(s->version == 0 && s->dirty == 0);
}

/* A failed decode leaves nothing a careless caller could overrun or
 * mistake for a session: record.c clears the struct. */
static void check_cleared(const struct session *s)
{
    CHECK(s->key[0] == '\0' && s->bind[0] == '\0');
    CHECK(s->form_key[0] == '\0' && s->user[0] == '\0');
    CHECK(s->ncart == 0 && s->created == 0 && s->expires == 0);
}

/* Every strict prefix of a valid record ends inside a field, and one more
 * byte after it is trailing. Each prefix is copied into a buffer of its
 * own size, so ASan sees a read past the length the decoder was given. */
static void check_prefixes(const uint8_t *data, size_t size)
{
    struct session s;

    for (size_t cut = 0; cut < size; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        CHECK(p != NULL);
        memcpy(p, data, cut);
        CHECK(record_decode(p, cut, &s) == RECORD_ESHORT);
        check_cleared(&s);
        free(p);
    }
    uint8_t *more = malloc(size + 1);
    CHECK(more != NULL);
    memcpy(more, data, size);
    more[size] = data[size - 1];
    CHECK(record_decode(more, size + 1, &s) == RECORD_ETRAILING);
    check_cleared(&s);
    free(more);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char again[SESSION_RECORD_MAX];
    struct session s;
    enum record_err err;

    /* Garbage in the struct first: the decoder must not rely on it. */
    memset(&s, 0xA5, sizeof s);
    err = record_decode(data, size, &s);
    CHECK(record_strerror(err) != NULL && record_strerror(err)[0] != '\0');
    if (err != RECORD_OK) {
        CHECK(err >= RECORD_ESHORT && err <= RECORD_ETRAILING);
        check_cleared(&s);
        return 0;
    }
    check_session(&s);
    size_t n = record_encode(&s, again, sizeof again);
    CHECK(n == size && memcmp(again, data, size) == 0);
    check_prefixes(data, size);
    return 0;
}
