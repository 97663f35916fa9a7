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

/*
 * bw_file_read() for a file holding a secret: also refused, with -EPERM and a message naming the
 * file, its mode and the chmod that fixes it, when its group or everyone may read it (checked on
 * the opened file). The buffer is wiped before it is freed on failure; on success the caller
 * wipes it (explicit_bzero) and frees it.
 */
int bw_file_read_private(const char *path, size_t max_len, char **ret_buf, size_t *ret_len,
                         struct bw_errs *errs);

/*
 * The check of bw_file_read_private() alone, for validating a config before the file is needed:
 * 0 when path is private or does not exist (reading it later says so), -EPERM with the message in
 * errs when its group or everyone may read it, or another -errno (nothing in errs) when it cannot
 * be examined.
 */
int bw_file_check_private(const char *path, struct bw_errs *errs);

/*
 * Where a secret named in the config lives. A bare name (no '/') is a systemd credential when
 * $CREDENTIALS_DIRECTORY is set (LoadCredential=NAME:PATH in the unit): that directory's NAME.
 * Anything else is the path as given. Returns a new string; the caller frees it.
 */
char *bw_file_secret_path(const char *name);

/*
 * After opening the database at path failed, with errs holding only that failure's messages:
 * when access(2) finds why the file cannot be opened read-write or created (its mode, its
 * directory's, a read-only file system), replaces them with one line, "PATH: cannot open the
 * database: [DIR: ]REASON", and returns that -errno. Returns 0 and leaves errs alone when it finds
 * nothing, or only a missing directory. Why: SQLite retries a refused read-write open read-only
 * and reports the retry's errno, "No such file or directory" for a file it could not create.
 */
int bw_file_explain_db_error(const char *path, struct bw_errs *errs);

/* The largest config file read: far beyond any real one, small enough to refuse a wrong file. */
#define BW_CONFIG_MAX_BYTES (4u << 20)

struct bw_config;
/*
 * Reads and parses the config file at path (bw_config_parse()), then checks what the file names:
 * a report.password_file that exists must be private (bw_file_check_private()). NULL with every
 * problem in errs.
 */
struct bw_config *bw_config_load(const char *path, struct bw_errs *errs);

/*
 * Reads the body_file of every test that names one into its body (at most BW_BODY_MAX_BYTES).
 * 0, or -errno with every file that cannot be read in errs as "FILE:LINE:COL: KEY: why".
 */
int bw_config_read_bodies(struct bw_config *cfg, struct bw_errs *errs);

#endif
