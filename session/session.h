/* session.h -- the session: a small bounded record that exists only once
 * a visitor's state became interesting, and the rules of its life. */
#ifndef NORI_SESSION_H
#define NORI_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "../nav/nav.h"

#define SESSION_CART_MAX 64       /* distinct items in one cart */
#define SESSION_QTY_MAX  99
#define SESSION_RECORD_MAX (64 * 1024)

struct cart_line {
    uint32_t id;
    uint32_t qty;                 /* 1..99 */
};

struct session {
    char key[NAV_KEY_LEN + 1];        /* _s / nori_s */
    char bind[NAV_KEY_LEN + 1];       /* nori_b browser binding, "" when off */
    char form_key[NAV_KEY_LEN + 1];   /* _k: every POST must carry it */
    char user[NAV_USER_MAX + 1];      /* "" until login */
    int64_t counter;
    uint64_t created;                 /* unix seconds */
    uint64_t expires;                 /* idle expiry, unix seconds */
    uint32_t ncart;
    struct cart_line cart[SESSION_CART_MAX];
    uint64_t version;                 /* as read from the store; 0: new */
    int dirty;                        /* written this request: commit it */
};

/* ---- record: the versioned binary form kept in a store ---- */

enum record_err {
    RECORD_OK = 0,
    RECORD_ESHORT,        /* ends inside a field */
    RECORD_EMAGIC,        /* not a nori session record */
    RECORD_EFORMAT,       /* a format number this build does not read */
    RECORD_EFIELD,        /* a field out of its bounds */
    RECORD_ETRAILING,     /* bytes after the last field */
};

/* Returns the encoded length, or 0 when it does not fit in cap. */
size_t record_encode(const struct session *s, unsigned char *buf, size_t cap);
/* Never trusts its input: any byte string gives RECORD_OK and a session
 * whose every field is within bounds, or an error. */
enum record_err record_decode(const unsigned char *buf, size_t len,
                              struct session *s);
const char *record_strerror(enum record_err err);

/* ---- keys ---- */

/* 128 bits from getrandom(2), unpadded base64url: NAV_KEY_LEN chars. */
int key_mint(char out[NAV_KEY_LEN + 1]);
/* Constant-time equality of two NUL-terminated secrets of up to
 * NAV_KEY_LEN chars; "" never equals anything. */
int key_equal(const char *a, const char *b);

/* ---- lifetime ---- */

struct session_policy {
    uint64_t ttl;                 /* idle TTL, seconds (NORI_SESSION_TTL) */
    uint64_t max_age;             /* absolute lifetime (NORI_SESSION_MAX_AGE) */
};

/* A fresh session: keys minted, created/expires set, dirty. bind says
 * whether to mint a browser-binding secret. 0, or -1 if getrandom fails. */
int session_init(struct session *s, const struct session_policy *p,
                 uint64_t now, int bind);
int session_live(const struct session *s, const struct session_policy *p,
                 uint64_t now);
/* Pushes the idle expiry out, but only once less than half the TTL is
 * left, so browsing costs a couple of commits per TTL, not one per page.
 * Never past created + max_age. Returns 1 when it changed (and set dirty). */
int session_touch(struct session *s, const struct session_policy *p,
                  uint64_t now);

/* Cart edits. qty is capped at SESSION_QTY_MAX; 0 in cart_set removes.
 * -1 when the cart has no room for another item. */
int cart_add(struct session *s, uint32_t id, uint32_t qty);
int cart_set(struct session *s, uint32_t id, uint32_t qty);
uint32_t cart_count(const struct session *s);

#endif
