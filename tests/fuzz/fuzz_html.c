/* fuzz_html.c -- libFuzzer target for the escaping HTML writer (nori.h:
 * nori_elem, nori_close, nori_close_all, nori_text, nori_textf).
 *
 * The input is a program: each step takes an opcode byte and, for
 * names, values and text, NUL-separated strings of the input's own
 * bytes, so tag and attribute names are anything at all. Whatever the
 * program, what was written is HTML a browser reads as the writer
 * meant: every '<' starts a tag of [a-z0-9-] names written by the
 * writer, every attribute value is quoted with no '"', '<' or '>' in
 * it, text holds none of '<', '>', '"', every end tag closes the
 * innermost open element, and the open elements never exceed
 * NORI_HTML_DEPTH. Once a call is refused, html_bad is set (the page is
 * a 500) and nothing more is written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fcgi/arena.h"
#include "fcgi/http.h"
#include "nori/service.h"
#include "session/store_impl.h"

#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* What page.c would log to the web server, and the worker's lookup of
 * a request's parameters: neither is what this target checks. */
void request_vlog(const struct request *req, const char *fmt, va_list ap)
{
    (void)req, (void)fmt, (void)ap;
}

const char *request_param(const struct request *req, const char *name)
{
    (void)req, (void)name;
    return NULL;
}

/* page.c reaches the session layer, which this target never enters
 * (no visit: the writer is the sessionless page's): stubs for what that
 * layer would link. */
void request_log(const struct request *req, const char *fmt, ...) { (void)req, (void)fmt; }
void worker_log_text(const char *prefix, const char *kind, const char *text)
{
    (void)prefix, (void)kind, (void)text;
}
const struct store_ops store_lmdb_ops = {.name = "lmdb"};
const struct store_ops store_redis_ops = {.name = "redis"};
int lmdb_spec_check(const char *spec, char *err, size_t errlen)
{
    (void)spec, (void)err, (void)errlen;
    return -1;
}

/* The next NUL-terminated string of the input (at most 40 bytes), or
 * "" at its end. */
static const char *next_string(const uint8_t **p, const uint8_t *end, char *buf)
{
    size_t n = 0;

    while (*p < end && **p != 0 && n < 40)
        buf[n++] = (char)*(*p)++;
    if (*p < end)
        (*p)++;
    buf[n] = '\0';
    return buf;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static int void_tag(const char *t, size_t n)
{
    static const char *const voids[] = {"area", "base", "br", "col", "embed", "hr",
                                        "img", "input", "link", "meta", "source",
                                        "track", "wbr"};

    for (size_t i = 0; i < sizeof voids / sizeof voids[0]; i++)
        if (strlen(voids[i]) == n && memcmp(voids[i], t, n) == 0)
            return 1;
    return 0;
}

/* Reads the body as a browser's tokenizer would, as far as this writer
 * can write it, and checks the nesting against a stack of its own. */
static void check_html(const char *b, size_t len)
{
    char stack[NORI_HTML_DEPTH + 1][NORI_NAME_MAX + 1];
    size_t depth = 0, i = 0;

    while (i < len) {
        char c = b[i];
        if (c != '<') {
            CHECK(c != '>' && c != '"');
            i++;
            continue;
        }
        int end = b[++i] == '/';
        i += end;
        size_t start = i;
        while (i < len && name_char(b[i]))
            i++;
        size_t n = i - start;
        CHECK(n >= 1 && n <= NORI_NAME_MAX && b[start] >= 'a' && b[start] <= 'z');
        if (end) {
            CHECK(i < len && b[i] == '>');
            CHECK(depth > 0);
            depth--;
            CHECK(strlen(stack[depth]) == n && memcmp(stack[depth], b + start, n) == 0);
            i++;
            continue;
        }
        const char *tag = b + start;
        while (i < len && b[i] == ' ') {
            size_t an = ++i;
            while (i < len && name_char(b[i]))
                i++;
            CHECK(i > an && i - an <= NORI_NAME_MAX);
            CHECK(i + 1 < len && b[i] == '=' && b[i + 1] == '"');
            i += 2;
            while (i < len && b[i] != '"') {
                CHECK(b[i] != '<' && b[i] != '>');
                i++;
            }
            CHECK(i < len);
            i++;
        }
        CHECK(i < len && b[i] == '>');
        i++;
        if (!void_tag(tag, n)) {
            CHECK(depth < NORI_HTML_DEPTH);
            memcpy(stack[depth], tag, n);
            stack[depth][n] = '\0';
            depth++;
        }
    }
    CHECK(depth == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct nori_app app = {.name = "fuzz_html"};
    static struct service svc = {.app = &app};
    struct arena arena;
    struct request req = {0};
    struct response resp;
    struct nori n = {0};
    struct nori_req r = {0};
    const uint8_t *p = data, *end = data + size;
    char s1[41], s2[41], s3[41], s4[41];
    size_t before;

    CHECK(arena_init(&arena, 16 * 1024) == 0);
    req.arena = &arena;
    req.script_name = "";
    response_init(&resp, &arena);
    n.svc = &svc;
    n.req = &req;
    r.resp = &resp;
    r.prefix = "";
    r.nori = &n;
    for (int steps = 0; p < end && steps < 400; steps++) {
        uint8_t op = *p++;
        int bad = n.html_bad;

        before = resp.body_len;
        switch (op % 6) {
        case 0:
            nori_elem(&r, next_string(&p, end, s1), NULL);
            break;
        case 1:
            next_string(&p, end, s1);
            next_string(&p, end, s2);
            next_string(&p, end, s3);
            nori_elem(&r, s1, s2, s3, NULL);
            break;
        case 2:
            next_string(&p, end, s1);
            next_string(&p, end, s2);
            next_string(&p, end, s3);
            next_string(&p, end, s4);
            nori_elem(&r, s1, s2, s3, s4, s2, NULL);
            break;
        case 3:
            nori_close(&r);
            break;
        case 4:
            nori_text(&r, next_string(&p, end, s1));
            break;
        case 5:
            nori_textf(&r, "%s%u", next_string(&p, end, s1), (unsigned)op);
            break;
        }
        CHECK(!resp.failed);
        CHECK(n.html_depth <= NORI_HTML_DEPTH);
        /* A refused call wrote nothing; after it, no element call does. */
        if (n.html_bad && !bad)
            CHECK(resp.body_len == before);
        if (bad && op % 6 != 4 && op % 6 != 5)
            CHECK(resp.body_len == before);
    }
    if (!n.html_bad) {
        nori_close_all(&r);
        CHECK(n.html_depth == 0);
        check_html(resp.body ? resp.body : "", resp.body_len);
    }
    arena_free(&arena);
    return 0;
}
