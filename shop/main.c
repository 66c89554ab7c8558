/* main.c -- the sushi shop as nori sees it: its grammars, pages,
 * actions, state, settings and data, handed to nori_main(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shop.h"

#ifndef NORI_DATADIR
#define NORI_DATADIR "shop/data"
#endif

#define SET_STR(env, flag, member, def, help) \
    NORI_SETTING_STR(struct shop_config, env, flag, member, def, help)
#define SET_NUM(env, flag, member, def, min, max, help) \
    NORI_SETTING_NUM(struct shop_config, env, flag, member, def, min, max, help)

static const struct nori_setting settings[] = {
    SET_STR("NORI_CATALOG", "catalog", catalog_path, NORI_DATADIR "/catalog.tsv",
            "the menu, a TSV file read at start"),
    SET_STR("NORI_USERS", "users", users_path, NORI_DATADIR "/users",
            "user:crypt(3)-hash lines"),
    SET_STR("NORI_STYLE_URL", "style-url", style_url, "/static/nori.css",
            "the stylesheet every page links"),
    SET_STR("NORI_ICON_URL", "icon-url", icon_url, "/static/favicon.ico",
            "the icon every page links"),
    SET_NUM("NORI_LOGIN_FAILURES", "login-failures", login_failures, "10", 0, 1000000,
            "failed logins (per user, per address) that lock it out; 0: no throttle"),
    SET_NUM("NORI_LOGIN_LOCKOUT", "login-lockout", login_lockout, "900", 1, 86400 * 7,
            "seconds a lockout lasts, and a failure is remembered"),
};

static struct shop shop;

/* Loaders say what is wrong; the message also names the setting. A
 * line's fault is told as FILE:LINE:, the form editors jump to. */
static int load_failed(const char *setting, const char *path, char *err,
                       size_t errlen)
{
    char why[256];
    unsigned long line;
    int at = 0;

    snprintf(why, sizeof why, "%s", err);
    if (sscanf(why, "line %lu: %n", &line, &at) == 1 && at > 0)
        snprintf(err, errlen, "%s: %s:%lu: %s", setting, path, line, why + at);
    else
        snprintf(err, errlen, "%s=%s: %s", setting, path, why);
    return -1;
}

static int shop_load(void *data, const char *rundir, char *err, size_t errlen)
{
    struct shop *s = data;

    s->rundir = rundir;
    /* Built into the run directory when missing or older than the TSV
     * (catalog.c): the first start, `nori check` or a reload builds it,
     * and every worker after maps it. */
    if (catalog_open(&s->catalog, s->cfg.catalog_path, rundir, 1, err, errlen) < 0)
        return load_failed("NORI_CATALOG", s->cfg.catalog_path, err, errlen);
    if (users_load(&s->users, s->cfg.users_path, err, errlen) < 0) {
        catalog_close(&s->catalog);
        return load_failed("NORI_USERS", s->cfg.users_path, err, errlen);
    }
    /* Without it every page renders its frame, as a session's page does. */
    s->frame = calloc(1, sizeof *s->frame);
    return 0;
}

static void shop_unload(void *data)
{
    struct shop *s = data;

    users_free(&s->users);
    frame_free(s->frame);
    s->frame = NULL;
    catalog_close(&s->catalog);
}

/* A sessionless page shows the catalog, through the stylesheet and icon
 * URLs. */
static uint64_t shop_etag(const void *data)
{
    const struct shop *s = data;
    uint64_t h = s->catalog.digest;

    h = nori_hash(h, s->cfg.style_url, strlen(s->cfg.style_url) + 1);
    return nori_hash(h, s->cfg.icon_url, strlen(s->cfg.icon_url) + 1);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

int main(int argc, char **argv)
{
    const struct nori_app app = {
        .name = "the nori sushi shop",
        .query = shop_query_grammar,
        .form = shop_form_grammar,
        .pages = shop_pages,
        .npages = shop_npages,
        .act = shop_act,
        .acted = shop_acted,
        .state = shop_state_codec,
        .error_page = view_error,
        .settings = settings,
        .nsettings = COUNT(settings),
        .config = &shop.cfg,
        .load = shop_load,
        .unload = shop_unload,
        .etag = shop_etag,
        .data = &shop,
    };

    return nori_main(&app, argc, argv);
}
