//! Between the engine's and store's types and the IPC DTOs. No I/O here.

use std::time::Duration;

use heartline_core::untrusted::{bound, MAX_UNTRUSTED_LEN};
use heartline_core::{
    close_code, escape_controls, AppHeartbeat, Endpoint, EndpointId, Header, ReplyMatch,
    SessionEnd, Staleness, State, Timestamp,
};
use heartline_engine::Status;

use crate::dto::{
    CloseInfo, EndpointForm, ErrorCode, FieldProblem, HeaderForm, IpcError, LiveStatus, StateName,
};

pub type IpcResult<T> = Result<T, IpcError>;

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        IpcError {
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

impl IpcError {
    /// The field problems of a validation (none when valid).
    pub fn from_validation(r: Result<(), heartline_core::ConfigErrors>) -> Vec<FieldProblem> {
        r.err()
            .map(|e| IpcError::from(e).fields)
            .unwrap_or_default()
    }
}

impl From<heartline_store::Error> for IpcError {
    fn from(e: heartline_store::Error) -> Self {
        use heartline_store::Error as E;
        let code = match &e {
            E::DuplicateName(_) => ErrorCode::Duplicate,
            E::UnknownEndpoint(_) => ErrorCode::NotFound,
            E::Config(_) => ErrorCode::Invalid,
            _ => ErrorCode::Storage,
        };
        IpcError::new(code, e.to_string())
    }
}

impl From<heartline_engine::Error> for IpcError {
    fn from(e: heartline_engine::Error) -> Self {
        use heartline_engine::Error as E;
        let code = match &e {
            E::UnknownEndpoint(_) => ErrorCode::NotFound,
            E::DuplicateId(_) => ErrorCode::Duplicate,
            _ => ErrorCode::Engine,
        };
        IpcError::new(code, e.to_string())
    }
}

impl From<heartline_core::ConfigErrors> for IpcError {
    fn from(e: heartline_core::ConfigErrors) -> Self {
        IpcError {
            code: ErrorCode::Invalid,
            message: e.to_string(),
            fields: e
                .0
                .into_iter()
                .map(|f| FieldProblem {
                    field: f.field,
                    problem: f.problem,
                })
                .collect(),
        }
    }
}

impl From<heartline_config::Error> for IpcError {
    fn from(e: heartline_config::Error) -> Self {
        IpcError::new(ErrorCode::Config, e.to_string())
    }
}

pub fn state_name(s: State) -> StateName {
    match s {
        State::Connecting => StateName::Connecting,
        State::Up => StateName::Up,
        State::Degraded => StateName::Degraded,
        State::Down => StateName::Down,
        State::Paused => StateName::Paused,
    }
}

pub fn state_from_str(s: &str) -> Option<StateName> {
    Some(match s {
        "connecting" => StateName::Connecting,
        "up" => StateName::Up,
        "degraded" => StateName::Degraded,
        "down" => StateName::Down,
        "paused" => StateName::Paused,
        _ => return None,
    })
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Text from outside (a close reason, an error a server or the network produced) as the UI
/// shows it: control characters and bidi overrides written as escapes (`\x1b`, `\n`), at most
/// [`MAX_UNTRUSTED_LEN`] bytes. Svelte already keeps it from being read as HTML; this keeps a
/// reason from breaking lines, hiding text or reordering what is read.
pub fn shown(text: &str) -> String {
    bound(&escape_controls(text), MAX_UNTRUSTED_LEN).into_owned()
}

/// A close marker from a session end.
pub fn close_info(at: Timestamp, end: &SessionEnd) -> CloseInfo {
    close_from_parts(
        at,
        end.code(),
        end.reason().to_owned(),
        end.initiator().as_str().to_owned(),
        end.cause().map(|c| c.as_str().to_owned()),
    )
}

/// A close marker from its parts (as the store keeps them). The reason is the server's (or
/// the network error's) and is [`shown`] escaped; initiator and cause are read back from the
/// database and escaped too.
pub fn close_from_parts(
    at: Timestamp,
    code: u16,
    reason: String,
    initiator: String,
    cause: Option<String>,
) -> CloseInfo {
    CloseInfo {
        at: at.0,
        code,
        class: close_code::classify(code).as_str().to_owned(),
        meaning: close_code::meaning(code).to_owned(),
        reason: shown(&reason),
        initiator: shown(&initiator),
        cause: cause.as_deref().map(shown),
    }
}

pub fn live_status(id: EndpointId, s: &Status) -> LiveStatus {
    LiveStatus {
        id: id.0,
        state: state_name(s.state),
        since: s.since.map(|t| t.0),
        rtt_us: s.last_rtt.map(micros),
        app_rtt_us: s.last_app_rtt.map(micros),
        last_close: s.last_end.as_ref().map(|(at, end)| close_info(*at, end)),
        last_failure: s.last_failure.as_deref().map(shown),
        sessions: s.sessions,
    }
}

/// The form showing `e`; secret header values are never sent to the UI.
pub fn form_from(e: &Endpoint) -> EndpointForm {
    let app = e.app_heartbeat.as_ref();
    EndpointForm {
        name: e.name.clone(),
        // Secret query values stay in Rust, as secret header values do (`token=` is sent).
        url: heartline_config::strip_query_secrets(&e.url).0,
        headers: e
            .headers
            .iter()
            .map(|h| HeaderForm {
                name: h.name.clone(),
                value: if h.secret {
                    String::new()
                } else {
                    h.value.clone()
                },
                secret: h.secret,
            })
            .collect(),
        subprotocols: e.subprotocols.clone(),
        protocol: e.protocol.as_str().to_owned(),
        tags: e.tags.clone(),
        ping_interval_ms: millis(e.heartbeat.ping_interval),
        pong_timeout_ms: millis(e.heartbeat.pong_timeout),
        misses_allowed: e.heartbeat.misses_allowed,
        app_payload: app.map(|a| a.payload.clone()).unwrap_or_default(),
        app_reply_contains: match app.map(|a| &a.reply) {
            Some(ReplyMatch::Contains(s)) => s.clone(),
            _ => String::new(),
        },
        app_interval_ms: app.map_or(30_000, |a| millis(a.interval)),
        app_timeout_ms: app.map_or(5_000, |a| millis(a.timeout)),
        stale_after_ms: e.staleness.map(|s| millis(s.after)),
        stale_reconnect: e.staleness.is_some_and(|s| s.reconnect),
        handshake_timeout_ms: millis(e.handshake_timeout),
        reconnect_enabled: e.reconnect.enabled,
        reconnect_initial_ms: millis(e.reconnect.initial),
        reconnect_cap_ms: millis(e.reconnect.cap),
        max_attempts: e.reconnect.max_attempts,
        degraded_rtt_ms: e.health.degraded_rtt.map(millis),
        failures_before_down: e.health.failures_before_down,
        successes_before_up: e.health.successes_before_up,
        insecure_tls: e.tls.insecure,
    }
}

/// The endpoint a form describes (not yet validated). Fields the form does not show keep
/// `base`'s values.
pub fn endpoint_from(form: &EndpointForm, base: Option<&Endpoint>) -> Endpoint {
    let mut e = base
        .cloned()
        .unwrap_or_else(|| Endpoint::new(&form.name, &form.url));
    let ms = Duration::from_millis;
    e.name = form.name.trim().to_owned();
    e.url = form.url.trim().to_owned();
    e.headers = form
        .headers
        .iter()
        .filter(|h| !h.name.trim().is_empty())
        .map(|h| Header {
            name: h.name.trim().to_owned(),
            value: h.value.clone(),
            secret: h.secret,
        })
        .collect();
    e.subprotocols = clean(&form.subprotocols);
    // The form offers only known names; anything else keeps what the endpoint had.
    if let Ok(protocol) = form.protocol.parse() {
        e.protocol = protocol;
    }
    e.tags = clean(&form.tags);
    e.heartbeat.ping_interval = ms(form.ping_interval_ms);
    e.heartbeat.pong_timeout = ms(form.pong_timeout_ms);
    e.heartbeat.misses_allowed = form.misses_allowed;
    e.app_heartbeat = (!form.app_payload.is_empty()).then(|| AppHeartbeat {
        payload: form.app_payload.clone(),
        reply: ReplyMatch::Contains(form.app_reply_contains.clone()),
        interval: ms(form.app_interval_ms),
        timeout: ms(form.app_timeout_ms),
        misses_allowed: 1,
    });
    e.staleness = form.stale_after_ms.map(|after| Staleness {
        after: ms(after),
        reconnect: form.stale_reconnect,
    });
    e.handshake_timeout = ms(form.handshake_timeout_ms);
    e.reconnect.enabled = form.reconnect_enabled;
    e.reconnect.initial = ms(form.reconnect_initial_ms);
    e.reconnect.cap = ms(form.reconnect_cap_ms);
    e.reconnect.max_attempts = form.max_attempts;
    e.health.degraded_rtt = form.degraded_rtt_ms.map(ms);
    e.health.failures_before_down = form.failures_before_down;
    e.health.successes_before_up = form.successes_before_up;
    e.tls.insecure = form.insecure_tls;
    e
}

fn clean(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Secret headers left empty in the form keep the value already known (`previous`).
pub fn keep_secret_values(e: &mut Endpoint, previous: &Endpoint) {
    // Secret query values reach the form emptied (`token=`), like secret headers: an empty
    // one keeps the stored value; a parameter the person removed stays removed.
    let (_, with_name) = heartline_config::strip_query_secrets(&e.url);
    let filled: Vec<String> = heartline_config::query_secrets(&e.url)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for (name, value) in heartline_config::query_secrets(&previous.url) {
        if with_name.contains(&name) && !filled.contains(&name) {
            e.url = heartline_config::fill_query(&e.url, &name, &value);
        }
    }
    for h in e
        .headers
        .iter_mut()
        .filter(|h| h.secret && h.value.is_empty())
    {
        if let Some(old) = previous.headers.iter().find(|o| o.name == h.name) {
            h.value = old.value.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_round_trips_to_the_same_endpoint() {
        let mut e = Endpoint::new("feed", "wss://example.test/feed");
        e.headers.push(Header {
            name: "X-Team".into(),
            value: "ops".into(),
            secret: false,
        });
        e.tags = vec!["prod".into()];
        e.staleness = Some(Staleness {
            after: Duration::from_secs(30),
            reconnect: true,
        });
        e.protocol = heartline_core::Protocol::SocketIo;
        assert_eq!(form_from(&e).protocol, "socketio");
        assert_eq!(endpoint_from(&form_from(&e), None), e);
    }

    #[test]
    fn the_forms_protocol_list_is_the_cores() {
        // The UI's dropdown (ui/src/lib/protocols.ts) lists every preset by the same name and
        // label, so a choice made there always parses here.
        let ui = include_str!("../../ui/src/lib/protocols.ts");
        for p in heartline_core::Protocol::ALL {
            let entry = format!(r#"{{ name: "{}", label: "{}" }}"#, p.as_str(), p.label());
            assert!(ui.contains(&entry), "ui/src/lib/protocols.ts lacks {entry}");
        }
    }

    #[test]
    fn secret_values_never_reach_the_form_and_are_kept_when_left_empty() {
        let mut e = Endpoint::new("feed", "wss://example.test/feed");
        e.headers.push(Header {
            name: "Authorization".into(),
            value: "Bearer s3cret".into(),
            secret: true,
        });
        let form = form_from(&e);
        assert_eq!(form.headers[0].value, "");
        let mut back = endpoint_from(&form, Some(&e));
        keep_secret_values(&mut back, &e);
        assert_eq!(back.headers[0].value, "Bearer s3cret");
    }

    #[test]
    fn secret_query_values_never_reach_the_form_and_are_kept_when_left_empty() {
        let e = Endpoint::new("feed", "wss://example.test/feed?room=1&token=s3cret-jwt");
        let form = form_from(&e);
        assert_eq!(form.url, "wss://example.test/feed?room=1&token=");
        let mut back = endpoint_from(&form, Some(&e));
        keep_secret_values(&mut back, &e);
        assert_eq!(back.url, e.url, "left empty: the stored value is kept");

        let mut changed = endpoint_from(&form, Some(&e));
        changed.url = "wss://example.test/feed?room=2&token=new-one".into();
        keep_secret_values(&mut changed, &e);
        assert_eq!(changed.url, "wss://example.test/feed?room=2&token=new-one");

        let mut removed = endpoint_from(&form, Some(&e));
        removed.url = "wss://example.test/feed?room=1".into();
        keep_secret_values(&mut removed, &e);
        assert_eq!(
            removed.url, "wss://example.test/feed?room=1",
            "removed stays removed"
        );
    }

    #[test]
    fn validation_problems_become_field_errors() {
        let mut form = form_from(&Endpoint::new("x", "ws://127.0.0.1:1/"));
        form.url = "http://nope".into();
        form.pong_timeout_ms = form.ping_interval_ms + 1;
        let err: IpcError = endpoint_from(&form, None)
            .validate()
            .expect_err("invalid")
            .into();
        assert_eq!(err.code, ErrorCode::Invalid);
        let fields: Vec<&str> = err.fields.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"url"), "{fields:?}");
        assert!(
            fields.iter().any(|f| f.contains("pong_timeout")),
            "{fields:?}"
        );
    }

    #[test]
    fn server_text_reaches_the_ui_escaped_and_bounded() {
        let end = SessionEnd::ClosedByServer {
            code: 4000,
            reason: "\u{1b}]0;pwned\u{7} \u{1b}[31mred\nforged \u{9b}1m \u{202e}exe".into(),
        };
        let close = close_info(Timestamp(1), &end);
        assert_eq!(
            close.reason,
            r"\x1b]0;pwned\x07 \x1b[31mred\nforged \u{9b}1m \u{202e}exe"
        );

        let status = Status {
            last_failure: Some(format!("tcp failed: \u{1b}[2J{}", "x".repeat(2000))),
            last_end: Some((Timestamp(2), end)),
            ..Status::default()
        };
        let live = live_status(EndpointId(7), &status);
        let failure = live.last_failure.expect("a failure");
        assert!(failure.starts_with(r"tcp failed: \x1b[2Jxxx"), "{failure}");
        assert!(failure.len() <= MAX_UNTRUSTED_LEN + '…'.len_utf8());
        assert!(failure.ends_with('…'));
        assert_eq!(live.last_close.expect("a close").reason, close.reason);

        // Plain text is left as it is.
        assert_eq!(shown("going away: deploy"), "going away: deploy");
    }

    #[test]
    fn closes_carry_class_and_meaning() {
        let c = close_from_parts(Timestamp(5), 1006, String::new(), "network".into(), None);
        assert_eq!(
            (c.class.as_str(), c.meaning.is_empty()),
            ("abnormal", false)
        );
        assert_eq!(
            close_from_parts(Timestamp(5), 4001, String::new(), "server".into(), None).class,
            "application"
        );
    }
}
