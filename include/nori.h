/* nori.h -- the one header an application includes.
 *
 * An application hands nori its query and form fields (each a name, a
 * validator kind and the slot of its own struct it fills), its pages
 * (name -> render), its action function, its session state (an opaque,
 * versioned blob it encodes and decodes), its error page, the principal
 * the authorizer answers with, its load hook and what its ETag depends
 * on: struct nori_app below. nori_main() does the rest: settings, the
 * worker loop or `nori serve`, parsing by the application's tables,
 * routing, canonical URLs, the lazy session rule and the commit, cache
 * validators, security headers, Post/Redirect/Get, the authorizer role
 * and the status endpoint.
 *
 * Everything a request allocates comes from its arena (nori_alloc) and
 * dies with it. Nothing here is thread-safe: a worker serves one request
 * at a time.
 *
 * Build an application against the installed library with
 *     cc app.c $(pkg-config --cflags --libs nori)
 */
#ifndef NORI_H
#define NORI_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define NORI_KEY_LEN   22       /* a minted key: 128 bits, unpadded base64url */
#define NORI_USER_MAX  64       /* the logged-in principal's name, in bytes */
#define NORI_TEXT_MAX  255      /* the longest text field a grammar may have */
#define NORI_FIELDS_MAX 24      /* fields in one grammar */
#define NORI_STATE_MAX (60 * 1024)  /* encoded state: records are bounded */

/* ---- the URL grammar ---------------------------------------------------
 *
 * Besides the fields nori owns (pg, the page name; _s, the session key;
 * _k, the form key; act, the action of a form), an application names its
 * own, in the order canonical URLs give them. Each fills one slot of the
 * application's struct, at `offset`:
 *
 *   NORI_UINT  a uint32_t: a plain decimal (no sign, blanks or leading
 *              zeros) in [min, max]; `absent` when not given, and a link
 *              whose slot holds `absent` leaves the field out
 *   NORI_TEXT  a char[max + 1]: valid UTF-8 of min..max bytes without
 *              control characters, NUL-terminated; "" when not given
 *
 * A known field given twice, malformed encoding, %00, invalid UTF-8 or
 * a value out of its bounds answers 400 before the application runs.
 * Unknown fields are checked for well-formed encoding and ignored. */
enum nori_kind { NORI_UINT, NORI_TEXT };

struct nori_field {
    const char *name;
    enum nori_kind kind;
    size_t offset;
    uint32_t min, max;
    uint32_t absent;            /* NORI_UINT only */
};

/* The slot's size is checked at compile time: a TEXT slot that cannot
 * hold max bytes and the NUL, or a UINT slot that is not 4 bytes, is an
 * error (a negative array size). */
#define NORI_SLOT_(type, member, ok) \
    (offsetof(type, member) + 0 * sizeof(char[(ok) ? 1 : -1]))
#define NORI_FIELD_UINT(type, member, name, min, max, absent)              \
    {name, NORI_UINT,                                                      \
     NORI_SLOT_(type, member, sizeof(((type *)0)->member) == 4), min, max, \
     absent}
#define NORI_FIELD_TEXT(type, member, name, min, max)                      \
    {name, NORI_TEXT,                                                      \
     NORI_SLOT_(type, member, sizeof(((type *)0)->member) > (max) &&       \
                (max) <= NORI_TEXT_MAX), min, max, 0}

struct nori_grammar {
    const struct nori_field *fields;
    size_t nfields;             /* at most NORI_FIELDS_MAX */
    size_t size;                /* sizeof the application's struct */
};

/* A navigation URL: a page and the application's query struct (NULL:
 * no fields). nori builds it canonical: pg first, the fields in grammar
 * order, _s last when a session is live and travels in URLs. */
struct nori_link {
    const char *pg;
    const void *query;
};

/* ---- the response ------------------------------------------------------
 *
 * Pages write into a buffer that is sent once, after them. Out of memory
 * anywhere turns the answer into a 503; nothing needs checking here. */
struct response;

void nori_response_write(struct response *r, const char *s, size_t n);
void nori_response_puts(struct response *r, const char *s);
void nori_response_uint(struct response *r, uint64_t n);   /* decimal */
#if defined(__GNUC__)
/* A literal's length is known at compile time: no strlen for it. The
 * function is still there, (nori_response_puts)(r, s), for taking its address. */
#include <string.h>
#define nori_response_puts(r, s)                                                 \
    (__builtin_constant_p(s) ? nori_response_write((r), (s), strlen(s))          \
                             : (nori_response_puts)((r), (s)))
#endif
void nori_response_printf(struct response *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The body's length so far, and its bytes from `from` on (NULL after a
 * failure): what a page needs to keep a piece it rendered for reuse. */
size_t nori_response_length(const struct response *r);
const char *nori_response_since(const struct response *r, size_t from);
/* The same, for a caller that holds a va_list (the old name's wrapper). */
void nori_response_vprintf(struct response *r, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The names before the library's symbols all took the nori_ prefix:
 * they compile and behave as before for this release, with a warning.
 * The library itself exports only nori_ names (docs/design.md). */
__attribute__((deprecated("use nori_response_write")))
static inline void response_write(struct response *r, const char *s, size_t n)
{
    nori_response_write(r, s, n);
}
__attribute__((deprecated("use nori_response_puts")))
static inline void (response_puts)(struct response *r, const char *s)
{
    (nori_response_puts)(r, s);
}
#if defined(__GNUC__)
#define response_puts(r, s)                                                 \
    (__builtin_constant_p(s) ? response_write((r), (s), strlen(s))          \
                             : (response_puts)((r), (s)))
#endif
__attribute__((deprecated("use nori_response_uint")))
static inline void response_uint(struct response *r, uint64_t n)
{
    nori_response_uint(r, n);
}
__attribute__((deprecated("use nori_response_printf"), format(printf, 2, 3)))
static inline void response_printf(struct response *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    nori_response_vprintf(r, fmt, ap);
    va_end(ap);
}
__attribute__((deprecated("use nori_response_length")))
static inline size_t response_length(const struct response *r)
{
    return nori_response_length(r);
}
__attribute__((deprecated("use nori_response_since")))
static inline const char *response_since(const struct response *r, size_t from)
{
    return nori_response_since(r, from);
}
/* "Not Found" for 404, and so on. */
const char *nori_reason(int status);

/* ---- one request, as an application sees it ---------------------------- */

struct nori;                    /* nori's side of the request */

struct nori_req {
    struct response *resp;      /* where a page writes */
    const char *prefix;         /* SCRIPT_NAME: every URL starts with it */
    const char *pg;             /* the page asked for (pages), or "" */
    const void *query;          /* the application's query struct */
    const void *form;           /* actions: the application's form struct */
    const char *act;            /* actions: the form's act, "" when none */
    const char *notice;         /* a line for the page (NORI_SHOW), or NULL */
    uint64_t now;               /* unix seconds, one clock per request */
    void *data;                 /* the application's (nori_app.data) */
    struct nori *nori;
};

/* The session state of this request, or NULL without a live session. */
const void *nori_state(const struct nori_req *r);
/* The logged-in principal, "" when none. */
const char *nori_user(const struct nori_req *r);
/* Whether this page is the same for every visitor (no session is in
 * play): what a page may keep and reuse across requests. */
int nori_sessionless(const struct nori_req *r);

/* Request memory: zeroed, and gone with the request. NULL when out of
 * memory (the answer is then a 503 anyway). */
void *nori_alloc(struct nori_req *r, size_t n);
/* The client's address as the web server saw it, "" when unknown. */
const char *nori_remote_addr(const struct nori_req *r);
/* One line to the web server's error log. */
void nori_log(const struct nori_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* HTML output: text escaped, a URL built and escaped, a form opened. */
void nori_text(struct nori_req *r, const char *s);
void nori_url(struct nori_req *r, const struct nori_link *link);
/* A link that many pages write (a catalog entry's, say) can be prepared
 * once, at load: its query part, canonical and HTML-escaped ("?pg=...",
 * without the prefix and the session key, which are the request's),
 * into out, NUL-terminated, and its length in *len. -1 when it does not
 * fit in cap, or names a page the application's table lacks (a link
 * to one from nori_url or nori_href answers 500). nori_href writes from
 * it the bytes nori_url writes for the link, at the cost of a copy. */
int nori_link_prepare(char *out, size_t cap, const struct nori_grammar *g,
                      const struct nori_link *link, size_t *len);
void nori_href(struct nori_req *r, const char *prepared, size_t len);
/* <form method=post> to the application, with the hidden act, and the
 * _s and _k a live session needs; the caller adds fields and </form>. */
void nori_form_open(struct nori_req *r, const char *cls, const char *act);
/* The hidden fields a GET form needs to keep the session (_s), or none. */
void nori_form_keep(struct nori_req *r);
/* The application's URL as a form action, escaped. */
void nori_form_action(struct nori_req *r);

/* HTML-escape n bytes of src into dst, which must hold NORI_HTML_WORST
 * * n bytes; returns the bytes written. For text escaped once, at load. */
#define NORI_HTML_WORST 6
size_t nori_html_escape(char *dst, const char *src, size_t n);
/* A strict decimal, as the grammar reads one: digits only, no leading
 * zero, at most max. 0, or -1 when s[0..n) is not one. */
int nori_decimal(const char *s, size_t n, uint64_t max, uint64_t *out);
/* FNV-1a over n bytes, continuing from h (start with NORI_HASH_INIT):
 * for what an application's ETag depends on. */
#define NORI_HASH_INIT 14695981039346656037ull
uint64_t nori_hash(uint64_t h, const void *p, size_t n);

/* ---- limits shared by every worker --------------------------------------
 *
 * A table of small entries, one per name (a client address, a user
 * name), in a file that every process of a machine maps shared: no lock
 * file and no system call per use, so it is cheap enough for every
 * request. Each entry is changed under its own spinlock, held for a few
 * instructions (one left by a process that died holding it is taken over
 * after a second). Names are hashed with the table's random
 * key, so nobody can aim names at one slot; when a name's neighbourhood
 * is full, the entry that expires first is forgotten. nori's cap on new
 * sessions per client address is one user of it (a token bucket); the
 * demo shop's failed-login throttle is another (its own rule). */
struct nori_limits;
struct nori_limit_entry {
    uint64_t w[3];              /* the rule's: all 0 in a fresh entry */
    uint64_t expires;           /* ms; once passed, the entry is forgotten */
};
/* A rule reads and changes one entry under its lock and returns what the
 * caller wants to know (a wait in seconds, say); fresh: the name had no
 * live entry. It must be quick, and do nothing outside the entry. */
typedef unsigned (*nori_limit_rule)(struct nori_limit_entry *e, int fresh,
                                    uint64_t now_ms, void *arg);
/* Maps the table at path, made (0600) when missing; no symlink is
 * followed. NULL with errno set when it cannot (EPROTO: not a table of
 * this format). */
struct nori_limits *nori_limits_open(const char *path);
void nori_limits_close(struct nori_limits *l);
/* The clock entries count in: milliseconds of the wall clock. */
uint64_t nori_limits_now(void);
/* Runs rule on the entry of (kind, name) and returns what it returns.
 * make 0: a name without a live entry is not given one (the rule sees a
 * fresh entry whose changes are dropped), for a question that must not
 * cost a slot. kind separates names of different meaning (an address, a
 * user) in one table. A NULL table limits nothing: 0. */
unsigned nori_limit_apply(struct nori_limits *l, char kind, const char *name,
                          uint64_t now_ms, int make, nori_limit_rule rule, void *arg);
/* A token bucket: takes one token from (kind, name)'s bucket, which holds
 * burst tokens and refills at per_min a minute. 0 when one was taken;
 * otherwise the seconds until one is there (a Retry-After), nothing taken.
 * per_min 0: no limit. */
unsigned nori_limit_take(struct nori_limits *l, char kind, const char *name,
                         uint64_t now_ms, unsigned per_min, unsigned burst);
/* Forgets the entry of (kind, name), if it has one. */
void nori_limit_forget(struct nori_limits *l, char kind, const char *name);

/* ---- pages -------------------------------------------------------------
 *
 * A page renders its whole answer and returns 200, or returns 404 (or
 * another 4xx/5xx) having written nothing; nori then answers with the
 * error page. Without a session a page must depend only on its URL and
 * what the ETag covers: nori validates and caches it as such. Any other
 * status is answered 500 and logged (docs/design.md). */
struct nori_page {
    const char *name;           /* letters, digits, - and _; at most 32 */
    int (*render)(struct nori_req *r);
    /* 1: without a session, the page may be kept in the page cache and
     * served by the web server (NORI_PAGE_CACHE) for its canonical URL.
     * Only for pages that depend on nothing but their URL and the ETag's
     * inputs, never for one that reads the request otherwise.
     * NORI_PAGE_LIVE: the page changes without its URL changing (a list
     * that other visitors' actions grow): without a session it is sent
     * with Cache-Control: no-store and no validator, never a 304, and
     * never kept. */
    int cache;
};
#define NORI_PAGE_LIVE (-1)

/* ---- actions -----------------------------------------------------------
 *
 * A POST runs the application's act function, perhaps more than once:
 * when another worker committed to the same session in between, it runs
 * again on the fresh state, so it must have no effect outside the
 * session (do those in `acted`, which runs once). It returns one result:
 *
 *   nori_redirect(link)     303 to a navigation URL (Post/Redirect/Get);
 *                           the session state written is committed first
 *   nori_show(page, notice) 200: the page rendered with a notice; nothing
 *                           written is kept (a refused form, say)
 *   nori_fail(status, why)  a 4xx/5xx with the error page; nothing kept
 */
enum nori_outcome { NORI_REDIRECT, NORI_SHOW, NORI_FAIL };

struct nori_result {
    enum nori_outcome outcome;
    int status;                 /* 303, 200, or the failure's */
    struct nori_link next;      /* NORI_REDIRECT; query from nori_alloc */
    const char *page;           /* NORI_SHOW */
    const char *why;            /* the notice, or the failure's explanation */
    unsigned retry_after;       /* seconds, for a 429 or 503; 0: none */
};

/* An action table (nori_app.actions) names each action a form may ask
 * for, with its own fields: the form's act picks one (an unknown act
 * answers 400), the body is parsed by its grammar into a struct of
 * form.size bytes that r->form points at, and a field it requires that
 * the form does not give answers 400 naming it, all before run, which
 * is called as act would be (perhaps more than once). */
struct nori_action {
    const char *name;           /* the act: lower-case letters, at most 16 */
    struct nori_grammar form;
    uint32_t required;          /* bit i: form.fields[i] must be given */
    struct nori_result (*run)(struct nori_req *r);
};

static inline struct nori_result nori_redirect(const char *pg, const void *query)
{
    return (struct nori_result){NORI_REDIRECT, 303, {pg, query}, NULL, NULL, 0};
}

static inline struct nori_result nori_show(const char *page, const char *notice)
{
    return (struct nori_result){NORI_SHOW, 200, {NULL, NULL}, page, notice, 0};
}

static inline struct nori_result nori_fail(int status, const char *why)
{
    return (struct nori_result){NORI_FAIL, status, {NULL, NULL}, NULL, why, 0};
}

/* The state to change: makes the session when there is none (the lazy
 * rule: this is the first write) and marks it to be committed. NULL when
 * no session could be made; answer nori_fail(503, ...). */
void *nori_state_write(struct nori_req *r);
/* Login: the session (made if needed) moves to fresh keys, so a key known
 * before is worth nothing after, and carries user as its principal. The
 * application checked the credentials. 0, or -1 (answer 503). */
int nori_login(struct nori_req *r, const char *user);
/* Logout: the session and its record go. */
void nori_logout(struct nori_req *r);

/* ---- settings ----------------------------------------------------------
 *
 * Each an environment variable (what web servers pass to the processes
 * they spawn) and a --flag, listed by `nori --help`, checked at start:
 * a bad value stops the process with one line NAME=value: reason. */
enum nori_setting_kind { NORI_SET_STR, NORI_SET_NUM, NORI_SET_CHOICE, NORI_SET_OCTAL };

struct nori_setting {
    const char *env, *flag;
    enum nori_setting_kind kind;
    size_t offset;              /* const char * (STR, CHOICE) or unsigned long */
    const char *def;            /* as it would be written in the variable */
    unsigned long min, max;     /* NUM, OCTAL */
    const char *choices;        /* CHOICE: "a|b" */
    const char *help;
};

#define NORI_SETTING_STR(type, env, flag, member, def, help) \
    {env, flag, NORI_SET_STR, offsetof(type, member), def, 0, 0, NULL, help}
#define NORI_SETTING_NUM(type, env, flag, member, def, min, max, help) \
    {env, flag, NORI_SET_NUM, offsetof(type, member), def, min, max, NULL, help}
#define NORI_SETTING_CHOICE(type, env, flag, member, def, choices, help) \
    {env, flag, NORI_SET_CHOICE, offsetof(type, member), def, 0, 0, choices, help}

/* ---- the application ---------------------------------------------------- */

struct nori_state_codec {
    size_t size;                /* of the state struct; fresh state is zeroes */
    unsigned version;           /* 1..255, stored with the blob */
    /* 0 and *len, or -1 when it does not fit in cap. */
    int (*encode)(const void *state, unsigned char *buf, size_t cap, size_t *len);
    /* Never trusts its input: 0 and a state within bounds, or -1 (the
     * record is then treated as absent, and logged). version is the one
     * the blob was written with. */
    int (*decode)(void *state, unsigned version, const unsigned char *buf,
                  size_t len);
};

struct nori_app {
    const char *name;           /* in --help and logs */
    struct nori_grammar query;  /* fields of navigation URLs */
    struct nori_grammar form;   /* fields of action POSTs */
    const struct nori_page *pages;
    size_t npages;              /* pages[0] answers a URL without pg */
    struct nori_result (*act)(struct nori_req *r);
    /* Once, after the commit, with the result sent: effects outside the
     * session (counting a failed login, say). May be NULL. */
    void (*acted)(struct nori_req *r, const struct nori_result *res);
    struct nori_state_codec state;
    /* The body of an error answer (status and headers are nori's). NULL:
     * a plain page of nori's. */
    void (*error_page)(struct nori_req *r, int status, const char *why);
    /* The name the authorizer role passes on as NORI_USER for a live
     * session, or NULL to deny. NULL: the logged-in user, if any. */
    const char *(*principal)(struct nori_req *r);
    /* The application's own settings, filling the struct at `config`. */
    const struct nori_setting *settings;
    size_t nsettings;
    void *config;
    /* In each worker before it serves (and in `nori check`): read data,
     * check settings. rundir is the run directory, private to this
     * service. On error, one line in err naming the setting; -1. */
    int (*load)(void *data, const char *rundir, char *err, size_t errlen);
    void (*unload)(void *data);
    /* A digest of everything a sessionless page depends on besides its
     * URL and nori's build (the catalog, the application's version and
     * settings): the ETag of every such page. */
    uint64_t (*etag)(const void *data);
    void *data;
    /* Added after the first release (members above keep their places):
     * an action table, picked by the form's act, instead of act; NULL
     * and 0 for an application that has act (or no actions at all). */
    const struct nori_action *actions;
    size_t nactions;
    /* Called instead of load when set: the same, with the application's
     * settings as nori read them (the struct at config). */
    int (*load_config)(void *data, const void *config, const char *rundir,
                       char *err, size_t errlen);
};

/* ---- HTML, escaped by default ------------------------------------------
 *
 * The short calls are the safe ones: tag and attribute names are checked
 * ([a-z0-9-], a letter first, at most NORI_NAME_MAX bytes), attribute
 * values and text are HTML-escaped, URLs are built by the grammar. A bad
 * name, closing with nothing open, or more than NORI_HTML_DEPTH open
 * elements writes nothing and turns the page into a 500 (logged). The
 * elements still open are kept in the request's memory, so nori_close
 * knows what it closes. Void elements (br, img, input, meta, ...) are
 * never open: they need no close. */
#define NORI_HTML_DEPTH 64
#define NORI_NAME_MAX   32

/* <tag name="value" ...>: pairs of attribute name and value, then NULL.
 * A value "" gives name="" (a boolean attribute, e.g. "checked", ""). */
void nori_elem(struct nori_req *r, const char *tag, ...)
    __attribute__((sentinel));
void nori_elemv(struct nori_req *r, const char *tag, va_list ap);
/* <a href="URL" ...>: the URL nori_url writes for link (canonical, with
 * the session's key when it travels in URLs), then pairs as nori_elem. */
void nori_elem_link(struct nori_req *r, const struct nori_link *link, ...)
    __attribute__((sentinel));
/* </tag> of the innermost open element; every open element. */
void nori_close(struct nori_req *r);
void nori_close_all(struct nori_req *r);
/* Formatted text, escaped as nori_text escapes. */
void nori_textf(struct nori_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Bytes that are written as they are, for markup the application made
 * and trusts (a piece it escaped at load, say). The long name is the
 * warning: nothing here is escaped. */
void nori_html_unescaped_trusted(struct nori_req *r, const char *html, size_t n);

/* ---- answers a page shapes itself -------------------------------------- */

/* The Content-Type of a page's 200 answer instead of text/html; a text
 * type (text/plain, text/csv) gets "; charset=utf-8" unless it names a charset. 0, or -1 for a
 * value that is not a type/subtype of token characters (logged). */
int nori_content_type(struct nori_req *r, const char *type);
/* A response header of the page's. Refused, -1 and logged: a name that
 * is not a token, a value with CR, LF or another control character, and
 * the headers nori owns (Status, Content-Type, Content-Length, Location,
 * Set-Cookie, Cache-Control, ETag, Vary, Content-Security-Policy and the
 * other security headers). 0 otherwise. A page that sets a header is
 * never kept in the page cache. */
int nori_header(struct nori_req *r, const char *name, const char *value);
/* A request header by its HTTP name ("Accept-Language"), NULL when the
 * request has none. A page that reads one is never kept in the page cache. */
const char *nori_request_header(const struct nori_req *r, const char *name);
/* What a page returns to fail with its own reason on the error page:
 *     return nori_page_fail(r, 404, "No such entry.");
 * status must be 4xx or 5xx; why is kept for the request. */
int nori_page_fail(struct nori_req *r, int status, const char *why);
/* nori_redirect, with the query (of the query grammar's size) copied
 * into the request's memory: it may live on the caller's stack. */
struct nori_result nori_redirect_to(struct nori_req *r, const char *pg,
                                    const void *query);

/* nori's main(): reads the settings (nori's and the application's) and
 * runs the command of argv: a worker (FastCGI on fd 0, or one CGI
 * request), `serve`, `stats` or `check`. Returns the exit status. */
int nori_main(const struct nori_app *app, int argc, char **argv);

#endif
