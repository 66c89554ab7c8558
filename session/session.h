/* session.h -- the session: a small bounded record that exists only once
 * a visitor's state became interesting, and the rules of its life. */
#ifndef NORI_SESSION_H
#define NORI_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "../nav/nav.h"

#define SESSION_RECORD_MAX (64 * 1024)

/* nori's header of a session, and the application's state beside it: an
 * opaque struct of codec->size bytes that only the application's codec
 * (nori.h) reads and writes. */
struct session {
    char key[NAV_KEY_LEN + 1];        /* _s / nori_s */
    char bind[NAV_KEY_LEN + 1];       /* nori_b browser binding, "" when off */
    char form_key[NAV_KEY_LEN + 1];   /* _k: every POST must carry it */
    char user[NORI_USER_MAX + 1];     /* "" until login */
    uint64_t created;                 /* unix seconds */
    uint64_t expires;                 /* idle expiry, unix seconds */
    uint64_t version;                 /* as read from the store; 0: new */
    int dirty;                        /* written this request: commit it */
    void *state;                      /* the caller's buffer, codec->size */
};

/* Clears the header and the state (which stays where it is). */
void session_clear(struct session *s, const struct nori_state_codec *codec);

/* ---- record: the versioned binary form kept in a store ---- */

enum record_err {
    RECORD_OK = 0,
    RECORD_ESHORT,        /* ends inside a field */
    RECORD_EMAGIC,        /* not a nori session record */
    RECORD_EFORMAT,       /* a format number this build does not read */
    RECORD_EFIELD,        /* a field out of its bounds */
    RECORD_ETRAILING,     /* bytes after the last field */
    RECORD_ESTATE,        /* the application's codec refused the state */
};

/* Returns the encoded length, or 0 when it does not fit in cap or the
 * codec refuses. */
size_t record_encode(const struct session *s, const struct nori_state_codec *codec,
                     unsigned char *buf, size_t cap);
/* Never trusts its input: any byte string gives RECORD_OK and a session
 * whose every field is within bounds (the state as the codec decoded
 * it), or an error and a cleared session. s->state must point to
 * codec->size bytes. */
enum record_err record_decode(const unsigned char *buf, size_t len,
                              const struct nori_state_codec *codec,
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

/* A fresh session: keys minted, created/expires set, the state zeroes,
 * dirty. bind says
 * whether to mint a browser-binding secret. 0, or -1 if getrandom fails. */
int session_init(struct session *s, const struct nori_state_codec *codec,
                 const struct session_policy *p, uint64_t now, int bind);
int session_live(const struct session *s, const struct session_policy *p,
                 uint64_t now);
/* Pushes the idle expiry out, but only once less than half the TTL is
 * left, so browsing costs a couple of commits per TTL, not one per page.
 * Never past created + max_age. Returns 1 when it changed (and set dirty). */
int session_touch(struct session *s, const struct session_policy *p,
                  uint64_t now);

#endif
