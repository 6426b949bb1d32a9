//! The summaries a dashboard shows: an overview row per endpoint, RTT series at a resolution
//! that fits the window, session lengths and reconnect history. Each is one or two statements.

use std::time::Duration;

use heartline_core::{
    Availability, EndpointId, EventKind, Histogram, PingKind, RetryReason, Rollup, State, Timestamp,
};

use crate::export::Scope;
use crate::query::state_from;
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
    /// Uptime over the last 24 hours by the one definition ([`Availability::uptime`]).
    pub uptime_24h: Option<f64>,
    /// Uptime and session stability over the last 24 hours (`None`: nothing recorded).
    pub last_24h: Option<Availability>,
    /// Protocol RTT over the current and previous hour.
    pub rtt_p50: Option<Duration>,
    pub rtt_p95: Option<Duration>,
}

/// Bucket size of an RTT series, serialized by its lowercase name (`minute`, `hour`, `day`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
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

/// One bucket of a server's own heartbeats: how many arrived and the intervals between them.
/// The spread of the intervals (`max_interval` against `p50_interval`) is their jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeatPoint {
    /// Start of the bucket.
    pub at: Timestamp,
    pub beats: u64,
    pub min_interval: Duration,
    pub mean_interval: Duration,
    pub max_interval: Duration,
    pub p50_interval: Duration,
    pub p95_interval: Duration,
}

/// Server heartbeats over a whole window, folded from its [`BeatPoint`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeatTotals {
    pub beats: u64,
    pub mean_interval: Duration,
    pub min_interval: Duration,
    pub max_interval: Duration,
    /// The largest of the buckets' 95th percentiles (percentiles do not add up).
    pub worst_p95_interval: Duration,
}

impl BeatTotals {
    /// The window's beats, or `None` when none arrived.
    pub fn of(points: &[BeatPoint]) -> Option<BeatTotals> {
        let beats: u64 = points.iter().map(|p| p.beats).sum();
        if beats == 0 {
            return None;
        }
        let weighted: u128 = points
            .iter()
            .map(|p| p.mean_interval.as_micros() * u128::from(p.beats))
            .sum();
        let mean_us = u64::try_from(weighted / u128::from(beats)).unwrap_or(u64::MAX);
        let with_beats = || points.iter().filter(|p| p.beats > 0);
        Some(BeatTotals {
            beats,
            mean_interval: Duration::from_micros(mean_us),
            min_interval: with_beats().map(|p| p.min_interval).min()?,
            max_interval: with_beats().map(|p| p.max_interval).max()?,
            worst_p95_interval: with_beats().map(|p| p.p95_interval).max()?,
        })
    }
}

/// A scheduled reconnect and what came of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconnect {
    pub at: Timestamp,
    pub attempt: u32,
    pub delay: Duration,
    pub reason: RetryReason,
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
    ///
    /// One statement, one row per endpoint: sqlx hands rows from its SQLite thread one at a
    /// time, which cost more here than SQLite's seeks. Per endpoint: its newest state, its
    /// newest close and the state before the last 24 hours (a seek each on a primary key,
    /// returned as short text), that day's changes (a range seek, usually empty, as text) and
    /// the current and previous hour's rollup rows (two primary-key lookups).
    pub async fn overview(
        &self,
        endpoints: &[EndpointId],
        now: Timestamp,
    ) -> Result<Vec<OverviewRow>> {
        if endpoints.is_empty() {
            return Ok(Vec::new());
        }
        let day_ago = now.0 - 86_400_000;
        let hour = now.0.div_euclid(3_600_000);
        type Hour = (
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<Vec<u8>>,
            Option<i64>,
            Option<i64>,
        );
        #[derive(sqlx::FromRow)]
        struct Row {
            id: i64,
            newest: Option<String>,
            close: Option<String>,
            #[sqlx(flatten)]
            prev: HourRow,
            #[sqlx(flatten)]
            cur: HourRowCur,
        }
        #[derive(sqlx::FromRow)]
        struct HourRow {
            p_count: Option<i64>,
            p_min: Option<i64>,
            p_max: Option<i64>,
            p_sum: Option<i64>,
            p_hist: Option<Vec<u8>>,
            p_p50: Option<i64>,
            p_p95: Option<i64>,
        }
        #[derive(sqlx::FromRow)]
        struct HourRowCur {
            c_count: Option<i64>,
            c_min: Option<i64>,
            c_max: Option<i64>,
            c_sum: Option<i64>,
            c_hist: Option<Vec<u8>>,
            c_p50: Option<i64>,
            c_p95: Option<i64>,
        }
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "WITH ids(id) AS (VALUES {values}) SELECT ids.id AS id, \
               (SELECT ts || ' ' || state FROM states WHERE endpoint_id = ids.id \
                 ORDER BY ts DESC, seq DESC LIMIT 1) AS newest, \
               (SELECT ts || ' ' || code || ' ' || initiator FROM events WHERE endpoint_id = ids.id \
                 AND kind = 'closed' ORDER BY ts DESC, seq DESC LIMIT 1) AS close, \
               p.count AS p_count, p.min_us AS p_min, p.max_us AS p_max, p.sum_us AS p_sum, \
               p.histogram AS p_hist, p.p50_us AS p_p50, p.p95_us AS p_p95, \
               c.count AS c_count, c.min_us AS c_min, c.max_us AS c_max, c.sum_us AS c_sum, \
               c.histogram AS c_hist, c.p50_us AS c_p50, c.p95_us AS c_p95 \
             FROM ids \
             LEFT JOIN rtt_hour p ON p.endpoint_id = ids.id AND p.kind = {protocol} AND p.hour = ?3 - 1 \
             LEFT JOIN rtt_hour c ON c.endpoint_id = ids.id AND c.kind = {protocol} AND c.hour = ?3",
            values = endpoints.iter().map(|e| format!("({})", id(*e))).collect::<Vec<_>>().join(","),
            protocol = kind_code(PingKind::Protocol)
        ))
        .bind(day_ago)
        .bind(now.0)
        .bind(hour)
        .fetch_all(self.reader())
        .await?;
        let availability = self
            .availability_of(Scope::Only(endpoints), Timestamp(day_ago), now)
            .await?;

        Ok(rows
            .into_iter()
            .map(|r| {
                let newest = r.newest.as_deref().and_then(|t| t.split_once(' '));
                let since = newest.and_then(|(ts, _)| ts.parse::<i64>().ok());
                let state = newest.and_then(|(_, s)| state_from(s));
                let last_close = r.close.as_deref().and_then(|t| {
                    let mut parts = t.splitn(3, ' ');
                    let ts = parts.next()?.parse::<i64>().ok()?;
                    let code = u16::try_from(parts.next()?.parse::<i64>().ok()?).ok()?;
                    Some((Timestamp(ts), code, parts.next()?.to_owned()))
                });
                let last_24h = availability
                    .get(&EndpointId(r.id.max(0).unsigned_abs()))
                    .copied();
                // Recent RTT: the current and previous hour's histograms merged. Rows whose
                // histogram was dropped (retention set shorter than two hours) give their own
                // percentiles, the newest row's winning.
                let hours: [Hour; 2] = [
                    (
                        r.prev.p_count,
                        r.prev.p_min,
                        r.prev.p_max,
                        r.prev.p_sum,
                        r.prev.p_hist,
                        r.prev.p_p50,
                        r.prev.p_p95,
                    ),
                    (
                        r.cur.c_count,
                        r.cur.c_min,
                        r.cur.c_max,
                        r.cur.c_sum,
                        r.cur.c_hist,
                        r.cur.c_p50,
                        r.cur.c_p95,
                    ),
                ];
                let mut recent = Rollup::default();
                let mut stored: Option<(u64, u64)> = None;
                for (count, min, max, sum, hist, p50, p95) in hours {
                    let (Some(count), Some(hist)) = (count, hist) else {
                        continue;
                    };
                    let n = |v: Option<i64>| v.unwrap_or(0).max(0).unsigned_abs();
                    if hist.is_empty() && count > 0 {
                        stored = Some((n(p50), n(p95)));
                        continue;
                    }
                    recent.merge(&Rollup {
                        count: count.max(0).unsigned_abs(),
                        min_us: n(min),
                        max_us: n(max),
                        sum_us: n(sum),
                        histogram: Histogram::decode(&hist).unwrap_or_default(),
                    });
                }
                let rollup = Some(&recent).filter(|r| r.count > 0);
                let fallback = stored.filter(|_| rollup.is_none());
                OverviewRow {
                    endpoint: EndpointId(r.id.max(0).unsigned_abs()),
                    state,
                    since: since.map(Timestamp),
                    last_close,
                    uptime_24h: last_24h.and_then(|a| a.uptime()),
                    last_24h,
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
    /// [`PingKind::Server`] has no round trips (an empty series): its beats are
    /// [`Store::beat_series`].
    pub async fn rtt_series(
        &self,
        endpoint: EndpointId,
        kind: PingKind,
        from: Timestamp,
        to: Timestamp,
        max_points: usize,
    ) -> Result<(Resolution, Vec<RttPoint>)> {
        if kind == PingKind::Server {
            return Ok((Resolution::fitting(from, to, max_points), Vec::new()));
        }
        self.duration_series(endpoint, kind, from, to, max_points)
            .await
    }

    /// The server's own heartbeats of one endpoint over `[from, to)`, bucketed as
    /// [`Store::rtt_series`] buckets round trips: per bucket how many arrived and the
    /// intervals between them (never a round trip). Each beat's interval is counted in the
    /// minute it arrived in.
    pub async fn beat_series(
        &self,
        endpoint: EndpointId,
        from: Timestamp,
        to: Timestamp,
        max_points: usize,
    ) -> Result<(Resolution, Vec<BeatPoint>)> {
        let (resolution, points) = self
            .duration_series(endpoint, PingKind::Server, from, to, max_points)
            .await?;
        let beats = points
            .into_iter()
            .map(|p| BeatPoint {
                at: p.at,
                beats: p.count,
                min_interval: p.min,
                mean_interval: p.mean,
                max_interval: p.max,
                p50_interval: p.p50,
                p95_interval: p.p95,
            })
            .collect();
        Ok((resolution, beats))
    }

    /// The rollup rows of one kind as points: round trips, or server-beat intervals.
    async fn duration_series(
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
        // Plain and packed rows alike (old minute and hour rows are packed; see pack.rs).
        let rows = self
            .rtt_points(
                table,
                column,
                id(endpoint),
                kind_code(kind),
                from.0.div_euclid(step),
                (to.0 + step - 1).div_euclid(step),
            )
            .await?;
        let points = rows
            .into_iter()
            .map(|(bucket, s)| RttPoint {
                at: Timestamp(bucket * step),
                count: s.count.max(0).unsigned_abs(),
                min: us(s.min_us),
                max: us(s.max_us),
                mean: us(if s.count > 0 { s.sum_us / s.count } else { 0 }),
                p50: us(s.p50_us),
                p95: us(s.p95_us),
                p99: us(s.p99_us),
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
                    reason: *reason,
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

#[cfg(test)]
mod tests {
    use super::Resolution;

    /// The detail view labels its RTT chart with these names ("p95 per minute").
    #[test]
    fn resolutions_serialize_by_their_names() {
        for (resolution, name) in [
            (Resolution::Minute, "minute"),
            (Resolution::Hour, "hour"),
            (Resolution::Day, "day"),
        ] {
            let json = serde_json::to_value(resolution).expect("serialize");
            assert_eq!(json, serde_json::Value::from(name));
            assert_eq!(
                serde_json::from_value::<Resolution>(json).ok(),
                Some(resolution)
            );
        }
    }
}
