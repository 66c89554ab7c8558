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

/* Log lines go to PATH (appended, made 0640 when missing) instead of the
 * web server's log or stderr, each beginning with an ISO-8601 UTC time
 * and the pid. A path renamed or removed (rotated) is reopened at the
 * next line, by every process; worker_reopen_log does it at once (nori
 * serve on SIGUSR1). -1 with errno when PATH cannot be opened. */
int worker_set_log_file(const char *path);
void worker_reopen_log(void);
/* request_vlog with PREFIX written before the line (the supervisor's
 * "nori serve: "); the kind for the rate limit is still FMT. */
void worker_vlog(const char *prefix, const char *fmt, va_list ap);
/* TEXT, already formatted, as a line of the kind KIND (its format). */
void worker_log_text(const char *prefix, const char *kind, const char *text);
/* How long a request's BEGIN_REQUEST and params may take to arrive, in
 * milliseconds, from the moment the worker has the connection (0:
 * forever). Past it, or when they are malformed or declare lengths
 * beyond what was sent (records.h), the connection is closed without an
 * answer and the worker takes the next one. */
void worker_set_params_timeout(unsigned long ms);

/* Whether a FastCGI worker confines itself (sandbox.h) before its first
 * accept. SANDBOX_OFF unless set. */
void worker_set_sandbox(enum sandbox_mode mode);

/* Whether the worker's table of the parameters it reads is sorted as
 * its binary search needs: a unit test asks, so that a name added out
 * of place fails there, not silently in a request. */
int worker_params_sorted(void);

#endif
