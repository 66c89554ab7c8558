/* rundir.h -- the run directory holds what workers trust (the statistics
 * file, an application's own files, the default session store, sockets,
 * a memory store's memory.PID), so it is
 * checked before use rather than used as found. */
#ifndef NORI_RUNDIR_H
#define NORI_RUNDIR_H

#include <stddef.h>

enum rundir_err {
    RUNDIR_OK = 0,
    RUNDIR_EMISSING,        /* absent and cannot be made */
    RUNDIR_ENOTDIR,
    RUNDIR_EOWNER,          /* owned by another user than the one running */
    RUNDIR_EWRITABLE,       /* its group or others may write in it */
    RUNDIR_ENOTWRITABLE,    /* ours, but we may not write in it */
};

/* Makes path (0700, its parents as mkdir -p) if it does not exist; then
 * it must be a directory owned by the effective user, writable by it and
 * not by its group or others. On an error, err says what and how to fix
 * it, naming NORI_RUNDIR. */
enum rundir_err rundir_check(const char *path, char *err, size_t errlen);

/* The same check of another directory nori trusts (an LMDB store's), which
 * must exist; err names setting (e.g. "NORI_STORE"). */
enum rundir_err rundir_check_dir(const char *setting, const char *path, char *err,
                                 size_t errlen);

#endif
