/* visit.h -- one request's meeting with its session: which key the
 * request carries, whether it names a live session, the change the
 * application makes, and the single commit that makes it durable.
 *
 * A request that carries no key never reaches the store. An application
 * changes state only inside visit_run, in a function that may be called
 * again on fresh state when another worker committed in between. */
#ifndef NORI_VISIT_H
#define NORI_VISIT_H

#include <stdint.h>

#include "../fcgi/http.h"
#include "session.h"
#include "store.h"
#include "sweeper.h"

enum carrier { CARRIER_URL, CARRIER_COOKIE };
enum policy { POLICY_LAZY, POLICY_EAGER };

#define COOKIE_SESSION "nori_s"     /* the key, with the cookie carrier */
#define COOKIE_BIND    "nori_b"     /* browser binding, with the url carrier */
/* With Secure and Path=/, the names carry the __Host- prefix: a browser
 * then takes such a cookie only from this very host over HTTPS, so a
 * sibling subdomain or a plain-HTTP answer cannot plant one. */
#define COOKIE_HOST_PREFIX "__Host-"   /* prefix */

/* A process's sessions: the rules it follows, and the store it opens at
 * the first request that carries a key (never before: a browsing visitor's
 * worker, or a one-shot CGI run, touches no store at all). */
struct sessions {
    const char *store_spec;
    struct store_options store_opt;
    uint64_t gc_interval_ms;    /* background sweep period */
    unsigned gc_batch;          /* records per background sweep */
    struct store *store;        /* NULL until first needed */
    struct sweeper *sweeper;
    struct session_policy life;
    enum policy policy;
    enum carrier carrier;
    int bind;                   /* url carrier: require the nori_b cookie */
    const char *cookie_path;    /* "" means the mount prefix */
    int cookie_secure;          /* Secure always, not only over HTTPS */
    const char *route;          /* NORI_ROUTE: keys travel as KEY.ROUTE; "" none */
    const struct nori_state_codec *codec;   /* the application's state */
    struct stats *stats;        /* where commits are counted; NULL: nowhere */
    /* NORI_NEW_SESSIONS_PER_MIN: sessions one client address may create
     * a minute (a token bucket in the shared table; 0 or no table: no cap). */
    struct nori_limits *limits;
    unsigned new_per_min;
};

enum visit_err {
    VISIT_OK = 0,
    VISIT_ESTORE,               /* the store failed: 503 */
    VISIT_EBUSY,                /* conflicts every time we tried: 503 */
    VISIT_ERANDOM,              /* getrandom failed: 503 */
    VISIT_EFULL,                /* the store is full, expired records gone: 503 */
    VISIT_ENOMEM,               /* the request's arena is exhausted: 503 */
    VISIT_ETHROTTLED,           /* this address made its sessions for now: 429 */
};

struct visit {
    struct sessions *ss;
    const struct request *req;
    char given[NAV_KEY_LEN + 1];    /* the key the request carried, "" none */
    char carried[NAV_SKEY_MAX + 1]; /* s.key as links and cookies carry it */
    char bind[NAV_KEY_LEN + 1];     /* its nori_b cookie, "" none */
    struct session s;
    int live;                   /* s is a session: found, or made here */
    int fresh;                  /* made by this request, not yet stored */
    int rotated;                /* login: s moves to a fresh key */
    int ended;                  /* logout: the record goes */
    int committed;              /* this request wrote to the store */
    int set_bind;               /* send a new nori_b cookie */
    uint64_t version;           /* of the record read; 0: none */
    char old_key[NAV_KEY_LEN + 1];
    unsigned retry_after;       /* VISIT_ETHROTTLED: seconds until allowed */
    /* visit_begin's copy of a live session, for visit_rollback. */
    int begun;
    int rolled_back;            /* nothing fn changed is kept, or committed */
    struct session saved;
    char saved_carried[NAV_SKEY_MAX + 1];
    void *saved_state;          /* from the request's arena, at visit_begin */
};

/* What the application does to a session. Called once, or again after a
 * conflict on the state another worker committed: it must not have side
 * effects outside the visit. Returns the HTTP status to answer; a status
 * of 400 or more, or a visit_rollback, discards whatever it changed. */
typedef int (*visit_fn)(struct visit *v, void *arg);

/* Resolves the key the request carries (s_param: the `_s` of the URL or
 * form, used with the url carrier) and runs fn on it, committing once if
 * fn left the session dirty. *status is fn's answer. */
enum visit_err visit_run(struct visit *v, struct sessions *ss,
                         const struct request *req, const char *s_param,
                         uint64_t now, visit_fn fn, void *arg, int *status);

/* Inside fn: the first write makes a session (lazy creation). */
enum visit_err visit_ensure(struct visit *v, uint64_t now);
/* Inside fn: login moves the session to a fresh key and form key; the
 * old key dies in the same commit. */
enum visit_err visit_rotate(struct visit *v);
/* Inside fn: logout; the record is deleted. */
void visit_end(struct visit *v);
/* Inside fn: the first write makes a session (visit_ensure) and marks it
 * to commit; the state to write, or NULL when no session could be made. */
void *visit_state_write(struct visit *v, uint64_t now);
/* Inside fn: login, on a session visit_state_write made writable: the
 * session moves to a fresh key (visit_rotate) and names user (at most
 * NORI_USER_MAX bytes, which the caller checks). */
enum visit_err visit_login(struct visit *v, const char *user);

/* The transaction of a function that may be refused after it wrote (an
 * application's action): visit_begin, inside fn before anything
 * changes, keeps a copy of the live session; visit_rollback puts it back
 * (a refused login minted a key: links must carry the stored one) and
 * has visit_run keep and commit nothing, whatever fn answers. Without
 * them, an answer of 400 or more drops what fn changed but leaves it in
 * v->s. visit_begin fails only when the request's arena is spent. */
enum visit_err visit_begin(struct visit *v);
void visit_rollback(struct visit *v);

/* Whether a POST may act: on a live session only with its form key. */
int visit_form_ok(const struct visit *v, const char *k);
/* The key links and forms must carry, or NULL (sessionless, or the
 * cookie carrier). */
const char *visit_link_key(const struct visit *v);
/* Set-Cookie headers this answer needs (after visit_run). */
void visit_cookies(const struct visit *v, struct response *resp);
/* The name of cookie base (COOKIE_SESSION, COOKIE_BIND) for this
 * request: with the __Host- prefix when its cookies are Secure (HTTPS=on
 * or cookie_secure) and their path is "/". */
const char *visit_cookie_name(const struct sessions *ss, const struct request *req,
                              const char *base);
/* Whether the carrier's cookies vary the answer to this URL: a page
 * another client may cache must then say Vary: Cookie. */
int visit_cookie_carried(const struct sessions *ss);
/* Whether the request carried any session key at all. */
int visit_has_key(const struct sessions *ss, const struct request *req,
                  const char *s_param);

const char *visit_strerror(enum visit_err err);

/* The store, opened on first use in this process; NULL when it cannot be
 * (logged). sessions_close stops the sweeper and closes the store. */
struct store *sessions_store(struct sessions *ss, const struct request *req);
void sessions_close(struct sessions *ss);

#endif
