/* config.h -- nori's settings and the application's: each one a NORI_*
 * environment variable (what web servers pass to the processes they
 * spawn) and a --flag; flags win. One table engine reads both tables
 * (struct nori_setting, nori.h). */
#ifndef NORI_CONFIG_H
#define NORI_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "nori.h"
#include "../session/visit.h"

struct nori_config {
    const char *rundir;             /* counters file; default store */
    const char *store_spec;         /* "" means lmdb:RUNDIR/sessions */
    const char *status_path;        /* PATH_INFO of the JSON counters */
    const char *ping_path;          /* PATH_INFO of the health check */
    const char *page_cache_name;    /* on|off */
    unsigned long page_cache_max_kb;
    const char *policy_name, *carrier_name, *bind_name, *sync_name;
    const char *cookie_path;
    const char *cookie_secure_name; /* auto|on */
    const char *allowed_origins;    /* origins besides the request's Host */
    const char *log_file;           /* "" the web server's log (stderr) */
    unsigned long body_timeout_ms;
    unsigned long new_sessions_per_min; /* per client address; 0: no cap */
    unsigned long params_timeout_ms;
    const char *sandbox_name;       /* on|net|off */
    unsigned long ttl, max_age;
    unsigned long gc_foreground, gc_interval_ms, gc_batch;
    unsigned long map_size_mb;
    unsigned long sync_ms;          /* NORI_SYNC=background */
    const char *redis_prefix;
    const char *route;
    unsigned long memory_max;
    unsigned long redis_timeout_ms, redis_wait;
    const char *listen;             /* nori serve */
    unsigned long workers, max_requests;
    unsigned long socket_mode;      /* octal; 0 leaves it to the umask */
    const char *socket_group;       /* name or number; "" leaves it */
    /* Derived from the names above by config_load. */
    enum policy policy;
    enum carrier carrier;
    int bind;
    int cookie_secure;
    int page_cache;
    int nosync;
    unsigned long background_sync_ms;   /* 0 unless NORI_SYNC=background */
    char store_default[4096];
    char rundir_default[4096];      /* NORI_RUNDIR's default, per application */
    char listen_default[4200];
    /* Set by nori_main's processes, not by config_load: where a memory
     * store publishes its record count for a killed worker (the run
     * directory). NULL for the test harness, whose workers are not
     * reaped by anyone. */
    const char *orphan_dir;
    /* Which rows (nori's, then the application's) were given as flags:
     * a message about one names the flag, as the user typed it. */
    uint64_t flagged[4];
};

enum config_err {
    CONFIG_OK = 0,
    CONFIG_EVALUE,      /* a setting has a bad value: exit status 1 */
    CONFIG_EUSAGE,      /* the command line cannot be understood: 2 */
};

/* Fills cfg and the application's settings from the environment, then
 * argv (after optind). On a bad value, writes one line into err, naming
 * the setting as it was given (NORI_X=value or --x=value) and why it is
 * refused. */
enum config_err config_load(struct nori_config *cfg, const struct nori_app *app,
                            int argc, char **argv, char *err, size_t errlen);
/* Who owns which setting: struct nori_config holds every setting as
 * read (config_load) and is the one source; struct sessions (visit.h)
 * holds the ones the session layer follows, and its store_opt
 * (store.h) the ones a store backend follows. This fills both from cfg,
 * once, in service_init: nothing else writes a setting into them. The
 * codec is the service's (nori's default or the application's); the
 * handles opened later (stats, limits) are not settings, and are the
 * caller's to set. */
void config_session_options(const struct nori_config *cfg,
                            const struct nori_state_codec *codec, struct sessions *out);
void config_usage(const struct nori_app *app, FILE *out);
/* A message that begins with a setting's variable (NORI_X=value: ... or
 * NORI_X: ...), from whatever checked it, rewritten in place to begin
 * with its flag (--x=value: ...) when the value came from one. */
void config_name_given(const struct nori_config *cfg, const struct nori_app *app,
                       char *msg, size_t cap);

#endif
