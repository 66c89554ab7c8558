/* main.c -- nori's entry point: settings from NORI_* variables and flags
 * (flags win), then one of three lives:
 *
 *   nori            a worker: FastCGI on fd 0 (lighttpd bin-path,
 *                   spawn-fcgi, mod_fcgid), or one CGI request
 *   nori serve      the prefork supervisor on its own socket
 *   nori stats      the counters of every worker, printed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fcgi/rundir.h"
#include "../fcgi/serve.h"
#include "../fcgi/stats.h"
#include "../fcgi/worker.h"
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

/* Everything a worker holds: the shop's data, and the counters, mapped in
 * the worker itself. The store opens at the first request needing it. */
static int app_load(void *ctx, char *err, size_t errlen)
{
    struct app *a = ctx;
    char path[4096];

    if (rundir_check(a->cfg.rundir, err, errlen) != RUNDIR_OK ||
        shop_init(&a->shop, &a->cfg, err, errlen) < 0)
        return -1;
    /* Counters are a convenience: a worker without them still serves. */
    if (stats_path(&a->cfg, path, sizeof path) < 0 || stats_open(path, 1) < 0)
        fprintf(stderr, "nori: counters off: cannot map %s/stats\n", a->cfg.rundir);
    return 0;
}

static void app_unload(void *ctx)
{
    struct app *a = ctx;

    shop_free(&a->shop);
    stats_close();
}

int main(int argc, char **argv)
{
    static struct app a;
    const char *cmd = argc > 1 && argv[1][0] != '-' ? argv[1] : "";
    char err[512];
    int rc;

    if (strcmp(cmd, "stats") != 0 && strcmp(cmd, "serve") != 0 && cmd[0]) {
        fprintf(stderr, "nori: unknown command '%s'\n", cmd);
        config_usage(stderr);
        return 2;
    }
    if (cmd[0]) {
        argv++;
        argc--;
    }
    if (config_load(&a.cfg, argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "nori: %s\n", err);
        config_usage(stderr);
        return 2;
    }
    if (strcmp(cmd, "stats") == 0)
        return stats_print(&a.cfg);
    worker_set_body_timeout(a.cfg.body_timeout_ms);
    if (strcmp(cmd, "serve") == 0) {
        char *end;
        unsigned long mode = strtoul(a.cfg.socket_mode, &end, 8);
        if (*end || mode > 07777) {
            fprintf(stderr, "nori: NORI_SOCKET_MODE: '%s' is not an octal mode\n",
                    a.cfg.socket_mode);
            return 2;
        }
        struct serve_options opt = {a.cfg.listen, (unsigned)a.cfg.workers,
                                    a.cfg.max_requests, (unsigned)mode};
        struct serve_app sa = {app_load, app_unload, &a, shop_handle, &a.shop};
        return serve_run(&opt, &sa);
    }
    if (app_load(&a, err, sizeof err) < 0) {
        fprintf(stderr, "nori: %s\n", err);
        return 1;
    }
    rc = worker_run(shop_handle, &a.shop, 0);
    app_unload(&a);
    return rc;
}
