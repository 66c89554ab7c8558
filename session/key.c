/* key.c -- session, binding and form keys: 128 random bits, base64url. */
#include <errno.h>
#include <sys/random.h>

#include "session.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int key_mint(char out[NAV_KEY_LEN + 1])
{
    unsigned char r[16];
    size_t got = 0;

    while (got < sizeof r) {
        ssize_t n = getrandom(r + got, sizeof r - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    /* 16 bytes = 5 groups of 3 (20 chars) and one byte (2 chars). */
    size_t o = 0;
    for (size_t i = 0; i < 15; i += 3) {
        uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    out[o++] = b64url[r[15] >> 2];
    out[o++] = b64url[(r[15] & 3) << 4];
    out[o] = '\0';
    return 0;
}

/* Reads both strings to NAV_KEY_LEN whatever they hold, so the time taken
 * says nothing about how much of a guess was right. */
int key_equal(const char *a, const char *b)
{
    unsigned char diff = 0;
    int a_end = 0, b_end = 0;

    for (size_t i = 0; i <= NAV_KEY_LEN; i++) {
        unsigned char ca = a_end ? 0 : (unsigned char)a[i];
        unsigned char cb = b_end ? 0 : (unsigned char)b[i];
        diff |= ca ^ cb;
        a_end |= ca == 0;
        b_end |= cb == 0;
    }
    return diff == 0 && a[0] != '\0';
}
