#include "bw_store.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long a writer waits for another connection's lock before giving up with -EBUSY. */
#define BUSY_TIMEOUT_MS 5000
/* How long a caller-controlled wait (bw_store_set_busy) sleeps between two looks at the lock. */
#define BUSY_SLEEP_MS 10

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The statements every run uses. They are prepared on first use rather than at open so that
 * bw_store_open_with() works with a test schema that has none of these tables, and kept until
 * bw_store_close().
 */
enum stmt_id {
  ST_TARGET,
  ST_PUT_RUN,
  ST_PUT_SAMPLE,
  ST_GET_RUN,
  ST_GET_SAMPLES,
  ST_COUNT,
};

struct bw_store {
  sqlite3 *db;
  char *path;
  int version;
  char *sql[ST_COUNT];
  sqlite3_stmt *stmt[ST_COUNT];
  bool (*busy_wait)(void *arg, int attempt); /* bw_store_set_busy() */
  void *busy_arg;
};

/* A column holding a field of a struct, found by offset (like bw_run_figures). */
struct column {
  const char *name;
  size_t offset;
};

/* The run's text columns besides the target's; its numeric columns are bw_run_figures. */
static const struct column run_texts[] = {
    {"error_class", offsetof(struct bw_run, error_class)},
    {"error_message", offsetof(struct bw_run, error_message)},
    {"remote_ip", offsetof(struct bw_run, remote_ip)},
    {"http_version", offsetof(struct bw_run, http_version)},
    {"tcp_options", offsetof(struct bw_run, tcp_options)},
    {"stream_rates", offsetof(struct bw_run, stream_rates)},
    {"engine", offsetof(struct bw_run, engine)},
};

/* The sample's integer columns; error_class follows them. */
static const struct column sample_ints[] = {
    {"at_us", offsetof(struct bw_sample, at_us)},
    {"duration_us", offsetof(struct bw_sample, duration_us)},
    {"bytes", offsetof(struct bw_sample, bytes)},
    {"status", offsetof(struct bw_sample, status)},
    {"dns_us", offsetof(struct bw_sample, dns_us)},
    {"connect_us", offsetof(struct bw_sample, connect_us)},
    {"tls_us", offsetof(struct bw_sample, tls_us)},
    {"ttfb_us", offsetof(struct bw_sample, ttfb_us)},
};

/* Columns of the run query before the figures: started_us, outcome, texts, the target's four. */
#define GET_RUN_TEXT0 2
#define GET_RUN_TARGET0 (GET_RUN_TEXT0 + (int)N_ELEM(run_texts))
#define GET_RUN_FIGURE0 (GET_RUN_TARGET0 + 4)

static void add_err(struct bw_errs *errs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int prepare_once(struct bw_store *s, const char *sql, sqlite3_stmt **ret, const char *what,
                        struct bw_errs *errs);
static int fail_sql(struct bw_store *s, int rc, struct bw_errs *errs, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* bw_errs_add() for callers that may pass no list. */
static void add_err(struct bw_errs *errs, const char *fmt, ...) {
  va_list ap;
  char *msg;

  if (!errs)
    return;
  va_start(ap, fmt);
  msg = bw_xvasprintf(fmt, ap);
  va_end(ap);
  bw_errs_add(errs, "%s", msg);
  free(msg);
}

/* Maps an SQLite result code to the negative errno promised in bw_store.h. */
static int sqlite_errno(sqlite3 *db, int rc) {
  int sys = db ? sqlite3_system_errno(db) : 0;

  switch (rc & 0xff) {
  case SQLITE_FULL:
    return -ENOSPC;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return -EBUSY;
  case SQLITE_NOTADB:
    return -EINVAL;
  case SQLITE_CANTOPEN:
    return sys == ENOENT || sys == ENOTDIR ? -ENOENT : -EACCES;
  case SQLITE_READONLY:
    return -EROFS;
  default:
    return -EIO;
  }
}

/*
 * Reports that something failed on the store's file, as "PATH: what failed: SQLite's words", and
 * returns the matching errno. Call it before anything else touches the connection (a ROLLBACK
 * would replace SQLite's message).
 */
static int fail_sql(struct bw_store *s, int rc, struct bw_errs *errs, const char *fmt, ...) {
  int sys = s->db ? sqlite3_system_errno(s->db) : 0;
  int primary = rc & 0xff;
  va_list ap;
  char *what;

  if (primary == SQLITE_NOTADB) {
    add_err(errs, "%s: not an SQLite database", s->path);
    return sqlite_errno(s->db, rc);
  }
  va_start(ap, fmt);
  what = bw_xvasprintf(fmt, ap);
  va_end(ap);
  /* For a file SQLite could not open or read, the system's reason is the useful part. */
  if (sys && (primary == SQLITE_CANTOPEN || primary == SQLITE_IOERR))
    add_err(errs, "%s: %s: %s (%s)", s->path, what, sqlite3_errmsg(s->db), strerror(sys));
  else
    add_err(errs, "%s: %s: %s", s->path, what, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
  free(what);
  return sqlite_errno(s->db, rc);
}

/* Runs SQL without results (pragmas, transaction control). */
static int exec(struct bw_store *s, const char *sql, const char *what, struct bw_errs *errs) {
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return fail_sql(s, rc, errs, "%s", what);
  return 0;
}

/* Ends the open transaction, if SQLite has not already ended it (it does on some errors). */
static void rollback(struct bw_store *s) {
  if (!sqlite3_get_autocommit(s->db))
    (void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs sql, which must yield a row, and stores its first n columns as integers in ret. */
static int query_ints(struct bw_store *s, const char *sql, int64_t *ret, int n, const char *what,
                      struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int rc, r = 0;

  rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    add_err(errs, "%s: %s: SQLite gave no answer", s->path, what);
    r = -EIO;
    goto out;
  }
  if (rc != SQLITE_ROW) {
    r = fail_sql(s, rc, errs, "%s", what);
    goto out;
  }
  for (int i = 0; i < n; i++)
    ret[i] = sqlite3_column_int64(st, i);
out:
  (void)sqlite3_finalize(st);
  return r;
}

/* Returns the cached statement id, preparing it on first use. */
static int prepare(struct bw_store *s, enum stmt_id id, sqlite3_stmt **ret, struct bw_errs *errs) {
  int rc;

  if (!s->stmt[id]) {
    rc = sqlite3_prepare_v3(s->db, s->sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
    if (rc != SQLITE_OK)
      return fail_sql(s, rc, errs, "cannot prepare a statement");
  }
  *ret = s->stmt[id];
  return 0;
}

/*
 * Makes a cached statement ready for its next use. Resetting also ends its read of the database:
 * a statement left mid-step would hold a WAL snapshot open and stop checkpoints.
 */
static void release(sqlite3_stmt *st) {
  if (!st)
    return;
  (void)sqlite3_reset(st);
  (void)sqlite3_clear_bindings(st);
}

/* The store's conventions: BW_NONE, NAN and NULL pointers are SQL NULL. */
static int bind_int(sqlite3_stmt *st, int i, int64_t v) {
  return v == BW_NONE ? sqlite3_bind_null(st, i) : sqlite3_bind_int64(st, i, v);
}

static int bind_text(sqlite3_stmt *st, int i, const char *v) {
  return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static int64_t column_int(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? BW_NONE : sqlite3_column_int64(st, i);
}

static char *column_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);

  return t ? bw_xstrdup((const char *)t) : NULL;
}

static int64_t get_int(const void *base, size_t offset) {
  int64_t v;

  memcpy(&v, (const char *)base + offset, sizeof(v));
  return v;
}

static void set_int(void *base, size_t offset, int64_t v) {
  memcpy((char *)base + offset, &v, sizeof(v));
}

static char *get_ptr(const void *base, size_t offset) {
  char *p;

  memcpy(&p, (const char *)base + offset, sizeof(p));
  return p;
}

static void set_ptr(void *base, size_t offset, char *p) {
  memcpy((char *)base + offset, &p, sizeof(p));
}

/* Binds a run figure, whichever its type (an int64 figure exactly, not through a double). */
static int bind_figure(sqlite3_stmt *st, int i, const struct bw_figure *f,
                       const struct bw_run *run) {
  double v;

  if (!f->real)
    return bind_int(st, i, get_int(run, f->offset));
  return bw_figure_get(f, run, &v) ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

static void read_figure(sqlite3_stmt *st, int i, const struct bw_figure *f, struct bw_run *run) {
  if (sqlite3_column_type(st, i) == SQLITE_NULL)
    bw_figure_clear(f, run);
  else if (f->real)
    bw_figure_set(f, run, sqlite3_column_double(st, i));
  else
    set_int(run, f->offset, sqlite3_column_int64(st, i));
}

/* A growing string for building the statements from the column tables. */
struct sqlbuf {
  char *s;
  size_t len;
  size_t cap;
};

static void sql_add(struct sqlbuf *b, const char *text) {
  size_t n = strlen(text);

  bw_xgrow(&b->s, &b->cap, b->len + n + 1, 1);
  memcpy(b->s + b->len, text, n + 1);
  b->len += n;
}

/* Appends ", " then prefix and name to cols, and ", ?" to vals (when given). */
static void sql_column(struct sqlbuf *cols, struct sqlbuf *vals, const char *prefix,
                       const char *name) {
  sql_add(cols, ", ");
  sql_add(cols, prefix);
  sql_add(cols, name);
  if (vals)
    sql_add(vals, ", ?");
}

/*
 * Builds the run and sample statements from the column tables, so that a new figure in
 * bw_run_figures is stored and read back without touching this file (beyond a migration adding
 * its column).
 */
static void build_sql(struct bw_store *s) {
  struct sqlbuf cols = {0}, vals = {0}, get = {0}, scols = {0}, svals = {0}, sget = {0};

  sql_add(&cols, "target_id, started_us, outcome");
  sql_add(&vals, "?, ?, ?");
  sql_add(&get, "r.started_us, r.outcome");
  for (size_t i = 0; i < N_ELEM(run_texts); i++) {
    sql_column(&cols, &vals, "", run_texts[i].name);
    sql_column(&get, NULL, "r.", run_texts[i].name);
  }
  sql_add(&get, ", t.name, t.backend, t.kind, t.url");
  for (const struct bw_figure *f = bw_run_figures; f->name; f++) {
    sql_column(&cols, &vals, "", f->name);
    sql_column(&get, NULL, "r.", f->name);
  }
  sql_add(&scols, "run_id, seq");
  sql_add(&svals, "?, ?");
  sql_add(&sget, "seq");
  for (size_t i = 0; i < N_ELEM(sample_ints); i++) {
    sql_column(&scols, &svals, "", sample_ints[i].name);
    sql_column(&sget, NULL, "", sample_ints[i].name);
  }
  sql_column(&scols, &svals, "", "error_class");
  sql_column(&sget, NULL, "", "error_class");

  s->sql[ST_TARGET] = bw_xstrdup(
      "INSERT INTO target (name, backend, kind, url, created_us) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT (name, backend) DO UPDATE SET kind = excluded.kind, url = excluded.url "
      "RETURNING id");
  s->sql[ST_PUT_RUN] = bw_xasprintf("INSERT INTO run (%s) VALUES (%s)", cols.s, vals.s);
  s->sql[ST_GET_RUN] = bw_xasprintf(
      "SELECT %s FROM run r JOIN target t ON t.id = r.target_id WHERE r.id = ?", get.s);
  s->sql[ST_PUT_SAMPLE] = bw_xasprintf("INSERT INTO sample (%s) VALUES (%s)", scols.s, svals.s);
  s->sql[ST_GET_SAMPLES] =
      bw_xasprintf("SELECT %s FROM sample WHERE run_id = ? ORDER BY seq", sget.s);
  free(cols.s);
  free(vals.s);
  free(get.s);
  free(scols.s);
  free(svals.s);
  free(sget.s);
}

/* The schema version in the file and how many schema objects it has, read in one snapshot. */
static int read_state(struct bw_store *s, int64_t *ret_version, int64_t *ret_objects,
                      struct bw_errs *errs) {
  int64_t v[2];
  int r;

  r = query_ints(s,
                 "SELECT (SELECT user_version FROM pragma_user_version),"
                 " (SELECT count(*) FROM sqlite_master)",
                 v, 2, "cannot read the schema version", errs);
  if (r < 0)
    return r;
  *ret_version = v[0];
  *ret_objects = v[1];
  return 0;
}

/* Refuses a file that is not ours to change: a newer schema, or another program's tables. */
static int check_state(struct bw_store *s, int64_t version, int64_t objects, int known,
                       struct bw_errs *errs) {
  if (version > known) {
    add_err(errs,
            "%s: database schema version %" PRId64 " is newer than this benchwatch understands"
            " (version %d); upgrade benchwatch or use another database",
            s->path, version, known);
    return -EPROTO;
  }
  if (version < 0) {
    add_err(errs, "%s: not a benchwatch database (schema version %" PRId64 ")", s->path, version);
    return -EINVAL;
  }
  if (version == 0 && objects > 0) {
    add_err(errs, "%s: not a benchwatch database (it has tables but no benchwatch schema version)",
            s->path);
    return -EINVAL;
  }
  return 0;
}

static int use_wal(struct bw_store *s, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  const char *mode;
  int rc, r = 0;

  rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    r = fail_sql(s, rc, errs, "cannot switch to WAL mode");
    goto out;
  }
  mode = (const char *)sqlite3_column_text(st, 0);
  if (!mode || strcmp(mode, "wal") != 0) {
    add_err(errs, "%s: cannot switch to WAL mode: the journal mode stayed %s", s->path,
            mode ? mode : "unknown");
    r = -EIO;
  }
out:
  (void)sqlite3_finalize(st);
  return r;
}

/* Runs the schema or a migration inside the migration's transaction. */
static int exec_script(struct bw_store *s, const char *sql, const char *name,
                       struct bw_errs *errs) {
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    return fail_sql(s, rc, errs, "%s failed", name);
  if (sqlite3_get_autocommit(s->db)) {
    add_err(errs, "%s: %s ended the schema update's transaction (no BEGIN or COMMIT in sql/)",
            s->path, name);
    return -EIO;
  }
  return 0;
}

/*
 * Brings the database to version in one transaction: the schema for an empty database, else each
 * migration above its version in order. On error nothing changes. Foreign keys are still off here
 * (they are turned on after), so a migration may rebuild a table the way SQLite documents without
 * cascading deletes; their consistency is checked before the commit instead.
 */
static int migrate(struct bw_store *s, const char *schema, const struct bw_sql_migration *migs,
                   int version, struct bw_errs *errs) {
  int64_t have = 0, objects = 0, broken = 0;
  char sql[64];
  int r;

  r = exec(s, "BEGIN IMMEDIATE", "cannot lock the database to update its schema", errs);
  if (r < 0)
    return r;
  /* Another process may have updated it while we waited for the lock. */
  r = read_state(s, &have, &objects, errs);
  if (r < 0)
    goto fail;
  r = check_state(s, have, objects, version, errs);
  if (r < 0)
    goto fail;
  if (have == 0) {
    r = exec_script(s, schema, "the schema", errs);
  } else {
    for (const struct bw_sql_migration *m = migs; m->sql && r == 0 && have < version; m++) {
      if (m->version <= have)
        continue;
      if (m->version != have + 1)
        break;
      r = exec_script(s, m->sql, m->name, errs);
      have = m->version;
    }
    if (r == 0 && have < version) {
      add_err(errs, "%s: no migration from schema version %" PRId64 " to %" PRId64, s->path, have,
              have + 1);
      r = -EIO;
    }
  }
  if (r < 0)
    goto fail;
  r = query_ints(s, "SELECT count(*) FROM pragma_foreign_key_check", &broken, 1,
                 "cannot check foreign keys", errs);
  if (r < 0)
    goto fail;
  if (broken > 0) {
    add_err(errs, "%s: the schema update leaves %" PRId64 " rows with broken foreign keys", s->path,
            broken);
    r = -EIO;
    goto fail;
  }
  (void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
  r = exec(s, sql, "cannot set the schema version", errs);
  if (r < 0)
    goto fail;
  r = exec(s, "COMMIT", "cannot commit the schema update", errs);
  if (r < 0)
    goto fail;
  return 0;
fail:
  rollback(s);
  return r;
}

int bw_store_open(const char *path, struct bw_store **ret, struct bw_errs *errs) {
  return bw_store_open_with(path, bw_sql_schema, bw_sql_migrations, bw_sql_version, ret, errs);
}

int bw_store_open_with(const char *path, const char *schema, const struct bw_sql_migration *migs,
                       int version, struct bw_store **ret, struct bw_errs *errs) {
  struct bw_store *s;
  int64_t have = 0, objects = 0, fk = 0;
  int rc, r;

  if (!path || !schema || !migs || version < 1) {
    add_err(errs, "%s: no database or schema to open", path ? path : "(null)");
    return -EINVAL;
  }
  s = bw_xcalloc(1, sizeof(*s));
  s->path = bw_xstrdup(path);
  rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    r = fail_sql(s, rc, errs, "cannot open the database");
    goto fail;
  }
  rc = sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  if (rc != SQLITE_OK) {
    r = fail_sql(s, rc, errs, "cannot set the busy timeout");
    goto fail;
  }
  /* Nothing is written before this check: a file we must not change stays as it was. */
  r = read_state(s, &have, &objects, errs);
  if (r < 0)
    goto fail;
  r = check_state(s, have, objects, version, errs);
  if (r < 0)
    goto fail;
  /* A new file gives the pages retention frees back to the file system (only settable while
   * the file has no tables). */
  if (objects == 0) {
    r = exec(s, "PRAGMA auto_vacuum = INCREMENTAL", "cannot set the vacuum mode", errs);
    if (r < 0)
      goto fail;
  }
  r = use_wal(s, errs);
  if (r < 0)
    goto fail;
  r = exec(s, "PRAGMA synchronous = NORMAL", "cannot set synchronous mode", errs);
  if (r < 0)
    goto fail;
  if (have < version) {
    r = migrate(s, schema, migs, version, errs);
    if (r < 0)
      goto fail;
  }
  r = exec(s, "PRAGMA foreign_keys = ON", "cannot turn foreign keys on", errs);
  if (r < 0)
    goto fail;
  r = query_ints(s, "PRAGMA foreign_keys", &fk, 1, "cannot turn foreign keys on", errs);
  if (r < 0)
    goto fail;
  if (fk != 1) {
    add_err(errs, "%s: this SQLite does not enforce foreign keys", s->path);
    r = -EIO;
    goto fail;
  }
  s->version = version;
  build_sql(s);
  *ret = s;
  return 0;
fail:
  bw_store_close(s);
  return r;
}

/* Opens path read-only (as a URI when uri) and reads its schema version and object count. */
static int open_ro(struct bw_store *s, const char *name, bool uri, int64_t *ret_have,
                   int64_t *ret_objects, struct bw_errs *errs) {
  int rc = sqlite3_open_v2(name, &s->db, SQLITE_OPEN_READONLY | (uri ? SQLITE_OPEN_URI : 0), NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  if (rc != SQLITE_OK)
    return fail_sql(s, rc, errs, "cannot open the database");
  return read_state(s, ret_have, ret_objects, errs);
}

int bw_store_open_readonly(const char *path, struct bw_store **ret, struct bw_errs *errs) {
  struct bw_store *s = bw_xcalloc(1, sizeof(*s));
  struct bw_errs first = {0};
  int64_t have = 0, objects = 0;
  int r;

  s->path = bw_xstrdup(path);
  r = open_ro(s, path, false, &have, &objects, &first);
  if (r < 0 && !strpbrk(path, "?#%")) {
    /* A WAL database whose -shm is gone (no writer open), in a directory this user may not
     * write: SQLite cannot open it read-only, but with no writer it may read the file as it
     * is. */
    char *uri = bw_xasprintf("file:%s?immutable=1", path);
    (void)sqlite3_close(s->db);
    s->db = NULL;
    r = open_ro(s, uri, true, &have, &objects, errs);
    free(uri);
  } else if (r < 0) {
    for (size_t i = 0; i < first.n; i++)
      add_err(errs, "%s", first.msg[i]);
  }
  bw_errs_clear(&first);
  if (r == 0)
    r = check_state(s, have, objects, bw_sql_version, errs);
  if (r < 0)
    goto fail;
  if (have < bw_sql_version) {
    add_err(errs,
            "%s: %s (schema version %" PRId64 ", this benchwatch reads %d); benchwatchd or "
            "benchwatch import brings it up to date",
            path, have == 0 ? "not a benchwatch database yet" : "an older benchwatch database",
            have, bw_sql_version);
    r = -EPROTO;
    goto fail;
  }
  s->version = bw_sql_version;
  build_sql(s);
  *ret = s;
  return 0;
fail:
  bw_store_close(s);
  return r;
}

void bw_store_close(struct bw_store *store) {
  if (!store)
    return;
  for (int i = 0; i < ST_COUNT; i++) {
    (void)sqlite3_finalize(store->stmt[i]);
    free(store->sql[i]);
  }
  (void)sqlite3_close(store->db);
  free(store->path);
  free(store);
}

int bw_store_version(const struct bw_store *store) {
  return store->version;
}

static int64_t now_us(void) {
  struct timespec ts;

  (void)clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Finds or creates a target, inside the caller's transaction or on its own. */
static int upsert_target(struct bw_store *s, const char *test, const char *backend,
                         enum bw_kind kind, const char *url, int64_t *ret_id,
                         struct bw_errs *errs) {
  const char *kind_name = bw_kind_name(kind);
  sqlite3_stmt *st = NULL;
  int64_t id = 0;
  int rc, r;

  if (!test || !*test) {
    add_err(errs, "a run without a test name cannot be stored");
    return -EINVAL;
  }
  if (!kind_name || !url) {
    add_err(errs, "test %s: %s", test, url ? "unknown kind" : "no URL");
    return -EINVAL;
  }
  r = prepare(s, ST_TARGET, &st, errs);
  if (r < 0)
    return r;
  rc = bind_text(st, 1, test);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 2, backend ? backend : "");
  if (rc == SQLITE_OK)
    rc = bind_text(st, 3, kind_name);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 4, url);
  if (rc == SQLITE_OK)
    rc = bind_int(st, 5, now_us());
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    id = sqlite3_column_int64(st, 0);
    /* The statement completes (and, outside a transaction, commits) at SQLITE_DONE. */
    rc = sqlite3_step(st);
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(s, rc, errs, "cannot store target %s", test);
    goto out;
  }
  *ret_id = id;
out:
  release(st);
  return r;
}

int bw_store_target(struct bw_store *store, const char *test, const char *backend,
                    enum bw_kind kind, const char *url, int64_t *ret_id, struct bw_errs *errs) {
  return upsert_target(store, test, backend, kind, url, ret_id, errs);
}

static int put_sample(struct bw_store *s, int64_t run_id, size_t seq,
                      const struct bw_sample *sample, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int i = 1, rc, r;

  r = prepare(s, ST_PUT_SAMPLE, &st, errs);
  if (r < 0)
    return r;
  rc = sqlite3_bind_int64(st, i++, run_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, i++, (int64_t)seq);
  for (size_t c = 0; c < N_ELEM(sample_ints) && rc == SQLITE_OK; c++)
    rc = bind_int(st, i++, get_int(sample, sample_ints[c].offset));
  if (rc == SQLITE_OK)
    rc = bind_text(st, i, sample->error_class);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_DONE)
    r = fail_sql(s, rc, errs, "cannot store sample %zu", seq);
  release(st);
  return r;
}

static int env_text(sqlite3_stmt *st, int col, char out[BW_ENV_TEXT_MAX]) {
  const unsigned char *v = sqlite3_column_text(st, col);
  if (v && strlen((const char *)v) < BW_ENV_TEXT_MAX)
    memcpy(out, v, strlen((const char *)v) + 1);
  return 0;
}

static int64_t env_int(sqlite3_stmt *st, int col) {
  return sqlite3_column_type(st, col) == SQLITE_NULL ? BW_NONE : sqlite3_column_int64(st, col);
}

int bw_store_env_at(struct bw_store *store, int64_t target_id, int64_t at_us, struct bw_env *ret,
                    int64_t *ret_since_us, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int r = prepare_once(store,
                       "SELECT since_us, ifname, mtu, tcp_timestamps, tcp_rmem, tcp_wmem, tcp_cc "
                       "FROM env WHERE target_id = ? AND since_us <= ? "
                       "ORDER BY since_us DESC, id DESC LIMIT 1",
                       &st, "cannot read a target's environment", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, at_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    struct bw_env e;
    bw_env_init(&e);
    (void)env_text(st, 1, e.ifname);
    e.mtu = env_int(st, 2);
    e.tcp_timestamps = env_int(st, 3);
    (void)env_text(st, 4, e.tcp_rmem);
    (void)env_text(st, 5, e.tcp_wmem);
    (void)env_text(st, 6, e.tcp_cc);
    *ret = e;
    *ret_since_us = sqlite3_column_int64(st, 0);
  } else if (rc == SQLITE_DONE) {
    r = -ENOENT;
  } else {
    r = fail_sql(store, rc, errs, "cannot read the environment of target %" PRId64, target_id);
  }
  (void)sqlite3_finalize(st);
  return r;
}

/*
 * Keeps the run's environment when it differs from the one its target had at the run's start,
 * so that a settled host adds nothing. A run without one, or with one that does not parse (a
 * newer program's, spooled), changes nothing.
 */
static int put_env(struct bw_store *store, const struct bw_run *run, int64_t target_id,
                   int64_t run_id, struct bw_errs *errs) {
  struct bw_env env, was;
  int64_t since;
  if (!run->env || bw_env_parse(run->env, &env) < 0 || bw_env_empty(&env))
    return 0;
  int r = bw_store_env_at(store, target_id, run->started_us, &was, &since, errs);
  if (r == 0 && bw_env_same(&was, &env))
    return 0;
  if (r < 0 && r != -ENOENT)
    return r;
  sqlite3_stmt *st = NULL;
  r = prepare_once(store,
                   "INSERT INTO env (target_id, since_us, run_id, ifname, mtu, tcp_timestamps, "
                   "tcp_rmem, tcp_wmem, tcp_cc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   &st, "cannot store an environment", errs);
  if (r < 0)
    return r;
  int i = 1;
  int rc = sqlite3_bind_int64(st, i++, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, i++, run->started_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, i++, run_id);
  if (rc == SQLITE_OK)
    rc = bind_text(st, i++, env.ifname[0] ? env.ifname : NULL);
  if (rc == SQLITE_OK)
    rc = bind_int(st, i++, env.mtu);
  if (rc == SQLITE_OK)
    rc = bind_int(st, i++, env.tcp_timestamps);
  if (rc == SQLITE_OK)
    rc = bind_text(st, i++, env.tcp_rmem[0] ? env.tcp_rmem : NULL);
  if (rc == SQLITE_OK)
    rc = bind_text(st, i++, env.tcp_wmem[0] ? env.tcp_wmem : NULL);
  if (rc == SQLITE_OK)
    rc = bind_text(st, i++, env.tcp_cc[0] ? env.tcp_cc : NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_DONE)
    r = fail_sql(store, rc, errs, "cannot store the environment of a run of %s", run->test);
  (void)sqlite3_finalize(st);
  return r;
}

/* Writes the run, its target and its samples inside the caller's transaction. */
static int put_run_locked(struct bw_store *store, const struct bw_run *run, int64_t *ret_target,
                          int64_t *ret_id, struct bw_errs *errs) {
  const char *outcome = bw_outcome_name(run->outcome);
  sqlite3_stmt *st = NULL;
  int64_t target_id = 0, run_id;
  int i = 1, rc, r;

  if (run->started_us == BW_NONE || !outcome) {
    add_err(errs, "test %s: %s", run->test ? run->test : "(unnamed)",
            outcome ? "run has no start time" : "run has an unknown outcome");
    return -EINVAL;
  }
  r = upsert_target(store, run->test, run->backend, run->kind, run->url, &target_id, errs);
  if (r < 0)
    return r;
  r = prepare(store, ST_PUT_RUN, &st, errs);
  if (r < 0)
    return r;
  rc = sqlite3_bind_int64(st, i++, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, i++, run->started_us);
  if (rc == SQLITE_OK)
    rc = bind_text(st, i++, outcome);
  for (size_t c = 0; c < N_ELEM(run_texts) && rc == SQLITE_OK; c++)
    rc = bind_text(st, i++, get_ptr(run, run_texts[c].offset));
  for (const struct bw_figure *f = bw_run_figures; f->name && rc == SQLITE_OK; f++)
    rc = bind_figure(st, i++, f, run);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot store a run of %s", run->test);
    release(st);
    return r;
  }
  run_id = sqlite3_last_insert_rowid(store->db);
  release(st);
  for (size_t n = 0; n < run->n_samples; n++) {
    r = put_sample(store, run_id, n, &run->samples[n], errs);
    if (r < 0)
      return r;
  }
  r = put_env(store, run, target_id, run_id, errs);
  if (r < 0)
    return r;
  if (ret_target)
    *ret_target = target_id;
  if (ret_id)
    *ret_id = run_id;
  return 0;
}

int bw_store_put_run(struct bw_store *store, const struct bw_run *run, int64_t *ret_id,
                     struct bw_errs *errs) {
  int64_t id = 0;
  int r = bw_store_begin(store, errs);
  if (r < 0)
    return r;
  r = put_run_locked(store, run, NULL, &id, errs);
  if (r == 0)
    r = bw_store_commit(store, errs);
  if (r < 0) {
    bw_store_rollback(store);
    return r;
  }
  if (ret_id)
    *ret_id = id;
  return 0;
}

int bw_store_put_run_in(struct bw_store *store, const struct bw_run *run, int64_t *ret_target,
                        int64_t *ret_id, struct bw_errs *errs) {
  return put_run_locked(store, run, ret_target, ret_id, errs);
}

int bw_store_begin(struct bw_store *store, struct bw_errs *errs) {
  return exec(store, "BEGIN IMMEDIATE", "cannot start a transaction", errs);
}

int bw_store_commit(struct bw_store *store, struct bw_errs *errs) {
  return exec(store, "COMMIT", "cannot commit", errs);
}

void bw_store_rollback(struct bw_store *store) {
  rollback(store);
}

int bw_store_prove(struct bw_store *store, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  char sql[64];
  int rc, r;

  /* SQLite opens a file it may not write read-only without a word; every write fails later. */
  if (sqlite3_db_readonly(store->db, "main") == 1) {
    add_err(errs, "%s: the database is read-only: runs cannot be stored", store->path);
    return -EROFS;
  }
  /*
   * PRAGMA quick_check over the whole file reads every page: 15 s at 26 million runs, and more
   * each year. The tables that grow with every run (run, sample, run_mark, run_day) are left to
   * SQLite, which reports a damaged page of theirs when a read or write touches it (the run is
   * then spooled); every other table and its indexes, and the schema, are checked here.
   */
  rc = sqlite3_prepare_v2(store->db,
                          "SELECT t.name, c.quick_check FROM sqlite_schema t,"
                          " pragma_quick_check(t.name) c WHERE t.type = 'table'"
                          " AND t.name NOT IN ('run', 'sample', 'run_mark', 'run_day')"
                          " AND t.name NOT LIKE 'sqlite_%' AND c.quick_check <> 'ok' LIMIT 1",
                          -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot check the database");
    (void)sqlite3_finalize(st);
    return r;
  }
  if (rc == SQLITE_ROW) {
    const char *verdict = (const char *)sqlite3_column_text(st, 1);
    /* Its findings come in lines: one line of log is one message. */
    char *one = bw_xstrdup(verdict ? verdict : "no answer");
    for (char *p = one; *p; p++)
      if (*p == '\n')
        *p = ' ';
    add_err(errs, "%s: the database is damaged: PRAGMA quick_check: %s", store->path, one);
    free(one);
    (void)sqlite3_finalize(st);
    return -EIO;
  }
  (void)sqlite3_finalize(st);
  /* A real write: the schema version set to itself in a transaction of its own. */
  r = exec(store, "BEGIN IMMEDIATE", "cannot start a write", errs);
  if (r < 0)
    return r;
  (void)snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", store->version);
  r = exec(store, sql, "cannot write", errs);
  if (r == 0)
    r = exec(store, "COMMIT", "cannot commit a write", errs);
  if (r < 0)
    rollback(store);
  return r;
}

/* SQLite's busy handler: asks the owner's wait function, then sleeps a little and tries again. */
static int busy_handler(void *arg, int attempt) {
  struct bw_store *s = arg;

  if (!s->busy_wait(s->busy_arg, attempt))
    return 0;
  (void)sqlite3_sleep(BUSY_SLEEP_MS);
  return 1;
}

void bw_store_set_busy(struct bw_store *store, bool (*wait)(void *arg, int attempt),
                       void *arg) {
  store->busy_wait = wait;
  store->busy_arg = arg;
  if (wait)
    (void)sqlite3_busy_handler(store->db, busy_handler, store);
  else
    (void)sqlite3_busy_timeout(store->db, BUSY_TIMEOUT_MS);
}

/* Reads the row of ST_GET_RUN into run; returns 0 or -EIO for a value the schema should forbid. */
static int read_run(struct bw_store *s, sqlite3_stmt *st, int64_t id, struct bw_run *run,
                    struct bw_errs *errs) {
  const char *outcome = (const char *)sqlite3_column_text(st, 1);
  const char *kind = (const char *)sqlite3_column_text(st, GET_RUN_TARGET0 + 2);
  int i = GET_RUN_FIGURE0;

  if (bw_outcome_parse(outcome, &run->outcome) < 0 || bw_kind_parse(kind, &run->kind) < 0) {
    add_err(errs, "%s: run %" PRId64 " has an unknown outcome or kind", s->path, id);
    return -EIO;
  }
  run->started_us = column_int(st, 0);
  for (size_t c = 0; c < N_ELEM(run_texts); c++)
    set_ptr(run, run_texts[c].offset, column_text(st, GET_RUN_TEXT0 + (int)c));
  run->test = column_text(st, GET_RUN_TARGET0);
  run->backend = column_text(st, GET_RUN_TARGET0 + 1);
  run->url = column_text(st, GET_RUN_TARGET0 + 3);
  for (const struct bw_figure *f = bw_run_figures; f->name; f++)
    read_figure(st, i++, f, run);
  return 0;
}

int bw_store_get_run(struct bw_store *store, int64_t id, struct bw_run *ret, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  struct bw_sample sample;
  struct bw_sample *added;
  int rc, r;

  bw_run_init(ret);
  /* One read transaction, so the run and its samples come from the same snapshot. */
  r = exec(store, "BEGIN", "cannot start a transaction", errs);
  if (r < 0)
    return r;
  r = prepare(store, ST_GET_RUN, &st, errs);
  if (r < 0)
    goto fail;
  rc = sqlite3_bind_int64(st, 1, id);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_DONE) {
    add_err(errs, "%s: there is no run %" PRId64, store->path, id);
    r = -ENOENT;
    goto fail;
  }
  if (rc != SQLITE_ROW) {
    r = fail_sql(store, rc, errs, "cannot read run %" PRId64, id);
    goto fail;
  }
  r = read_run(store, st, id, ret, errs);
  if (r < 0)
    goto fail;
  release(st);
  r = prepare(store, ST_GET_SAMPLES, &st, errs);
  if (r < 0)
    goto fail;
  rc = sqlite3_bind_int64(st, 1, id);
  while (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
      break;
    bw_sample_init(&sample);
    for (size_t c = 0; c < N_ELEM(sample_ints); c++)
      set_int(&sample, sample_ints[c].offset, column_int(st, 1 + (int)c));
    added = bw_run_add_sample(ret, &sample);
    added->error_class = column_text(st, 1 + (int)N_ELEM(sample_ints));
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot read the samples of run %" PRId64, id);
    goto fail;
  }
  release(st);
  r = exec(store, "COMMIT", "cannot end a read transaction", errs);
  if (r < 0)
    goto fail;
  return 0;
fail:
  release(st);
  rollback(store);
  bw_run_reset(ret);
  return r;
}

int bw_store_window(struct bw_store *store, int64_t target_id, const char *metric, int64_t since_us,
                    int64_t until_us, size_t max_runs, struct bw_point **ret, size_t *ret_n,
                    struct bw_errs *errs) {
  const struct bw_figure *f = metric ? bw_figure_find(metric) : NULL;
  struct bw_point *points = NULL;
  size_t n = 0, cap = 0;
  sqlite3_stmt *st = NULL;
  char *sql = NULL;
  int rc, r = 0;

  if (!f) {
    add_err(errs, "unknown metric %s", metric ? metric : "(none)");
    return -EINVAL;
  }
  /*
   * The column name comes from the catalogue, never from the caller. Newest first, so that LIMIT
   * keeps the newest runs and SQLite walks run_target_started backwards without sorting; the
   * points are turned round below.
   */
  sql = bw_xasprintf("SELECT r.id, r.started_us, r.%s, k.run_id IS NOT NULL FROM run r"
                     " LEFT JOIN run_mark k ON k.run_id = r.id AND k.metric = '%s'"
                     " WHERE r.target_id = ? AND r.started_us >= ? AND r.started_us < ?"
                     " AND r.outcome IN ('ok', 'partial') AND r.%s IS NOT NULL"
                     " AND coalesce(k.excluded, 0) = 0"
                     " ORDER BY r.started_us DESC, r.id DESC LIMIT ?",
                     f->name, f->name, f->name);
  rc = sqlite3_prepare_v2(store->db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, since_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, until_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 4, max_runs == 0 || max_runs > INT64_MAX ? -1 : (int64_t)max_runs);
  while (rc == SQLITE_OK) {
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
      break;
    bw_xgrow(&points, &cap, n + 1, sizeof(*points));
    points[n].run_id = sqlite3_column_int64(st, 0);
    points[n].started_us = sqlite3_column_int64(st, 1);
    points[n].value = sqlite3_column_double(st, 2);
    points[n].bad = sqlite3_column_int(st, 3) != 0;
    n++;
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot read the history of %s", f->name);
    goto out;
  }
  for (size_t i = 0; i < n / 2; i++) {
    struct bw_point t = points[i];
    points[i] = points[n - 1 - i];
    points[n - 1 - i] = t;
  }
  *ret = points;
  *ret_n = n;
  points = NULL;
out:
  (void)sqlite3_finalize(st);
  free(points);
  free(sql);
  return r;
}

/* ---- regressions ---- */

/* Prepares sql; on failure reports it as `what` and returns the errno. */
static int prepare_once(struct bw_store *s, const char *sql, sqlite3_stmt **ret, const char *what,
                        struct bw_errs *errs) {
  int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
  if (rc != SQLITE_OK)
    return fail_sql(s, rc, errs, "%s", what);
  return 0;
}

int bw_store_latest_run(struct bw_store *store, int64_t target_id, int64_t until_us,
                        int64_t *ret_id, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int r = prepare_once(store,
                       "SELECT id FROM run WHERE target_id = ? AND started_us < ?"
                       " AND outcome != 'aborted' ORDER BY started_us DESC, id DESC LIMIT 1",
                       &st, "cannot read the latest run", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, until_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *ret_id = sqlite3_column_int64(st, 0);
  else if (rc == SQLITE_DONE)
    r = -ENOENT;
  else
    r = fail_sql(store, rc, errs, "cannot read the latest run");
  (void)sqlite3_finalize(st);
  return r;
}

int bw_store_find_target(struct bw_store *store, const char *test, const char *backend,
                         int64_t *ret_id, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int r = prepare_once(store, "SELECT id FROM target WHERE name = ? AND backend = ?", &st,
                       "cannot look up a target", errs);
  if (r < 0)
    return r;
  int rc = bind_text(st, 1, test);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 2, backend ? backend : "");
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *ret_id = sqlite3_column_int64(st, 0);
  } else if (rc == SQLITE_DONE) {
    add_err(errs, "no runs of %s%s%s%s in %s", test, backend && *backend ? " [" : "",
            backend ? backend : "", backend && *backend ? "]" : "", store->path);
    r = -ENOENT;
  } else {
    r = fail_sql(store, rc, errs, "cannot look up target %s", test);
  }
  (void)sqlite3_finalize(st);
  return r;
}

/* Runs one prepared-on-the-spot statement with integer/real/text parameters given as a format:
 * 'i' int64, 'd' double (NAN binds NULL), 's' text. */
static int run_stmt(struct bw_store *s, const char *sql, const char *what, struct bw_errs *errs,
                    const char *types, ...) {
  sqlite3_stmt *st = NULL;
  va_list ap;
  int r = prepare_once(s, sql, &st, what, errs);
  if (r < 0)
    return r;
  int rc = SQLITE_OK, i = 1;
  va_start(ap, types);
  for (const char *t = types; *t && rc == SQLITE_OK; t++, i++) {
    if (*t == 'i') {
      rc = bind_int(st, i, va_arg(ap, int64_t));
    } else if (*t == 'd') {
      double v = va_arg(ap, double);
      rc = isnan(v) ? sqlite3_bind_null(st, i) : sqlite3_bind_double(st, i, v);
    } else {
      rc = bind_text(st, i, va_arg(ap, const char *));
    }
  }
  va_end(ap);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    r = fail_sql(s, rc, errs, "%s", what);
  (void)sqlite3_finalize(st);
  return r;
}

#define REGRESSION_COLUMNS                                                                         \
  "g.id, t.name, t.backend, g.metric, g.opened_us, g.closed_us, g.acked_us, g.baseline,"           \
  " g.observed, g.ratio, g.target_id, g.open_run_id, g.close_run_id"

static double column_real(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? (double)NAN : sqlite3_column_double(st, i);
}

/* One row of REGRESSION_COLUMNS. */
static void regression_row(sqlite3_stmt *st, struct bw_regression *g) {
  g->id = sqlite3_column_int64(st, 0);
  g->test = column_text(st, 1);
  g->backend = column_text(st, 2);
  g->metric = column_text(st, 3);
  g->opened_us = sqlite3_column_int64(st, 4);
  g->closed_us = column_int(st, 5);
  g->acked_us = column_int(st, 6);
  g->baseline = column_real(st, 7);
  g->observed = column_real(st, 8);
  g->ratio = column_real(st, 9);
  g->target_id = sqlite3_column_int64(st, 10);
  g->open_run_id = column_int(st, 11);
  g->close_run_id = column_int(st, 12);
}

/* Steps st (bound) to the end, collecting its REGRESSION_COLUMNS rows. */
static int regression_list(struct bw_store *store, sqlite3_stmt *st, int rc,
                           struct bw_regression **ret, size_t *ret_n, struct bw_errs *errs) {
  struct bw_regression *list = NULL;
  size_t n = 0, cap = 0;
  int r = 0;
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    bw_xgrow(&list, &cap, n + 1, sizeof(*list));
    regression_row(st, &list[n++]);
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot read the regressions");
    bw_regressions_free(list, n);
  } else {
    *ret = list;
    *ret_n = n;
  }
  (void)sqlite3_finalize(st);
  return r;
}

int bw_store_regressions(struct bw_store *store, int64_t since_us, bool open_only,
                         struct bw_regression **ret, size_t *ret_n, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int r = prepare_once(store,
                       "SELECT " REGRESSION_COLUMNS " FROM regression g"
                       " JOIN target t ON t.id = g.target_id"
                       " WHERE (? AND g.closed_us IS NULL) OR (NOT ? AND g.opened_us >= ?)"
                       " ORDER BY g.opened_us DESC, g.id DESC",
                       &st, "cannot read the regressions", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int(st, 1, open_only);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int(st, 2, open_only);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, since_us);
  return regression_list(store, st, rc, ret, ret_n, errs);
}

int bw_store_target_regressions(struct bw_store *store, int64_t target_id, int64_t since_us,
                                int64_t until_us, struct bw_regression **ret, size_t *ret_n,
                                struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int r = prepare_once(store,
                       "SELECT " REGRESSION_COLUMNS " FROM regression g"
                       " JOIN target t ON t.id = g.target_id"
                       " WHERE g.target_id = ? AND g.opened_us < ?"
                       " AND (g.closed_us IS NULL OR g.closed_us >= ?)"
                       " ORDER BY g.opened_us, g.id",
                       &st, "cannot read the regressions", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, until_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, since_us);
  return regression_list(store, st, rc, ret, ret_n, errs);
}

int bw_store_regression_get(struct bw_store *store, int64_t id, struct bw_regression *ret,
                            struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  struct bw_regression *list = NULL;
  size_t n = 0;
  int r = prepare_once(store,
                       "SELECT " REGRESSION_COLUMNS " FROM regression g"
                       " JOIN target t ON t.id = g.target_id WHERE g.id = ?",
                       &st, "cannot read the regression", errs);
  if (r < 0)
    return r;
  r = regression_list(store, st, sqlite3_bind_int64(st, 1, id), &list, &n, errs);
  if (r < 0)
    return r;
  if (n == 0) {
    free(list);
    return -ENOENT;
  }
  *ret = list[0];
  free(list);
  return 0;
}

void bw_regression_reset(struct bw_regression *g) {
  if (!g)
    return;
  free(g->test);
  free(g->backend);
  free(g->metric);
  memset(g, 0, sizeof(*g));
}

void bw_regressions_free(struct bw_regression *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(list[i].test);
    free(list[i].backend);
    free(list[i].metric);
  }
  free(list);
}

int bw_store_ack(struct bw_store *store, int64_t id, int64_t now_us, struct bw_errs *errs) {
  int64_t target_id = 0;
  char *metric = NULL;
  sqlite3_stmt *st = NULL;
  int r = exec(store, "BEGIN IMMEDIATE", "cannot start a transaction", errs);
  if (r < 0)
    return r;
  r = prepare_once(store,
                   "SELECT target_id, metric FROM regression WHERE id = ? AND closed_us IS NULL",
                   &st, "cannot find the regression", errs);
  if (r == 0) {
    int rc = sqlite3_bind_int64(st, 1, id);
    if (rc == SQLITE_OK)
      rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      target_id = sqlite3_column_int64(st, 0);
      metric = column_text(st, 1);
    } else if (rc == SQLITE_DONE) {
      add_err(errs, "no open regression %" PRId64 " in %s", id, store->path);
      r = -ENOENT;
    } else {
      r = fail_sql(store, rc, errs, "cannot find regression %" PRId64, id);
    }
  }
  (void)sqlite3_finalize(st);
  if (r == 0)
    r = run_stmt(store, "UPDATE regression SET closed_us = ?, acked_us = ? WHERE id = ?",
                 "cannot close the regression", errs, "iii", now_us, now_us, id);
  /* The new normal: streaks reset and the baseline starts again from here. */
  /* As bw_detect_replay() replays an ack: a fresh detector, availability's window kept. */
  if (r == 0 && strcmp(metric, BW_METRIC_AVAILABILITY) == 0)
    r = run_stmt(store,
                 "UPDATE judge SET fail_streak = 0, ok_streak = 0, avail_open = 0, rate = 0,"
                 " episode_us = 0 WHERE target_id = ? AND metric = ?",
                 "cannot reset the detector", errs, "is", target_id, metric);
  else if (r == 0)
    r = run_stmt(store,
                 "UPDATE judge SET cusum = 0, episode_runs = 0, episode_bad = 0, rate = 0,"
                 " episode_us = 0, good_streak = 0, open_baseline = NULL, since_us = ?"
                 " WHERE target_id = ? AND metric = ?",
                 "cannot reset the detector", errs, "iis", now_us, target_id, metric);
  if (r == 0)
    r = exec(store, "COMMIT", "cannot commit the ack", errs);
  if (r < 0)
    rollback(store);
  free(metric);
  return r;
}

int bw_store_series(struct bw_store *store, int64_t target_id, const char *metric, int64_t since_us,
                    int64_t until_us, struct bw_point **ret, size_t *ret_n, struct bw_errs *errs) {
  const struct bw_figure *f = metric ? bw_figure_find(metric) : NULL;
  struct bw_point *points = NULL;
  size_t n = 0, cap = 0;
  sqlite3_stmt *st = NULL;
  if (!f) {
    add_err(errs, "unknown metric %s", metric ? metric : "(none)");
    return -EINVAL;
  }
  /* The column name comes from the catalogue, never from the caller. */
  char *sql = bw_xasprintf("SELECT id, started_us, outcome = 'failed', %s, engine FROM run"
                           " WHERE target_id = ? AND started_us >= ? AND started_us < ?"
                           " AND (outcome = 'failed' OR (outcome IN ('ok', 'partial')"
                           " AND %s IS NOT NULL)) ORDER BY started_us, id",
                           f->name, f->name);
  int r = prepare_once(store, sql, &st, "cannot read the history", errs);
  free(sql);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, since_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, until_us);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    bw_xgrow(&points, &cap, n + 1, sizeof(*points));
    points[n].run_id = sqlite3_column_int64(st, 0);
    points[n].started_us = sqlite3_column_int64(st, 1);
    points[n].value = sqlite3_column_int(st, 2) ? (double)NAN : sqlite3_column_double(st, 3);
    points[n].bad = false;
    points[n].engine = bw_engine_name((const char *)sqlite3_column_text(st, 4));
    n++;
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot read the history of %s", f->name);
    free(points);
  } else {
    *ret = points;
    *ret_n = n;
  }
  (void)sqlite3_finalize(st);
  return r;
}

/* ---- imports ---- */

/* The first midnight UTC at or after us, in seconds. */
static int64_t day_at_or_after_s(int64_t us) {
  int64_t day = 86400 * INT64_C(1000000);
  int64_t d = us / day;
  if (d * day < us)
    d++;
  return d * 86400;
}

int bw_store_days(struct bw_store *store, int64_t target_id, const char *metric, int64_t from_us,
                  int64_t until_us, struct bw_day **ret, size_t *ret_n, struct bw_errs *errs) {
  static const char *const sql[] = {
      "SELECT unixepoch(day) * 1000000, p50_runs + failed_runs, failed_runs, p50_med_us, stall_us"
      " FROM run_day WHERE target_id = ? AND day >= date(?, 'unixepoch')"
      " AND day < date(?, 'unixepoch') ORDER BY day",
      "SELECT unixepoch(day) * 1000000, rate_runs + failed_runs, failed_runs, rate_med_bps,"
      " stall_us FROM run_day WHERE target_id = ? AND day >= date(?, 'unixepoch')"
      " AND day < date(?, 'unixepoch') ORDER BY day",
  };
  int which = metric && strcmp(metric, "p50_us") == 0     ? 0
              : metric && strcmp(metric, "rate_bps") == 0 ? 1
                                                          : -1;
  struct bw_day *list = NULL;
  size_t n = 0, cap = 0;
  sqlite3_stmt *st = NULL;

  if (which < 0) {
    add_err(errs, "run_day keeps no median of %s", metric ? metric : "(none)");
    return -EINVAL;
  }
  int r = prepare_once(store, sql[which], &st, "cannot read the days", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, day_at_or_after_s(from_us));
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, day_at_or_after_s(until_us));
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    bw_xgrow(&list, &cap, n + 1, sizeof(*list));
    struct bw_day *d = &list[n++];
    d->start_us = sqlite3_column_int64(st, 0);
    d->runs = (size_t)sqlite3_column_int64(st, 1);
    d->failed = (size_t)sqlite3_column_int64(st, 2);
    d->median =
        sqlite3_column_type(st, 3) == SQLITE_NULL ? (double)NAN : sqlite3_column_double(st, 3);
    d->stall_us =
        sqlite3_column_type(st, 4) == SQLITE_NULL ? (double)NAN : sqlite3_column_double(st, 4);
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot read the days");
    free(list);
  } else {
    *ret = list;
    *ret_n = n;
  }
  (void)sqlite3_finalize(st);
  return r;
}

static const char run_exists_sql[] =
    "SELECT EXISTS (SELECT 1 FROM run WHERE target_id = ? AND started_us = ?)";

/* Runs the prepared run_exists_sql st for (target_id, started_us) and makes st ready again. */
static int query_exists(struct bw_store *s, sqlite3_stmt *st, int64_t target_id, int64_t started_us,
                        bool *ret, struct bw_errs *errs) {
  int r = 0;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, started_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *ret = sqlite3_column_int(st, 0) != 0;
  else
    r = fail_sql(s, rc, errs, "cannot look for a run");
  release(st);
  return r;
}

int bw_store_run_exists(struct bw_store *store, int64_t target_id, int64_t started_us, bool *ret,
                        struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int r = prepare_once(store, run_exists_sql, &st, "cannot look for a run", errs);
  if (r == 0)
    r = query_exists(store, st, target_id, started_us, ret, errs);
  (void)sqlite3_finalize(st);
  return r;
}

/* Inserts run and its samples for target_id, inside the caller's transaction. */
static int insert_run(struct bw_store *s, const struct bw_run *run, int64_t target_id,
                      struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int i = 1, rc, r;

  r = prepare(s, ST_PUT_RUN, &st, errs);
  if (r < 0)
    return r;
  rc = sqlite3_bind_int64(st, i++, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, i++, run->started_us);
  if (rc == SQLITE_OK)
    rc = bind_text(st, i++, bw_outcome_name(run->outcome));
  for (size_t c = 0; c < N_ELEM(run_texts) && rc == SQLITE_OK; c++)
    rc = bind_text(st, i++, get_ptr(run, run_texts[c].offset));
  for (const struct bw_figure *f = bw_run_figures; f->name && rc == SQLITE_OK; f++)
    rc = bind_figure(st, i++, f, run);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc != SQLITE_DONE) {
    r = fail_sql(s, rc, errs, "cannot store a run of %s", run->test);
    release(st);
    return r;
  }
  int64_t run_id = sqlite3_last_insert_rowid(s->db);
  release(st);
  for (size_t n = 0; n < run->n_samples && r == 0; n++)
    r = put_sample(s, run_id, n, &run->samples[n], errs);
  if (r == 0)
    r = put_env(s, run, target_id, run_id, errs);
  return r;
}

static bool same_target(const struct bw_run *a, const struct bw_run *b) {
  return strcmp(a->test, b->test) == 0 &&
         strcmp(a->backend ? a->backend : "", b->backend ? b->backend : "") == 0;
}

int bw_store_put_new_runs(struct bw_store *store, const struct bw_run *runs, size_t n,
                          size_t *ret_added, struct bw_errs *errs) {
  sqlite3_stmt *exists = NULL;
  const struct bw_run *last = NULL;
  int64_t target_id = 0;
  size_t added = 0;
  int r;

  for (size_t i = 0; i < n; i++) {
    if (runs[i].started_us == BW_NONE || !bw_outcome_name(runs[i].outcome) || !runs[i].test) {
      add_err(errs, "test %s: %s", runs[i].test ? runs[i].test : "(unnamed)",
              runs[i].started_us == BW_NONE ? "run has no start time"
                                            : "run has an unknown outcome or no test");
      return -EINVAL;
    }
  }
  r = exec(store, "BEGIN IMMEDIATE", "cannot start a transaction", errs);
  if (r < 0)
    return r;
  r = prepare_once(store, run_exists_sql, &exists, "cannot look for a run", errs);
  for (size_t i = 0; i < n && r == 0; i++) {
    const struct bw_run *run = &runs[i];
    bool there = false;
    if (!last || !same_target(last, run)) {
      r = upsert_target(store, run->test, run->backend, run->kind, run->url, &target_id, errs);
      if (r < 0)
        break;
      last = run;
    }
    r = query_exists(store, exists, target_id, run->started_us, &there, errs);
    if (r == 0 && !there) {
      r = insert_run(store, run, target_id, errs);
      added += r == 0;
    }
  }
  if (r == 0)
    r = exec(store, "COMMIT", "cannot commit the runs", errs);
  if (r < 0)
    rollback(store);
  else if (ret_added)
    *ret_added = added;
  (void)sqlite3_finalize(exists);
  return r;
}

/* Steps st (bound) to the end, collecting its (id, name, backend, kind, url) rows. */
static int target_list(struct bw_store *store, sqlite3_stmt *st, int rc, struct bw_target_row **ret,
                       size_t *ret_n, struct bw_errs *errs) {
  struct bw_target_row *list = NULL;
  size_t n = 0, cap = 0;
  int r = 0;
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    bw_xgrow(&list, &cap, n + 1, sizeof(*list));
    struct bw_target_row *t = &list[n++];
    t->id = sqlite3_column_int64(st, 0);
    t->test = column_text(st, 1);
    t->backend = column_text(st, 2);
    if (bw_kind_parse((const char *)sqlite3_column_text(st, 3), &t->kind) < 0)
      t->kind = BW_KIND_PAGE;
    t->url = column_text(st, 4);
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot list the targets");
    bw_target_rows_free(list, n);
  } else {
    *ret = list;
    *ret_n = n;
  }
  (void)sqlite3_finalize(st);
  return r;
}

int bw_store_targets(struct bw_store *store, struct bw_target_row **ret, size_t *ret_n,
                     struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int r =
      prepare_once(store, "SELECT id, name, backend, kind, url FROM target ORDER BY name, backend",
                   &st, "cannot list the targets", errs);
  if (r < 0)
    return r;
  return target_list(store, st, SQLITE_OK, ret, ret_n, errs);
}

int bw_store_target_get(struct bw_store *store, int64_t id, struct bw_target_row *ret,
                        struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  struct bw_target_row *list = NULL;
  size_t n = 0;
  int r = prepare_once(store, "SELECT id, name, backend, kind, url FROM target WHERE id = ?", &st,
                       "cannot list the targets", errs);
  if (r < 0)
    return r;
  r = target_list(store, st, sqlite3_bind_int64(st, 1, id), &list, &n, errs);
  if (r < 0)
    return r;
  if (n == 0) {
    free(list);
    return -ENOENT;
  }
  *ret = list[0];
  free(list);
  return 0;
}

void bw_target_row_reset(struct bw_target_row *t) {
  if (!t)
    return;
  free(t->test);
  free(t->backend);
  free(t->url);
  memset(t, 0, sizeof(*t));
}

void bw_target_rows_free(struct bw_target_row *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(list[i].test);
    free(list[i].backend);
    free(list[i].url);
  }
  free(list);
}

int bw_store_error_counts(struct bw_store *store, int64_t target_id, int64_t since_us,
                          int64_t until_us, struct bw_error_count **ret, size_t *ret_n,
                          struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  struct bw_error_count *list = NULL;
  size_t n = 0, cap = 0;
  /* SQLite takes the bare error_message from the row max() picked: the newest one's. */
  int r = prepare_once(store,
                       "SELECT coalesce(error_class, 'other'), count(*), max(started_us),"
                       " error_message FROM run WHERE target_id = ? AND outcome = 'failed'"
                       " AND started_us >= ? AND started_us < ? GROUP BY 1 ORDER BY 2 DESC, 1",
                       &st, "cannot count the failures", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, since_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, until_us);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    bw_xgrow(&list, &cap, n + 1, sizeof(*list));
    list[n].error_class = column_text(st, 0);
    list[n].count = sqlite3_column_int64(st, 1);
    list[n].last_message = column_text(st, 3);
    n++;
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot count the failures");
    bw_error_counts_free(list, n);
  } else {
    *ret = list;
    *ret_n = n;
  }
  (void)sqlite3_finalize(st);
  return r;
}

void bw_error_counts_free(struct bw_error_count *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(list[i].error_class);
    free(list[i].last_message);
  }
  free(list);
}

int bw_store_report_add(struct bw_store *store, int day, int64_t now_us, const char *subject,
                        const char *message, bool *ret_created, struct bw_errs *errs) {
  int r = run_stmt(store,
                   "INSERT INTO report (day, created_us, subject, message) VALUES (?, ?, ?, ?)"
                   " ON CONFLICT (day) DO NOTHING",
                   "cannot keep the report", errs, "iiss", (int64_t)day, now_us, subject, message);
  if (r == 0 && ret_created)
    *ret_created = sqlite3_changes(store->db) > 0;
  return r;
}

int bw_store_reports_unsent(struct bw_store *store, struct bw_report_row **ret, size_t *ret_n,
                            struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  struct bw_report_row *list = NULL;
  size_t n = 0, cap = 0;
  int r = prepare_once(store,
                       "SELECT day, subject, message, attempts FROM report WHERE sent_us IS NULL"
                       " ORDER BY day",
                       &st, "cannot read the unsent reports", errs);
  if (r < 0)
    return r;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    bw_xgrow(&list, &cap, n + 1, sizeof(*list));
    list[n].day = sqlite3_column_int(st, 0);
    list[n].subject = column_text(st, 1);
    list[n].message = column_text(st, 2);
    list[n].attempts = sqlite3_column_int64(st, 3);
    n++;
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot read the unsent reports");
    bw_report_rows_free(list, n);
  } else {
    *ret = list;
    *ret_n = n;
  }
  (void)sqlite3_finalize(st);
  return r;
}

void bw_report_rows_free(struct bw_report_row *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(list[i].subject);
    free(list[i].message);
  }
  free(list);
}

int bw_store_report_attempt(struct bw_store *store, int day, int64_t now_us, const char *error,
                            struct bw_errs *errs) {
  if (!error)
    return run_stmt(store,
                    "UPDATE report SET attempts = attempts + 1, sent_us = ?, last_error = NULL"
                    " WHERE day = ?",
                    "cannot record the delivery", errs, "ii", now_us, (int64_t)day);
  return run_stmt(store, "UPDATE report SET attempts = attempts + 1, last_error = ? WHERE day = ?",
                  "cannot record the delivery", errs, "si", error, (int64_t)day);
}

bool bw_store_report_exists(struct bw_store *store, int day) {
  sqlite3_stmt *st = NULL;
  bool found = false;
  if (sqlite3_prepare_v2(store->db, "SELECT 1 FROM report WHERE day = ?", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_bind_int(st, 1, day) == SQLITE_OK)
    found = sqlite3_step(st) == SQLITE_ROW;
  (void)sqlite3_finalize(st);
  return found;
}

/* ---- retention ---- */

#define PRUNE_BATCH 500 /* runs per transaction; the walk's LIMIT says the same */

/* The file's size in bytes: pages times page size. */
static int64_t file_bytes(struct bw_store *s) {
  int64_t v[2] = {0, 0};
  if (query_ints(s, "SELECT page_count * page_size, 0 FROM pragma_page_count, pragma_page_size", v,
                 1, "cannot read the file's size", NULL) < 0)
    return 0;
  return v[0];
}

/*
 * The runs kept below the boundary: those a regression opens or closes, and the window before
 * each open regression. Temporary tables on this connection only.
 */
static int prune_keep(struct bw_store *s, const struct bw_prune_plan *p, struct bw_errs *errs) {
  int r = exec(s,
               "CREATE TEMP TABLE IF NOT EXISTS prune_keep (id INTEGER PRIMARY KEY);"
               "CREATE TEMP TABLE IF NOT EXISTS prune_floor (target_id INTEGER PRIMARY KEY,"
               " from_us INTEGER NOT NULL);"
               "DELETE FROM prune_keep; DELETE FROM prune_floor;"
               "INSERT OR IGNORE INTO prune_keep SELECT open_run_id FROM regression"
               " WHERE open_run_id IS NOT NULL;"
               "INSERT OR IGNORE INTO prune_keep SELECT close_run_id FROM regression"
               " WHERE close_run_id IS NOT NULL;",
               "cannot list the runs regressions need", errs);
  if (r < 0)
    return r;
  return run_stmt(s,
                  "INSERT INTO prune_floor SELECT target_id, min(opened_us) - ? FROM regression"
                  " WHERE closed_us IS NULL GROUP BY target_id",
                  "cannot list the runs open regressions need", errs, "i",
                  p->baseline_us > 0 ? p->baseline_us : 0);
}

#define RUN_KEPT                                                                                   \
  "(id IN (SELECT id FROM temp.prune_keep) OR started_us >= coalesce((SELECT from_us FROM"        \
  " temp.prune_floor f WHERE f.target_id = run.target_id), 9223372036854775807))"

/* What a dry run reports: the rows a pass would delete now. */
static int prune_count(struct bw_store *s, const struct bw_prune_plan *p, int64_t samples_from,
                       struct bw_prune_result *ret, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int r = 0, rc;
  if (p->samples_before_us != BW_NONE) {
    r = prepare_once(s,
                     "SELECT count(*) FROM sample WHERE run_id IN (SELECT id FROM run"
                     " WHERE started_us >= ? AND started_us < ?)",
                     &st, "cannot count the old samples", errs);
    if (r < 0)
      return r;
    rc = bind_int(st, 1, samples_from);
    if (rc == SQLITE_OK)
      rc = bind_int(st, 2, p->samples_before_us);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
      ret->samples = sqlite3_column_int64(st, 0);
    else
      r = fail_sql(s, rc, errs, "cannot count the old samples");
    (void)sqlite3_finalize(st);
    if (r < 0)
      return r;
  }
  if (p->runs_before_us != BW_NONE) {
    r = prepare_once(s,
                     "SELECT count(*) - sum(" RUN_KEPT "), sum(" RUN_KEPT ") FROM run"
                     " WHERE started_us < ?",
                     &st, "cannot count the old runs", errs);
    if (r < 0)
      return r;
    rc = bind_int(st, 1, p->runs_before_us);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
      ret->runs = sqlite3_column_int64(st, 0);
      ret->runs_kept = sqlite3_column_int64(st, 1);
    } else {
      r = fail_sql(s, rc, errs, "cannot count the old runs");
    }
    (void)sqlite3_finalize(st);
  }
  return r;
}

/*
 * Deletes, PRUNE_BATCH runs' worth per transaction, what del (bound to a run id, then the
 * boundary) deletes for each run started in [from_us, before_us), walking the runs by start.
 * *ret_rows gets the rows deleted (sqlite3_changes: cascades not counted).
 */
static int prune_walk(struct bw_store *s, const char *del, int64_t from_us, int64_t before_us,
                      int64_t *ret_rows, int64_t *ret_kept, struct bw_errs *errs) {
  sqlite3_stmt *sel = NULL, *dst = NULL;
  int64_t last_s = from_us - 1, last_id = INT64_MAX, ids[PRUNE_BATCH];
  int r = prepare_once(s,
                       "SELECT id, started_us FROM run WHERE (started_us, id) > (?, ?)"
                       " AND started_us < ? ORDER BY started_us, id LIMIT 500",
                       &sel, "cannot walk the old runs", errs);
  if (r < 0)
    return r;
  r = prepare_once(s, del, &dst, "cannot delete old history", errs);
  if (r < 0)
    goto out;
  for (;;) {
    size_t n = 0;
    int rc = bind_int(sel, 1, last_s);
    if (rc == SQLITE_OK)
      rc = bind_int(sel, 2, last_id);
    if (rc == SQLITE_OK)
      rc = bind_int(sel, 3, before_us);
    if (rc == SQLITE_OK)
      rc = sqlite3_step(sel);
    for (; rc == SQLITE_ROW && n < PRUNE_BATCH; rc = sqlite3_step(sel)) {
      ids[n++] = sqlite3_column_int64(sel, 0);
      last_id = ids[n - 1];
      last_s = sqlite3_column_int64(sel, 1);
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
      r = fail_sql(s, rc, errs, "cannot walk the old runs");
      goto out;
    }
    (void)sqlite3_reset(sel);
    if (n == 0)
      break;
    r = exec(s, "BEGIN IMMEDIATE", "cannot lock the database to prune it", errs);
    if (r < 0)
      goto out;
    for (size_t i = 0; i < n; i++) {
      rc = bind_int(dst, 1, ids[i]);
      if (rc == SQLITE_OK)
        rc = sqlite3_step(dst);
      if (rc != SQLITE_DONE) {
        r = fail_sql(s, rc, errs, "cannot delete old history");
        (void)sqlite3_reset(dst);
        rollback(s);
        goto out;
      }
      int64_t changed = sqlite3_changes(s->db);
      *ret_rows += changed;
      if (ret_kept && changed == 0)
        (*ret_kept)++;
      (void)sqlite3_reset(dst);
    }
    r = exec(s, "COMMIT", "cannot commit a pass of retention", errs);
    if (r < 0) {
      rollback(s);
      goto out;
    }
  }
out:
  (void)sqlite3_finalize(sel);
  (void)sqlite3_finalize(dst);
  return r;
}

int bw_store_prune(struct bw_store *store, const struct bw_prune_plan *p,
                   struct bw_prune_result *ret, struct bw_errs *errs) {
  int64_t samples_from = INT64_MIN / 2, mode = 0, pass = 0, freelist = 0, before = 0;
  int r;

  memset(ret, 0, sizeof(*ret));
  r = query_ints(store, "PRAGMA auto_vacuum", &mode, 1, "cannot read the vacuum mode", errs);
  if (r < 0)
    return r;
  ret->shrinks = mode == 2;
  /* The samples before the last complete pass's boundary are gone already. */
  int64_t v = 0;
  r = query_ints(store,
                 "SELECT coalesce(max(samples_before_us), -4611686018427387904) FROM prune"
                 " WHERE done_us IS NOT NULL",
                 &v, 1, "cannot read the last pass of retention", errs);
  if (r < 0)
    return r;
  samples_from = v;
  if (p->samples_before_us == BW_NONE && p->runs_before_us == BW_NONE)
    return 0;
  r = prune_keep(store, p, errs);
  if (r < 0)
    return r;
  if (p->dry_run)
    return prune_count(store, p, samples_from, ret, errs);

  /* The boundary is recorded first: from then on, deleting a run below it leaves its day be. */
  r = run_stmt(store,
               "INSERT INTO prune (at_us, samples_before_us, runs_before_us) VALUES (?, ?, ?)",
               "cannot record a pass of retention", errs, "iii", p->now_us,
               p->samples_before_us, p->runs_before_us);
  if (r < 0)
    return r;
  pass = sqlite3_last_insert_rowid(store->db);
  if (p->samples_before_us != BW_NONE && p->samples_before_us > samples_from) {
    r = prune_walk(store, "DELETE FROM sample WHERE run_id = ?", samples_from,
                   p->samples_before_us, &ret->samples, NULL, errs);
    if (r < 0)
      return r;
  }
  if (p->runs_before_us != BW_NONE) {
    r = prune_walk(store, "DELETE FROM run WHERE id = ? AND NOT " RUN_KEPT, INT64_MIN / 2,
                   p->runs_before_us, &ret->runs, &ret->runs_kept, errs);
    if (r < 0)
      return r;
  }
  r = run_stmt(store,
               "UPDATE prune SET done_us = CAST((julianday('now') - 2440587.5) * 86400000000 AS"
               " INTEGER), samples = ?, runs = ? WHERE id = ?",
               "cannot record a pass of retention", errs, "iii", ret->samples, ret->runs, pass);
  if (r < 0 || !ret->shrinks)
    return r;
  before = file_bytes(store);
  (void)query_ints(store, "PRAGMA freelist_count", &freelist, 1, "", NULL);
  if (freelist > 0) {
    r = exec(store, "PRAGMA incremental_vacuum", "cannot give free pages back", errs);
    if (r < 0)
      return r;
    (void)sqlite3_exec(store->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  }
  ret->bytes_freed = before - file_bytes(store);
  return 0;
}

int64_t bw_store_last_prune(struct bw_store *store) {
  int64_t v[2] = {0, 0};
  if (query_ints(store, "SELECT count(*), max(at_us) FROM prune WHERE done_us IS NOT NULL", v, 2,
                 "", NULL) < 0 ||
      v[0] == 0)
    return BW_NONE;
  return v[1];
}

int bw_store_vacuum(struct bw_store *store, int64_t *ret_bytes_freed, struct bw_errs *errs) {
  int64_t before = file_bytes(store);
  int r = exec(store, "PRAGMA auto_vacuum = INCREMENTAL", "cannot set the vacuum mode", errs);
  if (r == 0)
    r = exec(store, "VACUUM", "cannot vacuum the database", errs);
  if (r == 0)
    (void)sqlite3_exec(store->db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
  *ret_bytes_freed = r == 0 ? before - file_bytes(store) : 0;
  return r;
}

/* ---- the judge's memory ---- */

int bw_store_judge_load(struct bw_store *store, int64_t target_id, const char *metric,
                        struct bw_judge_row *ret, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  memset(ret, 0, sizeof(*ret));
  int r = prepare_once(store,
                       "SELECT cusum, episode_runs, episode_bad, rate, episode_us, good_streak,"
                       " open_baseline, fail_streak, ok_streak, avail_open, since_us FROM judge"
                       " WHERE target_id = ? AND metric = ?",
                       &st, "cannot read the detector state", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 2, metric);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    ret->perf.cusum = sqlite3_column_double(st, 0);
    ret->perf.episode_runs = sqlite3_column_int64(st, 1);
    ret->perf.episode_bad = sqlite3_column_int64(st, 2);
    ret->perf.rate = ret->avail.rate = sqlite3_column_double(st, 3);
    ret->perf.episode_us = ret->avail.streak_us = sqlite3_column_int64(st, 4);
    ret->perf.good_streak = sqlite3_column_int64(st, 5);
    ret->perf.open = sqlite3_column_type(st, 6) != SQLITE_NULL;
    ret->perf.open_baseline = ret->perf.open ? sqlite3_column_double(st, 6) : 0;
    ret->avail.fail_streak = sqlite3_column_int64(st, 7);
    ret->avail.ok_streak = sqlite3_column_int64(st, 8);
    ret->avail.open = sqlite3_column_int64(st, 9) != 0;
    ret->since_us = sqlite3_column_int64(st, 10);
  } else if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot read the detector state");
  }
  (void)sqlite3_finalize(st);
  return r;
}

int bw_store_judge_save(struct bw_store *store, int64_t target_id, const char *metric,
                        const struct bw_judge_row *row, int64_t run_id, struct bw_errs *errs) {
  bool avail = strcmp(metric, BW_METRIC_AVAILABILITY) == 0;
  return run_stmt(
      store,
      "INSERT INTO judge (target_id, metric, cusum, episode_runs, episode_bad, rate, episode_us,"
      " good_streak, open_baseline, fail_streak, ok_streak, avail_open, since_us, last_run_id)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
      " ON CONFLICT (target_id, metric) DO UPDATE SET cusum = excluded.cusum,"
      " episode_runs = excluded.episode_runs, episode_bad = excluded.episode_bad,"
      " rate = excluded.rate, episode_us = excluded.episode_us,"
      " good_streak = excluded.good_streak, open_baseline = excluded.open_baseline,"
      " fail_streak = excluded.fail_streak, ok_streak = excluded.ok_streak,"
      " avail_open = excluded.avail_open, since_us = excluded.since_us,"
      " last_run_id = excluded.last_run_id",
      "cannot save the detector state", errs, "isdiidiidiiiii", target_id, metric, row->perf.cusum,
      row->perf.episode_runs, row->perf.episode_bad, avail ? row->avail.rate : row->perf.rate,
      avail ? row->avail.streak_us : row->perf.episode_us, row->perf.good_streak,
      row->perf.open ? row->perf.open_baseline : (double)NAN, row->avail.fail_streak,
      row->avail.ok_streak, (int64_t)row->avail.open, row->since_us, run_id);
}

int bw_store_mark(struct bw_store *store, int64_t run_id, const char *metric, bool excluded,
                  struct bw_errs *errs) {
  return run_stmt(store,
                  "INSERT INTO run_mark (run_id, metric, excluded) VALUES (?, ?, ?)"
                  " ON CONFLICT (run_id, metric) DO UPDATE SET excluded = excluded.excluded",
                  "cannot mark the run", errs, "isi", run_id, metric, (int64_t)excluded);
}

int bw_store_exclude_since(struct bw_store *store, int64_t target_id, const char *metric,
                           int64_t since_us, struct bw_errs *errs) {
  if (strcmp(metric, BW_METRIC_AVAILABILITY) == 0)
    return run_stmt(store,
                    "INSERT INTO run_mark (run_id, metric, excluded) SELECT id, ?, 1 FROM run"
                    " WHERE target_id = ? AND started_us >= ? AND outcome = 'failed'"
                    " ON CONFLICT (run_id, metric) DO UPDATE SET excluded = 1",
                    "cannot exclude runs", errs, "sii", metric, target_id, since_us);
  return run_stmt(store,
                  "UPDATE run_mark SET excluded = 1 WHERE metric = ? AND run_id IN"
                  " (SELECT id FROM run WHERE target_id = ? AND started_us >= ?)",
                  "cannot exclude runs", errs, "sii", metric, target_id, since_us);
}

int bw_store_avail_window(struct bw_store *store, int64_t target_id, int64_t since_us,
                          int64_t until_us, size_t *ret_n, size_t *ret_fails, size_t *ret_pairs,
                          struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  size_t n = 0, fails = 0, pairs = 0;
  bool prev = false;
  int r = prepare_once(store,
                       "SELECT r.outcome = 'failed' FROM run r LEFT JOIN run_mark k"
                       " ON k.run_id = r.id AND k.metric = 'availability'"
                       " WHERE r.target_id = ? AND r.started_us >= ? AND r.started_us < ?"
                       " AND r.outcome <> 'aborted' AND coalesce(k.excluded, 0) = 0"
                       " ORDER BY r.started_us, r.id",
                       &st, "cannot read the history", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, since_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, until_us);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    bool failed = sqlite3_column_int(st, 0) != 0;
    n++;
    fails += failed;
    pairs += failed && prev;
    prev = failed;
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot read the history of availability");
  } else {
    *ret_n = n;
    *ret_fails = fails;
    *ret_pairs = pairs;
  }
  (void)sqlite3_finalize(st);
  return r;
}

int bw_store_regression_open(struct bw_store *store, int64_t target_id, const char *metric,
                             int64_t run_id, int64_t started_us, double baseline, double observed,
                             double ratio, int64_t *ret_id, struct bw_errs *errs) {
  int r = run_stmt(store,
                   "INSERT INTO regression (target_id, metric, opened_us, open_run_id, baseline,"
                   " observed, ratio) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   "cannot record the regression", errs, "isiiddd", target_id, metric, started_us,
                   run_id, baseline, observed, ratio);
  if (r == 0 && ret_id)
    *ret_id = sqlite3_last_insert_rowid(store->db);
  return r;
}

int bw_store_regression_close(struct bw_store *store, int64_t target_id, const char *metric,
                              int64_t run_id, int64_t started_us, int64_t *ret_id,
                              struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int r = prepare_once(store,
                       "UPDATE regression SET closed_us = ?, close_run_id = ?"
                       " WHERE target_id = ? AND metric = ? AND closed_us IS NULL RETURNING id",
                       &st, "cannot close the regression", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, started_us);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 2, run_id);
  if (rc == SQLITE_OK)
    rc = sqlite3_bind_int64(st, 3, target_id);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 4, metric);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    if (ret_id)
      *ret_id = sqlite3_column_int64(st, 0);
    rc = sqlite3_step(st);
  }
  if (rc != SQLITE_DONE)
    r = fail_sql(store, rc, errs, "cannot close the regression");
  (void)sqlite3_finalize(st);
  return r;
}

int bw_store_acks(struct bw_store *store, int64_t target_id, const char *metric, int64_t **ret,
                  size_t *ret_n, struct bw_errs *errs) {
  sqlite3_stmt *st = NULL;
  int64_t *list = NULL;
  size_t n = 0, cap = 0;
  int r = prepare_once(store,
                       "SELECT acked_us FROM regression WHERE target_id = ? AND metric = ?"
                       " AND acked_us IS NOT NULL ORDER BY acked_us",
                       &st, "cannot read the acks", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 2, metric);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    bw_xgrow(&list, &cap, n + 1, sizeof(*list));
    list[n++] = sqlite3_column_int64(st, 0);
    rc = SQLITE_OK;
  }
  if (rc != SQLITE_DONE) {
    r = fail_sql(store, rc, errs, "cannot read the acks");
    free(list);
  } else {
    *ret = list;
    *ret_n = n;
  }
  (void)sqlite3_finalize(st);
  return r;
}

int bw_store_judge_state(struct bw_store *store, int64_t target_id, const char *metric,
                         struct bw_judge_row *ret, int64_t *ret_opened_us, struct bw_errs *errs) {
  int r = bw_store_judge_load(store, target_id, metric, ret, errs);
  if (r < 0)
    return r;
  *ret_opened_us = BW_NONE;
  sqlite3_stmt *st = NULL;
  r = prepare_once(store,
                   "SELECT opened_us FROM regression WHERE target_id = ? AND metric = ?"
                   " AND closed_us IS NULL",
                   &st, "cannot read the regressions", errs);
  if (r < 0)
    return r;
  int rc = sqlite3_bind_int64(st, 1, target_id);
  if (rc == SQLITE_OK)
    rc = bind_text(st, 2, metric);
  if (rc == SQLITE_OK)
    rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *ret_opened_us = sqlite3_column_int64(st, 0);
  else if (rc != SQLITE_DONE)
    r = fail_sql(store, rc, errs, "cannot read the regressions");
  (void)sqlite3_finalize(st);
  return r;
}

int bw_store_judge_clear(struct bw_store *store, int64_t target_id, struct bw_errs *errs) {
  int r = run_stmt(store,
                   "DELETE FROM run_mark WHERE run_id IN (SELECT id FROM run WHERE target_id = ?)",
                   "cannot clear the run marks", errs, "i", target_id);
  if (r == 0)
    r = run_stmt(store, "DELETE FROM regression WHERE target_id = ? AND acked_us IS NULL",
                 "cannot clear the regressions", errs, "i", target_id);
  if (r == 0)
    r = run_stmt(store, "DELETE FROM judge WHERE target_id = ?", "cannot clear the detector", errs,
                 "i", target_id);
  return r;
}
