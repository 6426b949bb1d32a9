//! `heartline probe`: one endpoint, watched live from the terminal.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::mpsc;

use heartline_core::{
    derived_timeout, AppHeartbeat, CloseCause, Endpoint, EndpointId, Event, EventKind, Header,
    Protocol, ReplyMatch, SecretVar, Staleness, State, Step,
};
use heartline_probe::{Control, Probe, SystemResolver};

use crate::output::{Human, Json, Printer};

#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// ws:// or wss:// URL of the endpoint.
    pub url: String,
    /// Handshake header `Name: value` (repeatable). Values of credential headers are never printed.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Subprotocol to offer (repeatable, in preference order).
    #[arg(long = "subprotocol", value_name = "P")]
    pub subprotocols: Vec<String>,
    /// Application protocol to speak: websocket (default), socketio, socketio3,
    /// graphql-transport-ws, subscriptions-transport-ws, mqtt (3.1.1), mqtt5, actioncable,
    /// pusher, phoenix, signalr, stomp. Answers the server's heartbeats and does the protocol's handshake.
    #[arg(long, value_name = "NAME", value_parser = protocol)]
    pub protocol: Option<Protocol>,
    /// Protocol ping interval.
    #[arg(long, value_name = "D", default_value = "5s", value_parser = duration)]
    pub ping_interval: Duration,
    /// How long to wait for each pong [default: 2s, or half the ping interval when that is
    /// not longer].
    #[arg(long, value_name = "D", value_parser = duration)]
    pub pong_timeout: Option<Duration>,
    /// Consecutive missed pongs tolerated before the session is closed.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub misses_allowed: u32,
    /// Application heartbeat payload to send (text; `hex:c000` or `base64:wAA=` for binary).
    #[arg(long, value_name = "PAYLOAD", requires = "app_reply")]
    pub app_ping: Option<String>,
    /// Recognise the application reply by this substring (`hex:…`/`base64:…`: these bytes).
    #[arg(long, value_name = "TEXT", group = "app_reply")]
    pub app_pong_match: Option<String>,
    /// Recognise the application reply by this regular expression.
    #[arg(long, value_name = "REGEX", group = "app_reply")]
    pub app_pong_regex: Option<String>,
    /// Recognise the application reply by a JSON field, e.g. `type=pong` or `data.op=hb`.
    #[arg(long, value_name = "PATH=VALUE", group = "app_reply")]
    pub app_pong_json: Option<String>,
    /// Application heartbeat interval (default: the ping interval).
    #[arg(long, value_name = "D", value_parser = duration)]
    pub app_interval: Option<Duration>,
    /// Application reply timeout (default: the pong timeout, or half the application
    /// interval when that is not longer).
    #[arg(long, value_name = "D", value_parser = duration)]
    pub app_timeout: Option<Duration>,
    /// Report the stream stale (and reconnect) when no message arrives for this long.
    #[arg(long, value_name = "D", value_parser = duration)]
    pub stale_after: Option<Duration>,
    /// Message to send after every handshake (and after the protocol's own handshake), e.g. a
    /// subscribe frame (repeatable; `hex:…` or `base64:…` for a binary frame).
    #[arg(long = "send", value_name = "MSG")]
    pub send: Vec<String>,
    /// Before the next --send, wait for a message containing TEXT (repeatable; steps run in
    /// the order given, e.g. `--send INIT --expect connection_ack --send SUBSCRIBE`).
    #[arg(long = "expect", value_name = "TEXT")]
    pub expect: Vec<String>,
    /// Like --expect, for a message matching a regular expression.
    #[arg(long = "expect-regex", value_name = "RE")]
    pub expect_regex: Vec<String>,
    /// Like --expect, for a JSON message whose field at the dotted PATH equals VALUE.
    #[arg(long = "expect-json", value_name = "PATH=VALUE")]
    pub expect_json: Vec<String>,
    /// A secret value for `{{secret:NAME}}` in --send and --app-ping, read from the environment
    /// variable ENV_VAR (repeatable). The value never goes on the command line, where `ps`
    /// shows it, and never into the output.
    #[arg(long = "secret-var", value_name = "NAME=ENV_VAR")]
    pub secret_vars: Vec<String>,
    /// How long each --expect* waits before the session is ended (default: the handshake
    /// timeout).
    #[arg(long, value_name = "D", value_parser = duration)]
    pub expect_within: Option<Duration>,
    /// Where each --send and --expect* stood on the command line ([`step_order`]).
    #[arg(skip)]
    pub order: Vec<(StepFlag, usize)>,
    /// Deadline for DNS, TCP, TLS and the HTTP upgrade together.
    #[arg(long, value_name = "D", default_value = "10s", value_parser = duration)]
    pub handshake_timeout: Duration,
    /// Stop after this long (closing cleanly); without it, run until the session ends or Ctrl-C.
    #[arg(long = "for", value_name = "D", value_parser = duration)]
    pub run_for: Option<Duration>,
    /// Reconnect with backoff after the session ends instead of exiting.
    #[arg(long)]
    pub reconnect: bool,
    /// Accept any TLS certificate (self-signed test servers only).
    #[arg(long, conflicts_with = "ca_file")]
    pub insecure: bool,
    /// Also trust the CA certificates in this PEM file.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Round trips above this count as Degraded.
    #[arg(long, value_name = "D", default_value = "1s", value_parser = duration)]
    pub degraded_rtt: Duration,
    /// One JSON object per event per line instead of the readable log.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    heartline_core::parse_duration(text)
}

pub(crate) fn protocol(text: &str) -> Result<Protocol, String> {
    text.parse()
}

/// A hint when the URL or subprotocol looks like a protocol the endpoint is not set to speak:
/// without it, the server's heartbeat goes unanswered and the session is dropped.
pub(crate) fn protocol_hint(e: &Endpoint) -> Option<String> {
    if e.protocol != Protocol::WebSocket {
        return None;
    }
    let suggested = heartline_core::protocol::suggest(&e.url, &e.subprotocols)?;
    Some(format!(
        "hint: {} looks like {}; add --protocol {} (or `protocol = \"{}\"` in the config) so Heartline speaks it",
        e.name,
        suggested.label(),
        suggested.as_str(),
        suggested.as_str()
    ))
}

/// How `probe` can fail before or outside the watch.
pub enum Failure {
    /// Exit 2 with this one-line reason.
    Usage(String),
    /// Exit 2: a configuration file's problems, one per line, printed as they are.
    Config(String),
    Other(anyhow::Error),
}

/// The pong timeout when `--pong-timeout` is not given and the ping interval leaves room.
pub const DEFAULT_PONG_TIMEOUT: Duration = Duration::from_secs(2);

impl ProbeArgs {
    /// `--pong-timeout`, or one derived from the ping interval set (never the reason an
    /// interval the user chose is refused).
    pub fn pong_timeout(&self) -> Duration {
        self.pong_timeout
            .unwrap_or_else(|| derived_timeout(self.ping_interval, DEFAULT_PONG_TIMEOUT))
    }

    /// `--app-interval`, or the ping interval.
    pub fn app_interval(&self) -> Duration {
        self.app_interval.unwrap_or(self.ping_interval)
    }

    /// The endpoint these arguments describe, validated.
    fn endpoint(&self) -> Result<Endpoint, Failure> {
        let mut e = Endpoint::new(
            heartline_core::endpoint::redact_url(&self.url),
            self.url.clone(),
        );
        for line in &self.headers {
            e.headers.push(
                Header::parse_line(line)
                    .map_err(|why| Failure::Usage(format!("--header: {why}")))?,
            );
        }
        e.subprotocols = self.subprotocols.clone();
        e.protocol = self.protocol.unwrap_or_default();
        e.heartbeat.ping_interval = self.ping_interval;
        e.heartbeat.pong_timeout = self.pong_timeout();
        e.heartbeat.misses_allowed = self.misses_allowed;
        e.health.degraded_rtt = Some(self.degraded_rtt);
        e.handshake_timeout = self.handshake_timeout;
        e.on_connect = self.steps()?;
        e.secret_vars = self
            .secret_vars
            .iter()
            .map(|spec| secret_var(spec, &|var| std::env::var_os(var)))
            .collect::<Result<_, _>>()
            .map_err(|why| Failure::Usage(format!("--secret-var: {why}")))?;
        e.tls.insecure = self.insecure;
        e.tls.ca_file = self.ca_file.clone();
        e.reconnect.enabled = self.reconnect;
        e.staleness = self.stale_after.map(|after| Staleness {
            after,
            reconnect: true,
        });
        if let Some(payload) = &self.app_ping {
            let reply = if let Some(text) = &self.app_pong_match {
                ReplyMatch::Contains(text.clone())
            } else if let Some(re) = &self.app_pong_regex {
                ReplyMatch::Regex(re.clone())
            } else if let Some(spec) = &self.app_pong_json {
                let (path, equals) = spec.split_once('=').ok_or_else(|| {
                    Failure::Usage(format!("--app-pong-json: `{spec}` is not PATH=VALUE"))
                })?;
                ReplyMatch::JsonField {
                    path: path.trim().into(),
                    equals: equals.trim().into(),
                }
            } else {
                return Err(Failure::Usage(
                    "--app-ping needs --app-pong-match, --app-pong-regex or --app-pong-json".into(),
                ));
            };
            e.app_heartbeat = Some(Box::new(AppHeartbeat {
                payload: payload.clone(),
                reply,
                interval: self.app_interval(),
                timeout: self
                    .app_timeout
                    .unwrap_or_else(|| derived_timeout(self.app_interval(), self.pong_timeout())),
                misses_allowed: self.misses_allowed,
            }));
        } else if self.app_pong_match.is_some()
            || self.app_pong_regex.is_some()
            || self.app_pong_json.is_some()
        {
            return Err(Failure::Usage(
                "an --app-pong-* rule needs --app-ping".into(),
            ));
        }
        e.validate()
            .map_err(|errs| Failure::Usage(option_names(&errs.to_string())))?;
        Ok(e)
    }
}

/// A `--secret-var NAME=ENV_VAR` with its value read through `env`. Errors name the
/// variable, never a value.
fn secret_var(
    spec: &str,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<SecretVar, String> {
    let (name, var) = spec
        .split_once('=')
        .map(|(n, v)| (n.trim(), v.trim()))
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .ok_or_else(|| {
            format!(
                "`{}` is not NAME=ENV_VAR (the value is read from the environment variable ENV_VAR)",
                heartline_core::escape_controls(spec)
            )
        })?;
    heartline_core::secret_var::check_var_name(name)
        .map_err(|why| format!("the name `{}` {why}", heartline_core::escape_controls(name)))?;
    let shown = heartline_core::escape_controls(var);
    match env(var) {
        None => Err(format!(
            "environment variable `{shown}` (for {{{{secret:{name}}}}}) is not set"
        )),
        Some(v) if v.is_empty() => Err(format!(
            "environment variable `{shown}` (for {{{{secret:{name}}}}}) is empty"
        )),
        Some(v) => v
            .into_string()
            .map(|v| SecretVar::new(name, v))
            .map_err(|_| {
                format!("environment variable `{shown}` (for {{{{secret:{name}}}}}) is not UTF-8")
            }),
    }
}

/// The flags that make up the conversation after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepFlag {
    Send,
    Expect,
    ExpectRegex,
    ExpectJson,
}

/// The `--send` and `--expect*` values in the order they were given: (flag, the value's
/// position among that flag's own values).
pub fn step_order(m: &clap::ArgMatches) -> Vec<(StepFlag, usize)> {
    let mut at: Vec<(usize, StepFlag, usize)> = Vec::new();
    for (id, flag) in [
        ("send", StepFlag::Send),
        ("expect", StepFlag::Expect),
        ("expect_regex", StepFlag::ExpectRegex),
        ("expect_json", StepFlag::ExpectJson),
    ] {
        if let Some(indices) = m.indices_of(id) {
            at.extend(indices.enumerate().map(|(n, index)| (index, flag, n)));
        }
    }
    at.sort_unstable_by_key(|(index, _, _)| *index);
    at.into_iter().map(|(_, flag, n)| (flag, n)).collect()
}

impl ProbeArgs {
    /// The `on_connect` steps: sends and waits in command-line order.
    fn steps(&self) -> Result<Vec<Step>, Failure> {
        let waits = self.expect.len() + self.expect_regex.len() + self.expect_json.len();
        if waits == 0 && self.expect_within.is_some() {
            return Err(Failure::Usage(
                "--expect-within needs an --expect, --expect-regex or --expect-json".into(),
            ));
        }
        if self.order.is_empty() {
            // Built without the command line's order (only --send can then be given).
            if waits > 0 {
                return Err(Failure::Usage(
                    "--expect* needs the command line's order of --send and --expect".into(),
                ));
            }
            return Ok(self.send.iter().map(|s| Step::from(s.as_str())).collect());
        }
        let mut steps = Vec::with_capacity(self.order.len());
        for &(flag, n) in &self.order {
            let value = |list: &[String]| list.get(n).cloned().unwrap_or_default();
            let wait = |reply| Step::Expect {
                reply,
                within: self.expect_within,
            };
            steps.push(match flag {
                StepFlag::Send => Step::Send(value(&self.send)),
                StepFlag::Expect => wait(ReplyMatch::Contains(value(&self.expect))),
                StepFlag::ExpectRegex => wait(ReplyMatch::Regex(value(&self.expect_regex))),
                StepFlag::ExpectJson => {
                    let spec = value(&self.expect_json);
                    let (path, equals) = spec.split_once('=').ok_or_else(|| {
                        Failure::Usage(format!("--expect-json: `{spec}` is not PATH=VALUE"))
                    })?;
                    wait(ReplyMatch::JsonField {
                        path: path.trim().into(),
                        equals: equals.trim().into(),
                    })
                }
            });
        }
        Ok(steps)
    }
}

/// Speaks of the options the user typed rather than internal field names.
pub(crate) fn option_names(text: &str) -> String {
    [
        ("heartbeat.ping_interval", "--ping-interval"),
        ("heartbeat.pong_timeout", "--pong-timeout"),
        ("heartbeat.misses_allowed", "--misses-allowed"),
        ("app_heartbeat.payload", "--app-ping"),
        ("app_heartbeat.reply", "--app-pong-*"),
        ("app_heartbeat.interval", "--app-interval"),
        ("app_heartbeat.timeout", "--app-timeout"),
        ("staleness.after", "--stale-after"),
        ("handshake_timeout", "--handshake-timeout"),
        ("subprotocols", "--subprotocol"),
        ("headers", "--header"),
        ("on_connect", "--send/--expect step"),
        ("health.degraded_rtt", "--degraded-rtt"),
        ("protocol", "--protocol"),
        ("secret_vars", "--secret-var"),
    ]
    .iter()
    .fold(text.replace("url:", "URL:"), |acc, (field, flag)| {
        acc.replace(field, flag)
    })
}

/// Watches the endpoint, printing events, until the run ends; returns the exit status.
pub async fn run(args: ProbeArgs) -> Result<ExitCode, Failure> {
    let endpoint = args.endpoint()?;
    if let Some(hint) = protocol_hint(&endpoint) {
        say!("{hint}");
    }
    let probe = Probe::new(endpoint.clone(), Arc::new(SystemResolver)).map_err(|e| match e {
        heartline_probe::Error::Invalid(errs) => Failure::Usage(option_names(&errs.to_string())),
        heartline_probe::Error::CaFile { .. } => Failure::Usage(format!("--ca-file: {e}")),
        other => Failure::Other(other.into()),
    })?;

    let (tx, mut events) = mpsc::unbounded_channel::<Event>();
    let (controls, rx) = heartline_probe::controls();
    let sink = Arc::new(move |e: Event| {
        let _ = tx.send(e);
    });
    let watch = tokio::spawn(probe.watch(EndpointId(1), rx, sink));

    let mut printer: Box<dyn Printer> = if args.json {
        Box::new(Json::new(std::io::stdout()))
    } else {
        Box::new(Human::new(std::io::stdout(), &endpoint))
    };
    printer.start().map_err(|e| Failure::Other(e.into()))?;

    let deadline = args.run_for.map(|d| tokio::time::Instant::now() + d);
    let mut verdict = Verdict::default();
    let mut stopping = false;
    let mut interrupted = pin_signal();
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = sleep_until_opt(deadline), if !stopping => {
                stopping = true;
                let _ = controls.send(Control::Stop(CloseCause::DurationElapsed));
                continue;
            }
            cause = &mut interrupted, if !stopping => {
                stopping = true;
                let _ = controls.send(Control::Stop(cause));
                continue;
            }
        };
        let Some(event) = event else { break };
        verdict.observe(&event.kind);
        if let Err(e) = printer.event(&event) {
            // stdout closed (e.g. piped into `head`): stop quietly.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                watch.abort();
                return Ok(exit_code(&verdict));
            }
            return Err(Failure::Other(e.into()));
        }
        let ends_run = match &event.kind {
            EventKind::Closed { end, .. } => {
                stopping || !args.reconnect || end.cause().is_some_and(|c| !c.is_fault())
            }
            EventKind::HandshakeFailed(_) => !args.reconnect,
            EventKind::GaveUp { .. } => true,
            _ => false,
        };
        if ends_run {
            break;
        }
    }
    drop(controls);
    watch.abort();
    match printer.finish(&verdict) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Other(e.into())),
        _ => Ok(exit_code(&verdict)),
    }
}

fn exit_code(verdict: &Verdict) -> ExitCode {
    if verdict.healthy() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Whether the endpoint stayed healthy for the whole run, and what went wrong if not.
#[derive(Debug, Default)]
pub struct Verdict {
    pub connected: bool,
    pub failed_attempts: u32,
    pub missed_replies: u32,
    pub stale: u32,
    pub sessions_lost: u32,
    pub unhealthy_states: u32,
    pub rtts: Vec<Duration>,
    pub app_rtts: Vec<Duration>,
}

/// Round trips kept for the closing summary; beyond this only the first ones are summarised.
const MAX_SAMPLES: usize = 1_000_000;

impl Verdict {
    fn observe(&mut self, kind: &EventKind) {
        match kind {
            EventKind::Connected { .. } => self.connected = true,
            EventKind::HandshakeFailed(_) => self.failed_attempts += 1,
            EventKind::PongMissed { .. } => self.missed_replies += 1,
            EventKind::Stale { .. } => self.stale += 1,
            EventKind::Closed { end, .. } if end.cause().is_none_or(CloseCause::is_fault) => {
                self.sessions_lost += 1
            }
            EventKind::StateChanged {
                to: State::Down | State::Degraded | State::Unstable,
                ..
            } => self.unhealthy_states += 1,
            EventKind::Rtt { kind, rtt } => {
                let v = match kind {
                    heartline_core::PingKind::Protocol => &mut self.rtts,
                    heartline_core::PingKind::App => &mut self.app_rtts,
                    // Server beats are intervals, never round trips (never emitted as RTT).
                    heartline_core::PingKind::Server => return,
                };
                if v.len() < MAX_SAMPLES {
                    v.push(*rtt);
                }
            }
            _ => {}
        }
    }

    pub fn healthy(&self) -> bool {
        self.connected && self.problems().is_empty()
    }

    /// What went wrong, in words, e.g. `["2 missed heartbeat replies"]`.
    pub fn problems(&self) -> Vec<String> {
        [
            (
                self.failed_attempts,
                "failed connection attempt",
                "failed connection attempts",
            ),
            (
                self.missed_replies,
                "missed heartbeat reply",
                "missed heartbeat replies",
            ),
            (self.stale, "stale period", "stale periods"),
            (self.sessions_lost, "session lost", "sessions lost"),
            (
                self.unhealthy_states,
                "change to Degraded or Down",
                "changes to Degraded or Down",
            ),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect()
    }
}

pub(crate) async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Resolves with the close cause on Ctrl-C (user) or SIGTERM (shutdown).
pub(crate) fn pin_signal() -> std::pin::Pin<Box<dyn std::future::Future<Output = CloseCause> + Send>>
{
    Box::pin(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => tokio::select! {
                    _ = tokio::signal::ctrl_c() => CloseCause::User,
                    _ = term.recv() => CloseCause::Shutdown,
                },
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    CloseCause::User
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            CloseCause::User
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_that_looks_like_a_protocol_gets_a_hint_until_it_is_set() {
        let mut e = Endpoint::new(
            "chat",
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket",
        );
        let hint = protocol_hint(&e).expect("a Socket.IO URL");
        assert!(hint.contains("--protocol socketio"), "{hint}");
        e.protocol = Protocol::SocketIo;
        assert_eq!(protocol_hint(&e), None);
        let plain = Endpoint::new("feed", "ws://127.0.0.1:3000/feed");
        assert_eq!(protocol_hint(&plain), None);
        assert!(protocol("soap").unwrap_err().contains("expected one of"));
    }

    #[test]
    fn secret_vars_come_from_the_environment_and_errors_name_the_variable() {
        let env = |var: &str| (var == "TOKEN_VAR").then(|| std::ffi::OsString::from("s3cret"));
        let var = secret_var("token=TOKEN_VAR", &env).expect("set");
        assert_eq!((var.name.as_str(), var.value.as_str()), ("token", "s3cret"));
        let unset = secret_var("token=MISSING_VAR", &env).unwrap_err();
        assert!(
            unset.contains("`MISSING_VAR`") && unset.contains("not set"),
            "{unset}"
        );
        let empty = |_: &str| Some(std::ffi::OsString::new());
        assert!(secret_var("token=E", &empty)
            .unwrap_err()
            .contains("is empty"));
        for bad in ["token", "=VAR", "token=", "to ken=TOKEN_VAR"] {
            let why = secret_var(bad, &env).unwrap_err();
            assert!(!why.contains("s3cret"), "{why}");
        }
    }
}
