/* action.c -- the POST path: the form read and checked, the action
 * picked and run inside the visit's transaction, its result checked, and
 * the answer (a redirect, a page shown, a failure). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../fcgi/origin.h"
#include "../fcgi/stats.h"
#include "service.h"


static int is_form(const char *content_type)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof form - 1;

    return content_type && strncasecmp(content_type, form, n) == 0 &&
           (content_type[n] == '\0' || content_type[n] == ';' ||
            content_type[n] == ' ');
}

/* With an action table, the first parse (by app->form, which such an
 * application leaves empty) has read nori's fields: act picks the
 * action, whose grammar parses the body again into its own struct, and
 * whose required fields must be there, before anything runs. A form
 * without act is left to action_visit, which answers it as before. */
static int action_pick(struct nori_req *r)
{
    struct nori *n = r->nori;
    const struct nori_app *app = n->svc->app;
    const struct request *req = n->req;
    const struct nori_action *action = NULL;
    struct nav nav;
    enum nav_err err;
    void *form;

    if (!(n->nav.core & NAV_HAS_ACT))
        return 0;
    for (size_t i = 0; i < app->nactions && action == NULL; i++)
        if (strcmp(app->actions[i].name, n->nav.act) == 0)
            action = &app->actions[i];
    if (action == NULL) {
        service_answer_error(r, 400, "There is no such action.", ANSWER_PAGE, 0);
        return -1;
    }
    if ((form = nori_alloc(r, action->form.size)) == NULL)
        return -1;
    if ((err = nav_parse_form(&action->form, req->body, req->body_len, &nav, form)) != NAV_OK) {
        service_answer_error(r, nav_status(err), nav_strerror(err), ANSWER_PAGE, 0);
        return -1;
    }
    for (size_t i = 0; i < action->form.nfields; i++) {
        if ((action->required & (1u << i)) && !(nav.seen & (1u << i))) {
            char *why = nori_alloc(r, 64 + NORI_NAME_MAX);
            if (why)
                snprintf(why, 64 + NORI_NAME_MAX, "The form needs its field '%.*s'.",
                         NORI_NAME_MAX, action->form.fields[i].name);
            service_answer_error(r, 400, why ? why : "The form misses a field.", ANSWER_PAGE, 0);
            return -1;
        }
    }
    n->action = action;
    r->form = form;
    return 0;
}

/* Checks a POST in the order a client can act on: size, then type, then
 * whether it arrived whole, then its grammar. Only then may it act. */
static int form_read(struct nori_req *r, struct nav *query_nav)
{
    struct nori *n = r->nori;
    const struct nori_app *app = n->svc->app;
    const struct request *req = n->req;
    enum nav_err err;

    switch (req->body_err) {
    case BODY_OK:
        break;
    case BODY_ETOOLARGE:
        service_answer_error(r, 413, "The form is larger than 16 KiB.", ANSWER_PAGE, 0);
        return -1;
    case BODY_ENOMEM:
        r->resp->failed = 1;
        return -1;
    case BODY_ETIMEOUT:
        service_answer_error(r, 408, "The form took too long to arrive; nothing was done.",
                     ANSWER_PAGE, 0);
        return -1;
    case BODY_ELENGTH:
    case BODY_ETRUNCATED:
        service_answer_error(r, 400, "The form arrived incomplete; nothing was done.",
                     ANSWER_PAGE, 0);
        return -1;
    }
    if (!is_form(req->content_type)) {
        service_answer_error(r, 415, "Forms must be application/x-www-form-urlencoded.",
                     ANSWER_PAGE, 0);
        return -1;
    }
    if ((err = nav_parse_form(&app->form, req->body, req->body_len, &n->nav,
                              (void *)r->form)) != NAV_OK ||
        (err = nav_parse(&app->query, req->query, req->query_len, query_nav,
                         (void *)r->query)) != NAV_OK) {
        service_answer_error(r, nav_status(err), nav_strerror(err), ANSWER_PAGE, 0);
        return -1;
    }
    return app->nactions ? action_pick(r) : 0;
}

static void redirect(struct nori_req *r, const struct nori_link *next)
{
    char url[NAV_QUERY_MAX + 256];
    const struct nori *n = r->nori;

    if (nav_url(url, sizeof url, n->req->script_name, &n->svc->app->query, next,
                visit_link_key(n->visit)) == 0) {
        r->resp->failed = 1;
        return;
    }
    r->resp->status = 303;
    service_add_headers(r->resp);
    response_header(r->resp, "Location", url);
    response_header(r->resp, "Content-Type", "text/plain; charset=utf-8");
    nori_response_puts(r->resp, "See Other\n");
}

/* A form posted from another site carries none of our SameSite=Lax
 * cookies, so without this it would pass for a new visitor's and could
 * log the victim into the attacker's account or replace their cookies.
 * Refused before anything is read from the store or the body. */
static int cross_site(struct nori_req *r)
{
    const struct request *req = r->nori->req;
    enum origin_err err = origin_check(req->origin, req->sec_fetch_site, req->host,
                                       r->nori->svc->cfg.allowed_origins);

    if (err == ORIGIN_OK)
        return 0;
    request_log(req, "nori: refused a POST from another site: %s", origin_strerror(err));
    service_answer_error(r, 403, "This form was sent from another site; nothing was done.",
                 ANSWER_PAGE, 0);
    return 1;
}

/* One run of the application's action, as visit_run calls it: perhaps
 * again, on fresh state, after a conflict. What a refused action wrote
 * is put back (visit_rollback), so that a page shown after it shows the
 * session as it is in the store. */
struct action_run {
    struct nori_req *r;
    struct nori_result res;
    char fault[160];            /* what was wrong with act's result, "" nothing */
};

/* What act may return: each outcome with its one status, and a page
 * the table has (NULL: the first). Anything else is the application's
 * mistake, said in what: the answer is a 500 and nothing is kept. */
static int result_check(const struct service *svc, const struct nori_result *res,
                        char *what, size_t cap)
{
    switch (res->outcome) {
    case NORI_REDIRECT:
        if (res->status != 303)
            snprintf(what, cap, "a redirect of status %d (a redirect is a 303)",
                     res->status);
        else if (res->next.pg && route_find(svc->routes, res->next.pg) == NULL)
            snprintf(what, cap, "a redirect to page '%.64s', which is not in the page "
                     "table", res->next.pg);
        else
            return 0;
        return -1;
    case NORI_SHOW:
        if (res->status != 200)
            snprintf(what, cap, "a page shown with status %d (a page shown is a 200)",
                     res->status);
        else if (res->page && route_find(svc->routes, res->page) == NULL)
            snprintf(what, cap, "page '%.64s' to show, which is not in the page table",
                     res->page);
        else
            return 0;
        return -1;
    case NORI_FAIL:
        if (res->status >= 400 && res->status <= 599)
            return 0;
        snprintf(what, cap, "a failure of status %d (a failure is a 4xx or 5xx)",
                 res->status);
        return -1;
    }
    snprintf(what, cap, "outcome %d, which is none of nori.h's", (int)res->outcome);
    return -1;
}

static int action_visit(struct visit *v, void *arg)
{
    struct action_run *a = arg;
    struct nori *n = a->r->nori;
    const struct nori_app *app = n->svc->app;

    n->visit = v;
    n->write_failed = 0;
    a->fault[0] = '\0';
    if (!visit_form_ok(v, n->nav.k)) {
        a->res = nori_fail(403, "This form is not from your session (or it is too "
                           "old); nothing was changed. Reload the page and try again.");
        return a->res.status;
    }
    if (!(n->nav.core & NAV_HAS_ACT)) {
        a->res = nori_fail(400, "The form says no action.");
        return a->res.status;
    }
    if (visit_begin(v) != VISIT_OK) {
        a->res = nori_fail(503, visit_strerror(VISIT_ENOMEM));
        return a->res.status;
    }
    n->in_action = 1;
    a->res = n->action ? n->action->run(a->r) : app->act(a->r);
    n->in_action = 0;
    if (n->write_failed)
        a->res = nori_fail(503, "No session could be made; please try again.");
    else if (result_check(n->svc, &a->res, a->fault, sizeof a->fault) < 0)
        a->res = nori_fail(500, "Please try again.");
    if (a->res.outcome == NORI_REDIRECT)
        return 303;
    /* A page shown, or a failure: nothing the action wrote is kept. */
    visit_rollback(v);
    return a->res.status;
}

void service_serve_action(struct nori_req *r, uint64_t now)
{
    struct nori *n = r->nori;
    struct service *svc = n->svc;
    const struct request *req = n->req;
    struct nav query_nav;
    struct visit *visit;
    struct action_run a = {.r = r};
    const char *s_param = NULL;
    enum visit_err verr;
    int status;

    if (cross_site(r) || form_read(r, &query_nav) < 0)
        return;
    visit = service_visit_new(r);
    if (visit == NULL) {
        r->resp->failed = 1;
        return;
    }
    /* Forms carry _s as a hidden field; a client may also post to a URL
     * that carries it. */
    if (n->nav.core & NAV_HAS_S)
        s_param = n->nav.s;
    else if (query_nav.core & NAV_HAS_S)
        s_param = query_nav.s;
    r->act = n->nav.act;
    verr = visit_run(visit, &svc->sessions, req, s_param, now, action_visit, &a, &status);
    if (verr != VISIT_OK) {
        n->visit = NULL;
        service_answer_visit_error(r, visit, verr);
        return;
    }
    n->visit = visit;
    if (a.fault[0]) {
        char what[200];
        snprintf(what, sizeof what, "action %s returned %s", r->act, a.fault);
        service_log_fault(r, what);
    }
    stats_add(svc->stats, STAT_ACTIONS, 1);
    if (svc->app->acted)
        svc->app->acted(r, &a.res);
    switch (a.res.outcome) {
    case NORI_SHOW: {
        const struct nori_page *page = route_find(svc->routes, a.res.page ? a.res.page
                                                               : svc->app->pages[0].name);
        r->notice = a.res.why;
        status = page ? service_render(r, page) : 404;
        if (page == NULL)
            service_answer_error(r, 404, "There is no such page.", ANSWER_PAGE, 0);
        break;
    }
    case NORI_FAIL:
        status = a.res.status;
        service_answer_error(r, status, a.res.why ? a.res.why : "The action failed.",
                     ANSWER_PAGE, a.res.retry_after);
        break;
    case NORI_REDIRECT:
    default:
        status = 303;
        redirect(r, &a.res.next);
        break;
    }
    service_add_session_headers(r, status);
}
