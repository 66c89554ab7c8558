/* fuzz_record.c -- libFuzzer target for the session record decoder.
 *
 * A store may hold bytes that were never ours (another build, a disk
 * error, a hand-edited file), so record_decode must turn any input into
 * either an error or a session whose every field is within bounds. The
 * format is canonical: a record that decodes re-encodes to exactly the
 * same bytes, so a decoder that accepts something the encoder would
 * never write is caught too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session/session.h"

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond))                                                        \
            abort();                                                        \
    } while (0)

static int key_shaped(const char *s, size_t min)
{
    size_t n = strnlen(s, NAV_KEY_LEN + 1);

    if (n > NAV_KEY_LEN || n < min || (n != 0 && n != NAV_KEY_LEN))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", s[i]))
            return 0;
    return 1;
}

static void check_session(const struct session *s)
{
    CHECK(key_shaped(s->key, NAV_KEY_LEN));
    CHECK(key_shaped(s->form_key, NAV_KEY_LEN));
    CHECK(key_shaped(s->bind, 0));
    CHECK(strnlen(s->user, NAV_USER_MAX + 1) <= NAV_USER_MAX);
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char again[SESSION_RECORD_MAX];
    struct session s;
    enum record_err err = record_decode(data, size, &s);

    if (err != RECORD_OK) {
        CHECK(err >= RECORD_ESHORT && err <= RECORD_ETRAILING);
        CHECK(record_strerror(err)[0] != '\0');
        return 0;
    }
    check_session(&s);
    size_t n = record_encode(&s, again, sizeof again);
    CHECK(n == size && memcmp(again, data, size) == 0);
    return 0;
}
