/* Diagnosis rules over a download's stored facts (bw_diagnose.h). */
#include "bw_diagnose.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bw_stats.h"
#include "bw_timeline.h"
#include "bw_util.h"

/* The largest segment Ethernet's 1500-byte MTU carries: 1500 - 40 bytes of IP and TCP headers. */
#define ETHERNET_MSS 1460

/* What a rule reads: the run, and the typical figures of its peers (NAN-free: -1 when none). */
struct diag {
  const struct bw_run *run;
  size_t n_peers;   /* peers that are downloads */
  int64_t peer_mss; /* median segment size of the peers that got a body */
  size_t n_peer_mss;
  int64_t peer_rate; /* median rate of the peers that got a body */
  size_t n_peer_rate;
};

static bool has(int64_t v) {
  return v != BW_NONE;
}

/* "31 KB/s", "16.2 MB/s": decimal units, as everywhere in benchwatch. */
static void put_rate(struct bw_buf *b, double bps) {
  if (bps >= 1e6)
    bw_buf_printf(b, "%.1f MB/s", bps / 1e6);
  else if (bps >= 1e3)
    bw_buf_printf(b, "%.0f KB/s", bps / 1e3);
  else
    bw_buf_printf(b, "%.0f B/s", bps);
}

static void put_size(struct bw_buf *b, int64_t bytes) {
  if (bytes >= 1000000)
    bw_buf_printf(b, "%.1f MB", (double)bytes / 1e6);
  else if (bytes >= 1000)
    bw_buf_printf(b, "%.0f KB", (double)bytes / 1e3);
  else
    bw_buf_printf(b, "%" PRId64 " bytes", bytes);
}

static void put_secs(struct bw_buf *b, int64_t us) {
  bw_buf_printf(b, "%.*f s", us < 10000000 ? 1 : 0, (double)us / 1e6);
}

static void put_ms(struct bw_buf *b, int64_t us) {
  bw_buf_printf(b, "%.*f ms", us < 10000 ? 1 : 0, (double)us / 1e3);
}

/*
 * The segment size the two ends agreed on or saw: the larger of the receive MSS (grows as full
 * segments arrive; 536 until then) and the send MSS (the server's announced MSS, capped by this
 * host's route). A server that announced jumbo frames shows here even when no data came.
 */
static bool loopback(const struct bw_run *r);

static int64_t seg_size(const struct bw_run *r) {
  int64_t a = r->tcp_rcv_mss, b = r->tcp_snd_mss;
  /* On loopback the sizes are the interface's and the window's, and vary from run to run
   * (65483 on one, 32768 on the next): they tell nothing about a path. */
  if (loopback(r))
    return BW_NONE;
  if (!has(a))
    return has(b) ? b : BW_NONE;
  return has(b) && b > a ? b : a;
}

static bool got_body(const struct bw_run *r) {
  return has(r->ttfb_us) && has(r->bytes) && r->bytes > 0;
}

static bool loopback(const struct bw_run *r) {
  return r->remote_ip &&
         (strncmp(r->remote_ip, "127.", 4) == 0 || strcmp(r->remote_ip, "::1") == 0);
}

/* Silences of a second or more inside the body, not counting the one the transfer ended in. */
static int64_t mid_stalls(const struct bw_run *r) {
  if (!has(r->stalls))
    return 0;
  bool ended_silent = has(r->end_silence_us) && r->end_silence_us >= BW_SILENCE_US;
  int64_t n = r->stalls - (ended_silent && r->stalls > 0 ? 1 : 0);
  return n > 0 ? n : 0;
}

static int64_t median_i64(int64_t *v, size_t n) {
  double *d = bw_xmalloc((n + 1) * sizeof(*d));
  for (size_t i = 0; i < n; i++)
    d[i] = (double)v[i];
  bw_stats_sort(d, n);
  int64_t m = (int64_t)bw_stats_median(d, n);
  free(d);
  return m;
}

/* ---- the rules ---- */

/* The segment-size clause of a response without a body: the black hole's evidence, or its lack. */
static void no_body_why(const struct diag *d, struct bw_buf *b) {
  const struct bw_run *r = d->run;
  int64_t mss = seg_size(r);
  if (has(mss) && d->n_peer_mss > 0 && mss * 10 > d->peer_mss * 12) {
    bw_buf_printf(b,
                  "; MSS %" PRId64 " here vs %" PRId64 " on the other %zu backend%s: "
                  "a path MTU black hole is likely (full-size segments dropped on a hop with "
                  "a smaller MTU: jumbo frames on a 1500-byte path)",
                  mss, d->peer_mss, d->n_peer_mss, d->n_peer_mss == 1 ? "" : "s");
  } else if (has(mss) && mss > ETHERNET_MSS && !loopback(r)) {
    bw_buf_printf(b,
                  "; MSS %" PRId64 " is more than a 1500-byte path carries: if a hop on the "
                  "way has MTU 1500, a path MTU black hole is likely",
                  mss);
  } else {
    bw_buf_printf(b, "; the server answered and sent nothing after: it stalls after its "
                     "headers, or its data segments are lost on the way");
  }
}

/* Headers, then not one body byte: the founding incident's node 3. */
static bool rule_no_body(const struct diag *d, struct bw_buf *b) {
  const struct bw_run *r = d->run;
  if (!has(r->headers_us) || has(r->ttfb_us) || !has(r->end_silence_us) ||
      r->end_silence_us < BW_SILENCE_US)
    return false;
  bw_buf_printf(b, "headers arrived after ");
  put_ms(b, r->headers_us);
  bw_buf_printf(b, ", then no body byte in ");
  put_secs(b, r->end_silence_us);
  no_body_why(d, b);
  return true;
}

/* A body that stopped and never resumed: where, and for how long it was silent. */
static bool rule_stopped(const struct diag *d, struct bw_buf *b) {
  const struct bw_run *r = d->run;
  if (r->outcome != BW_OUTCOME_FAILED || !got_body(r) || !has(r->last_byte_us))
    return false;
  bool silent = has(r->end_silence_us) && r->end_silence_us >= BW_SILENCE_US;
  if (silent) {
    bw_buf_printf(b, "the body stopped after ");
    put_size(b, r->bytes);
    bw_buf_printf(b, ", ");
    put_secs(b, r->last_byte_us);
    bw_buf_printf(b, " in, then nothing for ");
    put_secs(b, r->end_silence_us);
  } else {
    bw_buf_printf(b, "the transfer broke off after ");
    put_size(b, r->bytes);
    bw_buf_printf(b, ", ");
    put_secs(b, r->last_byte_us);
    bw_buf_printf(b, " in (%s)", r->error_class ? r->error_class : "failed");
  }
  return true;
}

/* Silences inside the body: how many, where the first began, the longest. */
static bool rule_stalls(const struct diag *d, struct bw_buf *b) {
  const struct bw_run *r = d->run;
  int64_t n = mid_stalls(r);
  if (n == 0 || !has(r->stall_first_bytes))
    return false;
  if (n == 1)
    bw_buf_printf(b, "stalled once, for ");
  else
    bw_buf_printf(b, "stalled %" PRId64 " times, the longest ", n);
  put_secs(b, r->stall_longest_us);
  bw_buf_printf(b, ", %s after ", n == 1 ? "starting" : "the first");
  put_size(b, r->stall_first_bytes);
  if (has(r->stall_first_at_us)) {
    bw_buf_printf(b, " (");
    put_secs(b, r->stall_first_at_us);
    bw_buf_printf(b, " in)");
  }
  if (has(r->stall_us) && r->stall_us > 0) {
    bw_buf_printf(b, "; ");
    put_secs(b, r->stall_us);
    bw_buf_printf(b, " under the stall rate in all");
  }
  return true;
}

/*
 * Slow all the way, never silent: a shaped or congested path rather than a stall. Steady means
 * every whole timeline step within a factor 2 of the overall rate, over 3 s of body at least.
 * Slow needs evidence: the receive RTT grew far over the RTT at connect (a queue fills on the
 * way), or the other backends ran three times as fast.
 */
static bool rule_shaped(const struct diag *d, struct bw_buf *b) {
  const struct bw_run *r = d->run;
  if (r->outcome == BW_OUTCOME_FAILED || !has(r->rate_bps) || r->rate_bps <= 0 ||
      mid_stalls(r) > 0 || !has(r->min_rate_bps) || !has(r->max_rate_bps) ||
      !has(r->last_byte_us) || !has(r->ttfb_us) || r->last_byte_us - r->ttfb_us < 3000000)
    return false;
  if (r->min_rate_bps * 2 < r->rate_bps || r->max_rate_bps > r->rate_bps * 2)
    return false;
  bool queue = has(r->tcp_rcv_rtt_max_us) && has(r->tcp_rtt_us) &&
               r->tcp_rcv_rtt_max_us >= 4 * r->tcp_rtt_us &&
               r->tcp_rcv_rtt_max_us >= r->tcp_rtt_us + 20000;
  bool slower = d->n_peer_rate > 0 && d->peer_rate >= 3 * r->rate_bps;
  if (!queue && !slower)
    return false;
  put_rate(b, (double)r->rate_bps);
  bw_buf_printf(b, " for the whole transfer, steady");
  if (slower) {
    bw_buf_printf(b, " (the other %zu backend%s ", d->n_peer_rate, d->n_peer_rate == 1 ? "" : "s");
    put_rate(b, (double)d->peer_rate);
    bw_buf_printf(b, ")");
  }
  if (queue) {
    bw_buf_printf(b, ", receive RTT ");
    put_ms(b, r->tcp_rcv_rtt_max_us);
    bw_buf_printf(b, " against ");
    put_ms(b, r->tcp_rtt_us);
    bw_buf_printf(b, " at connect");
  }
  bw_buf_printf(b, ": the path is shaped or congested, not stalled");
  return true;
}

/* The client's own window closed: the receiver, not the network, set the pace. */
static bool rule_zero_window(const struct diag *d, struct bw_buf *b) {
  const struct bw_run *r = d->run;
  if (!has(r->tcp_zero_window) || r->tcp_zero_window <= 0)
    return false;
  bw_buf_printf(b,
                "the client's receive window was zero at %" PRId64 " of %" PRId64
                " readings: the client could not keep up (its receive buffer was full)",
                r->tcp_zero_window, has(r->tcp_samples) ? r->tcp_samples : r->tcp_zero_window);
  return true;
}

/* Out-of-order arrivals: loss (or reordering) upstream, repaired by the server's retransmits. */
static bool rule_out_of_order(const struct diag *d, struct bw_buf *b) {
  const struct bw_run *r = d->run;
  /* Loopback has no path to lose packets on; its few percent out of order come from the local
   * stack handing segments over on several CPUs. */
  if (loopback(r) || !has(r->tcp_rcv_ooopack) || !has(r->tcp_segs_in) || r->tcp_rcv_ooopack < 10 ||
      r->tcp_rcv_ooopack * 100 < r->tcp_segs_in)
    return false;
  bw_buf_printf(b,
                "%" PRId64 " of %" PRId64 " segments arrived out of order: packets are lost "
                "or reordered on the way here, and the server resends (its retransmit count "
                "can only be read on the server)",
                r->tcp_rcv_ooopack, r->tcp_segs_in);
  return true;
}

struct rule {
  const char *name;
  bool (*check)(const struct diag *d, struct bw_buf *out);
};

/* In the order the sentences are said: what happened first, then why. */
static const struct rule rules[] = {
    {"no_body", rule_no_body},         {"stopped", rule_stopped},
    {"stalls", rule_stalls},           {"shaped", rule_shaped},
    {"zero_window", rule_zero_window}, {"out_of_order", rule_out_of_order},
};

static void peers_summary(struct diag *d, const struct bw_run *run,
                          const struct bw_run *const *peers, size_t n_peers) {
  int64_t *mss = bw_xmalloc((n_peers + 1) * sizeof(*mss));
  int64_t *rate = bw_xmalloc((n_peers + 1) * sizeof(*rate));
  memset(d, 0, sizeof(*d));
  d->run = run;
  for (size_t i = 0; i < n_peers; i++) {
    const struct bw_run *p = peers[i];
    if (!p || p == run || p->kind != BW_KIND_DOWNLOAD)
      continue;
    d->n_peers++;
    if (!got_body(p))
      continue;
    if (has(seg_size(p)))
      mss[d->n_peer_mss++] = seg_size(p);
    if (has(p->rate_bps))
      rate[d->n_peer_rate++] = p->rate_bps;
  }
  d->peer_mss = d->n_peer_mss ? median_i64(mss, d->n_peer_mss) : -1;
  d->peer_rate = d->n_peer_rate ? median_i64(rate, d->n_peer_rate) : -1;
  free(mss);
  free(rate);
}

static void push(char ***lines, size_t *n, size_t *cap, char *s) {
  bw_xgrow(lines, cap, *n + 2, sizeof(**lines));
  (*lines)[(*n)++] = s;
  (*lines)[*n] = NULL;
}

char **bw_diagnose(const struct bw_run *run, const struct bw_run *const *peers, size_t n_peers) {
  char **lines = NULL;
  size_t n = 0, cap = 0;
  struct diag d;
  bw_xgrow(&lines, &cap, 1, sizeof(*lines));
  lines[0] = NULL;
  if (run->kind != BW_KIND_DOWNLOAD)
    return lines;
  peers_summary(&d, run, peers, n_peers);
  for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
    struct bw_buf b = {0};
    if (rules[i].check(&d, &b))
      push(&lines, &n, &cap, bw_buf_take(&b));
    else
      free(b.s);
  }
  return lines;
}

char *bw_diagnose_text(const struct bw_run *run, const struct bw_run *const *peers,
                       size_t n_peers) {
  char **lines = bw_diagnose(run, peers, n_peers);
  struct bw_buf b = {0};
  for (size_t i = 0; lines[i]; i++)
    bw_buf_printf(&b, "%s%s", i ? "; " : "", lines[i]);
  bw_diagnose_free(lines);
  return bw_buf_take(&b);
}

void bw_diagnose_free(char **lines) {
  if (!lines)
    return;
  for (size_t i = 0; lines[i]; i++)
    free(lines[i]);
  free(lines);
}

/* ---- backends compared ---- */

/* One fact compared across backends: how to read it from a run and when a value is odd. */
struct facet {
  const char *name;
  int64_t (*get)(const struct bw_run *r); /* BW_NONE: the run has no value */
  bool (*odd)(int64_t v, int64_t median);
  void (*say)(struct bw_buf *b, int64_t v, int64_t others, size_t n_others);
};

/*
 * Loopback has no path MTU to compare, and its segment sizes are not even stable: the send MSS is
 * held to half the peer's window early in a connection, so one healthy run reads 65483 and the
 * next 32768 depending on when TCP_INFO was read. Such runs have no value here.
 */
static int64_t get_mss(const struct bw_run *r) {
  return seg_size(r); /* none on loopback */
}

static bool odd_mss(int64_t v, int64_t m) {
  return v * 10 > m * 12 || v * 12 < m * 10;
}

static void say_mss(struct bw_buf *b, int64_t v, int64_t others, size_t n) {
  bw_buf_printf(b, "MSS %" PRId64 " vs %" PRId64 " on the other %zu", v, others, n);
}

/* A run without a body byte has rate 0 here: against others' rates, that is what is odd. */
static int64_t get_rate(const struct bw_run *r) {
  if (r->outcome == BW_OUTCOME_ABORTED)
    return BW_NONE;
  return got_body(r) && has(r->rate_bps) ? r->rate_bps : 0;
}

static bool odd_rate(int64_t v, int64_t m) {
  return v * 3 < m || v > m * 3;
}

static void say_rate(struct bw_buf *b, int64_t v, int64_t others, size_t n) {
  (void)n;
  if (v == 0)
    bw_buf_printf(b, "no body byte");
  else
    put_rate(b, (double)v);
  bw_buf_printf(b, " (the others ");
  put_rate(b, (double)others);
  bw_buf_printf(b, ")");
}

static int64_t get_rtt(const struct bw_run *r) {
  return r->tcp_rcv_rtt_max_us;
}

static bool odd_rtt(int64_t v, int64_t m) {
  return (v > 3 * m && v > m + 10000) || (m > 3 * v && m > v + 10000);
}

static void say_rtt(struct bw_buf *b, int64_t v, int64_t others, size_t n) {
  (void)n;
  bw_buf_printf(b, "receive RTT ");
  put_ms(b, v);
  bw_buf_printf(b, " (the others ");
  put_ms(b, others);
  bw_buf_printf(b, ")");
}

static int64_t get_stalls(const struct bw_run *r) {
  return has(r->stalls) ? mid_stalls(r) : BW_NONE;
}

static bool odd_stalls(int64_t v, int64_t m) {
  return (v > 0) != (m > 0);
}

static void say_stalls(struct bw_buf *b, int64_t v, int64_t others, size_t n) {
  (void)n;
  bw_buf_printf(b, "stalled %" PRId64 " time%s (the others %" PRId64 ")", v, v == 1 ? "" : "s",
                others);
}

static const struct facet facets[] = {
    {"mss", get_mss, odd_mss, say_mss},
    {"rate", get_rate, odd_rate, say_rate},
    {"rcv_rtt", get_rtt, odd_rtt, say_rtt},
    {"stalls", get_stalls, odd_stalls, say_stalls},
};
#define N_FACETS (sizeof(facets) / sizeof(facets[0]))

/* The TCP options of most runs, or NULL when no string has a majority. */
static const char *usual_options(const struct bw_run *const *runs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    size_t same = 0;
    if (!runs[i]->tcp_options)
      continue;
    for (size_t k = 0; k < n; k++)
      same += runs[k]->tcp_options && strcmp(runs[k]->tcp_options, runs[i]->tcp_options) == 0;
    if (same * 2 > n)
      return runs[i]->tcp_options;
  }
  return NULL;
}

char **bw_diagnose_odd(const struct bw_run *const *runs, size_t n) {
  char **lines = NULL;
  size_t n_lines = 0, cap = 0;
  bw_xgrow(&lines, &cap, 1, sizeof(*lines));
  lines[0] = NULL;
  if (n < 3)
    return lines;
  /* Which runs are odd in which facet: a facet speaks only where a minority differs. */
  bool *odd = bw_xcalloc(n * N_FACETS + 1, sizeof(*odd));
  int64_t *vals = bw_xmalloc((n + 1) * sizeof(*vals));
  int64_t *others = bw_xmalloc((n * N_FACETS + 1) * sizeof(*others));
  size_t *n_others = bw_xcalloc(n * N_FACETS + 1, sizeof(*n_others));
  for (size_t f = 0; f < N_FACETS; f++) {
    size_t k = 0, n_odd = 0;
    for (size_t i = 0; i < n; i++) {
      int64_t v = runs[i]->kind == BW_KIND_DOWNLOAD ? facets[f].get(runs[i]) : BW_NONE;
      if (has(v))
        vals[k++] = v;
    }
    if (k < 3)
      continue;
    int64_t m = median_i64(vals, k);
    for (size_t i = 0; i < n; i++) {
      int64_t v = runs[i]->kind == BW_KIND_DOWNLOAD ? facets[f].get(runs[i]) : BW_NONE;
      odd[i * N_FACETS + f] = has(v) && facets[f].odd(v, m);
      n_odd += odd[i * N_FACETS + f];
    }
    if (n_odd * 2 >= k) {
      for (size_t i = 0; i < n; i++)
        odd[i * N_FACETS + f] = false;
      continue;
    }
    /* "vs X on the other N": the median of the backends that are not odd in this facet. */
    for (size_t i = 0; i < n; i++) {
      if (!odd[i * N_FACETS + f])
        continue;
      size_t j = 0;
      for (size_t o = 0; o < n; o++) {
        int64_t v = runs[o]->kind == BW_KIND_DOWNLOAD ? facets[f].get(runs[o]) : BW_NONE;
        if (o != i && has(v) && !odd[o * N_FACETS + f])
          vals[j++] = v;
      }
      n_others[i * N_FACETS + f] = j;
      others[i * N_FACETS + f] = j ? median_i64(vals, j) : m;
    }
  }
  const char *opts = usual_options(runs, n);
  for (size_t i = 0; i < n; i++) {
    struct bw_buf b = {0};
    bool any = false;
    bw_buf_printf(&b, "%s differs from the other backends:",
                  runs[i]->backend && runs[i]->backend[0] ? runs[i]->backend : "(no backend)");
    for (size_t f = 0; f < N_FACETS; f++) {
      if (!odd[i * N_FACETS + f])
        continue;
      bw_buf_printf(&b, "%s ", any ? ";" : "");
      facets[f].say(&b, facets[f].get(runs[i]), others[i * N_FACETS + f],
                    n_others[i * N_FACETS + f]);
      any = true;
    }
    if (opts && runs[i]->tcp_options && strcmp(opts, runs[i]->tcp_options) != 0) {
      bw_buf_printf(&b, "%s TCP options %s (the others %s)", any ? ";" : "", runs[i]->tcp_options,
                    opts);
      any = true;
    }
    if (any)
      push(&lines, &n_lines, &cap, bw_buf_take(&b));
    else
      free(b.s);
  }
  free(odd);
  free(vals);
  free(others);
  free(n_others);
  return lines;
}
