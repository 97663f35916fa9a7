-- Parallel downloads and the page tests' transfer rate. A download test with `streams: N` runs N
-- simultaneous transfers: rate_bps is then their aggregate, and each stream's own rate, their
-- extremes and their spread are kept beside it. A page test keeps ab's "Transfer rate" (bytes over
-- the run's wall time) as transfer_bps, beside rps.
--
-- Columns of run, appended in the same order as in schema.sql: each figure is one of
-- bw_run_figures (stored, read, exported and judged like the others), stream_rates one of the
-- run's texts.
ALTER TABLE run ADD COLUMN transfer_bps INTEGER;
ALTER TABLE run ADD COLUMN streams INTEGER;
ALTER TABLE run ADD COLUMN stream_min_bps INTEGER;
ALTER TABLE run ADD COLUMN stream_max_bps INTEGER;
ALTER TABLE run ADD COLUMN stream_spread REAL;
ALTER TABLE run ADD COLUMN stream_rates TEXT;
