/* records.h -- the FastCGI records that open a request, checked before
 * libfcgi reads them. libfcgi allocates whatever length a PARAMS pair
 * declares (0x40000000 makes its allocator assert and abort the worker)
 * and blocks for as long as the params take to arrive; nori looks at the
 * bytes waiting on the connection first, and hands libfcgi only a
 * request whose BEGIN_REQUEST and whole params are there and consistent:
 * every declared length then lies within bytes already received. */
#ifndef NORI_RECORDS_H
#define NORI_RECORDS_H

#include <stddef.h>

/* The params of one request (what the web server sends: the CGI
 * variables, the HTTP headers among them) take at most this many bytes,
 * lengths included. lighttpd's and nginx's default header limits are
 * well below it. */
#define RECORDS_PARAMS_MAX (64 * 1024)
/* The records carrying them (headers, padding) may add this much. */
#define RECORDS_SLACK 8192
#define RECORDS_MAX (RECORDS_PARAMS_MAX + RECORDS_SLACK)

enum records_err {
    RECORDS_OK = 0,     /* BEGIN_REQUEST and the whole params are there */
    RECORDS_EMORE,      /* consistent so far: wait for `need` bytes */
    RECORDS_EBAD,       /* never a request libfcgi should see: drop it */
};

struct records_scan {
    size_t need;            /* EMORE: the bytes to wait for */
    size_t end;             /* OK: where the params' last record ends */
    unsigned pairs;         /* OK: name-value pairs in the params */
    unsigned role;          /* OK: BEGIN_REQUEST's role */
    int keep;               /* OK: the web server keeps the connection */
    const char *why;        /* EBAD: what was wrong, for the log */
    unsigned long declared; /* EBAD: the length declared, when one was */
};

/* Scans the len bytes at buf, the start of what a connection sent.
 * scratch holds RECORDS_PARAMS_MAX bytes (the params, joined across
 * records, are parsed there). */
enum records_err records_scan(const unsigned char *buf, size_t len,
                              unsigned char *scratch, struct records_scan *out);

#endif
