/*
 * benchwatchd: the daemon's process concerns, and nothing else: arguments, the config file,
 * signals (SIGHUP reload, SIGTERM/SIGINT stop), systemd notification and watchdog, and the log.
 * The work is in lib/: bw_runner schedules runs on the transfer loop and hands each finished one
 * here; bw_writer stores and judges it on its own thread (or spools it) and reports back here.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#ifdef BW_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "bw_chart.h"
#include "bw_config.h"
#include "bw_file.h"
#include "bw_log.h"
#include "bw_reporter.h"
#include "bw_retention.h"
#include "bw_render.h"
#include "bw_runner.h"
#include "bw_spool.h"
#include "bw_store.h"
#include "bw_http_server.h"
#include "bw_loop.h"
#include "bw_units.h"
#include "bw_util.h"
#include "bw_worker.h"
#include "bw_writer.h"

#define DEFAULT_CONFIG "/etc/benchwatch/benchwatch.yaml"
#define STATUS_EVERY_US (10 * INT64_C(1000000))
/* How long the writer may still store runs at shutdown before it spools the rest. */
#define STOP_GRACE_US (2 * INT64_C(1000000))
/* With --once the runs are the point: the writer waits out a lock as long as usual. */
#define ONCE_GRACE_US (6 * INT64_C(1000000))

/* Exit statuses beyond 0, 1 and the config's (sysexits.h). */
#define EXIT_USAGE 64
#define EXIT_CANTCREAT 73 /* the database or its spool cannot be written */
#define EXIT_IOERR 74     /* the database is damaged, or not a database */
#define EXIT_TEMPFAIL 75  /* --check: another process held the database's lock past the wait */

struct daemon {
  const char *config_path;
  struct bw_config *cfg;
  struct bw_loop *loop;
  struct bw_store *store; /* the loop's connection, for the nightly report */
  struct bw_writer *writer;
  struct bw_runner *runner;
  struct bw_timer *status_timer;
  struct bw_timer *watchdog_timer;
  struct bw_timer *prune_timer; /* looks hourly whether the daily pass of retention is due */
  bool pruning;
  struct bw_http_server *metrics;
  struct bw_reporter *reporter;
  struct bw_worker *worker; /* reads and the report's writes, off the loop */
  int64_t watchdog_us;
  bool stopping;
  bool blocked;        /* the database does not take writes: runs go to the spool */
  uint64_t not_stored; /* runs of this process that were spooled or lost */
  int exit_status;
};

static void notify(const char *state) {
#ifdef BW_HAVE_SYSTEMD
  (void)sd_notify(0, state);
#else
  (void)state;
#endif
}

/* Storage's figures for /metrics and the status line, from the writer. */
static void refresh_storage(struct daemon *d, struct bw_writer_stats *ret) {
  struct bw_writer_stats ws = {0};
  if (d->writer)
    bw_writer_stats(d->writer, &ws);
  if (d->runner)
    bw_runner_set_storage(d->runner, ws.failures, ws.spooled, ws.lost);
  if (ret)
    *ret = ws;
}

static void send_status(struct daemon *d) {
  struct bw_runner_stats st;
  struct bw_writer_stats ws;
  refresh_storage(d, &ws);
  bw_runner_stats(d->runner, &st);
  char *spool = ws.spooled || d->blocked ? bw_xasprintf("; %s: %zu runs spooled%s",
                                                        d->blocked ? "DATABASE NOT TAKING WRITES"
                                                                   : "writing the spool out",
                                                        ws.spooled, ws.lost ? ", some lost" : "")
                                         : bw_xstrdup("");
  char *msg = bw_xasprintf("STATUS=%zu targets, %" PRIu64 " runs (%" PRIu64 " failed, %" PRIu64
                           " skipped)%s%s%s",
                           st.targets, st.runs, st.failures, st.skips, spool,
                           st.runs ? "; last: " : "", st.runs ? st.last : "");
  notify(msg);
  free(msg);
  free(spool);
}

/* The regressions open in the database, so that /metrics never reads "normal" for them. They
 * are read on the worker; the runner takes them when they come. */
struct seed_job {
  struct daemon *d;
  uint64_t since;
  struct bw_regression *open;
  size_t n;
  struct bw_errs errs;
};

static void seed_work(struct bw_store *store, void *arg) {
  struct seed_job *j = arg;
  (void)bw_store_regressions(store, 0, true, &j->open, &j->n, &j->errs);
}

static void seed_done(void *arg, bool ran) {
  struct seed_job *j = arg;
  if (ran && j->errs.n)
    bw_log(BW_LOG_WARNING, "cannot read the open regressions: %s", j->errs.msg[0]);
  else if (ran)
    bw_runner_seed(j->d->runner, j->open, j->n, j->since);
  bw_regressions_free(j->open, j->n);
  bw_errs_clear(&j->errs);
  free(j);
}

static void seed_open(struct daemon *d) {
  struct seed_job *j = bw_xcalloc(1, sizeof(*j));
  j->d = d;
  j->since = bw_runner_judged(d->runner);
  bw_worker_call(d->worker, seed_work, seed_done, j);
}

static int serve_metrics(void *arg, const char *path, struct bw_buf *body) {
  struct daemon *d = arg;
  if (strcmp(path, "/metrics") != 0) {
    bw_buf_printf(body, "benchwatch serves /metrics\n");
    return 404;
  }
  refresh_storage(d, NULL);
  char *text = bw_runner_metrics(d->runner);
  bw_buf_add(body, text, strlen(text));
  free(text);
  if (d->reporter) {
    struct bw_metrics_reports reports;
    bw_reporter_status(d->reporter, &reports);
    text = bw_metrics_render_reports(&reports);
    bw_buf_add(body, text, strlen(text));
    free(text);
  }
  return 200;
}

static void on_metrics_accept(void *arg, int err) {
  (void)arg;
  if (err < 0)
    bw_log(BW_LOG_WARNING, "metrics: cannot accept connections: %s; pausing", strerror(-err));
  else
    bw_log(BW_LOG_INFO, "metrics: accepting again");
}

/*
 * Probes, the database and scrapers share one descriptor table. The soft limit's usual 1024
 * exists for select(), which nothing here uses (libevent uses epoll, libcurl is driven by it): take
 * what the hard limit allows (systemd's default is 524288), as systemd advises such programs to.
 * Returns the soft limit in force.
 */
static rlim_t raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
    return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    struct rlimit want = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0)
      rl = want;
  }
  return rl.rlim_cur;
}

/*
 * Scrapers get at most a quarter of the descriptors: the rest stays for the tests' sockets and
 * the database, however many connections a client opens.
 */
static int start_metrics(struct daemon *d, rlim_t fd_limit, struct bw_errs *errs) {
  const struct bw_metrics *m = &d->cfg->metrics;
  struct bw_http_opts o = {
      .listen = m->listen,
      .fn = serve_metrics,
      .on_accept = on_metrics_accept,
      .arg = d,
      .max_connections = (size_t)m->max_connections,
      .timeout_us = m->timeout_us,
  };
  if (fd_limit > 0 && fd_limit != RLIM_INFINITY && (rlim_t)o.max_connections > fd_limit / 4) {
    o.max_connections = fd_limit / 4 > 0 ? (size_t)(fd_limit / 4) : 1;
    bw_log(BW_LOG_WARNING,
           "metrics: max_connections %" PRId64 " lowered to %zu, a quarter of the open-files "
           "limit (%llu), to leave the rest to the tests",
           m->max_connections, o.max_connections, (unsigned long long)fd_limit);
  }
  d->metrics = bw_http_listen(d->loop, &o, errs);
  if (!d->metrics)
    return -1;
  bw_log(BW_LOG_INFO, "serving http://%s/metrics", m->listen);
  if (!bw_http_loopback(d->metrics))
    bw_log(BW_LOG_WARNING,
           "metrics: %s is not a loopback address: anyone who can reach it reads the metrics "
           "(no authentication)",
           m->listen);
  return 0;
}

/* What the nightly report has to say: composed, mailed, not delivered. */
static void on_reporter_note(void *arg, bool error, const char *text) {
  (void)arg;
  bw_log(error ? BW_LOG_ERR : BW_LOG_INFO, "%s", text);
}

/* What the scheduler has to say: skipped turns, runs that could not start, the targets. */
static void on_runner_note(void *arg, enum bw_runner_note_level level, const char *text) {
  (void)arg;
  bw_log(level == BW_RUNNER_ERROR     ? BW_LOG_ERR
         : level == BW_RUNNER_WARNING ? BW_LOG_WARNING
                                      : BW_LOG_INFO,
         "%s", text);
}

/* A finished run, from the runner: to the writer, which never keeps the loop waiting. */
static void on_run(void *arg, struct bw_run *run) {
  struct daemon *d = arg;
  bw_writer_submit(d->writer, run);
}

static char *target_name(const struct bw_run *run) {
  const char *b = run->backend ? run->backend : "";
  return bw_xasprintf("%s%s%s%s", run->test ? run->test : "?", b[0] ? " [" : "", b,
                      b[0] ? "]" : "");
}

/* One line for each regression that opened or closed, the words a person greps for. */
static void log_events(const struct bw_run *run, const struct bw_judgement *j) {
  char *tb = target_name(run);
  if (j->avail_event == BW_EVENT_OPENED)
    bw_log(BW_LOG_WARNING,
           "REGRESSION OPENED %s: availability: runs keep failing, the last with %s: %s"
           " (regression %" PRId64 ")",
           tb, run->error_class ? run->error_class : "?",
           run->error_message ? run->error_message : "", j->avail_regression_id);
  else if (j->avail_event == BW_EVENT_CLOSED)
    bw_log(BW_LOG_NOTICE, "REGRESSION CLOSED %s: availability: runs succeed again", tb);
  for (size_t i = 0; i < j->n_fig; i++) {
    const struct bw_judge_figure *f = &j->fig[i];
    if (f->verdict.event == BW_EVENT_NONE)
      continue;
    char *what = bw_judge_describe_figure(f);
    if (f->verdict.event == BW_EVENT_OPENED)
      bw_log(BW_LOG_WARNING, "REGRESSION OPENED %s: %s (regression %" PRId64 ")", tb, what,
             f->regression_id);
    else
      bw_log(BW_LOG_NOTICE, "REGRESSION CLOSED %s: recovered, %s", tb, what);
    free(what);
  }
  free(tb);
}

/* When a run started, UTC, for the lines about runs that are not logged as they finish. */
static char *started_text(const struct bw_run *run) {
  time_t t = (time_t)(run->started_us / 1000000);
  struct tm tm;
  char buf[32];
  if (run->started_us == BW_NONE || !gmtime_r(&t, &tm) ||
      strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return bw_xstrdup("?");
  return bw_xstrdup(buf);
}

/* What the writer made of a run, or of the database: the log, the status line, /metrics. */
static void on_writer_event(void *arg, struct bw_writer_event *ev) {
  struct daemon *d = arg;
  struct bw_run *run = &ev->run;
  const char *db = d->cfg->database;
  double secs = (double)(run->duration_us != BW_NONE ? run->duration_us : 0) / 1e6;
  enum bw_log_level level = run->outcome == BW_OUTCOME_FAILED ? BW_LOG_WARNING : BW_LOG_INFO;
  const struct bw_run **peers = NULL;
  size_t n_peers = run->test && d->runner ? bw_runner_peers(d->runner, run, &peers) : 0;
  char *line = run->test ? bw_render_line_among(run, peers, n_peers) : NULL;
  free(peers);
  char *started = started_text(run);

  switch (ev->what) {
  case BW_WRITER_STORED: {
    char *verdict = bw_judge_describe(&ev->judgement);
    if (ev->from_spool)
      bw_log(BW_LOG_INFO, "from the spool: %s, started %s: stored as run %" PRId64 "%s%s", line,
             started, ev->judgement.run_id, *verdict ? "; " : "", verdict);
    else
      bw_log(level, "%s in %.1f s (run %" PRId64 ")%s%s", line, secs, ev->judgement.run_id,
             *verdict ? "; " : "", verdict);
    free(verdict);
    log_events(run, &ev->judgement);
    bw_runner_keep(d->runner, run, &ev->judgement);
    break;
  }
  case BW_WRITER_SPOOLED:
    d->not_stored++;
    bw_log(level, "%s in %.1f s; spooled, not stored yet (%zu runs in the spool)", line, secs,
           ev->spooled);
    bw_runner_keep(d->runner, run, NULL);
    break;
  case BW_WRITER_LOST:
    d->not_stored++;
    if (line)
      bw_log(BW_LOG_ERR, "LOST %s, started %s: NOT STORED: %s", line, started,
             ev->message ? ev->message : "?");
    else
      bw_log(BW_LOG_ERR, "LOST a run from the spool: %s", ev->message ? ev->message : "?");
    break;
  case BW_WRITER_BLOCKED:
    d->blocked = true;
    bw_log(BW_LOG_WARNING,
           "database %s does not take writes: %s; runs go to the spool %s.spool until it does", db,
           ev->message ? ev->message : "?", db);
    send_status(d);
    break;
  case BW_WRITER_RESUMED:
    d->blocked = false;
    bw_log(BW_LOG_WARNING, "database %s takes writes again; the spool is written out", db);
    send_status(d);
    break;
  }
  free(line);
  free(started);
  refresh_storage(d, NULL);
}

/* ---- retention: once a day, on the worker ---- */

#define PRUNE_LOOK_US (3600 * INT64_C(1000000))

struct prune_job {
  struct daemon *d;
  struct bw_prune_plan plan;
  struct bw_prune_result res;
  bool ran;
  struct bw_errs errs;
};

static void prune_work(struct bw_store *store, void *arg) {
  struct prune_job *j = arg;
  if (!bw_retention_due(bw_store_last_prune(store), j->plan.now_us))
    return;
  j->ran = true;
  (void)bw_store_prune(store, &j->plan, &j->res, &j->errs);
}

static void prune_done(void *arg, bool ran) {
  struct prune_job *j = arg;
  if (ran) {
    j->d->pruning = false;
    if (j->errs.n)
      bw_log(BW_LOG_WARNING, "retention: %s; trying again in an hour", j->errs.msg[0]);
    else if (j->ran)
      bw_log(BW_LOG_INFO,
             "retention: deleted %" PRId64 " samples and %" PRId64 " runs (%" PRId64
             " older runs kept for regressions)%s",
             j->res.samples, j->res.runs, j->res.runs_kept,
             j->res.bytes_freed > 0 ? "; the file shrank" : "");
    bw_timer_arm(j->d->prune_timer, PRUNE_LOOK_US);
  }
  bw_errs_clear(&j->errs);
  free(j);
}

static void on_prune_timer(void *arg) {
  struct daemon *d = arg;
  if (d->pruning)
    return; /* the pass in flight arms the timer when it ends */
  struct prune_job *j = bw_xcalloc(1, sizeof(*j));
  j->d = d;
  bw_retention_plan(d->cfg, bw_wall_us(), BW_NONE, BW_NONE, &j->plan);
  d->pruning = true;
  bw_worker_call(d->worker, prune_work, prune_done, j);
}

static void on_status_timer(void *arg) {
  struct daemon *d = arg;
  send_status(d);
  bw_timer_arm(d->status_timer, STATUS_EVERY_US);
}

/* From the event loop itself, so a hung loop stops the pings and systemd restarts the service. */
static void on_watchdog(void *arg) {
  struct daemon *d = arg;
  notify("WATCHDOG=1");
  bw_timer_arm(d->watchdog_timer, d->watchdog_us / 2);
}

/*
 * Reads and validates a config file; every problem is logged, on every reload: the operator who
 * sends a second SIGHUP with the file still broken must see why again, not a silence that looks
 * like success (bw_log() would hold back the same lines within a minute).
 */
static struct bw_config *load(const char *path) {
  struct bw_errs errs = {0};
  struct bw_config *cfg = bw_config_load(path, &errs);
  for (size_t i = 0; i < errs.n; i++)
    bw_log_each(BW_LOG_ERR, "%s", errs.msg[i]);
  bw_errs_clear(&errs);
  return cfg;
}

static void on_hup(void *arg) {
  struct daemon *d = arg;
  if (d->stopping)
    return;
  notify("RELOADING=1");
  bw_log_each(BW_LOG_INFO, "reloading %s", d->config_path);
  struct bw_config *cfg = load(d->config_path);
  if (!cfg) {
    bw_log_each(BW_LOG_ERR, "%s is not valid: keeping the running configuration", d->config_path);
  } else {
    if ((cfg->metrics.listen == NULL) != (d->cfg->metrics.listen == NULL) ||
        (cfg->metrics.listen && strcmp(cfg->metrics.listen, d->cfg->metrics.listen) != 0))
      bw_log(BW_LOG_WARNING, "metrics.listen changed: that takes a restart");
    else if (cfg->metrics.listen &&
             (cfg->metrics.max_connections != d->cfg->metrics.max_connections ||
              cfg->metrics.timeout_us != d->cfg->metrics.timeout_us))
      bw_log(BW_LOG_WARNING, "metrics settings changed: that takes a restart");
    if (strcmp(cfg->database, d->cfg->database) != 0)
      bw_log(BW_LOG_WARNING, "database changed to %s: that takes a restart; still writing %s",
             cfg->database, d->cfg->database);
    bw_runner_apply(d->runner, cfg);
    seed_open(d);
    bw_writer_apply(d->writer, cfg);
    if (d->reporter)
      bw_reporter_apply(d->reporter, cfg);
    bw_config_free(d->cfg);
    d->cfg = cfg;
  }
  notify("READY=1");
  send_status(d);
}

static void on_stop(void *arg) {
  struct daemon *d = arg;
  if (d->stopping)
    return;
  d->stopping = true;
  notify("STOPPING=1");
  bw_log(BW_LOG_INFO, "stopping");
  bw_runner_stop(d->runner); /* runs in flight go to the writer as aborted here */
  bw_loop_break(d->loop);    /* main() gives the writer a short grace, then it spools the rest */
}

/* Every run of --once has finished; main() waits for the writer to store them. */
static void on_once_done(void *arg) {
  struct daemon *d = arg;
  bw_loop_break(d->loop);
}

/* The exit status for a database or spool that cannot be used, by the store's errno. */
static int storage_exit_status(int r) {
  switch (r) {
  case -EROFS:
  case -EACCES:
  case -EPERM:
  case -ENOSPC:
  case -EFBIG:
    return EXIT_CANTCREAT;
  case -EIO:
  case -EINVAL:
  case -EBADMSG:
    return EXIT_IOERR;
  case -EBUSY:
    return EXIT_TEMPFAIL;
  default:
    return 1;
  }
}

static void log_errs(enum bw_log_level level, const struct bw_errs *errs) {
  for (size_t i = 0; i < errs->n; i++)
    bw_log_each(level, "%s", errs->msg[i]);
}

/*
 * Opens the database for the loop (migrating it) and proves that runs can be stored in it, then
 * opens the spool beside it. Returns 0, or the exit status after logging why. A database that is
 * only locked or full is started with (its runs are spooled until it takes writes), except for
 * --check, which must say whether everything works now.
 */
static int open_storage(struct daemon *d, bool check, int64_t spool_size,
                        struct bw_spool **ret_spool) {
  struct bw_errs errs = {0}, warns = {0};
  char *spool_path = bw_xasprintf("%s.spool", d->cfg->database);
  int r, status = 0;

  r = bw_store_open(d->cfg->database, &d->store, &errs);
  if (r < 0) {
    int why = bw_file_explain_db_error(d->cfg->database, &errs);
    log_errs(BW_LOG_ERR, &errs);
    status = storage_exit_status(why < 0 ? why : r);
    goto out;
  }
  r = bw_store_prove(d->store, &errs);
  if (r < 0) {
    if (r == -EROFS) {
      /* SQLite opened it read-only without a word: say why it may not be written. */
      struct bw_errs why = {0};
      bw_errs_add(&why, "read-only");
      int e = bw_file_explain_db_error(d->cfg->database, &why);
      if (e < 0) {
        bw_errs_clear(&errs);
        bw_errs_add(&errs, "%s: the database is read-only (%s)", d->cfg->database, strerror(-e));
      }
      bw_errs_clear(&why);
    }
    if (check || (r != -EBUSY && r != -ENOSPC)) {
      log_errs(BW_LOG_ERR, &errs);
      bw_log(BW_LOG_ERR, "%s: runs cannot be stored in this database", d->cfg->database);
      status = storage_exit_status(r);
      goto out;
    }
    log_errs(BW_LOG_WARNING, &errs);
    bw_log(BW_LOG_WARNING, "%s: starting anyway: runs wait in the spool until it takes writes",
           d->cfg->database);
    bw_errs_clear(&errs);
  }
  r = bw_spool_open(spool_path, spool_size, ret_spool, &warns, &errs);
  log_errs(BW_LOG_WARNING, &warns);
  if (r < 0) {
    log_errs(BW_LOG_ERR, &errs);
    status = storage_exit_status(r) == 1 ? 1 : EXIT_CANTCREAT;
    goto out;
  }
  if (bw_spool_count(*ret_spool))
    bw_log(BW_LOG_NOTICE, "%s: %zu runs from before wait in the spool%s", spool_path,
           bw_spool_count(*ret_spool), check ? "; they are stored at the next start" : "");
out:
  bw_errs_clear(&errs);
  bw_errs_clear(&warns);
  free(spool_path);
  return status;
}

static void usage(FILE *f) {
  (void)fprintf(f,
                "usage: benchwatchd [-c FILE] [--spool-size SIZE] [--once | --check]\n"
                "  -c, --config FILE     configuration (default " DEFAULT_CONFIG ")\n"
                "      --once            run every target once now, store the runs, exit\n"
                "      --check           load the config, open or migrate the database, prove\n"
                "                        that it is sound and takes writes, open the spool, exit\n"
                "      --spool-size SIZE the spool beside the database (DATABASE.spool), for\n"
                "                        runs the database cannot take yet (default 16MiB)\n"
                "  -V, --version         print the version\n"
                "Signals: HUP reloads the config, TERM and INT stop (runs in flight are stored\n"
                "as aborted, or spooled). Exit status: 0; 1 start-up failure; 64 usage; 73 the\n"
                "database or its spool cannot be written (read-only, permissions; with --check\n"
                "also a full disk); 74 the database is damaged or not a database; 75 (--check)\n"
                "another process held its lock too long; 78 config error.\n");
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"config", required_argument, NULL, 'c'},
      {"check", no_argument, NULL, 'C'},
      {"once", no_argument, NULL, 'o'},
      {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {"spool-size", required_argument, NULL, 'S'},
      {NULL, 0, NULL, 0},
  };
  struct daemon d = {.config_path = DEFAULT_CONFIG, .exit_status = 0};
  struct bw_signal *sigs[3] = {NULL, NULL, NULL};
  struct bw_errs errs = {0};
  struct bw_spool *spool = NULL;
  struct bw_store *writer_store = NULL;
  int64_t spool_size = BW_SPOOL_DEFAULT_SIZE;
  bool check = false, once = false;
  int ch, r, status = 1;

  while ((ch = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'c':
      d.config_path = optarg;
      break;
    case 'C':
      check = true;
      break;
    case 'o':
      once = true;
      break;
    case 'S':
      if (bw_parse_size(optarg, &spool_size) < 0 || spool_size < BW_SPOOL_MIN_SIZE) {
        (void)fprintf(stderr, "benchwatchd: --spool-size %s: expected a size of at least 64KiB\n",
                      optarg);
        return EXIT_USAGE;
      }
      break;
    case 'V':
      (void)printf("benchwatchd %s\n", BW_VERSION);
      return 0;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return EXIT_USAGE;
    }
  }
  if (optind != argc || (check && once)) {
    usage(stderr);
    return EXIT_USAGE;
  }
  (void)signal(SIGPIPE, SIG_IGN);
  rlim_t fd_limit = raise_fd_limit();

  d.cfg = load(d.config_path);
  if (!d.cfg) {
    bw_log(BW_LOG_ERR, "%s: cannot start with this configuration", d.config_path);
    status = BW_EXIT_CONFIG;
    goto out;
  }
  /*
   * Opening applies any schema update in one transaction, which on a large database takes
   * minutes (migration 0007 fills run_day: about 2 minutes of CPU at 26 million runs); systemd's
   * start timeout (90 s by default) would kill it, and the rollback would make the next start do
   * it all again.
   */
  notify("EXTEND_TIMEOUT_USEC=900000000");
  r = open_storage(&d, check, spool_size, &spool);
  if (r != 0) {
    status = r;
    goto out;
  }
  bw_log(BW_LOG_INFO, "benchwatchd %s: %s: %zu tests; database %s (schema version %d)", BW_VERSION,
         d.config_path, d.cfg->n_tests, d.cfg->database, bw_store_version(d.store));
  if (check) {
    status = 0;
    goto out;
  }
  /* The writer's own connection; the first one goes to the worker. */
  r = bw_store_open(d.cfg->database, &writer_store, &errs);
  if (r < 0) {
    log_errs(BW_LOG_ERR, &errs);
    status = storage_exit_status(r);
    goto out;
  }

  d.loop = bw_loop_new(&errs);
  if (!d.loop) {
    for (size_t i = 0; i < errs.n; i++)
      bw_log(BW_LOG_ERR, "%s", errs.msg[i]);
    goto out;
  }
  d.writer = bw_writer_new(d.loop, writer_store, spool, d.cfg, on_writer_event, &d, &errs);
  writer_store = NULL; /* the writer's now, or closed */
  spool = NULL;
  if (!d.writer) {
    log_errs(BW_LOG_ERR, &errs);
    goto out;
  }
  d.worker = bw_worker_new(d.loop, d.store, &errs);
  d.store = NULL; /* the worker's now, or closed */
  if (!d.worker) {
    log_errs(BW_LOG_ERR, &errs);
    goto out;
  }
  d.runner = bw_runner_new(d.loop, on_run, on_runner_note, &d);
  d.status_timer = bw_timer_new(d.loop, on_status_timer, &d);
  sigs[0] = bw_signal_new(d.loop, SIGHUP, on_hup, &d);
  sigs[1] = bw_signal_new(d.loop, SIGTERM, on_stop, &d);
  sigs[2] = bw_signal_new(d.loop, SIGINT, on_stop, &d);
  if (!d.runner || !d.status_timer || !sigs[0] || !sigs[1] || !sigs[2]) {
    bw_log(BW_LOG_ERR, "cannot set up the event loop");
    goto out;
  }
  bw_runner_apply(d.runner, d.cfg);
  seed_open(&d);
  if (d.cfg->metrics.listen && !once && start_metrics(&d, fd_limit, &errs) < 0) {
    for (size_t i = 0; i < errs.n; i++)
      bw_log(BW_LOG_ERR, "metrics: %s", errs.msg[i]);
    goto out;
  }
  if (once) {
    bw_runner_once(d.runner, on_once_done, &d);
  } else {
    char host[256] = "localhost";
    (void)gethostname(host, sizeof(host) - 1);
    d.reporter = bw_reporter_new(d.loop, d.worker, host, on_reporter_note, &d);
    if (d.reporter)
      bw_reporter_apply(d.reporter, d.cfg);
  }

#ifdef BW_HAVE_SYSTEMD
  uint64_t wd = 0;
  if (sd_watchdog_enabled(0, &wd) > 0 && wd > 0) {
    d.watchdog_us = (int64_t)wd;
    d.watchdog_timer = bw_timer_new(d.loop, on_watchdog, &d);
    if (d.watchdog_timer)
      bw_timer_arm(d.watchdog_timer, d.watchdog_us / 2);
  }
#endif
  notify("READY=1");
  send_status(&d);
  bw_timer_arm(d.status_timer, STATUS_EVERY_US);
  if (!once) {
    d.prune_timer = bw_timer_new(d.loop, on_prune_timer, &d);
    if (d.prune_timer)
      bw_timer_arm(d.prune_timer, 0); /* the first look right away: due after a long stop */
  }

  if (bw_loop_run(d.loop) < 0) {
    bw_log(BW_LOG_ERR, "the event loop failed");
    goto out;
  }
  status = d.exit_status;
out:
  bw_http_free(d.metrics);
  bw_reporter_free(d.reporter);
  bw_worker_free(d.worker); /* a job waiting for a lock gives up */
  if (d.runner)
    bw_runner_stop(d.runner); /* what still runs goes to the writer, aborted */
  /* The writer stores what it was given while the grace lasts and spools the rest; its last
   * events are logged from here. */
  bw_writer_stop(d.writer, once ? ONCE_GRACE_US : STOP_GRACE_US);
  if (once && d.not_stored && status == 0)
    status = 1;
  bw_writer_free(d.writer);
  bw_runner_free(d.runner);
  for (size_t i = 0; i < 3; i++)
    bw_signal_free(sigs[i]);
  bw_timer_free(d.status_timer);
  bw_timer_free(d.watchdog_timer);
  bw_timer_free(d.prune_timer);
  bw_loop_free(d.loop);
  bw_store_close(d.store);
  bw_store_close(writer_store);
  bw_spool_close(spool);
  bw_config_free(d.cfg);
  bw_errs_clear(&errs);
  bw_chart_finish();
  if (status == 0 && !check)
    bw_log(BW_LOG_INFO, "stopped");
  bw_log_finish();
  return status;
}
