-- Why: after a year, two thirds of an endpoint's RTT history was old minute and hour rows at
-- ≈ 40–47 bytes each, more than half of it key, record header and cell overhead. Retention
-- now moves minute rows older than two hours into rows of 30 minutes, and hour rows whose
-- histogram was dropped (older than 31 days) into rows of a day: per bucket its count, min,
-- max, sum and p50/p95/p99, exact, as varints relative to each other (≈ 16–20 bytes). Readers
-- merge both forms, so every window keeps the resolution it had. The packed rows stay well
-- under SQLite's in-page limit (≈ 1 000 bytes for these tables), so none spills to an overflow
-- page. Creating two empty tables is instant; existing rows are packed by the retention job,
-- a bounded slice at a time, not here.

CREATE TABLE rtt_minute_packed (
    endpoint_id INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    start       INTEGER NOT NULL, -- first minute (unix time / 60), a multiple of 30
    points      BLOB    NOT NULL,
    PRIMARY KEY (endpoint_id, kind, start)
) WITHOUT ROWID;

CREATE TABLE rtt_hour_packed (
    endpoint_id INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    start       INTEGER NOT NULL, -- first hour (unix time / 3600), a multiple of 24: a UTC day
    points      BLOB    NOT NULL,
    PRIMARY KEY (endpoint_id, kind, start)
) WITHOUT ROWID;
