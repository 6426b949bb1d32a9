//! Presets without a real server on this machine (STOMP, ActionCable), and what mosquitto
//! does not show over WebSockets (an MQTT 5 DISCONNECT), against small servers
//! scripted here from each protocol's specification: the server's heartbeat and its deadline,
//! the user's messages held until the protocol handshake, and a refusal; and secret values
//! put into the user's messages.

mod interop_common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use heartline_core::{
    AppHeartbeat, CloseCause, EventKind, PingKind, Protocol, RefusalClass, ReplyMatch, SecretVar,
    SessionEnd, Step,
};
use interop_common::{fast, watch};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// Accepts one WebSocket connection and runs `script` on it; what the server received is
/// reported through the returned channel as it arrives.
async fn serve_once<F, Fut>(script: F) -> (u16, mpsc::UnboundedReceiver<Message>)
where
    F: FnOnce(
            tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
            mpsc::UnboundedSender<Message>,
        ) -> Fut
        + Send
        + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // Accept the first subprotocol offered, as a server of that protocol does.
        #[allow(clippy::result_large_err)] // tungstenite's callback signature
        let pick = |req: &Request, mut resp: Response| -> Result<Response, ErrorResponse> {
            let offered = req
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|p| p.trim().to_owned());
            if let Some(p) = offered {
                resp.headers_mut()
                    .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
            }
            Ok(resp)
        };
        let ws = tokio_tungstenite::accept_hdr_async(tcp, pick)
            .await
            .unwrap();
        script(ws, tx).await;
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stomp_server_beats_are_intervals_and_their_silence_closes_the_session() {
    let (port, mut received) = serve_once(|mut ws, tx| async move {
        // CONNECT, then CONNECTED promising a beat every 100 ms.
        if let Some(Ok(m)) = ws.next().await {
            let _ = tx.send(m);
        }
        ws.send(Message::text(
            "CONNECTED\nversion:1.2\nheart-beat:100,0\n\n\0",
        ))
        .await
        .unwrap();
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            ws.send(Message::text("\n")).await.unwrap();
        }
        // Then silence with the TCP connection open; keep reading what the client sends.
        while let Some(Ok(m)) = ws.next().await {
            if !m.is_ping() {
                let _ = tx.send(m);
            }
        }
    })
    .await;
    let mut e = fast(format!("ws://127.0.0.1:{port}/ws"));
    e.protocol = Protocol::Stomp;
    e.heartbeat.misses_allowed = 1;
    let mut w = watch(e);
    let end = w.closed().await;
    assert!(
        matches!(
            end,
            SessionEnd::ClosedByClient {
                cause: CloseCause::ServerBeatMissed,
                ..
            }
        ),
        "{end:?}"
    );
    let beats = w
        .seen
        .iter()
        .filter(|k| matches!(k, EventKind::ServerBeat { .. }))
        .count();
    assert_eq!(beats, 3, "{:#?}", w.seen);
    let missed: Vec<u32> = w
        .seen
        .iter()
        .filter_map(|k| match k {
            EventKind::PongMissed {
                kind: PingKind::Server,
                missed,
            } => Some(*missed),
            _ => None,
        })
        .collect();
    assert_eq!(missed, [1, 2], "{:#?}", w.seen);
    let Some(Message::Text(connect)) = received.recv().await else {
        panic!("no CONNECT")
    };
    assert!(
        connect.starts_with("CONNECT\naccept-version:1.2\nhost:127.0.0.1\nheart-beat:200,200\n"),
        "{connect:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actioncable_subscribe_waits_for_welcome_and_unauthorized_is_a_refusal() {
    const SUBSCRIBE: &str = r#"{"command":"subscribe","identifier":"{\"channel\":\"Ticker\"}"}"#;
    let (port, mut received) = serve_once(|mut ws, tx| async move {
        // Nothing may arrive before the welcome: give the client time to misbehave.
        let quiet_until = tokio::time::Instant::now() + Duration::from_millis(100);
        while let Ok(Some(Ok(m))) = tokio::time::timeout_at(quiet_until, ws.next()).await {
            if m.is_text() || m.is_binary() {
                let _ = tx.send(m);
            }
        }
        ws.send(Message::text(r#"{"type":"welcome"}"#))
            .await
            .unwrap();
        ws.send(Message::text(r#"{"type":"ping","message":1}"#))
            .await
            .unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if m.is_text() {
                let _ = tx.send(m);
                break;
            }
        }
        ws.send(Message::text(
            r#"{"type":"disconnect","reason":"unauthorized","reconnect":false}"#,
        ))
        .await
        .unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let mut e = fast(format!("ws://127.0.0.1:{port}/cable"));
    e.protocol = Protocol::ActionCable;
    e.on_connect = vec![SUBSCRIBE.into()];
    let mut w = watch(e);
    let end = w.closed().await;
    assert!(
        matches!(
            &end,
            SessionEnd::Refused {
                protocol: Protocol::ActionCable,
                class: RefusalClass::Credentials,
                reason,
                ..
            } if reason == "unauthorized"
        ),
        "{end:?}"
    );
    assert!(
        w.seen
            .iter()
            .any(|k| matches!(k, EventKind::ServerBeat { .. })),
        "{:#?}",
        w.seen
    );
    // The first (and only) text the server got is the subscribe, after its welcome.
    let Some(Message::Text(first)) = received.recv().await else {
        panic!("nothing received")
    };
    assert_eq!(first.as_str(), SUBSCRIBE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pusher_ping_is_answered_and_a_4201_close_reconnects_promptly() {
    let (port, mut received) = serve_once(|mut ws, tx| async move {
        ws.send(Message::text(
            r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.1\",\"activity_timeout\":120}"}"#,
        ))
        .await
        .unwrap();
        ws.send(Message::text(r#"{"event":"pusher:ping","data":{}}"#))
            .await
            .unwrap();
        // Wait for the answer (the client's own pusher:ping may come first), then close as
        // Pusher does when a pong is late.
        while let Some(Ok(m)) = ws.next().await {
            if m.is_text() {
                let pong = m.to_text().is_ok_and(|t| t.contains("pusher:pong"));
                let _ = tx.send(m);
                if pong {
                    break;
                }
            }
        }
        let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: 4201.into(),
            reason: "Pong reply not received".into(),
        };
        let _ = ws.close(Some(frame)).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let mut e = fast(format!("ws://127.0.0.1:{port}/app/key?protocol=7"));
    e.protocol = Protocol::Pusher;
    let mut w = watch(e);
    let end = w.closed().await;
    assert!(
        matches!(
            end,
            SessionEnd::Refused {
                protocol: Protocol::Pusher,
                class: RefusalClass::ServerRestart,
                code: 4201,
                ..
            }
        ),
        "{end:?}"
    );
    assert!(end.to_string().contains("pong reply not received"), "{end}");
    let next = w
        .until(Duration::from_secs(5), |k| {
            matches!(
                k,
                EventKind::ReconnectScheduled { .. } | EventKind::GaveUp { .. }
            )
        })
        .await;
    assert!(
        matches!(
            next,
            EventKind::ReconnectScheduled {
                reason: heartline_core::RetryReason::ServiceRestart,
                ..
            }
        ),
        "{next:?}"
    );
    let mut texts = Vec::new();
    while let Ok(Message::Text(t)) = received.try_recv() {
        texts.push(t.as_str().to_owned());
    }
    assert!(
        texts
            .iter()
            .any(|t| t == r#"{"event":"pusher:pong","data":{}}"#),
        "no answer to pusher:ping: {texts:?}"
    );
}

/// Secret values (`{{secret:NAME}}`) are put into `on_connect` messages and the application
/// heartbeat right before they are sent: the server receives the real token; the close reason
/// that echoes it comes back masked and no event carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_values_reach_the_server_and_come_back_masked() {
    const TOKEN: &str = "sv-gql-t0ken-5a7c";
    let (port, mut received) = serve_once(|mut ws, tx| async move {
        let (mut beat, mut last) = (false, false);
        while let Some(Ok(m)) = ws.next().await {
            let Message::Text(text) = &m else { continue };
            let text = text.as_str().to_owned();
            let _ = tx.send(m.clone());
            if text.contains("connection_init") {
                ws.send(Message::text(r#"{"type":"connection_ack"}"#))
                    .await
                    .unwrap();
            } else if text.starts_with("beat") {
                beat = true;
                ws.send(Message::text("pong")).await.unwrap();
            } else if text.contains("subscribe") {
                last = true;
            }
            if beat && last {
                // An auth layer that quotes what it refused.
                let _ = ws
                    .close(Some(CloseFrame {
                        code: CloseCode::from(4403),
                        reason: format!("forbidden: {TOKEN}").into(),
                    }))
                    .await;
                break;
            }
        }
    })
    .await;
    let mut e = fast(format!("ws://127.0.0.1:{port}/graphql"));
    e.reconnect.enabled = false;
    e.secret_vars = vec![SecretVar::new("token", TOKEN)];
    e.on_connect = vec![
        r#"{"type":"connection_init","payload":{"authToken":"{{secret:token}}"}}"#.into(),
        Step::Expect {
            reply: ReplyMatch::JsonField {
                path: "type".into(),
                equals: "connection_ack".into(),
            },
            within: None,
        },
        r#"{"id":"1","type":"subscribe","auth":"{{secret:token}}"}"#.into(),
    ];
    e.app_heartbeat = Some(Box::new(AppHeartbeat {
        payload: "beat {{secret:token}}".into(),
        reply: ReplyMatch::Contains("pong".into()),
        interval: Duration::from_millis(150),
        timeout: Duration::from_millis(100),
        misses_allowed: 2,
    }));
    let mut w = watch(e);
    let end = w.closed().await;
    let SessionEnd::ClosedByServer { code, reason } = &end else {
        panic!("{end:?}; saw {:#?}", w.seen)
    };
    assert_eq!((*code, reason.as_str()), (4403, "forbidden: ••••••"));
    assert!(!format!("{:?}", w.seen).contains(TOKEN), "{:#?}", w.seen);

    let mut got = Vec::new();
    while let Ok(m) = received.try_recv() {
        got.push(m.into_text().unwrap().as_str().to_owned());
    }
    assert!(
        got.contains(&format!(
            r#"{{"type":"connection_init","payload":{{"authToken":"{TOKEN}"}}}}"#
        )),
        "{got:?}"
    );
    assert!(got.contains(&format!("beat {TOKEN}")), "{got:?}");
    let subscribe = format!(r#"{{"id":"1","type":"subscribe","auth":"{TOKEN}"}}"#);
    assert!(got.contains(&subscribe), "{got:?}");
    // The script's order holds: the subscribe left only after the ack.
    let init_at = got.iter().position(|m| m.contains("connection_init"));
    let sub_at = got.iter().position(|m| *m == subscribe);
    assert!(init_at < sub_at, "{got:?}");
    assert!(got.iter().all(|m| !m.contains("{{secret:")), "{got:?}");
}

/// MQTT 5: the broker's DISCONNECT with a reason code (mosquitto closes its WebSocket
/// listeners' connections without flushing one) ends the session as the application's end,
/// with the reason's class and the broker's Reason String.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_disconnect_from_the_broker_ends_the_session_with_its_reason() {
    let (port, mut received) = serve_once(|mut ws, tx| async move {
        // CONNECT, then CONNACK (success, no properties).
        if let Some(Ok(m)) = ws.next().await {
            let _ = tx.send(m);
        }
        ws.send(Message::binary(vec![0x20, 3, 0, 0, 0]))
            .await
            .unwrap();
        // PINGREQ → PINGRESP, then DISCONNECT 0x8B with Reason String "upgrade".
        while let Some(Ok(m)) = ws.next().await {
            if matches!(&m, Message::Binary(b) if b.as_ref() == [0xC0, 0]) {
                let _ = tx.send(m);
                ws.send(Message::binary(vec![0xD0, 0])).await.unwrap();
                let mut disconnect = vec![0xE0, 12, 0x8B, 10, 0x1F, 0, 7];
                disconnect.extend_from_slice(b"upgrade");
                ws.send(Message::binary(disconnect)).await.unwrap();
                break;
            }
        }
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let mut e = fast(format!("ws://127.0.0.1:{port}/mqtt"));
    e.protocol = Protocol::Mqtt5;
    let mut w = watch(e);
    match w.closed().await {
        SessionEnd::Refused {
            protocol: Protocol::Mqtt5,
            class: RefusalClass::ServerRestart,
            reason,
            ..
        } => assert_eq!(reason, "DISCONNECT 0x8b: server shutting down (upgrade)"),
        other => panic!(
            "expected the broker's DISCONNECT, got {other:?}\n{:#?}",
            w.seen
        ),
    }
    // The client spoke MQTT 5 (protocol level 5) and its ping was answered before the end.
    let Some(Message::Binary(connect)) = received.recv().await else {
        panic!("no CONNECT")
    };
    assert_eq!(connect.get(8), Some(&5), "{connect:02x?}");
    assert!(w.seen.iter().any(|k| matches!(
        k,
        EventKind::Rtt {
            kind: PingKind::App,
            ..
        }
    )));
}
