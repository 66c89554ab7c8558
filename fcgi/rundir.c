/* rundir.c -- the run directory check. Anyone who can write in the run
 * directory can plant a symlink where the counters or the throttle table
 * will be opened, or a session store of their own: so it must be ours,
 * and only ours to write. (Files in it are opened O_NOFOLLOW as well.) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rundir.h"

enum rundir_err rundir_check(const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (stat(path, &st) < 0 && (errno != ENOENT || mkdir(path, 0700) < 0 ||
                                stat(path, &st) < 0)) {
        snprintf(err, errlen, "run directory %s: %s", path, strerror(errno));
        return RUNDIR_EMISSING;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "run directory %s: not a directory", path);
        return RUNDIR_ENOTDIR;
    }
    if (st.st_uid != geteuid()) {
        snprintf(err, errlen, "run directory %s: owned by uid %u, not by uid %u "
                 "that nori runs as (chown it)", path, (unsigned)st.st_uid,
                 (unsigned)geteuid());
        return RUNDIR_EOWNER;
    }
    if (st.st_mode & S_IWOTH) {
        snprintf(err, errlen, "run directory %s: writable by others (mode %03o; "
                 "chmod o-w it)", path, (unsigned)(st.st_mode & 0777));
        return RUNDIR_EWRITABLE;
    }
    return RUNDIR_OK;
}
