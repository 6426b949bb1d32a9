//! The lab over real loopback sockets, driven by tokio-tungstenite's client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use heartline_lab::{Lab, LabOptions, LabRecord};
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{client_async, WebSocketStream};

type Client = WebSocketStream<TcpStream>;
type Response = tokio_tungstenite::tungstenite::handshake::client::Response;

const STEP: Duration = Duration::from_secs(2);

async fn connect(lab: &Lab, path: &str) -> Result<(Client, Response), WsError> {
    let tcp = TcpStream::connect(lab.addr()).await?;
    client_async(lab.ws_url(path), tcp).await
}

async fn ws(lab: &Lab, path: &str) -> Client {
    connect(lab, path).await.expect("handshake").0
}

/// Next message within [`STEP`]; `None` when the stream ended.
async fn next(client: &mut Client) -> Option<Result<Message, WsError>> {
    timeout(STEP, client.next())
        .await
        .expect("timed out waiting for the lab")
}

fn http_error(result: Result<(Client, Response), WsError>) -> (u16, String) {
    match result {
        Err(WsError::Http(resp)) => {
            let body = resp
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            (resp.status().as_u16(), body.into_owned())
        }
        Err(other) => panic!("expected an HTTP error, got {other:?}"),
        Ok(_) => panic!("expected an HTTP error, the upgrade succeeded"),
    }
}

#[tokio::test]
async fn echo_round_trip_and_pings() {
    let lab = Lab::start().await.unwrap();
    let mut client = ws(&lab, "/echo").await;
    client.send(Message::text("hello lab")).await.unwrap();
    assert_eq!(
        next(&mut client).await.unwrap().unwrap(),
        Message::text("hello lab")
    );
    client.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(
        next(&mut client).await.unwrap().unwrap(),
        Message::binary(vec![1, 2, 3])
    );
    client
        .send(Message::Ping(b"hb".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(
        next(&mut client).await.unwrap().unwrap(),
        Message::Pong(b"hb".to_vec().into())
    );
    assert_eq!(lab.open_connections(), 1);

    let bye = CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    };
    client.close(Some(bye)).await.unwrap();
    assert!(matches!(
        next(&mut client).await,
        Some(Ok(Message::Close(_)))
    ));
    assert!(next(&mut client).await.is_none());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(lab.open_connections(), 0);

    let log = lab.log();
    assert!(log
        .iter()
        .any(|r| matches!(r, LabRecord::Text { text, .. } if text == "hello lab")));
    assert!(log.contains(&LabRecord::Binary { conn: 1, len: 3 }));
    assert!(log.contains(&LabRecord::Ping { conn: 1 }));
    assert!(log.contains(&LabRecord::CloseReceived {
        conn: 1,
        code: Some(1000),
        reason: "done".into()
    }));
    assert_eq!(log.last(), Some(&LabRecord::Ended { conn: 1 }));
    lab.shutdown().await;
}

#[tokio::test]
async fn echo_reply_and_delay_do_not_block_reading() {
    let lab = Lab::start().await.unwrap();
    let mut fixed = ws(&lab, "/echo?reply=pong%21").await;
    fixed.send(Message::text("anything")).await.unwrap();
    assert_eq!(
        next(&mut fixed).await.unwrap().unwrap(),
        Message::text("pong!")
    );

    let mut delayed = ws(&lab, "/echo?delay=300ms").await;
    let start = Instant::now();
    for i in 0..3 {
        delayed.send(Message::text(format!("m{i}"))).await.unwrap();
    }
    // The echoes wait; reading does not: a ping sent after them is answered first.
    delayed
        .send(Message::Ping(b"p".to_vec().into()))
        .await
        .unwrap();
    assert!(
        matches!(next(&mut delayed).await, Some(Ok(Message::Pong(_)))),
        "the delayed echoes held up reading"
    );
    for i in 0..3 {
        assert_eq!(
            next(&mut delayed).await.unwrap().unwrap(),
            Message::text(format!("m{i}"))
        );
    }
    // Each echo waited its delay (a lower bound only: it cannot be met early).
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
}

#[tokio::test]
async fn close_sends_code_and_reason() {
    let lab = Lab::start().await.unwrap();
    let mut client = ws(&lab, "/close?code=4001&reason=bye&after=20ms").await;
    match next(&mut client).await {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 4001);
            assert_eq!(frame.reason.as_str(), "bye");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(
        next(&mut client).await.is_none(),
        "close handshake should complete"
    );

    for (path, code, reason) in [
        ("/restart", 1012, "service restart"),
        ("/try-again", 1013, "try again later"),
    ] {
        let mut client = ws(&lab, path).await;
        match next(&mut client).await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(
                    (u16::from(frame.code), frame.reason.as_str()),
                    (code, reason)
                );
            }
            other => panic!("{path}: expected a close frame, got {other:?}"),
        }
    }

    let mut client = ws(&lab, "/close?code=none").await;
    assert!(matches!(
        next(&mut client).await,
        Some(Ok(Message::Close(None)))
    ));
}

#[tokio::test]
async fn reject_returns_http_503() {
    let lab = Lab::start().await.unwrap();
    let (status, body) = http_error(connect(&lab, "/reject").await);
    assert_eq!(status, 503);
    assert_eq!(body, "rejected by heartline-lab");
    let (status, _) = http_error(connect(&lab, "/reject?status=429").await);
    assert_eq!(status, 429);
    let log = lab.log();
    assert!(log.contains(&LabRecord::Rejected {
        conn: 1,
        path: "/reject".into(),
        status: 503
    }));
    assert!(log.contains(&LabRecord::Rejected {
        conn: 2,
        path: "/reject?status=429".into(),
        status: 429
    }));
    assert!(!log.iter().any(|r| matches!(r, LabRecord::Ended { .. })));
}

#[tokio::test]
async fn bad_query_is_400_and_unknown_path_is_404() {
    let lab = Lab::start().await.unwrap();
    let (status, body) = http_error(connect(&lab, "/close?code=abc").await);
    assert_eq!(status, 400);
    assert!(body.contains("`code`"), "{body}");
    let (status, body) = http_error(connect(&lab, "/echo?dealy=5").await);
    assert_eq!(status, 400);
    assert!(body.contains("`dealy`"), "{body}");
    let (status, _) = http_error(connect(&lab, "/no-such-scenario").await);
    assert_eq!(status, 404);
}

#[tokio::test]
async fn drop_ends_without_close_frame() {
    let lab = Lab::start().await.unwrap();
    let mut client = ws(&lab, "/drop?after=50ms").await;
    match next(&mut client).await {
        Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {}
        other => panic!("expected an end without close frame, got {other:?}"),
    }

    let mut client = ws(&lab, "/drop?after=50ms&rst=1").await;
    match next(&mut client).await {
        Some(Err(WsError::Io(err))) => {
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
        }
        other => panic!("expected a connection reset, got {other:?}"),
    }
}

#[tokio::test]
async fn mute_stops_answering_but_keeps_tcp_open() {
    let lab = Lab::start().await.unwrap();
    let mut client = ws(&lab, "/mute?after=100ms").await;
    client.send(Message::text("early")).await.unwrap();
    assert_eq!(
        next(&mut client).await.unwrap().unwrap(),
        Message::text("early")
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    client.send(Message::Ping(Vec::new().into())).await.unwrap();
    client.send(Message::text("late")).await.unwrap();
    assert!(
        timeout(Duration::from_millis(400), client.next())
            .await
            .is_err(),
        "muted lab answered"
    );
    assert_eq!(lab.open_connections(), 1);
    drop(client);
    // The muted session notices that the client went away.
    let deadline = Instant::now() + STEP;
    while lab.open_connections() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lab.open_connections(), 0);
}

#[tokio::test]
async fn idle_timeout_drops_or_closes() {
    let lab = Lab::start().await.unwrap();
    let mut dropped = ws(&lab, "/idle?after=150ms").await;
    let mut closed = ws(&lab, "/idle?after=150ms&mode=close").await;
    let mut pinged = ws(&lab, "/idle?after=400ms&pings=ignore").await;
    assert!(matches!(
        next(&mut dropped).await,
        Some(Err(WsError::Protocol(
            ProtocolError::ResetWithoutClosingHandshake
        )))
    ));
    match next(&mut closed).await {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(frame.code, CloseCode::Away);
            assert_eq!(frame.reason.as_str(), "idle timeout");
        }
        other => panic!("expected close 1001, got {other:?}"),
    }
    // Pings do not count as traffic here (they are still answered): the session is cut while
    // pings keep flowing every 100 ms. Were they traffic, all 30 (3 s) would be answered.
    let mut answered = 0;
    let cut = loop {
        if answered == 30 {
            break false;
        }
        if pinged.send(Message::Ping(Vec::new().into())).await.is_err() {
            break true;
        }
        match next(&mut pinged).await {
            Some(Ok(Message::Pong(_))) => answered += 1,
            _ => break true,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        cut,
        "pings extended the idle timer: {answered} pings answered"
    );
}

#[tokio::test]
async fn silent_ticks_then_goes_quiet() {
    let lab = Lab::start().await.unwrap();
    let mut client = ws(&lab, "/silent?rate=50&after=100ms").await;
    let mut ticks = Vec::new();
    while let Ok(Some(msg)) = timeout(Duration::from_millis(300), client.next()).await {
        ticks.push(msg.unwrap().into_text().unwrap().to_string());
    }
    assert_eq!(ticks.first().map(String::as_str), Some("tick 1"));
    assert!((3..=6).contains(&ticks.len()), "{ticks:?}");
    client
        .send(Message::Ping(b"still".to_vec().into()))
        .await
        .unwrap();
    assert_eq!(
        next(&mut client).await.unwrap().unwrap(),
        Message::Pong(b"still".to_vec().into())
    );
}

#[tokio::test]
async fn stream_sends_sized_messages() {
    let lab = Lab::start().await.unwrap();
    let mut client = ws(&lab, "/stream?rate=200&size=10").await;
    for _ in 0..5 {
        let msg = next(&mut client).await.unwrap().unwrap();
        assert_eq!(msg.into_text().unwrap().len(), 10);
    }
}

#[tokio::test]
async fn oversized_and_invalid_utf8() {
    let lab = Lab::start().await.unwrap();
    let mut client = ws(&lab, "/oversized?size=100000").await;
    match next(&mut client).await {
        Some(Ok(Message::Binary(data))) => assert_eq!(data.len(), 100_000),
        other => panic!("expected a binary message, got {other:?}"),
    }
    client.send(Message::text("after")).await.unwrap();
    assert_eq!(
        next(&mut client).await.unwrap().unwrap(),
        Message::text("after")
    );

    let mut client = ws(&lab, "/invalid-utf8").await;
    assert!(matches!(
        next(&mut client).await,
        Some(Err(WsError::Utf8(_)))
    ));
}

#[tokio::test]
async fn slow_delays_the_upgrade() {
    let lab = Lab::start().await.unwrap();
    let start = Instant::now();
    let mut client = ws(&lab, "/slow?delay=250ms").await;
    assert!(start.elapsed() >= Duration::from_millis(250));
    client.send(Message::text("x")).await.unwrap();
    assert_eq!(
        next(&mut client).await.unwrap().unwrap(),
        Message::text("x")
    );
}

#[tokio::test]
async fn flap_accepts_in_up_window_and_rejects_in_down_window() {
    let lab = Lab::start().await.unwrap();
    let started = Instant::now();
    let mut client = ws(&lab, "/flap?up=400ms&down=400ms").await;
    assert!(matches!(
        next(&mut client).await,
        Some(Err(WsError::Protocol(
            ProtocolError::ResetWithoutClosingHandshake
        )))
    ));
    let dropped_after = started.elapsed();
    assert!(
        dropped_after >= Duration::from_millis(350),
        "{dropped_after:?}"
    );
    tokio::time::sleep_until((started + Duration::from_millis(600)).into()).await;
    let (status, _) = http_error(connect(&lab, "/flap?up=400ms&down=400ms").await);
    assert_eq!(status, 503);
}

#[tokio::test]
async fn subprotocols_are_echoed_unless_disabled() {
    let lab = Lab::start().await.unwrap();
    let mut request = lab.ws_url("/echo").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "hl.v2, hl.v1".parse().unwrap());
    let tcp = TcpStream::connect(lab.addr()).await.unwrap();
    let (_client, resp) = client_async(request, tcp).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "hl.v2");

    let mut request = lab
        .ws_url("/echo?subprotocol=none")
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "hl.v1".parse().unwrap());
    let tcp = TcpStream::connect(lab.addr()).await.unwrap();
    match client_async(request, tcp).await {
        Err(WsError::Protocol(ProtocolError::SecWebSocketSubProtocolError(_))) => {}
        other => panic!(
            "expected a missing-subprotocol error, got {:?}",
            other.map(|_| ())
        ),
    }
}

/// A TLS connection to the lab's wss listener that trusts only the lab's certificate.
async fn tls_connect(lab: &Lab) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(lab.certificate_der()))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(lab.tls_addr().unwrap()).await.unwrap();
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test]
async fn wss_drop_with_rst_resets_the_connection() {
    let lab = Lab::start().await.unwrap();
    let tls = tls_connect(&lab).await;
    let (mut client, _) = client_async(lab.wss_url("/drop?after=50ms&rst=1"), tls)
        .await
        .unwrap();
    match timeout(STEP, client.next()).await.unwrap() {
        Some(Err(WsError::Io(err))) => {
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
        }
        other => panic!("expected a connection reset, got {other:?}"),
    }
}

#[tokio::test]
async fn wss_handshake_with_trusted_certificate_logs_headers() {
    let lab = Lab::start().await.unwrap();
    let tls = tls_connect(&lab).await;

    let url = lab.wss_url("/headers");
    assert!(url.starts_with("wss://localhost:"), "{url}");
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("X-Heartline-Test", "yes".parse().unwrap());
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "hl.v1".parse().unwrap());
    let (mut client, resp) = client_async(request, tls).await.unwrap();
    assert_eq!(resp.headers()["sec-websocket-protocol"], "hl.v1");
    client.send(Message::text("over tls")).await.unwrap();
    let reply = timeout(STEP, client.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply, Message::text("over tls"));
    assert!(lab
        .certificate_pem()
        .starts_with("-----BEGIN CERTIFICATE-----"));

    let handshake = lab
        .log()
        .into_iter()
        .find_map(|r| match r {
            LabRecord::Handshake {
                path,
                headers,
                subprotocols,
                ..
            } => Some((path, headers, subprotocols)),
            _ => None,
        })
        .expect("a handshake record");
    assert_eq!(handshake.0, "/headers");
    assert!(handshake
        .1
        .contains(&("x-heartline-test".to_owned(), "yes".to_owned())));
    assert!(handshake.1.iter().any(|(k, _)| k == "sec-websocket-key"));
    assert_eq!(handshake.2, vec!["hl.v1".to_owned()]);
}

#[tokio::test]
async fn shutdown_drops_connections_and_stops_listening() {
    let lab = Lab::start_with(LabOptions {
        tls_bind: None,
        ..LabOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(lab.tls_addr(), None);
    let addr = lab.addr();
    let mut client = ws(&lab, "/echo").await;
    assert_eq!(lab.open_connections(), 1);
    lab.shutdown().await;
    assert!(matches!(next(&mut client).await, None | Some(Err(_))));
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_lab_stops_it() {
    let lab = Lab::start().await.unwrap();
    let mut client = ws(&lab, "/echo").await;
    drop(lab);
    assert!(matches!(next(&mut client).await, None | Some(Err(_))));
}
