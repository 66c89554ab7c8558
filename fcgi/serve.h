/* serve.h -- `nori serve`: a prefork supervisor. It binds the FastCGI
 * socket once, forks single-threaded workers that accept on it, respawns
 * the ones that die (with a backoff, so a crash loop does not spin),
 * drains on SIGTERM, and replaces workers one at a time on SIGHUP so that
 * the socket never stops being served. Given its argv, a SIGHUP first
 * re-executes the binary at the path it was started from (an upgrade
 * replaced it, say), keeping the socket and the workers, which the new
 * image then replaces: a reload loads new code, not only new data. */
#ifndef NORI_SERVE_H
#define NORI_SERVE_H

#include <stddef.h>
#include <sys/types.h>

#include "worker.h"

struct serve_options {
    const char *listen;             /* "unix:PATH" or "HOST:PORT" */
    unsigned workers;
    unsigned long max_requests;     /* recycle a worker after this many; 0 never */
    unsigned socket_mode;           /* chmod of a unix socket; 0 leaves it */
    const char *socket_group;       /* chgrp of a unix socket; "" leaves it */
    /* The whole command line, for re-executing on SIGHUP; NULL reloads
     * the data only, in the running image. */
    char *const *argv;
    /* Rewrites a message naming a setting (NORI_X=...) the way the user
     * gave it (--x=...); NULL leaves it. */
    void (*name_given)(char *msg, size_t cap, void *ctx);
    void *name_ctx;
};

/* What a worker runs. load is called in each worker after the fork (and
 * once in the supervisor before binding, and again on SIGHUP, to refuse
 * data that does not load), so that each worker reads its data files and
 * opens its store itself, never inheriting them. */
struct serve_app {
    int (*load)(void *ctx, char *err, size_t errlen);
    void (*unload)(void *ctx);
    void *ctx;                      /* what load and unload work on */
    /* What each worker runs, once load succeeded in it. */
    struct worker_app (*worker)(void *ctx);
    /* In the supervisor, for every worker reaped, however it ended (so
     * that what a killed worker could not do is done for it). May be
     * NULL. */
    void (*reaped)(void *ctx, pid_t pid);
};

/* Runs until SIGTERM/SIGINT. Returns a process exit status: 0 after a
 * drain, 1 when it cannot start, with one line on stderr saying why
 * (data that does not load, a socket taken or that cannot be made). */
int serve_run(const struct serve_options *opt, const struct serve_app *app);

#endif
