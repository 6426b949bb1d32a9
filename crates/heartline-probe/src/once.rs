//! One handshake and one ping, then a clean close: "test connection" before an endpoint is
//! saved. The same connector as a watch (phase timing, TLS, limits, the endpoint's redactor),
//! so a test tells what watching would meet.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use heartline_core::{Handshake, HandshakeFailure};

use crate::connect::Connector;

/// What one handshake and one ping found.
#[derive(Debug, Clone)]
pub enum Once {
    /// The handshake failed (its phase and the cleaned error).
    Refused(HandshakeFailure),
    /// Connected; `ping` is the round trip, or why there was none (cleaned of the endpoint's
    /// secrets, not yet escaped for display).
    Connected {
        handshake: Handshake,
        ping: Result<Duration, String>,
    },
}

impl Connector {
    /// Connects, sends one protocol ping and waits at most `ping_deadline` for its pong,
    /// then closes (waiting at most a second for the server's close).
    pub async fn once(&self, ping_deadline: Duration) -> Once {
        let (mut ws, handshake) = match self.connect().await {
            Ok(ok) => ok,
            Err(failure) => return Once::Refused(failure),
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
        let ping = match tokio::time::timeout(ping_deadline, pong).await {
            Ok(Ok(rtt)) => Ok(rtt),
            // A tungstenite error can quote the peer (a protocol error, a close reason).
            Ok(Err(e)) => Err(self.redactor().clean(&e.to_string())),
            Err(_) => Err(format!("no pong within {} s", ping_deadline.as_secs_f64())),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), (*ws).close(None)).await;
        Once::Connected { handshake, ping }
    }
}
