//! Application protocols spoken over WebSocket: presets that know each protocol's handshake,
//! who heartbeats whom and how, and what the protocol's own refusal looks like.
//!
//! Everything here is a pure state machine over frames: [`ProtocolSession::on_open`] gives the
//! frames to send once the socket is open, [`ProtocolSession::on_message`] turns each frame the
//! server sends into a [`Reaction`] (replies to send, handshake done, a server heartbeat, the
//! reply to our own ping, a refusal), and [`ProtocolSession::ping`] builds the client's
//! heartbeat. The probe owns the clock: it times our pings (round trips) and the gaps between
//! the server's beats (intervals), and never confuses the two.
//!
//! Facts come from each project's specification (see `/work/shared/PROTOCOLS.md` in the
//! project notes and the source named on each preset).

mod frame;
mod json;
mod mqtt;
mod presets;

use std::fmt;
use std::time::Duration;

pub use frame::{Frame, PayloadError};

/// An application protocol preset, chosen per endpoint (`protocol = "socketio"`). Serialized
/// by its [`Protocol::as_str`] name only (the aliases [`str::parse`] takes are for people).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Bare WebSocket: RFC 6455 pings, `on_connect` messages and the optional application
    /// heartbeat exactly as configured.
    #[default]
    WebSocket,
    /// Engine.IO 4 / Socket.IO 4: the server pings `2`, the client answers `3`.
    SocketIo,
    /// Engine.IO 3 / Socket.IO 2: the client pings `2`, the server answers `3`.
    SocketIo3,
    /// graphql-transport-ws (the `graphql-ws` library): `connection_init` → `connection_ack`,
    /// `ping`/`pong` either way.
    #[serde(rename = "graphql-transport-ws")]
    GraphqlTransportWs,
    /// subscriptions-transport-ws (subprotocol `graphql-ws`): `connection_init` →
    /// `connection_ack`, then the server's `ka` keep-alives.
    #[serde(rename = "subscriptions-transport-ws")]
    SubscriptionsTransportWs,
    /// MQTT 3.1.1 over WebSocket (subprotocol `mqtt`, binary frames): CONNECT → CONNACK,
    /// PINGREQ → PINGRESP.
    Mqtt,
    /// MQTT 5 over WebSocket (subprotocol `mqtt`, binary frames): CONNECT → CONNACK with
    /// reason codes and the server's keep-alive, PINGREQ → PINGRESP, the broker's DISCONNECT.
    Mqtt5,
    /// Rails ActionCable: `welcome`, server pings every 3 s, `disconnect` with a reason.
    ActionCable,
    /// Pusher protocol 7: `pusher:connection_established`, `pusher:ping`/`pusher:pong`.
    Pusher,
    /// Phoenix Channels v2: client heartbeat on topic `phoenix`, answered by `phx_reply`.
    Phoenix,
    /// ASP.NET Core SignalR, JSON hub protocol: handshake, type 6 pings, record separator.
    SignalR,
    /// STOMP 1.2: CONNECT with heart-beat negotiation, EOL heart-beats, ERROR frames.
    Stomp,
}

impl Protocol {
    /// Every preset, in the order a form lists them.
    pub const ALL: [Protocol; 12] = [
        Protocol::WebSocket,
        Protocol::SocketIo,
        Protocol::SocketIo3,
        Protocol::GraphqlTransportWs,
        Protocol::SubscriptionsTransportWs,
        Protocol::Mqtt,
        Protocol::Mqtt5,
        Protocol::ActionCable,
        Protocol::Pusher,
        Protocol::Phoenix,
        Protocol::SignalR,
        Protocol::Stomp,
    ];

    /// The name used in configuration files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::WebSocket => "websocket",
            Protocol::SocketIo => "socketio",
            Protocol::SocketIo3 => "socketio3",
            Protocol::GraphqlTransportWs => "graphql-transport-ws",
            Protocol::SubscriptionsTransportWs => "subscriptions-transport-ws",
            Protocol::Mqtt => "mqtt",
            Protocol::Mqtt5 => "mqtt5",
            Protocol::ActionCable => "actioncable",
            Protocol::Pusher => "pusher",
            Protocol::Phoenix => "phoenix",
            Protocol::SignalR => "signalr",
            Protocol::Stomp => "stomp",
        }
    }

    /// A person's name for the preset.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::WebSocket => "WebSocket (no application protocol)",
            Protocol::SocketIo => "Socket.IO 4 (Engine.IO 4)",
            Protocol::SocketIo3 => "Socket.IO 2 (Engine.IO 3)",
            Protocol::GraphqlTransportWs => "GraphQL over WebSocket (graphql-transport-ws)",
            Protocol::SubscriptionsTransportWs => "GraphQL subscriptions-transport-ws (legacy)",
            Protocol::Mqtt => "MQTT 3.1.1",
            Protocol::Mqtt5 => "MQTT 5",
            Protocol::ActionCable => "Rails ActionCable",
            Protocol::Pusher => "Pusher protocol 7",
            Protocol::Phoenix => "Phoenix Channels v2",
            Protocol::SignalR => "ASP.NET Core SignalR (JSON)",
            Protocol::Stomp => "STOMP 1.2",
        }
    }

    /// The subprotocol the preset needs offered in the handshake, if it needs one.
    pub fn subprotocol(self) -> Option<&'static str> {
        match self {
            Protocol::GraphqlTransportWs => Some("graphql-transport-ws"),
            Protocol::SubscriptionsTransportWs => Some("graphql-ws"),
            Protocol::Mqtt | Protocol::Mqtt5 => Some("mqtt"),
            Protocol::ActionCable => Some("actioncable-v1-json"),
            Protocol::Stomp => Some("v12.stomp"),
            Protocol::WebSocket
            | Protocol::SocketIo
            | Protocol::SocketIo3
            | Protocol::Pusher
            | Protocol::Phoenix
            | Protocol::SignalR => None,
        }
    }

    /// What `code` means under this protocol, when the protocol gives it a meaning of its own
    /// (the registry's meaning applies otherwise: [`crate::close_code::meaning`]).
    pub fn close_meaning(self, code: u16) -> Option<CloseMeaning> {
        presets::close_meaning(self, code)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let wanted = s.trim().to_ascii_lowercase();
        let alias = match wanted.as_str() {
            "" | "ws" | "none" | "websocket" => Some(Protocol::WebSocket),
            "socket.io" | "engine.io" | "eio4" => Some(Protocol::SocketIo),
            "eio3" => Some(Protocol::SocketIo3),
            "graphql-ws" => Some(Protocol::SubscriptionsTransportWs),
            "graphql" => Some(Protocol::GraphqlTransportWs),
            "action-cable" => Some(Protocol::ActionCable),
            "stomp12" => Some(Protocol::Stomp),
            "mqtt3" | "mqtt311" | "mqtt3.1.1" => Some(Protocol::Mqtt),
            "mqttv5" | "mqtt-5" => Some(Protocol::Mqtt5),
            _ => None,
        };
        alias
            .or_else(|| Protocol::ALL.into_iter().find(|p| p.as_str() == wanted))
            .ok_or_else(|| {
                let names: Vec<_> = Protocol::ALL.iter().map(|p| p.as_str()).collect();
                format!(
                    "unknown protocol `{s}`; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The preset a URL or an offered subprotocol suggests, if any: `/socket.io/` → Socket.IO
/// (`EIO=3` → Engine.IO 3), `/cable` → ActionCable, `/socket/websocket` → Phoenix, `/app/<key>`
/// with `protocol=7` → Pusher, and the subprotocols each preset uses. MQTT's subprotocol is
/// the same for 3.1.1 and 5; the suggestion is 3.1.1, which every broker accepts (a 3.1.1-only
/// broker refuses an MQTT 5 CONNECT).
pub fn suggest(url: &str, subprotocols: &[String]) -> Option<Protocol> {
    for p in subprotocols {
        let p = p.to_ascii_lowercase();
        let found = match p.as_str() {
            "graphql-transport-ws" => Some(Protocol::GraphqlTransportWs),
            "graphql-ws" => Some(Protocol::SubscriptionsTransportWs),
            "mqtt" | "mqttv3.1" => Some(Protocol::Mqtt),
            "actioncable-v1-json" => Some(Protocol::ActionCable),
            "v10.stomp" | "v11.stomp" | "v12.stomp" => Some(Protocol::Stomp),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    let parsed = url::Url::parse(url).ok()?;
    let path = parsed.path().trim_end_matches('/');
    let query = |key: &str| {
        parsed
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    if path.ends_with("/socket.io") || path.contains("/socket.io/") {
        return Some(match query("EIO").as_deref() {
            Some("3") => Protocol::SocketIo3,
            _ => Protocol::SocketIo,
        });
    }
    if path.ends_with("/cable") {
        return Some(Protocol::ActionCable);
    }
    if path.ends_with("/socket/websocket") || path.ends_with("/live/websocket") {
        return Some(Protocol::Phoenix);
    }
    if path.starts_with("/app/") && query("protocol").is_some() {
        return Some(Protocol::Pusher);
    }
    if path.ends_with("/mqtt") {
        return Some(Protocol::Mqtt);
    }
    None
}

/// What the probe passes a preset: the few facts it needs that are not in the frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    /// Host name of the endpoint (STOMP's `host` header).
    pub host: String,
    /// MQTT client identifier (the probe makes one unique per process).
    pub client_id: String,
    /// How often the client heartbeats; MQTT's keep-alive and STOMP's heart-beat derive from it.
    pub heartbeat: Duration,
}

/// How often the client heartbeats once the server has set its keep-alive: the configured
/// interval, or half the server's keep-alive when that is shorter (so a beat always arrives
/// well within it). A zero keep-alive sets no limit.
pub fn client_beat_within(configured: Duration, keep_alive: Duration) -> Duration {
    if keep_alive.is_zero() {
        configured
    } else {
        configured.min(keep_alive / 2)
    }
}

/// Why the application refused a session whose WebSocket was fine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusalClass {
    /// Missing or wrong credentials: fix them, retrying will not help.
    Credentials,
    /// Authenticated but not allowed (forbidden, banned, quota): retrying will not help.
    Policy,
    /// The server is overloaded or rate-limiting: back off harder.
    Overload,
    /// The server is restarting or moving the client: reconnect promptly.
    ServerRestart,
    /// The client spoke the protocol wrongly (or an unsupported version).
    Protocol,
    /// Anything else the server gave as a reason.
    Other,
}

impl RefusalClass {
    /// Every class, in a fixed order (the metrics index their counters by it).
    pub const ALL: [RefusalClass; 6] = [
        RefusalClass::Credentials,
        RefusalClass::Policy,
        RefusalClass::Overload,
        RefusalClass::ServerRestart,
        RefusalClass::Protocol,
        RefusalClass::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalClass::Credentials => "credentials",
            RefusalClass::Policy => "policy",
            RefusalClass::Overload => "overload",
            RefusalClass::ServerRestart => "server_restart",
            RefusalClass::Protocol => "protocol",
            RefusalClass::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        RefusalClass::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Whether reconnecting cannot help until a person changes something.
    pub fn is_final(self) -> bool {
        matches!(self, RefusalClass::Credentials | RefusalClass::Policy)
    }

    /// A class from the words of a reason, for protocols whose refusals carry only text
    /// (Socket.IO's `connect_error`, STOMP's `ERROR`, SignalR's handshake error).
    pub fn from_reason(reason: &str) -> Self {
        let r = reason.to_ascii_lowercase();
        let any = |words: &[&str]| words.iter().any(|w| r.contains(w));
        if any(&[
            "unauthori",
            "unauthenticated",
            "authentication",
            "credential",
            "password",
            "token",
            "login",
            "not authorized",
            "access refused",
            "auth",
        ]) {
            RefusalClass::Credentials
        } else if any(&[
            "forbidden",
            "denied",
            "not allowed",
            "not permitted",
            "prohibited",
            "permission",
            "banned",
        ]) {
            RefusalClass::Policy
        } else if any(&[
            "too many",
            "rate limit",
            "overload",
            "busy",
            "capacity",
            "quota",
            "unavailable",
        ]) {
            RefusalClass::Overload
        } else if any(&["restart", "shutting down", "going away", "reconnect"]) {
            RefusalClass::ServerRestart
        } else {
            RefusalClass::Other
        }
    }
}

/// The application's own refusal, with the protocol's reason (untrusted text: the probe
/// cleans it before it goes anywhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub class: RefusalClass,
    pub reason: String,
}

/// A close code's meaning under one protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseMeaning {
    pub meaning: &'static str,
    /// Set when the code is the application refusing the client.
    pub refusal: Option<RefusalClass>,
}

/// Which heartbeat a message was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// The server's own heartbeat (answered through [`Reaction::replies`] when the protocol
    /// wants an answer). Measured as an interval, never as a round trip.
    Server,
    /// The reply to the client's last [`ProtocolSession::ping`]: a round trip.
    Pong,
}

/// What one message from the server means under the preset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reaction {
    /// Frames to send back now (answers to server pings, a handshake's next step).
    pub replies: Vec<Frame>,
    /// The protocol handshake completed with this message.
    pub ready: bool,
    pub beat: Option<Beat>,
    /// The application refused the session.
    pub refused: Option<Refusal>,
    /// The message is the application's own traffic (an event, a publish), not protocol
    /// housekeeping: it counts for staleness and may be an application-heartbeat reply.
    pub app: bool,
    /// A server heartbeat schedule learnt from this message (Engine.IO's `pingInterval` +
    /// `pingTimeout`, Pusher's `activity_timeout`, STOMP's negotiated heart-beat).
    pub beat_deadline: Option<Duration>,
    /// The server set the client's keep-alive (MQTT 5 Server Keep Alive): the longest the
    /// client may stay silent, replacing the one it asked for; zero means no limit. See
    /// [`client_beat_within`].
    pub keep_alive: Option<Duration>,
}

impl Reaction {
    fn app() -> Self {
        Reaction {
            app: true,
            ..Reaction::default()
        }
    }

    fn server_beat(replies: Vec<Frame>) -> Self {
        Reaction {
            replies,
            beat: Some(Beat::Server),
            ..Reaction::default()
        }
    }

    fn pong() -> Self {
        Reaction {
            beat: Some(Beat::Pong),
            ..Reaction::default()
        }
    }

    fn ready() -> Self {
        Reaction {
            ready: true,
            ..Reaction::default()
        }
    }

    fn refused(class: RefusalClass, reason: impl Into<String>) -> Self {
        Reaction {
            refused: Some(Refusal {
                class,
                reason: reason.into(),
            }),
            ..Reaction::default()
        }
    }

    fn housekeeping() -> Self {
        Reaction::default()
    }
}

/// One session's protocol state.
#[derive(Debug, Clone)]
pub struct ProtocolSession {
    protocol: Protocol,
    params: SessionParams,
    ready: bool,
    /// The user's own version of the protocol's handshake message (credentials in a Socket.IO
    /// `40{…}` or a graphql `connection_init` payload), sent instead of the preset's.
    init: Option<Frame>,
    /// The reference of our outstanding Phoenix heartbeat.
    next_ref: u64,
    outstanding_ref: Option<u64>,
}

impl ProtocolSession {
    pub fn new(protocol: Protocol, params: SessionParams) -> Self {
        ProtocolSession {
            protocol,
            params,
            ready: false,
            init: None,
            next_ref: 0,
            outstanding_ref: None,
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Whether the protocol handshake has completed (the user's `on_connect` messages wait
    /// for it).
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Whether `frame` is this protocol's handshake message written by the user (a Socket.IO
    /// namespace connect `40…`, a graphql `connection_init`, an MQTT CONNECT): configured as the
    /// first `on_connect` message, it replaces the preset's own, so credentials can travel in
    /// it. Returns whether it was taken.
    pub fn take_init(&mut self, frame: &Frame) -> bool {
        let is_init = match (self.protocol, frame) {
            (Protocol::SocketIo, Frame::Text(t)) => t.starts_with("40"),
            (Protocol::GraphqlTransportWs | Protocol::SubscriptionsTransportWs, Frame::Text(t)) => {
                json::parse(t)
                    .as_ref()
                    .and_then(|v| json::str_field(v, "type"))
                    == Some("connection_init")
            }
            (Protocol::Mqtt | Protocol::Mqtt5, Frame::Binary(b)) => {
                b.first().is_some_and(|b| b >> 4 == 1)
            }
            (Protocol::Stomp, Frame::Text(t)) => {
                t.starts_with("CONNECT\n") || t.starts_with("STOMP\n")
            }
            _ => false,
        };
        if is_init {
            self.init = Some(frame.clone());
        }
        is_init
    }

    /// Frames to send as soon as the WebSocket is open. Marks the session ready at once for
    /// protocols with no handshake of their own.
    pub fn on_open(&mut self) -> Vec<Frame> {
        let (mut frames, ready) = presets::on_open(self.protocol, &self.params);
        self.ready = ready;
        if let (Some(init), Some(first)) = (&self.init, frames.first_mut()) {
            *first = init.clone();
        }
        frames
    }

    /// What a message from the server means.
    pub fn on_message(&mut self, frame: &Frame) -> Reaction {
        let mut reaction = presets::on_message(self, frame);
        if reaction.ready {
            if self.ready {
                reaction.ready = false;
            } else {
                self.ready = true;
            }
        }
        reaction
    }

    /// The client's heartbeat, if the preset has one and the handshake is done.
    pub fn ping(&mut self) -> Option<Frame> {
        if !self.ready {
            return None;
        }
        presets::ping(self)
    }

    /// Whether the server answers [`ProtocolSession::ping`] (SignalR's and STOMP's client
    /// beats are one-way: they keep the connection alive but measure nothing).
    pub fn ping_expects_reply(&self) -> bool {
        !matches!(self.protocol, Protocol::SignalR | Protocol::Stomp)
    }

    /// Whether the client should heartbeat at all under this preset.
    pub fn has_client_ping(&self) -> bool {
        !matches!(
            self.protocol,
            Protocol::WebSocket
                | Protocol::SocketIo
                | Protocol::SubscriptionsTransportWs
                | Protocol::ActionCable
        )
    }

    /// How long after the last server beat (or the handshake) a missing beat means trouble,
    /// before the server has said anything about its schedule. `None`: the server does not
    /// heartbeat under this preset.
    pub fn default_beat_deadline(&self) -> Option<Duration> {
        match self.protocol {
            // pingInterval 25 s + pingTimeout 20 s, until the open packet says otherwise.
            Protocol::SocketIo => Some(Duration::from_secs(45)),
            // Apollo's client considers the server gone 30 s after a keep-alive.
            Protocol::SubscriptionsTransportWs => Some(Duration::from_secs(30)),
            // Pings every 3 s; the Rails client calls the connection stale after 6 s.
            Protocol::ActionCable => Some(Duration::from_secs(6)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
