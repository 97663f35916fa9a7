-- Version 8: retention. The prune table records each pass of benchwatch prune (and the daemon's
-- daily one); a run deleted below a retention boundary no longer sums its day again, so run_day
-- keeps the days of history whose runs are gone.
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

DROP TRIGGER run_day_delete;

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
