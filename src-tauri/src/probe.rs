//! "Test connection": one handshake and one ping against a form's endpoint, before saving.
//!
//! What the server says reaches the UI masked: `connect` cleans its failure and handshake
//! text with the endpoint's redactor, and errors of the ping that follows are cleaned with
//! the same redactor here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use heartline_core::Endpoint;
use heartline_probe::{Connector, SystemResolver};
use tokio_tungstenite::tungstenite::Message;

use crate::convert::IpcResult;
use crate::dto::{PhaseRow, ProbeResult};

/// How long the ping may take after the handshake.
const PING_DEADLINE: Duration = Duration::from_secs(5);

pub async fn test(endpoint: &Endpoint) -> IpcResult<ProbeResult> {
    endpoint.validate()?;
    let connector = Connector::new(endpoint, Arc::new(SystemResolver))
        .map_err(|e| crate::dto::IpcError::new(crate::dto::ErrorCode::Invalid, e.to_string()))?;
    let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let (mut ws, handshake) = match connector.connect().await {
        Ok(ok) => ok,
        Err(f) => {
            return Ok(ProbeResult {
                ok: false,
                phases: None,
                rtt_us: None,
                subprotocol: None,
                failed_phase: Some(f.phase.as_str().to_owned()),
                http_status: f.phase.status(),
                error: Some(crate::convert::shown(&f.error)),
            })
        }
    };
    let p = handshake.phases;
    let mut result = ProbeResult {
        ok: true,
        phases: Some(PhaseRow {
            at: crate::view::now().0,
            dns_us: micros(p.dns),
            tcp_us: micros(p.tcp),
            tls_us: p.tls.map(micros),
            upgrade_us: micros(p.upgrade),
        }),
        rtt_us: None,
        subprotocol: handshake.subprotocol.as_deref().map(crate::convert::shown),
        failed_phase: None,
        error: None,
        http_status: None,
    };
    let sent = Instant::now();
    let pong = async {
        ws.send(Message::Ping(b"heartline-test".to_vec().into()))
            .await?;
        while let Some(msg) = ws.next().await {
            if let Message::Pong(_) = msg? {
                return Ok(sent.elapsed());
            }
        }
        Err(tokio_tungstenite::tungstenite::Error::ConnectionClosed)
    };
    match tokio::time::timeout(PING_DEADLINE, pong).await {
        Ok(Ok(rtt)) => result.rtt_us = Some(micros(rtt)),
        Ok(Err(e)) => {
            result.ok = false;
            result.failed_phase = Some("ping".into());
            // A tungstenite error can quote the peer (a protocol error, a close reason).
            result.error = Some(crate::convert::shown(
                &connector.redactor().clean(&e.to_string()),
            ));
        }
        Err(_) => {
            result.ok = false;
            result.failed_phase = Some("ping".into());
            result.error = Some(format!("no pong within {} s", PING_DEADLINE.as_secs()));
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), (*ws).close(None)).await;
    Ok(result)
}
