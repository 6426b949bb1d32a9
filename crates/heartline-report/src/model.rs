//! What every format renders: one flat [`Row`] per event (the CSV columns, the JSON event
//! object, a timeline line) and the [`Summary`] of the window.

use std::borrow::Cow;
use std::time::Duration;

use heartline_core::untrusted::{bound, MAX_UNTRUSTED_LEN};
use heartline_core::{
    close_code, CloseClass, EndpointId, Event, EventKind, FailedPhase, IncidentKind, SessionEnd,
    State, Timestamp,
};

use crate::time::{push_millis, push_readable, readable, ZoneView};

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
    /// Close reason, handshake error, give-up reason: text from the server or the network,
    /// at most [`MAX_UNTRUSTED_LEN`] bytes. Kept as it was recorded (control characters
    /// included): each format escapes it as its syntax needs.
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
    /// Everything else, in words. Quotes the reason (and a subprotocol or extensions) as
    /// [`Row::reason`] is kept: escaped by each format.
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
            Mark::Start(IncidentKind::Unstable) => "DROP STORM STARTS (Unstable)".into(),
            Mark::End {
                kind,
                lasted,
                by_pause,
            } => format!(
                "{} ({}{})",
                match kind {
                    IncidentKind::Down => "OUTAGE ENDS",
                    IncidentKind::Degraded => "DEGRADED ENDS",
                    IncidentKind::Unstable => "DROP STORM ENDS",
                },
                readable(lasted),
                if by_pause { ", paused" } else { "" }
            ),
        }
    }
}

/// `kind` with every server-supplied text (close reason, error, give-up reason, subprotocol,
/// extensions) bounded to [`MAX_UNTRUSTED_LEN`] bytes. The probe bounds such text when it is
/// received; this keeps one row bounded for a history recorded before that, or by another
/// writer. Kinds that carry no such text are borrowed; every other kind is copied, so a kind
/// added later with text is bounded too.
fn bounded(kind: &EventKind) -> Cow<'_, EventKind> {
    match kind {
        EventKind::Connecting { .. }
        | EventKind::Rtt { .. }
        | EventKind::PongMissed { .. }
        | EventKind::ServerBeat { .. }
        | EventKind::Stale { .. }
        | EventKind::ReconnectScheduled { .. }
        | EventKind::StateChanged { .. } => Cow::Borrowed(kind),
        _ => {
            let mut copy = kind.clone();
            copy.map_untrusted(|text| bound(text, MAX_UNTRUSTED_LEN).into_owned());
            Cow::Owned(copy)
        }
    }
}

impl Row {
    /// The row of one event of the endpoint called `name`.
    pub fn from_event(event: &Event, name: &str) -> Row {
        let mut row = Row::empty();
        row.refill(event, name);
        row
    }

    fn empty() -> Row {
        Row {
            at: Timestamp(0),
            endpoint_id: EndpointId(0),
            endpoint: String::new(),
            event: "",
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
        }
    }

    /// Makes this the row of `event` (as [`Row::from_event`]), reusing its strings' memory:
    /// an export renders hundreds of thousands of rows through one.
    pub(crate) fn refill(&mut self, event: &Event, name: &str) {
        use std::fmt::Write;
        self.at = event.at;
        self.endpoint_id = event.endpoint;
        self.endpoint.clear();
        self.endpoint.push_str(name);
        self.event = event.kind.name();
        self.code = None;
        self.reason = None;
        self.initiator = None;
        self.cause = None;
        self.phase = None;
        self.status = None;
        self.rtt_ms = None;
        self.attempt = None;
        self.delay_ms = None;
        self.state_from = None;
        self.state_to = None;
        self.marks.clear();
        let d = &mut self.detail;
        d.clear();
        let kind = bounded(&event.kind);
        // Writing to a String cannot fail.
        let _ = match &*kind {
            EventKind::Connecting { attempt } => {
                self.attempt = Some(*attempt);
                write!(d, "attempt {attempt}")
            }
            EventKind::Connected { attempt, handshake } => {
                self.attempt = Some(*attempt);
                let p = handshake.phases;
                d.push_str("handshake ");
                push_millis(d, p.total());
                d.push_str(" (dns ");
                push_millis(d, p.dns);
                d.push_str(", tcp ");
                push_millis(d, p.tcp);
                if let Some(t) = p.tls {
                    d.push_str(", tls ");
                    push_millis(d, t);
                }
                d.push_str(", upgrade ");
                push_millis(d, p.upgrade);
                let _ = write!(d, "), peer {}", handshake.peer);
                if let Some(s) = &handshake.subprotocol {
                    d.push_str(", subprotocol ");
                    d.push_str(s);
                }
                if !handshake.extensions.is_empty() {
                    d.push_str(", extensions ");
                    for (i, x) in handshake.extensions.iter().enumerate() {
                        if i > 0 {
                            d.push_str("; ");
                        }
                        d.push_str(x);
                    }
                }
                Ok(())
            }
            EventKind::Rtt { kind, rtt } => {
                self.phase = Some(kind.as_str());
                self.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
                d.push_str(kind.as_str());
                d.push_str(" round trip ");
                push_millis(d, *rtt);
                Ok(())
            }
            EventKind::PongMissed { kind, missed } => {
                self.phase = Some(kind.as_str());
                self.attempt = Some(*missed);
                write!(
                    d,
                    "{} heartbeat reply missed ({missed} in a row)",
                    kind.as_str()
                )
            }
            EventKind::ServerBeat { interval, jitter } => {
                self.phase = Some("server");
                d.push_str("server heartbeat after ");
                push_millis(d, *interval);
                d.push_str(" (jitter ");
                push_millis(d, *jitter);
                d.push(')');
                Ok(())
            }
            EventKind::Stale { silent } => {
                d.push_str("no message for ");
                push_readable(d, *silent);
                Ok(())
            }
            EventKind::Closed { end, stats } => {
                self.code = Some(end.code());
                self.reason = Some(end.reason().to_owned()).filter(|r| !r.is_empty());
                self.initiator = Some(end.initiator().as_str());
                self.cause = match end {
                    SessionEnd::Refused { class, .. } => Some(class.as_str()),
                    _ => end.cause().map(|c| c.as_str()),
                };
                let _ = write!(d, "{end}; session lasted ");
                push_readable(d, stats.duration);
                if !stats.silent_for.is_zero() {
                    d.push_str(", silent for ");
                    push_readable(d, stats.silent_for);
                }
                Ok(())
            }
            EventKind::HandshakeFailed(f) => {
                self.phase = Some(f.phase.as_str());
                self.status = f.phase.status();
                self.reason = Some(f.error.clone()).filter(|r| !r.is_empty());
                // The words: with UNIX times as dates (history recorded before the probe wrote
                // dates says "not valid after 1580515200 (UNIX)"); the reason stays as recorded.
                let words = f.to_string();
                let _ = write!(
                    d,
                    "{} (after ",
                    heartline_core::error_text::readable_times(&words)
                );
                push_readable(d, f.elapsed);
                d.push(')');
                if let FailedPhase::Http {
                    retry_after: Some(r),
                    ..
                } = f.phase
                {
                    d.push_str(", Retry-After ");
                    push_readable(d, r);
                }
                Ok(())
            }
            EventKind::ReconnectScheduled {
                attempt,
                delay,
                reason,
            } => {
                self.attempt = Some(*attempt);
                self.delay_ms = Some(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX));
                self.cause = Some(reason.as_str());
                let _ = write!(d, "attempt {attempt} in ");
                push_readable(d, *delay);
                d.push_str(" (");
                for part in reason.as_str().split('_').enumerate() {
                    if part.0 > 0 {
                        d.push(' ');
                    }
                    d.push_str(part.1);
                }
                d.push(')');
                Ok(())
            }
            EventKind::GaveUp { reason } => {
                self.reason = Some(reason.clone()).filter(|r| !r.is_empty());
                write!(d, "stopped reconnecting: {reason}")
            }
            EventKind::StateChanged { from, to } => {
                self.state_from = Some(*from);
                self.state_to = Some(*to);
                write!(d, "{from} → {to}")
            }
        };
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
    /// Uptime and session stability by the one definition ([`heartline_store::Availability`]).
    pub uptime: heartline_store::Availability,
    pub closes: u64,
    pub handshake_failures: u64,
    pub reconnects: u64,
    pub incidents: u64,
    pub rtt: Option<RttSummary>,
    /// The server's own heartbeats over the window (protocols whose server beats), from the
    /// stored rollups: intervals, never round trips.
    pub server_beats: Option<ServerBeats>,
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

/// The server's own heartbeats over the window, from the stored rollups.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerBeats {
    /// Bucket size the figures come from: "minute", "hour" or "day".
    pub resolution: &'static str,
    pub beats: u64,
    /// Mean time between beats.
    pub mean_interval: Duration,
    /// The highest p95 of the intervals in any bucket.
    pub worst_p95_interval: Duration,
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
    /// How many times it opened (a return within five minutes reopens it).
    pub episodes: u32,
    /// The diagnosis that explains it (rule name, one-line finding); `None`: unexplained.
    pub cause: Option<(&'static str, String)>,
}

impl IncidentSummary {
    /// The Cause cell: the finding's line, or "unexplained".
    pub fn cause_cell(&self) -> String {
        match &self.cause {
            Some((_, title)) => title.clone(),
            None => "unexplained".into(),
        }
    }

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
    /// Watched time that was not uptime: how charts are ranked.
    pub fn trouble(&self) -> Duration {
        self.uptime.watched.saturating_sub(self.uptime.available)
    }
}

/// How every export states the uptime definition, word for word.
pub const UPTIME_DEFINITION: &str = "Uptime is the time with an open session while the endpoint \
was Up, divided by the time watched (recorded and not paused): time disconnected, reconnecting, \
Degraded or Unstable counts against it. Drops are sessions that ended unexpectedly (every end \
except the user's, a shutdown, a reconfiguration or the end of a timed run); drops per hour are \
per watched hour.";

/// A share as a percentage with three decimals, or "–".
pub fn percent(share: Option<f64>) -> String {
    share.map_or("–".into(), |r| format!("{:.3} %", r * 100.0))
}

/// Drops per hour with one decimal, or "–".
pub fn per_hour(rate: Option<f64>) -> String {
    rate.map_or("–".into(), |r| format!("{r:.1}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use heartline_core::{FailedPhase, HandshakeFailure};

    use super::*;

    #[test]
    fn a_tls_expiry_reads_as_a_date_and_the_reason_stays_as_recorded() {
        let error = "invalid peer certificate: certificate expired: verification time \
                     1714554000 (UNIX), but certificate is not valid after 1580515200 (UNIX)";
        let event = Event {
            at: Timestamp(0),
            endpoint: EndpointId(1),
            kind: EventKind::HandshakeFailed(HandshakeFailure {
                phase: FailedPhase::Tls,
                error: error.into(),
                elapsed: Duration::from_millis(20),
            }),
        };
        let row = Row::from_event(&event, "feed");
        assert!(
            row.detail
                .contains("not valid after 2020-02-01 00:00:00 UTC (after 20 ms)"),
            "{}",
            row.detail
        );
        assert_eq!(row.reason.as_deref(), Some(error));
    }
}
