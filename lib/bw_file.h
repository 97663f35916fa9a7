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

/* The largest config file read: far beyond any real one, small enough to refuse a wrong file. */
#define BW_CONFIG_MAX_BYTES (4u << 20)

struct bw_config;
/* Reads and parses the config file at path (bw_config_parse()); NULL with every problem in errs. */
struct bw_config *bw_config_load(const char *path, struct bw_errs *errs);

#endif
