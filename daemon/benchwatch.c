/*
 * benchwatch: the command line. Reads the same config and database as the daemon.
 * Each command is one function and one row in the table at the end.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bw_config.h"
#include "bw_file.h"
#include "bw_judge.h"
#include "bw_probe.h"
#include "bw_render.h"
#include "bw_store.h"
#include "bw_loop.h"
#include "bw_util.h"
#include "cli.h"


static int cmd_check_config(int argc, char **argv) {
  static const struct option longopts[] = {
      {"print", no_argument, NULL, 'p'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool print = false;
  int ch;
  while ((ch = getopt_long(argc, argv, "ph", longopts, NULL)) != -1) {
    switch (ch) {
    case 'p':
      print = true;
      break;
    case 'h':
      (void)printf("usage: benchwatch check-config [--print] FILE\n"
                   "Validates FILE and reports every problem as FILE:LINE:COLUMN: key: message.\n"
                   "  -p, --print  show the fully resolved configuration (every default applied)\n"
                   "Exit status: 0 valid, 78 invalid, 64 usage.\n");
      return 0;
    default:
      return 64;
    }
  }
  if (optind != argc - 1) {
    (void)fprintf(stderr, "usage: benchwatch check-config [--print] FILE\n");
    return 64;
  }
  struct bw_config *cfg = load_config(argv[optind]);
  if (!cfg)
    return BW_EXIT_CONFIG;
  if (print) {
    char *dump = bw_config_dump(cfg);
    (void)fputs(dump, stdout);
    free(dump);
  } else {
    size_t targets = 0, pages = 0;
    for (size_t i = 0; i < cfg->n_tests; i++) {
      targets += cfg->tests[i].n_backends ? cfg->tests[i].n_backends : 1;
      pages += cfg->tests[i].kind == BW_KIND_PAGE;
    }
    (void)printf("%s: OK: %zu tests (%zu page, %zu download), %zu targets, database %s\n",
                 cfg->path, cfg->n_tests, pages, cfg->n_tests - pages, targets, cfg->database);
  }
  bw_config_free(cfg);
  return 0;
}

/* ---- run ---- */

/* Appends `key: "value"` to a YAML flow mapping, escaped so any text stays one scalar. */
static void yaml_kv(struct bw_buf *b, const char *key, const char *value) {
  bw_buf_printf(b, ", %s: \"", key);
  for (const char *p = value; *p; p++) {
    if (*p == '"' || *p == '\\')
      bw_buf_printf(b, "\\%c", *p);
    else if ((unsigned char)*p < 0x20)
      bw_buf_printf(b, "\\x%02x", (unsigned char)*p);
    else
      bw_buf_add(b, p, 1);
  }
  bw_buf_add(b, "\"", 1);
}

/* Appends `key: ["a", "b"]` (nothing for an empty list). */
static void yaml_list(struct bw_buf *b, const char *key, char *const *items, size_t n) {
  if (n == 0)
    return;
  bw_buf_printf(b, ", %s: [", key);
  for (size_t i = 0; i < n; i++) {
    struct bw_buf one = {0};
    yaml_kv(&one, "x", items[i]); /* ", x: \"...\"": keep the quoted value */
    bw_buf_printf(b, "%s%s", i ? ", " : "", one.s + strlen(", x: "));
    free(one.s);
  }
  bw_buf_printf(b, "]");
}

/*
 * The test a `run` command line describes, built as a one-test config so that the command line
 * gets the same defaults and the same checks as a config file.
 */
static struct bw_config *config_from_args(const char *name, const char *url, bool download,
                                          struct bw_buf *opts,
                                          char **headers, size_t n_headers, char **backends,
                                          size_t n_backends) {
  struct bw_buf b = {0};
  struct bw_errs errs = {0};
  bw_buf_printf(&b, "tests: [{kind: %s", download ? "download" : "page");
  yaml_kv(&b, "name", name);
  yaml_kv(&b, "url", url);
  if (opts->s)
    bw_buf_add(&b, opts->s, opts->len);
  yaml_list(&b, "headers", headers, n_headers);
  yaml_list(&b, "backends", backends, n_backends);
  bw_buf_printf(&b, "}]\n");
  struct bw_config *cfg = bw_config_parse("command line", b.s, b.len, &errs);
  /* "command line:1:40: tests[0].requests: ..." says more than a person typed: keep the key. */
  for (size_t i = 0; i < errs.n; i++) {
    const char *m = strstr(errs.msg[i], "tests[0]");
    m = m ? m + strlen("tests[0]") : errs.msg[i];
    m += strspn(m, ".: ");
    (void)fprintf(stderr, "benchwatch run: %s\n", m);
  }
  bw_errs_clear(&errs);
  free(b.s);
  return cfg;
}

struct run_wait {
  struct bw_run run;
  bool done;
};

static void run_done(void *arg, struct bw_run *run) {
  struct run_wait *w = arg;
  bw_run_move(&w->run, run);
  w->done = true;
}

/* Runs one target to its end on loop; *ret gets the run. Returns 0, or -1 if nothing started. */
static int run_target(struct bw_loop *loop, const struct bw_test *t, const char *backend,
                      struct bw_run *ret) {
  struct run_wait w = {.done = false};
  struct bw_errs errs = {0};
  bw_run_init(&w.run);
  struct bw_probe *p = bw_probe_start(loop, t, backend, run_done, &w, &errs);
  if (!p) {
    for (size_t i = 0; i < errs.n; i++)
      (void)fprintf(stderr, "benchwatch: %s\n", errs.msg[i]);
    bw_errs_clear(&errs);
    return -1;
  }
  while (!w.done)
    if (bw_loop_run(loop) < 0)
      break;
  if (!w.done)
    bw_probe_abort(p);
  bw_probe_free(p);
  bw_run_move(ret, &w.run);
  return 0;
}

static void run_usage(FILE *f) {
  (void)fprintf(
      f,
      "usage: benchwatch run [options] URL              a page test, like ab\n"
      "       benchwatch run --download [options] URL   a download test, like wget\n"
      "       benchwatch run --config FILE --test NAME  a configured test\n"
      "\n"
      "  -n, --requests N        page: requests in total (default 20)\n"
      "  -c, --concurrency N     page: requests in flight (default 1)\n"
      "  -k, --keepalive         page: reuse connections\n"
      "  -i, --head              page: HEAD instead of GET\n"
      "  -H, --header 'N: v'     an extra request header (repeatable)\n"
      "  -b, --backend HOST:PORT run against this backend: same URL, Host and TLS name\n"
      "                          (repeatable: one run per backend)\n"
      "  -s, --timeout DURATION  page: per request; download: connect and silence (default 60s)\n"
      "      --insecure          do not check the TLS certificate\n"
      "      --http2             HTTP/2 where TLS negotiates it\n"
      "  -d, --download          a download test\n"
      "      --max-time DURATION download: stop there and report a partial run (default 10m)\n"
      "      --max-bytes SIZE    download: stop after this many bytes (default: no cap)\n"
      "      --interval DURATION download: timeline step (default 1s)\n"
      "      --stall-rate SIZE   download: steps below this many bytes/s are stalls (100KB)\n"
      "      --streams N         download: N transfers at once, rated as their aggregate\n"
      "      --split MODE        download with streams: whole (default) or ranges\n"
      "  -C, --config FILE       read the test (and database) from a config\n"
      "  -t, --test NAME         the configured test to run\n"
      "      --json              print the full result as JSON\n"
      "      --store             store the run in the database\n"
      "      --db FILE           the database for --store (default: the config's)\n"
      "      --name NAME         the test's name in the database (default adhoc)\n"
      "Exit status: 0 every run ok or partial, 1 a run failed, 64 usage, 78 config.\n");
}

static int cmd_run(int argc, char **argv) {
  enum { O_INSECURE = 256, O_HTTP2, O_MAXTIME, O_MAXBYTES, O_INTERVAL, O_STALL, O_JSON, O_STORE,
         O_DB, O_NAME, O_STREAMS, O_SPLIT };
  static const struct option longopts[] = {
      {"requests", required_argument, NULL, 'n'},
      {"concurrency", required_argument, NULL, 'c'},
      {"keepalive", no_argument, NULL, 'k'},
      {"head", no_argument, NULL, 'i'},
      {"header", required_argument, NULL, 'H'},
      {"backend", required_argument, NULL, 'b'},
      {"timeout", required_argument, NULL, 's'},
      {"insecure", no_argument, NULL, O_INSECURE},
      {"http2", no_argument, NULL, O_HTTP2},
      {"download", no_argument, NULL, 'd'},
      {"max-time", required_argument, NULL, O_MAXTIME},
      {"max-bytes", required_argument, NULL, O_MAXBYTES},
      {"interval", required_argument, NULL, O_INTERVAL},
      {"stall-rate", required_argument, NULL, O_STALL},
      {"streams", required_argument, NULL, O_STREAMS},
      {"split", required_argument, NULL, O_SPLIT},
      {"config", required_argument, NULL, 'C'},
      {"test", required_argument, NULL, 't'},
      {"json", no_argument, NULL, O_JSON},
      {"store", no_argument, NULL, O_STORE},
      {"db", required_argument, NULL, O_DB},
      {"name", required_argument, NULL, O_NAME},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct bw_buf opts = {0};
  char **headers = NULL, **backends = NULL;
  size_t n_headers = 0, cap_headers = 0, n_backends = 0, cap_backends = 0;
  const char *config_path = NULL, *test_name = NULL, *db = NULL, *name = "adhoc";
  bool download = false, json = false, store_it = false;
  struct bw_config *cfg = NULL;
  struct bw_loop *loop = NULL;
  struct bw_store *store = NULL;
  struct bw_errs errs = {0};
  int status = 64, ch;

  while ((ch = getopt_long(argc, argv, "n:c:kiH:b:s:dC:t:h", longopts, NULL)) != -1) {
    switch (ch) {
    case 'n':
      yaml_kv(&opts, "requests", optarg);
      break;
    case 'c':
      yaml_kv(&opts, "concurrency", optarg);
      break;
    case 'k':
      bw_buf_printf(&opts, ", keepalive: true");
      break;
    case 'i':
      bw_buf_printf(&opts, ", method: HEAD");
      break;
    case 'H':
      bw_xgrow(&headers, &cap_headers, n_headers + 1, sizeof(*headers));
      headers[n_headers++] = optarg;
      break;
    case 'b':
      bw_xgrow(&backends, &cap_backends, n_backends + 1, sizeof(*backends));
      backends[n_backends++] = optarg;
      break;
    case 's':
      yaml_kv(&opts, "timeout", optarg);
      break;
    case O_INSECURE:
      bw_buf_printf(&opts, ", tls_verify: false");
      break;
    case O_HTTP2:
      bw_buf_printf(&opts, ", http: \"2\"");
      break;
    case 'd':
      download = true;
      break;
    case O_MAXTIME:
      yaml_kv(&opts, "max_time", optarg);
      break;
    case O_MAXBYTES:
      yaml_kv(&opts, "max_bytes", optarg);
      break;
    case O_INTERVAL:
      yaml_kv(&opts, "interval", optarg);
      break;
    case O_STALL:
      yaml_kv(&opts, "stall_rate", optarg);
      break;
    case O_STREAMS:
      yaml_kv(&opts, "streams", optarg);
      break;
    case O_SPLIT:
      yaml_kv(&opts, "split", optarg);
      break;
    case 'C':
      config_path = optarg;
      break;
    case 't':
      test_name = optarg;
      break;
    case O_JSON:
      json = true;
      break;
    case O_STORE:
      store_it = true;
      break;
    case O_DB:
      db = optarg;
      break;
    case O_NAME:
      name = optarg;
      break;
    case 'h':
      run_usage(stdout);
      status = 0;
      goto out;
    default:
      run_usage(stderr);
      goto out;
    }
  }

  const struct bw_test *test;
  if (config_path || test_name) {
    if (!config_path || !test_name || optind != argc || opts.len || n_headers || download) {
      (void)fprintf(stderr, "benchwatch run: --config and --test go together, with no URL and "
                            "no test options (only --backend, --json, --store, --db)\n");
      goto out;
    }
    cfg = load_config(config_path);
    if (!cfg) {
      status = BW_EXIT_CONFIG;
      goto out;
    }
    test = bw_config_find_test(cfg, test_name);
    if (!test) {
      (void)fprintf(stderr, "benchwatch run: %s has no test named \"%s\"\n", config_path,
                    test_name);
      status = BW_EXIT_CONFIG;
      goto out;
    }
  } else {
    if (optind != argc - 1) {
      run_usage(stderr);
      goto out;
    }
    cfg = config_from_args(name, argv[optind], download, &opts, headers, n_headers, backends,
                           n_backends);
    if (!cfg) {
      status = 64;
      goto out;
    }
    test = &cfg->tests[0];
    n_backends = 0; /* they are in the test now */
  }

  if (store_it && bw_store_open(db ? db : cfg->database, &store, &errs) < 0) {
    (void)bw_file_explain_db_error(db ? db : cfg->database, &errs);
    print_errs(&errs);
    status = 1;
    goto out;
  }
  loop = bw_loop_new(&errs);
  if (!loop) {
    print_errs(&errs);
    status = 1;
    goto out;
  }

  /* With --backend on a configured test, only those backends; else every one the test has. */
  char *const *targets = n_backends ? backends : test->backends;
  size_t n_targets = n_backends ? n_backends : test->n_backends;
  status = 0;
  for (size_t i = 0; i < (n_targets ? n_targets : 1); i++) {
    struct bw_run run;
    bw_run_init(&run);
    if (run_target(loop, test, n_targets ? targets[i] : NULL, &run) < 0) {
      status = 1;
      continue;
    }
    char *text = json ? bw_render_json(&run)
                 : run.kind == BW_KIND_PAGE
                     ? bw_render_ab(&run, test->concurrency, test->keepalive)
                     : bw_render_download(&run);
    if (!json && n_targets > 1)
      (void)printf("%s== backend %s\n", i ? "\n" : "", targets[i]);
    (void)fputs(text, stdout);
    (void)fflush(stdout);
    free(text);
    if (run.outcome == BW_OUTCOME_FAILED || run.outcome == BW_OUTCOME_ABORTED) {
      (void)fprintf(stderr, "benchwatch: %s%s%s: %s: %s\n", run.url, run.backend[0] ? " via " : "",
                    run.backend, run.error_class ? run.error_class : "failed",
                    run.error_message ? run.error_message : "");
      status = 1;
    }
    if (store) {
      struct bw_judgement j;
      /* A stored run is judged too, as the daemon would, so backtests replay the same. */
      if (bw_judge_record(store, &test->detect, test->every_us, &run, &j, &errs) < 0) {
        print_errs(&errs);
        bw_errs_clear(&errs);
        status = 1;
      } else if (!json) {
        char *verdict = bw_judge_describe(&j);
        (void)fprintf(stderr, "stored as run %" PRId64 "%s%s\n", j.run_id, *verdict ? "; " : "",
                      verdict);
        free(verdict);
      }
    }
    bw_run_reset(&run);
  }

out:
  bw_loop_free(loop);
  bw_store_close(store);
  bw_config_free(cfg);
  bw_errs_clear(&errs);
  free(opts.s);
  free(headers);
  free(backends);
  return status;
}

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
};

static const struct command commands[] = {
    {"check-config", cmd_check_config, "validate a config file (--print: show it resolved)"},
    {"run", cmd_run, "run one test now and print it as ab or wget would (--store: keep it)"},
    {"regressions", cmd_regressions, "list regressions (--open, --since 7d); ack ID accepts one"},
    {"baseline", cmd_baseline, "the current baseline (rolling mode) of a test, per backend"},
    {"import", cmd_import, "add ab -g/-e files or \"time value\" text to a test's history"},
    {"export", cmd_export, "a test's runs as CSV or JSON, oldest first (--since 30d)"},
    {"history", cmd_history, "a test's runs with baseline and verdict, and a chart"},
    {"backtest", cmd_backtest, "replay detection over stored history: what would have opened"},
    {"report", cmd_report, "the nightly report now, as text or HTML"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  (void)fprintf(f, "usage: benchwatch COMMAND [ARGS]\n\ncommands:\n");
  for (const struct command *c = commands; c->name; c++)
    (void)fprintf(f, "  %-14s %s\n", c->name, c->help);
  (void)fprintf(f, "\n'benchwatch COMMAND --help' describes one command.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 64;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    (void)printf("benchwatch %s\n", BW_VERSION);
    return 0;
  }
  for (const struct command *c = commands; c->name; c++)
    if (strcmp(argv[1], c->name) == 0)
      return c->run(argc - 1, argv + 1);
  (void)fprintf(stderr, "benchwatch: unknown command \"%s\"\n", argv[1]);
  usage(stderr);
  return 64;
}
