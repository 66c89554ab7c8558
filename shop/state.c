/* state.c -- the shop's session state: Seaside's counter and a cart, and
 * their bytes in a session record (version 1):
 *
 *   counter i64 | ncart u16 | ncart x (id u32, qty u8)
 *
 * Little-endian, no padding: the same bytes the records of older builds
 * ended with, so their carts still decode. The decoder is strict: a
 * line out of bounds, an item twice or a byte too many rejects the
 * whole state, and nori then treats the record as absent. */
#include <string.h>

#include "shop.h"

#define STATE_VERSION 1

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
    const struct shop_state *s = state;
    size_t need = 8 + 2 + (size_t)s->ncart * 5;

    if (need > cap || s->ncart > SHOP_CART_MAX)
        return -1;
    put_le(buf, (uint64_t)s->counter, 8);
    put_le(buf + 8, s->ncart, 2);
    for (uint32_t i = 0; i < s->ncart; i++) {
        put_le(buf + 10 + 5 * i, s->cart[i].id, 4);
        put_le(buf + 14 + 5 * i, s->cart[i].qty, 1);
    }
    *len = need;
    return 0;
}

static int line_valid(const struct shop_state *s, uint32_t i)
{
    const struct cart_line *l = &s->cart[i];

    if (l->id == 0 || l->id > INT32_MAX || l->qty == 0 || l->qty > SHOP_QTY_MAX)
        return 0;
    for (uint32_t j = 0; j < i; j++)
        if (s->cart[j].id == l->id)
            return 0;
    return 1;
}

static int state_decode(void *state, unsigned version, const unsigned char *buf,
                        size_t len)
{
    struct shop_state *s = state;
    uint64_t n;

    if (version != STATE_VERSION || len < 10)
        return -1;
    n = get_le(buf + 8, 2);
    if (n > SHOP_CART_MAX || len != 10 + 5 * n)
        return -1;
    s->counter = (int64_t)get_le(buf, 8);
    s->ncart = (uint32_t)n;
    for (uint32_t i = 0; i < s->ncart; i++) {
        s->cart[i].id = (uint32_t)get_le(buf + 10 + 5 * i, 4);
        s->cart[i].qty = (uint32_t)get_le(buf + 14 + 5 * i, 1);
        if (!line_valid(s, i))
            return -1;
    }
    return 0;
}

const struct nori_state_codec shop_state_codec = {
    sizeof(struct shop_state), STATE_VERSION, state_encode, state_decode,
};

static struct cart_line *cart_find(struct shop_state *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->ncart; i++)
        if (s->cart[i].id == id)
            return &s->cart[i];
    return NULL;
}

int cart_add(struct shop_state *s, uint32_t id, uint32_t qty)
{
    struct cart_line *l = cart_find(s, id);

    if (qty == 0)
        return 0;
    if (l == NULL) {
        if (s->ncart == SHOP_CART_MAX)
            return -1;
        l = &s->cart[s->ncart++];
        l->id = id;
        l->qty = 0;
    }
    /* Summed in 64 bits: a huge qty must cap, not wrap to a small one. */
    uint64_t sum = (uint64_t)l->qty + qty;
    l->qty = sum > SHOP_QTY_MAX ? SHOP_QTY_MAX : (uint32_t)sum;
    return 0;
}

int cart_set(struct shop_state *s, uint32_t id, uint32_t qty)
{
    struct cart_line *l = cart_find(s, id);

    if (qty > SHOP_QTY_MAX)
        qty = SHOP_QTY_MAX;
    if (l == NULL)
        return cart_add(s, id, qty);
    if (qty == 0) {
        size_t i = (size_t)(l - s->cart);
        memmove(l, l + 1, (s->ncart - i - 1) * sizeof *l);
        s->ncart--;
    } else {
        l->qty = qty;
    }
    return 0;
}

uint32_t cart_count(const struct shop_state *s)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < s->ncart; i++)
        n += s->cart[i].qty;
    return n;
}
