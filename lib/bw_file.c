#include "bw_file.h"

#include "bw_config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * "PATH: mode 0644 lets its group and everyone read it; ...": refuses a secret others may read.
 * Only the read bits count: what matters is who can learn the secret.
 */
static int check_private_mode(const char *path, mode_t mode, struct bw_errs *errs) {
  const char *who;
  if ((mode & S_IRGRP) && (mode & S_IROTH))
    who = "its group and everyone";
  else if (mode & S_IRGRP)
    who = "its group";
  else if (mode & S_IROTH)
    who = "everyone";
  else
    return 0;
  bw_errs_add(errs,
              "%s: mode %04o lets %s read it; a file holding a secret must be readable by its "
              "owner only: chmod 600 %s",
              path, (unsigned)(mode & 07777), who, path);
  return -EPERM;
}

static int read_file(const char *path, size_t max_len, bool private, char **ret_buf,
                     size_t *ret_len, struct bw_errs *errs) {
  struct stat st;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int r;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    r = -errno;
    if (r == -ENOENT)
      bw_errs_add(errs, "%s: no such file", path);
    else
      bw_errs_add(errs, "%s: cannot open: %s", path, strerror(-r));
    return r;
  }
  if (fstat(fd, &st) < 0) {
    r = -errno;
    bw_errs_add(errs, "%s: cannot stat: %s", path, strerror(-r));
    goto fail;
  }
  if (S_ISDIR(st.st_mode)) {
    r = -EISDIR;
    bw_errs_add(errs, "%s: is a directory, not a file", path);
    goto fail;
  }
  /* Checked on the open file: what is read is what was checked. */
  if (private) {
    r = check_private_mode(path, st.st_mode, errs);
    if (r < 0)
      goto fail;
  }
  for (;;) {
    bw_xgrow(&buf, &cap, len + 4096 + 1, 1);
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      r = -errno;
      bw_errs_add(errs, "%s: cannot read: %s", path, strerror(-r));
      goto fail;
    }
    if (n == 0)
      break;
    len += (size_t)n;
    if (len > max_len) {
      r = -EFBIG;
      bw_errs_add(errs, "%s: larger than %zu bytes", path, max_len);
      goto fail;
    }
  }
  (void)close(fd);
  bw_xgrow(&buf, &cap, len + 1, 1);
  buf[len] = '\0';
  *ret_buf = buf;
  *ret_len = len;
  return 0;
fail:
  if (buf)
    explicit_bzero(buf, cap);
  free(buf);
  (void)close(fd);
  return r;
}

int bw_file_read(const char *path, size_t max_len, char **ret_buf, size_t *ret_len,
                 struct bw_errs *errs) {
  return read_file(path, max_len, false, ret_buf, ret_len, errs);
}

int bw_file_read_private(const char *path, size_t max_len, char **ret_buf, size_t *ret_len,
                         struct bw_errs *errs) {
  return read_file(path, max_len, true, ret_buf, ret_len, errs);
}

int bw_file_check_private(const char *path, struct bw_errs *errs) {
  struct stat st;
  if (stat(path, &st) < 0)
    return errno == ENOENT ? 0 : -errno;
  if (S_ISDIR(st.st_mode))
    return 0;
  return check_private_mode(path, st.st_mode, errs);
}

char *bw_file_secret_path(const char *name) {
  const char *dir = getenv("CREDENTIALS_DIRECTORY");
  if (!strchr(name, '/') && dir && *dir)
    return bw_xasprintf("%s/%s", dir, name);
  return bw_xstrdup(name);
}

/* What stops a file being opened read-write or created: its own mode, or its directory's. */
static int writable(const char *path, char **ret_obstacle) {
  if (!*path || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
    return 0;
  if (access(path, F_OK) == 0) {
    if (access(path, R_OK | W_OK) < 0) {
      *ret_obstacle = bw_xstrdup(path);
      return -errno;
    }
  } else if (errno != ENOENT) {
    *ret_obstacle = bw_xstrdup(path);
    return -errno;
  }
  /* The directory too: SQLite creates the database there, and its -wal and -shm files. */
  const char *slash = strrchr(path, '/');
  char *dir;
  if (!slash)
    dir = bw_xstrdup(".");
  else if (slash == path)
    dir = bw_xstrdup("/");
  else
    dir = bw_xstrndup(path, (size_t)(slash - path));
  if (access(dir, W_OK | X_OK) < 0) {
    int r = -errno;
    *ret_obstacle = dir;
    return r;
  }
  free(dir);
  return 0;
}

int bw_file_explain_db_error(const char *path, struct bw_errs *errs) {
  char *obstacle = NULL;
  int r = writable(path, &obstacle);
  if (r == 0 || r == -ENOENT) {
    /* Nothing found, or a missing directory: what the database said is the truth. */
    free(obstacle);
    return 0;
  }
  bw_errs_clear(errs);
  if (strcmp(obstacle, path) == 0)
    bw_errs_add(errs, "%s: cannot open the database: %s", path, strerror(-r));
  else
    bw_errs_add(errs, "%s: cannot open the database: %s: %s", path, obstacle, strerror(-r));
  free(obstacle);
  return r;
}

/* The password file must be private before the config counts as valid (see bw_config_load). */
static int check_secrets(const struct bw_config *cfg, struct bw_errs *errs) {
  if (!cfg->report.enabled || !cfg->report.password_file)
    return 0;
  char *path = bw_file_secret_path(cfg->report.password_file);
  struct bw_errs mode = {0};
  int r = bw_file_check_private(path, &mode);
  for (size_t i = 0; i < mode.n; i++)
    bw_errs_add(errs, "%s: report.password_file: %s", cfg->path, mode.msg[i]);
  bw_errs_clear(&mode);
  free(path);
  return r == -EPERM ? r : 0;
}

int bw_config_read_bodies(struct bw_config *cfg, struct bw_errs *errs) {
  int r = 0;
  for (size_t i = 0; i < cfg->n_tests; i++) {
    struct bw_test *t = &cfg->tests[i];
    struct bw_errs why = {0};
    char *buf = NULL;
    size_t len = 0;
    if (!t->body_file || t->body)
      continue;
    int k = bw_file_read(t->body_file, BW_BODY_MAX_BYTES, &buf, &len, &why);
    if (k < 0) {
      for (size_t j = 0; j < why.n; j++)
        bw_errs_add(errs, "%s: %s", t->body_file_where ? t->body_file_where : cfg->path,
                    why.msg[j]);
      r = k;
    } else {
      t->body = buf;
      t->body_len = len;
    }
    bw_errs_clear(&why);
  }
  return r;
}

struct bw_config *bw_config_load(const char *path, struct bw_errs *errs) {
  char *buf = NULL;
  size_t len = 0;
  struct bw_config *cfg = NULL;
  if (bw_file_read(path, BW_CONFIG_MAX_BYTES, &buf, &len, errs) == 0)
    cfg = bw_config_parse(path, buf, len, errs);
  free(buf);
  if (cfg && (check_secrets(cfg, errs) < 0 || bw_config_read_bodies(cfg, errs) < 0)) {
    bw_config_free(cfg);
    cfg = NULL;
  }
  return cfg;
}
