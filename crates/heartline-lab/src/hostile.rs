//! The hostile side of the lab: upgrade responses and frames that no well-behaved server
//! writes. tungstenite refuses to produce most of them, so they are written to the socket
//! directly.
//!
//! Raw upgrade responses (`/many-headers`, `/huge-header`, `/endless-headers`) are served
//! here from the request head to the end of the connection; raw frames (`/bad-close`,
//! `/deflate`) are written by the session into an otherwise ordinary WebSocket connection.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;
use tracing::debug;

use crate::scenario::{Plan, Scenario};
use crate::serve::{ws_config, HANDSHAKE_TIMEOUT};
use crate::session::MUTE_LIMIT;
use crate::state::Shared;
use crate::stream::{Prefixed, Transport};
use crate::{session, LabRecord};

/// Longest request head (request line and headers) a raw scenario reads.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// How long writing a raw response may take: a client that stops reading it (as a careful
/// client does once it has seen enough) must not pin the connection's task.
const WRITE_LIMIT: Duration = Duration::from_secs(30);
/// Raw responses go out in chunks of about this size.
const CHUNK: usize = 64 * 1024;

/// The parts of an upgrade request the raw scenarios need.
#[derive(Debug, PartialEq, Eq)]
struct RequestHead {
    /// Path and query as requested.
    target: String,
    /// All headers, names lower-case, in request order.
    headers: Vec<(String, String)>,
}

impl RequestHead {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn subprotocols(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "sec-websocket-protocol")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Serves a scenario whose upgrade response is written raw ([`Scenario::answers_raw`]).
/// `head` holds what was read so far (at least the request line).
pub(crate) async fn serve_raw<S: Transport>(
    conn: u64,
    head: Vec<u8>,
    mut stream: S,
    plan: &Plan,
    shared: &Shared,
) {
    let (head, rest) =
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_head(head, &mut stream)).await {
            Ok(Ok(parts)) => parts,
            Ok(Err(err)) => return debug!(conn, %err, "no complete request head"),
            Err(_) => return debug!(conn, "request head timed out"),
        };
    let Some(request) = parse_head(&head) else {
        return debug!(conn, "malformed request head; dropped");
    };
    // Like every other path: what is not a WebSocket upgrade gets no answer and no record.
    let Some(key) = request.header("sec-websocket-key") else {
        return debug!(conn, "not a WebSocket upgrade; dropped");
    };
    let accept = derive_accept_key(key.trim().as_bytes());
    let subprotocols = request.subprotocols();
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n"
    );
    if let Some(first) = subprotocols.first().filter(|_| plan.accept_subprotocol) {
        response.push_str(&format!("Sec-WebSocket-Protocol: {first}\r\n"));
    }
    shared.record(LabRecord::Handshake {
        conn,
        path: request.target,
        headers: request.headers,
        subprotocols,
    });

    let scenario = &plan.scenario;
    let written = match *scenario {
        Scenario::ManyHeaders { count } => {
            debug!(conn, count, "101 with many headers");
            write_limited(write_many_headers(&mut stream, response, count)).await
        }
        Scenario::HugeHeader { size } => {
            debug!(conn, size, "101 with a huge header line");
            write_limited(write_huge_header(&mut stream, response, size)).await
        }
        Scenario::EndlessHeaders { every } => {
            debug!(conn, ?every, "101 whose headers never end");
            let trickle = trickle_headers(&mut stream, response, every);
            match tokio::time::timeout(MUTE_LIMIT, trickle).await {
                Ok(Err(err)) => debug!(conn, %err, "client left the endless headers"),
                Ok(Ok(())) | Err(_) => debug!(conn, "endless headers: time limit reached"),
            }
            return;
        }
        _ => return debug!(conn, ?scenario, "not a raw scenario"),
    };
    if let Err(err) = written {
        return debug!(conn, %err, "client stopped reading the raw response");
    }

    // The response was a complete 101: a client lenient enough to accept it gets an echo
    // session, like on any other path.
    let ws = WebSocketStream::from_raw_socket(
        Prefixed::new(rest, stream),
        Role::Server,
        Some(ws_config()),
    )
    .await;
    let _session = shared.open_session(conn);
    session::run(conn, ws, scenario, None, shared).await;
}

async fn write_limited(write: impl std::future::Future<Output = io::Result<()>>) -> io::Result<()> {
    tokio::time::timeout(WRITE_LIMIT, write)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// Reads until the blank line that ends the request head. Returns the head (without the
/// blank line) and whatever was read after it.
async fn read_head<R: tokio::io::AsyncRead + Unpin>(
    mut buf: Vec<u8>,
    stream: &mut R,
) -> io::Result<(Vec<u8>, Vec<u8>)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            buf.truncate(end);
            return Ok((buf, rest));
        }
        if buf.len() >= MAX_REQUEST_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head longer than 16 KiB",
            ));
        }
        buf.reserve(1024);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// `GET target HTTP/1.1` and `Name: value` lines; `None` if the request line is not that.
fn parse_head(head: &[u8]) -> Option<RequestHead> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split_ascii_whitespace();
    let (_method, target, _version) = (
        request_line.next()?,
        request_line.next()?,
        request_line.next()?,
    );
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Some(RequestHead {
        target: target.to_owned(),
        headers,
    })
}

/// The 101 head, `count` lines `X-Flood-N: N`, and the blank line.
async fn write_many_headers<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    head: String,
    count: usize,
) -> io::Result<()> {
    let mut buf = head.into_bytes();
    for n in 1..=count {
        buf.extend_from_slice(format!("X-Flood-{n}: {n}\r\n").as_bytes());
        if buf.len() >= CHUNK {
            w.write_all(&buf).await?;
            buf.clear();
        }
    }
    buf.extend_from_slice(b"\r\n");
    w.write_all(&buf).await?;
    w.flush().await
}

/// The 101 head, one header `X-Huge` whose value is `size` bytes of `x`, and the blank line.
async fn write_huge_header<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    head: String,
    size: usize,
) -> io::Result<()> {
    static XS: [u8; CHUNK] = [b'x'; CHUNK];
    w.write_all(head.as_bytes()).await?;
    w.write_all(b"X-Huge: ").await?;
    let mut left = size;
    while left > 0 {
        let n = left.min(XS.len());
        w.write_all(&XS[..n]).await?;
        left -= n;
    }
    w.write_all(b"\r\n\r\n").await?;
    w.flush().await
}

/// The 101 head, then one more header line `X-Trickle-N: N` every `every`, never the blank
/// line. Returns only when a write fails (the client went away).
async fn trickle_headers<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    head: String,
    every: Duration,
) -> io::Result<()> {
    w.write_all(head.as_bytes()).await?;
    w.flush().await?;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for n in 1u64.. {
        tick.tick().await;
        w.write_all(format!("X-Trickle-{n}: {n}\r\n").as_bytes())
            .await?;
        w.flush().await?;
    }
    Ok(())
}

/// The body of a `/unauthorized` refusal: what careless auth middleware answers, echoing the
/// credential it was sent, the request target and every request header.
pub(crate) fn unauthorized_body(target: &str, headers: &[(String, String)]) -> String {
    let authorization = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map_or("(none sent)", |(_, v)| v.as_str());
    let mut body = format!("invalid credentials: {authorization}\nrequest: GET {target}\n");
    for (name, value) in headers {
        body.push_str(&format!("{name}: {value}\n"));
    }
    body
}

/// The header of a final, unmasked frame: `first` is the first byte (FIN, RSV bits, opcode),
/// followed by the payload length in the shortest form.
pub(crate) fn frame_header(first: u8, len: usize) -> Vec<u8> {
    let mut header = vec![first];
    if len < 126 {
        header.push(len as u8);
    } else if let Ok(len16) = u16::try_from(len) {
        header.push(126);
        header.extend_from_slice(&len16.to_be_bytes());
    } else {
        header.push(127);
        header.extend_from_slice(&(len as u64).to_be_bytes());
    }
    header
}

/// A close frame (opcode 8) with `payload` as it is, however malformed.
pub(crate) fn raw_close_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = frame_header(0x88, payload.len());
    frame.extend_from_slice(payload);
    frame
}

/// A binary message compressed with permessage-deflate (RSV1 set) that inflates to `size`
/// zero bytes: a decompression bomb for a client that negotiated (or blindly accepts) the
/// extension. About 160 times smaller than what it inflates to.
pub(crate) fn deflate_frame(size: usize) -> Vec<u8> {
    let payload = deflate_zeros(size);
    let mut frame = frame_header(0xC2, payload.len()); // FIN + RSV1 + opcode 2 (binary)
    frame.extend_from_slice(&payload);
    frame
}

/// A raw DEFLATE stream (RFC 1951) that inflates to `size` zero bytes: one fixed-Huffman
/// block holding a literal zero and then copies of 258 bytes at distance 1. It ends the way
/// RFC 7692 §7.2.1 messages end: with the header bits of an empty stored block, whose
/// `00 00 ff ff` the receiver appends itself.
pub(crate) fn deflate_zeros(size: usize) -> Vec<u8> {
    /// Fixed-Huffman codes (RFC 1951 §3.2.6): literal 0, length 258 (symbol 285), end of
    /// block (symbol 256), and distance 1 (distance code 0).
    const LITERAL_ZERO: (u32, u32) = (0b0011_0000, 8);
    const LENGTH_258: (u32, u32) = (0b1100_0101, 8);
    const END_OF_BLOCK: (u32, u32) = (0, 7);
    const DISTANCE_1: (u32, u32) = (0, 5);

    let mut w = BitWriter::default();
    w.bits(0, 1); // BFINAL: more blocks follow (the stored block the receiver completes)
    w.bits(0b01, 2); // BTYPE: fixed Huffman
    let mut left = size;
    if left > 0 {
        w.code(LITERAL_ZERO);
        left -= 1;
    }
    while left >= 258 {
        w.code(LENGTH_258);
        w.code(DISTANCE_1);
        left -= 258;
    }
    for _ in 0..left {
        w.code(LITERAL_ZERO);
    }
    w.code(END_OF_BLOCK);
    w.bits(0, 3); // BFINAL 0, BTYPE 00: the empty stored block; padding follows
    w.finish()
}

/// Packs bits least significant first, as DEFLATE does.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u8,
    used: u32,
}

impl BitWriter {
    fn push(&mut self, bit: u32) {
        self.acc |= ((bit & 1) as u8) << self.used;
        self.used += 1;
        if self.used == 8 {
            self.out.push(self.acc);
            self.acc = 0;
            self.used = 0;
        }
    }

    /// A value of `count` bits, least significant bit first (header fields, extra bits).
    fn bits(&mut self, value: u32, count: u32) {
        for i in 0..count {
            self.push(value >> i);
        }
    }

    /// A Huffman code of `len` bits, most significant bit first.
    fn code(&mut self, (code, len): (u32, u32)) {
        for i in (0..len).rev() {
            self.push(code >> i);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.out.push(self.acc);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_heads() {
        let head = b"GET /many-headers?count=3 HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Key: abc\r\n\
                     Sec-WebSocket-Protocol: a, b\r\nbroken line";
        let req = parse_head(head).unwrap();
        assert_eq!(req.target, "/many-headers?count=3");
        assert_eq!(req.header("sec-websocket-key"), Some("abc"));
        assert_eq!(req.subprotocols(), ["a", "b"]);
        assert_eq!(req.headers.len(), 3, "a line without a colon is skipped");
        assert_eq!(parse_head(b"GET /x\r\n"), None);
        assert_eq!(parse_head(b""), None);
    }

    #[tokio::test]
    async fn heads_end_at_the_blank_line() {
        let mut input: &[u8] = b"Host: x\r\n\r\nframe bytes";
        let (head, rest) = read_head(b"GET / HTTP/1.1\r\n".to_vec(), &mut input)
            .await
            .unwrap();
        assert_eq!(head, b"GET / HTTP/1.1\r\nHost: x");
        assert_eq!(rest, b"frame bytes");
    }

    #[tokio::test]
    async fn many_and_huge_headers_are_complete_responses() {
        let mut out = Vec::new();
        write_many_headers(&mut out, "HTTP/1.1 101 X\r\n".into(), 10_000)
            .await
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("\r\nX-Flood-").count(), 10_000);
        assert!(text.ends_with("X-Flood-10000: 10000\r\n\r\n"));

        let mut out = Vec::new();
        write_huge_header(&mut out, "HTTP/1.1 101 X\r\n".into(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(
            out.len(),
            "HTTP/1.1 101 X\r\nX-Huge: ".len() + (1 << 20) + 4
        );
        assert!(out.ends_with(b"xx\r\n\r\n"));
    }

    #[test]
    fn unauthorized_body_echoes_the_credential_and_headers() {
        let headers = vec![
            ("authorization".to_owned(), "Bearer tok".to_owned()),
            ("x-client".to_owned(), "heartline".to_owned()),
        ];
        assert_eq!(
            unauthorized_body("/unauthorized?token=q", &headers),
            "invalid credentials: Bearer tok\nrequest: GET /unauthorized?token=q\n\
             authorization: Bearer tok\nx-client: heartline\n"
        );
        assert!(unauthorized_body("/", &[]).starts_with("invalid credentials: (none sent)\n"));
    }

    #[test]
    fn close_frames_are_written_as_given() {
        assert_eq!(raw_close_frame(&[3]), [0x88, 1, 3]);
        assert_eq!(raw_close_frame(&[0x03, 0xee]), [0x88, 2, 0x03, 0xee]);
    }

    #[test]
    fn deflate_stream_bits() {
        // Checked against zlib: inflating each (after appending 00 00 ff ff) gives `size`
        // zero bytes.
        assert_eq!(deflate_zeros(0), [0x02, 0x00]);
        assert_eq!(deflate_zeros(1), [0x62, 0x00, 0x00]);
        assert_eq!(deflate_zeros(2), [0x62, 0x60, 0x00, 0x00]);
        assert_eq!(deflate_zeros(259), [0x62, 0x18, 0x05, 0x00, 0x00]);
        // 16 MiB: 65 027 copies of 13 bits each.
        let bomb = deflate_zeros(16 << 20);
        assert!(bomb.len() < 110_000, "{}", bomb.len());
        let frame = deflate_frame(16 << 20);
        assert_eq!(&frame[..2], [0xC2, 127]);
        assert_eq!(frame.len(), 10 + bomb.len());
    }
}
