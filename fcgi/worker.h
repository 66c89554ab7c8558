/* worker.h -- the FastCGI front. A worker serves one request at a time,
 * forever when fd 0 is a FastCGI listening socket, or answers a single
 * CGI request from its environment and stdin when it is not. */
#ifndef NORI_WORKER_H
#define NORI_WORKER_H

#include "http.h"
#include "sandbox.h"

struct stats;

typedef void (*worker_handler)(const struct request *req,
                               struct response *resp, void *ctx);

/* What a worker runs for each request, and where it counts requests and
 * 4xx/5xx answers (NULL: nowhere). */
struct worker_app {
    worker_handler handle;
    void *ctx;
    struct stats *stats;
};

/* Runs until SIGTERM/SIGINT (finishing the request in hand), after
 * max_requests requests when that is not 0 (only a supervisor that
 * respawns the worker may ask for that), or, in CGI mode, after one
 * request. Returns a process exit status. */
int worker_run(const struct worker_app *app, unsigned long max_requests);

/* How long a request body may take to arrive, in milliseconds, from the
 * moment the worker starts reading it (0: forever). Past it the request
 * gets BODY_ETIMEOUT and its connection is dropped. Set before
 * worker_run; forked workers inherit it. */
void worker_set_body_timeout(unsigned long ms);

/* How long a request's BEGIN_REQUEST and params may take to arrive, in
 * milliseconds, from the moment the worker has the connection (0:
 * forever). Past it, or when they are malformed or declare lengths
 * beyond what was sent (records.h), the connection is closed without an
 * answer and the worker takes the next one. */
void worker_set_params_timeout(unsigned long ms);

/* Whether a FastCGI worker confines itself (sandbox.h) before its first
 * accept. SANDBOX_OFF unless set. */
void worker_set_sandbox(enum sandbox_mode mode);

#endif
