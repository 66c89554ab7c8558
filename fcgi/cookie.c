/* cookie.c -- reading one cookie of the request's Cookie header
 * (RFC 6265 5.4: "name=value" pairs separated by "; "). */
#include <string.h>

#include "http.h"

/* Whitespace around pairs is skipped; a value in double quotes is taken
 * without them. Only the first cookie of that name counts: browsers send
 * the one with the longest Path first. */
size_t request_cookie(const struct request *req, const char *name, char *out,
                      size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = req->cookie;

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
            if (vlen + 1 > cap)
                return 0;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return vlen;
        }
        p = end;
    }
    return 0;
}
