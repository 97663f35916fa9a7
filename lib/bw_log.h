#ifndef BW_LOG_H
#define BW_LOG_H

#include <stdint.h>

/*
 * The daemon's log: one line per message on stderr, prefixed with its syslog priority ("<3>"),
 * which journald turns into the entry's level. The same text again within a minute is held back
 * and counted; the next time it is printed it says how many were held back, so a failing target
 * cannot flood the journal.
 */
enum bw_log_level {
  BW_LOG_ERR = 3,
  BW_LOG_WARNING = 4,
  BW_LOG_NOTICE = 5,
  BW_LOG_INFO = 6,
  BW_LOG_DEBUG = 7,
};

void bw_log(enum bw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * bw_log() without holding back repeats: for the answer to something an operator just did (a
 * reload), which must appear every time even when it says what it said a minute ago. A repeat
 * held back earlier is still counted in the line.
 */
void bw_log_each(enum bw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Frees the repeat-suppression memory (at exit). */
void bw_log_finish(void);

#endif
