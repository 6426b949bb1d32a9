//! The exact mapping between a spec (with its defaults) and a `heartline_core::Endpoint`.
//!
//! Resolution never stops at the first problem: a value that cannot be read is replaced by
//! its built-in default so the rest, core validation included, is still checked.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use heartline_core::{
    derived_timeout, AppHeartbeat, Endpoint, Header, HealthPolicy, Heartbeat, Limits, Protocol,
    ReconnectPolicy, ReplyMatch, SecretVar, Staleness, Step, TlsOptions,
};

use crate::query::{fill_query, is_secret_param, query_secrets, unfit_for_query};
use crate::source::{display_path, key, Seg};
use crate::spec::{
    AppHeartbeatSpec, ByteSize, Defaults, EndpointSpec, ExpectSpec, HumanDuration, MaxAttempts,
    ReconnectSpec, SecretValue, StepSpec,
};
use crate::Resolved;

/// Where the value behind a problem was set, which decides the line a problem points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetIn {
    Endpoint,
    Defaults,
    Builtin,
}

/// A problem found while resolving, at a path relative to the endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub path: Vec<Seg>,
    pub set_in: SetIn,
    pub message: String,
}

/// A resolved endpoint (with placeholders where values were bad) and what was wrong.
pub(crate) struct Outcome {
    pub resolved: Resolved,
    pub issues: Vec<Issue>,
    /// What works but should change (a credential written in the file).
    pub warnings: Vec<Issue>,
    /// Secret values read (literal or from the environment), to scrub from messages.
    pub secrets: Vec<String>,
}

/// Shown instead of a secret that leaked into a message.
const MASK: &str = "••••••";

impl Issue {
    /// The message, saying where an inherited value came from.
    pub fn describe(&self) -> String {
        match self.set_in {
            SetIn::Endpoint => self.message.clone(),
            SetIn::Defaults => format!("{} (value from [defaults])", self.message),
            SetIn::Builtin => format!("{} (built-in default)", self.message),
        }
    }
}

/// Replaces every secret value (of a length that cannot be a coincidence) by a mask.
pub(crate) fn scrub(message: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.chars().count() >= 4)
        .fold(message.to_owned(), |m, s| m.replace(s.as_str(), MASK))
}

/// Applies `defaults` to `spec`, reads env secrets through `env` and validates the result.
pub(crate) fn resolve(
    spec: &EndpointSpec,
    defaults: &Defaults,
    env: &dyn Fn(&str) -> Option<String>,
) -> Outcome {
    let base = Endpoint::new(spec.name.clone(), spec.url.clone());
    let mut cx = Cx::default();
    let d = defaults;

    let ping_interval = cx.duration(
        "ping_interval",
        &spec.ping_interval,
        &d.ping_interval,
        base.heartbeat.ping_interval,
    );
    let heartbeat = Heartbeat {
        ping_interval,
        // Set nowhere: the built-in timeout, or half the interval when that is not shorter.
        pong_timeout: cx.duration(
            "pong_timeout",
            &spec.pong_timeout,
            &d.pong_timeout,
            derived_timeout(ping_interval, base.heartbeat.pong_timeout),
        ),
        misses_allowed: cx.value(
            "misses_allowed",
            &spec.misses_allowed,
            &d.misses_allowed,
            base.heartbeat.misses_allowed,
        ),
    };
    let handshake_timeout = cx.duration(
        "handshake_timeout",
        &spec.handshake_timeout,
        &d.handshake_timeout,
        base.handshake_timeout,
    );
    let degraded_rtt = match cx.pick("degraded_rtt", &spec.degraded_rtt, &d.degraded_rtt) {
        None => base.health.degraded_rtt,
        Some((v, _)) if v.is_off() => None,
        Some((v, set_in)) => match v.get() {
            Ok(rtt) => Some(rtt),
            Err(m) => {
                cx.issue("degraded_rtt", set_in, format!("{m}; or \"off\""));
                base.health.degraded_rtt
            }
        },
    };
    let health = HealthPolicy {
        degraded_rtt,
        failures_before_down: cx.value(
            "failures_before_down",
            &spec.failures_before_down,
            &d.failures_before_down,
            base.health.failures_before_down,
        ),
        successes_before_up: cx.value(
            "successes_before_up",
            &spec.successes_before_up,
            &d.successes_before_up,
            base.health.successes_before_up,
        ),
        unstable_after: cx.value(
            "unstable_after",
            &spec.unstable_after,
            &d.unstable_after,
            base.health.unstable_after,
        ),
        unstable_window: cx.duration(
            "unstable_window",
            &spec.unstable_window,
            &d.unstable_window,
            base.health.unstable_window,
        ),
        stable_after: cx.duration(
            "stable_after",
            &spec.stable_after,
            &d.stable_after,
            base.health.stable_after,
        ),
    };
    let limits = Limits {
        max_message_size: cx.size(
            "max_message_size",
            &spec.max_message_size,
            &d.max_message_size,
            base.limits.max_message_size,
        ),
        max_frame_size: cx.size(
            "max_frame_size",
            &spec.max_frame_size,
            &d.max_frame_size,
            base.limits.max_frame_size,
        ),
    };
    let reconnect = cx.reconnect(&spec.reconnect, &d.reconnect, &base.reconnect);

    let staleness = match &spec.stale_after {
        None => None,
        Some(after) => {
            cx.set_in.insert("stale_after".into(), SetIn::Endpoint);
            match after.get() {
                Ok(after) => Some(Staleness {
                    after,
                    reconnect: spec.stale_reconnect.unwrap_or(true),
                }),
                Err(m) => {
                    cx.issue("stale_after", SetIn::Endpoint, m);
                    None
                }
            }
        }
    };
    if spec.ca_file.as_ref().is_some_and(|f| f.trim().is_empty()) {
        cx.issue(
            "ca_file",
            SetIn::Endpoint,
            "must not be empty; leave it out to trust only the system's certificates".into(),
        );
    }
    let tls = TlsOptions {
        insecure: spec.insecure,
        ca_file: spec.ca_file.as_ref().map(PathBuf::from),
    };

    let mut rule_key = vec![key("app_heartbeat")];
    let app_heartbeat = match &spec.app_heartbeat {
        None => None,
        Some(app) => {
            let (reply, at) = cx.reply_rule(
                vec![key("app_heartbeat")],
                [&app.contains, &app.regex, &app.json],
            );
            rule_key = at;
            if app.interval.is_none() && app.timeout.is_none() {
                // Both copy the protocol heartbeat, whose own checks already cover them.
                cx.failed.insert(key_path("app_heartbeat.interval"));
                cx.failed.insert(key_path("app_heartbeat.timeout"));
            }
            let interval = cx.own_duration(
                "app_heartbeat.interval",
                &app.interval,
                heartbeat.ping_interval,
            );
            Some(Box::new(AppHeartbeat {
                payload: app.payload.clone(),
                reply,
                interval,
                // Unset: the pong timeout, or half the interval when that is not shorter.
                timeout: cx.own_duration(
                    "app_heartbeat.timeout",
                    &app.timeout,
                    derived_timeout(interval, heartbeat.pong_timeout),
                ),
                misses_allowed: app.misses_allowed.unwrap_or(heartbeat.misses_allowed),
            }))
        }
    };

    let on_connect = spec
        .on_connect
        .iter()
        .enumerate()
        .map(|(i, step)| match step {
            StepSpec::Send(payload) => Step::Send(payload.clone()),
            StepSpec::Expect(expect) => {
                let base = vec![key("on_connect"), Seg::Index(i)];
                let (reply, _) = cx.reply_rule(
                    base.clone(),
                    [&expect.contains, &expect.regex, &expect.json],
                );
                let within = expect.within.as_ref().and_then(|w| {
                    w.get()
                        .map_err(|m| {
                            let mut at = base.clone();
                            at.push(key("within"));
                            cx.issue_at(at, SetIn::Endpoint, m);
                        })
                        .ok()
                });
                Step::Expect { reply, within }
            }
        })
        .collect();

    let protocol = match spec.protocol.as_deref().map(str::parse::<Protocol>) {
        None => Protocol::WebSocket,
        Some(Ok(p)) => p,
        Some(Err(m)) => {
            cx.issue("protocol", SetIn::Endpoint, m);
            Protocol::WebSocket
        }
    };

    let (headers, header_keys, stored_secrets, mut secrets) = cx.headers(spec, env);
    let (url, stored_query) = cx.query(spec, env, &mut secrets);
    let (secret_vars, stored_vars) = cx.vars(spec, env, &mut secrets);
    let var_keys: Vec<Vec<Seg>> = spec
        .secret_vars
        .iter()
        .map(|(name, _)| vec![key("secret_vars"), key(name)])
        .collect();

    let endpoint = Endpoint {
        name: spec.name.clone(),
        url,
        headers,
        subprotocols: spec.subprotocols.clone(),
        tls,
        tags: spec.tags.clone(),
        heartbeat,
        app_heartbeat,
        staleness,
        on_connect,
        secret_vars,
        protocol,
        handshake_timeout,
        reconnect,
        health,
        limits,
    };

    if let Err(errors) = endpoint.validate() {
        for e in errors.0 {
            let path = file_path(&e.field, &header_keys, &var_keys, &rule_key);
            if cx.failed.contains(&path) {
                // Already reported: the value the core saw is a placeholder.
                continue;
            }
            let set_in = cx
                .set_in
                .get(&display_path(&path))
                .copied()
                .unwrap_or(SetIn::Endpoint);
            let message = one_line(&e.problem)
                .replace("limits.max_message_size", "max_message_size")
                .replace("limits.max_frame_size", "max_frame_size");
            cx.issues.push(Issue {
                path,
                set_in,
                message,
            });
        }
    }

    Outcome {
        resolved: Resolved {
            endpoint,
            stored_secrets,
            stored_query,
            stored_vars,
            warnings: Vec::new(),
        },
        issues: cx.issues,
        warnings: cx.warnings,
        secrets,
    }
}

/// The spec that resolves (under empty defaults) back to `e`, secrets as `{ stored = true }`.
///
/// Every secret query parameter written with `=` becomes `{ stored = true }` with its value
/// taken out of the URL, even an empty one: as with a secret header, an empty value then
/// means "the value already stored", so importing an exported file keeps it.
pub(crate) fn spec_from(e: &Endpoint) -> EndpointSpec {
    let b = Endpoint::new("", "");
    let differs = |v: Duration, builtin: Duration| (v != builtin).then(|| HumanDuration::from(v));
    let differs_n = |v: u32, builtin: u32| (v != builtin).then_some(v);
    let differs_size = |v: usize, builtin: usize| (v != builtin).then(|| ByteSize::from(v));

    let (url, secret_params) = crate::query::strip_query_secrets(&e.url);
    let mut spec = EndpointSpec::new(e.name.clone(), url);
    spec.secret_query = secret_params
        .into_iter()
        .map(|name| (name, SecretValue::Stored))
        .collect();
    spec.secret_vars = e
        .secret_vars
        .iter()
        .map(|v| (v.name.clone(), SecretValue::Stored))
        .collect();
    spec.tags = e.tags.clone();
    spec.subprotocols = e.subprotocols.clone();
    for h in &e.headers {
        if h.secret {
            spec.secret_headers
                .push((h.name.clone(), SecretValue::Stored));
        } else {
            spec.headers.push((h.name.clone(), h.value.clone()));
        }
    }
    spec.on_connect = e
        .on_connect
        .iter()
        .map(|step| match step {
            Step::Send(payload) => StepSpec::Send(payload.clone()),
            Step::Expect { reply, within } => {
                let mut x = ExpectSpec {
                    within: within.map(HumanDuration::from),
                    ..ExpectSpec::default()
                };
                match reply {
                    ReplyMatch::Contains(s) => x.contains = Some(s.clone()),
                    ReplyMatch::Regex(r) => x.regex = Some(r.clone()),
                    ReplyMatch::JsonField { path, equals } => {
                        x.json = Some(format!("{path}={equals}"))
                    }
                }
                StepSpec::Expect(x)
            }
        })
        .collect();
    spec.protocol = (e.protocol != Protocol::WebSocket).then(|| e.protocol.as_str().to_owned());
    spec.ping_interval = differs(e.heartbeat.ping_interval, b.heartbeat.ping_interval);
    // What resolving would derive when the file says nothing is left out, so that the
    // round trip is exact.
    spec.pong_timeout = differs(
        e.heartbeat.pong_timeout,
        derived_timeout(e.heartbeat.ping_interval, b.heartbeat.pong_timeout),
    );
    spec.misses_allowed = differs_n(e.heartbeat.misses_allowed, b.heartbeat.misses_allowed);
    spec.handshake_timeout = differs(e.handshake_timeout, b.handshake_timeout);
    spec.degraded_rtt = (e.health.degraded_rtt != b.health.degraded_rtt)
        .then(|| HumanDuration::from_rtt(e.health.degraded_rtt));
    spec.failures_before_down =
        differs_n(e.health.failures_before_down, b.health.failures_before_down);
    spec.successes_before_up =
        differs_n(e.health.successes_before_up, b.health.successes_before_up);
    spec.unstable_after = differs_n(e.health.unstable_after, b.health.unstable_after);
    spec.unstable_window = differs(e.health.unstable_window, b.health.unstable_window);
    spec.stable_after = differs(e.health.stable_after, b.health.stable_after);
    spec.max_message_size = differs_size(e.limits.max_message_size, b.limits.max_message_size);
    spec.max_frame_size = differs_size(e.limits.max_frame_size, b.limits.max_frame_size);
    if let Some(st) = &e.staleness {
        spec.stale_after = Some(st.after.into());
        spec.stale_reconnect = (!st.reconnect).then_some(false);
    }
    spec.insecure = e.tls.insecure;
    spec.ca_file = e
        .tls
        .ca_file
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    spec.app_heartbeat = e.app_heartbeat.as_ref().map(|app| {
        let mut a = AppHeartbeatSpec {
            payload: app.payload.clone(),
            interval: differs(app.interval, e.heartbeat.ping_interval),
            timeout: differs(
                app.timeout,
                derived_timeout(app.interval, e.heartbeat.pong_timeout),
            ),
            misses_allowed: differs_n(app.misses_allowed, e.heartbeat.misses_allowed),
            ..AppHeartbeatSpec::default()
        };
        match &app.reply {
            ReplyMatch::Contains(s) => a.contains = Some(s.clone()),
            ReplyMatch::Regex(r) => a.regex = Some(r.clone()),
            ReplyMatch::JsonField { path, equals } => a.json = Some(format!("{path}={equals}")),
        }
        a
    });

    let (r, br) = (&e.reconnect, &b.reconnect);
    let float = |v: f64, builtin: f64| (v != builtin).then_some(v);
    spec.reconnect = ReconnectSpec {
        enabled: (r.enabled != br.enabled).then_some(r.enabled),
        initial: differs(r.initial, br.initial),
        multiplier: float(r.multiplier, br.multiplier),
        cap: differs(r.cap, br.cap),
        jitter: float(r.jitter, br.jitter),
        reset_after: differs(r.reset_after, br.reset_after),
        max_attempts: (r.max_attempts != br.max_attempts).then(|| r.max_attempts.into()),
        try_again_factor: float(r.try_again_factor, br.try_again_factor),
        stop_on_close_codes: (r.stop_on_close_codes != br.stop_on_close_codes)
            .then(|| r.stop_on_close_codes.clone()),
        stop_on_http_status: (r.stop_on_http_status != br.stop_on_http_status)
            .then(|| r.stop_on_http_status.clone()),
    };
    spec
}

/// Translates a core field name (`heartbeat.pong_timeout`, `headers[1]`) to the file's key.
fn file_path(
    core: &str,
    header_keys: &[Vec<Seg>],
    var_keys: &[Vec<Seg>],
    rule_key: &[Seg],
) -> Vec<Seg> {
    if let Some((list, rest)) = core.split_once('[') {
        let index = rest.trim_end_matches(']').parse::<usize>().ok();
        return match (list, index) {
            ("headers", Some(i)) if i < header_keys.len() => header_keys[i].clone(),
            ("secret_vars", Some(i)) if i < var_keys.len() => var_keys[i].clone(),
            (_, Some(i)) => vec![key(list), Seg::Index(i)],
            (_, None) => vec![key(list)],
        };
    }
    if core == "app_heartbeat.reply" {
        return rule_key.to_vec();
    }
    let file_key = match core {
        "staleness.after" => "stale_after",
        other => ["heartbeat.", "health.", "limits."]
            .iter()
            .find_map(|p| other.strip_prefix(p))
            .unwrap_or(other),
    };
    key_path(file_key)
}

/// Joins a multi-line message (the regex crate draws a caret diagram) into one line, so
/// every problem stays one line of output.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn key_path(dotted: &str) -> Vec<Seg> {
    dotted.split('.').map(key).collect()
}

/// Resolution state: problems so far, and where each value came from.
#[derive(Default)]
struct Cx {
    issues: Vec<Issue>,
    warnings: Vec<Issue>,
    /// By dotted file key.
    set_in: HashMap<String, SetIn>,
    /// Keys whose value could not be read (core problems about them are noise).
    failed: HashSet<Vec<Seg>>,
}

impl Cx {
    fn issue(&mut self, dotted: &str, set_in: SetIn, message: String) {
        self.issue_at(key_path(dotted), set_in, message);
    }

    fn issue_at(&mut self, path: Vec<Seg>, set_in: SetIn, message: String) {
        self.failed.insert(path.clone());
        self.issues.push(Issue {
            path,
            set_in,
            message,
        });
    }

    /// The endpoint's value, else the default's; records which one applied.
    fn pick<'a, T>(
        &mut self,
        dotted: &str,
        own: &'a Option<T>,
        inherited: &'a Option<T>,
    ) -> Option<(&'a T, SetIn)> {
        let found = match (own, inherited) {
            (Some(v), _) => Some((v, SetIn::Endpoint)),
            (None, Some(v)) => Some((v, SetIn::Defaults)),
            (None, None) => None,
        };
        self.set_in
            .insert(dotted.to_owned(), found.map_or(SetIn::Builtin, |f| f.1));
        found
    }

    fn value<T: Clone>(
        &mut self,
        dotted: &str,
        own: &Option<T>,
        inherited: &Option<T>,
        builtin: T,
    ) -> T {
        self.pick(dotted, own, inherited)
            .map_or(builtin, |(v, _)| v.clone())
    }

    fn duration(
        &mut self,
        dotted: &str,
        own: &Option<HumanDuration>,
        inherited: &Option<HumanDuration>,
        builtin: Duration,
    ) -> Duration {
        match self.pick(dotted, own, inherited) {
            None => builtin,
            Some((v, set_in)) => v.get().unwrap_or_else(|m| {
                self.issue(dotted, set_in, m);
                builtin
            }),
        }
    }

    /// An endpoint-only duration falling back to another of the endpoint's values (not to
    /// a default), so a problem with it belongs to the endpoint either way.
    fn own_duration(
        &mut self,
        dotted: &str,
        own: &Option<HumanDuration>,
        fallback: Duration,
    ) -> Duration {
        match own {
            None => fallback,
            Some(v) => v.get().unwrap_or_else(|m| {
                self.issue(dotted, SetIn::Endpoint, m);
                fallback
            }),
        }
    }

    fn size(
        &mut self,
        dotted: &str,
        own: &Option<ByteSize>,
        inherited: &Option<ByteSize>,
        builtin: usize,
    ) -> usize {
        match self.pick(dotted, own, inherited) {
            None => builtin,
            Some((v, set_in)) => v.get().unwrap_or_else(|m| {
                self.issue(dotted, set_in, m);
                builtin
            }),
        }
    }

    fn reconnect(
        &mut self,
        own: &ReconnectSpec,
        inherited: &ReconnectSpec,
        b: &ReconnectPolicy,
    ) -> ReconnectPolicy {
        let (o, i) = (own, inherited);
        ReconnectPolicy {
            enabled: self.value("reconnect.enabled", &o.enabled, &i.enabled, b.enabled),
            initial: self.duration("reconnect.initial", &o.initial, &i.initial, b.initial),
            multiplier: self.value(
                "reconnect.multiplier",
                &o.multiplier,
                &i.multiplier,
                b.multiplier,
            ),
            cap: self.duration("reconnect.cap", &o.cap, &i.cap, b.cap),
            jitter: self.value("reconnect.jitter", &o.jitter, &i.jitter, b.jitter),
            reset_after: self.duration(
                "reconnect.reset_after",
                &o.reset_after,
                &i.reset_after,
                b.reset_after,
            ),
            max_attempts: self
                .value(
                    "reconnect.max_attempts",
                    &o.max_attempts,
                    &i.max_attempts,
                    MaxAttempts::from(b.max_attempts),
                )
                .into(),
            try_again_factor: self.value(
                "reconnect.try_again_factor",
                &o.try_again_factor,
                &i.try_again_factor,
                b.try_again_factor,
            ),
            stop_on_close_codes: self.value(
                "reconnect.stop_on_close_codes",
                &o.stop_on_close_codes,
                &i.stop_on_close_codes,
                b.stop_on_close_codes.clone(),
            ),
            stop_on_http_status: self.value(
                "reconnect.stop_on_http_status",
                &o.stop_on_http_status,
                &i.stop_on_http_status,
                b.stop_on_http_status.clone(),
            ),
        }
    }

    /// The reply rule and the key it was written under.
    /// The one reply rule of a table at `base` (`app_heartbeat`, `on_connect[2]`): `match`,
    /// `regex` or `json`, given in that order.
    fn reply_rule(
        &mut self,
        base: Vec<Seg>,
        [contains, regex, json]: [&Option<String>; 3],
    ) -> (ReplyMatch, Vec<Seg>) {
        let given: Vec<(&str, &String)> = [("match", contains), ("regex", regex), ("json", json)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
            .collect();
        let under = |k: &str| {
            let mut at = base.clone();
            at.push(key(k));
            at
        };
        let Some(&(rule, text)) = given.first() else {
            self.issue_at(
                base.clone(),
                SetIn::Endpoint,
                "needs a reply rule: one of `match`, `regex` or `json`".into(),
            );
            return (ReplyMatch::Contains(String::new()), base);
        };
        for (extra, _) in &given[1..] {
            self.issue_at(
                under(extra),
                SetIn::Endpoint,
                format!("give only one of `match`, `regex` or `json` (`{rule}` is already set)"),
            );
        }
        let at = under(rule);
        let reply = match rule {
            "regex" => ReplyMatch::Regex(text.clone()),
            "json" => {
                match text.split_once('=') {
                    Some((path, equals)) => ReplyMatch::JsonField {
                        path: path.trim().to_owned(),
                        equals: equals.to_owned(),
                    },
                    None => {
                        self.issue_at(
                        at.clone(),
                        SetIn::Endpoint,
                        format!("`{text}` is not PATH=VALUE, e.g. `op=pong` or `data.type=heartbeat`"),
                    );
                        ReplyMatch::Contains(text.clone())
                    }
                }
            }
            _ => ReplyMatch::Contains(text.clone()),
        };
        (reply, at)
    }

    /// Headers in order (`headers`, then `secret_headers`) with their file keys, the names
    /// the caller must fill from its secret store, and the secret values read.
    fn headers(
        &mut self,
        spec: &EndpointSpec,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Vec<Header>, Vec<Vec<Seg>>, Vec<String>, Vec<String>) {
        let mut headers = Vec::new();
        let mut keys: Vec<Vec<Seg>> = Vec::new();
        let mut stored = Vec::new();
        let mut secrets = Vec::new();
        let mut seen: HashMap<String, Vec<Seg>> = HashMap::new();

        let plain = spec.headers.iter().map(|(n, v)| ("headers", n, Ok(v)));
        let secret = spec
            .secret_headers
            .iter()
            .map(|(n, s)| ("secret_headers", n, Err(s)));
        for (table, name, value) in plain.chain(secret) {
            let at = vec![key(table), key(name)];
            if let Some(first) = seen.get(&name.to_ascii_lowercase()) {
                self.issue_at(
                    at.clone(),
                    SetIn::Endpoint,
                    format!(
                        "collides with `{}` (header names are case-insensitive)",
                        display_path(first)
                    ),
                );
            } else {
                seen.insert(name.to_ascii_lowercase(), at.clone());
            }
            let value = match value {
                Ok(v) => v.clone(),
                Err(secret) => match self.read_secret(&at, secret, env, &mut secrets) {
                    Some(v) => v,
                    None => {
                        stored.push(name.clone());
                        String::new()
                    }
                },
            };
            headers.push(Header {
                name: name.clone(),
                value,
                secret: table == "secret_headers",
            });
            keys.push(at);
        }
        (headers, keys, stored, secrets)
    }

    /// The URL with the value of every `secret_query` parameter put in (`{ stored = true }`
    /// ones left empty for the caller to fill), and the names of the stored ones. Values read
    /// and values found written in the URL are added to `secrets`.
    fn query(
        &mut self,
        spec: &EndpointSpec,
        env: &dyn Fn(&str) -> Option<String>,
        secrets: &mut Vec<String>,
    ) -> (String, Vec<String>) {
        let inline = query_secrets(&spec.url);
        let mut url = spec.url.clone();
        let mut stored = Vec::new();
        let mut named: Vec<&str> = Vec::new();
        for (name, given) in &spec.secret_query {
            let at = vec![key("secret_query"), key(name)];
            if named.contains(&name.as_str()) {
                self.issue_at(at, SetIn::Endpoint, "is given twice".into());
                continue;
            }
            named.push(name);
            if !is_secret_param(name) {
                self.issue_at(
                    at,
                    SetIn::Endpoint,
                    format!(
                        "`{name}` does not look like a credential, so the URL would still show and \
                         export its value; write it in `url` instead (secret parameter names \
                         contain token, key, secret, password, auth, session or sig)"
                    ),
                );
                continue;
            }
            if inline.iter().any(|(n, _)| n == name) {
                self.issue_at(
                    at,
                    SetIn::Endpoint,
                    format!("the URL gives `{name}` a value too; leave it empty there (`{name}=`)"),
                );
                continue;
            }
            let value = match self.read_secret(&at, given, env, secrets) {
                Some(v) => v,
                None => {
                    stored.push(name.clone());
                    String::new()
                }
            };
            if let Some(why) = unfit_for_query(&value) {
                self.issue_at(at, SetIn::Endpoint, format!("the value contains {why}"));
                continue;
            }
            if matches!(given, SecretValue::Literal(_)) {
                self.warnings.push(Issue {
                    path: at,
                    set_in: SetIn::Endpoint,
                    message: "the value is written in this file; keep it out with \
                              `{ env = \"VAR\" }` or `{ stored = true }`"
                        .into(),
                });
            }
            url = fill_query(&url, name, &value);
        }
        let mut warned: Vec<&str> = Vec::new();
        for (name, value) in &inline {
            secrets.push(value.clone());
            if named.contains(&name.as_str()) || warned.contains(&name.as_str()) {
                continue;
            }
            warned.push(name);
            self.warnings.push(Issue {
                path: vec![key("url")],
                set_in: SetIn::Endpoint,
                message: format!(
                    "query parameter `{name}` has its value written in the URL, so this file \
                     holds a credential; leave it empty (`{name}=`) and give the value in \
                     `secret_query`, e.g. `secret_query = {{ {name} = {{ env = \"VAR\" }} }}`"
                ),
            });
        }
        (url, stored)
    }

    /// The `secret_vars` in order (`{ stored = true }` ones with an empty value for the caller
    /// to fill), and the names of the stored ones. Values read are added to `secrets`; a
    /// literal value is a warning, as for `secret_query`. Names are checked with the endpoint.
    fn vars(
        &mut self,
        spec: &EndpointSpec,
        env: &dyn Fn(&str) -> Option<String>,
        secrets: &mut Vec<String>,
    ) -> (Vec<SecretVar>, Vec<String>) {
        let mut vars = Vec::new();
        let mut stored = Vec::new();
        for (name, given) in &spec.secret_vars {
            let at = vec![key("secret_vars"), key(name)];
            let value = match self.read_secret(&at, given, env, secrets) {
                Some(v) => v,
                None => {
                    stored.push(name.clone());
                    String::new()
                }
            };
            if matches!(given, SecretValue::Literal(_)) {
                self.warnings.push(Issue {
                    path: at,
                    set_in: SetIn::Endpoint,
                    message: "the value is written in this file; keep it out with \
                              `{ env = \"VAR\" }` or `{ stored = true }`"
                        .into(),
                });
            }
            vars.push(SecretVar::new(name.clone(), value));
        }
        (vars, stored)
    }

    /// The value of a secret written as a literal or `{ env = … }` (added to `secrets`), or
    /// `None` for `{ stored = true }`. A missing or empty variable is an issue at `at`.
    fn read_secret(
        &mut self,
        at: &[Seg],
        value: &SecretValue,
        env: &dyn Fn(&str) -> Option<String>,
        secrets: &mut Vec<String>,
    ) -> Option<String> {
        let var = match value {
            SecretValue::Stored => return None,
            SecretValue::Literal(v) => {
                secrets.push(v.clone());
                return Some(v.clone());
            }
            SecretValue::Env(var) => var,
        };
        let problem = match env(var) {
            _ if var.trim().is_empty() => "`env` must name an environment variable".to_owned(),
            Some(v) if !v.is_empty() => {
                secrets.push(v.clone());
                return Some(v);
            }
            Some(_) => format!("environment variable `{var}` is empty"),
            None => format!("environment variable `{var}` is not set"),
        };
        self.issue_at(at.to_vec(), SetIn::Endpoint, problem);
        Some(String::new())
    }
}
