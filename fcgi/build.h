/* build.h -- the identity of this build.
 *
 * The Makefile digests every file that shapes an answer (the code, its
 * headers, the static files) into build/build_id.c. Whatever a client
 * may cache across builds (the sessionless ETag) mixes it in, so a new
 * build whose HTML changed never answers 304 to a browser holding the
 * old page, while rebuilding the same sources keeps every validator. */
#ifndef NORI_BUILD_H
#define NORI_BUILD_H

extern const char nori_build_id[];

#endif
