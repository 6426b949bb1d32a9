//! What every format renders: one flat [`Row`] per event (the CSV columns, the JSON event
//! object, a timeline line) and the [`Summary`] of the window.

use std::time::Duration;

use heartline_core::{
    close_code, CloseClass, EndpointId, Event, EventKind, FailedPhase, IncidentKind, State,
    Timestamp,
};

use crate::time::{millis_text, readable, ZoneView};

/// The CSV header, in the order every format uses for an event's fields.
pub const COLUMNS: [&str; 13] = [
    "timestamp",
    "endpoint",
    "event",
    "code",
    "reason",
    "initiator",
    "cause",
    "phase",
    "status",
    "rtt_ms",
    "attempt",
    "delay_ms",
    "detail",
];

/// One event, flattened: the same fields in CSV, NDJSON, the JSON document and the timelines.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub at: Timestamp,
    pub endpoint_id: EndpointId,
    pub endpoint: String,
    /// The event's snake_case name (`closed`, `handshake_failed`, `state`, …).
    pub event: &'static str,
    /// Close code of `closed`.
    pub code: Option<u16>,
    /// Close reason, handshake error, give-up reason: text from the server or the network.
    pub reason: Option<String>,
    /// Who ended a session: `server`, `client` (Heartline) or `network`.
    pub initiator: Option<&'static str>,
    /// Why Heartline closed a session, or why a reconnect got its delay.
    pub cause: Option<&'static str>,
    /// The failed handshake phase, or which heartbeat (`protocol`, `app`) for rtt/pong_missed.
    pub phase: Option<&'static str>,
    /// HTTP status of a refused upgrade.
    pub status: Option<u16>,
    pub rtt_ms: Option<f64>,
    /// Connection attempt, or consecutive misses for `pong_missed`.
    pub attempt: Option<u32>,
    pub delay_ms: Option<u64>,
    pub state_from: Option<State>,
    pub state_to: Option<State>,
    /// Everything else, in words.
    pub detail: String,
    /// Where incidents start and end, and their first sign of trouble.
    pub marks: Vec<Mark>,
}

/// A point of an incident that falls on an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The earliest event of the lead-up: where the postmortem's story starts.
    FirstSign(IncidentKind),
    Start(IncidentKind),
    /// With how long the incident lasted and whether a pause (not a recovery) ended it.
    End {
        kind: IncidentKind,
        lasted: Duration,
        by_pause: bool,
    },
}

impl Mark {
    /// The mark's name in JSON: `down_start`, `degraded_end`, `first_sign`, ….
    pub fn name(self) -> String {
        match self {
            Mark::FirstSign(_) => "first_sign".into(),
            Mark::Start(k) => format!("{}_start", k.as_str()),
            Mark::End { kind, .. } => format!("{}_end", kind.as_str()),
        }
    }

    /// The words a timeline shows.
    pub fn words(self) -> String {
        match self {
            Mark::FirstSign(_) => "first sign of trouble".into(),
            Mark::Start(IncidentKind::Down) => "OUTAGE STARTS (Down)".into(),
            Mark::Start(IncidentKind::Degraded) => "DEGRADED STARTS".into(),
            Mark::End {
                kind,
                lasted,
                by_pause,
            } => format!(
                "{} ({}{})",
                match kind {
                    IncidentKind::Down => "OUTAGE ENDS",
                    IncidentKind::Degraded => "DEGRADED ENDS",
                },
                readable(lasted),
                if by_pause { ", paused" } else { "" }
            ),
        }
    }
}

impl Row {
    /// The row of one event of the endpoint called `name`.
    pub fn from_event(event: &Event, name: &str) -> Row {
        let mut row = Row {
            at: event.at,
            endpoint_id: event.endpoint,
            endpoint: name.to_owned(),
            event: event.kind.name(),
            code: None,
            reason: None,
            initiator: None,
            cause: None,
            phase: None,
            status: None,
            rtt_ms: None,
            attempt: None,
            delay_ms: None,
            state_from: None,
            state_to: None,
            detail: String::new(),
            marks: Vec::new(),
        };
        row.detail = match &event.kind {
            EventKind::Connecting { attempt } => {
                row.attempt = Some(*attempt);
                format!("attempt {attempt}")
            }
            EventKind::Connected { attempt, handshake } => {
                row.attempt = Some(*attempt);
                let p = handshake.phases;
                let mut d = format!(
                    "handshake {} (dns {}, tcp {}{}, upgrade {}), peer {}",
                    millis_text(p.total()),
                    millis_text(p.dns),
                    millis_text(p.tcp),
                    p.tls
                        .map(|t| format!(", tls {}", millis_text(t)))
                        .unwrap_or_default(),
                    millis_text(p.upgrade),
                    handshake.peer
                );
                if let Some(s) = &handshake.subprotocol {
                    d.push_str(&format!(", subprotocol {s}"));
                }
                if !handshake.extensions.is_empty() {
                    d.push_str(&format!(", extensions {}", handshake.extensions.join("; ")));
                }
                d
            }
            EventKind::Rtt { kind, rtt } => {
                row.phase = Some(kind.as_str());
                row.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
                format!("{} round trip {}", kind.as_str(), millis_text(*rtt))
            }
            EventKind::PongMissed { kind, missed } => {
                row.phase = Some(kind.as_str());
                row.attempt = Some(*missed);
                format!(
                    "{} heartbeat reply missed ({missed} in a row)",
                    kind.as_str()
                )
            }
            EventKind::Stale { silent } => format!("no message for {}", readable(*silent)),
            EventKind::Closed { end, stats } => {
                row.code = Some(end.code());
                row.reason = Some(end.reason().to_owned()).filter(|r| !r.is_empty());
                row.initiator = Some(end.initiator().as_str());
                row.cause = end.cause().map(|c| c.as_str());
                let mut d = format!("{end}; session lasted {}", readable(stats.duration));
                if !stats.silent_for.is_zero() {
                    d.push_str(&format!(", silent for {}", readable(stats.silent_for)));
                }
                d
            }
            EventKind::HandshakeFailed(f) => {
                row.phase = Some(f.phase.as_str());
                row.status = f.phase.status();
                row.reason = Some(f.error.clone()).filter(|r| !r.is_empty());
                let mut d = format!("{f} (after {})", readable(f.elapsed));
                if let FailedPhase::Http {
                    retry_after: Some(r),
                    ..
                } = f.phase
                {
                    d.push_str(&format!(", Retry-After {}", readable(r)));
                }
                d
            }
            EventKind::ReconnectScheduled {
                attempt,
                delay,
                reason,
            } => {
                row.attempt = Some(*attempt);
                row.delay_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
                row.cause = Some(reason.as_str());
                format!(
                    "attempt {attempt} in {} ({})",
                    readable(*delay),
                    reason.as_str().replace('_', " ")
                )
            }
            EventKind::GaveUp { reason } => {
                row.reason = Some(reason.clone()).filter(|r| !r.is_empty());
                format!("stopped reconnecting: {reason}")
            }
            EventKind::StateChanged { from, to } => {
                row.state_from = Some(*from);
                row.state_to = Some(*to);
                format!("{from} → {to}")
            }
        };
        row
    }

    /// A short name for the event column of a timeline: "closed 1006", "state → Down".
    pub fn label(&self) -> String {
        match (self.event, self.code, self.state_to) {
            ("closed", Some(code), _) => format!("closed {code}"),
            ("state", _, Some(to)) => format!("state → {to}"),
            ("handshake_failed", _, _) => match self.status {
                Some(status) => format!("handshake failed (http {status})"),
                None => format!("handshake failed ({})", self.phase.unwrap_or("?")),
            },
            ("reconnect_scheduled", _, _) => match self.attempt {
                Some(n) => format!("reconnect #{n}"),
                None => "reconnect".into(),
            },
            (name, _, _) => name.replace('_', " "),
        }
    }

    /// Close class of a `closed` row (for colour).
    pub fn close_class(&self) -> Option<CloseClass> {
        self.code.map(close_code::classify)
    }
}

/// The window's summary: from aggregate queries and tallies made while streaming, never from
/// holding the events.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub generated: Timestamp,
    pub since: Timestamp,
    pub until: Timestamp,
    /// How times are shown in the human formats, e.g. "UTC" or "UTC+01:00".
    pub zone: String,
    pub incidents_only: bool,
    /// The names and tags asked for (both empty: every endpoint).
    pub requested_endpoints: Vec<String>,
    pub requested_tags: Vec<String>,
    pub endpoints: Vec<EndpointSummary>,
    pub incidents: Vec<IncidentSummary>,
    pub close_codes: Vec<CloseCount>,
    pub findings: Vec<FindingSummary>,
    /// Events written to the export (fewer than seen with `incidents_only`).
    pub events_exported: u64,
    pub events_seen: u64,
    /// Endpoints drawn in charts, when the format has charts, and how many were left out.
    pub charted: Vec<String>,
    pub not_charted: usize,
}

/// One endpoint over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointSummary {
    pub id: EndpointId,
    pub name: String,
    /// With secret-looking query values masked.
    pub url: String,
    pub tags: Vec<String>,
    pub uptime: heartline_store::Uptime,
    pub closes: u64,
    pub handshake_failures: u64,
    pub reconnects: u64,
    pub incidents: u64,
    pub rtt: Option<RttSummary>,
}

/// Protocol round trips over the window, from the stored rollups.
#[derive(Debug, Clone, PartialEq)]
pub struct RttSummary {
    /// Bucket size the figures come from: "minute", "hour" or "day".
    pub resolution: &'static str,
    pub samples: u64,
    pub mean: Duration,
    /// The highest p95 of any bucket: the worst stretch, not the window's p95.
    pub worst_p95: Duration,
}

/// One incident overlapping the window.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSummary {
    pub endpoint_id: EndpointId,
    pub endpoint: String,
    pub kind: IncidentKind,
    pub started: Timestamp,
    pub ended: Option<Timestamp>,
    pub ended_by_pause: bool,
    /// To the end, or to `generated` while still open.
    pub duration: Duration,
    pub time_to_detect: Duration,
    pub close_codes: Vec<(u16, u32)>,
    pub handshake_failures: Vec<(String, Option<u16>, u32)>,
    pub reconnect_attempts: u32,
    pub rtt_before: Option<Duration>,
}

impl IncidentSummary {
    /// The End cell: the end in `zone`, marked when a pause (not a recovery) ended it, or
    /// "ongoing".
    pub fn end_cell(&self, zone: &ZoneView) -> String {
        match self.ended {
            Some(t) if self.ended_by_pause => format!("{} (paused)", zone.format(t)),
            Some(t) => zone.format(t),
            None => "ongoing".into(),
        }
    }

    /// The close codes, each with its count as shown after it ("×3"); formats add markup to
    /// the code.
    pub fn close_code_cells(&self) -> Vec<(u16, String)> {
        self.close_codes
            .iter()
            .map(|(code, n)| (*code, format!("×{n}")))
            .collect()
    }

    /// The failed handshakes as text: "http 502 ×2", "tls ×1".
    pub fn handshake_failure_cells(&self) -> Vec<String> {
        self.handshake_failures
            .iter()
            .map(|(phase, status, n)| match status {
                Some(st) => format!("{phase} {st} ×{n}"),
                None => format!("{phase} ×{n}"),
            })
            .collect()
    }
}

/// Closes of one code by one initiator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseCount {
    pub code: u16,
    pub initiator: String,
    pub count: u64,
}

impl CloseCount {
    pub fn class(&self) -> CloseClass {
        close_code::classify(self.code)
    }
    pub fn meaning(&self) -> &'static str {
        close_code::meaning(self.code)
    }
}

/// A diagnosis finding with endpoints named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingSummary {
    pub rule: &'static str,
    pub endpoints: Vec<String>,
    pub title: String,
    pub explanation: String,
    pub evidence: Vec<String>,
    pub suggestion: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub occurrences: u32,
}

impl EndpointSummary {
    /// Time Down or Degraded: how charts are ranked.
    pub fn trouble(&self) -> Duration {
        self.uptime.down + self.uptime.degraded
    }
}
