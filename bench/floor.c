/* floor.c -- the bare floor: the least a libfcgi responder can do per
 * request behind the same lighttpd, the same socket type and the same
 * max-procs as nori. It parses nothing and writes a prepared page of
 * FLOOR_BYTES bytes (the size of nori's Item page) in one call, so the
 * gap between it and nori is what nori itself costs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

int main(void)
{
    const char *bytes = getenv("FLOOR_BYTES");
    size_t n = bytes ? strtoul(bytes, NULL, 10) : 4096;
    char head[160];
    FCGX_Request req;
    int hl = snprintf(head, sizeof head,
                      "Status: 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                      "Content-Length: %zu\r\n\r\n", n);
    char *page = malloc((size_t)hl + n);

    if (page == NULL || FCGX_Init() || FCGX_InitRequest(&req, 0, 0))
        return 1;
    memcpy(page, head, (size_t)hl);
    memset(page + hl, 'x', n);
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(page, hl + (int)n, req.out);
        FCGX_Finish_r(&req);
    }
    return 0;
}
