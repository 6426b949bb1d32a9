//! Heartline's pure domain: endpoints and their policies, the event vocabulary, the health
//! state machine, reconnect backoff, close-code classes, reply matching, incidents and
//! diagnosis.
//!
//! Invariant: nothing here does I/O, reads a clock or draws random numbers; callers pass
//! timestamps and random units in, so every rule is testable with plain data.

pub mod availability;
pub mod backoff;
pub mod close_code;
pub mod diagnosis;
pub mod duration;
pub mod endpoint;
pub mod error_text;
pub mod event;
pub mod health;
pub mod incident;
pub mod protocol;
pub mod reply;
pub mod rollup;
pub mod rtt_text;
pub mod script;
pub mod secret_var;
pub mod sink;
pub mod untrusted;

pub use availability::{Availability, SessionSpan, Watch};
pub use backoff::{Ended, ReconnectPolicy, Retry};
pub use close_code::CloseClass;
pub use diagnosis::{diagnose, diagnose_named, sort_findings, EndpointFacts, Finding, Rule};
pub use duration::{format_duration, parse_duration};
pub use endpoint::{
    derived_timeout, AppHeartbeat, ConfigErrors, Endpoint, EndpointId, FieldError, Header,
    Heartbeat, Limits, Staleness, Target, TlsOptions,
};
pub use event::{
    CloseCause, Event, EventKind, FailedPhase, Handshake, HandshakeFailure, Initiator, Phase,
    Phases, PingKind, RetryReason, SessionEnd, SessionStats, Timestamp,
};
pub use health::{Health, HealthPolicy, Signal, State, Transition};
pub use incident::{
    derive_incidents, Incident, IncidentCause, IncidentChange, IncidentKind, IncidentTracker,
};
pub use protocol::{Frame, Protocol, ProtocolSession, RefusalClass};
pub use reply::{ReplyMatch, ReplyMatcher};
pub use rollup::{Histogram, Rollup};
pub use rtt_text::{push_rtt, rtt_text};
pub use script::{Script, Step, Waiting};
pub use secret_var::{ExpandError, SecretVar};
pub use sink::Sink;
pub use untrusted::{escape_controls, Redactor};
