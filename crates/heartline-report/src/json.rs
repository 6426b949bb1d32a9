//! JSON: one document (schema: docs/export.schema.json) and NDJSON (one event object per
//! line, the same objects as the document's `events`).
//!
//! The document streams: its head (version, selection, endpoints) is written first, then each
//! event as it is read, then the summary, which is complete only at the end. JSON objects are
//! unordered, so `summary` coming last changes nothing for a reader.
//!
//! Text is written as it was recorded (a reader gets a close reason back exactly), with every
//! control character escaped: serde_json escapes the C0 controls, and [`escape_unsafe`] the
//! few it writes raw (DEL, C1, bidi overrides), so a JSON export shown on a terminal cannot
//! drive it either.

use std::borrow::Cow;
use std::io::{self, Write};

use serde_json::{json, Value};

use crate::gather::Selected;
use crate::model::{Row, Summary};
use crate::time::{iso_utc, ZoneView};
use crate::{Options, Selection};

/// The document's `version`: raised when a field changes meaning or goes away (added fields do
/// not raise it).
pub const VERSION: u32 = 1;

/// The event object of the JSON `events` array and of each NDJSON line: the CSV columns, typed,
/// with `null` for what does not apply, plus the endpoint's id, the states of a state change
/// and the incident marks.
pub fn event_json(row: &Row) -> Value {
    json!({
        "timestamp": iso_utc(row.at),
        "endpoint": row.endpoint,
        "endpoint_id": row.endpoint_id.0,
        "event": row.event,
        "code": row.code,
        "reason": row.reason,
        "initiator": row.initiator,
        "cause": row.cause,
        "phase": row.phase,
        "status": row.status,
        "rtt_ms": row.rtt_ms.map(|r| (r * 1000.0).round() / 1000.0),
        "attempt": row.attempt,
        "delay_ms": row.delay_ms,
        "state_from": row.state_from.map(|s| s.as_str()),
        "state_to": row.state_to.map(|s| s.as_str()),
        "detail": row.detail,
        "marks": row.marks.iter().map(|m| m.name()).collect::<Vec<_>>(),
    })
}

/// Writes [`event_json`]'s object, byte for byte as `serde_json::to_writer` would, without
/// building the map first (a JSON export writes one per event).
pub(crate) fn write_event(out: &mut dyn Write, row: &Row) -> io::Result<()> {
    macro_rules! value {
        ($out:expr, $key:expr, $v:expr $(,)?) => {{
            $out.write_all($key.as_bytes())?;
            serde_json::to_writer(&mut *$out, $v).map_err(io::Error::from)?;
        }};
    }
    // A timestamp has nothing to escape: written as serde_json would, without it.
    let mut stamp = String::with_capacity(26);
    stamp.push('"');
    crate::time::push_iso_utc(&mut stamp, row.at);
    stamp.push('"');
    out.write_all(b"{\"timestamp\":")?;
    out.write_all(stamp.as_bytes())?;
    out.write_all(b",\"endpoint\":")?;
    write_str(out, Some(&row.endpoint))?;
    value!(out, ",\"endpoint_id\":", &row.endpoint_id.0);
    value!(out, ",\"event\":", row.event);
    value!(out, ",\"code\":", &row.code);
    out.write_all(b",\"reason\":")?;
    write_str(out, row.reason.as_deref())?;
    value!(out, ",\"initiator\":", &row.initiator);
    value!(out, ",\"cause\":", &row.cause);
    value!(out, ",\"phase\":", &row.phase);
    value!(out, ",\"status\":", &row.status);
    value!(
        out,
        ",\"rtt_ms\":",
        &row.rtt_ms.map(|r| (r * 1000.0).round() / 1000.0),
    );
    value!(out, ",\"attempt\":", &row.attempt);
    value!(out, ",\"delay_ms\":", &row.delay_ms);
    value!(out, ",\"state_from\":", &row.state_from.map(|s| s.as_str()));
    value!(out, ",\"state_to\":", &row.state_to.map(|s| s.as_str()));
    out.write_all(b",\"detail\":")?;
    write_str(out, Some(&row.detail))?;
    out.write_all(b",\"marks\":[")?;
    for (i, m) in row.marks.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &m.name()).map_err(io::Error::from)?;
    }
    out.write_all(b"]}")
}

/// Writes a string (or `null`) as serde_json does, then [`escape_unsafe`]: the fields that
/// carry text from outside or typed by people.
fn write_str(out: &mut dyn Write, text: Option<&str>) -> io::Result<()> {
    match text {
        None => out.write_all(b"null"),
        Some(text) if !text.chars().any(raw_unsafe) => {
            serde_json::to_writer(&mut *out, text).map_err(io::Error::from)
        }
        Some(text) => {
            let json = serde_json::to_string(text).map_err(io::Error::from)?;
            out.write_all(escape_unsafe(&json).as_bytes())
        }
    }
}

/// A character serde_json writes raw that a terminal would act on.
fn raw_unsafe(c: char) -> bool {
    heartline_core::untrusted::json_leaves_raw(c)
}

/// `json` with the characters serde_json leaves raw escaped (the one rule, in core).
pub(crate) fn escape_unsafe(json: &str) -> Cow<'_, str> {
    heartline_core::untrusted::escape_json_text(json)
}

/// Writes the document up to the opening of `events`.
pub(crate) fn head(
    out: &mut dyn Write,
    selection: &Selection,
    endpoints: &[Selected],
    options: &Options,
    zone: &ZoneView,
) -> io::Result<()> {
    let endpoints: Vec<Value> = endpoints
        .iter()
        .map(|e| json!({ "id": e.id.0, "name": e.name, "url": e.url, "tags": e.tags }))
        .collect();
    let head = json!({
        "version": VERSION,
        "generator": format!("heartline {}", env!("CARGO_PKG_VERSION")),
        "generated_at": iso_utc(options.now),
        "selection": {
            "endpoints": selection.endpoints,
            "tags": selection.tags,
            "since": iso_utc(selection.since),
            "until": iso_utc(selection.until),
            "incidents_only": selection.incidents_only,
            "time_zone": zone.label(),
        },
        "endpoints": endpoints,
    });
    // The head as pretty JSON without its closing brace, then the events array opens.
    let text = serde_json::to_string_pretty(&head).map_err(io::Error::from)?;
    let text = escape_unsafe(&text);
    let open = text.trim_end().trim_end_matches('}').trim_end();
    write!(out, "{open},\n  \"events\": [")
}

/// Writes the events of the array, one per line.
#[derive(Debug, Default)]
pub(crate) struct Events {
    written: u64,
}

impl Events {
    pub fn row(&mut self, out: &mut dyn Write, row: &Row) -> io::Result<()> {
        out.write_all(if self.written == 0 {
            b"\n    "
        } else {
            b",\n    "
        })?;
        write_event(out, row)?;
        self.written += 1;
        Ok(())
    }
}

/// Closes `events` and writes the summary.
pub(crate) fn finish(out: &mut dyn Write, events: Events, s: &Summary) -> io::Result<()> {
    if events.written > 0 {
        out.write_all(b"\n  ")?;
    }
    out.write_all(b"],\n  \"summary\": ")?;
    write_summary(out, s)?;
    out.write_all(b"\n}\n")?;
    out.flush()
}

/// Writes the summary one level in, byte for byte as `serde_json::to_writer_pretty` wrote it
/// when it was built as one value (tests/golden/export.json), but building one endpoint,
/// incident, close code or finding at a time: a window's incidents grow with its length, and
/// holding them all as JSON values made the document's memory grow with it.
fn write_summary(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    out.write_all(b"{\n    \"events_exported\": ")?;
    serde_json::to_writer(&mut *out, &s.events_exported).map_err(io::Error::from)?;
    out.write_all(b",\n    \"events_seen\": ")?;
    serde_json::to_writer(&mut *out, &s.events_seen).map_err(io::Error::from)?;
    out.write_all(b",\n    \"endpoints\": ")?;
    write_array(out, s.endpoints.iter().map(endpoint_json))?;
    out.write_all(b",\n    \"incidents\": ")?;
    write_array(out, s.incidents.iter().map(incident_json))?;
    out.write_all(b",\n    \"close_codes\": ")?;
    write_array(out, s.close_codes.iter().map(close_code_json))?;
    out.write_all(b",\n    \"findings\": ")?;
    write_array(out, s.findings.iter().map(finding_json))?;
    out.write_all(b"\n  }")
}

/// A pretty-printed array two levels into the summary (three into the document).
fn write_array(out: &mut dyn Write, items: impl Iterator<Item = Value>) -> io::Result<()> {
    let mut items = items.peekable();
    if items.peek().is_none() {
        return out.write_all(b"[]");
    }
    out.write_all(b"[")?;
    for (i, item) in items.enumerate() {
        out.write_all(if i == 0 { b"\n      " } else { b",\n      " })?;
        let text = serde_json::to_string_pretty(&item).map_err(io::Error::from)?;
        Indented(&mut *out, b"\n      ").write_all(escape_unsafe(&text).as_bytes())?;
    }
    out.write_all(b"\n    ]")
}

/// Starts every line after the first with the given line break and indentation.
struct Indented<'a>(&'a mut dyn Write, &'static [u8]);

impl Write for Indented<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for (i, line) in buf.split(|b| *b == b'\n').enumerate() {
            if i > 0 {
                self.0.write_all(self.1)?;
            }
            self.0.write_all(line)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn ms_f(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn endpoint_json(e: &crate::model::EndpointSummary) -> Value {
    let u = &e.uptime;
    json!({
        "id": e.id.0,
        "name": e.name,
        "uptime": {
            "definition": crate::model::UPTIME_DEFINITION,
            "ratio": u.uptime(),
            "connected_ratio": u.connected_share(),
            "degraded_ratio": u.degraded_share(),
            "watched_ms": ms(u.watched),
            "available_ms": ms(u.available),
            "connected_ms": ms(u.connected),
            "up_ms": ms(u.up),
            "degraded_ms": ms(u.degraded),
            "unstable_ms": ms(u.unstable),
            "down_ms": ms(u.down),
            "connecting_ms": ms(u.connecting),
            "paused_ms": ms(u.paused),
            "unknown_ms": ms(u.unknown),
        },
        "sessions": {
            "ended": u.sessions_ended,
            "unexpected_ends": u.unexpected_ends,
            "drops_per_hour": u.drops_per_hour(),
            "median_ms": u.median_session.map(ms),
            "last_ms": u.last_session.map(ms),
            "current_ms": u.current_session.map(ms),
        },
        "incidents": e.incidents,
        "closes": e.closes,
        "handshake_failures": e.handshake_failures,
        "reconnects": e.reconnects,
        "rtt": e.rtt.as_ref().map(|r| json!({
            "resolution": r.resolution,
            "samples": r.samples,
            "mean_ms": ms_f(r.mean),
            "worst_p95_ms": ms_f(r.worst_p95),
        })),
        "server_beats": e.server_beats.as_ref().map(|b| json!({
            "resolution": b.resolution,
            "beats": b.beats,
            "mean_interval_ms": ms_f(b.mean_interval),
            "worst_p95_interval_ms": ms_f(b.worst_p95_interval),
        })),
    })
}

fn incident_json(i: &crate::model::IncidentSummary) -> Value {
    json!({
        "endpoint": i.endpoint,
        "endpoint_id": i.endpoint_id.0,
        "kind": i.kind.as_str(),
        "start": iso_utc(i.started),
        "end": i.ended.map(iso_utc),
        "ongoing": i.ended.is_none(),
        "ended_by_pause": i.ended_by_pause,
        "duration_ms": ms(i.duration),
        "detected_after_ms": ms(i.time_to_detect),
        "close_codes": i.close_codes.iter().map(|(c, n)| json!({ "code": c, "count": n })).collect::<Vec<_>>(),
        "handshake_failures": i.handshake_failures.iter()
            .map(|(p, st, n)| json!({ "phase": p, "status": st, "count": n }))
            .collect::<Vec<_>>(),
        "reconnect_attempts": i.reconnect_attempts,
        "rtt_before_ms": i.rtt_before.map(ms_f),
        "episodes": i.episodes,
        "cause": i.cause.as_ref().map(|(rule, title)| json!({ "rule": rule, "title": title })),
    })
}

fn close_code_json(c: &crate::model::CloseCount) -> Value {
    json!({
        "code": c.code,
        "meaning": c.meaning(),
        "class": c.class().as_str(),
        "initiator": c.initiator,
        "count": c.count,
    })
}

fn finding_json(f: &crate::model::FindingSummary) -> Value {
    json!({
        "rule": f.rule,
        "endpoints": f.endpoints,
        "title": f.title,
        "explanation": f.explanation,
        "evidence": f.evidence,
        "suggestion": f.suggestion,
        "first_seen": iso_utc(f.first_seen),
        "last_seen": iso_utc(f.last_seen),
        "occurrences": f.occurrences,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use heartline_core::{EndpointId, Event, EventKind, IncidentKind, PingKind, State, Timestamp};

    use super::*;
    use crate::model::Mark;

    #[test]
    fn written_events_are_the_event_objects() {
        let at = Timestamp(1_795_000_000_123);
        let rows = [
            Row::from_event(
                &Event {
                    at,
                    endpoint: EndpointId(7),
                    kind: EventKind::Rtt {
                        kind: PingKind::App,
                        rtt: Duration::from_micros(12_345_678),
                    },
                },
                "feed \"eu\"\n",
            ),
            {
                let mut row = Row::from_event(
                    &Event {
                        at,
                        endpoint: EndpointId(8),
                        kind: EventKind::StateChanged {
                            from: State::Up,
                            to: State::Down,
                        },
                    },
                    "orders",
                );
                row.marks = vec![
                    Mark::FirstSign(IncidentKind::Down),
                    Mark::Start(IncidentKind::Down),
                ];
                row
            },
            Row::from_event(
                &Event {
                    at,
                    endpoint: EndpointId(9),
                    kind: EventKind::GaveUp {
                        reason: "401 — check the token".into(),
                    },
                },
                "",
            ),
        ];
        for row in &rows {
            let mut written = Vec::new();
            write_event(&mut written, row).unwrap();
            assert_eq!(
                String::from_utf8(written).unwrap(),
                serde_json::to_string(&event_json(row)).unwrap()
            );
        }
    }

    #[test]
    fn every_control_is_escaped_and_the_text_comes_back_exactly() {
        let reason = "\u{1b}]0;pwned\u{7} \u{1b}[31m\nx\u{7f}\u{9b}31m \u{202e}fdp.exe";
        let row = Row::from_event(
            &Event {
                at: Timestamp(1_795_000_000_123),
                endpoint: EndpointId(3),
                kind: EventKind::GaveUp {
                    reason: reason.into(),
                },
            },
            "name\u{85}",
        );
        let mut written = Vec::new();
        write_event(&mut written, &row).unwrap();
        let text = String::from_utf8(written).unwrap();
        assert!(
            !text.chars().any(heartline_core::untrusted::is_unsafe_char),
            "{text:?}"
        );
        assert!(text.contains(r"\u001b]0;pwned\u0007"), "{text}");
        assert!(text.contains(r"\u009b31m \u202efdp.exe"), "{text}");
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, event_json(&row));
        assert_eq!(back["reason"], reason);
        assert_eq!(back["endpoint"], "name\u{85}");

        // The pretty-printed parts (head, summary) too.
        let pretty = serde_json::to_string_pretty(&json!({ "a": ["\u{9b}", 1] })).unwrap();
        let escaped = escape_unsafe(&pretty);
        assert_eq!(escaped, pretty.replace('\u{9b}', r"\u009b"));
        assert_eq!(
            serde_json::from_str::<Value>(&escaped).unwrap(),
            json!({ "a": ["\u{9b}", 1] })
        );
    }
}
