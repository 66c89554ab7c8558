/* record.c -- the binary form of a session in a store.
 *
 *   "NORS" | format u8 (1) | reserved u8 (0)
 *   key, bind, form_key, user: each a u8 length and its bytes
 *   created u64 | expires u64 | counter i64
 *   ncart u16 | ncart x (id u32, qty u8)
 *
 * Little-endian, no padding. The decoder is canonical and strict: any
 * field out of bounds rejects the whole record, because a store may hold
 * records written by an older build, or bytes that were never ours. */
#include <string.h>

#include "session.h"

#define RECORD_MAGIC "NORS"
#define RECORD_FORMAT 1

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

size_t record_encode(const struct session *s, unsigned char *buf, size_t cap)
{
    struct cursor c = {buf, NULL, cap, 0, 0};

    put_bytes(&c, RECORD_MAGIC, 4);
    put_uint(&c, RECORD_FORMAT, 1);
    put_uint(&c, 0, 1);
    put_str(&c, s->key);
    put_str(&c, s->bind);
    put_str(&c, s->form_key);
    put_str(&c, s->user);
    put_uint(&c, s->created, 8);
    put_uint(&c, s->expires, 8);
    put_uint(&c, (uint64_t)s->counter, 8);
    put_uint(&c, s->ncart, 2);
    for (uint32_t i = 0; i < s->ncart; i++) {
        put_uint(&c, s->cart[i].id, 4);
        put_uint(&c, s->cart[i].qty, 1);
    }
    return c.bad ? 0 : c.pos;
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

/* A string field: its length must be in [min, max]; every byte must pass
 * `ok`. Returns 0, or -1 when out of bounds (c->bad says "short"). */
static int get_str(struct cursor *c, char *dst, size_t min, size_t max,
                   int (*ok)(unsigned char))
{
    size_t n = (size_t)get_uint(c, 1);
    const unsigned char *b = get_bytes(c, n);

    if (b == NULL)
        return 0;
    if (n < min || n > max)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!ok(b[i]))
            return -1;
    memcpy(dst, b, n);
    dst[n] = '\0';
    return 0;
}

static int key_char(unsigned char b)
{
    return (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') ||
           (b >= '0' && b <= '9') || b == '-' || b == '_';
}

static int text_char(unsigned char b)
{
    return b >= 0x20 && b != 0x7F;
}

static int cart_valid(const struct session *s)
{
    for (uint32_t i = 0; i < s->ncart; i++) {
        const struct cart_line *l = &s->cart[i];
        if (l->id == 0 || l->id > INT32_MAX || l->qty == 0 ||
            l->qty > SESSION_QTY_MAX)
            return 0;
        for (uint32_t j = 0; j < i; j++)
            if (s->cart[j].id == l->id)
                return 0;
    }
    return 1;
}

enum record_err record_decode(const unsigned char *buf, size_t len,
                              struct session *s)
{
    struct cursor c = {NULL, buf, len, 0, 0};
    const unsigned char *magic;
    int bad = 0;

    memset(s, 0, sizeof *s);
    if ((magic = get_bytes(&c, 4)) == NULL)
        return RECORD_ESHORT;
    if (memcmp(magic, RECORD_MAGIC, 4) != 0)
        return RECORD_EMAGIC;
    if (get_uint(&c, 1) != RECORD_FORMAT || get_uint(&c, 1) != 0)
        return c.bad ? RECORD_ESHORT : RECORD_EFORMAT;
    bad |= get_str(&c, s->key, NAV_KEY_LEN, NAV_KEY_LEN, key_char);
    bad |= get_str(&c, s->bind, 0, NAV_KEY_LEN, key_char);
    bad |= get_str(&c, s->form_key, NAV_KEY_LEN, NAV_KEY_LEN, key_char);
    bad |= get_str(&c, s->user, 0, NAV_USER_MAX, text_char);
    s->created = get_uint(&c, 8);
    s->expires = get_uint(&c, 8);
    s->counter = (int64_t)get_uint(&c, 8);
    uint64_t ncart = get_uint(&c, 2);
    if (!c.bad && ncart > SESSION_CART_MAX)
        bad = 1;
    for (uint64_t i = 0; !bad && !c.bad && i < ncart; i++) {
        s->cart[i].id = (uint32_t)get_uint(&c, 4);
        s->cart[i].qty = (uint32_t)get_uint(&c, 1);
    }
    if (c.bad)
        goto short_record;
    s->ncart = (uint32_t)ncart;
    /* A bind is either off ("") or a whole key. */
    if (bad || (s->bind[0] && strlen(s->bind) != NAV_KEY_LEN) ||
        s->expires < s->created || !cart_valid(s)) {
        memset(s, 0, sizeof *s);
        return RECORD_EFIELD;
    }
    if (c.pos != len) {
        memset(s, 0, sizeof *s);
        return RECORD_ETRAILING;
    }
    return RECORD_OK;
short_record:
    memset(s, 0, sizeof *s);
    return RECORD_ESHORT;
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
    }
    return "bad record";
}
