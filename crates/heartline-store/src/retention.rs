//! How long each kind of history is kept, and the job that enforces it.

use std::time::Duration;

use sqlx::SqliteConnection;

use crate::Result;

const DAY: Duration = Duration::from_secs(86_400);

/// How long each table keeps its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Per-minute RTT: the live chart and the last week at full resolution.
    pub minute_rollups: Duration,
    /// Per-hour RTT with histograms: a year of trends.
    pub hour_rollups: Duration,
    /// Per-day RTT with histograms, and every event, session and incident: five years.
    pub day_rollups: Duration,
    pub events: Duration,
    pub sessions: Duration,
    pub incidents: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            minute_rollups: 7 * DAY,
            hour_rollups: 365 * DAY,
            day_rollups: 5 * 365 * DAY,
            events: 5 * 365 * DAY,
            sessions: 5 * 365 * DAY,
            incidents: 5 * 365 * DAY,
        }
    }
}

/// Rows deleted per table by one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub deleted: Vec<(&'static str, u64)>,
}

/// Pages returned to the file system per run; small steps keep the writer responsive.
const VACUUM_PAGES: i64 = 4096;

/// Deletes what is older than the retention allows, then gives free pages back to the disk.
pub(crate) async fn apply(
    conn: &mut SqliteConnection,
    r: &Retention,
    now_ms: i64,
) -> Result<Report> {
    let cut = |d: Duration| now_ms - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2);
    let steps: [(&'static str, String, i64); 8] = [
        (
            "rtt_minute",
            "DELETE FROM rtt_minute WHERE minute < ?".into(),
            cut(r.minute_rollups).div_euclid(60_000),
        ),
        (
            "rtt_hour",
            "DELETE FROM rtt_hour WHERE hour < ?".into(),
            cut(r.hour_rollups).div_euclid(3_600_000),
        ),
        (
            "rtt_day",
            "DELETE FROM rtt_day WHERE day < ?".into(),
            cut(r.day_rollups).div_euclid(86_400_000),
        ),
        (
            "events",
            "DELETE FROM events WHERE ts < ?".into(),
            cut(r.events),
        ),
        (
            "states",
            "DELETE FROM states WHERE ts < ?".into(),
            cut(r.events),
        ),
        (
            "sessions",
            "DELETE FROM sessions WHERE started_at < ?".into(),
            cut(r.sessions),
        ),
        (
            "incidents",
            "DELETE FROM incidents WHERE started_at < ? AND ended_at IS NOT NULL".into(),
            cut(r.incidents),
        ),
        (
            "agent_runs",
            "DELETE FROM agent_runs WHERE COALESCE(stopped_at, last_seen) < ?".into(),
            cut(r.events),
        ),
    ];
    let mut report = Report::default();
    for (table, sql, before) in steps {
        let n = sqlx::query(&sql)
            .bind(before)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if n > 0 {
            report.deleted.push((table, n));
        }
    }
    sqlx::query(&format!("PRAGMA incremental_vacuum({VACUUM_PAGES})"))
        .execute(&mut *conn)
        .await?;
    Ok(report)
}
