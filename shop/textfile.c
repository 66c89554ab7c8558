/* textfile.c -- data files are read whole at start: they are small, and
 * every string loaded from them can then point into one buffer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textfile.h"

char *textfile_read(const char *path, size_t max, size_t *len, char *err,
                    size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f == NULL) {
        snprintf(err, errlen, "%s", strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
        (size_t)size <= max && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) &&
        fread(buf, 1, (size_t)size, f) == (size_t)size) {
        buf[size] = '\0';
        *len = (size_t)size;
    } else {
        snprintf(err, errlen, "cannot read it whole (at most %zu bytes)", max);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}
