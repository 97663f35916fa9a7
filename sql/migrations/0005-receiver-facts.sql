-- Version 5: the receiver's side of a download. The client reads TCP_INFO on its own socket, and
-- on a download it is the receiver: what describes the path is the receive RTT and MSS, the bytes
-- and segments received, out-of-order arrivals and the window the client advertised, read through
-- the transfer. With them, the phases that say where a download stopped and how long it stayed
-- silent. tcp_retrans and tcp_pmtu stay (older rows keep their values) but new runs leave them
-- NULL: they were the client's own send-side facts, not the server's or the path's.
--
-- Columns of run rather than a table of their own: each is one figure of bw_run_figures, which the
-- store maps to a run column of the same name, so they are stored, read, exported and judged like
-- every other figure without a join. ADD COLUMN appends each to run's CREATE TABLE text; schema.sql
-- lists them in the same order, at the end of run, so both paths end in the same schema.
ALTER TABLE run ADD COLUMN headers_us INTEGER;
ALTER TABLE run ADD COLUMN last_byte_us INTEGER;
ALTER TABLE run ADD COLUMN end_silence_us INTEGER;
ALTER TABLE run ADD COLUMN stalls INTEGER;
ALTER TABLE run ADD COLUMN stall_first_at_us INTEGER;
ALTER TABLE run ADD COLUMN stall_first_bytes INTEGER;
ALTER TABLE run ADD COLUMN stall_longest_us INTEGER;
ALTER TABLE run ADD COLUMN tcp_rcv_rtt_us INTEGER;
ALTER TABLE run ADD COLUMN tcp_rcv_rtt_max_us INTEGER;
ALTER TABLE run ADD COLUMN tcp_advmss INTEGER;
ALTER TABLE run ADD COLUMN tcp_bytes_received INTEGER;
ALTER TABLE run ADD COLUMN tcp_segs_in INTEGER;
ALTER TABLE run ADD COLUMN tcp_rcv_ooopack INTEGER;
ALTER TABLE run ADD COLUMN tcp_rcv_wnd_min INTEGER;
ALTER TABLE run ADD COLUMN tcp_zero_window INTEGER;
ALTER TABLE run ADD COLUMN tcp_rcvq_max INTEGER;
ALTER TABLE run ADD COLUMN tcp_samples INTEGER;

-- runs_readable gains the new facts people ask for first.
DROP VIEW runs_readable;
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
       r.remote_ip,
       r.error_message
FROM run r
JOIN target t ON t.id = r.target_id;
