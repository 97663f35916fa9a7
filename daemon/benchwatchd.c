/*
 * benchwatchd: the daemon's process concerns, and nothing else: arguments, the config file,
 * signals (SIGHUP reload, SIGTERM/SIGINT stop), systemd notification and watchdog. The work is in
 * lib/: bw_runner schedules and stores runs on the transfer loop.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifdef BW_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "bw_config.h"
#include "bw_file.h"
#include "bw_log.h"
#include "bw_reporter.h"
#include "bw_runner.h"
#include "bw_store.h"
#include "bw_transfer.h"
#include "bw_util.h"

#define DEFAULT_CONFIG "/etc/benchwatch/benchwatch.yaml"
#define STATUS_EVERY_US (10 * INT64_C(1000000))

struct daemon {
  const char *config_path;
  struct bw_config *cfg;
  struct bw_loop *loop;
  struct bw_store *store;
  struct bw_runner *runner;
  struct bw_timer *status_timer;
  struct bw_timer *watchdog_timer;
  struct bw_http_server *metrics;
  struct bw_reporter *reporter;
  int64_t watchdog_us;
  bool stopping;
  int exit_status;
};

static void notify(const char *state) {
#ifdef BW_HAVE_SYSTEMD
  (void)sd_notify(0, state);
#else
  (void)state;
#endif
}

static void send_status(struct daemon *d) {
  struct bw_runner_stats st;
  char buf[320];
  bw_runner_stats(d->runner, &st);
  (void)snprintf(buf, sizeof(buf),
                 "STATUS=%zu targets, %" PRIu64 " runs (%" PRIu64 " failed, %" PRIu64
                 " skipped)%s%s",
                 st.targets, st.runs, st.failures, st.skips, st.runs ? "; last: " : "", st.last);
  notify(buf);
}

/* The regressions open in the database, so that /metrics never reads "normal" for them. */
static void seed_open(struct daemon *d) {
  struct bw_regression *open = NULL;
  struct bw_errs errs = {0};
  size_t n = 0;
  if (d->store && bw_store_regressions(d->store, 0, true, &open, &n, &errs) == 0)
    bw_runner_seed(d->runner, open, n);
  else if (errs.n)
    bw_log(BW_LOG_WARNING, "cannot read the open regressions: %s", errs.msg[0]);
  bw_regressions_free(open, n);
  bw_errs_clear(&errs);
}

static int serve_metrics(void *arg, const char *path, struct bw_buf *body) {
  struct daemon *d = arg;
  if (strcmp(path, "/metrics") != 0) {
    bw_buf_printf(body, "benchwatch serves /metrics\n");
    return 404;
  }
  char *text = bw_runner_metrics(d->runner);
  bw_buf_add(body, text, strlen(text));
  free(text);
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
  bw_runner_stop(d->runner); /* runs in flight are stored as aborted here */
  bw_loop_break(d->loop);
}

static void on_once_done(void *arg) {
  struct daemon *d = arg;
  struct bw_runner_stats st;
  bw_runner_stats(d->runner, &st);
  if (st.store_errors)
    d->exit_status = 1;
  bw_loop_break(d->loop);
}

static void usage(FILE *f) {
  (void)fprintf(f, "usage: benchwatchd [-c FILE] [--once | --check]\n"
                   "  -c, --config FILE  configuration (default " DEFAULT_CONFIG ")\n"
                   "      --once         run every target once now, store the runs, exit\n"
                   "      --check        load the config, open or migrate the database, exit\n"
                   "      --version      print the version\n"
                   "Signals: HUP reloads the config, TERM and INT stop (runs in flight are stored\n"
                   "as aborted). Exit status: 0, 1 start-up failure, 64 usage, 78 config error.\n");
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'C'},
      {"once", no_argument, NULL, 'o'},         {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
  };
  struct daemon d = {.config_path = DEFAULT_CONFIG, .exit_status = 0};
  struct bw_signal *sigs[3] = {NULL, NULL, NULL};
  struct bw_errs errs = {0};
  bool check = false, once = false;
  int ch, status = 1;

  while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
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
    case 'V':
      (void)printf("benchwatchd %s\n", BW_VERSION);
      return 0;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 64;
    }
  }
  if (optind != argc || (check && once)) {
    usage(stderr);
    return 64;
  }
  (void)signal(SIGPIPE, SIG_IGN);
  rlim_t fd_limit = raise_fd_limit();

  d.cfg = load(d.config_path);
  if (!d.cfg) {
    bw_log(BW_LOG_ERR, "%s: cannot start with this configuration", d.config_path);
    status = BW_EXIT_CONFIG;
    goto out;
  }
  if (bw_store_open(d.cfg->database, &d.store, &errs) < 0) {
    (void)bw_file_explain_db_error(d.cfg->database, &errs);
    for (size_t i = 0; i < errs.n; i++)
      bw_log(BW_LOG_ERR, "%s", errs.msg[i]);
    goto out;
  }
  bw_log(BW_LOG_INFO, "benchwatchd %s: %s: %zu tests; database %s (schema version %d)",
         BW_VERSION, d.config_path, d.cfg->n_tests, d.cfg->database, bw_store_version(d.store));
  if (check) {
    status = 0;
    goto out;
  }

  d.loop = bw_loop_new(&errs);
  if (!d.loop) {
    for (size_t i = 0; i < errs.n; i++)
      bw_log(BW_LOG_ERR, "%s", errs.msg[i]);
    goto out;
  }
  d.runner = bw_runner_new(d.loop, d.store);
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
    d.reporter = bw_reporter_new(d.loop, d.store, host);
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

  if (bw_loop_run(d.loop) < 0) {
    bw_log(BW_LOG_ERR, "the event loop failed");
    goto out;
  }
  status = d.exit_status;
out:
  bw_http_free(d.metrics);
  bw_reporter_free(d.reporter);
  bw_runner_free(d.runner); /* stops and stores what is still running */
  for (size_t i = 0; i < 3; i++)
    bw_signal_free(sigs[i]);
  bw_timer_free(d.status_timer);
  bw_timer_free(d.watchdog_timer);
  bw_loop_free(d.loop);
  bw_store_close(d.store);
  bw_config_free(d.cfg);
  bw_errs_clear(&errs);
  if (status == 0 && !check)
    bw_log(BW_LOG_INFO, "stopped");
  bw_log_finish();
  return status;
}
