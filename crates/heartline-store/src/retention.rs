//! How long each kind of history is kept, and the job that enforces it.
//!
//! Every statement of the job is a range seek on a key or an index and touches at most
//! [`CHUNK`] rows, so its cost follows what it deletes, not the size of the tables; the writer
//! runs the job a slice at a time between batches ([`Job::step`] with a deadline).

use std::time::{Duration, Instant};

use sqlx::SqliteConnection;

use crate::pack::{self, Packing, HOURS, MINUTES};
use crate::Result;

const DAY: Duration = Duration::from_secs(86_400);
/// Minute rows stay plain this long (the writer's and the live chart's); older ones are packed.
const MINUTE_ROWS_PLAIN: Duration = Duration::from_secs(2 * 3600);

/// How long each table keeps its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Per-minute RTT: the live chart and the last week at full resolution.
    pub minute_rollups: Duration,
    /// Per-hour RTT: a year of trends.
    pub hour_rollups: Duration,
    /// Hour rows keep their mergeable histogram this long (so any window up to 30 days has
    /// true merged percentiles at hour resolution); older hour rows keep count, min, max, sum
    /// and their own p50/p95/p99 only. At least a day is always kept.
    pub hour_histograms: Duration,
    /// Per-day RTT, and every event, session and incident: five years.
    pub day_rollups: Duration,
    /// Day rows keep their histogram this long; older ones keep their summary only. As long
    /// as the hour rows' by default: no reader merges day histograms, and a merge over a window
    /// wider than the hours' histograms would need every day of it anyway.
    pub day_histograms: Duration,
    pub events: Duration,
    /// Sessions are kept at least as long as events: connected and closed events are read
    /// back from their session's row.
    pub sessions: Duration,
    pub incidents: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            minute_rollups: 7 * DAY,
            hour_rollups: 365 * DAY,
            hour_histograms: 31 * DAY,
            day_rollups: 5 * 365 * DAY,
            day_histograms: 31 * DAY,
            events: 5 * 365 * DAY,
            sessions: 5 * 365 * DAY,
            incidents: 5 * 365 * DAY,
        }
    }
}

/// Rows deleted (or histograms dropped) per table by one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub deleted: Vec<(&'static str, u64)>,
    /// Hour and day rows whose histogram was dropped.
    pub histograms_dropped: u64,
    /// Pages given back to the file system.
    pub pages_freed: u64,
    /// Minute and hour rows moved into packed rows (see `pack.rs`).
    pub packed: u64,
}

impl Report {
    fn add(&mut self, table: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        match self.deleted.iter_mut().find(|(t, _)| *t == table) {
            Some((_, total)) => *total += n,
            None => self.deleted.push((table, n)),
        }
    }
}

/// Most rows one statement deletes or updates.
const CHUNK: i64 = 2_000;
/// Pages returned to the file system per statement (16 MiB at 4 KiB pages).
const VACUUM_PAGES: i64 = 4096;

/// Settings keys holding how far histograms were already dropped (the bucket below which every
/// row has none), so each run only touches the rows that aged since the last one.
const HOUR_MARK: &str = "store.hour_histograms_dropped_before";
const DAY_MARK: &str = "store.day_histograms_dropped_before";

#[derive(Debug, Clone, Copy)]
enum Step {
    /// Delete a rollup table's rows older than the cut, per (endpoint, kind).
    Rollups {
        table: &'static str,
        column: &'static str,
        before: i64,
    },
    /// Move a rollup table's rows older than the cut into its packed table, per (endpoint,
    /// kind), whole groups at a time.
    Pack {
        packing: Packing,
        before: i64,
    },
    /// Drop histograms of rollup rows in `[from, before)`, per (endpoint, kind).
    Histograms {
        table: &'static str,
        column: &'static str,
        from: i64,
        before: i64,
        mark: &'static str,
    },
    /// Rows of a table keyed (endpoint_id, time, seq) older than the cut, per endpoint:
    /// `sessions` (by start) and `events` (which has no time index).
    PerEndpoint {
        table: &'static str,
        column: &'static str,
        before: i64,
    },
    /// A table with a time index: `states`.
    ByTime {
        table: &'static str,
        before: i64,
    },
    Incidents {
        before: i64,
    },
    AgentRuns {
        before: i64,
    },
    Vacuum,
}

/// One retention run, resumable: [`Job::step`] does some of it and says whether it is done.
#[derive(Debug)]
pub(crate) struct Job {
    steps: Vec<Step>,
    at: usize,
    /// Last (endpoint, kind) done in the current per-endpoint step.
    cursor: Option<(i64, i64)>,
    report: Report,
}

fn cut(now_ms: i64, d: Duration) -> i64 {
    now_ms.saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2))
}

impl Job {
    /// Plans a run for `now_ms`; reads how far histograms were already dropped.
    pub(crate) async fn new(
        conn: &mut SqliteConnection,
        r: &Retention,
        now_ms: i64,
    ) -> Result<Job> {
        const HOUR_MS: i64 = 3_600_000;
        const DAY_MS: i64 = 86_400_000;
        let hour_rows = cut(now_ms, r.hour_rollups).div_euclid(HOUR_MS);
        let day_rows = cut(now_ms, r.day_rollups).div_euclid(DAY_MS);
        // At least a day of histograms: the writer and the overview merge the recent hours.
        let hour_hist = cut(now_ms, r.hour_histograms.max(DAY)).div_euclid(HOUR_MS);
        let day_hist = cut(now_ms, r.day_histograms.max(2 * DAY)).div_euclid(DAY_MS);
        let hour_mark = read_mark(conn, HOUR_MARK).await?.unwrap_or(i64::MIN);
        let day_mark = read_mark(conn, DAY_MARK).await?.unwrap_or(i64::MIN);
        let events = cut(now_ms, r.events);
        let minute_rows = cut(now_ms, r.minute_rollups).div_euclid(60_000);
        // A packed row goes when its last bucket is past the cut.
        let packed_before = |p: Packing, before: i64| before - (p.group - 1);
        let steps = vec![
            Step::Rollups {
                table: "rtt_minute",
                column: "minute",
                before: minute_rows,
            },
            Step::Rollups {
                table: MINUTES.packed,
                column: "start",
                before: packed_before(MINUTES, minute_rows),
            },
            Step::Pack {
                packing: MINUTES,
                before: cut(now_ms, MINUTE_ROWS_PLAIN.min(r.minute_rollups)).div_euclid(60_000),
            },
            Step::Rollups {
                table: "rtt_hour",
                column: "hour",
                before: hour_rows,
            },
            Step::Rollups {
                table: HOURS.packed,
                column: "start",
                before: packed_before(HOURS, hour_rows),
            },
            Step::Histograms {
                table: "rtt_hour",
                column: "hour",
                from: hour_mark.max(hour_rows),
                before: hour_hist,
                mark: HOUR_MARK,
            },
            // Only rows without a histogram are packed: the histogram step above ran first.
            Step::Pack {
                packing: HOURS,
                before: hour_hist,
            },
            Step::Rollups {
                table: "rtt_day",
                column: "day",
                before: day_rows,
            },
            Step::Histograms {
                table: "rtt_day",
                column: "day",
                from: day_mark.max(day_rows),
                before: day_hist,
                mark: DAY_MARK,
            },
            Step::PerEndpoint {
                table: "events",
                column: "ts",
                before: events,
            },
            Step::ByTime {
                table: "states",
                before: events,
            },
            Step::PerEndpoint {
                table: "sessions",
                column: "started_at",
                before: cut(now_ms, r.sessions).min(events),
            },
            Step::Incidents {
                before: cut(now_ms, r.incidents),
            },
            Step::AgentRuns { before: events },
            Step::Vacuum,
        ];
        Ok(Job {
            steps,
            at: 0,
            cursor: None,
            report: Report::default(),
        })
    }

    /// Works until done or past `deadline` (each statement is bounded, so it overruns by at
    /// most one); returns whether the run is complete.
    pub(crate) async fn step(
        &mut self,
        conn: &mut SqliteConnection,
        deadline: Option<Instant>,
    ) -> Result<bool> {
        while let Some(&step) = self.steps.get(self.at) {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            if self.work(conn, step).await? {
                self.at += 1;
                self.cursor = None;
            }
        }
        Ok(true)
    }

    pub(crate) fn report(&self) -> &Report {
        &self.report
    }

    /// One bounded piece of `step`; returns whether that step is finished.
    async fn work(&mut self, conn: &mut SqliteConnection, step: Step) -> Result<bool> {
        match step {
            Step::Rollups {
                table,
                column,
                before,
            } => {
                let Some((e, k)) = next_key(conn, table, self.cursor).await? else {
                    return Ok(true);
                };
                let n = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE (endpoint_id, kind, {column}) IN \
                     (SELECT endpoint_id, kind, {column} FROM {table} \
                      WHERE endpoint_id = ? AND kind = ? AND {column} < ? ORDER BY {column} LIMIT {CHUNK})"
                ))
                .bind(e)
                .bind(k)
                .bind(before)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                self.report.add(table, n);
                if n < CHUNK.unsigned_abs() {
                    self.cursor = Some((e, k));
                }
                Ok(false)
            }
            Step::Pack { packing, before } => {
                let Some((e, k)) = next_key(conn, packing.table, self.cursor).await? else {
                    return Ok(true);
                };
                let (n, done) = pack::pack_some(conn, packing, e, k, before, CHUNK).await?;
                self.report.packed += n;
                if done {
                    self.cursor = Some((e, k));
                }
                Ok(false)
            }
            Step::Histograms {
                table,
                column,
                from,
                before,
                mark,
            } => {
                if from >= before {
                    return Ok(true);
                }
                let Some((e, k)) = next_key(conn, table, self.cursor).await? else {
                    write_mark(conn, mark, before).await?;
                    return Ok(true);
                };
                // A range seek over the rows that aged since the last run, a chunk at a time.
                let mut lo = from;
                while lo < before {
                    let hi = lo.saturating_add(CHUNK).min(before);
                    let n = sqlx::query(&format!(
                        "UPDATE {table} SET histogram = x'' WHERE endpoint_id = ? AND kind = ? \
                         AND {column} >= ? AND {column} < ? AND length(histogram) > 0"
                    ))
                    .bind(e)
                    .bind(k)
                    .bind(lo)
                    .bind(hi)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                    self.report.histograms_dropped += n;
                    lo = hi;
                }
                self.cursor = Some((e, k));
                Ok(false)
            }
            Step::PerEndpoint {
                table,
                column,
                before,
            } => {
                let Some((e, _)) = next_key(conn, table, self.cursor).await? else {
                    return Ok(true);
                };
                let n = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE (endpoint_id, {column}, seq) IN \
                     (SELECT endpoint_id, {column}, seq FROM {table} \
                      WHERE endpoint_id = ? AND {column} < ? ORDER BY {column} LIMIT {CHUNK})"
                ))
                .bind(e)
                .bind(before)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                self.report.add(table, n);
                if n < CHUNK.unsigned_abs() {
                    self.cursor = Some((e, i64::MAX));
                }
                Ok(false)
            }
            Step::ByTime { table, before } => {
                let n = sqlx::query(&format!(
                    "DELETE FROM {table} WHERE (endpoint_id, ts, seq) IN \
                     (SELECT endpoint_id, ts, seq FROM {table} WHERE ts < ? ORDER BY ts LIMIT {CHUNK})"
                ))
                .bind(before)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                self.report.add(table, n);
                Ok(n < CHUNK.unsigned_abs())
            }
            Step::Incidents { before } => {
                let n = sqlx::query(&format!(
                    "DELETE FROM incidents WHERE id IN (SELECT id FROM incidents \
                     WHERE started_at < ? AND ended_at IS NOT NULL ORDER BY started_at LIMIT {CHUNK})"
                ))
                .bind(before)
                .execute(&mut *conn)
                .await?
                .rows_affected();
                self.report.add("incidents", n);
                Ok(n < CHUNK.unsigned_abs())
            }
            Step::AgentRuns { before } => {
                let n =
                    sqlx::query("DELETE FROM agent_runs WHERE COALESCE(stopped_at, last_seen) < ?")
                        .bind(before)
                        .execute(&mut *conn)
                        .await?
                        .rows_affected();
                self.report.add("agent_runs", n);
                Ok(true)
            }
            Step::Vacuum => {
                let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                    .fetch_one(&mut *conn)
                    .await?;
                if free <= 0 {
                    return Ok(true);
                }
                sqlx::query(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))
                    .execute(&mut *conn)
                    .await?;
                let left: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                    .fetch_one(&mut *conn)
                    .await?;
                self.report.pages_freed += (free - left).max(0).unsigned_abs();
                // No progress: the file's vacuum mode does not allow it (not incremental).
                Ok(left <= 0 || left >= free)
            }
        }
    }
}

/// The (endpoint, kind) after `after` in a table keyed by them (`kind` is 0 for `sessions`
/// and `events`, which are keyed by endpoint and time). Two plain seeks on the primary key: the next kind of the
/// same endpoint, else the first of the next endpoint (a row-value `(endpoint_id, kind) > (?, ?)`
/// seeks on the endpoint only and walks its rows).
async fn next_key(
    conn: &mut SqliteConnection,
    table: &str,
    after: Option<(i64, i64)>,
) -> Result<Option<(i64, i64)>> {
    let by_endpoint = matches!(table, "sessions" | "events");
    let Some((e, k)) = after else {
        let first: Option<(i64, i64)> = if by_endpoint {
            sqlx::query_as(&format!(
                "SELECT endpoint_id, 0 FROM {table} ORDER BY endpoint_id LIMIT 1"
            ))
            .fetch_optional(&mut *conn)
            .await?
        } else {
            sqlx::query_as(&format!(
                "SELECT endpoint_id, kind FROM {table} ORDER BY endpoint_id, kind LIMIT 1"
            ))
            .fetch_optional(&mut *conn)
            .await?
        };
        return Ok(first);
    };
    if by_endpoint {
        let next: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT endpoint_id FROM {table} WHERE endpoint_id > ? ORDER BY endpoint_id LIMIT 1"
        ))
        .bind(e)
        .fetch_optional(&mut *conn)
        .await?;
        return Ok(next.map(|e| (e, 0)));
    }
    let same: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT kind FROM {table} WHERE endpoint_id = ? AND kind > ? ORDER BY kind LIMIT 1"
    ))
    .bind(e)
    .bind(k)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(kind) = same {
        return Ok(Some((e, kind)));
    }
    Ok(sqlx::query_as(&format!(
        "SELECT endpoint_id, kind FROM {table} WHERE endpoint_id > ? ORDER BY endpoint_id, kind LIMIT 1"
    ))
    .bind(e)
    .fetch_optional(&mut *conn)
    .await?)
}

async fn read_mark(conn: &mut SqliteConnection, key: &str) -> Result<Option<i64>> {
    let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(value.and_then(|v| v.parse().ok()))
}

async fn write_mark(conn: &mut SqliteConnection, key: &str, value: i64) -> Result<()> {
    sqlx::query("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)")
        .bind(key)
        .bind(value.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Runs a whole retention job at once.
pub(crate) async fn apply(
    conn: &mut SqliteConnection,
    r: &Retention,
    now_ms: i64,
) -> Result<Report> {
    let mut job = Job::new(conn, r, now_ms).await?;
    job.step(conn, None).await?;
    Ok(job.report().clone())
}
