/* service.c -- an application loaded with nori's settings: its tables
 * checked, its sessions and routes made, its validator computed; and
 * freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fcgi/build.h"
#include "service.h"

/* Every action has a run, a name act can carry (nav.c's rule for it),
 * its own grammar, and requires only fields it has; no name twice. */
static int actions_check(const struct nori_app *app, char *err, size_t errlen)
{
    if (app->nactions && app->act) {
        snprintf(err, errlen, "%s: an application has an act function or an "
                 "action table, not both", app->name);
        return -1;
    }
    if (app->nactions && (app->actions == NULL || app->form.nfields)) {
        snprintf(err, errlen, "%s: with an action table, the fields are the actions' "
                 "(nori_app.form stays empty)", app->name);
        return -1;
    }
    for (size_t i = 0; i < app->nactions; i++) {
        const struct nori_action *a = &app->actions[i];
        size_t len = a->name ? strlen(a->name) : 0;
        int bad = len == 0 || len > NAV_ACT_MAX || a->run == NULL ||
                  (a->form.nfields < 32 && (a->required >> a->form.nfields) != 0);

        for (size_t c = 0; c < len; c++)
            bad |= !(a->name[c] >= 'a' && a->name[c] <= 'z');
        for (size_t j = 0; j < i && !bad; j++)
            bad |= strcmp(a->name, app->actions[j].name) == 0;
        if (bad) {
            snprintf(err, errlen, "action '%s': not a name of 1..%d of a-z, given "
                     "twice, without run, or requiring a field it has not",
                     a->name ? a->name : "", NAV_ACT_MAX);
            return -1;
        }
        if (nav_grammar_check(&a->form, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* Loaders say what is wrong; the message also names the setting. */
int service_init(struct service *svc, const struct nori_app *app,
                 const struct nori_config *cfg, char *err, size_t errlen)
{
    memset(svc, 0, sizeof *svc);
    svc->app = app;
    svc->cfg = *cfg;
    if (nav_grammar_check(&app->query, err, errlen) < 0 ||
        nav_grammar_check(&app->form, err, errlen) < 0 ||
        actions_check(app, err, errlen) < 0)
        return -1;
    /* No codec of its own: nori's, the struct's bytes (record.c), for an
     * application with state; version 1 unless it says. */
    svc->codec = app->state;
    if (svc->codec.encode == NULL && svc->codec.decode == NULL && svc->codec.size &&
        svc->codec.version == 0)
        svc->codec.version = 1;
    /* An application without state and without actions has nothing a
     * POST could do: it needs neither act nor a codec (dispatch answers
     * its POSTs 405). */
    int stateless = app->act == NULL && app->nactions == 0 && app->state.size == 0 &&
                    app->state.encode == NULL && app->state.decode == NULL;
    if (stateless)
        svc->codec.version = 1;
    if (app->npages == 0 ||
        (!stateless && app->act == NULL && app->nactions == 0) ||
        (app->state.encode == NULL) != (app->state.decode == NULL) ||
        svc->codec.size > NORI_STATE_MAX ||
        svc->codec.version == 0 || svc->codec.version > 255) {
        snprintf(err, errlen, "%s: an application needs pages, an act function or "
                 "actions, and a state codec or a state size (version 1..255, at "
                 "most %d bytes)", app->name, NORI_STATE_MAX);
        return -1;
    }
    config_session_options(cfg, &svc->codec, &svc->sessions);
    page_table_set(app);
    if ((svc->routes = route_new()) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < app->npages; i++) {
        const char *name = app->pages[i].name;
        if (name == NULL || app->pages[i].render == NULL) {
            snprintf(err, errlen, "page %zu of %s: it needs a name and a render function",
                     i + 1, app->name);
            goto fail;
        }
        if (!nav_word(name, strlen(name)) || strlen(name) > NAV_PG_MAX ||
            route_add(svc->routes, name, &app->pages[i]) < 0) {
            snprintf(err, errlen, "page '%s': not a name of 1..%d of A-Z a-z 0-9 - _, "
                     "or given twice", name, NAV_PG_MAX);
            goto fail;
        }
    }
    /* What a sessionless page shows depends on what the application says
     * (its data and settings) and on this build; the ETag covers both. */
    uint64_t h = app->etag ? app->etag(app->data) : NORI_HASH_INIT;
    h = nori_hash(h, nori_build_id, strlen(nori_build_id));
    /* And on the application's own build, which an application linked
     * against an installed libnori.a has no build id of nori's for, and
     * on the policy, which decides what a sessionless page is. */
    uint64_t program = cache_program_digest();
    h = nori_hash(h, &program, sizeof program);
    h = nori_hash(h, &cfg->policy, sizeof cfg->policy);
    snprintf(svc->etag, sizeof svc->etag, "\"%016llx\"", (unsigned long long)h);
    return 0;
fail:
    service_free(svc);
    return -1;
}

void service_free(struct service *svc)
{
    cache_close(&svc->cache);
    free(svc->prefix);
    free(svc->prefix_html);
    svc->prefix = svc->prefix_html = NULL;
    sessions_close(&svc->sessions);
    route_free(svc->routes);
    svc->routes = NULL;
}
