#include "bw_config.h"

#include "bw_detect.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "bw_detect.h"
#include "bw_kind.h"
#include "bw_sweep.h"
#include "bw_units.h"
#include "bw_url.h"

/*
 * Every key of every section is one row of a table below: the parser, the built-in defaults (as
 * text, read by the same parser), the checks and bw_config_dump() all work from these rows, so a
 * new setting is one struct field plus one row.
 */
enum opt_type {
  T_STRING,
  T_PATH,
  T_NAME,     /* a test name: letters, digits, '.', '_', '-' */
  T_URL,      /* http:// or https:// */
  T_MAIL_URL, /* smtp:// or smtps:// */
  T_KIND,     /* a kind's name (bw_kind.c) */
  T_METHOD,   /* an HTTP method token (GET, HEAD, POST, ...) */
  T_TLS,      /* none | opportunistic | required (mail) */
  T_HTTP,     /* 1.1 | 2 */
  T_SPLIT,    /* whole | ranges, into a bool (ranges) */
  T_ENGINE,   /* auto | lean | curl */
  T_DETECT,   /* a mapping of detect_opts: this test's own detection settings */
  T_BOOL,
  T_INT,
  T_FACTOR,   /* a positive decimal */
  T_DURATION, /* bw_parse_duration() */
  T_SIZE,     /* bw_parse_size() */
  T_TIME,     /* HH:MM */
  T_HOSTPORT, /* host:port, [v6]:port */
  T_HEADERS,  /* list of "Name: value" */
  T_HOSTPORTS,
  T_EMAILS,
  T_FIGURES, /* list of metric names (bw_metrics, "availability") into a bit mask */
  T_SWEEP,   /* {concurrency: [...], requests: [...]} into a test's sweep lists */
  T_BODY,     /* any text, its length kept (body, body_len) */
  T_BODY_FILE, /* a path, relative to the config file's directory, read by bw_config_load() */
  T_EXPECT,   /* a mapping of expect_opts */
  T_STATUSES, /* list of HTTP statuses 100..599 */
};

enum {
  F_REQUIRED = 1 << 0,
  F_TEST_ONLY = 1 << 1,     /* in a test, not in defaults: */
  /* A key's class (enum bw_key_class) sits above the flags: only the kinds whose row (bw_kind.c)
   * takes the class accept the key. A key of no class is every kind's. */
  F_PAGE_ONLY = BW_KEYS_PAGE << 2,         /* the page client's own */
  F_DOWNLOAD_ONLY = BW_KEYS_DOWNLOAD << 2, /* a download's own */
  F_SAMPLES = BW_KEYS_SAMPLES << 2,        /* many samples per run: page and connect */
  F_HTTP = BW_KEYS_HTTP << 2,              /* what an HTTP request says: not connect */
};

/* The classes of a key's flags. */
static unsigned key_classes(unsigned flags) {
  return flags >> 2;
}

struct opt {
  const char *key;
  enum opt_type type;
  size_t off;
  int64_t min, max; /* T_INT, T_DURATION, T_SIZE: inclusive bounds */
  const char *def;  /* built-in default as config text; NULL: none */
  unsigned flags;
  const char *help;
};

#define TEST(field) offsetof(struct bw_test, field)
#define DAY (INT64_C(86400) * 1000000)

/* A list's length lives in the size_t field right after its pointer (headers, n_headers). */
static const struct opt test_opts[] = {
    {"name", T_NAME, TEST(name), 0, 0, NULL, F_REQUIRED | F_TEST_ONLY,
     "unique name of the test, used in logs, the database and reports"},
    {"kind", T_KIND, TEST(kind), 0, 0, NULL, F_REQUIRED | F_TEST_ONLY,
     "page (many small requests, like ab), download (one large transfer, like wget) or connect "
     "(many TCP connects and TLS handshakes, no request)"},
    {"url", T_URL, TEST(url), 0, 0, NULL, F_REQUIRED | F_TEST_ONLY, "http:// or https:// URL"},
    {"requests", T_INT, TEST(requests), 1, 1000000, "20", F_SAMPLES,
     "page: number of requests per run (ab -n); connect: connections per run"},
    {"concurrency", T_INT, TEST(concurrency), 1, 10000, "1", F_SAMPLES,
     "page: requests in flight at once (ab -c); connect: connections at once"},
    {"keepalive", T_BOOL, TEST(keepalive), 0, 0, "false", F_PAGE_ONLY,
     "page: reuse connections (ab -k); off measures a new connection per request"},
    {"method", T_METHOD, TEST(method), 0, 0, "GET", F_HTTP,
     "HTTP method: GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS or any other token; a download "
     "test uses GET"},
    {"headers", T_HEADERS, TEST(headers), 0, 0, NULL, F_HTTP,
     "extra request headers, each \"Name: value\" (curl -H)"},
    {"timeout", T_DURATION, TEST(timeout_us), 1000, 7 * DAY, "60s", 0,
     "page: limit for each request; download: limit for connecting and for any silence; "
     "connect: limit for each connection"},
    {"tls_verify", T_BOOL, TEST(tls_verify), 0, 0, "true", 0,
     "check the server's certificate (false is wget --no-check-certificate)"},
    {"backends", T_HOSTPORTS, TEST(backends), 0, 0, NULL, F_TEST_ONLY,
     "host:port of each backend node; the test runs once per backend with the same URL, Host "
     "and TLS name"},
    {"every", T_DURATION, TEST(every_us), 1000000, 7 * DAY, "1h", 0,
     "run interval, aligned to the wall clock (1h runs at the top of each hour plus offset)"},
    {"offset", T_DURATION, TEST(offset_us), 0, 7 * DAY, "0", 0,
     "shift from the aligned time (every: 1h, offset: 5m runs at :05)"},
    {"jitter", T_DURATION, TEST(jitter_us), 0, 7 * DAY, "30s", 0,
     "spread: each target gets a fixed, deterministic delay in [0, jitter)"},
    {"max_time", T_DURATION, TEST(max_time_us), 0, 7 * DAY, "10m", F_DOWNLOAD_ONLY,
     "download: stop after this long and record the run as partial; 0 = no cap"},
    {"max_bytes", T_SIZE, TEST(max_bytes), 0, INT64_MAX, "0", F_DOWNLOAD_ONLY,
     "download: stop after this many body bytes and record the run as partial; 0 = no cap"},
    {"interval", T_DURATION, TEST(interval_us), 10000, 3600 * INT64_C(1000000), "1s",
     F_DOWNLOAD_ONLY, "download: length of each step of the throughput timeline"},
    {"stall_rate", T_SIZE, TEST(stall_rate), 0, INT64_MAX, "100KB", F_DOWNLOAD_ONLY,
     "download: a timeline step slower than this many bytes per second counts as stalled"},
    {"detect", T_DETECT, TEST(detect), 0, 0, NULL, F_TEST_ONLY,
     "this test's own detection settings, over the global detect: (any of its keys)"},
    {"http", T_HTTP, TEST(http_version), 0, 0, "1.1", F_HTTP,
     "HTTP version: 1.1, or 2 (negotiated by TLS ALPN on https, falling back to 1.1)"},
    {"streams", T_INT, TEST(streams), 1, 64, "1", F_DOWNLOAD_ONLY,
     "download: simultaneous transfers of the URL; rate_bps is then their aggregate"},
    {"split", T_SPLIT, TEST(split_ranges), 0, 0, "whole", F_DOWNLOAD_ONLY,
     "download with streams: whole (each stream fetches the whole URL) or ranges (each one byte "
     "range of it, where the server supports ranges)"},
    {"engine", T_ENGINE, TEST(engine), 0, 0, "auto", F_PAGE_ONLY,
     "page: the client: lean (HTTP/1.1 at ab's cost per request), curl (libcurl), or auto (lean "
     "wherever it does the test: http 1.1, no user in the URL)"},
    {"sweep", T_SWEEP, TEST(sweep_concurrency), 0, 0, NULL, F_PAGE_ONLY | F_TEST_ONLY,
     "page: steps run one after another in each run, each judged as a target of its own: "
     "{concurrency: [1, 4, 16, 64]} and/or requests: [...] (one per step, or one for all)"},
    {"threads", T_INT, TEST(threads), 1, 256, "1", F_PAGE_ONLY,
     "page: event loops, each on a thread of its own with its share of the concurrency and of "
     "the requests; at most concurrency"},
    {"body", T_BODY, TEST(body), 0, 0, NULL, F_PAGE_ONLY,
     "page: the request body of a POST, PUT or PATCH (curl -d), sent with its Content-Length"},
    {"body_file", T_BODY_FILE, TEST(body_file), 0, 0, NULL, F_PAGE_ONLY,
     "page: the request body read from this file when the config is loaded (curl "
     "--data-binary @FILE, ab -p); relative to this file's directory; at most 1 MiB"},
    {"content_type", T_STRING, TEST(content_type), 0, 0, NULL, F_PAGE_ONLY,
     "page: the body's Content-Type; absent: a Content-Type in headers, else "
     "application/x-www-form-urlencoded, as curl -d sends"},
    {"proxy", T_URL, TEST(proxy), 0, 0, NULL, F_HTTP,
     "http:// or https:// forward proxy (as clients behind Squid reach the server), "
     "host:port with any credentials in the URL; not with backends"},
    {"expect", T_EXPECT, TEST(expect), 0, 0, NULL, F_PAGE_ONLY,
     "page: what a response must be to succeed: status: [200, 204] and/or body_contains: "
     "TEXT; a response that fails is a failed request of class check; absent: no check"},
    {NULL, T_STRING, 0, 0, 0, NULL, 0, NULL},
};

#define EXP(field) offsetof(struct bw_expect, field)
static const struct opt expect_opts[] = {
    {"status", T_STATUSES, EXP(status), 0, 0, NULL, 0,
     "the HTTP statuses that pass, e.g. [200, 204]; absent: any status ab counts as complete"},
    {"body_contains", T_STRING, EXP(body_contains), 0, 0, NULL, 0,
     "text the response body must contain (compared byte for byte)"},
    {NULL, T_STRING, 0, 0, 0, NULL, 0, NULL},
};

#define DET(field) offsetof(struct bw_detect, field)
static const struct opt detect_opts[] = {
    {"window", T_DURATION, DET(window_us), 3600 * INT64_C(1000000), 366 * DAY, "7d", 0,
     "history the baseline (rolling mode) is computed from"},
    {"window_runs", T_INT, DET(window_runs), 0, 100000, "0", 0,
     "and at most this many of the newest runs in it; 0 = no count limit"},
    {"min_runs", T_INT, DET(min_runs), 3, 100000, "24", 0,
     "runs of history needed before any verdict"},
    {"latency_factor", T_FACTOR, DET(latency_factor), 0, 0, "1.5", 0,
     "a latency this many times the baseline is bad (> 1)"},
    {"throughput_factor", T_FACTOR, DET(throughput_factor), 0, 0, "0.67", 0,
     "a throughput below this fraction of the baseline is bad (< 1)"},
    {"latency_margin", T_DURATION, DET(latency_margin_us), 0, 3600 * INT64_C(1000000), "5ms", 0,
     "and by at least this much (so 2 ms -> 3.5 ms on a fast link is not a regression)"},
    {"throughput_margin", T_SIZE, DET(throughput_margin), 0, INT64_MAX, "100KB", 0,
     "and below the baseline by at least this many bytes per second"},
    {"open_after", T_INT, DET(open_after), 1, 1000, "3", 0,
     "consecutive bad runs that open a regression"},
    {"close_after", T_INT, DET(close_after), 1, 1000, "3", 0,
     "consecutive good runs that close it"},
    {"figures", T_FIGURES, DET(figures), 0, 0, NULL, 0,
     "what is judged, any of p50_us p90_us p99_us ttfb_p50_us rps transfer_bps failed (page), "
     "rate_bps ttfb_us stall_us stream_min_bps (download), connect_p50_us tls_p50_us (connect), "
     "availability; [] = the headline figure (p50_us or rate_bps: with streams, their aggregate; "
     "connect_p50_us with tls_p50_us) and availability"},
    {"false_alarm_every", T_DURATION, DET(false_alarm_us), 3600 * INT64_C(1000000), 100 * 365 * DAY,
     "3650d", 0,
     "at most one false opening per target in this much time: the statistical test's budget"},
    {NULL, T_STRING, 0, 0, 0, NULL, 0, NULL},
};

#define REP(field) offsetof(struct bw_report, field)
static const struct opt report_opts[] = {
    {"at", T_TIME, REP(at_minutes), 0, 0, "06:30", 0, "local time of the nightly report, HH:MM"},
    {"smtp", T_MAIL_URL, REP(smtp), 0, 0, "smtp://localhost:25", 0,
     "mail server: smtp://host:port (STARTTLS when offered) or smtps://host:port"},
    {"from", T_STRING, REP(from), 0, 0, "benchwatch@localhost", 0, "sender address"},
    {"to", T_EMAILS, REP(to), 0, 0, NULL, F_REQUIRED, "recipient addresses"},
    {"tls", T_TLS, REP(tls), 0, 0, "opportunistic", 0,
     "smtp://: none, opportunistic (STARTTLS when the server offers it; with a username, "
     "required) or required (STARTTLS or fail); smtps:// is TLS from the start"},
    {"tls_verify", T_BOOL, REP(tls_verify), 0, 0, "true", 0,
     "check the mail server's certificate and name"},
    {"username", T_STRING, REP(username), 0, 0, NULL, 0, "SMTP AUTH user; absent = no AUTH"},
    {"password_file", T_PATH, REP(password_file), 0, 0, NULL, 0,
     "file whose first line is the SMTP AUTH password, read at send time (never in this file); "
     "readable by its owner only; a bare name is read from $CREDENTIALS_DIRECTORY when set "
     "(systemd LoadCredential=)"},
    {"timeout", T_DURATION, REP(timeout_us), 1000000, 3600 * INT64_C(1000000), "60s", 0,
     "limit for delivering the report, connecting included"},
    {"send_when_quiet", T_BOOL, REP(send_when_quiet), 0, 0, "true", 0,
     "send a short \"all normal\" report on a night with nothing to say; false = send nothing"},
    {"url", T_URL, REP(url), 0, 0, NULL, 0,
     "base URL of the daemon's status page as readers reach it, e.g. http://monitor:9469; "
     "the report then links each target and regression there; absent = no links"},
    {NULL, T_STRING, 0, 0, 0, NULL, 0, NULL},
};

#define MET(field) offsetof(struct bw_metrics, field)
static const struct opt metrics_opts[] = {
    {"listen", T_HOSTPORT, MET(listen), 0, 0, NULL, 0,
     "address of the Prometheus /metrics listener, e.g. 127.0.0.1:9469; absent = off"},
    {"max_connections", T_INT, MET(max_connections), 1, 10000, "64", 0,
     "connections open at once; a new one closes the oldest still waiting for its request"},
    {"timeout", T_DURATION, MET(timeout_us), 1000000, 3600 * INT64_C(1000000), "10s", 0,
     "a scraper must send its request and read the answer within this, or is disconnected"},
    {NULL, T_STRING, 0, 0, 0, NULL, 0, NULL},
};

#define RET(field) offsetof(struct bw_retention, field)
static const struct opt retention_opts[] = {
    {"samples", T_DURATION, RET(samples_us), 0, 100 * 366 * DAY, "90d", 0,
     "the per-request latencies and timeline steps of older runs are deleted; 0 = keep them"},
    {"runs", T_DURATION, RET(runs_us), 0, 100 * 366 * DAY, "0", 0,
     "older runs are deleted (their days stay in run_day); at least every detect window; "
     "0 = keep them"},
    {NULL, T_STRING, 0, 0, 0, NULL, 0, NULL},
};

#define N_TEST_OPTS (sizeof(test_opts) / sizeof(test_opts[0]) - 1)

static const char *const top_keys[] = {"database", "max_parallel", "defaults", "tests", "detect",
                                       "report", "metrics", "retention", NULL};
static const char default_database[] = "/var/lib/benchwatch/benchwatch.db";

/* ---- parse context ---- */

struct ctx {
  const char *name;
  yaml_document_t *doc;
  struct bw_errs *errs;
  size_t n_errs_before;
};

static void err_at(struct ctx *c, const yaml_mark_t *mark, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void err_at(struct ctx *c, const yaml_mark_t *mark, const char *path, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = bw_xvasprintf(fmt, ap);
  va_end(ap);
  if (path && *path)
    bw_errs_add(c->errs, "%s:%zu:%zu: %s: %s", c->name, mark->line + 1, mark->column + 1, path,
                msg);
  else
    bw_errs_add(c->errs, "%s:%zu:%zu: %s", c->name, mark->line + 1, mark->column + 1, msg);
  free(msg);
}

static const char *node_kind(const yaml_node_t *n) {
  switch (n->type) {
  case YAML_MAPPING_NODE:
    return "a mapping";
  case YAML_SEQUENCE_NODE:
    return "a list";
  case YAML_SCALAR_NODE:
    return "a single value";
  case YAML_NO_NODE:
    break;
  }
  return "nothing";
}

static const char *scalar(const yaml_node_t *n) {
  return (const char *)n->data.scalar.value;
}

/* A scalar shortened and escaped for a message: "ten", or "a very long val..." */
static char *quote(const char *s) {
  size_t n = strlen(s);
  char *out = bw_xmalloc(n * 4 + 8);
  char *o = out;
  size_t i;
  *o++ = '"';
  for (i = 0; i < n && i < 40; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\') {
      *o++ = '\\';
      *o++ = (char)ch;
    } else if (ch < 0x20 || ch == 0x7f) {
      o += sprintf(o, "\\x%02x", ch);
    } else {
      *o++ = (char)ch;
    }
  }
  if (i < n) {
    memcpy(o, "...", 3);
    o += 3;
  }
  *o++ = '"';
  *o = '\0';
  return out;
}

/* Levenshtein distance, for "did you mean". Keys are short, so O(n*m) with a small row is fine. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return (size_t)-1;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
      size_t best = diag + cost;
      if (up + 1 < best)
        best = up + 1;
      if (row[j - 1] + 1 < best)
        best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* Reports an unknown key, suggesting the nearest known one when it is near enough. */
static void unknown_key(struct ctx *c, const yaml_node_t *key, const char *path,
                        const char *const *known, size_t n_known) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < n_known; i++) {
    size_t d = edit_distance(scalar(key), known[i]);
    if (d < best_d) {
      best_d = d;
      best = known[i];
    }
  }
  size_t len = strlen(scalar(key));
  size_t limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
  if (best && best_d <= limit)
    err_at(c, &key->start_mark, path, "unknown key; did you mean \"%s\"?", best);
  else
    err_at(c, &key->start_mark, path, "unknown key");
}

static void opts_keys(const struct opt *opts, const char **out, size_t *n) {
  *n = 0;
  for (const struct opt *o = opts; o->key; o++)
    out[(*n)++] = o->key;
}

/* ---- scalar parsers: each returns 0 and writes its field, or reports and returns -EINVAL ---- */

static int want_scalar(struct ctx *c, const yaml_node_t *n, const char *path, const char *what) {
  if (n->type == YAML_SCALAR_NODE)
    return 0;
  err_at(c, &n->start_mark, path, "expected %s, got %s", what, node_kind(n));
  return -EINVAL;
}

static bool valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
      return false;
  return true;
}

static bool has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f)
      return true;
  return false;
}

/* Checks a URL with libcurl's own parser, so what passes here is what the transfers will accept. */
static int check_url(struct ctx *c, const yaml_node_t *n, const char *path, const char *s,
                     bool mail) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  int r = -EINVAL;
  if (!u) {
    err_at(c, &n->start_mark, path, "out of memory checking the URL");
    return -ENOMEM;
  }
  char *safe = bw_url_redact(s); /* messages never quote a password */
  char *q = quote(safe);
  free(safe);
  if (has_ctl(s) || strchr(s, ' ')) {
    err_at(c, &n->start_mark, path, "invalid URL %s: contains spaces or control characters", q);
    goto out;
  }
  CURLUcode uc = curl_url_set(u, CURLUPART_URL, s, CURLU_NON_SUPPORT_SCHEME);
  if (uc != CURLUE_OK) {
    err_at(c, &n->start_mark, path, "invalid URL %s: %s", q, curl_url_strerror(uc));
    goto out;
  }
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
    err_at(c, &n->start_mark, path, "invalid URL %s: no host", q);
    goto out;
  }
  if (mail ? strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0
           : strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
    err_at(c, &n->start_mark, path, "unsupported URL scheme \"%s\" in %s (expected %s)", scheme, q,
           mail ? "smtp:// or smtps://" : "http:// or https://");
    goto out;
  }
  r = 0;
out:
  free(q);
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return r;
}

/* host:port with a numeric port 1..65535; an IPv6 host in brackets. */
/* The bit of a figure name in bw_detect.figures; 0 for an unknown name. */
static uint32_t figure_bit(const char *s) {
  if (strcmp(s, BW_METRIC_AVAILABILITY) == 0)
    return BW_FIGURE_AVAILABILITY;
  const struct bw_metric *m = bw_detect_metric_find(s);
  return m ? UINT32_C(1) << (m - bw_metrics) : 0;
}

static bool valid_figure(const char *s) {
  return figure_bit(s) != 0;
}

/*
 * A backend's "host:port" (an IPv6 address in brackets), checked by libcurl's URL parser as the
 * URL "http://host:port": a host and a port from 1 to 65535, and nothing else.
 */
static bool valid_hostport(const char *s) {
  if (!*s || strpbrk(s, "/?#@ ") || has_ctl(s))
    return false;
  char *url = bw_xasprintf("http://%s", s), *host = NULL, *port = NULL;
  CURLU *u = curl_url();
  if (!u)
    abort();
  bool ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK && atol(port) >= 1 &&
            atol(port) <= 65535;
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  free(url);
  return ok;
}

static bool valid_header(const char *s) {
  const char *colon = strchr(s, ':');
  if (!colon || colon == s || has_ctl(s))
    return false;
  for (const char *p = s; p < colon; p++)
    if (!isgraph((unsigned char)*p) || strchr("()<>@,;\\\"/[]?={}", *p))
      return false;
  return true;
}

static bool valid_status(const char *s) {
  return strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && isdigit((unsigned char)s[1]) &&
         isdigit((unsigned char)s[2]);
}

/* An HTTP method is a token (RFC 9110 5.6.2): letters, digits and !#$%&'*+-.^_`|~. */
static bool valid_method(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 32)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("!#$%&'*+-.^_`|~", s[i]))
      return false;
  return true;
}

static bool valid_email(const char *s) {
  const char *at = strchr(s, '@');
  return at && at != s && at[1] && !strchr(at + 1, '@') && !has_ctl(s) && !strpbrk(s, " <>,");
}

static int parse_bool(const char *s, bool *ret) {
  static const char *const yes[] = {"true", "yes", "on", NULL};
  static const char *const no[] = {"false", "no", "off", NULL};
  for (size_t i = 0; yes[i]; i++) {
    if (strcasecmp(s, yes[i]) == 0) {
      *ret = true;
      return 0;
    }
    if (strcasecmp(s, no[i]) == 0) {
      *ret = false;
      return 0;
    }
  }
  return -EINVAL;
}

static int parse_int(const char *s, int64_t *ret) {
  char *end;
  if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1])))
    return -EINVAL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (*end)
    return -EINVAL;
  if (errno == ERANGE)
    return -ERANGE;
  *ret = v;
  return 0;
}

static void fmt_value(const struct opt *o, int64_t v, char *buf, size_t size) {
  if (o->type == T_DURATION)
    (void)bw_format_duration(v, buf, size);
  else if (o->type == T_SIZE)
    (void)bw_format_size(v, buf, size);
  else
    (void)snprintf(buf, size, "%" PRId64, v);
}

static int check_range(struct ctx *c, const yaml_node_t *n, const char *path, const struct opt *o,
                       int64_t v) {
  char lo[32], hi[32];
  if (v >= o->min && v <= o->max)
    return 0;
  fmt_value(o, o->min, lo, sizeof(lo));
  fmt_value(o, o->max, hi, sizeof(hi));
  if (o->max == INT64_MAX)
    err_at(c, &n->start_mark, path, "%s is out of range (min %s)", scalar(n), lo);
  else
    err_at(c, &n->start_mark, path, "%s is out of range (min %s, max %s)", scalar(n), lo, hi);
  return -ERANGE;
}

static void free_list(char **list, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(list[i]);
  free(list);
}

/* A list of strings, each checked by ok(); duplicates are errors. */
static int parse_list(struct ctx *c, const yaml_node_t *n, const char *path, bool (*ok)(const char *),
                      const char *what, char ***field, size_t *n_field) {
  char **list = NULL;
  size_t len = 0, cap = 0;
  int r = 0;
  if (n->type == YAML_SCALAR_NODE && scalar(n)[0] == '\0') {
    /* "headers:" with nothing after it: an empty list. */
  } else if (n->type != YAML_SEQUENCE_NODE) {
    err_at(c, &n->start_mark, path, "expected a list of %s, got %s", what, node_kind(n));
    return -EINVAL;
  } else {
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
      size_t idx = (size_t)(it - n->data.sequence.items.start);
      const yaml_node_t *item = yaml_document_get_node(c->doc, *it);
      char *ipath = bw_xasprintf("%s[%zu]", path, idx);
      if (want_scalar(c, item, ipath, what) < 0) {
        r = -EINVAL;
      } else if (!ok(scalar(item))) {
        char *q = quote(scalar(item));
        err_at(c, &item->start_mark, ipath, "expected %s, got %s", what, q);
        free(q);
        r = -EINVAL;
      } else {
        bool dup = false;
        for (size_t j = 0; j < len; j++)
          dup = dup || strcmp(list[j], scalar(item)) == 0;
        if (dup) {
          err_at(c, &item->start_mark, ipath, "\"%s\" is listed twice", scalar(item));
          r = -EINVAL;
        } else {
          bw_xgrow(&list, &cap, len + 1, sizeof(*list));
          list[len++] = bw_xstrdup(scalar(item));
        }
      }
      free(ipath);
    }
  }
  if (r < 0) {
    free_list(list, len);
    return r;
  }
  free_list(*field, *n_field);
  *field = list;
  *n_field = len;
  return 0;
}

/*
 * A sweep's list of strictly increasing positive integers in [1, max] into *ret (allocated), or a
 * single value when one is allowed. An empty list is an error.
 */
static int parse_steps(struct ctx *c, const yaml_node_t *n, const char *path, int64_t max,
                       bool single_ok, int64_t **ret, size_t *ret_n) {
  int64_t *list = NULL;
  size_t len = 0, cap = 0, n_items = 0;
  int r = 0;
  const yaml_node_t **items = NULL;
  if (n->type == YAML_SCALAR_NODE && single_ok && scalar(n)[0] != '\0') {
    items = bw_xcalloc(1, sizeof(*items));
    items[n_items++] = n;
  } else if (n->type == YAML_SEQUENCE_NODE) {
    n_items = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    items = bw_xcalloc(n_items + 1, sizeof(*items));
    for (size_t i = 0; i < n_items; i++)
      items[i] = yaml_document_get_node(c->doc, n->data.sequence.items.start[i]);
  } else if (n->type != YAML_SCALAR_NODE || scalar(n)[0] != '\0') {
    err_at(c, &n->start_mark, path, "expected a list of positive integers%s, got %s",
           single_ok ? " or one" : "", node_kind(n));
    return -EINVAL;
  }
  if (n_items == 0) {
    err_at(c, &n->start_mark, path, "the list is empty; give one value per step");
    free(items);
    return -EINVAL;
  }
  for (size_t i = 0; i < n_items; i++) {
    const yaml_node_t *item = items[i];
    char *ipath =
        n->type == YAML_SEQUENCE_NODE ? bw_xasprintf("%s[%zu]", path, i) : bw_xstrdup(path);
    int64_t v;
    if (want_scalar(c, item, ipath, "a positive integer") < 0) {
      r = -EINVAL;
    } else if (parse_int(scalar(item), &v) < 0 || v < 1 || v > max) {
      char *q = quote(scalar(item));
      err_at(c, &item->start_mark, ipath,
             "expected a positive integer of at most %" PRId64 ", got %s", max, q);
      free(q);
      r = -EINVAL;
    } else if (len > 0 && v <= list[len - 1]) {
      err_at(c, &item->start_mark, ipath,
             "%" PRId64 " is not greater than the step before (%" PRId64 "): steps increase", v,
             list[len - 1]);
      r = -EINVAL;
    } else {
      bw_xgrow(&list, &cap, len + 1, sizeof(*list));
      list[len++] = v;
    }
    free(ipath);
  }
  free(items);
  if (r < 0) {
    free(list);
    return r;
  }
  free(*ret);
  *ret = list;
  *ret_n = len;
  return 0;
}

/* A test's sweep: {concurrency: [...], requests: [...] or N}. */
static int parse_sweep(struct ctx *c, const yaml_node_t *n, const char *path, struct bw_test *t) {
  int r = 0;
  bool any = false;
  if (n->type != YAML_MAPPING_NODE) {
    err_at(c, &n->start_mark, path, "expected a mapping such as {concurrency: [1, 4, 16]}, got %s",
           node_kind(n));
    return -EINVAL;
  }
  bool seen[2] = {false, false};
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
    if (k->type != YAML_SCALAR_NODE) {
      err_at(c, &k->start_mark, path, "keys must be plain words, got %s", node_kind(k));
      r = -EINVAL;
      continue;
    }
    const char *key = scalar(k);
    char *kpath = bw_xasprintf("%s.%s", path, key);
    int which = strcmp(key, "concurrency") == 0 ? 0 : strcmp(key, "requests") == 0 ? 1 : -1;
    if (which >= 0 && seen[which]) {
      err_at(c, &k->start_mark, kpath, "given twice");
      r = -EINVAL;
      free(kpath);
      continue;
    }
    if (which >= 0)
      seen[which] = true;
    if (strcmp(key, "concurrency") == 0) {
      any = true;
      if (parse_steps(c, v, kpath, 10000, false, &t->sweep_concurrency, &t->n_sweep_concurrency) <
          0)
        r = -EINVAL;
    } else if (strcmp(key, "requests") == 0) {
      any = true;
      if (parse_steps(c, v, kpath, 1000000, true, &t->sweep_requests, &t->n_sweep_requests) < 0)
        r = -EINVAL;
    } else {
      static const char *const keys[] = {"concurrency", "requests"};
      unknown_key(c, k, kpath, keys, 2);
      r = -EINVAL;
    }
    free(kpath);
  }
  if (r == 0 && !any) {
    err_at(c, &n->start_mark, path, "a sweep needs concurrency or requests (a list of steps)");
    r = -EINVAL;
  }
  return r;
}

static void set_string(char **field, const char *value) {
  free(*field);
  *field = bw_xstrdup(value);
}

static int parse_section(struct ctx *c, const yaml_node_t *map, const char *path,
                         const struct opt *opts, unsigned forbidden, void *base, uint64_t *set);
static int check_detect(struct ctx *c, const yaml_node_t *n, const char *path,
                        const struct bw_detect *d);

/* Parses node as option o into the struct at base. */
static int parse_opt(struct ctx *c, const struct opt *o, const yaml_node_t *n, const char *path,
                     void *base) {
  char *field = (char *)base + o->off;
  const char *s;
  char *q = NULL;
  int64_t v;
  int r;

  switch (o->type) {
  case T_DETECT: {
    uint64_t set;
    r = parse_section(c, n, path, detect_opts, 0, field, &set);
    if (r == 0)
      r = check_detect(c, n, path, (const struct bw_detect *)(const void *)field);
    return r;
  }
  case T_HEADERS:
    return parse_list(c, n, path, valid_header, "headers \"Name: value\"", (char ***)(void *)field,
                      (size_t *)(void *)(field + sizeof(char **)));
  case T_HOSTPORTS:
    return parse_list(c, n, path, valid_hostport, "host:port", (char ***)(void *)field,
                      (size_t *)(void *)(field + sizeof(char **)));
  case T_EXPECT: {
    uint64_t set;
    struct bw_expect *e = (struct bw_expect *)(void *)field;
    r = parse_section(c, n, path, expect_opts, 0, e, &set);
    if (r == 0 && set == 0) {
      err_at(c, &n->start_mark, path, "expected status and/or body_contains");
      r = -EINVAL;
    }
    return r;
  }
  case T_STATUSES:
    return parse_list(c, n, path, valid_status, "HTTP statuses (100 to 599)",
                      (char ***)(void *)field, (size_t *)(void *)(field + sizeof(char **)));
  case T_BODY: {
    if (want_scalar(c, n, path, "the body as text") < 0)
      return -EINVAL;
    struct bw_test *t = base;
    size_t len = n->data.scalar.length;
    if (len > BW_BODY_MAX_BYTES) {
      err_at(c, &n->start_mark, path, "%zu bytes is over the limit of %u", len, BW_BODY_MAX_BYTES);
      return -EINVAL;
    }
    free(t->body);
    t->body = bw_xmalloc(len + 1);
    memcpy(t->body, scalar(n), len);
    t->body[len] = '\0';
    t->body_len = len;
    free(t->body_file);
    free(t->body_file_where);
    t->body_file = t->body_file_where = NULL;
    return 0;
  }
  case T_BODY_FILE: {
    if (want_scalar(c, n, path, "a file name") < 0)
      return -EINVAL;
    struct bw_test *t = base;
    s = scalar(n);
    if (!*s || has_ctl(s)) {
      err_at(c, &n->start_mark, path, "expected a file name");
      return -EINVAL;
    }
    const char *slash = strrchr(c->name, '/');
    free(t->body_file);
    free(t->body_file_where);
    if (s[0] != '/' && slash)
      t->body_file = bw_xasprintf("%.*s/%s", (int)(slash - c->name), c->name, s);
    else
      t->body_file = bw_xstrdup(s);
    t->body_file_where = bw_xasprintf("%s:%zu:%zu: %s", c->name, n->start_mark.line + 1,
                                      n->start_mark.column + 1, path);
    free(t->body);
    t->body = NULL;
    t->body_len = 0;
    return 0;
  }
  case T_FIGURES: {
    char **names = NULL;
    size_t n_names = 0;
    uint32_t mask = 0;
    r = parse_list(c, n, path, valid_figure, "figure names (see detect.figures)", &names,
                   &n_names);
    for (size_t i = 0; r == 0 && i < n_names; i++)
      mask |= figure_bit(names[i]);
    free_list(names, n_names);
    if (r == 0)
      *(uint32_t *)(void *)field = mask;
    return r;
  }
  case T_SWEEP:
    return parse_sweep(c, n, path, (struct bw_test *)(void *)base);
  case T_EMAILS:
    r = parse_list(c, n, path, valid_email, "email addresses", (char ***)(void *)field,
                   (size_t *)(void *)(field + sizeof(char **)));
    if (r == 0 && *(size_t *)(void *)(field + sizeof(char **)) == 0) {
      err_at(c, &n->start_mark, path, "at least one address is needed");
      r = -EINVAL;
    }
    return r;
  default:
    break;
  }

  if (want_scalar(c, n, path, "a single value") < 0)
    return -EINVAL;
  s = scalar(n);
  q = quote(s);
  r = -EINVAL;
  switch (o->type) {
  case T_STRING:
  case T_PATH:
    if (!*s)
      err_at(c, &n->start_mark, path, "must not be empty");
    else if (has_ctl(s))
      err_at(c, &n->start_mark, path, "contains control characters");
    else
      r = 0, set_string((char **)(void *)field, s);
    break;
  case T_NAME:
    if (!valid_name(s))
      err_at(c, &n->start_mark, path,
             "expected a name of 1 to 64 letters, digits, '.', '_' or '-', got %s", q);
    else
      r = 0, set_string((char **)(void *)field, s);
    break;
  case T_URL:
  case T_MAIL_URL:
    r = check_url(c, n, path, s, o->type == T_MAIL_URL);
    if (r == 0)
      set_string((char **)(void *)field, s);
    break;
  case T_KIND: {
    enum bw_kind k;
    if (bw_kind_parse(s, &k) < 0)
      err_at(c, &n->start_mark, path, "expected %s, got %s", bw_kind_names_text(), q);
    else
      r = 0, *(enum bw_kind *)(void *)field = k;
    break;
  }
  case T_METHOD:
    if (!valid_method(s))
      err_at(c, &n->start_mark, path,
             "expected an HTTP method such as GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS, "
             "got %s",
             q);
    else if (strcmp(s, "CONNECT") == 0)
      err_at(c, &n->start_mark, path, "CONNECT opens a tunnel, not a page; use proxy:");
    else
      r = 0, set_string((char **)(void *)field, s);
    break;
  case T_TLS:
    if (strcmp(s, "none") != 0 && strcmp(s, "opportunistic") != 0 && strcmp(s, "required") != 0)
      err_at(c, &n->start_mark, path, "expected none, opportunistic or required, got %s", q);
    else
      r = 0, set_string((char **)(void *)field, s);
    break;
  case T_HTTP:
    if (strcmp(s, "1.1") != 0 && strcmp(s, "2") != 0)
      err_at(c, &n->start_mark, path, "expected 1.1 or 2, got %s", q);
    else
      r = 0, *(int *)(void *)field = s[0] == '2' ? 2 : 1;
    break;
  case T_SPLIT:
    if (strcmp(s, "whole") != 0 && strcmp(s, "ranges") != 0)
      err_at(c, &n->start_mark, path, "expected whole or ranges, got %s", q);
    else
      r = 0, *(bool *)(void *)field = s[0] == 'r';
    break;
  case T_ENGINE:
    if (strcmp(s, "auto") == 0)
      r = 0, *(enum bw_engine *)(void *)field = BW_ENGINE_AUTO;
    else if (strcmp(s, "lean") == 0)
      r = 0, *(enum bw_engine *)(void *)field = BW_ENGINE_LEAN;
    else if (strcmp(s, "curl") == 0)
      r = 0, *(enum bw_engine *)(void *)field = BW_ENGINE_CURL;
    else
      err_at(c, &n->start_mark, path, "expected auto, lean or curl, got %s", q);
    break;
  case T_BOOL: {
    bool b;
    if (parse_bool(s, &b) < 0)
      err_at(c, &n->start_mark, path, "expected true or false, got %s", q);
    else
      r = 0, *(bool *)(void *)field = b;
    break;
  }
  case T_INT:
    r = parse_int(s, &v);
    if (r == -EINVAL)
      err_at(c, &n->start_mark, path, "expected a positive integer, got %s", q);
    else if (r == -ERANGE)
      err_at(c, &n->start_mark, path, "%s is too large", q);
    else if ((r = check_range(c, n, path, o, v)) == 0)
      *(int64_t *)(void *)field = v;
    break;
  case T_FACTOR: {
    char *end;
    double d = strtod(s, &end);
    if (!*s || *end || !isfinite(d) || d <= 0 || !isdigit((unsigned char)s[0]))
      err_at(c, &n->start_mark, path, "expected a positive decimal number such as 1.5, got %s", q);
    else
      r = 0, *(double *)(void *)field = d;
    break;
  }
  case T_DURATION:
  case T_SIZE:
    r = o->type == T_DURATION ? bw_parse_duration(s, &v) : bw_parse_size(s, &v);
    if (r == -EINVAL)
      err_at(c, &n->start_mark, path,
             o->type == T_DURATION ? "expected a duration such as 250ms, 30s, 5m, 1h or 7d, got %s"
                                   : "expected a size such as 64KB, 700MB or 2GiB, got %s",
             q);
    else if (r == -ERANGE)
      err_at(c, &n->start_mark, path, "%s is too large", q);
    else if ((r = check_range(c, n, path, o, v)) == 0)
      *(int64_t *)(void *)field = v;
    break;
  case T_TIME: {
    int m;
    if (bw_parse_time_of_day(s, &m) < 0)
      err_at(c, &n->start_mark, path, "expected a time of day HH:MM such as 06:30, got %s", q);
    else
      r = 0, *(int *)(void *)field = m;
    break;
  }
  case T_HOSTPORT:
    if (!valid_hostport(s))
      err_at(c, &n->start_mark, path, "expected host:port such as 127.0.0.1:9469, got %s", q);
    else
      r = 0, set_string((char **)(void *)field, s);
    break;
  default:
    err_at(c, &n->start_mark, path, "internal error: unhandled option type");
    break;
  }
  free(q);
  return r;
}

/* ---- defaults from the tables ---- */

/*
 * Built-in defaults are config text parsed by parse_opt() itself, so they obey the same checks.
 * They cannot fail; a failure here is a bug in a table, caught by the unit tests.
 */
static void apply_builtin(const struct opt *opts, void *base, struct bw_errs *errs) {
  yaml_document_t doc;
  yaml_mark_t mark = {0, 0, 0};
  for (const struct opt *o = opts; o->key; o++) {
    if (!o->def)
      continue;
    if (!yaml_document_initialize(&doc, NULL, NULL, NULL, 1, 1))
      abort();
    int id = yaml_document_add_scalar(&doc, NULL, (const yaml_char_t *)o->def, -1,
                                      YAML_PLAIN_SCALAR_STYLE);
    if (id == 0)
      abort();
    struct ctx c = {"(built-in defaults)", &doc, errs, 0};
    yaml_node_t *n = yaml_document_get_node(&doc, id);
    n->start_mark = mark;
    (void)parse_opt(&c, o, n, o->key, base);
    yaml_document_delete(&doc);
  }
}

static char **copy_list(char **list, size_t n) {
  char **out = n ? bw_xcalloc(n, sizeof(*out)) : NULL;
  for (size_t i = 0; i < n; i++)
    out[i] = bw_xstrdup(list[i]);
  return out;
}

static int64_t *copy_ints(const int64_t *list, size_t n) {
  int64_t *out = n ? bw_xcalloc(n, sizeof(*out)) : NULL;
  if (n)
    memcpy(out, list, n * sizeof(*out));
  return out;
}

void bw_test_copy(struct bw_test *dst, const struct bw_test *src) {
  *dst = *src;
  dst->name = src->name ? bw_xstrdup(src->name) : NULL;
  dst->url = src->url ? bw_xstrdup(src->url) : NULL;
  dst->method = src->method ? bw_xstrdup(src->method) : NULL;
  dst->headers = copy_list(src->headers, src->n_headers);
  dst->backends = copy_list(src->backends, src->n_backends);
  dst->sweep_concurrency = copy_ints(src->sweep_concurrency, src->n_sweep_concurrency);
  dst->sweep_requests = copy_ints(src->sweep_requests, src->n_sweep_requests);
  if (src->body) {
    dst->body = bw_xmalloc(src->body_len + 1);
    memcpy(dst->body, src->body, src->body_len + 1);
  }
  dst->body_file = src->body_file ? bw_xstrdup(src->body_file) : NULL;
  dst->body_file_where = src->body_file_where ? bw_xstrdup(src->body_file_where) : NULL;
  dst->content_type = src->content_type ? bw_xstrdup(src->content_type) : NULL;
  dst->proxy = src->proxy ? bw_xstrdup(src->proxy) : NULL;
  dst->expect.status = copy_list(src->expect.status, src->expect.n_status);
  dst->expect.body_contains =
      src->expect.body_contains ? bw_xstrdup(src->expect.body_contains) : NULL;
}

void bw_test_clear(struct bw_test *t) {
  free(t->name);
  free(t->url);
  free(t->method);
  free_list(t->headers, t->n_headers);
  free_list(t->backends, t->n_backends);
  free(t->sweep_concurrency);
  free(t->sweep_requests);
  free(t->body);
  free(t->body_file);
  free(t->body_file_where);
  free(t->content_type);
  free(t->proxy);
  free_list(t->expect.status, t->expect.n_status);
  free(t->expect.body_contains);
  memset(t, 0, sizeof(*t));
}

/* ---- sections ---- */

/* Reports each required key of opts (not in `forbidden`) missing from *set; -EINVAL if any. */
static int check_required(struct ctx *c, const yaml_node_t *map, const char *path,
                          const struct opt *opts, unsigned forbidden, uint64_t set) {
  int r = 0;
  for (size_t i = 0; opts[i].key; i++) {
    if ((opts[i].flags & F_REQUIRED) && !(opts[i].flags & forbidden) &&
        !(set & (UINT64_C(1) << i))) {
      err_at(c, &map->start_mark, path, "missing required key \"%s\"", opts[i].key);
      r = -EINVAL;
    }
  }
  return r;
}

/*
 * Parses a mapping against a table. Sets bit i of *set for each opts[i] present. Keys with a flag
 * in `forbidden` are reported as not allowed here. Reports every problem; returns -EINVAL if any.
 */
static int parse_section(struct ctx *c, const yaml_node_t *map, const char *path,
                         const struct opt *opts, unsigned forbidden, void *base, uint64_t *set) {
  const char *known[64];
  size_t n_known;
  int r = 0;
  *set = 0;
  /* "detect:" with nothing under it is an empty mapping, whose required keys are still missing
   * (a "-" alone in tests:, "report:" alone). */
  if (map->type == YAML_SCALAR_NODE && scalar(map)[0] == '\0')
    return check_required(c, map, path, opts, forbidden, *set);
  if (map->type != YAML_MAPPING_NODE) {
    err_at(c, &map->start_mark, path, "expected a mapping of keys, got %s", node_kind(map));
    return -EINVAL;
  }
  opts_keys(opts, known, &n_known);
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    const yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
    if (k->type != YAML_SCALAR_NODE) {
      err_at(c, &k->start_mark, path, "keys must be plain words, got %s", node_kind(k));
      r = -EINVAL;
      continue;
    }
    char *kpath = *path ? bw_xasprintf("%s.%s", path, scalar(k)) : bw_xstrdup(scalar(k));
    size_t i = 0;
    while (opts[i].key && strcmp(opts[i].key, scalar(k)) != 0)
      i++;
    if (!opts[i].key) {
      unknown_key(c, k, kpath, known, n_known);
      r = -EINVAL;
    } else if (*set & (UINT64_C(1) << i)) {
      err_at(c, &k->start_mark, kpath, "given twice");
      r = -EINVAL;
    } else if (opts[i].flags & forbidden) {
      err_at(c, &k->start_mark, kpath, "belongs in each test, not in defaults");
      r = -EINVAL;
    } else {
      *set |= UINT64_C(1) << i;
      if (parse_opt(c, &opts[i], v, kpath, base) < 0)
        r = -EINVAL;
    }
    free(kpath);
  }
  if (check_required(c, map, path, opts, forbidden, *set) < 0)
    r = -EINVAL;
  return r;
}

static const yaml_node_t *find_key(struct ctx *c, const yaml_node_t *map, const char *key);

/* A sweep's steps against each other and the test: as many requests as steps (or one for all),
 * and in every step at least as many requests as requests in flight. */
static int check_sweep(struct ctx *c, const yaml_node_t *map, const char *path,
                       const struct bw_test *t) {
  size_t n = bw_sweep_steps(t);
  if (n == 0)
    return 0;
  const yaml_node_t *node = map->type == YAML_MAPPING_NODE ? find_key(c, map, "sweep") : NULL;
  const yaml_mark_t *mark = node ? &node->start_mark : &map->start_mark;
  char *spath = bw_xasprintf("%s.sweep", path);
  int r = 0;
  if (t->n_sweep_concurrency && t->n_sweep_requests > 1 &&
      t->n_sweep_requests != t->n_sweep_concurrency) {
    err_at(c, mark, spath,
           "requests lists %zu steps and concurrency %zu: give one per step, or one for all",
           t->n_sweep_requests, t->n_sweep_concurrency);
    r = -EINVAL;
  }
  for (size_t i = 0; r == 0 && i < n; i++) {
    int64_t conc, req;
    bw_sweep_step_values(t, i, &conc, &req);
    if (conc > req) {
      err_at(c, mark, spath,
             "step %zu: concurrency %" PRId64 " is greater than requests %" PRId64
             " (like ab, every request slot needs a request)",
             i + 1, conc, req);
      r = -EINVAL;
    }
  }
  free(spath);
  return r;
}

bool bw_method_has_body(const char *m) {
  return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

static bool has_header(const struct bw_test *t, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < t->n_headers; i++)
    if (strncasecmp(t->headers[i], name, len) == 0 && t->headers[i][len] == ':')
      return true;
  return false;
}

/* The request keys together: a body needs a method that sends one, a proxy picks the server. */
static bool key_set(const char *key, uint64_t set) {
  for (size_t i = 0; test_opts[i].key; i++)
    if (strcmp(test_opts[i].key, key) == 0)
      return set & (UINT64_C(1) << i);
  return false;
}

/*
 * The request keys together: a body needs a method that sends one, a proxy picks the server. A
 * body or content_type from defaults: is only sent by the tests whose method sends a body.
 */
static int check_request(struct ctx *c, const yaml_node_t *map, const char *path,
                         const struct bw_test *t, uint64_t set) {
  int r = 0;
  if (t->kind == BW_KIND_PAGE) {
    bool body = key_set("body", set) || key_set("body_file", set);
    if (key_set("body", set) && key_set("body_file", set)) {
      err_at(c, &map->start_mark, path, "body and body_file: give the body one way");
      r = -EINVAL;
    }
    if (body && !bw_method_has_body(t->method)) {
      err_at(c, &map->start_mark, path,
             "a body is sent with POST, PUT or PATCH, and the method is %s", t->method);
      r = -EINVAL;
    }
    if (key_set("content_type", set) && !bw_method_has_body(t->method)) {
      err_at(c, &map->start_mark, path,
             "content_type describes a body, sent with POST, PUT or PATCH; the method is %s",
             t->method);
      r = -EINVAL;
    }
    if (t->content_type && has_header(t, "Content-Type")) {
      err_at(c, &map->start_mark, path,
             "content_type and a Content-Type in headers: give the body's type once");
      r = -EINVAL;
    }
    if (has_header(t, "Content-Length") || has_header(t, "Transfer-Encoding")) {
      err_at(c, &map->start_mark, path,
             "Content-Length and Transfer-Encoding are the body's framing, set from the body; "
             "leave them out of headers");
      r = -EINVAL;
    }
    if (t->expect.body_contains && strcmp(t->method, "HEAD") == 0) {
      err_at(c, &map->start_mark, path,
             "expect.body_contains looks in the body, and a HEAD response has none");
      r = -EINVAL;
    }
    if (t->proxy && t->engine == BW_ENGINE_LEAN) {
      err_at(c, &map->start_mark, path,
             "engine: lean connects to the server itself; a proxy needs engine: curl (or auto)");
      r = -EINVAL;
    }
  }
  if (t->proxy && t->n_backends > 0) {
    err_at(c, &map->start_mark, path,
           "backends and proxy: through a proxy the proxy picks the server; measure the backends "
           "in one test and the path through the proxy in another");
    r = -EINVAL;
  }
  return r;
}

/* Checks that need several keys of one test, after each key parsed. */
static int check_test(struct ctx *c, const yaml_node_t *map, const char *path,
                      const struct bw_test *t, uint64_t set) {
  int r = 0;
  for (size_t i = 0; test_opts[i].key; i++) {
    unsigned classes = key_classes(test_opts[i].flags);
    if ((set & (UINT64_C(1) << i)) && !bw_kind_takes(t->kind, classes)) {
      /* "page and connect": the kinds that do take it, from their rows */
      struct bw_buf takers = {NULL, 0, 0};
      size_t n = 0, shown = 0;
      for (size_t k = 0; k < BW_KIND_COUNT; k++)
        n += bw_kind_takes(bw_kinds[k].kind, classes);
      for (size_t k = 0; k < BW_KIND_COUNT; k++) {
        if (!bw_kind_takes(bw_kinds[k].kind, classes))
          continue;
        const char *sep = shown == 0 ? "" : shown + 1 == n ? " and " : ", ";
        bw_buf_printf(&takers, "%s%s", sep, bw_kinds[k].name);
        shown++;
      }
      err_at(c, &map->start_mark, path, "%s applies only to %s tests, and this is a %s test",
             test_opts[i].key, takers.s ? takers.s : "no", bw_kind_name(t->kind));
      free(takers.s);
      r = -EINVAL;
    }
  }
  if (bw_kind_takes(t->kind, BW_KEYS_SAMPLES) && t->concurrency > t->requests &&
      bw_sweep_steps(t) == 0) {
    err_at(c, &map->start_mark, path,
           "concurrency %" PRId64 " is greater than requests %" PRId64
           " (like ab, every request slot needs a request)",
           t->concurrency, t->requests);
    r = -EINVAL;
  }
  if (t->kind == BW_KIND_PAGE && check_sweep(c, map, path, t) < 0)
    r = -EINVAL;
  if (t->kind == BW_KIND_PAGE && t->threads > t->concurrency &&
      bw_sweep_steps(t) == 0) {
    err_at(c, &map->start_mark, path,
           "threads %" PRId64 " is greater than concurrency %" PRId64
           " (each thread needs a request slot of its own)",
           t->threads, t->concurrency);
    r = -EINVAL;
  }
  if (t->kind == BW_KIND_DOWNLOAD && t->split_ranges && t->streams < 2) {
    err_at(c, &map->start_mark, path,
           "split: ranges divides the URL among streams: it needs streams of 2 or more");
    r = -EINVAL;
  }
  if (t->kind == BW_KIND_PAGE && t->engine == BW_ENGINE_LEAN && t->http_version == 2) {
    err_at(c, &map->start_mark, path,
           "engine: lean speaks HTTP/1.1 only; http: 2 needs engine: curl (or auto)");
    r = -EINVAL;
  }
  if (check_request(c, map, path, t, set) < 0)
    r = -EINVAL;
  if (t->kind == BW_KIND_DOWNLOAD && strcmp(t->method, "GET") != 0) {
    err_at(c, &map->start_mark, path, "a download test must use GET (a HEAD has no body)");
    r = -EINVAL;
  }
  if (t->offset_us >= t->every_us) {
    err_at(c, &map->start_mark, path, "offset must be less than every");
    r = -EINVAL;
  } else if (t->offset_us + t->jitter_us > t->every_us) {
    err_at(c, &map->start_mark, path, "offset + jitter must not exceed every");
    r = -EINVAL;
  }
  return r;
}

/* Checks across the keys of a detect mapping. */
static int check_detect(struct ctx *c, const yaml_node_t *n, const char *path,
                        const struct bw_detect *d) {
  int r = 0;
  if (d->latency_factor <= 1.0) {
    err_at(c, &n->start_mark, path, "latency_factor must be greater than 1");
    r = -EINVAL;
  }
  if (d->throughput_factor >= 1.0) {
    err_at(c, &n->start_mark, path, "throughput_factor must be less than 1");
    r = -EINVAL;
  }
  return r;
}

static int check_unique_name(struct ctx *c, const yaml_node_t *map, const char *path,
                             const struct bw_config *cfg, size_t idx) {
  const char *name = cfg->tests[idx].name;
  for (size_t j = 0; j < idx && name; j++) {
    if (cfg->tests[j].name && strcmp(cfg->tests[j].name, name) == 0) {
      err_at(c, &map->start_mark, path, "duplicate test name \"%s\" (first at line %d)", name,
             cfg->tests[j].line);
      return -EINVAL;
    }
  }
  return 0;
}

static const yaml_node_t *find_key(struct ctx *c, const yaml_node_t *map, const char *key);

/*
 * A figure a test's own detect.figures names must be one its kind measures. The global list may
 * name figures of every kind: each test is judged on those its kind has.
 */
static int check_figures(struct ctx *c, const yaml_node_t *map, const char *path,
                         const struct bw_test *t) {
  const yaml_node_t *det = map->type == YAML_MAPPING_NODE ? find_key(c, map, "detect") : NULL;
  const yaml_node_t *fig = det && det->type == YAML_MAPPING_NODE ? find_key(c, det, "figures") : NULL;
  int r = 0;
  uint32_t keep = BW_FIGURE_AVAILABILITY;
  for (const struct bw_metric *m = bw_metrics; m->name; m++)
    if (m->kinds & (1u << t->kind))
      keep |= UINT32_C(1) << (m - bw_metrics);
  if (!fig && t->detect.figures && !(t->detect.figures & keep)) {
    err_at(c, &map->start_mark, path, "detect.figures names nothing a %s test measures",
           bw_kind_name(t->kind));
    r = -EINVAL;
  }
  for (const struct bw_metric *m = bw_metrics; fig && m->name; m++)
    if ((t->detect.figures & (UINT32_C(1) << (m - bw_metrics))) && !(m->kinds & (1u << t->kind))) {
      err_at(c, &fig->start_mark, path, "detect.figures: %s is not measured by a %s test",
             m->name, bw_kind_name(t->kind));
      r = -EINVAL;
    }
  return r;
}

static int parse_tests(struct ctx *c, const yaml_node_t *seq, const struct bw_test *defaults,
                       struct bw_config *cfg) {
  int r = 0;
  if (seq->type != YAML_SEQUENCE_NODE) {
    err_at(c, &seq->start_mark, "tests", "expected a list of tests, got %s", node_kind(seq));
    return -EINVAL;
  }
  size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
  if (n == 0) {
    err_at(c, &seq->start_mark, "tests", "the list is empty; configure at least one test");
    return -EINVAL;
  }
  cfg->tests = bw_xcalloc(n, sizeof(*cfg->tests));
  for (size_t i = 0; i < n; i++) {
    const yaml_node_t *map = yaml_document_get_node(c->doc, seq->data.sequence.items.start[i]);
    struct bw_test *t = &cfg->tests[i];
    char path[32];
    uint64_t set;
    (void)snprintf(path, sizeof(path), "tests[%zu]", i);
    bw_test_copy(t, defaults);
    t->detect = cfg->detect; /* the global settings, which the test's own detect: overrides */
    cfg->n_tests = i + 1;
    t->line = (int)map->start_mark.line + 1;
    t->column = (int)map->start_mark.column + 1;
    /* Cross-key checks need every key of the test to have parsed; names are checked anyway. */
    if (parse_section(c, map, path, test_opts, 0, t, &set) < 0)
      r = -EINVAL;
    else if (check_test(c, map, path, t, set) < 0)
      r = -EINVAL;
    if (check_unique_name(c, map, path, cfg, i) < 0)
      r = -EINVAL;
    if (check_figures(c, map, path, t) < 0)
      r = -EINVAL;
  }
  return r;
}

static const yaml_node_t *find_key(struct ctx *c, const yaml_node_t *map, const char *key) {
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0)
      return yaml_document_get_node(c->doc, p->value);
  }
  return NULL;
}

static int parse_root(struct ctx *c, const yaml_node_t *root, struct bw_config *cfg) {
  struct bw_test defaults;
  uint64_t set;
  int r = 0;
  size_t n_top = sizeof(top_keys) / sizeof(top_keys[0]) - 1;

  if (root->type != YAML_MAPPING_NODE) {
    err_at(c, &root->start_mark, NULL,
           "expected a mapping with keys such as database, defaults and tests, got %s",
           node_kind(root));
    return -EINVAL;
  }

  /* Keys at the top: unknown and duplicate ones first, so each is reported once. */
  for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
       p++) {
    const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    size_t i = 0;
    if (k->type != YAML_SCALAR_NODE) {
      err_at(c, &k->start_mark, NULL, "keys must be plain words, got %s", node_kind(k));
      r = -EINVAL;
      continue;
    }
    while (top_keys[i] && strcmp(top_keys[i], scalar(k)) != 0)
      i++;
    if (!top_keys[i]) {
      unknown_key(c, k, scalar(k), top_keys, n_top);
      r = -EINVAL;
      continue;
    }
    for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p; q++) {
      const yaml_node_t *kq = yaml_document_get_node(c->doc, q->key);
      if (kq->type == YAML_SCALAR_NODE && strcmp(scalar(kq), scalar(k)) == 0) {
        err_at(c, &k->start_mark, scalar(k), "given twice");
        r = -EINVAL;
        break;
      }
    }
  }

  const yaml_node_t *n = find_key(c, root, "database");
  if (n) {
    struct opt o = {"database", T_PATH, 0, 0, 0, NULL, 0, NULL};
    if (parse_opt(c, &o, n, "database", &cfg->database) < 0)
      r = -EINVAL;
  }
  if (!cfg->database)
    cfg->database = bw_xstrdup(default_database);
  cfg->max_parallel = 4;
  n = find_key(c, root, "max_parallel");
  if (n) {
    struct opt o = {"max_parallel", T_INT, 0, 1, 64, NULL, 0, NULL};
    if (parse_opt(c, &o, n, "max_parallel", &cfg->max_parallel) < 0)
      r = -EINVAL;
  }
  if (cfg->database[0] != '/' && strcmp(cfg->database, ":memory:") != 0) {
    const char *slash = strrchr(c->name, '/');
    if (slash) {
      char *abs = bw_xasprintf("%.*s/%s", (int)(slash - c->name), c->name, cfg->database);
      free(cfg->database);
      cfg->database = abs;
    }
  }

  memset(&defaults, 0, sizeof(defaults));
  apply_builtin(test_opts, &defaults, c->errs);
  n = find_key(c, root, "defaults");
  if (n && parse_section(c, n, "defaults", test_opts, F_TEST_ONLY, &defaults, &set) < 0)
    r = -EINVAL;

  apply_builtin(detect_opts, &cfg->detect, c->errs);
  n = find_key(c, root, "detect");
  if (n && parse_section(c, n, "detect", detect_opts, 0, &cfg->detect, &set) < 0)
    r = -EINVAL;
  if (n && check_detect(c, n, "detect", &cfg->detect) < 0)
    r = -EINVAL;

  n = find_key(c, root, "report");
  if (n) {
    cfg->report.enabled = true;
    apply_builtin(report_opts, &cfg->report, c->errs);
    if (parse_section(c, n, "report", report_opts, 0, &cfg->report, &set) < 0) {
      r = -EINVAL;
    } else if (cfg->report.username && !cfg->report.password_file) {
      err_at(c, &n->start_mark, "report", "username needs a password_file (the password is read "
                                          "from that file, never written in the config)");
      r = -EINVAL;
    }
  }

  n = find_key(c, root, "metrics");
  apply_builtin(metrics_opts, &cfg->metrics, c->errs);
  if (n && parse_section(c, n, "metrics", metrics_opts, 0, &cfg->metrics, &set) < 0)
    r = -EINVAL;

  const yaml_node_t *retention = find_key(c, root, "retention");
  apply_builtin(retention_opts, &cfg->retention, c->errs);
  if (retention &&
      parse_section(c, retention, "retention", retention_opts, 0, &cfg->retention, &set) < 0)
    r = -EINVAL;

  n = find_key(c, root, "tests");
  if (!n) {
    err_at(c, &root->start_mark, NULL, "missing required key \"tests\"");
    r = -EINVAL;
  } else if (parse_tests(c, n, &defaults, cfg) < 0) {
    r = -EINVAL;
  }
  bw_test_clear(&defaults);
  /* Runs the judge still reads must stay: no window may reach past the runs kept. */
  if (r == 0 && cfg->retention.runs_us > 0) {
    int64_t longest = cfg->detect.window_us;
    for (size_t i = 0; i < cfg->n_tests; i++)
      if (cfg->tests[i].detect.window_us > longest)
        longest = cfg->tests[i].detect.window_us;
    if (cfg->retention.runs_us < longest) {
      char want[32];
      (void)bw_format_duration(longest, want, sizeof(want));
      err_at(c, retention ? &retention->start_mark : &root->start_mark, "retention.runs",
             "must be 0 or at least the longest detect window (%s): the baseline reads that far "
             "back", want);
      r = -EINVAL;
    }
  }
  return r;
}

/* ---- whole files ---- */

/* Finds the first byte that is not well-formed UTF-8 (RFC 3629), or returns len. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned char b = s[i];
    size_t n;
    uint32_t cp;
    if (b == 0)
      return i;
    if (b < 0x80) {
      i++;
      continue;
    }
    if (b >= 0xc2 && b <= 0xdf)
      n = 1, cp = b & 0x1f;
    else if (b >= 0xe0 && b <= 0xef)
      n = 2, cp = b & 0x0f;
    else if (b >= 0xf0 && b <= 0xf4)
      n = 3, cp = b & 0x07;
    else
      return i;
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
        return i;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return i;
    i += n + 1;
  }
  return len;
}

/*
 * Lists and mappings within each other: a benchwatch config needs 4 levels (the file, tests, a
 * test, its detect or headers). libyaml's scanner slows down with every open level (10^5 "["
 * take minutes) and its loader would build them all; this limit keeps check-config and a reload
 * instant on any file.
 */
#define MAX_DEPTH 64

/*
 * A first pass over buf's events that stops at the first node nested deeper than MAX_DEPTH and
 * reports it as FILE:LINE:COL. Returns false then; true otherwise, a YAML error included (the
 * loader reports that in its own words).
 */
static bool depth_ok(const char *name, const char *buf, size_t len, struct bw_errs *errs) {
  yaml_parser_t parser;
  yaml_event_t ev;
  int depth = 0;
  bool ok = true, end = false;
  if (!yaml_parser_initialize(&parser))
    return true;
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
  while (ok && !end && yaml_parser_parse(&parser, &ev)) {
    if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT) {
      if (++depth > MAX_DEPTH) {
        bw_errs_add(errs,
                    "%s:%zu:%zu: nested more than %d levels deep (lists and mappings "
                    "within each other); a benchwatch config needs 4",
                    name, ev.start_mark.line + 1, ev.start_mark.column + 1, MAX_DEPTH);
        ok = false;
      }
    } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
      depth--;
    }
    end = ev.type == YAML_STREAM_END_EVENT;
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  return ok;
}

static bool only_blank(const char *buf, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (!isspace((unsigned char)buf[i]))
      return false;
  return true;
}

struct bw_config *bw_config_parse(const char *name, const char *buf, size_t len,
                                  struct bw_errs *errs) {
  yaml_parser_t parser;
  yaml_document_t doc, extra;
  struct bw_config *cfg = NULL;
  bool have_doc = false;
  size_t before = errs->n;

  /* A UTF-8 byte-order mark (Windows editors write one) is not content: without it, columns on
   * the first line count from the first character people see, and blank means blank. */
  if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
    buf += 3;
    len -= 3;
  }
  size_t bad = utf8_invalid_at((const unsigned char *)buf, len);
  if (bad < len) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < bad; i++) {
      if (buf[i] == '\n')
        line++, col = 1;
      else if (((unsigned char)buf[i] & 0xc0) != 0x80)
        col++;
    }
    if (buf[bad] == '\0')
      bw_errs_add(errs, "%s:%zu:%zu: the file contains a NUL byte; is it a text file?", name,
                  line, col);
    else
      bw_errs_add(errs, "%s:%zu:%zu: not valid UTF-8 (byte 0x%02x); save the file as UTF-8", name,
                  line, col, (unsigned char)buf[bad]);
    return NULL;
  }
  if (only_blank(buf, len)) {
    bw_errs_add(errs, "%s: the file is empty; expected a mapping with a \"tests\" list", name);
    return NULL;
  }

  if (!depth_ok(name, buf, len, errs))
    return NULL;
  if (!yaml_parser_initialize(&parser)) {
    bw_errs_add(errs, "%s: out of memory starting the YAML parser", name);
    return NULL;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
  yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
  if (!yaml_parser_load(&parser, &doc))
    goto yaml_error;
  have_doc = true;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root) {
    bw_errs_add(errs, "%s: the file has no content; expected a mapping with a \"tests\" list",
                name);
    goto out;
  }
  if (!yaml_parser_load(&parser, &extra))
    goto yaml_error;
  if (yaml_document_get_root_node(&extra)) {
    yaml_mark_t m = yaml_document_get_root_node(&extra)->start_mark;
    bw_errs_add(errs, "%s:%zu:%zu: a second YAML document; the file must hold only one", name,
                m.line + 1, m.column + 1);
    yaml_document_delete(&extra);
    goto out;
  }
  yaml_document_delete(&extra);

  cfg = bw_xcalloc(1, sizeof(*cfg));
  cfg->path = bw_xstrdup(name);
  struct ctx c = {name, &doc, errs, before};
  if (parse_root(&c, root, cfg) < 0 || errs->n > before) {
    bw_config_free(cfg);
    cfg = NULL;
  }
  goto out;

yaml_error:
  if (parser.context)
    bw_errs_add(errs, "%s:%zu:%zu: invalid YAML: %s %s (line %zu)", name,
                parser.problem_mark.line + 1, parser.problem_mark.column + 1, parser.problem,
                parser.context, parser.context_mark.line + 1);
  else
    bw_errs_add(errs, "%s:%zu:%zu: invalid YAML: %s", name, parser.problem_mark.line + 1,
                parser.problem_mark.column + 1, parser.problem ? parser.problem : "unknown error");
out:
  if (have_doc)
    yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return cfg;
}

struct bw_config *bw_config_ref(struct bw_config *cfg) {
  if (cfg)
    cfg->refs++;
  return cfg;
}

void bw_config_free(struct bw_config *cfg) {
  if (!cfg)
    return;
  if (cfg->refs > 0) {
    cfg->refs--;
    return;
  }
  for (size_t i = 0; i < cfg->n_tests; i++)
    bw_test_clear(&cfg->tests[i]);
  free(cfg->tests);
  free(cfg->path);
  free(cfg->database);
  free(cfg->report.smtp);
  free(cfg->report.from);
  free(cfg->report.tls);
  free(cfg->report.username);
  free(cfg->report.password_file);
  free(cfg->report.url);
  free_list(cfg->report.to, cfg->report.n_to);
  free(cfg->metrics.listen);
  free(cfg);
}

const struct bw_test *bw_config_find_test(const struct bw_config *cfg, const char *name) {
  for (size_t i = 0; i < cfg->n_tests; i++)
    if (strcmp(cfg->tests[i].name, name) == 0)
      return &cfg->tests[i];
  /* A sweep's step ("api@c4") is measured and judged with its sweep's settings. */
  for (size_t i = 0; i < cfg->n_tests; i++)
    if (bw_sweep_steps(&cfg->tests[i]) && bw_sweep_is_of(name, cfg->tests[i].name))
      return &cfg->tests[i];
  return NULL;
}

/* ---- dump ---- */

/* A YAML double-quoted scalar, so any string reads back as itself. */
static void sb_quoted(struct bw_buf *b, const char *s) {
  bw_buf_printf(b, "\"");
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      bw_buf_printf(b, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      bw_buf_printf(b, "\\x%02x", (unsigned char)*s);
    else
      bw_buf_printf(b, "%c", *s);
  }
  bw_buf_printf(b, "\"");
}

static void dump_opts(struct bw_buf *b, const struct opt *opts, const void *base, const char *indent,
                      unsigned skip) {
  char tmp[64];
  for (const struct opt *o = opts; o->key; o++) {
    const char *field = (const char *)base + o->off;
    if (o->flags & skip)
      continue;
    /* A body a test inherits but does not send is not its own: it would not read back. */
    if (opts == test_opts &&
        (o->type == T_BODY || o->type == T_BODY_FILE || strcmp(o->key, "content_type") == 0) &&
        !bw_method_has_body(((const struct bw_test *)base)->method))
      continue;
    switch (o->type) {
    case T_HEADERS:
    case T_HOSTPORTS:
    case T_STATUSES:
    case T_EMAILS: {
      char *const *list = *(char **const *)(const void *)field;
      size_t n = *(const size_t *)(const void *)(field + sizeof(char **));
      bw_buf_printf(b, "%s%s: [", indent, o->key);
      for (size_t i = 0; i < n; i++) {
        bw_buf_printf(b, i ? ", " : "");
        sb_quoted(b, list[i]);
      }
      bw_buf_printf(b, "]\n");
      continue;
    }
    case T_FIGURES: {
      uint32_t mask = *(const uint32_t *)(const void *)field;
      const char *sep = "";
      bw_buf_printf(b, "%s%s: [", indent, o->key);
      for (const struct bw_metric *m = bw_metrics; m->name; m++)
        if (mask & (UINT32_C(1) << (m - bw_metrics))) {
          bw_buf_printf(b, "%s%s", sep, m->name);
          sep = ", ";
        }
      if (mask & BW_FIGURE_AVAILABILITY)
        bw_buf_printf(b, "%s%s", mask & ~BW_FIGURE_AVAILABILITY ? ", " : "", BW_METRIC_AVAILABILITY);
      bw_buf_printf(b, "]\n");
      continue;
    }
    case T_SWEEP: {
      const struct bw_test *t = base;
      if (!t->n_sweep_concurrency && !t->n_sweep_requests)
        continue;
      const char *sep = "";
      bw_buf_printf(b, "%s%s: {", indent, o->key);
      if (t->n_sweep_concurrency) {
        bw_buf_printf(b, "concurrency: [");
        for (size_t i = 0; i < t->n_sweep_concurrency; i++)
          bw_buf_printf(b, "%s%" PRId64, i ? ", " : "", t->sweep_concurrency[i]);
        bw_buf_printf(b, "]");
        sep = ", ";
      }
      if (t->n_sweep_requests) {
        bw_buf_printf(b, "%srequests: [", sep);
        for (size_t i = 0; i < t->n_sweep_requests; i++)
          bw_buf_printf(b, "%s%" PRId64, i ? ", " : "", t->sweep_requests[i]);
        bw_buf_printf(b, "]");
      }
      bw_buf_printf(b, "}\n");
      continue;
    }
    case T_KIND:
      bw_buf_printf(b, "%s%s: %s\n", indent, o->key, bw_kind_name(*(const enum bw_kind *)field));
      continue;
    case T_BODY: {
      /* The file's name stands for its bytes; a body given as text is written back as text. */
      const struct bw_test *t = base;
      if (!t->body || t->body_file)
        continue;
      bw_buf_printf(b, "%s%s: \"", indent, o->key);
      for (size_t i = 0; i < t->body_len; i++) {
        unsigned char ch = (unsigned char)t->body[i];
        if (ch == '"' || ch == '\\')
          bw_buf_printf(b, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
          bw_buf_printf(b, "\\x%02x", ch);
        else
          bw_buf_printf(b, "%c", ch);
      }
      bw_buf_printf(b, "\"\n");
      continue;
    }
    case T_EXPECT: {
      const struct bw_expect *e = (const struct bw_expect *)(const void *)field;
      char deeper[32];
      if (!e->n_status && !e->body_contains)
        continue;
      (void)snprintf(deeper, sizeof(deeper), "%s  ", indent);
      bw_buf_printf(b, "%s%s:\n", indent, o->key);
      for (const struct opt *eo = expect_opts; eo->key; eo++)
        if (eo->type != T_STATUSES || e->n_status) {
          const struct opt one[2] = {*eo, {NULL, T_STRING, 0, 0, 0, NULL, 0, NULL}};
          dump_opts(b, one, e, deeper, 0);
        }
      continue;
    }
    case T_HTTP:
      bw_buf_printf(b, "%s%s: \"%s\"\n", indent, o->key, *(const int *)field == 2 ? "2" : "1.1");
      continue;
    case T_SPLIT:
      bw_buf_printf(b, "%s%s: %s\n", indent, o->key, *(const bool *)field ? "ranges" : "whole");
      continue;
    case T_ENGINE: {
      static const char *const names[] = {"auto", "lean", "curl"};
      bw_buf_printf(b, "%s%s: %s\n", indent, o->key, names[*(const enum bw_engine *)field]);
      continue;
    }
    case T_DETECT: {
      /* a test's detect is only ever dumped from its test: its figures are the ones its kind
       * measures, so that the dump reads back (a test's own list may not name others) */
      const struct bw_test *t = base;
      struct bw_detect d = *(const struct bw_detect *)(const void *)field;
      uint32_t keep = BW_FIGURE_AVAILABILITY;
      for (const struct bw_metric *m = bw_metrics; m->name; m++)
        if (m->kinds & (1u << t->kind))
          keep |= UINT32_C(1) << (m - bw_metrics);
      if (d.figures)
        d.figures &= keep; /* never empty: check_figures() refused a list with nothing here */
      char deeper[32];
      (void)snprintf(deeper, sizeof(deeper), "%s  ", indent);
      bw_buf_printf(b, "%s%s:\n", indent, o->key);
      dump_opts(b, detect_opts, &d, deeper, 0);
      continue;
    }
    case T_BOOL:
      bw_buf_printf(b, "%s%s: %s\n", indent, o->key, *(const bool *)field ? "true" : "false");
      continue;
    case T_INT:
      bw_buf_printf(b, "%s%s: %" PRId64 "\n", indent, o->key, *(const int64_t *)(const void *)field);
      continue;
    case T_FACTOR:
      bw_buf_printf(b, "%s%s: %g\n", indent, o->key, *(const double *)(const void *)field);
      continue;
    case T_DURATION:
    case T_SIZE:
      fmt_value(o, *(const int64_t *)(const void *)field, tmp, sizeof(tmp));
      bw_buf_printf(b, "%s%s: %s\n", indent, o->key, tmp);
      continue;
    case T_TIME: {
      int m = *(const int *)(const void *)field;
      bw_buf_printf(b, "%s%s: \"%02d:%02d\"\n", indent, o->key, m / 60, m % 60);
      continue;
    }
    case T_URL:
    case T_MAIL_URL: {
      /* Shown, so without a password: the dump still parses, with "***" in its place. */
      const char *s = *(char *const *)(const void *)field;
      if (!s)
        continue;
      char *safe = bw_url_redact(s);
      bw_buf_printf(b, "%s%s: ", indent, o->key);
      sb_quoted(b, safe);
      bw_buf_printf(b, "\n");
      free(safe);
      continue;
    }
    default: {
      const char *s = *(char *const *)(const void *)field;
      if (!s)
        continue;
      bw_buf_printf(b, "%s%s: ", indent, o->key);
      sb_quoted(b, s);
      bw_buf_printf(b, "\n");
      continue;
    }
    }
  }
}

/* The flags of the keys a kind does not take, for dump_opts() to leave out. */
static unsigned skip_for(enum bw_kind kind) {
  unsigned skip = 0;
  for (unsigned c = 1; c <= BW_KEYS_HTTP; c <<= 1)
    if (!bw_kind_takes(kind, c))
      skip |= c << 2;
  return skip;
}

char *bw_config_dump(const struct bw_config *cfg) {
  struct bw_buf b = {NULL, 0, 0};
  bw_buf_printf(&b, "# %s, fully resolved: every default applied\n", cfg->path);
  bw_buf_printf(&b, "database: ");
  sb_quoted(&b, cfg->database);
  bw_buf_printf(&b, "\nmax_parallel: %" PRId64, cfg->max_parallel);
  bw_buf_printf(&b, "\ndetect:\n");
  dump_opts(&b, detect_opts, &cfg->detect, "  ", 0);
  if (cfg->report.enabled) {
    bw_buf_printf(&b, "report:\n");
    dump_opts(&b, report_opts, &cfg->report, "  ", 0);
  }
  if (cfg->metrics.listen) {
    bw_buf_printf(&b, "metrics:\n");
    dump_opts(&b, metrics_opts, &cfg->metrics, "  ", 0);
  }
  bw_buf_printf(&b, "retention:\n");
  dump_opts(&b, retention_opts, &cfg->retention, "  ", 0);
  bw_buf_printf(&b, "tests:\n");
  for (size_t i = 0; i < cfg->n_tests; i++) {
    const struct bw_test *t = &cfg->tests[i];
    struct bw_buf one = {NULL, 0, 0};
    dump_opts(&one, test_opts, t, "    ", skip_for(t->kind));
    /* The first key of a list item goes after "  - ". */
    bw_buf_printf(&b, "  - %s", one.s + 4);
    free(one.s);
  }
  return bw_buf_take(&b);
}

void bw_config_default_detect(struct bw_detect *ret) {
  struct bw_errs errs = {0};
  memset(ret, 0, sizeof(*ret));
  apply_builtin(detect_opts, ret, &errs);
  bw_errs_clear(&errs); /* the built-in defaults parse: the unit tests make sure */
}
