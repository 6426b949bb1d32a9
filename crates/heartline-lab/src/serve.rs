//! Listeners, accept loops and the WebSocket handshake of each connection.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Error as WsError;
use tracing::{debug, warn};

use crate::scenario::{self, Plan, Scenario, RAW_PATHS};
use crate::state::Shared;
use crate::stream::{Prefixed, Transport};
use crate::{hostile, session, Error, LabRecord, Result};

/// Time a client gets to send its request line, finish TLS, or finish the upgrade.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest request line we wait for before handing the bytes to tungstenite anyway.
const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Accept backlog; the kernel caps it at `net.core.somaxconn`.
const BACKLOG: u32 = 4096;
/// Body of `/reject` responses.
pub(crate) const REJECT_BODY: &str = "rejected by heartline-lab";

/// Binds a listener with a large backlog (benchmarks open thousands of connections at once).
pub(crate) fn bind(addr: SocketAddr) -> Result<TcpListener> {
    let bind_err = |source: io::Error| Error::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(bind_err)?;
    socket.set_reuseaddr(true).map_err(bind_err)?;
    socket.bind(addr).map_err(bind_err)?;
    socket.listen(BACKLOG).map_err(bind_err)
}

/// Accepts connections until the lab stops; one task per connection.
///
/// Every task holds a clone of `alive` so that [`crate::Lab::shutdown`] can wait for them.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            () = stopped(&mut stop) => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((tcp, peer)) => {
                let conn = shared.next_conn();
                let shared = shared.clone();
                let tls = tls.clone();
                let mut stop = stop.clone();
                let alive = alive.clone();
                tokio::spawn(async move {
                    let _alive = alive;
                    tokio::select! {
                        () = stopped(&mut stop) => debug!(conn, "dropped by lab shutdown"),
                        () = connection(conn, peer, tcp, tls, &shared) => {}
                    }
                });
            }
            Err(err) => {
                // Typically EMFILE/ENFILE: back off instead of spinning.
                warn!(%err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Resolves once the lab is stopping (stop flag set, or the `Lab` dropped).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

async fn connection(
    conn: u64,
    peer: SocketAddr,
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    shared: &Shared,
) {
    debug!(conn, %peer, tls = tls.is_some(), "accepted");
    if let Err(err) = tcp.set_nodelay(true) {
        debug!(conn, %err, "cannot set TCP_NODELAY");
    }
    match tls {
        None => serve(conn, tcp, shared).await,
        // Boxed: the TLS state is ~10 KiB and would otherwise enlarge every plain connection's
        // task too (a future is as large as its largest branch).
        Some(acceptor) => Box::pin(serve_tls(conn, tcp, acceptor, shared)).await,
    }
}

async fn serve_tls(conn: u64, tcp: TcpStream, acceptor: TlsAcceptor, shared: &Shared) {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => serve(conn, stream, shared).await,
        Ok(Err(err)) => debug!(conn, %err, "TLS handshake failed"),
        Err(_) => debug!(conn, "TLS handshake timed out"),
    }
}

/// What the handshake callback decided to accept.
struct Accepted {
    plan: Plan,
    /// For `/flap`: when the current up window ends.
    up_until: Option<Instant>,
}

async fn serve<S: Transport>(conn: u64, mut stream: S, shared: &Shared) {
    let head = match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_request_line(&mut stream)).await {
        Ok(Ok(head)) => head,
        Ok(Err(err)) => return debug!(conn, %err, "no request"),
        Err(_) => return debug!(conn, "request line timed out"),
    };

    // `/slow` waits before answering, and the raw scenarios write their own upgrade
    // response; everything else is decided in the callback below.
    if let Some(target) = request_target(&head) {
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        if path == "/slow" || RAW_PATHS.contains(&path) {
            match scenario::parse(target) {
                Ok(Plan {
                    scenario: Scenario::Slow { delay },
                    ..
                }) => {
                    debug!(conn, ?delay, "slow: holding the upgrade");
                    tokio::time::sleep(delay).await;
                }
                Ok(plan) if plan.scenario.answers_raw() => {
                    return hostile::serve_raw(conn, head, stream, &plan, shared).await;
                }
                // A bad parameter: tungstenite's handshake answers it with a 400 below.
                _ => {}
            }
        }
    }

    let mut accepted: Option<Accepted> = None;
    // The callback's signature (with its large error type) is tungstenite's.
    #[allow(clippy::result_large_err)]
    let callback = |req: &Request, resp: Response| decide(conn, shared, req, resp, &mut accepted);
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(
        Prefixed::new(head, stream),
        callback,
        Some(ws_config()),
    );
    let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(WsError::Http(resp))) => return debug!(conn, status = %resp.status(), "rejected"),
        Ok(Err(err)) => return debug!(conn, %err, "WebSocket handshake failed"),
        Err(_) => return debug!(conn, "WebSocket handshake timed out"),
    };
    let Some(accepted) = accepted else {
        return warn!(conn, "handshake completed without a decision");
    };

    let _session = shared.open_session(conn);
    debug!(conn, scenario = ?accepted.plan.scenario, "session open");
    session::run(conn, ws, &accepted.plan.scenario, accepted.up_until, shared).await;
    debug!(conn, "session ended");
}

/// Tungstenite settings: small buffers so that 10 000 idle sessions stay cheap.
pub(crate) fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20))
}

/// The handshake callback: logs the request and accepts or rejects it.
#[allow(clippy::result_large_err)] // tungstenite's callback signature
fn decide(
    conn: u64,
    shared: &Shared,
    req: &Request,
    mut resp: Response,
    accepted: &mut Option<Accepted>,
) -> std::result::Result<Response, ErrorResponse> {
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().to_string(), |p| p.to_string());
    let offered = offered_subprotocols(req);
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let plan = scenario::parse(&path);
    // Built before the headers move into the log: only `/unauthorized` needs them again.
    let unauthorized_body = match &plan {
        Ok(Plan {
            scenario: Scenario::Unauthorized { .. },
            ..
        }) => Some(hostile::unauthorized_body(&path, &headers)),
        _ => None,
    };
    shared.record(LabRecord::Handshake {
        conn,
        path: path.clone(),
        headers,
        subprotocols: offered.clone(),
    });

    let reject = |status: u16, body: String, location: Option<&str>| {
        shared.record(LabRecord::Rejected {
            conn,
            path: path.clone(),
            status,
        });
        debug!(conn, status, %path, "rejecting upgrade");
        error_response(status, body, location)
    };

    let plan = match plan {
        Ok(plan) => plan,
        Err(bad) => return Err(reject(bad.status, bad.message, None)),
    };
    let mut up_until = None;
    match &plan.scenario {
        Scenario::Reject { status, location } => {
            return Err(reject(*status, REJECT_BODY.to_owned(), location.as_deref()));
        }
        Scenario::Unauthorized { status } => {
            let body = unauthorized_body.unwrap_or_default();
            return Err(reject(*status, body, None));
        }
        // Only when the request line did not arrive whole within 8 KiB (see `serve`).
        raw if raw.answers_raw() => {
            return Err(reject(
                400,
                format!("heartline-lab: {path} needs its request line within 8 KiB"),
                None,
            ));
        }
        Scenario::Deflate { .. } => {
            // Nobody offered it (Heartline never does): the server asserts it anyway.
            resp.headers_mut().insert(
                header::SEC_WEBSOCKET_EXTENSIONS,
                HeaderValue::from_static("permessage-deflate"),
            );
        }
        Scenario::Flap { up, down } => match flap_window(shared.started.elapsed(), *up, *down) {
            Some(left) => up_until = Some(Instant::now() + left),
            None => {
                return Err(reject(
                    503,
                    format!("{REJECT_BODY} (flap: down window)"),
                    None,
                ))
            }
        },
        _ => {}
    }
    if plan.accept_subprotocol {
        if let Some(value) = offered.first().and_then(|p| HeaderValue::from_str(p).ok()) {
            resp.headers_mut()
                .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
        }
    }
    *accepted = Some(Accepted { plan, up_until });
    Ok(resp)
}

/// The offered subprotocols, in order, from all `Sec-WebSocket-Protocol` headers.
fn offered_subprotocols(req: &Request) -> Vec<String> {
    let mut offered = Vec::new();
    for value in req.headers().get_all(header::SEC_WEBSOCKET_PROTOCOL) {
        let value = String::from_utf8_lossy(value.as_bytes());
        offered.extend(
            value
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    }
    offered
}

/// For a lab running `elapsed`, cycling `up` then `down`: the time left in the current up
/// window, or `None` in a down window.
pub(crate) fn flap_window(elapsed: Duration, up: Duration, down: Duration) -> Option<Duration> {
    let cycle = (up + down).as_nanos();
    if cycle == 0 {
        return None;
    }
    let phase = elapsed.as_nanos() % cycle;
    let up = up.as_nanos();
    // `up - phase` < `up` <= 24h in nanoseconds, which fits a u64.
    (phase < up).then(|| Duration::from_nanos(u64::try_from(up - phase).unwrap_or(u64::MAX)))
}

fn error_response(status: u16, body: String, location: Option<&str>) -> ErrorResponse {
    let len = body.len();
    let mut resp = ErrorResponse::new(Some(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if let Some(value) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        headers.insert(header::LOCATION, value);
    }
    resp
}

/// Reads until the end of the request line (or EOF/limit) and returns everything read.
async fn read_request_line<S: Transport>(stream: &mut S) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(512);
    loop {
        if buf.contains(&b'\n') || buf.len() >= MAX_REQUEST_LINE {
            return Ok(buf);
        }
        buf.reserve(512);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// The request target of `GET /path?query HTTP/1.1`, if the first line looks like that.
fn request_target(head: &[u8]) -> Option<&str> {
    let line_end = head.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let mut parts = line.split_ascii_whitespace();
    let _method = parts.next()?;
    parts.next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_targets() {
        assert_eq!(
            request_target(b"GET /slow?delay=1s HTTP/1.1\r\nHost: x\r\n"),
            Some("/slow?delay=1s")
        );
        assert_eq!(request_target(b"GET /slow HTTP/1.1"), None);
        assert_eq!(request_target(b"\xff\xfe\n"), None);
        assert_eq!(request_target(b"\r\n"), None);
    }

    #[test]
    fn flap_windows() {
        let s = Duration::from_millis;
        assert_eq!(flap_window(s(0), s(100), s(50)), Some(s(100)));
        assert_eq!(flap_window(s(30), s(100), s(50)), Some(s(70)));
        assert_eq!(flap_window(s(100), s(100), s(50)), None);
        assert_eq!(flap_window(s(149), s(100), s(50)), None);
        assert_eq!(flap_window(s(150), s(100), s(50)), Some(s(100)));
        assert_eq!(flap_window(s(10), s(0), s(50)), None);
        assert_eq!(flap_window(s(10), s(50), s(0)), Some(s(40)));
    }

    /// Every connection is one task; its future must stay small for 10 000 connections.
    #[tokio::test]
    async fn plain_connection_task_is_small() {
        let shared = Shared::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let task = connection(1, addr, tcp, None, &shared);
        let size = std::mem::size_of_val(&task);
        assert!(size < 4096, "connection future is {size} bytes");
    }

    #[test]
    fn error_responses_carry_length_and_location() {
        let resp = error_response(302, "moved\n".into(), Some("/echo"));
        assert_eq!(resp.status(), 302);
        assert_eq!(resp.headers()[header::CONTENT_LENGTH], "6");
        assert_eq!(resp.headers()[header::LOCATION], "/echo");
    }
}
