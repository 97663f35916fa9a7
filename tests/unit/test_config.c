/*
 * Config: the example, defaults merging, every broken file in tests/conf/bad/ (each carries its
 * expected messages as "# expect: LINE:COL: ..." lines), file-level errors, and the dump.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bw_config.h"
#include "bw_sweep.h"
#include "bw_detect.h"
#include "bw_file.h"

#define S INT64_C(1000000)

static char *path_in(const char *env, const char *rel) {
  const char *base = getenv(env);
  assert_non_null(base);
  return bw_xasprintf("%s/%s", base, rel);
}

static struct bw_config *parse_str(const char *text, struct bw_errs *errs) {
  return bw_config_parse("t.yaml", text, strlen(text), errs);
}

static struct bw_config *load(const char *path, struct bw_errs *errs) {
  char *buf;
  size_t len;
  if (bw_file_read(path, 1 << 22, &buf, &len, errs) < 0)
    return NULL;
  struct bw_config *cfg = bw_config_parse(path, buf, len, errs);
  free(buf);
  return cfg;
}

static void example_config(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  char *path = path_in("BW_SOURCE_DIR", "conf/benchwatch.yaml");
  struct bw_config *cfg = load(path, &errs);
  for (size_t i = 0; i < errs.n; i++)
    print_error("%s\n", errs.msg[i]);
  assert_non_null(cfg);
  assert_int_equal(errs.n, 0);
  assert_string_equal(cfg->database, "/var/lib/benchwatch/benchwatch.db");
  assert_int_equal(cfg->n_tests, 3);
  assert_int_equal(cfg->max_parallel, 4);

  const struct bw_test *home = bw_config_find_test(cfg, "portal-home");
  assert_non_null(home);
  assert_int_equal(home->kind, BW_KIND_PAGE);
  assert_int_equal(home->requests, 20);
  assert_int_equal(home->offset_us, 5 * 60 * S); /* from defaults: */
  assert_int_equal(home->n_headers, 1);
  assert_string_equal(home->headers[0], "Accept-Language: en");

  const struct bw_test *mirror = bw_config_find_test(cfg, "portal-mirror");
  assert_true(mirror->keepalive);
  assert_string_equal(mirror->method, "HEAD");

  const struct bw_test *big = bw_config_find_test(cfg, "big-tarball");
  assert_int_equal(big->kind, BW_KIND_DOWNLOAD);
  assert_int_equal(big->n_backends, 3);
  assert_string_equal(big->backends[2], "node-3:8088");
  assert_int_equal(big->max_bytes, INT64_C(2) << 30);
  assert_int_equal(big->offset_us, 20 * 60 * S); /* its own value beats defaults: */
  assert_int_equal(big->timeout_us, 30 * S);
  /* Its position is where the file has it. */
  {
    char *buf, *at;
    size_t len;
    int line = 1;
    assert_int_equal(bw_file_read(path, 1 << 22, &buf, &len, &errs), 0);
    at = strstr(buf, "  - name: big-tarball");
    assert_non_null(at);
    for (const char *p = buf; p < at; p++)
      line += *p == '\n';
    assert_int_equal(big->line, line);
    free(buf);
  }
  assert_int_equal(big->column, 5);

  assert_int_equal(cfg->detect.window_us, 7 * 86400 * S);
  /* A test's own detect: overrides the global one key by key. */
  assert_true(big->detect.throughput_factor == 0.5);
  assert_true(big->detect.latency_factor == cfg->detect.latency_factor);
  assert_int_equal(big->detect.min_runs, cfg->detect.min_runs);
  assert_true(home->detect.throughput_factor == 0.67);
  assert_true(cfg->report.enabled);
  assert_int_equal(cfg->report.at_minutes, 6 * 60 + 30);
  assert_int_equal(cfg->report.n_to, 1);
  assert_string_equal(cfg->metrics.listen, "127.0.0.1:9469");
  assert_null(bw_config_find_test(cfg, "nope"));

  /* Every key the resolved config has is documented in the example. */
  char *buf, *dump = bw_config_dump(cfg);
  size_t len;
  assert_int_equal(bw_file_read(path, 1 << 22, &buf, &len, &errs), 0);
  for (char *line = strtok(dump, "\n"); line; line = strtok(NULL, "\n")) {
    char *key = line + strspn(line, " -");
    char *colon = strchr(key, ':');
    if (*key == '#' || !colon)
      continue;
    char *want = bw_xasprintf("%.*s:", (int)(colon - key + 0), key);
    if (!strstr(buf, want))
      fail_msg("key %s is not documented in conf/benchwatch.yaml", want);
    free(want);
  }
  free(buf);
  free(dump);
  bw_config_free(cfg);
  free(path);
}

static void builtin_defaults(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  struct bw_config *cfg = parse_str("tests:\n"
                                    "  - {name: p, kind: page, url: 'http://127.0.0.1/'}\n"
                                    "  - {name: d, kind: download, url: 'https://[::1]:8443/f'}\n",
                                    &errs);
  assert_non_null(cfg);
  const struct bw_test *p = &cfg->tests[0], *d = &cfg->tests[1];
  assert_int_equal(p->requests, 20);
  assert_int_equal(p->concurrency, 1);
  assert_false(p->keepalive);
  assert_string_equal(p->method, "GET");
  assert_int_equal(p->timeout_us, 60 * S);
  assert_true(p->tls_verify);
  assert_int_equal(p->every_us, 3600 * S);
  assert_int_equal(p->offset_us, 0);
  assert_int_equal(p->jitter_us, 30 * S);
  assert_int_equal(p->n_backends, 0);
  assert_int_equal(d->max_time_us, 600 * S);
  assert_int_equal(d->max_bytes, 0);
  assert_int_equal(cfg->detect.min_runs, 24);
  assert_true(cfg->detect.latency_factor == 1.5);
  assert_true(cfg->detect.throughput_factor == 0.67);
  assert_int_equal(cfg->detect.open_after, 3);
  assert_int_equal(cfg->detect.close_after, 3);
  assert_false(cfg->report.enabled);
  assert_null(cfg->metrics.listen);
  assert_int_equal(cfg->metrics.max_connections, 64);
  assert_int_equal(cfg->metrics.timeout_us, 10 * S);
  assert_string_equal(cfg->database, "/var/lib/benchwatch/benchwatch.db");
  bw_config_free(cfg);
}

/* built-in < defaults: < the test itself, key by key, and list values are replaced, not merged. */
static void defaults_merge(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  struct bw_config *cfg = parse_str("database: data/bw.db\n"
                                    "defaults:\n"
                                    "  timeout: 5s\n"
                                    "  every: 2m\n"
                                    "  jitter: 0\n"
                                    "  headers: ['X-A: 1']\n"
                                    "tests:\n"
                                    "  - {name: a, kind: page, url: 'http://h/', timeout: 250ms,\n"
                                    "     headers: ['X-B: 2', 'X-C: 3']}\n"
                                    "  - {name: b, kind: page, url: 'http://h/'}\n",
                                    &errs);
  assert_non_null(cfg);
  assert_int_equal(cfg->tests[0].timeout_us, 250000);
  assert_int_equal(cfg->tests[1].timeout_us, 5 * S);
  assert_int_equal(cfg->tests[0].every_us, 120 * S);
  assert_int_equal(cfg->tests[0].jitter_us, 0);
  assert_int_equal(cfg->tests[0].n_headers, 2);
  assert_string_equal(cfg->tests[0].headers[1], "X-C: 3");
  assert_int_equal(cfg->tests[1].n_headers, 1);
  assert_string_equal(cfg->tests[1].headers[0], "X-A: 1");
  assert_int_equal(cfg->tests[1].requests, 20);
  /* A relative database is relative to the config file's directory ("t.yaml": none). */
  assert_string_equal(cfg->database, "data/bw.db");
  bw_config_free(cfg);

  const char *text = "database: bw.db\ntests: [{name: a, kind: page, url: 'http://h/'}]\n";
  cfg = bw_config_parse("/etc/benchwatch/x.yaml", text, strlen(text), &errs);
  assert_non_null(cfg);
  assert_string_equal(cfg->database, "/etc/benchwatch/bw.db");
  bw_config_free(cfg);
  assert_int_equal(errs.n, 0);
}

/* Reads the "# expect:" lines of a bad config and checks they are exactly the errors reported. */
static void check_bad_file(const char *dir, const char *file) {
  struct bw_errs errs = {0};
  char *path = bw_xasprintf("%s/%s", dir, file);
  char *buf;
  size_t len, n_expect = 0;
  assert_int_equal(bw_file_read(path, 1 << 20, &buf, &len, &errs), 0);
  struct bw_config *cfg = bw_config_parse(path, buf, len, &errs);
  if (cfg)
    fail_msg("%s: accepted, but it is broken", file);
  for (char *line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    char *end = strchr(line, '\n');
    char *want = NULL;
    size_t l = end ? (size_t)(end - line) : strlen(line);
    if (strncmp(line, "# expect: ", 10) == 0)
      want = bw_xasprintf("%s:%.*s", path, (int)(l - 10), line + 10);
    else if (strncmp(line, "# expect-file: ", 15) == 0)
      want = bw_xasprintf("%s: %.*s", path, (int)(l - 15), line + 15);
    if (!want)
      continue;
    n_expect++;
    bool found = false;
    for (size_t i = 0; i < errs.n; i++)
      found = found || strcmp(errs.msg[i], want) == 0;
    if (!found) {
      for (size_t i = 0; i < errs.n; i++)
        print_error("  got: %s\n", errs.msg[i]);
      fail_msg("%s: expected the message\n  %s", file, want);
    }
    free(want);
  }
  if (strcmp(file, "empty.yaml") == 0) {
    char *want = bw_xasprintf("%s: the file is empty; expected a mapping with a \"tests\" list", path);
    assert_string_equal(errs.msg[0], want);
    free(want);
    n_expect++;
  }
  if (n_expect == 0)
    fail_msg("%s: has no '# expect:' line", file);
  if (errs.n != n_expect) {
    for (size_t i = 0; i < errs.n; i++)
      print_error("  got: %s\n", errs.msg[i]);
    fail_msg("%s: %zu messages, expected %zu", file, errs.n, n_expect);
  }
  bw_errs_clear(&errs);
  free(buf);
  free(path);
}

static void bad_configs(void **state) {
  (void)state;
  char *dir = path_in("BW_TEST_DATA", "conf/bad");
  DIR *d = opendir(dir);
  struct dirent *e;
  size_t n = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l > 5 && strcmp(e->d_name + l - 5, ".yaml") == 0) {
      check_bad_file(dir, e->d_name);
      n++;
    }
  }
  (void)closedir(d);
  free(dir);
  assert_true(n >= 20);
}

static void file_errors(void **state) {
  struct bw_errs errs = {0};
  char *buf;
  size_t len;
  (void)state;
  assert_int_equal(bw_file_read("/nonexistent/benchwatch.yaml", 1 << 20, &buf, &len, &errs),
                   -ENOENT);
  assert_string_equal(errs.msg[0], "/nonexistent/benchwatch.yaml: no such file");
  bw_errs_clear(&errs);
  assert_int_equal(bw_file_read("/tmp", 1 << 20, &buf, &len, &errs), -EISDIR);
  assert_string_equal(errs.msg[0], "/tmp: is a directory, not a file");
  bw_errs_clear(&errs);
  assert_int_equal(bw_file_read("/proc/self/status", 10, &buf, &len, &errs), -EFBIG);
  assert_string_equal(errs.msg[0], "/proc/self/status: larger than 10 bytes");
  bw_errs_clear(&errs);
}

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  assert_int_equal(fputs(text, f) >= 0, 1);
  assert_int_equal(fclose(f), 0);
  assert_int_equal(chmod(path, mode), 0);
}

/* A secret file others may read is refused by name, mode and fix; a bare name is a credential. */
static void secret_files(void **state) {
  struct bw_errs errs = {0};
  char dir[] = "/tmp/bw-test-secret-XXXXXX";
  char *buf = NULL;
  size_t len;
  (void)state;
  assert_non_null(mkdtemp(dir));
  char *pw = bw_xasprintf("%s/pw", dir);
  write_file(pw, "hunter2\n", 0644);
  assert_int_equal(bw_file_read_private(pw, 100, &buf, &len, &errs), -EPERM);
  assert_null(buf);
  char *want = bw_xasprintf("%s: mode 0644 lets its group and everyone read it; a file holding a "
                            "secret must be readable by its owner only: chmod 600 %s",
                            pw, pw);
  assert_int_equal(errs.n, 1);
  assert_string_equal(errs.msg[0], want);
  assert_int_equal(bw_file_check_private(pw, &errs), -EPERM);
  assert_string_equal(errs.msg[1], want);
  free(want);
  bw_errs_clear(&errs);
  assert_int_equal(chmod(pw, 0640), 0);
  assert_int_equal(bw_file_check_private(pw, &errs), -EPERM);
  assert_non_null(strstr(errs.msg[0], ": mode 0640 lets its group read it;"));
  bw_errs_clear(&errs);
  assert_int_equal(chmod(pw, 0604), 0);
  assert_int_equal(bw_file_check_private(pw, &errs), -EPERM);
  assert_non_null(strstr(errs.msg[0], ": mode 0604 lets everyone read it;"));
  bw_errs_clear(&errs);
  /* Private (write bits for others do not leak it), or absent: fine. */
  assert_int_equal(chmod(pw, 0620), 0);
  assert_int_equal(bw_file_read_private(pw, 100, &buf, &len, &errs), 0);
  assert_string_equal(buf, "hunter2\n");
  free(buf);
  char *missing = bw_xasprintf("%s/missing", dir);
  assert_int_equal(bw_file_check_private(missing, &errs), 0);
  assert_int_equal(errs.n, 0);

  /* The config names the file: load refuses it while others can read it. */
  char *cfg_path = bw_xasprintf("%s/c.yaml", dir);
  char *text = bw_xasprintf("tests: [{name: a, kind: page, url: \"http://h/\"}]\n"
                            "report: {to: [a@b.c], username: u, password_file: %s}\n",
                            pw);
  write_file(cfg_path, text, 0644);
  assert_int_equal(chmod(pw, 0644), 0);
  struct bw_config *cfg = bw_config_load(cfg_path, &errs);
  assert_null(cfg);
  assert_int_equal(errs.n, 1);
  char *prefix = bw_xasprintf("%s: report.password_file: %s: mode 0644", cfg_path, pw);
  assert_memory_equal(errs.msg[0], prefix, strlen(prefix));
  free(prefix);
  bw_errs_clear(&errs);
  assert_int_equal(chmod(pw, 0600), 0);
  cfg = bw_config_load(cfg_path, &errs);
  assert_non_null(cfg);
  bw_config_free(cfg);

  /* Credentials: a bare name under $CREDENTIALS_DIRECTORY, a path as it is. */
  assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);
  char *p = bw_file_secret_path("smtp-password");
  assert_string_equal(p, "smtp-password");
  free(p);
  assert_int_equal(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
  p = bw_file_secret_path("smtp-password");
  char *cred = bw_xasprintf("%s/smtp-password", dir);
  assert_string_equal(p, cred);
  free(p);
  p = bw_file_secret_path("/etc/benchwatch/smtp-password");
  assert_string_equal(p, "/etc/benchwatch/smtp-password");
  free(p);
  p = bw_file_secret_path("./smtp-password");
  assert_string_equal(p, "./smtp-password");
  free(p);
  /* ... and load checks the credential, not a file of that name elsewhere. */
  free(text);
  text = bw_xasprintf("tests: [{name: a, kind: page, url: \"http://h/\"}]\n"
                      "report: {to: [a@b.c], username: u, password_file: smtp-password}\n");
  write_file(cfg_path, text, 0644);
  write_file(cred, "hunter2\n", 0640);
  cfg = bw_config_load(cfg_path, &errs);
  assert_null(cfg);
  assert_int_equal(errs.n, 1);
  assert_non_null(strstr(errs.msg[0], cred));
  bw_errs_clear(&errs);
  assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);

  (void)unlink(cred);
  (void)unlink(cfg_path);
  (void)unlink(pw);
  (void)rmdir(dir);
  free(cred);
  free(text);
  free(cfg_path);
  free(missing);
  free(pw);
}

/* A byte-order mark is accepted and invisible; a blank file with one is still empty. */
static void byte_order_mark(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  struct bw_config *cfg =
      parse_str("\xef\xbb\xbftests: [{name: a, kind: page, url: 'http://h/'}]\n", &errs);
  assert_non_null(cfg);
  assert_int_equal(errs.n, 0);
  assert_string_equal(cfg->tests[0].name, "a");
  bw_config_free(cfg);
  assert_null(parse_str("\xef\xbb\xbf \n", &errs));
  assert_string_equal(errs.msg[0],
                      "t.yaml: the file is empty; expected a mapping with a \"tests\" list");
  bw_errs_clear(&errs);
  assert_null(parse_str("\xef\xbb\xbf\xff", &errs));
  assert_string_equal(errs.msg[0],
                      "t.yaml:1:1: not valid UTF-8 (byte 0xff); save the file as UTF-8");
  bw_errs_clear(&errs);
}

/* Any depth of nesting is answered at once, at the first level too deep. */
static void deep_nesting(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  size_t depth = 100000;
  struct bw_buf b = {0};
  bw_buf_printf(&b, "tests:\n  - ");
  for (size_t i = 0; i < depth; i++)
    bw_buf_add(&b, "{a: ", 4);
  bw_buf_add(&b, "1", 1);
  for (size_t i = 0; i < depth; i++)
    bw_buf_add(&b, "}", 1);
  assert_null(bw_config_parse("deep.yaml", b.s, b.len, &errs));
  assert_int_equal(errs.n, 1);
  /* Levels 1 and 2 are the file and tests; level 65 is the 63rd "{", at column 5 + 62 * 4. */
  assert_string_equal(errs.msg[0], "deep.yaml:2:253: nested more than 64 levels deep (lists and "
                                   "mappings within each other); a benchwatch config needs 4");
  bw_errs_clear(&errs);
  free(b.s);
  /* 64 levels are allowed as far as nesting goes: the message is about the content. */
  b = (struct bw_buf){0};
  bw_buf_printf(&b, "tests: ");
  for (size_t i = 0; i < 63; i++)
    bw_buf_add(&b, "[", 1);
  for (size_t i = 0; i < 63; i++)
    bw_buf_add(&b, "]", 1);
  assert_null(bw_config_parse("deep.yaml", b.s, b.len, &errs));
  assert_null(strstr(errs.msg[0], "nested"));
  bw_errs_clear(&errs);
  free(b.s);
}

/* The parser reads only len bytes: no NUL terminator needed, nothing past the end read. */
static void buffer_bounds(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  const char *text = "tests: [{name: a, kind: page, url: 'http://h/'}]\nGARBAGE";
  size_t len = strlen(text) - strlen("GARBAGE");
  char *exact = bw_xmalloc(len);
  memcpy(exact, text, len);
  struct bw_config *cfg = bw_config_parse("t.yaml", exact, len, &errs);
  assert_non_null(cfg);
  bw_config_free(cfg);
  free(exact);
  /* An embedded NUL is reported, not silently truncated at. */
  cfg = bw_config_parse("t.yaml", "tests: []\0x", 11, &errs);
  assert_null(cfg);
  assert_string_equal(errs.msg[0], "t.yaml:1:10: the file contains a NUL byte; is it a text file?");
  bw_errs_clear(&errs);
}

/* --print output is a config that parses to the same thing. */
static void dump_round_trip(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  char *path = path_in("BW_SOURCE_DIR", "conf/benchwatch.yaml");
  struct bw_config *cfg = load(path, &errs);
  assert_non_null(cfg);
  char *one = bw_config_dump(cfg);
  struct bw_config *again = bw_config_parse(path, one, strlen(one), &errs);
  for (size_t i = 0; i < errs.n; i++)
    print_error("%s\n", errs.msg[i]);
  assert_non_null(again);
  char *two = bw_config_dump(again);
  assert_string_equal(one, two);
  free(one);
  free(two);
  bw_config_free(again);
  bw_config_free(cfg);
  free(path);
}

/*
 * Damaged input never crashes or leaks (the sanitizer build checks): every single-byte change
 * and every truncation of the example is either accepted or rejected with at least one message
 * in FILE:LINE:COL or FILE: form.
 */
static void damaged_input(void **state) {
  struct bw_errs errs = {0};
  char *buf;
  size_t len;
  static const char subst[] = {'\0', ':', '-', '[', '{', '"', '\'', '&', '*', '\n', ' ', '\xff'};
  (void)state;
  char *path = path_in("BW_SOURCE_DIR", "conf/benchwatch.yaml");
  assert_int_equal(bw_file_read(path, 1 << 22, &buf, &len, &errs), 0);
  char *copy = bw_xmalloc(len);
  for (size_t i = 0; i < len; i += 7) {
    for (size_t k = 0; k < sizeof(subst); k++) {
      memcpy(copy, buf, len);
      copy[i] = subst[k];
      struct bw_config *cfg = bw_config_parse("x.yaml", copy, len, &errs);
      if (!cfg) {
        assert_true(errs.n > 0);
        assert_memory_equal(errs.msg[0], "x.yaml:", 7);
      }
      bw_config_free(cfg);
      bw_errs_clear(&errs);
    }
    struct bw_config *cfg = bw_config_parse("x.yaml", buf, i, &errs);
    bw_config_free(cfg);
    bw_errs_clear(&errs);
  }
  free(copy);
  free(buf);
  free(path);
}

/* detect.figures: names to bits; the global list may mix kinds; a dump reads back the same. */
static void detect_figures(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  struct bw_config *cfg =
      parse_str("detect: {figures: [p99_us, rate_bps, availability], false_alarm_every: 30d}\n"
                "tests:\n"
                "  - {name: a, kind: page, url: \"http://h/\"}\n"
                "  - {name: b, kind: page, url: \"http://h/\", detect: {figures: [failed]}}\n"
                "  - {name: c, kind: download, url: \"http://h/c\"}\n",
                &errs);
  assert_non_null(cfg);
  uint32_t p99 = UINT32_C(1) << (bw_detect_metric_find("p99_us") - bw_metrics);
  uint32_t rate = UINT32_C(1) << (bw_detect_metric_find("rate_bps") - bw_metrics);
  uint32_t failed = UINT32_C(1) << (bw_detect_metric_find("failed") - bw_metrics);
  assert_int_equal(cfg->tests[0].detect.figures, p99 | rate | BW_FIGURE_AVAILABILITY);
  assert_int_equal(cfg->tests[1].detect.figures, failed);
  assert_int_equal(bw_detect_figures(&cfg->tests[2].detect, BW_KIND_DOWNLOAD),
                   p99 | rate | BW_FIGURE_AVAILABILITY);
  assert_int_equal(cfg->tests[0].detect.false_alarm_us, 30 * 86400 * INT64_C(1000000));
  /* no list: the kind's headline and availability */
  struct bw_detect d;
  bw_config_default_detect(&d);
  assert_int_equal(bw_detect_figures(&d, BW_KIND_PAGE),
                   (UINT32_C(1) << (bw_detect_metric(BW_KIND_PAGE) - bw_metrics)) |
                       BW_FIGURE_AVAILABILITY);
  char *dump = bw_config_dump(cfg);
  assert_non_null(strstr(dump, "figures: [rate_bps, p99_us, availability]"));
  assert_non_null(strstr(dump, "figures: [failed]"));
  struct bw_config *again = parse_str(dump, &errs);
  assert_non_null(again);
  assert_int_equal(again->tests[1].detect.figures, failed);
  bw_config_free(again);
  free(dump);
  bw_config_free(cfg);
  bw_errs_clear(&errs);
}

static void anchors_and_odd_shapes(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  /* Anchors and aliases are YAML: a shared defaults block reads as if written out. */
  struct bw_config *cfg = parse_str("tests:\n"
                                    "  - &a {name: a, kind: page, url: 'http://h/', requests: 7}\n"
                                    "  - {name: b, kind: page, url: 'http://h/', requests: 8}\n",
                                    &errs);
  assert_non_null(cfg);
  assert_int_equal(cfg->tests[0].requests, 7);
  bw_config_free(cfg);
  /* Shapes that are not what a key wants. */
  cfg = parse_str("tests: {name: a}\n", &errs);
  assert_null(cfg);
  assert_string_equal(errs.msg[0], "t.yaml:1:8: tests: expected a list of tests, got a mapping");
  bw_errs_clear(&errs);
  cfg = parse_str("tests: []\n", &errs);
  assert_null(cfg);
  assert_string_equal(errs.msg[0],
                      "t.yaml:1:8: tests: the list is empty; configure at least one test");
  bw_errs_clear(&errs);
  cfg = parse_str("tests:\n  - {name: [a], kind: page, url: 'http://h/'}\n", &errs);
  assert_null(cfg);
  assert_string_equal(errs.msg[0], "t.yaml:2:12: tests[0].name: expected a single value, got a list");
  bw_errs_clear(&errs);
  cfg = parse_str("tests:\n  - {name: a, kind: page, url: 'http://h/', requests: 99999999999999999999}\n",
                  &errs);
  assert_null(cfg);
  assert_string_equal(errs.msg[0],
                      "t.yaml:2:55: tests[0].requests: \"99999999999999999999\" is too large");
  bw_errs_clear(&errs);
  cfg = parse_str("tests:\n  - {name: 'a b', kind: page, url: 'http://h/'}\n", &errs);
  assert_null(cfg);
  assert_string_equal(errs.msg[0], "t.yaml:2:12: tests[0].name: expected a name of 1 to 64 letters, "
                                   "digits, '.', '_' or '-', got \"a b\"");
  bw_errs_clear(&errs);
}

/*
 * A section with nothing under it is an empty mapping: its required keys are still missing. A "-"
 * alone in tests: was once a test with no name, kind or URL (found by tests/fuzz/fuzz_config).
 */
/* Methods, bodies, expect and proxy: parsed, inherited, and dumped so that the dump reads back. */
static void requests(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  static const char text[] =
      "defaults: {method: POST, body: \"a\\0b\\n\", content_type: text/plain}\n"
      "tests:\n"
      "  - {name: p, kind: page, url: \"http://x.test/\", expect: {status: [200, 204],"
      " body_contains: ok}, proxy: \"http://u:pw@proxy.test:3128\"}\n"
      "  - {name: purge, kind: page, url: \"http://x.test/\", method: PURGE}\n"
      "  - {name: d, kind: download, url: \"http://x.test/\", method: GET}\n";
  struct bw_config *cfg = parse_str(text, &errs);
  for (size_t i = 0; i < errs.n; i++)
    print_error("%s\n", errs.msg[i]);
  assert_non_null(cfg);
  const struct bw_test *t = &cfg->tests[0];
  assert_string_equal(t->method, "POST");
  assert_int_equal(t->body_len, 4);
  assert_memory_equal(t->body, "a\0b\n", 4);
  assert_string_equal(t->content_type, "text/plain");
  assert_int_equal(t->expect.n_status, 2);
  assert_string_equal(t->expect.status[1], "204");
  assert_string_equal(t->expect.body_contains, "ok");
  assert_string_equal(t->proxy, "http://u:pw@proxy.test:3128");
  assert_string_equal(cfg->tests[1].method, "PURGE");
  assert_true(bw_method_has_body("PATCH"));
  assert_false(bw_method_has_body("PURGE"));
  char *one = bw_config_dump(cfg);
  assert_non_null(strstr(one, "body: \"a\\x00b\\x0a\""));
  assert_null(strstr(one, "pw@")); /* the dump shows the proxy without its password */
  struct bw_config *again = parse_str(one, &errs);
  for (size_t i = 0; i < errs.n; i++)
    print_error("%s\n", errs.msg[i]);
  assert_non_null(again);
  assert_memory_equal(again->tests[0].body, "a\0b\n", 4);
  char *two = bw_config_dump(again);
  assert_string_equal(one, two);
  free(one);
  free(two);
  bw_config_free(again);
  bw_config_free(cfg);
  bw_errs_clear(&errs);
}

static void empty_sections(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  struct bw_config *cfg = parse_str("tests:\n  -\n", &errs);
  assert_null(cfg);
  assert_int_equal(errs.n, 3);
  assert_string_equal(errs.msg[0], "t.yaml:2:4: tests[0]: missing required key \"name\"");
  assert_string_equal(errs.msg[1], "t.yaml:2:4: tests[0]: missing required key \"kind\"");
  assert_string_equal(errs.msg[2], "t.yaml:2:4: tests[0]: missing required key \"url\"");
  bw_errs_clear(&errs);
  cfg = parse_str("report:\ntests: [{name: a, kind: page, url: 'http://h/'}]\n", &errs);
  assert_null(cfg);
  assert_int_equal(errs.n, 1);
  assert_string_equal(errs.msg[0], "t.yaml:1:8: report: missing required key \"to\"");
  bw_errs_clear(&errs);
  /* Sections without required keys stay optional when empty. */
  cfg = parse_str(
      "detect:\ndefaults:\nmetrics:\ntests: [{name: a, kind: page, url: 'http://h/'}]\n", &errs);
  assert_non_null(cfg);
  assert_int_equal(errs.n, 0);
  assert_int_equal(cfg->n_tests, 1);
  assert_null(cfg->metrics.listen);
  bw_config_free(cfg);
}

/* A sweep: its lists as given, a single requests for every step, the dump reading back. */
static void sweep_config(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  struct bw_config *cfg = parse_str("tests:\n"
                                    "  - {name: a, kind: page, url: 'http://h/', requests: 10,\n"
                                    "     sweep: {concurrency: [1, 4, 16], requests: 400}}\n"
                                    "  - {name: b, kind: page, url: 'http://h/',\n"
                                    "     sweep: {requests: [100, 1000]}}\n",
                                    &errs);
  for (size_t i = 0; i < errs.n; i++)
    print_error("%s\n", errs.msg[i]);
  assert_non_null(cfg);
  const struct bw_test *a = &cfg->tests[0];
  assert_int_equal(bw_sweep_steps(a), 3);
  assert_int_equal(a->n_sweep_requests, 1);
  int64_t c, n;
  bw_sweep_step_values(a, 2, &c, &n);
  assert_int_equal(c, 16);
  assert_int_equal(n, 400);
  assert_int_equal(bw_sweep_steps(&cfg->tests[1]), 2);
  bw_sweep_step_values(&cfg->tests[1], 1, &c, &n);
  assert_int_equal(c, 1);
  assert_int_equal(n, 1000);
  /* A step's name finds its sweep, whose settings it runs and is judged with. */
  assert_ptr_equal(bw_config_find_test(cfg, "a@c4"), a);
  assert_ptr_equal(bw_config_find_test(cfg, "b@n1000"), &cfg->tests[1]);
  assert_null(bw_config_find_test(cfg, "c@c4"));
  char *one = bw_config_dump(cfg);
  assert_non_null(strstr(one, "sweep: {concurrency: [1, 4, 16], requests: [400]}"));
  assert_non_null(strstr(one, "sweep: {requests: [100, 1000]}"));
  struct bw_config *again = bw_config_parse("t.yaml", one, strlen(one), &errs);
  assert_non_null(again);
  char *two = bw_config_dump(again);
  assert_string_equal(one, two);
  struct bw_test copy;
  bw_test_copy(&copy, a);
  assert_int_equal(copy.n_sweep_concurrency, 3);
  assert_int_equal(copy.sweep_concurrency[2], 16);
  bw_test_clear(&copy);
  free(one);
  free(two);
  bw_config_free(again);
  bw_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(example_config),
      cmocka_unit_test(builtin_defaults),
      cmocka_unit_test(defaults_merge),
      cmocka_unit_test(bad_configs),
      cmocka_unit_test(file_errors),
      cmocka_unit_test(buffer_bounds),
      cmocka_unit_test(dump_round_trip),
      cmocka_unit_test(damaged_input),
      cmocka_unit_test(anchors_and_odd_shapes),
      cmocka_unit_test(secret_files),
      cmocka_unit_test(byte_order_mark),
      cmocka_unit_test(deep_nesting),
      cmocka_unit_test(detect_figures),
      cmocka_unit_test(empty_sections),
      cmocka_unit_test(sweep_config),
      cmocka_unit_test(requests),
  };
  return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
