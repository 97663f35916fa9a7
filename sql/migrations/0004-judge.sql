-- Version 4: one judge. The detector's memory moves to judge, one row per figure and one for
-- availability; run_mark keeps which runs were bad or excluded from baseline windows.
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

INSERT INTO judge (target_id, metric, good_streak, open_baseline, since_us, last_run_id)
SELECT target_id, metric, good_streak, open_baseline, baseline_since_us, last_run_id
FROM detector WHERE metric <> 'availability';
INSERT INTO judge (target_id, metric, fail_streak, ok_streak, avail_open, last_run_id)
SELECT target_id, 'availability', fail_streak, ok_streak, avail_open, last_run_id
FROM detector WHERE metric <> 'availability';
DROP TABLE detector;
