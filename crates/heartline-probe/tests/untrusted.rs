//! What servers send back is untrusted: an endpoint's secrets never come out of the probe,
//! even when a server echoes them in a refused upgrade, a close reason or a give-up reason.

use std::sync::Arc;
use std::time::Duration;

use heartline_core::untrusted::MASK;
use heartline_core::{Endpoint, EndpointId, Event, EventKind, FailedPhase, Header, SessionEnd};
use heartline_lab::Lab;
use heartline_probe::{Connector, Control, Probe, SystemResolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const TOKEN: &str = "tok-7f3a9c2e51d84b06";

/// An auth middleware that refuses every upgrade with 401 and quotes the Authorization header
/// it received, after `pad` bytes of other text. Returns its `ws://` URL.
async fn echoing_401(pad: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request);
                let auth = request
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("authorization")
                            .then(|| value.trim().to_owned())
                    })
                    .unwrap_or_default();
                let body = format!("{}invalid credentials: {auth}", "x".repeat(pad));
                let response = format!(
                    "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("ws://{addr}/feed")
}

fn with_token(url: String, token: &str) -> Endpoint {
    let mut e = Endpoint::new("untrusted", url);
    e.headers
        .push(Header::new("Authorization", format!("Bearer {token}")));
    e.handshake_timeout = Duration::from_secs(3);
    e.reconnect.initial = Duration::from_millis(20);
    e.reconnect.cap = Duration::from_millis(100);
    e
}

/// Any 8-byte piece of `token`: a cut secret must not leave a readable part behind.
fn leaks(text: &str, token: &str) -> bool {
    token
        .as_bytes()
        .windows(8)
        .any(|w| text.contains(std::str::from_utf8(w).unwrap()))
}

#[tokio::test]
async fn a_refused_upgrade_that_echoes_the_credential_comes_back_masked() {
    // 0: the token well inside the 200-byte quote; 180: it straddles the cut.
    for pad in [0, 180] {
        let url = echoing_401(pad).await;
        let connector = Connector::new(&with_token(url, TOKEN), Arc::new(SystemResolver)).unwrap();
        let failure = match connector.connect().await {
            Err(f) => f,
            Ok(_) => panic!("the server refuses every upgrade"),
        };
        assert_eq!(
            failure.phase,
            FailedPhase::Http {
                status: Some(401),
                retry_after: None
            }
        );
        assert!(
            failure.error.starts_with("401 Unauthorized: "),
            "{}",
            failure.error
        );
        assert!(
            !leaks(&failure.error, TOKEN),
            "pad {pad}: {}",
            failure.error
        );
        if pad == 0 {
            assert!(
                failure
                    .error
                    .ends_with(&format!("invalid credentials: {MASK}")),
                "{}",
                failure.error
            );
        } else {
            assert!(failure.error.ends_with('…'), "{}", failure.error);
        }
        assert!(connector.redactor().needles().iter().any(|n| n == TOKEN));
    }
}

/// A running watch and everything it has emitted.
struct Watch {
    events: mpsc::UnboundedReceiver<Event>,
    controls: heartline_probe::Controls,
    seen: Vec<EventKind>,
}

impl Watch {
    fn start(endpoint: Endpoint) -> Watch {
        let probe = Probe::new(endpoint, Arc::new(SystemResolver)).expect("valid endpoint");
        let (tx, events) = mpsc::unbounded_channel();
        let (controls, rx) = heartline_probe::controls();
        let sink = Arc::new(move |e: Event| {
            let _ = tx.send(e);
        });
        tokio::spawn(probe.watch(EndpointId(1), rx, sink));
        Watch {
            events,
            controls,
            seen: Vec::new(),
        }
    }

    async fn until(&mut self, pred: impl Fn(&EventKind) -> bool) -> EventKind {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    self.seen.push(e.kind.clone());
                    if pred(&e.kind) {
                        return e.kind;
                    }
                }
                Ok(None) => panic!("watch ended; saw {:#?}", self.seen),
                Err(_) => panic!("timed out; saw {:#?}", self.seen),
            }
        }
    }

    /// Every outside text of every event seen so far, joined.
    fn texts(&self) -> String {
        let mut all = String::new();
        for kind in &self.seen {
            let mut k = kind.clone();
            k.map_untrusted(|t| {
                all.push_str(t);
                all.push('\n');
                t.to_owned()
            });
        }
        all
    }
}

#[tokio::test]
async fn handshake_failures_and_give_up_reasons_of_a_watch_are_masked() {
    let url = echoing_401(0).await;
    let mut w = Watch::start(with_token(url, TOKEN));
    let gave_up = w.until(|k| matches!(k, EventKind::GaveUp { .. })).await;
    assert!(
        w.seen
            .iter()
            .any(|k| matches!(k, EventKind::HandshakeFailed(f) if f.error.contains(MASK))),
        "{:#?}",
        w.seen
    );
    let EventKind::GaveUp { reason } = gave_up else {
        unreachable!()
    };
    assert!(reason.contains("HTTP 401"), "{reason}");
    assert!(!leaks(&w.texts(), TOKEN), "{}", w.texts());
}

#[tokio::test]
async fn close_reasons_are_masked_with_the_secrets_of_the_current_configuration() {
    let lab = Lab::start().await.unwrap();
    const OLD: &str = "old-secret-4821";
    const NEW: &str = "new-secret-9373";
    // A policy close (1008) that quotes both credentials: the give-up reason quotes it too.
    let reason = format!("rejected {OLD} and {NEW}");
    let url = lab.ws_url(&format!(
        "/close?code=1008&reason={}",
        reason.replace(' ', "%20")
    ));
    let mut w = Watch::start(with_token(url.clone(), OLD));
    let closed = w.until(|k| matches!(k, EventKind::Closed { .. })).await;
    let EventKind::Closed {
        end: SessionEnd::ClosedByServer { code, reason },
        ..
    } = closed
    else {
        panic!("{closed:?}")
    };
    assert_eq!(code, 1008);
    assert_eq!(reason, format!("rejected {MASK} and {NEW}"));
    let EventKind::GaveUp { reason } = w.until(|k| matches!(k, EventKind::GaveUp { .. })).await
    else {
        unreachable!()
    };
    assert!(reason.contains(MASK) && !reason.contains(OLD), "{reason}");

    // After an update the new configuration's secret is the one masked.
    let next = Probe::new(with_token(url, NEW), Arc::new(SystemResolver)).unwrap();
    w.controls.send(Control::Update(Box::new(next))).unwrap();
    w.seen.clear();
    let closed = w.until(|k| matches!(k, EventKind::Closed { .. })).await;
    let EventKind::Closed { end, .. } = closed else {
        unreachable!()
    };
    assert_eq!(end.reason(), format!("rejected {OLD} and {MASK}"));
}
