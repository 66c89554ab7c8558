/* cookie.c -- reading one cookie of the request's Cookie header
 * (RFC 6265 5.4: "name=value" pairs separated by "; "). */
#include <string.h>

#include "http.h"

/* Whitespace around pairs is skipped; a value in double quotes is taken
 * without them. The first acceptable cookie of that name counts: browsers
 * send the one with the longest Path first. One that does not fit, or
 * that ok refuses, is passed over rather than ending the search, since
 * anyone who can set a cookie for a parent path or domain can put one
 * before ours. */
size_t cookie_find(const char *header, const char *name, char *out, size_t cap,
                   int (*ok)(const char *value, size_t len))
{
    size_t nlen = strlen(name);
    const char *p = header;

    while (p && *p) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t plen = end ? (size_t)(end - p) : strlen(p);
        if (plen > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            const char *v = p + nlen + 1;
            size_t vlen = plen - nlen - 1;
            while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (vlen > 0 && vlen + 1 <= cap) {
                memcpy(out, v, vlen);
                out[vlen] = '\0';
                if (ok == NULL || ok(out, vlen))
                    return vlen;
            }
        }
        p = end;
    }
    if (cap)
        out[0] = '\0';
    return 0;
}

size_t request_cookie_if(const struct request *req, const char *name, char *out,
                         size_t cap, int (*ok)(const char *value, size_t len))
{
    return cookie_find(req->cookie, name, out, cap, ok);
}

size_t request_cookie(const struct request *req, const char *name, char *out,
                      size_t cap)
{
    return cookie_find(req->cookie, name, out, cap, NULL);
}

int cookie_path_valid(const char *path)
{
    size_t n = strlen(path);

    if (n == 0 || n > COOKIE_PATH_MAX || path[0] != '/')
        return 0;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p < 0x20 || *p == 0x7F || *p == ';')
            return 0;
    return 1;
}
