-- Why: "closes by code and initiator over the last 30 days, every endpoint" read each closed
-- event of the window from events_closed_by_time: about 94 000 index entries for a year of
-- 1 000 endpoints, 36 ms median and 59 ms p95 against the dashboard's 50 ms, and growing with
-- the close rate (a reconnect storm adds thousands a day). Counts per UTC day answer a
-- window's whole days from a few rows each; only the partial days at its edges still read
-- events. Triggers on events keep the counts exact for every writer, retention's deletes
-- included, so no code path can forget them. The table is fleet-wide (no endpoint column):
-- one row per day and (code, initiator), a few hundred a year whatever the fleet's size.

CREATE TABLE close_counts (
    day       INTEGER NOT NULL, -- UTC days since 1970-01-01: ts / 86 400 000
    code      INTEGER NOT NULL,
    initiator TEXT    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (day, code, initiator)
) WITHOUT ROWID;

INSERT INTO close_counts (day, code, initiator, n)
SELECT ts / 86400000, code, initiator, count(*) FROM events
WHERE kind = 'closed' AND code IS NOT NULL AND initiator IS NOT NULL
GROUP BY 1, 2, 3;

CREATE TRIGGER close_counts_on_insert AFTER INSERT ON events
WHEN new.kind = 'closed' AND new.code IS NOT NULL AND new.initiator IS NOT NULL
BEGIN
    INSERT INTO close_counts (day, code, initiator, n)
    VALUES (new.ts / 86400000, new.code, new.initiator, 1)
    ON CONFLICT (day, code, initiator) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER close_counts_on_delete AFTER DELETE ON events
WHEN old.kind = 'closed' AND old.code IS NOT NULL AND old.initiator IS NOT NULL
BEGIN
    UPDATE close_counts SET n = n - 1
    WHERE day = old.ts / 86400000 AND code = old.code AND initiator = old.initiator;
    DELETE FROM close_counts
    WHERE day = old.ts / 86400000 AND code = old.code AND initiator = old.initiator AND n <= 0;
END;
