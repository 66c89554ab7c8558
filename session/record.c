/* record.c -- the binary form of a session in a store.
 *
 *   "NORS" | format u8 (2) | reserved u8 (0)
 *   key, bind, form_key, user: each a u8 length and its bytes
 *   created u64 | expires u64
 *   state version u8 | state length u16 | the application's state bytes
 *
 * Little-endian, no padding. nori reads the header; the state is the
 * application's blob, read by its codec (nori.h) with the version it was
 * written with. The decoder is strict: any field out of bounds rejects
 * the whole record, because a store may hold records written by an older
 * build, or bytes that were never ours.
 *
 * Format 1, written before the state was the application's, ended with
 * the demo application's state in place of the state version and
 * length: it is read as state version 1 whose blob runs to the end, so
 * sessions committed by an older build survive the upgrade. */
#include <string.h>

#include "session.h"

#define RECORD_MAGIC "NORS"
#define RECORD_FORMAT 2
#define RECORD_FORMAT_STATELESS 1   /* the blob runs to the end, version 1 */

struct cursor {
    unsigned char *p;           /* NULL while decoding */
    const unsigned char *in;
    size_t len, pos;
    int bad;
};

static void put_bytes(struct cursor *c, const void *b, size_t n)
{
    if (c->bad || c->len - c->pos < n) {
        c->bad = 1;
        return;
    }
    memcpy(c->p + c->pos, b, n);
    c->pos += n;
}

static void put_uint(struct cursor *c, uint64_t v, size_t n)
{
    unsigned char b[8];

    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    put_bytes(c, b, n);
}

static void put_str(struct cursor *c, const char *s)
{
    size_t n = strlen(s);

    put_uint(c, n, 1);
    put_bytes(c, s, n);
}

size_t record_encode(const struct session *s, const struct nori_state_codec *codec,
                     unsigned char *buf, size_t cap)
{
    struct cursor c = {buf, NULL, cap, 0, 0};
    size_t state_at, state_len = 0;

    put_bytes(&c, RECORD_MAGIC, 4);
    put_uint(&c, RECORD_FORMAT, 1);
    put_uint(&c, 0, 1);
    put_str(&c, s->key);
    put_str(&c, s->bind);
    put_str(&c, s->form_key);
    put_str(&c, s->user);
    put_uint(&c, s->created, 8);
    put_uint(&c, s->expires, 8);
    put_uint(&c, codec->version, 1);
    put_uint(&c, 0, 2);         /* the length, once known */
    if (c.bad)
        return 0;
    state_at = c.pos;
    /* No encode: nori's default codec, the struct's bytes as they are. */
    if (codec->encode == NULL && codec->size <= cap - state_at) {
        memcpy(buf + state_at, s->state, codec->size);
        state_len = codec->size;
    } else if (codec->encode == NULL ||
               codec->encode(s->state, buf + state_at, cap - state_at, &state_len) < 0 ||
               state_len > NORI_STATE_MAX || state_len > cap - state_at) {
        return 0;
    }
    buf[state_at - 2] = (unsigned char)state_len;
    buf[state_at - 1] = (unsigned char)(state_len >> 8);
    return state_at + state_len;
}

static const unsigned char *get_bytes(struct cursor *c, size_t n)
{
    if (c->bad || c->len - c->pos < n) {
        c->bad = 1;
        return NULL;
    }
    c->pos += n;
    return c->in + c->pos - n;
}

static uint64_t get_uint(struct cursor *c, size_t n)
{
    const unsigned char *b = get_bytes(c, n);
    uint64_t v = 0;

    for (size_t i = 0; b && i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* A string field: its length must be in [min, max] and its bytes pass
 * `ok`. Returns 0, or -1 when out of bounds (c->bad says "short"). */
static int get_str(struct cursor *c, char *dst, size_t min, size_t max,
                   int (*ok)(const char *s, size_t n))
{
    size_t n = (size_t)get_uint(c, 1);
    const unsigned char *b = get_bytes(c, n);

    if (b == NULL)
        return 0;
    if (n < min || n > max)
        return -1;
    if (n && !ok((const char *)b, n))
        return -1;
    memcpy(dst, b, n);
    dst[n] = '\0';
    return 0;
}

static int text_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
            return 0;
    return 1;
}

enum record_err record_decode(const unsigned char *buf, size_t len,
                              const struct nori_state_codec *codec,
                              struct session *s)
{
    struct cursor c = {NULL, buf, len, 0, 0};
    const unsigned char *magic, *state;
    unsigned format, version = 1;
    size_t state_len;
    int bad = 0;

    session_clear(s, codec);
    if ((magic = get_bytes(&c, 4)) == NULL)
        return RECORD_ESHORT;
    if (memcmp(magic, RECORD_MAGIC, 4) != 0)
        return RECORD_EMAGIC;
    format = (unsigned)get_uint(&c, 1);
    if ((format != RECORD_FORMAT && format != RECORD_FORMAT_STATELESS) ||
        get_uint(&c, 1) != 0)
        return c.bad ? RECORD_ESHORT : RECORD_EFORMAT;
    bad |= get_str(&c, s->key, NAV_KEY_LEN, NAV_KEY_LEN, nav_word);
    bad |= get_str(&c, s->bind, 0, NAV_KEY_LEN, nav_word);
    bad |= get_str(&c, s->form_key, NAV_KEY_LEN, NAV_KEY_LEN, nav_word);
    bad |= get_str(&c, s->user, 0, NORI_USER_MAX, text_chars);
    s->created = get_uint(&c, 8);
    s->expires = get_uint(&c, 8);
    if (format == RECORD_FORMAT) {
        version = (unsigned)get_uint(&c, 1);
        state_len = (size_t)get_uint(&c, 2);
    } else {
        state_len = c.bad ? 0 : len - c.pos;
    }
    state = get_bytes(&c, state_len);
    if (c.bad) {
        session_clear(s, codec);
        return RECORD_ESHORT;
    }
    /* A bind is either off ("") or a whole key. */
    if (bad || (s->bind[0] && strlen(s->bind) != NAV_KEY_LEN) ||
        s->expires < s->created) {
        session_clear(s, codec);
        return RECORD_EFIELD;
    }
    if (c.pos != len) {
        session_clear(s, codec);
        return RECORD_ETRAILING;
    }
    /* The default codec takes only its own bytes back: the struct's
     * length, written with the struct's version. */
    if (version == 0 ||
        (codec->decode == NULL && (version != codec->version || state_len != codec->size)) ||
        (codec->decode && codec->decode(s->state, version, state, state_len) < 0)) {
        session_clear(s, codec);
        return RECORD_ESTATE;
    }
    if (codec->decode == NULL)
        memcpy(s->state, state, state_len);
    return RECORD_OK;
}

const char *record_strerror(enum record_err err)
{
    switch (err) {
    case RECORD_OK: return "ok";
    case RECORD_ESHORT: return "record ends inside a field";
    case RECORD_EMAGIC: return "not a nori session record";
    case RECORD_EFORMAT: return "unknown record format";
    case RECORD_EFIELD: return "a field is out of bounds";
    case RECORD_ETRAILING: return "bytes after the last field";
    case RECORD_ESTATE: return "the application refused the state";
    }
    return "bad record";
}
