//! What a user watches: an endpoint and its policies, with validation that names the bad field.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::backoff::ReconnectPolicy;
use crate::health::HealthPolicy;
use crate::protocol::{Frame, Protocol};
use crate::reply::ReplyMatch;
use crate::script::Step;
use crate::secret_var::{self, ExpandError, SecretVar, MAX_SECRET_VARS};

/// Identifies an endpoint inside one engine (and, later, one database).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(pub u64);

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One watched WebSocket endpoint with every policy that governs its sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub name: String,
    /// `ws://` or `wss://` URL; see [`Endpoint::target`] for the parsed parts.
    pub url: String,
    /// Extra handshake headers, in order.
    pub headers: Vec<Header>,
    /// Subprotocols offered in `Sec-WebSocket-Protocol`, in preference order.
    pub subprotocols: Vec<String>,
    pub tls: TlsOptions,
    pub tags: Vec<String>,
    pub heartbeat: Heartbeat,
    /// Boxed: most endpoints have none, and each `Endpoint` is kept per watched endpoint.
    pub app_heartbeat: Option<Box<AppHeartbeat>>,
    pub staleness: Option<Staleness>,
    /// The conversation after every successful handshake (with a protocol preset, after the
    /// preset's own handshake completed): messages to send (e.g. a subscribe frame;
    /// `hex:`/`base64:` payloads are binary frames, [`crate::protocol::Frame::parse`]) and
    /// replies to wait for before going on ([`Step::Expect`]).
    pub on_connect: Vec<Step>,
    /// Named secret values that `on_connect` sends and the application heartbeat's payload
    /// refer to as `{{secret:NAME}}` ([`crate::secret_var`]); put in only right before a
    /// frame is sent, kept where secret header values are, never shown.
    pub secret_vars: Vec<SecretVar>,
    /// The application protocol spoken over the socket ([`Protocol::WebSocket`]: none).
    pub protocol: Protocol,
    /// Deadline for DNS + TCP + TLS + HTTP upgrade together.
    pub handshake_timeout: Duration,
    pub reconnect: ReconnectPolicy,
    pub health: HealthPolicy,
    pub limits: Limits,
}

/// Protocol (RFC 6455) ping policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    pub ping_interval: Duration,
    /// How long to wait for the pong of one ping; must be shorter than the interval.
    pub pong_timeout: Duration,
    /// Consecutive missed pongs tolerated; one more closes the session (cause: pong timeout).
    pub misses_allowed: u32,
}

/// Application-level heartbeat: a payload sent on an interval and a rule recognising the reply.
#[derive(Debug, Clone, PartialEq)]
pub struct AppHeartbeat {
    pub payload: String,
    pub reply: ReplyMatch,
    pub interval: Duration,
    pub timeout: Duration,
    /// Consecutive missed replies tolerated; one more closes the session.
    pub misses_allowed: u32,
}

/// "Expect some application message at least every `after`."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staleness {
    pub after: Duration,
    /// Close and reconnect a stale session (the usual cure for a silent feed); otherwise only
    /// mark the endpoint Degraded until a message arrives.
    pub reconnect: bool,
}

/// TLS options for `wss://`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Accept any certificate. For labs and self-signed test servers only.
    pub insecure: bool,
    /// Extra PEM file of CA certificates to trust besides the system's.
    pub ca_file: Option<PathBuf>,
}

/// Memory bounds for one session whatever the server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_message_size: usize,
    pub max_frame_size: usize,
}

/// A handshake header. Secret values are never displayed, logged or exported.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
    pub secret: bool,
}

/// The parts of a validated endpoint URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub secure: bool,
    /// Host name or IP literal, without IPv6 brackets.
    pub host: String,
    pub port: u16,
    /// Path and query as sent in the request line.
    pub resource: String,
    /// The whole URL normalised and percent-encoded, as it goes on the wire.
    pub url: String,
}

/// One invalid field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `heartbeat.pong_timeout` or `headers[1]`.
    pub field: String,
    pub problem: String,
}

/// Every invalid field of an endpoint (never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<FieldError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.problem)?;
        }
        Ok(())
    }
}

/// The smallest ping interval accepted: faster would be load, not monitoring.
pub const MIN_PING_INTERVAL: Duration = Duration::from_millis(100);
/// Intervals, timeouts and delays above this are refused as typos.
pub const MAX_POLICY_DURATION: Duration = Duration::from_secs(24 * 3600);
/// The most steps an `on_connect` conversation may have.
pub const MAX_STEPS: usize = 64;

impl Endpoint {
    /// An endpoint with the default policies. Call [`Endpoint::validate`] before use.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Endpoint {
            name: name.into(),
            url: url.into(),
            headers: Vec::new(),
            subprotocols: Vec::new(),
            tls: TlsOptions::default(),
            tags: Vec::new(),
            heartbeat: Heartbeat::default(),
            app_heartbeat: None,
            staleness: None,
            on_connect: Vec::new(),
            secret_vars: Vec::new(),
            protocol: Protocol::WebSocket,
            handshake_timeout: Duration::from_secs(10),
            reconnect: ReconnectPolicy::default(),
            health: HealthPolicy::default(),
            limits: Limits::default(),
        }
    }

    /// Checks every field; returns all problems at once so a form can mark each.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut errs = Vec::new();
        let mut bad = |field: &str, problem: String| {
            errs.push(FieldError {
                field: field.to_owned(),
                problem,
            })
        };

        let name = self.name.trim();
        if name.is_empty() {
            bad("name", "must not be empty".into());
        } else if name.chars().count() > 200 {
            bad("name", "must be at most 200 characters".into());
        } else if name.chars().any(char::is_control) {
            bad("name", "must not contain control characters".into());
        }
        if let Err(problem) = parse_target(&self.url) {
            bad("url", problem);
        }
        for (i, h) in self.headers.iter().enumerate() {
            if let Err(problem) = check_header(&h.name, &h.value) {
                bad(&format!("headers[{i}]"), problem);
            }
        }
        for (i, p) in self.subprotocols.iter().enumerate() {
            if !is_token(p) {
                bad(
                    &format!("subprotocols[{i}]"),
                    format!("`{p}` is not a valid subprotocol token (letters, digits and !#$%&'*+-.^_`|~)"),
                );
            }
        }
        for (i, t) in self.tags.iter().enumerate() {
            if t.trim().is_empty() || t.chars().any(|c| c.is_control() || c == ',') {
                bad(
                    &format!("tags[{i}]"),
                    "must be non-empty without commas or control characters".into(),
                );
            }
        }

        let hb = &self.heartbeat;
        check_range(
            &mut bad,
            "heartbeat.ping_interval",
            hb.ping_interval,
            MIN_PING_INTERVAL,
        );
        if hb.pong_timeout.is_zero() {
            bad("heartbeat.pong_timeout", "must be positive".into());
        } else if hb.pong_timeout >= hb.ping_interval {
            bad(
                "heartbeat.pong_timeout",
                format!(
                    "must be shorter than the ping interval ({} >= {})",
                    crate::format_duration(hb.pong_timeout),
                    crate::format_duration(hb.ping_interval)
                ),
            );
        }
        if hb.misses_allowed > 100 {
            bad("heartbeat.misses_allowed", "must be at most 100".into());
        }

        if let Some(app) = &self.app_heartbeat {
            if app.payload.is_empty() {
                bad("app_heartbeat.payload", "must not be empty".into());
            } else if let Err(problem) = self.check_payload(&app.payload) {
                bad("app_heartbeat.payload", problem);
            }
            if let Err(problem) = app.reply.check() {
                bad("app_heartbeat.reply", problem);
            }
            check_range(
                &mut bad,
                "app_heartbeat.interval",
                app.interval,
                MIN_PING_INTERVAL,
            );
            if app.timeout.is_zero() {
                bad("app_heartbeat.timeout", "must be positive".into());
            } else if app.timeout >= app.interval {
                bad(
                    "app_heartbeat.timeout",
                    "must be shorter than the interval".into(),
                );
            }
            if app.misses_allowed > 100 {
                bad("app_heartbeat.misses_allowed", "must be at most 100".into());
            }
        }
        if let Some(st) = &self.staleness {
            check_range(&mut bad, "staleness.after", st.after, MIN_PING_INTERVAL);
        }
        if self.on_connect.len() > MAX_STEPS {
            bad(
                "on_connect",
                format!("has {} steps; at most {MAX_STEPS}", self.on_connect.len()),
            );
        }
        for (i, step) in self.on_connect.iter().enumerate() {
            let at = format!("on_connect[{i}]");
            match step {
                Step::Send(m) => {
                    if let Err(problem) = self.check_payload(m) {
                        bad(&at, problem);
                    }
                }
                Step::Expect { reply, within } => {
                    if let Err(e) = reply.check() {
                        bad(&at, e);
                    }
                    if let Some(within) = *within {
                        if within < Duration::from_millis(10) {
                            bad(&at, "must wait at least 10ms".into());
                        } else if within > Duration::from_secs(300) {
                            bad(&at, "must wait at most 5m".into());
                        }
                    }
                }
            }
        }
        if self.secret_vars.len() > MAX_SECRET_VARS {
            bad(
                "secret_vars",
                format!(
                    "has {} values; at most {MAX_SECRET_VARS}",
                    self.secret_vars.len()
                ),
            );
        }
        for (i, var) in self.secret_vars.iter().enumerate() {
            let at = format!("secret_vars[{i}]");
            if let Err(problem) = secret_var::check_var_name(&var.name) {
                bad(&at, format!("name {problem}"));
            } else if self.secret_vars[..i].iter().any(|v| v.name == var.name) {
                bad(&at, format!("\"{}\" is given twice", var.name));
            }
        }
        check_range(
            &mut bad,
            "handshake_timeout",
            self.handshake_timeout,
            Duration::from_millis(100),
        );
        if self.handshake_timeout > Duration::from_secs(300) {
            bad("handshake_timeout", "must be at most 5m".into());
        }
        for e in self.reconnect.problems() {
            bad(&format!("reconnect.{}", e.field), e.problem);
        }
        for e in self.health.problems() {
            bad(&format!("health.{}", e.field), e.problem);
        }
        if self.limits.max_frame_size < 1024 {
            bad("limits.max_frame_size", "must be at least 1 KiB".into());
        }
        if self.limits.max_message_size < self.limits.max_frame_size {
            bad(
                "limits.max_message_size",
                "must be at least limits.max_frame_size".into(),
            );
        }
        if self.limits.max_message_size > 1 << 30 {
            bad("limits.max_message_size", "must be at most 1 GiB".into());
        }

        if errs.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errs))
        }
    }

    /// `text` (an `on_connect` message or the application heartbeat's payload) with its
    /// `{{secret:NAME}}` placeholders filled from [`Endpoint::secret_vars`]; borrowed when it
    /// has none. The result goes on the wire and nowhere else.
    pub fn expand_secrets<'a>(&self, text: &'a str) -> Result<Cow<'a, str>, ExpandError> {
        secret_var::expand(text, &self.secret_vars)
    }

    /// A payload as validation sees it: its placeholders name known secret values, and with
    /// them filled it is a valid frame no larger than the message limit. Messages never quote
    /// the filled text.
    fn check_payload(&self, text: &str) -> Result<(), String> {
        let expanded = self.expand_secrets(text).map_err(|e| e.to_string())?;
        if let Err(e) = Frame::parse(&expanded) {
            return Err(match expanded {
                Cow::Borrowed(_) => e.0,
                // The parser may quote what it could not read: part of a secret.
                Cow::Owned(_) => "is not a valid payload once its secret values are put in".into(),
            });
        }
        if expanded.len() > self.limits.max_message_size {
            return Err("is larger than limits.max_message_size".into());
        }
        Ok(())
    }

    /// The subprotocols to offer: the configured ones, or the one the protocol preset needs
    /// when none is configured.
    pub fn offered_subprotocols(&self) -> Vec<String> {
        match (self.subprotocols.is_empty(), self.protocol.subprotocol()) {
            (true, Some(p)) => vec![p.to_owned()],
            _ => self.subprotocols.clone(),
        }
    }

    /// The parsed URL. Fails only on an endpoint that does not validate.
    pub fn target(&self) -> Result<Target, String> {
        parse_target(&self.url)
    }

    /// The URL with secret-looking query values (token, key, password, …) replaced, for display.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }
}

/// The reply timeout of a heartbeat whose interval was set but whose timeout was not: the
/// `default` while it is shorter than the interval, else half the interval. A default the
/// user never chose must not reject an interval they did (`--ping-interval 300ms` against a
/// 2 s pong timeout). Used for the pong timeout and the application reply timeout by the
/// command line, the configuration file and the app's form (`ui/src/lib/form.ts` mirrors it).
/// A zero interval keeps the default, so that only the interval is reported.
pub fn derived_timeout(interval: Duration, default: Duration) -> Duration {
    if interval.is_zero() || default < interval {
        default
    } else {
        interval / 2
    }
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            ping_interval: Duration::from_secs(15),
            pong_timeout: Duration::from_secs(5),
            misses_allowed: 1,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 4 << 20,
            max_frame_size: 1 << 20,
        }
    }
}

/// Header names the client sets itself; a user-supplied copy would break the handshake.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

impl Header {
    /// A header; marked secret when its name suggests a credential.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        let secret = looks_secret(&name);
        Header {
            name,
            value: value.into(),
            secret,
        }
    }

    /// Parses `Name: value` as typed on a command line or in a form.
    pub fn parse_line(line: &str) -> Result<Header, String> {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("`{}` is not `Name: value`", redact_line(line)))?;
        let (name, value) = (name.trim(), value.trim());
        check_header(name, value)?;
        Ok(Header::new(name, value))
    }

    /// The value as it may be shown: secrets masked.
    pub fn display_value(&self) -> &str {
        if self.secret {
            "••••••"
        } else {
            &self.value
        }
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("name", &self.name)
            .field("value", &self.display_value())
            .field("secret", &self.secret)
            .finish()
    }
}

/// Whether a header or query parameter name suggests a credential.
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "authorization" | "proxy-authorization" | "cookie"
    ) || [
        "token",
        "secret",
        "key",
        "password",
        "passwd",
        "auth",
        "session",
        "signature",
        "sig",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// What an error may quote of a line that is not `Name: value`: the would-be name at its
/// start, never what follows it. `Authorization Bearer …` or `X-Api-Key=…` typed without the
/// colon still carries the credential after the name.
fn redact_line(line: &str) -> String {
    let line = line.trim();
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let name_end = line.find(|c| !is_name_char(c)).unwrap_or(line.len());
    if name_end < line.len() {
        format!("{} …", crate::untrusted::bound(&line[..name_end], 40))
    } else if line.len() > 40 {
        // One long word: perhaps a credential pasted without its name.
        format!("{}…", line.chars().take(12).collect::<String>())
    } else {
        line.to_owned()
    }
}

fn check_header(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name must not be empty".into());
    }
    if !is_token(name) {
        return Err(format!(
            "`{name}` is not a legal header name (letters, digits and !#$%&'*+-.^_`|~ only)"
        ));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "`{name}` is set by Heartline itself{}",
            if name.eq_ignore_ascii_case("sec-websocket-protocol") {
                "; list subprotocols instead"
            } else {
                ""
            }
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| (c.is_control() && *c != '\t') || *c == '\u{7f}')
    {
        return Err(format!(
            "value of `{name}` contains the control character U+{:04X}",
            c as u32
        ));
    }
    if value.len() > 8192 {
        return Err(format!("value of `{name}` is longer than 8 KiB"));
    }
    Ok(())
}

/// RFC 9110 token: the characters legal in header names and subprotocols.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn check_range(bad: &mut impl FnMut(&str, String), field: &str, value: Duration, min: Duration) {
    if value < min {
        bad(
            field,
            format!("must be at least {}", crate::format_duration(min)),
        );
    } else if value > MAX_POLICY_DURATION {
        bad(field, "must be at most 24h".into());
    }
}

fn parse_target(raw: &str) -> Result<Target, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("must not be empty".into());
    }
    let url = url::Url::parse(raw).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => "must start with ws:// or wss://".to_owned(),
        other => format!("is not a valid URL: {other}"),
    })?;
    let secure = match url.scheme() {
        "ws" => false,
        "wss" => true,
        "http" | "https" => {
            return Err(format!(
                "scheme `{}` is HTTP; WebSocket URLs start with ws:// or wss://",
                url.scheme()
            ))
        }
        other => return Err(format!("scheme `{other}` is not ws or wss")),
    };
    let host = match url.host() {
        Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err("has no host".into()),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials; send them in a header instead".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment (RFC 6455 forbids it)".into());
    }
    let port = url
        .port_or_known_default()
        .unwrap_or(if secure { 443 } else { 80 });
    if port == 0 {
        return Err("port 0 is not a real port".into());
    }
    let mut resource = url.path().to_owned();
    if resource.is_empty() {
        resource.push('/');
    }
    if let Some(q) = url.query() {
        resource.push('?');
        resource.push_str(q);
    }
    Ok(Target {
        secure,
        host,
        port,
        resource,
        url: url.as_str().to_owned(),
    })
}

/// Masks values of secret-looking query parameters; leaves everything else as typed.
pub fn redact_url(raw: &str) -> String {
    // Credentials before the host (`ws://user:pass@host`) are refused by validation, but a URL
    // shown in an error was typed by a person and may still carry them.
    let raw = match raw.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://••••••@{}", &rest[at + 1..]),
                None => raw.to_owned(),
            }
        }
        None => raw.to_owned(),
    };
    let Some((base, rest)) = raw.split_once('?') else {
        return raw;
    };
    let (query, fragment) = match rest.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (rest, None),
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if looks_secret(&percent_decode_lossy(k)) => format!("{k}=••••••"),
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("{base}?{}", parts.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// A query parameter name as a server reads it (`%74oken` is `token`).
fn percent_decode_lossy(name: &str) -> String {
    percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(mutate: impl FnOnce(&mut Endpoint), expected: &[(&str, &str)]) {
        let mut e = Endpoint::new("lab", "ws://127.0.0.1:9000/echo");
        mutate(&mut e);
        let got = match e.validate() {
            Ok(()) => Vec::new(),
            Err(ConfigErrors(v)) => v,
        };
        assert_eq!(
            got.len(),
            expected.len(),
            "got {got:?}, expected {expected:?}"
        );
        for (g, (field, needle)) in got.iter().zip(expected) {
            assert_eq!(g.field, *field, "{got:?}");
            assert!(
                g.problem.contains(needle),
                "{:?} lacks {needle:?}",
                g.problem
            );
        }
    }

    #[test]
    fn an_unset_timeout_follows_the_interval_set() {
        let d = Duration::from_millis;
        // The default stays while it fits.
        assert_eq!(derived_timeout(d(15_000), d(5_000)), d(5_000));
        assert_eq!(derived_timeout(d(2_001), d(2_000)), d(2_000));
        // Otherwise half the interval: valid against the interval it came from.
        assert_eq!(derived_timeout(d(300), d(2_000)), d(150));
        assert_eq!(derived_timeout(d(2_000), d(2_000)), d(1_000));
        assert_eq!(derived_timeout(MIN_PING_INTERVAL, d(5_000)), d(50));
        assert_eq!(derived_timeout(Duration::ZERO, d(5_000)), d(5_000));
        let mut e = Endpoint::new("lab", "ws://127.0.0.1:9000/echo");
        e.heartbeat.ping_interval = d(300);
        e.heartbeat.pong_timeout = derived_timeout(d(300), Heartbeat::default().pong_timeout);
        assert_eq!(e.validate(), Ok(()));
    }

    #[test]
    fn validation_names_the_field_and_why() {
        check(|_| {}, &[]);
        check(|e| e.url = "wss://[::1]:443/a?b=c".into(), &[]);
        check(|e| e.url = "http://example.com".into(), &[("url", "HTTP")]);
        check(
            |e| e.url = "ftp://example.com".into(),
            &[("url", "not ws or wss")],
        );
        check(
            |e| e.url = "example.com/ws".into(),
            &[("url", "ws:// or wss://")],
        );
        check(|e| e.url = "ws://".into(), &[("url", "")]);
        check(|e| e.url = "ws://u:p@h/".into(), &[("url", "credentials")]);
        check(|e| e.url = "ws://h/#frag".into(), &[("url", "fragment")]);
        check(|e| e.url = "ws://h:99999/".into(), &[("url", "valid URL")]);
        check(|e| e.name = "  ".into(), &[("name", "empty")]);
        check(
            |e| e.headers = vec![Header::new("Bad Name", "x"), Header::new("Host", "h")],
            &[
                ("headers[0]", "legal header name"),
                ("headers[1]", "set by Heartline"),
            ],
        );
        check(
            |e| e.headers = vec![Header::new("X-A", "a\r\nb")],
            &[("headers[0]", "U+000D")],
        );
        check(
            |e| e.subprotocols = vec!["graphql ws".into()],
            &[("subprotocols[0]", "token")],
        );
        check(
            |e| {
                e.on_connect = vec![
                    Step::from("hex:0"),
                    Step::Expect {
                        reply: ReplyMatch::Regex("(".into()),
                        within: None,
                    },
                    Step::Expect {
                        reply: ReplyMatch::Contains("ack".into()),
                        within: Some(Duration::from_secs(600)),
                    },
                ]
            },
            &[
                ("on_connect[0]", "odd number"),
                ("on_connect[1]", "invalid regex"),
                ("on_connect[2]", "at most 5m"),
            ],
        );
        check(
            |e| e.on_connect = vec![Step::from("x"); MAX_STEPS + 1],
            &[("on_connect", "at most 64")],
        );
        check(
            |e| e.heartbeat.ping_interval = Duration::from_millis(50),
            &[
                ("heartbeat.ping_interval", "at least 100ms"),
                ("heartbeat.pong_timeout", "shorter"),
            ],
        );
        check(
            |e| e.heartbeat.pong_timeout = Duration::from_secs(15),
            &[(
                "heartbeat.pong_timeout",
                "shorter than the ping interval (15s >= 15s)",
            )],
        );
        check(
            |e| e.heartbeat.pong_timeout = Duration::ZERO,
            &[("heartbeat.pong_timeout", "positive")],
        );
        check(
            |e| e.heartbeat.ping_interval = Duration::from_secs(3 * 86_400),
            &[("heartbeat.ping_interval", "at most 24h")],
        );
        check(
            |e| {
                e.app_heartbeat = Some(Box::new(AppHeartbeat {
                    payload: String::new(),
                    reply: ReplyMatch::Regex("(".into()),
                    interval: Duration::from_secs(1),
                    timeout: Duration::from_secs(2),
                    misses_allowed: 0,
                }))
            },
            &[
                ("app_heartbeat.payload", "empty"),
                ("app_heartbeat.reply", "regex"),
                ("app_heartbeat.timeout", "shorter"),
            ],
        );
        check(
            |e| {
                e.staleness = Some(Staleness {
                    after: Duration::from_millis(10),
                    reconnect: true,
                })
            },
            &[("staleness.after", "at least")],
        );
        check(
            |e| e.handshake_timeout = Duration::from_secs(600),
            &[("handshake_timeout", "5m")],
        );
        check(
            |e| e.reconnect.multiplier = 0.5,
            &[("reconnect.multiplier", "at least 1")],
        );
        check(
            |e| e.health.failures_before_down = 0,
            &[("health.failures_before_down", "at least 1")],
        );
        check(
            |e| e.limits.max_frame_size = 10,
            &[("limits.max_frame_size", "1 KiB")],
        );
        check(|e| e.tags = vec!["a,b".into()], &[("tags[0]", "commas")]);
    }

    #[test]
    fn secret_placeholders_are_checked_by_field() {
        use crate::SecretVar;
        let token = || SecretVar::new("token", "s3cret-value");
        check(
            |e| {
                e.secret_vars = vec![token()];
                e.on_connect = vec![
                    Step::from(
                        r#"{"type":"connection_init","payload":{"authToken":"{{secret:token}}"}}"#,
                    ),
                    Step::from("plain"),
                    Step::from(r#"{"t":"{{secret:token}}{{secret:other}}"}"#),
                    Step::from("{{secret:token"),
                    Step::from("hex:{{secret:token}}"),
                ];
                e.app_heartbeat = Some(Box::new(AppHeartbeat {
                    payload: "ping {{secret:nope}}".into(),
                    reply: ReplyMatch::Contains("pong".into()),
                    interval: Duration::from_secs(10),
                    timeout: Duration::from_secs(2),
                    misses_allowed: 0,
                }));
            },
            &[
                ("app_heartbeat.payload", "no secret value \"nope\""),
                ("on_connect[2]", "no secret value \"other\""),
                ("on_connect[3]", "no closing"),
                // The parser's complaint would quote a piece of the secret.
                ("on_connect[4]", "once its secret values are put in"),
            ],
        );
        check(
            |e| {
                e.secret_vars = vec![
                    token(),
                    SecretVar::new("token", "x"),
                    SecretVar::new("a b", "x"),
                    SecretVar::new("", "x"),
                ]
            },
            &[
                ("secret_vars[1]", "\"token\" is given twice"),
                ("secret_vars[2]", "only letters"),
                ("secret_vars[3]", "empty"),
            ],
        );
        // The size limit counts the values put in.
        check(
            |e| {
                e.limits.max_frame_size = 1024;
                e.limits.max_message_size = 1024;
                e.secret_vars = vec![SecretVar::new("big", "x".repeat(2000))];
                e.on_connect = vec![Step::from("{{secret:big}}")];
            },
            &[("on_connect[0]", "larger than limits.max_message_size")],
        );
        // A value not filled in yet (a stored secret before the store was read) is valid.
        check(
            |e| {
                e.secret_vars = vec![SecretVar::new("token", "")];
                e.on_connect = vec![Step::from("{{secret:token}}")];
            },
            &[],
        );
        let mut e = Endpoint::new("x", "ws://h");
        e.secret_vars = vec![token()];
        assert_eq!(
            e.expand_secrets("40{\"token\":\"{{secret:token}}\"}")
                .unwrap(),
            "40{\"token\":\"s3cret-value\"}"
        );
        for err in e.validate().err().into_iter().flat_map(|e| e.0) {
            assert!(!err.problem.contains("s3cret"), "{err:?}");
        }
        assert!(!format!("{e:?}").contains("s3cret-value"));
    }

    #[test]
    fn target_parts() {
        let t = parse_target("wss://Example.COM/feed?x=1").unwrap();
        assert_eq!(
            t,
            Target {
                secure: true,
                host: "example.com".into(),
                port: 443,
                resource: "/feed?x=1".into(),
                url: "wss://example.com/feed?x=1".into(),
            }
        );
        let t = parse_target("ws://[::1]:8080").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.resource.as_str()),
            ("::1", 8080, "/")
        );
    }

    #[test]
    fn header_lines_and_secrets() {
        let h = Header::parse_line("Authorization: Bearer abc.def").unwrap();
        assert_eq!(
            (h.name.as_str(), h.value.as_str(), h.secret),
            ("Authorization", "Bearer abc.def", true)
        );
        assert!(!format!("{h:?}").contains("abc.def"));
        assert_eq!(h.display_value(), "••••••");
        let h = Header::parse_line("X-Client: heartline").unwrap();
        assert!(!h.secret);
        assert!(Header::parse_line("X-Api-Key: k").unwrap().secret);
        let err = Header::parse_line("no colon here").unwrap_err();
        assert!(err.contains("Name: value"), "{err}");
        let err = Header::parse_line("Bad Name: secret-value").unwrap_err();
        assert!(!err.contains("secret-value"), "{err}");
        // Without its colon a credential line is still a credential: only the name is shown.
        for line in [
            "Authorization Bearer abc.def",
            "X-Api-Key=k3y-value",
            "Cookie\tsid=abcdef",
        ] {
            let err = Header::parse_line(line).unwrap_err();
            let name = line.split([' ', '=', '\t']).next().unwrap();
            assert_eq!(err, format!("`{name} …` is not `Name: value`"));
        }
    }

    #[test]
    fn urls_are_redacted_for_display() {
        assert_eq!(
            redact_url("wss://h/ws?token=abc&room=1"),
            "wss://h/ws?token=••••••&room=1"
        );
        assert_eq!(
            redact_url("wss://h/ws?apiKey=abc"),
            "wss://h/ws?apiKey=••••••"
        );
        assert_eq!(redact_url("wss://h/ws"), "wss://h/ws");
        assert_eq!(
            redact_url("wss://alice:hunter2@h:9/ws?room=1"),
            "wss://••••••@h:9/ws?room=1"
        );
        assert_eq!(redact_url("ws://h/p@x"), "ws://h/p@x");
        assert_eq!(redact_url("ws://h/?%74oken=abc"), "ws://h/?%74oken=••••••");
    }
}
