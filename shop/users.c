/* users.c -- demo accounts checked with crypt(3): the file keeps salted
 * hashes ($6$ SHA-512 or $y$ yescrypt, whatever crypt_r understands),
 * never passwords. */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "textfile.h"
#include "users.h"

#define USERS_FILE_MAX (1 << 20)

struct user {
    const char *name;
    const char *hash;
    UT_hash_handle hh;
};

/* crypt_r's state is 32 KiB or more: one per process, not per call on
 * the stack. Workers serve one request at a time. */
static struct crypt_data cd;

static int user_add(struct users *u, char *line, size_t lineno, char *err,
                    size_t errlen)
{
    char *colon = strchr(line, ':');
    struct user *usr, *dup;

    if (colon == NULL || colon == line || colon[1] != '$') {
        snprintf(err, errlen, "line %zu: want name:$id$salt$hash", lineno);
        return -1;
    }
    *colon = '\0';
    HASH_FIND_STR(u->index, line, dup);
    if (dup) {
        snprintf(err, errlen, "line %zu: user %s given twice", lineno, line);
        return -1;
    }
    if ((usr = calloc(1, sizeof *usr)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    usr->name = line;
    usr->hash = colon + 1;
    HASH_ADD_KEYPTR(hh, u->index, usr->name, strlen(usr->name), usr);
    return 0;
}

/* Hashed in place of a missing user's, so that a wrong name costs the
 * same time as a wrong password and does not reveal which names exist.
 * It must cost what a real entry costs: a yescrypt user (tens of ms) next
 * to a fixed SHA-crypt dummy (a few ms) is told apart by timing. So the
 * setting is the first entry's own hash (scheme, cost and salt; the
 * result is never accepted, the name is unknown), or with no entries the
 * library's default setting (yescrypt). */
static int dummy_make(struct users *u, char *err, size_t errlen)
{
    if (u->index && strlen(u->index->hash) < sizeof u->dummy) {
        strcpy(u->dummy, u->index->hash);
        return 0;
    }
    if (u->index == NULL &&
        crypt_gensalt_rn(NULL, 0, NULL, 0, u->dummy, sizeof u->dummy) != NULL)
        return 0;
    snprintf(err, errlen, "cannot make a dummy password hash%s%s",
             u->index ? " like user " : "", u->index ? u->index->name : "");
    return -1;
}

int users_load(struct users *u, const char *path, char *err, size_t errlen)
{
    size_t lineno = 0, len;
    char *line, *next;

    memset(u, 0, sizeof *u);
    if ((u->text = textfile_read(path, USERS_FILE_MAX, &len, err, errlen)) == NULL)
        return -1;
    for (line = u->text; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (user_add(u, line, lineno, err, errlen) < 0) {
            users_free(u);
            return -1;
        }
    }
    if (dummy_make(u, err, errlen) < 0) {
        users_free(u);
        return -1;
    }
    return 0;
}

const char *users_dummy_hash(const struct users *u)
{
    return u->dummy;
}

void users_free(struct users *u)
{
    struct user *usr, *tmp;

    HASH_ITER(hh, u->index, usr, tmp) {
        HASH_DEL(u->index, usr);
        free(usr);
    }
    free(u->text);
    u->text = NULL;
}

int users_check(const struct users *u, const char *name, const char *password)
{
    struct user *usr;
    const char *hash, *got;

    HASH_FIND_STR(u->index, name, usr);
    hash = usr ? usr->hash : u->dummy;
    memset(&cd, 0, sizeof cd);
    got = crypt_r(password, hash, &cd);
    return usr && got && got[0] != '*' && strcmp(got, hash) == 0;
}
