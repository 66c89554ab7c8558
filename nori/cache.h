/* cache.h -- the page cache: sessionless pages written once, as files
 * the web server serves without asking nori.
 *
 * Under RUNDIR/pages, one directory per generation, named by the ETag of
 * sessionless pages (the application's data, the application's binary,
 * the session policy and this build): a catalog reload, a new build of
 * the application or of nori, or another policy is a new generation,
 * empty until its pages are rendered. A page is PREFIX/QUERY.html in it
 * (PREFIX/index.html for an empty query), dated with the generation's
 * date. pages/current is a symlink to the current generation: the web
 * server maps a URL to pages/current/PREFIX/QUERY.html and serves the
 * file if it is there. The other generations are removed first, then the
 * link is replaced by rename: a server sees the old generation, fewer and
 * fewer pages of it, or the new one, never a page of the old once the
 * link has moved.
 *
 * The link's own mtime is the generation's date, the Last-Modified of its
 * pages: the file's date is what a web server sends with a file, and a
 * static file carries no ETag of nori's, so with the cache on this date,
 * not the ETag, is the validator of sessionless pages.
 *
 * Everything under RUNDIR/pages is reached through directory descriptors
 * opened O_NOFOLLOW (openat, mkdirat, unlinkat): a symlink planted there
 * is never followed, neither to write a page nor to remove a generation.
 *
 * The budget (NORI_PAGE_CACHE_MAX) counts what the disk spends: each
 * file's and directory's allocated blocks. A generation that is full is
 * emptied (its pages, not the generation: the date and validators stay)
 * by the worker that finds it full, so that pages nobody asks for again
 * do not keep the ones that are asked for out for the generation's life. */
#ifndef NORI_CACHE_H
#define NORI_CACHE_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct stats;

/* How many pages a worker remembers having kept (or let go): a fixed
 * table of their keys' digests, so that what a worker remembers costs the
 * same whatever the URLs it is sent (8 bytes a slot). A page forgotten
 * (its slot taken by another) is only kept again: the same bytes. */
#define CACHE_SEEN_SLOTS 65536

struct page_cache {
    int on;
    char gen[4096];             /* RUNDIR/pages/<etag>, "" when off */
    time_t date;                /* the generation's, its pages' mtime */
    char last_modified[32];     /* date as an HTTP-date */
    unsigned long max;          /* bytes a generation may hold */
    struct stats *stats;        /* where its size is kept, shared */
    int fds;                    /* whether pages_fd is open */
    int pages_fd;               /* RUNDIR/pages */
    char name[64];              /* the generation's, in pages_fd */
    uint64_t *seen;             /* CACHE_SEEN_SLOTS digests, 0 = empty */
    uint64_t flushes;           /* the generation's emptyings seen */
};

enum cache_err {
    CACHE_OK = 0,
    CACHE_EDIR,                 /* RUNDIR/pages cannot be made or written */
};

/* Makes the generation of etag (a quoted ETag) current and reads its
 * date, or, when off, removes the link, so that the web server passes
 * every request to nori. */
enum cache_err cache_open(struct page_cache *pc, const char *rundir, int on,
                          unsigned long max, const char *etag,
                          struct stats *stats, char *err, size_t errlen);

/* Keeps a page: prefix is SCRIPT_NAME (canonical: cache_prefix_canonical),
 * query the canonical query string. Written to a temporary file and
 * renamed; skipped (silently: the page was answered anyway) when the key
 * cannot be a file name, the page is larger than the budget or the
 * generation is gone. */
void cache_store(struct page_cache *pc, const char *prefix, const char *query,
                 const char *body, size_t len);

/* Whether this worker has kept (or let go) that page in its generation
 * already: a lookup, so that a page the web server does not serve from
 * the cache costs no more than it when it comes back. */
int cache_seen(const struct page_cache *pc, const char *prefix, const char *query);

/* Forgets what this worker wrote; the files stay. */
void cache_close(struct page_cache *pc);

/* The canonical form of a mount prefix (SCRIPT_NAME) into out: "" or
 * "/a/b", without empty or "." segments and without a trailing '/'. A
 * ".." segment, or a prefix longer than cap, gives -1: no canonical form
 * nori would render links under. Returns the length otherwise. */
int cache_prefix_canonical(char *out, size_t cap, const char *prefix);

/* Whether the entry name of the directory dirfd, as readdir typed it, is
 * a directory (not a symlink to one): d_type when the filesystem gives it,
 * fstatat otherwise (DT_UNKNOWN, which some filesystems always report). */
int cache_entry_is_dir(int dirfd, const char *name, unsigned char d_type);

/* A digest of the running program (/proc/self/exe), read once per
 * process: the application's own build, which the generation and the
 * validators are keyed by. 0 when the program cannot be read. */
uint64_t cache_program_digest(void);

#endif
