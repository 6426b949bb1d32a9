//! The add / edit form of an endpoint: a plain-data view of an [`Endpoint`] that a shell
//! edits (the desktop app hands it over IPC as it is), and the way back. No I/O here.
//!
//! Invariant: secret values never reach a form. Secret header values, secret query values
//! (`token=`) and secret values for payloads come out empty; an empty one coming back means
//! "keep the stored one" ([`crate::keep_secret_values`], applied by [`Monitor::update_form`]
//! and [`Monitor::test_form`]).
//!
//! The types derive serde, and with the `ts` feature ts-rs, as [`crate::view`]'s do.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use heartline_core::{
    AppHeartbeat, ConfigErrors, Endpoint, EndpointId, Header, Protocol, ReplyMatch, SecretVar,
    Staleness, Step,
};

use crate::{keep_secret_values, Monitor, ProbeResult, Result};

/// One invalid field of an endpoint form, as `Endpoint::validate` names it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

impl FieldProblem {
    /// Every problem of a validation (none when valid).
    pub fn list(validated: std::result::Result<(), ConfigErrors>) -> Vec<FieldProblem> {
        let errors = validated.err().map(|e| e.0).unwrap_or_default();
        errors
            .into_iter()
            .map(|f| FieldProblem {
                field: f.field,
                problem: f.problem,
            })
            .collect()
    }
}

/// A header in the form. Secret values come back from the app empty with `secret` set:
/// leaving one empty when saving keeps the stored value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HeaderForm {
    pub name: String,
    pub value: String,
    pub secret: bool,
}

/// The add / edit form of an endpoint. Durations in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EndpointForm {
    pub name: String,
    pub url: String,
    pub headers: Vec<HeaderForm>,
    pub subprotocols: Vec<String>,
    /// Application protocol preset (`websocket` for none, `socketio`, `graphql-transport-ws`,
    /// `mqtt`, …), by its configuration name.
    pub protocol: Protocol,
    pub tags: Vec<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ping_interval_ms: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pong_timeout_ms: u64,
    pub misses_allowed: u32,
    /// Application heartbeat payload; empty = none.
    pub app_payload: String,
    /// Text the reply must contain.
    pub app_reply_contains: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub app_interval_ms: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub app_timeout_ms: u64,
    /// Expect an application message at least this often; `null` = no staleness check.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub stale_after_ms: Option<u64>,
    pub stale_reconnect: bool,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub handshake_timeout_ms: u64,
    pub reconnect_enabled: bool,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub reconnect_initial_ms: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub reconnect_cap_ms: u64,
    pub max_attempts: Option<u32>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub degraded_rtt_ms: Option<u64>,
    pub failures_before_down: u32,
    pub successes_before_up: u32,
    pub insecure_tls: bool,
    /// The conversation after every handshake: messages to send and replies to wait for.
    pub on_connect: Vec<StepForm>,
    /// Named secret values the messages and the heartbeat payload use as `{{secret:NAME}}`.
    pub secret_vars: Vec<SecretVarForm>,
}

/// A secret value for payloads in the form. Stored values come back from the app empty with
/// `stored` set: leaving one empty when saving keeps the stored value.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SecretVarForm {
    pub name: String,
    pub value: String,
    /// Whether the app already keeps a value under this name.
    pub stored: bool,
}

/// One step after connecting, as the form edits it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StepForm {
    pub kind: StepKind,
    /// The message to send, or the rule's text (`PATH=VALUE` for a JSON rule).
    pub value: String,
    /// How long a wait lasts, in milliseconds; `null`: the handshake timeout.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub within_ms: Option<u64>,
}

/// What a step does: send, or wait for a message containing a text, matching a regular
/// expression, or JSON with a field equal to a value.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Send,
    Expect,
    ExpectRegex,
    ExpectJson,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl EndpointForm {
    /// The form showing `e`; secret header values, secret query values and secret values for
    /// payloads are never put in it.
    pub fn of(e: &Endpoint) -> EndpointForm {
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
            on_connect: e.on_connect.iter().map(StepForm::of).collect(),
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

    /// The endpoint this form describes (not yet validated). Fields the form does not show
    /// keep `base`'s values; secret values left empty stay empty here (see
    /// [`crate::keep_secret_values`]).
    pub fn endpoint(&self, base: Option<&Endpoint>) -> Endpoint {
        let form = self;
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
        // The form edits a "contains" reply rule; a regex or JSON rule from a config file is
        // kept while the form's text is left empty, and so is the misses allowance the form
        // does not show.
        let before = base.and_then(|b| b.app_heartbeat.as_ref());
        e.app_heartbeat = (!form.app_payload.is_empty()).then(|| {
            Box::new(AppHeartbeat {
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
            })
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
        e.on_connect = form.on_connect.iter().map(StepForm::step).collect();
        // Rows the user added and left blank are dropped; an empty value of a named one keeps
        // the stored value (`keep_secret_values`).
        e.secret_vars = form
            .secret_vars
            .iter()
            .filter(|v| !(v.name.trim().is_empty() && v.value.is_empty()))
            .map(|v| SecretVar::new(v.name.trim(), v.value.clone()))
            .collect();
        e
    }

    /// Every problem of the form as it stands, for marking fields as the user types.
    pub fn problems(&self) -> Vec<FieldProblem> {
        FieldProblem::list(self.endpoint(None).validate())
    }
}

impl StepForm {
    fn of(step: &Step) -> StepForm {
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
    fn step(&self) -> Step {
        let within = self.within_ms.map(Duration::from_millis);
        let reply = match self.kind {
            StepKind::Send => return Step::Send(self.value.clone()),
            StepKind::Expect => ReplyMatch::Contains(self.value.clone()),
            StepKind::ExpectRegex => ReplyMatch::Regex(self.value.clone()),
            StepKind::ExpectJson => match self.value.split_once('=') {
                Some((path, equals)) => ReplyMatch::JsonField {
                    path: path.trim().to_owned(),
                    equals: equals.trim().to_owned(),
                },
                None => ReplyMatch::JsonField {
                    path: String::new(),
                    equals: self.value.trim().to_owned(),
                },
            },
        };
        Step::Expect { reply, within }
    }
}

fn clean(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The monitor's operations in terms of the form.
impl Monitor {
    /// The form of a watched endpoint (without its secret values).
    pub fn endpoint_form(&self, id: u64) -> Result<EndpointForm> {
        Ok(EndpointForm::of(&self.endpoint(id)?))
    }

    /// Adds the endpoint a form describes.
    pub async fn add_form(&self, form: &EndpointForm) -> Result<EndpointId> {
        self.add(form.endpoint(None)).await
    }

    /// Saves a form over endpoint `id`: fields the form does not show and secret values left
    /// empty keep the stored ones.
    pub async fn update_form(&self, id: u64, form: &EndpointForm) -> Result<()> {
        let previous = self.endpoint(id)?;
        self.update(id, form.endpoint(Some(&previous))).await
    }

    /// "Test connection" of a form; `editing`: the endpoint the form edits, whose stored
    /// secret values fill the ones the form leaves empty, as saving would (they go to the
    /// server, never back into the result: the probe masks them in what it reports).
    pub async fn test_form(
        &self,
        editing: Option<u64>,
        form: &EndpointForm,
    ) -> Result<ProbeResult> {
        let endpoint = match editing {
            Some(id) => {
                let previous = self.endpoint(id)?;
                let mut e = form.endpoint(Some(&previous));
                keep_secret_values(&mut e, &previous);
                e
            }
            None => form.endpoint(None),
        };
        self.test_connection(&endpoint).await
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
        e.protocol = Protocol::SocketIo;
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
        assert_eq!(EndpointForm::of(&e).protocol, Protocol::SocketIo);
        assert_eq!(EndpointForm::of(&e).endpoint(None), e);
    }

    /// A JSON wait typed without `=` is a problem on that step, in words that say the form.
    #[test]
    fn a_json_wait_without_a_value_is_named() {
        let mut form = EndpointForm::of(&Endpoint::new("g", "ws://127.0.0.1:1/graphql"));
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
        let problems = form.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].field, "on_connect[1]");
        assert!(problems[0].problem.contains("PATH=VALUE"), "{problems:?}");
    }

    /// An endpoint imported with a regex reply rule, edited in the form (renamed): the rule and
    /// its misses allowance survive; typing a "contains" text replaces the rule on purpose.
    #[test]
    fn reply_rules_the_form_cannot_show_are_kept() {
        let mut e = Endpoint::new("feed", "wss://example.test/feed");
        e.app_heartbeat = Some(Box::new(AppHeartbeat {
            payload: "ping".into(),
            reply: ReplyMatch::Regex("^pong:\\d+$".into()),
            interval: Duration::from_secs(20),
            timeout: Duration::from_secs(4),
            misses_allowed: 3,
        }));
        let mut form = EndpointForm::of(&e);
        assert_eq!(form.app_reply_contains, "");
        form.name = "feed (eu)".into();
        let saved = form.endpoint(Some(&e));
        assert_eq!(saved.name, "feed (eu)");
        assert_eq!(saved.app_heartbeat, e.app_heartbeat);
        assert!(saved.validate().is_ok(), "{:?}", saved.validate());

        form.app_reply_contains = "pong".into();
        let retyped = form.endpoint(Some(&e)).app_heartbeat.expect("kept");
        assert_eq!(retyped.reply, ReplyMatch::Contains("pong".into()));
        assert_eq!(retyped.misses_allowed, 3);
    }

    #[test]
    fn secret_values_never_reach_the_form_and_are_kept_when_left_empty() {
        let mut e = Endpoint::new("feed", "wss://example.test/feed");
        e.headers.push(Header {
            name: "Authorization".into(),
            value: "Bearer s3cret".into(),
            secret: true,
        });
        let form = EndpointForm::of(&e);
        assert_eq!(form.headers[0].value, "");
        let mut back = form.endpoint(Some(&e));
        keep_secret_values(&mut back, &e);
        assert_eq!(back.headers[0].value, "Bearer s3cret");
    }

    #[test]
    fn secret_query_values_never_reach_the_form_and_are_kept_when_left_empty() {
        let e = Endpoint::new("feed", "wss://example.test/feed?room=1&token=s3cret-jwt");
        let form = EndpointForm::of(&e);
        assert_eq!(form.url, "wss://example.test/feed?room=1&token=");
        let mut back = form.endpoint(Some(&e));
        keep_secret_values(&mut back, &e);
        assert_eq!(back.url, e.url, "left empty: the stored value is kept");

        let mut changed = form.endpoint(Some(&e));
        changed.url = "wss://example.test/feed?room=2&token=new-one".into();
        keep_secret_values(&mut changed, &e);
        assert_eq!(changed.url, "wss://example.test/feed?room=2&token=new-one");

        let mut removed = form.endpoint(Some(&e));
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
        let form = EndpointForm::of(&e);
        let stored = |name: &str| SecretVarForm {
            name: name.into(),
            value: String::new(),
            stored: true,
        };
        assert_eq!(form.secret_vars, [stored("token"), stored("user")]);
        assert!(!serde_json::to_string(&form).unwrap().contains("s3cret"));

        let mut back = form.endpoint(Some(&e));
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
        let mut changed = edited.endpoint(Some(&e));
        keep_secret_values(&mut changed, &e);
        assert_eq!(changed.secret_vars, [SecretVar::new("token", "new-one")]);

        // A placeholder naming no secret value is a problem on its step.
        let mut typo = form.clone();
        typo.on_connect[0].value = r#"{"authToken":"{{secret:tokn}}"}"#.into();
        assert_eq!(
            FieldProblem::list(typo.endpoint(Some(&e)).validate()),
            [FieldProblem {
                field: "on_connect[0]".into(),
                problem: "no secret value \"tokn\"".into()
            }]
        );
    }

    #[test]
    fn validation_problems_name_the_forms_fields() {
        let mut form = EndpointForm::of(&Endpoint::new("x", "ws://127.0.0.1:1/"));
        assert!(form.problems().is_empty());
        form.url = "http://nope".into();
        form.pong_timeout_ms = form.ping_interval_ms + 1;
        let problems = form.problems();
        let fields: Vec<&str> = problems.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"url"), "{fields:?}");
        assert!(
            fields.iter().any(|f| f.contains("pong_timeout")),
            "{fields:?}"
        );
    }
}
