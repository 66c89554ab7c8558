/* counter.c -- Seaside's counter as an application on nori: one page,
 * two actions, one number of session state. Looking costs nothing: the
 * page is the same for every visitor until ++ makes a session.
 *
 *   cc counter.c $(pkg-config --cflags --libs nori) -o counter
 */
#include <string.h>

#include <nori.h>

struct count {
    int64_t n;
};

/* The state as 8 little-endian bytes; version 1. */
static int count_encode(const void *state, unsigned char *buf, size_t cap, size_t *len)
{
    const struct count *c = state;

    if (cap < 8)
        return -1;
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)c->n >> (8 * i));
    *len = 8;
    return 0;
}

static int count_decode(void *state, unsigned version, const unsigned char *buf,
                        size_t len)
{
    struct count *c = state;
    uint64_t v = 0;

    if (version != 1 || len != 8)
        return -1;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)buf[i] << (8 * i);
    c->n = (int64_t)v;
    return 0;
}

static void button(struct nori_req *r, const char *act, const char *label)
{
    nori_form_open(r, "inline", act);
    nori_response_puts(r->resp, "<button>");
    nori_response_puts(r->resp, label);
    nori_response_puts(r->resp, "</button></form>\n");
}

static int counter_render(struct nori_req *r)
{
    const struct count *c = nori_state(r);

    nori_response_puts(r->resp, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                  "<meta charset=\"utf-8\"><title>Counter</title></head>\n"
                  "<body>\n<main>\n<h1>Counter</h1>\n<p><span id=\"count\">");
    nori_response_printf(r->resp, "%lld", c ? (long long)c->n : 0LL);
    nori_response_puts(r->resp, "</span></p>\n");
    button(r, "inc", "++");
    button(r, "dec", "--");
    nori_response_puts(r->resp, "</main>\n</body></html>\n");
    return 200;
}

/* Runs again on fresh state if another worker committed in between. */
static struct nori_result counter_act(struct nori_req *r)
{
    int step = strcmp(r->act, "inc") == 0 ? 1 : strcmp(r->act, "dec") == 0 ? -1 : 0;
    struct count *c;

    if (step == 0)
        return nori_fail(400, "There is no such action.");
    if ((c = nori_state_write(r)) == NULL)
        return nori_fail(503, "No session could be made; please try again.");
    c->n += step;
    return nori_redirect("Counter", NULL);
}

static const struct nori_page pages[] = {
    {"Counter", counter_render, 0},
};

int main(int argc, char **argv)
{
    const struct nori_app app = {
        .name = "Seaside's counter",
        .pages = pages,
        .npages = 1,
        .act = counter_act,
        .state = {sizeof(struct count), 1, count_encode, count_decode},
    };

    return nori_main(&app, argc, argv);
}
