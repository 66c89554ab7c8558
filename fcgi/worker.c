/* worker.c -- the accept loop on libfcgi, one-shot CGI mode, signals,
 * strict body reading, and the sending of each response. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "../nav/nav.h"
#include "records.h"
#include "sandbox.h"
#include "stats.h"
#include "worker.h"

#define ARENA_BLOCK (64 * 1024)
/* How long a kept-alive FastCGI connection (nginx's fastcgi_keep_conn) may
 * sit idle before the worker lets it go. A worker serves one connection
 * at a time, so one parked on an idle connection is lost to every other
 * client of the socket; after this it goes back to accept. */
#define KEEP_IDLE_MS 1000

static volatile sig_atomic_t stopping;
static volatile sig_atomic_t fastcgi_mode;
static volatile sig_atomic_t body_expired;
static unsigned long body_timeout_ms = 5000;
static unsigned long params_timeout_ms = 5000;
static enum sandbox_mode sandbox_mode = SANDBOX_OFF;

/* Re-raised this often past the deadline: a SIGALRM that lands just
 * before read() blocks is lost on that read, and the next one ends it. */
#define BODY_TIMER_REPEAT_MS 50

void worker_set_body_timeout(unsigned long ms)
{
    body_timeout_ms = ms;
}

void worker_set_params_timeout(unsigned long ms)
{
    params_timeout_ms = ms;
}

void worker_set_sandbox(enum sandbox_mode mode)
{
    sandbox_mode = mode;
}

/* SIGALRM only ever interrupts a body read (it is blocked otherwise, in
 * every thread): the read fails with EINTR, libfcgi marks the stream
 * broken, and body_read sees the flag. */
static void on_alarm(int sig)
{
    (void)sig;
    body_expired = 1;
}

/* SIGTERM/SIGINT: finish the request in hand, then leave. libfcgi's
 * shutdown flag plus FCGI_FAIL_ACCEPT_ON_INTR make an idle worker's
 * accept() return. Closing the listening socket covers the window where
 * the signal lands after the loop checked `stopping` but before accept()
 * blocked: accept then fails at once instead of waiting for a request. */
static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
    FCGX_ShutdownPending();
    if (fastcgi_mode)
        close(0);
}

static int signals_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sa.sa_flags = 0;        /* no SA_RESTART: blocking calls must see EINTR */
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
        return -1;
    /* Blocked before any thread (the sweeper) exists, so that they all
     * inherit it blocked and only the reading thread ever takes it. */
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sa.sa_handler = on_alarm;
    if (sigaction(SIGALRM, &sa, NULL) < 0 ||
        sigprocmask(SIG_BLOCK, &alrm, NULL) < 0)
        return -1;
    /* A web server that hangs up mid-response must not kill the worker. */
    sa.sa_handler = SIG_IGN;
    return sigaction(SIGPIPE, &sa, NULL);
}

static enum http_method method_parse(const char *m)
{
    if (m == NULL || strcmp(m, "GET") == 0)
        return HTTP_GET;
    if (strcmp(m, "HEAD") == 0)
        return HTTP_HEAD;
    if (strcmp(m, "POST") == 0)
        return HTTP_POST;
    return HTTP_OTHER;
}

/* CONTENT_LENGTH as a strict decimal (the grammar's rule, nav.h);
 * absent means no body. All digits but too many is too large. */
static enum body_err content_length_parse(const char *s, size_t *len)
{
    size_t n = s ? strlen(s) : 0;
    uint64_t v;

    *len = 0;
    if (n == 0)
        return BODY_OK;
    if (nav_decimal(s, n, HTTP_BODY_MAX, &v) == 0) {
        *len = (size_t)v;
        return BODY_OK;
    }
    if (strspn(s, "0123456789") == n && s[0] != '0')
        return BODY_ETOOLARGE;
    return BODY_ELENGTH;
}

/* Where the two modes differ: how the body and the output are reached.
 * (Parameters: the request's envp, or the process's environ.) */
struct io {
    /* Read exactly n bytes into buf; -1 on a short read or error. */
    int (*read)(struct io *io, char *buf, size_t n);
    int (*write)(struct io *io, const char *buf, size_t n);
    FCGX_Request *fcgi;
};

static int fcgi_read(struct io *io, char *buf, size_t n)
{
    int got = FCGX_GetStr(buf, (int)n, io->fcgi->in);

    if (got < 0 || (size_t)got != n || FCGX_GetError(io->fcgi->in) != 0)
        return -1;
    return 0;
}

static int fcgi_write(struct io *io, const char *buf, size_t n)
{
    if (n == 0)
        return 0;
    return FCGX_PutStr(buf, (int)n, io->fcgi->out) == (int)n ? 0 : -1;
}

static int cgi_read(struct io *io, char *buf, size_t n)
{
    (void)io;
    return fread(buf, 1, n, stdin) == n ? 0 : -1;
}

static int cgi_write(struct io *io, const char *buf, size_t n)
{
    (void)io;
    return fwrite(buf, 1, n, stdout) == n ? 0 : -1;
}

/* The parameters a request is built from, sorted as strcmp sorts
 * (worker_params_sorted checks it, in the unit tests): param_find
 * searches the table by halves. */
#define PARAMS(X) \
    X(CONTENT_LENGTH) X(CONTENT_TYPE) \
    X(FCGI_ROLE) \
    X(HTTPS) X(HTTP_COOKIE) X(HTTP_FORWARDED) X(HTTP_HOST) \
    X(HTTP_IF_MODIFIED_SINCE) X(HTTP_IF_NONE_MATCH) X(HTTP_ORIGIN) X(HTTP_SEC_FETCH_SITE) X(HTTP_VIA) \
    X(HTTP_X_FORWARDED_FOR) \
    X(NORI_AUTHORIZE) \
    X(PATH_INFO) \
    X(QUERY_STRING) \
    X(REMOTE_ADDR) X(REQUEST_METHOD) \
    X(SCRIPT_NAME)

#define PARAM_SLOT(n) P_##n,
#define PARAM_ENTRY(n) {#n, sizeof #n - 1},
enum param_slot { PARAMS(PARAM_SLOT) P_COUNT };
static const struct param {
    const char *name;
    size_t len;
} params[P_COUNT] = { PARAMS(PARAM_ENTRY) };

/* strcmp's order of the name e[0..len) and a table entry's. */
static int param_cmp(const char *e, size_t len, const struct param *p)
{
    int c = memcmp(e, p->name, len < p->len ? len : p->len);

    return c ? c : (len > p->len) - (len < p->len);
}

/* The slot of the parameter an environment entry ("NAME=value") sets,
 * its value in *value; -1 when nori does not read that name, or the
 * entry has no '='. */
static int param_find(const char *e, const char **value)
{
    const char *eq = strchr(e, '=');
    size_t len;
    int lo = 0, hi = P_COUNT;

    if (eq == NULL)
        return -1;
    len = (size_t)(eq - e);
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, c = param_cmp(e, len, &params[mid]);
        if (c == 0) {
            *value = eq + 1;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

int worker_params_sorted(void)
{
    for (int i = 1; i < P_COUNT; i++)
        if (strcmp(params[i - 1].name, params[i].name) >= 0)
            return 0;
    return 1;
}

const char *request_param(const struct request *req, const char *name)
{
    size_t len = strlen(name);

    for (char *const *e = req->env; e && *e; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

/* Every parameter nori reads, from ONE pass over the environment: asking
 * FCGX_GetParam for each was 18 linear scans of it with strncmp, a fifth
 * of an Item page's instructions. As with FCGX_GetParam and getenv, the
 * first of a repeated name wins, an entry without '=' is no parameter,
 * and an absent one is NULL. */
static void params_scan(char **env, const char *val[P_COUNT])
{
    memset(val, 0, P_COUNT * sizeof *val);
    for (; env && *env; env++) {
        const char *v;
        int i = param_find(*env, &v);

        if (i >= 0 && val[i] == NULL)
            val[i] = v;
    }
}

static const char *or_empty(const char *v)
{
    return v ? v : "";
}

static void timer_arm(unsigned long ms)
{
    struct itimerval it = {
        .it_value = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000},
        .it_interval = {0, BODY_TIMER_REPEAT_MS * 1000},
    };
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Disarms the timer and swallows a SIGALRM still pending, so that it
 * cannot end the next request's read. */
static void timer_disarm(const sigset_t *alrm)
{
    struct itimerval off = {{0, 0}, {0, 0}};
    struct timespec zero = {0, 0};

    setitimer(ITIMER_REAL, &off, NULL);
    while (sigtimedwait(alrm, NULL, &zero) > 0)
        ;
}

/* The body, within body_timeout_ms. A slow client (or one that sends 7
 * of 100 bytes and waits) would otherwise hold this worker, which serves
 * nobody else meanwhile, for as long as it likes. */
static int read_timed(struct io *io, char *buf, size_t n)
{
    sigset_t alrm;
    int rc;

    if (body_timeout_ms == 0)
        return io->read(io, buf, n);
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    body_expired = 0;
    timer_arm(body_timeout_ms);
    sigprocmask(SIG_UNBLOCK, &alrm, NULL);
    rc = io->read(io, buf, n);
    sigprocmask(SIG_BLOCK, &alrm, NULL);
    timer_disarm(&alrm);
    return rc;
}

static void body_read(struct io *io, struct request *req,
                      const char *content_length)
{
    size_t len;
    char *buf;

    req->body = "";
    req->body_len = 0;
    req->body_err = content_length_parse(content_length, &len);
    if (req->body_err != BODY_OK || len == 0)
        return;
    if ((buf = arena_alloc(req->arena, len + 1)) == NULL) {
        req->body_err = BODY_ENOMEM;
        return;
    }
    if (read_timed(io, buf, len) < 0) {
        req->body_err = body_expired ? BODY_ETIMEOUT : BODY_ETRUNCATED;
        if (req->body_err == BODY_ETIMEOUT)
            request_log(req, "nori: the request body did not arrive within %lu ms: 408",
                        body_timeout_ms);
        /* The rest of the body may still come: the connection cannot
         * carry another request. */
        if (io->fcgi)
            io->fcgi->keepConnection = 0;
        return;
    }
    buf[len] = '\0';
    req->body = buf;
    req->body_len = len;
}

static void request_build(struct io *io, struct arena *a, struct request *req,
                          void *log_stream)
{
    const char *p[P_COUNT];

    char **env = io->fcgi ? io->fcgi->envp : environ;

    params_scan(env, p);
    memset(req, 0, sizeof *req);
    /* Kept whole for nori_request_header: libfcgi holds it until the
     * next accept, past the end of this request. */
    req->env = env;
    req->arena = a;
    req->log_stream = log_stream;
    req->method = method_parse(p[P_REQUEST_METHOD]);
    req->query = or_empty(p[P_QUERY_STRING]);
    req->query_len = strlen(req->query);
    req->script_name = or_empty(p[P_SCRIPT_NAME]);
    req->path_info = or_empty(p[P_PATH_INFO]);
    req->content_type = p[P_CONTENT_TYPE];
    req->if_none_match = p[P_HTTP_IF_NONE_MATCH];
    req->if_modified_since = p[P_HTTP_IF_MODIFIED_SINCE];
    req->cookie = p[P_HTTP_COOKIE];
    req->remote_addr = or_empty(p[P_REMOTE_ADDR]);
    req->host = p[P_HTTP_HOST];
    req->origin = p[P_HTTP_ORIGIN];
    req->sec_fetch_site = p[P_HTTP_SEC_FETCH_SITE];
    /* Each compared only when it is there: most requests have neither. */
    req->https = p[P_HTTPS] && strcasecmp(p[P_HTTPS], "on") == 0;
    req->proxied = p[P_HTTP_X_FORWARDED_FOR] != NULL ||
                   p[P_HTTP_FORWARDED] != NULL ||
                   p[P_HTTP_VIA] != NULL;
    /* Not an HTTP_ name: a client cannot send it, only a web server's
     * own configuration can (nginx's internal auth_request location). */
    req->authorize_param = p[P_NORI_AUTHORIZE] && strcmp(p[P_NORI_AUTHORIZE], "1") == 0;
    req->authorizer = p[P_FCGI_ROLE] && p[P_FCGI_ROLE][0] == 'A' &&
                      strcmp(p[P_FCGI_ROLE], "AUTHORIZER") == 0;
    if (req->method == HTTP_POST)
        body_read(io, req, p[P_CONTENT_LENGTH]);
    else
        req->body = "";
}

/* The two lines every answer has, formatted by hand: printf was a
 * tenth of a page's cost. top holds 128 bytes, len 64. */
static int status_line(char *top, int status)
{
    const char *reason = http_reason(status);
    size_t rl = strlen(reason), n = 0;

    memcpy(top, "Status: ", 8), n += 8;
    n += http_uint(top + n, (uint64_t)(status > 0 ? status : 0));
    top[n++] = ' ';
    memcpy(top + n, reason, rl), n += rl;
    memcpy(top + n, "\r\n", 2), n += 2;
    return (int)n;
}

static int content_length_line(char *len, size_t body_len)
{
    size_t n = 0;

    memcpy(len, "Content-Length: ", 16), n += 16;
    n += http_uint(len + n, body_len);
    memcpy(len + n, "\r\n", 2), n += 2;
    return (int)n;
}

/* Status line, headers, Content-Length and body, into the output stream.
 * HEAD keeps the length of the body it does not send. */
static int response_send(struct io *io, const struct request *req,
                         struct response *resp)
{
    char top[128];
    char len[64];

    if (resp->failed) {
        response_init(resp, req->arena);
        resp->status = 503;
        response_header(resp, "Content-Type", "text/plain; charset=utf-8");
        nori_response_puts(resp, "Out of memory.\n");
    } else if (resp->bad_header) {
        /* A header value held CR or LF: something upstream (SCRIPT_NAME
         * from the front end, a setting) would have split the answer. */
        request_log(req, "nori: refused to send a header with CR/LF in it");
        response_init(resp, req->arena);
        resp->status = 502;
        response_header(resp, "Content-Type", "text/plain; charset=utf-8");
        response_header(resp, "Cache-Control", "no-store");
        nori_response_puts(resp, "The web server passed a request nori cannot answer safely.\n");
    }
    int tn = status_line(top, resp->status);
    int ln = resp->status == 304 ? 0 : content_length_line(len, resp->body_len);
    int send_body = req->method != HTTP_HEAD && resp->status != 304;
    size_t total = (size_t)tn + resp->head_len + (size_t)ln + 2;
    char *out = arena_alloc(req->arena, total);
    if (out == NULL)
        return -1;
    size_t off = 0;
    memcpy(out + off, top, (size_t)tn), off += (size_t)tn;
    if (resp->head_len)
        memcpy(out + off, resp->head, resp->head_len), off += resp->head_len;
    memcpy(out + off, len, (size_t)ln), off += (size_t)ln;
    memcpy(out + off, "\r\n", 2), off += 2;
    /* The body goes from where the page wrote it: both writes land in
     * the stream's buffer (libfcgi's, or stdio's), which sends the same
     * bytes as one write would, without a copy of the whole page first. */
    if (io->write(io, out, off) < 0)
        return -1;
    return send_body ? io->write(io, resp->body, resp->body_len) : 0;
}

static void serve_one(struct io *io, struct arena *a, const struct worker_app *app,
                      void *log_stream)
{
    struct request req;
    struct response resp;

    request_build(io, a, &req, log_stream);
    response_init(&resp, a);
    app->handle(&req, &resp, app->ctx);
    if (response_send(io, &req, &resp) < 0)
        request_log(&req, "nori: could not write the response");
    /* A monitor polling the statistics must not move them. */
    if (resp.uncounted)
        return;
    stats_add(app->stats, STAT_REQUESTS, 1);
    int status = resp.failed ? 503 : resp.bad_header ? 502 : resp.status;
    if (status >= 500)
        stats_add(app->stats, STAT_5XX, 1);
    else if (status >= 400)
        stats_add(app->stats, STAT_4XX, 1);
    if (status == 429)
        stats_add(app->stats, STAT_THROTTLED, 1);
    if (status == 304)
        stats_add(app->stats, STAT_NOT_MODIFIED, 1);
    stats_add(app->stats, stats_status_id(status), 1);
}

static int run_cgi(const struct worker_app *app)
{
    struct io io = {cgi_read, cgi_write, NULL};
    struct arena a;

    if (arena_init(&a, ARENA_BLOCK) < 0)
        return 1;
    serve_one(&io, &a, app, NULL);
    arena_free(&a);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* After a request on a kept connection: when another connection waits
 * in accept, this one is closed with the response (the web server reads
 * the end of the response and the end of the connection together, and
 * opens or picks another), so a kept connection never holds a worker
 * away from a waiting one. Otherwise it is kept, for up to KEEP_IDLE_MS
 * of silence. */
static void keep_decide(FCGX_Request *fr)
{
    struct pollfd pfd = {.fd = 0, .events = POLLIN};

    if (fr->keepConnection && poll(&pfd, 1, 0) > 0)
        fr->keepConnection = 0;
}

static void keep_or_drop(FCGX_Request *fr)
{
    struct pollfd pfd = {.fd = fr->ipcFd, .events = POLLIN};

    if (fr->ipcFd < 0 || !fr->keepConnection)
        return;
    if (poll(&pfd, 1, KEEP_IDLE_MS) == 0)
        FCGX_Free(fr, 1);
}

/* ---- Before libfcgi sees a connection ----
 *
 * nori accepts on the listening socket itself and hands libfcgi an open
 * connection (a FCGX_Request whose ipcFd is set is read, not accepted):
 * libfcgi's own accept checks FCGI_WEB_SERVER_ADDRS for IPv4 peers only,
 * and its reading of the params neither ends nor bounds what it
 * allocates. */

/* While part of a request's opening records is there and the rest is
 * not, poll(2) cannot wait for more (the socket stays readable): the
 * worker looks again this often, until the params deadline. */
#define GATE_RECHECK_MS 5
#define PEERS_MAX 64

/* Lines about refused connections go through the log's rate limit
 * (request_vlog), so that a flood cannot fill the error log. */
static void conn_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void conn_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    worker_vlog("nori: ", fmt, ap);
    va_end(ap);
}

/* FCGI_WEB_SERVER_ADDRS, read once: the web servers' addresses, IPv4 or
 * IPv6 (a v4-mapped one counts as its IPv4 address), comma-separated as
 * libfcgi has always read it. Unset or empty: every peer. */
static struct {
    int on;
    unsigned n4, n6;
    struct in_addr v4[PEERS_MAX];
    struct in6_addr v6[PEERS_MAX];
} peers;

static void peers_load(void)
{
    const char *list = getenv("FCGI_WEB_SERVER_ADDRS");
    char one[INET6_ADDRSTRLEN + 8];

    peers.on = list && list[strspn(list, " \t,")];
    for (const char *p = list; peers.on && *p;) {
        size_t n = strcspn(p, ",");
        const char *q = p;
        size_t k = n;

        while (k && (*q == ' ' || *q == '\t'))
            q++, k--;
        while (k && (q[k - 1] == ' ' || q[k - 1] == '\t'))
            k--;
        if (k && k < sizeof one) {
            struct in6_addr a6;

            memcpy(one, q, k);
            one[k] = '\0';
            if (peers.n4 < PEERS_MAX && inet_pton(AF_INET, one, &peers.v4[peers.n4]) == 1)
                peers.n4++;
            else if (inet_pton(AF_INET6, one, &a6) == 1) {
                if (IN6_IS_ADDR_V4MAPPED(&a6) && peers.n4 < PEERS_MAX)
                    memcpy(&peers.v4[peers.n4++], &a6.s6_addr[12], 4);
                else if (!IN6_IS_ADDR_V4MAPPED(&a6) && peers.n6 < PEERS_MAX)
                    peers.v6[peers.n6++] = a6;
            } else
                conn_log("FCGI_WEB_SERVER_ADDRS: %s is no IP address; ignored", one);
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

/* Whether the peer may speak FastCGI to nori; its address, for the log,
 * into text. A unix socket's peer is kept out by the socket's mode. */
static int peer_allowed(const struct sockaddr_storage *ss, char *text, size_t cap)
{
    struct in_addr v4;
    const struct in6_addr *v6 = NULL;

    if (ss->ss_family == AF_INET) {
        v4 = ((const struct sockaddr_in *)ss)->sin_addr;
        inet_ntop(AF_INET, &v4, text, (socklen_t)cap);
    } else if (ss->ss_family == AF_INET6) {
        v6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;
        inet_ntop(AF_INET6, v6, text, (socklen_t)cap);
        if (IN6_IS_ADDR_V4MAPPED(v6)) {
            memcpy(&v4, &v6->s6_addr[12], 4);
            v6 = NULL;
        }
    } else {
        return 1;
    }
    if (!peers.on)
        return 1;
    if (v6 == NULL) {
        for (unsigned i = 0; i < peers.n4; i++)
            if (peers.v4[i].s_addr == v4.s_addr)
                return 1;
        return 0;
    }
    for (unsigned i = 0; i < peers.n6; i++)
        if (memcmp(&peers.v6[i], v6, sizeof *v6) == 0)
            return 1;
    return 0;
}

#define ACCEPT_STOP (-1)
#define ACCEPT_AGAIN (-2)

/* One connection from the listening socket (fd 0), its peer checked. A
 * stop signal is let in only here (run_fastcgi). */
static int conn_accept(const sigset_t *stops)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char text[INET6_ADDRSTRLEN];
    int fd, err;

    sigprocmask(SIG_UNBLOCK, stops, NULL);
    fd = stopping ? -1 : accept4(0, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
    err = errno;
    sigprocmask(SIG_BLOCK, stops, NULL);
    if (fd < 0) {
        if (stopping)
            return ACCEPT_STOP;
        switch (err) {
        case EINTR: case ECONNABORTED: case EPROTO: case ENETDOWN:
        case ENOPROTOOPT: case EHOSTDOWN: case ENONET: case EHOSTUNREACH:
        case EOPNOTSUPP: case ENETUNREACH:
            return ACCEPT_AGAIN;
        case EMFILE: case ENFILE: case ENOBUFS: case ENOMEM:
            /* Out of descriptors or memory for a moment: try again
             * soon rather than spin or give up. */
            poll(NULL, 0, 10);
            return ACCEPT_AGAIN;
        default:
            return ACCEPT_STOP;
        }
    }
    text[0] = '\0';
    if (!peer_allowed(&ss, text, sizeof text)) {
        conn_log("refused a connection from %s: not in FCGI_WEB_SERVER_ADDRS", text);
        close(fd);
        return ACCEPT_AGAIN;
    }
    return fd;
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Waits, within params_timeout_ms, until the connection holds a whole
 * BEGIN_REQUEST and params that records_scan accepts; looks without
 * taking (MSG_PEEK), so libfcgi then reads the same bytes, none of its
 * reads blocks, and nothing it allocates is larger than the params.
 * 0: hand it to libfcgi; -1: close it, without an answer. */
static int conn_gate(int fd)
{
    static unsigned char seen[RECORDS_MAX + 8], scratch[RECORDS_PARAMS_MAX];
    uint64_t deadline = params_timeout_ms ? now_ms() + params_timeout_ms : 0;
    struct records_scan sc;
    size_t have = 0;

    for (;;) {
        ssize_t n = recv(fd, seen, sizeof seen, MSG_PEEK | MSG_DONTWAIT);
        int wait_ms = -1;

        if (n == 0)
            return -1;          /* the web server closed it: nothing to log */
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        if (n > 0 && (size_t)n != have) {
            have = (size_t)n;
            switch (records_scan(seen, have, scratch, &sc)) {
            case RECORDS_OK:
                return 0;
            case RECORDS_EBAD:
                if (sc.declared)
                    conn_log("dropped a FastCGI connection: %s (%lu)", sc.why, sc.declared);
                else
                    conn_log("dropped a FastCGI connection: %s", sc.why);
                return -1;
            case RECORDS_EMORE:
                break;
            }
        }
        if (deadline) {
            uint64_t now = now_ms();
            if (now >= deadline) {
                conn_log("dropped a FastCGI connection: its params were not whole "
                         "within %lu ms", params_timeout_ms);
                return -1;
            }
            wait_ms = (int)(deadline - now);
        }
        /* Nothing there yet: poll waits for it. Part of it: poll would
         * return at once, so it only says whether the peer is gone. */
        struct pollfd pfd = {.fd = fd, .events = POLLIN | POLLRDHUP};
        if (have > 0 && (wait_ms < 0 || wait_ms > GATE_RECHECK_MS))
            wait_ms = GATE_RECHECK_MS;
        if (have > 0) {
            if (poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR)))
                return -1;      /* it stopped sending halfway */
            poll(NULL, 0, wait_ms);
        } else if (poll(&pfd, 1, wait_ms) > 0 && (pfd.revents & (POLLHUP | POLLERR)) &&
                   !(pfd.revents & POLLIN)) {
            return -1;
        }
    }
}

/* A stop signal is let in only while the worker waits in accept or on
 * an idle kept connection: during a request it stays pending, so that no read of the request's body is
 * interrupted and libfcgi's shutdown flag (which fails every later read)
 * is raised only between requests. The request in hand always finishes. */
static int run_fastcgi(const struct worker_app *app,
                       unsigned long max_requests)
{
    struct io io = {fcgi_read, fcgi_write, NULL};
    unsigned long served = 0;
    FCGX_Request fr;
    struct arena a;
    sigset_t stops;
    int rc;

    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    if (arena_init(&a, ARENA_BLOCK) < 0 || FCGX_Init() != 0 ||
        FCGX_InitRequest(&fr, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
        return 1;
    peers_load();
    /* libfcgi never accepts: if it ever gave up on a connection nori
     * handed it, its accept fails at once instead of taking one
     * unchecked. */
    fr.listen_sock = -1;
    if (sandbox_enter(sandbox_mode) != SANDBOX_OK) {
        FCGX_Free(&fr, 1);
        arena_free(&a);
        return 1;
    }
    io.fcgi = &fr;
    while (!stopping) {
        /* A stop is also let in while a kept connection (nginx's
         * fastcgi_keep_conn) idles, and one that came during the last
         * request is taken here, before waiting for the next: a
         * connection the web server keeps busy cannot keep a retired
         * worker serving, and it is closed idle, not with a request. */
        sigprocmask(SIG_UNBLOCK, &stops, NULL);
        keep_or_drop(&fr);
        sigprocmask(SIG_BLOCK, &stops, NULL);
        if (stopping)
            break;
        if (fr.ipcFd < 0) {
            int fd = conn_accept(&stops);
            if (fd == ACCEPT_STOP)
                break;
            if (fd < 0)
                continue;
            fr.ipcFd = fd;
        }
        if (conn_gate(fr.ipcFd) < 0) {
            close(fr.ipcFd);
            fr.ipcFd = -1;
            continue;
        }
        /* So that the finish FCGX_Accept_r starts with leaves the
         * connection open; the request's own flag replaces it. */
        fr.keepConnection = 1;
        rc = FCGX_Accept_r(&fr);
        if (rc < 0)
            continue;
        serve_one(&io, &a, app, fr.err);
        keep_decide(&fr);
        FCGX_Finish_r(&fr);
        arena_reset(&a);
        if (max_requests && ++served >= max_requests)
            break;
    }
    FCGX_Free(&fr, 1);
    arena_free(&a);
    return 0;
}

/* A terminal's Ctrl-C goes to its whole foreground process group. A
 * worker in its parent's group (lighttpd's under `make run`) would stop
 * at the same moment as the parent, which could see it exit and start
 * another just before shutting down, and that one was left behind. The
 * parent alone stops its workers (lighttpd, Apache and nori serve send
 * SIGTERM), so a worker takes a group of its own; one that already leads
 * its group (started by hand in a terminal) keeps it, and Ctrl-C still
 * reaches it. */
static void group_leave(void)
{
    if (getpgrp() != getpid())
        setpgid(0, 0);
}

int worker_run(const struct worker_app *app, unsigned long max_requests)
{
    if (signals_install() < 0)
        return 1;
    if (FCGX_IsCGI())
        return run_cgi(app);
    fastcgi_mode = 1;
    group_leave();
    return run_fastcgi(app, max_requests);
}

/* Repeated log lines are rate-limited, so that a flood of requests that
 * each log (throttled logins, cross-site POSTs) cannot fill the disk: a
 * kind of line (its format string) is written LOG_BURST times per
 * LOG_INTERVAL_S seconds per process, and the rest are counted; the
 * count is written as one line when that interval is over, at the next
 * line logged. Kinds beyond LOG_KINDS share the oldest slot. */
#define LOG_BURST 5
#define LOG_INTERVAL_S 10
#define LOG_KINDS 32

struct log_kind {
    const char *fmt;            /* NULL: a free slot */
    time_t start;
    unsigned shown;
    unsigned long suppressed;
};
static struct log_kind log_kinds[LOG_KINDS];

static char log_path[4096];
static int log_fd = -1;

static int log_open(void)
{
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);

    if (fd < 0)
        return -1;
    if (log_fd >= 0)
        close(log_fd);
    log_fd = fd;
    return 0;
}

int worker_set_log_file(const char *path)
{
    if (strlen(path) >= sizeof log_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(log_path, path);
    return log_open();
}

void worker_reopen_log(void)
{
    if (log_fd >= 0)
        (void)log_open();       /* on failure the old file keeps the lines */
}

/* logrotate renames the file (or removes it): whoever writes next sees
 * that the path names another file, or none, and opens it anew, so that
 * workers follow a rotation without being signalled. */
static void log_follow(void)
{
    struct stat at, held;

    if (stat(log_path, &at) < 0 || fstat(log_fd, &held) < 0 ||
        at.st_ino != held.st_ino || at.st_dev != held.st_dev)
        (void)log_open();
}

/* One write per line, so that lines of several processes appending to
 * the same file never interleave. */
static void log_file_line(const char *prefix, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int k;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    k = snprintf(line + n, sizeof line - n, ".%03ldZ [%d] %s", ts.tv_nsec / 1000000L,
                 (int)getpid(), prefix);
    n += k > 0 ? (size_t)k : 0;
    if (n < sizeof line - 1) {
        k = vsnprintf(line + n, sizeof line - n, fmt, ap);
        n += k > 0 ? (size_t)k : 0;
    }
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    log_follow();
    if (write(log_fd, line, n) < 0)
        return;                 /* nowhere left to say so */
}

static void log_line_p(const struct request *req, const char *prefix, const char *fmt,
                       va_list ap)
{
    if (log_fd >= 0) {
        log_file_line(prefix, fmt, ap);
    } else if (req && req->log_stream) {
        FCGX_PutS(prefix, req->log_stream);
        FCGX_VFPrintF(req->log_stream, fmt, ap);
        FCGX_PutS("\n", req->log_stream);
    } else {
        fputs(prefix, stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
}

static void log_line(const struct request *req, const char *fmt, va_list ap)
{
    log_line_p(req, "", fmt, ap);
}

static void log_linef(const struct request *req, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_line(req, fmt, ap);
    va_end(ap);
}

/* An interval that is over: its count is written, and it starts again. */
static void log_kind_roll(const struct request *req, struct log_kind *k, time_t now)
{
    if (k->suppressed)
        log_linef(req, "nori: %lu similar lines suppressed in %d s: \"%s\"",
                  k->suppressed, LOG_INTERVAL_S, k->fmt);
    k->start = now;
    k->shown = 0;
    k->suppressed = 0;
}

/* The slot of fmt's kind, rolling over every interval that is over. */
static struct log_kind *log_kind_of(const struct request *req, const char *fmt,
                                    time_t now)
{
    struct log_kind *found = NULL, *oldest = &log_kinds[0];

    for (int i = 0; i < LOG_KINDS; i++) {
        struct log_kind *k = &log_kinds[i];
        if (k->fmt && now - k->start >= LOG_INTERVAL_S)
            log_kind_roll(req, k, now);
        if (k->fmt == fmt)
            found = k;
        else if (found == NULL && (k->fmt == NULL || (oldest->fmt && k->start < oldest->start)))
            oldest = k;
    }
    if (found)
        return found;
    if (oldest->fmt)
        log_kind_roll(req, oldest, now);
    *oldest = (struct log_kind){.fmt = fmt, .start = now};
    return oldest;
}

static void log_limited(const struct request *req, const char *prefix, const char *kind,
                        const char *fmt, va_list ap)
{
    struct timespec ts;
    struct log_kind *k;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    k = log_kind_of(req, kind, ts.tv_sec);
    if (k->shown >= LOG_BURST) {
        k->suppressed++;
        return;
    }
    k->shown++;
    log_line_p(req, prefix, fmt, ap);
}

void request_vlog(const struct request *req, const char *fmt, va_list ap)
{
    log_limited(req, "", fmt, fmt, ap);
}

void worker_vlog(const char *prefix, const char *fmt, va_list ap)
{
    log_limited(NULL, prefix, fmt, fmt, ap);
}

static void log_kindf(const char *prefix, const char *kind, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_limited(NULL, prefix, kind, fmt, ap);
    va_end(ap);
}

void worker_log_text(const char *prefix, const char *kind, const char *text)
{
    log_kindf(prefix, kind, "%s", text);
}

void request_log(const struct request *req, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    request_vlog(req, fmt, ap);
    va_end(ap);
}
