//! Reading history back: as core events (for incidents, diagnosis and exports) and as the
//! summaries the dashboard and CLI show.

use std::time::Duration;

use serde_json::{json, Value};

use heartline_core::{
    CloseCause, EndpointId, Event, EventKind, FailedPhase, Handshake, HandshakeFailure, Phase,
    Phases, PingKind, RefusalClass, RetryReason, SessionEnd, SessionStats, State, Timestamp,
};

use crate::{Result, Store};

/// How one event is kept in the `events` table: the queried fields as columns, the rest as
/// JSON in `detail`.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub(crate) struct EventRow {
    pub kind: String,
    pub code: Option<i64>,
    pub status: Option<i64>,
    pub phase: Option<String>,
    pub initiator: Option<String>,
    pub cause: Option<String>,
    pub reason: Option<String>,
    pub attempt: Option<i64>,
    pub delay_ms: Option<i64>,
    pub detail: Option<String>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn us(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn from_us(v: &Value) -> Option<Duration> {
    v.as_u64().map(Duration::from_micros)
}

/// A stored event's `detail`, read as the JSON object it is written as. Its keys are borrowed
/// from the text and kept in a small sorted map rather than an ordered map of owned keys (the
/// workspace builds serde_json with `preserve_order`), which at hundreds of thousands of events
/// per export cost more than the rest of the decoding. Anything else (not an object, escaped
/// keys) is read as a [`Value`], so the outcome is the same either way: a later duplicate key
/// wins in both, and a missing key reads as `null`.
enum Detail<'a> {
    Map(std::collections::BTreeMap<&'a str, Value>),
    Value(Value),
}

impl<'a> Detail<'a> {
    fn parse(text: Option<&'a str>) -> Detail<'a> {
        let Some(text) = text else {
            return Detail::Value(Value::Null);
        };
        match serde_json::from_str(text) {
            Ok(map) => Detail::Map(map),
            Err(_) => Detail::Value(serde_json::from_str(text).unwrap_or(Value::Null)),
        }
    }

    /// Whether the object has this key (even if `null`), as `Value::get(..).is_some()`.
    fn has(&self, key: &str) -> bool {
        match self {
            Detail::Map(m) => m.contains_key(key),
            Detail::Value(v) => v.get(key).is_some(),
        }
    }
}

impl std::ops::Index<&str> for Detail<'_> {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Detail::Map(m) => m.get(key).unwrap_or(&NULL),
            Detail::Value(v) => &v[key],
        }
    }
}

impl EventRow {
    pub(crate) fn from_event(kind: &EventKind) -> EventRow {
        let mut row = EventRow {
            kind: kind.name().to_owned(),
            ..EventRow::default()
        };
        let detail = match kind {
            EventKind::Connected { attempt, handshake } => {
                row.attempt = Some(i64::from(*attempt));
                let p = handshake.phases;
                Some(json!({
                    "peer": handshake.peer.to_string(),
                    "dns_us": us(p.dns), "tcp_us": us(p.tcp), "tls_us": p.tls.map(us), "upgrade_us": us(p.upgrade),
                    "subprotocol": handshake.subprotocol, "extensions": handshake.extensions,
                }))
            }
            EventKind::Closed { end, stats } => {
                row.code = Some(i64::from(end.code()));
                row.reason = Some(end.reason().to_owned());
                row.initiator = Some(end.initiator().as_str().to_owned());
                row.cause = end.cause().map(|c| c.as_str().to_owned());
                if let SessionEnd::Refused {
                    protocol, class, ..
                } = end
                {
                    // The cause column says which protocol refused and why, so the refusal
                    // reads back as one (the closed row's detail is reduced by the writer).
                    row.cause = Some(format!("{REFUSED}{}:{}", protocol.as_str(), class.as_str()));
                }
                Some(json!({
                    "clean": end.clean(), "session_ms": ms(stats.duration), "silent_ms": ms(stats.silent_for),
                    "messages_in": stats.messages_in, "bytes_in": stats.bytes_in,
                    "messages_out": stats.messages_out, "bytes_out": stats.bytes_out,
                }))
            }
            EventKind::HandshakeFailed(f) => {
                row.phase = Some(f.phase.as_str().to_owned());
                row.status = f.phase.status().map(i64::from);
                row.reason = Some(f.error.clone());
                let mut d = json!({ "elapsed_ms": ms(f.elapsed) });
                match f.phase {
                    FailedPhase::Timeout { during } => d["during"] = json!(during.as_str()),
                    FailedPhase::Http {
                        retry_after: Some(r),
                        ..
                    } => d["retry_after_ms"] = json!(ms(r)),
                    _ => {}
                }
                Some(d)
            }
            EventKind::ReconnectScheduled {
                attempt,
                delay,
                reason,
            } => {
                row.attempt = Some(i64::from(*attempt));
                row.delay_ms = Some(ms(*delay));
                row.cause = Some(reason.as_str().to_owned());
                None
            }
            EventKind::GaveUp { reason } => {
                row.reason = Some(reason.clone());
                None
            }
            EventKind::PongMissed { kind, missed } => {
                row.phase = Some(kind.as_str().to_owned());
                row.attempt = Some(i64::from(*missed));
                None
            }
            EventKind::Stale { silent } => Some(json!({ "silent_ms": ms(*silent) })),
            EventKind::ServerBeat { interval, jitter } => {
                Some(json!({ "interval_us": us(*interval), "jitter_us": us(*jitter) }))
            }
            EventKind::Connecting { attempt } => {
                row.attempt = Some(i64::from(*attempt));
                None
            }
            EventKind::Rtt { kind, rtt } => {
                row.phase = Some(kind.as_str().to_owned());
                Some(json!({ "rtt_us": us(*rtt) }))
            }
            EventKind::StateChanged { from, to } => {
                row.reason = Some(format!("{}>{}", from.as_str(), to.as_str()));
                None
            }
        };
        row.detail = detail.map(|d| d.to_string());
        row.compact();
        row
    }

    /// The denser form rows are written in since migration `20261121170000`: the kinds that
    /// no query filters on are stored as one letter ([`STORED_KINDS`]); a handshake failure
    /// keeps its elapsed time in `delay_ms` rather than in `detail`, a timeout its phase in
    /// `phase` ("timeout:tls"); a reconnect with the
    /// usual reason (backoff) leaves `cause` empty. [`EventRow::into_kind`] reads both forms.
    fn compact(&mut self) {
        let Some(&(_, letter)) = STORED_KINDS.iter().find(|(name, _)| *name == self.kind) else {
            return;
        };
        match letter {
            "h" => {
                if let Some(text) = self.detail.take() {
                    let mut d: serde_json::Map<String, Value> =
                        serde_json::from_str(&text).unwrap_or_default();
                    self.delay_ms = d.remove("elapsed_ms").and_then(|v| v.as_i64());
                    // A timeout's phase names the phase it happened in: "timeout:tcp".
                    if self.phase.as_deref() == Some("timeout") {
                        if let Some(Value::String(during)) = d.remove("during") {
                            self.phase = Some(format!("timeout:{during}"));
                        }
                    }
                    self.detail = (!d.is_empty()).then(|| Value::Object(d).to_string());
                }
            }
            "r" if self.cause.as_deref() == Some("backoff") => self.cause = None,
            _ => {}
        }
        self.kind = letter.to_owned();
    }

    /// The event this row stores; `None` for a row this version cannot read.
    pub(crate) fn into_kind(mut self, session: &SessionColumns) -> Option<EventKind> {
        // The dense form (see [`EventRow::compact`]) back to the names and fields below.
        let dense = match STORED_KINDS.iter().find(|(_, letter)| *letter == self.kind) {
            Some(&(name, _)) => {
                self.kind = name.to_owned();
                true
            }
            None => false,
        };
        if dense && self.kind == "reconnect_scheduled" && self.cause.is_none() {
            self.cause = Some("backoff".to_owned());
        }
        let mut detail = Detail::parse(self.detail.as_deref());
        if let Some(during) = self
            .phase
            .as_deref()
            .filter(|_| dense)
            .and_then(|p| p.strip_prefix("timeout:"))
        {
            let mut d = serde_json::Map::new();
            d.insert("during".into(), json!(during));
            detail = Detail::Value(Value::Object(d));
            self.phase = Some("timeout".to_owned());
        }
        // Connected and closed events written since the session row holds their details.
        if self.kind == "connected" && self.detail.is_none() {
            detail = Detail::Value(json!({
                "peer": session.s_peer.as_deref()?,
                "dns_us": session.s_dns_us?, "tcp_us": session.s_tcp_us?,
                "tls_us": session.s_tls_us, "upgrade_us": session.s_upgrade_us?,
                "subprotocol": session.s_subprotocol,
                "extensions": session.s_extensions.as_deref().map_or_else(Vec::new, |x| x.split(", ").collect()),
            }));
        } else if self.kind == "closed" && !detail.has("clean") {
            let offset = self.delay_ms?;
            detail = Detail::Value(json!({
                "clean": session.s_clean?,
                "session_ms": detail["session_ms"].as_i64().unwrap_or(offset),
                "silent_ms": session.s_silent_ms,
                "messages_in": session.s_messages_in, "bytes_in": session.s_bytes_in,
                "messages_out": session.s_messages_out, "bytes_out": session.s_bytes_out,
            }));
        }
        let attempt = self.attempt.and_then(|a| u32::try_from(a).ok());
        Some(match self.kind.as_str() {
            "connected" => EventKind::Connected {
                attempt: attempt?,
                handshake: Handshake {
                    phases: Phases {
                        dns: from_us(&detail["dns_us"])?,
                        tcp: from_us(&detail["tcp_us"])?,
                        tls: from_us(&detail["tls_us"]),
                        upgrade: from_us(&detail["upgrade_us"])?,
                    },
                    peer: detail["peer"].as_str()?.parse().ok()?,
                    subprotocol: detail["subprotocol"].as_str().map(str::to_owned),
                    extensions: detail["extensions"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            },
            "closed" => {
                let code = u16::try_from(self.code?).ok()?;
                let reason = self.reason.unwrap_or_default();
                let refused = self
                    .cause
                    .as_deref()
                    .and_then(|c| c.strip_prefix(REFUSED))
                    .and_then(|c| c.split_once(':'))
                    .and_then(|(p, c)| Some((p.parse().ok()?, RefusalClass::parse(c)?)));
                let end = match self.initiator.as_deref()? {
                    "server" => match refused {
                        Some((protocol, class)) => SessionEnd::Refused {
                            protocol,
                            class,
                            code,
                            reason,
                        },
                        None => SessionEnd::ClosedByServer { code, reason },
                    },
                    "client" => SessionEnd::ClosedByClient {
                        cause: cause_from(self.cause.as_deref()?)?,
                        code,
                        reason,
                        clean: detail["clean"].as_bool().unwrap_or(false),
                    },
                    _ => SessionEnd::Lost { error: reason },
                };
                let n = |k: &str| detail[k].as_u64().unwrap_or(0);
                EventKind::Closed {
                    end,
                    stats: SessionStats {
                        duration: Duration::from_millis(n("session_ms")),
                        silent_for: Duration::from_millis(n("silent_ms")),
                        messages_in: n("messages_in"),
                        bytes_in: n("bytes_in"),
                        messages_out: n("messages_out"),
                        bytes_out: n("bytes_out"),
                    },
                }
            }
            "handshake_failed" => {
                let phase = match self.phase.as_deref()? {
                    "dns" => FailedPhase::Dns,
                    "tcp" => FailedPhase::Tcp,
                    "tls" => FailedPhase::Tls,
                    "http" => FailedPhase::Http {
                        status: self.status.and_then(|s| u16::try_from(s).ok()),
                        retry_after: detail["retry_after_ms"].as_u64().map(Duration::from_millis),
                    },
                    "timeout" => FailedPhase::Timeout {
                        during: match detail["during"].as_str()? {
                            "dns" => Phase::Dns,
                            "tcp" => Phase::Tcp,
                            "tls" => Phase::Tls,
                            _ => Phase::Upgrade,
                        },
                    },
                    _ => return None,
                };
                let elapsed_ms = if dense {
                    self.delay_ms.and_then(|v| u64::try_from(v).ok())
                } else {
                    detail["elapsed_ms"].as_u64()
                };
                EventKind::HandshakeFailed(HandshakeFailure {
                    phase,
                    error: self.reason.unwrap_or_default(),
                    elapsed: Duration::from_millis(elapsed_ms.unwrap_or(0)),
                })
            }
            "reconnect_scheduled" => EventKind::ReconnectScheduled {
                attempt: attempt?,
                delay: Duration::from_millis(u64::try_from(self.delay_ms?).ok()?),
                reason: match self.cause.as_deref()? {
                    "service_restart" => RetryReason::ServiceRestart,
                    "try_again_later" => RetryReason::TryAgainLater,
                    "retry_after" => RetryReason::RetryAfter,
                    _ => RetryReason::Backoff,
                },
            },
            "gave_up" => EventKind::GaveUp {
                reason: self.reason.unwrap_or_default(),
            },
            "pong_missed" => EventKind::PongMissed {
                kind: match self.phase.as_deref() {
                    Some("app") => PingKind::App,
                    Some("server") => PingKind::Server,
                    _ => PingKind::Protocol,
                },
                missed: attempt?,
            },
            "stale" => EventKind::Stale {
                silent: Duration::from_millis(detail["silent_ms"].as_u64().unwrap_or(0)),
            },
            "server_beat" => EventKind::ServerBeat {
                interval: from_us(&detail["interval_us"])?,
                jitter: from_us(&detail["jitter_us"])?,
            },
            _ => return None,
        })
    }
}

/// Event kinds stored as one letter: none is named in a query (`connected` and `closed` are:
/// the session joins, the close-code index), so only this table and the decoding change.
const STORED_KINDS: [(&str, &str); 5] = [
    ("reconnect_scheduled", "r"),
    ("handshake_failed", "h"),
    ("pong_missed", "p"),
    ("gave_up", "g"),
    ("stale", "s"),
];

/// A row of `events` with its key, and the columns of its session's row that connected and
/// closed events are read back from.
#[derive(sqlx::FromRow)]
struct StoredEvent {
    endpoint_id: i64,
    ts: i64,
    seq: i64,
    #[sqlx(flatten)]
    row: EventRow,
    #[sqlx(flatten)]
    session: SessionColumns,
}

/// What `sessions` holds of a connected or closed event (all NULL for other events).
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow)]
pub(crate) struct SessionColumns {
    pub s_dns_us: Option<i64>,
    pub s_tcp_us: Option<i64>,
    pub s_tls_us: Option<i64>,
    pub s_upgrade_us: Option<i64>,
    pub s_peer: Option<String>,
    pub s_subprotocol: Option<String>,
    pub s_extensions: Option<String>,
    pub s_clean: Option<bool>,
    pub s_silent_ms: Option<i64>,
    pub s_messages_in: Option<i64>,
    pub s_bytes_in: Option<i64>,
    pub s_messages_out: Option<i64>,
    pub s_bytes_out: Option<i64>,
}

/// The select list and joins that read events with their session's columns. A connected
/// event's session starts at the event (same key); a closed event's started `delay_ms` before
/// it and ended at it. Rows written before this layout carry everything in `detail` and match
/// neither join.
pub(crate) const EVENT_COLUMNS_WITH_SESSION: &str = "e.endpoint_id, e.ts, e.seq, e.kind, e.code, e.status, e.phase, e.initiator, e.cause, e.reason, \
     e.attempt, e.delay_ms, e.detail, \
     so.dns_us AS s_dns_us, so.tcp_us AS s_tcp_us, so.tls_us AS s_tls_us, so.upgrade_us AS s_upgrade_us, \
     so.peer AS s_peer, so.subprotocol AS s_subprotocol, so.extensions AS s_extensions, \
     sc.clean AS s_clean, sc.silent_ms AS s_silent_ms, sc.messages_in AS s_messages_in, \
     sc.bytes_in AS s_bytes_in, sc.messages_out AS s_messages_out, sc.bytes_out AS s_bytes_out \
     FROM events e \
     LEFT JOIN sessions so ON e.kind = 'connected' AND e.detail IS NULL \
       AND so.endpoint_id = e.endpoint_id AND so.started_at = e.ts AND so.seq = e.seq \
     LEFT JOIN sessions sc ON e.kind = 'closed' AND e.delay_ms IS NOT NULL \
       AND sc.endpoint_id = e.endpoint_id AND sc.started_at = e.ts - e.delay_ms AND sc.ended_at = e.ts";

/// `eids(id)`: every endpoint id present in `events`, in order, one primary-key seek each (a
/// loose index scan), so a window over all endpoints is one range seek per endpoint.
pub(crate) const EVENT_ENDPOINTS: &str = "WITH RECURSIVE eids(id) AS (\
     SELECT (SELECT endpoint_id FROM events ORDER BY endpoint_id LIMIT 1) \
     UNION ALL SELECT (SELECT endpoint_id FROM events WHERE endpoint_id > eids.id \
       ORDER BY endpoint_id LIMIT 1) FROM eids WHERE eids.id IS NOT NULL)";

/// Whether `sessions.extensions` (the names joined with ", ") gives back exactly this list.
pub(crate) fn extensions_round_trip(extensions: &[String]) -> bool {
    extensions
        .iter()
        .all(|x| !x.is_empty() && !x.contains(',') && x.trim() == x)
}

/// How a refusal's cause column starts: `refused:<protocol>:<class>`.
const REFUSED: &str = "refused:";

pub(crate) fn cause_from(text: &str) -> Option<CloseCause> {
    Some(match text {
        "pong_timeout" => CloseCause::PongTimeout,
        "app_pong_timeout" => CloseCause::AppPongTimeout,
        "stale" => CloseCause::Stale,
        "user" => CloseCause::User,
        "shutdown" => CloseCause::Shutdown,
        "duration_elapsed" => CloseCause::DurationElapsed,
        "message_too_big" => CloseCause::MessageTooBig,
        "protocol_error" => CloseCause::ProtocolError,
        "reconfigured" => CloseCause::Reconfigured,
        "server_beat_missed" => CloseCause::ServerBeatMissed,
        "protocol_handshake_timeout" => CloseCause::ProtocolHandshakeTimeout,
        _ => return None,
    })
}

pub(crate) fn state_from(text: &str) -> Option<State> {
    Some(match text {
        "connecting" => State::Connecting,
        "up" => State::Up,
        "degraded" => State::Degraded,
        "unstable" => State::Unstable,
        "down" => State::Down,
        "paused" => State::Paused,
        _ => return None,
    })
}

fn id(e: EndpointId) -> i64 {
    i64::try_from(e.0).unwrap_or(i64::MAX)
}

impl Store {
    /// Every stored event of the given endpoints (all when empty) in `[from, to)`, in order,
    /// with state changes carrying the state they came from.
    /// The closed events at exactly these (endpoint, time) keys, as the overview's
    /// `last_close` names them: one statement with a primary-key seek per key, in key order
    /// (so of two closes in one millisecond the later comes last).
    pub async fn closes_at(&self, keys: &[(EndpointId, Timestamp)]) -> Result<Vec<Event>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<String> = keys
            .iter()
            .map(|(e, at)| format!("({},{})", id(*e), at.0))
            .collect();
        let rows: Vec<StoredEvent> = sqlx::query_as(&format!(
            "WITH want(id, ts) AS (VALUES {}) SELECT {EVENT_COLUMNS_WITH_SESSION} \
             WHERE e.kind = 'closed' AND (e.endpoint_id, e.ts) IN (SELECT id, ts FROM want) \
             ORDER BY e.endpoint_id, e.ts, e.seq",
            values.join(",")
        ))
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                let kind = r.row.into_kind(&r.session)?;
                Some(Event {
                    at: Timestamp(r.ts),
                    endpoint: EndpointId(r.endpoint_id.max(0).unsigned_abs()),
                    kind,
                })
            })
            .collect())
    }

    pub async fn history(
        &self,
        endpoints: &[EndpointId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Event>> {
        let filter = endpoint_filter(endpoints);
        // `events` has no time index: every endpoint's window is a seek on its primary key.
        // All endpoints means every endpoint with events (removed ones keep their history),
        // enumerated from the key one seek each.
        let (with, filter_e) = if endpoints.is_empty() {
            (
                EVENT_ENDPOINTS,
                "AND e.endpoint_id IN (SELECT id FROM eids)".to_owned(),
            )
        } else {
            ("", filter.replace("endpoint_id", "e.endpoint_id"))
        };
        let rows: Vec<StoredEvent> = sqlx::query_as(&format!(
            "{with} SELECT {EVENT_COLUMNS_WITH_SESSION} WHERE e.ts >= ? AND e.ts < ? {filter_e} ORDER BY e.ts, e.seq"
        ))
        .bind(from.0)
        .bind(to.0)
        .fetch_all(self.reader())
        .await?;
        let mut out: Vec<(i64, i64, Event)> = rows
            .into_iter()
            .filter_map(|r| {
                let kind = r.row.into_kind(&r.session)?;
                let endpoint = EndpointId(r.endpoint_id.max(0).unsigned_abs());
                Some((
                    r.ts,
                    r.seq,
                    Event {
                        at: Timestamp(r.ts),
                        endpoint,
                        kind,
                    },
                ))
            })
            .collect();

        // State changes, each with the state before it (looked up before the window too).
        let states: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!(
            "SELECT endpoint_id, ts, seq, state FROM states WHERE ts >= ? AND ts < ? {filter} ORDER BY endpoint_id, ts, seq"
        ))
        .bind(from.0)
        .bind(to.0)
        .fetch_all(self.reader())
        .await?;
        // The state before the window of every endpoint that changed in it: one statement.
        let mut changed: Vec<i64> = states.iter().map(|(e, ..)| *e).collect();
        changed.dedup();
        let mut before: std::collections::HashMap<i64, State> = std::collections::HashMap::new();
        if !changed.is_empty() {
            let values: Vec<String> = changed.iter().map(|e| format!("({e})")).collect();
            let rows: Vec<(i64, Option<String>)> = sqlx::query_as(&format!(
                "WITH ids(id) AS (VALUES {}) SELECT id, (SELECT state FROM states \
                 WHERE endpoint_id = id AND ts < ? ORDER BY ts DESC, seq DESC LIMIT 1) FROM ids",
                values.join(",")
            ))
            .bind(from.0)
            .fetch_all(self.reader())
            .await?;
            before.extend(
                rows.into_iter()
                    .filter_map(|(e, s)| Some((e, state_from(&s?)?))),
            );
        }
        let mut previous: Option<(i64, State)> = None;
        for (e, ts, seq, state) in states {
            let Some(to_state) = state_from(&state) else {
                continue;
            };
            let from_state = match previous {
                Some((pe, s)) if pe == e => s,
                _ => before.get(&e).copied().unwrap_or(State::Connecting),
            };
            previous = Some((e, to_state));
            out.push((
                ts,
                seq,
                Event {
                    at: Timestamp(ts),
                    endpoint: EndpointId(e.max(0).unsigned_abs()),
                    kind: EventKind::StateChanged {
                        from: from_state,
                        to: to_state,
                    },
                },
            ));
        }
        out.sort_by_key(|(ts, seq, _)| (*ts, *seq));
        Ok(out.into_iter().map(|(_, _, e)| e).collect())
    }

    /// The state an endpoint was in just before `at` (None: no state recorded before it).
    pub async fn state_at(&self, endpoint: EndpointId, at: Timestamp) -> Result<Option<State>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT state FROM states WHERE endpoint_id = ? AND ts < ? ORDER BY ts DESC, seq DESC LIMIT 1",
        )
        .bind(id(endpoint))
        .bind(at.0)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.and_then(|(s,)| state_from(&s)))
    }

    /// Closes by code and initiator over a window (all endpoints when empty), most frequent first.
    ///
    /// Fleet-wide, the window's whole UTC days come from `close_counts` (a few rows a day, kept
    /// by triggers on `events`) and only its partial days at each edge from closed events.
    pub async fn close_codes(
        &self,
        endpoints: &[EndpointId],
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(u16, String, u64)>> {
        let rows: Vec<(i64, String, i64)> = match whole_days(from, to) {
            Some((first, end)) if endpoints.is_empty() => {
                sqlx::query_as(
                    "SELECT code, initiator, sum(n) AS n FROM ( \
                       SELECT code, initiator, n FROM close_counts WHERE day >= ?3 AND day < ?4 \
                       UNION ALL SELECT code, initiator, 1 FROM events \
                         WHERE kind = 'closed' AND ts >= ?1 AND ts < ?3 * 86400000 \
                       UNION ALL SELECT code, initiator, 1 FROM events \
                         WHERE kind = 'closed' AND ts >= ?4 * 86400000 AND ts < ?2) \
                     GROUP BY code, initiator ORDER BY n DESC, code",
                )
                .bind(from.0)
                .bind(to.0)
                .bind(first)
                .bind(end)
                .fetch_all(self.reader())
                .await?
            }
            _ => {
                let filter = endpoint_filter(endpoints);
                sqlx::query_as(&format!(
                    "SELECT code, initiator, count(*) AS n FROM events WHERE kind = 'closed' AND ts >= ? AND ts < ? {filter} \
                     GROUP BY code, initiator ORDER BY n DESC, code"
                ))
                .bind(from.0)
                .bind(to.0)
                .fetch_all(self.reader())
                .await?
            }
        };
        Ok(rows
            .into_iter()
            .filter_map(|(c, i, n)| Some((u16::try_from(c).ok()?, i, n.max(0).unsigned_abs())))
            .collect())
    }
}

/// The UTC days wholly inside `[from, to)` as `[first, end)` day numbers (`close_counts.day`),
/// or `None` when there is none.
fn whole_days(from: Timestamp, to: Timestamp) -> Option<(i64, i64)> {
    const DAY_MS: i64 = 86_400_000;
    let first = from.0.div_euclid(DAY_MS) + i64::from(from.0.rem_euclid(DAY_MS) != 0);
    let end = to.0.div_euclid(DAY_MS);
    (from.0 >= 0 && first < end).then_some((first, end))
}

/// `AND endpoint_id IN (…)` for a list of ids (numbers only, so inlining is safe).
fn endpoint_filter(endpoints: &[EndpointId]) -> String {
    if endpoints.is_empty() {
        String::new()
    } else {
        let ids: Vec<String> = endpoints.iter().map(|e| id(*e).to_string()).collect();
        format!("AND endpoint_id IN ({})", ids.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whole days start at the first midnight at or after `from` and end at the last one at or
    /// before `to`.
    #[test]
    fn whole_days_are_the_midnights_inside_the_window() {
        const D: i64 = 86_400_000;
        let w = |a: i64, b: i64| whole_days(Timestamp(a), Timestamp(b));
        assert_eq!(w(10 * D, 12 * D), Some((10, 12)));
        assert_eq!(w(10 * D + 1, 12 * D), Some((11, 12)));
        assert_eq!(w(10 * D + 1, 13 * D - 1), Some((11, 12)));
        assert_eq!(w(10 * D + 1, 12 * D - 1), None);
        assert_eq!(w(10 * D, 11 * D - 1), None);
        assert_eq!(w(12 * D, 10 * D), None);
        assert_eq!(w(-D, 2 * D), None, "before 1970 the events are read");
    }

    /// The borrowed map and the `Value` fallback read every detail the same way.
    #[test]
    fn detail_reads_like_a_value() {
        for text in [
            r#"{"clean":true,"session_ms":5}"#,
            r#"{"clean":null}"#,
            r#"{"a":1,"a":2,"b":"x"}"#,
            r#"{"cle\u0061n":false,"session_ms":7}"#,
            r#"[1,2]"#,
            "7",
            "not json",
            "{}",
        ] {
            let detail = Detail::parse(Some(text));
            let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            for key in ["clean", "session_ms", "a", "b", "missing"] {
                assert_eq!(detail[key], value[key], "{text} {key}");
                assert_eq!(detail.has(key), value.get(key).is_some(), "{text} {key}");
            }
        }
        assert!(matches!(Detail::parse(Some(r#"{"a":1}"#)), Detail::Map(_)));
        assert!(matches!(Detail::parse(None), Detail::Value(Value::Null)));
    }
}
