//! The one writer: batches events and finished minutes into transactions, merges each minute
//! into its hour and day rows (read back, not cached), runs retention, and survives a disk that refuses writes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use heartline_core::{
    EndpointId, Event, EventKind, Histogram, IncidentChange, PingKind, Rollup, Timestamp,
};

use crate::recorder::{MinuteRollup, Op, RecorderOptions, WriterHealth};
use crate::{Result, Store};

/// Longest pause between retries while the disk refuses writes.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);
/// Room the batch buffers keep between batches (events, incidents, minutes each): a quiet
/// second's worth. Round trips never come here, so a steady fleet sends a few events a
/// second; 1,024 of each (an event is 168 bytes, an incident change 192) kept ~450 KB for
/// the bursts, which grow the buffers again when they come.
const KEEP_CAPACITY: usize = 64;

/// Endpoints whose hour (or day) rows one statement reads back.
const READ_BACK_CHUNK: usize = 256;

/// Longest the writer spends on retention per tick.
const RETENTION_SLICE: Duration = Duration::from_millis(50);

pub(crate) struct Writer {
    conn: SqliteConnection,
    rx: mpsc::Receiver<Op>,
    health: Arc<WriterHealth>,
    options: RecorderOptions,
    run_id: i64,
    seq: i64,
    /// The row key of each endpoint's open session.
    open_sessions: HashMap<EndpointId, (i64, i64)>,
    events: Vec<Event>,
    incidents: Vec<IncidentChange>,
    minutes: Vec<MinuteRollup>,
    retry_at: Option<Instant>,
    retry_delay: Duration,
    last_retention: Instant,
    /// The retention run in progress, done a slice per tick.
    retention_job: Option<crate::retention::Job>,
    max_size: tokio::sync::watch::Receiver<Option<u64>>,
    /// The background integrity check: damage stops writes.
    integrity: tokio::sync::watch::Receiver<crate::Integrity>,
}

fn now_ms() -> i64 {
    Timestamp::from_system(SystemTime::now()).0
}

impl Writer {
    pub(crate) async fn start(
        store: &Store,
        rx: mpsc::Receiver<Op>,
        health: Arc<WriterHealth>,
        options: RecorderOptions,
        mut max_size: tokio::sync::watch::Receiver<Option<u64>>,
    ) -> Result<Writer> {
        let mut conn = store.connect_writer().await?;
        let now = now_ms();
        // A run that ended without saying so (a crash) stopped when it was last seen.
        sqlx::query("UPDATE agent_runs SET stopped_at = last_seen WHERE stopped_at IS NULL")
            .execute(&mut conn)
            .await?;
        let run_id = sqlx::query("INSERT INTO agent_runs (started_at, last_seen) VALUES (?, ?)")
            .bind(now)
            .bind(now)
            .execute(&mut conn)
            .await?
            .last_insert_rowid();
        // Apply the initial size limit before the first write.
        max_size.mark_changed();
        Ok(Writer {
            conn,
            rx,
            health,
            options,
            run_id,
            // Unique across runs without reading anything back.
            seq: run_id << 32,
            open_sessions: HashMap::new(),
            events: Vec::new(),
            incidents: Vec::new(),
            minutes: Vec::new(),
            retry_at: None,
            retry_delay: Duration::from_millis(500),
            last_retention: Instant::now(),
            retention_job: None,
            max_size,
            integrity: store.integrity_watch(),
        })
    }

    pub(crate) async fn run(mut self, mut stop: oneshot::Receiver<()>) -> Result<()> {
        let mut tick = tokio::time::interval(self.options.flush_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = &mut stop => break,
                event = self.rx.recv() => match event {
                    Some(e) => {
                        self.accept(e);
                        if self.events.len() >= self.options.batch {
                            self.flush().await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => {
                    self.flush().await;
                    if self.retention_job.is_none()
                        && self.last_retention.elapsed() >= self.options.retention_every
                    {
                        self.last_retention = Instant::now();
                        self.start_retention().await;
                    }
                    self.retention_slice().await;
                }
            }
        }
        // Shutdown: everything queued, every partial minute, then a few quick retries.
        while let Ok(e) = self.rx.try_recv() {
            self.accept(e);
        }
        for _ in 0..3 {
            self.retry_at = None;
            if self.flush().await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let _ = sqlx::query("UPDATE agent_runs SET last_seen = ?, stopped_at = ? WHERE id = ?")
            .bind(now_ms())
            .bind(now_ms())
            .bind(self.run_id)
            .execute(&mut self.conn)
            .await;
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut self.conn)
            .await;
        self.conn.close().await?;
        Ok(())
    }

    fn accept(&mut self, op: Op) {
        if self.events.len() + self.incidents.len() >= self.options.max_pending {
            self.health.lost(op.records());
            return;
        }
        match op {
            Op::Event(e) => self.events.push(e),
            Op::Incident(change) => self.incidents.push(change),
            // Taken as they come when nothing is pending (the usual case), not copied.
            Op::Minutes(mut minutes) if self.minutes.is_empty() => {
                std::mem::swap(&mut self.minutes, &mut minutes);
            }
            Op::Minutes(mut minutes) => self.minutes.append(&mut minutes),
        }
    }

    /// Writes what is pending; returns whether everything was written.
    async fn flush(&mut self) -> bool {
        if self.minutes.len() > self.options.max_pending {
            let excess = self.minutes.len() - self.options.max_pending;
            self.minutes.drain(..excess);
            self.health.lost(excess as u64);
        }
        let pending = (self.events.len() + self.incidents.len() + self.minutes.len()) as u64;
        self.health.set_pending(pending);
        if self.max_size.has_changed().unwrap_or(false) {
            let limit = *self.max_size.borrow_and_update();
            if let Err(e) = self.apply_max_size(limit).await {
                self.health
                    .failed(format!("cannot set the size limit: {e}"));
            }
            // A raised limit is worth an immediate retry.
            self.retry_at = None;
        }
        if let Some(at) = self.retry_at {
            if Instant::now() < at {
                return false;
            }
        }
        if let crate::Integrity::Damaged(detail) = &*self.integrity.borrow() {
            // Writing into a damaged file could make it worse: keep what is pending (up to
            // the limit) and say why.
            self.health
                .failed(format!("not writing to a damaged database: {detail}"));
            return false;
        }
        match self.write_batch().await {
            Ok(rows) => {
                // Emptied, and given back beyond a steady second's worth: a burst (10,000
                // endpoints connecting at once, a minute closing for all of them) would
                // otherwise keep its peak allocated for the rest of the run.
                self.events.clear();
                self.events.shrink_to(KEEP_CAPACITY);
                self.incidents.clear();
                self.incidents.shrink_to(KEEP_CAPACITY);
                self.minutes.clear();
                self.minutes.shrink_to(KEEP_CAPACITY);
                self.retry_at = None;
                self.retry_delay = Duration::from_millis(500);
                self.health.wrote(rows, 0);
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, pending, "write failed; keeping the batch and retrying");
                self.health.failed(e.to_string());
                self.retry_at = Some(Instant::now() + self.retry_delay);
                self.retry_delay = (self.retry_delay * 2).min(MAX_RETRY_DELAY);
                false
            }
        }
    }

    /// One transaction for the whole batch. In-memory state changes only after it commits, so
    /// a failed batch can be retried as it is.
    async fn write_batch(&mut self) -> Result<u64> {
        let mut rows = 0u64;
        let mut seq = self.seq;
        let mut sessions: HashMap<EndpointId, Option<(i64, i64)>> = HashMap::new();
        let mut tx = self.conn.begin().await?;

        for event in &self.events {
            seq += 1;
            let id = i64::try_from(event.endpoint.0).unwrap_or(i64::MAX);
            let ts = event.at.0;
            match &event.kind {
                EventKind::StateChanged { to, .. } => {
                    sqlx::query(
                        "INSERT INTO states (endpoint_id, ts, seq, state) VALUES (?, ?, ?, ?)",
                    )
                    .bind(id)
                    .bind(ts)
                    .bind(seq)
                    .bind(to.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                EventKind::Connected { attempt, handshake } => {
                    let p = handshake.phases;
                    sqlx::query(
                        "INSERT INTO sessions (endpoint_id, started_at, seq, attempt, dns_us, tcp_us, tls_us, upgrade_us, peer, subprotocol, extensions) \
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    )
                    .bind(id)
                    .bind(ts)
                    .bind(seq)
                    .bind(i64::from(*attempt))
                    .bind(micros(p.dns))
                    .bind(micros(p.tcp))
                    .bind(p.tls.map(micros))
                    .bind(micros(p.upgrade))
                    .bind(handshake.peer.to_string())
                    .bind(handshake.subprotocol.as_deref())
                    .bind(Some(handshake.extensions.join(", ")).filter(|s| !s.is_empty()))
                    .execute(&mut *tx)
                    .await?;
                    sessions.insert(event.endpoint, Some((ts, seq)));
                    // The session row holds the handshake: the event keeps a copy only when
                    // the row could not give it back exactly.
                    let mut row = crate::query::EventRow::from_event(&event.kind);
                    if crate::query::extensions_round_trip(&handshake.extensions) {
                        row.detail = None;
                    }
                    insert_event(&mut tx, id, ts, seq, row).await?;
                }
                EventKind::Closed { end, stats } => {
                    let open = match sessions.get(&event.endpoint) {
                        Some(known) => *known,
                        None => self.open_sessions.get(&event.endpoint).copied(),
                    };
                    let clean = end.clean();
                    let counts = [
                        stats.messages_in,
                        stats.bytes_in,
                        stats.messages_out,
                        stats.bytes_out,
                    ]
                    .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
                    let silent_ms = i64::try_from(stats.silent_for.as_millis()).unwrap_or(i64::MAX);
                    // The open session's row, or a new one when its opening was not recorded
                    // (a restart or a dropped event).
                    let (started, key_seq) = open.unwrap_or_else(|| {
                        (
                            ts - i64::try_from(stats.duration.as_millis()).unwrap_or(0),
                            seq,
                        )
                    });
                    // The closed event's row keeps how it ended (code, reason, initiator,
                    // cause): the session row's columns for them stay empty, not a copy.
                    sqlx::query(
                        "INSERT INTO sessions (endpoint_id, started_at, seq, attempt, ended_at, clean, \
                         messages_in, bytes_in, messages_out, bytes_out, silent_ms) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (endpoint_id, started_at, seq) DO UPDATE SET ended_at = excluded.ended_at, \
                         clean = excluded.clean, \
                         messages_in = excluded.messages_in, bytes_in = excluded.bytes_in, messages_out = excluded.messages_out, \
                         bytes_out = excluded.bytes_out, silent_ms = excluded.silent_ms",
                    )
                    .bind(id)
                    .bind(started)
                    .bind(key_seq)
                    .bind(ts)
                    .bind(clean)
                    .bind(counts[0])
                    .bind(counts[1])
                    .bind(counts[2])
                    .bind(counts[3])
                    .bind(silent_ms)
                    .execute(&mut *tx)
                    .await?;
                    sessions.insert(event.endpoint, None);
                    // The session row holds the rest; the event says where that row starts
                    // (`delay_ms`: ms since the session's start) and keeps the measured length
                    // only when it differs from that.
                    let mut row = crate::query::EventRow::from_event(&event.kind);
                    let offset = ts - started;
                    let session_ms = i64::try_from(stats.duration.as_millis()).unwrap_or(i64::MAX);
                    row.delay_ms = Some(offset);
                    row.detail = (session_ms != offset)
                        .then(|| serde_json::json!({ "session_ms": session_ms }).to_string());
                    insert_event(&mut tx, id, ts, seq, row).await?;
                }
                EventKind::Rtt { .. }
                | EventKind::Connecting { .. }
                | EventKind::ServerBeat { .. } => continue,
                _ => {
                    let row = crate::query::EventRow::from_event(&event.kind);
                    insert_event(&mut tx, id, ts, seq, row).await?;
                }
            }
            rows += 1;
        }

        for change in &self.incidents {
            let i = change.incident();
            let summary = crate::incidents::summary_json(i);
            sqlx::query(
                "INSERT INTO incidents (endpoint_id, kind, started_at, ended_at, ended_by_pause, detect_ms, summary, \
                 episodes, cause, cause_title) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint_id, kind, started_at) DO UPDATE SET \
                 ended_at = excluded.ended_at, ended_by_pause = excluded.ended_by_pause, \
                 detect_ms = excluded.detect_ms, summary = excluded.summary, \
                 episodes = excluded.episodes, cause = excluded.cause, cause_title = excluded.cause_title",
            )
            .bind(i64::try_from(i.endpoint.0).unwrap_or(i64::MAX))
            .bind(i.kind.as_str())
            .bind(i.started.0)
            .bind(i.ended.map(|t| t.0))
            .bind(i.ended_by_pause)
            .bind(i64::try_from(i.time_to_detect.as_millis()).unwrap_or(i64::MAX))
            .bind(summary)
            .bind(i64::from(i.episodes))
            .bind(i.cause.as_ref().map(|c| c.rule.as_str()))
            .bind(i.cause.as_ref().map(|c| c.title.clone()))
            .execute(&mut *tx)
            .await?;
            rows += 1;
        }

        for m in &self.minutes {
            let id = i64::try_from(m.endpoint.0).unwrap_or(i64::MAX);
            let kind = kind_code(m.kind);
            let r = &m.rollup;
            // Two writes for one minute happen only across a restart: keep the larger half's
            // percentiles and add the counts.
            let query = sqlx::query(
                "INSERT INTO rtt_minute (endpoint_id, kind, minute, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (endpoint_id, kind, minute) DO UPDATE SET \
                   p50_us = CASE WHEN excluded.count > count THEN excluded.p50_us ELSE p50_us END, \
                   p95_us = CASE WHEN excluded.count > count THEN excluded.p95_us ELSE p95_us END, \
                   p99_us = CASE WHEN excluded.count > count THEN excluded.p99_us ELSE p99_us END, \
                   count = count + excluded.count, min_us = min(min_us, excluded.min_us), \
                   max_us = max(max_us, excluded.max_us), sum_us = sum_us + excluded.sum_us",
            )
            .bind(id)
            .bind(kind)
            .bind(m.minute);
            bind_summary(query, r).execute(&mut *tx).await?;
            rows += 1;
        }
        // The hour and the day each minute belongs to: read back, merged, written again.
        // Nothing about them is kept in memory between batches (a cache of the current hour
        // and day with their histograms held about 1 KiB per endpoint, and a batch that closed
        // a minute for every endpoint held them all twice). They are read a few hundred
        // endpoints per statement (one statement each cost a round trip to SQLite's thread:
        // 2-3 s of CPU per minute at 10,000 endpoints), inside this transaction, so a second
        // minute of the same hour in one batch sees the first; a failed batch changes nothing
        // and its retry reads the same rows.
        let mut order: Vec<usize> = (0..self.minutes.len()).collect();
        for table in [RollupTable::Hour, RollupTable::Day] {
            let key = |i: usize| {
                let m = &self.minutes[i];
                (
                    table.bucket(m.minute),
                    kind_code(m.kind),
                    endpoint_key(m.endpoint),
                )
            };
            order.sort_unstable_by_key(|&i| key(i));
            let mut start = 0;
            while start < order.len() {
                // A run of one bucket and kind, of at most READ_BACK_CHUNK endpoints (all of
                // one endpoint's minutes in the same run).
                let (bucket, kind, _) = key(order[start]);
                let mut ids: Vec<i64> = Vec::new();
                let mut end = start;
                while let Some(&i) = order.get(end) {
                    let (b, k, id) = key(i);
                    if b != bucket || k != kind {
                        break;
                    }
                    if ids.last() != Some(&id) {
                        if ids.len() == READ_BACK_CHUNK {
                            break;
                        }
                        ids.push(id);
                    }
                    end += 1;
                }
                let mut stored = load_rollups(&mut tx, table, kind, bucket, &ids).await?;
                let mut at = start;
                while at < end {
                    let id = key(order[at]).2;
                    let mut acc = stored.remove(&id).unwrap_or_default();
                    while at < end && key(order[at]).2 == id {
                        acc.merge(&self.minutes[order[at]].rollup);
                        at += 1;
                    }
                    let query = sqlx::query(table.upsert()).bind(id).bind(kind).bind(bucket);
                    bind_summary(query, &acc)
                        .bind(acc.histogram.encode())
                        .execute(&mut *tx)
                        .await?;
                    rows += 1;
                }
                start = end;
            }
        }
        sqlx::query("UPDATE agent_runs SET last_seen = ? WHERE id = ?")
            .bind(now_ms())
            .bind(self.run_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;

        // Committed: now the in-memory state may move on.
        self.seq = seq;
        for (endpoint, open) in sessions {
            match open {
                Some(key) => self.open_sessions.insert(endpoint, key),
                None => self.open_sessions.remove(&endpoint),
            };
        }
        Ok(rows)
    }

    /// SQLite's page limit is the size limit: reaching it fails writes with "database or disk
    /// is full", exactly like a full disk.
    async fn apply_max_size(&mut self, bytes: Option<u64>) -> Result<()> {
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut self.conn)
            .await?;
        let pages = match bytes {
            Some(b) => i64::try_from(b).unwrap_or(i64::MAX) / page_size.max(1),
            None => 4_294_967_294, // SQLite's largest
        };
        sqlx::query(&format!("PRAGMA max_page_count = {}", pages.max(1)))
            .execute(&mut self.conn)
            .await?;
        Ok(())
    }

    async fn start_retention(&mut self) {
        match crate::retention::Job::new(&mut self.conn, &self.options.retention, now_ms()).await {
            Ok(job) => self.retention_job = Some(job),
            Err(e) => {
                tracing::warn!(error = %e, "retention failed");
                self.health.failed(format!("retention: {e}"));
            }
        }
    }

    /// Some of the retention run in progress: at most about [`RETENTION_SLICE`] per tick, so
    /// writes never wait long behind it.
    async fn retention_slice(&mut self) {
        if matches!(&*self.integrity.borrow(), crate::Integrity::Damaged(_)) {
            return;
        }
        let Some(job) = self.retention_job.as_mut() else {
            return;
        };
        let deadline = Instant::now() + RETENTION_SLICE;
        match job.step(&mut self.conn, Some(deadline)).await {
            Ok(false) => {}
            Ok(true) => {
                tracing::debug!(report = ?job.report(), "retention applied");
                self.retention_job = None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention failed");
                self.health.failed(format!("retention: {e}"));
                self.retention_job = None;
            }
        }
    }
}

async fn insert_event(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    id: i64,
    ts: i64,
    seq: i64,
    row: crate::query::EventRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (endpoint_id, ts, seq, kind, code, status, phase, initiator, cause, reason, attempt, delay_ms, detail) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ts)
    .bind(seq)
    .bind(row.kind)
    .bind(row.code)
    .bind(row.status)
    .bind(row.phase)
    .bind(row.initiator)
    .bind(row.cause)
    .bind(row.reason)
    .bind(row.attempt)
    .bind(row.delay_ms)
    .bind(row.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The two rollup tables a finished minute is merged into.
#[derive(Debug, Clone, Copy)]
enum RollupTable {
    Hour,
    Day,
}

impl RollupTable {
    /// The table's bucket (Unix hour or day) of a Unix minute.
    fn bucket(self, minute: i64) -> i64 {
        match self {
            RollupTable::Hour => minute.div_euclid(60),
            RollupTable::Day => minute.div_euclid(1440),
        }
    }

    /// The table and its bucket column.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            RollupTable::Hour => ("rtt_hour", "hour"),
            RollupTable::Day => ("rtt_day", "day"),
        }
    }

    fn upsert(self) -> &'static str {
        match self {
            RollupTable::Hour => "INSERT OR REPLACE INTO rtt_hour (endpoint_id, kind, hour, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us, histogram) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            RollupTable::Day => "INSERT OR REPLACE INTO rtt_day (endpoint_id, kind, day, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us, histogram) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        }
    }
}

/// The stored rows of one bucket and kind for these endpoints (those that have one), by
/// endpoint; each is a primary-key lookup.
async fn load_rollups(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    table: RollupTable,
    kind: i64,
    bucket: i64,
    ids: &[i64],
) -> Result<HashMap<i64, Rollup>> {
    let (name, column) = table.names();
    let placeholders = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "SELECT endpoint_id, count, min_us, max_us, sum_us, histogram FROM {name} \
         WHERE endpoint_id IN ({placeholders}) AND kind = ? AND {column} = ?"
    );
    let mut query = sqlx::query_as::<_, (i64, i64, i64, i64, i64, Vec<u8>)>(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.bind(kind).bind(bucket).fetch_all(&mut **tx).await?;
    Ok(rows
        .into_iter()
        .map(|(id, count, min, max, sum, hist)| {
            let rollup = Rollup {
                count: count.max(0).unsigned_abs(),
                min_us: min.max(0).unsigned_abs(),
                max_us: max.max(0).unsigned_abs(),
                sum_us: sum.max(0).unsigned_abs(),
                histogram: Histogram::decode(&hist).unwrap_or_default(),
            };
            (id, rollup)
        })
        .collect())
}

/// An endpoint's id as the tables store it.
fn endpoint_key(id: EndpointId) -> i64 {
    i64::try_from(id.0).unwrap_or(i64::MAX)
}

type SqliteQuery<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds the columns every rollup row has, in table order: count, min, max, sum, p50, p95, p99.
fn bind_summary<'q>(query: SqliteQuery<'q>, r: &Rollup) -> SqliteQuery<'q> {
    let q = |p| r.quantile_us(p).map_or(0, to_i64);
    query
        .bind(to_i64(r.count))
        .bind(to_i64(r.min_us))
        .bind(to_i64(r.max_us))
        .bind(to_i64(r.sum_us))
        .bind(q(0.5))
        .bind(q(0.95))
        .bind(q(0.99))
}

pub(crate) fn kind_code(kind: PingKind) -> i64 {
    match kind {
        PingKind::Protocol => 0,
        PingKind::App => 1,
        // The intervals between a server's own heartbeats: in the same rollup tables, under
        // their own kind, so every RTT read (which names kind 0 or 1) leaves them out.
        PingKind::Server => 2,
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
