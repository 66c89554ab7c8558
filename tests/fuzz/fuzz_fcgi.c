/* fuzz_fcgi.c -- libFuzzer target for the FastCGI records that open a
 * request: records_scan (fcgi/records.c) against libfcgi itself.
 *
 * A connection's first bytes are whatever its peer chose, absurd lengths
 * included (a PARAMS pair declaring 0x40000000 bytes made libfcgi's
 * allocator abort the worker). records_scan decides what libfcgi may
 * read; so every input it accepts is then handed to the real libfcgi
 * (FCGX_Accept_r on one end of a socketpair holding exactly these
 * bytes), which must take it as a request with the very parameters
 * records_scan counted, without blocking and without an allocation
 * larger than the input. Whatever it refuses or waits on never reaches
 * libfcgi, in the fuzzer as in the worker. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "fcgi/records.h"
#include "invariant.h"

static unsigned char scratch[RECORDS_PARAMS_MAX];

/* libfcgi on exactly these bytes, the writing end shut: any read past
 * them ends at once instead of blocking. */
static void libfcgi_check(const uint8_t *data, size_t size,
                          const struct records_scan *sc)
{
    FCGX_Request fr;
    int sv[2];
    unsigned n = 0;

    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(write(sv[1], data, size) == (ssize_t)size);
    shutdown(sv[1], SHUT_WR);
    CHECK(FCGX_InitRequest(&fr, -1, 0) == 0);
    fr.ipcFd = sv[0];
    fr.keepConnection = 1;
    CHECK(FCGX_Accept_r(&fr) == 0);
    CHECK((unsigned)fr.role == sc->role);
    for (char **e = fr.envp; *e; e++)
        n++;
    CHECK(n == sc->pairs + 1);              /* libfcgi adds FCGI_ROLE */
    fr.detached = 1;                        /* close without draining */
    FCGX_Free(&fr, 1);
    close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct records_scan sc, again;

    if (!ready) {
        CHECK(FCGX_Init() == 0);
        ready = 1;
    }
    switch (records_scan(data, size, scratch, &sc)) {
    case RECORDS_EMORE:
        CHECK(sc.need > size && sc.need <= RECORDS_MAX + 8);
        return 0;
    case RECORDS_EBAD:
        CHECK(sc.why != NULL);
        return 0;
    case RECORDS_OK:
        break;
    }
    CHECK(sc.end >= 16 && sc.end <= size);
    CHECK(sc.role >= 1 && sc.role <= 3);
    /* The verdict rests on the bytes up to the params' end, and on all
     * of them: one fewer is a wait, not a request. */
    CHECK(records_scan(data, sc.end, scratch, &again) == RECORDS_OK);
    CHECK(again.pairs == sc.pairs && again.end == sc.end);
    CHECK(records_scan(data, sc.end - 1, scratch, &again) == RECORDS_EMORE);
    libfcgi_check(data, size, &sc);
    return 0;
}
