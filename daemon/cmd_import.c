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
#include <unistd.h>

#include "bw_detect.h"
#include "bw_file.h"
#include "bw_import.h"
#include "bw_json.h"
#include "bw_judge.h"
#include "bw_loop.h"
#include "bw_sweep.h"
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
      "usage: benchwatch import [-c CONFIG] [--db F] [options] TEST FILE...\n"
      "       benchwatch import [-c CONFIG | --db F] [--dry-run] [--json] EXPORT...\n"
      "The first form adds the runs in each FILE (ab -g or -e files, plain \"time value\"\n"
      "text, key=value lines) to the history of TEST, a configured test, so that its baseline exists at once.\n"
      "Each run is stored as ok with its headline figure: the median request time for a page\n"
      "test, the rate for a download. The second form reads back what benchwatch export\n"
      "writes (NDJSON from export --all or --ndjson, or the array of export --json): every\n"
      "run with its figures and samples, for the tests and backends the records name.\n"
      "A run already there (same test, backend and start time) is skipped, so importing a\n"
      "file twice adds nothing. A file with a bad line is not imported at all; every bad line\n"
      "is reported as FILE:LINE. The history of each target that gained runs is judged again.\n"
      "  -c, --config F      the config naming the test and the database\n"
      "      --db F          another database than the config's\n"
      "  -b, --backend B     the backend, for a test that has backends\n"
      "  -f, --format F      plain, ab-tsv (ab -g), ab-csv (ab -e) or kv (key=value lines);\n"
      "                      by default from the file's first line\n"
      "  -u, --unit U        plain files: us, ms or s for a page test (default ms), B/s, KB/s or\n"
      "                      MB/s (10^6 bytes/s) for a download (default MB/s)\n"
      "      --at TIME       when the run of an ab -e file started (the file holds no time):\n"
      "                      Unix seconds or ISO 8601 such as 2026-11-21T10:05:00Z\n"
      "  -n, --dry-run       read and check everything, count what would be added, write nothing\n"
      "      --json          what was imported as one JSON object (README \"JSON\")\n"
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
  bw_figure_set(bw_figure_find(bw_detect_metric(t->kind)->name), run, p->value);
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
                  "benchwatch import: %s: ab's files hold request times, but %s is a %s "
                  "test\n",
                  in->path, t->name, bw_kind_name(t->kind));
    return EX_USAGE;
  }
  int r = bw_import_parse(in->path, in->buf, in->len, &o, &in->points, &in->n, errs);
  if (r == -EBADMSG)
    return EX_DATAERR;
  if (r < 0)
    return EX_USAGE;
  return 0;
}

/* What one file added (or would add), for the closing lines or --json. */
static void file_done(json_t *files, const char *path, size_t fresh, size_t there, bool dry_run) {
  if (files) {
    json_t *o = json_object();
    (void)json_object_set_new(o, "path", bw_json_str(path));
    (void)json_object_set_new(o, "imported", bw_json_int((int64_t)fresh));
    (void)json_object_set_new(o, "already_there", bw_json_int((int64_t)there));
    (void)json_array_append_new(files, o);
    return;
  }
  (void)printf("%s: %zu run%s %s, %zu already there\n", path, fresh, fresh == 1 ? "" : "s",
               dry_run ? "would be imported" : "imported", there);
}

/* The closing object of --json. */
static int import_json_end(json_t *files, bool dry_run, size_t regressions, bool judged) {
  json_t *o = json_object();
  (void)json_object_set_new(o, "dry_run", json_boolean(dry_run));
  (void)json_object_set_new(o, "files", files);
  (void)json_object_set_new(o, "regressions", bw_json_int(judged ? (int64_t)regressions : BW_NONE));
  return print_json(o);
}

/* import TEST FILE...: ab's files and plain text into one configured target. */
static int import_points(struct bw_config *cfg, const char *db, const struct bw_test *t,
                         const char *backend, enum bw_import_format format,
                         struct bw_import_opts opts, bool dry_run, bool json, char **paths,
                         size_t n_in) {
  struct input *in = bw_xcalloc(n_in, sizeof(*in));
  struct bw_store *store = NULL;
  struct bw_errs errs = {0};
  json_t *files = json ? json_array() : NULL;
  size_t added = 0, opened = 0;
  int status = check_backend("import", cfg->path, t, backend);
  if (status)
    goto out;
  if (!bw_import_unit_fits(opts.unit, t->kind)) {
    (void)fprintf(stderr, "benchwatch import: --unit %s does not fit %s, a %s test (use %s)\n",
                  bw_import_unit_name(opts.unit, t->kind), t->name, bw_kind_name(t->kind),
                  bw_import_units_text(t->kind));
    status = EX_USAGE;
    goto out;
  }
  opts.kind = t->kind;
  opts.latest_us = bw_wall_us() + FUTURE_SLACK_US;

  /* Every file is read and checked before anything is written. */
  bool usage = false, unreadable = false, malformed = false;
  for (size_t i = 0; i < n_in; i++) {
    in[i].path = paths[i];
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
    file_done(files, in[i].path, fresh, in[i].n - fresh, dry_run);
    added += fresh;
  }
  if (!dry_run && added > 0) {
    /* The judge never saw these runs: it judges the whole history again, as the daemon would
     * have judged it run by run, so that detector, regressions and history agree. */
    int64_t target_id;
    if (bw_store_find_target(store, t->name, backend, &target_id, &errs) < 0 ||
        bw_judge_rebuild(store, &t->detect, t->every_us, target_id, t->kind, &opened, &errs) < 0) {
      print_errs(&errs);
      (void)fprintf(stderr, "benchwatch import: the runs are stored, but judging them failed; "
                            "importing again judges them again\n");
      status = 1;
      goto out;
    }
    if (!json)
      (void)printf("judged the history again: %zu regression%s in it\n", opened,
                   opened == 1 ? "" : "s");
  }
  if (json) {
    status = import_json_end(files, dry_run, opened, !dry_run && added > 0);
    files = NULL;
  }
  (void)fflush(stdout);

out:
  json_decref(files);
  bw_errs_clear(&errs);
  bw_store_close(store);
  for (size_t i = 0; i < n_in; i++) {
    free(in[i].buf);
    free(in[i].points);
  }
  free(in);
  return status;
}

/* The runs of one export file. */
struct records {
  const char *path;
  struct bw_run *runs;
  size_t n;
};

/*
 * Reads an export (bw_json_read_runs()); every bad record is reported as FILE:LINE. Returns 0 or
 * an exit status.
 */
static int read_records(const char *path, struct records *rec) {
  struct bw_errs errs = {0};
  char *buf = NULL;
  size_t len = 0;
  int status = 0;
  rec->path = path;
  if (bw_file_read(path, IMPORT_MAX_BYTES, &buf, &len, &errs) < 0)
    status = EX_NOINPUT;
  else if (bw_json_read_runs(path, buf, len, &rec->runs, &rec->n, &errs) < 0)
    status = EX_DATAERR;
  print_errs(&errs);
  bw_errs_clear(&errs);
  free(buf);
  return status;
}

static void records_free(struct records *rec) {
  for (size_t i = 0; i < rec->n; i++)
    bw_run_reset(&rec->runs[i]);
  free(rec->runs);
}

/* Counts the runs of rec not in the store yet, writing nothing. */
static int records_count_new(struct bw_store *store, const struct records *rec, size_t *ret_new,
                             struct bw_errs *errs) {
  size_t fresh = 0;
  for (size_t i = 0; i < rec->n; i++) {
    const struct bw_run *run = &rec->runs[i];
    int64_t target_id;
    bool there = false;
    int r = bw_store_find_target(store, run->test, run->backend, &target_id, errs);
    if (r == -ENOENT) {
      bw_errs_clear(errs);
    } else if (r < 0 ||
               (r = bw_store_run_exists(store, target_id, run->started_us, &there, errs)) < 0) {
      return r;
    }
    fresh += !there;
  }
  *ret_new = fresh;
  return 0;
}

/* A target that gained runs, to be judged again. */
struct touched {
  char *test, *backend;
  enum bw_kind kind;
};

/* import EXPORT...: what benchwatch export wrote, back into a database. */
static int import_records(struct bw_config *cfg, const char *db, bool dry_run, bool json,
                          char **paths, size_t n_in) {
  struct records *rec = bw_xcalloc(n_in, sizeof(*rec));
  struct touched *tt = NULL;
  size_t n_tt = 0, cap_tt = 0, opened = 0, added_all = 0;
  struct bw_store *store = NULL;
  struct bw_errs errs = {0};
  json_t *files = json ? json_array() : NULL;
  int status = 0;
  bool unreadable = false, malformed = false;

  for (size_t i = 0; i < n_in; i++) {
    int r = read_records(paths[i], &rec[i]);
    unreadable = unreadable || r == EX_NOINPUT;
    malformed = malformed || r == EX_DATAERR;
  }
  if (unreadable || malformed) {
    (void)fprintf(stderr, "benchwatch import: nothing imported\n");
    status = unreadable ? EX_NOINPUT : EX_DATAERR;
    goto out;
  }
  if (!db && !cfg) {
    (void)fprintf(stderr, "benchwatch import: no database: give --db FILE or -c CONFIG\n");
    status = EX_USAGE;
    goto out;
  }
  if (bw_store_open(db ? db : cfg->database, &store, &errs) < 0) {
    print_errs(&errs);
    status = 1;
    goto out;
  }
  for (size_t i = 0; i < n_in; i++) {
    size_t fresh = 0;
    int r = 0;
    if (dry_run) {
      r = records_count_new(store, &rec[i], &fresh, &errs);
    } else {
      for (size_t k = 0; k < rec[i].n && r == 0; k += IMPORT_BATCH) {
        size_t got = 0, m = rec[i].n - k < IMPORT_BATCH ? rec[i].n - k : IMPORT_BATCH;
        r = bw_store_put_new_runs(store, &rec[i].runs[k], m, &got, &errs);
        fresh += got;
      }
    }
    if (r < 0) {
      print_errs(&errs);
      (void)fprintf(stderr, "benchwatch import: %s: stopped at a database error%s\n", paths[i],
                    dry_run ? "" : " (importing it again adds only what is missing)");
      status = 1;
      goto out;
    }
    file_done(files, paths[i], fresh, rec[i].n - fresh, dry_run);
    added_all += fresh;
    for (size_t k = 0; k < rec[i].n && fresh; k++) {
      const struct bw_run *run = &rec[i].runs[k];
      bool seen = false;
      for (size_t j = 0; j < n_tt && !seen; j++)
        seen = strcmp(tt[j].test, run->test) == 0 && strcmp(tt[j].backend, run->backend) == 0;
      if (!seen) {
        bw_xgrow(&tt, &cap_tt, n_tt + 1, sizeof(*tt));
        tt[n_tt++] = (struct touched){run->test, run->backend, run->kind};
      }
    }
  }
  /* Each target that gained runs is judged again, with its test's settings when configured. */
  for (size_t j = 0; j < n_tt && !dry_run; j++) {
    const struct bw_test *t = cfg ? bw_config_find_test(cfg, tt[j].test) : NULL;
    struct bw_detect det;
    int64_t target_id;
    size_t got = 0;
    bw_config_default_detect(&det);
    if (cfg)
      det = t ? t->detect : cfg->detect;
    if (bw_store_find_target(store, tt[j].test, tt[j].backend, &target_id, &errs) < 0 ||
        bw_judge_rebuild(store, &det, t ? t->every_us : 3600 * INT64_C(1000000), target_id,
                         tt[j].kind, &got, &errs) < 0) {
      print_errs(&errs);
      (void)fprintf(stderr, "benchwatch import: the runs are stored, but judging them failed; "
                            "importing again judges them again\n");
      status = 1;
      goto out;
    }
    opened += got;
  }
  if (json) {
    status = import_json_end(files, dry_run, opened, !dry_run && added_all > 0);
    files = NULL;
  } else if (!dry_run && added_all > 0) {
    (void)printf("judged the history again: %zu regression%s in it\n", opened,
                 opened == 1 ? "" : "s");
  }
  (void)fflush(stdout);
out:
  json_decref(files);
  bw_errs_clear(&errs);
  bw_store_close(store);
  free(tt);
  for (size_t i = 0; i < n_in; i++)
    records_free(&rec[i]);
  free(rec);
  return status;
}

int cmd_import(int argc, char **argv) {
  enum { O_AT = O_CMD0, O_TEST };
  static const struct option longopts[] = {
      {"test", required_argument, NULL, O_TEST},
      {"backend", required_argument, NULL, 'b'},
      {"format", required_argument, NULL, 'f'},
      {"unit", required_argument, NULL, 'u'},
      {"at", required_argument, NULL, O_AT},
      {"dry-run", no_argument, NULL, 'n'},
      {"json", no_argument, NULL, O_JSON},
      COMMON_LONGOPTS,
      {NULL, 0, NULL, 0},
  };
  const char *config = NULL, *db = NULL, *test = NULL, *backend = NULL;
  struct bw_import_opts opts = {.at_us = BW_NONE, .latest_us = BW_NONE};
  enum bw_import_format format = BW_IMPORT_AUTO;
  bool dry_run = false, json = false, point_opts = false;
  const char *why = NULL;
  int ch;

  while ((ch = getopt_long(argc, argv, "c:C:t:b:f:u:nVh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'c':
    case 'C':
      config = optarg;
      break;
    case O_DB:
      db = optarg;
      break;
    case 't':
    case O_TEST:
      test = optarg;
      break;
    case 'b':
      backend = optarg;
      point_opts = true;
      break;
    case 'f':
      if (bw_import_format_parse(optarg, &format) < 0) {
        (void)fprintf(stderr,
                      "benchwatch import: --format: expected plain, ab-tsv, ab-csv or kv, got "
                      "\"%s\"\n",
                      optarg);
        return EX_USAGE;
      }
      point_opts = true;
      break;
    case 'u':
      if (bw_import_unit_parse(optarg, &opts.unit) < 0) {
        (void)fprintf(stderr,
                      "benchwatch import: --unit: expected us, ms, s, B/s, KB/s or MB/s, got "
                      "\"%s\"\n",
                      optarg);
        return EX_USAGE;
      }
      point_opts = true;
      break;
    case O_AT:
      if (bw_import_parse_time(optarg, strlen(optarg), &opts.at_us, &why) < 0) {
        (void)fprintf(stderr, "benchwatch import: --at: %s, got \"%s\"\n", why, optarg);
        return EX_USAGE;
      }
      point_opts = true;
      break;
    case 'n':
      dry_run = true;
      break;
    case O_JSON:
      json = true;
      break;
    case 'V':
      return print_version();
    case 'h':
      import_usage(stdout);
      return 0;
    default:
      import_usage(stderr);
      return EX_USAGE;
    }
  }
  /* The config is needed for a test's kind; an export names its own tests, --db will do. */
  struct bw_config *cfg = NULL;
  if (config || !db || access(BW_DEFAULT_CONFIG, R_OK) == 0) {
    cfg = load_config(config ? config : BW_DEFAULT_CONFIG);
    if (!cfg)
      return BW_EXIT_CONFIG;
  }
  /* TEST FILE...: the first argument names a configured test. */
  if (!test && cfg && argc - optind >= 2 && bw_config_find_test(cfg, argv[optind]))
    test = argv[optind++];
  int status;
  if (!test && cfg && argc - optind >= 2 && access(argv[optind], F_OK) != 0) {
    (void)fprintf(stderr, "benchwatch import: %s has no test named \"%s\"\n", cfg->path,
                  argv[optind]);
    status = BW_EXIT_CONFIG;
  } else if (optind == argc) {
    (void)fprintf(stderr, "benchwatch import: no FILE to import\n");
    import_usage(stderr);
    status = EX_USAGE;
  } else if (test) {
    const struct bw_test *t = bw_config_find_test(cfg, test);
    size_t n_in = (size_t)(argc - optind);
    if (!t) {
      (void)fprintf(stderr, "benchwatch import: %s has no test named \"%s\"\n", cfg->path, test);
      status = BW_EXIT_CONFIG;
    } else if (opts.at_us != BW_NONE && n_in > 1) {
      (void)fprintf(stderr, "benchwatch import: --at is the start of one run: import one ab -e "
                            "file at a time\n");
      status = EX_USAGE;
    } else if (bw_sweep_steps(t)) {
      /* A sweep's history is its steps': each is imported into one by name ("api@c4"). */
      struct bw_test step;
      bool found = false;
      status = BW_EXIT_CONFIG;
      for (size_t s = 0; s < bw_sweep_steps(t) && !found; s++) {
        bw_sweep_step(t, s, &step);
        found = strcmp(step.name, test) == 0;
        if (found)
          status = import_points(cfg, db, &step, backend, format, opts, dry_run, json,
                                 argv + optind, n_in);
        bw_test_clear(&step);
      }
      if (!found)
        (void)fprintf(stderr,
                      "benchwatch import: %s is a sweep: import into one of its steps, "
                      "named as %s@c%" PRId64 " (README \"Sweeps\")\n",
                      t->name, t->name, t->n_sweep_concurrency ? t->sweep_concurrency[0] : 1);
    } else {
      status = import_points(cfg, db, t, backend, format, opts, dry_run, json, argv + optind, n_in);
    }
  } else if (point_opts) {
    (void)fprintf(stderr, "benchwatch import: --backend, --format, --unit and --at are for "
                          "TEST FILE...; an export names its tests itself\n");
    status = EX_USAGE;
  } else {
    status = import_records(cfg, db, dry_run, json, argv + optind, (size_t)(argc - optind));
  }
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
    {"failed_check", offsetof(struct bw_run, failed_check), -1},
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

static const struct column connect_columns[] = {
    {"p90_ms", offsetof(struct bw_run, p90_us), 3},
    {"p99_ms", offsetof(struct bw_run, p99_us), 3},
    {"tls_ms", offsetof(struct bw_run, tls_p50_us), 3},
    {"connections", offsetof(struct bw_run, requests), -1},
    {"failed", offsetof(struct bw_run, failed), -1},
    {"per_s", offsetof(struct bw_run, rps), REAL},
    {NULL, 0, 0},
};

/* The columns of a kind's CSV export, after its headline value. */
static const struct column *export_columns(enum bw_kind kind) {
  switch (kind) {
  case BW_KIND_PAGE:
    return page_columns;
  case BW_KIND_DOWNLOAD:
    return download_columns;
  case BW_KIND_CONNECT:
    return connect_columns;
  }
  return page_columns;
}

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

static void export_usage(FILE *f) {
  (void)fprintf(
      f, "usage: benchwatch export [-c CONFIG | --db F] [--backend B] [--since WHEN]\n"
         "                         [--until WHEN] [--csv | --json | --ndjson] TEST\n"
         "       benchwatch export [-c CONFIG | --db F] [--since WHEN] [--until WHEN] --all\n"
         "Prints a target's runs, oldest first (runs the daemon aborted left out).\n"
         "--csv (the default) is for spreadsheets: time is ISO 8601 UTC to the second; value is\n"
         "the headline figure: the median request time in ms for a page test, the rate in MB/s\n"
         "(10^6 bytes/s) for a download; empty for a failed run. Columns: time,run_id,outcome,\n"
         "value,unit, then for a page test p90_ms,p99_ms,mode_ms,ttfb_ms,requests,failed,\n"
         "rps,transfer_mb_per_s,failed_check, for a download ttfb_ms,stall_s,min_mb_per_s,\n"
         "tcp_retrans,streams,stream_min_mb_per_s,stream_max_mb_per_s (value is then the\n"
         "streams' aggregate), for a connect test p90_ms,p99_ms,tls_ms,connections,failed,\n"
         "per_s (value is the median connect time in ms), then error (the failure's class).\n"
         "--json (an array) and --ndjson (one per line) print whole run records: every figure\n"
         "under its stored name and unit (µs, bytes, bytes/s), the samples included (README\n"
         "\"JSON\"). --all prints every run of every target as NDJSON, in the order they were\n"
         "stored: benchwatch import reads it back.\n"
         "  -s, --since WHEN  a duration back from now (30d), a date (2026-11-21, UTC) or an\n"
         "                    ISO 8601 time; --until WHEN ends the period\n"
         "Exit status: 0, 1 no such target or a database error, 64 usage, 66 no database,\n"
         "78 config.\n");
}

/* Prints the record of run id (samples included): one line, or one element of an array. */
static int export_record(struct bw_store *store, int64_t id, const char *sep, bool *wrote,
                         struct bw_errs *errs) {
  struct bw_run run;
  if (bw_store_get_run(store, id, &run, errs) < 0)
    return -1;
  char *text = bw_json_take_text(bw_json_run(&run, id, true), false);
  (void)printf("%s%s", *wrote ? sep : "", text);
  *wrote = true;
  free(text);
  bw_run_reset(&run);
  return 0;
}

static int cmp_id(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* export --all: every stored run of every target, NDJSON, by run id (the order of storing). */
static int export_all(struct bw_store *store, int64_t since_us, int64_t until_us) {
  struct bw_target_row *targets = NULL;
  struct bw_errs errs = {0};
  int64_t *ids = NULL;
  size_t n_targets = 0, n = 0, cap = 0;
  bool wrote = false;
  int status = 0;
  if (bw_store_targets(store, &targets, &n_targets, &errs) < 0)
    goto fail;
  for (size_t i = 0; i < n_targets; i++) {
    struct bw_point *pts = NULL;
    size_t np = 0;
    if (bw_store_series(store, targets[i].id, bw_detect_metric(targets[i].kind)->name, since_us,
                        until_us, &pts, &np, &errs) < 0)
      goto fail;
    bw_xgrow(&ids, &cap, n + np + 1, sizeof(*ids));
    for (size_t k = 0; k < np; k++)
      ids[n++] = pts[k].run_id;
    free(pts);
  }
  if (n)
    qsort(ids, n, sizeof(*ids), cmp_id);
  for (size_t i = 0; i < n; i++)
    if (export_record(store, ids[i], "", &wrote, &errs) < 0)
      goto fail;
  goto out;
fail:
  print_errs(&errs);
  status = 1;
out:
  bw_errs_clear(&errs);
  bw_target_rows_free(targets, n_targets);
  free(ids);
  return status;
}

/* The series of the target's headline figure; kind is found from its runs when not known. */
static int export_series(struct bw_store *store, int64_t target_id, int64_t since_us,
                         int64_t until_us, bool kind_known, enum bw_kind *kind,
                         struct bw_point **ret, size_t *ret_n, struct bw_errs *errs) {
  int r = bw_store_series(store, target_id, bw_detect_metric(*kind)->name, since_us, until_us, ret,
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
  return bw_store_series(store, target_id, bw_detect_metric(found)->name, since_us, until_us, ret,
                         ret_n, errs);
}

int cmd_export(int argc, char **argv) {
  enum { O_CSV = O_CMD0, O_NDJSON, O_ALL, O_TEST };
  enum { CSV, JSON, NDJSON } format = CSV;
  static const struct option longopts[] = {
      {"test", required_argument, NULL, O_TEST},
      {"backend", required_argument, NULL, 'b'},
      {"since", required_argument, NULL, 's'},
      {"until", required_argument, NULL, O_UNTIL},
      {"csv", no_argument, NULL, O_CSV},
      {"json", no_argument, NULL, O_JSON},
      {"ndjson", no_argument, NULL, O_NDJSON},
      {"all", no_argument, NULL, O_ALL},
      COMMON_LONGOPTS,
      {NULL, 0, NULL, 0},
  };
  const char *config = NULL, *db = NULL, *test = NULL, *backend = NULL;
  int64_t now = bw_wall_us(), since_us = INT64_MIN, until_us = INT64_MAX;
  bool all = false, format_given = false;
  int ch;

  while ((ch = getopt_long(argc, argv, "c:C:t:b:s:Vh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'c':
    case 'C':
      config = optarg;
      break;
    case O_DB:
      db = optarg;
      break;
    case 't':
    case O_TEST:
      test = optarg;
      break;
    case 'b':
      backend = optarg;
      break;
    case 's':
      if (parse_when("--since", optarg, now, &since_us) < 0)
        return EX_USAGE;
      break;
    case O_UNTIL:
      if (parse_when("--until", optarg, now, &until_us) < 0)
        return EX_USAGE;
      break;
    case O_CSV:
      format = CSV;
      format_given = true;
      break;
    case O_JSON:
      format = JSON;
      format_given = true;
      break;
    case O_NDJSON:
      format = NDJSON;
      format_given = true;
      break;
    case O_ALL:
      all = true;
      break;
    case 'V':
      return print_version();
    case 'h':
      export_usage(stdout);
      return 0;
    default:
      export_usage(stderr);
      return EX_USAGE;
    }
  }
  if (!test && !all && optind == argc - 1)
    test = argv[optind++];
  if (all && (test || backend || optind != argc || (format_given && format != NDJSON))) {
    (void)fprintf(stderr, "benchwatch export: --all is every run of every target, as NDJSON: no "
                          "TEST, --backend or other format\n");
    return EX_USAGE;
  }
  if (!all && (!test || optind != argc)) {
    (void)fprintf(stderr, "benchwatch export: %s\n",
                  !test ? "give a TEST, or --all" : "unexpected arguments");
    export_usage(stderr);
    return EX_USAGE;
  }
  if (all) {
    struct bw_store *store = NULL;
    int status = open_history(db, config, false, &store, NULL);
    if (status)
      return status;
    status = export_all(store, since_us, until_us);
    if (fflush(stdout) != 0 || ferror(stdout)) {
      (void)fprintf(stderr, "benchwatch export: cannot write the output\n");
      status = 1;
    }
    bw_store_close(store);
    return status;
  }
  bool json = format != CSV;

  struct bw_store *store = NULL;
  struct bw_config *cfg = NULL;
  struct bw_point *pts = NULL;
  struct bw_errs errs = {0};
  size_t n = 0;
  int status = open_history(db, config, false, &store, &cfg);
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
    if (export_series(store, target_id, since_us, until_us, t != NULL, &kind, &pts, &n, &errs) <
        0) {
      print_errs(&errs);
      status = 1;
      goto out;
    }
  }

  if (json) {
    /* Whole run records: an array, or one per line. */
    bool wrote = false;
    if (format == JSON)
      (void)printf("[");
    for (size_t i = 0; i < n && status == 0; i++)
      if (export_record(store, pts[i].run_id, format == JSON ? "," : "", &wrote, &errs) < 0) {
        print_errs(&errs);
        status = 1;
      }
    if (format == JSON)
      (void)printf("]\n");
    goto flush;
  }
  const struct bw_metric *m = bw_detect_metric(kind);
  const struct column *cols = export_columns(kind);
  const struct bw_figure *head = bw_figure_find(m->name);
  (void)printf("time,run_id,outcome,value,unit");
  for (const struct column *c = cols; c->name; c++)
    (void)printf(",%s", c->name);
  (void)printf(",error\n");
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
    double hv;
    fixed(head && bw_figure_get(head, &run, &hv) ? llround(hv) : BW_NONE, m->scale >= 1e6 ? 6 : 3,
          value, sizeof(value));
    if (run.outcome == BW_OUTCOME_FAILED)
      value[0] = '\0';
    (void)printf("%s,%" PRId64 ",%s,%s,%s", when, pts[i].run_id, bw_outcome_name(run.outcome),
                 value, m->unit);
    for (const struct column *c = cols; c->name; c++) {
      column_text(c, &run, text, sizeof(text));
      (void)printf(",%s", text);
    }
    (void)putchar(',');
    csv_field(run.error_class);
    (void)putchar('\n');
    bw_run_reset(&run);
  }
flush:
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
