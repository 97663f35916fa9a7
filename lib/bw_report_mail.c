#include "bw_report_mail.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bw_mail.h"

char *bw_report_message(const struct bw_report *settings, const struct bw_nightly *rep,
                        int64_t now_us, struct bw_errs *errs) {
  char *message = NULL;
  size_t n = rep->n_targets;
  struct bw_mail_inline *inl = bw_xcalloc(n + 1, sizeof(*inl));
  char **src = bw_xcalloc(n + 1, sizeof(*src));
  char **names = bw_xcalloc(n + 1, sizeof(*names));
  unsigned char **pngs = bw_xcalloc(n + 1, sizeof(*pngs));
  size_t n_inl = 0;
  /* One chart per target, attached inline: mail clients show cid: pictures, not inline SVG. A
   * chart cairo cannot draw is left out (errs says why); the report goes out all the same. */
  for (size_t i = 0; i < n; i++) {
    unsigned char *png;
    size_t len;
    if (bw_report_chart(rep, i, &png, &len, errs) < 0)
      continue;
    pngs[i] = png;
    struct bw_mail_inline *p = &inl[n_inl++];
    char *cid = bw_xasprintf("chart%zu.%" PRIx64 ".%x@benchwatch", i + 1, (uint64_t)now_us,
                             (unsigned)getpid());
    src[i] = bw_xasprintf("cid:%s", cid);
    names[i] = bw_xasprintf("chart%zu.png", i + 1);
    p->cid = src[i] + 4;
    p->type = "image/png";
    p->filename = names[i];
    p->data = png;
    p->len = len;
    free(cid);
  }
  char *subject = bw_report_subject(rep);
  char *text = bw_report_text(rep);
  char *html = bw_report_html(rep, (const char *const *)src);
  struct bw_mail_message m = {
      .from = settings->from,
      .to = (const char *const *)settings->to,
      .n_to = settings->n_to,
      .subject = subject,
      .text = text,
      .html = html,
      .inl = inl,
      .n_inline = n_inl,
      .hostname = rep->host,
  };
  message = bw_mail_compose(&m, now_us, errs);
  free(subject);
  free(text);
  free(html);
  for (size_t i = 0; i < n; i++) {
    free(src[i]);
    free(names[i]);
    free(pngs[i]);
  }
  free(pngs);
  free(src);
  free(names);
  free(inl);
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
