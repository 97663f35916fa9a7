-- benchwatch schema: what a new database gets. An older database is brought here by the
-- numbered files in migrations/; PRAGMA user_version holds the version.
--
-- Times are integer microseconds: started_us is since the Unix epoch (UTC), the *_us figures are
-- durations. Rates are bytes per second, sizes bytes. The views below show readable times and
-- MB/s (10^6 bytes) for people using the sqlite3 CLI.

-- One row per (test, backend); backend is '' for a test without backends. The id is stable across
-- restarts and config reloads because it is looked up by name.
CREATE TABLE target (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  backend    TEXT NOT NULL DEFAULT '',
  kind       TEXT NOT NULL CHECK (kind IN ('page', 'download', 'connect')),
  url        TEXT NOT NULL,
  created_us INTEGER NOT NULL,
  UNIQUE (name, backend)
);

-- One row per execution of a target, failures included. A figure that was not measured is NULL,
-- never 0.
CREATE TABLE run (
  id               INTEGER PRIMARY KEY,
  target_id        INTEGER NOT NULL REFERENCES target (id) ON DELETE CASCADE,
  started_us       INTEGER NOT NULL,
  duration_us      INTEGER,
  outcome          TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'partial', 'aborted')),
  error_class      TEXT,
  error_message    TEXT,
  remote_ip        TEXT,
  remote_port      INTEGER,
  http_version     TEXT,
  status           INTEGER,
  -- page: ab's summary
  requests         INTEGER,
  complete         INTEGER,
  failed           INTEGER,
  failed_connect   INTEGER,
  failed_receive   INTEGER,
  failed_length    INTEGER,
  failed_exception INTEGER,
  non_2xx          INTEGER,
  bytes            INTEGER,
  html_bytes       INTEGER,
  rps              REAL,
  min_us           INTEGER,
  mean_us          INTEGER,
  sd_us            INTEGER,
  p50_us           INTEGER,
  p90_us           INTEGER,
  p95_us           INTEGER,
  p99_us           INTEGER,
  max_us           INTEGER,
  mode_us          INTEGER,
  connect_p50_us   INTEGER,
  ttfb_p50_us      INTEGER,
  -- download: wget's figures, the timeline's extremes and the socket's TCP_INFO at the end
  rate_bps         INTEGER,
  ttfb_us          INTEGER,
  stall_us         INTEGER,
  min_rate_bps     INTEGER,
  max_rate_bps     INTEGER,
  tcp_rtt_us       INTEGER,
  tcp_rttvar_us    INTEGER,
  tcp_retrans      INTEGER,
  tcp_pmtu         INTEGER,
  tcp_snd_mss      INTEGER,
  tcp_rcv_mss      INTEGER,
  tcp_rcv_space    INTEGER,
  tcp_options      TEXT,
  -- download, from version 5: the phases (where it stopped, how long silent) and the receiver's
  -- TCP facts read through the transfer (README "TCP facts"); tcp_retrans and tcp_pmtu above are
  -- the client's own send-side facts and stay NULL in new runs
  headers_us         INTEGER,
  last_byte_us       INTEGER,
  end_silence_us     INTEGER,
  stalls             INTEGER,
  stall_first_at_us  INTEGER,
  stall_first_bytes  INTEGER,
  stall_longest_us   INTEGER,
  tcp_rcv_rtt_us     INTEGER,
  tcp_rcv_rtt_max_us INTEGER,
  tcp_advmss         INTEGER,
  tcp_bytes_received INTEGER,
  tcp_segs_in        INTEGER,
  tcp_rcv_ooopack    INTEGER,
  tcp_rcv_wnd_min    INTEGER,
  tcp_zero_window    INTEGER,
  tcp_rcvq_max       INTEGER,
  tcp_samples        INTEGER,
  transfer_bps   INTEGER,
  -- from version 9 (migrations/0009-streams.sql), transfer_bps above included: a page test's
  -- bytes over its wall time (ab's "Transfer rate"); a download with streams: how many ran at
  -- once (rate_bps is then their aggregate), the slowest and fastest stream's rate, the sd of the
  -- streams' rates over their mean, and each stream's rate in bytes/s, blank-separated in order
  streams        INTEGER,
  stream_min_bps INTEGER,
  stream_max_bps INTEGER,
  stream_spread  REAL,
  stream_rates   TEXT,
  -- from version 10 (migrations/0010-engine.sql): a page run's client, "lean" or "curl"; NULL for
  -- downloads and older runs
  engine         TEXT,
  -- from version 11 (migrations/0011-connect.sql): a connect test's median TLS handshake (https)
  tls_p50_us     INTEGER,
  -- from version 12 (migrations/0012-requests.sql): Page tests with expect: responses that failed the check (counted in failed too). TLS tests:
  -- when the server's certificate expires (its notAfter), microseconds since the epoch.
  failed_check    INTEGER,
  cert_expires_us INTEGER
);
-- History and baseline windows: one target's runs in time order.
CREATE INDEX run_target_started ON run (target_id, started_us);
-- Reports over all targets for a period.
CREATE INDEX run_started ON run (started_us);

-- One row per target and UTC day that has runs: what the daily view shows, summed so that a new
-- run only adds to it. Sums and counts of a figure leave out the runs that did not measure it,
-- so sum / count is the mean of those that did; NULL when none did. A median cannot be summed:
-- the day's medians are taken again from its runs (through run_target_started) when it has 32
-- runs or fewer, when its count reaches a power of two, and when the target's next day begins,
-- so they are exact for every day that is over and for a day of hourly runs, and cost a target
-- that runs every minute about three reads of a run per run stored (taking them at every run
-- made storing 14,400 minutely runs 11 s instead of 0.03 s).
CREATE TABLE run_day (
  target_id    INTEGER NOT NULL REFERENCES target (id) ON DELETE CASCADE,
  day          TEXT NOT NULL,        -- UTC day, YYYY-MM-DD, as date(started_us / 1000000, 'unixepoch')
  runs         INTEGER NOT NULL,
  failed_runs  INTEGER NOT NULL,
  partial_runs INTEGER NOT NULL,
  first_us     INTEGER NOT NULL,     -- the day's first and last run's started_us
  last_us      INTEGER NOT NULL,
  p50_runs     INTEGER NOT NULL,     -- runs with a p50_us
  p50_sum_us   INTEGER,
  p50_min_us   INTEGER,
  p50_max_us   INTEGER,
  p50_med_us   REAL,                 -- the median of the day's p50_us (see above)
  p90_max_us   INTEGER,
  rate_runs    INTEGER NOT NULL,     -- runs with a rate_bps
  rate_sum_bps INTEGER,
  rate_min_bps INTEGER,
  rate_max_bps INTEGER,
  rate_med_bps REAL,                 -- the median of the day's rate_bps (see above)
  stall_us     INTEGER,              -- the sum of the runs' stall_us
  PRIMARY KEY (target_id, day)
) WITHOUT ROWID;

-- A run adds itself to its day. An UPSERT in a trigger: max(a, b) is NULL if either is, hence
-- the coalesce.
CREATE TRIGGER run_day_insert AFTER INSERT ON run
BEGIN
  INSERT INTO run_day (target_id, day, runs, failed_runs, partial_runs, first_us, last_us, p50_runs,
                       p50_sum_us, p50_min_us, p50_max_us, p90_max_us, rate_runs, rate_sum_bps,
                       rate_min_bps, rate_max_bps, stall_us)
  VALUES (NEW.target_id, date(NEW.started_us / 1000000, 'unixepoch'), 1, NEW.outcome = 'failed',
          NEW.outcome = 'partial', NEW.started_us, NEW.started_us, NEW.p50_us IS NOT NULL,
          NEW.p50_us, NEW.p50_us, NEW.p50_us, NEW.p90_us, NEW.rate_bps IS NOT NULL, NEW.rate_bps,
          NEW.rate_bps, NEW.rate_bps, NEW.stall_us)
  ON CONFLICT (target_id, day) DO UPDATE SET
    runs = runs + 1,
    failed_runs = failed_runs + excluded.failed_runs,
    partial_runs = partial_runs + excluded.partial_runs,
    first_us = min(first_us, excluded.first_us),
    last_us = max(last_us, excluded.last_us),
    p50_runs = p50_runs + excluded.p50_runs,
    p50_sum_us = coalesce(p50_sum_us + excluded.p50_sum_us, p50_sum_us, excluded.p50_sum_us),
    p50_min_us = coalesce(min(p50_min_us, excluded.p50_min_us), p50_min_us, excluded.p50_min_us),
    p50_max_us = coalesce(max(p50_max_us, excluded.p50_max_us), p50_max_us, excluded.p50_max_us),
    p90_max_us = coalesce(max(p90_max_us, excluded.p90_max_us), p90_max_us, excluded.p90_max_us),
    rate_runs = rate_runs + excluded.rate_runs,
    rate_sum_bps = coalesce(rate_sum_bps + excluded.rate_sum_bps, rate_sum_bps,
                            excluded.rate_sum_bps),
    rate_min_bps = coalesce(min(rate_min_bps, excluded.rate_min_bps), rate_min_bps,
                            excluded.rate_min_bps),
    rate_max_bps = coalesce(max(rate_max_bps, excluded.rate_max_bps), rate_max_bps,
                            excluded.rate_max_bps),
    stall_us = coalesce(stall_us + excluded.stall_us, stall_us, excluded.stall_us);
  UPDATE run_day SET
    p50_med_us = CASE WHEN p50_runs > 0 THEN (
      SELECT avg(v) FROM (SELECT p50_us AS v, row_number() OVER (ORDER BY p50_us) AS i,
                                 count(*) OVER () AS n
                          FROM run
                          WHERE run.target_id = run_day.target_id
                            AND started_us BETWEEN run_day.first_us AND run_day.last_us
                            AND p50_us IS NOT NULL)
      WHERE i IN ((n + 1) / 2, (n + 2) / 2)) END,
    rate_med_bps = CASE WHEN rate_runs > 0 THEN (
      SELECT avg(v) FROM (SELECT rate_bps AS v, row_number() OVER (ORDER BY rate_bps) AS i,
                                 count(*) OVER () AS n
                          FROM run
                          WHERE run.target_id = run_day.target_id
                            AND started_us BETWEEN run_day.first_us AND run_day.last_us
                            AND rate_bps IS NOT NULL)
      WHERE i IN ((n + 1) / 2, (n + 2) / 2)) END
  WHERE target_id = NEW.target_id
    AND day IN (date(NEW.started_us / 1000000, 'unixepoch'),
                (SELECT max(day) FROM run_day
                 WHERE target_id = NEW.target_id
                   AND day < date(NEW.started_us / 1000000, 'unixepoch')))
    AND CASE WHEN day = date(NEW.started_us / 1000000, 'unixepoch')
             THEN runs <= 32 OR (runs & (runs - 1)) = 0
             ELSE (SELECT runs FROM run_day
                   WHERE target_id = NEW.target_id
                     AND day = date(NEW.started_us / 1000000, 'unixepoch')) = 1 END;
END;

-- Retention (benchwatch prune, and the daemon once a day): each pass that deleted history. Runs
-- started before runs_before_us are gone, except those a regression names or an open one's
-- baseline needs; their days stay in run_day as they were (deleting them sums nothing again).
-- Samples of runs started before samples_before_us are gone.
CREATE TABLE prune (
  id                INTEGER PRIMARY KEY,
  at_us             INTEGER NOT NULL,  -- when the pass began
  done_us           INTEGER,           -- when it ended; NULL: it was cut short
  samples_before_us INTEGER,           -- NULL: samples were not pruned
  runs_before_us    INTEGER,           -- NULL: runs were not pruned
  samples           INTEGER NOT NULL DEFAULT 0,  -- rows deleted
  runs              INTEGER NOT NULL DEFAULT 0
);

-- A run deleted or changed by hand: its day (both days, if it moved) is summed again from the
-- runs left, through run_target_started. A minimum cannot be taken back, hence not a subtraction.
-- When the target itself goes, run_day's rows go with it and nothing is summed again. A run older
-- than a retention boundary (table prune) leaves its day as it was: the day outlives its runs.
CREATE TRIGGER run_day_delete AFTER DELETE ON run
WHEN NOT EXISTS (SELECT 1 FROM prune WHERE OLD.started_us < prune.runs_before_us)
BEGIN
  DELETE FROM run_day WHERE target_id = OLD.target_id
                        AND day = date(OLD.started_us / 1000000, 'unixepoch');
  INSERT INTO run_day (target_id, day, runs, failed_runs, partial_runs, first_us, last_us, p50_runs,
                       p50_sum_us, p50_min_us, p50_max_us, p90_max_us, rate_runs, rate_sum_bps,
                       rate_min_bps, rate_max_bps, stall_us)
  SELECT target_id, date(started_us / 1000000, 'unixepoch'), count(*), sum(outcome = 'failed'),
         sum(outcome = 'partial'), min(started_us), max(started_us), count(p50_us), sum(p50_us),
         min(p50_us), max(p50_us), max(p90_us), count(rate_bps), sum(rate_bps), min(rate_bps),
         max(rate_bps), sum(stall_us)
  FROM run
  WHERE target_id = OLD.target_id
    AND started_us >= unixepoch(date(OLD.started_us / 1000000, 'unixepoch')) * 1000000
    AND started_us < unixepoch(date(OLD.started_us / 1000000, 'unixepoch'), '+1 day') * 1000000
    AND EXISTS (SELECT 1 FROM target WHERE id = OLD.target_id)
  GROUP BY target_id;
  UPDATE run_day SET p50_med_us = (
    SELECT avg(v) FROM (SELECT p50_us AS v, row_number() OVER (ORDER BY p50_us) AS i,
                               count(*) OVER () AS n
                        FROM run
                        WHERE run.target_id = run_day.target_id
                          AND started_us BETWEEN run_day.first_us AND run_day.last_us
                          AND p50_us IS NOT NULL)
    WHERE i IN ((n + 1) / 2, (n + 2) / 2)),
  rate_med_bps = (
    SELECT avg(v) FROM (SELECT rate_bps AS v, row_number() OVER (ORDER BY rate_bps) AS i,
                               count(*) OVER () AS n
                        FROM run
                        WHERE run.target_id = run_day.target_id
                          AND started_us BETWEEN run_day.first_us AND run_day.last_us
                          AND rate_bps IS NOT NULL)
    WHERE i IN ((n + 1) / 2, (n + 2) / 2))
  WHERE target_id = OLD.target_id AND day = date(OLD.started_us / 1000000, 'unixepoch');
END;

CREATE TRIGGER run_day_update AFTER UPDATE OF target_id, started_us, outcome, p50_us, p90_us,
  rate_bps, stall_us ON run
BEGIN
  DELETE FROM run_day WHERE (target_id = OLD.target_id
                             AND day = date(OLD.started_us / 1000000, 'unixepoch'))
                         OR (target_id = NEW.target_id
                             AND day = date(NEW.started_us / 1000000, 'unixepoch'));
  INSERT INTO run_day (target_id, day, runs, failed_runs, partial_runs, first_us, last_us, p50_runs,
                       p50_sum_us, p50_min_us, p50_max_us, p90_max_us, rate_runs, rate_sum_bps,
                       rate_min_bps, rate_max_bps, stall_us)
  SELECT target_id, date(started_us / 1000000, 'unixepoch') AS d, count(*),
         sum(outcome = 'failed'), sum(outcome = 'partial'), min(started_us), max(started_us),
         count(p50_us), sum(p50_us), min(p50_us), max(p50_us), max(p90_us), count(rate_bps),
         sum(rate_bps), min(rate_bps), max(rate_bps), sum(stall_us)
  FROM run
  WHERE (target_id = OLD.target_id
         AND started_us >= unixepoch(date(OLD.started_us / 1000000, 'unixepoch')) * 1000000
         AND started_us < unixepoch(date(OLD.started_us / 1000000, 'unixepoch'), '+1 day') * 1000000)
     OR (target_id = NEW.target_id
         AND started_us >= unixepoch(date(NEW.started_us / 1000000, 'unixepoch')) * 1000000
         AND started_us < unixepoch(date(NEW.started_us / 1000000, 'unixepoch'), '+1 day') * 1000000)
  GROUP BY target_id, d;
  UPDATE run_day SET p50_med_us = (
    SELECT avg(v) FROM (SELECT p50_us AS v, row_number() OVER (ORDER BY p50_us) AS i,
                               count(*) OVER () AS n
                        FROM run
                        WHERE run.target_id = run_day.target_id
                          AND started_us BETWEEN run_day.first_us AND run_day.last_us
                          AND p50_us IS NOT NULL)
    WHERE i IN ((n + 1) / 2, (n + 2) / 2)),
  rate_med_bps = (
    SELECT avg(v) FROM (SELECT rate_bps AS v, row_number() OVER (ORDER BY rate_bps) AS i,
                               count(*) OVER () AS n
                        FROM run
                        WHERE run.target_id = run_day.target_id
                          AND started_us BETWEEN run_day.first_us AND run_day.last_us
                          AND rate_bps IS NOT NULL)
    WHERE i IN ((n + 1) / 2, (n + 2) / 2))
  WHERE (target_id = OLD.target_id AND day = date(OLD.started_us / 1000000, 'unixepoch'))
     OR (target_id = NEW.target_id AND day = date(NEW.started_us / 1000000, 'unixepoch'));
END;

-- Failures over a period, for all targets and for one (the report's failures by error class):
-- a few rows against every run.
CREATE INDEX run_failed ON run (started_us) WHERE outcome = 'failed';
CREATE INDEX run_target_failed ON run (target_id, started_us) WHERE outcome = 'failed';

-- The detail of a run: one row per request (page) or per timeline interval (download). Each is
-- something that started at_us after the run began, took duration_us and moved bytes.
CREATE TABLE sample (
  run_id      INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
  seq         INTEGER NOT NULL,
  at_us       INTEGER NOT NULL,
  duration_us INTEGER NOT NULL,
  bytes       INTEGER NOT NULL,
  status      INTEGER,
  dns_us      INTEGER,
  connect_us  INTEGER,
  tls_us      INTEGER,
  ttfb_us     INTEGER,
  error_class TEXT,
  PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

-- A departure from a target's baseline, from the run that opened it to the run that closed it.
CREATE TABLE regression (
  id           INTEGER PRIMARY KEY,
  target_id    INTEGER NOT NULL REFERENCES target (id) ON DELETE CASCADE,
  metric       TEXT NOT NULL,
  opened_us    INTEGER NOT NULL,
  open_run_id  INTEGER REFERENCES run (id) ON DELETE SET NULL,
  closed_us    INTEGER,
  close_run_id INTEGER REFERENCES run (id) ON DELETE SET NULL,
  baseline     REAL,
  observed     REAL,
  ratio        REAL,
  acked_us     INTEGER
);
CREATE INDEX regression_target ON regression (target_id, opened_us);
-- At most one open regression per target and metric.
CREATE UNIQUE INDEX regression_open ON regression (target_id, metric) WHERE closed_us IS NULL;

-- What the judge remembers between runs, per target and metric (a figure such as p50_us, or
-- 'availability'): the CUSUM of evidence and the episode it belongs to, the baseline frozen
-- while a regression is open, the streaks of failed and working runs, and where the baseline
-- window starts (moved by an ack).
CREATE TABLE judge (
  target_id     INTEGER NOT NULL REFERENCES target (id) ON DELETE CASCADE,
  metric        TEXT NOT NULL,
  cusum         REAL NOT NULL DEFAULT 0,
  episode_runs  INTEGER NOT NULL DEFAULT 0,
  episode_bad   INTEGER NOT NULL DEFAULT 0,
  rate          REAL NOT NULL DEFAULT 0,
  episode_us    INTEGER NOT NULL DEFAULT 0,
  good_streak   INTEGER NOT NULL DEFAULT 0,
  open_baseline REAL,
  fail_streak   INTEGER NOT NULL DEFAULT 0,
  ok_streak     INTEGER NOT NULL DEFAULT 0,
  avail_open    INTEGER NOT NULL DEFAULT 0,
  since_us      INTEGER NOT NULL DEFAULT 0,
  last_run_id   INTEGER,
  PRIMARY KEY (target_id, metric)
) WITHOUT ROWID;

-- The runs the judge found bad for a metric (they tell later windows how often this target is
-- bad by chance), and those excluded from every later baseline window: judged bad while a
-- regression of that metric was open, or part of the spell that opened it.
CREATE TABLE run_mark (
  run_id   INTEGER NOT NULL REFERENCES run (id) ON DELETE CASCADE,
  metric   TEXT NOT NULL,
  excluded INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, metric)
) WITHOUT ROWID;

-- The nightly reports, composed and kept until delivered, so none is lost to a mail server
-- that is down: one row per local calendar day.
CREATE TABLE report (
  day          INTEGER PRIMARY KEY,  -- local calendar day, YYYYMMDD
  created_us   INTEGER NOT NULL,
  subject      TEXT NOT NULL,
  message      TEXT NOT NULL,        -- the whole RFC 5322 message as sent
  attempts     INTEGER NOT NULL DEFAULT 0,
  sent_us      INTEGER,              -- NULL until the mail server accepted it
  last_error   TEXT
);

-- The client's network environment towards a target (lib/bw_env.h): one row each time it
-- changed, written with the first run that saw it; a run's environment is the target's latest
-- row that began at or before it. NULL: not known (the sysctl unreadable, no route).
CREATE TABLE env (
  id             INTEGER PRIMARY KEY,
  target_id      INTEGER NOT NULL REFERENCES target (id) ON DELETE CASCADE,
  since_us       INTEGER NOT NULL,     -- the start of the first run with this environment
  run_id         INTEGER REFERENCES run (id) ON DELETE SET NULL,
  ifname         TEXT,                 -- the interface of the route to the target
  mtu            INTEGER,              -- its MTU, bytes
  tcp_timestamps INTEGER,              -- net.ipv4.tcp_timestamps
  tcp_rmem       TEXT,                 -- net.ipv4.tcp_rmem, "min,default,max"
  tcp_wmem       TEXT,                 -- net.ipv4.tcp_wmem
  tcp_cc         TEXT                  -- net.ipv4.tcp_congestion_control
);
CREATE INDEX env_target ON env (target_id, since_us);

-- Views for people. *_utc and *_local are readable times; ms and MB/s (10^6 bytes per second)
-- are rounded for reading, the tables keep the exact figures.
CREATE VIEW runs_readable AS
SELECT r.id AS run_id,
       r.target_id,
       r.started_us,
       t.name AS test,
       t.backend,
       t.kind,
       datetime(r.started_us / 1000000, 'unixepoch') AS started_utc,
       datetime(r.started_us / 1000000, 'unixepoch', 'localtime') AS started_local,
       r.outcome,
       r.error_class,
       round(r.duration_us / 1e6, 3) AS seconds,
       r.status,
       r.requests,
       r.failed,
       round(r.p50_us / 1e3, 2) AS median_ms,
       round(r.p90_us / 1e3, 2) AS p90_ms,
       round(r.mode_us / 1e3, 2) AS mode_ms,
       round(r.rps, 1) AS rps,
       r.bytes,
       round(r.rate_bps / 1e6, 3) AS mb_per_s,
       round(r.ttfb_us / 1e3, 2) AS ttfb_ms,
       round(r.stall_us / 1e6, 1) AS stall_s,
       round(r.tcp_rtt_us / 1e3, 2) AS rtt_ms,
       r.tcp_retrans AS retrans,
       r.tcp_pmtu AS pmtu,
       round(r.headers_us / 1e3, 2) AS headers_ms,
       r.stalls,
       round(r.tcp_rcv_rtt_max_us / 1e3, 2) AS rcv_rtt_ms,
       r.tcp_rcv_mss AS rcv_mss,
       r.tcp_rcv_ooopack AS out_of_order,
       r.tcp_zero_window AS zero_window,
       round(r.transfer_bps / 1e6, 3) AS transfer_mb_per_s,
       r.streams,
       round(r.stream_min_bps / 1e6, 3) AS stream_min_mb_per_s,
       round(r.stream_spread, 3) AS stream_spread,
       round(r.connect_p50_us / 1e3, 2) AS connect_ms,
       round(r.tls_p50_us / 1e3, 2) AS tls_ms,
       r.engine,
       r.failed_check,
       datetime(r.cert_expires_us / 1000000, 'unixepoch') AS cert_expires_utc,
       r.remote_ip,
       r.error_message
FROM run r
JOIN target t ON t.id = r.target_id;

CREATE VIEW open_regressions AS
SELECT g.id,
       t.name AS test,
       t.backend,
       g.metric,
       datetime(g.opened_us / 1000000, 'unixepoch') AS since_utc,
       datetime(g.opened_us / 1000000, 'unixepoch', 'localtime') AS since_local,
       g.baseline,
       g.observed,
       round(g.ratio, 2) AS ratio,
       g.acked_us IS NOT NULL AS acked
FROM regression g
JOIN target t ON t.id = g.target_id
WHERE g.closed_us IS NULL;

-- One row per target and UTC day, read from run_day: runs, failures and the day's typical
-- figures, with the raw columns to filter and sort on. CROSS JOIN keeps target the outer loop, so
-- a range of days is a range of run_day's primary key (target_id, day) for each target, whatever
-- the query sorts on: a few thousand targets, each read where its days are, against millions of
-- rows in day order.
CREATE VIEW daily AS
SELECT t.name AS test,
       t.backend,
       t.kind,
       d.day AS day_utc,
       d.runs,
       d.failed_runs,
       d.partial_runs,
       round(d.p50_sum_us / 1e3 / d.p50_runs, 2) AS avg_median_ms,
       round(d.p90_max_us / 1e3, 2) AS worst_p90_ms,
       round(d.rate_sum_bps / 1e6 / d.rate_runs, 3) AS avg_mb_per_s,
       round(d.rate_min_bps / 1e6, 3) AS min_mb_per_s,
       round(d.stall_us / 1e6, 1) AS stall_s,
       round(d.p50_med_us / 1e3, 2) AS median_ms,
       round(d.rate_med_bps / 1e6, 3) AS median_mb_per_s,
       round(d.p50_min_us / 1e3, 2) AS best_median_ms,
       round(d.rate_max_bps / 1e6, 3) AS max_mb_per_s,
       datetime(d.last_us / 1000000, 'unixepoch') AS last_run_utc,
       d.target_id,
       d.first_us,
       d.last_us
FROM target t
CROSS JOIN run_day d ON d.target_id = t.id;
