/* main.c -- nori's entry point: settings from NORI_* variables and flags
 * (flags win), then one of three lives:
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
#include <unistd.h>

#include "../fcgi/rundir.h"
#include "../fcgi/serve.h"
#include "../fcgi/stats.h"
#include "../fcgi/worker.h"
#include "../session/store.h"
#include "shop.h"

struct app {
    struct shop_config cfg;
    struct shop shop;
};

static int stats_path(const struct shop_config *cfg, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/stats", cfg->rundir);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static int stats_print(const struct shop_config *cfg)
{
    char path[4096];

    if (stats_path(cfg, path, sizeof path) < 0 || stats_open(path, 0) < 0) {
        fprintf(stderr, "nori: no counters at %s/stats (has a worker run?)\n",
                cfg->rundir);
        return 1;
    }
    for (int i = 0; i < STAT_COUNT; i++)
        printf("%-18s %llu\n", stats_name((enum stat_id)i),
               (unsigned long long)stats_get((enum stat_id)i));
    stats_close();
    return 0;
}

/* The run directory holds the counters (and the default store, and,
 * under lighttpd, the sockets): it is made when missing, as `mkdir -p`
 * would, and must be writable by this process. */
static int store_check(const struct shop_config *cfg, char *err, size_t errlen)
{
    char why[512];

    if (store_spec_check(cfg->store_spec, why, sizeof why) == 0)
        return 0;
    snprintf(err, errlen, "NORI_STORE=%s: %s", cfg->store_spec, why);
    return -1;
}

/* Everything a worker holds: the shop's data, and the counters, mapped in
 * the worker itself. The store opens at the first request needing it,
 * but is checked here, so that a bad one stops nori before it serves. */
static int app_load(void *ctx, char *err, size_t errlen)
{
    struct app *a = ctx;
    char path[4096];

    if (rundir_check(a->cfg.rundir, err, errlen) != RUNDIR_OK ||
        store_check(&a->cfg, err, errlen) < 0 ||
        shop_init(&a->shop, &a->cfg, err, errlen) < 0)
        return -1;
    if (stats_path(&a->cfg, path, sizeof path) < 0 || stats_open(path, 1) < 0) {
        snprintf(err, errlen, "NORI_RUNDIR=%s: cannot map the counters file %s: %s",
                 a->cfg.rundir, path, strerror(errno));
        shop_free(&a->shop);
        return -1;
    }
    return 0;
}

static void app_unload(void *ctx)
{
    struct app *a = ctx;

    shop_free(&a->shop);
    stats_close();
}

static int serve(struct app *a)
{
    struct serve_options opt = {a->cfg.listen, (unsigned)a->cfg.workers,
                                a->cfg.max_requests, (unsigned)a->cfg.socket_mode,
                                a->cfg.socket_group};
    struct serve_app sa = {app_load, app_unload, a, shop_handle, &a->shop};

    return serve_run(&opt, &sa);
}

int main(int argc, char **argv)
{
    static struct app a;
    const char *cmd = argc > 1 && argv[1][0] != '-' ? argv[1] : "";
    char err[1024];
    int rc;

    if (cmd[0] && strcmp(cmd, "stats") != 0 && strcmp(cmd, "serve") != 0 &&
        strcmp(cmd, "check") != 0) {
        fprintf(stderr, "nori: %s: unknown command (nori --help)\n", cmd);
        return 2;
    }
    if (cmd[0]) {
        argv++;
        argc--;
    }
    switch (config_load(&a.cfg, argc, argv, err, sizeof err)) {
    case CONFIG_OK: break;
    case CONFIG_EVALUE: fprintf(stderr, "nori: %s\n", err); return 1;
    case CONFIG_EUSAGE: fprintf(stderr, "nori: %s\n", err); return 2;
    }
    if (strcmp(cmd, "stats") == 0)
        return stats_print(&a.cfg);
    worker_set_body_timeout(a.cfg.body_timeout_ms);
    if (strcmp(cmd, "serve") == 0)
        return serve(&a);
    if (app_load(&a, err, sizeof err) < 0) {
        fprintf(stderr, "nori: %s\n", err);
        return 1;
    }
    if (strcmp(cmd, "check") == 0) {
        app_unload(&a);
        return 0;
    }
    rc = worker_run(shop_handle, &a.shop, 0);
    app_unload(&a);
    return rc;
}
