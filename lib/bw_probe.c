#include "bw_probe.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bw_env.h"
#include "bw_kind.h"
#include "bw_url.h"

struct bw_probe *bw_probe_start(struct bw_loop *loop, const struct bw_test *test,
                                const char *backend, bw_probe_done_fn done, void *arg,
                                struct bw_errs *errs) {
  const struct bw_kind_ops *k = bw_kind_ops(test->kind);
  if (!k) {
    bw_errs_add(errs, "%s: no such kind of test", test->name);
    return NULL;
  }
  return k->start(loop, test, backend, done, arg, errs);
}

void bw_probe_abort(struct bw_probe *p) {
  if (p)
    p->abort(p);
}

void bw_probe_free(struct bw_probe *p) {
  if (p)
    p->destroy(p);
}

int64_t bw_probe_finished(const struct bw_probe *p) {
  if (p->finished_fn)
    return p->finished_fn(p);
  return (int64_t)p->run.n_samples;
}

void bw_probe_init(struct bw_probe *p, const struct bw_test *test, const char *backend,
                   bw_probe_done_fn done, void *arg) {
  bw_test_copy(&p->test, test);
  bw_run_init(&p->run);
  p->run.test = bw_xstrdup(test->name);
  p->run.backend = bw_xstrdup(backend ? backend : "");
  p->run.kind = test->kind;
  /* The run is shown, logged and stored: only the request (bw_probe_request) has the password. */
  p->run.url = bw_url_redact(test->url);
  p->run.started_us = bw_wall_us();
  p->done = done;
  p->arg = arg;
  p->t0_us = bw_now_us();
  atomic_init(&p->finished, 0);
}

void bw_probe_release(struct bw_probe *p) {
  bw_test_clear(&p->test);
  bw_run_reset(&p->run);
}

int bw_probe_xfer_start(const struct bw_probe *p, struct bw_xfer *x, const struct bw_request *req,
                        struct bw_errs *errs) {
  struct bw_errs mine = {0};
  int r = bw_xfer_start(x, req, &mine);
  for (size_t i = 0; i < mine.n; i++) {
    char *safe = bw_probe_redact(p, mine.msg[i]);
    bw_errs_add(errs, "%s", safe);
    free(safe);
  }
  bw_errs_clear(&mine);
  return r;
}

void bw_probe_env(struct bw_run *run) {
  struct bw_env env;
  if (run->env || !run->remote_ip)
    return; /* no route to name: a partial environment would read as a change */
  bw_env_read("/proc", run->remote_ip, &env);
  if (!bw_env_empty(&env))
    run->env = bw_env_format(&env);
}

void bw_probe_request(const struct bw_probe *p, struct bw_request *req) {
  memset(req, 0, sizeof(*req));
  req->url = p->test.url;
  req->method = p->test.method;
  req->headers = p->test.headers;
  req->n_headers = p->test.n_headers;
  req->connect_to = p->run.backend[0] ? p->run.backend : NULL;
  req->tls_verify = p->test.tls_verify;
  req->http_version = p->test.http_version;
  req->proxy = p->test.proxy;
  if (p->test.kind == BW_KIND_PAGE && bw_method_has_body(p->test.method)) {
    /* curl -d: always a body (perhaps empty) with its length, and a type: the test's, a header's,
     * or a form's. */
    req->body = p->test.body ? p->test.body : "";
    req->body_len = p->test.body ? p->test.body_len : 0;
    req->content_type = p->test.content_type;
    if (!req->content_type) {
      bool header = false;
      for (size_t i = 0; i < p->test.n_headers; i++)
        header = header || strncasecmp(p->test.headers[i], "Content-Type:", 13) == 0;
      if (!header)
        req->content_type = "application/x-www-form-urlencoded";
    }
  }
  if (p->test.kind == BW_KIND_PAGE)
    req->body_find = p->test.expect.body_contains;
}

char *bw_probe_redact(const struct bw_probe *p, const char *msg) {
  char *once = bw_url_redact_in(msg, p->test.url);
  if (!p->test.proxy)
    return once;
  char *twice = bw_url_redact_in(once, p->test.proxy);
  free(once);
  return twice;
}
