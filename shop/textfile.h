/* textfile.h -- reading a whole data file (catalog, users) into memory. */
#ifndef NORI_TEXTFILE_H
#define NORI_TEXTFILE_H

#include <stddef.h>

/* The file's bytes and a NUL, malloc'd; *len excludes the NUL. NULL with
 * the reason in err when it cannot be read or is larger than max. */
char *textfile_read(const char *path, size_t max, size_t *len, char *err,
                    size_t errlen);

#endif
