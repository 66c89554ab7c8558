/* drive.h -- one request through a service in memory, for the unit
 * tests that drive nori's pipeline (test_dispatch.c, test_html.c): the
 * request and its answer are file globals, as each test reads them.
 * Included after struct service svc is declared. */
#ifndef NORI_TEST_DRIVE_H
#define NORI_TEST_DRIVE_H

/* nori's settings as config.c's table has them by default, but for what
 * a test needs otherwise: the memory store (or LMDB under the temporary
 * run directory), no nori_b binding, a small memory store. */
static void config_defaults(struct nori_config *cfg, const char *rundir,
                            const char *store_spec)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->rundir = rundir;
    cfg->store_spec = store_spec;
    cfg->status_path = "/nori-status";
    cfg->ping_path = "/nori-ping";
    cfg->policy_name = "lazy";
    cfg->carrier_name = "url";
    cfg->bind_name = "off";
    cfg->sync_name = "fsync";
    cfg->cookie_path = "";
    cfg->cookie_secure_name = "auto";
    cfg->allowed_origins = "";
    cfg->body_timeout_ms = 5000;
    cfg->ttl = 600;
    cfg->max_age = 28800;
    cfg->gc_foreground = 8;
    cfg->gc_interval_ms = 1000;
    cfg->gc_batch = 1000;
    cfg->map_size_mb = 256;
    cfg->redis_prefix = "nori:";
    cfg->route = "";
    cfg->memory_max = 1000;
    cfg->redis_timeout_ms = 500;
    cfg->redis_wait = 0;
    cfg->listen = "";
    cfg->workers = 4;
    cfg->max_requests = 0;
    cfg->socket_mode = 0;
    cfg->socket_group = "";
    /* What config_load derives from the names. */
    cfg->policy = POLICY_LAZY;
    cfg->carrier = CARRIER_URL;
    cfg->bind = 0;
    cfg->cookie_secure = 0;
    cfg->nosync = 0;
}

static struct arena arena;
static struct request req;
static struct response resp;
static char body[64 * 1024];    /* resp.body, NUL-terminated */

/* A fresh request: a GET of /app?query from this machine, Host
 * 127.0.0.1:8080; the arena holds nothing of the last one. */
static void request(enum http_method method, const char *query)
{
    arena_reset(&arena);
    memset(&req, 0, sizeof req);
    req.arena = &arena;
    req.method = method;
    req.query = query;
    req.query_len = strlen(query);
    req.script_name = "/app";
    req.path_info = "";
    req.remote_addr = "127.0.0.1";
    req.host = "127.0.0.1:8080";
    req.body = "";
    req.body_err = BODY_OK;
}

static void post_form(const char *query, const char *form)
{
    request(HTTP_POST, query);
    req.content_type = "application/x-www-form-urlencoded";
    req.body = form;
    req.body_len = strlen(form);
}

/* Sends the request; returns the status, and leaves the body in body. */
static int answer(void)
{
    response_init(&resp, &arena);
    service_handle(&req, &resp, &svc);
    ck_assert_msg(!resp.failed, "the response failed (out of memory)");
    ck_assert_msg(!resp.bad_header, "a header value was refused");
    ck_assert_uint_lt(resp.body_len, sizeof body);
    memcpy(body, resp.body ? resp.body : "", resp.body_len);
    body[resp.body_len] = '\0';
    return resp.status;
}

/* The value of header `name` in resp.head, copied out, or NULL. The head
 * is lines of "Name: value\r\n"; a header given twice is a failure. */
static const char *header(const char *name)
{
    static char value[1024];
    size_t nl = strlen(name);
    const char *p = resp.head, *end = resp.head + resp.head_len;
    const char *found = NULL;

    while (p && p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        ck_assert_msg(eol && eol + 1 < end && eol[1] == '\n', "a header line without CRLF");
        if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 &&
            p[nl] == ':' && p[nl + 1] == ' ') {
            ck_assert_msg(found == NULL, "header %s given twice", name);
            size_t vl = (size_t)(eol - p) - nl - 2;
            ck_assert_uint_lt(vl, sizeof value);
            memcpy(value, p + nl + 2, vl);
            value[vl] = '\0';
            found = value;
        }
        p = eol + 2;
    }
    return found;
}

static void header_is(const char *name, const char *want)
{
    const char *v = header(name);

    ck_assert_msg(v != NULL, "no %s header", name);
    ck_assert_str_eq(v, want);
}

static inline void body_has(const char *want)
{
    ck_assert_msg(strstr(body, want) != NULL, "want %s in: %s", want, body);
}

#endif
