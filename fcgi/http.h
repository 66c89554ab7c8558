/* http.h -- the request a worker hands to the application, and the
 * response the application fills. Both live in the request's arena. */
#ifndef NORI_HTTP_H
#define NORI_HTTP_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "nori.h"
#include "arena.h"

#define HTTP_BODY_MAX (16 * 1024)   /* larger POST bodies answer 413 */

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_OTHER };

/* What became of the request body. Reading is strict: exactly
 * CONTENT_LENGTH bytes or an error, never a partial body. */
enum body_err {
    BODY_OK = 0,
    BODY_ELENGTH,       /* CONTENT_LENGTH is not a plain decimal */
    BODY_ETOOLARGE,     /* over HTTP_BODY_MAX: 413 */
    BODY_ETRUNCATED,    /* the stream ended or failed before CONTENT_LENGTH */
    BODY_ENOMEM,
    BODY_ETIMEOUT,      /* not whole within the body deadline: 408 */
};

struct request {
    struct arena *arena;
    enum http_method method;
    const char *query;          /* never NULL */
    size_t query_len;
    const char *script_name;    /* the mount prefix, "" at the root */
    const char *path_info;      /* "" when absent */
    const char *content_type;   /* NULL when absent */
    const char *if_none_match;  /* NULL when absent */
    const char *if_modified_since; /* NULL when absent */
    const char *cookie;         /* NULL when absent */
    const char *remote_addr;    /* the client, as the web server saw it */
    const char *host;           /* Host header, NULL when absent */
    const char *origin;         /* Origin header, NULL when absent */
    const char *sec_fetch_site; /* Sec-Fetch-Site header, NULL when absent */
    int https;                  /* HTTPS=on: the client spoke TLS to the server */
    int proxied;                /* X-Forwarded-For, Forwarded or Via: a proxy
                                 * stands between the client and the server */
    int authorize_param;        /* NORI_AUTHORIZE=1 from the web server's config */
    int authorizer;             /* FastCGI role AUTHORIZER: allow or deny */
    const char *body;           /* NUL-terminated copy, "" when none */
    size_t body_len;
    enum body_err body_err;
    void *log_stream;           /* where request_log writes */
    char *const *env;           /* every parameter, NAME=value; NULL: none */
};

/* A response is built in memory and sent after the handler.
 * What applications write with (nori_response_puts and the rest) is declared
 * in nori.h. */
struct response {
    struct arena *arena;
    int status;
    char *head;                 /* header lines, each ending in CRLF */
    size_t head_len, head_cap;
    char *body;
    size_t body_len, body_cap;
    int failed;                 /* out of memory somewhere: answer 503 */
    int bad_header;             /* a header value held CR, LF or NUL: 502 */
    int uncounted;              /* monitoring (status, ping): not a request */
};

void response_init(struct response *r, struct arena *a);
/* A value holding CR or LF would split the header: it is refused, and
 * the whole response becomes a 502 (logged) when it is sent. */
void response_header(struct response *r, const char *name, const char *value);
/* Whether a header value is safe to send as is (no CR, LF or other CTL
 * but tab). */
int header_value_ok(const char *value);
/* The bytes header_value_ok refuses (but NUL, which ends the string). */
#define HEADER_CTL "\1\2\3\4\5\6\7\10\12\13\14\15\16\17\20\21\22\23\24" \
                   "\25\26\27\30\31\32\33\34\35\36\37\177"
/* response_header with the lengths known and the check done: ok 0
 * refuses the header as a bad value does. */
void response_header_add(struct response *r, const char *name, size_t nl,
                         const char *value, size_t vl, int ok);
/* The same, inline for the common case, a good header and room for it:
 * with a literal's lengths known here, the copies are a few moves each
 * instead of calls (half a dozen headers an answer). */
static inline void response_header_n(struct response *r, const char *name,
                                     size_t nl, const char *value, size_t vl,
                                     int ok)
{
    if (ok && !r->failed && r->head && r->head_cap - r->head_len >= nl + vl + 4) {
        char *p = r->head + r->head_len;

        memcpy(p, name, nl);
        memcpy(p + nl, ": ", 2);
        memcpy(p + nl + 2, value, vl);
        memcpy(p + nl + 2 + vl, "\r\n", 2);
        r->head_len += nl + vl + 4;
        return;
    }
    response_header_add(r, name, nl, value, vl, ok);
}
/* A header of literals (the security headers, Content-Type,
 * Cache-Control: most of what every page sends) is checked by the
 * compiler: strlen and strcspn of string literals fold to constants, so
 * it costs a copy and no scan. Anything else is scanned when it is
 * added, by the function. The result is the same either way, a literal
 * with CR or LF in it included. */
#define response_header(r, name, value)                                     \
    (__builtin_constant_p(name) && __builtin_constant_p(value)              \
         ? response_header_n((r), (name), strlen(name), (value),            \
                             strlen(value),                                 \
                             strcspn((name), HEADER_CTL) == strlen(name) && \
                             strcspn((value), HEADER_CTL) == strlen(value)) \
         : (response_header)((r), (name), (value)))
/* Writes decimal n at out (room for 20 bytes); returns its length. */
size_t http_uint(char *out, uint64_t n);
/* t as an HTTP-date ("Sun, 06 Nov 1994 08:49:37 GMT", 29 bytes and a
 * NUL) into out; -1 when it does not fit. */
int http_date(char *out, size_t cap, time_t t);
/* An IMF-fixdate, the whole of s, into *t; -1 for anything else (the
 * obsolete forms included: a validator nori cannot read is no match). */
int http_date_parse(const char *s, time_t *t);
/* Room for n more body bytes; response_commit says how many were used. */
char *response_reserve(struct response *r, size_t n);
void response_commit(struct response *r, size_t n);
/* Drop what was written so far (headers and body), e.g. to answer an error. */
void response_clear(struct response *r);
const char *http_reason(int status);

/* Copies the value of cookie `name` into out (cap bytes with the NUL) and
 * returns its length; 0 when absent or empty. A cookie of that name too
 * long for out is skipped, and the next one of the name is looked at: a
 * planted oversized cookie must not hide the real one after it. */
size_t request_cookie(const struct request *req, const char *name, char *out,
                      size_t cap);
/* The same, taking the first cookie of that name whose value ok accepts
 * (fits in out and, say, is shaped like a minted key). */
size_t request_cookie_if(const struct request *req, const char *name, char *out,
                         size_t cap, int (*ok)(const char *value, size_t len));
/* The same over a bare Cookie header (NULL: none); what the fuzzer calls. */
size_t cookie_find(const char *header, const char *name, char *out, size_t cap,
                   int (*ok)(const char *value, size_t len));

/* Whether path may be a cookie's Path= (RFC 6265 4.1.1): it starts with
 * '/', holds no control character and no ';', and is at most
 * COOKIE_PATH_MAX bytes. */
#define COOKIE_PATH_MAX 1024
int cookie_path_valid(const char *path);

/* The value of the request's parameter NAME (HTTP_ACCEPT_LANGUAGE),
 * the first when it is given twice, as FCGX_GetParam has it; NULL when
 * absent. A scan of the environment: for what a page asks now and then. */
const char *request_param(const struct request *req, const char *name);

/* Logs to the FastCGI stderr stream, which ends in the web server's
 * error log (stderr in one-shot mode). */
void request_log(const struct request *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void request_vlog(const struct request *req, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
