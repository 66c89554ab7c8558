/* sandbox-probe.c -- a test-only application (tests/integration/
 * sandbox.sh; built by `make build/sandbox-probe`, never by `make all`,
 * never installed): each page makes one system call that the worker's
 * sandbox must refuse, and says what became of it. Without a sandbox
 * every page answers 200. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <nori.h>

static int said(struct nori_req *r, const char *what, int rc, int err)
{
    nori_response_printf(r->resp, "%s: %d %s\n", what, rc, rc < 0 ? strerror(err) : "ok");
    return 200;
}

static int page_ok(struct nori_req *r)
{
    return said(r, "ok", 0, 0);
}

/* What an attacker's first move would be: run a program. */
static int page_exec(struct nori_req *r)
{
    char *argv[] = {"nori-probe", NULL}, *envp[] = {NULL};
    int rc = execve("/nonexistent/nori-probe", argv, envp);

    return said(r, "execve", rc, errno);
}

/* A connection out, which no store but Redis needs. */
static int page_socket(struct nori_req *r)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc = fd, err = errno;

    if (fd >= 0) {
        rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        err = errno;
        close(fd);
    }
    return said(r, "connect", rc, err);
}

/* A harmless call nobody listed: refused, logged, and survived. */
static int page_unlisted(struct nori_req *r)
{
    errno = 0;
    long rc = syscall(SYS_getpriority, PRIO_PROCESS, 0);

    return said(r, "getpriority", rc < 0 ? -1 : 0, errno);
}

/* No state and no actions: nori wants a codec and an act all the same. */
static int none_encode(const void *state, unsigned char *buf, size_t cap, size_t *len)
{
    (void)state, (void)buf, (void)cap;
    *len = 0;
    return 0;
}

static int none_decode(void *state, unsigned version, const unsigned char *buf, size_t len)
{
    (void)state, (void)buf;
    return version == 1 && len == 0 ? 0 : -1;
}

static struct nori_result none_act(struct nori_req *r)
{
    (void)r;
    return nori_fail(400, "There is no such action.");
}

static const struct nori_page pages[] = {
    {"Ok", page_ok, 0},
    {"Exec", page_exec, 0},
    {"Socket", page_socket, 0},
    {"Unlisted", page_unlisted, 0},
};

int main(int argc, char **argv)
{
    const struct nori_app app = {
        .name = "sandbox probe",
        .pages = pages,
        .npages = sizeof pages / sizeof pages[0],
        .act = none_act,
        .state = {1, 1, none_encode, none_decode},
    };

    return nori_main(&app, argc, argv);
}
