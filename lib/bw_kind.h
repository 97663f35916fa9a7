#ifndef BW_KIND_H
#define BW_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_probe.h"
#include "bw_result.h"

/*
 * What makes each kind of test what it is, one row per kind (bw_kind.c), as wrk keeps a
 * connection's behaviour in one struct: its name, how a run starts, the config keys it takes,
 * the figures it is judged on, the sample columns it fills and how its run is shown. Code that
 * differs by kind asks its row, or switches on enum bw_kind without a default (so that -Wswitch
 * names every switch a new kind must join). Adding a kind is its probe file, one row here, one
 * enum value, and the docs.
 */

/*
 * Classes of test keys that not every kind takes (the config's key table marks each key with
 * its class; a key with none is every kind's). A kind takes the classes in its keys mask.
 */
enum bw_key_class {
  BW_KEYS_PAGE = 1u << 0,     /* the page client's own: keepalive, engine, threads */
  BW_KEYS_DOWNLOAD = 1u << 1, /* a download's: caps, timeline, streams */
  BW_KEYS_SAMPLES = 1u << 2,  /* many samples per run: requests, concurrency */
  BW_KEYS_HTTP = 1u << 3,     /* what an HTTP request says: method, headers, http */
};

/* The sample columns a kind fills (besides at_us, duration_us and bytes, which every kind has). */
enum bw_sample_col {
  BW_COL_STATUS = 1u << 0,
  BW_COL_DNS = 1u << 1,
  BW_COL_CONNECT = 1u << 2,
  BW_COL_TLS = 1u << 3,
  BW_COL_TTFB = 1u << 4,
  BW_COL_ERROR = 1u << 5, /* error_class */
};

typedef struct bw_probe *(*bw_kind_start_fn)(struct bw_loop *loop, const struct bw_test *test,
                                             const char *backend, bw_probe_done_fn done, void *arg,
                                             struct bw_errs *errs);

/* How `benchwatch run` shows a finished run of the kind (allocated text). */
typedef char *(*bw_kind_render_fn)(const struct bw_run *run, const struct bw_test *test,
                                   const struct bw_run *const *peers, size_t n_peers);

struct bw_kind_ops {
  enum bw_kind kind;
  const char *name; /* as configured, stored and shown: "page" */
  const char *help; /* one phrase for people: what a run does */
  bw_kind_start_fn start;
  unsigned keys;           /* enum bw_key_class: the restricted test keys it takes */
  unsigned samples;        /* enum bw_sample_col: the sample columns it fills */
  const char *sample_noun; /* what one sample is: "request", "interval", "connection" */
  /* The figure shown first and judged by default (a bw_metrics name), and the other figures
   * judged by default beside it and availability (NULL-terminated; a figure a run did not
   * measure is not judged for that run). */
  const char *headline;
  const char *const *judged;
  bw_kind_render_fn render;
};

/* The number of kinds: enum bw_kind's values are 0 .. BW_KIND_COUNT - 1. */
#define BW_KIND_COUNT 3

/* The rows, indexed by enum bw_kind. */
extern const struct bw_kind_ops bw_kinds[BW_KIND_COUNT];

/* The row of kind; NULL for a value that is no kind. */
const struct bw_kind_ops *bw_kind_ops(enum bw_kind kind);
/* The kinds as "page, download or connect", for messages. */
const char *bw_kind_names_text(void);
/* Whether kind takes the test keys of classes (every class in the mask). */
bool bw_kind_takes(enum bw_kind kind, unsigned classes);

#endif
