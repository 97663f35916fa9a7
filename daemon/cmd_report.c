/* benchwatch report: the nightly report, now, on stdout (or mailed, with --send). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int cmd_report(int argc, char **argv) {
  static const struct option longopts[] = {
      {"since", required_argument, NULL, 's'}, {"format", required_argument, NULL, 'f'},
      {"db", required_argument, NULL, 'd'},    {"config", required_argument, NULL, 'C'},
      {"send", no_argument, NULL, 'S'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
  };
  const char *db = NULL, *config = NULL, *format = "text";
  int64_t since = 24 * 3600 * INT64_C(1000000);
  bool send = false;
  int ch;
  while ((ch = getopt_long(argc, argv, "s:f:d:C:h", longopts, NULL)) != -1) {
    switch (ch) {
    case 's':
      if (parse_since(optarg, &since) < 0)
        return 64;
      break;
    case 'f':
      format = optarg;
      break;
    case 'd':
      db = optarg;
      break;
    case 'C':
      config = optarg;
      break;
    case 'S':
      send = true;
      break;
    case 'h':
      (void)printf("usage: benchwatch report [--since 24h] [--format text|html] [--send] "
                   "[--db F | --config F]\n"
                   "  --send  mail it as the daemon does (report: in the config), do not print\n"
                   "The nightly report for the period that ends now: what regressed, what\n"
                   "recovered, what failed, per target against its baseline.\n");
      return 0;
    default:
      return 64;
    }
  }
  if (optind != argc || (strcmp(format, "text") != 0 && strcmp(format, "html") != 0)) {
    (void)fprintf(stderr, "usage: benchwatch report [--since 24h] [--format text|html]\n");
    return 64;
  }
  struct bw_store *store = NULL;
  struct bw_config *cfg = NULL;
  int r = open_history(db, config, &store, &cfg);
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
  int64_t now = bw_wall_us();
  if (bw_report_collect(store, cfg, host, now - since, now, &rep, &errs) < 0) {
    print_errs(&errs);
    r = 1;
  } else if (send) {
    r = deliver(&cfg->report, &rep, now);
    bw_report_free(&rep);
  } else {
    char *text = strcmp(format, "html") == 0 ? bw_report_html(&rep) : bw_report_text(&rep);
    (void)fputs(text, stdout);
    free(text);
    bw_report_free(&rep);
  }
  bw_errs_clear(&errs);
  bw_config_free(cfg);
  bw_store_close(store);
  return r;
}
