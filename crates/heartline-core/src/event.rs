//! What happened, timestamped: the closed vocabulary every other crate speaks.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::endpoint::EndpointId;
use crate::health::State;
use crate::protocol::{Protocol, RefusalClass};

/// Wall-clock instant in milliseconds since the Unix epoch (UTC). Callers supply it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_system(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX)),
        }
    }

    pub fn to_system(self) -> SystemTime {
        if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_millis(self.0.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_millis(self.0.unsigned_abs())
        }
    }
}

/// One thing that happened to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub at: Timestamp,
    pub endpoint: EndpointId,
    pub kind: EventKind,
}

/// The closed set of things that happen to an endpoint.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A connection attempt starts (attempt counts from 1 and resets after a healthy session).
    Connecting { attempt: u32 },
    /// The handshake completed.
    Connected { attempt: u32, handshake: Handshake },
    /// A heartbeat round trip, measured from send to reply on a monotonic clock.
    Rtt { kind: PingKind, rtt: Duration },
    /// A heartbeat reply did not arrive in time; `missed` counts consecutive misses. For
    /// [`PingKind::Server`], the server's own heartbeat did not arrive by its deadline.
    PongMissed { kind: PingKind, missed: u32 },
    /// The server's own heartbeat arrived (Socket.IO `2`, ActionCable `ping`, graphql `ping`,
    /// …) and was answered as the protocol requires. `interval` is the time since its previous
    /// beat (or since the protocol handshake, for the first), `jitter` the difference from the
    /// previous interval. Never a round trip: RTT comes only from exchanges the client starts.
    ServerBeat {
        interval: Duration,
        jitter: Duration,
    },
    /// No application message arrived for `silent`.
    Stale { silent: Duration },
    /// A session ended, exactly once per session.
    Closed {
        end: SessionEnd,
        stats: SessionStats,
    },
    /// A connection attempt failed before the session opened.
    HandshakeFailed(HandshakeFailure),
    /// The next attempt is scheduled after `delay`.
    ReconnectScheduled {
        attempt: u32,
        delay: Duration,
        reason: RetryReason,
    },
    /// Reconnecting stopped (credentials/policy, attempts exhausted, or disabled).
    GaveUp { reason: String },
    /// The health state changed.
    StateChanged { from: State, to: State },
}

impl EventKind {
    /// Applies `f` to every text in the event that came from outside the process (close
    /// reasons, error strings, a give-up reason quoting a server): the one place that knows
    /// which fields those are, so a scrubber cannot miss one.
    pub fn map_untrusted(&mut self, mut f: impl FnMut(&str) -> String) {
        match self {
            EventKind::Closed { end, .. } => match end {
                SessionEnd::ClosedByServer { reason, .. }
                | SessionEnd::ClosedByClient { reason, .. }
                | SessionEnd::Refused { reason, .. } => *reason = f(reason),
                SessionEnd::Lost { error } => *error = f(error),
            },
            EventKind::HandshakeFailed(failure) => failure.error = f(&failure.error),
            EventKind::GaveUp { reason } => *reason = f(reason),
            EventKind::Connected { handshake, .. } => {
                if let Some(p) = &mut handshake.subprotocol {
                    *p = f(p);
                }
                for e in &mut handshake.extensions {
                    *e = f(e);
                }
            }
            EventKind::Connecting { .. }
            | EventKind::Rtt { .. }
            | EventKind::PongMissed { .. }
            | EventKind::ServerBeat { .. }
            | EventKind::Stale { .. }
            | EventKind::ReconnectScheduled { .. }
            | EventKind::StateChanged { .. } => {}
        }
    }

    /// The snake_case name used in every output format.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Connecting { .. } => "connecting",
            EventKind::Connected { .. } => "connected",
            EventKind::Rtt { .. } => "rtt",
            EventKind::PongMissed { .. } => "pong_missed",
            EventKind::ServerBeat { .. } => "server_beat",
            EventKind::Stale { .. } => "stale",
            EventKind::Closed { .. } => "closed",
            EventKind::HandshakeFailed(_) => "handshake_failed",
            EventKind::ReconnectScheduled { .. } => "reconnect_scheduled",
            EventKind::GaveUp { .. } => "gave_up",
            EventKind::StateChanged { .. } => "state",
        }
    }
}

/// Which heartbeat a round trip or miss belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PingKind {
    /// RFC 6455 ping/pong control frames.
    Protocol,
    /// An application-level heartbeat the client starts: the endpoint's configured one, or
    /// the protocol preset's (graphql `ping`, MQTT PINGREQ, Phoenix `heartbeat`, …).
    App,
    /// The server's own heartbeat (only ever missed, never a round trip).
    Server,
}

impl PingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PingKind::Protocol => "protocol",
            PingKind::App => "app",
            PingKind::Server => "server",
        }
    }
}

/// The phases of opening a session, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    Dns,
    Tcp,
    Tls,
    Upgrade,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Tcp => "tcp",
            Phase::Tls => "tls",
            Phase::Upgrade => "upgrade",
        }
    }
}

/// How long each handshake phase took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Phases {
    /// Zero for an IP literal.
    pub dns: Duration,
    pub tcp: Duration,
    /// `None` for `ws://`.
    pub tls: Option<Duration>,
    /// HTTP upgrade request to 101 response.
    pub upgrade: Duration,
}

impl Phases {
    pub fn total(&self) -> Duration {
        self.dns + self.tcp + self.tls.unwrap_or_default() + self.upgrade
    }
}

/// What the handshake negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub phases: Phases,
    pub peer: SocketAddr,
    pub subprotocol: Option<String>,
    /// Extensions the server accepted, as listed in `Sec-WebSocket-Extensions`.
    pub extensions: Vec<String>,
}

/// A failed connection attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeFailure {
    pub phase: FailedPhase,
    /// The underlying error in words (never containing header values).
    pub error: String,
    /// Time from the start of the attempt to the failure.
    pub elapsed: Duration,
}

/// Where a connection attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailedPhase {
    Dns,
    Tcp,
    Tls,
    /// The upgrade failed: a status other than 101, a bad 101, or the connection dropped
    /// before any response (`status: None`).
    Http {
        status: Option<u16>,
        /// The server's `Retry-After`, when it sent one in seconds.
        retry_after: Option<Duration>,
    },
    /// The handshake deadline passed while in `during`.
    Timeout {
        during: Phase,
    },
}

impl FailedPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            FailedPhase::Dns => "dns",
            FailedPhase::Tcp => "tcp",
            FailedPhase::Tls => "tls",
            FailedPhase::Http { .. } => "http",
            FailedPhase::Timeout { .. } => "timeout",
        }
    }

    pub fn status(self) -> Option<u16> {
        match self {
            FailedPhase::Http { status, .. } => status,
            _ => None,
        }
    }
}

/// Who ended a session. Serialized by its [`Initiator::as_str`] name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Initiator {
    /// The server sent a close frame.
    Server,
    /// Heartline closed it.
    Client,
    /// Neither: the connection was lost without a close frame.
    Network,
}

impl Initiator {
    pub const ALL: [Initiator; 3] = [Initiator::Server, Initiator::Client, Initiator::Network];

    pub fn as_str(self) -> &'static str {
        match self {
            Initiator::Server => "server",
            Initiator::Client => "client",
            Initiator::Network => "network",
        }
    }

    /// The initiator an [`Initiator::as_str`] name stands for.
    pub fn parse(name: &str) -> Option<Initiator> {
        Initiator::ALL.into_iter().find(|i| i.as_str() == name)
    }
}

/// Why Heartline closed a session. Serialized by its [`CloseCause::as_str`] name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CloseCause {
    /// Protocol pongs stopped (more misses than allowed).
    PongTimeout,
    /// Application heartbeat replies stopped.
    AppPongTimeout,
    /// No application message within the staleness window.
    Stale,
    /// The user paused, removed or reconnected the endpoint.
    User,
    /// The engine or program is shutting down.
    Shutdown,
    /// A `--for` run time elapsed.
    DurationElapsed,
    /// The server sent a message or frame over the configured limit.
    MessageTooBig,
    /// The server broke the protocol (e.g. invalid UTF-8 in a text frame).
    ProtocolError,
    /// The endpoint's configuration changed.
    Reconfigured,
    /// The server's own heartbeat stopped (more missed beats than allowed).
    ServerBeatMissed,
    /// The protocol preset's handshake got no answer within the handshake timeout.
    ProtocolHandshakeTimeout,
}

impl CloseCause {
    pub const ALL: [CloseCause; 11] = [
        CloseCause::PongTimeout,
        CloseCause::AppPongTimeout,
        CloseCause::Stale,
        CloseCause::User,
        CloseCause::Shutdown,
        CloseCause::DurationElapsed,
        CloseCause::MessageTooBig,
        CloseCause::ProtocolError,
        CloseCause::Reconfigured,
        CloseCause::ServerBeatMissed,
        CloseCause::ProtocolHandshakeTimeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CloseCause::PongTimeout => "pong_timeout",
            CloseCause::AppPongTimeout => "app_pong_timeout",
            CloseCause::Stale => "stale",
            CloseCause::User => "user",
            CloseCause::Shutdown => "shutdown",
            CloseCause::DurationElapsed => "duration_elapsed",
            CloseCause::MessageTooBig => "message_too_big",
            CloseCause::ProtocolError => "protocol_error",
            CloseCause::Reconfigured => "reconfigured",
            CloseCause::ServerBeatMissed => "server_beat_missed",
            CloseCause::ProtocolHandshakeTimeout => "protocol_handshake_timeout",
        }
    }

    /// Whether a session that ended with this cause ended without anybody choosing it: every
    /// cause but user, shutdown, reconfiguration and a run's time limit.
    pub fn is_unexpected(self) -> bool {
        !matches!(
            self,
            CloseCause::User
                | CloseCause::Shutdown
                | CloseCause::Reconfigured
                | CloseCause::DurationElapsed
        )
    }

    /// Whether the session ended because something was wrong with the peer or path
    /// (as opposed to the user or the program deciding to stop).
    pub fn is_fault(self) -> bool {
        matches!(
            self,
            CloseCause::PongTimeout
                | CloseCause::AppPongTimeout
                | CloseCause::Stale
                | CloseCause::MessageTooBig
                | CloseCause::ProtocolError
                | CloseCause::ServerBeatMissed
                | CloseCause::ProtocolHandshakeTimeout
        )
    }
}

/// How a session ended: exactly one of these per session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The server sent a close frame (code 1005 when it carried no status).
    ClosedByServer { code: u16, reason: String },
    /// Heartline closed the session. `clean` when the server answered our close frame in time;
    /// a dead peer is abandoned on a deadline instead.
    ClosedByClient {
        cause: CloseCause,
        code: u16,
        reason: String,
        clean: bool,
    },
    /// The connection was lost without a close frame (EOF, RST, I/O error): 1006.
    Lost { error: String },
    /// The WebSocket was fine but the application protocol refused the session (Socket.IO
    /// `connect_error`, MQTT CONNACK refusal, graphql-ws 4401/4403, ActionCable `disconnect`,
    /// STOMP `ERROR`, …). `code` is the close code the server sent, or the one Heartline
    /// closed with after the refusal message; `reason` is the protocol's own words.
    Refused {
        protocol: Protocol,
        class: RefusalClass,
        code: u16,
        reason: String,
    },
}

impl SessionEnd {
    /// The close code as charted: 1006 when no close frame was exchanged.
    pub fn code(&self) -> u16 {
        match self {
            SessionEnd::ClosedByServer { code, .. }
            | SessionEnd::ClosedByClient { code, .. }
            | SessionEnd::Refused { code, .. } => *code,
            SessionEnd::Lost { .. } => 1006,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            SessionEnd::ClosedByServer { reason, .. }
            | SessionEnd::ClosedByClient { reason, .. }
            | SessionEnd::Refused { reason, .. } => reason,
            SessionEnd::Lost { error } => error,
        }
    }

    pub fn initiator(&self) -> Initiator {
        match self {
            // A refusal is the server's decision, whoever then sent the close frame.
            SessionEnd::ClosedByServer { .. } | SessionEnd::Refused { .. } => Initiator::Server,
            SessionEnd::ClosedByClient { .. } => Initiator::Client,
            SessionEnd::Lost { .. } => Initiator::Network,
        }
    }

    pub fn clean(&self) -> bool {
        match self {
            SessionEnd::ClosedByServer { .. } | SessionEnd::Refused { .. } => true,
            SessionEnd::ClosedByClient { clean, .. } => *clean,
            SessionEnd::Lost { .. } => false,
        }
    }

    pub fn cause(&self) -> Option<CloseCause> {
        match self {
            SessionEnd::ClosedByClient { cause, .. } => Some(*cause),
            _ => None,
        }
    }

    /// Whether nobody chose this end: every end except the ones Heartline was told to make
    /// (user, shutdown, reconfiguration, a run's time limit). Drops per hour, session
    /// stability and the instability rule count these.
    pub fn is_unexpected(&self) -> bool {
        self.cause().is_none_or(CloseCause::is_unexpected)
    }
}

/// Counters for one session. Message bodies are counted, not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionStats {
    pub duration: Duration,
    /// Time since the last application message (or since the session opened) when it ended:
    /// the idle time an intermediary's idle timeout would have seen, pings aside.
    pub silent_for: Duration,
    pub messages_in: u64,
    pub bytes_in: u64,
    pub messages_out: u64,
    pub bytes_out: u64,
}

/// Why a reconnect was scheduled with the delay it has. Serialized by its
/// [`RetryReason::as_str`] name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RetryReason {
    /// Ordinary exponential backoff.
    Backoff,
    /// The server said 1012 (service restart): retry promptly.
    ServiceRestart,
    /// The server said 1013 (try again later): back off harder.
    TryAgainLater,
    /// The server's `Retry-After` header set the delay.
    RetryAfter,
}

impl RetryReason {
    pub const ALL: [RetryReason; 4] = [
        RetryReason::Backoff,
        RetryReason::ServiceRestart,
        RetryReason::TryAgainLater,
        RetryReason::RetryAfter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::Backoff => "backoff",
            RetryReason::ServiceRestart => "service_restart",
            RetryReason::TryAgainLater => "try_again_later",
            RetryReason::RetryAfter => "retry_after",
        }
    }
}

impl fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionEnd::ClosedByServer { code, reason } => {
                write!(
                    f,
                    "server closed with {code} ({})",
                    crate::close_code::meaning(*code)
                )?;
                if !reason.is_empty() {
                    write!(f, ": {reason}")?;
                }
                Ok(())
            }
            SessionEnd::ClosedByClient {
                cause, code, clean, ..
            } => write!(
                f,
                "closed by Heartline ({}) with {code}{}",
                cause.as_str(),
                if *clean { "" } else { ", no close reply" }
            ),
            SessionEnd::Lost { error } => write!(f, "lost without a close frame (1006): {error}"),
            SessionEnd::Refused {
                protocol,
                class,
                code,
                reason,
            } => {
                write!(
                    f,
                    "refused by the application ({}, {}) with {code}",
                    protocol.as_str(),
                    class.as_str()
                )?;
                if let Some(m) = protocol.close_meaning(*code) {
                    write!(f, " ({})", m.meaning)?;
                }
                if !reason.is_empty() {
                    write!(f, ": {reason}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for HandshakeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.phase {
            FailedPhase::Http {
                status: Some(status),
                ..
            } => {
                // The probe words a refusal as the status line says it ("503 Service
                // Unavailable", then any body quote): the status is said once, here.
                let code = status.to_string();
                match self.error.strip_prefix(code.as_str()) {
                    Some(rest) if rest.is_empty() || rest.starts_with([' ', ':']) => {
                        write!(f, "upgrade refused with HTTP {status}{rest}")
                    }
                    _ => write!(f, "upgrade refused with HTTP {status}: {}", self.error),
                }
            }
            FailedPhase::Http { status: None, .. } => write!(f, "upgrade failed: {}", self.error),
            FailedPhase::Timeout { during } => {
                write!(
                    f,
                    "handshake timed out during {}: {}",
                    during.as_str(),
                    self.error
                )
            }
            other => write!(f, "{} failed: {}", other.as_str(), self.error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names stored in the database and shown by the UI: serde and `as_str` agree.
    #[test]
    fn initiators_and_causes_serialize_by_their_names() {
        let initiators = [
            (Initiator::Server, "server"),
            (Initiator::Client, "client"),
            (Initiator::Network, "network"),
        ];
        assert_eq!(initiators.map(|(i, _)| i), Initiator::ALL);
        for (initiator, name) in initiators {
            assert_eq!(initiator.as_str(), name);
            assert_eq!(Initiator::parse(name), Some(initiator));
            let json = serde_json::to_value(initiator).expect("serialize");
            assert_eq!(json, serde_json::Value::from(name));
            assert_eq!(
                serde_json::from_value::<Initiator>(json).ok(),
                Some(initiator)
            );
        }
        assert_eq!(Initiator::parse("Server"), None);
        assert_eq!(Initiator::parse(""), None);

        let causes = [
            (CloseCause::PongTimeout, "pong_timeout"),
            (CloseCause::AppPongTimeout, "app_pong_timeout"),
            (CloseCause::Stale, "stale"),
            (CloseCause::User, "user"),
            (CloseCause::Shutdown, "shutdown"),
            (CloseCause::DurationElapsed, "duration_elapsed"),
            (CloseCause::MessageTooBig, "message_too_big"),
            (CloseCause::ProtocolError, "protocol_error"),
            (CloseCause::Reconfigured, "reconfigured"),
            (CloseCause::ServerBeatMissed, "server_beat_missed"),
            (
                CloseCause::ProtocolHandshakeTimeout,
                "protocol_handshake_timeout",
            ),
        ];
        assert_eq!(causes.map(|(c, _)| c), CloseCause::ALL);
        for (cause, name) in causes {
            assert_eq!(cause.as_str(), name);
            let json = serde_json::to_value(cause).expect("serialize");
            assert_eq!(json, serde_json::Value::from(name));
            assert_eq!(serde_json::from_value::<CloseCause>(json).ok(), Some(cause));
        }
        assert!(serde_json::from_str::<CloseCause>("\"PongTimeout\"").is_err());
    }

    #[test]
    fn retry_reasons_serialize_by_their_names() {
        let reasons = [
            (RetryReason::Backoff, "backoff"),
            (RetryReason::ServiceRestart, "service_restart"),
            (RetryReason::TryAgainLater, "try_again_later"),
            (RetryReason::RetryAfter, "retry_after"),
        ];
        assert_eq!(reasons.map(|(r, _)| r), RetryReason::ALL);
        for (reason, name) in reasons {
            assert_eq!(reason.as_str(), name);
            let json = serde_json::to_value(reason).expect("serialize");
            assert_eq!(json, serde_json::Value::from(name));
            assert_eq!(
                serde_json::from_value::<RetryReason>(json).ok(),
                Some(reason)
            );
        }
    }

    #[test]
    fn a_refused_upgrade_says_its_status_once() {
        let refused = |status: u16, error: &str| {
            HandshakeFailure {
                phase: FailedPhase::Http {
                    status: Some(status),
                    retry_after: None,
                },
                error: error.into(),
                elapsed: Duration::ZERO,
            }
            .to_string()
        };
        assert_eq!(
            refused(503, "503 Service Unavailable"),
            "upgrade refused with HTTP 503 Service Unavailable"
        );
        assert_eq!(
            refused(401, "401 Unauthorized: invalid token"),
            "upgrade refused with HTTP 401 Unauthorized: invalid token"
        );
        assert_eq!(refused(429, "429"), "upgrade refused with HTTP 429");
        // Text that does not start with the status is quoted after it, as before.
        assert_eq!(
            refused(503, "5030 widgets"),
            "upgrade refused with HTTP 503: 5030 widgets"
        );
        assert_eq!(
            refused(401, "a credentials problem"),
            "upgrade refused with HTTP 401: a credentials problem"
        );
    }

    #[test]
    fn timestamps_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(Timestamp::from_system(t), Timestamp(1_700_000_000_123));
        assert_eq!(Timestamp(1_700_000_000_123).to_system(), t);
        assert_eq!(
            Timestamp(-5).to_system(),
            UNIX_EPOCH - Duration::from_millis(5)
        );
    }

    #[test]
    fn session_end_classification() {
        let lost = SessionEnd::Lost {
            error: "reset".into(),
        };
        assert_eq!(
            (lost.code(), lost.initiator(), lost.clean(), lost.cause()),
            (1006, Initiator::Network, false, None)
        );
        let server = SessionEnd::ClosedByServer {
            code: 4001,
            reason: "bye".into(),
        };
        assert_eq!(
            (server.code(), server.initiator(), server.clean()),
            (4001, Initiator::Server, true)
        );
        let ours = SessionEnd::ClosedByClient {
            cause: CloseCause::PongTimeout,
            code: 1001,
            reason: "pong timeout".into(),
            clean: false,
        };
        assert_eq!(ours.cause(), Some(CloseCause::PongTimeout));
        assert_eq!(ours.initiator(), Initiator::Client);
        assert!(ours.cause().unwrap().is_fault());
        assert!(!CloseCause::User.is_fault());
        assert_eq!(
            server.to_string(),
            "server closed with 4001 (application-defined): bye"
        );
    }
}
