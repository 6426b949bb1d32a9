//! The reads behind exports: a whole selection over a long window, in as few statements as the
//! summary needs and with history streamed as SQLite produces it.
//!
//! ```text
//! export_endpoints ─ every endpoint's configuration, secret values never read
//! export_uptime    ─ one pass over the window's state changes for every endpoint
//! export_rtt       ─ one grouped statement over the rollups at the window's resolution
//! export_close_codes, export_has_history ─ one statement each
//! export_history_days ─ events and state changes in time order, a day at a time, read on a
//!                       thread and a read-only connection of its own (rusqlite)
//! ```
//! Invariant: history is held a few days at a time at most, whatever the window; aggregates
//! hold one value per endpoint. A selection is passed as a [`Scope`]: every endpoint (no id
//! list at all) or a list bound as one JSON parameter, never spliced into the SQL text.
//!
//! Why history has a connection of its own: sqlx steps SQLite on a worker thread and hands
//! every row to the async task through a channel (a wake-up and a copy per row), which at a
//! few hundred thousand rows cost more than SQLite itself. Here one thread steps the rows and
//! decodes their columns straight into events, and hands over a day at a time. rusqlite links
//! the same libsqlite3-sys as sqlx (only one crate may link sqlite3).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};

use heartline_config::EndpointSpec;
use heartline_core::{Endpoint, EndpointId, Event, EventKind, PingKind, State, Timestamp};

use crate::dashboard::Resolution;
use crate::query::{state_from, EventRow, SessionColumns, EVENT_COLUMNS_WITH_SESSION};
use crate::writer::kind_code;
use crate::{Error, Result, Store};

/// Which endpoints an export reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every endpoint in the database.
    All,
    /// These endpoints (an empty list reads nothing).
    Only(&'a [EndpointId]),
}

impl Scope<'_> {
    /// The `?3` parameter of the statements below: NULL for every endpoint, else a JSON array.
    pub(crate) fn param(self) -> Option<String> {
        match self {
            Scope::All => None,
            Scope::Only(ids) => {
                let mut ids: Vec<u64> = ids.iter().map(|e| e.0).collect();
                ids.sort_unstable();
                ids.dedup();
                Some(format!(
                    "[{}]",
                    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
                ))
            }
        }
    }
}

/// The selected ids as a table: every endpoint when `?3` is NULL, else the JSON array's values.
/// Used as `endpoint_id IN (SELECT id FROM ids)`, which SQLite answers with one primary-key
/// range seek per endpoint (history tables are keyed by endpoint first).
pub(crate) const IDS: &str = "WITH ids(id) AS (SELECT id FROM endpoints WHERE ?3 IS NULL \
                   UNION ALL SELECT value FROM json_each(?3))";

/// An endpoint as exports see it: its configuration with secret header values left empty.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportEndpoint {
    pub id: EndpointId,
    /// Secret headers keep their name and `secret` flag; their value is empty.
    pub endpoint: Endpoint,
    pub paused: bool,
}

/// RTT over a window from the rollups at one resolution, for one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttTotals {
    pub resolution: Resolution,
    pub samples: u64,
    /// Mean of the buckets' (whole-microsecond) means weighted by their counts.
    pub mean: Duration,
    /// The highest p95 of any bucket.
    pub worst_p95: Duration,
}

fn endpoint_id(v: i64) -> EndpointId {
    EndpointId(v.max(0).unsigned_abs())
}

fn micros(v: i64) -> Duration {
    Duration::from_micros(v.max(0).unsigned_abs())
}

/// History is read a day at a time (or less at the window's ends).
const DAY_MS: i64 = 86_400_000;

/// A day's events of the selection with their sessions' columns: plain rows, in primary-key
/// order per endpoint (one range per endpoint, nothing for SQLite to sort). The columns are
/// found by name ([`EventColumnsAt`]), so this statement and the select list it borrows are
/// the only places that know the layout of `events`.
fn events_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "{IDS} SELECT {EVENT_COLUMNS_WITH_SESSION} \
             WHERE e.endpoint_id IN (SELECT id FROM ids) AND e.ts >= ?1 AND e.ts < ?2"
        )
    })
}

/// State changes with the state before each: the previous change in the window or, for an
/// endpoint's first, the last one before the window (one index seek per endpoint).
const STATES_SQL: &str = "SELECT s.endpoint_id, s.ts, s.seq, s.state, \
       COALESCE(LAG(s.state) OVER (PARTITION BY s.endpoint_id ORDER BY s.ts, s.seq), \
         (SELECT p.state FROM states p WHERE p.endpoint_id = s.endpoint_id AND p.ts < ?1 \
          ORDER BY p.ts DESC, p.seq DESC LIMIT 1)) \
     FROM states s WHERE s.endpoint_id IN (SELECT id FROM ids) AND s.ts >= ?1 AND s.ts < ?2";

fn states_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| format!("{IDS} {STATES_SQL}"))
}

/// An event or state change with the key history is ordered by: time, seq, events before
/// state changes, endpoint.
type Keyed = ((i64, i64, u8, i64), Event);

/// Where each column [`EventRow`] and [`SessionColumns`] are read from sits in the events
/// statement, looked up by name once per export.
struct EventColumnsAt {
    endpoint_id: usize,
    ts: usize,
    seq: usize,
    row: [usize; 10],
    session: [usize; 13],
}

impl EventColumnsAt {
    const ROW: [&'static str; 10] = [
        "kind",
        "code",
        "status",
        "phase",
        "initiator",
        "cause",
        "reason",
        "attempt",
        "delay_ms",
        "detail",
    ];
    const SESSION: [&'static str; 13] = [
        "s_dns_us",
        "s_tcp_us",
        "s_tls_us",
        "s_upgrade_us",
        "s_peer",
        "s_subprotocol",
        "s_extensions",
        "s_clean",
        "s_silent_ms",
        "s_messages_in",
        "s_bytes_in",
        "s_messages_out",
        "s_bytes_out",
    ];

    fn of(statement: &rusqlite::Statement<'_>) -> rusqlite::Result<EventColumnsAt> {
        let at = |name: &str| statement.column_index(name);
        let mut row = [0; 10];
        for (slot, name) in row.iter_mut().zip(Self::ROW) {
            *slot = at(name)?;
        }
        let mut session = [0; 13];
        for (slot, name) in session.iter_mut().zip(Self::SESSION) {
            *slot = at(name)?;
        }
        Ok(EventColumnsAt {
            endpoint_id: at("endpoint_id")?,
            ts: at("ts")?,
            seq: at("seq")?,
            row,
            session,
        })
    }

    /// One stored event, decoded straight from the row's columns; `None` for one this
    /// version cannot read (skipped, as [`Store::history`] does).
    fn event(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<Keyed>> {
        let [kind, code, status, phase, initiator, cause, reason, attempt, delay_ms, detail] =
            self.row;
        let kind: String = r.get(kind)?;
        // Only connected and closed events are read back from their session's row.
        let session = if kind == "connected" || kind == "closed" {
            self.session(r)?
        } else {
            SessionColumns::default()
        };
        let row = EventRow {
            kind,
            code: r.get(code)?,
            status: r.get(status)?,
            phase: r.get(phase)?,
            initiator: r.get(initiator)?,
            cause: r.get(cause)?,
            reason: r.get(reason)?,
            attempt: r.get(attempt)?,
            delay_ms: r.get(delay_ms)?,
            detail: r.get(detail)?,
        };
        let (endpoint, ts, seq): (i64, i64, i64) =
            (r.get(self.endpoint_id)?, r.get(self.ts)?, r.get(self.seq)?);
        Ok(row.into_kind(&session).map(|kind| {
            let event = Event {
                at: Timestamp(ts),
                endpoint: endpoint_id(endpoint),
                kind,
            };
            ((ts, seq, 0, endpoint), event)
        }))
    }

    fn session(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionColumns> {
        let s = &self.session;
        Ok(SessionColumns {
            s_dns_us: r.get(s[0])?,
            s_tcp_us: r.get(s[1])?,
            s_tls_us: r.get(s[2])?,
            s_upgrade_us: r.get(s[3])?,
            s_peer: r.get(s[4])?,
            s_subprotocol: r.get(s[5])?,
            s_extensions: r.get(s[6])?,
            s_clean: r.get(s[7])?,
            s_silent_ms: r.get(s[8])?,
            s_messages_in: r.get(s[9])?,
            s_bytes_in: r.get(s[10])?,
            s_messages_out: r.get(s[11])?,
            s_bytes_out: r.get(s[12])?,
        })
    }
}

/// The export's own read-only connection to the file, with its two statements prepared.
/// Read on a thread of its own: rows are stepped and decoded where SQLite produces them,
/// with no hand-over per row between threads.
struct HistoryReader<'c> {
    connection: &'c rusqlite::Connection,
    events: rusqlite::Statement<'c>,
    states: rusqlite::Statement<'c>,
    at: EventColumnsAt,
}

/// Opens the read-only connection the export's history is read on.
fn open_history(path: &std::path::Path) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let connection = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(crate::open::BUSY_TIMEOUT)?;
    Ok(connection)
}

impl<'c> HistoryReader<'c> {
    fn new(connection: &'c rusqlite::Connection) -> rusqlite::Result<HistoryReader<'c>> {
        let events = connection.prepare(events_sql())?;
        let at = EventColumnsAt::of(&events)?;
        Ok(HistoryReader {
            connection,
            events,
            states: connection.prepare(states_sql())?,
            at,
        })
    }

    /// `[from, to)` of the selection in order, read in one snapshot (a read transaction:
    /// the writer may commit meanwhile, in WAL mode it waits for nobody).
    fn day(&mut self, ids: Option<&str>, from: i64, to: i64) -> rusqlite::Result<Vec<Event>> {
        self.connection.execute_batch("BEGIN")?;
        let read = self.read(ids, from, to);
        let end = self.connection.execute_batch("COMMIT");
        let keyed = read?;
        end?;
        // Sort the keys with positions rather than the events themselves (moving each event
        // log n times cost more than the sort).
        let mut order: Vec<((i64, i64, u8, i64), usize)> = keyed
            .iter()
            .enumerate()
            .map(|(i, (key, _))| (*key, i))
            .collect();
        order.sort_unstable();
        let mut events: Vec<Option<Event>> = keyed.into_iter().map(|(_, e)| Some(e)).collect();
        Ok(order
            .into_iter()
            .filter_map(|(_, i)| events.get_mut(i).and_then(Option::take))
            .collect())
    }

    fn read(&mut self, ids: Option<&str>, from: i64, to: i64) -> rusqlite::Result<Vec<Keyed>> {
        let mut keyed: Vec<Keyed> = Vec::new();
        let mut rows = self.events.query(rusqlite::params![from, to, ids])?;
        while let Some(row) = rows.next()? {
            if let Some(event) = self.at.event(row)? {
                keyed.push(event);
            }
        }
        let mut rows = self.states.query(rusqlite::params![from, to, ids])?;
        while let Some(row) = rows.next()? {
            let (endpoint, ts, seq): (i64, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
            let state: String = row.get(3)?;
            let previous: Option<String> = row.get(4)?;
            let Some(to) = state_from(&state) else {
                continue;
            };
            let from = previous
                .as_deref()
                .and_then(state_from)
                .unwrap_or(State::Connecting);
            let event = Event {
                at: Timestamp(ts),
                endpoint: endpoint_id(endpoint),
                kind: EventKind::StateChanged { from, to },
            };
            keyed.push(((ts, seq, 1, endpoint), event));
        }
        Ok(keyed)
    }
}

/// Reads `[from, to)` a day at a time and sends each day, with the instant it ends, until
/// the window is done or the receiver has gone.
fn read_history(
    path: &std::path::Path,
    ids: Option<&str>,
    from: i64,
    to: i64,
    days: &tokio::sync::mpsc::Sender<Result<(i64, Vec<Event>)>>,
) -> Result<()> {
    let connection = open_history(path)?;
    let mut reader = HistoryReader::new(&connection)?;
    let mut day = from;
    while day < to {
        let end = day.saturating_add(DAY_MS).min(to);
        let events = reader.day(ids, day, end)?;
        if days.blocking_send(Ok((end, events))).is_err() {
            break;
        }
        day = end;
    }
    Ok(())
}

impl Store {
    /// Every stored endpoint, by id, without its secret values: the secret store is never
    /// asked (names and settings for lists and exports; [`Store::endpoints`] adds the values).
    pub async fn export_endpoints(&self) -> Result<Vec<ExportEndpoint>> {
        let rows: Vec<(i64, String, String, bool)> =
            sqlx::query_as("SELECT id, name, config, paused FROM endpoints ORDER BY id")
                .fetch_all(self.reader())
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, name, config, paused) in rows {
            let spec = EndpointSpec::from_json(&config)
                .map_err(|e| Error::Config(format!("stored endpoint {name}: {e}")))?;
            let resolved = spec
                .resolve(&heartline_config::Defaults::default(), &|_| None)
                .map_err(|e| Error::Config(format!("stored endpoint {name}: {e}")))?;
            let mut endpoint = resolved.endpoint;
            for header in endpoint.headers.iter_mut().filter(|h| h.secret) {
                header.value.clear();
            }
            out.push(ExportEndpoint {
                id: endpoint_id(id),
                endpoint,
                paused,
            });
        }
        Ok(out)
    }

    /// Every event and state change of `scope` in `[from, to)`, in time order (then by seq),
    /// state changes carrying the state they came from (Connecting when none was recorded).
    /// One item per day of the window (or less at its ends), each day read in one snapshot.
    ///
    /// Read on a thread of its own, over a read-only connection of its own: rows are stepped
    /// and decoded where SQLite produces them, and each day is handed over whole. The thread
    /// reads the next day while the caller works through the current one and then waits;
    /// memory holds at most three days of the selection's events (the caller's, one handed
    /// over, one being read), whatever the window. Dropping the stream stops the thread
    /// after the day it is reading.
    pub fn export_history_days(
        &self,
        scope: Scope<'_>,
        from: Timestamp,
        to: Timestamp,
    ) -> BoxStream<'static, Result<Vec<Event>>> {
        if to <= from {
            return stream::empty().boxed();
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let (path, ids) = (self.path().to_owned(), scope.param());
        let spawned = std::thread::Builder::new()
            .name("heartline-export".into())
            .spawn(move || {
                if let Err(e) = read_history(&path, ids.as_deref(), from.0, to.0, &sender) {
                    let _ = sender.blocking_send(Err(e));
                }
            });
        if let Err(source) = spawned {
            return stream::once(async move {
                Err(Error::Thread {
                    what: "reading the export's history",
                    source,
                })
            })
            .boxed();
        }
        // The state: the receiver and how far the window has been read. A thread that ended
        // before the window's end (it panicked) is an error, never a shorter export.
        stream::try_unfold((receiver, from.0), move |(mut receiver, read)| async move {
            if read >= to.0 {
                return Ok(None);
            }
            match receiver.recv().await {
                Some(day) => {
                    let (end, events) = day?;
                    Ok(Some((events, (receiver, end))))
                }
                None => Err(Error::Stopped(
                    "reading the export's history stopped before the end of the window".into(),
                )),
            }
        })
        .boxed()
    }

    /// [`Store::export_history_days`] an event at a time.
    pub fn export_history(
        &self,
        scope: Scope<'_>,
        from: Timestamp,
        to: Timestamp,
    ) -> BoxStream<'static, Result<Event>> {
        self.export_history_days(scope, from, to)
            .map_ok(|day| stream::iter(day.into_iter().map(Ok::<_, Error>)))
            .try_flatten()
            .boxed()
    }

    /// Whether `scope` has any event or state change in `[from, to)`.
    pub async fn export_has_history(
        &self,
        scope: Scope<'_>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<bool> {
        let (any,): (bool,) = sqlx::query_as(&format!(
            "{IDS} SELECT EXISTS (SELECT 1 FROM events WHERE endpoint_id IN (SELECT id FROM ids) \
               AND ts >= ?1 AND ts < ?2) \
             OR EXISTS (SELECT 1 FROM states WHERE endpoint_id IN (SELECT id FROM ids) \
               AND ts >= ?1 AND ts < ?2)"
        ))
        .bind(from.0)
        .bind(to.0)
        .bind(scope.param())
        .fetch_one(self.reader())
        .await?;
        Ok(any)
    }

    /// RTT of every endpoint of `scope` over `[from, to)` at the resolution
    /// [`Store::rtt_series`] would choose for `max_points` buckets, in one statement.
    /// Endpoints without samples are left out; [`PingKind::Server`] has no round trips (its
    /// beats' intervals are [`Store::export_beats`]).
    pub async fn export_rtt(
        &self,
        scope: Scope<'_>,
        kind: PingKind,
        from: Timestamp,
        to: Timestamp,
        max_points: usize,
    ) -> Result<HashMap<EndpointId, RttTotals>> {
        if kind == PingKind::Server {
            return Ok(HashMap::new());
        }
        self.export_durations(scope, kind, from, to, max_points)
            .await
    }

    /// The server's own heartbeats of every endpoint of `scope` over `[from, to)`, in one
    /// statement like [`Store::export_rtt`]: `samples` is the number of beats, `mean` their
    /// mean interval and `worst_p95` the highest 95th percentile of the intervals in any
    /// bucket. Never round trips. Endpoints without beats are left out.
    pub async fn export_beats(
        &self,
        scope: Scope<'_>,
        from: Timestamp,
        to: Timestamp,
        max_points: usize,
    ) -> Result<HashMap<EndpointId, RttTotals>> {
        self.export_durations(scope, PingKind::Server, from, to, max_points)
            .await
    }

    async fn export_durations(
        &self,
        scope: Scope<'_>,
        kind: PingKind,
        from: Timestamp,
        to: Timestamp,
        max_points: usize,
    ) -> Result<HashMap<EndpointId, RttTotals>> {
        let resolution = Resolution::fitting(from, to, max_points);
        let (table, column) = resolution.table();
        let step = resolution.millis();
        let mut rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(&format!(
            "{IDS} SELECT endpoint_id, SUM(count), \
               SUM(CASE WHEN count > 0 THEN sum_us / count ELSE 0 END * count), MAX(p95_us) \
             FROM {table} WHERE endpoint_id IN (SELECT id FROM ids) AND kind = ?4 \
               AND {column} >= ?1 AND {column} < ?2 \
             GROUP BY endpoint_id HAVING SUM(count) > 0"
        ))
        .bind(from.0.div_euclid(step))
        .bind((to.0 + step - 1).div_euclid(step))
        .bind(scope.param())
        .bind(kind_code(kind))
        .fetch_all(self.reader())
        .await?;
        // Old minute and hour rows are packed (pack.rs): add theirs.
        let packed = self
            .packed_totals(
                table,
                IDS,
                scope.param(),
                kind_code(kind),
                from.0.div_euclid(step),
                (to.0 + step - 1).div_euclid(step),
            )
            .await?;
        for (id, (n, weighted, p95)) in packed {
            match rows.iter_mut().find(|r| r.0 == id) {
                Some(r) => *r = (id, r.1 + n, r.2 + weighted, r.3.max(p95)),
                None => rows.push((id, n, weighted, p95)),
            }
        }
        Ok(rows
            .into_iter()
            .map(|(id, samples, weighted_us, p95)| {
                let samples = samples.max(1).unsigned_abs();
                (
                    endpoint_id(id),
                    RttTotals {
                        resolution,
                        samples,
                        mean: micros(weighted_us / i64::try_from(samples).unwrap_or(i64::MAX)),
                        worst_p95: micros(p95),
                    },
                )
            })
            .collect())
    }

    /// Closes of `scope` in `[from, to)` by code and initiator, most frequent first.
    pub async fn export_close_codes(
        &self,
        scope: Scope<'_>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(u16, String, u64)>> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(&format!(
            "{IDS} SELECT code, initiator, count(*) AS n FROM events \
             WHERE kind = 'closed' AND ts >= ?1 AND ts < ?2 AND endpoint_id IN (SELECT id FROM ids) \
             GROUP BY code, initiator ORDER BY n DESC, code"
        ))
        .bind(from.0)
        .bind(to.0)
        .bind(scope.param())
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(c, i, n)| Some((u16::try_from(c).ok()?, i, n.max(0).unsigned_abs())))
            .collect())
    }
}
