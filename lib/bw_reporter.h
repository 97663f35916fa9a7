#ifndef BW_REPORTER_H
#define BW_REPORTER_H

#include "bw_config.h"
#include "bw_metrics.h"
#include "bw_store.h"
#include "bw_loop.h"
#include "bw_worker.h"

/*
 * The nightly report in the daemon: once per local calendar day at report.at (and at start-up
 * when today's is due and missing), the report of the last 24 hours is composed, kept in the
 * database, and mailed from the event loop. A failed delivery is retried after 10 s, 30 s, 1 min,
 * 5 min, 15 min and 1 h; after that the report stays in the database and is sent, oldest first,
 * with the next one. Nothing is lost to a mail server that is down.
 *
 * Every database read and write (composing, keeping, finding the reports not yet delivered,
 * recording an attempt) is a job on the worker (bw_worker.h), so a locked database delays the
 * report, never the loop. A report that cannot be composed or kept is tried again after the same
 * delays; after the last, the day is given up and said so.
 */
struct bw_reporter;

/* What the reporter has to say (composed, mailed, not delivered, ...), for the caller to log. */
typedef void (*bw_reporter_note_fn)(void *arg, bool error, const char *text);

/* worker runs the reporter's database jobs; the two may be freed in either order. */
struct bw_reporter *bw_reporter_new(struct bw_loop *loop, struct bw_worker *worker,
                                    const char *host, bw_reporter_note_fn note_fn, void *note_arg);
/* Takes the report settings of cfg, and a hold on it (bw_config_ref()) while it needs them. */
void bw_reporter_apply(struct bw_reporter *r, struct bw_config *cfg);
/* What /metrics shows of delivery: reports waiting, and the latest delivery since start. */
void bw_reporter_status(const struct bw_reporter *r, struct bw_metrics_reports *ret);
/* NULL-safe. A delivery in flight is dropped; a job on the worker finishes without it. */
void bw_reporter_free(struct bw_reporter *r);

#endif
