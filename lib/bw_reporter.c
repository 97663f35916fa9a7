#include "bw_reporter.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bw_report.h"
#include "bw_report_mail.h"
#include "bw_schedule.h"
#include "bw_url.h"
#include "bw_util.h"

#define S INT64_C(1000000)
#define MAX_SLEEP_US (30 * S) /* wake to look at the wall clock: it may have been stepped */

static const int64_t backoff_us[] = {10 * S, 30 * S, 60 * S, 300 * S, 900 * S, 3600 * S};
#define N_BACKOFF (sizeof(backoff_us) / sizeof(backoff_us[0]))

struct bw_reporter {
  struct bw_loop *loop;
  bw_reporter_note_fn note_fn;
  void *note_arg;
  struct bw_store *store;
  char *host;
  const struct bw_config *cfg;
  struct bw_timer *timer;
  int64_t due_us;       /* next report time; 0 when reports are off */
  int64_t retry_us;     /* next delivery attempt; 0 when none is waiting */
  size_t failures;      /* failed attempts this round */
  bool sending;
  int sending_day;
  char *password;
  char *message;
  size_t undelivered;        /* as the database said when last asked, less those sent since */
  int64_t last_delivered_us; /* 0 until a delivery succeeds */
};

static void on_timer(void *arg);

/* Hands a line to the daemon, which logs it: the library does not. */
__attribute__((format(printf, 3, 4))) static void note(struct bw_reporter *r, bool error,
                                                       const char *fmt, ...) {
  va_list ap;
  if (!r->note_fn)
    return;
  va_start(ap, fmt);
  char *text = bw_xvasprintf(fmt, ap);
  va_end(ap);
  r->note_fn(r->note_arg, error, text);
  free(text);
}

static void arm(struct bw_reporter *r) {
  int64_t now = bw_wall_us(), next = r->due_us;
  if (r->retry_us && (!next || r->retry_us < next))
    next = r->retry_us;
  if (!next) {
    bw_timer_stop(r->timer);
    return;
  }
  int64_t wait = next - now;
  bw_timer_arm(r->timer, wait < MAX_SLEEP_US ? wait : MAX_SLEEP_US);
}

static void deliver_next(struct bw_reporter *r);

static void on_sent(void *arg, int code, const char *error) {
  struct bw_reporter *r = arg;
  struct bw_errs errs = {0};
  int64_t now = bw_wall_us();
  r->sending = false;
  free(r->password);
  free(r->message);
  r->password = r->message = NULL;
  if (bw_store_report_attempt(r->store, r->sending_day, now, code ? error : NULL, &errs) < 0)
    note(r, true, "report %d: %s", r->sending_day, errs.msg[0]);
  bw_errs_clear(&errs);
  if (code == 0) {
    char *server = bw_url_redact(r->cfg->report.smtp);
    note(r, false, "report %d mailed to %zu recipients through %s", r->sending_day,
           r->cfg->report.n_to, server);
    free(server);
    r->failures = 0;
    r->last_delivered_us = now;
    if (r->undelivered > 0)
      r->undelivered--;
    deliver_next(r); /* an older one kept from a bad night, if any */
    return;
  }
  if (r->failures < N_BACKOFF) {
    note(r, true, "report %d not delivered: %s; trying again in %" PRId64 " s",
           r->sending_day, error, backoff_us[r->failures] / S);
    r->retry_us = now + backoff_us[r->failures++];
  } else {
    note(r, true, "report %d not delivered: %s; kept in the database, sent with the next one",
           r->sending_day, error);
  }
  arm(r);
}

/* Starts mailing the oldest report not yet delivered, if any. */
static void deliver_next(struct bw_reporter *r) {
  struct bw_report_row *rows = NULL;
  size_t n = 0;
  struct bw_errs errs = {0};
  struct bw_smtp smtp;
  r->retry_us = 0;
  if (r->sending || !r->cfg || !r->cfg->report.enabled)
    return;
  if (bw_store_reports_unsent(r->store, &rows, &n, &errs) < 0)
    goto out;
  r->undelivered = n;
  if (n == 0)
    goto out;
  r->message = bw_xstrdup(rows[0].message);
  r->sending_day = rows[0].day;
  if (bw_report_smtp(&r->cfg->report, r->message, &smtp, &r->password, &errs) < 0 ||
      bw_smtp_send(r->loop, &smtp, on_sent, r, &errs) < 0) {
    free(r->message);
    free(r->password);
    r->message = r->password = NULL;
    goto out;
  }
  r->sending = true;
out:
  for (size_t i = 0; i < errs.n; i++)
    note(r, true, "report: %s", errs.msg[i]);
  bw_errs_clear(&errs);
  bw_report_rows_free(rows, n);
  arm(r);
}

/* Composes the report of the 24 hours up to now and keeps it as today's (once per day). */
static void compose(struct bw_reporter *r, int64_t now) {
  struct bw_nightly rep;
  struct bw_errs errs = {0};
  bool created = false;
  int day = bw_schedule_local_day(now);
  if (bw_report_collect(r->store, r->cfg, r->host, now - 24 * 3600 * S, now, &rep, &errs) < 0)
    goto out;
  if (bw_report_quiet(&rep) && !r->cfg->report.send_when_quiet) {
    note(r, false, "report %d: nothing to report, and send_when_quiet is off", day);
  } else {
    char *subject = bw_report_subject(&rep);
    char *message = bw_report_message(&r->cfg->report, &rep, now, &errs);
    if (message && bw_store_report_add(r->store, day, now, subject, message, &created, &errs) == 0 &&
        created)
      note(r, false, "report %d: %s", day, subject);
    free(subject);
    free(message);
  }
  bw_report_free(&rep);
out:
  for (size_t i = 0; i < errs.n; i++)
    note(r, true, "report: %s", errs.msg[i]);
  bw_errs_clear(&errs);
}

static void on_timer(void *arg) {
  struct bw_reporter *r = arg;
  int64_t now = bw_wall_us();
  if (r->due_us && now >= r->due_us) {
    compose(r, now);
    r->due_us = bw_schedule_daily(now, r->cfg->report.at_minutes);
    r->failures = 0;
    deliver_next(r);
    return;
  }
  if (r->retry_us && now >= r->retry_us) {
    deliver_next(r);
    return;
  }
  arm(r);
}

struct bw_reporter *bw_reporter_new(struct bw_loop *loop, struct bw_store *store,
                                    const char *host, bw_reporter_note_fn note_fn,
                                    void *note_arg) {
  struct bw_reporter *r = bw_xcalloc(1, sizeof(*r));
  r->loop = loop;
  r->note_fn = note_fn;
  r->note_arg = note_arg;
  r->store = store;
  r->host = bw_xstrdup(host);
  r->timer = bw_timer_new(loop, on_timer, r);
  if (!r->timer) {
    bw_reporter_free(r);
    return NULL;
  }
  return r;
}

void bw_reporter_apply(struct bw_reporter *r, const struct bw_config *cfg) {
  r->cfg = cfg;
  if (!cfg->report.enabled) {
    r->due_us = 0;
    arm(r);
    return;
  }
  /* Today's report is due now if its time has passed and it is not in the database yet. */
  int64_t now = bw_wall_us();
  int64_t today = bw_schedule_daily(now - 24 * 3600 * S, cfg->report.at_minutes);
  bool have_today = today <= now && bw_store_report_exists(r->store, bw_schedule_local_day(now));
  r->due_us = today <= now && !have_today ? now : bw_schedule_daily(now, cfg->report.at_minutes);
  if (!r->sending && !r->retry_us)
    r->retry_us = now; /* reports kept from before a restart go out now */
  arm(r);
}

void bw_reporter_status(const struct bw_reporter *r, struct bw_metrics_reports *ret) {
  ret->undelivered = r->undelivered;
  ret->last_delivered_us = r->last_delivered_us;
}

void bw_reporter_free(struct bw_reporter *r) {
  if (!r)
    return;
  bw_timer_free(r->timer);
  free(r->password);
  free(r->message);
  free(r->host);
  free(r);
}
