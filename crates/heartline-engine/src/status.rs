//! The live status of one endpoint, kept current from its events.

use std::time::Duration;

use heartline_core::{EventKind, PingKind, SessionEnd, State, Timestamp};

/// What an overview shows for one endpoint right now.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub state: State,
    /// When the current state began.
    pub since: Option<Timestamp>,
    pub last_rtt: Option<Duration>,
    pub last_app_rtt: Option<Duration>,
    /// How the last session ended, and when.
    pub last_end: Option<(Timestamp, SessionEnd)>,
    /// The last failed attempt's description, cleared by the next connection.
    pub last_failure: Option<String>,
    pub connected: bool,
    pub sessions: u64,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            state: State::Connecting,
            since: None,
            last_rtt: None,
            last_app_rtt: None,
            last_end: None,
            last_failure: None,
            connected: false,
            sessions: 0,
        }
    }
}

impl Status {
    /// Folds one event into the status.
    pub fn observe(&mut self, event: &heartline_core::Event) {
        match &event.kind {
            EventKind::StateChanged { to, .. } => {
                self.state = *to;
                self.since = Some(event.at);
            }
            EventKind::Rtt {
                kind: PingKind::Protocol,
                rtt,
            } => self.last_rtt = Some(*rtt),
            EventKind::Rtt {
                kind: PingKind::App,
                rtt,
            } => self.last_app_rtt = Some(*rtt),
            // Never emitted: server beats are intervals (`ServerBeat`), not round trips.
            EventKind::Rtt {
                kind: PingKind::Server,
                ..
            } => {}
            EventKind::Connected { .. } => {
                self.connected = true;
                self.sessions += 1;
                self.last_failure = None;
            }
            EventKind::Closed { end, .. } => {
                self.connected = false;
                self.last_end = Some((event.at, end.clone()));
            }
            EventKind::HandshakeFailed(f) => self.last_failure = Some(f.to_string()),
            EventKind::GaveUp { reason } => self.last_failure = Some(reason.clone()),
            EventKind::Connecting { .. }
            | EventKind::PongMissed { .. }
            | EventKind::ServerBeat { .. }
            | EventKind::Stale { .. }
            | EventKind::ReconnectScheduled { .. } => {}
        }
    }
}
