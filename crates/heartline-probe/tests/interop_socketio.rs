//! The Socket.IO preset against a real Socket.IO 4.8 server (npm `socket.io`, Engine.IO 4),
//! started from `interop/socketio-server.mjs` on loopback.

mod interop_common;

use std::time::Duration;

use heartline_core::{EventKind, PingKind, Protocol, RefusalClass, SecretVar, SessionEnd};
use interop_common::{fast, node_server, watch};

const WITHIN: Duration = Duration::from_secs(10);

fn url(port: u16, extra: &str) -> String {
    format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket{extra}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_preset_answers_the_servers_pings_and_records_them_as_beats_not_rtt() {
    // The server drops a client that leaves a ping unanswered for pingTimeout (200 ms).
    let server = node_server(
        "socketio-server.mjs",
        &["--ping-interval", "300", "--ping-timeout", "200"],
    )
    .await;
    let mut e = fast(url(server.port, ""));
    e.protocol = Protocol::SocketIo;
    let mut w = watch(e);
    w.nth(4, WITHIN, |k| matches!(k, EventKind::ServerBeat { .. }))
        .await;
    assert!(
        !w.any_closed(),
        "four server pings answered, the session must still be open: {:#?}",
        w.seen
    );
    let EventKind::Closed { end, stats } = w.stop().await else {
        unreachable!()
    };
    assert!(matches!(end, SessionEnd::ClosedByClient { .. }), "{end:?}");
    // The server's ticks (`42["tick",n]`) arrived as application messages alongside.
    assert!(stats.messages_in > 4, "{stats:?}");
    // No server ping was ever taken for a round trip: the only RTTs are our own pings.
    assert!(
        w.seen.iter().all(|k| !matches!(
            k,
            EventKind::Rtt {
                kind: PingKind::App | PingKind::Server,
                ..
            }
        )),
        "{:#?}",
        w.seen
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_without_the_preset_is_dropped_for_the_unanswered_ping() {
    // The issue's first report: `--send 40` alone, and the server drops the transport.
    let server = node_server(
        "socketio-server.mjs",
        &["--ping-interval", "300", "--ping-timeout", "200"],
    )
    .await;
    let mut e = fast(url(server.port, ""));
    e.on_connect = vec!["40".into()];
    let mut w = watch(e);
    let end = w.closed().await;
    assert!(
        !matches!(
            end,
            SessionEnd::ClosedByClient { .. } | SessionEnd::Refused { .. }
        ),
        "the server (not Heartline) ends it: {end:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_connect_error_is_an_application_refusal_and_stops_retrying() {
    let server = node_server("socketio-server.mjs", &[]).await;
    let mut e = fast(url(server.port, "&deny=1"));
    e.protocol = Protocol::SocketIo;
    let mut w = watch(e);
    let end = w.closed().await;
    match &end {
        SessionEnd::Refused {
            protocol: Protocol::SocketIo,
            class: RefusalClass::Credentials,
            reason,
            ..
        } => assert_eq!(reason, "not authorized: missing token"),
        other => panic!("expected a credentials refusal, got {other:?}"),
    }
    // Credentials will not fix themselves: the watch stops and says why.
    let EventKind::GaveUp { reason } = w
        .until(WITHIN, |k| {
            matches!(
                k,
                EventKind::GaveUp { .. } | EventKind::Connecting { attempt: 2 }
            )
        })
        .await
    else {
        panic!("retried a credentials refusal: {:#?}", w.seen)
    };
    assert!(reason.contains("socketio, credentials"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketio_auth_payload_in_a_configured_namespace_connect_is_sent_for_the_presets() {
    let server = node_server(
        "socketio-server.mjs",
        &[
            "--require-token",
            "letmein",
            "--ping-interval",
            "300",
            "--ping-timeout",
            "200",
        ],
    )
    .await;
    let mut e = fast(url(server.port, ""));
    e.protocol = Protocol::SocketIo;
    e.on_connect = vec![r#"40{"token":"letmein"}"#.into()];
    let mut w = watch(e);
    w.nth(2, WITHIN, |k| matches!(k, EventKind::ServerBeat { .. }))
        .await;
    assert!(!w.any_closed(), "{:#?}", w.seen);
    let EventKind::Closed { stats, .. } = w.stop().await else {
        unreachable!()
    };
    // The namespace connect carrying the token, then at least two `3` answers.
    assert!(stats.messages_out >= 3, "{stats:?}");

    let mut e = fast(url(server.port, ""));
    e.protocol = Protocol::SocketIo;
    e.on_connect = vec![r#"40{"token":"wrong"}"#.into()];
    let mut w = watch(e);
    assert!(
        matches!(
            w.closed().await,
            SessionEnd::Refused {
                class: RefusalClass::Credentials,
                ..
            }
        ),
        "{:#?}",
        w.seen
    );
}

/// A token kept as a secret value (`{{secret:token}}` in the namespace connect) reaches the
/// real server, which accepts the client only with it; no event carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_value_in_the_namespace_connect_reaches_the_server_and_no_event() {
    const TOKEN: &str = "sv-t0ken-8d2f41";
    let server = node_server(
        "socketio-server.mjs",
        &[
            "--require-token",
            TOKEN,
            "--ping-interval",
            "300",
            "--ping-timeout",
            "200",
        ],
    )
    .await;
    let mut e = fast(url(server.port, ""));
    e.protocol = Protocol::SocketIo;
    e.secret_vars = vec![SecretVar::new("token", TOKEN)];
    e.on_connect = vec![r#"40{"token":"{{secret:token}}"}"#.into()];
    let mut w = watch(e.clone());
    w.nth(2, WITHIN, |k| matches!(k, EventKind::ServerBeat { .. }))
        .await;
    assert!(!w.any_closed(), "{:#?}", w.seen);
    w.stop().await;
    assert!(!format!("{:?}", w.seen).contains(TOKEN), "{:#?}", w.seen);

    // With another value the same placeholder is refused: the value is what was sent.
    e.secret_vars = vec![SecretVar::new("token", "sv-wrong-value")];
    let mut w = watch(e);
    assert!(
        matches!(
            w.closed().await,
            SessionEnd::Refused {
                class: RefusalClass::Credentials,
                ..
            }
        ),
        "{:#?}",
        w.seen
    );
    assert!(!format!("{:?}", w.seen).contains("sv-wrong-value"));
}
