/* synctrace.c -- an LD_PRELOAD shim for groupcommit.sh: every process of
 * a nori serve appends, in one shared file ($SYNCTRACE, O_APPEND, one
 * write per event, so the file's order is the order the events happened),
 *
 *   D pid TOKEN...  a write of LMDB data pages (data.mdb at or past page 2),
 *                   with every run of 22..64 key characters in its bytes
 *   M pid DSYNC     a write of a meta page: the transaction's commit point;
 *                   DSYNC 1 when the descriptor is O_DSYNC (durable itself)
 *   S0 pid / S1 pid before / after an fdatasync, fsync or msync of data.mdb
 *   A pid KEY       an answer "Status: 303" carrying _s=KEY, before it is
 *                   written to the web server's socket
 *
 * synccheck.awk reads it. Test code only: never part of a build. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define META_END (2 * 4096)     /* LMDB's two meta pages, 4 KiB each */

static int log_fd = -2;

static void log_line(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    if (log_fd == -2) {
        const char *path = getenv("SYNCTRACE");
        log_fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600) : -1;
    }
    if (log_fd < 0)
        return;
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof line)
        syscall(SYS_write, log_fd, line, (size_t)n);
}

static int is_data(int fd)
{
    char link[64], path[4096];
    ssize_t n;

    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n < 9)
        return 0;
    path[n] = '\0';
    return strcmp(path + n - 9, "/data.mdb") == 0;
}

static int is_socket(int fd)
{
    struct stat sb;

    return fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode);
}

static int key_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Key-like runs of one buffer, as D lines of at most ~16 tokens each. */
static void log_tokens(const unsigned char *b, size_t n)
{
    char line[480];
    size_t used = 0;

    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && key_char(b[j]))
            j++;
        if (j - i >= 22 && j - i <= 64) {
            if (used + (j - i) + 2 > sizeof line) {
                log_line("D %d%.*s\n", (int)getpid(), (int)used, line);
                used = 0;
            }
            line[used++] = ' ';
            memcpy(line + used, b + i, j - i);
            used += j - i;
        }
        i = j > i ? j : i + 1;
    }
    log_line("D %d%.*s\n", (int)getpid(), (int)used, line);
}

static void file_written(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (!is_data(fd))
        return;
    if (off >= 0 && off < META_END) {
        int flags = fcntl(fd, F_GETFL);
        log_line("M %d %d\n", (int)getpid(), flags >= 0 && (flags & O_DSYNC) ? 1 : 0);
        return;
    }
    for (int i = 0; i < cnt; i++)
        log_tokens(iov[i].iov_base, iov[i].iov_len);
}

/* The order errs one way only, towards a failure: an answer is logged
 * before it is sent; a write of the store after it has returned; a sync
 * before it begins (S0) and after it returns (S1). So a write logged
 * before an S0 was done before that sync began, and an answer logged
 * after an S1 was sent after that sync returned. */
static void answer_check(int fd, const void *buf, size_t n)
{
    const char *b = buf, *st, *loc;

    if (n < 20 || (st = memmem(b, n, "Status: 303", 11)) == NULL || !is_socket(fd))
        return;
    if ((loc = memmem(b, n, "_s=", 3)) == NULL || (size_t)(b + n - loc) < 3 + 22)
        return;
    log_line("A %d %.22s\n", (int)getpid(), loc + 3);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real)(int, const void *, size_t);
    struct iovec iov = {(void *)buf, n};

    if (!real)
        real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    answer_check(fd, buf, n);
    ssize_t r = real(fd, buf, n);
    if (r > 0 && is_data(fd))
        file_written(fd, &iov, 1, lseek(fd, 0, SEEK_CUR) - r);
    return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    struct iovec iov = {(void *)buf, n};

    if (!real)
        real = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    ssize_t r = real(fd, buf, n, off);
    if (r > 0)
        file_written(fd, &iov, 1, off);
    return r;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return pwrite(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    static ssize_t (*real)(int, const struct iovec *, int);
    off_t at = -1;

    if (!real)
        real = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
    if (is_data(fd))
        at = lseek(fd, 0, SEEK_CUR);
    for (int i = 0; i < cnt; i++)
        answer_check(fd, iov[i].iov_base, iov[i].iov_len);
    ssize_t r = real(fd, iov, cnt);
    if (r > 0 && at >= 0)
        file_written(fd, iov, cnt, at);
    return r;
}

static int synced(int fd, int (*real)(int))
{
    int data = is_data(fd);

    if (data)
        log_line("S0 %d\n", (int)getpid());
    int r = real(fd);
    if (data && r == 0)
        log_line("S1 %d\n", (int)getpid());
    return r;
}

int fdatasync(int fd)
{
    static int (*real)(int);

    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    return synced(fd, real);
}

int fsync(int fd)
{
    static int (*real)(int);

    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    return synced(fd, real);
}

/* LMDB msyncs only with MDB_WRITEMAP, which nori does not use; a sync
 * all the same, of whatever the map holds. */
int msync(void *addr, size_t len, int flags)
{
    static int (*real)(void *, size_t, int);

    if (!real)
        real = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "msync");
    log_line("S0 %d\n", (int)getpid());
    int r = real(addr, len, flags);
    if (r == 0)
        log_line("S1 %d\n", (int)getpid());
    return r;
}
