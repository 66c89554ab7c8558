/* config.c -- the settings tables. One row per setting: its variable,
 * its flag, its type and bounds, its default, and one line of help, from
 * which `nori --help` is printed. nori's table comes first, then the
 * application's (nori_app.settings), read by the same code. */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../fcgi/origin.h"
#include "config.h"

#ifndef NORI_RUNDIR
#define NORI_RUNDIR "var"
#endif

#define S(env, flag, member, def, help) \
    NORI_SETTING_STR(struct nori_config, env, flag, member, def, help)
#define N(env, flag, member, def, min, max, help) \
    NORI_SETTING_NUM(struct nori_config, env, flag, member, def, min, max, help)
#define O(env, flag, member, def, max, help) \
    {env, flag, NORI_SET_OCTAL, offsetof(struct nori_config, member), def, 0, max, NULL, help}
#define C(env, flag, member, def, choices, help) \
    NORI_SETTING_CHOICE(struct nori_config, env, flag, member, def, choices, help)

static const struct nori_setting settings[] = {
    S("NORI_RUNDIR", "rundir", rundir, NORI_RUNDIR,
      "runtime state: the counters file and the default store "
      "(default: this directory/the application's name)"),
    S("NORI_STORE", "store", store_spec, "",
      "session store: lmdb:PATH (default lmdb:RUNDIR/sessions), "
      "redis://[:PASSWORD@]HOST:PORT[/DB], redis+unix:///PATH[?db=N], "
      "redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTER, memory"),
    S("NORI_REDIS_PREFIX", "redis-prefix", redis_prefix, "nori:",
      "Redis: before every session key, so that several applications share one Redis"),
    N("NORI_REDIS_TIMEOUT_MS", "redis-timeout-ms", redis_timeout_ms, "500", 1, 60000,
      "Redis: connect, read and write timeout, milliseconds"),
    S("NORI_ROUTE", "route", route, "",
      "this worker's route: session keys travel as KEY.ROUTE (memory store, sticky balancers)"),
    N("NORI_MEMORY_MAX", "memory-max", memory_max, "100000", 1, 100000000,
      "memory store: sessions one worker keeps at most"),
    N("NORI_REDIS_WAIT", "redis-wait", redis_wait, "0", 0, 100,
      "Redis: replicas each commit must reach before the answer (WAIT)"),
    C("NORI_PAGE_CACHE", "page-cache", page_cache_name, "on", "on|off",
      "keep sessionless pages as files under RUNDIR/pages for the web server to serve"),
    N("NORI_PAGE_CACHE_MAX", "page-cache-max", page_cache_max_kb, "65536", 4, 1073741824,
      "page cache: KiB the pages of one generation (a catalog, a build) may take"),
    S("NORI_STATUS_PATH", "status-path", status_path, "/nori-status",
      "below the app: JSON counters (?openmetrics: Prometheus), for loopback clients only"),
    S("NORI_PING_PATH", "ping-path", ping_path, "/nori-ping",
      "below the app: pong while the store answers, 503 when not; loopback clients only"),
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
    S("NORI_LOG_FILE", "log-file", log_file, "",
      "append log lines here, each with an ISO-8601 time and the pid (SIGUSR1 to nori serve reopens it)"),
    N("NORI_BODY_TIMEOUT_MS", "body-timeout-ms", body_timeout_ms, "5000", 0, 600000,
      "a POST body not whole after this long answers 408 (0: no limit)"),
    N("NORI_NEW_SESSIONS_PER_MIN", "new-sessions-per-min", new_sessions_per_min, "120",
      0, 1000000, "sessions one client address may create a minute (a minute's worth "
      "at once); past it 429 (0: no cap)"),
    N("NORI_PARAMS_TIMEOUT_MS", "params-timeout-ms", params_timeout_ms, "5000", 0, 600000,
      "a request's FastCGI params not whole after this long: the connection is dropped (0: no limit)"),
    C("NORI_SANDBOX", "sandbox", sandbox_name, "on", "on|net|off",
      "confine each worker to the system calls serving needs (seccomp); net: it may also connect out"),
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
    C("NORI_SYNC", "sync", sync_name, "fsync", "fsync|none|background",
      "lmdb: durable before the answer (commits share syncs), never synced, or "
      "synced every NORI_SYNC_MS (the last ms of answered writes lost on power failure)"),
    N("NORI_SYNC_MS", "sync-ms", sync_ms, "100", 1, 60000,
      "lmdb, NORI_SYNC=background: the longest an answered write waits for its sync"),
    N("NORI_LMDB_MAPSIZE", "lmdb-mapsize", map_size_mb, "256", 1, 1048576,
      "LMDB map size, MiB: the most the store can hold"),
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
static int number_parse(const struct nori_setting *s, const char *value,
                        unsigned long *out)
{
    char *end;

    if (s->kind == NORI_SET_OCTAL && value[0] == '\0') {
        *out = 0;
        return 0;
    }
    errno = 0;
    *out = strtoul(value, &end, s->kind == NORI_SET_OCTAL ? 8 : 10);
    return errno || end == value || *end || value[0] == '-' || value[0] == '+' ||
                   value[0] == ' ' || *out < s->min || *out > s->max
               ? -1 : 0;
}

/* from_flag: the value came from --flag, so the message names the flag,
 * as the user wrote it; otherwise the variable. */
static int setting_apply(void *base, const struct nori_setting *s,
                         const char *value, int from_flag, char *err,
                         size_t errlen)
{
    char *field = (char *)base + s->offset;
    const char *dashes = from_flag ? "--" : "";
    const char *name = from_flag ? s->flag : s->env;
    unsigned long n;

    switch (s->kind) {
    case NORI_SET_STR:
    case NORI_SET_CHOICE:
        if (s->kind == NORI_SET_CHOICE && choice_index(s->choices, value) < 0) {
            snprintf(err, errlen, "%s%s=%s: not one of %s", dashes, name, value,
                     s->choices);
            return -1;
        }
        memcpy(field, &value, sizeof value);
        return 0;
    case NORI_SET_NUM:
    case NORI_SET_OCTAL:
        if (number_parse(s, value, &n) < 0 && s->kind == NORI_SET_OCTAL) {
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

static int derive(struct nori_config *cfg, char *err, size_t errlen)
{
    cfg->policy = choice_index("lazy|eager", cfg->policy_name) == 1 ? POLICY_EAGER : POLICY_LAZY;
    cfg->carrier = choice_index("url|cookie", cfg->carrier_name) == 1 ? CARRIER_COOKIE : CARRIER_URL;
    cfg->bind = strcmp(cfg->bind_name, "on") == 0;
    cfg->nosync = strcmp(cfg->sync_name, "fsync") != 0;
    cfg->background_sync_ms = strcmp(cfg->sync_name, "background") == 0 ? cfg->sync_ms : 0;
    cfg->cookie_secure = strcmp(cfg->cookie_secure_name, "on") == 0;
    cfg->page_cache = strcmp(cfg->page_cache_name, "on") == 0;
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
    /* A route is the word after the dot of KEY.ROUTE: the grammar's rule. */
    size_t rl = strlen(cfg->route);
    if (rl > 0 && (!nav_word(cfg->route, rl) || rl > NAV_ROUTE_MAX)) {
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

/* The row of nori's setting at offset, for its compiled default. */
static const char *default_of(size_t offset)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].offset == offset)
            return settings[i].def;
    return "";
}

/* The default run directory is compiled into the library, so every
 * application started without NORI_RUNDIR would share it: one start
 * would remove another's cache generation, and one store would hold both
 * applications' sessions, each accepting the other's keys. So the
 * default is per application: NORI_RUNDIR's default, then the
 * application's name in letters, digits and dashes ("the nori sushi
 * shop": the-nori-sushi-shop). A value given, even the same path, is
 * used as given. The default socket follows the run directory. */
static int rundir_per_app(struct nori_config *cfg, const struct nori_app *app,
                          char *err, size_t errlen)
{
    char name[64];
    size_t n = 0;

    if (cfg->rundir == default_of(offsetof(struct nori_config, rundir))) {
        for (const char *p = app->name ? app->name : ""; *p && n + 1 < sizeof name; p++) {
            char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
            int word = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
            if (word)
                name[n++] = c;
            else if (n > 0 && name[n - 1] != '-')
                name[n++] = '-';
        }
        while (n > 0 && name[n - 1] == '-')
            n--;
        name[n] = '\0';
        int w = snprintf(cfg->rundir_default, sizeof cfg->rundir_default, "%s/%s",
                         cfg->rundir, n ? name : "app");
        if (w < 0 || (size_t)w >= sizeof cfg->rundir_default) {
            snprintf(err, errlen, "NORI_RUNDIR=%s: path too long", cfg->rundir);
            return -1;
        }
        cfg->rundir = cfg->rundir_default;
    }
    if (cfg->listen == default_of(offsetof(struct nori_config, listen))) {
        snprintf(cfg->listen_default, sizeof cfg->listen_default, "unix:%s/nori.sock",
                 cfg->rundir);
        cfg->listen = cfg->listen_default;
    }
    return 0;
}

/* getopt's value for row i is ROW_VAL + i: above every option byte. */
#define ROW_VAL 256

/* The two tables as one list: nori's rows, then the application's. */
struct table {
    const struct nori_setting *row;
    void *base;
};

static size_t table_size(const struct nori_app *app)
{
    return NSETTINGS + app->nsettings;
}

static struct table table_row(struct nori_config *cfg, const struct nori_app *app,
                              size_t i)
{
    if (i < NSETTINGS)
        return (struct table){&settings[i], cfg};
    return (struct table){&app->settings[i - NSETTINGS], app->config};
}

/* Two rows of one variable would leave it to the order of the tables
 * which one the value fills, and two of one flag to getopt; the other
 * setting would keep its default without a word. Refused at start,
 * before any value is read, with both rows named. --help and --version
 * are nori's command line, not rows, but a row's flag must not hide
 * them either. */
static int table_clash(const struct nori_app *app, char *err, size_t errlen)
{
    static const char *const reserved[] = {"help", "version"};
    size_t n = table_size(app);

    for (size_t i = NSETTINGS; i < n; i++) {
        const struct nori_setting *a = &app->settings[i - NSETTINGS];
        if (a->env == NULL || a->flag == NULL || a->env[0] == '\0' || a->flag[0] == '\0') {
            snprintf(err, errlen, "setting %zu of %s: it needs a variable and a flag",
                     i - NSETTINGS + 1, app->name);
            return -1;
        }
        for (size_t k = 0; k < sizeof reserved / sizeof reserved[0]; k++)
            if (strcmp(a->flag, reserved[k]) == 0) {
                snprintf(err, errlen, "%s (--%s) of %s: --%s is nori's own flag",
                         a->env, a->flag, app->name, reserved[k]);
                return -1;
            }
        for (size_t j = 0; j < i; j++) {
            const struct nori_setting *b = j < NSETTINGS ? &settings[j]
                                                         : &app->settings[j - NSETTINGS];
            int env = strcmp(a->env, b->env) == 0, flag = strcmp(a->flag, b->flag) == 0;
            if (!env && !flag)
                continue;
            snprintf(err, errlen, "%s (--%s) of %s has the %s of %s (--%s), a setting of %s",
                     a->env, a->flag, app->name, env ? "variable" : "flag", b->env, b->flag,
                     j < NSETTINGS ? "nori" : app->name);
            return -1;
        }
    }
    return 0;
}

void config_session_options(const struct nori_config *cfg,
                            const struct nori_state_codec *codec, struct sessions *out)
{
    *out = (struct sessions){
        .store_spec = cfg->store_spec,
        .store_opt = {.nosync = cfg->nosync,
                      .sync_ms = (unsigned)cfg->background_sync_ms,
                      .map_size = (size_t)cfg->map_size_mb << 20,
                      .gc_foreground = (unsigned)cfg->gc_foreground,
                      .redis_prefix = cfg->redis_prefix,
                      .redis_timeout_ms = (unsigned)cfg->redis_timeout_ms,
                      .redis_wait = (unsigned)cfg->redis_wait,
                      .memory_max = cfg->memory_max,
                      .orphan_dir = cfg->orphan_dir},
        .gc_interval_ms = cfg->gc_interval_ms,
        .gc_batch = (unsigned)cfg->gc_batch,
        .life = {.ttl = cfg->ttl, .max_age = cfg->max_age},
        .policy = cfg->policy,
        .carrier = cfg->carrier,
        .bind = cfg->bind,
        .cookie_path = cfg->cookie_path,
        .cookie_secure = cfg->cookie_secure,
        .route = cfg->route,
        .codec = codec,
        .new_per_min = (unsigned)cfg->new_sessions_per_min,
    };
}

enum config_err config_load(struct nori_config *cfg, const struct nori_app *app,
                            int argc, char **argv, char *err, size_t errlen)
{
    size_t n = table_size(app);
    struct option *opts = calloc(n + 2, sizeof *opts);
    enum config_err rc = CONFIG_EVALUE;
    int c;

    if (opts == NULL) {
        snprintf(err, errlen, "out of memory");
        return CONFIG_EVALUE;
    }
    memset(cfg, 0, sizeof *cfg);
    if (table_clash(app, err, errlen) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        struct table t = table_row(cfg, app, i);
        const char *v = getenv(t.row->env);
        if (setting_apply(t.base, t.row, v && *v ? v : t.row->def, 0, err, errlen) < 0)
            goto done;
        /* Past any byte, so that no row's value is ':', '?' or 'h'. */
        opts[i] = (struct option){t.row->flag, required_argument, NULL, ROW_VAL + (int)i};
    }
    opts[n] = (struct option){"help", no_argument, NULL, 'h'};
    opterr = 0;         /* one line of our own instead of getopt's */
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (c == 'h') {
            config_usage(app, stdout);
            exit(0);
        }
        rc = CONFIG_EUSAGE;
        if (c == ':') {
            snprintf(err, errlen, "%s: needs a value", argv[optind - 1]);
            goto done;
        }
        if (c < ROW_VAL || (size_t)(c - ROW_VAL) >= n) {
            snprintf(err, errlen, "%s: unknown option (nori --help lists them)",
                     argv[optind - 1]);
            goto done;
        }
        rc = CONFIG_EVALUE;
        c -= ROW_VAL;
        struct table t = table_row(cfg, app, (size_t)c);
        if (setting_apply(t.base, t.row, optarg, 1, err, errlen) < 0)
            goto done;
        if ((size_t)c < 64 * sizeof cfg->flagged / sizeof cfg->flagged[0])
            cfg->flagged[c / 64] |= 1ull << (c % 64);
    }
    if (optind != argc) {
        snprintf(err, errlen, "%s: unexpected argument (nori --help)", argv[optind]);
        rc = CONFIG_EUSAGE;
        goto done;
    }
    rc = CONFIG_OK;
    if (rundir_per_app(cfg, app, err, errlen) < 0) {
        rc = CONFIG_EVALUE;
    } else if (derive(cfg, err, errlen) < 0) {
        config_name_given(cfg, app, err, errlen);
        rc = CONFIG_EVALUE;
    }
done:
    free(opts);
    return rc;
}

void config_name_given(const struct nori_config *cfg, const struct nori_app *app,
                       char *msg, size_t cap)
{
    size_t n = strspn(msg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    size_t rows = table_size(app);

    if (n == 0 || (msg[n] != '=' && msg[n] != ':'))
        return;
    for (size_t i = 0; i < rows && i < 64 * sizeof cfg->flagged / sizeof cfg->flagged[0];
         i++) {
        const struct nori_setting *row =
            i < NSETTINGS ? &settings[i] : &app->settings[i - NSETTINGS];
        if (strlen(row->env) != n || strncmp(row->env, msg, n) != 0)
            continue;
        if (!(cfg->flagged[i / 64] & (1ull << (i % 64))))
            return;
        size_t fl = strlen(row->flag) + 2, len = strlen(msg);
        if (len - n + fl >= cap)
            return;
        memmove(msg + fl, msg + n, len - n + 1);
        memcpy(msg, "--", 2);
        memcpy(msg + 2, row->flag, fl - 2);
        return;
    }
}

static void usage_rows(const struct nori_setting *rows, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++) {
        const struct nori_setting *s = &rows[i];
        fprintf(out, "  %-22s --%-16s %s\n      %s", s->env, s->flag,
                s->def[0] ? s->def : "(see below)", s->help);
        if (s->kind == NORI_SET_CHOICE)
            fprintf(out, " (%s)", s->choices);
        fputc('\n', out);
    }
}

void config_usage(const struct nori_app *app, FILE *out)
{
    fputs("usage: nori [--flag VALUE ...]      serve (FastCGI on fd 0) or answer one CGI request\n"
          "       nori serve [--listen ADDR] [--workers N] [--max-requests M] [--flag VALUE ...]\n"
          "                                     prefork supervisor on its own socket\n"
          "       nori check [--flag VALUE ...]  check every setting, print nothing, exit 0\n"
          "       nori stats                    print the counters of every worker\n"
          "       nori --version                print the version and the build\n"
          "\n"
          "With a FastCGI listening socket on fd 0 (lighttpd bin-path, spawn-fcgi,\n"
          "mod_fcgid) nori serves until SIGTERM; otherwise it answers one CGI\n"
          "request, e.g.  QUERY_STRING='pg=Item&id=26' nori\n\n",
          out);
    fprintf(out, "Settings of %s (environment variable, flag, default); flags win:\n",
            app->name);
    usage_rows(app->settings, app->nsettings, out);
    fputs("Settings of nori:\n", out);
    usage_rows(settings, NSETTINGS, out);
}
