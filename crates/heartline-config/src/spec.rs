//! The file's tree as written: every table and key of `heartline.toml` (and its JSON twin).
//!
//! Values whose reading can fail for reasons other than their type (durations, byte sizes)
//! are kept as written and read when the file is resolved, so that one run reports every bad
//! value with its line instead of stopping at the first.

use std::fmt;
use std::time::Duration;

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Policies applied to every endpoint that does not set its own value (`[defaults]`).
///
/// Every field is optional: `None` means "heartline_core's built-in default", so
/// `Defaults::default()` resolves exactly to the policies of [`heartline_core::Endpoint::new`].
/// [`Defaults::builtin`] spells those built-in values out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_interval: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pong_timeout: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misses_allowed: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_timeout: Option<HumanDuration>,
    /// A duration, or `"off"` so latency never degrades the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_rtt: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_before_down: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successes_before_up: Option<u32>,
    /// Unexpected session ends within `unstable_window` that make the endpoint Unstable
    /// (2–100; built in: 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unstable_after: Option<u32>,
    /// The window those ends are counted in (built in: 10m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unstable_window: Option<HumanDuration>,
    /// The quiet period without an unexpected end before an Unstable endpoint is Up again
    /// (built in: 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_after: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_size: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_frame_size: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "ReconnectSpec::is_empty")]
    pub reconnect: ReconnectSpec,
}

/// Reconnect policy keys (`[defaults.reconnect]` or `[endpoint.reconnect]`); each key unset
/// falls back to `[defaults.reconnect]`, then to the built-in policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconnectSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiplier: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_after: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<MaxAttempts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub try_again_factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_close_codes: Option<Vec<u16>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_http_status: Option<Vec<u16>>,
}

/// One `[[endpoint]]` table: the endpoint-specific keys plus optional overrides of every
/// `[defaults]` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub name: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subprotocols: Vec<String>,
    /// The application protocol spoken over the socket: `socketio`, `graphql-transport-ws`,
    /// `mqtt`, … (`heartline_core::Protocol`); absent means a bare WebSocket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// Plain handshake headers, in order. They are not treated as secrets even when their
    /// name looks like one; credentials belong in `secret_headers`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "ordered_map")]
    pub headers: Vec<(String, String)>,
    /// Credential headers: sent like `headers` (after them) but never shown, logged or
    /// written out.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "ordered_map")]
    pub secret_headers: Vec<(String, SecretValue)>,
    /// Credential query parameters (`token`, `api_key`, … — names that look like one): the
    /// URL names the parameter with an empty value (`?token=&room=1`, which shows where it
    /// goes), and the value comes from here, never shown, logged or written out. A parameter
    /// named here but absent from the URL is appended to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "ordered_map")]
    pub secret_query: Vec<(String, SecretValue)>,
    /// Named secret values that `on_connect` messages and the application heartbeat's payload
    /// use as `{{secret:NAME}}` (`secret_vars = { token = { env = "T" } }`): put in only when
    /// a message is sent, never shown, logged or written out.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "ordered_map")]
    pub secret_vars: Vec<(String, SecretValue)>,
    /// The conversation after the handshake: strings are messages to send, tables replies to
    /// wait for (`{ match = "connection_ack", within = "5s" }`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_connect: Vec<StepSpec>,

    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ping_interval: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pong_timeout: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misses_allowed: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_timeout: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_rtt: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures_before_down: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successes_before_up: Option<u32>,
    /// Unexpected session ends within `unstable_window` that make the endpoint Unstable
    /// (2–100; built in: 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unstable_after: Option<u32>,
    /// The window those ends are counted in (built in: 10m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unstable_window: Option<HumanDuration>,
    /// The quiet period without an unexpected end before an Unstable endpoint is Up again
    /// (built in: 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stable_after: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_message_size: Option<ByteSize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_frame_size: Option<ByteSize>,

    /// Expect some application message at least this often.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<HumanDuration>,
    /// Reconnect a stale session (default `true`) instead of only marking it Degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_reconnect: Option<bool>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_heartbeat: Option<AppHeartbeatSpec>,
    #[serde(default, skip_serializing_if = "ReconnectSpec::is_empty")]
    pub reconnect: ReconnectSpec,
}

/// `[endpoint.app_heartbeat]`: a payload sent on an interval and exactly one reply rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppHeartbeatSpec {
    pub payload: String,
    /// The reply contains this text.
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// The reply matches this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// `PATH=VALUE`: the reply is JSON whose field at the dotted PATH equals VALUE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// Default: the endpoint's `ping_interval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<HumanDuration>,
    /// Default: the endpoint's `pong_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    /// Default: the endpoint's `misses_allowed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misses_allowed: Option<u32>,
}

/// One `on_connect` step as written: a string is a message to send (`hex:`/`base64:` for
/// binary), a table a reply to wait for before the next step, with exactly one rule (`match`,
/// `regex` or `json = "PATH=VALUE"`, as for the application heartbeat) and an optional
/// `within` (default: the endpoint's `handshake_timeout`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StepSpec {
    Send(String),
    Expect(ExpectSpec),
}

impl From<&str> for StepSpec {
    fn from(payload: &str) -> Self {
        StepSpec::Send(payload.to_owned())
    }
}

/// `{ match = "…" }`, `{ regex = "…" }` or `{ json = "PATH=VALUE" }`, with `within`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<HumanDuration>,
}

// By hand rather than `untagged`, so that a table with a misspelt key gets the table's own
// error ("unknown field `matc`, expected one of …") instead of "did not match any variant".
impl<'de> Deserialize<'de> for StepSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StepVisitor;
        impl<'de> Visitor<'de> for StepVisitor {
            type Value = StepSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message to send (a string) or a reply to wait for (a table with `match`, `regex` or `json`)")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<StepSpec, E> {
                Ok(StepSpec::Send(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<StepSpec, E> {
                Ok(StepSpec::Send(v))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StepSpec, A::Error> {
                ExpectSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(StepSpec::Expect)
            }
        }
        d.deserialize_any(StepVisitor)
    }
}

/// Where the value of a secret header, secret query parameter or secret value comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretValue {
    /// Written in the file itself (`Authorization = "Bearer …"`). For a query parameter or a
    /// secret value this works but is reported as a warning: the file then holds the
    /// credential.
    Literal(String),
    /// Read from this environment variable when the file is resolved (`{ env = "VAR" }`).
    Env(String),
    /// Kept in Heartline's secret store; the caller fills it in (`{ stored = true }`).
    Stored,
}

/// A duration as written, e.g. `"15s"`, read with [`heartline_core::parse_duration`] when the
/// file is resolved.
#[derive(Clone, PartialEq, Eq)]
pub struct HumanDuration(String);

/// A byte count as written: an integer number of bytes or a string such as `"4MiB"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteSize {
    Bytes(u64),
    Text(String),
}

/// `max_attempts`: a count, or `"never"` to never give up (the built-in default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxAttempts {
    Never,
    After(u32),
}

impl Defaults {
    /// Every key set to heartline_core's built-in value, e.g. to show what applies.
    pub fn builtin() -> Self {
        let e = heartline_core::Endpoint::new("", "");
        let r = &e.reconnect;
        Defaults {
            ping_interval: Some(e.heartbeat.ping_interval.into()),
            pong_timeout: Some(e.heartbeat.pong_timeout.into()),
            misses_allowed: Some(e.heartbeat.misses_allowed),
            handshake_timeout: Some(e.handshake_timeout.into()),
            degraded_rtt: Some(HumanDuration::from_rtt(e.health.degraded_rtt)),
            failures_before_down: Some(e.health.failures_before_down),
            successes_before_up: Some(e.health.successes_before_up),
            unstable_after: Some(e.health.unstable_after),
            unstable_window: Some(e.health.unstable_window.into()),
            stable_after: Some(e.health.stable_after.into()),
            max_message_size: Some(e.limits.max_message_size.into()),
            max_frame_size: Some(e.limits.max_frame_size.into()),
            reconnect: ReconnectSpec {
                enabled: Some(r.enabled),
                initial: Some(r.initial.into()),
                multiplier: Some(r.multiplier),
                cap: Some(r.cap.into()),
                jitter: Some(r.jitter),
                reset_after: Some(r.reset_after.into()),
                max_attempts: Some(r.max_attempts.into()),
                try_again_factor: Some(r.try_again_factor),
                stop_on_close_codes: Some(r.stop_on_close_codes.clone()),
                stop_on_http_status: Some(r.stop_on_http_status.clone()),
            },
        }
    }

    /// No key set: everything falls back to the built-in defaults.
    pub fn is_empty(&self) -> bool {
        *self == Defaults::default()
    }
}

impl ReconnectSpec {
    /// No key set.
    pub fn is_empty(&self) -> bool {
        *self == ReconnectSpec::default()
    }
}

impl EndpointSpec {
    /// An endpoint with only its name and URL; everything else from the defaults.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        EndpointSpec {
            name: name.into(),
            url: url.into(),
            tags: Vec::new(),
            subprotocols: Vec::new(),
            protocol: None,
            headers: Vec::new(),
            secret_headers: Vec::new(),
            secret_query: Vec::new(),
            secret_vars: Vec::new(),
            on_connect: Vec::new(),
            ping_interval: None,
            pong_timeout: None,
            misses_allowed: None,
            handshake_timeout: None,
            degraded_rtt: None,
            failures_before_down: None,
            successes_before_up: None,
            unstable_after: None,
            unstable_window: None,
            stable_after: None,
            max_message_size: None,
            max_frame_size: None,
            stale_after: None,
            stale_reconnect: None,
            insecure: false,
            ca_file: None,
            app_heartbeat: None,
            reconnect: ReconnectSpec::default(),
        }
    }
}

impl fmt::Debug for SecretValue {
    /// Masks a literal value: a spec may be logged or shown in an error report.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretValue::Literal(_) => f.write_str("Literal(••••••)"),
            SecretValue::Env(var) => f.debug_tuple("Env").field(var).finish(),
            SecretValue::Stored => f.write_str("Stored"),
        }
    }
}

impl HumanDuration {
    /// A duration as a user would type it; checked only when read.
    pub fn new(text: impl Into<String>) -> Self {
        HumanDuration(text.into())
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Reads the duration, with heartline_core's message when the text is not one.
    pub fn get(&self) -> Result<Duration, String> {
        heartline_core::parse_duration(&self.0)
    }

    /// Whether this is the `"off"` that disables a latency threshold.
    pub fn is_off(&self) -> bool {
        self.0.trim().eq_ignore_ascii_case("off")
    }

    /// The file's spelling of an optional latency threshold.
    pub fn from_rtt(rtt: Option<Duration>) -> Self {
        rtt.map_or_else(|| HumanDuration::new("off"), HumanDuration::from)
    }
}

impl From<Duration> for HumanDuration {
    /// Formats with the largest exact unit; sub-millisecond parts are not representable.
    fn from(d: Duration) -> Self {
        HumanDuration(heartline_core::format_duration(d))
    }
}

impl From<&str> for HumanDuration {
    fn from(text: &str) -> Self {
        HumanDuration::new(text)
    }
}

impl fmt::Debug for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Binary units accepted after a number, largest first (the order [`ByteSize::from`] tries).
const SIZE_UNITS: [(&str, u64); 4] = [
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("B", 1),
];

impl ByteSize {
    /// Reads the number of bytes.
    pub fn get(&self) -> Result<usize, String> {
        let bytes = match self {
            ByteSize::Bytes(n) => *n,
            ByteSize::Text(text) => parse_size(text)?,
        };
        usize::try_from(bytes).map_err(|_| format!("{bytes} bytes is too large"))
    }
}

impl From<usize> for ByteSize {
    /// Uses the largest exact binary unit (`4MiB`), else a plain integer.
    fn from(n: usize) -> Self {
        let n = n as u64;
        for (unit, size) in &SIZE_UNITS[..3] {
            if n != 0 && n % size == 0 {
                return ByteSize::Text(format!("{}{unit}", n / size));
            }
        }
        if i64::try_from(n).is_ok() {
            ByteSize::Bytes(n)
        } else {
            // TOML integers are signed 64-bit.
            ByteSize::Text(format!("{n}B"))
        }
    }
}

impl From<Option<u32>> for MaxAttempts {
    fn from(v: Option<u32>) -> Self {
        v.map_or(MaxAttempts::Never, MaxAttempts::After)
    }
}

impl From<MaxAttempts> for Option<u32> {
    fn from(v: MaxAttempts) -> Self {
        match v {
            MaxAttempts::Never => None,
            MaxAttempts::After(n) => Some(n),
        }
    }
}

fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "`{text}` is not a size; write bytes as an integer or e.g. 64KiB, 4MiB, 1GiB"
        ));
    }
    let number: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("`{text}` has a number too large"))?;
    let unit = t[digits..].trim();
    if unit.is_empty() {
        return Ok(number);
    }
    let Some((_, size)) = SIZE_UNITS.iter().find(|(u, _)| *u == unit) else {
        return Err(format!(
            "`{unit}` in `{text}` is not a unit; use B, KiB, MiB or GiB (powers of 1024)"
        ));
    };
    number
        .checked_mul(*size)
        .ok_or_else(|| format!("`{text}` is too large"))
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SecretValue::Literal(v) => s.serialize_str(v),
            SecretValue::Env(var) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("env", var)?;
                m.end()
            }
            SecretValue::Stored => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("stored", &true)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SecretValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a string, { env = "VAR" } or { stored = true }"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretValue, E> {
                Ok(SecretValue::Literal(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretValue, A::Error> {
                let mut found = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value = match key.as_str() {
                        "env" => SecretValue::Env(map.next_value()?),
                        "stored" if map.next_value::<bool>()? => SecretValue::Stored,
                        "stored" => {
                            return Err(de::Error::custom(
                                "`stored` can only be true; give the value as a string or { env = \"VAR\" } instead",
                            ))
                        }
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown key `{other}`; a secret is a string, {{ env = \"VAR\" }} or {{ stored = true }}"
                            )))
                        }
                    };
                    if found.replace(value).is_some() {
                        return Err(de::Error::custom("give either `env` or `stored`, not both"));
                    }
                }
                found.ok_or_else(|| {
                    de::Error::custom(r#"needs { env = "VAR" } or { stored = true }"#)
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    /// Takes a bare integer too, so that `ping_interval = 15` is reported with the duration
    /// parser's "needs a unit" advice rather than a type error.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a duration such as "250ms", "15s" or "2m""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                Ok(HumanDuration(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<HumanDuration, E> {
                Ok(HumanDuration(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                Ok(HumanDuration(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ByteSize::Bytes(n) => s.serialize_u64(*n),
            ByteSize::Text(t) => s.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a number of bytes or a size such as "4MiB""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                Ok(ByteSize::Text(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize::Bytes(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSize, E> {
                u64::try_from(v)
                    .map(ByteSize::Bytes)
                    .map_err(|_| E::custom("a size must not be negative"))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for MaxAttempts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MaxAttempts::Never => s.serialize_str("never"),
            MaxAttempts::After(n) => s.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for MaxAttempts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaxAttempts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a number of attempts or "never""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MaxAttempts, E> {
                if v.trim().eq_ignore_ascii_case("never") {
                    Ok(MaxAttempts::Never)
                } else {
                    Err(E::custom(r#"must be a number of attempts or "never""#))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<MaxAttempts, E> {
                u32::try_from(v)
                    .map(MaxAttempts::After)
                    .map_err(|_| E::custom("is too large"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<MaxAttempts, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom("must not be negative"))
                    .and_then(|v| self.visit_u64(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A TOML table / JSON object read into a list, keeping the file's order (header order is
/// the order on the wire).
mod ordered_map {
    use super::*;

    pub fn serialize<S: Serializer, V: Serialize>(
        items: &[(String, V)],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(items.len()))?;
        for (k, v) in items {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<(String, V)>, D::Error> {
        struct Items<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Items<V> {
            type Value = Vec<(String, V)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of names and values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry()? {
                    out.push((k, v));
                }
                Ok(out)
            }
        }
        d.deserialize_map(Items(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_size(text: &str, expected: Result<usize, &str>) {
        let got = ByteSize::Text(text.into()).get();
        match (&got, &expected) {
            (Ok(g), Ok(e)) => assert_eq!(g, e, "{text:?}"),
            (Err(g), Err(e)) => assert!(g.contains(e), "{text:?}: {g:?} lacks {e:?}"),
            _ => panic!("{text:?}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn sizes_read_and_write() {
        check_size("4MiB", Ok(4 << 20));
        check_size(" 64 KiB ", Ok(64 << 10));
        check_size("1GiB", Ok(1 << 30));
        check_size("512B", Ok(512));
        check_size("1000", Ok(1000));
        check_size("4MB", Err("not a unit; use B, KiB, MiB or GiB"));
        check_size("MiB", Err("not a size"));
        check_size("99999999999999999999", Err("too large"));
        check_size("99999999999GiB", Err("too large"));
        for n in [0usize, 1, 1000, 1024, 4 << 20, 3 << 30, 1536] {
            assert_eq!(ByteSize::from(n).get(), Ok(n), "{n}");
        }
        assert_eq!(ByteSize::from(4usize << 20), ByteSize::Text("4MiB".into()));
        assert_eq!(ByteSize::from(1000usize), ByteSize::Bytes(1000));
    }

    #[test]
    fn literal_secrets_are_masked_in_debug() {
        let s = SecretValue::Literal("Bearer hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        let mut spec = EndpointSpec::new("a", "ws://h/");
        spec.secret_headers.push(("Authorization".into(), s));
        assert!(!format!("{spec:?}").contains("hunter2"));
    }
}
