/*
 * benchwatch: the command line. Reads the same config and database as the daemon.
 * Each command is one function and one row in the table at the end.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bw_config.h"
#include "bw_file.h"
#include "bw_judge.h"
#include "bw_kind.h"
#include "bw_probe.h"
#include "bw_render.h"
#include "bw_store.h"
#include "bw_sweep.h"
#include "bw_loop.h"
#include "bw_util.h"
#include "cli.h"

static void check_config_usage(FILE *f) {
  (void)fprintf(f, "usage: benchwatch check-config [--print | --json] [-c] FILE\n"
                   "Validates FILE and reports every problem as FILE:LINE:COLUMN: key: message.\n"
                   "  -p, --print  show the fully resolved configuration (every default applied)\n"
                   "      --json   the verdict as one JSON object: valid, counts, errors\n"
                   "Exit status: 0 valid, 78 invalid, 64 usage.\n");
}

/* check-config --json: the verdict and every problem as one object; exit status as without. */
static int check_config_json(const char *path) {
  struct bw_errs errs = {0};
  struct bw_config *cfg = bw_config_load(path, &errs);
  json_t *o = json_object(), *list = json_array();
  size_t targets = 0, per_kind[BW_KIND_COUNT] = {0};
  for (size_t i = 0; cfg && i < cfg->n_tests; i++) {
    targets += (cfg->tests[i].n_backends ? cfg->tests[i].n_backends : 1) *
               (bw_sweep_steps(&cfg->tests[i]) ? bw_sweep_steps(&cfg->tests[i]) : 1);
    if (bw_kind_ops(cfg->tests[i].kind))
      per_kind[cfg->tests[i].kind]++;
  }
  for (size_t i = 0; i < errs.n; i++)
    (void)json_array_append_new(list, bw_json_str(errs.msg[i]));
  (void)json_object_set_new(o, "path", bw_json_str(path));
  (void)json_object_set_new(o, "valid", json_boolean(cfg != NULL));
  (void)json_object_set_new(o, "tests", bw_json_int(cfg ? (int64_t)cfg->n_tests : BW_NONE));
  for (size_t k = 0; k < BW_KIND_COUNT; k++) { /* page_tests, download_tests, ... */
    char key[32];
    (void)snprintf(key, sizeof(key), "%s_tests", bw_kinds[k].name);
    (void)json_object_set_new(o, key, bw_json_int(cfg ? (int64_t)per_kind[k] : BW_NONE));
  }
  (void)json_object_set_new(o, "targets", bw_json_int(cfg ? (int64_t)targets : BW_NONE));
  (void)json_object_set_new(o, "database", bw_json_str(cfg ? cfg->database : NULL));
  (void)json_object_set_new(o, "errors", list);
  int status = print_json(o);
  bw_errs_clear(&errs);
  if (!cfg)
    return BW_EXIT_CONFIG;
  bw_config_free(cfg);
  return status;
}

static int cmd_check_config(int argc, char **argv) {
  static const struct option longopts[] = {
      {"print", no_argument, NULL, 'p'},        {"json", no_argument, NULL, O_JSON},
      {"config", required_argument, NULL, 'c'}, {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
  };
  bool print = false, json = false;
  const char *path = NULL;
  int ch;
  while ((ch = getopt_long(argc, argv, "pc:C:Vh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'p':
      print = true;
      break;
    case O_JSON:
      json = true;
      break;
    case 'c':
    case 'C':
      path = optarg;
      break;
    case 'V':
      return print_version();
    case 'h':
      check_config_usage(stdout);
      return 0;
    default:
      check_config_usage(stderr);
      return 64;
    }
  }
  if (!path && optind == argc - 1)
    path = argv[optind++];
  if (!path || optind != argc || (print && json)) {
    check_config_usage(stderr);
    return 64;
  }
  if (json)
    return check_config_json(path);
  struct bw_config *cfg = load_config(path);
  if (!cfg)
    return BW_EXIT_CONFIG;
  if (print) {
    char *dump = bw_config_dump(cfg);
    (void)fputs(dump, stdout);
    free(dump);
  } else {
    size_t targets = 0, per_kind[BW_KIND_COUNT] = {0};
    for (size_t i = 0; i < cfg->n_tests; i++) {
      targets += (cfg->tests[i].n_backends ? cfg->tests[i].n_backends : 1) *
                 (bw_sweep_steps(&cfg->tests[i]) ? bw_sweep_steps(&cfg->tests[i]) : 1);
      if (bw_kind_ops(cfg->tests[i].kind))
        per_kind[cfg->tests[i].kind]++;
    }
    /* "3 tests (2 page, 1 download)": the kinds that have tests */
    struct bw_buf kinds = {0};
    for (size_t k = 0; k < BW_KIND_COUNT; k++)
      if (per_kind[k])
        bw_buf_printf(&kinds, "%s%zu %s", kinds.len ? ", " : "", per_kind[k], bw_kinds[k].name);
    (void)printf("%s: OK: %zu tests (%s), %zu targets, database %s\n", cfg->path, cfg->n_tests,
                 kinds.len ? kinds.s : "none", targets, cfg->database);
    free(kinds.s);
  }
  bw_config_free(cfg);
  return 0;
}

/* ---- run ---- */

/* Appends `key: "value"` to a YAML flow mapping, escaped so any text stays one scalar. */
/* value as a YAML double-quoted scalar. */
static void yaml_quoted(struct bw_buf *b, const char *value) {
  bw_buf_add(b, "\"", 1);
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

static void yaml_kv(struct bw_buf *b, const char *key, const char *value) {
  bw_buf_printf(b, ", %s: ", key);
  yaml_quoted(b, value);
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
/* --sweep 1,4,16: the sweep key with those concurrencies, each checked by the config's parser. */
static void yaml_sweep(struct bw_buf *b, const char *list) {
  const char *p = list;
  bw_buf_printf(b, ", sweep: {concurrency: [");
  do {
    size_t n = strcspn(p, ",");
    char *one = bw_xstrndup(p, n);
    if (p != list)
      bw_buf_printf(b, ", ");
    yaml_quoted(b, one);
    free(one);
    p += n;
  } while (*p++ == ',');
  bw_buf_printf(b, "]}");
}

static struct bw_config *config_from_args(const char *name, const char *url, enum bw_kind kind,
                                          struct bw_buf *opts, char **headers, size_t n_headers,
                                          char **backends, size_t n_backends) {
  struct bw_buf b = {0};
  struct bw_errs errs = {0};
  bw_buf_printf(&b, "tests: [{kind: %s", bw_kind_name(kind));
  yaml_kv(&b, "name", name);
  yaml_kv(&b, "url", url);
  if (opts->s)
    bw_buf_add(&b, opts->s, opts->len);
  yaml_list(&b, "headers", headers, n_headers);
  yaml_list(&b, "backends", backends, n_backends);
  bw_buf_printf(&b, "}]\n");
  struct bw_config *cfg = bw_config_parse("command line", b.s, b.len, &errs);
  if (cfg && bw_config_read_bodies(cfg, &errs) < 0) {
    bw_config_free(cfg);
    cfg = NULL;
  }
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
  struct bw_loop *loop;
  struct bw_probe *running;
  bool interrupted; /* SIGINT: the probe was stopped */
  /* Live progress on a terminal (NULL timer: none). */
  struct bw_probe *probe;
  struct bw_timer *tick;
  int64_t t0_us;
  int64_t requests;            /* page: the requests the test sends */
  int64_t last_us, last_bytes; /* download: at the previous tick, for the current rate */
  double rate;
  bool shown;
};

#define PROGRESS_EVERY_US 200000

static void run_done(void *arg, struct bw_run *run) {
  struct run_wait *w = arg;
  bw_run_move(&w->run, run);
  w->done = true;
  bw_loop_break(w->loop); /* the SIGINT watch would keep the loop running */
}

/* SIGINT, as in ab: stop the run and show (and store) what it measured so far, as aborted. */
static void run_interrupt(void *arg) {
  struct run_wait *w = arg;
  w->interrupted = true;
  if (!w->done)
    bw_probe_abort(w->running);
}

/*
 * One line on stderr, rewritten in place: ab's "Completed N requests" for a page test; bytes, the
 * rate so far and the time for a download. It reads what the probe has recorded: a page run gains
 * a sample per finished request, a download one per timeline step.
 */
static void progress(void *arg) {
  struct run_wait *w = arg;
  const struct bw_run *r = &w->probe->run;
  double secs = (double)(bw_now_us() - w->t0_us) / 1e6;
  if (w->done)
    return;
  if (bw_kind_takes(r->kind, BW_KEYS_SAMPLES)) {
    /* a page's requests, a connect test's connections: a sample each as it ends */
    (void)fprintf(stderr, "\r\033[KCompleted %" PRId64 " of %" PRId64 " %ss, %.1f s",
                  bw_probe_finished(w->probe), w->requests, bw_kind_ops(r->kind)->sample_noun,
                  secs);
  } else {
    /* As wget: the rate now, over the last second or so, not the average since the start. */
    int64_t bytes = r->bytes == BW_NONE ? 0 : r->bytes, now = bw_now_us();
    if (now - w->last_us >= 1000000 || (w->last_bytes == 0 && bytes > 0)) {
      if (w->last_us && now > w->last_us)
        w->rate = (double)(bytes - w->last_bytes) / (double)(now - w->last_us);
      w->last_us = now;
      w->last_bytes = bytes;
    }
    (void)fprintf(stderr, "\r\033[K%.1f MB received, %.2f MB/s, %.1f s", (double)bytes / 1e6,
                  w->rate, secs);
  }
  w->shown = true;
  bw_timer_arm(w->tick, PROGRESS_EVERY_US);
}

/*
 * Runs one target to its end on loop; *ret gets the run. With show, progress on stderr while it
 * runs (the line is cleared at the end). SIGINT stops it: the run is then aborted, and
 * *interrupted set. Returns 0, or -1 if nothing started.
 */
static int run_target(struct bw_loop *loop, const struct bw_test *t, const char *backend, bool show,
                      struct bw_run *ret, bool *interrupted) {
  struct run_wait w = {.done = false, .loop = loop, .t0_us = bw_now_us(), .requests = t->requests};
  w.last_us = w.t0_us;
  struct bw_errs errs = {0};
  bw_run_init(&w.run);
  struct bw_probe *p = bw_probe_start(loop, t, backend, run_done, &w, &errs);
  if (!p) {
    for (size_t i = 0; i < errs.n; i++)
      (void)fprintf(stderr, "benchwatch: %s\n", errs.msg[i]);
    bw_errs_clear(&errs);
    return -1;
  }
  w.running = p;
  struct bw_signal *sigint = w.done ? NULL : bw_signal_new(loop, SIGINT, run_interrupt, &w);
  if (show && !w.done) {
    w.probe = p;
    w.tick = bw_timer_new(loop, progress, &w);
    bw_timer_arm(w.tick, PROGRESS_EVERY_US);
  }
  while (!w.done)
    if (bw_loop_run(loop) < 0)
      break;
  if (!w.done)
    bw_probe_abort(p);
  bw_signal_free(sigint);
  if (w.interrupted)
    *interrupted = true;
  bw_timer_free(w.tick);
  if (w.shown)
    (void)fputs("\r\033[K", stderr);
  bw_probe_free(p);
  bw_run_move(ret, &w.run);
  return 0;
}

static void run_usage(FILE *f) {
  (void)fprintf(
      f, "usage: benchwatch run [options] URL                a page test, like ab\n"
         "       benchwatch run --download [options] URL     a download test, like wget\n"
         "       benchwatch run --connect [options] URL      a connect test: connections only\n"
         "       benchwatch run --config FILE [options] TEST a configured test\n"
         "\n"
         "  -n, --requests N        page: requests in total (default 20), as ab -n;\n"
         "                          connect: connections in total\n"
         "  -c, --concurrency N     page: requests in flight (default 1), as ab -c;\n"
         "                          connect: connections at once\n"
         "  -k, --keepalive         page: reuse connections, as ab -k\n"
         "  -i, --head              page: HEAD instead of GET, as ab -i\n"
         "  -H, --header 'N: v'     an extra request header (repeatable), as ab -H\n"
         "  -s, --timeout DURATION  page: per request; download: connect and silence\n"
         "                          (default 60s; a bare number is seconds, as ab -s)\n"
         "  -m, --method METHOD     page: the HTTP method (GET, POST, PUT, DELETE, ...), as ab -m\n"
         "  -p, --post-file FILE    page: POST the file's bytes, as ab -p\n"
         "  -u, --put-file FILE     page: PUT the file's bytes, as ab -u\n"
         "      --data TEXT         page: send TEXT as the body (POST unless -m says), as curl -d\n"
         "  -T, --content-type TYPE page: the body's Content-Type, as ab -T (default a form's)\n"
         "  -X, --proxy PROXY       through this forward proxy, host:port or http[s]://host:port,\n"
         "                          as ab -X\n"
         "      --expect-status LIST page: the statuses that pass, e.g. 200,204; others are\n"
         "                          failed requests of class check\n"
         "      --expect-body TEXT  page: a response whose body lacks TEXT fails (class check)\n"
         "      --backend HOST:PORT run against this backend: same URL, Host and TLS name\n"
         "                          (repeatable: one run per backend)\n"
         "      --insecure          do not check the TLS certificate\n"
         "      --http2             HTTP/2 where TLS negotiates it\n"
         "      --engine ENGINE     page: auto (default), lean or curl\n"
         "      --threads N         page: N event loops on N threads, each with its share of\n"
         "                          the concurrency (default 1; at most -c)\n"
         "      --download          a download test\n"
         "      --max-time DURATION download: stop there and report a partial run (default 10m)\n"
         "      --max-bytes SIZE    download: stop after this many bytes (default: no cap)\n"
         "      --interval DURATION download: timeline step (default 1s)\n"
         "      --stall-rate SIZE   download: steps below this many bytes/s are stalls (100KB)\n"
         "      --streams N         download: N transfers at once, rated as their aggregate\n"
         "      --split MODE        download with streams: whole (default) or ranges\n"
         "      --connect           a connect test: TCP connects (and TLS handshakes for\n"
         "                          https) without a request\n"
         "      --sweep C1,C2,...   page: run a step at each of these concurrencies, one after\n"
         "                          the other, and print the curve and its knee\n"
         "      --config FILE       read the test (and database) from a config; TEST names it\n"
         "                          (-c is ab's concurrency here)\n"
         "      --json              print the full result as JSON, one line per run\n"
         "      --store             store the run in the database\n"
         "      --db FILE           the database for --store (default: the config's)\n"
         "      --name NAME         the test's name in the database (default adhoc)\n"
         "  -q, --quiet             no progress on stderr (as ab -q); there is none unless\n"
         "                          stderr is a terminal\n"
         "  -V, --version           print the version\n"
         "Exit status: 0 every run ok or partial, 1 a run failed, 64 usage, 78 config.\n");
}

/* ab's -s takes seconds: a bare number gets its unit. */
static void timeout_opt(struct bw_buf *opts, const char *text) {
  if (*text && strspn(text, "0123456789") == strlen(text)) {
    char *secs = bw_xasprintf("%ss", text);
    yaml_kv(opts, "timeout", secs);
    free(secs);
  } else {
    yaml_kv(opts, "timeout", text);
  }
}

static int cmd_run(int argc, char **argv) {
  enum {
    O_INSECURE = O_CMD0,
    O_HTTP2,
    O_MAXTIME,
    O_MAXBYTES,
    O_INTERVAL,
    O_STALL,
    O_STORE,
    O_NAME,
    O_BACKEND,
    O_DOWNLOAD,
    O_CONFIG,
    O_TEST,
    O_STREAMS,
    O_SPLIT,
    O_ENGINE,
    O_THREADS,
    O_CONNECT,
    O_SWEEP,
    O_DATA,
    O_EXPECT_STATUS,
    O_EXPECT_BODY
  };
  static const struct option longopts[] = {
      {"requests", required_argument, NULL, 'n'},
      {"concurrency", required_argument, NULL, 'c'},
      {"sweep", required_argument, NULL, O_SWEEP},
      {"keepalive", no_argument, NULL, 'k'},
      {"head", no_argument, NULL, 'i'},
      {"header", required_argument, NULL, 'H'},
      {"method", required_argument, NULL, 'm'},
      {"post-file", required_argument, NULL, 'p'},
      {"put-file", required_argument, NULL, 'u'},
      {"data", required_argument, NULL, O_DATA},
      {"content-type", required_argument, NULL, 'T'},
      {"proxy", required_argument, NULL, 'X'},
      {"expect-status", required_argument, NULL, O_EXPECT_STATUS},
      {"expect-body", required_argument, NULL, O_EXPECT_BODY},
      {"backend", required_argument, NULL, O_BACKEND},
      {"timeout", required_argument, NULL, 's'},
      {"insecure", no_argument, NULL, O_INSECURE},
      {"http2", no_argument, NULL, O_HTTP2},
      {"engine", required_argument, NULL, O_ENGINE},
      {"threads", required_argument, NULL, O_THREADS},
      {"download", no_argument, NULL, O_DOWNLOAD},
      {"connect", no_argument, NULL, O_CONNECT},
      {"max-time", required_argument, NULL, O_MAXTIME},
      {"max-bytes", required_argument, NULL, O_MAXBYTES},
      {"interval", required_argument, NULL, O_INTERVAL},
      {"stall-rate", required_argument, NULL, O_STALL},
      {"streams", required_argument, NULL, O_STREAMS},
      {"split", required_argument, NULL, O_SPLIT},
      {"config", required_argument, NULL, O_CONFIG},
      {"test", required_argument, NULL, O_TEST},
      {"json", no_argument, NULL, O_JSON},
      {"store", no_argument, NULL, O_STORE},
      {"db", required_argument, NULL, O_DB},
      {"name", required_argument, NULL, O_NAME},
      {"quiet", no_argument, NULL, 'q'},
      {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct bw_buf opts = {0};
  char **headers = NULL, **backends = NULL;
  size_t n_headers = 0, cap_headers = 0, n_backends = 0, cap_backends = 0;
  const char *config_path = NULL, *test_name = NULL, *db = NULL, *name = "adhoc";
  bool kind_given = false, json = false, store_it = false, quiet = false;
  enum bw_kind kind = BW_KIND_PAGE;
  const char *method = NULL, *body_method = NULL, *body_file = NULL, *data = NULL;
  const char *expect_status = NULL, *expect_body = NULL;
  struct bw_config *cfg = NULL;
  struct bw_loop *loop = NULL;
  struct bw_store *store = NULL;
  struct bw_errs errs = {0};
  int status = 64, ch;

  while ((ch = getopt_long(argc, argv, "n:c:kiH:m:p:u:T:X:s:qVh", longopts, NULL)) != -1) {
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
    case 'm':
      method = optarg;
      break;
    case 'p':
    case 'u':
      body_method = ch == 'p' ? "POST" : "PUT";
      body_file = optarg;
      break;
    case O_DATA:
      data = optarg;
      break;
    case 'T':
      yaml_kv(&opts, "content_type", optarg);
      break;
    case 'X':
      if (strstr(optarg, "://")) {
        yaml_kv(&opts, "proxy", optarg);
      } else {
        char *url = bw_xasprintf("http://%s", optarg); /* ab -X proxy:port */
        yaml_kv(&opts, "proxy", url);
        free(url);
      }
      break;
    case O_EXPECT_STATUS:
      expect_status = optarg;
      break;
    case O_EXPECT_BODY:
      expect_body = optarg;
      break;
    case O_BACKEND:
      bw_xgrow(&backends, &cap_backends, n_backends + 1, sizeof(*backends));
      backends[n_backends++] = optarg;
      break;
    case 's':
      timeout_opt(&opts, optarg);
      break;
    case O_INSECURE:
      bw_buf_printf(&opts, ", tls_verify: false");
      break;
    case O_HTTP2:
      bw_buf_printf(&opts, ", http: \"2\"");
      break;
    case O_ENGINE:
      yaml_kv(&opts, "engine", optarg);
      break;
    case O_THREADS:
      yaml_kv(&opts, "threads", optarg);
      break;
    case O_DOWNLOAD:
    case O_CONNECT:
      if (kind_given) {
        (void)fprintf(stderr, "benchwatch run: --download and --connect are two kinds of test\n");
        goto out;
      }
      kind_given = true;
      kind = ch == O_CONNECT ? BW_KIND_CONNECT : BW_KIND_DOWNLOAD;
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
    case O_SWEEP:
      yaml_sweep(&opts, optarg);
      break;
    case O_CONFIG:
      config_path = optarg;
      break;
    case O_TEST:
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
    case 'q':
      quiet = true;
      break;
    case 'V':
      status = print_version();
      goto out;
    case 'h':
      run_usage(stdout);
      status = 0;
      goto out;
    default:
      run_usage(stderr);
      goto out;
    }
  }
  if (method || body_method || data)
    yaml_kv(&opts, "method", method ? method : body_method ? body_method : "POST");
  if (body_file)
    yaml_kv(&opts, "body_file", body_file);
  if (data)
    yaml_kv(&opts, "body", data);
  if (expect_status || expect_body) {
    struct bw_buf e = {0};
    if (expect_status) {
      /* "200,204" as a list of quoted statuses */
      bw_buf_printf(&e, "status: [");
      char *list = bw_xstrdup(expect_status), *save = NULL;
      const char *sep = "";
      for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        struct bw_buf one = {0};
        yaml_kv(&one, "x", tok);
        bw_buf_printf(&e, "%s%s", sep, one.s + strlen(", x: "));
        free(one.s);
        sep = ", ";
      }
      free(list);
      bw_buf_printf(&e, "]");
    }
    if (expect_body) {
      struct bw_buf one = {0};
      yaml_kv(&one, "body_contains", expect_body);
      bw_buf_printf(&e, "%s", expect_status ? one.s : one.s + 2);
      free(one.s);
    }
    bw_buf_printf(&opts, ", expect: {%s}", e.s);
    free(e.s);
  }
  /* With a config, the one argument is the test's name (--test NAME is the older spelling). */
  if (config_path && !test_name && optind == argc - 1)
    test_name = argv[optind++];
  bool show = !quiet && isatty(STDERR_FILENO);

  const struct bw_test *test;
  if (config_path || test_name) {
    if (!config_path || !test_name || optind != argc || opts.len || n_headers || kind_given) {
      (void)fprintf(stderr, "benchwatch run: --config FILE TEST runs a configured test, with no "
                            "URL and no test options (only --backend, --json, --store, --db)\n");
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
    cfg =
        config_from_args(name, argv[optind], kind, &opts, headers, n_headers, backends, n_backends);
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
  /* A sweep runs its steps, per backend, one after the other; a step's name runs that step. */
  size_t n_steps = bw_sweep_steps(test), only_step = SIZE_MAX;
  struct bw_test *steps = bw_xcalloc(n_steps + 1, sizeof(*steps));
  for (size_t s = 0; s < n_steps; s++) {
    bw_sweep_step(test, s, &steps[s]);
    if (test_name && strcmp(steps[s].name, test_name) == 0)
      only_step = s;
  }
  if (only_step != SIZE_MAX) {
    struct bw_test one = steps[only_step];
    steps[only_step] = steps[0];
    steps[0] = one;
  }
  size_t n_kept_steps = n_steps == 0 ? 1 : only_step != SIZE_MAX ? 1 : n_steps;
  status = 0;
  /* Every backend is measured first, one after the other; then each is shown and stored, its
   * diagnosis read against the others' runs (a backend is judged against its fleet). */
  size_t n_runs = (n_targets ? n_targets : 1) * n_kept_steps;
  struct bw_run *runs = bw_xcalloc(n_runs, sizeof(*runs));
  bool *measured = bw_xcalloc(n_runs, sizeof(*measured));
  const struct bw_run **peers = bw_xcalloc(n_runs, sizeof(*peers));
  bool interrupted = false;
  for (size_t i = 0; i < n_runs; i++) {
    const struct bw_test *ti = n_steps ? &steps[i % n_kept_steps] : test;
    bw_run_init(&runs[i]);
    if (interrupted)
      continue; /* SIGINT: the targets not yet measured are not */
    measured[i] = run_target(loop, ti, n_targets ? targets[i / n_kept_steps] : NULL, show, &runs[i],
                             &interrupted) == 0;
    if (!measured[i])
      status = 1;
  }
  for (size_t i = 0; i < n_runs; i++) {
    struct bw_run *run = &runs[i];
    const struct bw_test *ti = n_steps ? &steps[i % n_kept_steps] : test;
    if (!measured[i])
      continue;
    size_t n_peers = 0;
    for (size_t k = 0; k < n_runs; k++)
      if (k != i && measured[k] && k % n_kept_steps == i % n_kept_steps)
        peers[n_peers++] = &runs[k];
    const struct bw_kind_ops *kops = bw_kind_ops(run->kind);
    char *text = json || !kops ? bw_render_json(run) : kops->render(run, ti, peers, n_peers);
    if (!json && n_targets > 1 && i % n_kept_steps == 0)
      (void)printf("%s== backend %s\n", i ? "\n" : "", targets[i / n_kept_steps]);
    if (!json && n_steps)
      (void)printf("%s== step %s: concurrency %" PRId64 ", requests %" PRId64 "\n",
                   i % n_kept_steps ? "\n" : "", ti->name, ti->concurrency, ti->requests);
    (void)fputs(text, stdout);
    (void)fflush(stdout);
    free(text);
    if (run->outcome == BW_OUTCOME_FAILED || run->outcome == BW_OUTCOME_ABORTED) {
      (void)fprintf(stderr, "benchwatch: %s%s%s: %s: %s\n", run->url,
                    run->backend[0] ? " via " : "", run->backend,
                    run->error_class ? run->error_class : "failed",
                    run->error_message ? run->error_message : "");
      status = 1;
    }
    if (store) {
      struct bw_judgement j;
      /* A stored run is judged too, as the daemon would, so backtests replay the same. */
      if (bw_judge_record(store, &test->detect, test->every_us, run, &j, &errs) < 0) {
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
    /* After a sweep's last step on a backend, its curve. */
    if (!json && n_kept_steps > 1 && i % n_kept_steps == n_kept_steps - 1) {
      struct bw_sweep_curve *curves = NULL;
      size_t n_curves = 0;
      size_t first = i + 1 - n_kept_steps;
      for (size_t k = first; k <= i; k++)
        (void)bw_sweep_curves_add(&curves, &n_curves, steps[k - first].name, run->backend,
                                  measured[k] ? &runs[k] : NULL, 0, NULL);
      for (size_t c = 0; c < n_curves; c++) {
        char *curve = bw_sweep_text(&curves[c], "  ");
        (void)printf("\n== sweep %s%s%s%s: %zu steps\n%s", curves[c].test,
                     curves[c].backend[0] ? " [" : "", curves[c].backend,
                     curves[c].backend[0] ? "]" : "", curves[c].n_points, curve);
        free(curve);
      }
      bw_sweep_curves_free(curves, n_curves);
    }
  }
  for (size_t i = 0; i < n_runs; i++)
    bw_run_reset(&runs[i]);
  for (size_t s = 0; s < n_steps; s++)
    bw_test_clear(&steps[s]);
  free(steps);
  free(runs);
  free(measured);
  free(peers);

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
    {"import", cmd_import, "add ab -g/-e files, \"time value\" text or an export to the history"},
    {"export", cmd_export, "a test's runs as CSV or JSON, or every run as NDJSON (--all)"},
    {"history", cmd_history, "a test's runs with baseline and verdict, and a chart"},
    {"backtest", cmd_backtest, "replay detection over stored history: what would have opened"},
    {"report", cmd_report, "the nightly report now, as text, HTML or JSON"},
    {"prune", cmd_prune, "delete history older than the retention (dry run on a terminal)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  (void)fprintf(f, "usage: benchwatch COMMAND [ARGS]\n"
                   "       benchwatch help COMMAND | -h | --help | -V | --version\n\n"
                   "commands:\n");
  for (const struct command *c = commands; c->name; c++)
    (void)fprintf(f, "  %-14s %s\n", c->name, c->help);
  (void)fprintf(f, "\n'benchwatch help COMMAND' or 'benchwatch COMMAND --help' describes one "
                   "command;\nman benchwatch tells the whole.\n");
}

static const struct command *find_command(const char *name) {
  for (const struct command *c = commands; c->name; c++)
    if (strcmp(name, c->name) == 0)
      return c;
  (void)fprintf(stderr, "benchwatch: unknown command \"%s\"\n", name);
  usage(stderr);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 64;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      (strcmp(argv[1], "help") == 0 && argc == 2)) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
    return print_version();
  if (strcmp(argv[1], "help") == 0) {
    const struct command *c = argc == 3 ? find_command(argv[2]) : NULL;
    if (!c) {
      if (argc != 3)
        usage(stderr);
      return 64;
    }
    char help[] = "--help";
    char *args[] = {argv[2], help, NULL};
    return c->run(2, args);
  }
  const struct command *c = find_command(argv[1]);
  return c ? c->run(argc - 1, argv + 1) : 64;
}
