/* html.c -- the escaping HTML writer of nori.h: elements whose names are
 * checked and whose attribute values are escaped, a stack of the open
 * ones so a close closes the right one, and escaped formatted text. A
 * wrong call never writes what it was given: it writes nothing and
 * turns the page into a 500 (render.c's service_render looks at html_bad). */
#include <stdio.h>
#include <string.h>

#include "service.h"

static void html_fail(struct nori_req *r, const char *what, const char *name)
{
    struct nori *n = r->nori;

    /* One line per page is enough to find the call. */
    if (!n->html_bad)
        nori_log(r, "nori: html: %s%s%.*s%s", what, name ? " '" : "",
                 name ? NORI_NAME_MAX : 0, name ? name : "", name ? "'" : "");
    n->html_bad = 1;
}

/* [a-z0-9-], a letter first, 1..NORI_NAME_MAX bytes: no byte of it can
 * end a tag or start another, whatever the browser. */
static int name_ok(const char *s)
{
    size_t i;

    if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
        return 0;
    for (i = 0; s[i]; i++) {
        char c = s[i];
        if (i >= NORI_NAME_MAX ||
            !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
    }
    return 1;
}

/* The elements HTML says have no end tag (WHATWG, "void elements"). */
static int is_void(const char *tag)
{
    static const char *const voids[] = {"area", "base", "br", "col", "embed", "hr",
                                        "img", "input", "link", "meta", "source",
                                        "track", "wbr"};

    for (size_t i = 0; i < sizeof voids / sizeof voids[0]; i++)
        if (strcmp(tag, voids[i]) == 0)
            return 1;
    return 0;
}

/* Checks every name of the call and room on the stack before a byte is
 * written, so a refused call leaves no half tag behind. */
static int elem_check(struct nori_req *r, const char *tag, va_list ap)
{
    struct nori *n = r->nori;
    va_list aq;
    const char *name;
    int ok = 1;

    if (n->html_bad)
        return 0;
    if (!name_ok(tag)) {
        html_fail(r, "not a tag name:", tag);
        return 0;
    }
    va_copy(aq, ap);
    while (ok && (name = va_arg(aq, const char *)) != NULL) {
        if (!name_ok(name)) {
            html_fail(r, "not an attribute name:", name);
            ok = 0;
        } else if (va_arg(aq, const char *) == NULL) {
            html_fail(r, "an attribute without a value:", name);
            ok = 0;
        }
    }
    va_end(aq);
    if (!ok)
        return 0;
    if (!is_void(tag)) {
        if (n->html_depth >= NORI_HTML_DEPTH) {
            html_fail(r, "too deeply nested at", tag);
            return 0;
        }
        if (n->html_open == NULL &&
            (n->html_open = nori_alloc(r, NORI_HTML_DEPTH * sizeof *n->html_open)) == NULL)
            return 0;
    }
    return 1;
}

static void attrs_write(struct nori_req *r, va_list ap)
{
    const char *name, *value;

    while ((name = va_arg(ap, const char *)) != NULL) {
        value = va_arg(ap, const char *);
        nori_response_puts(r->resp, " ");
        nori_response_puts(r->resp, name);
        nori_response_puts(r->resp, "=\"");
        nori_text(r, value);
        nori_response_puts(r->resp, "\"");
    }
}

static void elem_push(struct nori_req *r, const char *tag)
{
    struct nori *n = r->nori;

    if (!is_void(tag))
        memcpy(n->html_open[n->html_depth++], tag, strlen(tag) + 1);
}

void nori_elemv(struct nori_req *r, const char *tag, va_list ap)
{
    if (!elem_check(r, tag, ap))
        return;
    nori_response_puts(r->resp, "<");
    nori_response_puts(r->resp, tag);
    attrs_write(r, ap);
    nori_response_puts(r->resp, ">");
    elem_push(r, tag);
}

void nori_elem(struct nori_req *r, const char *tag, ...)
{
    va_list ap;

    va_start(ap, tag);
    nori_elemv(r, tag, ap);
    va_end(ap);
}

void nori_elem_link(struct nori_req *r, const struct nori_link *link, ...)
{
    va_list ap;

    va_start(ap, link);
    if (elem_check(r, "a", ap)) {
        nori_response_puts(r->resp, "<a href=\"");
        nori_url(r, link);
        nori_response_puts(r->resp, "\"");
        attrs_write(r, ap);
        nori_response_puts(r->resp, ">");
        elem_push(r, "a");
    }
    va_end(ap);
}

void nori_close(struct nori_req *r)
{
    struct nori *n = r->nori;

    if (n->html_bad)
        return;
    if (n->html_depth == 0) {
        html_fail(r, "a close with no element open", NULL);
        return;
    }
    n->html_depth--;
    nori_response_puts(r->resp, "</");
    nori_response_puts(r->resp, n->html_open[n->html_depth]);
    nori_response_puts(r->resp, ">");
}

void nori_close_all(struct nori_req *r)
{
    while (r->nori->html_depth > 0 && !r->nori->html_bad)
        nori_close(r);
}

void nori_textf(struct nori_req *r, const char *fmt, ...)
{
    char small[256], *p = small;
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (len < 0) {
        r->resp->failed = 1;
        return;
    }
    if ((size_t)len >= sizeof small) {
        if ((p = nori_alloc(r, (size_t)len + 1)) == NULL)
            return;
        va_start(ap, fmt);
        vsnprintf(p, (size_t)len + 1, fmt, ap);
        va_end(ap);
    }
    nori_text(r, p);
}

void nori_html_unescaped_trusted(struct nori_req *r, const char *html, size_t n)
{
    nori_response_write(r->resp, html, n);
}
