//! `Connector::once`, the "test connection" of the shells: one handshake and one ping.

use std::sync::Arc;
use std::time::Duration;

use heartline_core::Endpoint;
use heartline_lab::Lab;
use heartline_probe::{Connector, Once, SystemResolver};
use tokio::net::TcpListener;

fn connector(url: String) -> Connector {
    Connector::new(&Endpoint::new("t", url), Arc::new(SystemResolver)).expect("connector")
}

#[tokio::test]
async fn a_server_that_answers_gives_phases_and_a_round_trip() {
    let lab = Lab::start().await.expect("lab");
    match connector(lab.ws_url("/echo"))
        .once(Duration::from_secs(5))
        .await
    {
        Once::Connected { handshake, ping } => {
            assert!(ping.is_ok(), "{ping:?}");
            assert_eq!(handshake.peer, lab.addr());
        }
        Once::Refused(f) => panic!("refused: {f:?}"),
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn a_refused_upgrade_is_the_handshake_failure() {
    let lab = Lab::start().await.expect("lab");
    match connector(lab.ws_url("/reject?status=503"))
        .once(Duration::from_secs(5))
        .await
    {
        Once::Refused(f) => assert_eq!(f.phase.status(), Some(503), "{f:?}"),
        other => panic!("not refused: {other:?}"),
    }
    lab.shutdown().await;
}

/// The server completes the upgrade and then never reads (so never answers the ping): the
/// ping fails at its deadline, said in words, and the handshake is still reported.
#[tokio::test]
async fn a_ping_nobody_answers_fails_at_its_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (hold, held) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
        // Held unread until the client is done.
        let _ = held.await;
        drop(ws);
    });
    let result = connector(format!("ws://{addr}/"))
        .once(Duration::from_millis(300))
        .await;
    let _ = hold.send(());
    server.await.expect("server");
    match result {
        Once::Connected { ping, .. } => {
            let err = ping.expect_err("no pong");
            assert!(err.contains("no pong within"), "{err}");
        }
        Once::Refused(f) => panic!("refused: {f:?}"),
    }
}
