/* main.c -- nori's entry point: settings from NORI_* variables and flags
 * (flags win), the shop, the shared counters, then the worker loop; or
 * `nori stats`, which prints the counters of every worker. */
#include <stdio.h>
#include <string.h>

#include "../fcgi/stats.h"
#include "../fcgi/worker.h"
#include "shop.h"

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

int main(int argc, char **argv)
{
    struct shop_config cfg;
    struct shop shop;
    char err[512], path[4096];
    int stats_cmd = argc > 1 && strcmp(argv[1], "stats") == 0;
    int rc;

    if (stats_cmd) {
        argv++;
        argc--;
    }
    if (config_load(&cfg, argc, argv, err, sizeof err) < 0) {
        fprintf(stderr, "nori: %s\n", err);
        config_usage(stderr);
        return 2;
    }
    if (stats_cmd)
        return stats_print(&cfg);
    if (shop_init(&shop, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "nori: %s\n", err);
        return 1;
    }
    /* Counters are a convenience: a worker without them still serves. */
    if (stats_path(&cfg, path, sizeof path) < 0 || stats_open(path, 1) < 0)
        fprintf(stderr, "nori: counters off: cannot map %s/stats\n", cfg.rundir);
    rc = worker_run(shop_handle, &shop);
    shop_free(&shop);
    stats_close();
    return rc;
}
