#ifndef BW_DIAGNOSE_H
#define BW_DIAGNOSE_H

#include <stddef.h>

#include "bw_result.h"

/*
 * Diagnosis: why a download was slow or failed, as plain sentences with their evidence, from the
 * run's stored facts (its phases, silences and the receiver's TCP facts; README "TCP facts").
 * Pure and table-driven: each rule is one row (a name and a check that writes its sentence), so
 * a rule is added, tested and documented on its own. A page run gets no sentences.
 *
 * Peers are the latest runs of the same test on its other backends, when there are any: a
 * figure is read against theirs ("MSS 8948 here vs 1448 on the other 4 backends"). They may be
 * NULL with n_peers 0; a peer that is not a download, or is the run itself, is ignored.
 */

/*
 * The sentences for run, in the order of the rule table: a NULL-terminated array of allocated
 * strings (the caller frees it with bw_diagnose_free()); an empty array when no rule applies.
 */
char **bw_diagnose(const struct bw_run *run, const struct bw_run *const *peers, size_t n_peers);

/* The same sentences joined with "; " (allocated; "" when none). */
char *bw_diagnose_text(const struct bw_run *run, const struct bw_run *const *peers, size_t n_peers);

/* Frees what bw_diagnose() and bw_diagnose_odd() return. Accepts NULL. */
void bw_diagnose_free(char **lines);

/*
 * Backends compared: runs[0..n) are the latest downloads of one test, one per backend
 * (run->backend names it). With three or more, each backend whose facts differ from the others'
 * (segment size, rate or a missing body, receive RTT, silences, TCP options) gets one sentence
 * naming it and the evidence: "node-3:8088 is the odd one out: MSS 8948 vs 1448 on the other 4;
 * no body byte (the others 16.2 MB/s)". Only a minority can be odd: when half or more differ,
 * there is no "normal" to differ from and nothing is said. NULL-terminated as bw_diagnose().
 */
char **bw_diagnose_odd(const struct bw_run *const *runs, size_t n);

#endif
