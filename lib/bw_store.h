#ifndef BW_STORE_H
#define BW_STORE_H

#include <stddef.h>
#include <stdint.h>

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

/* One point of a metric's history. */
struct bw_point {
  int64_t run_id;
  int64_t started_us;
  double value;
};

/*
 * The window a baseline is computed from: the values of figure `metric` (a name from
 * bw_run_figures) of target_id's `ok` and `partial` runs (a capped download's rate stands) that
 * started at or after since_us and before until_us,
 * oldest first, at most max_runs of the newest (0: no limit). Runs where the figure is NULL are
 * left out. *ret is allocated (free() it), *ret_n its length.
 */
int bw_store_window(struct bw_store *store, int64_t target_id, const char *metric, int64_t since_us,
                    int64_t until_us, size_t max_runs, struct bw_point **ret, size_t *ret_n,
                    struct bw_errs *errs);

#endif
