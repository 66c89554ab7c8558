/* main.c -- nori's entry point: settings from NORI_* variables and flags
 * (flags win), the shop, then the worker loop. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fcgi/worker.h"
#include "shop.h"

#ifndef NORI_DATADIR
#define NORI_DATADIR "shop/data"
#endif

static const char usage[] =
    "usage: nori [--catalog PATH] [--style-url URL]\n"
    "\n"
    "A FastCGI responder for the nori demo shop. With a FastCGI listening\n"
    "socket on fd 0 (lighttpd bin-path, spawn-fcgi, mod_fcgid) it serves\n"
    "requests until SIGTERM; otherwise it answers one CGI request, e.g.\n"
    "  QUERY_STRING='pg=Item&id=26' nori\n"
    "\n"
    "  --catalog PATH    menu TSV (NORI_CATALOG; default " NORI_DATADIR "/catalog.tsv)\n"
    "  --style-url URL   stylesheet link (NORI_STYLE_URL; default /static/nori.css)\n";

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int config_parse(int argc, char **argv, struct shop_config *cfg)
{
    static const struct option opts[] = {
        {"catalog", required_argument, NULL, 'c'},
        {"style-url", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    cfg->catalog_path = env_or("NORI_CATALOG", NORI_DATADIR "/catalog.tsv");
    cfg->style_url = env_or("NORI_STYLE_URL", "/static/nori.css");
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': cfg->catalog_path = optarg; break;
        case 's': cfg->style_url = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        default: return -1;
        }
    }
    return optind == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct shop_config cfg;
    struct shop shop;
    char err[256];
    int rc;

    if (config_parse(argc, argv, &cfg) < 0) {
        fputs(usage, stderr);
        return 2;
    }
    if (shop_init(&shop, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "nori: %s: %s\n", cfg.catalog_path, err);
        return 1;
    }
    rc = worker_run(shop_handle, &shop);
    shop_free(&shop);
    return rc;
}
