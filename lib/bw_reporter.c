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

/*
 * One database job. Everything the thread reads is in it (a hold on the config, the host), and
 * everything it finds goes back in it; the loop's side (r) is touched only in done(), and not at
 * all once the reporter is gone (r is then NULL).
 */
struct job {
  struct bw_reporter *r;
  struct job *prev, *next; /* the reporter's jobs in flight */
  struct bw_config *cfg;
  char *host;
  int64_t now;
  int day;
  bool ok;           /* the work succeeded */
  bool exists;       /* check: today's report is in the database */
  char *subject;     /* compose: the new report's subject, when it was created */
  bool quiet;        /* compose: nothing to report and nothing kept */
  size_t n;          /* unsent: reports not yet delivered */
  char *message;     /* unsent: the oldest one */
  const char *error; /* attempt: what the delivery failed with (NULL: delivered) */
  char *error_copy;
  struct bw_errs errs;
};

struct bw_reporter {
  struct bw_loop *loop;
  struct bw_worker *worker;
  bw_reporter_note_fn note_fn;
  void *note_arg;
  char *host;
  struct bw_config *cfg; /* held */
  struct bw_timer *timer;
  struct job *jobs; /* in flight on the worker */
  bool checking;    /* is today's report there? (after an apply) */
  bool composing;
  bool finding; /* reading the reports not yet delivered */
  bool sending;
  int64_t due_us;   /* next report time; 0 when reports are off or not known yet */
  int64_t retry_us; /* next delivery attempt; 0 when none is waiting */
  size_t failures;  /* failed delivery attempts this round */
  size_t compose_failures;
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

static void note_errs(struct bw_reporter *r, const struct bw_errs *errs) {
  for (size_t i = 0; i < errs->n; i++)
    note(r, true, "report: %s", errs->msg[i]);
}

static bool busy(const struct bw_reporter *r) {
  return r->checking || r->composing || r->finding || r->sending;
}

static void arm(struct bw_reporter *r) {
  int64_t now = bw_wall_us(), next = r->due_us;
  if (busy(r))
    return; /* the job's end arms it */
  if (r->retry_us && (!next || r->retry_us < next))
    next = r->retry_us;
  if (!next) {
    bw_timer_stop(r->timer);
    return;
  }
  int64_t wait = next - now;
  bw_timer_arm(r->timer, wait < MAX_SLEEP_US ? wait : MAX_SLEEP_US);
}

/* ---- jobs ---- */

static struct job *job_new(struct bw_reporter *r) {
  struct job *j = bw_xcalloc(1, sizeof(*j));
  j->r = r;
  j->cfg = bw_config_ref(r->cfg);
  j->host = bw_xstrdup(r->host);
  j->now = bw_wall_us();
  j->next = r->jobs;
  if (r->jobs)
    r->jobs->prev = j;
  r->jobs = j;
  return j;
}

/* Takes j off its reporter's list; returns the reporter, or NULL when it is gone. */
static struct bw_reporter *job_end(struct job *j) {
  struct bw_reporter *r = j->r;
  if (r) {
    if (j->prev)
      j->prev->next = j->next;
    else
      r->jobs = j->next;
    if (j->next)
      j->next->prev = j->prev;
  }
  return r;
}

static void job_free(struct job *j) {
  bw_config_free(j->cfg);
  free(j->host);
  free(j->subject);
  free(j->message);
  free(j->error_copy);
  bw_errs_clear(&j->errs);
  free(j);
}

static void deliver_next(struct bw_reporter *r);

/* Whether today's report is in the database, after an apply: it decides when the next is due. */
static void check_work(struct bw_store *store, void *arg) {
  struct job *j = arg;
  j->exists = bw_store_report_exists(store, j->day);
}

static void check_done(void *arg, bool ran) {
  struct job *j = arg;
  struct bw_reporter *r = job_end(j);
  if (r && ran) {
    r->checking = false;
    if (r->cfg == j->cfg && r->cfg->report.enabled) {
      int at = r->cfg->report.at_minutes;
      int64_t now = bw_wall_us();
      int64_t today = bw_schedule_daily(j->now - 24 * 3600 * S, at);
      r->due_us = today <= j->now && !j->exists ? now : bw_schedule_daily(now, at);
    }
    deliver_next(r); /* reports kept from before a restart go out now */
  }
  job_free(j);
}

/* Composes the report of the 24 hours up to j->now and keeps it as today's (once per day). */
static void compose_work(struct bw_store *store, void *arg) {
  struct job *j = arg;
  struct bw_nightly rep;
  bool created = false;
  if (bw_report_collect(store, j->cfg, j->host, j->now - 24 * 3600 * S, j->now, &rep, &j->errs) < 0)
    return;
  if (bw_report_quiet(&rep) && !j->cfg->report.send_when_quiet) {
    j->quiet = j->ok = true;
  } else {
    char *subject = bw_report_subject(&rep);
    char *message = bw_report_message(&j->cfg->report, &rep, j->now, &j->errs);
    if (message &&
        bw_store_report_add(store, j->day, j->now, subject, message, &created, &j->errs) == 0) {
      j->ok = true;
      if (created) {
        j->subject = subject;
        subject = NULL;
      }
    }
    free(subject);
    free(message);
  }
  bw_report_free(&rep);
}

static void compose_done(void *arg, bool ran) {
  struct job *j = arg;
  struct bw_reporter *r = job_end(j);
  if (!r || !ran)
    goto out;
  r->composing = false;
  note_errs(r, &j->errs);
  if (j->quiet)
    note(r, false, "report %d: nothing to report, and send_when_quiet is off", j->day);
  else if (j->subject)
    note(r, false, "report %d: %s", j->day, j->subject);
  if (j->ok || r->compose_failures >= N_BACKOFF || !r->cfg->report.enabled) {
    if (!j->ok)
      note(r, true, "report %d: not composed; given up for the day", j->day);
    r->compose_failures = 0;
    r->due_us =
        r->cfg->report.enabled ? bw_schedule_daily(bw_wall_us(), r->cfg->report.at_minutes) : 0;
  } else {
    int64_t wait = backoff_us[r->compose_failures++];
    note(r, true, "report %d: not composed; trying again in %" PRId64 " s", j->day, wait / S);
    r->due_us = bw_wall_us() + wait;
  }
  r->failures = 0;
  deliver_next(r);
out:
  job_free(j);
}

/* The oldest report not yet delivered, and how many there are. */
static void unsent_work(struct bw_store *store, void *arg) {
  struct job *j = arg;
  struct bw_report_row *rows = NULL;
  size_t n = 0;
  if (bw_store_reports_unsent(store, &rows, &n, &j->errs) < 0)
    return;
  j->ok = true;
  j->n = n;
  if (n > 0) {
    j->message = bw_xstrdup(rows[0].message);
    j->day = rows[0].day;
  }
  bw_report_rows_free(rows, n);
}

static void on_sent(void *arg, int code, const char *error);

static void unsent_done(void *arg, bool ran) {
  struct job *j = arg;
  struct bw_reporter *r = job_end(j);
  struct bw_errs errs = {0};
  struct bw_smtp smtp;
  if (!r || !ran)
    goto out;
  r->finding = false;
  note_errs(r, &j->errs);
  if (!j->ok || j->n == 0 || !r->cfg->report.enabled) {
    if (j->ok)
      r->undelivered = j->n;
    goto arm;
  }
  r->undelivered = j->n;
  r->message = j->message;
  j->message = NULL;
  r->sending_day = j->day;
  if (bw_report_smtp(&r->cfg->report, r->message, &smtp, &r->password, &errs) < 0 ||
      bw_smtp_send(r->loop, &smtp, on_sent, r, &errs) < 0) {
    free(r->message);
    free(r->password);
    r->message = r->password = NULL;
    note_errs(r, &errs);
    bw_errs_clear(&errs);
    goto arm;
  }
  r->sending = true;
arm:
  arm(r);
out:
  job_free(j);
}

/* Starts mailing the oldest report not yet delivered, if any. */
static void deliver_next(struct bw_reporter *r) {
  r->retry_us = 0;
  if (busy(r) || !r->cfg || !r->cfg->report.enabled) {
    arm(r);
    return;
  }
  r->finding = true;
  bw_worker_call(r->worker, unsent_work, unsent_done, job_new(r));
}

/* Records how a delivery went. */
static void attempt_work(struct bw_store *store, void *arg) {
  struct job *j = arg;
  j->ok = bw_store_report_attempt(store, j->day, j->now, j->error, &j->errs) == 0;
}

static void attempt_done(void *arg, bool ran) {
  struct job *j = arg;
  struct bw_reporter *r = job_end(j);
  if (!r || !ran)
    goto out;
  r->sending = false;
  for (size_t i = 0; i < j->errs.n; i++)
    note(r, true, "report %d: %s", j->day, j->errs.msg[i]);
  if (!j->error) {
    deliver_next(r); /* an older one kept from a bad night, if any */
  } else if (r->failures < N_BACKOFF) {
    note(r, true, "report %d not delivered: %s; trying again in %" PRId64 " s", j->day, j->error,
         backoff_us[r->failures] / S);
    r->retry_us = bw_wall_us() + backoff_us[r->failures++];
    arm(r);
  } else {
    note(r, true, "report %d not delivered: %s; kept in the database, sent with the next one",
         j->day, j->error);
    arm(r);
  }
out:
  job_free(j);
}

static void on_sent(void *arg, int code, const char *error) {
  struct bw_reporter *r = arg;
  free(r->password);
  free(r->message);
  r->password = r->message = NULL;
  struct job *j = job_new(r);
  j->day = r->sending_day;
  if (code != 0)
    j->error = j->error_copy = bw_xstrdup(error ? error : "failed");
  if (code == 0) {
    char *server = bw_url_redact(r->cfg->report.smtp);
    note(r, false, "report %d mailed to %zu recipients through %s", r->sending_day,
         r->cfg->report.n_to, server);
    free(server);
    r->failures = 0;
    r->last_delivered_us = j->now;
    if (r->undelivered > 0)
      r->undelivered--;
  }
  /* r->sending stays set until the attempt is recorded, so that the report is not sent twice */
  bw_worker_call(r->worker, attempt_work, attempt_done, j);
}

/* ---- the timer ---- */

static void on_timer(void *arg) {
  struct bw_reporter *r = arg;
  int64_t now = bw_wall_us();
  if (busy(r))
    return;
  if (r->due_us && now >= r->due_us) {
    struct job *j = job_new(r);
    j->day = bw_schedule_local_day(now);
    r->composing = true;
    bw_worker_call(r->worker, compose_work, compose_done, j);
    return;
  }
  if (r->retry_us && now >= r->retry_us) {
    deliver_next(r);
    return;
  }
  arm(r);
}

struct bw_reporter *bw_reporter_new(struct bw_loop *loop, struct bw_worker *worker,
                                    const char *host, bw_reporter_note_fn note_fn, void *note_arg) {
  struct bw_reporter *r = bw_xcalloc(1, sizeof(*r));
  r->loop = loop;
  r->worker = worker;
  r->note_fn = note_fn;
  r->note_arg = note_arg;
  r->host = bw_xstrdup(host);
  r->timer = bw_timer_new(loop, on_timer, r);
  if (!r->timer) {
    bw_reporter_free(r);
    return NULL;
  }
  return r;
}

void bw_reporter_apply(struct bw_reporter *r, struct bw_config *cfg) {
  bw_config_free(r->cfg);
  r->cfg = bw_config_ref(cfg);
  r->due_us = 0;
  if (!cfg->report.enabled) {
    arm(r);
    return;
  }
  /* Today's report is due now if its time has passed and it is not in the database yet. */
  struct job *j = job_new(r);
  j->day = bw_schedule_local_day(j->now);
  r->checking = true;
  bw_worker_call(r->worker, check_work, check_done, j);
}

void bw_reporter_status(const struct bw_reporter *r, struct bw_metrics_reports *ret) {
  ret->undelivered = r->undelivered;
  ret->last_delivered_us = r->last_delivered_us;
}

void bw_reporter_free(struct bw_reporter *r) {
  if (!r)
    return;
  for (struct job *j = r->jobs; j; j = j->next)
    j->r = NULL; /* they end on the worker without us */
  bw_timer_free(r->timer);
  bw_config_free(r->cfg);
  free(r->password);
  free(r->message);
  free(r->host);
  free(r);
}
