/*
 * Composes one message with bw_mail_compose() and delivers it with bw_smtp_send_blocking(): the
 * mail path of libbenchwatch, driven from the integration tests.
 *
 *   bw_sendmail --url smtp://127.0.0.1:PORT --from A --to B [--to C] --subject S
 *               --text-file F [--html-file F] [--username U --password-file F]
 *               [--tls none|opportunistic|required] [--no-verify] [--timeout-ms N]
 *
 * Prints "sent" on success; otherwise one line per problem on stderr and exits 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bw_file.h"
#include "bw_mail.h"
#include "bw_smtp.h"
#include "bw_loop.h"

#define MAX_TO 16

static void usage(void) {
  fprintf(stderr, "usage: bw_sendmail --url URL --from ADDR --to ADDR... --subject S "
                  "--text-file F [--html-file F] [--username U --password-file F] "
                  "[--tls MODE] [--no-verify] [--timeout-ms N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"url", required_argument, NULL, 'u'},       {"from", required_argument, NULL, 'f'},
      {"to", required_argument, NULL, 't'},        {"subject", required_argument, NULL, 's'},
      {"text-file", required_argument, NULL, 'x'}, {"html-file", required_argument, NULL, 'h'},
      {"username", required_argument, NULL, 'n'},  {"password-file", required_argument, NULL, 'p'},
      {"tls", required_argument, NULL, 'l'},       {"no-verify", no_argument, NULL, 'k'},
      {"timeout-ms", required_argument, NULL, 'T'}, {NULL, 0, NULL, 0},
  };
  struct bw_smtp s = {0};
  struct bw_mail_message m = {0};
  struct bw_errs errs = {0};
  const char *to[MAX_TO];
  const char *text_file = NULL, *html_file = NULL, *password_file = NULL;
  char *text = NULL, *html = NULL, *password = NULL, *msg = NULL;
  char host[256] = "localhost";
  size_t len;
  int c, rc = 1;

  s.tls_verify = true;
  s.timeout_us = 60 * 1000000LL;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'u': s.url = optarg; break;
    case 'f': m.from = s.from = optarg; break;
    case 't':
      if (m.n_to == MAX_TO)
        usage();
      to[m.n_to++] = optarg;
      break;
    case 's': m.subject = optarg; break;
    case 'x': text_file = optarg; break;
    case 'h': html_file = optarg; break;
    case 'n': s.username = optarg; break;
    case 'p': password_file = optarg; break;
    case 'l': s.tls = optarg; break;
    case 'k': s.tls_verify = false; break;
    case 'T': s.timeout_us = atoll(optarg) * 1000; break;
    default: usage();
    }
  }
  if (!s.url || !m.from || m.n_to == 0 || !m.subject || !text_file || optind != argc)
    usage();
  m.to = to;
  s.rcpt = to;
  s.n_rcpt = m.n_to;
  (void)gethostname(host, sizeof(host) - 1);
  m.hostname = host;
  if (bw_file_read(text_file, 1 << 24, &text, &len, &errs) < 0)
    goto out;
  if (html_file && bw_file_read(html_file, 1 << 24, &html, &len, &errs) < 0)
    goto out;
  if (password_file && bw_smtp_read_password(password_file, &password, &errs) < 0)
    goto out;
  m.text = text;
  m.html = html;
  msg = bw_mail_compose(&m, bw_wall_us(), &errs);
  if (!msg)
    goto out;
  s.password = password;
  s.message = msg;
  s.message_len = strlen(msg);
  if (bw_smtp_send_blocking(&s, &errs) < 0)
    goto out;
  printf("sent\n");
  rc = 0;
out:
  for (size_t i = 0; i < errs.n; i++)
    fprintf(stderr, "bw_sendmail: %s\n", errs.msg[i]);
  bw_errs_clear(&errs);
  if (password)
    explicit_bzero(password, strlen(password));
  free(password);
  free(text);
  free(html);
  free(msg);
  return rc;
}
