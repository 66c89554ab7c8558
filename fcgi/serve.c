/* serve.c -- the prefork supervisor of `nori serve`.
 *
 * The supervisor owns the listening socket and nothing else: no catalog,
 * no store. Workers are forked onto the socket (as fd 0, where a web
 * server would have put it) and load everything themselves. Signals are
 * taken synchronously with sigtimedwait, so the loop below is the whole
 * state machine: a child exited, a timer for a delayed respawn, SIGHUP,
 * SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "serve.h"

#define WORKERS_MAX 256
#define BACKLOG 1024
#define READY_TIMEOUT_MS 10000
/* A worker that dies sooner than this after its start counts as a
 * crash: its next start waits, twice as long each time, up to a cap. */
#define CRASH_WINDOW_MS 2000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

struct slot {
    pid_t pid;              /* 0: empty, to be started at start_at */
    uint64_t started_ms, start_at_ms;
    unsigned backoff_ms;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("nori serve: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* "HOST:PORT" as libfcgi will bind it: an empty host or "*" is every
 * interface, and so is any name that resolves to 0.0.0.0. Returns 0 and
 * fills sa, or -1 when it does not resolve (libfcgi will say why). */
static int tcp_address(const char *listen, struct sockaddr_in *sa)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai;

    if (colon == NULL || (size_t)(colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (strcmp(host, "*") == 0)
        host[0] = '\0';
    if (getaddrinfo(host[0] ? host : "0.0.0.0", colon + 1, &hints, &ai) != 0)
        return -1;
    memcpy(sa, ai->ai_addr, sizeof *sa);
    freeaddrinfo(ai);
    return 0;
}

/* Whoever reaches a FastCGI socket chooses REMOTE_ADDR, SCRIPT_NAME and
 * the role; on every interface, only FCGI_WEB_SERVER_ADDRS (the web
 * servers libfcgi will accept) keeps the rest of the network out. */
static int wildcard_refused(const char *listen)
{
    struct sockaddr_in sa;
    const char *allowed = getenv("FCGI_WEB_SERVER_ADDRS");

    if (strncmp(listen, "unix:", 5) == 0 || tcp_address(listen, &sa) < 0 ||
        sa.sin_addr.s_addr != htonl(INADDR_ANY) || (allowed && allowed[0]))
        return 0;
    say("refusing to listen on every interface (%s) without FCGI_WEB_SERVER_ADDRS: "
        "anyone who reaches the port could speak FastCGI to nori; listen on "
        "127.0.0.1:PORT or a unix socket, or set FCGI_WEB_SERVER_ADDRS to the "
        "web servers' addresses", listen);
    return 1;
}

/* libfcgi's FCGX_OpenSocket unlinks a unix socket path before binding
 * (stealing it from a running server) and exits the process when bind
 * fails, so first find out whether the address is free: a unix socket
 * someone answers on is taken; a TCP address is taken when the very
 * address libfcgi will bind (every interface included) cannot be bound. */
static int address_taken(const char *listen)
{
    int fd = -1, taken = 0, one = 1;

    if (strncmp(listen, "unix:", 5) == 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        if (strlen(listen + 5) >= sizeof sa.sun_path)
            return 0;
        strcpy(sa.sun_path, listen + 5);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        taken = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    } else {
        struct sockaddr_in sa;
        if (tcp_address(listen, &sa) < 0)
            return 0;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        /* SO_REUSEADDR as libfcgi sets it: only a live socket conflicts. */
        taken = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
                bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno == EADDRINUSE;
    }
    if (fd >= 0)
        close(fd);
    return taken;
}

static int listen_open(const char *listen)
{
    const char *path = strncmp(listen, "unix:", 5) == 0 ? listen + 5 : listen;
    int sock;

    if (address_taken(listen)) {
        say("%s is already in use: is another nori serving it?", listen);
        return -1;
    }
    errno = 0;
    if ((sock = FCGX_OpenSocket(path, BACKLOG)) < 0)
        say("cannot listen on %s: %s", listen,
            errno ? strerror(errno) : "want unix:PATH or HOST:PORT");
    return sock;
}

/* In the child: the socket becomes fd 0, signals go back to what a
 * worker expects, the data is loaded, and the parent hears "ready". */
static void child_run(int sock, int ready_fd, const struct serve_options *opt,
                      const struct serve_app *app)
{
    sigset_t none;
    char err[512];
    int rc;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(sock, 0) < 0)
        _exit(1);
    if (sock != 0)
        close(sock);
    if (app->load(app->ctx, err, sizeof err) < 0) {
        say("worker %d: %s", (int)getpid(), err);
        _exit(1);
    }
    if (write(ready_fd, "r", 1) != 1)
        _exit(1);
    close(ready_fd);
    rc = worker_run(app->handle, app->handle_ctx, opt->max_requests);
    app->unload(app->ctx);
    _exit(rc);
}

/* Forks a worker and waits until it has loaded (or failed to). Returns
 * its pid, or -1. */
static pid_t worker_start(int sock, const struct serve_options *opt,
                          const struct serve_app *app)
{
    int pipefd[2];
    char c;
    pid_t pid;

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -1;
    if ((pid = fork()) < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        close(pipefd[0]);
        child_run(sock, pipefd[1], opt, app);
    }
    close(pipefd[1]);
    struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
    int ok = poll(&pfd, 1, READY_TIMEOUT_MS) == 1 && read(pipefd[0], &c, 1) == 1;
    close(pipefd[0]);
    if (!ok) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

static struct slot *slot_of(struct slot *slots, unsigned n, pid_t pid)
{
    for (unsigned i = 0; i < n; i++)
        if (slots[i].pid == pid)
            return &slots[i];
    return NULL;
}

/* A dead worker's slot is refilled at once, unless it died young and not
 * of its own accord (a crash at start, a bad catalog): then later. */
static void slot_died(struct slot *s, int status)
{
    uint64_t now = now_ms();
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

    s->pid = 0;
    if (!clean && now - s->started_ms < CRASH_WINDOW_MS) {
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_FIRST_MS;
        if (s->backoff_ms > BACKOFF_MAX_MS)
            s->backoff_ms = BACKOFF_MAX_MS;
    } else {
        s->backoff_ms = 0;
    }
    s->start_at_ms = now + s->backoff_ms;
    if (!clean)
        say("worker exited (%s %d)%s", WIFSIGNALED(status) ? "signal" : "status",
            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
            s->backoff_ms ? ", restarting it after a pause" : "");
}

static void slots_fill(struct slot *slots, unsigned n, int sock,
                       const struct serve_options *opt, const struct serve_app *app)
{
    uint64_t now = now_ms();

    for (unsigned i = 0; i < n; i++) {
        if (slots[i].pid || slots[i].start_at_ms > now)
            continue;
        slots[i].started_ms = now;
        slots[i].pid = worker_start(sock, opt, app);
        if (slots[i].pid < 0) {
            slots[i].pid = 0;
            slot_died(&slots[i], 1 << 8);   /* as if it exited 1 at once */
        }
    }
}

static void reap(struct slot *slots, unsigned n)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct slot *s = slot_of(slots, n, pid);
        if (s)
            slot_died(s, status);
    }
}

/* SIGHUP: each worker in turn is replaced by a fresh one that has loaded
 * the data files again; the new one is accepting before the old one is
 * told to finish, so the socket is never left without a worker. The old
 * one is not waited for: it may be stuck in a slow request, and the
 * supervisor must stay free to replace workers that die meanwhile. It is
 * reaped, like any child, whenever it exits (reap ignores pids that are
 * no longer in a slot). */
static void workers_reload(struct slot *slots, unsigned n, int sock,
                           const struct serve_options *opt,
                           const struct serve_app *app)
{
    char err[512];

    if (app->load(app->ctx, err, sizeof err) < 0) {
        say("reload refused, workers keep the old data: %s", err);
        return;
    }
    app->unload(app->ctx);
    for (unsigned i = 0; i < n; i++) {
        pid_t old = slots[i].pid, fresh = worker_start(sock, opt, app);
        if (fresh < 0) {
            say("reload: a new worker did not start; keeping the old ones");
            return;
        }
        slots[i].pid = fresh;
        slots[i].started_ms = now_ms();
        slots[i].backoff_ms = 0;
        if (old > 0)
            kill(old, SIGTERM);
    }
    say("reloaded %u workers", n);
}

/* Every child goes: the slots' workers and any old ones a reload left
 * finishing their requests. */
static void workers_drain(struct slot *slots, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (slots[i].pid > 0)
            kill(slots[i].pid, SIGTERM);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
}

static int next_wait_ms(const struct slot *slots, unsigned n)
{
    uint64_t now = now_ms(), soonest = UINT64_MAX;

    for (unsigned i = 0; i < n; i++)
        if (slots[i].pid == 0 && slots[i].start_at_ms < soonest)
            soonest = slots[i].start_at_ms;
    if (soonest == UINT64_MAX)
        return -1;
    return soonest <= now ? 0 : (int)(soonest - now);
}

int serve_run(const struct serve_options *opt, const struct serve_app *app)
{
    struct slot slots[WORKERS_MAX] = {0};
    unsigned n = opt->workers;
    sigset_t set;
    char err[512];
    int sock;

    if (n == 0 || n > WORKERS_MAX) {
        say("--workers must be 1..%d", WORKERS_MAX);
        return 2;
    }
    if (wildcard_refused(opt->listen))
        return 2;
    /* Refuse at once what every worker would refuse. */
    if (app->load(app->ctx, err, sizeof err) < 0) {
        say("%s", err);
        return 1;
    }
    app->unload(app->ctx);
    if ((sock = listen_open(opt->listen)) < 0)
        return 1;
    /* The web server often runs as another user than nori serve. */
    if (opt->socket_mode && strncmp(opt->listen, "unix:", 5) == 0 &&
        chmod(opt->listen + 5, opt->socket_mode) < 0) {
        say("cannot chmod %s: %s", opt->listen + 5, strerror(errno));
        close(sock);
        return 1;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    say("listening on %s with %u workers", opt->listen, n);
    slots_fill(slots, n, sock, opt, app);
    for (;;) {
        int wait = next_wait_ms(slots, n);
        struct timespec ts = {wait / 1000, (long)(wait % 1000) * 1000000};
        int sig = sigtimedwait(&set, NULL, wait < 0 ? NULL : &ts);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig == SIGHUP)
            workers_reload(slots, n, sock, opt, app);
        reap(slots, n);
        slots_fill(slots, n, sock, opt, app);
    }
    say("draining: workers finish the requests in hand");
    close(sock);
    workers_drain(slots, n);
    if (strncmp(opt->listen, "unix:", 5) == 0)
        unlink(opt->listen + 5);
    return 0;
}
