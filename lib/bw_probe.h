#ifndef BW_PROBE_H
#define BW_PROBE_H

#include <stdatomic.h>

#include "bw_config.h"
#include "bw_result.h"
#include "bw_transfer.h"
#include "bw_util.h"

/*
 * One run of one target on the transfer loop: a page test (bw_probe_page.c, ApacheBench
 * semantics), a download test (bw_probe_download.c, wget semantics plus the timeline and TCP
 * facts) or a connect test (bw_probe_connect.c, connections without a request); the kind's row
 * (bw_kind.h) names its start. The probe copies what it needs from the test, so a config reload
 * cannot pull it away.
 *
 * done is called exactly once, from inside bw_loop_run(), with the finished run (outcome ok,
 * failed, partial or aborted). The run belongs to the probe: take it with bw_run_move(). The
 * probe may be freed from inside done.
 */
typedef void (*bw_probe_done_fn)(void *arg, struct bw_run *run);

struct bw_probe;

/*
 * Starts test on loop, connected to backend ("host:port") when not NULL. Returns NULL, with a
 * message in errs, when nothing could be started at all; every later failure is reported in the
 * run.
 */
struct bw_probe *bw_probe_start(struct bw_loop *loop, const struct bw_test *test,
                                const char *backend, bw_probe_done_fn done, void *arg,
                                struct bw_errs *errs);
/* Stops a running probe: its done is called with an aborted run. */
void bw_probe_abort(struct bw_probe *p);
/* Frees a probe; one still running is stopped without calling done. NULL-safe. */
void bw_probe_free(struct bw_probe *p);
/* The samples a running probe has so far (a page test's finished requests, for progress), on
 * the caller's loop, whichever threads make them. */
int64_t bw_probe_finished(const struct bw_probe *p);

/* The kinds' own starts, behind bw_probe_start(). */
struct bw_probe *bw_probe_page_start(struct bw_loop *loop, const struct bw_test *test,
                                     const char *backend, bw_probe_done_fn done, void *arg,
                                     struct bw_errs *errs);
/* A page test with threads > 1 (bw_probe_page_start() hands it over): a page probe with
 * threads 1 on as many loops of their own, each on a thread of its own, merged into one run
 * (bw_probe_threads.c). */
struct bw_probe *bw_probe_threads_start(struct bw_loop *loop, const struct bw_test *test,
                                        const char *backend, bw_probe_done_fn done, void *arg,
                                        struct bw_errs *errs);
struct bw_probe *bw_probe_download_start(struct bw_loop *loop, const struct bw_test *test,
                                         const char *backend, bw_probe_done_fn done, void *arg,
                                         struct bw_errs *errs);
struct bw_probe *bw_probe_connect_start(struct bw_loop *loop, const struct bw_test *test,
                                        const char *backend, bw_probe_done_fn done, void *arg,
                                        struct bw_errs *errs);

/*
 * What both kinds share; the kinds embed it first. While a probe runs, its run shows how far it
 * got: a page test's run.n_samples counts the finished requests, a download's run.bytes the body
 * bytes received (BW_NONE before the first).
 */
struct bw_probe {
  void (*abort)(struct bw_probe *p);
  void (*destroy)(struct bw_probe *p);
  int64_t (*finished_fn)(const struct bw_probe *p); /* NULL: run.n_samples */
  atomic_int_least64_t finished; /* page: requests finished, readable from other threads */
  struct bw_test test;
  struct bw_run run;
  bw_probe_done_fn done;
  void *arg;
  int64_t t0_us; /* monotonic start */
};

/*
 * A page run's summary from its samples and counters (ab's statistics, requests/s over
 * elapsed_us) and its outcome: aborted, failed (first_class and first_error say why when nothing
 * completed; check_error when every response failed the test's expect) or ok. Pure.
 */
void bw_probe_page_finish(struct bw_run *run, int64_t elapsed_us, bool aborted,
                          const struct bw_expect *expect, const char *first_class,
                          const char *first_error, const char *check_error);

/* Fills the shared part and the run's identity; for the kinds' starts. */
void bw_probe_init(struct bw_probe *p, const struct bw_test *test, const char *backend,
                   bw_probe_done_fn done, void *arg);
/* Releases the shared part; for the kinds' destroy. */
void bw_probe_release(struct bw_probe *p);
/* This host's side of the path to run->remote_ip as it is now (bw_env.h), into run->env, for the
 * store to keep when it changed; for every kind, once, when its run ends. Nothing when the run
 * never reached an address. */
void bw_probe_env(struct bw_run *run);
/* The request fields a test decides, the same for both kinds. */
void bw_probe_request(const struct bw_probe *p, struct bw_request *req);
/* msg with the test's URL and proxy shown without their passwords (bw_url_redact_in()); free it. */
char *bw_probe_redact(const struct bw_probe *p, const char *msg);
/*
 * bw_xfer_start() for p's test: the same return, and its messages in errs with the test's URL
 * redacted (bw_url_redact_in()), since they are shown and logged.
 */
int bw_probe_xfer_start(const struct bw_probe *p, struct bw_xfer *x, const struct bw_request *req,
                        struct bw_errs *errs);

#endif
