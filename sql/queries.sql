-- Ready-made history queries for the sqlite3 command line. They read the views in schema.sql, so
-- times are UTC text, latencies milliseconds and rates MB/s (10^6 bytes per second). Run them all:
--
--   sqlite3 -header -column /var/lib/benchwatch/benchwatch.db < queries.sql
--
-- or paste one at the sqlite3 prompt. The daemon may keep writing meanwhile (the database is in
-- WAL mode, readers do not block it). "This week" means the last 7 days, "a day" a UTC day.
-- Each one filters and sorts on the raw columns the indexes hold (started_us, microseconds since
-- the epoch, and day_utc) rather than on a readable time computed for every row, so it reads
-- only the period it asks about however long the history: at 1000 targets and 26 million runs,
-- each takes milliseconds (bench/scale.py). Write your own the same way:
--   WHERE started_us >= unixepoch('now', '-7 days') * 1000000
-- Targets without backends show an empty backend. The file holds plain SQL only (no dot-commands),
-- and tests/unit/test_store.c runs every statement on an empty database and on one with runs.

-- 1. The last 24 hours, one row per target: how many runs, how many did not end ok, the typical
--    page latency and download rate, and when it last ran.
SELECT test,
       backend,
       kind,
       count(*) AS runs,
       sum(outcome <> 'ok') AS not_ok,
       round(avg(median_ms), 2) AS avg_median_ms,
       max(p90_ms) AS worst_p90_ms,
       round(avg(mb_per_s), 3) AS avg_mb_per_s,
       min(mb_per_s) AS min_mb_per_s,
       max(started_utc) AS last_run_utc
FROM runs_readable
WHERE started_us >= unixepoch('now', '-1 day') * 1000000
GROUP BY test, backend, kind
ORDER BY test, backend;

-- 2. The slowest page targets and backends this week: the median of their days' median request
--    times (each day's is the middle run of that day, kept in run_day; not an average the tail
--    can drag), slowest first. A week of days is 8 rows a target, however often it runs.
WITH week AS (
  SELECT test,
         backend,
         median_ms,
         sum(runs) OVER w AS runs,
         row_number() OVER (w ORDER BY median_ms) AS i,
         count(*) OVER w AS n
  FROM daily
  WHERE kind = 'page'
    AND median_ms IS NOT NULL
    AND day_utc >= date('now', '-7 days')
  WINDOW w AS (PARTITION BY target_id)
)
SELECT test,
       backend,
       runs,
       round(avg(median_ms), 2) AS week_median_ms
FROM week
WHERE i IN ((n + 1) / 2, (n + 2) / 2)
GROUP BY test, backend
ORDER BY week_median_ms DESC
LIMIT 20;

-- 3. The slowest download targets and backends this week: the median of their days' median
--    MB/s, slowest first. Partial runs (stopped by max_time or max_bytes) count: their rate up to
--    the cap stands.
WITH week AS (
  SELECT test,
         backend,
         median_mb_per_s,
         sum(runs) OVER w AS runs,
         row_number() OVER (w ORDER BY median_mb_per_s) AS i,
         count(*) OVER w AS n
  FROM daily
  WHERE kind = 'download'
    AND median_mb_per_s IS NOT NULL
    AND day_utc >= date('now', '-7 days')
  WINDOW w AS (PARTITION BY target_id)
)
SELECT test,
       backend,
       runs,
       round(avg(median_mb_per_s), 3) AS week_median_mb_per_s
FROM week
WHERE i IN ((n + 1) / 2, (n + 2) / 2)
GROUP BY test, backend
ORDER BY week_median_mb_per_s ASC
LIMIT 20;

-- 4. Download MB/s per backend per UTC day over the last 30 days, newest day first: the day's
--    average and slowest run, and the seconds spent stalled.
SELECT day_utc,
       test,
       backend,
       runs,
       failed_runs,
       avg_mb_per_s,
       min_mb_per_s,
       stall_s
FROM daily
WHERE kind = 'download'
  AND day_utc >= date('now', '-30 days')
ORDER BY day_utc DESC, test, backend;

-- 5. Failed runs this week by error class (dns, connect, tls, timeout, http, reset, length, ...),
--    most frequent first, with the newest failure's time and message (SQLite takes the bare
--    error_message column from the row that max() picked).
SELECT coalesce(error_class, '(none)') AS error_class,
       test,
       backend,
       count(*) AS failed_runs,
       max(started_utc) AS last_utc,
       error_message AS last_message
FROM runs_readable
WHERE outcome = 'failed'
  AND started_us >= unixepoch('now', '-7 days') * 1000000
GROUP BY error_class, test, backend
ORDER BY failed_runs DESC, error_class, test, backend;

-- 6. Open regressions, oldest first: the metric, since when, its baseline and what it is now.
SELECT test,
       backend,
       metric,
       since_utc,
       baseline,
       observed,
       ratio,
       acked
FROM open_regressions
ORDER BY since_utc, test, backend, metric;

-- 7. When did it start? The runs of the newest regression's target around its opening: the
--    twelve runs before the one that opened it, that run, and the twelve after.
WITH g AS (
  SELECT target_id, opened_us, open_run_id FROM regression ORDER BY opened_us DESC LIMIT 1
),
around AS (
  SELECT * FROM (SELECT r.* FROM runs_readable r, g
                 WHERE r.target_id = g.target_id AND r.started_us < g.opened_us
                 ORDER BY r.started_us DESC LIMIT 12)
  UNION ALL
  SELECT * FROM (SELECT r.* FROM runs_readable r, g
                 WHERE r.target_id = g.target_id AND r.started_us >= g.opened_us
                 ORDER BY r.started_us LIMIT 13)
)
SELECT started_utc, test, backend, outcome, median_ms, mb_per_s,
       CASE WHEN run_id = (SELECT open_run_id FROM g) THEN '<- opened here' ELSE '' END AS note
FROM around
ORDER BY started_us;
