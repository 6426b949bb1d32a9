//! Watching one WebSocket endpoint the way its users experience it: a real, long-lived session
//! with phase-timed handshakes, protocol and application heartbeats, staleness detection,
//! exactly one classified end per session, and a reconnect loop with jittered backoff.
//!
//! ```text
//! Probe::new(endpoint) ──watch()──▶ connect (dns/tcp/tls/upgrade) ─▶ session loop ─▶ Closed
//!        ▲                               │ HandshakeFailed                 │
//!        └──── Control (pause, update…)  └──────▶ backoff decision ◀───────┘
//! ```
//! Every event goes to a [`Sink`]; the health state machine runs beside the events.

mod connect;
mod controls;
mod once;
mod session;
mod tls;
mod watch;

pub use connect::{Connector, Resolve, SystemResolver, Transport, WsStream};
pub use controls::{controls, ControlReceiver, Controls, Stopped};
pub use once::Once;
pub use watch::{Control, Probe, Sink};

use std::path::PathBuf;

/// Why an endpoint cannot be watched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid endpoint: {0}")]
    Invalid(heartline_core::ConfigErrors),
    #[error("header `{0}` cannot be sent as given")]
    Header(String),
    #[error("CA file {}: {problem}", path.display())]
    CaFile { path: PathBuf, problem: String },
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
