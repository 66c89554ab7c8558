/* rundir.c -- the run directory check. Anyone who can write in the run
 * directory can plant a symlink where the statistics file or an application's
 * own files will be opened, or a session store of their own: so it must be ours,
 * and only ours to write: not its group's either. (Files in it are opened
 * O_NOFOLLOW as well, and the page cache reaches its directories through
 * descriptors opened O_NOFOLLOW.) An LMDB store's directory is checked
 * the same way.
 * Every message names the setting, so that a refusal at start is one
 * line a deployer can act on. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rundir.h"

/* Its parents as `mkdir -p` makes them; the directory itself 0700. A
 * failure here shows in the stat that follows. */
static void rundir_make(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);

    if (n == 0 || n >= sizeof tmp)
        return;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            (void)mkdir(tmp, 0755);
            *p = '/';
        }
    (void)mkdir(tmp, 0700);
}

/* The owner and mode every directory nori trusts must have: ours, a
 * directory, and no one else's to write in (group included: a group
 * member could plant a symlink or a store of their own as well). */
static enum rundir_err dir_private(const char *setting, const char *path,
                                   const struct stat *st, char *err, size_t errlen)
{
    if (!S_ISDIR(st->st_mode)) {
        snprintf(err, errlen, "%s=%s: not a directory", setting, path);
        return RUNDIR_ENOTDIR;
    }
    if (st->st_uid != geteuid()) {
        snprintf(err, errlen, "%s=%s: owned by uid %u, not by uid %u "
                 "that nori runs as (chown it)", setting, path, (unsigned)st->st_uid,
                 (unsigned)geteuid());
        return RUNDIR_EOWNER;
    }
    if (st->st_mode & S_IWOTH) {
        snprintf(err, errlen, "%s=%s: writable by others (mode %03o; "
                 "chmod o-w it)", setting, path, (unsigned)(st->st_mode & 0777));
        return RUNDIR_EWRITABLE;
    }
    if (st->st_mode & S_IWGRP) {
        snprintf(err, errlen, "%s=%s: writable by its group (mode %03o; "
                 "chmod g-w it)", setting, path, (unsigned)(st->st_mode & 0777));
        return RUNDIR_EWRITABLE;
    }
    if (access(path, W_OK | X_OK) < 0) {
        snprintf(err, errlen, "%s=%s: cannot write in it: %s", setting, path,
                 strerror(errno));
        return RUNDIR_ENOTWRITABLE;
    }
    return RUNDIR_OK;
}

enum rundir_err rundir_check(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (path[0] == '\0' || (stat(path, &st) < 0 &&
                            (errno != ENOENT || (rundir_make(path), stat(path, &st)) < 0))) {
        snprintf(err, errlen, "NORI_RUNDIR=%s: cannot make it: %s", path,
                 path[0] ? strerror(errno) : "empty");
        return RUNDIR_EMISSING;
    }
    return dir_private("NORI_RUNDIR", path, &st, err, errlen);
}

enum rundir_err rundir_check_dir(const char *setting, const char *path, char *err,
                                 size_t errlen)
{
    struct stat st;

    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "%s=%s: %s", setting, path, strerror(errno));
        return RUNDIR_EMISSING;
    }
    return dir_private(setting, path, &st, err, errlen);
}
