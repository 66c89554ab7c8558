/* service.h -- inside nori: an application loaded with nori's settings
 * (a service, service.c), and nori's side of one request. The dispatcher
 * (dispatch.c) picks the answer: a page (render.c), an action
 * (action.c), the monitor's status (status.c) or the authorizer's
 * (authorize.c); page.c is what pages call; main.c loads a service and
 * starts the worker or the supervisor. */
#ifndef NORI_SERVICE_H
#define NORI_SERVICE_H

#include "nori.h"
#include "../fcgi/http.h"
#include "../nav/nav.h"
#include "../nav/route.h"
#include "../session/visit.h"
#include "cache.h"
#include "config.h"

struct stats;

/* No script at all, styles and images only from our own origin, forms
 * only to us: a URL may carry a session key, so nothing may leak it or
 * inject into it. Sent with every page nori answers; the copies the web
 * server serves from the page cache get the same bytes from its
 * configuration (lighttpd.conf, deploy/nginx/nginx.conf), which must
 * change with this. */
#define HEADER_CSP "default-src 'none'; style-src 'self'; img-src 'self'; " \
                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

struct service {
    const struct nori_app *app;
    struct nori_config cfg;
    struct route_table *routes;
    struct sessions sessions;
    struct stats *stats;
    char etag[24];              /* of every sessionless page: see service_init */
    struct page_cache cache;
    char *prefix;               /* the first SCRIPT_NAME seen, and escaped: */
    char *prefix_html;          /* what links start with (page.c) */
    size_t prefix_html_len;
    struct nori_state_codec codec;  /* the application's, or nori's default */
    /* What the application got wrong and nori has logged already
     * (service_log_fault: a page's status, a link to no page): each once per
     * worker, not once per request. */
    struct service_fault {
        uint64_t digest;
        char line[200];         /* the log line, a format of its own */
    } faults[16];
    size_t nfaults;
};

/* nori's side of one request (struct nori of nori.h). */
struct nori {
    struct service *svc;
    const struct request *req;
    struct nav nav;
    struct visit *visit;        /* NULL on the sessionless fast path */
    int in_action;              /* nori_state_write and friends may act */
    int write_failed;           /* an action's session could not be made */
    const char *prefix_html;    /* the prefix escaped, from its first link on */
    size_t prefix_html_len;
    /* html.c: the open elements (from the arena, at the first open one),
     * and whether a bad call turned the page into a 500. */
    char (*html_open)[NORI_NAME_MAX + 1];
    unsigned html_depth;
    int html_bad;
    /* The action the table picked for this POST, or NULL (app->act). */
    const struct nori_action *action;
    /* A page's own answer: its reason (nori_page_fail), its type, and
     * whether it set headers or read the request's (never cached). */
    const char *page_why;
    const char *content_type;
    int page_private;
    int read_request;           /* nori_request_header: no shared cache either */
    /* A link or a prepared link the page wrote names no page of the
     * table (page.c): the answer is a 500 (render.c). Not terminated. */
    const char *bad_link;
    size_t bad_link_len;
};

int service_init(struct service *svc, const struct nori_app *app,
                 const struct nori_config *cfg, char *err, size_t errlen);
void service_free(struct service *svc);
/* The worker's handler: one request through the pipeline. */
void service_handle(const struct request *req, struct response *resp, void *svc);

/* dispatch.c: what every answer shares. */
enum answer_form { ANSWER_PAGE, ANSWER_PLAIN };
void service_add_headers(struct response *resp);
/* A session-bearing answer's cache headers and cookies. */
void service_add_session_headers(struct nori_req *r, int status);
void service_answer_error(struct nori_req *r, int status, const char *why,
                          enum answer_form form, unsigned retry);
void service_answer_visit_error(struct nori_req *r, const struct visit *v,
                                enum visit_err err);
void service_log_fault(struct nori_req *r, const char *what);
/* visit_run's work for a request that only reads. */
int service_read_only(struct visit *v, void *arg);
struct visit *service_visit_new(struct nori_req *r);

/* The name a link gave, as much of it as a log line needs. */
static inline int service_shown_len(size_t n)
{
    return n > 64 ? 64 : (int)n;
}

/* The answers dispatch.c picks from, one file each. */
int service_render(struct nori_req *r, const struct nori_page *page);   /* render.c */
void service_serve_page(struct nori_req *r, uint64_t now);              /* render.c */
void service_serve_action(struct nori_req *r, uint64_t now);            /* action.c */
void service_serve_status(struct nori_req *r);                          /* status.c */
void service_serve_ping(struct nori_req *r);                            /* status.c */
void service_serve_authorize(struct nori_req *r, uint64_t now);         /* authorize.c */

/* page.c: the application whose page names nori_link_prepare checks
 * links against (it has no request to find them by): nori_main sets it
 * before the application's load, service_init again. */
void page_table_set(const struct nori_app *app);
/* Whether name (n bytes) is a page of the application's table. */
int page_known(const struct nori_app *app, const char *name, size_t n);

/* page.c: the error page of nori's, used when the application has none. */
void page_error_plain(struct nori_req *r, int status, const char *why);

#endif
