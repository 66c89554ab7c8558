/* shim.h -- TEMPORARY: the escaping writer's calls on today's nori.h,
 * until the library's own writer lands (then this file goes). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *shim_stack[64];
static int shim_depth;

static void nori_doctype(struct nori_req *r)
{
    shim_depth = 0;
    nori_response_puts(r->resp, "<!DOCTYPE html>\n");
}

static int shim_void(const char *tag)
{
    return strcmp(tag, "meta") == 0 || strcmp(tag, "input") == 0 || strcmp(tag, "br") == 0;
}

static void nori_elem(struct nori_req *r, const char *tag, ...)
{
    va_list ap;
    const char *a;

    nori_response_printf(r->resp, "<%s", tag);
    va_start(ap, tag);
    while ((a = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        nori_response_printf(r->resp, " %s=\"", a);
        nori_text(r, v);
        nori_response_puts(r->resp, "\"");
    }
    va_end(ap);
    nori_response_puts(r->resp, ">");
    if (!shim_void(tag) && shim_depth < 64)
        shim_stack[shim_depth++] = tag;
}

static void nori_close(struct nori_req *r)
{
    if (shim_depth > 0)
        nori_response_printf(r->resp, "</%s>", shim_stack[--shim_depth]);
}

static void nori_close_all(struct nori_req *r)
{
    while (shim_depth > 0)
        nori_close(r);
}

static void nori_textf(struct nori_req *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    nori_text(r, buf);
}

static void nori_link_open(struct nori_req *r, const struct nori_link *l, const char *cls)
{
    (void)cls;
    nori_response_puts(r->resp, "<a href=\"");
    nori_url(r, l);
    nori_response_puts(r->resp, "\">");
    if (shim_depth < 64)
        shim_stack[shim_depth++] = "a";
}

#define nori_raw(r, s) nori_response_puts((r)->resp, s)
#define nori_rawf(r, ...) nori_response_printf((r)->resp, __VA_ARGS__)
#define nori_content_type(r, t) ((void)(r), (void)(t))
#define nori_page_fail(r, status, why) ((void)(r), (void)(why), (status))
