//! The metrics endpoint over real loopback sockets: an engine watching the lab, scraped by a
//! plain HTTP/1.1 client.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use heartline_core::{CloseCause, Endpoint, EndpointId};
use heartline_engine::{Engine, EngineOptions};
use heartline_lab::Lab;
use heartline_metrics::{bind, serve, Error, Metrics, CONTENT_TYPE};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn fast(name: &str, url: String) -> Endpoint {
    let mut e = Endpoint::new(name, url);
    e.heartbeat.ping_interval = ms(100);
    e.heartbeat.pong_timeout = ms(60);
    e.reconnect.initial = ms(20);
    e.reconnect.cap = ms(200);
    e
}

/// A running server and the switch that stops it.
struct Server {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<heartline_metrics::Result<()>>,
}

async fn start(metrics: Arc<Metrics>) -> Server {
    let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(metrics, listener, async {
        let _ = stopped.await;
    }));
    Server { addr, stop, task }
}

impl Server {
    /// Signals shutdown and checks `serve` returns promptly and cleanly.
    async fn stop(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(ms(1500), self.task)
            .await
            .expect("serve returned after shutdown")
            .unwrap()
            .unwrap();
    }
}

/// A parsed response: status code, headers (names lower-case) and body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request on its own connection, read to EOF (`Connection: close`).
async fn request(addr: SocketAddr, method: &str, path: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(ms(1000), stream.read_to_end(&mut raw))
        .await
        .expect("response within 1s")
        .unwrap();
    parse(&String::from_utf8(raw).unwrap())
}

fn parse(raw: &str) -> Reply {
    let (head, body) = raw.split_once("\r\n\r\n").expect("header/body separator");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The value of the sample line starting with `prefix ` (name and labels), if present.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_shows_engine_events() {
    let lab = Lab::start().await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let engine = Engine::new(EngineOptions {
        observers: vec![metrics.observer()],
        ..Default::default()
    });
    for (id, name, path) in [
        (1, "echo", "/echo"),
        (2, "closer", "/close?code=4001&after=100ms"),
    ] {
        // Named before the first event, so no series is ever born as `endpoint-<id>`.
        metrics.set_endpoint(EndpointId(id), name);
        engine
            .insert(EndpointId(id), fast(name, lab.ws_url(path)))
            .unwrap();
    }

    const RTT_COUNT: &str = r#"heartline_rtt_seconds_count{endpoint="echo",kind="protocol"}"#;
    const CLOSES: &str =
        r#"heartline_closes_total{endpoint="closer",code="4001",initiator="server"}"#;
    // A guard against a hang, not a speed check: the events come within milliseconds when idle.
    let deadline = tokio::time::Instant::now() + ms(20_000);
    loop {
        let text = metrics.encode();
        if sample(&text, RTT_COUNT).is_some_and(|n| n > 0.0)
            && sample(&text, CLOSES).is_some_and(|n| n >= 1.0)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no RTT or close yet:\n{text}"
        );
        tokio::time::sleep(ms(20)).await;
    }

    let server = start(metrics.clone()).await;
    let reply = request(server.addr, "GET", "/metrics").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some(CONTENT_TYPE));
    let body = &reply.body;
    assert!(body.ends_with("# EOF\n"), "{body}");
    assert!(sample(body, RTT_COUNT).is_some_and(|n| n > 0.0), "{body}");
    assert!(
        sample(
            body,
            r#"heartline_rtt_seconds_bucket{le="+Inf",endpoint="echo",kind="protocol"}"#
        )
        .is_some_and(|n| n > 0.0),
        "{body}"
    );
    assert!(sample(body, CLOSES).is_some_and(|n| n >= 1.0), "{body}");
    assert_eq!(
        sample(body, r#"heartline_endpoint_up{endpoint="echo"}"#),
        Some(1.0),
        "{body}"
    );
    // Handshake phases: fleet-wide histograms (both endpoints connected at least once), and
    // each endpoint's last upgrade as a gauge.
    assert!(
        sample(
            body,
            r#"heartline_handshake_phase_seconds_count{phase="upgrade"}"#
        )
        .is_some_and(|n| n >= 2.0),
        "{body}"
    );
    assert!(
        sample(
            body,
            r#"heartline_last_handshake_phase_seconds{endpoint="echo",phase="upgrade"}"#
        )
        .is_some_and(|s| s > 0.0),
        "{body}"
    );
    assert!(
        sample(body, r#"heartline_reconnects_total{endpoint="closer"}"#).is_some_and(|n| n >= 1.0),
        "{body}"
    );
    assert!(!body.contains("endpoint-"), "{body}");

    server.stop().await;
    engine.stop_all(CloseCause::Shutdown).await;
    // The shutdown closes are counted too: by us, cause `shutdown`.
    assert!(metrics
        .encode()
        .contains(r#"heartline_closed_by_us_total{endpoint="echo",cause="shutdown"} 1"#));
    lab.shutdown().await;
}

/// What an engine observer hands over for a Socket.IO endpoint — its server's heartbeats, a
/// missed one and an application refusal — is scraped over HTTP as beats and refusals, never
/// as round trips.
#[tokio::test]
async fn server_beats_and_refusals_are_scraped() {
    use heartline_core::{
        Event, EventKind, PingKind, Protocol, RefusalClass, SessionEnd, SessionStats, Timestamp,
    };
    let metrics = Arc::new(Metrics::new());
    let id = EndpointId(1);
    metrics.set_endpoint(id, "chat");
    let sink = metrics.observer();
    let event = |s: i64, kind| Event {
        at: Timestamp(1_700_000_000_000 + s * 1000),
        endpoint: id,
        kind,
    };
    for (s, interval) in [(25, 25_000), (50, 25_000), (76, 26_500)] {
        sink.emit(event(
            s,
            EventKind::ServerBeat {
                interval: ms(interval),
                jitter: ms(interval.abs_diff(25_000)),
            },
        ));
    }
    sink.emit(event(
        120,
        EventKind::PongMissed {
            kind: PingKind::Server,
            missed: 1,
        },
    ));
    sink.emit(event(
        121,
        EventKind::Closed {
            end: SessionEnd::Refused {
                protocol: Protocol::SocketIo,
                class: RefusalClass::Policy,
                code: 1000,
                reason: "banned".into(),
            },
            stats: SessionStats::default(),
        },
    ));
    let server = start(metrics).await;
    let text = request(server.addr, "GET", "/metrics").await.body;
    assert_eq!(
        sample(&text, r#"heartline_server_beats_total{endpoint="chat"}"#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"heartline_last_server_beat_interval_seconds{endpoint="chat"}"#
        ),
        Some(26.5),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"heartline_pong_missed_total{endpoint="chat",kind="server"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            r#"heartline_refusals_total{endpoint="chat",class="policy"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains("heartline_rtt_seconds"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn routes_other_than_metrics() {
    let server = start(Arc::new(Metrics::new())).await;

    let root = request(server.addr, "GET", "/").await;
    assert_eq!(root.status, 200);
    assert!(root.body.contains("/metrics"), "{}", root.body);

    let missing = request(server.addr, "GET", "/nope").await;
    assert_eq!(missing.status, 404);
    let missing = request(server.addr, "GET", "/metrics/extra").await;
    assert_eq!(missing.status, 404);

    let post = request(server.addr, "POST", "/metrics").await;
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    // A query string does not change the path. Nothing watched means no endpoint series at
    // all, only the fleet-wide session-length histogram, at zero.
    let empty = request(server.addr, "GET", "/metrics?x=1").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.ends_with("# EOF\n"), "{}", empty.body);
    let samples: Vec<&str> = empty.body.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!samples.is_empty(), "{}", empty.body);
    for line in samples {
        assert!(
            line.starts_with("heartline_session_duration_seconds_")
                && !line.contains("endpoint=")
                && (line.ends_with(" 0") || line.ends_with(" 0.0")),
            "{line:?} in:\n{}",
            empty.body
        );
    }

    let head = request(server.addr, "HEAD", "/metrics").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some(CONTENT_TYPE));
    assert_eq!(head.body, "");

    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_idle_keep_alive_connections() {
    let server = start(Arc::new(Metrics::new())).await;
    let addr = server.addr;

    // A scraper that keeps its connection open between scrapes.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).ends_with("# EOF\n") {
        let n = tokio::time::timeout(ms(1000), stream.read(&mut buf))
            .await
            .expect("response within 1s")
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));

    // The client keeps its idle keep-alive connection open and silent: a stop that waited for
    // idle connections would wait for ever. The timeout only turns such a hang into a failure.
    tokio::time::timeout(ms(30_000), server.stop())
        .await
        .expect("stop does not wait for an idle connection");
    // The idle connection was closed, and nobody listens any more.
    let n = tokio::time::timeout(ms(1000), stream.read(&mut buf))
        .await
        .expect("EOF within 1s")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn bind_names_the_address_in_use() {
    let taken = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
    let addr = taken.local_addr().unwrap();
    let err = bind(addr).await.unwrap_err();
    assert!(matches!(err, Error::Bind { addr: a, .. } if a == addr));
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
    // The reason once, in the message: a printed chain must not repeat it.
    assert!(err.to_string().contains("in use"), "{err}");
    assert!(std::error::Error::source(&err).is_none());
}
