/* config.c -- the settings table. One row per setting: its variable, its
 * flag, its type and bounds, its default, and one line of help, from
 * which `nori --help` is printed. */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../fcgi/origin.h"
#include "config.h"

#ifndef NORI_DATADIR
#define NORI_DATADIR "shop/data"
#endif
#ifndef NORI_RUNDIR
#define NORI_RUNDIR "var"
#endif

enum kind { STR, NUM, CHOICE, OCTAL };

struct setting {
    const char *env, *flag;
    enum kind kind;
    size_t offset;
    const char *def;            /* as it would be written in the variable */
    unsigned long min, max;     /* NUM */
    const char *choices;        /* CHOICE: "a|b" */
    const char *help;
};

#define S(env, flag, member, def, help) \
    {env, flag, STR, offsetof(struct shop_config, member), def, 0, 0, NULL, help}
#define N(env, flag, member, def, min, max, help) \
    {env, flag, NUM, offsetof(struct shop_config, member), def, min, max, NULL, help}
#define O(env, flag, member, def, max, help) \
    {env, flag, OCTAL, offsetof(struct shop_config, member), def, 0, max, NULL, help}
#define C(env, flag, member, def, choices, help) \
    {env, flag, CHOICE, offsetof(struct shop_config, member), def, 0, 0, choices, help}

static const struct setting settings[] = {
    S("NORI_CATALOG", "catalog", catalog_path, NORI_DATADIR "/catalog.tsv",
      "the menu, a TSV file read at start"),
    S("NORI_USERS", "users", users_path, NORI_DATADIR "/users",
      "user:crypt(3)-hash lines"),
    S("NORI_STYLE_URL", "style-url", style_url, "/static/nori.css",
      "the stylesheet every page links"),
    S("NORI_ICON_URL", "icon-url", icon_url, "/static/favicon.ico",
      "the icon every page links"),
    S("NORI_RUNDIR", "rundir", rundir, NORI_RUNDIR,
      "runtime state: the counters file and the default store"),
    S("NORI_STORE", "store", store_spec, "",
      "session store: lmdb:PATH (default lmdb:RUNDIR/sessions), "
      "redis://[:PASSWORD@]HOST:PORT[/DB], redis+unix:///PATH[?db=N], "
      "redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTER, memory"),
    S("NORI_REDIS_PREFIX", "redis-prefix", redis_prefix, "nori:",
      "Redis: before every session key, so that several shops share one Redis"),
    N("NORI_REDIS_TIMEOUT_MS", "redis-timeout-ms", redis_timeout_ms, "500", 1, 60000,
      "Redis: connect, read and write timeout, milliseconds"),
    S("NORI_ROUTE", "route", route, "",
      "this worker's route: session keys travel as KEY.ROUTE (memory store, sticky balancers)"),
    N("NORI_MEMORY_MAX", "memory-max", memory_max, "100000", 1, 100000000,
      "memory store: sessions one worker keeps at most"),
    N("NORI_REDIS_WAIT", "redis-wait", redis_wait, "0", 0, 100,
      "Redis: replicas each commit must reach before the answer (WAIT)"),
    S("NORI_STATUS_PATH", "status-path", status_path, "/nori-status",
      "below the app: JSON counters, for loopback clients only"),
    C("NORI_SESSION_POLICY", "session-policy", policy_name, "lazy", "lazy|eager",
      "lazy: sessions only when state is written; eager: every request"),
    C("NORI_SESSION_CARRIER", "session-carrier", carrier_name, "url", "url|cookie",
      "the session key travels as _s in URLs, or in the nori_s cookie"),
    C("NORI_SESSION_BIND", "session-bind", bind_name, "on", "on|off",
      "url carrier: a session also needs its nori_b browser cookie"),
    S("NORI_COOKIE_PATH", "cookie-path", cookie_path, "",
      "Path= of nori_s/nori_b (default: the mount prefix); / lets an authorizer see them"),
    C("NORI_COOKIE_SECURE", "cookie-secure", cookie_secure_name, "auto", "auto|on",
      "Secure cookies: auto when the request came over HTTPS, on always (TLS proxy)"),
    S("NORI_ALLOWED_ORIGINS", "allowed-origins", allowed_origins, "",
      "origins a POST may come from besides the request's Host, e.g. https://shop.example"),
    N("NORI_BODY_TIMEOUT_MS", "body-timeout-ms", body_timeout_ms, "5000", 0, 600000,
      "a POST body not whole after this long answers 408 (0: no limit)"),
    N("NORI_SESSION_TTL", "session-ttl", ttl, "600", 2, 86400 * 30,
      "idle expiry, seconds"),
    N("NORI_SESSION_MAX_AGE", "session-max-age", max_age, "28800", 2, 86400 * 365,
      "absolute lifetime, seconds"),
    N("NORI_GC_FOREGROUND", "gc-foreground", gc_foreground, "8", 0, 100000,
      "expired sessions reclaimed with each commit"),
    N("NORI_GC_INTERVAL_MS", "gc-interval-ms", gc_interval_ms, "1000", 10, 86400000,
      "background sweep period (one worker at a time)"),
    N("NORI_GC_BATCH", "gc-batch", gc_batch, "1000", 1, 1000000,
      "expired sessions reclaimed per background sweep"),
    C("NORI_SYNC", "sync", sync_name, "fsync", "fsync|none",
      "fsync every commit, or leave flushing to the OS"),
    N("NORI_LMDB_MAPSIZE", "lmdb-mapsize", map_size_mb, "256", 1, 1048576,
      "LMDB map size, MiB: the most the store can hold"),
    N("NORI_LOGIN_FAILURES", "login-failures", login_failures, "10", 0, 1000000,
      "failed logins (per user, per address) that lock it out; 0: no throttle"),
    N("NORI_LOGIN_LOCKOUT", "login-lockout", login_lockout, "900", 1, 86400 * 7,
      "seconds a lockout lasts, and a failure is remembered"),
    S("NORI_LISTEN", "listen", listen, "unix:" NORI_RUNDIR "/nori.sock",
      "nori serve: the socket, unix:PATH or HOST:PORT"),
    O("NORI_SOCKET_MODE", "socket-mode", socket_mode, "", 07777,
      "nori serve: octal mode of a unix socket, e.g. 0660 (default: umask)"),
    S("NORI_SOCKET_GROUP", "socket-group", socket_group, "",
      "nori serve: group of a unix socket, e.g. www-data (default: nori's own)"),
    N("NORI_WORKERS", "workers", workers, "4", 1, 256,
      "nori serve: worker processes"),
    N("NORI_MAX_REQUESTS", "max-requests", max_requests, "0", 0, 1000000000,
      "nori serve: recycle a worker after this many requests (0: never)"),
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

static int choice_index(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    int i = 0;

    for (const char *p = choices; p; i++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vl && strncmp(p, v, n) == 0)
            return i;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* A number in base 10 (NUM) or 8 (OCTAL) within the setting's bounds;
 * an empty OCTAL value means 0, "leave it alone". */
static int number_parse(const struct setting *s, const char *value,
                        unsigned long *out)
{
    char *end;

    if (s->kind == OCTAL && value[0] == '\0') {
        *out = 0;
        return 0;
    }
    errno = 0;
    *out = strtoul(value, &end, s->kind == OCTAL ? 8 : 10);
    return errno || end == value || *end || value[0] == '-' || value[0] == '+' ||
                   value[0] == ' ' || *out < s->min || *out > s->max
               ? -1 : 0;
}

/* from_flag: the value came from --flag, so the message names the flag,
 * as the user wrote it; otherwise the variable. */
static int setting_apply(struct shop_config *cfg, const struct setting *s,
                         const char *value, int from_flag, char *err,
                         size_t errlen)
{
    char *field = (char *)cfg + s->offset;
    const char *dashes = from_flag ? "--" : "";
    const char *name = from_flag ? s->flag : s->env;
    unsigned long n;

    switch (s->kind) {
    case STR:
    case CHOICE:
        if (s->kind == CHOICE && choice_index(s->choices, value) < 0) {
            snprintf(err, errlen, "%s%s=%s: not one of %s", dashes, name, value,
                     s->choices);
            return -1;
        }
        memcpy(field, &value, sizeof value);
        return 0;
    case NUM:
    case OCTAL:
        if (number_parse(s, value, &n) < 0 && s->kind == OCTAL) {
            snprintf(err, errlen, "%s%s=%s: not an octal mode from 0 to %lo",
                     dashes, name, value, s->max);
            return -1;
        }
        if (number_parse(s, value, &n) < 0) {
            snprintf(err, errlen, "%s%s=%s: not a number from %lu to %lu",
                     dashes, name, value, s->min, s->max);
            return -1;
        }
        memcpy(field, &n, sizeof n);
        return 0;
    }
    return -1;
}

static int derive(struct shop_config *cfg, char *err, size_t errlen)
{
    cfg->policy = choice_index("lazy|eager", cfg->policy_name) == 1 ? POLICY_EAGER : POLICY_LAZY;
    cfg->carrier = choice_index("url|cookie", cfg->carrier_name) == 1 ? CARRIER_COOKIE : CARRIER_URL;
    cfg->bind = strcmp(cfg->bind_name, "on") == 0;
    cfg->nosync = strcmp(cfg->sync_name, "none") == 0;
    cfg->cookie_secure = strcmp(cfg->cookie_secure_name, "on") == 0;
    /* Refused at start, not at the first Set-Cookie: a CR/LF would split
     * the header, a ';' add attributes, a cut line lose HttpOnly. */
    if (cfg->cookie_path[0] && !cookie_path_valid(cfg->cookie_path)) {
        snprintf(err, errlen, "NORI_COOKIE_PATH: not a cookie path (it must start "
                 "with /, have no control character or ';', at most %d bytes)",
                 COOKIE_PATH_MAX);
        return -1;
    }
    if (!origin_list_valid(cfg->allowed_origins)) {
        snprintf(err, errlen, "NORI_ALLOWED_ORIGINS: each entry must be an origin, "
                 "http(s)://host[:port], separated by commas or blanks");
        return -1;
    }
    size_t rl = strspn(cfg->route, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                   "0123456789-_");
    if (cfg->route[rl] != '\0' || rl > NAV_ROUTE_MAX) {
        snprintf(err, errlen, "NORI_ROUTE: '%s' is not 1..%d of A-Z a-z 0-9 - _",
                 cfg->route, NAV_ROUTE_MAX);
        return -1;
    }
    if (cfg->store_spec[0] == '\0') {
        int n = snprintf(cfg->store_default, sizeof cfg->store_default,
                         "lmdb:%s/sessions", cfg->rundir);
        if (n < 0 || (size_t)n >= sizeof cfg->store_default) {
            snprintf(err, errlen, "NORI_RUNDIR=%s: path too long", cfg->rundir);
            return -1;
        }
        cfg->store_spec = cfg->store_default;
    }
    return 0;
}

enum config_err config_load(struct shop_config *cfg, int argc, char **argv,
                            char *err, size_t errlen)
{
    struct option opts[NSETTINGS + 2];
    int c;

    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *v = getenv(settings[i].env);
        if (setting_apply(cfg, &settings[i], v && *v ? v : settings[i].def, 0,
                          err, errlen) < 0)
            return CONFIG_EVALUE;
        opts[i] = (struct option){settings[i].flag, required_argument, NULL, (int)i};
    }
    opts[NSETTINGS] = (struct option){"help", no_argument, NULL, 'h'};
    opts[NSETTINGS + 1] = (struct option){NULL, 0, NULL, 0};
    opterr = 0;         /* one line of our own instead of getopt's */
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'h') {
            config_usage(stdout);
            exit(0);
        }
        if (c == ':') {
            snprintf(err, errlen, "%s: needs a value", argv[optind - 1]);
            return CONFIG_EUSAGE;
        }
        if (c < 0 || (size_t)c >= NSETTINGS) {
            snprintf(err, errlen, "%s: unknown option (nori --help lists them)",
                     argv[optind - 1]);
            return CONFIG_EUSAGE;
        }
        if (setting_apply(cfg, &settings[c], optarg, 1, err, errlen) < 0)
            return CONFIG_EVALUE;
    }
    if (optind != argc) {
        snprintf(err, errlen, "%s: unexpected argument (nori --help)", argv[optind]);
        return CONFIG_EUSAGE;
    }
    return derive(cfg, err, errlen) < 0 ? CONFIG_EVALUE : CONFIG_OK;
}

void config_usage(FILE *out)
{
    fputs("usage: nori [--flag VALUE ...]      serve (FastCGI on fd 0) or answer one CGI request\n"
          "       nori serve [--listen ADDR] [--workers N] [--max-requests M] [--flag VALUE ...]\n"
          "                                     prefork supervisor on its own socket\n"
          "       nori check [--flag VALUE ...]  check every setting, print nothing, exit 0\n"
          "       nori stats                    print the counters of every worker\n"
          "\n"
          "With a FastCGI listening socket on fd 0 (lighttpd bin-path, spawn-fcgi,\n"
          "mod_fcgid) nori serves until SIGTERM; otherwise it answers one CGI\n"
          "request, e.g.  QUERY_STRING='pg=Item&id=26' nori\n\n"
          "Settings (environment variable, flag, default); flags win:\n",
          out);
    for (size_t i = 0; i < NSETTINGS; i++) {
        const struct setting *s = &settings[i];
        fprintf(out, "  %-22s --%-16s %s\n      %s", s->env, s->flag,
                s->def[0] ? s->def : "(see below)", s->help);
        if (s->kind == CHOICE)
            fprintf(out, " (%s)", s->choices);
        fputc('\n', out);
    }
}
