//! "Test connection": one handshake and one ping against an endpoint not yet saved, through
//! heartline-probe's own connector ([`heartline_probe::Connector::once`]).
//!
//! What the server says arrives masked with the endpoint's redactor (the probe cleans it) and
//! is escaped here for display.

use std::sync::Arc;
use std::time::Duration;

use heartline_core::Endpoint;
use heartline_probe::{Connector, Once, SystemResolver};

use crate::view::{micros, now, shown, PhaseRow, ProbeResult, ProbeStep};
use crate::{Error, Result};

/// How long the ping may take after the handshake.
const PING_DEADLINE: Duration = Duration::from_secs(5);

pub(crate) async fn test(endpoint: &Endpoint) -> Result<ProbeResult> {
    endpoint.validate()?;
    let connector = Connector::new(endpoint, Arc::new(SystemResolver)).map_err(|e| match e {
        heartline_probe::Error::Invalid(errors) => Error::Invalid(errors),
        other => Error::Request(other.to_string()),
    })?;
    Ok(match connector.once(PING_DEADLINE).await {
        Once::Refused(f) => ProbeResult {
            ok: false,
            phases: None,
            rtt_us: None,
            subprotocol: None,
            failed_phase: Some(f.phase.into()),
            http_status: f.phase.status(),
            error: Some(shown(&f.error)),
        },
        Once::Connected { handshake, ping } => {
            let p = handshake.phases;
            let (ok, rtt_us, failed_phase, error) = match ping {
                Ok(rtt) => (true, Some(micros(rtt)), None, None),
                Err(e) => (false, None, Some(ProbeStep::Ping), Some(shown(&e))),
            };
            ProbeResult {
                ok,
                phases: Some(PhaseRow {
                    at: now().0,
                    dns_us: micros(p.dns),
                    tcp_us: micros(p.tcp),
                    tls_us: p.tls.map(micros),
                    upgrade_us: micros(p.upgrade),
                }),
                rtt_us,
                subprotocol: handshake.subprotocol.as_deref().map(shown),
                failed_phase,
                error,
                http_status: None,
            }
        }
    })
}
