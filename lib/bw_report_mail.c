#include "bw_report_mail.h"

#include <stdlib.h>
#include <string.h>

#include "bw_mail.h"

char *bw_report_message(const struct bw_report *settings, const struct bw_nightly *rep,
                        int64_t now_us, struct bw_errs *errs) {
  char *subject = bw_report_subject(rep);
  char *text = bw_report_text(rep);
  char *html = bw_report_html(rep);
  struct bw_mail_message m = {
      .from = settings->from,
      .to = (const char *const *)settings->to,
      .n_to = settings->n_to,
      .subject = subject,
      .text = text,
      .html = html,
      .hostname = rep->host,
  };
  char *message = bw_mail_compose(&m, now_us, errs);
  free(subject);
  free(text);
  free(html);
  return message;
}

int bw_report_smtp(const struct bw_report *settings, const char *message, struct bw_smtp *ret,
                   char **ret_password, struct bw_errs *errs) {
  *ret_password = NULL;
  if (settings->password_file) {
    int r = bw_smtp_read_password(settings->password_file, ret_password, errs);
    if (r < 0)
      return r;
  }
  memset(ret, 0, sizeof(*ret));
  ret->url = settings->smtp;
  ret->tls = settings->tls;
  ret->tls_verify = settings->tls_verify;
  ret->username = settings->username;
  ret->password = *ret_password;
  ret->from = settings->from;
  ret->rcpt = (const char *const *)settings->to;
  ret->n_rcpt = settings->n_to;
  ret->message = message;
  ret->message_len = strlen(message);
  ret->timeout_us = settings->timeout_us;
  return 0;
}
