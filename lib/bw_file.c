#include "bw_file.h"

#include "bw_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bw_file_read(const char *path, size_t max_len, char **ret_buf, size_t *ret_len,
                 struct bw_errs *errs) {
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
  free(buf);
  (void)close(fd);
  return r;
}

struct bw_config *bw_config_load(const char *path, struct bw_errs *errs) {
  char *buf = NULL;
  size_t len = 0;
  struct bw_config *cfg = NULL;
  if (bw_file_read(path, BW_CONFIG_MAX_BYTES, &buf, &len, errs) == 0)
    cfg = bw_config_parse(path, buf, len, errs);
  free(buf);
  return cfg;
}
