#include "bw_check.h"

#include <stdlib.h>
#include <string.h>

#include "bw_util.h"

void bw_find_init(struct bw_find *f, const char *needle) {
  memset(f, 0, sizeof(*f));
  if (!needle || !*needle) {
    f->found = true;
    return;
  }
  f->len = strlen(needle);
  f->needle = bw_xstrdup(needle);
  f->next = bw_xcalloc(f->len, sizeof(*f->next));
  for (size_t i = 1, k = 0; i < f->len; i++) {
    while (k > 0 && needle[i] != needle[k])
      k = f->next[k - 1];
    if (needle[i] == needle[k])
      k++;
    f->next[i] = k;
  }
}

void bw_find_reset(struct bw_find *f) {
  f->at = 0;
  f->found = f->needle == NULL;
}

void bw_find_feed(struct bw_find *f, const char *data, size_t n) {
  if (f->found)
    return;
  size_t k = f->at;
  for (size_t i = 0; i < n; i++) {
    while (k > 0 && data[i] != f->needle[k])
      k = f->next[k - 1];
    if (data[i] == f->needle[k] && ++k == f->len) {
      f->found = true;
      return;
    }
  }
  f->at = k;
}

void bw_find_free(struct bw_find *f) {
  if (!f)
    return;
  free(f->needle);
  free(f->next);
  memset(f, 0, sizeof(*f));
}

bool bw_check_status(long status, char *const *statuses, size_t n) {
  if (n == 0)
    return true;
  for (size_t i = 0; i < n; i++)
    if (strtol(statuses[i], NULL, 10) == status)
      return true;
  return false;
}
