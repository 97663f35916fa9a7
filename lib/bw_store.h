#ifndef BW_STORE_H
#define BW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_detect.h"
#include "bw_env.h"
#include "bw_result.h"
#include "bw_sql.h"
#include "bw_util.h"

/*
 * The SQLite database: the only module that speaks SQL. WAL mode, a busy timeout, foreign keys on,
 * prepared statements only. Functions return 0 or a negative errno (-ENOSPC for a full disk,
 * -EBUSY when another writer held the lock past the timeout, -EPROTO for a database from a newer
 * benchwatch, -EINVAL for a file that is not a benchwatch database, -EIO otherwise) and add a
 * sentence naming the file and SQLite's own words to errs.
 */
struct bw_store;

/*
 * Opens (creating if missing) the database at path and brings its schema to bw_sql_version in one
 * transaction. A database with a newer schema is refused and left untouched. On success *ret is
 * the store, for bw_store_close().
 */
int bw_store_open(const char *path, struct bw_store **ret, struct bw_errs *errs);

/* Like bw_store_open(), with another schema and migration list (for tests of the mechanism). */
int bw_store_open_with(const char *path, const char *schema, const struct bw_sql_migration *migs,
                       int version, struct bw_store **ret, struct bw_errs *errs);

/*
 * Opens an existing database read-only, for commands that only read history: never creates the
 * file nor changes its schema. A database whose schema is older than this program's is refused.
 */
int bw_store_open_readonly(const char *path, struct bw_store **ret, struct bw_errs *errs);

/* Closes the database. Accepts NULL. */
void bw_store_close(struct bw_store *store);

/* The schema version of the open database. */
int bw_store_version(const struct bw_store *store);

/*
 * Finds or creates the target (test, backend) and returns its stable id in *ret_id. backend is ""
 * (or NULL) for a test without backends. kind and url are updated when the config changed them.
 */
int bw_store_target(struct bw_store *store, const char *test, const char *backend,
                    enum bw_kind kind, const char *url, int64_t *ret_id, struct bw_errs *errs);

/*
 * Writes one run, its target (found or created from run->test/backend/kind/url) and its samples in
 * one transaction: all of it or, on error, nothing. *ret_id (may be NULL) gets the run's id.
 */
int bw_store_put_run(struct bw_store *store, const struct bw_run *run, int64_t *ret_id,
                     struct bw_errs *errs);

/* Reads run id back, samples included, into *ret (bw_run_init()ed by the call; caller resets). */
int bw_store_get_run(struct bw_store *store, int64_t id, struct bw_run *ret, struct bw_errs *errs);

/*
 * The window a baseline is computed from: the values of figure `metric` (a name from
 * bw_run_figures) of target_id's `ok` and `partial` runs (a capped download's rate stands) that
 * started at or after since_us and before until_us, not excluded for the metric (bad flags from
 * the marks),
 * oldest first, at most max_runs of the newest (0: no limit). Runs where the figure is NULL are
 * left out. *ret is allocated (free() it), *ret_n its length.
 */
int bw_store_window(struct bw_store *store, int64_t target_id, const char *metric, int64_t since_us,
                    int64_t until_us, size_t max_runs, struct bw_point **ret, size_t *ret_n,
                    struct bw_errs *errs);

/* A target's UTC day as run_day sums it (bw_store_days). */
struct bw_day {
  int64_t start_us; /* midnight UTC */
  size_t runs;      /* runs with the figure, and failed runs: what bw_store_series would list */
  size_t failed;
  double median;   /* the median of the day's figure (see sql/schema.sql), NAN without one */
  double stall_us; /* the sum of the day's stall_us, NAN when none was measured */
};

/*
 * target_id's days from run_day that start at or after from_us and before until_us, oldest
 * first, for metric "p50_us" or "rate_bps" (the figures run_day keeps a median of; another is
 * -EINVAL). A day without runs has no row. *ret is allocated (free() it).
 */
int bw_store_days(struct bw_store *store, int64_t target_id, const char *metric, int64_t from_us,
                  int64_t until_us, struct bw_day **ret, size_t *ret_n, struct bw_errs *errs);

/*
 * A target's runs as detection sees them, oldest first: ok and partial runs with the figure
 * `metric` (NULL figures left out), and failed runs with value NAN; aborted runs are left out.
 * started_us in [since_us, until_us). *ret is allocated (free() it).
 */
int bw_store_series(struct bw_store *store, int64_t target_id, const char *metric, int64_t since_us,
                    int64_t until_us, struct bw_point **ret, size_t *ret_n, struct bw_errs *errs);

/*
 * The environment (bw_env.h) of target_id in effect at at_us: its latest env row that began at
 * or before then. Returns 0 with *ret and *ret_since_us set, -ENOENT when there is none (both
 * untouched), or another -errno with a message in errs.
 */
int bw_store_env_at(struct bw_store *store, int64_t target_id, int64_t at_us, struct bw_env *ret,
                    int64_t *ret_since_us, struct bw_errs *errs);

/* Finds a target without creating it: *ret_id, or -ENOENT. */
int bw_store_find_target(struct bw_store *store, const char *test, const char *backend,
                         int64_t *ret_id, struct bw_errs *errs);

/* Transactions for a caller that writes several things at once (the judge): BEGIN IMMEDIATE. */
int bw_store_begin(struct bw_store *store, struct bw_errs *errs);
int bw_store_commit(struct bw_store *store, struct bw_errs *errs);
void bw_store_rollback(struct bw_store *store);

/*
 * Proves that runs can be stored: the file is not open read-only, PRAGMA quick_check finds it
 * (its schema and every table but run, sample, run_mark and run_day, which grow with every run)
 * sound, and a real write transaction (BEGIN IMMEDIATE, the schema version set to itself, COMMIT)
 * succeeds. Returns 0, or -EROFS (read-only), -EIO (damaged, with quick_check's first finding),
 * -EBUSY (another connection held the lock past the wait), -ENOSPC (a full disk) or another
 * errno from the store's list, with one sentence naming the file in errs.
 */
int bw_store_prove(struct bw_store *store, struct bw_errs *errs);

/*
 * Replaces the busy timeout: while another connection holds the lock, wait(arg, attempt) is asked
 * every few milliseconds whether to keep waiting (attempt is 0 at the first look of each wait);
 * when it returns false the statement fails with -EBUSY. It is called on the thread that uses the
 * store. NULL restores the default timeout.
 */
void bw_store_set_busy(struct bw_store *store, bool (*wait)(void *arg, int attempt), void *arg);

/* bw_store_put_run() inside the caller's transaction; *ret_target gets the target's id. */
int bw_store_put_run_in(struct bw_store *store, const struct bw_run *run, int64_t *ret_target,
                        int64_t *ret_id, struct bw_errs *errs);

/* The judge's memory for (target, metric): the figure's detector, or availability's. */
struct bw_judge_row {
  struct bw_detect_state perf;
  struct bw_avail_state avail;
  int64_t since_us; /* where the baseline window may start: 0, or the last ack */
};

/* Zero when there is none. */
int bw_store_judge_load(struct bw_store *store, int64_t target_id, const char *metric,
                        struct bw_judge_row *ret, struct bw_errs *errs);
int bw_store_judge_save(struct bw_store *store, int64_t target_id, const char *metric,
                        const struct bw_judge_row *row, int64_t run_id, struct bw_errs *errs);
/* bw_store_judge_load() and the open regression's opening time (BW_NONE when none is open). */
int bw_store_judge_state(struct bw_store *store, int64_t target_id, const char *metric,
                         struct bw_judge_row *ret, int64_t *ret_opened_us, struct bw_errs *errs);

/* Marks a run as judged bad for metric (it counts in later windows' bad runs), or excluded. */
int bw_store_mark(struct bw_store *store, int64_t run_id, const char *metric, bool excluded,
                  struct bw_errs *errs);
/* Excludes the target's runs marked bad for metric that started at or after since_us (for
 * availability: its failed runs). */
int bw_store_exclude_since(struct bw_store *store, int64_t target_id, const char *metric,
                           int64_t since_us, struct bw_errs *errs);
/* Availability's window: the target's runs in [since_us, until_us) that were not aborted nor
 * excluded: how many, how many failed, how many of those right after another failure. */
int bw_store_avail_window(struct bw_store *store, int64_t target_id, int64_t since_us,
                          int64_t until_us, size_t *ret_n, size_t *ret_fails, size_t *ret_pairs,
                          struct bw_errs *errs);
/* Opens or closes the target's regression of metric; *ret_id (may be NULL) gets its id. */
int bw_store_regression_open(struct bw_store *store, int64_t target_id, const char *metric,
                             int64_t run_id, int64_t started_us, double baseline, double observed,
                             double ratio, int64_t *ret_id, struct bw_errs *errs);
int bw_store_regression_close(struct bw_store *store, int64_t target_id, const char *metric,
                              int64_t run_id, int64_t started_us, int64_t *ret_id,
                              struct bw_errs *errs);
/* Forgets what the judge said about a target: its marks, its regressions that no person acked,
 * its detector's memory (for bw_judge_rebuild(), inside its transaction). */
int bw_store_judge_clear(struct bw_store *store, int64_t target_id, struct bw_errs *errs);
/* When people acked the target's regressions of metric, ascending (allocated). */
int bw_store_acks(struct bw_store *store, int64_t target_id, const char *metric, int64_t **ret,
                  size_t *ret_n, struct bw_errs *errs);

struct bw_regression {
  int64_t id;
  char *test;
  char *backend;
  char *metric;
  int64_t opened_us;
  int64_t closed_us; /* BW_NONE while open */
  int64_t acked_us;  /* BW_NONE unless a person accepted it */
  double baseline;
  double observed;
  double ratio;
};

/* Regressions opened at or after since_us, or (open_only) those still open; newest first. */
int bw_store_regressions(struct bw_store *store, int64_t since_us, bool open_only,
                         struct bw_regression **ret, size_t *ret_n, struct bw_errs *errs);
void bw_regressions_free(struct bw_regression *list, size_t n);

/*
 * Accepts regression id as the new normal: closes it as acked at now_us and restarts its target's
 * baseline from now_us (the detector's streaks reset, no verdict until min_runs new runs).
 * -ENOENT when there is no open regression with that id.
 */
int bw_store_ack(struct bw_store *store, int64_t id, int64_t now_us, struct bw_errs *errs);

/*
 * Whether target_id has a run, of any outcome, that started at exactly started_us: *ret. Imports
 * use it so that the same history is never added twice.
 */
int bw_store_run_exists(struct bw_store *store, int64_t target_id, int64_t started_us, bool *ret,
                        struct bw_errs *errs);

/*
 * Writes runs[0..n) as bw_store_put_run() does, all in one transaction (all of them or, on error,
 * none), except each run whose target already has a run that started at the same microsecond:
 * that one is left out, so importing the same history twice adds nothing. *ret_added (may be
 * NULL) gets how many were written; the others were there already.
 */
int bw_store_put_new_runs(struct bw_store *store, const struct bw_run *runs, size_t n,
                          size_t *ret_added, struct bw_errs *errs);

/* A target as the store knows it. */
struct bw_target_row {
  int64_t id;
  char *test;
  char *backend;
  enum bw_kind kind;
};

/* Every target, ordered by test and backend. bw_target_rows_free() frees the list. */
int bw_store_targets(struct bw_store *store, struct bw_target_row **ret, size_t *ret_n,
                     struct bw_errs *errs);
void bw_target_rows_free(struct bw_target_row *list, size_t n);

/* Failed runs of a target in [since_us, until_us), counted by error class, most frequent first. */
struct bw_error_count {
  char *error_class;
  int64_t count;
  char *last_message;
};
int bw_store_error_counts(struct bw_store *store, int64_t target_id, int64_t since_us,
                          int64_t until_us, struct bw_error_count **ret, size_t *ret_n,
                          struct bw_errs *errs);
void bw_error_counts_free(struct bw_error_count *list, size_t n);

/* A nightly report kept in the database until delivered. */
struct bw_report_row {
  int day; /* YYYYMMDD, local */
  char *subject;
  char *message;
  int64_t attempts;
};

/* Keeps the report of a day (a day already there is left as it is: one report per day).
 * *ret_created says whether it was new. */
int bw_store_report_add(struct bw_store *store, int day, int64_t now_us, const char *subject,
                        const char *message, bool *ret_created, struct bw_errs *errs);
/* Whether the report of a day was composed (delivered or not). */
bool bw_store_report_exists(struct bw_store *store, int day);

/* ---- retention ---- */

/* What a pass of retention deletes. A boundary of BW_NONE keeps that kind of row. */
struct bw_prune_plan {
  int64_t now_us;
  int64_t samples_before_us; /* samples of runs started before this go */
  int64_t runs_before_us;    /* runs started before this go, except: */
  int64_t baseline_us;       /* the runs of a target with an open regression from this long before
                                it opened (its baseline's window) stay, as do the runs that open
                                or close any regression */
  bool dry_run;              /* count only */
};

struct bw_prune_result {
  int64_t samples;     /* deleted, or to delete (dry run) */
  int64_t runs;
  int64_t runs_kept;   /* older than the boundary, kept for a regression */
  int64_t bytes_freed; /* returned to the file system by the incremental vacuum */
  bool shrinks;        /* the file gives freed pages back (auto_vacuum incremental) */
};

/*
 * Deletes old history in short transactions (a few hundred rows each), so that the writer is
 * never kept waiting long; days stay in run_day (their runs below the boundary no longer sum
 * them again). Records the pass in the prune table; then, when the file gives pages back,
 * returns the free ones. A pass cut short (an error, a crash) leaves a consistent database and
 * the next pass goes on from where it was.
 */
int bw_store_prune(struct bw_store *store, const struct bw_prune_plan *plan,
                   struct bw_prune_result *ret, struct bw_errs *errs);
/* When the last complete pass began; BW_NONE when none did (or on error). */
int64_t bw_store_last_prune(struct bw_store *store);
/*
 * Rewrites the file compactly (VACUUM) and makes it give pages back from now on (auto_vacuum
 * incremental), for a database made before that was the default. Needs room for a copy.
 */
int bw_store_vacuum(struct bw_store *store, int64_t *ret_bytes_freed, struct bw_errs *errs);
/* The reports not yet delivered, oldest day first. */
int bw_store_reports_unsent(struct bw_store *store, struct bw_report_row **ret, size_t *ret_n,
                            struct bw_errs *errs);
void bw_report_rows_free(struct bw_report_row *list, size_t n);
/* Records a delivery attempt: sent (error NULL) or failed with error. */
int bw_store_report_attempt(struct bw_store *store, int day, int64_t now_us, const char *error,
                            struct bw_errs *errs);

#endif
