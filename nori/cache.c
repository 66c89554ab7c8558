/* cache.c -- the page cache's files (cache.h): generations, the script
 * and symlink that name the current one, and the pages themselves. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uthash.h>

#include "../fcgi/stats.h"
#include "cache.h"
#include "service.h"

#define KEY_MAX 200             /* a longer query is not kept: a name is 255 */

/* lighttpd's mod_magnet runs this for every request to the mount; it is
 * rewritten, and re-read by lighttpd, at every switch of generation.
 * Anything but a GET or HEAD of a query made of the bytes a canonical
 * URL can hold, without a session cookie, is left to nori (return 0),
 * as is a page not in the cache. The headers are the ones nori sends
 * with a sessionless page (nori/dispatch.c). */
static const char script_on[] =
    "-- Written by nori at each page cache switch: do not edit.\n"
    "local r = lighty.r\n"
    "local m = r.req_attr[\"request.method\"]\n"
    "if m ~= \"GET\" and m ~= \"HEAD\" then return 0 end\n"
    "local q = r.req_attr[\"uri.query\"] or \"\"\n"
    "local p = r.req_attr[\"uri.path\"] or \"\"\n"
    "if #q > %d or q:find(\"[^%%w=&%%%%._~-]\") then return 0 end\n"
    "if p:find(\"[^%%w/._-]\") or p:find(\"..\", 1, true) then return 0 end\n"
    "local c = r.req_header[\"Cookie\"]\n"
    "if c and c:find(\"nori_s=\", 1, true) then return 0 end\n"
    "local file = \"%s\" .. p .. \"/\" .. (q == \"\" and \"index\" or q) .. \".html\"\n"
    "local st = lighty.c.stat(file)\n"
    "if not st or not st.is_file then return 0 end\n"
    "local etag = '%s'\n"
    "local h = r.resp_header\n"
    "h[\"X-Content-Type-Options\"] = \"nosniff\"\n"
    "h[\"Referrer-Policy\"] = \"same-origin\"\n"
    "h[\"Content-Security-Policy\"] = \"%s\"\n"
    "h[\"ETag\"] = etag\n"
    "h[\"Cache-Control\"] = \"public, max-age=60\"\n"
    "%s"
    "local inm = r.req_header[\"If-None-Match\"]\n"
    "if inm and (inm:find(etag, 1, true) or inm:find(\"*\", 1, true)) then return 304 end\n"
    "h[\"Content-Type\"] = \"text/html; charset=utf-8\"\n"
    "r.resp_body.set({ { filename = file } })\n"
    "return 200\n";

static const char script_off[] =
    "-- Written by nori: the page cache is off (NORI_PAGE_CACHE=off).\n"
    "return 0\n";

/* Written whole to a temporary name, then renamed over the old one. */
static int file_replace(const char *path, const char *bytes, size_t len)
{
    char tmp[4200];
    int fd, ok;

    if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    ok = write(fd, bytes, len) == (ssize_t)len;
    if (close(fd) < 0)
        ok = 0;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int symlink_replace(const char *target, const char *path)
{
    char tmp[4200];

    if (snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof tmp)
        return -1;
    unlink(tmp);
    if (symlink(target, tmp) < 0)
        return -1;
    if (rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_DP)
        rmdir(path);
    else
        unlink(path);
    return 0;
}

/* Every generation but keep (a directory name), with what is in it. */
static void generations_prune(const char *pages, const char *keep)
{
    DIR *d = opendir(pages);
    struct dirent *e;
    char path[4200];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || e->d_type != DT_DIR || strcmp(e->d_name, keep) == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", pages, e->d_name) < (int)sizeof path)
            nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

static int fail(char *err, size_t errlen, const char *what, const char *path)
{
    snprintf(err, errlen, "page cache: %s %s: %s", what, path, strerror(errno));
    return CACHE_EDIR;
}

/* The generation's name: the ETag's hex digits, without its quotes. */
static void generation_name(const char *etag, char *out, size_t cap)
{
    size_t n = 0;

    for (const char *p = etag; *p && n + 1 < cap; p++)
        if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
            out[n++] = *p;
    out[n] = '\0';
}

enum cache_err cache_open(struct page_cache *pc, const char *rundir, int on,
                          unsigned long max, const char *etag, int vary_cookie,
                          struct stats *stats, char *err, size_t errlen)
{
    char pages[4096], path[4200], name[64], script[4096 + sizeof script_on];
    int n;

    cache_close(pc);
    memset(pc, 0, sizeof *pc);
    pc->max = max;
    pc->stats = stats;
    if (snprintf(pages, sizeof pages, "%s/pages", rundir) >= (int)sizeof pages)
        return fail(err, errlen, "path too long:", rundir);
    if (mkdir(pages, 0755) < 0 && errno != EEXIST)
        return fail(err, errlen, "cannot make", pages);
    /* The path goes into the script as a Lua string literal. */
    if (strpbrk(pages, "\"\\\n'") != NULL) {
        errno = EINVAL;
        return fail(err, errlen, "a run directory with a quote, backslash or "
                    "newline cannot hold it:", pages);
    }
    generation_name(etag, name, sizeof name);
    snprintf(path, sizeof path, "%s/nori-cache.lua", pages);
    if (!on) {
        generations_prune(pages, "");
        snprintf(script, sizeof script, "%s/current", pages);
        unlink(script);
        return file_replace(path, script_off, sizeof script_off - 1) < 0
                   ? fail(err, errlen, "cannot write", path) : CACHE_OK;
    }
    if (snprintf(pc->gen, sizeof pc->gen, "%s/%s", pages, name) >= (int)sizeof pc->gen)
        return fail(err, errlen, "path too long:", pages);
    if (mkdir(pc->gen, 0755) < 0) {
        if (errno != EEXIST)
            return fail(err, errlen, "cannot make", pc->gen);
    } else if (stats) {
        /* A new generation starts empty: its size starts at 0. */
        stats_set(stats, STAT_CACHE_BYTES, 0);
    }
    n = snprintf(script, sizeof script, script_on, KEY_MAX, pc->gen, etag, HEADER_CSP,
                 vary_cookie ? "h[\"Vary\"] = \"Cookie\"\n" : "");
    if (n < 0 || (size_t)n >= sizeof script)
        return fail(err, errlen, "path too long:", pc->gen);
    if (file_replace(path, script, (size_t)n) < 0)
        return fail(err, errlen, "cannot write", path);
    snprintf(path, sizeof path, "%s/current", pages);
    if (symlink_replace(name, path) < 0)
        return fail(err, errlen, "cannot link", path);
    generations_prune(pages, name);
    pc->on = 1;
    return CACHE_OK;
}

/* What a canonical query and a mount prefix may hold to be a file name
 * under the generation: the script above refuses the rest as well. */
static int key_ok(const char *prefix, const char *query)
{
    size_t q = strlen(query);

    if (q > KEY_MAX || strspn(query, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                                     "qrstuvwxyz0123456789=&%._~-") != q)
        return 0;
    return strspn(prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          "0123456789/._-") == strlen(prefix) &&
           strstr(prefix, "..") == NULL;
}

/* The pages this worker wrote in its generation. Without a server in
 * front that serves them (a bench, one-shot runs, nginx), the same page
 * would be written again at every request: a lookup here costs less
 * than the system calls. Bounded by the generation's size. */
struct written {
    UT_hash_handle hh;
    char key[];
};

static int written_before(struct page_cache *pc, const char *path)
{
    struct written *w = NULL;
    size_t n = strlen(path);

    HASH_FIND(hh, pc->written, path, n, w);
    if (w)
        return 1;
    if ((w = malloc(sizeof *w + n + 1)) != NULL) {
        memcpy(w->key, path, n + 1);
        HASH_ADD(hh, pc->written, key[0], n, w);
    }
    return 0;
}

void cache_close(struct page_cache *pc)
{
    struct written *w, *tmp;

    HASH_ITER(hh, pc->written, w, tmp) {
        HASH_DEL(pc->written, w);
        free(w);
    }
    pc->on = 0;
}

void cache_store(struct page_cache *pc, const char *prefix, const char *query,
                 const char *body, size_t len)
{
    char dir[4400], path[4700];
    const char *mount = prefix[0] ? prefix : "/";

    if (!pc->on || !key_ok(prefix, query))
        return;
    if (stats_get(pc->stats, STAT_CACHE_BYTES) + len > pc->max)
        return;
    if (snprintf(dir, sizeof dir, "%s%s", pc->gen, mount) >= (int)sizeof dir ||
        snprintf(path, sizeof path, "%s/%s.html", dir, query[0] ? query : "index") >=
            (int)sizeof path || written_before(pc, path))
        return;
    /* The mount's directory, made at its first page. mkdir of the
     * generation itself is not tried: a generation that is gone was
     * replaced, and its pages would never be served. */
    if (access(pc->gen, F_OK) < 0)
        return;
    for (char *s = dir + strlen(pc->gen) + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(dir, 0755);
            *s = '/';
        }
    mkdir(dir, 0755);
    if (file_replace(path, body, len) == 0)
        stats_add(pc->stats, STAT_CACHE_BYTES, len);
}
