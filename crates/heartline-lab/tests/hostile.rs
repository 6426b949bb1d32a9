//! The hostile scenarios as bytes on the wire: what a client receives, read over raw TCP
//! where tungstenite's client would refuse to show it.

use std::time::Duration;

use futures_util::StreamExt;
use heartline_lab::{Lab, LabRecord};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::client_async;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Bounds every wait so that a broken lab fails the test instead of hanging it.
const STEP: Duration = Duration::from_secs(5);
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Sends an upgrade request by hand; returns the stream, unread.
async fn raw_request(lab: &Lab, path: &str, extra: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(lab.addr()).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n",
        lab.addr()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    tcp
}

/// Reads up to and including the blank line that ends a response head, at most `limit`
/// bytes; returns the head and whatever came after it.
async fn read_head(tcp: &mut TcpStream, limit: usize) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return (String::from_utf8(buf).expect("ASCII head"), rest);
        }
        assert!(buf.len() <= limit, "head longer than {limit} bytes");
        let n = timeout(STEP, tcp.read(&mut chunk))
            .await
            .expect("lab answers")
            .unwrap();
        assert!(n > 0, "connection closed inside the head: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads exactly `n` more bytes after `have`.
async fn read_exact(tcp: &mut TcpStream, mut have: Vec<u8>, n: usize) -> Vec<u8> {
    let start = have.len();
    have.resize(n.max(start), 0);
    if n > start {
        timeout(STEP, tcp.read_exact(&mut have[start..]))
            .await
            .expect("lab sends")
            .unwrap();
    }
    have.truncate(n);
    have
}

/// The value of the first header `name` (any case) in a response head.
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Whether the head carries the accept key a client checks (the 101 is otherwise valid).
fn accepts(head: &str) -> bool {
    header(head, "sec-websocket-accept") == Some(derive_accept_key(KEY.as_bytes()).as_str())
}

#[tokio::test]
async fn unauthorized_refusals_echo_the_credentials_they_were_sent() {
    let lab = Lab::start().await.unwrap();
    for (status, words) in [(401, "Unauthorized"), (403, "Forbidden")] {
        let path = format!("/unauthorized?status={status}&access_token=q-s3cret");
        let mut request = lab.ws_url(&path).into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", "Bearer h-s3cret".parse().unwrap());
        let tcp = TcpStream::connect(lab.addr()).await.unwrap();
        let Err(WsError::Http(response)) = client_async(request, tcp).await else {
            panic!("{path}: the upgrade must be refused");
        };
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.status().canonical_reason(), Some(words));
        let body = String::from_utf8(response.body().clone().unwrap()).unwrap();
        assert!(
            body.starts_with("invalid credentials: Bearer h-s3cret\n"),
            "{body}"
        );
        assert!(body.contains(&format!("request: GET {path}\n")), "{body}");
        assert!(
            body.contains("\nauthorization: Bearer h-s3cret\n"),
            "{body}"
        );
    }
    let log = lab.log();
    assert!(log.iter().any(|r| matches!(
        r,
        LabRecord::Rejected { status: 403, path, .. } if path.contains("access_token=q-s3cret")
    )));
    lab.shutdown().await;
}

#[tokio::test]
async fn evil_reasons_arrive_byte_for_byte() {
    let lab = Lab::start().await.unwrap();
    for (kind, expected) in [
        (
            "terminal",
            "\u{1b}]0;pwned\u{7}\u{1b}[31mALERT\u{1b}[0m\nheartline: every endpoint is up",
        ),
        ("formula", "=HYPERLINK(\"http://x\")"),
        ("bidi", "invoice\u{202e}fdp.exe"),
    ] {
        let tcp = TcpStream::connect(lab.addr()).await.unwrap();
        let (mut client, _) = client_async(lab.ws_url(&format!("/evil-reason?kind={kind}")), tcp)
            .await
            .unwrap();
        match timeout(STEP, client.next()).await.expect("close comes") {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 4000, "{kind}");
                assert_eq!(frame.reason.as_str(), expected, "{kind}");
            }
            other => panic!("{kind}: {other:?}"),
        }
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn redirects_answer_the_upgrade_with_a_location() {
    let lab = Lab::start().await.unwrap();
    for (path, status, location) in [
        ("/redirect", 302, "/echo"),
        (
            "/redirect?status=301&location=ws%3A%2F%2Fexample.invalid%2F",
            301,
            "ws://example.invalid/",
        ),
    ] {
        let tcp = TcpStream::connect(lab.addr()).await.unwrap();
        let Err(WsError::Http(response)) = client_async(lab.ws_url(path), tcp).await else {
            panic!("{path}: a redirect is not an upgrade");
        };
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert_eq!(response.headers()["location"], location, "{path}");
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn many_headers_is_a_valid_101_with_ten_thousand_more_lines() {
    let lab = Lab::start().await.unwrap();
    let mut tcp = raw_request(&lab, "/many-headers", "Sec-WebSocket-Protocol: chat\r\n").await;
    let (head, _) = read_head(&mut tcp, 1 << 20).await;
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head:.200}"
    );
    assert!(accepts(&head), "{head:.300}");
    assert_eq!(header(&head, "sec-websocket-protocol"), Some("chat"));
    assert_eq!(head.matches("\r\nX-Flood-").count(), 10_000);
    assert!(
        matches!(lab.log().first(), Some(LabRecord::Handshake { path, .. }) if path == "/many-headers")
    );

    let mut tcp = raw_request(&lab, "/many-headers?count=3", "").await;
    let (head, _) = read_head(&mut tcp, 4096).await;
    assert!(head.ends_with("X-Flood-3: 3\r\n\r\n"), "{head}");
    lab.shutdown().await;
}

#[tokio::test]
async fn huge_header_is_one_line_of_a_mebibyte() {
    let lab = Lab::start().await.unwrap();
    let mut tcp = raw_request(&lab, "/huge-header", "").await;
    let (head, _) = read_head(&mut tcp, 2 << 20).await;
    assert!(accepts(&head), "{head:.300}");
    let line = head
        .split("\r\n")
        .find(|l| l.starts_with("X-Huge: "))
        .expect("the huge line");
    assert_eq!(line.len(), "X-Huge: ".len() + (1 << 20));
    lab.shutdown().await;
}

#[tokio::test]
async fn endless_headers_never_finish_the_head() {
    let lab = Lab::start().await.unwrap();
    let mut tcp = raw_request(&lab, "/endless-headers?every=2ms", "").await;
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read until 50 trickled lines have come; the head must still be open.
    while String::from_utf8_lossy(&seen).matches("X-Trickle-").count() < 50 {
        let n = timeout(STEP, tcp.read(&mut chunk))
            .await
            .expect("lines keep coming")
            .unwrap();
        assert!(n > 0, "the lab closed the connection");
        seen.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8(seen).unwrap();
    assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(!text.contains("\r\n\r\n"), "the head never ends");
    assert!(text.contains("X-Trickle-1: 1\r\nX-Trickle-2: 2\r\n"));
    drop(tcp);
    // A raw scenario without a Sec-WebSocket-Key gets no answer at all.
    let mut plain = TcpStream::connect(lab.addr()).await.unwrap();
    plain
        .write_all(b"GET /endless-headers HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = timeout(STEP, plain.read(&mut buf)).await.expect("dropped");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    lab.shutdown().await;
}

#[tokio::test]
async fn bad_close_frames_are_sent_as_they_are() {
    let lab = Lab::start().await.unwrap();
    for (kind, payload) in [
        ("one-byte", b"\x03".to_vec()),
        ("invalid-utf8", b"\x03\xe8bye \xc3\x28".to_vec()),
        (
            "1004",
            [&[0x03, 0xec][..], b"reserved code on the wire"].concat(),
        ),
        (
            "1005",
            [&[0x03, 0xed][..], b"reserved code on the wire"].concat(),
        ),
        (
            "1006",
            [&[0x03, 0xee][..], b"reserved code on the wire"].concat(),
        ),
        (
            "1015",
            [&[0x03, 0xf7][..], b"reserved code on the wire"].concat(),
        ),
    ] {
        let mut tcp = raw_request(&lab, &format!("/bad-close?kind={kind}"), "").await;
        let (head, rest) = read_head(&mut tcp, 4096).await;
        assert!(head.starts_with("HTTP/1.1 101"), "{kind}: {head}");
        let frame = read_exact(&mut tcp, rest, 2 + payload.len()).await;
        assert_eq!(frame[0], 0x88, "{kind}: FIN + close");
        assert_eq!(
            usize::from(frame[1]),
            payload.len(),
            "{kind}: unmasked length"
        );
        assert_eq!(&frame[2..], payload, "{kind}");
    }
    lab.shutdown().await;
}

#[tokio::test]
async fn deflate_asserts_an_extension_nobody_offered_and_sends_a_bomb() {
    let lab = Lab::start().await.unwrap();
    let mut tcp = raw_request(&lab, "/deflate?size=1MiB", "").await;
    let (head, rest) = read_head(&mut tcp, 4096).await;
    assert!(accepts(&head), "{head}");
    assert_eq!(
        header(&head, "sec-websocket-extensions"),
        Some("permessage-deflate")
    );
    let header = read_exact(&mut tcp, rest, 4).await;
    assert_eq!(header[0], 0xC2, "FIN + RSV1 (compressed) + binary");
    assert_eq!(header[1], 126, "a 16-bit length");
    let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
    assert!(
        len < (1 << 20) / 100,
        "{len} compressed bytes inflate to 1 MiB"
    );
    let LabRecord::Handshake { headers, .. } = &lab.log()[0] else {
        panic!("handshake first");
    };
    assert!(
        !headers.iter().any(|(n, _)| n == "sec-websocket-extensions"),
        "this client offered nothing"
    );
    lab.shutdown().await;
}
