/* session.c -- a session's lifetime. Pure arithmetic on the struct; the
 * store and the carriers are elsewhere, the state is the application's. */
#include <string.h>

#include "session.h"

void session_clear(struct session *s, const struct nori_state_codec *codec)
{
    void *state = s->state;

    memset(s, 0, sizeof *s);
    s->state = state;
    if (state && codec)
        memset(state, 0, codec->size);
}

int session_init(struct session *s, const struct nori_state_codec *codec,
                 const struct session_policy *p, uint64_t now, int bind)
{
    session_clear(s, codec);
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
