-- Version 2: what regression detection remembers between runs, per target and metric
-- (the metric 'availability' for runs that failed outright).
CREATE TABLE detector (
  target_id         INTEGER NOT NULL REFERENCES target (id) ON DELETE CASCADE,
  metric            TEXT NOT NULL,
  bad_streak        INTEGER NOT NULL DEFAULT 0,
  good_streak       INTEGER NOT NULL DEFAULT 0,
  fail_streak       INTEGER NOT NULL DEFAULT 0,
  ok_streak         INTEGER NOT NULL DEFAULT 0,
  open_baseline     REAL,
  avail_open        INTEGER NOT NULL DEFAULT 0,
  baseline_since_us INTEGER NOT NULL DEFAULT 0,
  last_run_id       INTEGER,
  PRIMARY KEY (target_id, metric)
) WITHOUT ROWID;
