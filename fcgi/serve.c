/* serve.c -- the prefork supervisor of `nori serve`.
 *
 * The supervisor owns the listening socket and nothing else: no catalog,
 * no store. Workers are forked onto the socket (as fd 0, where a web
 * server would have put it) and load everything themselves. The loop in
 * serve_run is the whole state machine, and it never blocks on a worker:
 * one poll(2) waits for signals (a signalfd: a child exited, SIGHUP,
 * SIGTERM), for starting workers to say they are ready, and for timers
 * (a delayed respawn, a worker too slow to start).
 *
 * SIGHUP re-executes the supervisor from its binary's path when it has
 * its argv: a probe run of that binary (NORI_SERVE_PROBE, which loads and
 * exits) must succeed first, so that a broken build or catalog is
 * refused while the old image still runs; then execv, with the listening
 * socket (NORI_SERVE_FD) and the workers' pids (NORI_SERVE_WORKERS)
 * passed on. The new image adopts those workers, which are still its
 * children, and replaces them one at a time as a reload does. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
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
/* A probe of the new binary that has not exited by then is refused. */
#define PROBE_TIMEOUT_MS 10000
/* How long a stop waits for workers to finish what they hold: past the
 * params and body deadlines (5 s each by default) with room to spare. */
#define DRAIN_MAX_S 30

struct slot {
    pid_t pid;              /* 0: empty, to be started at start_at */
    pid_t old;              /* reload: the worker pid replaces, once ready */
    int ready_fd;           /* pid has not said "ready" yet; -1 once it has */
    uint64_t started_ms, start_at_ms, ready_by_ms;
    unsigned backoff_ms;
    unsigned gen;           /* the reload generation pid was started in */
};

struct sup {
    struct slot slots[WORKERS_MAX];
    unsigned n, gen;
    int sock, sfd;          /* listening socket; signalfd */
    int reloading;          /* a SIGHUP's replacements are under way */
    int hup_pending;        /* a SIGHUP waits for starting workers */
    char exe[4096];         /* the binary's path at start; "" unknown */
    const struct serve_options *opt;
    const struct serve_app *app;
};

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The options of the one supervisor this process runs, for say(). */
static const struct serve_options *said;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    char line[2048];

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (said && said->name_given)
        said->name_given(line, sizeof line, said->name_ctx);
    worker_log_text("nori serve: ", fmt, line);
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

/* HOST:PORT resolved for binding. An empty host or "*" is every
 * interface, as libfcgi has always read it. */
static int tcp_addr(const char *listen, struct addrinfo **ai)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};

    if (colon == NULL || colon[1] == '\0' || (size_t)(colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (strcmp(host, "*") == 0)
        host[0] = '\0';
    if (host[0] == '\0')
        hints.ai_family = AF_INET;
    return getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, ai) == 0 ? 0 : -1;
}

static int addr_is_wildcard(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        /* ::ffff:0.0.0.0 is 0.0.0.0 spelled as IPv6: every interface too. */
        return IN6_IS_ADDR_UNSPECIFIED(a) ||
               (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 0 && a->s6_addr[13] == 0 &&
                a->s6_addr[14] == 0 && a->s6_addr[15] == 0);
    }
    return 0;
}

/* Whoever reaches a FastCGI socket chooses REMOTE_ADDR, SCRIPT_NAME and
 * the role; on every interface, only FCGI_WEB_SERVER_ADDRS (the web
 * servers nori will accept) keeps the rest of the network out. */
static int wildcard_refused(const char *listen)
{
    struct addrinfo *ai;
    const char *allowed = getenv("FCGI_WEB_SERVER_ADDRS");
    int wild;

    if (strncmp(listen, "unix:", 5) == 0 || tcp_addr(listen, &ai) < 0)
        return 0;
    wild = addr_is_wildcard(ai->ai_addr);
    freeaddrinfo(ai);
    if (!wild || (allowed && allowed[0]))
        return 0;
    say("NORI_LISTEN=%s: refusing every interface without FCGI_WEB_SERVER_ADDRS: "
        "anyone who reaches the port could speak FastCGI to nori; listen on "
        "127.0.0.1:PORT or a unix socket, or set FCGI_WEB_SERVER_ADDRS to the "
        "web servers' addresses", listen);
    return 1;
}

/* Whether anyone answers at a unix socket: binding over a live socket
 * would steal it from a running server. (A TCP address needs no probe:
 * its bind fails by itself when the very address is taken.) */
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
        if (errno == EADDRINUSE)
            say("NORI_LISTEN=%s: already in use: is another server on it?", addr);
        else
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

/* In the child: the socket becomes fd 0, the supervisor's other
 * descriptors go, signals go back to what a worker expects, the data is
 * loaded, and the parent hears "ready". */
static void child_run(struct sup *s, int ready_fd)
{
    sigset_t none;
    char err[512];
    int rc;

    close(s->sfd);
    for (unsigned i = 0; i < s->n; i++)
        if (s->slots[i].ready_fd >= 0)
            close(s->slots[i].ready_fd);
    sigemptyset(&none);
    /* A SIGUSR1 meant for the supervisor (a broad kill) must not end a
     * worker: workers follow a rotated log by themselves. */
    signal(SIGUSR1, SIG_IGN);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (dup2(s->sock, 0) < 0)
        _exit(1);
    if (s->sock != 0)
        close(s->sock);
    if (s->app->load(s->app->ctx, err, sizeof err) < 0) {
        say("worker %d: %s", (int)getpid(), err);
        _exit(1);
    }
    if (write(ready_fd, "r", 1) != 1)
        _exit(1);
    close(ready_fd);
    struct worker_app w = s->app->worker(s->app->ctx);
    rc = worker_run(&w, s->opt->max_requests);
    s->app->unload(s->app->ctx);
    _exit(rc);
}

/* A dead worker's slot is refilled at once, unless it died young and not
 * of its own accord (a crash at start, a bad catalog): then later. A
 * replacement that died before it was ready gives its slot back to the
 * worker it was to replace, and the reload stops there. */
static void slot_died(struct sup *s, struct slot *sl, int status)
{
    uint64_t now = now_ms();
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

    if (sl->ready_fd >= 0)
        close(sl->ready_fd);
    sl->ready_fd = -1;
    sl->pid = 0;
    if (sl->old > 0) {
        say("reload: a new worker did not start; keeping the old one");
        sl->pid = sl->old;
        sl->old = 0;
        sl->gen = s->gen - 1;
        s->reloading = 0;
        return;
    }
    if (!clean && now - sl->started_ms < CRASH_WINDOW_MS) {
        sl->backoff_ms = sl->backoff_ms ? sl->backoff_ms * 2 : BACKOFF_FIRST_MS;
        if (sl->backoff_ms > BACKOFF_MAX_MS)
            sl->backoff_ms = BACKOFF_MAX_MS;
    } else {
        sl->backoff_ms = 0;
    }
    sl->start_at_ms = now + sl->backoff_ms;
    if (!clean)
        say("worker exited (%s %d)%s", WIFSIGNALED(status) ? "signal" : "status",
            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
            sl->backoff_ms ? ", restarting it after a pause" : "");
}

/* Forks a worker into sl; it counts as started, and is ready once it
 * writes to its pipe (which the loop polls), or killed when it is not
 * ready within READY_TIMEOUT_MS. */
static void worker_spawn(struct sup *s, struct slot *sl)
{
    int pipefd[2];
    pid_t pid;

    sl->started_ms = now_ms();
    sl->gen = s->gen;
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        slot_died(s, sl, 1 << 8);       /* as if it exited 1 at once */
        return;
    }
    if ((pid = fork()) < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        slot_died(s, sl, 1 << 8);
        return;
    }
    if (pid == 0) {
        close(pipefd[0]);
        child_run(s, pipefd[1]);
    }
    close(pipefd[1]);
    sl->pid = pid;
    sl->ready_fd = pipefd[0];
    sl->ready_by_ms = sl->started_ms + READY_TIMEOUT_MS;
}

/* The worker in sl said something, or closed its pipe by dying. Ready:
 * the worker it replaces (on a reload) is told to finish, and is never
 * waited for; it is reaped whenever it exits. */
static void slot_ready(struct slot *sl)
{
    char c;
    int ok = read(sl->ready_fd, &c, 1) == 1;

    close(sl->ready_fd);
    sl->ready_fd = -1;
    if (!ok) {
        kill(sl->pid, SIGKILL);         /* reaped, and counted, by reap */
        return;
    }
    sl->backoff_ms = 0;
    if (sl->old > 0)
        kill(sl->old, SIGTERM);
    sl->old = 0;
}

static void slots_fill(struct sup *s)
{
    uint64_t now = now_ms();

    for (unsigned i = 0; i < s->n; i++) {
        struct slot *sl = &s->slots[i];
        if (sl->pid == 0 && sl->start_at_ms <= now)
            worker_spawn(s, sl);
    }
}

/* Starting workers that took too long are killed; reap finishes them. */
static void slots_expire(struct sup *s)
{
    uint64_t now = now_ms();

    for (unsigned i = 0; i < s->n; i++) {
        struct slot *sl = &s->slots[i];
        if (sl->ready_fd >= 0 && sl->ready_by_ms <= now) {
            say("worker %d did not start within %d ms", (int)sl->pid, READY_TIMEOUT_MS);
            close(sl->ready_fd);
            sl->ready_fd = -1;
            kill(sl->pid, SIGKILL);
        }
    }
}

/* Every exited child is reaped: a slot's worker is replaced; a worker
 * being replaced, or one a reload retired, is simply gone. Either way the
 * application hears of it (app->reaped). */
static void reap(struct sup *s)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (s->app->reaped)
            s->app->reaped(s->app->ctx, pid);
        for (unsigned i = 0; i < s->n; i++) {
            struct slot *sl = &s->slots[i];
            if (sl->pid == pid)
                slot_died(s, sl, status);
            else if (sl->old == pid)
                sl->old = 0;
        }
    }
}

/* SIGHUP: each worker in turn is replaced by a fresh one that has loaded
 * the data files again; the new one is accepting before the old one is
 * told to finish, so the socket is never left without a worker. */
/* Runs the binary at s->exe with the same argv and NORI_SERVE_PROBE=1:
 * it checks its settings and loads its data as a start would, and exits
 * without binding. 0 when it exited 0 within PROBE_TIMEOUT_MS. */
static int exe_probe(struct sup *s)
{
    uint64_t end = now_ms() + PROBE_TIMEOUT_MS;
    int status;
    pid_t pid = fork(), got;

    if (pid < 0)
        return -1;
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        setenv("NORI_SERVE_PROBE", "1", 1);
        execv(s->exe, s->opt->argv);
        say("reload: cannot run %s: %s", s->exe, strerror(errno));
        _exit(127);
    }
    while ((got = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < end) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        say("reload: %s did not finish its checks within %d ms", s->exe, PROBE_TIMEOUT_MS);
        return -1;
    }
    return got == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Becomes the binary at s->exe, handing on the socket and the workers.
 * Returns only when execv failed, with everything as it was. */
static void exe_reexec(struct sup *s)
{
    char fd[16], pids[WORKERS_MAX * 2 * 12 + 1];
    size_t len = 0;

    for (unsigned i = 0; i < s->n; i++) {
        pid_t p[2] = {s->slots[i].pid, s->slots[i].old};
        for (int j = 0; j < 2; j++)
            if (p[j] > 0)
                len += (size_t)snprintf(pids + len, sizeof pids - len, "%s%d",
                                        len ? "," : "", (int)p[j]);
    }
    pids[len] = '\0';
    snprintf(fd, sizeof fd, "%d", s->sock);
    if (fcntl(s->sock, F_SETFD, 0) < 0 || setenv("NORI_SERVE_FD", fd, 1) < 0 ||
        setenv("NORI_SERVE_WORKERS", pids, 1) < 0) {
        say("reload: cannot hand on the socket: %s", strerror(errno));
    } else {
        say("reload: re-executing %s", s->exe);
        execv(s->exe, s->opt->argv);
        say("reload: cannot re-execute %s: %s", s->exe, strerror(errno));
    }
    fcntl(s->sock, F_SETFD, FD_CLOEXEC);
    unsetenv("NORI_SERVE_FD");
    unsetenv("NORI_SERVE_WORKERS");
}

static void reload_begin(struct sup *s)
{
    char err[512];

    if (s->exe[0] && s->opt->argv) {
        if (exe_probe(s) < 0) {
            say("reload refused, workers keep the old binary and data: "
                "%s does not start (its line above says why)", s->exe);
            return;
        }
        exe_reexec(s);          /* only returns when execv failed */
    }

    if (s->app->load(s->app->ctx, err, sizeof err) < 0) {
        say("reload refused, workers keep the old data: %s", err);
        return;
    }
    s->app->unload(s->app->ctx);
    s->gen++;
    s->reloading = 1;
}

/* One replacement at a time: the next old worker gets its successor once
 * the previous successor is ready. */
static void reload_step(struct sup *s)
{
    struct slot *next = NULL;

    if (!s->reloading)
        return;
    for (unsigned i = 0; i < s->n; i++) {
        struct slot *sl = &s->slots[i];
        if (sl->ready_fd >= 0 && sl->gen == s->gen)
            return;                     /* a successor is still starting */
        if (next == NULL && sl->pid > 0 && sl->gen != s->gen)
            next = sl;
    }
    if (next == NULL) {
        s->reloading = 0;
        say("reloaded %u workers", s->n);
        return;
    }
    next->old = next->pid;
    worker_spawn(s, next);
}

/* Every child goes: the slots' workers, starting or replaced, and any
 * old ones a reload left finishing their requests. */
static void workers_drain(struct sup *s)
{
    for (unsigned i = 0; i < s->n; i++) {
        struct slot *sl = &s->slots[i];
        if (sl->pid > 0)
            kill(sl->pid, SIGTERM);
        if (sl->old > 0)
            kill(sl->old, SIGTERM);
        if (sl->ready_fd >= 0)
            close(sl->ready_fd);
    }
    /* A request in hand is over within its deadlines (params, body,
     * the page): a worker still there long after is stuck, and a stop
     * must not wait for it forever. */
    struct timespec t0, now, nap = {0, 20 * 1000 * 1000};
    int killed = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t pid = waitpid(-1, NULL, WNOHANG);
        if (pid > 0) {
            for (unsigned i = 0; i < s->n; i++) {
                if (s->slots[i].pid == pid)
                    s->slots[i].pid = 0;
                if (s->slots[i].old == pid)
                    s->slots[i].old = 0;
            }
            if (s->app->reaped)
                s->app->reaped(s->app->ctx, pid);
            continue;
        }
        if (pid < 0 && errno != EINTR)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!killed && now.tv_sec - t0.tv_sec >= DRAIN_MAX_S) {
            say("draining: workers still there after %d s are killed", DRAIN_MAX_S);
            for (unsigned i = 0; i < s->n; i++) {
                if (s->slots[i].pid > 0)
                    kill(s->slots[i].pid, SIGKILL);
                if (s->slots[i].old > 0)
                    kill(s->slots[i].old, SIGKILL);
            }
            killed = 1;
        }
        nanosleep(&nap, NULL);
    }
}

/* Whether a worker is starting: its ready pipe would not survive an
 * execv, so a SIGHUP waits for it. */
static int slots_starting(const struct sup *s)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->slots[i].ready_fd >= 0)
            return 1;
    return 0;
}

/* Until the next timer: a delayed respawn, or a start deadline. */
static int next_wait_ms(const struct sup *s)
{
    uint64_t now = now_ms(), soonest = UINT64_MAX;

    for (unsigned i = 0; i < s->n; i++) {
        const struct slot *sl = &s->slots[i];
        if (sl->pid == 0 && sl->start_at_ms < soonest)
            soonest = sl->start_at_ms;
        if (sl->ready_fd >= 0 && sl->ready_by_ms < soonest)
            soonest = sl->ready_by_ms;
    }
    if (soonest == UINT64_MAX)
        return -1;
    return soonest <= now ? 0 : (int)(soonest - now);
}

/* One turn of the loop: waits for whatever comes first. Returns 1 when
 * told to stop. */
static int supervise_once(struct sup *s)
{
    struct pollfd pfd[1 + WORKERS_MAX];
    struct slot *of[1 + WORKERS_MAX];
    struct signalfd_siginfo si;
    unsigned k = 1;
    int stop = 0, hup = 0;

    pfd[0] = (struct pollfd){.fd = s->sfd, .events = POLLIN};
    for (unsigned i = 0; i < s->n; i++)
        if (s->slots[i].ready_fd >= 0) {
            of[k] = &s->slots[i];
            pfd[k++] = (struct pollfd){.fd = s->slots[i].ready_fd, .events = POLLIN};
        }
    if (poll(pfd, k, next_wait_ms(s)) < 0 && errno != EINTR)
        return 1;
    while (read(s->sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        stop |= si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT;
        hup |= si.ssi_signo == SIGHUP;
        if (si.ssi_signo == SIGUSR1)
            worker_reopen_log();        /* logrotate's postrotate */
    }
    if (stop)
        return 1;
    for (unsigned j = 1; j < k; j++)
        if (pfd[j].revents && of[j]->ready_fd == pfd[j].fd)
            slot_ready(of[j]);
    slots_expire(s);
    reap(s);
    s->hup_pending |= hup;
    if (s->hup_pending && !slots_starting(s)) {
        s->hup_pending = 0;
        reload_begin(s);
    }
    slots_fill(s);
    reload_step(s);
    return 0;
}

/* The binary's path now, while it names what runs: an upgrade may
 * replace the file, and the re-exec must find the new one at the path. */
static void exe_path(char *out, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);

    out[n > 0 ? n : 0] = '\0';
    if (n <= 0 || (size_t)n >= cap - 1 || strstr(out, " (deleted)"))
        out[0] = '\0';                 /* unknown: reload in place */
}

/* NORI_SERVE_FD: the listening socket the previous image handed on. */
static int sock_inherited(const char *val)
{
    char *end;
    long fd = strtol(val, &end, 10);
    struct stat sb;
    int listening = 0;
    socklen_t len = sizeof listening;

    if (*end || end == val || fd < 0 || fd > 65535 || fstat((int)fd, &sb) < 0 ||
        !S_ISSOCK(sb.st_mode) ||
        getsockopt((int)fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
        say("NORI_SERVE_FD=%s: not a listening socket", val);
        return -1;
    }
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    return (int)fd;
}

/* The previous image's workers become this one's slots, of the previous
 * generation, so that reload_step replaces them one at a time; when the
 * data does not load here they stay, as a refused reload leaves them.
 * Pids beyond the slots are told to finish at once. */
static void workers_adopt(struct sup *s, const char *pids, int replace)
{
    unsigned i = 0;
    const char *p = pids ? pids : "";
    char *end;

    s->gen = replace ? 1 : 0;
    while (*p) {
        long pid = strtol(p, &end, 10);
        if (end == p || pid <= 0)
            break;
        if (i < s->n) {
            s->slots[i] = (struct slot){.pid = (pid_t)pid, .ready_fd = -1,
                                        .started_ms = now_ms(), .gen = 0};
            i++;
        } else {
            kill((pid_t)pid, SIGTERM);
        }
        p = *end == ',' ? end + 1 : end;
        if (end == p && *p)
            break;
    }
    s->reloading = replace && i > 0;
}

int serve_run(const struct serve_options *opt, const struct serve_app *app)
{
    static struct sup s;
    sigset_t set;
    char err[512];
    const char *inherited;
    int loaded;

    memset(&s, 0, sizeof s);
    said = opt;
    s.n = opt->workers;
    s.opt = opt;
    s.app = app;
    if (s.n == 0 || s.n > WORKERS_MAX) {
        say("NORI_WORKERS=%u: not a number from 1 to %d", s.n, WORKERS_MAX);
        return 1;
    }
    for (unsigned i = 0; i < s.n; i++)
        s.slots[i].ready_fd = -1;
    if (wildcard_refused(opt->listen))
        return 1;
    /* Refuse at once what every worker would refuse. */
    loaded = app->load(app->ctx, err, sizeof err) == 0;
    if (loaded)
        app->unload(app->ctx);
    if (getenv("NORI_SERVE_PROBE")) {
        if (!loaded)
            say("reload: %s", err);
        return loaded ? 0 : 1;
    }
    if ((inherited = getenv("NORI_SERVE_FD")) != NULL) {
        s.sock = sock_inherited(inherited);
        if (s.sock < 0)
            return 1;
        if (!loaded)                    /* changed since the probe */
            say("reload refused after re-executing, workers keep the old data: %s", err);
        workers_adopt(&s, getenv("NORI_SERVE_WORKERS"), loaded);
        unsetenv("NORI_SERVE_FD");
        unsetenv("NORI_SERVE_WORKERS");
    } else if (!loaded) {
        say("%s", err);
        return 1;
    } else if ((s.sock = listen_open(opt)) < 0) {
        return 1;
    }
    exe_path(s.exe, sizeof s.exe);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if ((s.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        say("signalfd: %s", strerror(errno));
        close(s.sock);
        return 1;
    }
    if (inherited)
        say("re-executed: listening on %s with %u workers", opt->listen, s.n);
    else
        say("listening on %s with %u workers", opt->listen, s.n);
    slots_fill(&s);
    while (!supervise_once(&s))
        ;
    say("draining: workers finish the requests in hand");
    close(s.sock);
    workers_drain(&s);
    close(s.sfd);
    if (strncmp(opt->listen, "unix:", 5) == 0)
        unlink(opt->listen + 5);
    return 0;
}
