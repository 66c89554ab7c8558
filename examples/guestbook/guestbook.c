/* guestbook.c -- a guestbook on nori: visitors sign it with a name and
 * a line of text, everyone reads it. Pages Book, Entry and Json, action
 * sign, the visitor's name in the session, the setting NORI_GUESTBOOK_MAX.
 * Entries are lines of a file in the run directory that every worker
 * shares, appended under flock(2) and checked when read. An entry never
 * changes, so its page may come from the page cache; the book grows, so
 * its pages are NORI_PAGE_LIVE. docs/design.md, "Writing an application".
 *
 *   cc guestbook.c main.c $(pkg-config --cflags --libs nori) -o guestbook
 */
#define _GNU_SOURCE                 /* flock, pwrite, gmtime_r, O_NOFOLLOW under -std=c11 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guestbook.h"

#define LINE_MAX_ (20 + 1 + GB_NAME_MAX + 1 + GB_TEXT_MAX + 1)
#define LIST_SHOWN 10               /* entries on the book's page */

static const struct nori_field query_fields[] = {
    NORI_FIELD_UINT(struct gb_query, id, "id", 1, GB_ENTRIES_LIMIT, 0),
};

static const struct nori_field form_fields[] = {
    NORI_FIELD_TEXT(struct gb_form, name, "name", 1, GB_NAME_MAX),
    NORI_FIELD_TEXT(struct gb_form, text, "text", 1, GB_TEXT_MAX),
};

/* ---- the book: a file of lines "UNIXTIME\tNAME\tTEXT\n" ---- */

struct entry {
    uint64_t at;
    const char *name, *text;        /* in the request's arena */
};

struct book {
    struct entry *e;
    size_t count;
    size_t good_len;                /* bytes of whole, valid lines */
};

/* A field of 1..max bytes without control characters (the grammar let
 * none in; a file edited by hand may hold anything). */
static int field_ok(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int entry_parse(char *line, size_t n, struct entry *e)
{
    char *t1 = memchr(line, '\t', n), *t2;
    uint64_t at;

    if (t1 == NULL || (t2 = memchr(t1 + 1, '\t', n - (size_t)(t1 + 1 - line))) == NULL ||
        nori_decimal(line, (size_t)(t1 - line), UINT64_MAX / 2, &at) < 0 ||
        !field_ok(t1 + 1, (size_t)(t2 - t1 - 1), GB_NAME_MAX) ||
        !field_ok(t2 + 1, n - (size_t)(t2 + 1 - line), GB_TEXT_MAX))
        return -1;
    *t1 = *t2 = line[n] = '\0';     /* line[n] is its newline */
    *e = (struct entry){at, t1 + 1, t2 + 1};
    return 0;
}

/* The entries of buf (e NULL: counted only). The first line that is
 * not a whole, valid entry ends the book: a write torn by a crash, or a
 * file edited by hand. */
static void book_parse(char *buf, size_t len, struct entry *e, size_t cap, struct book *b)
{
    char *nl = memchr(buf, '\n', len);
    size_t off = len && buf[0] == '#' && nl ? (size_t)(nl - buf) + 1 : 0;
    struct entry scratch;

    b->e = e;
    b->count = 0;
    while (off < len && b->count < cap) {
        char *nl = memchr(buf + off, '\n', len - off);
        if (nl == NULL || entry_parse(buf + off, (size_t)(nl - buf - off),
                                      e ? &e[b->count] : &scratch) < 0)
            break;
        b->count++;
        off = (size_t)(nl - buf) + 1;
    }
    b->good_len = off;
}

/* Reads the locked book from fd into the arena and parses it (e NULL:
 * counted only). The header line and max lines bound what is read. */
static int book_from(struct nori_req *r, int fd, struct entry *e, struct book *b)
{
    unsigned long max = ((const struct guestbook *)r->data)->cfg.max;
    size_t cap = 32 + max * LINE_MAX_, len = 0;
    char *buf = nori_alloc(r, cap);
    ssize_t got = 0;

    while (buf && len < cap && (got = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)got;
    if (buf == NULL || got < 0)
        return -1;
    book_parse(buf, len, e, max, b);
    return 0;
}

static int book_read(struct nori_req *r, struct book *b)
{
    const struct guestbook *gb = r->data;
    struct entry *e = nori_alloc(r, gb->cfg.max * sizeof *e);
    int fd = open(gb->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc = -1;

    if (fd >= 0 && e && flock(fd, LOCK_SH) == 0)
        rc = book_from(r, fd, e, b);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Once per signing, after the commit (the act may run twice; this may
 * not). Under the lock: the entries counted again, a torn tail cut, the
 * bound kept. */
static void book_append(struct nori_req *r, const struct gb_form *f)
{
    const struct guestbook *gb = r->data;
    char line[LINE_MAX_ + 1];
    int n = snprintf(line, sizeof line, "%llu\t%s\t%s\n", (unsigned long long)r->now,
                     f->name, f->text);
    int fd = open(gb->path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    struct book b;

    if (fd < 0 || flock(fd, LOCK_EX) < 0 || book_from(r, fd, NULL, &b) < 0)
        nori_log(r, "guestbook: cannot read %s: %s", gb->path, strerror(errno));
    else if (b.count >= gb->cfg.max)
        nori_log(r, "guestbook: the book is full (%lu entries)", gb->cfg.max);
    else if (ftruncate(fd, (off_t)b.good_len) < 0 ||
             pwrite(fd, line, (size_t)n, (off_t)b.good_len) != n)
        nori_log(r, "guestbook: cannot write %s: %s", gb->path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* ---- pages ---- */

/* <tag class="cls">s</tag>, all escaped; cls NULL: no class. */
static void text_in(struct nori_req *r, const char *tag, const char *cls, const char *s)
{
    nori_elem(r, tag, cls ? "class" : NULL, cls, NULL);
    nori_text(r, s);
    nori_close(r);
}

static void entry_write(struct nori_req *r, const struct entry *e, uint32_t id)
{
    char when[32];
    time_t t = (time_t)e->at;
    struct tm tm;

    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
    nori_elem(r, "article", "class", "entry", NULL);
    nori_elem(r, "h2", NULL);
    nori_elem_link(r, &(struct nori_link){"Entry", &(struct gb_query){id}}, NULL);
    nori_textf(r, "#%u", id);
    nori_close(r);
    nori_textf(r, " %s", e->name);
    nori_close(r);
    text_in(r, "p", NULL, e->text);
    text_in(r, "p", "when", when);
    nori_close(r);
}

static void page_open(struct nori_req *r, const char *title)
{
    nori_html_unescaped_trusted(r, "<!DOCTYPE html>\n", 16);
    nori_elem(r, "html", "lang", "en", NULL);
    nori_elem(r, "head", NULL);
    nori_elem(r, "meta", "charset", "utf-8", NULL);
    text_in(r, "title", NULL, title);
    nori_close(r);
    nori_elem(r, "body", NULL);
    nori_elem(r, "main", NULL);
    text_in(r, "h1", NULL, title);
}

static void sign_form(struct nori_req *r)
{
    const struct gb_state *st = nori_state(r);

    nori_form_open(r, "sign", "sign");
    text_in(r, "label", NULL, "Name ");
    nori_elem(r, "input", "name", "name", "maxlength", "40", "required", "",
              "value", st ? st->name : "", NULL);
    text_in(r, "label", NULL, "Text ");
    nori_elem(r, "input", "name", "text", "maxlength", "200", "required", "", NULL);
    text_in(r, "button", NULL, "Sign");
    nori_html_unescaped_trusted(r, "</form>\n", 8);  /* nori_form_open's */
}

static int book_render(struct nori_req *r)
{
    struct book b;

    if (book_read(r, &b) < 0)
        return nori_page_fail(r, 503, "The book cannot be read just now.");
    page_open(r, "Guestbook");
    if (r->notice)
        text_in(r, "p", "notice", r->notice);
    sign_form(r);
    nori_elem(r, "p", "id", "count", NULL);
    nori_textf(r, "%zu entries", b.count);
    nori_close(r);
    for (size_t i = b.count; i > 0 && i + LIST_SHOWN > b.count; i--)
        entry_write(r, &b.e[i - 1], (uint32_t)i);
    nori_close_all(r);
    return 200;
}

static int entry_render(struct nori_req *r)
{
    const struct gb_query *q = r->query;
    struct book b;

    if (book_read(r, &b) < 0)
        return nori_page_fail(r, 503, "The book cannot be read just now.");
    if (q->id == 0 || q->id > b.count)
        return nori_page_fail(r, 404, "The book has no entry of that number.");
    page_open(r, "Guestbook entry");
    entry_write(r, &b.e[q->id - 1], q->id);
    nori_elem_link(r, &(struct nori_link){"Book", NULL}, NULL);
    nori_text(r, "The whole book");
    nori_close_all(r);
    return 200;
}

/* JSON is not HTML: the book's bytes (no control characters, by its
 * check) go through the raw writer, with what could end a string or
 * open markup where JSON is pasted into a page written as \u escapes. */
static void json_string(struct response *out, const char *s)
{
    nori_response_puts(out, "\"");
    for (; *s; s++) {
        if (strchr("\"\\<>&", *s))
            nori_response_printf(out, "\\u%04x", (unsigned)(unsigned char)*s);
        else
            nori_response_write(out, s, 1);
    }
    nori_response_puts(out, "\"");
}

static int json_render(struct nori_req *r)
{
    struct book b;

    if (book_read(r, &b) < 0)
        return nori_page_fail(r, 503, "The book cannot be read just now.");
    nori_content_type(r, "application/json");
    nori_response_puts(r->resp, "[");
    for (size_t i = 0; i < b.count; i++) {
        nori_response_printf(r->resp, "%s\n{\"id\":%zu,\"at\":%llu,\"name\":",
                             i ? "," : "", i + 1, (unsigned long long)b.e[i].at);
        json_string(r->resp, b.e[i].name);
        nori_response_puts(r->resp, ",\"text\":");
        json_string(r->resp, b.e[i].text);
        nori_response_puts(r->resp, "}");
    }
    nori_response_puts(r->resp, "]\n");
    return 200;
}

/* ---- the action ---- */

static struct nori_result gb_sign(struct nori_req *r)
{
    const struct gb_form *f = r->form;
    struct gb_state *st;
    struct book b;

    if (book_read(r, &b) < 0)
        return nori_fail(503, "The book cannot be read just now.");
    if (b.count >= ((const struct guestbook *)r->data)->cfg.max)
        return nori_show("Book", "The book is full.");
    if ((st = nori_state_write(r)) == NULL)
        return nori_fail(503, "No session could be made; please try again.");
    memcpy(st->name, f->name, sizeof st->name);
    return nori_redirect("Book", NULL);
}

static void gb_acted(struct nori_req *r, const struct nori_result *res)
{
    if (res->outcome == NORI_REDIRECT && strcmp(r->act, "sign") == 0)
        book_append(r, r->form);
}

/* Both fields required: a form without one answers 400 before gb_sign. */
static const struct nori_action actions[] = {
    {"sign", {form_fields, 2, sizeof(struct gb_form)}, 1u << 0 | 1u << 1, gb_sign},
};

/* ---- the session state: the visitor's name, as its bytes ---- */

static int state_encode(const void *state, unsigned char *buf, size_t cap, size_t *len)
{
    const struct gb_state *st = state;
    size_t n = strlen(st->name);

    if (n > cap)
        return -1;
    memcpy(buf, st->name, n);
    *len = n;
    return 0;
}

static int state_decode(void *state, unsigned version, const unsigned char *buf,
                        size_t len)
{
    struct gb_state *st = state;

    if (version != 1 || !field_ok((const char *)buf, len, GB_NAME_MAX))
        return -1;
    memcpy(st->name, buf, len);
    st->name[len] = '\0';
    return 0;
}

/* ---- loading ---- */

/* The book's first line names it: "#guestbook ID", ID 16 random hex
 * digits written when the file is made. The ETag covers ID, so another
 * book (the file removed, the app restarted) is a new page-cache
 * generation, and no entry cached from the old book is served. */
static int gb_load(void *data, const char *rundir, char *err, size_t errlen)
{
    struct guestbook *gb = data;
    int n = snprintf(gb->path, sizeof gb->path, "%s/guestbook.tsv", rundir);
    char head[32] = "";
    int fd = -1, rc = -1;

    if (n < 0 || (size_t)n >= sizeof gb->path)
        snprintf(err, errlen, "NORI_RUNDIR=%s: path too long", rundir);
    else if ((fd = open(gb->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
             flock(fd, LOCK_EX) < 0 || pread(fd, head, sizeof head - 1, 0) < 0)
        snprintf(err, errlen, "NORI_RUNDIR=%s: cannot open %s: %s", rundir, gb->path,
                 strerror(errno));
    else if (head[0] == '\0' && (getrandom(&gb->id, sizeof gb->id, 0) != sizeof gb->id ||
                                 dprintf(fd, "#guestbook %016llx\n",
                                         (unsigned long long)gb->id) != 28))
        snprintf(err, errlen, "NORI_RUNDIR=%s: cannot write %s", rundir, gb->path);
    else if (head[0] && sscanf(head, "#guestbook %16llx\n", &gb->id) != 1)
        snprintf(err, errlen, "NORI_RUNDIR=%s: %s is not a guestbook", rundir, gb->path);
    else
        rc = 0;
    if (fd >= 0)
        close(fd);
    return rc;
}

static uint64_t gb_etag(const void *data)
{
    const struct guestbook *gb = data;

    return nori_hash(NORI_HASH_INIT, &gb->id, sizeof gb->id);
}

static const struct nori_page pages[] = {
    {"Book", book_render, NORI_PAGE_LIVE},
    {"Entry", entry_render, 1},
    {"Json", json_render, NORI_PAGE_LIVE},
};

static const struct nori_setting settings[] = {
    NORI_SETTING_NUM(struct gb_config, "NORI_GUESTBOOK_MAX", "guestbook-max", max, "1000",
                     1, GB_ENTRIES_LIMIT, "entries the book holds; then it is full"),
};

struct guestbook guestbook_data;

const struct nori_app guestbook_app = {
    .name = "guestbook",
    .query = {query_fields, 1, sizeof(struct gb_query)},
    .pages = pages,
    .npages = sizeof pages / sizeof pages[0],
    .actions = actions,
    .nactions = 1,
    .acted = gb_acted,
    .state = {sizeof(struct gb_state), 1, state_encode, state_decode},
    .settings = settings,
    .nsettings = 1,
    .config = &guestbook_data.cfg,
    .load = gb_load,
    .etag = gb_etag,
    .data = &guestbook_data,
};
