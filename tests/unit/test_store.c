/*
 * The store against real SQLite files in a temporary directory: creation and migration, files it
 * must refuse and leave untouched, round trips of runs, target identity, atomicity, baseline
 * windows, and sql/queries.sql. Raw sqlite3 connections check what the store wrote.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bw_result.h"
#include "bw_sql.h"
#include "bw_store.h"
#include "bw_util.h"

#define HOUR_US (3600 * INT64_C(1000000))
#define T0_US INT64_C(1700000000000000) /* 2023-11-14 22:13:20 UTC */

struct fixture {
  char dir[32];
  char *db;
  struct bw_errs errs;
  struct bw_store *store;
  sqlite3 *store_db; /* the store's own connection, for checks of its settings */
};

/*
 * Every connection SQLite opens in this process passes through here (sqlite3_auto_extension), so
 * a test can look at the store's private connection right after bw_store_open().
 */
static sqlite3 *last_opened;

static int capture_db(sqlite3 *db, const char **err, const struct sqlite3_api_routines *api) {
  (void)err;
  (void)api;
  last_opened = db;
  return SQLITE_OK;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int setup(void **state) {
  struct fixture *fx = bw_xcalloc(1, sizeof(*fx));

  (void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/bw-store-XXXXXX");
  if (!mkdtemp(fx->dir)) {
    free(fx);
    return -1;
  }
  fx->db = bw_xasprintf("%s/bw.db", fx->dir);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  struct fixture *fx = *state;

  bw_store_close(fx->store);
  (void)nftw(fx->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
  free(fx->db);
  bw_errs_clear(&fx->errs);
  free(fx);
  return 0;
}

static char *in_dir(const struct fixture *fx, const char *name) {
  return bw_xasprintf("%s/%s", fx->dir, name);
}

static const char *last_err(const struct fixture *fx) {
  return fx->errs.n ? fx->errs.msg[fx->errs.n - 1] : "(no message)";
}

static void assert_contains(const char *text, const char *part) {
  if (!strstr(text, part))
    fail_msg("\"%s\" does not contain \"%s\"", text, part);
}

/* Opens fx->db with bw_store_open() and asserts it worked. */
static void open_store(struct fixture *fx) {
  int r = bw_store_open(fx->db, &fx->store, &fx->errs);

  if (r != 0)
    fail_msg("bw_store_open: %d: %s", r, last_err(fx));
  fx->store_db = last_opened;
}

static void close_store(struct fixture *fx) {
  bw_store_close(fx->store);
  fx->store = NULL;
  fx->store_db = NULL;
}

static sqlite3 *raw_open(const char *path) {
  sqlite3 *db = NULL;

  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
    fail_msg("%s: %s", path, sqlite3_errmsg(db));
  return db;
}

static void raw_exec(sqlite3 *db, const char *sql) {
  if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
}

static int64_t raw_int(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *raw_text(sqlite3 *db, const char *sql);

/* The integer in the first column of the first row of a query. */
static int64_t raw_int(sqlite3 *db, const char *fmt, ...) {
  sqlite3_stmt *st = NULL;
  va_list ap;
  char *sql;
  int64_t v;

  va_start(ap, fmt);
  sql = bw_xvasprintf(fmt, ap);
  va_end(ap);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  v = sqlite3_column_int64(st, 0);
  (void)sqlite3_finalize(st);
  free(sql);
  return v;
}

/* The first column of every row of a query, one line each (NULL as "NULL"). */
static char *raw_text(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  char *out = bw_xstrdup(""), *next;
  const unsigned char *t;
  int rc;

  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  for (;;) {
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
      break;
    t = sqlite3_column_text(st, 0);
    next = bw_xasprintf("%s%s\n", out, t ? (const char *)t : "NULL");
    free(out);
    out = next;
  }
  if (rc != SQLITE_DONE)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  (void)sqlite3_finalize(st);
  return out;
}

static void set_version(sqlite3 *db, int version) {
  char *sql = bw_xasprintf("PRAGMA user_version = %d", version);

  raw_exec(db, sql);
  free(sql);
}

static char *read_file(const char *path, size_t *ret_len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t cap = 0, len = 0, got;

  if (!f)
    fail_msg("%s: %s", path, strerror(errno));
  do {
    bw_xgrow(&buf, &cap, len + 4096 + 1, 1);
    got = fread(buf + len, 1, 4096, f);
    len += got;
  } while (got > 0);
  (void)fclose(f);
  buf[len] = '\0';
  *ret_len = len;
  return buf;
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");

  if (!f)
    fail_msg("%s: %s", path, strerror(errno));
  (void)fputs(text, f);
  (void)fclose(f);
}

static int exists(const char *path) {
  struct stat sb;

  return stat(path, &sb) == 0;
}

/* A file from the source tree (BW_TEST_DATA is tests/, BW_SOURCE_DIR the project, set by ctest). */
static char *source_file(const char *var, const char *name) {
  const char *dir = getenv(var);
  size_t len;
  char *path, *text;

  if (!dir)
    fail_msg("%s is not set (run the test through ctest)", var);
  path = bw_xasprintf("%s/%s", dir, name);
  text = read_file(path, &len);
  free(path);
  return text;
}

static int64_t now_us(void) {
  struct timespec ts;

  (void)clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- runs to store --- */

static void base_run(struct bw_run *r, const char *test, const char *backend, enum bw_kind kind,
                     int64_t started_us) {
  bw_run_init(r);
  r->test = bw_xstrdup(test);
  r->backend = backend ? bw_xstrdup(backend) : NULL;
  r->kind = kind;
  r->url = bw_xstrdup(kind == BW_KIND_PAGE ? "https://archive.example.org/"
                                           : "https://archive.example.org/sample-700MB.tar");
  r->started_us = started_us;
  r->outcome = BW_OUTCOME_OK;
}

static void add_sample(struct bw_run *r, int64_t at, int64_t duration, int64_t bytes,
                       int64_t status, const char *error_class) {
  struct bw_sample s;

  bw_sample_init(&s);
  s.at_us = at;
  s.duration_us = duration;
  s.bytes = bytes;
  s.status = status;
  bw_run_add_sample(r, &s)->error_class = error_class ? bw_xstrdup(error_class) : NULL;
}

/* A page run of three requests: 200, 404, and one reset before any response. */
static void page_run(struct bw_run *r, const char *backend) {
  struct bw_sample *s;

  base_run(r, "portal-home", backend, BW_KIND_PAGE, T0_US);
  r->duration_us = 3321000;
  r->remote_ip = bw_xstrdup("192.0.2.10");
  r->remote_port = 443;
  r->http_version = bw_xstrdup("2");
  r->status = 404;
  r->requests = 3;
  r->complete = 2;
  r->failed = 1;
  r->failed_connect = 0;
  r->failed_receive = 1;
  r->failed_length = 0;
  r->failed_exception = 0;
  r->non_2xx = 1;
  r->bytes = 6400;
  r->html_bytes = 5432;
  r->rps = 0.903342366757;
  r->min_us = 98000;
  r->mean_us = 1072666;
  r->sd_us = 1366245;
  r->p50_us = 120000;
  r->p90_us = 3000000;
  r->p95_us = 3000000;
  r->p99_us = 3000000;
  r->max_us = 3000000;
  r->mode_us = 98000;
  r->connect_p50_us = 1750;
  r->ttfb_p50_us = 85000;
  add_sample(r, 0, 98000, 5120, 200, NULL);
  s = &r->samples[0];
  s->dns_us = 1000;
  s->connect_us = 2000;
  s->tls_us = 5000;
  s->ttfb_us = 60000;
  add_sample(r, 98500, 120000, 312, 404, NULL);
  s = &r->samples[1];
  s->dns_us = 0;
  s->connect_us = 1500;
  s->tls_us = 4800;
  s->ttfb_us = 110000;
  add_sample(r, 220000, 3000000, 0, 0, "reset");
  r->samples[2].dns_us = 900;
}

/* A download stopped by max_time, with its timeline and the socket's TCP_INFO. */
static void download_run(struct bw_run *r) {
  base_run(r, "big-tarball", "node-1:8088", BW_KIND_DOWNLOAD, T0_US + HOUR_US);
  r->duration_us = 5000000;
  r->outcome = BW_OUTCOME_PARTIAL;
  r->error_class = bw_xstrdup("timeout");
  r->error_message = bw_xstrdup("Operation timed out after 5000 milliseconds with 48032000 bytes");
  r->remote_ip = bw_xstrdup("2001:db8::7");
  r->remote_port = 8088;
  r->http_version = bw_xstrdup("1.1");
  r->status = 200;
  r->bytes = 48032000;
  r->rate_bps = 9612800;
  r->ttfb_us = 4100;
  r->stall_us = 0; /* measured: no stall, which is not "unmeasured" */
  r->min_rate_bps = 32000;
  r->max_rate_bps = 16000000;
  r->tcp_rtt_us = 850;
  r->tcp_rttvar_us = 120;
  r->tcp_retrans = 12;
  r->tcp_pmtu = 1500;
  r->tcp_snd_mss = 1448;
  r->tcp_rcv_mss = 1448;
  r->tcp_rcv_space = 65535;
  r->tcp_options = bw_xstrdup("ts,sack,wscale:7/7");
  for (int i = 0; i < 5; i++)
    add_sample(r, i * INT64_C(1000000), 1000000, i == 3 ? 32000 : 16000000 - i * 1000, BW_NONE,
               NULL);
}

static void assert_same_text(const char *want, const char *got, const char *what) {
  if (!want && !got)
    return;
  if (!want || !got || strcmp(want, got) != 0)
    fail_msg("%s: want %s, got %s", what, want ? want : "NULL", got ? got : "NULL");
}

static void assert_same_run(const struct bw_run *want, const struct bw_run *got) {
  double a, b;
  int64_t ia, ib;

  assert_same_text(want->test, got->test, "test");
  assert_same_text(want->backend ? want->backend : "", got->backend, "backend");
  assert_int_equal(want->kind, got->kind);
  assert_same_text(want->url, got->url, "url");
  assert_int_equal(want->started_us, got->started_us);
  assert_int_equal(want->outcome, got->outcome);
  assert_same_text(want->error_class, got->error_class, "error_class");
  assert_same_text(want->error_message, got->error_message, "error_message");
  assert_same_text(want->remote_ip, got->remote_ip, "remote_ip");
  assert_same_text(want->http_version, got->http_version, "http_version");
  assert_same_text(want->tcp_options, got->tcp_options, "tcp_options");
  for (const struct bw_figure *f = bw_run_figures; f->name; f++) {
    int wa = bw_figure_get(f, want, &a), gb = bw_figure_get(f, got, &b);

    if (wa != gb)
      fail_msg("%s: measured %d, read back %d", f->name, wa, gb);
    if (f->real && wa && memcmp(&a, &b, sizeof(a)) != 0)
      fail_msg("%s: want %.17g, got %.17g", f->name, a, b);
    if (!f->real) {
      memcpy(&ia, (const char *)want + f->offset, sizeof(ia));
      memcpy(&ib, (const char *)got + f->offset, sizeof(ib));
      if (ia != ib)
        fail_msg("%s: want %lld, got %lld", f->name, (long long)ia, (long long)ib);
    }
  }
  assert_int_equal(want->n_samples, got->n_samples);
  for (size_t i = 0; i < want->n_samples; i++) {
    const struct bw_sample *w = &want->samples[i], *g = &got->samples[i];

    assert_int_equal(w->at_us, g->at_us);
    assert_int_equal(w->duration_us, g->duration_us);
    assert_int_equal(w->bytes, g->bytes);
    assert_int_equal(w->status, g->status);
    assert_int_equal(w->dns_us, g->dns_us);
    assert_int_equal(w->connect_us, g->connect_us);
    assert_int_equal(w->tls_us, g->tls_us);
    assert_int_equal(w->ttfb_us, g->ttfb_us);
    assert_same_text(w->error_class, g->error_class, "sample error_class");
  }
}

static int64_t put(struct fixture *fx, const struct bw_run *run) {
  int64_t id = -1;
  int r = bw_store_put_run(fx->store, run, &id, &fx->errs);

  if (r != 0)
    fail_msg("bw_store_put_run: %d: %s", r, last_err(fx));
  assert_true(id > 0);
  return id;
}

/* --- schema creation and migration --- */

static void test_create(void **state) {
  struct fixture *fx = *state;
  static const char *const tables[] = {"target", "run", "sample", "regression"};
  static const char *const views[] = {"runs_readable", "open_regressions", "daily"};
  sqlite3 *db;
  char *mode;

  open_store(fx);
  assert_int_equal(bw_store_version(fx->store), bw_sql_version);
  /* The connection's own settings (they do not persist in the file). */
  assert_int_equal(raw_int(fx->store_db, "PRAGMA foreign_keys"), 1);
  assert_int_equal(raw_int(fx->store_db, "PRAGMA synchronous"), 1); /* NORMAL */
  assert_int_equal(raw_int(fx->store_db, "PRAGMA busy_timeout"), 5000);
  close_store(fx);

  db = raw_open(fx->db);
  assert_int_equal(raw_int(db, "PRAGMA user_version"), bw_sql_version);
  mode = raw_text(db, "PRAGMA journal_mode");
  assert_string_equal(mode, "wal\n");
  free(mode);
  for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
    assert_int_equal(
        raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
                tables[i]),
        1);
  for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
    assert_int_equal(
        raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'view' AND name = '%s'",
                views[i]),
        1);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM target"), 0);
  (void)sqlite3_close(db);

  /* Opening again changes nothing. */
  open_store(fx);
  assert_int_equal(bw_store_version(fx->store), bw_sql_version);
  assert_int_equal(fx->errs.n, 0);
}

/* SQL without comments, with runs of white space as one space and none next to ( ) , */
static char *normalise_sql(const char *sql) {
  char *out = bw_xmalloc(strlen(sql) + 1), *o = out;
  int space = 0;

  for (const char *p = sql; *p; p++) {
    if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n')
        p++;
      if (!*p)
        break;
    }
    if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
      space = 1;
      continue;
    }
    if (space && o > out && !strchr("(,", o[-1]) && !strchr("),", *p))
      *o++ = ' ';
    space = 0;
    *o++ = *p;
  }
  *o = '\0';
  return out;
}

/* Every schema object of a database, one line each: type|name|table|normalised SQL. */
static char *schema_dump(const char *path) {
  sqlite3 *db = raw_open(path);
  sqlite3_stmt *st = NULL;
  char *out = bw_xstrdup(""), *next, *norm;
  const unsigned char *sql;

  if (sqlite3_prepare_v2(db,
                         "SELECT type, name, tbl_name, sql FROM sqlite_master"
                         " ORDER BY type, name",
                         -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s", sqlite3_errmsg(db));
  while (sqlite3_step(st) == SQLITE_ROW) {
    sql = sqlite3_column_text(st, 3);
    norm = normalise_sql(sql ? (const char *)sql : "NULL");
    next = bw_xasprintf("%s%s|%s|%s|%s\n", out, sqlite3_column_text(st, 0),
                        sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), norm);
    free(norm);
    free(out);
    out = next;
  }
  (void)sqlite3_finalize(st);
  (void)sqlite3_close(db);
  return out;
}

/*
 * A database as version 1 made it, with a target and a run in it, is brought to the current
 * version and ends up with exactly the schema a new database gets, its data still readable.
 */
static void test_migrate_from_v1(void **state) {
  struct fixture *fx = *state;
  char *v1_sql = source_file("BW_TEST_DATA", "data/schema-v1.sql");
  char *fresh = in_dir(fx, "fresh.db");
  char *old_dump, *new_dump;
  struct bw_run run;
  sqlite3 *db;

  db = raw_open(fx->db);
  raw_exec(db, v1_sql);
  set_version(db, 1);
  raw_exec(db, "INSERT INTO target (id, name, backend, kind, url, created_us)"
               " VALUES (7, 'portal-home', '', 'page', 'https://archive.example.org/', 1)");
  raw_exec(db, "INSERT INTO run (id, target_id, started_us, outcome, p50_us, rps)"
               " VALUES (3, 7, 1700000000000000, 'ok', 98000, 10.5)");
  raw_exec(db, "INSERT INTO sample (run_id, seq, at_us, duration_us, bytes, status)"
               " VALUES (3, 0, 0, 98000, 5120, 200)");
  (void)sqlite3_close(db);
  free(v1_sql);

  open_store(fx);
  assert_int_equal(bw_store_version(fx->store), bw_sql_version);
  assert_int_equal(bw_store_get_run(fx->store, 3, &run, &fx->errs), 0);
  assert_string_equal(run.test, "portal-home");
  assert_int_equal(run.p50_us, 98000);
  assert_true(run.rps == 10.5);
  assert_int_equal(run.n_samples, 1);
  assert_int_equal(run.samples[0].status, 200);
  bw_run_reset(&run);
  close_store(fx);

  assert_int_equal(bw_store_open(fresh, &fx->store, &fx->errs), 0);
  close_store(fx);

  db = raw_open(fx->db);
  assert_int_equal(raw_int(db, "PRAGMA user_version"), bw_sql_version);
  (void)sqlite3_close(db);
  old_dump = schema_dump(fx->db);
  new_dump = schema_dump(fresh);
  assert_string_equal(old_dump, new_dump);
  assert_contains(new_dump, "table|run|run|CREATE TABLE run (id INTEGER PRIMARY KEY,");
  free(old_dump);
  free(new_dump);
  free(fresh);
}

/* A test-only schema and migrations, to exercise the mechanism whatever sql/ holds today. */
static const char test_schema[] = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL);";

static const struct bw_sql_migration test_migrations[] = {
    {2, "0002-item-colour.sql", "ALTER TABLE item ADD COLUMN colour TEXT NOT NULL DEFAULT 'red';"},
    {3, "0003-tag.sql",
     "CREATE TABLE tag (item_id INTEGER NOT NULL REFERENCES item (id), tag TEXT NOT NULL);\n"
     "INSERT INTO tag (item_id, tag) SELECT id, 'new' FROM item;"},
    {0, NULL, NULL},
};

static const struct bw_sql_migration broken_migrations[] = {
    {2, "0002-item-colour.sql", "ALTER TABLE item ADD COLUMN colour TEXT NOT NULL DEFAULT 'red';"},
    {3, "0003-broken.sql",
     "CREATE TABLE tag (item_id INTEGER);\nINSERT INTO no_such_table VALUES (1);"},
    {0, NULL, NULL},
};

/* A version-1 database of the test schema with two items. */
static void make_v1_items(struct fixture *fx) {
  sqlite3 *db;

  assert_int_equal(
      bw_store_open_with(fx->db, test_schema, test_migrations, 1, &fx->store, &fx->errs), 0);
  assert_int_equal(bw_store_version(fx->store), 1);
  close_store(fx);
  db = raw_open(fx->db);
  assert_int_equal(raw_int(db, "PRAGMA user_version"), 1);
  raw_exec(db, "INSERT INTO item (name) VALUES ('a'), ('b')");
  (void)sqlite3_close(db);
}

/* What a raw connection sees of the test schema. */
static void assert_items(struct fixture *fx, int version, const char *tables, const char *colours) {
  sqlite3 *db = raw_open(fx->db);
  char *text;

  assert_int_equal(raw_int(db, "PRAGMA user_version"), version);
  text = raw_text(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  assert_string_equal(text, tables);
  free(text);
  text = raw_text(db, "SELECT group_concat(name) FROM item ORDER BY id");
  assert_string_equal(text, "a,b\n");
  free(text);
  if (colours) {
    text = raw_text(db, "SELECT group_concat(colour) FROM item ORDER BY id");
    assert_string_equal(text, colours);
    free(text);
  } else {
    assert_int_equal(
        raw_int(db, "SELECT count(*) FROM pragma_table_info('item') WHERE name = 'colour'"), 0);
  }
  (void)sqlite3_close(db);
}

static void test_migrations_apply(void **state) {
  struct fixture *fx = *state;
  sqlite3 *db;

  make_v1_items(fx);
  assert_int_equal(
      bw_store_open_with(fx->db, test_schema, test_migrations, 3, &fx->store, &fx->errs), 0);
  assert_int_equal(bw_store_version(fx->store), 3);
  close_store(fx);
  assert_items(fx, 3, "item\ntag\n", "red,red\n");
  db = raw_open(fx->db);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM tag WHERE tag = 'new'"), 2);
  (void)sqlite3_close(db);

  /* Already there: nothing runs twice. */
  assert_int_equal(
      bw_store_open_with(fx->db, test_schema, test_migrations, 3, &fx->store, &fx->errs), 0);
  close_store(fx);
  db = raw_open(fx->db);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM tag"), 2);
  (void)sqlite3_close(db);
  assert_int_equal(fx->errs.n, 0);
}

static void test_migration_error_rolls_back(void **state) {
  struct fixture *fx = *state;
  struct bw_store *store = NULL;
  int r;

  make_v1_items(fx);
  r = bw_store_open_with(fx->db, test_schema, broken_migrations, 3, &store, &fx->errs);
  assert_int_equal(r, -EIO);
  assert_null(store);
  assert_int_equal(fx->errs.n, 1);
  assert_contains(last_err(fx), fx->db);
  assert_contains(last_err(fx), "0003-broken.sql");
  assert_contains(last_err(fx), "no such table: no_such_table");
  /* Migration 2 had run in the same transaction: it is gone too. */
  assert_items(fx, 1, "item\n", NULL);

  /* A list that stops short of the version asked for is refused the same way. */
  r = bw_store_open_with(fx->db, test_schema, test_migrations, 4, &store, &fx->errs);
  assert_int_equal(r, -EIO);
  assert_null(store);
  assert_contains(last_err(fx), "no migration from schema version 3 to 4");
  assert_items(fx, 1, "item\n", NULL);

  /* The version-1 database still opens and reads. */
  assert_int_equal(
      bw_store_open_with(fx->db, test_schema, test_migrations, 1, &fx->store, &fx->errs), 0);
  assert_int_equal(bw_store_version(fx->store), 1);
  close_store(fx);
  assert_items(fx, 1, "item\n", NULL);
}

/* --- files the store must refuse, and leave as they were --- */

static void assert_untouched(const char *path, const char *bytes, size_t len) {
  size_t now_len;
  char *now = read_file(path, &now_len);
  char *wal = bw_xasprintf("%s-wal", path);
  char *journal = bw_xasprintf("%s-journal", path);

  assert_int_equal(now_len, len);
  assert_memory_equal(now, bytes, len);
  assert_false(exists(wal));
  assert_false(exists(journal));
  free(now);
  free(wal);
  free(journal);
}

static void test_refuse_newer(void **state) {
  struct fixture *fx = *state;
  char *other = in_dir(fx, "rollback-journal.db");
  char *wal = bw_xasprintf("%s-wal", fx->db);
  const char *paths[] = {fx->db, other};
  struct bw_store *store = NULL;
  char *bytes, *want;
  size_t len;
  sqlite3 *db;
  int r;

  /* One database the store made (WAL), one in rollback-journal mode that WAL would change. */
  open_store(fx);
  close_store(fx);
  db = raw_open(fx->db);
  set_version(db, bw_sql_version + 5);
  raw_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
  (void)sqlite3_close(db);
  assert_false(exists(wal));

  db = raw_open(other);
  raw_exec(db, "PRAGMA journal_mode = DELETE");
  raw_exec(db, "CREATE TABLE target (id INTEGER PRIMARY KEY)");
  set_version(db, bw_sql_version + 5);
  (void)sqlite3_close(db);

  for (size_t i = 0; i < 2; i++) {
    bytes = read_file(paths[i], &len);
    r = bw_store_open(paths[i], &store, &fx->errs);
    assert_int_equal(r, -EPROTO);
    assert_null(store);
    want = bw_xasprintf("%s: database schema version %d is newer than this benchwatch understands"
                        " (version %d); upgrade benchwatch or use another database",
                        paths[i], bw_sql_version + 5, bw_sql_version);
    assert_string_equal(last_err(fx), want);
    free(want);
    assert_untouched(paths[i], bytes, len);
    free(bytes);
  }
  free(other);
  free(wal);
}

static void test_not_a_database(void **state) {
  struct fixture *fx = *state;
  char *text = in_dir(fx, "notes.txt");
  char *missing = in_dir(fx, "no/such/dir/bw.db");
  char *foreign = in_dir(fx, "foreign.db");
  struct bw_store *store = NULL;
  char *bytes, *want;
  size_t len;
  sqlite3 *db;

  write_file(text, "These are notes, not a database.\nLine two.\n");
  bytes = read_file(text, &len);
  assert_int_equal(bw_store_open(text, &store, &fx->errs), -EINVAL);
  assert_null(store);
  want = bw_xasprintf("%s: not an SQLite database", text);
  assert_string_equal(last_err(fx), want);
  free(want);
  assert_untouched(text, bytes, len);
  free(bytes);

  assert_int_equal(bw_store_open(missing, &store, &fx->errs), -ENOENT);
  assert_null(store);
  assert_contains(last_err(fx), missing);
  assert_contains(last_err(fx), "unable to open database file");
  assert_false(exists(missing));

  assert_true(bw_store_open(fx->dir, &store, &fx->errs) < 0);
  assert_null(store);
  assert_contains(last_err(fx), fx->dir);
  assert_contains(last_err(fx), "unable to open database file");

  /* An SQLite database of another program: refused before anything is written to it. */
  db = raw_open(foreign);
  raw_exec(db, "CREATE TABLE moz_places (id INTEGER PRIMARY KEY, url TEXT)");
  raw_exec(db, "INSERT INTO moz_places (url) VALUES ('https://example.org/')");
  (void)sqlite3_close(db);
  bytes = read_file(foreign, &len);
  assert_int_equal(bw_store_open(foreign, &store, &fx->errs), -EINVAL);
  assert_null(store);
  assert_contains(last_err(fx), foreign);
  assert_contains(last_err(fx), "not a benchwatch database");
  assert_untouched(foreign, bytes, len);
  free(bytes);

  free(text);
  free(missing);
  free(foreign);
}

/* --- runs --- */

static void test_round_trip(void **state) {
  struct fixture *fx = *state;
  struct bw_run page, download, full, got;
  int64_t page_id, download_id, full_id;
  sqlite3 *db;
  int i = 0;

  page_run(&page, NULL);
  download_run(&download);
  /* Every figure of the catalogue measured and different, so no two columns can be mixed up. */
  base_run(&full, "everything", "node-3:8088", BW_KIND_DOWNLOAD, T0_US + 2 * HOUR_US);
  for (const struct bw_figure *f = bw_run_figures; f->name; f++, i++)
    bw_figure_set(f, &full, f->real ? 0.25 + i : 1000.0 * (i + 1) + i);

  open_store(fx);
  page_id = put(fx, &page);
  download_id = put(fx, &download);
  full_id = put(fx, &full);

  assert_int_equal(bw_store_get_run(fx->store, page_id, &got, &fx->errs), 0);
  assert_same_run(&page, &got);
  assert_string_equal(got.backend, "");
  assert_int_equal(got.rate_bps, BW_NONE);
  assert_int_equal(got.tcp_rtt_us, BW_NONE);
  assert_null(got.tcp_options);
  assert_null(got.error_class);
  assert_string_equal(got.samples[2].error_class, "reset");
  assert_int_equal(got.samples[2].connect_us, BW_NONE);
  bw_run_reset(&got);

  assert_int_equal(bw_store_get_run(fx->store, download_id, &got, &fx->errs), 0);
  assert_same_run(&download, &got);
  assert_int_equal(got.stall_us, 0);
  assert_true(isnan(got.rps));
  assert_int_equal(got.p50_us, BW_NONE);
  assert_int_equal(got.samples[4].status, BW_NONE);
  bw_run_reset(&got);

  assert_int_equal(bw_store_get_run(fx->store, full_id, &got, &fx->errs), 0);
  assert_same_run(&full, &got);
  bw_run_reset(&got);

  /* Unmeasured is NULL in SQL, and a measured zero stays a zero. */
  db = raw_open(fx->db);
  assert_int_equal(raw_int(db,
                           "SELECT rate_bps IS NULL AND stall_us IS NULL AND tcp_options IS NULL"
                           " AND rps IS NOT NULL AND p50_us = 120000 FROM run WHERE id = %lld",
                           (long long)page_id),
                   1);
  assert_int_equal(raw_int(db,
                           "SELECT stall_us = 0 AND typeof(stall_us) = 'integer' AND p50_us IS NULL"
                           " AND rps IS NULL FROM run WHERE id = %lld",
                           (long long)download_id),
                   1);
  assert_int_equal(raw_int(db,
                           "SELECT t.backend = '' FROM run r JOIN target t"
                           " ON t.id = r.target_id WHERE r.id = %lld",
                           (long long)page_id),
                   1);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM sample WHERE run_id = %lld AND status IS NULL",
                           (long long)download_id),
                   5);
  (void)sqlite3_close(db);

  /* Reading what is not there, and storing what cannot be stored. */
  assert_int_equal(bw_store_get_run(fx->store, 999, &got, &fx->errs), -ENOENT);
  assert_contains(last_err(fx), "no run 999");
  assert_null(got.test);
  page.started_us = BW_NONE;
  assert_int_equal(bw_store_put_run(fx->store, &page, NULL, &fx->errs), -EINVAL);
  assert_contains(last_err(fx), "run has no start time");
  db = raw_open(fx->db);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM run"), 3);
  (void)sqlite3_close(db);

  bw_run_reset(&page);
  bw_run_reset(&download);
  bw_run_reset(&full);
}

static int64_t target_of(sqlite3 *db, int64_t run_id) {
  return raw_int(db, "SELECT target_id FROM run WHERE id = %lld", (long long)run_id);
}

static void test_target_identity(void **state) {
  struct fixture *fx = *state;
  struct bw_run run;
  int64_t a, b, c, id, other;
  sqlite3 *db;
  char *text;

  open_store(fx);
  page_run(&run, NULL);
  a = put(fx, &run);
  bw_run_reset(&run);
  page_run(&run, "");
  run.started_us += HOUR_US;
  b = put(fx, &run);
  bw_run_reset(&run);
  page_run(&run, "node-2:8088");
  c = put(fx, &run);
  bw_run_reset(&run);

  db = raw_open(fx->db);
  assert_true(a != b);
  assert_int_equal(target_of(db, a), target_of(db, b));
  assert_true(target_of(db, c) != target_of(db, a));
  assert_int_equal(raw_int(db, "SELECT count(*) FROM target"), 2);

  assert_int_equal(bw_store_target(fx->store, "portal-home", NULL, BW_KIND_PAGE,
                                   "https://archive.example.org/", &id, &fx->errs),
                   0);
  assert_int_equal(id, target_of(db, a));
  assert_int_equal(bw_store_target(fx->store, "portal-home", "node-2:8088", BW_KIND_PAGE,
                                   "https://archive.example.org/", &id, &fx->errs),
                   0);
  assert_int_equal(id, target_of(db, c));

  /* A changed config keeps the id and updates kind and url. */
  assert_int_equal(bw_store_target(fx->store, "portal-home", "", BW_KIND_DOWNLOAD,
                                   "https://archive.example.org/new/", &id, &fx->errs),
                   0);
  assert_int_equal(id, target_of(db, a));
  text = raw_text(db, "SELECT kind || ' ' || url FROM target WHERE backend = ''");
  assert_string_equal(text, "download https://archive.example.org/new/\n");
  free(text);

  close_store(fx);
  open_store(fx);
  assert_int_equal(bw_store_target(fx->store, "portal-home", "", BW_KIND_PAGE,
                                   "https://archive.example.org/", &id, &fx->errs),
                   0);
  assert_int_equal(id, target_of(db, a));
  assert_int_equal(bw_store_target(fx->store, "other", "", BW_KIND_PAGE, "https://example.org/",
                                   &other, &fx->errs),
                   0);
  assert_true(other != target_of(db, a) && other != target_of(db, c));
  assert_int_equal(raw_int(db, "SELECT count(*) FROM target"), 3);
  (void)sqlite3_close(db);

  assert_int_equal(
      bw_store_target(fx->store, NULL, "", BW_KIND_PAGE, "https://example.org/", &id, &fx->errs),
      -EINVAL);
  assert_int_equal(fx->errs.n, 1);
}

static void assert_counts(struct fixture *fx, int targets, int runs, int samples) {
  sqlite3 *db = raw_open(fx->db);

  assert_int_equal(raw_int(db, "SELECT count(*) FROM target"), targets);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM run"), runs);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM sample"), samples);
  /* run_day is written in the run's transaction: it counts exactly the runs that stayed. */
  assert_int_equal(raw_int(db, "SELECT coalesce(sum(runs), 0) FROM run_day"), runs);
  (void)sqlite3_close(db);
}

static void test_atomicity(void **state) {
  struct fixture *fx = *state;
  struct bw_run good, bad;
  sqlite3 *db;
  char *text;

  open_store(fx);
  page_run(&good, NULL);
  (void)put(fx, &good);
  assert_counts(fx, 1, 1, 3);

  /* A new target whose second sample violates NOT NULL: target, run and first sample vanish. */
  page_run(&bad, "node-9:8088");
  bad.samples[1].at_us = BW_NONE;
  assert_int_equal(bw_store_put_run(fx->store, &bad, NULL, &fx->errs), -EIO);
  assert_contains(last_err(fx), fx->db);
  assert_contains(last_err(fx), "sample 1");
  assert_contains(last_err(fx), "NOT NULL constraint failed: sample.at_us");
  assert_counts(fx, 1, 1, 3);

  /* An existing target: its url change is undone with the run. */
  free(bad.backend);
  bad.backend = NULL;
  free(bad.url);
  bad.url = bw_xstrdup("https://changed.example.org/");
  assert_int_equal(bw_store_put_run(fx->store, &bad, NULL, &fx->errs), -EIO);
  assert_counts(fx, 1, 1, 3);
  db = raw_open(fx->db);
  text = raw_text(db, "SELECT url FROM target");
  assert_string_equal(text, "https://archive.example.org/\n");
  free(text);
  (void)sqlite3_close(db);

  /* The store is not left inside a transaction. */
  good.started_us += HOUR_US;
  (void)put(fx, &good);
  assert_counts(fx, 1, 2, 6);
  bw_run_reset(&good);
  bw_run_reset(&bad);
}

/* --- baseline windows --- */

static void expect_window(struct fixture *fx, int64_t target, int64_t since, int64_t until,
                          size_t max, const int *want, size_t n_want, const int64_t *ids) {
  struct bw_point *pts = NULL;
  size_t n = 0;

  if (bw_store_window(fx->store, target, "p50_us", since, until, max, &pts, &n, &fx->errs) != 0)
    fail_msg("bw_store_window: %s", last_err(fx));
  assert_int_equal(n, n_want);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(pts[i].run_id, ids[want[i]]);
    assert_int_equal(pts[i].started_us, T0_US + want[i] * HOUR_US);
    assert_true(pts[i].value == 1000.0 + want[i]);
  }
  free(pts);
}

static char *traced_sql;

/* Keeps the text of the window query the store prepares. */
static int trace_window(unsigned type, void *ctx, void *p, void *x) {
  const char *sql = sqlite3_sql(p);

  (void)type;
  (void)ctx;
  (void)x;
  if (sql && strstr(sql, "ORDER BY r.started_us DESC") && !traced_sql)
    traced_sql = bw_xstrdup(sql);
  return 0;
}

static void test_window(void **state) {
  struct fixture *fx = *state;
  static const int all[] = {0, 1, 2, 4, 5, 6, 7, 8, 9};
  static const int between[] = {2, 4, 5, 6, 7};
  static const int newest[] = {7, 8, 9};
  static const int newest_between[] = {5, 6, 7};
  int64_t ids[11], t1, t2;
  struct bw_point *pts = NULL, sentinel;
  size_t n = 77;
  struct bw_run run;
  char *plan, *sql;

  open_store(fx);
  for (int i = 0; i <= 10; i++) {
    /*
     * Run 3 failed and run 10 was ok but measured no p50 (only its mean): neither is in a p50
     * window. Run 7 was cut short by a cap (partial): its figures stand, so it is in.
     */
    base_run(&run, "portal-home", NULL, BW_KIND_PAGE, T0_US + i * HOUR_US);
    if (i == 3) {
      run.outcome = BW_OUTCOME_FAILED;
      run.error_class = bw_xstrdup("connect");
    } else if (i == 7) {
      run.outcome = BW_OUTCOME_PARTIAL;
      run.p50_us = 1007;
    } else if (i == 10) {
      run.mean_us = 42;
    } else {
      run.p50_us = 1000 + i;
    }
    ids[i] = put(fx, &run);
    bw_run_reset(&run);
    /* Another target, half an hour later, with other values. */
    base_run(&run, "portal-home", "node-2:8088", BW_KIND_PAGE, T0_US + i * HOUR_US + HOUR_US / 2);
    run.p50_us = 5000 + i;
    (void)put(fx, &run);
    bw_run_reset(&run);
  }
  assert_int_equal(bw_store_target(fx->store, "portal-home", "", BW_KIND_PAGE,
                                   "https://archive.example.org/", &t1, &fx->errs),
                   0);
  assert_int_equal(bw_store_target(fx->store, "portal-home", "node-2:8088", BW_KIND_PAGE,
                                   "https://archive.example.org/", &t2, &fx->errs),
                   0);

  expect_window(fx, t1, INT64_MIN, INT64_MAX, 0, all, 9, ids);
  /* since is inclusive (run 2 starts at it), until exclusive (run 8 starts at it). */
  expect_window(fx, t1, T0_US + 2 * HOUR_US, T0_US + 8 * HOUR_US, 0, between, 5, ids);
  expect_window(fx, t1, INT64_MIN, INT64_MAX, 3, newest, 3, ids);
  expect_window(fx, t1, T0_US + 2 * HOUR_US, T0_US + 8 * HOUR_US, 3, newest_between, 3, ids);
  expect_window(fx, t1, INT64_MIN, INT64_MAX, 100, all, 9, ids);
  expect_window(fx, t1, T0_US, T0_US, 0, NULL, 0, ids);

  assert_int_equal(
      bw_store_window(fx->store, t2, "p50_us", INT64_MIN, INT64_MAX, 0, &pts, &n, &fx->errs), 0);
  assert_int_equal(n, 11);
  assert_true(pts[0].value == 5000.0 && pts[10].value == 5010.0);
  free(pts);
  pts = NULL;
  assert_int_equal(
      bw_store_window(fx->store, t1, "mean_us", INT64_MIN, INT64_MAX, 0, &pts, &n, &fx->errs), 0);
  assert_int_equal(n, 1);
  assert_int_equal(pts[0].run_id, ids[10]);
  free(pts);
  pts = NULL;

  /* Metric names are looked up in the catalogue, never pasted into SQL. */
  pts = &sentinel;
  n = 77;
  assert_int_equal(bw_store_window(fx->store, t1, "p51_us", 0, INT64_MAX, 0, &pts, &n, &fx->errs),
                   -EINVAL);
  assert_string_equal(last_err(fx), "unknown metric p51_us");
  assert_int_equal(
      bw_store_window(fx->store, t1, "p50_us FROM run; --", 0, INT64_MAX, 0, &pts, &n, &fx->errs),
      -EINVAL);
  assert_ptr_equal(pts, &sentinel);
  assert_int_equal(n, 77);

  /* The query walks the run_target_started index and sorts nothing. */
  (void)sqlite3_trace_v2(fx->store_db, SQLITE_TRACE_STMT, trace_window, NULL);
  expect_window(fx, t1, INT64_MIN, INT64_MAX, 3, newest, 3, ids);
  (void)sqlite3_trace_v2(fx->store_db, 0, NULL, NULL);
  assert_non_null(traced_sql);
  sql = bw_xasprintf("EXPLAIN QUERY PLAN %s", traced_sql);
  free(traced_sql);
  traced_sql = NULL;
  /* The plan's detail is its fourth column. */
  {
    sqlite3_stmt *st = NULL;
    const unsigned char *d;
    char *next;

    plan = bw_xstrdup("");
    assert_int_equal(sqlite3_prepare_v2(fx->store_db, sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      d = sqlite3_column_text(st, 3);
      next = bw_xasprintf("%s%s\n", plan, d ? (const char *)d : "");
      free(plan);
      plan = next;
    }
    (void)sqlite3_finalize(st);
  }
  assert_contains(plan, "USING INDEX run_target_started (target_id=? AND started_us>? AND "
                        "started_us<?)");
  assert_null(strstr(plan, "TEMP B-TREE"));
  free(plan);
  free(sql);
}

/* --- sql/queries.sql --- */

#define MAX_QUERIES 32

/* Runs every statement of sql on db, split as sqlite3 does; rows[i] counts statement i's rows. */
static size_t run_queries(sqlite3 *db, const char *sql, size_t *rows) {
  const char *p = sql, *tail;
  sqlite3_stmt *st;
  size_t n = 0;
  int rc;

  while (*p) {
    st = NULL;
    tail = NULL;
    if (sqlite3_prepare_v2(db, p, -1, &st, &tail) != SQLITE_OK)
      fail_msg("queries.sql, statement %zu: %s", n + 1, sqlite3_errmsg(db));
    p = tail;
    if (!st)
      continue; /* only comments and space were left */
    assert_true(n < MAX_QUERIES);
    if (!sqlite3_stmt_readonly(st))
      fail_msg("queries.sql, statement %zu changes the database", n + 1);
    rows[n] = 0;
    for (;;) {
      rc = sqlite3_step(st);
      if (rc != SQLITE_ROW)
        break;
      rows[n]++;
    }
    if (rc != SQLITE_DONE)
      fail_msg("queries.sql, statement %zu: %s", n + 1, sqlite3_errmsg(db));
    (void)sqlite3_finalize(st);
    n++;
  }
  return n;
}

static void test_queries(void **state) {
  struct fixture *fx = *state;
  char *queries = source_file("BW_SOURCE_DIR", "sql/queries.sql");
  size_t rows[MAX_QUERIES], n;
  int64_t now = now_us();
  struct bw_run run;
  sqlite3 *db;

  open_store(fx);
  close_store(fx);
  db = raw_open(fx->db);
  n = run_queries(db, queries, rows);
  assert_int_equal(n, 7);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(rows[i], 0);
  (void)sqlite3_close(db);

  /* Two targets ran in the last 24 hours (one of them failed once); a third only days ago. */
  open_store(fx);
  page_run(&run, NULL);
  run.started_us = now - HOUR_US;
  (void)put(fx, &run);
  run.started_us = now - HOUR_US / 2;
  run.outcome = BW_OUTCOME_FAILED;
  run.error_class = bw_xstrdup("connect");
  (void)put(fx, &run);
  bw_run_reset(&run);
  download_run(&run);
  run.started_us = now - 2 * HOUR_US;
  (void)put(fx, &run);
  bw_run_reset(&run);
  base_run(&run, "old-test", NULL, BW_KIND_PAGE, now - 72 * HOUR_US);
  run.p50_us = 1000;
  (void)put(fx, &run);
  bw_run_reset(&run);
  close_store(fx);

  db = raw_open(fx->db);
  n = run_queries(db, queries, rows);
  assert_int_equal(n, 7);
  assert_int_equal(rows[0], 2); /* last 24 h: portal-home and big-tarball, not old-test */
  assert_int_equal(rows[1], 2); /* page medians this week: portal-home and old-test */
  assert_int_equal(rows[2], 1); /* download rates this week: big-tarball (a partial run) */
  assert_int_equal(rows[3], 1); /* MB/s per day: big-tarball today */
  assert_int_equal(rows[4], 1); /* failures this week: portal-home, connect */
  assert_int_equal(rows[5], 0); /* no regressions */
  assert_int_equal(rows[6], 0); /* so nothing around the newest one's start */
  (void)sqlite3_close(db);
  free(queries);
}

/* Every row of a query, its columns joined by '|' (NULL as nothing), one line each. */
static char *raw_rows(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  struct bw_buf b = {0};
  int rc;

  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      const unsigned char *t = sqlite3_column_text(st, i);
      bw_buf_printf(&b, "%s%s", i ? "|" : "", t ? (const char *)t : "");
    }
    bw_buf_add(&b, "\n", 1);
  }
  if (rc != SQLITE_DONE)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  (void)sqlite3_finalize(st);
  return bw_buf_take(&b);
}

/* --- the documented queries' plans --- */

/* The statements of README's "Querying history with sqlite3" (its ```sql blocks) and of
 * sql/queries.sql, each as its own string, NULL-terminated. */
static char **documented_queries(sqlite3 *db, size_t *ret_n) {
  char *readme = source_file("BW_SOURCE_DIR", "README.md");
  char *file = source_file("BW_SOURCE_DIR", "sql/queries.sql");
  char **out = bw_xcalloc(2 * MAX_QUERIES + 1, sizeof(*out));
  size_t n = 0;
  const char *p = strstr(readme, "## Querying history with sqlite3");
  assert_non_null(p);
  const char *end = strstr(p + 1, "\n## ");
  assert_non_null(end);
  while ((p = strstr(p, "```sql\n")) && p < end) {
    p += strlen("```sql\n");
    const char *q = strstr(p, "```");
    assert_non_null(q);
    assert_true(n < MAX_QUERIES);
    out[n++] = bw_xstrndup(p, (size_t)(q - p));
    p = q + 3;
  }
  assert_true(n >= 5);
  /* queries.sql, split as sqlite3 splits it. */
  for (const char *q = file, *tail = NULL; *q; q = tail) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, q, -1, &st, &tail) != SQLITE_OK)
      fail_msg("queries.sql: %s", sqlite3_errmsg(db));
    if (!st)
      continue; /* only comments and space were left */
    assert_true(n < 2 * MAX_QUERIES);
    out[n++] = bw_xstrdup(sqlite3_sql(st));
    (void)sqlite3_finalize(st);
  }
  free(readme);
  free(file);
  *ret_n = n;
  return out;
}

/* Whether a line of a plan reads the run table: a scan of it, or one of its indexes. */
static bool reads_run(const char *d) {
  return strncmp(d, "SCAN r ", 7) == 0 || strcmp(d, "SCAN r") == 0 ||
         strncmp(d, "SCAN run ", 9) == 0 || strcmp(d, "SCAN run") == 0 ||
         strstr(d, "INDEX run_target_started") || strstr(d, "INDEX run_started") ||
         strstr(d, "INDEX run_failed") || strstr(d, "INDEX run_target_failed");
}

/* Whether a line reads run_day (the daily view's d). */
static bool reads_days(const char *d) {
  return strncmp(d, "SCAN d", 6) == 0 || strncmp(d, "SEARCH d ", 9) == 0 || strstr(d, "run_day");
}

/*
 * The query's plan, one detail line each, after checking that it never reads all of run or of
 * run_day: every step on run is bounded by started_us or is a rowid lookup, every step on run_day
 * by day. The one exception is the newest rows: a scan of run_started in its own order, stopped
 * by a LIMIT, with nothing sorted afterwards.
 */
static char *checked_plan(sqlite3 *db, const char *sql) {
  char *eqp = bw_xasprintf("EXPLAIN QUERY PLAN %s", sql);
  struct bw_buf b = {0};
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db, eqp, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  while (sqlite3_step(st) == SQLITE_ROW)
    bw_buf_printf(&b, "%s\n", (const char *)sqlite3_column_text(st, 3));
  (void)sqlite3_finalize(st);
  free(eqp);
  char *plan = bw_buf_take(&b);
  bool limited = strstr(sql, "LIMIT") && !strstr(plan, "TEMP B-TREE FOR ORDER BY");
  for (char *line = plan, *nl; *line; line = nl + 1) {
    nl = strchr(line, '\n');
    char *d = bw_xstrndup(line, (size_t)(nl - line));
    if (reads_run(d) && !strstr(d, "started_us") && !strstr(d, "rowid=?") &&
        !(limited && strcmp(d, "SCAN r USING INDEX run_started") == 0))
      fail_msg("reads every run (%s):\n%s\nplan:\n%s", d, sql, plan);
    if (reads_days(d) && !strstr(d, "day>") && !strstr(d, "day=") && !strstr(d, "day<"))
      fail_msg("reads every day (%s):\n%s\nplan:\n%s", d, sql, plan);
    free(d);
  }
  return plan;
}

/* The query run to its end: how many virtual machine steps it took. */
static int vm_steps(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int rc;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    ;
  if (rc != SQLITE_DONE)
    fail_msg("%s: %s", sql, sqlite3_errmsg(db));
  int steps = sqlite3_stmt_status(st, SQLITE_STMTSTATUS_VM_STEP, 0);
  (void)sqlite3_finalize(st);
  return steps;
}

/*
 * Every query README and sql/queries.sql hand to people is answered through an index: its plan
 * never reads all of run (or all of run_day), and it does the same work (give or take a seek)
 * after a year of older history is added below the same targets.
 */
static void test_query_plans(void **state) {
  struct fixture *fx = *state;
  int64_t now = now_us() / HOUR_US * HOUR_US - HOUR_US / 2;
  size_t n = 0;
  char **queries = NULL;
  struct bw_run r;
  int steps[2 * MAX_QUERIES];

  open_store(fx);
  for (int i = 0; i < 72; i++) {
    base_run(&r, "portal-home", NULL, BW_KIND_PAGE, now - i * HOUR_US);
    r.p50_us = 100000 + i;
    r.p90_us = 200000;
    if (i % 10 == 3) {
      r.outcome = BW_OUTCOME_FAILED;
      r.error_class = bw_xstrdup("connect");
      r.p50_us = BW_NONE;
    }
    (void)put(fx, &r);
    bw_run_reset(&r);
    download_run(&r);
    r.started_us = now - i * HOUR_US + 60000000;
    (void)put(fx, &r);
    bw_run_reset(&r);
  }
  close_store(fx);
  sqlite3 *db = raw_open(fx->db);
  raw_exec(db, "INSERT INTO regression (target_id, metric, opened_us, open_run_id, baseline,"
               " observed, ratio) SELECT target_id, 'p50_us', started_us, id, 100000, 200000, 2"
               " FROM run WHERE p50_us = 100010");
  queries = documented_queries(db, &n);
  assert_true(n >= 12);
  for (size_t i = 0; i < n; i++) {
    char *plan = checked_plan(db, queries[i]);
    free(plan);
    steps[i] = vm_steps(db, queries[i]);
  }
  /* A year of hourly runs for both targets, ending 6 weeks before these. */
  raw_exec(db, "WITH RECURSIVE h(k) AS (SELECT 1000 UNION ALL SELECT k + 1 FROM h WHERE k < 9760)"
               " INSERT INTO run (target_id, started_us, outcome, p50_us, rate_bps, stall_us)"
               " SELECT t.id, (SELECT min(started_us) FROM run) - k * 3600000000, 'ok',"
               " CASE t.kind WHEN 'page' THEN 100000 + k END,"
               " CASE t.kind WHEN 'download' THEN 1000000 + k END,"
               " CASE t.kind WHEN 'download' THEN 0 END"
               " FROM h, target t");
  assert_true(raw_int(db, "SELECT count(*) FROM run") > 17000);
  for (size_t i = 0; i < n; i++) {
    int after = vm_steps(db, queries[i]);
    /* A seek may land a step apart; reading the year would take thousands. */
    if (after > steps[i] + 16)
      fail_msg("%d steps before a year of older runs, %d after:\n%s", steps[i], after, queries[i]);
    free(queries[i]);
  }
  (void)sqlite3_close(db);
  free(queries);
}

/* --- run_day: the per-target, per-day rollup --- */

/*
 * run_day as it would be summed from scratch from run, one line per row, for comparing with what
 * the triggers (or migration 0007) kept. The medians are computed here with a window of their
 * own, not with the schema's statement.
 */
static char *rollup_from_runs(sqlite3 *db) {
  return raw_rows(
      db,
      "WITH d AS (SELECT target_id, date(started_us / 1000000, 'unixepoch') AS day, * FROM run),"
      " p AS (SELECT target_id, day, p50_us AS v, row_number() OVER (PARTITION BY target_id,"
      " day ORDER BY p50_us) AS i, count(*) OVER (PARTITION BY target_id, day) AS n FROM d"
      " WHERE p50_us IS NOT NULL),"
      " q AS (SELECT target_id, day, rate_bps AS v, row_number() OVER (PARTITION BY"
      " target_id, day ORDER BY rate_bps) AS i, count(*) OVER (PARTITION BY target_id, day)"
      " AS n FROM d WHERE rate_bps IS NOT NULL)"
      " SELECT target_id, day, count(*), sum(outcome = 'failed'),"
      " sum(outcome = 'partial'), min(started_us), max(started_us), count(p50_us),"
      " sum(p50_us), min(p50_us), max(p50_us), max(p90_us), count(rate_bps), sum(rate_bps),"
      " min(rate_bps), max(rate_bps), sum(stall_us),"
      " (SELECT avg(v) FROM p WHERE p.target_id = d.target_id AND p.day = d.day"
      "  AND i IN ((n + 1) / 2, (n + 2) / 2)),"
      " (SELECT avg(v) FROM q WHERE q.target_id = d.target_id AND q.day = d.day"
      "  AND i IN ((n + 1) / 2, (n + 2) / 2))"
      " FROM d GROUP BY target_id, day ORDER BY target_id, day");
}

static char *rollup_kept(sqlite3 *db) {
  return raw_rows(db, "SELECT target_id, day, runs, failed_runs, partial_runs,"
                      " first_us, last_us, p50_runs, p50_sum_us, p50_min_us, p50_max_us,"
                      " p90_max_us, rate_runs, rate_sum_bps, rate_min_bps, rate_max_bps, stall_us,"
                      " p50_med_us, rate_med_bps FROM run_day ORDER BY target_id, day");
}

static void assert_rollup_true(sqlite3 *db) {
  char *want = rollup_from_runs(db), *got = rollup_kept(db);
  assert_string_equal(got, want);
  free(want);
  free(got);
}

/* Ten hourly page runs from 22:13 UTC: two on the first day, eight on the next, the sixth failed.
 */
static void put_page_days(struct fixture *fx) {
  struct bw_run r;
  for (int i = 0; i < 10; i++) {
    base_run(&r, "portal-home", NULL, BW_KIND_PAGE, T0_US + i * HOUR_US);
    if (i == 5) {
      r.outcome = BW_OUTCOME_FAILED;
      r.error_class = bw_xstrdup("connect");
    } else {
      r.p50_us = (i + 1) * 1000;
      r.p90_us = (i + 1) * 3000;
    }
    (void)put(fx, &r);
    bw_run_reset(&r);
  }
}

/*
 * Every way a run reaches the database keeps run_day equal to a summary from scratch: stored
 * one by one (as the daemon and `run --store` do), imported in a batch, deleted or changed by
 * hand, and a whole target deleted. The daily view reads it.
 */
static void test_rollups(void **state) {
  struct fixture *fx = *state;
  struct bw_run runs[3], r;
  size_t added = 0;
  char *text;

  open_store(fx);
  put_page_days(fx);
  for (int i = 0; i < 3; i++) {
    download_run(&runs[i]);
    runs[i].started_us = T0_US + (i + 3) * HOUR_US;
    runs[i].rate_bps = (i + 1) * INT64_C(1000000);
    runs[i].stall_us = i * INT64_C(500000);
  }
  runs[1].outcome = BW_OUTCOME_OK;
  assert_int_equal(bw_store_put_new_runs(fx->store, runs, 3, &added, &fx->errs), 0);
  assert_int_equal(added, 3);
  for (int i = 0; i < 3; i++)
    bw_run_reset(&runs[i]);
  close_store(fx);

  sqlite3 *db = raw_open(fx->db);
  raw_exec(db, "PRAGMA foreign_keys = ON");
  assert_rollup_true(db);
  /* The second day of portal-home by hand: 8 runs, 1 failed, p50 3..10 ms without the 6th. */
  text = raw_rows(db, "SELECT runs, failed_runs, p50_runs, p50_sum_us, p50_min_us,"
                      " p50_max_us, p50_med_us, p90_max_us FROM run_day d JOIN target t"
                      " ON t.id = d.target_id WHERE t.name = 'portal-home' ORDER BY day");
  assert_string_equal(text, "2|0|2|3000|1000|2000|1500.0|6000\n"
                            "8|1|7|46000|3000|10000|7000.0|30000\n");
  free(text);
  text = raw_rows(db, "SELECT day_utc, runs, failed_runs, partial_runs,"
                      " avg_median_ms, median_ms, worst_p90_ms, avg_mb_per_s, min_mb_per_s,"
                      " median_mb_per_s, max_mb_per_s, stall_s FROM daily ORDER BY test, day_utc");
  assert_string_equal(text, "2023-11-15|3|0|2||||2.0|1.0|2.0|3.0|1.5\n"
                            "2023-11-14|2|0|0|1.5|1.5|6.0|||||\n"
                            "2023-11-15|8|1|0|6.57|7.0|30.0|||||\n");
  free(text);

  /* By hand: the slowest run deleted, another moved to the first day, one's figure changed. */
  raw_exec(db, "DELETE FROM run WHERE p50_us = 10000");
  raw_exec(db, "UPDATE run SET started_us = started_us - 2 * 3600000000 WHERE p50_us = 3000");
  raw_exec(db, "UPDATE run SET p50_us = 100 WHERE p50_us = 9000");
  assert_rollup_true(db);
  assert_int_equal(raw_int(db, "SELECT runs FROM run_day WHERE day = '2023-11-14' AND target_id ="
                               " (SELECT id FROM target WHERE name = 'portal-home')"),
                   3);
  /* The last run of a day goes: so does the day. A target goes: so do its days. */
  raw_exec(db, "DELETE FROM run WHERE target_id = (SELECT id FROM target WHERE kind = 'download')"
               " AND rate_bps = 1000000");
  assert_rollup_true(db);
  raw_exec(db, "DELETE FROM target WHERE name = 'portal-home'");
  assert_rollup_true(db);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM run_day"), 1);
  (void)sqlite3_close(db);

  /* A run that is rolled back leaves no trace in run_day either. */
  open_store(fx);
  base_run(&r, "portal-home", NULL, BW_KIND_PAGE, T0_US);
  r.p50_us = 1;
  assert_int_equal(bw_store_begin(fx->store, &fx->errs), 0);
  assert_int_equal(bw_store_put_run_in(fx->store, &r, NULL, NULL, &fx->errs), 0);
  bw_store_rollback(fx->store);
  bw_run_reset(&r);
  close_store(fx);
  db = raw_open(fx->db);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM run_day"), 1);
  assert_rollup_true(db);

  /*
   * A day of more than 32 runs has its median taken again at 64 and when the next day begins,
   * not at every run: 40 rising p50s keep the median of the first 32 until the next day's run.
   */
  raw_exec(db,
           "INSERT INTO target (id, name, kind, url, created_us) VALUES (9, 'm', 'page', 'u', 0)");
  raw_exec(db, "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 39)"
               " INSERT INTO run (target_id, started_us, outcome, p50_us)"
               " SELECT 9, 1700006400000000 + i * 60000000, 'ok', 1000 + i FROM k");
  assert_int_equal(raw_int(db, "SELECT p50_med_us * 2 FROM run_day WHERE target_id = 9"), 2031);
  raw_exec(db, "INSERT INTO run (target_id, started_us, outcome, p50_us)"
               " VALUES (9, 1700006400000000 + 86400000000, 'ok', 5)");
  assert_int_equal(raw_int(db, "SELECT p50_med_us * 2 FROM run_day WHERE target_id = 9"
                               " ORDER BY day LIMIT 1"),
                   2039);
  assert_rollup_true(db);
  (void)sqlite3_close(db);
}

/*
 * A database from before run_day (version 6, runs and all) is given one by migration 0007, filled
 * from its runs, and ends with the schema a new database has.
 */
static void test_rollup_migration(void **state) {
  struct fixture *fx = *state;
  char *fresh = in_dir(fx, "fresh.db");
  char *old_dump, *new_dump;
  struct bw_run r;
  sqlite3 *db;

  open_store(fx);
  put_page_days(fx);
  download_run(&r);
  (void)put(fx, &r);
  bw_run_reset(&r);
  close_store(fx);
  db = raw_open(fx->db);
  raw_exec(db, "DROP TRIGGER run_day_insert; DROP TRIGGER run_day_delete;"
               " DROP TRIGGER run_day_update; DROP VIEW daily; DROP TABLE run_day;"
               " DROP INDEX run_failed; DROP INDEX run_target_failed; DROP TABLE prune;"
               " CREATE VIEW daily AS SELECT 1 AS day_utc;");
  /* The view of version 13 (0013-readable.sql) names the columns dropped below. */
  raw_exec(db, "DROP VIEW runs_readable; CREATE VIEW runs_readable AS SELECT 1 AS run_id;");
  /* And what version 9 added (0009-streams.sql), so that it is added again. */
  raw_exec(db, "ALTER TABLE run DROP COLUMN transfer_bps; ALTER TABLE run DROP COLUMN streams;"
               " ALTER TABLE run DROP COLUMN stream_min_bps;"
               " ALTER TABLE run DROP COLUMN stream_max_bps;"
               " ALTER TABLE run DROP COLUMN stream_spread;"
               " ALTER TABLE run DROP COLUMN stream_rates;");
  /* And what version 10 added (0010-engine.sql). */
  raw_exec(db, "ALTER TABLE run DROP COLUMN engine;");
  /* And what version 11 added (0011-connect.sql). */
  raw_exec(db, "ALTER TABLE run DROP COLUMN tls_p50_us;");
  /* And what version 12 added (0012-requests.sql). */
  raw_exec(db, "ALTER TABLE run DROP COLUMN failed_check;"
               " ALTER TABLE run DROP COLUMN cert_expires_us;");
  set_version(db, 6);
  (void)sqlite3_close(db);

  open_store(fx);
  assert_int_equal(bw_store_version(fx->store), 13);
  close_store(fx);
  db = raw_open(fx->db);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM run_day"), 3);
  assert_rollup_true(db);
  (void)sqlite3_close(db);
  assert_int_equal(bw_store_open(fresh, &fx->store, &fx->errs), 0);
  close_store(fx);
  old_dump = schema_dump(fx->db);
  new_dump = schema_dump(fresh);
  assert_string_equal(old_dump, new_dump);
  free(old_dump);
  free(new_dump);
  free(fresh);
}

/*
 * A run's environment is kept only when it changed: a settled host adds one row, a change (a
 * tcp_timestamps turned off) another, and the row in effect at any time is the one that began at
 * or before it. A run without one, or with a text that does not parse, changes nothing.
 */
static void test_env_when_changed(void **state) {
  struct fixture *fx = *state;
  struct bw_run r;
  struct bw_env e;
  int64_t since = 0;
  static const char *envs[] = {"if=eth0 mtu=9000 tcp_timestamps=1 cc=cubic",
                               "if=eth0 mtu=9000 tcp_timestamps=1 cc=cubic",
                               NULL,
                               "garbage",
                               "if=eth0 mtu=9000 tcp_timestamps=0 cc=cubic",
                               "if=eth0 mtu=9000 tcp_timestamps=0 cc=cubic"};
  open_store(fx);
  int64_t first_id = 0;
  for (int i = 0; i < 6; i++) {
    download_run(&r);
    r.started_us = T0_US + i * HOUR_US;
    r.env = envs[i] ? bw_xstrdup(envs[i]) : NULL;
    int64_t id = put(fx, &r);
    if (i == 0)
      first_id = id;
    bw_run_reset(&r);
  }
  sqlite3 *db = raw_open(fx->db);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM env"), 2);
  assert_int_equal(raw_int(db, "SELECT run_id FROM env ORDER BY since_us LIMIT 1"), first_id);
  assert_int_equal(raw_int(db, "SELECT since_us FROM env WHERE tcp_timestamps = 0"),
                   T0_US + 4 * HOUR_US);
  assert_int_equal(raw_int(db, "SELECT mtu FROM env WHERE tcp_timestamps = 0"), 9000);
  assert_int_equal(raw_int(db, "SELECT count(*) FROM env WHERE tcp_rmem IS NULL"), 2);
  int64_t target = target_of(db, first_id);
  sqlite3_close(db);
  assert_int_equal(bw_store_env_at(fx->store, target, T0_US - 1, &e, &since, &fx->errs), -ENOENT);
  assert_int_equal(bw_store_env_at(fx->store, target, T0_US + 3 * HOUR_US, &e, &since, &fx->errs),
                   0);
  assert_int_equal(e.tcp_timestamps, 1);
  assert_int_equal(since, T0_US);
  assert_string_equal(e.ifname, "eth0");
  assert_string_equal(e.tcp_cc, "cubic");
  assert_int_equal(bw_store_env_at(fx->store, target, T0_US + 9 * HOUR_US, &e, &since, &fx->errs),
                   0);
  assert_int_equal(e.tcp_timestamps, 0);
  assert_int_equal(since, T0_US + 4 * HOUR_US);
  close_store(fx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migrate_from_v1, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migrations_apply, setup, teardown),
      cmocka_unit_test_setup_teardown(test_migration_error_rolls_back, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refuse_newer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_a_database, setup, teardown),
      cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_target_identity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_atomicity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_window, setup, teardown),
      cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_query_plans, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollups, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rollup_migration, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_when_changed, setup, teardown),
  };
  int failed;

  /* void (*)(void) is SQLite's generic entry-point type for auto extensions. */
  (void)sqlite3_auto_extension((void (*)(void))capture_db);
  failed = cmocka_run_group_tests(tests, NULL, NULL);
  sqlite3_reset_auto_extension();
  (void)sqlite3_shutdown();
  return failed;
}
