#include "bw_smtp.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bw_file.h"
#include "bw_transfer_internal.h"
#include "bw_url.h"

/* ---- mail delivery ---- */

/*
 * A delivery is an ordinary bw_xfer, set up for SMTP instead of HTTP: it joins the same multi
 * handle, so the socket and timer wiring, CURLINFO_PRIVATE in drain() and finish()'s reading of
 * the outcome all serve it unchanged. Its on_done is smtp_finished() below, which turns the
 * bw_response into the caller's (code, error) and frees the one-shot slot. The job holds what
 * must outlive the setup: the message being read and the recipient list.
 */
struct smtp_job {
  struct bw_xfer *x;
  char *message;
  size_t len;
  size_t off;
  struct curl_slist *rcpt;
  bool auth_needs_tls; /* opportunistic TLS made required because a password would go out */
  bw_smtp_done_fn done;
  void *arg;
};

static void smtp_job_free(struct smtp_job *j) {
  if (!j)
    return;
  bw_xfer_free(j->x);
  free(j->message);
  curl_slist_free_all(j->rcpt);
  free(j);
}

static size_t smtp_read_cb(char *buf, size_t size, size_t nitems, void *userp) {
  struct smtp_job *j = userp;
  size_t n = size * nitems;
  if (n > j->len - j->off)
    n = j->len - j->off;
  memcpy(buf, j->message + j->off, n);
  j->off += n;
  return n;
}

/*
 * The words for a refused STARTTLS. curl says "STARTTLS not supported." when the server's EHLO
 * does not offer it, and "STARTTLS denied" when the server refuses the command; neither says why
 * benchwatch insisted, which is what the reader needs to decide what to change.
 */
static char *smtp_tls_error(const struct smtp_job *j, const char *curl_words) {
  char *what = strstr(curl_words, "not supported")
                   ? bw_xstrdup("the server offers no STARTTLS")
                   : bw_xasprintf("STARTTLS failed (%s)", curl_words);
  char *msg = j->auth_needs_tls ? bw_xasprintf("%s; the password is not sent in clear (set "
                                               "report.tls: none to allow it)",
                                               what)
                                : bw_xasprintf("%s, and tls: required", what);
  free(what);
  return msg;
}

/* Called last in finish(): nothing touches the slot after it, so it may be freed here. */
static void smtp_finished(void *arg, const struct bw_response *res) {
  struct smtp_job *j = arg;
  bw_smtp_done_fn done = j->done;
  void *done_arg = j->arg;
  char *error = res->code == CURLE_USE_SSL_FAILED ? smtp_tls_error(j, res->error) : NULL;
  smtp_job_free(j);
  done(done_arg, res->code, error ? error : res->error);
  free(error);
}

static int smtp_tls_level(const char *tls, long *ret) {
  if (!tls || strcmp(tls, "opportunistic") == 0)
    *ret = (long)CURLUSESSL_TRY;
  else if (strcmp(tls, "none") == 0)
    *ret = (long)CURLUSESSL_NONE;
  else if (strcmp(tls, "required") == 0)
    *ret = (long)CURLUSESSL_ALL;
  else
    return -EINVAL;
  return 0;
}

/* "<addr>": the envelope's form, which curl sends as it is. */
static char *smtp_path(const char *addr) {
  return bw_xasprintf(addr[0] == '<' ? "%s" : "<%s>", addr);
}

static int smtp_apply(struct smtp_job *j, const struct bw_smtp *s, long tls, struct bw_errs *errs) {
  struct bw_xfer *x = j->x;
  CURL *e = x->easy;
  char *from = smtp_path(s->from);
  CURLcode rc = curl_easy_setopt(e, CURLOPT_MAIL_FROM, from); /* curl keeps its own copy */
  free(from);
  if (rc != CURLE_OK) {
    bw_errs_add(errs, "%s: cannot set CURLOPT_MAIL_FROM: %s", x->url, curl_easy_strerror(rc));
    return -EINVAL;
  }
  SETOPT(CURLOPT_URL, x->url);
  SETOPT(CURLOPT_PRIVATE, (char *)x);
  SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
  SETOPT(CURLOPT_NOSIGNAL, 1L);
  SETOPT(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  SETOPT(CURLOPT_PROXY, "");
  SETOPT(CURLOPT_MAIL_RCPT, j->rcpt);
  SETOPT(CURLOPT_UPLOAD, 1L);
  SETOPT(CURLOPT_READFUNCTION, smtp_read_cb);
  SETOPT(CURLOPT_READDATA, j);
  SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
  SETOPT(CURLOPT_USE_SSL, tls);
  SETOPT(CURLOPT_SSL_VERIFYPEER, s->tls_verify ? 1L : 0L);
  SETOPT(CURLOPT_SSL_VERIFYHOST, s->tls_verify ? 2L : 0L);
  /* One message a night: say QUIT and close rather than hold a connection the server drops. */
  SETOPT(CURLOPT_FORBID_REUSE, 1L);
  if (s->timeout_us > 0)
    SETOPT(CURLOPT_TIMEOUT_MS, (long)((s->timeout_us + 999) / 1000));
  if (s->username) {
    SETOPT(CURLOPT_USERNAME, s->username);
    SETOPT(CURLOPT_PASSWORD, s->password ? s->password : "");
  }
  return 0;
}

int bw_smtp_send(struct bw_loop *loop, const struct bw_smtp *s, bw_smtp_done_fn done, void *arg,
                 struct bw_errs *errs) {
  struct smtp_job *j = NULL;
  char *shown = bw_url_redact(s->url); /* a password in the URL stays out of the messages */
  long tls;
  int r;
  if (smtp_tls_level(s->tls, &tls) < 0) {
    bw_errs_add(errs, "%s: tls: expected none, opportunistic or required, got \"%s\"", shown,
                s->tls);
    r = -EINVAL;
    goto fail;
  }
  if (!s->from || s->n_rcpt == 0 || !s->message) {
    bw_errs_add(errs, "%s: a sender, a recipient and a message are needed", shown);
    r = -EINVAL;
    goto fail;
  }
  /*
   * Opportunistic TLS falls back to clear text when the server offers no STARTTLS, and anyone on
   * the path can then read AUTH PLAIN/LOGIN. With a password to send (a username, or a password
   * in the URL), TLS is required; only an explicit tls: none allows AUTH in clear.
   */
  bool auth_needs_tls = (s->username || strcmp(shown, s->url) != 0) && tls == (long)CURLUSESSL_TRY;
  if (auth_needs_tls)
    tls = (long)CURLUSESSL_ALL;
  j = bw_xcalloc(1, sizeof(*j));
  j->auth_needs_tls = auth_needs_tls;
  j->done = done;
  j->arg = arg;
  j->x = bw_xfer_new(loop);
  if (!j->x) {
    bw_errs_add(errs, "%s: cannot create a curl handle", shown);
    r = -ENOMEM;
    goto fail;
  }
  j->x->url = bw_xstrdup(s->url);
  j->x->req.url = j->x->url;
  j->x->req.on_done = smtp_finished;
  j->x->req.arg = j;
  j->message = bw_xmalloc(s->message_len ? s->message_len : 1);
  memcpy(j->message, s->message, s->message_len);
  j->len = s->message_len;
  for (size_t i = 0; i < s->n_rcpt; i++) {
    char *addr = smtp_path(s->rcpt[i]);
    struct curl_slist *l = curl_slist_append(j->rcpt, addr);
    free(addr);
    if (!l) {
      bw_errs_add(errs, "%s: out of memory", shown);
      r = -ENOMEM;
      goto fail;
    }
    j->rcpt = l;
  }
  struct bw_errs mine = {0};
  r = smtp_apply(j, s, tls, &mine);
  if (r == 0)
    r = bw_xfer_launch(j->x, &mine);
  for (size_t i = 0; i < mine.n; i++) {
    char *safe = bw_url_redact_in(mine.msg[i], s->url);
    bw_errs_add(errs, "%s", safe);
    free(safe);
  }
  bw_errs_clear(&mine);
  if (r < 0)
    goto fail;
  free(shown);
  return 0;
fail:
  smtp_job_free(j);
  free(shown);
  return r;
}

struct smtp_wait {
  struct bw_loop *loop;
  bool done;
  int code;
  char *error;
};

static void smtp_wait_done(void *arg, int code, const char *error) {
  struct smtp_wait *w = arg;
  w->done = true;
  w->code = code;
  w->error = bw_xstrdup(error);
  bw_loop_break(w->loop);
}

int bw_smtp_send_blocking(const struct bw_smtp *s, struct bw_errs *errs) {
  struct smtp_wait w;
  int r;
  memset(&w, 0, sizeof(w));
  w.loop = bw_loop_new(errs);
  if (!w.loop)
    return -ENOMEM;
  r = bw_smtp_send(w.loop, s, smtp_wait_done, &w, errs);
  if (r == 0)
    r = bw_loop_run(w.loop);
  char *shown = bw_url_redact(s->url);
  if (r == 0 && !w.done) {
    bw_errs_add(errs, "%s: the event loop stopped before the delivery ended", shown);
    r = -EIO;
  } else if (r == 0 && w.code != 0) {
    bw_errs_add(errs, "%s: %s", shown, w.error);
    r = -EIO;
  }
  free(shown);
  free(w.error);
  bw_loop_free(w.loop);
  return r;
}

int bw_smtp_read_password(const char *name, char **ret, struct bw_errs *errs) {
  char *buf = NULL;
  size_t len = 0;
  char *path = bw_file_secret_path(name);
  int r = bw_file_read_private(path, 64 * 1024, &buf, &len, errs);
  if (r < 0)
    goto out;
  size_t n = strcspn(buf, "\r\n");
  if (n == 0) {
    bw_errs_add(errs, "%s: the first line (the password) is empty", path);
    r = -EINVAL;
  } else {
    *ret = bw_xstrndup(buf, n);
  }
  explicit_bzero(buf, len);
  free(buf);
out:
  free(path);
  return r;
}
