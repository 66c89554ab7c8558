/* defects.c -- a test-only application (tests/integration/appdefects.sh,
 * built there against build/libnori.a, never installed) that gets wrong
 * what an application can get wrong, one thing per page or action, and,
 * with DEFECT set, one thing in its tables, which nori must refuse at
 * start:
 *   DEFECT=nori-env    a setting with nori's NORI_STORE as its variable
 *   DEFECT=nori-flag   a setting with nori's --workers as its flag
 *   DEFECT=own-env     two settings of one variable
 *   DEFECT=help        a setting whose flag is --help
 *   DEFECT=twice       the page Home twice in the table
 *   DEFECT=prepare     load prepares a link to a page the table lacks */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nori.h>

struct config {
    const char *greeting, *other;
};

static struct config config;

static int page_home(struct nori_req *r)
{
    nori_response_puts(r->resp, "<p>home</p><a href=\"");
    nori_url(r, &(struct nori_link){"Home", NULL});
    nori_response_puts(r->resp, "\">home</a>\n");
    nori_form_open(r, NULL, "failok");
    nori_response_puts(r->resp, "</form>\n");
    return 200;
}

static int page_zero(struct nori_req *r)
{
    nori_response_puts(r->resp, "zero\n");
    return 0;
}

/* What a CGI script might write, as a page's status: a 302 with no
 * Location at all. */
static int page_found(struct nori_req *r)
{
    (void)r;
    return 302;
}

static int page_typo(struct nori_req *r)
{
    nori_response_puts(r->resp, "<a href=\"");
    nori_url(r, &(struct nori_link){"Hoem", NULL});
    nori_response_puts(r->resp, "\">home</a>\n");
    return 200;
}

static int none_encode(const void *state, unsigned char *buf, size_t cap, size_t *len)
{
    (void)state, (void)buf, (void)cap;
    *len = 0;
    return 0;
}

static int none_decode(void *state, unsigned version, const unsigned char *buf, size_t len)
{
    (void)state, (void)buf;
    return version == 1 && len == 0 ? 0 : -1;
}

static struct nori_result act(struct nori_req *r)
{
    if (strcmp(r->act, "failok") == 0)
        return nori_fail(200, "Not a failure");
    if (strcmp(r->act, "redirectnope") == 0)
        return nori_redirect("Nope", NULL);
    return nori_fail(400, "There is no such action.");
}

static int load(void *data, const char *rundir, char *err, size_t errlen)
{
    const char *defect = getenv("DEFECT");
    char link[64];
    size_t len;

    (void)data, (void)rundir;
    if (defect && strcmp(defect, "prepare") == 0 &&
        nori_link_prepare(link, sizeof link, &(struct nori_grammar){NULL, 0, 0},
                          &(struct nori_link){"Nope", NULL}, &len) < 0) {
        snprintf(err, errlen, "defects: the link to page Nope cannot be prepared");
        return -1;
    }
    return 0;
}

#define SET(env, flag, member) \
    NORI_SETTING_STR(struct config, env, flag, member, "", "a setting")

int main(int argc, char **argv)
{
    const char *defect = getenv("DEFECT") ? getenv("DEFECT") : "";
    struct nori_setting settings[] = {
        SET("DEFECTS_GREETING", "greeting", greeting),
        SET("DEFECTS_OTHER", "other", other),
    };
    struct nori_page pages[] = {
        {"Home", page_home, 0},
        {"Zero", page_zero, 0},
        {"Found", page_found, 0},
        {"Typo", page_typo, 0},
    };
    struct nori_app app = {
        .name = "defects",
        .pages = pages,
        .npages = sizeof pages / sizeof pages[0],
        .act = act,
        .state = {1, 1, none_encode, none_decode},
        .settings = settings,
        .nsettings = sizeof settings / sizeof settings[0],
        .config = &config,
        .load = load,
    };

    if (strcmp(defect, "nori-env") == 0)
        settings[1].env = "NORI_STORE";
    else if (strcmp(defect, "nori-flag") == 0)
        settings[1].flag = "workers";
    else if (strcmp(defect, "own-env") == 0)
        settings[1].env = "DEFECTS_GREETING";
    else if (strcmp(defect, "help") == 0)
        settings[1].flag = "help";
    else if (strcmp(defect, "twice") == 0)
        pages[3].name = "Home";
    return nori_main(&app, argc, argv);
}
