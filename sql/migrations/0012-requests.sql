-- Requests as clients make them. A page test may check each response (expect:): the responses
-- that failed the check are counted in failed_check (and in failed). A TLS test keeps when the
-- server's certificate expires (its notAfter, microseconds since the epoch), for the report to warn ahead.
--
-- Columns of run, appended in the same order as in schema.sql: each is one of bw_run_figures.
ALTER TABLE run ADD COLUMN failed_check INTEGER;
ALTER TABLE run ADD COLUMN cert_expires_us INTEGER;
