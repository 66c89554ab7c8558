/* records.c -- the opening records of a FastCGI request, checked
 * (records.h). Stricter than libfcgi, never looser: what passes here is
 * what lighttpd, nginx, Apache and cgi-fcgi send, and libfcgi reads it
 * without a blocking read or an allocation larger than the params. */
#include <string.h>

#include "records.h"

#define HEADER_LEN 8
#define VERSION_1 1
#define TYPE_BEGIN_REQUEST 1
#define TYPE_PARAMS 4
#define ROLE_MAX 3              /* responder, authorizer, filter */

static enum records_err bad(struct records_scan *out, const char *why,
                            unsigned long declared)
{
    out->why = why;
    out->declared = declared;
    return RECORDS_EBAD;
}

/* One length of a name-value pair: 1 byte below 128, else 4 bytes with
 * the top bit set. */
static int length_read(const unsigned char *p, size_t left, size_t *at,
                       unsigned long *len)
{
    if (left < 1)
        return -1;
    if ((p[0] & 0x80) == 0) {
        *len = p[0];
        *at += 1;
        return 0;
    }
    if (left < 4)
        return -1;
    *len = ((unsigned long)(p[0] & 0x7f) << 24) | ((unsigned long)p[1] << 16) |
           ((unsigned long)p[2] << 8) | p[3];
    *at += 4;
    return 0;
}

/* The joined params, pair by pair: every declared length must lie
 * within them, which caps what libfcgi allocates at their size. */
static enum records_err pairs_check(const unsigned char *p, size_t n,
                                    struct records_scan *out)
{
    size_t at = 0;
    unsigned pairs = 0;

    while (at < n) {
        unsigned long nl, vl;

        if (length_read(p + at, n - at, &at, &nl) < 0 ||
            length_read(p + at, n - at, &at, &vl) < 0)
            return bad(out, "a parameter's length is cut short", 0);
        if (nl > n - at)
            return bad(out, "a parameter name is declared longer than the params", nl);
        if (vl > n - at - nl)
            return bad(out, "a parameter value is declared longer than the params", vl);
        at += nl + vl;
        pairs++;
    }
    out->pairs = pairs;
    return RECORDS_OK;
}

enum records_err records_scan(const unsigned char *buf, size_t len,
                              unsigned char *scratch, struct records_scan *out)
{
    size_t off = 0, plen = 0;
    unsigned id = 0;
    int begun = 0;

    memset(out, 0, sizeof *out);
    for (;;) {
        if (len - off < HEADER_LEN) {
            out->need = off + HEADER_LEN;
            return RECORDS_EMORE;
        }
        const unsigned char *h = buf + off, *c = h + HEADER_LEN;
        unsigned type = h[1], rid = (unsigned)h[2] << 8 | h[3];
        size_t clen = (size_t)h[4] << 8 | h[5];
        size_t end = off + HEADER_LEN + clen + h[6];

        if (h[0] != VERSION_1)
            return bad(out, "not a FastCGI version 1 record", 0);
        if (end > RECORDS_MAX)
            return bad(out, "the records before the body are too long", (unsigned long)end);
        if (len < end) {
            out->need = end;
            return RECORDS_EMORE;
        }
        if (!begun) {
            /* Management records (request id 0) are refused too: no web
             * server nori runs behind sends them, and libfcgi answers an
             * FCGI_GET_VALUES through the same unbounded allocation, into
             * a 64-byte buffer that repeated names overflow. */
            if (type != TYPE_BEGIN_REQUEST || rid == 0 || clen != 8)
                return bad(out, "the first record is no BEGIN_REQUEST", 0);
            /* libfcgi does not skip the padding of BEGIN_REQUEST (nor of
             * the params' empty last record): it would read it as the
             * next record. Nobody pads what is a multiple of 8 already. */
            if (h[6] != 0)
                return bad(out, "a padded BEGIN_REQUEST", h[6]);
            out->role = (unsigned)c[0] << 8 | c[1];
            out->keep = c[2] & 1;
            if (out->role == 0 || out->role > ROLE_MAX)
                return bad(out, "an unknown role", out->role);
            begun = 1;
            id = rid;
            off = end;
            continue;
        }
        /* Web servers send the params whole before anything else of the
         * request, and multiplex nothing. */
        if (type != TYPE_PARAMS || rid != id)
            return bad(out, "a record other than PARAMS before the params end", type);
        if (clen == 0) {
            if (h[6] != 0)
                return bad(out, "a padded end of the params", h[6]);
            out->end = end;
            return pairs_check(scratch, plen, out);
        }
        if (clen > RECORDS_PARAMS_MAX - plen)
            return bad(out, "the params are too long", (unsigned long)(plen + clen));
        memcpy(scratch + plen, c, clen);
        plen += clen;
        off = end;
    }
}
