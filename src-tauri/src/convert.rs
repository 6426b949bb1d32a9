//! Between the monitor's errors and endpoints and the IPC DTOs (the form, `IpcError`). No
//! I/O here.

use std::time::Duration;

use heartline_core::{AppHeartbeat, Endpoint, Header, ReplyMatch, SecretVar, Staleness, Step};

use crate::dto::{
    EndpointForm, ErrorCode, FieldProblem, HeaderForm, IpcError, SecretVarForm, StepForm, StepKind,
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

impl From<heartline_monitor::Error> for IpcError {
    fn from(e: heartline_monitor::Error) -> Self {
        use heartline_monitor::ErrorKind as K;
        let code = match e.kind() {
            K::Invalid => ErrorCode::Invalid,
            K::NotFound => ErrorCode::NotFound,
            K::Duplicate => ErrorCode::Duplicate,
            K::Storage => ErrorCode::Storage,
            K::Engine => ErrorCode::Engine,
            K::Config => ErrorCode::Config,
            K::Export => ErrorCode::Export,
        };
        IpcError {
            code,
            message: e.to_string(),
            fields: e
                .field_problems()
                .into_iter()
                .map(|(field, problem)| FieldProblem { field, problem })
                .collect(),
        }
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

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The form showing `e`; secret header values, secret query values and secret values for
/// payloads are never sent to the UI.
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
        protocol: e.protocol,
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
        on_connect: e.on_connect.iter().map(step_form).collect(),
        secret_vars: e
            .secret_vars
            .iter()
            .map(|v| SecretVarForm {
                name: v.name.clone(),
                value: String::new(),
                stored: true,
            })
            .collect(),
    }
}

fn step_form(step: &Step) -> StepForm {
    match step {
        Step::Send(payload) => StepForm {
            kind: StepKind::Send,
            value: payload.clone(),
            within_ms: None,
        },
        Step::Expect { reply, within } => {
            let (kind, value) = match reply {
                ReplyMatch::Contains(text) => (StepKind::Expect, text.clone()),
                ReplyMatch::Regex(re) => (StepKind::ExpectRegex, re.clone()),
                ReplyMatch::JsonField { path, equals } => {
                    (StepKind::ExpectJson, format!("{path}={equals}"))
                }
            };
            StepForm {
                kind,
                value,
                within_ms: within.map(millis),
            }
        }
    }
}

/// A JSON rule written `PATH=VALUE`; without `=` the path is left empty, which validation
/// reports on the step.
fn step_from(form: &StepForm) -> Step {
    let within = form.within_ms.map(Duration::from_millis);
    let reply = match form.kind {
        StepKind::Send => return Step::Send(form.value.clone()),
        StepKind::Expect => ReplyMatch::Contains(form.value.clone()),
        StepKind::ExpectRegex => ReplyMatch::Regex(form.value.clone()),
        StepKind::ExpectJson => match form.value.split_once('=') {
            Some((path, equals)) => ReplyMatch::JsonField {
                path: path.trim().to_owned(),
                equals: equals.trim().to_owned(),
            },
            None => ReplyMatch::JsonField {
                path: String::new(),
                equals: form.value.trim().to_owned(),
            },
        },
    };
    Step::Expect { reply, within }
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
    e.protocol = form.protocol;
    e.tags = clean(&form.tags);
    e.heartbeat.ping_interval = ms(form.ping_interval_ms);
    e.heartbeat.pong_timeout = ms(form.pong_timeout_ms);
    e.heartbeat.misses_allowed = form.misses_allowed;
    // The form edits a "contains" reply rule; a regex or JSON rule from a config file is kept
    // while the form's text is left empty, and so is the misses allowance the form does not show.
    let before = base.and_then(|b| b.app_heartbeat.as_ref());
    e.app_heartbeat = (!form.app_payload.is_empty()).then(|| AppHeartbeat {
        payload: form.app_payload.clone(),
        reply: match before.map(|a| &a.reply) {
            Some(kept @ (ReplyMatch::Regex(_) | ReplyMatch::JsonField { .. }))
                if form.app_reply_contains.is_empty() =>
            {
                kept.clone()
            }
            _ => ReplyMatch::Contains(form.app_reply_contains.clone()),
        },
        interval: ms(form.app_interval_ms),
        timeout: ms(form.app_timeout_ms),
        misses_allowed: before.map_or(1, |a| a.misses_allowed),
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
    e.on_connect = form.on_connect.iter().map(step_from).collect();
    // Rows the user added and left blank are dropped; an empty value of a named one keeps the
    // stored value (`heartline_monitor::keep_secret_values`).
    e.secret_vars = form
        .secret_vars
        .iter()
        .filter(|v| !(v.name.trim().is_empty() && v.value.is_empty()))
        .map(|v| SecretVar::new(v.name.trim(), v.value.clone()))
        .collect();
    e
}

fn clean(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use heartline_monitor::keep_secret_values;

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
        e.on_connect = vec![
            Step::from("40"),
            Step::Expect {
                reply: ReplyMatch::JsonField {
                    path: "type".into(),
                    equals: "connection_ack".into(),
                },
                within: Some(Duration::from_secs(3)),
            },
            Step::Expect {
                reply: ReplyMatch::Regex("^ok".into()),
                within: None,
            },
            Step::Expect {
                reply: ReplyMatch::Contains("ready".into()),
                within: None,
            },
            Step::from("hex:c000"),
        ];
        assert_eq!(form_from(&e).protocol, heartline_core::Protocol::SocketIo);
        assert_eq!(endpoint_from(&form_from(&e), None), e);
    }

    /// A JSON wait typed without `=` is a problem on that step, in words that say the form.
    #[test]
    fn a_json_wait_without_a_value_is_named() {
        let mut form = form_from(&Endpoint::new("g", "ws://127.0.0.1:1/graphql"));
        form.on_connect = vec![
            StepForm {
                kind: StepKind::Send,
                value: "init".into(),
                within_ms: None,
            },
            StepForm {
                kind: StepKind::ExpectJson,
                value: "connection_ack".into(),
                within_ms: Some(2000),
            },
        ];
        let problems = IpcError::from_validation(endpoint_from(&form, None).validate());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "on_connect[1]");
        assert!(problems[0].problem.contains("PATH=VALUE"), "{problems:?}");
    }

    /// An endpoint imported with a regex reply rule, edited in the form (renamed): the rule and
    /// its misses allowance survive; typing a "contains" text replaces the rule on purpose.
    #[test]
    fn reply_rules_the_form_cannot_show_are_kept() {
        let mut e = Endpoint::new("feed", "wss://example.test/feed");
        e.app_heartbeat = Some(AppHeartbeat {
            payload: "ping".into(),
            reply: ReplyMatch::Regex("^pong:\\d+$".into()),
            interval: Duration::from_secs(20),
            timeout: Duration::from_secs(4),
            misses_allowed: 3,
        });
        let mut form = form_from(&e);
        assert_eq!(form.app_reply_contains, "");
        form.name = "feed (eu)".into();
        let saved = endpoint_from(&form, Some(&e));
        assert_eq!(saved.name, "feed (eu)");
        assert_eq!(saved.app_heartbeat, e.app_heartbeat);
        assert!(saved.validate().is_ok(), "{:?}", saved.validate());

        form.app_reply_contains = "pong".into();
        let retyped = endpoint_from(&form, Some(&e)).app_heartbeat.expect("kept");
        assert_eq!(retyped.reply, ReplyMatch::Contains("pong".into()));
        assert_eq!(retyped.misses_allowed, 3);
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
    fn secret_values_for_payloads_never_reach_the_form_and_are_kept_when_left_empty() {
        let mut e = Endpoint::new("gql", "wss://example.test/graphql");
        e.secret_vars = vec![
            SecretVar::new("token", "gql-s3cret"),
            SecretVar::new("user", "u-s3cret"),
        ];
        e.on_connect = vec![Step::from(r#"{"authToken":"{{secret:token}}"}"#)];
        let form = form_from(&e);
        assert_eq!(
            form.secret_vars,
            [
                SecretVarForm {
                    name: "token".into(),
                    value: String::new(),
                    stored: true
                },
                SecretVarForm {
                    name: "user".into(),
                    value: String::new(),
                    stored: true
                }
            ]
        );
        assert!(!serde_json::to_string(&form).unwrap().contains("s3cret"));

        let mut back = endpoint_from(&form, Some(&e));
        keep_secret_values(&mut back, &e);
        assert_eq!(back, e, "left empty: the stored values are kept");

        // A new value replaces one; a removed one stays removed; a blank added row is dropped.
        let mut edited = form.clone();
        edited.secret_vars[0].value = "new-one".into();
        edited.secret_vars.remove(1);
        edited.secret_vars.push(SecretVarForm {
            name: " ".into(),
            value: String::new(),
            stored: false,
        });
        let mut changed = endpoint_from(&edited, Some(&e));
        keep_secret_values(&mut changed, &e);
        assert_eq!(changed.secret_vars, [SecretVar::new("token", "new-one")]);

        // A placeholder naming no secret value is a problem on its step.
        let mut typo = form.clone();
        typo.on_connect[0].value = r#"{"authToken":"{{secret:tokn}}"}"#.into();
        let problems = IpcError::from_validation(endpoint_from(&typo, Some(&e)).validate());
        assert_eq!(
            problems,
            [FieldProblem {
                field: "on_connect[0]".into(),
                problem: "no secret value \"tokn\"".into()
            }]
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
    fn monitor_errors_keep_their_code_and_fields() {
        use heartline_monitor::Error;
        let missing = IpcError::from(Error::NotFound(3));
        assert_eq!(missing.code, ErrorCode::NotFound);
        assert!(missing.message.contains("#3"), "{}", missing.message);
        let invalid = IpcError::from(Error::Invalid(
            Endpoint::new("", "http://x")
                .validate()
                .expect_err("invalid"),
        ));
        assert_eq!(invalid.code, ErrorCode::Invalid);
        assert!(
            invalid.fields.iter().any(|f| f.field == "name"),
            "{:?}",
            invalid.fields
        );
        assert_eq!(
            IpcError::from(Error::Request("the window must end after it starts".into())).code,
            ErrorCode::Invalid
        );
    }
}
