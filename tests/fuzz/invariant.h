/* invariant.h -- CHECK, the one thing every fuzz target shares: a broken
 * invariant aborts, which libFuzzer keeps as a crash with its input. Kept
 * apart from fuzz_check.h so that a target needing only this pulls in no
 * grammar and no application. */
#ifndef NORI_FUZZ_INVARIANT_H
#define NORI_FUZZ_INVARIANT_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

#endif
