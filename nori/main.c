/* main.c -- nori_main(), what an application's main() calls: settings
 * from NORI_* variables and flags (flags win), nori's and the
 * application's, then one of four lives:
 *
 *   nori            a worker: FastCGI on fd 0 (lighttpd bin-path,
 *                   spawn-fcgi, mod_fcgid), or one CGI request
 *   nori serve      the prefork supervisor on its own socket
 *   nori stats      the counters of every worker, printed
 *   nori check      every setting checked, as a worker would at start
 *
 * Every life checks every setting before it serves anything (app_load);
 * a bad one is one line on stderr, NAME=value: reason, and exit 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef NORI_VERSION
#define NORI_VERSION "unknown"      /* the Makefile declares it */
#endif

#include "../fcgi/build.h"
#include "../fcgi/rundir.h"
#include "../fcgi/sandbox.h"
#include "../fcgi/serve.h"
#include "../fcgi/stats.h"
#include "../fcgi/worker.h"
#include "../session/memory.h"
#include "../session/store.h"
#include "../session/storespec.h"
#include "service.h"

/* A process's one service: its settings, the application loaded, and the
 * counters it maps. */
struct process {
    const struct nori_app *app;
    struct nori_config cfg;
    struct service svc;
    struct stats *stats;
    struct nori_limits *limits; /* RUNDIR/limits: new sessions per address */
    int app_loaded;
    char **argv;                /* as given, for nori serve's re-exec */
};

static int stats_path(const struct nori_config *cfg, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/stats", cfg->rundir);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int stats_print(const struct nori_config *cfg)
{
    char path[4096];
    struct stats *st = NULL;

    if (stats_path(cfg, path, sizeof path) < 0 || (st = stats_open(path, 0)) == NULL) {
        fprintf(stderr, "nori: no counters at %s/stats (has a worker run?)\n",
                cfg->rundir);
        return 1;
    }
    for (int i = 0; i < STAT_COUNT; i++)
        printf("%-18s %llu\n", stats_name((enum stat_id)i),
               (unsigned long long)stats_get(st, (enum stat_id)i));
    stats_close(st);
    return 0;
}

/* The run directory holds the counters (and the default store, and,
 * under lighttpd, the sockets): it is made when missing, as `mkdir -p`
 * would, and must be writable by this process. */
static int store_check(const struct nori_config *cfg, char *err, size_t errlen)
{
    char why[512], shown[512];

    if (store_spec_check(cfg->store_spec, why, sizeof why) == 0)
        return 0;
    store_spec_mask(cfg->store_spec, shown, sizeof shown);
    snprintf(err, errlen, "NORI_STORE=%s: %s", shown, why);
    return -1;
}

static void process_unload(void *ctx)
{
    struct process *p = ctx;

    service_free(&p->svc);
    if (p->app_loaded && p->app->unload)
        p->app->unload(p->app->data);
    p->app_loaded = 0;
    stats_close(p->stats);
    p->stats = NULL;
    nori_limits_close(p->limits);
    p->limits = NULL;
}

/* Everything a worker holds: the application's data, the service, and
 * the counters, mapped in the worker itself. The store opens at the
 * first request needing it, but is checked here, so that a bad one stops
 * nori before it serves. */
/* load_config, when the application has it, instead of load: the same
 * call, with the settings nori read into the application's struct. */
static int app_load(const struct nori_app *app, const char *rundir, char *err, size_t errlen)
{
    if (app->load_config)
        return app->load_config(app->data, app->config, rundir, err, errlen);
    return app->load ? app->load(app->data, rundir, err, errlen) : 0;
}

static int process_load(void *ctx, char *err, size_t errlen)
{
    struct process *p = ctx;
    char path[4096];

    if (rundir_check(p->cfg.rundir, err, errlen) != RUNDIR_OK ||
        store_check(&p->cfg, err, errlen) < 0 ||
        app_load(p->app, p->cfg.rundir, err, errlen) < 0) {
        config_name_given(&p->cfg, p->app, err, errlen);
        return -1;
    }
    p->app_loaded = 1;
    if (service_init(&p->svc, p->app, &p->cfg, err, errlen) < 0)
        goto fail;
    if (stats_path(&p->cfg, path, sizeof path) < 0 ||
        (p->stats = stats_open(path, 1)) == NULL) {
        snprintf(err, errlen, "NORI_RUNDIR=%s: cannot map the counters file %s: %s",
                 p->cfg.rundir, path, strerror(errno));
        goto fail;
    }
    p->svc.stats = p->svc.sessions.stats = p->stats;
    if (p->cfg.new_sessions_per_min > 0) {
        int n = snprintf(path, sizeof path, "%s/limits", p->cfg.rundir);
        if (n < 0 || (size_t)n >= sizeof path ||
            (p->limits = nori_limits_open(path)) == NULL) {
            snprintf(err, errlen, "NORI_RUNDIR=%s: cannot map the limits file %s: %s",
                     p->cfg.rundir, path, strerror(errno));
            goto fail;
        }
        p->svc.sessions.limits = p->limits;
    }
    /* A memory store counts the sessions it loses at close (in the
     * sessions' stats: sessions_store), and publishes its count for a
     * kill (cfg.orphan_dir, set in nori_main), whoever started the
     * worker: a worker that starts claims what
     * killed ones left (lighttpd's bin-path respawns one in their place),
     * as nori serve does when it reaps them. */
    if (strcmp(p->cfg.store_spec, "memory") == 0)
        memory_claim_orphans(p->cfg.rundir, 0, (uint64_t)time(NULL), p->stats, "nori: ");
    if (cache_open(&p->svc.cache, p->cfg.rundir, p->cfg.page_cache,
                   p->cfg.page_cache_max_kb << 10, p->svc.etag,
                   p->stats, err, errlen) != CACHE_OK)
        goto fail;
    return 0;
fail:
    config_name_given(&p->cfg, p->app, err, errlen);
    process_unload(p);
    return -1;
}

static struct worker_app process_worker(void *ctx)
{
    struct process *p = ctx;

    return (struct worker_app){service_handle, &p->svc, p->stats};
}

/* In nori serve, a worker reaped: if it was killed with sessions in a
 * memory store, it left their count behind, and it is claimed here (if a
 * starting worker or a status page has not already). */
static void process_reaped(void *ctx, pid_t pid)
{
    struct process *p = ctx;
    char path[4096];
    struct stats *st;

    if (strcmp(p->cfg.store_spec, "memory") != 0 ||
        stats_path(&p->cfg, path, sizeof path) < 0 || (st = stats_open(path, 1)) == NULL)
        return;
    memory_claim_orphans(p->cfg.rundir, pid, (uint64_t)time(NULL), st, "nori serve: ");
    stats_close(st);
}

/* nori serve's own messages name a setting as the user gave it, too. */
static void serve_name_given(char *msg, size_t cap, void *ctx)
{
    const struct process *p = ctx;

    config_name_given(&p->cfg, p->app, msg, cap);
}

/* A Redis store connects (again) at any request: its workers may make
 * sockets; no other store needs one. */
static enum sandbox_mode sandbox_choose(const struct nori_config *cfg)
{
    if (strcmp(cfg->sandbox_name, "off") == 0)
        return SANDBOX_OFF;
    if (strcmp(cfg->sandbox_name, "net") == 0 || strncmp(cfg->store_spec, "redis", 5) == 0)
        return SANDBOX_NET;
    return SANDBOX_ON;
}

static int serve(struct process *p)
{
    struct serve_options opt = {p->cfg.listen, (unsigned)p->cfg.workers,
                                p->cfg.max_requests, (unsigned)p->cfg.socket_mode,
                                p->cfg.socket_group, p->argv, serve_name_given, p};
    struct serve_app sa = {process_load, process_unload, p, process_worker,
                           process_reaped};

    return serve_run(&opt, &sa);
}

int nori_main(const struct nori_app *app, int argc, char **argv)
{
    static struct process p;
    const char *cmd = argc > 1 && argv[1][0] != '-' ? argv[1] : "";
    char err[1024];
    int rc;

    p.app = app;
    page_table_set(app);        /* before load, which may prepare links */
    p.argv = argv;
    /* Before the settings: a version is asked for whatever they are. */
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("nori %s (build %s)\n", NORI_VERSION, nori_build_id);
        return 0;
    }
    if (cmd[0] && strcmp(cmd, "stats") != 0 && strcmp(cmd, "serve") != 0 &&
        strcmp(cmd, "check") != 0) {
        fprintf(stderr, "nori: %s: unknown command (nori --help)\n", cmd);
        return 2;
    }
    if (cmd[0]) {
        argv++;
        argc--;
    }
    switch (config_load(&p.cfg, app, argc, argv, err, sizeof err)) {
    case CONFIG_OK: break;
    case CONFIG_EVALUE: fprintf(stderr, "nori: %s\n", err); return 1;
    case CONFIG_EUSAGE: fprintf(stderr, "nori: %s\n", err); return 2;
    }
    /* A worker of ours publishes its memory store's count for a kill
     * (process_load says who claims it); service_init passes it on. */
    p.cfg.orphan_dir = p.cfg.rundir;
    if (strcmp(cmd, "stats") == 0)
        return stats_print(&p.cfg);
    worker_set_body_timeout(p.cfg.body_timeout_ms);
    worker_set_params_timeout(p.cfg.params_timeout_ms);
    worker_set_sandbox(sandbox_choose(&p.cfg));
    if (p.cfg.log_file[0] && worker_set_log_file(p.cfg.log_file) < 0) {
        fprintf(stderr, "nori: NORI_LOG_FILE=%s: cannot open it: %s\n", p.cfg.log_file,
                strerror(errno));
        return 1;
    }
    if (strcmp(cmd, "serve") == 0)
        return serve(&p);
    if (process_load(&p, err, sizeof err) < 0) {
        fprintf(stderr, "nori: %s\n", err);
        return 1;
    }
    if (strcmp(cmd, "check") == 0) {
        process_unload(&p);
        return 0;
    }
    struct worker_app w = process_worker(&p);
    rc = worker_run(&w, 0);
    process_unload(&p);
    return rc;
}
