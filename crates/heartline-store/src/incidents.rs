//! Incidents as stored: one row each, opened and closed by the writer from the live tracker.

use std::time::Duration;

use serde_json::{json, Value};

use heartline_core::{EndpointId, Incident, IncidentCause, IncidentKind, Rule, Timestamp};

use crate::{Result, Store};

/// The parts of an incident that are not columns. Its events are not copied here: they are in
/// the `events` table between its start and end.
pub(crate) fn summary_json(i: &Incident) -> String {
    json!({
        "close_codes": i.close_codes,
        "handshake_failures": i.handshake_failures,
        "reconnect_attempts": i.reconnect_attempts,
        "rtt_before_us": i.rtt_before.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        "events": i.events.len() as u64 + u64::from(i.more_events),
    })
    .to_string()
}

type Row = (
    i64,
    String,
    i64,
    Option<i64>,
    bool,
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
);
type RowWithTotal = (
    i64,
    String,
    i64,
    Option<i64>,
    bool,
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
    i64,
);

fn from_row(
    (endpoint, kind, started, ended, by_pause, detect_ms, summary, episodes, cause, cause_title): Row,
) -> Option<Incident> {
    let kind = match kind.as_str() {
        "down" => IncidentKind::Down,
        "degraded" => IncidentKind::Degraded,
        "unstable" => IncidentKind::Unstable,
        _ => return None,
    };
    let cause = cause
        .as_deref()
        .and_then(Rule::parse)
        .map(|rule| IncidentCause {
            rule,
            title: cause_title.unwrap_or_default(),
        });
    let s: Value = serde_json::from_str(&summary).unwrap_or(Value::Null);
    let close_codes = s["close_codes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some((
                        u16::try_from(p[0].as_u64()?).ok()?,
                        u32::try_from(p[1].as_u64()?).ok()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let handshake_failures = s["handshake_failures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some((
                        p[0].as_str()?.to_owned(),
                        p[1].as_u64().and_then(|v| u16::try_from(v).ok()),
                        u32::try_from(p[2].as_u64()?).ok()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Incident {
        endpoint: EndpointId(endpoint.max(0).unsigned_abs()),
        kind,
        started: Timestamp(started),
        ended: ended.map(Timestamp),
        ended_by_pause: by_pause,
        time_to_detect: Duration::from_millis(detect_ms.max(0).unsigned_abs()),
        close_codes,
        handshake_failures,
        reconnect_attempts: s["reconnect_attempts"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
        rtt_before: s["rtt_before_us"].as_u64().map(Duration::from_micros),
        events: Vec::new(),
        more_events: s["events"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
        episodes: u32::try_from(episodes.max(1)).unwrap_or(u32::MAX),
        cause,
    })
}

const COLUMNS: &str =
    "endpoint_id, kind, started_at, ended_at, ended_by_pause, detect_ms, summary, \
     episodes, cause, cause_title";

impl Store {
    /// Incidents overlapping `[from, to)` (all endpoints when empty), oldest first. Their
    /// `events` are empty and `more_events` counts them: read them with [`Store::history`].
    pub async fn incidents(
        &self,
        endpoints: &[EndpointId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Incident>> {
        let filter = if endpoints.is_empty() {
            String::new()
        } else {
            let ids: Vec<String> = endpoints.iter().map(|e| e.0.to_string()).collect();
            format!("AND endpoint_id IN ({})", ids.join(","))
        };
        let sql = if endpoints.is_empty() {
            // Two branches so each seeks the end index: those ended after the window began,
            // and the open ones. Bounding by the start would read every incident ever.
            format!(
                "SELECT {COLUMNS} FROM incidents INDEXED BY incidents_by_end WHERE ended_at >= ?1 AND started_at < ?2 \
                 UNION ALL \
                 SELECT {COLUMNS} FROM incidents INDEXED BY incidents_by_end WHERE ended_at IS NULL AND started_at < ?2 \
                 ORDER BY started_at, endpoint_id"
            )
        } else {
            // Some endpoints: their own incidents by the (endpoint, kind, start) key; the end
            // index would read every endpoint's incidents of the window.
            format!(
                "SELECT {COLUMNS} FROM incidents INDEXED BY incidents_by_endpoint \
                 WHERE started_at < ?2 AND (ended_at IS NULL OR ended_at >= ?1) {filter} \
                 ORDER BY started_at, endpoint_id"
            )
        };
        let rows: Vec<Row> = sqlx::query_as(&sql)
            .bind(from.0)
            .bind(to.0)
            .fetch_all(self.reader())
            .await?;
        Ok(rows.into_iter().filter_map(from_row).collect())
    }

    /// The newest `limit` (at least 1) incidents of every endpoint overlapping `[from, to)`,
    /// newest first, and how many overlap in all: a list a person reads stays bounded however
    /// large the fleet or the window (decoding 15 000 summaries to show a screenful was most
    /// of the cost of a 30-day list over 1 000 endpoints).
    pub async fn recent_incidents(
        &self,
        from: Timestamp,
        to: Timestamp,
        limit: u32,
    ) -> Result<(Vec<Incident>, u64)> {
        // Same two seeks of the end index as `incidents`, answered from the index alone
        // (it holds end, start and endpoint); only the rows kept are read from the table.
        let sql = format!(
            "WITH overlapping(id, started_at, endpoint_id) AS ( \
                 SELECT id, started_at, endpoint_id FROM incidents INDEXED BY incidents_by_end \
                 WHERE ended_at >= ?1 AND started_at < ?2 \
                 UNION ALL \
                 SELECT id, started_at, endpoint_id FROM incidents INDEXED BY incidents_by_end \
                 WHERE ended_at IS NULL AND started_at < ?2), \
             newest(id) AS ( \
                 SELECT id FROM overlapping ORDER BY started_at DESC, endpoint_id DESC LIMIT ?3) \
             SELECT {COLUMNS}, (SELECT count(*) FROM overlapping) FROM incidents \
             WHERE id IN (SELECT id FROM newest) \
             ORDER BY started_at DESC, endpoint_id DESC"
        );
        // Each row carries the total (the same for all): one statement, one snapshot.
        let rows: Vec<(Row, i64)> = sqlx::query_as::<_, RowWithTotal>(&sql)
            .bind(from.0)
            .bind(to.0)
            .bind(i64::from(limit.max(1)))
            .fetch_all(self.reader())
            .await?
            .into_iter()
            .map(|(a, b, c, d, e, f, g, h, i, j, total)| ((a, b, c, d, e, f, g, h, i, j), total))
            .collect();
        let total = rows.first().map_or(0, |r| r.1);
        let rows = rows.into_iter().map(|(row, _)| row);
        Ok((
            rows.filter_map(from_row).collect(),
            u64::try_from(total).unwrap_or(0),
        ))
    }

    /// Incidents still open, for the tracker to pick up where the last run stopped.
    pub(crate) async fn open_incidents(&self) -> Result<Vec<Incident>> {
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM incidents WHERE ended_at IS NULL"
        ))
        .fetch_all(self.reader())
        .await?;
        Ok(rows.into_iter().filter_map(from_row).collect())
    }
}
