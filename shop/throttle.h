/* throttle.h -- failed logins counted per user and per client address,
 * in a file every worker of a machine maps, so that spreading guesses
 * over workers gains nothing.
 *
 * Each name (a user, an address) has a count of recent failures. The
 * first THROTTLE_FREE failures cost nothing; each one after makes the
 * next attempt wait twice as long as the one before (1 s, 2 s, 4 s, ...,
 * never over lockout_s); `failures` of them lock the name out for
 * `lockout_s`. An attempt made while a name must wait is refused without
 * checking the password, and is not counted. A name with no failure for
 * lockout_s is forgotten. A successful login forgets its user, never its
 * address (or one guesser with an account of his own could clear his
 * address between guesses). */
#ifndef NORI_THROTTLE_H
#define NORI_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define THROTTLE_FREE 3         /* failures that cost no wait */

enum throttle_err {
    THROTTLE_OK = 0,
    THROTTLE_EOPEN,             /* the file cannot be opened or mapped */
    THROTTLE_EFORMAT,           /* it is not a throttle file of this build */
};

struct throttle_policy {
    unsigned failures;          /* failures that lock a name out; 0: off */
    unsigned lockout_s;         /* how long, and how long failures count */
};

/* Maps the file at path (creating it, 0600; a symlink is refused). */
enum throttle_err throttle_open(const char *path, const struct throttle_policy *p);
void throttle_close(void);
int throttle_is_open(void);

/* Seconds before user may try again from addr; 0: now. */
unsigned throttle_wait(const char *user, const char *addr, uint64_t now);
/* Counts a failure against both; returns the wait that follows it. */
unsigned throttle_fail(const char *user, const char *addr, uint64_t now);
/* A successful login: user's failures are forgotten. */
void throttle_forget_user(const char *user);

const char *throttle_strerror(enum throttle_err err);

#endif
