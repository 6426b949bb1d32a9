-- Why: events were the largest history after RTT, and their (ts) index cost ≈ 120 KiB per
-- endpoint-year (a fifth of the events' own size) while it only bounded fleet-wide windows
-- and retention. Both now seek per endpoint on the (endpoint_id, ts, seq) primary key: the
-- endpoints are enumerated from the key itself, one seek each, so the history of removed
-- endpoints stays reachable. Close-code questions keep their partial index. Dropping an index
-- only frees its pages: quick even on a large file.
--
-- From this version on, rows are also written denser (no schema change, so no SQL here, but a
-- version an older build does not know, so it refuses the file rather than skip rows it cannot
-- read): kinds no query names are one letter ('r' reconnect_scheduled, 'h' handshake_failed,
-- 'p' pong_missed, 'g' gave_up, 's' stale), a handshake failure's elapsed time is in
-- delay_ms and a timeout's phase in phase ('timeout:tcp') instead of JSON, and a reconnect for
-- the usual reason (backoff) has no cause.
-- Rows written before keep their form and read the same.

DROP INDEX events_by_time;
