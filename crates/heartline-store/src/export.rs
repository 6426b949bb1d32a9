//! The reads behind exports: a whole selection over a long window, in as few statements as the
//! summary needs and with history streamed as SQLite produces it.
//!
//! ```text
//! export_endpoints ─ every endpoint's configuration, secret values never read
//! export_uptime    ─ one pass over the window's state changes for every endpoint
//! export_rtt       ─ one grouped statement over the rollups at the window's resolution
//! export_close_codes, export_has_history ─ one statement each
//! export_history   ─ events and state changes merged in time order, one row at a time
//! ```
//! Invariant: nothing here holds more than a row (and one pending row per merged stream) of
//! history; aggregates hold one value per endpoint. A selection is passed as a [`Scope`]:
//! every endpoint (no id list at all) or a list bound as one JSON parameter, never spliced
//! into the SQL text.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};

use heartline_config::EndpointSpec;
use heartline_core::{Endpoint, EndpointId, Event, EventKind, PingKind, State, Timestamp};

use crate::dashboard::Resolution;
use crate::query::{state_from, EventRow, SessionColumns, Uptime, EVENT_COLUMNS_WITH_SESSION};
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
    fn param(self) -> Option<String> {
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
const IDS: &str = "WITH ids(id) AS (SELECT id FROM endpoints WHERE ?3 IS NULL \
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

/// A day's events, one row per endpoint: a JSON array of its events, each
/// [endpoint, ts, seq, [<event columns>], [<session columns>] or null] in the order of
/// [`Packed`]. The session columns are left out (null) when neither join found a session
/// (no `dns_us` nor `clean`): `EventRow::into_kind` reads nothing else from them without one
/// of those (a connected event needs `dns_us`, a closed one `clean`), so nothing changes
/// but the work of building and reading thirteen nulls for nearly every event. Rows come from one primary-key range per endpoint, so SQLite sorts nothing; and
/// sqlx hands rows between threads one at a time, which at a row per event cost more than
/// SQLite itself.
fn events_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "{IDS} SELECT '[' || group_concat(json_array(endpoint_id, ts, seq, \
               json_array(kind, code, status, phase, initiator, cause, reason, attempt, \
                 delay_ms, detail), \
               CASE WHEN s_dns_us IS NULL AND s_clean IS NULL THEN NULL ELSE \
               json_array(s_dns_us, s_tcp_us, s_tls_us, s_upgrade_us, s_peer, s_subprotocol, \
                 s_extensions, s_clean, s_silent_ms, s_messages_in, s_bytes_in, s_messages_out, \
                 s_bytes_out) END), ',') || ']' \
             FROM (SELECT {EVENT_COLUMNS_WITH_SESSION} \
               WHERE e.endpoint_id IN (SELECT id FROM ids) AND e.ts >= ?1 AND e.ts < ?2) \
             GROUP BY endpoint_id"
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

/// A day of history being read by a task of its own; dropping it stops the task.
struct Prefetch(tokio::task::JoinHandle<Result<Vec<Event>>>);

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An event or state change with the key history is ordered by: time, seq, events before
/// state changes, endpoint.
type Keyed = ((i64, i64, u8, i64), Event);

/// The event columns of a packed item: kind, code, status, phase, initiator, cause, reason,
/// attempt, delay_ms, detail.
type EventColumns = (
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// The session columns of a packed item, in [`SessionColumns`]' order.
type SessionValues = (
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// One packed event: endpoint, ts, seq, its columns and its session's. Decoded straight into
/// these types (no intermediate JSON values).
type Packed = (i64, i64, i64, EventColumns, Option<SessionValues>);

/// Adds the events of one endpoint's row; events this version cannot read are skipped.
fn decode_pack(text: &str, out: &mut Vec<Keyed>) -> Result<()> {
    let items: Vec<Packed> = serde_json::from_str(text)
        .map_err(|e| Error::Config(format!("unreadable history row from SQLite: {e}")))?;
    for (endpoint, ts, seq, e, s) in items {
        let row = EventRow {
            kind: e.0,
            code: e.1,
            status: e.2,
            phase: e.3,
            initiator: e.4,
            cause: e.5,
            reason: e.6,
            attempt: e.7,
            delay_ms: e.8,
            detail: e.9,
        };
        let session = s.map_or_else(SessionColumns::default, |s| SessionColumns {
            s_dns_us: s.0,
            s_tcp_us: s.1,
            s_tls_us: s.2,
            s_upgrade_us: s.3,
            s_peer: s.4,
            s_subprotocol: s.5,
            s_extensions: s.6,
            s_clean: s.7.map(|c| c != 0),
            s_silent_ms: s.8,
            s_messages_in: s.9,
            s_bytes_in: s.10,
            s_messages_out: s.11,
            s_bytes_out: s.12,
        });
        if let Some(kind) = row.into_kind(&session) {
            let event = Event {
                at: Timestamp(ts),
                endpoint: endpoint_id(endpoint),
                kind,
            };
            out.push(((ts, seq, 0, endpoint), event));
        }
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
    ///
    /// Streamed a day at a time, each day read in one snapshot; the next day is read (on the
    /// runtime, as a task) while the caller works through the current one. Memory holds at
    /// most those two days of the selection's events, whatever the window.
    pub fn export_history(
        &self,
        scope: Scope<'_>,
        from: Timestamp,
        to: Timestamp,
    ) -> BoxStream<'static, Result<Event>> {
        let store = self.clone();
        let day_after = move |day: Timestamp| Timestamp(day.0.saturating_add(DAY_MS).min(to.0));
        let read = move |store: &Store, ids: &Option<String>, day: Timestamp| {
            let (store, ids) = (store.clone(), ids.clone());
            Prefetch(tokio::spawn(async move {
                store.history_day(ids, day, day_after(day)).await
            }))
        };
        // State: the store, the ids, and either the day being read ahead with the end of
        // that day, or nothing with the start of the next day to read.
        let start = (store, scope.param(), from, None::<Prefetch>);
        stream::try_unfold(start, move |(store, ids, next, pending)| async move {
            let (mut reading, after) = match pending {
                Some(p) => (p, next),
                None if next < to => (read(&store, &ids, next), day_after(next)),
                None => return Ok::<_, Error>(None),
            };
            let events = (&mut reading.0).await.map_err(|e| {
                Error::Config(format!("reading the export's history stopped: {e}"))
            })??;
            let pending = (after < to).then(|| read(&store, &ids, after));
            let next = if pending.is_some() {
                day_after(after)
            } else {
                after
            };
            Ok(Some((
                stream::iter(events.into_iter().map(Ok::<_, Error>)),
                (store, ids, next, pending),
            )))
        })
        .try_flatten()
        .boxed()
    }

    /// One day of history (at most), in order.
    async fn history_day(
        &self,
        ids: Option<String>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Event>> {
        let mut tx = self.reader().begin().await?;
        let mut keyed: Vec<Keyed> = Vec::new();
        {
            let mut packs = sqlx::query_scalar::<_, String>(events_sql())
                .bind(from.0)
                .bind(to.0)
                .bind(ids.as_deref())
                .fetch(&mut *tx);
            while let Some(text) = packs.try_next().await? {
                decode_pack(&text, &mut keyed)?;
            }
        }
        {
            let mut states =
                sqlx::query_as::<_, (i64, i64, i64, String, Option<String>)>(states_sql())
                    .bind(from.0)
                    .bind(to.0)
                    .bind(ids.as_deref())
                    .fetch(&mut *tx);
            while let Some((endpoint, ts, seq, state, previous)) = states.try_next().await? {
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
        }
        tx.rollback().await?;
        // Sort the keys with positions rather than the events themselves (a day is tens of
        // thousands of events; moving each one log n times cost more than the sort).
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

    /// Time in each state over `[from, to)` for every endpoint of `scope`, in one pass (the
    /// same figures as [`Store::uptime`] for each).
    pub async fn export_uptime(
        &self,
        scope: Scope<'_>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<HashMap<EndpointId, Uptime>> {
        let mut out = HashMap::new();
        if to <= from {
            return Ok(out);
        }
        let runs = self.runs_between(from, to).await?;
        // Per endpoint: the state before the window (ord 0), then its changes in the window.
        let sql = format!(
            "{IDS} SELECT id, 0 AS ord, ?1 AS ts, 0 AS seq, \
               (SELECT state FROM states WHERE endpoint_id = id AND ts < ?1 \
                ORDER BY ts DESC, seq DESC LIMIT 1) AS state FROM ids \
             UNION ALL \
             SELECT endpoint_id, 1, ts, seq, state FROM states \
               WHERE endpoint_id IN (SELECT id FROM ids) AND ts >= ?1 AND ts < ?2 \
             ORDER BY 1, 2, 3, 4"
        );
        let mut rows = sqlx::query_as::<_, (i64, i64, i64, i64, Option<String>)>(&sql)
            .bind(from.0)
            .bind(to.0)
            .bind(scope.param())
            .fetch(self.reader());
        // The endpoint being folded: its uptime so far and the piece that is still open.
        let mut current: Option<(i64, Uptime, i64, Option<State>)> = None;
        let finish =
            |out: &mut HashMap<EndpointId, Uptime>,
             (id, mut uptime, start, state): (i64, Uptime, i64, Option<State>)| {
                uptime.accumulate(state, start, to.0, &runs);
                out.insert(endpoint_id(id), uptime);
            };
        while let Some((id, _, ts, _, state)) = rows.try_next().await? {
            let state = state.as_deref().and_then(state_from);
            match current.as_mut() {
                Some((cur, uptime, start, open)) if *cur == id => {
                    uptime.accumulate(*open, *start, ts, &runs);
                    *start = ts;
                    *open = state;
                }
                _ => {
                    if let Some(done) = current.take() {
                        finish(&mut out, done);
                    }
                    current = Some((id, Uptime::default(), from.0, state));
                }
            }
        }
        if let Some(done) = current {
            finish(&mut out, done);
        }
        Ok(out)
    }

    /// RTT of every endpoint of `scope` over `[from, to)` at the resolution
    /// [`Store::rtt_series`] would choose for `max_points` buckets, in one statement.
    /// Endpoints without samples are left out.
    pub async fn export_rtt(
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
