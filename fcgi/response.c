/* response.c -- the in-memory response. Growth copies into a larger arena
 * allocation; the old space dies with the request like everything else. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http.h"

void response_init(struct response *r, struct arena *a)
{
    memset(r, 0, sizeof *r);
    r->arena = a;
    r->status = 200;
}

static char *grow(struct response *r, char **buf, size_t len, size_t *cap,
                  size_t n)
{
    if (r->failed)
        return NULL;
    if (*cap - len < n) {
        size_t ncap = *cap ? *cap * 2 : 8192;
        while (ncap - len < n)
            ncap *= 2;
        char *nb = arena_alloc(r->arena, ncap);
        if (nb == NULL) {
            r->failed = 1;
            return NULL;
        }
        if (len)
            memcpy(nb, *buf, len);
        *buf = nb;
        *cap = ncap;
    }
    return *buf + len;
}

char *response_reserve(struct response *r, size_t n)
{
    return grow(r, &r->body, r->body_len, &r->body_cap, n);
}

void response_commit(struct response *r, size_t n)
{
    r->body_len += n;
}

static void __attribute__((noinline))
write_grown(struct response *r, const char *s, size_t n)
{
    char *p = response_reserve(r, n);

    if (p) {
        memcpy(p, s, n);
        r->body_len += n;
    }
}

/* Called a couple of dozen times a page: the common case, room in the
 * body, is kept free of grow()'s, which made every call save and restore
 * registers. */
void nori_response_write(struct response *r, const char *s, size_t n)
{
    if (r->failed || r->body == NULL || r->body_cap - r->body_len < n) {
        write_grown(r, s, n);
        return;
    }
    char *p = r->body + r->body_len;
    r->body_len += n;
    memcpy(p, s, n);
}

/* In parentheses, so that nori.h's macro of this name does not expand
 * here: this is the function it falls back to when s is not a literal. */
void (nori_response_puts)(struct response *r, const char *s)
{
    nori_response_write(r, s, strlen(s));
}

size_t http_uint(char *out, uint64_t n)
{
    char buf[20], *p = buf + sizeof buf;
    size_t len;

    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    len = (size_t)(buf + sizeof buf - p);
    memcpy(out, p, len);
    return len;
}

void nori_response_uint(struct response *r, uint64_t n)
{
    char buf[20];

    nori_response_write(r, buf, http_uint(buf, n));
}

void nori_response_vprintf(struct response *r, const char *fmt, va_list ap)
{
    va_list again;
    char small[256];

    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0)
        goto out;
    if ((size_t)n < sizeof small) {
        nori_response_write(r, small, (size_t)n);
        goto out;
    }
    char *p = response_reserve(r, (size_t)n + 1);
    if (p == NULL)
        goto out;
    vsnprintf(p, (size_t)n + 1, fmt, again);
    r->body_len += (size_t)n;
out:
    va_end(again);
}

void nori_response_printf(struct response *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    nori_response_vprintf(r, fmt, ap);
    va_end(ap);
}

/* RFC 9110 5.5: a field value is visible characters, blanks and tabs;
 * a CR or LF in one would end the header and start another (splitting),
 * and other controls have no business there either. 1 for those bytes
 * and for NUL, where a string ends. */
static const unsigned char header_stop[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1,     /* tab is fine */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    [0x7F] = 1,
};

/* The length of s up to its end or its first refused byte, in one pass:
 * s is fine when that is its end. */
static size_t header_span(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (!header_stop[*p])
        p++;
    return (size_t)(p - (const unsigned char *)s);
}

int header_value_ok(const char *value)
{
    return value[header_span(value)] == '\0';
}

void response_header_add(struct response *r, const char *name, size_t nl,
                         const char *value, size_t vl, int ok)
{
    char *p;

    if (!ok) {
        r->bad_header = 1;
        return;
    }
    if ((p = grow(r, &r->head, r->head_len, &r->head_cap, nl + vl + 4)) == NULL)
        return;
    memcpy(p, name, nl);
    memcpy(p + nl, ": ", 2);
    memcpy(p + nl + 2, value, vl);
    memcpy(p + nl + 2 + vl, "\r\n", 2);
    r->head_len += nl + vl + 4;
}

/* In parentheses, so that http.h's macro of this name does not expand
 * here: this is the function it falls back to when the name or the value
 * is not a literal, and so is scanned at run time. */
void (response_header)(struct response *r, const char *name, const char *value)
{
    size_t nl = header_span(name), vl = header_span(value);

    response_header_n(r, name, nl, value, vl,
                      name[nl] == '\0' && value[vl] == '\0');
}

void response_clear(struct response *r)
{
    r->head_len = 0;
    r->body_len = 0;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    }
    return "Unknown";
}

size_t nori_response_length(const struct response *r)
{
    return r->body_len;
}

const char *nori_response_since(const struct response *r, size_t from)
{
    return r->failed || from > r->body_len ? NULL : r->body + from;
}
