//! How `probe` prints events: a readable live log, or one JSON object per line.
//!
//! Outside text (close reasons, errors, give-up reasons, subprotocols, names and URLs the user
//! typed) reaches this module with its secrets already masked by the probe. The readable log
//! also escapes its control characters ([`escape_controls`]): a hostile close reason cannot
//! retitle the terminal, recolour it or forge a log line. JSON lines need no escaping of ours:
//! serde_json escapes control characters itself.

use std::io::{self, Write};
use std::time::Duration;

use serde_json::{json, Value};

use heartline_core::untrusted::escape_json_text;
use heartline_core::{
    close_code, escape_controls, Endpoint, Event, EventKind, FailedPhase, SessionEnd,
};

use crate::probe::Verdict;

pub trait Printer {
    fn start(&mut self) -> io::Result<()>;
    fn event(&mut self, event: &Event) -> io::Result<()>;
    fn finish(&mut self, verdict: &Verdict) -> io::Result<()>;
}

/// Milliseconds with microsecond precision, as JSON numbers.
fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn timestamp(event: &Event) -> String {
    humantime::format_rfc3339_millis(event.at.to_system()).to_string()
}

/// The event as the JSON object documented in the README.
pub fn event_json(event: &Event) -> Value {
    let mut v = match &event.kind {
        EventKind::Connecting { attempt } => json!({ "attempt": attempt }),
        EventKind::Connected { attempt, handshake } => json!({
            "attempt": attempt,
            "peer": handshake.peer.to_string(),
            "phases_ms": {
                "dns": millis(handshake.phases.dns),
                "tcp": millis(handshake.phases.tcp),
                "tls": handshake.phases.tls.map(millis),
                "upgrade": millis(handshake.phases.upgrade),
            },
            "subprotocol": handshake.subprotocol,
            "extensions": handshake.extensions,
        }),
        EventKind::Rtt { kind, rtt } => json!({ "kind": kind.as_str(), "ms": millis(*rtt) }),
        EventKind::PongMissed { kind, missed } => {
            json!({ "kind": kind.as_str(), "missed": missed })
        }
        EventKind::ServerBeat { interval, jitter } => {
            json!({ "interval_ms": millis(*interval), "jitter_ms": millis(*jitter) })
        }
        EventKind::Stale { silent } => json!({ "silent_ms": millis(*silent) }),
        EventKind::Closed { end, stats } => {
            let mut v = json!({
            "code": end.code(),
            "reason": end.reason(),
            "initiator": end.initiator().as_str(),
            "clean": end.clean(),
            "cause": end.cause().map(|c| c.as_str()),
            "session_ms": millis(stats.duration),
            "messages_in": stats.messages_in,
            "bytes_in": stats.bytes_in,
            "messages_out": stats.messages_out,
            "bytes_out": stats.bytes_out,
            });
            if let SessionEnd::Refused {
                protocol, class, ..
            } = end
            {
                v["refused"] = json!({ "protocol": protocol.as_str(), "class": class.as_str() });
            }
            v
        }
        EventKind::HandshakeFailed(f) => {
            let mut v = json!({
                "phase": f.phase.as_str(),
                "status": f.phase.status(),
                "error": f.error,
                "elapsed_ms": millis(f.elapsed),
            });
            if let FailedPhase::Timeout { during } = f.phase {
                v["during"] = json!(during.as_str());
            }
            v
        }
        EventKind::ReconnectScheduled {
            attempt,
            delay,
            reason,
        } => json!({
            "attempt": attempt,
            "delay_ms": millis(*delay),
            "reason": reason.as_str(),
        }),
        EventKind::GaveUp { reason } => json!({ "reason": reason }),
        EventKind::StateChanged { from, to } => json!({ "from": from.as_str(), "to": to.as_str() }),
    };
    let mut out = serde_json::Map::new();
    out.insert("ts".into(), json!(timestamp(event)));
    out.insert("event".into(), json!(event.kind.name()));
    if let Value::Object(fields) = v.take() {
        out.extend(fields);
    }
    Value::Object(out)
}

pub struct Json<W: Write> {
    out: W,
}

impl<W: Write> Json<W> {
    pub fn new(out: W) -> Self {
        Json { out }
    }
}

impl<W: Write> Printer for Json<W> {
    fn start(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn event(&mut self, event: &Event) -> io::Result<()> {
        // serde_json escapes C0 controls; DEL, C1 and bidi overrides are escaped here, so a
        // JSON line shown on a terminal cannot drive it either.
        let line = event_json(event).to_string();
        writeln!(self.out, "{}", escape_json_text(&line))?;
        self.out.flush()
    }

    fn finish(&mut self, _verdict: &Verdict) -> io::Result<()> {
        self.out.flush()
    }
}

pub struct Human<W: Write> {
    out: W,
    title: String,
}

impl<W: Write> Human<W> {
    pub fn new(out: W, endpoint: &Endpoint) -> Self {
        let hb = endpoint.heartbeat;
        let speaking = match endpoint.protocol {
            heartline_core::Protocol::WebSocket => String::new(),
            p => format!(" speaking {}", p.label()),
        };
        let title = format!(
            "probing {}{speaking} (ping every {}, pong timeout {}, times in UTC)",
            escape_controls(&endpoint.display_url()),
            heartline_core::format_duration(hb.ping_interval),
            heartline_core::format_duration(hb.pong_timeout),
        );
        Human { out, title }
    }
}

/// A round trip, phase or beat interval: the app's and exports' unit policy.
fn ms_text(d: Duration) -> String {
    heartline_core::rtt_text(d)
}

/// A span people read in seconds from a second on (a silence, a session's length).
fn span_text(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        ms_text(d)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// One readable line for an event (without the time), outside text escaped.
pub fn describe(kind: &EventKind) -> String {
    match kind {
        EventKind::Connecting { attempt } => format!("attempt {attempt}"),
        EventKind::Connected { handshake, .. } => {
            let p = handshake.phases;
            let mut line = format!(
                "{} · dns {} · tcp {} · tls {} · upgrade {}",
                handshake.peer,
                ms_text(p.dns),
                ms_text(p.tcp),
                p.tls.map_or_else(|| "–".to_owned(), ms_text),
                ms_text(p.upgrade)
            );
            if let Some(sp) = &handshake.subprotocol {
                line.push_str(&format!(" · subprotocol {}", escape_controls(sp)));
            }
            if !handshake.extensions.is_empty() {
                line.push_str(&format!(
                    " · extensions {}",
                    escape_controls(&handshake.extensions.join(", "))
                ));
            }
            line
        }
        EventKind::Rtt { kind, rtt } => format!("{} {}", kind.as_str(), ms_text(*rtt)),
        EventKind::PongMissed { kind, missed } => {
            format!("{} reply missing ({missed} in a row)", kind.as_str())
        }
        EventKind::ServerBeat { interval, jitter } => format!(
            "server heartbeat after {} (jitter {})",
            ms_text(*interval),
            ms_text(*jitter)
        ),
        EventKind::Stale { silent } => format!("no message for {}", span_text(*silent)),
        EventKind::Closed { end, stats } => format!(
            "{}, {}, after {} · {} message{} in",
            end_summary(end),
            if end.clean() { "clean" } else { "not clean" },
            span_text(stats.duration),
            stats.messages_in,
            if stats.messages_in == 1 { "" } else { "s" },
        ),
        EventKind::HandshakeFailed(f) => format!(
            "{} (after {})",
            escape_controls(&f.to_string()),
            ms_text(f.elapsed)
        ),
        EventKind::ReconnectScheduled {
            attempt,
            delay,
            reason,
        } => {
            format!(
                "attempt {attempt} in {} ({})",
                ms_text(*delay),
                reason.as_str().replace('_', " ")
            )
        }
        EventKind::GaveUp { reason } => escape_controls(reason).into_owned(),
        EventKind::StateChanged { from, to } => format!("{from} → {to}"),
    }
}

/// How a session ended, in a few words: code, meaning, and who; the server's words escaped.
pub fn end_summary(end: &SessionEnd) -> String {
    let code = end.code();
    match end {
        SessionEnd::ClosedByServer { reason, .. } if !reason.is_empty() => {
            format!(
                "{code} ({}) \"{}\" by server",
                close_code::meaning(code),
                escape_controls(reason)
            )
        }
        SessionEnd::ClosedByServer { .. } => {
            format!("{code} ({}) by server", close_code::meaning(code))
        }
        SessionEnd::ClosedByClient { cause, reason, .. } => {
            let words = cause.as_str().replace('_', " ");
            // A reason that says more than the cause (which step of a script went
            // unanswered, which limit a message broke) is shown after it.
            let said = reason.trim();
            if said.is_empty() || said.eq_ignore_ascii_case(&words) || said == cause.as_str() {
                format!("{code} by us ({words})")
            } else {
                format!("{code} by us ({words}): {}", escape_controls(said))
            }
        }
        SessionEnd::Lost { error } => {
            format!("{code} (no close frame) lost: {}", escape_controls(error))
        }
        SessionEnd::Refused {
            protocol,
            class,
            reason,
            ..
        } => {
            let meaning = protocol
                .close_meaning(code)
                .map_or_else(|| close_code::meaning(code), |m| m.meaning);
            format!(
                "refused by {} ({}): \"{}\", {code} ({meaning})",
                protocol.as_str(),
                class.as_str().replace('_', " "),
                escape_controls(reason)
            )
        }
    }
}

/// The event's name shortened for a log column.
pub fn short_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::StateChanged { .. } => "state",
        EventKind::ReconnectScheduled { .. } => "reconnect",
        EventKind::HandshakeFailed(_) => "failed",
        EventKind::PongMissed { .. } => "missed",
        EventKind::ServerBeat { .. } => "beat",
        other => other.name(),
    }
}

impl<W: Write> Printer for Human<W> {
    fn start(&mut self) -> io::Result<()> {
        writeln!(self.out, "{}", self.title)?;
        self.out.flush()
    }

    fn event(&mut self, event: &Event) -> io::Result<()> {
        let ts = timestamp(event);
        // "2026-11-21T10:57:01.123Z" → "10:57:01.123"
        let time = ts.get(11..23).unwrap_or(&ts);
        writeln!(
            self.out,
            "{time}  {:<10}  {}",
            short_name(&event.kind),
            describe(&event.kind)
        )?;
        self.out.flush()
    }

    fn finish(&mut self, verdict: &Verdict) -> io::Result<()> {
        for (label, samples) in [
            ("protocol rtt", &verdict.rtts),
            ("app rtt", &verdict.app_rtts),
        ] {
            if samples.is_empty() {
                continue;
            }
            let mut sorted = samples.clone();
            sorted.sort_unstable();
            let pick = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
            writeln!(
                self.out,
                "{label}: {} samples · min {} · p50 {} · p95 {} · max {}",
                sorted.len(),
                ms_text(sorted[0]),
                ms_text(pick(0.5)),
                ms_text(pick(0.95)),
                ms_text(sorted[sorted.len() - 1]),
            )?;
        }
        let summary = if verdict.healthy() {
            "healthy for the whole run".to_owned()
        } else if !verdict.connected {
            "never connected".to_owned()
        } else {
            format!("not healthy: {}", verdict.problems().join(", "))
        };
        writeln!(self.out, "{summary}")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use heartline_core::{
        CloseCause, EventKind, FailedPhase, HandshakeFailure, SessionEnd, SessionStats,
    };

    use super::describe;

    const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[31mred\nforged line\u{9b}2J\u{202e}";

    fn raw_controls(line: &str) -> bool {
        line.chars().any(heartline_core::untrusted::is_unsafe_char)
    }

    /// Our own close says its cause, and the reason when it tells more (the script step left
    /// unanswered), never the cause twice.
    #[test]
    fn our_closes_show_a_reason_that_says_more_than_the_cause() {
        let closed = |cause, reason: &str| EventKind::Closed {
            end: SessionEnd::ClosedByClient {
                code: 1001,
                reason: reason.into(),
                cause,
                clean: true,
            },
            stats: SessionStats {
                duration: Duration::from_millis(2500),
                ..SessionStats::default()
            },
        };
        let line = describe(&closed(CloseCause::PongTimeout, "pong timeout"));
        assert!(
            line.starts_with("1001 by us (pong timeout), clean, after 2.5 s"),
            "{line}"
        );
        let why = r#"no reply matching "welcome" within 300ms (on_connect[1])"#;
        let line = describe(&closed(CloseCause::ProtocolHandshakeTimeout, why));
        assert!(
            line.starts_with(&format!(
                "1001 by us (protocol handshake timeout): {why}, clean"
            )),
            "{line}"
        );
    }

    #[test]
    fn the_readable_log_escapes_every_outside_text() {
        let stats = SessionStats::default();
        let kinds = [
            EventKind::Closed {
                end: SessionEnd::ClosedByServer {
                    code: 4000,
                    reason: HOSTILE.into(),
                },
                stats,
            },
            EventKind::Closed {
                end: SessionEnd::Lost {
                    error: HOSTILE.into(),
                },
                stats,
            },
            EventKind::Closed {
                end: SessionEnd::ClosedByClient {
                    code: 1000,
                    reason: HOSTILE.into(),
                    cause: CloseCause::User,
                    clean: true,
                },
                stats,
            },
            EventKind::HandshakeFailed(HandshakeFailure {
                phase: FailedPhase::Http {
                    status: Some(401),
                    retry_after: None,
                },
                error: HOSTILE.into(),
                elapsed: Duration::from_millis(3),
            }),
            EventKind::GaveUp {
                reason: HOSTILE.into(),
            },
        ];
        for kind in &kinds {
            let line = describe(kind);
            assert!(!raw_controls(&line), "{line:?}");
        }
        let line = describe(&kinds[0]);
        assert!(
            line.contains(r#""\x1b]0;pwned\x07\x1b[31mred\nforged line\u{9b}2J\u{202e}""#),
            "{line}"
        );
    }
}
