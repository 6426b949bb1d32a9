-- Why: the first schema. Endpoints keep their configuration as JSON (heartline-config's
-- EndpointSpec) so new policy fields need no migration; secret header values are never here.
-- History tables are WITHOUT ROWID and keyed (endpoint, time, seq): about half the size of a
-- rowid table plus index, and "one endpoint's window" is a single range seek. Raw pings are
-- never stored one row each: RTT lives in minute/hour/day rollups.

CREATE TABLE endpoints (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    config      TEXT    NOT NULL,
    paused      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- When an agent (the app or `heartline run`) was recording, so time it was not counts as
-- unknown rather than up or down.
CREATE TABLE agent_runs (
    id          INTEGER PRIMARY KEY,
    started_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    stopped_at  INTEGER
);

-- One row per session, written when it opens and completed when it ends.
CREATE TABLE sessions (
    endpoint_id  INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,
    dns_us       INTEGER, -- phases are NULL when the session's opening was not recorded
    tcp_us       INTEGER,
    tls_us       INTEGER,
    upgrade_us   INTEGER,
    peer         TEXT,
    subprotocol  TEXT,
    extensions   TEXT,
    ended_at     INTEGER,
    code         INTEGER,
    reason       TEXT,
    initiator    TEXT,
    cause        TEXT,
    clean        INTEGER,
    messages_in  INTEGER,
    bytes_in     INTEGER,
    messages_out INTEGER,
    bytes_out    INTEGER,
    silent_ms    INTEGER,
    PRIMARY KEY (endpoint_id, started_at, seq)
) WITHOUT ROWID;

-- Health state changes (from is implied by the previous row).
CREATE TABLE states (
    endpoint_id INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    PRIMARY KEY (endpoint_id, ts, seq)
) WITHOUT ROWID;
-- Fleet-wide windows (the timeline across all endpoints) read state changes by time.
CREATE INDEX states_by_time ON states (ts);

-- Every other important event: closes, handshake failures, reconnects, give-ups, missed
-- pongs, staleness, connections. Heartbeats are not events here but rollups.
CREATE TABLE events (
    endpoint_id INTEGER NOT NULL,
    ts          INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    code        INTEGER,
    status      INTEGER,
    phase       TEXT,
    initiator   TEXT,
    cause       TEXT,
    reason      TEXT,
    attempt     INTEGER,
    delay_ms    INTEGER,
    detail      TEXT,
    PRIMARY KEY (endpoint_id, ts, seq)
) WITHOUT ROWID;
-- Covering for the fleet-wide questions ("closes by code over 30 days"): answered from the
-- index alone, without a table lookup per event.
CREATE INDEX events_by_time ON events (ts, kind, code, initiator);

-- RTT per minute: exact count/min/max/sum and percentiles of that minute.
CREATE TABLE rtt_minute (
    endpoint_id INTEGER NOT NULL,
    kind        INTEGER NOT NULL, -- 0 protocol ping, 1 application heartbeat
    minute      INTEGER NOT NULL, -- unix time / 60
    count       INTEGER NOT NULL,
    min_us      INTEGER NOT NULL,
    max_us      INTEGER NOT NULL,
    sum_us      INTEGER NOT NULL,
    p50_us      INTEGER NOT NULL,
    p95_us      INTEGER NOT NULL,
    p99_us      INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, kind, minute)
) WITHOUT ROWID;

-- RTT per hour and per day, with the mergeable histogram so any longer window has true
-- percentiles.
CREATE TABLE rtt_hour (
    endpoint_id INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    hour        INTEGER NOT NULL, -- unix time / 3600
    count       INTEGER NOT NULL,
    min_us      INTEGER NOT NULL,
    max_us      INTEGER NOT NULL,
    sum_us      INTEGER NOT NULL,
    p50_us      INTEGER NOT NULL,
    p95_us      INTEGER NOT NULL,
    p99_us      INTEGER NOT NULL,
    histogram   BLOB    NOT NULL,
    PRIMARY KEY (endpoint_id, kind, hour)
) WITHOUT ROWID;

CREATE TABLE rtt_day (
    endpoint_id INTEGER NOT NULL,
    kind        INTEGER NOT NULL,
    day         INTEGER NOT NULL, -- unix time / 86400
    count       INTEGER NOT NULL,
    min_us      INTEGER NOT NULL,
    max_us      INTEGER NOT NULL,
    sum_us      INTEGER NOT NULL,
    p50_us      INTEGER NOT NULL,
    p95_us      INTEGER NOT NULL,
    p99_us      INTEGER NOT NULL,
    histogram   BLOB    NOT NULL,
    PRIMARY KEY (endpoint_id, kind, day)
) WITHOUT ROWID;

-- Periods Down or Degraded, derived live from state changes; summary is JSON.
CREATE TABLE incidents (
    id             INTEGER PRIMARY KEY,
    endpoint_id    INTEGER NOT NULL,
    kind           TEXT    NOT NULL,
    started_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    ended_by_pause INTEGER NOT NULL DEFAULT 0,
    detect_ms      INTEGER NOT NULL,
    summary        TEXT    NOT NULL
);
-- An incident is identified by endpoint, kind and start: the writer updates it by that key.
CREATE UNIQUE INDEX incidents_by_endpoint ON incidents (endpoint_id, kind, started_at);
CREATE INDEX incidents_by_time ON incidents (started_at);
-- "Incidents overlapping a window" is bounded by the end: open ones, and those ended after it began.
CREATE INDEX incidents_by_end ON incidents (ended_at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
