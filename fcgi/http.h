/* http.h -- the request a worker hands to the application, and the
 * response the application fills. Both live in the request's arena. */
#ifndef NORI_HTTP_H
#define NORI_HTTP_H

#include <stddef.h>
#include <stdint.h>

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
    const char *cookie;         /* NULL when absent */
    const char *remote_addr;    /* the client, as the web server saw it */
    int authorizer;             /* FastCGI role AUTHORIZER: allow or deny */
    const char *body;           /* NUL-terminated copy, "" when none */
    size_t body_len;
    enum body_err body_err;
    void *log_stream;           /* where request_log writes */
};

/* A response is built in memory and written once, after the handler. */
struct response {
    struct arena *arena;
    int status;
    char *head;                 /* header lines, each ending in CRLF */
    size_t head_len, head_cap;
    char *body;
    size_t body_len, body_cap;
    int failed;                 /* out of memory somewhere: answer 503 */
};

void response_init(struct response *r, struct arena *a);
void response_header(struct response *r, const char *name, const char *value);
void response_write(struct response *r, const char *s, size_t n);
void response_puts(struct response *r, const char *s);
/* Decimal n, no printf: the hot path formats numbers by hand. */
void response_uint(struct response *r, uint64_t n);
/* Writes decimal n at out (room for 20 bytes); returns its length. */
size_t http_uint(char *out, uint64_t n);
void response_printf(struct response *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Room for n more body bytes; response_commit says how many were used. */
char *response_reserve(struct response *r, size_t n);
void response_commit(struct response *r, size_t n);
/* Drop what was written so far (headers and body), e.g. to answer an error. */
void response_clear(struct response *r);
const char *http_reason(int status);

/* Copies the value of cookie `name` into out (cap bytes with the NUL) and
 * returns its length; 0 when absent, empty, or longer than cap allows. */
size_t request_cookie(const struct request *req, const char *name, char *out,
                      size_t cap);

/* Logs to the FastCGI stderr stream, which ends in the web server's
 * error log (stderr in one-shot mode). */
void request_log(const struct request *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
