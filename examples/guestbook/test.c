/* test.c -- the guestbook through nori's test harness (nori_test.h): no
 * web server, the pipeline a worker runs. Exit 0 when every check holds.
 *
 *   cc test.c guestbook.c $(pkg-config --cflags --libs nori) -o test && ./test
 */
#define _DEFAULT_SOURCE             /* setenv, mkdtemp under -std=c11 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nori_test.h>

#include "guestbook.h"

static int failures;

#define CHECK(cond, what)                                                   \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, what);  \
            failures++;                                                     \
        }                                                                   \
    } while (0)

static char rundir[64];
static struct nori_test_answer a;

static struct nori_test *open_book(void)
{
    char err[512];
    struct nori_test *t = nori_test_open(&guestbook_app, rundir, err, sizeof err);

    if (t == NULL) {
        fprintf(stderr, "FAIL: nori_test_open: %s\n", err);
        exit(1);
    }
    return t;
}

static int has(const char *s)
{
    return strstr(a.body, s) != NULL;
}

static void sign_and_read(struct nori_test *t)
{
    struct gb_state st;

    CHECK(nori_test_get(t, "", &a) == 200, "the empty book");
    CHECK(has("0 entries"), "no entries yet");
    /* The book grows with every signing: never a validator, never kept. */
    CHECK(strcmp(nori_test_header(t, "Cache-Control") ? nori_test_header(t, "Cache-Control")
                                                     : "", "no-store") == 0,
          "the book is no-store");
    CHECK(nori_test_header(t, "Last-Modified") == NULL, "the book has no Last-Modified");
    CHECK(nori_test_header(t, "ETag") == NULL, "the book has no ETag");
    nori_test_request_header(t, "If-Modified-Since", "Fri, 01 Jan 2100 00:00:00 GMT");
    CHECK(nori_test_get(t, "", &a) == 200, "the book is never 304");
    nori_test_request_header(t, "If-Modified-Since", NULL);

    CHECK(nori_test_post(t, "", "act=sign&name=Ann&text=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
                         &a) == 303, "signing redirects");
    CHECK(nori_test_follow(t, &a) == 200, "the book after signing");
    CHECK(has("1 entries"), "one entry");
    CHECK(has("&lt;script&gt;alert(1)&lt;/script&gt;"), "the text comes back escaped");
    CHECK(!has("<script>"), "no script element");
    CHECK(has("value=\"Ann\""), "the name is offered again");
    CHECK(nori_test_state(t, &st) == 0 && strcmp(st.name, "Ann") == 0,
          "the session remembers the name");

    /* Another visitor reads the same book, and is offered no name. */
    nori_test_forget(t);
    CHECK(nori_test_get(t, "", &a) == 200 && has("1 entries"), "a new visitor sees it");
    CHECK(!has("value=\"Ann\""), "a new visitor is offered no name");
    CHECK(nori_test_state(t, &st) == -1, "a new visitor has no session");
}

static void one_entry(struct nori_test *t)
{
    CHECK(nori_test_get(t, "pg=Entry&id=1", &a) == 200, "entry 1");
    CHECK(has("&lt;script&gt;"), "the entry's text escaped");
    CHECK(nori_test_header(t, "Last-Modified") != NULL, "an entry has a validator");
    CHECK(nori_test_get(t, "pg=Entry&id=2", &a) == 404, "no entry 2");
    CHECK(has("The book has no entry of that number."), "the app's own reason");
    CHECK(nori_test_get(t, "pg=Entry&id=0", &a) == 400, "id 0 is out of bounds");
    CHECK(nori_test_get(t, "pg=Entry&id=x", &a) == 400, "id x is not a number");
    CHECK(nori_test_get(t, "pg=Nope", &a) == 404, "no such page");

    CHECK(nori_test_get(t, "pg=Json", &a) == 200, "the book as JSON");
    CHECK(strncmp(nori_test_header(t, "Content-Type") ? nori_test_header(t, "Content-Type")
                                                      : "", "application/json", 16) == 0,
          "JSON has its own content type");
    CHECK(has("\"name\":\"Ann\""), "the JSON names Ann");
    CHECK(has("\\u003cscript\\u003e"), "the JSON escapes < and >");
}

static void bad_forms(struct nori_test *t)
{
    char form[400];

    CHECK(nori_test_post(t, "", "act=sign&name=Bob", &a) == 400, "text is required");
    CHECK(nori_test_post(t, "", "act=sign&text=hello", &a) == 400, "name is required");
    CHECK(nori_test_post(t, "", "act=sign&name=B%01b&text=hi", &a) == 400,
          "no control characters");
    snprintf(form, sizeof form, "act=sign&name=Bob&text=%0201d", 0);
    CHECK(nori_test_post(t, "", form, &a) == 400, "text of 201 bytes");
    CHECK(nori_test_post(t, "", "act=burn&name=Bob&text=hi", &a) == 400, "no such action");
    CHECK(nori_test_get(t, "", &a) == 200 && has("1 entries"), "nothing was added");
}

/* A torn last line is cut by the next signing; the book stays bounded. */
static void torn_and_full(void)
{
    char path[128];
    FILE *f;
    struct nori_test *t;

    snprintf(path, sizeof path, "%s/guestbook.tsv", rundir);
    CHECK((f = fopen(path, "a")) != NULL, "the book's file");
    if (f) {
        fputs("1700000000\tTorn", f);
        fclose(f);
    }
    setenv("NORI_GUESTBOOK_MAX", "2", 1);
    t = open_book();
    CHECK(nori_test_get(t, "", &a) == 200 && has("1 entries"), "a torn line is no entry");
    CHECK(nori_test_post(t, "", "act=sign&name=Cy&text=second", &a) == 303, "sign again");
    CHECK(nori_test_follow(t, &a) == 200 && has("2 entries") && has("second"),
          "the second entry after the torn line");
    CHECK(nori_test_get(t, "pg=Json", &a) == 200 &&
          has("\"text\":\"\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\"}") &&
          has("\"text\":\"second\"}]"), "each entry's text ends at its line");
    CHECK(nori_test_post(t, "", "act=sign&name=Cy&text=third", &a) == 200 &&
          has("The book is full."), "a full book says so");
    CHECK(nori_test_get(t, "", &a) == 200 && has("2 entries") && !has("third"),
          "a full book takes no more");
    nori_test_close(t);
    unsetenv("NORI_GUESTBOOK_MAX");
}

/* Another book file is another generation: no validator of the old
 * book's pages holds for the new one's (with the page cache off, the
 * validator is the ETag). */
static void new_book(void)
{
    char path[128], etag[64] = "";
    struct nori_test *t;

    setenv("NORI_PAGE_CACHE", "off", 1);
    t = open_book();
    CHECK(nori_test_get(t, "pg=Entry&id=1", &a) == 200, "entry 1 of the old book");
    snprintf(etag, sizeof etag, "%s", nori_test_header(t, "ETag") ? nori_test_header(t, "ETag") : "");
    CHECK(etag[0] != '\0', "an entry has an ETag with the page cache off");
    nori_test_close(t);
    snprintf(path, sizeof path, "%s/guestbook.tsv", rundir);
    CHECK(unlink(path) == 0, "the old book removed");
    t = open_book();
    CHECK(nori_test_post(t, "", "act=sign&name=Di&text=new", &a) == 303, "sign the new book");
    nori_test_forget(t);        /* a page with a session has no validator */
    CHECK(nori_test_get(t, "pg=Entry&id=1", &a) == 200, "entry 1 of the new book");
    CHECK(nori_test_header(t, "ETag") && strcmp(nori_test_header(t, "ETag"), etag) != 0,
          "the new book's pages have another ETag");
    nori_test_close(t);
    unsetenv("NORI_PAGE_CACHE");
}

int main(void)
{
    struct nori_test *t;
    char cmd[128];

    snprintf(rundir, sizeof rundir, "/tmp/guestbook-test-XXXXXX");
    if (mkdtemp(rundir) == NULL)
        return 1;
    setenv("NORI_STORE", "memory", 1);
    t = open_book();
    sign_and_read(t);
    one_entry(t);
    bad_forms(t);
    nori_test_close(t);
    torn_and_full();
    new_book();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", rundir);
    if (system(cmd) != 0)
        failures++;
    printf("guestbook: %s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
