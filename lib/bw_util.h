#ifndef BW_UTIL_H
#define BW_UTIL_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Allocation that cannot fail: a long-running daemon that runs out of memory prints one line and
 * aborts instead of limping on with half-handled NULLs.
 */
void *bw_xmalloc(size_t size);
void *bw_xcalloc(size_t n, size_t size);
void *bw_xrealloc(void *ptr, size_t size);
/* Grows *ptr, an array of *cap elements of elem bytes, so that it holds at least need elements. */
void bw_xgrow(void *ptr, size_t *cap, size_t need, size_t elem);
char *bw_xstrdup(const char *s);
char *bw_xstrndup(const char *s, size_t n);
char *bw_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *bw_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* A growing string. Zero-initialise; s is NUL-terminated once anything was added; free(s). */
struct bw_buf {
  char *s;
  size_t len;
  size_t cap;
};

void bw_buf_printf(struct bw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bw_buf_add(struct bw_buf *b, const char *data, size_t n);
/* The string, never NULL: "" when empty. The caller owns it; b is left empty. */
char *bw_buf_take(struct bw_buf *b);

/*
 * Human-readable problems collected by library code for the caller to print: lib/ never prints.
 * Zero-initialise; bw_errs_clear() frees the messages and may be called on an empty list.
 */
struct bw_errs {
  char **msg;
  size_t n;
  size_t cap;
};

void bw_errs_add(struct bw_errs *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bw_errs_clear(struct bw_errs *errs);

#endif
