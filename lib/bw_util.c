#include "bw_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t size) {
  (void)fprintf(stderr, "<2>benchwatch: out of memory allocating %zu bytes\n", size);
  abort();
}

void *bw_xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (!p)
    oom(size);
  return p;
}

void *bw_xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    oom(n * size);
  return p;
}

void *bw_xrealloc(void *ptr, size_t size) {
  void *p = realloc(ptr, size ? size : 1);
  if (!p)
    oom(size);
  return p;
}

void bw_xgrow(void *ptr, size_t *cap, size_t need, size_t elem) {
  void **arr = ptr;
  size_t c = *cap;
  if (need <= c)
    return;
  if (c < 8)
    c = 8;
  while (c < need) {
    if (c > (size_t)-1 / 2 / elem)
      oom((size_t)-1);
    c *= 2;
  }
  *arr = bw_xrealloc(*arr, c * elem);
  *cap = c;
}

char *bw_xstrdup(const char *s) {
  return bw_xstrndup(s, strlen(s));
}

char *bw_xstrndup(const char *s, size_t n) {
  char *p = bw_xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *bw_xvasprintf(const char *fmt, va_list ap) {
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    oom(strlen(fmt));
  return s;
}

char *bw_xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = bw_xvasprintf(fmt, ap);
  va_end(ap);
  return s;
}

void bw_buf_add(struct bw_buf *b, const char *data, size_t n) {
  bw_xgrow(&b->s, &b->cap, b->len + n + 1, 1);
  memcpy(b->s + b->len, data, n);
  b->len += n;
  b->s[b->len] = '\0';
}

void bw_buf_printf(struct bw_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = bw_xvasprintf(fmt, ap);
  va_end(ap);
  bw_buf_add(b, s, strlen(s));
  free(s);
}

char *bw_buf_take(struct bw_buf *b) {
  char *s = b->s ? b->s : bw_xstrdup("");
  b->s = NULL;
  b->len = b->cap = 0;
  return s;
}

void bw_errs_add(struct bw_errs *errs, const char *fmt, ...) {
  va_list ap;
  bw_xgrow(&errs->msg, &errs->cap, errs->n + 1, sizeof(*errs->msg));
  va_start(ap, fmt);
  errs->msg[errs->n++] = bw_xvasprintf(fmt, ap);
  va_end(ap);
}

void bw_errs_clear(struct bw_errs *errs) {
  if (!errs)
    return;
  for (size_t i = 0; i < errs->n; i++)
    free(errs->msg[i]);
  free(errs->msg);
  errs->msg = NULL;
  errs->n = errs->cap = 0;
}
