/* sandbox.h -- a worker's confinement, as kcgi and OpenBSD's pledge do
 * it: once the worker holds what it serves from (the listening socket,
 * the statistics, the application's data, the run directory), it asks the
 * kernel (seccomp) to refuse every system call that serving requests
 * does not need. A worker an attacker took over then cannot start a
 * program, make a process, trace one, or (unless its store talks to a
 * server) open a connection anywhere. */
#ifndef NORI_SANDBOX_H
#define NORI_SANDBOX_H

enum sandbox_mode {
    SANDBOX_OFF = 0,
    SANDBOX_ON,         /* no new sockets at all */
    SANDBOX_NET,        /* the store connects to a server (Redis) */
};

enum sandbox_err {
    SANDBOX_OK = 0,
    SANDBOX_EFILTER,    /* the kernel refused the filter (logged) */
};

/* Confines the calling process, every thread it has and will have, for
 * good. A call outside the filter's list is refused with ENOSYS and
 * logged; the ones that only an attacker makes (execve, fork, ptrace,
 * a socket the mode does not allow) are logged and end the worker with
 * SIGSYS, for its supervisor to replace. SANDBOX_OFF, and builds under
 * a sanitizer (whose runtime makes calls of its own), do nothing. */
enum sandbox_err sandbox_enter(enum sandbox_mode mode);

#endif
