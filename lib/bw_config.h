#ifndef BW_CONFIG_H
#define BW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_result.h"
#include "bw_util.h"

/*
 * The configuration: YAML (libyaml's document API) into an immutable struct bw_config. Every key
 * is declared once in a table in bw_config.c (type, range, default, help); the parser, the
 * defaults, bw_config_dump() and the reference in conf/benchwatch.yaml follow from it.
 *
 * Units (bw_units.h): durations are µs, sizes bytes. Every test carries a fully resolved value for
 * every setting: built-in default, overridden by `defaults:`, overridden by the test itself.
 */

struct bw_detect {
  int64_t window_us;
  int64_t window_runs; /* 0: every run in window_us */
  int64_t min_runs;
  double latency_factor;
  double throughput_factor;
  int64_t latency_margin_us;
  int64_t throughput_margin; /* bytes per second */
  int64_t open_after;
  int64_t close_after;
  uint32_t figures;       /* what is judged (bw_detect_figures); 0: the kind's defaults */
  int64_t false_alarm_us; /* at most one false opening per this much time, per target */
};

/* A page test's check of each response; nothing set: no check. */
struct bw_expect {
  char **status; /* the statuses that pass, as given ("200"); none: any */
  size_t n_status;
  char *body_contains; /* text the body must contain; NULL: any */
};

/* The largest request body (body:, body_file:): a request, not an upload benchmark. */
#define BW_BODY_MAX_BYTES (1u << 20)

/* Which client runs a page test: auto takes lean wherever it does the test exactly as curl. */
enum bw_engine { BW_ENGINE_AUTO, BW_ENGINE_LEAN, BW_ENGINE_CURL };

struct bw_test {
  char *name;
  enum bw_kind kind;
  char *url;
  int64_t requests;    /* page: total requests (ab -n) */
  int64_t concurrency; /* page: requests in flight (ab -c) */
  bool keepalive;      /* page: reuse connections (ab -k) */
  char *method;        /* an HTTP token: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, ... */
  char **headers;      /* "Name: value", as curl -H */
  size_t n_headers;
  int64_t timeout_us; /* page: per request; download: connecting and any silence */
  bool tls_verify;
  char **backends; /* "host:port": one target per backend, through CURLOPT_CONNECT_TO */
  size_t n_backends;
  int64_t every_us;
  int64_t offset_us;
  int64_t jitter_us;
  int64_t max_time_us; /* download: cap on the whole transfer; 0 = none */
  int64_t max_bytes;   /* download: cap on the body; 0 = none */
  int64_t interval_us; /* download: timeline step */
  int64_t stall_rate;  /* download: bytes/s below which a timeline step counts as stalled */
  int http_version;    /* 1 (HTTP/1.1) or 2 */
  int64_t streams;     /* download: simultaneous transfers (1: a single one) */
  bool split_ranges;   /* download with streams: each fetches one byte range, not the whole */
  enum bw_engine engine; /* page: the client */
  int64_t threads;       /* page: event loops on threads of their own, each with its share */
  /* page: the request body of a POST, PUT or PATCH (sent with a Content-Length; may hold NUL
   * bytes), from body: or from body_file: (bw_config_read_bodies() fills it from the file) */
  char *body;
  size_t body_len;
  char *body_file;       /* absolute or relative to the config file's directory as given */
  char *body_file_where; /* "FILE:LINE:COL: tests[N].body_file", for a message on reading it */
  char *content_type;    /* page: the body's Content-Type; NULL: a header's, else a form's */
  char *proxy;           /* http:// or https:// forward proxy; NULL: straight to the server */
  /* page: what a response must be to count as a success */
  struct bw_expect expect;
  struct bw_detect detect; /* the global detect:, with this test's own detect: over it */
  int line;            /* where the test is in the file, 1-based; 0 for defaults */
  int column;
  /* page: a sweep (bw_sweep.h): each run runs these steps one after another, each step a target
   * of its own. The lists as given, strictly increasing: either may be empty (no sweep when both
   * are); requests may hold one value for every step, else one per step. */
  int64_t *sweep_concurrency;
  size_t n_sweep_concurrency;
  int64_t *sweep_requests;
  size_t n_sweep_requests;
};


struct bw_report {
  bool enabled; /* a `report:` section is present */
  int at_minutes; /* local time of day, minutes after midnight */
  char *smtp;
  char *from;
  char **to;
  size_t n_to;
  char *tls;           /* smtp://: "none", "opportunistic" (STARTTLS when offered), "required" */
  bool tls_verify;
  char *username;      /* NULL: no AUTH */
  char *password_file; /* the password is its first line, read at send time; NULL: none */
  int64_t timeout_us;  /* the whole delivery */
  bool send_when_quiet; /* mail a short "all normal" report on a night with nothing to say */
  char *url; /* the status page's base URL for links in the report (http[s]://); NULL: none */
};

struct bw_metrics {
  char *listen;            /* "host:port"; NULL when off */
  int64_t max_connections; /* open at once; more close the oldest waiting one */
  int64_t timeout_us;      /* a connection's whole request and answer */
};

/* How long history is kept (benchwatch prune, and the daemon once a day). 0 keeps it. */
struct bw_retention {
  int64_t samples_us; /* the detail rows (per request, per timeline step) of older runs go */
  int64_t runs_us;    /* older runs go, their days kept in run_day; at least every window */
};

struct bw_config {
  char *path;     /* as given to bw_config_parse() */
  char *database; /* a relative path is resolved against the config file's directory */
  int64_t max_parallel; /* runs at once (4 by default), never two against one server */
  struct bw_test *tests;
  size_t n_tests;
  struct bw_detect detect;
  struct bw_report report;
  struct bw_metrics metrics;
  struct bw_retention retention;
  unsigned refs; /* holders besides the first (bw_config_ref()) */
};

/* Exit status for an unusable configuration (sysexits.h EX_CONFIG). */
#define BW_EXIT_CONFIG 78

/*
 * Parses a whole configuration from buf (len bytes, need not be NUL-terminated); name is used in
 * messages and to resolve a relative database path. Returns the config, or NULL after adding
 * every problem found to errs, each as "NAME:LINE:COLUMN: key.path: message" (1-based). A leading
 * UTF-8 byte-order mark is skipped; lists and mappings nested more than 64 deep are refused at
 * the first such level, before the document is built.
 */
struct bw_config *bw_config_parse(const char *name, const char *buf, size_t len,
                                  struct bw_errs *errs);

/*
 * A config is never changed once parsed, so another thread may read it while one holds it. Each
 * bw_config_ref() takes one more hold and returns config; bw_config_free() lets one go and frees
 * the config with the last. Both belong to one thread (the loop's). Accepts NULL.
 */
struct bw_config *bw_config_ref(struct bw_config *config);
void bw_config_free(struct bw_config *config);

/* Whether a request with this method carries a body: POST, PUT and PATCH (with a
 * Content-Length, 0 for no body). */
bool bw_method_has_body(const char *method);

/* The test called name, or NULL; a sweep's step ("api@c4", bw_sweep.h) finds its sweep. */
const struct bw_test *bw_config_find_test(const struct bw_config *config, const char *name);

/* The built-in detect settings, for reading history without a config. */
void bw_config_default_detect(struct bw_detect *ret);

/* A deep copy of a test, for work that must outlive a config reload; bw_test_clear() frees it. */
void bw_test_copy(struct bw_test *dst, const struct bw_test *src);
void bw_test_clear(struct bw_test *t);

/* The fully resolved configuration as YAML that bw_config_parse() accepts; free() it. */
char *bw_config_dump(const struct bw_config *config);

#endif
