/* authorize.c -- the FastCGI authorizer role (and nginx's auth_request
 * to /authorize): whether a request carries a live session with a
 * principal, and whose. */
#include <string.h>

#include "service.h"

/* The FastCGI authorizer role (or nginx's auth_request subrequest to
 * /authorize): the web server asks whether the request it holds (for a
 * protected path, say /members/) may proceed. It may when it carries a
 * live session with a principal; the name goes back as NORI_USER for
 * whatever serves the path. Nothing is rendered or committed: an
 * authorizer answers for someone else's content. */
void service_serve_authorize(struct nori_req *r, uint64_t now)
{
    struct nori *n = r->nori;
    struct service *svc = n->svc;
    const struct request *req = n->req;
    struct nav nav;
    const char *s_param = NULL, *who;
    int status;

    if ((n->visit = service_visit_new(r)) == NULL) {
        r->resp->failed = 1;
        return;
    }
    if (nav_parse(&svc->app->query, req->query, req->query_len, &nav,
                  (void *)r->query) == NAV_OK && (nav.core & NAV_HAS_S))
        s_param = nav.s;
    if (visit_run(n->visit, &svc->sessions, req, s_param, now, service_read_only, NULL,
                  &status) != VISIT_OK) {
        service_answer_error(r, 503, "The session store is not available.", ANSWER_PLAIN, 0);
        return;
    }
    who = svc->app->principal ? svc->app->principal(r) : nori_user(r);
    if (nori_state(r) == NULL || who == NULL || who[0] == '\0') {
        service_answer_error(r, 403, "Log in first.", ANSWER_PLAIN, 0);
        return;
    }
    r->resp->status = 200;
    /* The answer names a user: no cache may keep it for another request. */
    response_header(r->resp, "Cache-Control", "no-store");
    response_header(r->resp, "Variable-NORI_USER", who);
}
