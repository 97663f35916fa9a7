#ifndef BW_FILE_H
#define BW_FILE_H

#include <stddef.h>

#include "bw_util.h"

/*
 * Reads a whole regular file into memory (NUL-terminated; *ret_len excludes the NUL). A missing
 * file, a directory, an unreadable or oversized file get one sentence naming the path in errs.
 * Returns 0 or -errno.
 */
int bw_file_read(const char *path, size_t max_len, char **ret_buf, size_t *ret_len,
                 struct bw_errs *errs);

#endif
