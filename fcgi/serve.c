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
#include <grp.h>
#include <netdb.h>
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

/* A unix socket address for PATH; -1 when it does not fit. */
static int unix_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (path[0] == '\0' || strlen(path) >= sizeof sa->sun_path)
        return -1;
    strcpy(sa->sun_path, path);
    return 0;
}

/* HOST:PORT (HOST may be empty: loopback) resolved for binding. */
static int tcp_addr(const char *listen, struct addrinfo **ai)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};

    if (colon == NULL || colon[1] == '\0' || (size_t)(colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    return getaddrinfo(host[0] ? host : "127.0.0.1", colon + 1, &hints, ai) == 0
               ? 0 : -1;
}

/* Whether anyone answers at the address: binding over a live socket
 * would steal it from a running server. */
static int address_taken(const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int taken = fd >= 0 && connect(fd, sa, len) == 0;

    if (fd >= 0)
        close(fd);
    return taken;
}

/* socket, bind, listen; on failure says which step, and closes. */
static int bound_socket(const char *addr, const struct sockaddr *sa,
                        socklen_t len)
{
    int one = 1, fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        say("NORI_LISTEN=%s: cannot make a socket: %s", addr, strerror(errno));
        return -1;
    }
    if (sa->sa_family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, sa, len) < 0 || listen(fd, BACKLOG) < 0) {
        say("NORI_LISTEN=%s: cannot listen: %s", addr, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* A stale socket file (its server gone) is replaced; anything else at
 * the path is left alone and refused. */
static int unix_listen(const char *addr)
{
    const char *path = addr + 5;
    struct sockaddr_un sa;
    struct stat sb;

    if (unix_addr(path, &sa) < 0) {
        say("NORI_LISTEN=%s: the path is empty or longer than %zu bytes", addr,
            sizeof sa.sun_path - 1);
        return -1;
    }
    if (address_taken((struct sockaddr *)&sa, sizeof sa)) {
        say("NORI_LISTEN=%s: already in use: is another nori serving it?", addr);
        return -1;
    }
    if (lstat(path, &sb) == 0 && !S_ISSOCK(sb.st_mode)) {
        say("NORI_LISTEN=%s: %s exists and is not a socket", addr, path);
        return -1;
    }
    if (lstat(path, &sb) == 0 && unlink(path) < 0) {
        say("NORI_LISTEN=%s: cannot remove the stale socket: %s", addr,
            strerror(errno));
        return -1;
    }
    return bound_socket(addr, (struct sockaddr *)&sa, sizeof sa);
}

static int tcp_listen(const char *addr)
{
    struct addrinfo *ai;
    int fd;

    if (tcp_addr(addr, &ai) < 0) {
        say("NORI_LISTEN=%s: want unix:PATH or HOST:PORT", addr);
        return -1;
    }
    if (address_taken(ai->ai_addr, ai->ai_addrlen)) {
        say("NORI_LISTEN=%s: already in use: is another nori serving it?", addr);
        freeaddrinfo(ai);
        return -1;
    }
    fd = bound_socket(addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return fd;
}

/* The web server often runs as another user than nori serve: the unix
 * socket gets the mode and group it needs to connect. */
static int unix_share(const struct serve_options *opt)
{
    const char *path = opt->listen + 5;
    struct group *gr = NULL;
    char *end;

    if (opt->socket_mode && chmod(path, opt->socket_mode) < 0) {
        say("NORI_SOCKET_MODE=%o: cannot chmod %s: %s", opt->socket_mode, path,
            strerror(errno));
        return -1;
    }
    if (opt->socket_group == NULL || opt->socket_group[0] == '\0')
        return 0;
    /* A name, or else a number. */
    gid_t gid = (gid_t)strtoul(opt->socket_group, &end, 10);
    if (*end || end == opt->socket_group) {
        if ((gr = getgrnam(opt->socket_group)) == NULL) {
            say("NORI_SOCKET_GROUP=%s: no such group", opt->socket_group);
            return -1;
        }
        gid = gr->gr_gid;
    }
    if (chown(path, (uid_t)-1, gid) < 0) {
        say("NORI_SOCKET_GROUP=%s: cannot give %s to it: %s", opt->socket_group,
            path, strerror(errno));
        return -1;
    }
    return 0;
}

/* libfcgi's FCGX_OpenSocket is not used: it exits the process when bind
 * fails, with errno as the status and no path in its message. */
static int listen_open(const struct serve_options *opt)
{
    int is_unix = strncmp(opt->listen, "unix:", 5) == 0;
    int sock = is_unix ? unix_listen(opt->listen) : tcp_listen(opt->listen);

    if (sock < 0 || !is_unix || unix_share(opt) == 0)
        return sock;
    close(sock);
    unlink(opt->listen + 5);
    return -1;
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
 * told to finish, so the socket is never left without a worker. */
static void workers_reload(struct slot *slots, unsigned n, int sock,
                           const struct serve_options *opt,
                           const struct serve_app *app)
{
    char err[512];
    int status;

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
        if (old > 0) {
            kill(old, SIGTERM);
            waitpid(old, &status, 0);
        }
    }
    say("reloaded %u workers", n);
}

static void workers_drain(struct slot *slots, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (slots[i].pid > 0)
            kill(slots[i].pid, SIGTERM);
    for (unsigned i = 0; i < n; i++)
        if (slots[i].pid > 0)
            waitpid(slots[i].pid, NULL, 0);
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
        say("NORI_WORKERS=%u: not a number from 1 to %d", n, WORKERS_MAX);
        return 1;
    }
    /* Refuse at once what every worker would refuse. */
    if (app->load(app->ctx, err, sizeof err) < 0) {
        say("%s", err);
        return 1;
    }
    app->unload(app->ctx);
    if ((sock = listen_open(opt)) < 0)
        return 1;
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
