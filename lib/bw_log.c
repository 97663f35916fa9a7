#include "bw_log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bw_loop.h"
#include "bw_util.h"

#define WINDOW_US (60 * INT64_C(1000000))
#define SLOTS 32

/* Recently printed texts, for holding back repeats. A small ring: old entries simply drop out. */
struct recent {
  char *text;
  int64_t printed_us;
  unsigned long held;
};

static struct recent recent[SLOTS];
static size_t next_slot;

static void vlog(enum bw_log_level level, bool each, const char *fmt, va_list ap) {
  char *text = bw_xvasprintf(fmt, ap);
  int64_t now = bw_now_us();
  struct recent *r = NULL;
  for (size_t i = 0; i < SLOTS; i++)
    if (recent[i].text && strcmp(recent[i].text, text) == 0)
      r = &recent[i];
  if (r && !each && now - r->printed_us < WINDOW_US) {
    r->held++;
    free(text);
    return;
  }
  /* One write per line, so lines from a crash-restart cycle never interleave mid-line. */
  if (r && r->held)
    (void)fprintf(stderr, "<%d>%s (and %lu more like it in the last minute)\n", (int)level, text,
                  r->held);
  else
    (void)fprintf(stderr, "<%d>%s\n", (int)level, text);
  if (!r) {
    r = &recent[next_slot];
    next_slot = (next_slot + 1) % SLOTS;
    free(r->text);
    r->text = text;
  } else {
    free(text);
  }
  r->printed_us = now;
  r->held = 0;
}

void bw_log(enum bw_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(level, false, fmt, ap);
  va_end(ap);
}

void bw_log_each(enum bw_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(level, true, fmt, ap);
  va_end(ap);
}

void bw_log_finish(void) {
  for (size_t i = 0; i < SLOTS; i++) {
    free(recent[i].text);
    recent[i].text = NULL;
  }
}
