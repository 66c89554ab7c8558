/* fuzz_headers.c -- libFuzzer target for the two request-header parsers
 * that decide about sessions and cross-site POSTs: cookie_find (the
 * Cookie header) and origin_check / origin_matches_host (Origin against
 * Host and NORI_ALLOWED_ORIGINS).
 *
 * The first input byte picks the parser and a buffer size; the rest is
 * split at newlines into the header and its companions. Each answer is
 * compared with a second, plainer implementation written here, so a
 * mistake in one is not shared by its checker. A failed check aborts. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fcgi/http.h"
#include "fcgi/origin.h"
#include "invariant.h"

/* Up to three NUL-terminated parts of data, split at '\n' (a NUL in the
 * input ends its part early, as it would end a FastCGI parameter). */
struct parts {
    char *p[3];
};

static void split(const uint8_t *data, size_t size, struct parts *out)
{
    size_t start = 0;

    for (int i = 0; i < 3; i++) {
        size_t end = start;
        while (end < size && data[end] != '\n')
            end++;
        out->p[i] = malloc(end - start + 1);
        CHECK(out->p[i] != NULL);
        if (end > start)
            memcpy(out->p[i], data + start, end - start);
        out->p[i][end - start] = '\0';
        start = end < size ? end + 1 : size;
    }
}

static int key_like(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)v[i]) && v[i] != '-' && v[i] != '_')
            return 0;
    return 1;
}

/* The reference: split at ';', trim, match "name=", strip blanks after
 * and one pair of quotes, take the first non-empty value that fits and
 * that ok accepts. */
static size_t cookie_ref(const char *h, const char *name, char *out, size_t cap,
                         int (*ok)(const char *, size_t))
{
    char *copy = strdup(h), *save = NULL;
    size_t nlen = strlen(name), got = 0;

    CHECK(copy != NULL);
    for (char *pair = strtok_r(copy, ";", &save); pair; pair = strtok_r(NULL, ";", &save)) {
        while (*pair == ' ' || *pair == '\t')
            pair++;
        if (strncmp(pair, name, nlen) != 0 || pair[nlen] != '=')
            continue;
        char *v = pair + nlen + 1;
        size_t n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
            v++, n -= 2;
        if (n == 0 || n + 1 > cap)
            continue;
        memcpy(out, v, n);
        out[n] = '\0';
        if (ok == NULL || ok(out, n)) {
            got = n;
            break;
        }
    }
    free(copy);
    return got;
}

static void check_cookie(const struct parts *pt, size_t cap)
{
    const char *name = pt->p[0][0] && !strpbrk(pt->p[0], "=; \t") ? pt->p[0] : "nori_b";
    char *out = malloc(cap), *ref = malloc(cap);

    CHECK(out != NULL && ref != NULL);
    for (int pass = 0; pass < 2; pass++) {
        int (*ok)(const char *, size_t) = pass ? key_like : NULL;
        size_t n = cookie_find(pt->p[1], name, out, cap, ok);
        size_t r = cookie_ref(pt->p[1], name, ref, cap, ok);
        CHECK(n == r);
        CHECK(n < cap);
        CHECK(strlen(out) == n);
        if (n) {
            CHECK(memcmp(out, ref, n) == 0);
            CHECK(strstr(pt->p[1], out) != NULL);
            CHECK(strchr(out, ';') == NULL);
        }
    }
    CHECK(cookie_find(NULL, name, out, cap, NULL) == 0);
    free(out);
    free(ref);
}

/* Lower-cased host[:port] with the scheme's default port dropped. */
static void normalise(char *s, const char *port)
{
    size_t n = strlen(s), pl = strlen(port);

    for (char *c = s; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (n > pl && strcmp(s + n - pl, port) == 0)
        s[n - pl] = '\0';
}

static void check_origin(const struct parts *pt)
{
    const char *o = pt->p[0], *h = pt->p[1], *list = pt->p[2];
    int https = strncasecmp(o, "https://", 8) == 0;
    int http = strncasecmp(o, "http://", 7) == 0;
    int match = origin_matches_host(o, h);
    enum origin_err err = origin_check(o, NULL, h, list);

    CHECK(origin_strerror(err) != NULL);
    CHECK(origin_check(o, "cross-site", h, list) == ORIGIN_ECROSS_SITE);
    CHECK(origin_check(NULL, NULL, h, list) == ORIGIN_OK);
    CHECK(match == origin_matches_host(o, h));
    if (match) {
        /* Same host and port, by plain string comparison. */
        CHECK(http || https);
        char *a = strdup(o + (https ? 8 : 7)), *b = strdup(h);
        CHECK(a != NULL && b != NULL);
        normalise(a, https ? ":443" : ":80");
        normalise(b, https ? ":443" : ":80");
        CHECK(strcmp(a, b) == 0);
        CHECK(strpbrk(a, "/@?#;, \t") == NULL);
        free(a);
        free(b);
        CHECK(err == ORIGIN_OK);
        CHECK(origin_in_list(o, o));
    }
    if (err == ORIGIN_OK)
        CHECK(match || origin_in_list(o, list));
    if (err == ORIGIN_EMALFORMED)
        CHECK(!match && !origin_in_list(o, list));
    /* Any well-formed origin names its own authority. */
    if (err != ORIGIN_EMALFORMED)
        CHECK(origin_matches_host(o, o + (https ? 8 : 7)));
    if (origin_in_list(o, list))
        CHECK(origin_list_valid(o));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct parts pt;

    if (size < 1)
        return 0;
    split(data + 1, size - 1, &pt);
    if (data[0] & 1)
        check_origin(&pt);
    else
        check_cookie(&pt, (size_t)(data[0] >> 1) % 48 + 1);
    for (int i = 0; i < 3; i++)
        free(pt.p[i]);
    return 0;
}
