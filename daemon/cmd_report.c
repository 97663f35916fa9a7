/* benchwatch report: the nightly report, now, on stdout (or mailed, with --send). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bw_chart.h"
#include "bw_mail.h"
#include "bw_report.h"
#include "bw_report_mail.h"
#include "bw_smtp.h"
#include "bw_loop.h"
#include "bw_url.h"
#include "cli.h"

/* Mails the report now and says so; 0, or 1 with the one-line reason. */
static int deliver(const struct bw_report *settings, const struct bw_nightly *rep, int64_t now) {
  struct bw_errs errs = {0};
  struct bw_smtp smtp;
  char *password = NULL;
  int r = 1;
  char *message = bw_report_message(settings, rep, now, &errs);
  if (message && bw_report_smtp(settings, message, &smtp, &password, &errs) == 0 &&
      bw_smtp_send_blocking(&smtp, &errs) == 0) {
    char *subject = bw_report_subject(rep);
    char *server = bw_url_redact(settings->smtp);
    (void)printf("sent \"%s\" to %zu recipient%s through %s\n", subject, settings->n_to,
                 settings->n_to == 1 ? "" : "s", server);
    free(server);
    free(subject);
    r = 0;
  }
  for (size_t i = 0; i < errs.n; i++)
    (void)fprintf(stderr, "benchwatch report: %s\n", errs.msg[i]);
  bw_errs_clear(&errs);
  free(password);
  free(message);
  return r;
}

static void report_usage(FILE *f) {
  (void)fprintf(f,
                "usage: benchwatch report [-c CONFIG | --db F] [--since WHEN] [--until WHEN]\n"
                "                         [--format text|html|json | --json] [--send]\n"
                "The nightly report for a period (default: the 24h that end now): what\n"
                "regressed, what recovered, what failed, per target against its baseline.\n"
                "  -s, --since WHEN  a duration back from the end (24h), a date (2026-11-21,\n"
                "                    UTC) or an ISO 8601 time; --until WHEN ends the period\n"
                "  -f, --format F    text (default), html, or json (README \"JSON\")\n"
                "      --send        mail it as the daemon does (report: in the config), do not\n"
                "                    print\n"
                "Exit status: 0, 1 database or mail error, 64 usage, 66 no database, 78 config.\n");
}

static json_t *regressions_json(const struct bw_regression *list, size_t n) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++)
    (void)json_array_append_new(arr, regression_json(&list[i]));
  return arr;
}

/* The report as one JSON object (README "JSON"): the period, each target, the regressions. */
static json_t *report_json(const struct bw_nightly *rep) {
  json_t *o = json_object(), *targets = json_array();
  (void)json_object_set_new(o, "host", bw_json_str(rep->host));
  (void)json_object_set_new(o, "from", bw_json_time(rep->from_us));
  (void)json_object_set_new(o, "from_us", bw_json_int(rep->from_us));
  (void)json_object_set_new(o, "until", bw_json_time(rep->until_us));
  (void)json_object_set_new(o, "until_us", bw_json_int(rep->until_us));
  (void)json_object_set_new(o, "failing", bw_json_int((int64_t)rep->failing));
  (void)json_object_set_new(o, "certs_expiring", bw_json_int((int64_t)rep->certs_expiring));
  for (size_t i = 0; i < rep->n_targets; i++) {
    const struct bw_nightly_target *t = &rep->targets[i];
    json_t *to = json_object(), *errors = json_object();
    (void)json_object_set_new(to, "test", bw_json_str(t->test));
    (void)json_object_set_new(to, "backend", bw_json_str(t->backend));
    (void)json_object_set_new(to, "metric", bw_json_str(t->metric ? t->metric->name : NULL));
    (void)json_object_set_new(to, "runs", bw_json_int((int64_t)t->runs));
    (void)json_object_set_new(to, "failures", bw_json_int((int64_t)t->failures));
    (void)json_object_set_new(to, "median", figure_json(t->metric, t->median));
    (void)json_object_set_new(to, "baseline", figure_json(t->metric, t->baseline));
    (void)json_object_set_new(to, "ratio", bw_json_real(t->ratio));
    (void)json_object_set_new(to, "latest", figure_json(t->metric, t->latest));
    (void)json_object_set_new(to, "latest_ratio", bw_json_real(t->latest_ratio));
    (void)json_object_set_new(to, "open", json_boolean(t->open));
    (void)json_object_set_new(to, "open_what", bw_json_str(t->open_what));
    (void)json_object_set_new(to, "open_since_us",
                              bw_json_int(t->open_what ? t->open_since_us : BW_NONE));
    (void)json_object_set_new(to, "last_failed", json_boolean(t->last_failed));
    for (size_t k = 0; k < t->n_errors; k++)
      (void)json_object_set_new(errors, t->errors[k].error_class ? t->errors[k].error_class : "?",
                                bw_json_int(t->errors[k].count));
    (void)json_object_set_new(to, "errors", errors);
    (void)json_object_set_new(to, "diagnosis", bw_json_str(t->diagnosis));
    (void)json_object_set_new(to, "odd_one_out", bw_json_str(t->odd));
    (void)json_object_set_new(to, "env_change", bw_json_str(t->env_change));
    (void)json_object_set_new(
        to, "cert_expires_us",
        bw_json_int(isnan(t->cert_expires_us) ? BW_NONE : (int64_t)t->cert_expires_us));
    (void)json_array_append_new(targets, to);
  }
  (void)json_object_set_new(o, "targets", targets);
  json_t *sweeps = json_array();
  for (size_t i = 0; i < rep->n_sweeps; i++)
    (void)json_array_append_new(sweeps, bw_sweep_json(&rep->sweeps[i]));
  (void)json_object_set_new(o, "sweeps", sweeps);
  (void)json_object_set_new(o, "opened", regressions_json(rep->opened, rep->n_opened));
  (void)json_object_set_new(o, "open", regressions_json(rep->open, rep->n_open));
  (void)json_object_set_new(o, "closed", regressions_json(rep->closed, rep->n_closed));
  return o;
}

/* The HTML as a page of its own: the charts inside it as data: addresses, nothing fetched. A
 * chart that cannot be drawn is left out; errs says why. */
static char *page(const struct bw_nightly *rep, struct bw_errs *errs) {
  char **src = bw_xcalloc(rep->n_targets + 1, sizeof(*src));
  for (size_t i = 0; i < rep->n_targets; i++) {
    unsigned char *png;
    size_t len;
    if (bw_report_chart(rep, i, &png, &len, errs) < 0)
      continue;
    struct bw_buf b = {0};
    bw_buf_printf(&b, "data:image/png;base64,");
    bw_mail_base64(&b, png, len, 0);
    src[i] = bw_buf_take(&b);
    free(png);
  }
  char *html = bw_report_html(rep, (const char *const *)src);
  for (size_t k = 0; k < rep->n_targets; k++)
    free(src[k]);
  free(src);
  return html;
}

int cmd_report(int argc, char **argv) {
  enum { O_SEND = O_CMD0 };
  static const struct option longopts[] = {
      {"since", required_argument, NULL, 's'},
      {"until", required_argument, NULL, O_UNTIL},
      {"format", required_argument, NULL, 'f'},
      {"json", no_argument, NULL, O_JSON},
      {"send", no_argument, NULL, O_SEND},
      COMMON_LONGOPTS,
      {NULL, 0, NULL, 0},
  };
  const char *db = NULL, *config = NULL, *format = "text", *since_text = NULL;
  int64_t now = bw_wall_us(), since = 0;
  bool send = false;
  int ch;
  while ((ch = getopt_long(argc, argv, "s:f:d:c:C:Vh", longopts, NULL)) != -1) {
    switch (ch) {
    case 's':
      since_text = optarg;
      break;
    case O_UNTIL:
      if (parse_when("--until", optarg, now, &now) < 0)
        return 64;
      break;
    case 'f':
      format = optarg;
      break;
    case O_JSON:
      format = "json";
      break;
    case 'd':
    case O_DB:
      db = optarg;
      break;
    case 'c':
    case 'C':
      config = optarg;
      break;
    case O_SEND:
      send = true;
      break;
    case 'V':
      return print_version();
    case 'h':
      report_usage(stdout);
      return 0;
    default:
      report_usage(stderr);
      return 64;
    }
  }
  bool json = strcmp(format, "json") == 0;
  if (optind != argc || (strcmp(format, "text") != 0 && strcmp(format, "html") != 0 && !json) ||
      (send && json)) {
    report_usage(stderr);
    return 64;
  }
  /* A duration goes back from the period's end, --until's or now. */
  if (parse_when("--since", since_text ? since_text : "24h", now, &since) < 0)
    return 64;
  if (since >= now) {
    (void)fprintf(stderr, "benchwatch report: --since is not before the period's end\n");
    return 64;
  }
  struct bw_store *store = NULL;
  struct bw_config *cfg = NULL;
  int r = open_history(db, config, false, &store, &cfg);
  if (r)
    return r;
  if (send && (!cfg || !cfg->report.enabled)) {
    (void)fprintf(stderr, "benchwatch report --send: the config has no report: section\n");
    bw_config_free(cfg);
    bw_store_close(store);
    return BW_EXIT_CONFIG;
  }
  char host[256] = "localhost";
  (void)gethostname(host, sizeof(host) - 1);
  struct bw_nightly rep;
  struct bw_errs errs = {0};
  if (bw_report_collect(store, cfg, host, since, now, &rep, &errs) < 0) {
    print_errs(&errs);
    r = 1;
  } else if (send) {
    r = deliver(&cfg->report, &rep, now);
    bw_report_free(&rep);
  } else if (json) {
    r = print_json(report_json(&rep));
    bw_report_free(&rep);
  } else {
    char *text = strcmp(format, "html") == 0 ? page(&rep, &errs) : bw_report_text(&rep);
    (void)fputs(text, stdout);
    print_errs(&errs); /* charts left out, if any: said, and the report printed anyway */
    free(text);
    bw_report_free(&rep);
  }
  bw_errs_clear(&errs);
  bw_config_free(cfg);
  bw_store_close(store);
  bw_chart_finish();
  return r;
}
