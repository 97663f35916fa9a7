-- Version 7: years of history at fleet size. run_day sums each target's runs per UTC day, kept
-- by triggers in the transaction that writes each run, so the daily view and the questions about
-- weeks and months read one row a day instead of every run; run_failed and run_target_failed
-- find the failures of a period among millions of runs. This file also fills run_day from the
-- runs already stored (about 100 s for 26 million runs).

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

-- A run deleted or changed by hand: its day (both days, if it moved) is summed again from the
-- runs left, through run_target_started. A minimum cannot be taken back, hence not a subtraction.
-- When the target itself goes, run_day's rows go with it and nothing is summed again.
CREATE TRIGGER run_day_delete AFTER DELETE ON run
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

-- The runs already stored, summed in one pass over the table in its own order and one sort by
-- target, day and figure, which also gives the medians: the figure is p50_us for a page and
-- rate_bps for a download, never both. The day is grouped on as a number and written as text
-- once per row of run_day. (Walking run_target_started instead reads the table in random order,
-- and a median per day read again through the index: 200 s against 100 s at 26 million runs.)
WITH r AS (
  SELECT target_id, started_us / 86400000000 AS d, started_us, outcome, p50_us, p90_us, rate_bps,
         stall_us, coalesce(p50_us, rate_bps) AS v
  FROM run NOT INDEXED
),
w AS (
  SELECT *, row_number() OVER g AS i, count(*) OVER g - count(v) OVER g AS nulls,
         count(v) OVER g AS n
  FROM r
  WINDOW g AS (PARTITION BY target_id, d ORDER BY v
               ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
)
INSERT INTO run_day (target_id, day, runs, failed_runs, partial_runs, first_us, last_us, p50_runs,
                     p50_sum_us, p50_min_us, p50_max_us, p90_max_us, rate_runs, rate_sum_bps,
                     rate_min_bps, rate_max_bps, stall_us, p50_med_us, rate_med_bps)
SELECT target_id, date(d * 86400, 'unixepoch'), count(*), sum(outcome = 'failed'),
       sum(outcome = 'partial'), min(started_us), max(started_us), count(p50_us), sum(p50_us),
       min(p50_us), max(p50_us), max(p90_us), count(rate_bps), sum(rate_bps), min(rate_bps),
       max(rate_bps), sum(stall_us),
       avg(CASE WHEN p50_us IS NOT NULL AND i - nulls IN ((n + 1) / 2, (n + 2) / 2) THEN v END),
       avg(CASE WHEN p50_us IS NULL AND rate_bps IS NOT NULL
                 AND i - nulls IN ((n + 1) / 2, (n + 2) / 2) THEN v END)
FROM w
GROUP BY target_id, d;

-- One row per target and UTC day, read from run_day: as before, plus the raw columns to filter
-- and sort on. CROSS JOIN keeps target the outer loop, so a range of days is a range of run_day's
-- primary key (target_id, day) for each target, whatever the query sorts on: a few thousand
-- targets, each read where its days are, against millions of rows in day order.
DROP VIEW daily;
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
