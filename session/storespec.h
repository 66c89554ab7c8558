/* storespec.h -- a store spec (NORI_STORE) read into its parts, touching
 * nothing: `nori check` and every start refuse a spec that cannot be
 * right before anything is served, the Redis backend opens from the
 * parts, and the fuzzer feeds the parser. Pure: no system call, no
 * allocation.
 *
 *   lmdb:PATH
 *   memory
 *   redis://[[USER]:SECRET@]HOST:PORT[/DB]
 *   rediss://[[USER]:SECRET@]HOST:PORT[/DB][?TLS]
 *   redis+unix://[[USER]:SECRET@]/PATH[?db=N]
 *   redis-sentinel://[[USER]:SECRET@]HOST:PORT[,HOST:PORT...]/MASTER[/DB]
 *   rediss-sentinel://... the same, then [?TLS]
 *
 * TLS: ca=FILE (the CAs that sign the server's certificate; default the
 * system's), cert=FILE&key=FILE (a client certificate), sni=NAME (the
 * name the certificate must carry; default HOST), joined by '&'. USER,
 * SECRET and the TLS values are percent-decoded ("%40" is '@'); a '%'
 * or '?' in a secret is written %25, %3F. HOST is a name, an IPv4
 * address, or [IPv6]. */
#ifndef NORI_STORESPEC_H
#define NORI_STORESPEC_H

#include <stddef.h>

#define SPEC_HOST_MAX 256
#define SPEC_PATH_MAX 1024
#define SPEC_SENTINELS_MAX 8
#define SPEC_MASTER_MAX 128
#define SPEC_SECRET_MAX 256

enum spec_kind {
    SPEC_LMDB,
    SPEC_MEMORY,
    SPEC_REDIS,             /* redis://, rediss:// */
    SPEC_REDIS_UNIX,        /* redis+unix:// */
    SPEC_SENTINEL,          /* redis-sentinel://, rediss-sentinel:// */
};

struct spec_endpoint {
    char host[SPEC_HOST_MAX];
    int port;
};

struct store_spec {
    enum spec_kind kind;
    char path[SPEC_PATH_MAX];       /* lmdb: the directory; unix: the socket */
    struct spec_endpoint server;    /* redis */
    struct spec_endpoint sentinels[SPEC_SENTINELS_MAX];
    int nsentinels;
    char master[SPEC_MASTER_MAX];
    char user[SPEC_SECRET_MAX];     /* "": the default user */
    char secret[SPEC_SECRET_MAX]; /* "": no AUTH */
    int db;
    int tls;                        /* rediss://, rediss-sentinel:// */
    char tls_ca[SPEC_PATH_MAX];     /* "": the system's CAs */
    char tls_cert[SPEC_PATH_MAX];   /* "": no client certificate */
    char tls_key[SPEC_PATH_MAX];
    char tls_sni[SPEC_HOST_MAX];    /* "": the host itself */
};

/* 0, with *out filled; or -1 with why in err. The reason never repeats
 * the secret, so it may be logged as it is. */
int store_spec_parse(const char *spec, struct store_spec *out, char *err, size_t errlen);

/* The spec as it may be printed: any secret replaced by "***" (whether
 * the spec parses or not). out is always terminated; cut to fit cap. */
void store_spec_mask(const char *spec, char *out, size_t cap);

#endif
