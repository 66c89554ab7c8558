/* cache.h -- the page cache: sessionless pages written once, as files
 * the web server serves without asking nori.
 *
 * Under RUNDIR/pages, one directory per generation, named by the ETag of
 * sessionless pages (the application's data and this build): a catalog
 * reload or a new build is a new generation, empty until its pages are
 * rendered. A page is PREFIX/QUERY.html in it (PREFIX/index.html for an
 * empty query), dated with the generation's date. pages/current is a
 * symlink to the current generation: the web server maps a URL to
 * pages/current/PREFIX/QUERY.html and serves the file if it is there. The
 * other generations are removed first, then the link is replaced by
 * rename: a server sees the old generation, fewer and fewer pages of it,
 * or the new one, never a page of the old once the link has moved.
 *
 * The link's own mtime is the generation's date, the Last-Modified of its
 * pages: the file's date is what a web server sends with a file, and a
 * static file carries no ETag of nori's, so with the cache on this date,
 * not the ETag, is the validator of sessionless pages. */
#ifndef NORI_CACHE_H
#define NORI_CACHE_H

#include <stddef.h>
#include <time.h>

struct stats;
struct written;

struct page_cache {
    int on;
    char gen[4096];             /* RUNDIR/pages/<etag>, "" when off */
    time_t date;                /* the generation's, its pages' mtime */
    char last_modified[32];     /* date as an HTTP-date */
    unsigned long max;          /* bytes a generation may hold */
    struct stats *stats;        /* where its size is kept, shared */
    struct written *written;    /* what this worker wrote (cache.c) */
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

/* Keeps a page: prefix is SCRIPT_NAME, query the canonical query string.
 * Written to a temporary file and renamed; skipped (silently: the page
 * was answered anyway) when the key cannot be a file name, the
 * generation is full or gone. */
void cache_store(struct page_cache *pc, const char *prefix, const char *query,
                 const char *body, size_t len);

/* Whether this worker has kept (or let go) that page in its generation
 * already: a lookup, so that a page the web server does not serve from
 * the cache costs no more than it when it comes back. */
int cache_seen(const struct page_cache *pc, const char *prefix, const char *query);

/* Forgets what this worker wrote; the files stay. */
void cache_close(struct page_cache *pc);

#endif
