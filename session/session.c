/* session.c -- a session's lifetime and its cart. Pure arithmetic on the
 * struct; the store and the carriers are elsewhere. */
#include <string.h>

#include "session.h"

int session_init(struct session *s, const struct session_policy *p,
                 uint64_t now, int bind)
{
    memset(s, 0, sizeof *s);
    if (key_mint(s->key) < 0 || key_mint(s->form_key) < 0 ||
        (bind && key_mint(s->bind) < 0))
        return -1;
    s->created = now;
    s->expires = now + p->ttl;
    if (s->expires > now + p->max_age)
        s->expires = now + p->max_age;
    s->dirty = 1;
    return 0;
}

int session_live(const struct session *s, const struct session_policy *p,
                 uint64_t now)
{
    return now < s->expires && now < s->created + p->max_age;
}

int session_touch(struct session *s, const struct session_policy *p,
                  uint64_t now)
{
    uint64_t want, end = s->created + p->max_age;

    if (!session_live(s, p, now) || 2 * (s->expires - now) >= p->ttl)
        return 0;
    want = now + p->ttl;
    if (want > end)
        want = end;
    if (want <= s->expires)
        return 0;
    s->expires = want;
    s->dirty = 1;
    return 1;
}

static struct cart_line *cart_find(struct session *s, uint32_t id)
{
    for (uint32_t i = 0; i < s->ncart; i++)
        if (s->cart[i].id == id)
            return &s->cart[i];
    return NULL;
}

int cart_add(struct session *s, uint32_t id, uint32_t qty)
{
    struct cart_line *l = cart_find(s, id);

    if (qty == 0)
        return 0;
    if (l == NULL) {
        if (s->ncart == SESSION_CART_MAX)
            return -1;
        l = &s->cart[s->ncart++];
        l->id = id;
        l->qty = 0;
    }
    /* Summed in 64 bits: a huge qty must cap, not wrap to a small one. */
    uint64_t sum = (uint64_t)l->qty + qty;
    l->qty = sum > SESSION_QTY_MAX ? SESSION_QTY_MAX : (uint32_t)sum;
    s->dirty = 1;
    return 0;
}

int cart_set(struct session *s, uint32_t id, uint32_t qty)
{
    struct cart_line *l = cart_find(s, id);

    if (qty > SESSION_QTY_MAX)
        qty = SESSION_QTY_MAX;
    if (l == NULL)
        return cart_add(s, id, qty);
    if (qty == 0) {
        size_t i = (size_t)(l - s->cart);
        memmove(l, l + 1, (s->ncart - i - 1) * sizeof *l);
        s->ncart--;
    } else {
        l->qty = qty;
    }
    s->dirty = 1;
    return 0;
}

uint32_t cart_count(const struct session *s)
{
    uint32_t n = 0;

    for (uint32_t i = 0; i < s->ncart; i++)
        n += s->cart[i].qty;
    return n;
}
