/*
 * benchwatch import and benchwatch export: the history people kept before benchwatch in (ab's
 * files and plain "time value" text, so the baseline exists on day one), a target's runs out as
 * CSV or JSON for spreadsheets and change-point tools.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bw_detect.h"
#include "bw_file.h"
#include "bw_import.h"
#include "bw_judge.h"
#include "bw_loop.h"
#include "bw_url.h"
#include "cli.h"

/* The largest file imported: ab -g for a million requests is about 50 MB. */
#define IMPORT_MAX_BYTES (256u << 20)
/* Runs written per transaction, so a long import never holds the daemon's writes back for long. */
#define IMPORT_BATCH 1000
/* How far past now a point may lie (clocks differ a little) before it counts as in the future. */
#define FUTURE_SLACK_US (300 * INT64_C(1000000))

#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_NOINPUT 66

/* ISO 8601 UTC to the second: "2026-11-21T10:05:00Z". */
static void utc_time(int64_t us, char *buf, size_t size) {
  time_t t = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    (void)snprintf(buf, size, "?");
}

/* "a, b, c" from a list of names, for messages. */
static char *join(char *const *names, size_t n) {
  struct bw_buf b = {0};
  for (size_t i = 0; i < n; i++)
    bw_buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
  return bw_buf_take(&b);
}

/*
 * Checks --backend against the configured test: required when the test has backends, one of
 * them. Returns 0 or the exit status after printing why.
 */
static int check_backend(const char *cmd, const char *config, const struct bw_test *t,
                         const char *backend) {
  char *list = join(t->backends, t->n_backends);
  int status = 0;
  if (!backend && t->n_backends) {
    (void)fprintf(stderr,
                  "benchwatch %s: test %s runs on each of its backends (%s): choose one with "
                  "--backend\n",
                  cmd, t->name, list);
    status = EX_USAGE;
  } else if (backend) {
    bool found = false;
    for (size_t i = 0; i < t->n_backends; i++)
      found = found || strcmp(t->backends[i], backend) == 0;
    if (!found) {
      if (t->n_backends)
        (void)fprintf(stderr, "benchwatch %s: test %s in %s has no backend %s (it has %s)\n", cmd,
                      t->name, config, backend, list);
      else
        (void)fprintf(stderr, "benchwatch %s: test %s in %s has no backends\n", cmd, t->name,
                      config);
      status = BW_EXIT_CONFIG;
    }
  }
  free(list);
  return status;
}

/* ---- import ---- */

static void import_usage(FILE *f) {
  (void)fprintf(
      f,
      "usage: benchwatch import --config F --test NAME [--backend B] [--format FORMAT]\n"
      "                         [--unit UNIT] [--at TIME] [--dry-run] FILE...\n"
      "Adds the runs in each FILE to the history of a configured test, so that its baseline\n"
      "exists at once. Each run is stored as ok with its headline figure: the median request\n"
      "time for a page test, the rate for a download. A run already there (same test, backend\n"
      "and start time) is skipped, so importing a file twice adds nothing. A file with a bad\n"
      "line is not imported at all; every bad line is reported as FILE:LINE.\n"
      "  -C, --config F      the config naming the test and the database\n"
      "      --db F          another database than the config's\n"
      "  -t, --test NAME     the test the numbers belong to\n"
      "  -b, --backend B     the backend, for a test that has backends\n"
      "  -f, --format F      plain, ab-tsv (ab -g), ab-csv (ab -e) or kv (key=value lines);\n"
      "                      by default from the file's first line\n"
      "  -u, --unit U        plain files: us, ms or s for a page test (default ms), B/s, KB/s or\n"
      "                      MB/s (10^6 bytes/s) for a download (default MB/s)\n"
      "      --at TIME       when the run of an ab -e file started (the file holds no time):\n"
      "                      Unix seconds or ISO 8601 such as 2026-11-21T10:05:00Z\n"
      "  -n, --dry-run       read and check everything, count what would be added, write nothing\n"
      "Plain files: one \"TIME VALUE\" per line, blank- or comma-separated, # comments; TIME in\n"
      "Unix seconds or ISO 8601 (2026-11-21T10:05:00Z, 2026-11-21 10:05:00+02:00; no offset\n"
      "means UTC). ab -g files: runs are told apart by a gap of %d s or more between requests.\n"
      "kv files (MonALISA-style): one run per line, time=TIME and figures by name, such as\n"
      "  time=2026-11-21T10:05:00Z rate_bps=238.4MB/s stream_min_bps=27.9MB/s streams=8\n"
      "each stored with the run; the test's headline figure (p50_us or rate_bps) is required.\n"
      "Exit status: 0 imported, 1 database error, 64 usage, 65 a file is malformed,\n"
      "66 a file cannot be read, 78 config.\n",
      BW_IMPORT_AB_GAP_S);
}

/* One file to import. */
struct input {
  const char *path;
  char *buf;
  size_t len;
  enum bw_import_format format;
  struct bw_import_point *points;
  size_t n;
};

/* The run a point becomes: ok, its headline figure set, where it came from in error_message. */
static void point_run(const struct bw_test *t, const char *backend, const char *path,
                      const struct bw_import_point *p, struct bw_run *run) {
  bw_run_init(run);
  run->test = bw_xstrdup(t->name);
  run->backend = bw_xstrdup(backend ? backend : "");
  run->kind = t->kind;
  run->url = bw_url_redact(t->url); /* the database never holds a password */
  run->started_us = p->started_us;
  run->outcome = BW_OUTCOME_OK;
  run->error_message = bw_xasprintf("imported from %s:%" PRId64, path, p->line);
  if (t->kind == BW_KIND_DOWNLOAD)
    run->rate_bps = llround(p->value);
  else
    run->p50_us = llround(p->value);
  for (size_t i = 0; i < p->n_figures; i++) /* kv: every figure the line named */
    bw_figure_set(p->figures[i].figure, run, p->figures[i].value);
}

/* Counts the points of in that are not in the store yet, writing nothing. */
static int count_new(struct bw_store *store, const struct bw_test *t, const char *backend,
                     const struct input *in, size_t *ret_new, struct bw_errs *errs) {
  int64_t target_id;
  size_t fresh = 0;
  int r = bw_store_find_target(store, t->name, backend, &target_id, errs);
  if (r == -ENOENT) {
    bw_errs_clear(errs); /* a target never stored: everything is new */
    *ret_new = in->n;
    return 0;
  }
  for (size_t i = 0; i < in->n && r == 0; i++) {
    bool there = false;
    r = bw_store_run_exists(store, target_id, in->points[i].started_us, &there, errs);
    fresh += !there;
  }
  *ret_new = fresh;
  return r;
}

/* Writes the points of in, IMPORT_BATCH runs per transaction; *ret_added counts the new ones. */
static int store_points(struct bw_store *store, const struct bw_test *t, const char *backend,
                        const struct input *in, size_t *ret_added, struct bw_errs *errs) {
  struct bw_run *runs = bw_xcalloc(IMPORT_BATCH, sizeof(*runs));
  size_t added = 0;
  int r = 0;
  for (size_t i = 0; i < in->n && r == 0; i += IMPORT_BATCH) {
    size_t k = in->n - i < IMPORT_BATCH ? in->n - i : IMPORT_BATCH, got = 0;
    for (size_t j = 0; j < k; j++)
      point_run(t, backend, in->path, &in->points[i + j], &runs[j]);
    r = bw_store_put_new_runs(store, runs, k, &got, errs);
    added += got;
    for (size_t j = 0; j < k; j++)
      bw_run_reset(&runs[j]);
  }
  free(runs);
  *ret_added = added;
  return r;
}

/* Reads and parses one file; returns 0 or the exit status after printing why. */
static int read_input(struct input *in, enum bw_import_format format, const struct bw_test *t,
                      const struct bw_import_opts *base, struct bw_errs *errs) {
  struct bw_import_opts o = *base;
  if (bw_file_read(in->path, IMPORT_MAX_BYTES, &in->buf, &in->len, errs) < 0)
    return EX_NOINPUT;
  in->format = format != BW_IMPORT_AUTO ? format : bw_import_detect(in->buf, in->len);
  o.format = in->format;
  const char *fname = bw_import_format_name(in->format);
  if (o.at_us != BW_NONE && in->format != BW_IMPORT_AB_CSV) {
    (void)fprintf(stderr,
                  "benchwatch import: %s: --at is for ab -e files, which hold no time; this file "
                  "is %s and has its own times\n",
                  in->path, fname);
    return EX_USAGE;
  }
  if (o.at_us == BW_NONE && in->format == BW_IMPORT_AB_CSV) {
    struct stat st;
    char when[32] = "";
    if (stat(in->path, &st) == 0)
      utc_time((int64_t)st.st_mtime * 1000000, when, sizeof(when));
    (void)fprintf(stderr,
                  "benchwatch import: %s: ab -e files hold no time: give the run's start with "
                  "--at TIME%s%s%s\n",
                  in->path, *when ? " (the file was last changed at " : "", when,
                  *when ? "; ab writes it when the run ends)" : "");
    return EX_USAGE;
  }
  if (o.unit != BW_IMPORT_UNIT_DEFAULT && in->format != BW_IMPORT_PLAIN) {
    (void)fprintf(stderr, "benchwatch import: %s: --unit is for plain files; %s\n", in->path,
                  in->format == BW_IMPORT_KV ? "kv values carry their own units"
                                             : "ab's times are ms");
    return EX_USAGE;
  }
  if ((in->format == BW_IMPORT_AB_TSV || in->format == BW_IMPORT_AB_CSV) &&
      t->kind != BW_KIND_PAGE) {
    (void)fprintf(stderr,
                  "benchwatch import: %s: ab's files hold request times, but %s is a download "
                  "test\n",
                  in->path, t->name);
    return EX_USAGE;
  }
  int r = bw_import_parse(in->path, in->buf, in->len, &o, &in->points, &in->n, errs);
  if (r == -EBADMSG)
    return EX_DATAERR;
  if (r < 0)
    return EX_USAGE;
  return 0;
}

int cmd_import(int argc, char **argv) {
  enum { O_DB = 256, O_AT };
  static const struct option longopts[] = {
      {"config", required_argument, NULL, 'C'}, {"db", required_argument, NULL, O_DB},
      {"test", required_argument, NULL, 't'},   {"backend", required_argument, NULL, 'b'},
      {"format", required_argument, NULL, 'f'}, {"unit", required_argument, NULL, 'u'},
      {"at", required_argument, NULL, O_AT},    {"dry-run", no_argument, NULL, 'n'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
  };
  const char *config = BW_DEFAULT_CONFIG, *db = NULL, *test = NULL, *backend = NULL;
  struct bw_import_opts opts = {.at_us = BW_NONE, .latest_us = BW_NONE};
  enum bw_import_format format = BW_IMPORT_AUTO;
  bool dry_run = false;
  const char *why = NULL;
  int ch;

  while ((ch = getopt_long(argc, argv, "C:t:b:f:u:nh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'C':
      config = optarg;
      break;
    case O_DB:
      db = optarg;
      break;
    case 't':
      test = optarg;
      break;
    case 'b':
      backend = optarg;
      break;
    case 'f':
      if (bw_import_format_parse(optarg, &format) < 0) {
        (void)fprintf(stderr,
                      "benchwatch import: --format: expected plain, ab-tsv, ab-csv or kv, got "
                      "\"%s\"\n",
                      optarg);
        return EX_USAGE;
      }
      break;
    case 'u':
      if (bw_import_unit_parse(optarg, &opts.unit) < 0) {
        (void)fprintf(stderr,
                      "benchwatch import: --unit: expected us, ms, s, B/s, KB/s or MB/s, got "
                      "\"%s\"\n",
                      optarg);
        return EX_USAGE;
      }
      break;
    case O_AT:
      if (bw_import_parse_time(optarg, strlen(optarg), &opts.at_us, &why) < 0) {
        (void)fprintf(stderr, "benchwatch import: --at: %s, got \"%s\"\n", why, optarg);
        return EX_USAGE;
      }
      break;
    case 'n':
      dry_run = true;
      break;
    case 'h':
      import_usage(stdout);
      return 0;
    default:
      import_usage(stderr);
      return EX_USAGE;
    }
  }
  if (!test || optind == argc) {
    (void)fprintf(stderr, "benchwatch import: %s\n",
                  !test ? "--test NAME is required" : "no FILE to import");
    import_usage(stderr);
    return EX_USAGE;
  }
  size_t n_in = (size_t)(argc - optind);
  if (opts.at_us != BW_NONE && n_in > 1) {
    (void)fprintf(stderr, "benchwatch import: --at is the start of one run: import one ab -e "
                          "file at a time\n");
    return EX_USAGE;
  }

  struct bw_config *cfg = load_config(config);
  if (!cfg)
    return BW_EXIT_CONFIG;
  struct input *in = bw_xcalloc(n_in, sizeof(*in));
  struct bw_store *store = NULL;
  struct bw_errs errs = {0};
  int status = 0;
  const struct bw_test *t = bw_config_find_test(cfg, test);
  if (!t) {
    (void)fprintf(stderr, "benchwatch import: %s has no test named \"%s\"\n", config, test);
    status = BW_EXIT_CONFIG;
    goto out;
  }
  status = check_backend("import", config, t, backend);
  if (status)
    goto out;
  if (!bw_import_unit_fits(opts.unit, t->kind)) {
    (void)fprintf(stderr, "benchwatch import: --unit %s does not fit %s, a %s test (use %s)\n",
                  bw_import_unit_name(opts.unit, t->kind), t->name, bw_kind_name(t->kind),
                  t->kind == BW_KIND_PAGE ? "us, ms or s" : "B/s, KB/s or MB/s");
    status = EX_USAGE;
    goto out;
  }
  opts.kind = t->kind;
  opts.latest_us = bw_wall_us() + FUTURE_SLACK_US;

  /* Every file is read and checked before anything is written. */
  bool usage = false, unreadable = false, malformed = false;
  for (size_t i = 0; i < n_in; i++) {
    in[i].path = argv[optind + (int)i];
    int r = read_input(&in[i], format, t, &opts, &errs);
    print_errs(&errs);
    bw_errs_clear(&errs);
    usage = usage || r == EX_USAGE;
    unreadable = unreadable || r == EX_NOINPUT;
    malformed = malformed || r == EX_DATAERR;
  }
  if (usage || unreadable || malformed) {
    (void)fprintf(stderr, "benchwatch import: nothing imported\n");
    status = usage ? EX_USAGE : unreadable ? EX_NOINPUT : EX_DATAERR;
    goto out;
  }

  if (bw_store_open(db ? db : cfg->database, &store, &errs) < 0) {
    print_errs(&errs);
    status = 1;
    goto out;
  }
  size_t added = 0;
  for (size_t i = 0; i < n_in; i++) {
    size_t fresh = 0;
    int r = dry_run ? count_new(store, t, backend, &in[i], &fresh, &errs)
                    : store_points(store, t, backend, &in[i], &fresh, &errs);
    if (r < 0) {
      print_errs(&errs);
      (void)fprintf(stderr, "benchwatch import: %s: stopped at a database error%s\n", in[i].path,
                    dry_run ? "" : " (importing it again adds only what is missing)");
      status = 1;
      goto out;
    }
    (void)printf("%s: %zu run%s %s, %zu already there\n", in[i].path, fresh, fresh == 1 ? "" : "s",
                 dry_run ? "would be imported" : "imported", in[i].n - fresh);
    added += fresh;
  }
  if (!dry_run && added > 0) {
    /* The judge never saw these runs: it judges the whole history again, as the daemon would
     * have judged it run by run, so that detector, regressions and history agree. */
    int64_t target_id;
    size_t opened = 0;
    if (bw_store_find_target(store, t->name, backend, &target_id, &errs) < 0 ||
        bw_judge_rebuild(store, &t->detect, t->every_us, target_id, t->kind, &opened, &errs) < 0) {
      print_errs(&errs);
      (void)fprintf(stderr, "benchwatch import: the runs are stored, but judging them failed; "
                            "importing again judges them again\n");
      status = 1;
      goto out;
    }
    (void)printf("judged the history again: %zu regression%s in it\n", opened,
                 opened == 1 ? "" : "s");
  }
  (void)fflush(stdout);

out:
  bw_errs_clear(&errs);
  bw_store_close(store);
  for (size_t i = 0; i < n_in; i++) {
    free(in[i].buf);
    free(in[i].points);
  }
  free(in);
  bw_config_free(cfg);
  return status;
}

/* ---- export ---- */

/* v / 10^digits (3 or 6) as an exact decimal, or "" for an unmeasured figure. */
static void fixed(int64_t v, int digits, char *buf, size_t size) {
  const uint64_t scale = digits == 6 ? 1000000 : 1000;
  if (v == BW_NONE) {
    (void)snprintf(buf, size, "%s", "");
    return;
  }
  uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  if (digits == 6)
    (void)snprintf(buf, size, "%s%" PRIu64 ".%06" PRIu64, v < 0 ? "-" : "", a / scale, a % scale);
  else
    (void)snprintf(buf, size, "%s%" PRIu64 ".%03" PRIu64, v < 0 ? "-" : "", a / scale, a % scale);
}

static void fixed_int(int64_t v, char *buf, size_t size) {
  if (v == BW_NONE)
    (void)snprintf(buf, size, "%s", "");
  else
    (void)snprintf(buf, size, "%" PRId64, v);
}

/* A column of the export: its name and the run's figure as text ("" when unmeasured). */
struct column {
  const char *name;
  size_t offset; /* of an int64_t in struct bw_run (a double when digits is REAL) */
  int digits;    /* -1: an integer as it is; REAL: a double to 3 places; else the figure /
                    10^digits (3 or 6) */
};
#define REAL (-2)

static const struct column page_columns[] = {
    {"p90_ms", offsetof(struct bw_run, p90_us), 3},
    {"p99_ms", offsetof(struct bw_run, p99_us), 3},
    {"mode_ms", offsetof(struct bw_run, mode_us), 3},
    {"ttfb_ms", offsetof(struct bw_run, ttfb_p50_us), 3},
    {"requests", offsetof(struct bw_run, requests), -1},
    {"failed", offsetof(struct bw_run, failed), -1},
    {"rps", offsetof(struct bw_run, rps), REAL},
    {"transfer_mb_per_s", offsetof(struct bw_run, transfer_bps), 6},
    {NULL, 0, 0},
};

static const struct column download_columns[] = {
    {"ttfb_ms", offsetof(struct bw_run, ttfb_us), 3},
    {"stall_s", offsetof(struct bw_run, stall_us), 6},
    {"min_mb_per_s", offsetof(struct bw_run, min_rate_bps), 6},
    {"tcp_retrans", offsetof(struct bw_run, tcp_retrans), -1},
    {"streams", offsetof(struct bw_run, streams), -1},
    {"stream_min_mb_per_s", offsetof(struct bw_run, stream_min_bps), 6},
    {"stream_max_mb_per_s", offsetof(struct bw_run, stream_max_bps), 6},
    {NULL, 0, 0},
};

static void column_text(const struct column *c, const struct bw_run *run, char *buf, size_t size) {
  int64_t v;
  if (c->digits == REAL) {
    double d;
    memcpy(&d, (const char *)run + c->offset, sizeof(d));
    if (isnan(d))
      (void)snprintf(buf, size, "%s", "");
    else
      (void)snprintf(buf, size, "%.3f", d);
    return;
  }
  memcpy(&v, (const char *)run + c->offset, sizeof(v));
  if (c->digits < 0)
    fixed_int(v, buf, size);
  else
    fixed(v, c->digits, buf, size);
}

/* A CSV field, quoted when it must be (RFC 4180). */
static void csv_field(const char *s) {
  if (!s)
    return;
  if (!strpbrk(s, ",\"\r\n")) {
    (void)fputs(s, stdout);
    return;
  }
  (void)putchar('"');
  for (; *s; s++) {
    if (*s == '"')
      (void)putchar('"');
    (void)putchar(*s);
  }
  (void)putchar('"');
}

static void json_string(const char *s) {
  if (!s) {
    (void)fputs("null", stdout);
    return;
  }
  (void)putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      (void)printf("\\%c", c);
    else if (c < 0x20)
      (void)printf("\\u%04x", c);
    else
      (void)putchar(c);
  }
  (void)putchar('"');
}

/* A number for JSON: the text, or null when it is empty. */
static void json_number(const char *text) {
  (void)fputs(*text ? text : "null", stdout);
}

static void export_usage(FILE *f) {
  (void)fprintf(
      f,
      "usage: benchwatch export --config F | --db F --test NAME [--backend B] [--since 30d]\n"
      "                         [--csv | --json]\n"
      "Prints a target's runs, oldest first (runs the daemon aborted left out), as CSV with a\n"
      "header (the default) or as a JSON array of objects. time is ISO 8601 UTC to the second;\n"
      "value is the headline figure: the median request time in ms for a page test, the rate in\n"
      "MB/s (10^6 bytes/s) for a download; empty (null) for a failed run.\n"
      "Columns: time,run_id,outcome,value,unit, then for a page test p90_ms,p99_ms,mode_ms,\n"
      "ttfb_ms,requests,failed,rps,transfer_mb_per_s, for a download ttfb_ms,stall_s,\n"
      "min_mb_per_s,tcp_retrans,streams,stream_min_mb_per_s,stream_max_mb_per_s (value is the\n"
      "streams' aggregate), then error (the failure's class). JSON adds started_us (exact) and\n"
      "error_message.\n"
      "Exit status: 0, 1 no such target or a database error, 64 usage, 78 config.\n");
}

/* The series of the target's headline figure; kind is found from its runs when not known. */
static int export_series(struct bw_store *store, int64_t target_id, int64_t since_us,
                         bool kind_known, enum bw_kind *kind, struct bw_point **ret, size_t *ret_n,
                         struct bw_errs *errs) {
  int r = bw_store_series(store, target_id, bw_detect_metric(*kind)->name, since_us, INT64_MAX, ret,
                          ret_n, errs);
  if (r < 0 || kind_known)
    return r;
  /* Failed runs are in either series; the first run tells which kind the target is. */
  enum bw_kind found = BW_KIND_DOWNLOAD;
  if (*ret_n) {
    struct bw_run run;
    r = bw_store_get_run(store, (*ret)[0].run_id, &run, errs);
    if (r < 0)
      return r;
    found = run.kind;
    bw_run_reset(&run);
  }
  if (found == *kind)
    return 0;
  free(*ret);
  *ret = NULL;
  *ret_n = 0;
  *kind = found;
  return bw_store_series(store, target_id, bw_detect_metric(found)->name, since_us, INT64_MAX, ret,
                         ret_n, errs);
}

int cmd_export(int argc, char **argv) {
  enum { O_DB = 256, O_CSV, O_JSON };
  static const struct option longopts[] = {
      {"config", required_argument, NULL, 'C'},
      {"db", required_argument, NULL, O_DB},
      {"test", required_argument, NULL, 't'},
      {"backend", required_argument, NULL, 'b'},
      {"since", required_argument, NULL, 's'},
      {"csv", no_argument, NULL, O_CSV},
      {"json", no_argument, NULL, O_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *config = NULL, *db = NULL, *test = NULL, *backend = NULL;
  int64_t since = 0;
  bool json = false, since_given = false;
  int ch;

  while ((ch = getopt_long(argc, argv, "C:t:b:s:h", longopts, NULL)) != -1) {
    switch (ch) {
    case 'C':
      config = optarg;
      break;
    case O_DB:
      db = optarg;
      break;
    case 't':
      test = optarg;
      break;
    case 'b':
      backend = optarg;
      break;
    case 's':
      if (parse_since(optarg, &since) < 0)
        return EX_USAGE;
      since_given = true;
      break;
    case O_CSV:
      json = false;
      break;
    case O_JSON:
      json = true;
      break;
    case 'h':
      export_usage(stdout);
      return 0;
    default:
      export_usage(stderr);
      return EX_USAGE;
    }
  }
  if (!test || optind != argc) {
    (void)fprintf(stderr, "benchwatch export: %s\n",
                  !test ? "--test NAME is required" : "unexpected arguments");
    export_usage(stderr);
    return EX_USAGE;
  }

  struct bw_store *store = NULL;
  struct bw_config *cfg = NULL;
  struct bw_point *pts = NULL;
  struct bw_errs errs = {0};
  size_t n = 0;
  int status = open_history(db, config, &store, &cfg);
  if (status)
    return status;
  /* The kind and backends come from the config; a test no longer configured still exports. */
  const struct bw_test *t = cfg ? bw_config_find_test(cfg, test) : NULL;
  enum bw_kind kind = t ? t->kind : BW_KIND_PAGE;
  int64_t target_id;
  if (t) {
    status = check_backend("export", cfg->path, t, backend);
    if (status)
      goto out;
  }
  int r = bw_store_find_target(store, test, backend, &target_id, &errs);
  if (r == -ENOENT && t) {
    bw_errs_clear(&errs); /* configured, never run: an empty history */
  } else if (r < 0) {
    print_errs(&errs);
    status = 1;
    goto out;
  } else {
    int64_t since_us = since_given ? bw_wall_us() - since : INT64_MIN;
    if (export_series(store, target_id, since_us, t != NULL, &kind, &pts, &n, &errs) < 0) {
      print_errs(&errs);
      status = 1;
      goto out;
    }
  }

  const struct bw_metric *m = bw_detect_metric(kind);
  const struct column *cols = kind == BW_KIND_DOWNLOAD ? download_columns : page_columns;
  if (json) {
    (void)printf("[");
  } else {
    (void)printf("time,run_id,outcome,value,unit");
    for (const struct column *c = cols; c->name; c++)
      (void)printf(",%s", c->name);
    (void)printf(",error\n");
  }
  for (size_t i = 0; i < n; i++) {
    struct bw_run run;
    char when[32], value[48], text[48];
    if (bw_store_get_run(store, pts[i].run_id, &run, &errs) < 0) {
      print_errs(&errs);
      status = 1;
      break;
    }
    utc_time(run.started_us, when, sizeof(when));
    /* The exact stored integer, so ms and MB/s are decimal-exact to the µs and the byte/s. */
    fixed(kind == BW_KIND_DOWNLOAD ? run.rate_bps : run.p50_us, kind == BW_KIND_DOWNLOAD ? 6 : 3,
          value, sizeof(value));
    if (run.outcome == BW_OUTCOME_FAILED)
      value[0] = '\0';
    if (json) {
      (void)printf("%s\n  {\"time\": \"%s\", \"started_us\": %" PRId64 ", \"run_id\": %" PRId64
                   ", \"outcome\": \"%s\", \"value\": ",
                   i ? "," : "", when, run.started_us, pts[i].run_id, bw_outcome_name(run.outcome));
      json_number(value);
      (void)printf(", \"unit\": \"%s\"", m->unit);
      for (const struct column *c = cols; c->name; c++) {
        column_text(c, &run, text, sizeof(text));
        (void)printf(", \"%s\": ", c->name);
        json_number(text);
      }
      (void)printf(", \"error_class\": ");
      json_string(run.error_class);
      (void)printf(", \"error_message\": ");
      json_string(run.error_message);
      (void)printf("}");
    } else {
      (void)printf("%s,%" PRId64 ",%s,%s,%s", when, pts[i].run_id, bw_outcome_name(run.outcome),
                   value, m->unit);
      for (const struct column *c = cols; c->name; c++) {
        column_text(c, &run, text, sizeof(text));
        (void)printf(",%s", text);
      }
      (void)putchar(',');
      csv_field(run.error_class);
      (void)putchar('\n');
    }
    bw_run_reset(&run);
  }
  if (json)
    (void)printf("%s]\n", n ? "\n" : "");
  if (fflush(stdout) != 0 || ferror(stdout)) {
    (void)fprintf(stderr, "benchwatch export: cannot write the output\n");
    status = 1;
  }

out:
  free(pts);
  bw_errs_clear(&errs);
  bw_config_free(cfg);
  bw_store_close(store);
  return status;
}
