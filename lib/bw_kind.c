/*
 * The kinds of test, one row each (bw_kind.h). Pure data, and the small adapters that give each
 * kind's renderer the one signature the row holds.
 */
#include "bw_kind.h"

#include <errno.h>
#include <string.h>

#include "bw_render.h"

static char *render_page(const struct bw_run *run, const struct bw_test *test,
                         const struct bw_run *const *peers, size_t n_peers) {
  (void)peers;
  (void)n_peers;
  return bw_render_ab(run, test->concurrency, test->keepalive);
}

static char *render_download(const struct bw_run *run, const struct bw_test *test,
                             const struct bw_run *const *peers, size_t n_peers) {
  (void)test;
  return bw_render_download_among(run, peers, n_peers);
}

static char *render_connect(const struct bw_run *run, const struct bw_test *test,
                            const struct bw_run *const *peers, size_t n_peers) {
  (void)peers;
  (void)n_peers;
  return bw_render_connect(run, test->concurrency);
}

static const char *const page_judged[] = {NULL};
static const char *const download_judged[] = {NULL};
static const char *const connect_judged[] = {"tls_p50_us", NULL};

const struct bw_kind_ops bw_kinds[BW_KIND_COUNT] = {
    [BW_KIND_PAGE] =
        {
            .kind = BW_KIND_PAGE,
            .name = "page",
            .help = "many small requests, like ab",
            .start = bw_probe_page_start,
            .keys = BW_KEYS_PAGE | BW_KEYS_SAMPLES | BW_KEYS_HTTP,
            .samples = BW_COL_STATUS | BW_COL_DNS | BW_COL_CONNECT | BW_COL_TLS | BW_COL_TTFB |
                       BW_COL_ERROR,
            .sample_noun = "request",
            .headline = "p50_us",
            .judged = page_judged,
            .render = render_page,
        },
    [BW_KIND_DOWNLOAD] =
        {
            .kind = BW_KIND_DOWNLOAD,
            .name = "download",
            .help = "one large transfer, like wget",
            .start = bw_probe_download_start,
            .keys = BW_KEYS_DOWNLOAD | BW_KEYS_HTTP,
            .samples = 0,
            .sample_noun = "interval",
            .headline = "rate_bps",
            .judged = download_judged,
            .render = render_download,
        },
    [BW_KIND_CONNECT] =
        {
            .kind = BW_KIND_CONNECT,
            .name = "connect",
            .help = "many TCP connects and TLS handshakes, no request",
            .start = bw_probe_connect_start,
            .keys = BW_KEYS_SAMPLES,
            .samples = BW_COL_DNS | BW_COL_CONNECT | BW_COL_TLS | BW_COL_ERROR,
            .sample_noun = "connection",
            .headline = "connect_p50_us",
            .judged = connect_judged,
            .render = render_connect,
        },
};

const struct bw_kind_ops *bw_kind_ops(enum bw_kind kind) {
  return (unsigned)kind < BW_KIND_COUNT ? &bw_kinds[kind] : NULL;
}

const char *bw_kind_name(enum bw_kind kind) {
  const struct bw_kind_ops *k = bw_kind_ops(kind);
  return k ? k->name : NULL;
}

int bw_kind_parse(const char *name, enum bw_kind *ret) {
  for (size_t i = 0; name && i < BW_KIND_COUNT; i++)
    if (strcmp(bw_kinds[i].name, name) == 0) {
      *ret = bw_kinds[i].kind;
      return 0;
    }
  return -EINVAL;
}

const char *bw_kind_names_text(void) {
  return "page, download or connect";
}

bool bw_kind_takes(enum bw_kind kind, unsigned classes) {
  const struct bw_kind_ops *k = bw_kind_ops(kind);
  return k && (k->keys & classes) == classes;
}

_Static_assert(BW_KIND_CONNECT + 1 == BW_KIND_COUNT, "a kind without a row in bw_kinds");
