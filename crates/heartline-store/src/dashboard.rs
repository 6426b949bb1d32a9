//! The summaries a dashboard shows: an overview row per endpoint, RTT series at a resolution
//! that fits the window, session lengths and reconnect history. Each is one or two statements.

use std::collections::HashMap;
use std::time::Duration;

use heartline_core::{EndpointId, EventKind, Histogram, PingKind, Rollup, State, Timestamp};

use crate::query::{state_from, Uptime};
use crate::writer::kind_code;
use crate::{Result, Store};

/// One endpoint in the overview.
#[derive(Debug, Clone, PartialEq)]
pub struct OverviewRow {
    pub endpoint: EndpointId,
    pub state: Option<State>,
    pub since: Option<Timestamp>,
    /// The last session end: when, code, initiator.
    pub last_close: Option<(Timestamp, u16, String)>,
    /// Up (or Degraded) over the known time of the last 24 hours.
    pub uptime_24h: Option<f64>,
    /// Protocol RTT over the current and previous hour.
    pub rtt_p50: Option<Duration>,
    pub rtt_p95: Option<Duration>,
}

/// Bucket size of an RTT series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub fn millis(self) -> i64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
            Resolution::Day => 86_400_000,
        }
    }

    /// The finest rollup with at most `max_points` buckets in `[from, to)` (days when even
    /// hours are too many).
    pub fn fitting(from: Timestamp, to: Timestamp, max_points: usize) -> Resolution {
        let span = (to.0 - from.0).max(0);
        let most = i64::try_from(max_points).unwrap_or(i64::MAX);
        [Resolution::Minute, Resolution::Hour]
            .into_iter()
            .find(|r| span / r.millis() <= most)
            .unwrap_or(Resolution::Day)
    }

    /// The rollup table of this resolution and its bucket column.
    pub(crate) fn table(self) -> (&'static str, &'static str) {
        match self {
            Resolution::Minute => ("rtt_minute", "minute"),
            Resolution::Hour => ("rtt_hour", "hour"),
            Resolution::Day => ("rtt_day", "day"),
        }
    }
}

/// One bucket of an RTT series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttPoint {
    /// Start of the bucket.
    pub at: Timestamp,
    pub count: u64,
    pub min: Duration,
    pub max: Duration,
    pub mean: Duration,
    pub p50: Duration,
    pub p95: Duration,
    pub p99: Duration,
}

/// A scheduled reconnect and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconnect {
    pub at: Timestamp,
    pub attempt: u32,
    pub delay: Duration,
    pub reason: String,
    /// "connected", or the failure (e.g. "http 503"), or None when nothing followed in range.
    pub outcome: Option<String>,
}

/// Session-length buckets: upper bounds in seconds (the last is open-ended).
pub const SESSION_BUCKETS: [u64; 11] = [1, 10, 30, 60, 120, 300, 600, 1800, 3600, 21_600, 86_400];

fn id(e: EndpointId) -> i64 {
    i64::try_from(e.0).unwrap_or(i64::MAX)
}

fn us(v: i64) -> Duration {
    Duration::from_micros(v.max(0).unsigned_abs())
}

impl Store {
    /// One row per endpoint: state, last close, 24 h uptime and recent RTT percentiles.
    pub async fn overview(
        &self,
        endpoints: &[EndpointId],
        now: Timestamp,
    ) -> Result<Vec<OverviewRow>> {
        if endpoints.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = endpoints.iter().map(|e| id(*e).to_string()).collect();
        let list = list.join(",");
        let day_ago = now.0 - 86_400_000;
        // Latest state and last close per endpoint: one seek for the newest row's key, then
        // one primary-key lookup for its columns. The state before the last 24 hours is the
        // newest one unless that changed within them; only then is it a seek of its own.
        type Row = (
            i64,
            Option<i64>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "WITH ids(id) AS (VALUES {values}) SELECT ids.id, s.ts, s.state, c.ts, c.code, c.initiator, \
               CASE WHEN s.ts >= ?1 THEN (SELECT state FROM states WHERE endpoint_id = ids.id AND ts < ?1 \
                 ORDER BY ts DESC, seq DESC LIMIT 1) ELSE s.state END FROM ids \
             LEFT JOIN states s ON s.endpoint_id = ids.id AND (s.ts, s.seq) = \
               (SELECT ts, seq FROM states WHERE endpoint_id = ids.id ORDER BY ts DESC, seq DESC LIMIT 1) \
             LEFT JOIN events c ON c.endpoint_id = ids.id AND (c.ts, c.seq) = \
               (SELECT ts, seq FROM events WHERE endpoint_id = ids.id AND kind = 'closed' ORDER BY ts DESC, seq DESC LIMIT 1)",
            values = endpoints.iter().map(|e| format!("({})", id(*e))).collect::<Vec<_>>().join(",")
        ))
        .bind(day_ago)
        .fetch_all(self.reader())
        .await?;

        // Uptime over 24 h from the state before the window and the changes within it, read
        // only for the endpoints that changed.
        let before: Vec<(i64, String)> = rows
            .iter()
            .filter_map(|r| Some((r.0, r.6.clone()?)))
            .collect();
        let changed: Vec<String> = rows
            .iter()
            .filter(|r| r.1.is_some_and(|ts| ts >= day_ago))
            .map(|r| r.0.to_string())
            .collect();
        let changes: Vec<(i64, i64, String)> = if changed.is_empty() {
            Vec::new()
        } else {
            sqlx::query_as(&format!(
                "SELECT endpoint_id, ts, state FROM states WHERE endpoint_id IN ({}) AND ts >= ? AND ts < ? \
                 ORDER BY endpoint_id, ts, seq",
                changed.join(",")
            ))
            .bind(day_ago)
            .bind(now.0)
            .fetch_all(self.reader())
            .await?
        };
        let runs = self.runs_between(Timestamp(day_ago), now).await?;
        let mut timelines: HashMap<i64, Vec<(i64, Option<State>)>> = HashMap::new();
        for (e, s) in before {
            timelines
                .entry(e)
                .or_default()
                .push((day_ago, state_from(&s)));
        }
        for (e, ts, s) in changes {
            timelines.entry(e).or_default().push((ts, state_from(&s)));
        }

        // Recent RTT: merge the current and previous hour's histograms.
        let hour = now.0.div_euclid(3_600_000);
        type HistRow = (i64, i64, i64, i64, i64, Vec<u8>, i64, i64);
        let hist_rows: Vec<HistRow> = sqlx::query_as(&format!(
            "SELECT endpoint_id, count, min_us, max_us, sum_us, histogram, p50_us, p95_us FROM rtt_hour \
             WHERE endpoint_id IN ({list}) AND kind = {protocol} AND hour >= ?",
            protocol = kind_code(PingKind::Protocol)
        ))
        .bind(hour - 1)
        .fetch_all(self.reader())
        .await?;
        let mut recent: HashMap<i64, Rollup> = HashMap::new();
        // Rows whose histogram was dropped (retention set shorter than two hours): their own
        // percentiles, the newest row's winning.
        let mut stored: HashMap<i64, (u64, u64)> = HashMap::new();
        for (e, count, min, max, sum, hist, p50, p95) in hist_rows {
            if hist.is_empty() && count > 0 {
                stored.insert(e, (p50.max(0).unsigned_abs(), p95.max(0).unsigned_abs()));
                continue;
            }
            recent.entry(e).or_default().merge(&Rollup {
                count: count.max(0).unsigned_abs(),
                min_us: min.max(0).unsigned_abs(),
                max_us: max.max(0).unsigned_abs(),
                sum_us: sum.max(0).unsigned_abs(),
                histogram: Histogram::decode(&hist).unwrap_or_default(),
            });
        }

        Ok(rows
            .into_iter()
            .map(|(e, since, state, close_ts, close_code, initiator, _)| {
                let uptime = timelines.get(&e).map(|pieces| {
                    let mut u = Uptime::default();
                    let mut bounds = pieces.clone();
                    bounds.push((now.0, None));
                    for pair in bounds.windows(2) {
                        u.accumulate(pair[0].1, pair[0].0, pair[1].0, &runs);
                    }
                    u
                });
                let rollup = recent.get(&e).filter(|r| r.count > 0);
                let fallback = stored.get(&e).filter(|_| rollup.is_none());
                OverviewRow {
                    endpoint: EndpointId(e.max(0).unsigned_abs()),
                    state: state.as_deref().and_then(state_from),
                    since: since.map(Timestamp),
                    last_close: match (close_ts, close_code, initiator) {
                        (Some(ts), Some(code), Some(who)) => {
                            u16::try_from(code).ok().map(|c| (Timestamp(ts), c, who))
                        }
                        _ => None,
                    },
                    uptime_24h: uptime.and_then(|u| u.ratio()),
                    rtt_p50: rollup
                        .and_then(|r| r.quantile_us(0.5))
                        .or(fallback.map(|f| f.0))
                        .map(Duration::from_micros),
                    rtt_p95: rollup
                        .and_then(|r| r.quantile_us(0.95))
                        .or(fallback.map(|f| f.1))
                        .map(Duration::from_micros),
                }
            })
            .collect())
    }

    /// RTT of one endpoint over `[from, to)` at the finest resolution that gives at most
    /// `max_points` buckets (minute rows are kept a week, hours a year, days five years).
    pub async fn rtt_series(
        &self,
        endpoint: EndpointId,
        kind: PingKind,
        from: Timestamp,
        to: Timestamp,
        max_points: usize,
    ) -> Result<(Resolution, Vec<RttPoint>)> {
        let resolution = Resolution::fitting(from, to, max_points);
        let (table, column) = resolution.table();
        let step = resolution.millis();
        // bucket, count, min, max, sum, p50, p95, p99
        type Row = (i64, i64, i64, i64, i64, i64, i64, i64);
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {column}, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us FROM {table} \
             WHERE endpoint_id = ? AND kind = ? AND {column} >= ? AND {column} < ? ORDER BY {column}"
        ))
        .bind(id(endpoint))
        .bind(kind_code(kind))
        .bind(from.0.div_euclid(step))
        .bind((to.0 + step - 1).div_euclid(step))
        .fetch_all(self.reader())
        .await?;
        let points = rows
            .into_iter()
            .map(|(bucket, count, min, max, sum, p50, p95, p99)| RttPoint {
                at: Timestamp(bucket * step),
                count: count.max(0).unsigned_abs(),
                min: us(min),
                max: us(max),
                mean: us(if count > 0 { sum / count } else { 0 }),
                p50: us(p50),
                p95: us(p95),
                p99: us(p99),
            })
            .collect();
        Ok((resolution, points))
    }

    /// How long sessions lasted over a window: counts per [`SESSION_BUCKETS`] bound (seconds),
    /// plus one open-ended bucket.
    pub async fn session_lengths(
        &self,
        endpoint: EndpointId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<u64>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT ended_at - started_at FROM sessions WHERE endpoint_id = ? AND started_at >= ? AND started_at < ? AND ended_at IS NOT NULL",
        )
        .bind(id(endpoint))
        .bind(from.0)
        .bind(to.0)
        .fetch_all(self.reader())
        .await?;
        let mut counts = vec![0u64; SESSION_BUCKETS.len() + 1];
        for (ms,) in rows {
            let secs = ms.max(0).unsigned_abs().div_ceil(1000);
            let i = SESSION_BUCKETS
                .iter()
                .position(|&b| secs <= b)
                .unwrap_or(SESSION_BUCKETS.len());
            counts[i] += 1;
        }
        Ok(counts)
    }

    /// The newest `limit` scheduled reconnects in a window, each with the attempt's outcome.
    pub async fn reconnects(
        &self,
        endpoint: EndpointId,
        from: Timestamp,
        to: Timestamp,
        limit: usize,
    ) -> Result<Vec<Reconnect>> {
        let history = self.history(&[endpoint], from, to).await?;
        let mut out: Vec<Reconnect> = Vec::new();
        for event in &history {
            match &event.kind {
                EventKind::ReconnectScheduled {
                    attempt,
                    delay,
                    reason,
                } => out.push(Reconnect {
                    at: event.at,
                    attempt: *attempt,
                    delay: *delay,
                    reason: reason.as_str().to_owned(),
                    outcome: None,
                }),
                EventKind::Connected { .. } | EventKind::HandshakeFailed(_) => {
                    if let Some(last) = out.last_mut().filter(|r| r.outcome.is_none()) {
                        last.outcome = Some(match &event.kind {
                            EventKind::HandshakeFailed(f) => match f.phase.status() {
                                Some(status) => format!("{} {status}", f.phase.as_str()),
                                None => f.phase.as_str().to_owned(),
                            },
                            _ => "connected".to_owned(),
                        });
                    }
                }
                _ => {}
            }
        }
        let skip = out.len().saturating_sub(limit);
        Ok(out.split_off(skip))
    }

    /// Agent runs overlapping a window, as (start, end) in ms, merged where they overlap (the
    /// app and a `heartline run` may record into one file at once).
    pub(crate) async fn runs_between(
        &self,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(i64, i64)>> {
        let runs: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT started_at, COALESCE(stopped_at, last_seen) FROM agent_runs \
             WHERE started_at < ? AND COALESCE(stopped_at, last_seen) > ? ORDER BY started_at",
        )
        .bind(to.0)
        .bind(from.0)
        .fetch_all(self.reader())
        .await?;
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(runs.len());
        for (start, end) in runs {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Ok(merged)
    }
}
