//! Prometheus metrics for Heartline, so a fleet of headless agents can be watched from one
//! Prometheus instead of from each agent's terminal.
//!
//! ```text
//! Engine ──observer (sync, every event)──▶ Metrics::observe ──▶ prometheus-client families
//!                                                                        │
//!                        Prometheus ──GET /metrics──▶ serve ──encode─────┘
//! ```
//! Invariant: folding an event never waits on a scrape for long and never allocates on the
//! heartbeat (RTT) path beyond the label lookup; the engine calls it inside every session.
//!
//! Series are labelled by endpoint *name*, not id, because names are what people query by.
//! Name an endpoint with [`Metrics::set_endpoint`] before its first event; an endpoint seen
//! unnamed is labelled `endpoint-<id>` until it is named.

mod metrics;
mod serve;

pub use metrics::{IncidentSource, Metrics, OpenIncident};
pub use serve::{bind, serve, CONTENT_TYPE};

use std::net::SocketAddr;

/// Why the metrics endpoint could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The reason is in the message, not a `source` as well: whoever prints the chain would
    /// say it twice ("…: Too many open files: Too many open files").
    #[error("cannot listen for metrics on {addr}: {error}")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
