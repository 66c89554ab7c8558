/* nori_test.h -- drive an application in memory, without a web server:
 * a GET or a POST goes through the very pipeline a worker runs (parsing
 * by the app's grammars, routing, sessions, the commit, headers), and
 * the answer's status, headers and body come back to the test.
 *
 * The harness is a browser of one tab: it keeps the cookies answers set
 * and, as a visitor following the application's own links and forms
 * would, the session key (_s) and form key (_k) the last page carried,
 * adding them to the next request that does not give its own. Settings
 * come from the environment, as a worker's do (NORI_STORE=memory for a
 * store in this process). Nothing here is thread-safe.
 *
 *     cc test.c app.c $(pkg-config --cflags --libs nori)
 */
#ifndef NORI_TEST_H
#define NORI_TEST_H

#include <stddef.h>

#include "nori.h"

struct nori_test;

/* One answer, as the web server would have sent it. Its pointers are
 * the harness's and valid until the next request on it, or its close. */
struct nori_test_answer {
    int status;
    const char *head;           /* the header lines, each ending in CRLF */
    size_t head_len;
    const char *body;           /* NUL-terminated; none for HEAD and 304 */
    size_t body_len;
};

/* The application loaded as a worker loads it: nori's settings and the
 * app's from the environment, then the app's load(), then the service.
 * rundir (made 0700 when missing, as a worker makes it) replaces
 * NORI_RUNDIR; NULL keeps the environment's. NULL on failure, with one
 * line naming the setting at fault in err (errlen bytes). */
struct nori_test *nori_test_open(const struct nori_app *app, const char *rundir,
                                 char *err, size_t errlen);
/* Unloads the app and frees the harness; its run directory stays. */
void nori_test_close(struct nori_test *t);

/* A GET of the app's URL with query (no leading '?'), from 127.0.0.1,
 * under the mount prefix /app. A query starting with '/' names a path
 * below the app first ("/nori-status", "/nori-status?openmetrics"): its
 * PATH_INFO. Returns the status, as a->status. */
int nori_test_get(struct nori_test *t, const char *query, struct nori_test_answer *a);
/* A POST of form (application/x-www-form-urlencoded) to the URL with
 * query, as a browser sends one from a page of the same site: Origin
 * and Sec-Fetch-Site say so, and the keys held are added to the form. */
int nori_test_post(struct nori_test *t, const char *query, const char *form,
                   struct nori_test_answer *a);
/* A GET of the last answer's Location (the 303 after an action), as a
 * browser follows it; -1 when the last answer had none. */
int nori_test_follow(struct nori_test *t, struct nori_test_answer *a);
/* The value of header name (case-insensitive) in the last answer, the
 * first of several; NULL when absent. Valid until the next request. */
const char *nori_test_header(const struct nori_test *t, const char *name);
/* Forgets the cookies and the keys held: the next request is a new
 * visitor's. The sessions stay in the store. */
void nori_test_forget(struct nori_test *t);
/* Sets (value non-NULL) or removes a request header the next requests
 * send: "If-None-Match", "If-Modified-Since", "Origin", "Host" or
 * "Sec-Fetch-Site". -1 for another name. */
int nori_test_request_header(struct nori_test *t, const char *name, const char *value);
/* The state of the session held, decoded from the store into state
 * (app->state.size bytes): 0, or -1 when no session is held or the
 * store has none by its key. */
int nori_test_state(struct nori_test *t, void *state);

#endif
