#include "bw_json.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_kind.h"

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The run's texts, by the names the store gives their columns. */
static const struct {
  const char *name;
  size_t offset;
} run_texts[] = {
    {"error_class", offsetof(struct bw_run, error_class)},
    {"error_message", offsetof(struct bw_run, error_message)},
    {"remote_ip", offsetof(struct bw_run, remote_ip)},
    {"http_version", offsetof(struct bw_run, http_version)},
    {"tcp_options", offsetof(struct bw_run, tcp_options)},
    {"env", offsetof(struct bw_run, env)},
    {"stream_rates", offsetof(struct bw_run, stream_rates)},
    {"engine", offsetof(struct bw_run, engine)},
};

/* A sample's integers; one with a column bit is written only for the kinds that fill it (their
 * rows' samples, bw_kind.h); 0: every kind's. */
static const struct {
  const char *name;
  size_t offset;
  unsigned col;
} sample_ints[] = {
    {"at_us", offsetof(struct bw_sample, at_us), 0},
    {"duration_us", offsetof(struct bw_sample, duration_us), 0},
    {"bytes", offsetof(struct bw_sample, bytes), 0},
    {"status", offsetof(struct bw_sample, status), BW_COL_STATUS},
    {"dns_us", offsetof(struct bw_sample, dns_us), BW_COL_DNS},
    {"connect_us", offsetof(struct bw_sample, connect_us), BW_COL_CONNECT},
    {"tls_us", offsetof(struct bw_sample, tls_us), BW_COL_TLS},
    {"ttfb_us", offsetof(struct bw_sample, ttfb_us), BW_COL_TTFB},
};

static json_t *must(json_t *j) {
  if (!j)
    abort(); /* jansson fails only when memory does (bw_xmalloc's rule) */
  return j;
}

static void set(json_t *o, const char *key, json_t *value) {
  if (json_object_set_new(o, key, must(value)) < 0)
    abort();
}

json_t *bw_json_time(int64_t us) {
  time_t t = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
  struct tm tm;
  char buf[32];
  if (us == BW_NONE)
    return must(json_null());
  if (!gmtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return must(json_null());
  return must(json_string(buf));
}

json_t *bw_json_int(int64_t v) {
  return must(v == BW_NONE ? json_null() : json_integer((json_int_t)v));
}

json_t *bw_json_real(double v) {
  return must(isnan(v) || isinf(v) ? json_null() : json_real(v));
}

json_t *bw_json_str(const char *s) {
  /* json_string() refuses text that is not UTF-8; curl's messages are, a server's may not be. */
  if (!s)
    return must(json_null());
  json_t *j = json_string(s);
  if (j)
    return j;
  char *copy = bw_xstrdup(s);
  for (char *p = copy; *p; p++)
    if ((unsigned char)*p >= 0x80)
      *p = '?';
  j = must(json_string(copy));
  free(copy);
  return j;
}

static char *text_at(const struct bw_run *run, size_t offset) {
  char *p;
  memcpy(&p, (const char *)run + offset, sizeof(p));
  return p;
}

static int64_t int_at(const void *base, size_t offset) {
  int64_t v;
  memcpy(&v, (const char *)base + offset, sizeof(v));
  return v;
}

json_t *bw_json_run(const struct bw_run *run, int64_t run_id, bool samples) {
  json_t *o = must(json_object());
  if (run_id != BW_NONE)
    set(o, "run_id", bw_json_int(run_id));
  set(o, "test", bw_json_str(run->test));
  set(o, "backend", bw_json_str(run->backend ? run->backend : ""));
  set(o, "kind", bw_json_str(bw_kind_name(run->kind)));
  set(o, "url", bw_json_str(run->url));
  set(o, "time", bw_json_time(run->started_us));
  set(o, "started_us", bw_json_int(run->started_us));
  set(o, "outcome", bw_json_str(bw_outcome_name(run->outcome)));
  for (size_t i = 0; i < N_ELEM(run_texts); i++) {
    const char *s = text_at(run, run_texts[i].offset);
    if (s || strcmp(run_texts[i].name, "env") != 0)
      set(o, run_texts[i].name, bw_json_str(s));
  }
  for (const struct bw_figure *f = bw_run_figures; f->name; f++) {
    double v;
    if (!bw_figure_get(f, run, &v))
      set(o, f->name, json_null());
    else if (f->real)
      set(o, f->name, json_real(v));
    else
      set(o, f->name, json_integer((json_int_t)int_at(run, f->offset)));
  }
  if (!samples)
    return o;
  json_t *list = must(json_array());
  const struct bw_kind_ops *k = bw_kind_ops(run->kind);
  unsigned cols = k ? k->samples : 0;
  for (size_t i = 0; i < run->n_samples; i++) {
    const struct bw_sample *s = &run->samples[i];
    json_t *so = must(json_object());
    for (size_t c = 0; c < N_ELEM(sample_ints); c++)
      if ((cols & sample_ints[c].col) == sample_ints[c].col)
        set(so, sample_ints[c].name, bw_json_int(int_at(s, sample_ints[c].offset)));
    if (cols & BW_COL_ERROR)
      set(so, "error_class", bw_json_str(s->error_class));
    if (json_array_append_new(list, so) < 0)
      abort();
  }
  set(o, "samples", list);
  return o;
}

/* An integer field: absent or null is BW_NONE; anything else but an integer is an error. */
static int get_int(json_t *o, const char *key, int64_t *ret, struct bw_errs *errs) {
  json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v)) {
    *ret = BW_NONE;
    return 0;
  }
  if (!json_is_integer(v)) {
    bw_errs_add(errs, "%s: expected an integer or null", key);
    return -EINVAL;
  }
  *ret = (int64_t)json_integer_value(v);
  return 0;
}

/* A text field: absent or null is NULL; *ret is allocated. */
static int get_text(json_t *o, const char *key, char **ret, struct bw_errs *errs) {
  json_t *v = json_object_get(o, key);
  *ret = NULL;
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_string(v)) {
    bw_errs_add(errs, "%s: expected a string or null", key);
    return -EINVAL;
  }
  *ret = bw_xstrdup(json_string_value(v));
  return 0;
}

int bw_json_to_run(json_t *o, struct bw_run *ret, struct bw_errs *errs) {
  char *kind = NULL, *outcome = NULL;
  int r = 0;
  bw_run_init(ret);
  if (!json_is_object(o)) {
    bw_errs_add(errs, "expected a run record (a JSON object)");
    return -EINVAL;
  }
  r = get_text(o, "test", &ret->test, errs);
  if (r == 0)
    r = get_text(o, "backend", &ret->backend, errs);
  if (r == 0)
    r = get_text(o, "url", &ret->url, errs);
  if (r == 0)
    r = get_text(o, "kind", &kind, errs);
  if (r == 0)
    r = get_text(o, "outcome", &outcome, errs);
  if (r == 0)
    r = get_int(o, "started_us", &ret->started_us, errs);
  if (r < 0)
    goto fail;
  if (!ret->test || !*ret->test || !ret->url) {
    bw_errs_add(errs, "%s: missing", !ret->test || !*ret->test ? "test" : "url");
    goto inval;
  }
  if (!ret->backend)
    ret->backend = bw_xstrdup("");
  if (bw_kind_parse(kind, &ret->kind) < 0) {
    bw_errs_add(errs, "kind: expected %s, got %s", bw_kind_names_text(), kind ? kind : "nothing");
    goto inval;
  }
  if (bw_outcome_parse(outcome, &ret->outcome) < 0) {
    bw_errs_add(errs, "outcome: expected ok, failed, partial or aborted, got %s",
                outcome ? outcome : "nothing");
    goto inval;
  }
  if (ret->started_us == BW_NONE) {
    bw_errs_add(errs, "started_us: missing");
    goto inval;
  }
  for (size_t i = 0; i < N_ELEM(run_texts) && r == 0; i++) {
    char *s;
    r = get_text(o, run_texts[i].name, &s, errs);
    if (r == 0)
      memcpy((char *)ret + run_texts[i].offset, &s, sizeof(s));
  }
  for (const struct bw_figure *f = bw_run_figures; f->name && r == 0; f++) {
    json_t *v = json_object_get(o, f->name);
    if (!v || json_is_null(v)) {
      bw_figure_clear(f, ret);
    } else if (f->real && json_is_number(v)) {
      bw_figure_set(f, ret, json_number_value(v));
    } else if (!f->real && json_is_integer(v)) {
      int64_t x = (int64_t)json_integer_value(v);
      memcpy((char *)ret + f->offset, &x, sizeof(x));
    } else {
      bw_errs_add(errs, "%s: expected %s or null", f->name, f->real ? "a number" : "an integer");
      r = -EINVAL;
    }
  }
  if (r < 0)
    goto fail;
  if (ret->engine && !bw_engine_name(ret->engine)) {
    bw_errs_add(errs, "engine: expected lean, curl or null, got %s", ret->engine);
    goto inval;
  }
  json_t *list = json_object_get(o, "samples");
  if (list && !json_is_null(list) && !json_is_array(list)) {
    bw_errs_add(errs, "samples: expected a list");
    goto inval;
  }
  size_t i;
  json_t *so;
  json_array_foreach(list, i, so) {
    struct bw_sample s;
    char *error_class = NULL;
    bw_sample_init(&s);
    if (!json_is_object(so)) {
      bw_errs_add(errs, "samples[%zu]: expected an object", i);
      goto inval;
    }
    for (size_t c = 0; c < N_ELEM(sample_ints) && r == 0; c++) {
      int64_t x = BW_NONE;
      r = get_int(so, sample_ints[c].name, &x, errs);
      memcpy((char *)&s + sample_ints[c].offset, &x, sizeof(x));
    }
    if (r == 0)
      r = get_text(so, "error_class", &error_class, errs);
    if (r < 0) {
      bw_errs_add(errs, "in samples[%zu]", i);
      goto fail;
    }
    s.error_class = error_class;
    (void)bw_run_add_sample(ret, &s);
    free(error_class);
  }
  free(kind);
  free(outcome);
  return 0;
inval:
  r = -EINVAL;
fail:
  free(kind);
  free(outcome);
  bw_run_reset(ret);
  return r;
}

/* The records being read, and the bad ones counted. */
struct reading {
  const char *name;
  struct bw_run *runs;
  size_t n, cap, bad;
  struct bw_errs *errs;
};

static void bad_record(struct reading *rd, size_t line, const char *why) {
  if (rd->bad++ < BW_JSON_MAX_ERRORS)
    bw_errs_add(rd->errs, "%s:%zu: %s", rd->name, line, why);
}

static void add_record(struct reading *rd, json_t *o, size_t line) {
  struct bw_errs why = {0};
  struct bw_run run;
  if (bw_json_to_run(o, &run, &why) < 0) {
    struct bw_buf b = {0};
    for (size_t i = 0; i < why.n; i++)
      bw_buf_printf(&b, "%s%s", i ? " " : "", why.msg[i]);
    bad_record(rd, line, b.s ? b.s : "not a run record");
    free(b.s);
    bw_errs_clear(&why);
    return;
  }
  bw_xgrow(&rd->runs, &rd->cap, rd->n + 1, sizeof(*rd->runs));
  bw_run_move(&rd->runs[rd->n++], &run);
}

int bw_json_read_runs(const char *name, const char *buf, size_t len, struct bw_run **ret,
                      size_t *ret_n, struct bw_errs *errs) {
  struct reading rd = {.name = name, .errs = errs};
  size_t lead = 0;
  while (lead < len && strchr(" \t\r\n", buf[lead]) && buf[lead])
    lead++;
  if (lead < len && buf[lead] == '[') {
    json_error_t e;
    json_t *all = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e), *o;
    size_t i;
    if (!all)
      bad_record(&rd, (size_t)(e.line > 0 ? e.line : 1), e.text);
    json_array_foreach(all, i, o) add_record(&rd, o, i + 1);
    json_decref(all);
  } else {
    size_t line = 0;
    for (const char *p = buf, *end; p < buf + len; p = end + 1) {
      end = memchr(p, '\n', (size_t)(buf + len - p));
      if (!end)
        end = buf + len;
      line++;
      size_t n = (size_t)(end - p), blank = 0;
      while (blank < n && (p[blank] == ' ' || p[blank] == '\t' || p[blank] == '\r'))
        blank++;
      if (blank == n)
        continue;
      json_error_t e;
      json_t *o = json_loadb(p, n, JSON_REJECT_DUPLICATES, &e);
      if (!o) {
        bad_record(&rd, line, e.text);
        continue;
      }
      add_record(&rd, o, line);
      json_decref(o);
    }
  }
  if (rd.bad == 0 && rd.n == 0)
    bad_record(&rd, 1, "no run records (expected what benchwatch export writes)");
  if (rd.bad > 0) {
    if (rd.bad > BW_JSON_MAX_ERRORS)
      bw_errs_add(errs, "%s: %zu more bad records", name, rd.bad - BW_JSON_MAX_ERRORS);
    for (size_t i = 0; i < rd.n; i++)
      bw_run_reset(&rd.runs[i]);
    free(rd.runs);
    return -EBADMSG;
  }
  *ret = rd.runs;
  *ret_n = rd.n;
  return 0;
}

char *bw_json_take_text(json_t *j, bool pretty) {
  /* 17 significant digits: a double read back is the same double. */
  size_t flags = JSON_REAL_PRECISION(17) | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
  char *s = json_dumps(j, flags);
  json_decref(j);
  if (!s)
    abort();
  char *out = bw_xasprintf("%s\n", s);
  free(s);
  return out;
}
