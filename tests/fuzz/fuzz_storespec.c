/* fuzz_storespec.c -- libFuzzer target for the store spec parser and its
 * mask (session/storespec.c), what `nori check` and every start run on
 * NORI_STORE, and what every printed spec goes through.
 *
 * The input is the spec (a NUL ends it, as it ends an environment
 * variable). What must hold:
 *   - parse answers 0 or -1; a refusal has a reason of one line;
 *   - what parses is within its bounds: ports 1..65535, a host, a
 *     database 0..65535, 1..8 sentinels, TLS only for rediss schemes,
 *     cert and key together;
 *   - the mask of a spec with a secret parses to the same server with
 *     the secret "***", and the mask of any spec that has no '@' is
 *     the spec itself;
 *   - the mask is never longer than the spec plus "***", and is cut,
 *     terminated, to any buffer.
 * A failed check aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "session/storespec.h"
#include "invariant.h"

static void check_parts(const char *spec, const struct store_spec *sp)
{
    CHECK(sp->db >= 0 && sp->db <= 65535);
    switch (sp->kind) {
    case SPEC_LMDB:
        CHECK(strncmp(spec, "lmdb:", 5) == 0 && sp->path[0] && strcmp(sp->path, spec + 5) == 0);
        break;
    case SPEC_MEMORY:
        CHECK(strcmp(spec, "memory") == 0);
        break;
    case SPEC_REDIS:
        CHECK(sp->server.host[0] && sp->server.port >= 1 && sp->server.port <= 65535);
        break;
    case SPEC_REDIS_UNIX:
        CHECK(sp->path[0] == '/' && !sp->tls);
        break;
    case SPEC_SENTINEL:
        CHECK(sp->nsentinels >= 1 && sp->nsentinels <= SPEC_SENTINELS_MAX && sp->master[0]);
        for (int i = 0; i < sp->nsentinels; i++)
            CHECK(sp->sentinels[i].host[0] && sp->sentinels[i].port >= 1 &&
                  sp->sentinels[i].port <= 65535);
        break;
    default:
        CHECK(!"an unknown kind");
    }
    CHECK(sp->tls == (strncmp(spec, "rediss", 6) == 0));
    CHECK(!sp->tls_cert[0] == !sp->tls_key[0]);
    CHECK(sp->tls || (!sp->tls_ca[0] && !sp->tls_cert[0] && !sp->tls_sni[0]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct store_spec sp, again;
    char *spec, *masked, err[256];
    size_t cap;

    if (size > 4096)
        return 0;
    CHECK((spec = malloc(size + 1)) != NULL);
    memcpy(spec, data, size);
    spec[size] = '\0';
    size = strlen(spec);

    memset(err, 0, sizeof err);
    int rc = store_spec_parse(spec, &sp, err, sizeof err);
    CHECK(rc == 0 || rc == -1);
    if (rc < 0) {
        CHECK(err[0] != '\0' && strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
    } else {
        check_parts(spec, &sp);
    }

    cap = size + 4;
    CHECK((masked = malloc(cap)) != NULL);
    store_spec_mask(spec, masked, cap);
    CHECK(strlen(masked) <= size + 3);
    if (strchr(spec, '@') == NULL)
        CHECK(strcmp(masked, spec) == 0);
    if (rc == 0 && sp.secret[0] && strstr(spec, "://")) {
        CHECK(store_spec_parse(masked, &again, err, sizeof err) == 0);
        CHECK(strcmp(again.secret, "***") == 0);
        CHECK(again.kind == sp.kind && again.db == sp.db && again.tls == sp.tls);
        CHECK(strcmp(again.user, sp.user) == 0 || !strchr(spec, ':'));
        CHECK(strcmp(again.server.host, sp.server.host) == 0 &&
              again.server.port == sp.server.port);
    }
    /* Cut to any size, always terminated, never past cap. */
    for (size_t small = 1; small < 8 && small < cap; small++) {
        memset(masked, 'Z', cap);
        store_spec_mask(spec, masked, small);
        CHECK(strlen(masked) < small);
    }
    free(masked);
    free(spec);
    return 0;
}
