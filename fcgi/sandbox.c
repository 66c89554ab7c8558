/* sandbox.c -- the seccomp filter of a worker (sandbox.h).
 *
 * The list below is the whole of it: one table, a group per need, each
 * with why serving needs it. Everything not in it traps: the handler
 * logs it and makes the call fail with ENOSYS (a rarely used path that
 * needs a call nobody listed gets an error it can handle, and a line in
 * the log saying which), or, for the calls only an attacker makes, logs
 * it and ends the worker. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <ucontext.h>
#include <unistd.h>

#include <seccomp.h>

#include "sandbox.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

/* Allowed whatever their arguments. */
static const int allowed[] = {
    /* Memory: malloc, the arenas, LMDB's map, the statistics' map. */
    SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap),
    SCMP_SYS(mprotect), SCMP_SYS(madvise),
    /* Descriptors already open: the request's connection, files, the
     * store's socket, stderr. */
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
    SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev),
    SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(dup), SCMP_SYS(dup2),
    SCMP_SYS(dup3), SCMP_SYS(fcntl),
    /* Files: the page cache writes pages and renames them into place and
     * removes old generations; LMDB opens its files at the first request
     * that needs the store; the memory store leaves its orphan count. */
    SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(stat), SCMP_SYS(fstat),
    SCMP_SYS(lstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(access),
    SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(getdents64),
    SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(rename),
    SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlink),
    SCMP_SYS(unlinkat), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir),
    SCMP_SYS(ftruncate), SCMP_SYS(fallocate), SCMP_SYS(fchmod),
    SCMP_SYS(umask), SCMP_SYS(utimensat), SCMP_SYS(fstatfs), SCMP_SYS(statfs),
    SCMP_SYS(getcwd),
    /* Making it durable and keeping writers apart: commits, group
     * commit, LMDB's locks and the throttling table's. */
    SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(msync),
    SCMP_SYS(sync_file_range), SCMP_SYS(flock),
    /* The connections: accepting on the listening socket, checking the
     * peer, looking at the records before libfcgi reads them. */
    SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
    SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(shutdown),
    SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(getsockopt),
    SCMP_SYS(setsockopt), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select),
    SCMP_SYS(pselect6),
    /* Time: deadlines, expiry, the sweeper's period, the body timer. */
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
    SCMP_SYS(time), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
    SCMP_SYS(setitimer), SCMP_SYS(getitimer), SCMP_SYS(alarm),
    /* Signals: the stop signals, the body deadline's SIGALRM, and the
     * handler of this very filter. */
    SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
    SCMP_SYS(rt_sigtimedwait), SCMP_SYS(rt_sigpending), SCMP_SYS(sigaltstack),
    SCMP_SYS(restart_syscall),
    /* Threads: the sweeper, and the futexes of its lock and of LMDB's
     * shared mutexes. */
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list),
    SCMP_SYS(rseq), SCMP_SYS(set_tid_address), SCMP_SYS(gettid),
    SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
    /* Who and where this process is: logs, the orphan file's name, the
     * session key generator. */
    SCMP_SYS(getpid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
    SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getpgrp),
    SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(getrusage),
    SCMP_SYS(uname), SCMP_SYS(sysinfo), SCMP_SYS(getrandom),
    /* The end. */
    SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* Allowed only under SANDBOX_NET: the store's connection to its server,
 * made (again) at any request. */
static const int network[] = {
    SCMP_SYS(socket), SCMP_SYS(connect),
};

/* Made only by someone who took the worker over: the worker ends. */
static const struct {
    int nr;
    const char *name;
} fatal[] = {
    {SCMP_SYS(execve), "execve"}, {SCMP_SYS(execveat), "execveat"},
    {SCMP_SYS(fork), "fork"}, {SCMP_SYS(vfork), "vfork"},
    {SCMP_SYS(clone), "clone"}, {SCMP_SYS(ptrace), "ptrace"},
    {SCMP_SYS(socket), "socket"}, {SCMP_SYS(connect), "connect"},
    {SCMP_SYS(bind), "bind"}, {SCMP_SYS(listen), "listen"},
    {SCMP_SYS(kill), "kill"}, {SCMP_SYS(tgkill), "tgkill"},
    {SCMP_SYS(process_vm_readv), "process_vm_readv"},
    {SCMP_SYS(process_vm_writev), "process_vm_writev"},
};

/* Lines the handler writes at most: a loop around a refused call must
 * not fill the log. */
#define TRAP_LOG_MAX 32
static volatile sig_atomic_t trap_logged;

/* Decimal u into out (room for 24); its length. */
static size_t decimal(char *out, unsigned long u)
{
    char rev[24];
    size_t k = 0, n = 0;

    do
        rev[k++] = (char)('0' + u % 10);
    while ((u /= 10) && k < sizeof rev);
    while (k)
        out[n++] = rev[--k];
    return n;
}

/* "nori: sandbox: worker PID: WHAT system call NR (NAME)TAIL", from a
 * signal handler: write(2) only. */
static void trap_say(const char *what, long nr, const char *name, const char *tail)
{
    char line[192];
    size_t n = 0;

#define PUT(s) for (const char *p_ = (s); *p_ && n < sizeof line - 32; p_++) line[n++] = *p_
    PUT("nori: sandbox: worker ");
    n += decimal(line + n, (unsigned long)syscall(SYS_getpid));
    PUT(": ");
    PUT(what);
    PUT(" system call ");
    n += decimal(line + n, nr < 0 ? 0 : (unsigned long)nr);
    if (name) {
        PUT(" (");
        PUT(name);
        PUT(")");
    }
    PUT(tail);
#undef PUT
    line[n++] = '\n';
    if (write(2, line, n) < 0)
        return;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc_)
{
    ucontext_t *uc = uc_;
    long nr = si->si_syscall;

    (void)sig;
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        if (fatal[i].nr == nr) {
            trap_say("forbidden", nr, fatal[i].name, ": the worker ends");
            /* SIGKILL, which no handler or mask can hold up, through the
             * kernel: the C library's kill may be what was refused. */
            syscall(SYS_kill, syscall(SYS_getpid), SIGKILL);
            syscall(SYS_exit_group, 128 + SIGSYS);
        }
    if (trap_logged < TRAP_LOG_MAX) {
        trap_logged++;
        trap_say("refused", nr, NULL, ", not on the sandbox's list: it fails with ENOSYS");
    }
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
#elif defined(__aarch64__)
    uc->uc_mcontext.regs[0] = (unsigned long long)-ENOSYS;
#else
    (void)uc;
    syscall(SYS_exit_group, 128 + SIGSYS);
#endif
}

static int rules_add(scmp_filter_ctx ctx, enum sandbox_mode mode)
{
    int rc = 0;

    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
    for (size_t i = 0; mode == SANDBOX_NET && i < sizeof network / sizeof network[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, network[i], 0);
    /* isatty (stdio's buffering), FIONREAD and non-blocking sockets:
     * the ioctls of a descriptor already open; no other. */
    static const unsigned long ioctls[] = {TCGETS, FIONREAD, FIONBIO, FIOCLEX};
    for (size_t i = 0; i < sizeof ioctls / sizeof ioctls[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
                              SCMP_A1(SCMP_CMP_EQ, ioctls[i]));
    /* A thread of this process (the sweeper), not a new process. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    /* clone3's flags are behind a pointer the filter cannot read: glibc
     * falls back to clone when it is missing. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* Signals to this process only (abort, raise). */
    pid_t self = getpid();
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                              SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self));
    /* Signal 0 sends nothing: the LMDB store's group commit asks whether
     * the process that held a slot is still alive. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                              SCMP_A1(SCMP_CMP_EQ, 0));
    return rc;
}

enum sandbox_err sandbox_enter(enum sandbox_mode mode)
{
    struct sigaction sa;
    scmp_filter_ctx ctx = NULL;
    enum sandbox_err err = SANDBOX_EFILTER;
    int rc;

#ifdef UNDER_SANITIZER
    mode = SANDBOX_OFF;     /* the sanitizer's runtime traces and forks */
#endif
    if (mode == SANDBOX_OFF)
        return SANDBOX_OK;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    if (sigaction(SIGSYS, &sa, NULL) < 0) {
        fprintf(stderr, "nori: sandbox: cannot handle SIGSYS: %s\n", strerror(errno));
        goto done;
    }
    if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL) {
        fprintf(stderr, "nori: sandbox: seccomp_init failed\n");
        goto done;
    }
    if ((rc = rules_add(ctx, mode)) != 0 || (rc = seccomp_load(ctx)) != 0) {
        fprintf(stderr, "nori: sandbox: the kernel refused the filter: %s "
                "(NORI_SANDBOX=off runs without it)\n", strerror(-rc));
        goto done;
    }
    err = SANDBOX_OK;
done:
    if (ctx)
        seccomp_release(ctx);
    return err;
}
