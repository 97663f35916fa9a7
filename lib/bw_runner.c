#include "bw_runner.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_metrics.h"
#include "bw_probe.h"
#include "bw_render.h"
#include "bw_schedule.h"
#include "bw_sweep.h"
#include "bw_url.h"
#include "bw_util.h"

/*
 * Timers are never armed for more than this: on waking, the wall clock decides whether the target
 * is due. A clock stepped forward (NTP, suspend) is noticed within this time and gives one
 * catch-up run, not a burst; a clock stepped back just waits.
 */
#define MAX_SLEEP_US (30 * INT64_C(1000000))

enum state { IDLE, QUEUED, RUNNING };

struct target {
  struct bw_runner *r;
  struct bw_test test; /* this target's own copy: a reload cannot pull it away mid-run */
  char *backend;       /* "" for none */
  char *server;        /* host:port it loads: the backend, or the URL's server */
  uint64_t key;
  int64_t due_us;
  struct bw_timer *timer;
  enum state state;
  struct bw_probe *probe;
  struct target *next_queued;
  bool removed; /* gone from the config while running: freed when its run is stored */
  int64_t fired_due_us; /* the due time of the run now queued or running */
  /* For /metrics: what the latest runs said. */
  uint64_t runs[4];
  struct bw_run last; /* the latest finished run, without its samples */
  double baseline;
  bool regression_open;
  bool availability_open;
  struct bw_metrics_figure figures[BW_JUDGE_MAX_FIGURES]; /* names point into bw_metrics */
  size_t n_figures;
  uint64_t judged_at; /* r->judged when a judgement last came for it */
  /* A sweep's steps are targets chained in step order: only the first is scheduled; each one
   * that finishes queues the next at the head of the queue, so the steps run one after the
   * other and nothing else takes their server in between. */
  struct target *next_step;
  bool follows; /* a step after the first: never scheduled by itself */
};

struct bw_runner {
  struct bw_loop *loop;
  bw_runner_run_fn done;
  bw_runner_note_fn note_fn;
  void *done_arg;
  struct target **targets;
  size_t n_targets, cap_targets;
  struct target *queue_head, *queue_tail;
  size_t running;
  int64_t max_parallel;
  bool stopping;
  bool once;
  void (*once_done)(void *arg);
  void *once_arg;
  struct bw_timer *kick; /* starts queued runs from the loop, never from inside a callback */
  struct bw_runner_stats stats;
  int64_t started_us;
  double lag_s;
  uint64_t judged; /* judgements kept so far */
};

static void start_queued(void *arg);

/* Hands a line to the caller, who logs it: the library itself does not. */
__attribute__((format(printf, 3, 4))) static void note(struct bw_runner *r,
                                                       enum bw_runner_note_level level,
                                                       const char *fmt, ...) {
  va_list ap;
  if (!r->note_fn)
    return;
  va_start(ap, fmt);
  char *text = bw_xvasprintf(fmt, ap);
  va_end(ap);
  r->note_fn(r->done_arg, level, text);
  free(text);
}

static int64_t utc_offset_us(int64_t wall_us) {
  time_t t = (time_t)(wall_us / 1000000);
  struct tm tm;
  if (!localtime_r(&t, &tm))
    return 0;
  return (int64_t)tm.tm_gmtoff * 1000000;
}

static void plan(struct target *t) {
  int64_t now = bw_wall_us();
  t->due_us = bw_schedule_next(now, utc_offset_us(now), t->test.every_us, t->test.offset_us,
                               t->test.jitter_us, t->key);
}

static void arm(struct target *t) {
  int64_t wait = t->due_us - bw_wall_us();
  bw_timer_arm(t->timer, wait < MAX_SLEEP_US ? wait : MAX_SLEEP_US);
}

static void enqueue(struct target *t) {
  t->state = QUEUED;
  t->next_queued = NULL;
  if (t->r->queue_tail)
    t->r->queue_tail->next_queued = t;
  else
    t->r->queue_head = t;
  t->r->queue_tail = t;
  bw_timer_arm(t->r->kick, 0);
}

/* Puts t first in the queue: a sweep's next step, which keeps its server. */
static void enqueue_front(struct target *t) {
  t->state = QUEUED;
  t->next_queued = t->r->queue_head;
  t->r->queue_head = t;
  if (!t->r->queue_tail)
    t->r->queue_tail = t;
  bw_timer_arm(t->r->kick, 0);
}

static void on_timer(void *arg) {
  struct target *t = arg;
  if (t->r->stopping)
    return;
  if (bw_wall_us() < t->due_us) {
    arm(t); /* woken early to look at the clock, or the clock went back */
    return;
  }
  const struct target *busy = t;
  while (busy && busy->state == IDLE)
    busy = busy->next_step;
  if (busy) {
    t->r->stats.skips++;
    note(t->r, BW_RUNNER_WARNING, "%s%s%s%s: skipped this turn: the previous run is still %s",
         t->test.name, t->backend[0] ? " [" : "", t->backend, t->backend[0] ? "]" : "",
         busy->state == QUEUED ? "queued" : "running");
  } else {
    t->fired_due_us = t->due_us;
    enqueue(t);
  }
  plan(t);
  arm(t);
}

static struct target *target_new(struct bw_runner *r, const struct bw_test *test,
                                 const char *backend) {
  struct target *t = bw_xcalloc(1, sizeof(*t));
  t->r = r;
  bw_test_copy(&t->test, test);
  t->backend = bw_xstrdup(backend ? backend : "");
  t->server = t->backend[0] ? bw_xstrdup(t->backend) : bw_url_server(test->url);
  t->key = bw_schedule_key(test->name, t->backend);
  bw_run_init(&t->last);
  t->baseline = (double)NAN;
  uint32_t figures = bw_detect_figures(&test->detect, test->kind);
  for (const struct bw_metric *m = bw_metrics; m->name; m++)
    if ((figures & (UINT32_C(1) << (m - bw_metrics))) && (m->kinds & (1u << test->kind)) &&
        t->n_figures < BW_JUDGE_MAX_FIGURES) {
      t->figures[t->n_figures].name = m->name;
      t->figures[t->n_figures++].ratio = (double)NAN;
    }
  t->timer = bw_timer_new(r->loop, on_timer, t);
  if (!t->timer)
    abort(); /* out of memory in libevent */
  return t;
}

static void target_free(struct target *t) {
  bw_run_reset(&t->last);
  bw_timer_free(t->timer);
  bw_probe_free(t->probe);
  bw_test_clear(&t->test);
  free(t->backend);
  free(t->server);
  free(t);
}

/* Takes t out of the queue if it is in it. */
static void dequeue(struct target *t) {
  struct bw_runner *r = t->r;
  struct target *prev = NULL;
  for (struct target *q = r->queue_head; q; prev = q, q = q->next_queued) {
    if (q != t)
      continue;
    if (prev)
      prev->next_queued = q->next_queued;
    else
      r->queue_head = q->next_queued;
    if (r->queue_tail == q)
      r->queue_tail = prev;
    t->state = IDLE;
    return;
  }
}

static void maybe_once_done(struct bw_runner *r) {
  if (r->once && r->running == 0 && !r->queue_head && r->once_done) {
    void (*done)(void *) = r->once_done;
    r->once_done = NULL;
    done(r->once_arg);
  }
}

static struct target *find(struct bw_runner *r, const char *name, const char *backend) {
  for (size_t i = 0; i < r->n_targets; i++) {
    struct target *t = r->targets[i];
    if (!t->removed && strcmp(t->test.name, name) == 0 && strcmp(t->backend, backend) == 0)
      return t;
  }
  return NULL;
}

/* What /metrics shows of the judge's words: every judged figure's state, the headline's baseline. */
static void remember(struct target *t, const struct bw_judgement *j) {
  t->availability_open = j->avail_open;
  t->n_figures = j->n_fig;
  t->regression_open = false;
  for (size_t i = 0; i < j->n_fig; i++) {
    const struct bw_judge_figure *f = &j->fig[i];
    t->figures[i].name = f->metric->name;
    t->figures[i].open = f->open;
    t->figures[i].ratio = f->verdict.judged ? f->verdict.ratio : (double)NAN;
    t->regression_open = t->regression_open || f->open;
  }
  if (j->n_fig > 0) {
    const struct bw_verdict *v = &j->fig[0].verdict;
    if (v->judged)
      t->baseline = v->reference;
    else if (v->baseline.n)
      t->baseline = v->baseline.mode;
  }
}

static void on_run_done(void *arg, struct bw_run *run) {
  struct target *t = arg;
  struct bw_runner *r = t->r;

  char *line = bw_render_line(run);
  r->stats.runs++;
  if (run->outcome == BW_OUTCOME_FAILED)
    r->stats.failures++;
  r->stats.last_run_us = bw_wall_us();
  (void)snprintf(r->stats.last, sizeof(r->stats.last), "%s", line);
  free(line);
  if ((unsigned)run->outcome < 4)
    t->runs[run->outcome]++;
  /* The run goes to storage; the probe is freed by start_queued(), from the loop: we are inside
   * its callback here. */
  t->state = IDLE;
  r->running--;
  bw_timer_arm(r->kick, 0);
  if (t->next_step && !t->removed && !r->stopping && run->outcome != BW_OUTCOME_ABORTED &&
      t->next_step->state == IDLE) {
    t->next_step->fired_due_us = 0;
    enqueue_front(t->next_step);
  }
  r->done(r->done_arg, run);
}

void bw_runner_keep(struct bw_runner *r, struct bw_run *run, const struct bw_judgement *j) {
  struct target *t = find(r, run->test ? run->test : "", run->backend ? run->backend : "");
  if (!t)
    return;
  if (j && j->stepped) {
    remember(t, j);
    t->judged_at = ++r->judged;
  }
  /* A run written out of the spool later is older than the one shown now: keep the newest. */
  if (t->last.started_us != BW_NONE && run->started_us < t->last.started_us)
    return;
  bw_run_reset(&t->last);
  bw_run_move(&t->last, run);
  for (size_t i = 0; i < t->last.n_samples; i++)
    free(t->last.samples[i].error_class);
  free(t->last.samples);
  t->last.samples = NULL;
  t->last.n_samples = t->last.cap_samples = 0;
}

size_t bw_runner_peers(struct bw_runner *r, const struct bw_run *run,
                       const struct bw_run ***ret) {
  const struct bw_run **peers = bw_xcalloc(r->n_targets + 1, sizeof(*peers));
  const char *backend = run->backend ? run->backend : "";
  size_t n = 0;
  for (size_t i = 0; i < r->n_targets; i++) {
    struct target *t = r->targets[i];
    if (!t->removed && run->test && strcmp(t->test.name, run->test) == 0 &&
        strcmp(t->backend, backend) != 0 && t->last.started_us != BW_NONE)
      peers[n++] = &t->last;
  }
  *ret = peers;
  return n;
}

void bw_runner_set_storage(struct bw_runner *r, uint64_t store_errors, size_t spooled,
                           uint64_t lost) {
  r->stats.store_errors = store_errors;
  r->stats.spooled = spooled;
  r->stats.lost = lost;
}

/* Whether a run against server is in flight. */
static bool server_busy(const struct bw_runner *r, const char *server) {
  for (size_t i = 0; i < r->n_targets; i++)
    if (r->targets[i]->state == RUNNING && strcmp(r->targets[i]->server, server) == 0)
      return true;
  return false;
}

/* Frees finished probes and removed targets, then starts queued runs up to max_parallel. */
static void start_queued(void *arg) {
  struct bw_runner *r = arg;
  size_t kept = 0;
  for (size_t i = 0; i < r->n_targets; i++) {
    struct target *t = r->targets[i];
    if (t->state == IDLE && t->probe) {
      bw_probe_free(t->probe);
      t->probe = NULL;
    }
    if (t->removed && t->state == IDLE)
      target_free(t);
    else
      r->targets[kept++] = t;
  }
  r->n_targets = kept;
  /*
   * Oldest first, up to max_parallel at once, and never two runs against the same server: one
   * would measure the other. A target whose server is busy keeps its place in the queue.
   */
  struct target *t = r->queue_head;
  while (!r->stopping && t && (int64_t)r->running < r->max_parallel) {
    struct target *next = t->next_queued;
    if (server_busy(r, t->server)) {
      t = next;
      continue;
    }
    struct bw_errs errs = {0};
    dequeue(t);
    t->state = RUNNING;
    r->running++;
    if (t->fired_due_us)
      r->lag_s = (double)(bw_wall_us() - t->fired_due_us) / 1e6;
    t->probe = bw_probe_start(r->loop, &t->test, t->backend[0] ? t->backend : NULL, on_run_done,
                              t, &errs);
    if (!t->probe) {
      t->state = IDLE;
      r->running--;
      note(r, BW_RUNNER_ERROR, "%s: cannot start: %s", t->test.name, errs.n ? errs.msg[0] : "?");
    }
    bw_errs_clear(&errs);
    t = next;
  }
  maybe_once_done(r);
}

struct bw_runner *bw_runner_new(struct bw_loop *loop, bw_runner_run_fn done,
                                bw_runner_note_fn note_fn, void *arg) {
  struct bw_runner *r = bw_xcalloc(1, sizeof(*r));
  r->loop = loop;
  r->done = done;
  r->note_fn = note_fn;
  r->done_arg = arg;
  r->max_parallel = 4;
  r->started_us = bw_wall_us();
  r->kick = bw_timer_new(loop, start_queued, r);
  if (!r->kick) {
    free(r);
    return NULL;
  }
  return r;
}

static bool same_list(char *const *a, size_t na, char *const *b, size_t nb) {
  if (na != nb)
    return false;
  for (size_t i = 0; i < na; i++)
    if (strcmp(a[i], b[i]) != 0)
      return false;
  return true;
}

/* Whether two versions of a test measure the same way (the name is the same by construction). */
static bool same_test(const struct bw_test *a, const struct bw_test *b) {
  return a->kind == b->kind && strcmp(a->url, b->url) == 0 && a->requests == b->requests &&
         a->concurrency == b->concurrency && a->keepalive == b->keepalive &&
         strcmp(a->method, b->method) == 0 &&
         same_list(a->headers, a->n_headers, b->headers, b->n_headers) &&
         a->timeout_us == b->timeout_us && a->tls_verify == b->tls_verify &&
         a->every_us == b->every_us && a->offset_us == b->offset_us &&
         a->jitter_us == b->jitter_us && a->max_time_us == b->max_time_us &&
         a->max_bytes == b->max_bytes && a->interval_us == b->interval_us &&
         a->stall_rate == b->stall_rate && a->http_version == b->http_version &&
         a->engine == b->engine && a->threads == b->threads &&
         memcmp(&a->detect, &b->detect, sizeof(a->detect)) == 0;
}

/*
 * Makes (test on backend) one target, or updates the one there is; *keep marks the old ones kept.
 * A step that follows another is never scheduled by itself; key is the schedule key.
 */
static struct target *apply_one(struct bw_runner *r, const struct bw_test *test,
                                const char *backend, bool follows, uint64_t key, bool *keep,
                                size_t old_n, size_t *added, size_t *changed) {
  struct target *t = find(r, test->name, backend);
  if (t) {
    for (size_t k = 0; k < old_n; k++)
      if (r->targets[k] == t)
        keep[k] = true;
    bool was = t->follows;
    t->follows = follows;
    t->key = key;
    if (same_test(&t->test, test) && was == follows)
      return t;
    /* A running run keeps its own copy (in the probe); the next ones use the new test. */
    bw_test_clear(&t->test);
    bw_test_copy(&t->test, test);
    if (!t->backend[0]) {
      free(t->server);
      t->server = bw_url_server(test->url);
    }
    if (follows) {
      bw_timer_stop(t->timer);
    } else {
      plan(t);
      arm(t);
    }
    (*changed)++;
    return t;
  }
  t = target_new(r, test, backend);
  t->follows = follows;
  t->key = key;
  bw_xgrow(&r->targets, &r->cap_targets, r->n_targets + 1, sizeof(*r->targets));
  r->targets[r->n_targets++] = t;
  if (!follows) {
    plan(t);
    arm(t);
  }
  (*added)++;
  return t;
}

void bw_runner_apply(struct bw_runner *r, const struct bw_config *cfg) {
  size_t added = 0, changed = 0, removed = 0, old_n = r->n_targets;
  bool *keep = bw_xcalloc(old_n + 1, sizeof(*keep));
  r->max_parallel = cfg->max_parallel;
  for (size_t k = 0; k < old_n; k++)
    r->targets[k]->next_step = NULL; /* the chains are made again below */
  for (size_t i = 0; i < cfg->n_tests; i++) {
    const struct bw_test *test = &cfg->tests[i];
    size_t nb = test->n_backends ? test->n_backends : 1;
    size_t steps = bw_sweep_steps(test);
    for (size_t b = 0; b < nb; b++) {
      const char *backend = test->n_backends ? test->backends[b] : "";
      /* A sweep runs at its test's times, whatever its first step. */
      uint64_t key = bw_schedule_key(test->name, backend);
      if (steps == 0) {
        (void)apply_one(r, test, backend, false, key, keep, old_n, &added, &changed);
        continue;
      }
      struct target *prev = NULL;
      for (size_t s = 0; s < steps; s++) {
        struct bw_test step;
        bw_sweep_step(test, s, &step);
        struct target *t = apply_one(r, &step, backend, s > 0, key, keep, old_n, &added, &changed);
        bw_test_clear(&step);
        if (prev)
          prev->next_step = t;
        prev = t;
      }
    }
  }
  for (size_t k = 0; k < old_n; k++) {
    struct target *t = r->targets[k];
    if (keep[k] || t->removed)
      continue;
    removed++;
    t->removed = true;
    bw_timer_stop(t->timer);
    if (t->state == QUEUED)
      dequeue(t);
  }
  free(keep);
  r->stats.targets = r->n_targets - removed;
  bw_timer_arm(r->kick, 0); /* frees removed idle targets */
  if (old_n == 0)
    note(r, BW_RUNNER_INFO, "%zu targets scheduled; max_parallel %" PRId64, r->stats.targets,
         r->max_parallel);
  else
    note(r, BW_RUNNER_INFO, "%zu targets: %zu added, %zu changed, %zu removed; max_parallel %" PRId64,
         r->stats.targets, added, changed, removed, r->max_parallel);
}

uint64_t bw_runner_judged(const struct bw_runner *r) {
  return r->judged;
}

void bw_runner_seed(struct bw_runner *r, const struct bw_regression *open, size_t n,
                    uint64_t since) {
  for (size_t i = 0; i < n; i++) {
    struct target *t = find(r, open[i].test, open[i].backend);
    if (!t || t->judged_at > since)
      continue;
    if (strcmp(open[i].metric, BW_METRIC_AVAILABILITY) == 0)
      t->availability_open = true;
    for (size_t f = 0; f < t->n_figures; f++)
      if (strcmp(t->figures[f].name, open[i].metric) == 0)
        t->figures[f].open = t->regression_open = true;
  }
}

void bw_runner_once(struct bw_runner *r, void (*done)(void *arg), void *arg) {
  r->once = true;
  r->once_done = done;
  r->once_arg = arg;
  for (size_t i = 0; i < r->n_targets; i++) {
    bw_timer_stop(r->targets[i]->timer);
    /* a sweep's later steps follow its first */
    if (r->targets[i]->state == IDLE && !r->targets[i]->removed && !r->targets[i]->follows)
      enqueue(r->targets[i]);
  }
  bw_timer_arm(r->kick, 0);
}

void bw_runner_stop(struct bw_runner *r) {
  r->stopping = true;
  bw_timer_stop(r->kick);
  for (size_t i = 0; i < r->n_targets; i++) {
    struct target *t = r->targets[i];
    bw_timer_stop(t->timer);
    if (t->state == QUEUED)
      dequeue(t);
  }
  r->queue_head = r->queue_tail = NULL;
  /* Each abort calls on_run_done at once, which hands the run, aborted, to storage. */
  for (size_t i = 0; i < r->n_targets; i++)
    if (r->targets[i]->state == RUNNING)
      bw_probe_abort(r->targets[i]->probe);
}

void bw_runner_stats(const struct bw_runner *r, struct bw_runner_stats *ret) {
  *ret = r->stats;
  ret->running = r->running;
  ret->queued = 0;
  for (const struct target *q = r->queue_head; q; q = q->next_queued)
    ret->queued++;
}

void bw_runner_free(struct bw_runner *r) {
  if (!r)
    return;
  if (!r->stopping)
    bw_runner_stop(r);
  for (size_t i = 0; i < r->n_targets; i++)
    target_free(r->targets[i]);
  free(r->targets);
  bw_timer_free(r->kick);
  free(r);
}

char *bw_runner_metrics(const struct bw_runner *r) {
  struct bw_metrics_target *mt = bw_xcalloc(r->n_targets + 1, sizeof(*mt));
  struct bw_metrics_daemon d;
  struct bw_runner_stats st;
  size_t n = 0;
  for (size_t i = 0; i < r->n_targets; i++) {
    const struct target *t = r->targets[i];
    if (t->removed)
      continue;
    mt[n].test = t->test.name;
    mt[n].backend = t->backend;
    mt[n].kind = t->test.kind;
    memcpy(mt[n].runs, t->runs, sizeof(t->runs));
    mt[n].last = t->last.started_us != BW_NONE ? &t->last : NULL;
    mt[n].baseline = t->baseline;
    mt[n].regression_open = t->regression_open;
    mt[n].availability_open = t->availability_open;
    mt[n].figures = t->figures;
    mt[n].n_figures = t->n_figures;
    mt[n].url = t->test.url;
    n++;
  }
  bw_runner_stats(r, &st);
  memset(&d, 0, sizeof(d));
  d.started_us = r->started_us;
  d.last_run_us = st.last_run_us;
  d.scheduler_lag_s = r->lag_s;
  d.skips = st.skips;
  d.store_errors = st.store_errors;
  d.spool_runs = st.spooled;
  d.spool_lost = st.lost;
  d.queued = st.queued;
  d.running = st.running;
  char *text = bw_metrics_render(mt, n, &d);
  free(mt);
  return text;
}
