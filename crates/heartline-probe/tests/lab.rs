//! One test per failure mode: the probe against the misbehaving lab on loopback, asserting the
//! events it records and how it classifies each end.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use heartline_core::{
    AppHeartbeat, CloseCause, Endpoint, EndpointId, Event, EventKind, FailedPhase, Header,
    Initiator, Phase, PingKind, ReplyMatch, RetryReason, SessionEnd, Staleness, State,
};
use heartline_lab::{Lab, LabRecord};
use heartline_probe::{Control, Probe, Resolve, SystemResolver};
use tokio::sync::mpsc;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An endpoint with millisecond policies so each failure shows within a second.
fn fast(url: String) -> Endpoint {
    let mut e = Endpoint::new("test", url);
    // Fast enough to see every failure within a second, slack enough that a loaded machine
    // (tests run in parallel on two cores) does not miss pongs that did arrive.
    e.heartbeat.ping_interval = ms(200);
    e.heartbeat.pong_timeout = ms(150);
    e.heartbeat.misses_allowed = 1;
    e.handshake_timeout = ms(2000);
    e.reconnect.initial = ms(20);
    e.reconnect.cap = ms(200);
    e.reconnect.reset_after = Duration::from_secs(1);
    e
}

/// A running watch with its event stream.
struct Watch {
    events: mpsc::UnboundedReceiver<Event>,
    controls: heartline_probe::Controls,
    seen: Vec<EventKind>,
    /// When the probe stamped each event in `seen`.
    stamps: Vec<heartline_core::Timestamp>,
}

fn watch(endpoint: Endpoint) -> Watch {
    watch_with(endpoint, Arc::new(SystemResolver))
}

fn watch_with(endpoint: Endpoint, resolver: Arc<dyn Resolve>) -> Watch {
    let probe = Probe::new(endpoint, resolver).expect("valid endpoint");
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
        stamps: Vec::new(),
    }
}

impl Watch {
    /// Waits for an event matching `pred` and returns it; panics with everything seen so far
    /// when it does not come within `within`.
    async fn until(&mut self, within: Duration, pred: impl Fn(&EventKind) -> bool) -> EventKind {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    self.seen.push(e.kind.clone());
                    self.stamps.push(e.at);
                    if pred(&e.kind) {
                        return e.kind;
                    }
                }
                Ok(None) => panic!("watch ended; saw {:#?}", self.seen),
                Err(_) => panic!("timed out; saw {:#?}", self.seen),
            }
        }
    }

    async fn closed(&mut self) -> SessionEnd {
        match self
            .until(Duration::from_secs(5), |k| {
                matches!(k, EventKind::Closed { .. })
            })
            .await
        {
            EventKind::Closed { end, .. } => end,
            _ => unreachable!(),
        }
    }

    async fn state(&mut self, to: State) {
        self.until(
            Duration::from_secs(5),
            |k| matches!(k, EventKind::StateChanged { to: t, .. } if *t == to),
        )
        .await;
    }

    async fn handshake_failed(&mut self) -> (FailedPhase, String) {
        match self
            .until(Duration::from_secs(5), |k| {
                matches!(k, EventKind::HandshakeFailed(_))
            })
            .await
        {
            EventKind::HandshakeFailed(f) => (f.phase, f.error),
            _ => unreachable!(),
        }
    }

    async fn stop(&mut self, cause: CloseCause) {
        self.controls
            .send(Control::Stop(cause))
            .expect("watch alive");
    }
}

#[tokio::test]
async fn echo_comes_up_with_phases_rtt_and_a_clean_close_at_the_end() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/echo")));
    let connected = w
        .until(Duration::from_secs(5), |k| {
            matches!(k, EventKind::Connected { .. })
        })
        .await;
    let EventKind::Connected { attempt, handshake } = connected else {
        unreachable!()
    };
    assert_eq!(attempt, 1);
    assert_eq!(
        handshake.phases.dns,
        Duration::ZERO,
        "IP literal needs no DNS"
    );
    assert_eq!(handshake.phases.tls, None, "ws:// has no TLS phase");
    assert!(handshake.phases.tcp > Duration::ZERO && handshake.phases.upgrade > Duration::ZERO);
    assert_eq!(handshake.peer, lab.addr());
    w.state(State::Up).await;
    for _ in 0..3 {
        let rtt = w
            .until(Duration::from_secs(2), |k| {
                matches!(k, EventKind::Rtt { .. })
            })
            .await;
        let EventKind::Rtt { kind, rtt } = rtt else {
            unreachable!()
        };
        assert_eq!(kind, PingKind::Protocol);
        assert!(rtt > Duration::ZERO);
    }
    w.stop(CloseCause::DurationElapsed).await;
    let end = w.closed().await;
    assert_eq!(end.initiator(), Initiator::Client);
    assert_eq!(end.cause(), Some(CloseCause::DurationElapsed));
    assert_eq!(end.code(), 1000);
    assert!(end.clean(), "the lab answers our close frame: {end:?}");
    assert!(!w
        .seen
        .iter()
        .any(|k| matches!(k, EventKind::PongMissed { .. })));
}

#[tokio::test]
async fn server_close_frame_is_recorded_with_code_and_reason_then_reconnects() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(
        lab.ws_url("/close?code=4001&reason=kicked&after=50ms"),
    ));
    let end = w.closed().await;
    assert_eq!(
        end,
        SessionEnd::ClosedByServer {
            code: 4001,
            reason: "kicked".into()
        }
    );
    assert_eq!(
        (end.initiator(), end.clean(), end.code()),
        (Initiator::Server, true, 4001)
    );
    let scheduled = w
        .until(ms(2000), |k| {
            matches!(k, EventKind::ReconnectScheduled { .. })
        })
        .await;
    let EventKind::ReconnectScheduled {
        attempt,
        delay,
        reason,
    } = scheduled
    else {
        unreachable!()
    };
    // The session answered its first ping before the kick: it was healthy, so the count of
    // failed attempts starts again and the next one is attempt 1 after the initial delay.
    assert_eq!((attempt, reason), (1, RetryReason::Backoff));
    assert!(
        delay <= ms(20),
        "first delay within [0, initial]: {delay:?}"
    );
    w.until(ms(2000), |k| {
        matches!(k, EventKind::Connecting { attempt: 1 })
    })
    .await;
}

#[tokio::test]
async fn close_frame_without_status_is_1005() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/close?code=none")));
    assert_eq!(
        w.closed().await,
        SessionEnd::ClosedByServer {
            code: 1005,
            reason: String::new()
        }
    );
}

#[tokio::test]
async fn dropped_tcp_without_close_frame_is_1006_by_the_network() {
    let lab = Lab::start().await.unwrap();
    for path in ["/drop?after=50ms", "/drop?after=50ms&rst=1"] {
        let mut w = watch(fast(lab.ws_url(path)));
        let end = w.closed().await;
        assert!(matches!(end, SessionEnd::Lost { .. }), "{path}: {end:?}");
        assert_eq!(
            (end.code(), end.initiator(), end.clean()),
            (1006, Initiator::Network, false),
            "{path}"
        );
    }
}

#[tokio::test]
async fn muted_peer_is_detected_by_missed_pongs_and_aborted() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/mute?after=150ms")));
    w.state(State::Up).await;
    let first = w
        .until(ms(3000), |k| matches!(k, EventKind::PongMissed { .. }))
        .await;
    assert_eq!(
        first,
        EventKind::PongMissed {
            kind: PingKind::Protocol,
            missed: 1
        }
    );
    w.state(State::Degraded).await;
    let end = w.closed().await;
    assert_eq!(end.cause(), Some(CloseCause::PongTimeout));
    assert_eq!(end.initiator(), Initiator::Client);
    assert!(
        !end.clean(),
        "a muted peer never answers our close: {end:?}"
    );
    // Second miss closes; a presumed-dead peer gets 100 ms to answer our close frame, not the
    // 1 s a live one gets. Measured on the probe's own timestamps.
    let at = |pred: &dyn Fn(&EventKind) -> bool| w.stamps[w.seen.iter().position(pred).unwrap()];
    let second_miss = at(&|k| matches!(k, EventKind::PongMissed { missed: 2, .. }));
    let closed = at(&|k| matches!(k, EventKind::Closed { .. }));
    assert!(
        closed.0 - second_miss.0 < 1000,
        "waited {} ms for a dead peer",
        closed.0 - second_miss.0
    );
    assert!(w.seen.contains(&EventKind::PongMissed {
        kind: PingKind::Protocol,
        missed: 2
    }));
}

#[tokio::test]
async fn silent_stream_goes_stale_and_reconnects() {
    let lab = Lab::start().await.unwrap();
    let mut e = fast(lab.ws_url("/silent?rate=50&after=200ms"));
    e.staleness = Some(Staleness {
        after: ms(300),
        reconnect: true,
    });
    let mut w = watch(e);
    let stale = w
        .until(Duration::from_secs(3), |k| {
            matches!(k, EventKind::Stale { .. })
        })
        .await;
    let EventKind::Stale { silent } = stale else {
        unreachable!()
    };
    assert!(silent >= ms(300), "{silent:?}");
    let end = w.closed().await;
    assert_eq!(
        (end.cause(), end.initiator()),
        (Some(CloseCause::Stale), Initiator::Client)
    );
    assert!(end.clean(), "the silent lab still answers close: {end:?}");
    // Pongs kept coming the whole time: stale is about messages, not liveness.
    assert!(!w
        .seen
        .iter()
        .any(|k| matches!(k, EventKind::PongMissed { .. })));
}

#[tokio::test]
async fn silent_stream_without_reconnect_only_degrades_until_messages_return() {
    let lab = Lab::start().await.unwrap();
    let mut e = fast(lab.ws_url("/silent?rate=50&after=200ms"));
    e.staleness = Some(Staleness {
        after: ms(300),
        reconnect: false,
    });
    let mut w = watch(e);
    w.state(State::Up).await;
    w.until(Duration::from_secs(3), |k| {
        matches!(k, EventKind::Stale { .. })
    })
    .await;
    w.state(State::Degraded).await;
    // Stays open: the next event of note is the next heartbeat, not a close.
    w.until(ms(500), |k| matches!(k, EventKind::Rtt { .. }))
        .await;
    assert!(!w.seen.iter().any(|k| matches!(k, EventKind::Closed { .. })));
}

fn app_heartbeat(timeout: u64) -> AppHeartbeat {
    AppHeartbeat {
        payload: r#"{"op":"ping"}"#.into(),
        reply: ReplyMatch::JsonField {
            path: "op".into(),
            equals: "pong".into(),
        },
        interval: ms(200),
        timeout: ms(timeout),
        misses_allowed: 0,
    }
}

#[tokio::test]
async fn application_heartbeat_measures_its_own_rtt() {
    let lab = Lab::start().await.unwrap();
    let mut e = fast(lab.ws_url(r#"/echo?delay=40ms&reply={"op":"pong"}"#));
    e.app_heartbeat = Some(Box::new(app_heartbeat(150)));
    let mut w = watch(e);
    let rtt = w
        .until(Duration::from_secs(3), |k| {
            matches!(
                k,
                EventKind::Rtt {
                    kind: PingKind::App,
                    ..
                }
            )
        })
        .await;
    let EventKind::Rtt { rtt, .. } = rtt else {
        unreachable!()
    };
    assert!(
        rtt >= ms(40),
        "app rtt includes the lab's 40 ms delay: {rtt:?}"
    );
    // Protocol pings keep their own series.
    w.until(ms(1000), |k| {
        matches!(
            k,
            EventKind::Rtt {
                kind: PingKind::Protocol,
                ..
            }
        )
    })
    .await;
}

#[tokio::test]
async fn late_application_replies_close_the_session() {
    let lab = Lab::start().await.unwrap();
    let mut e = fast(lab.ws_url(r#"/echo?delay=150ms&reply={"op":"pong"}"#));
    e.app_heartbeat = Some(Box::new(app_heartbeat(80)));
    let mut w = watch(e);
    let end = w.closed().await;
    assert_eq!(end.cause(), Some(CloseCause::AppPongTimeout));
    assert!(w.seen.contains(&EventKind::PongMissed {
        kind: PingKind::App,
        missed: 1
    }));
}

#[tokio::test]
async fn rejected_upgrade_reports_http_status_and_backs_off_within_bounds() {
    let lab = Lab::start().await.unwrap();
    let e = fast(lab.ws_url("/reject?status=503"));
    let policy = e.reconnect.clone();
    let mut w = watch(e);
    for n in 1..=4u32 {
        let (phase, error) = w.handshake_failed().await;
        assert_eq!(phase.status(), Some(503), "{phase:?}");
        assert!(error.contains("503"), "{error}");
        let scheduled = w
            .until(ms(2000), |k| {
                matches!(k, EventKind::ReconnectScheduled { .. })
            })
            .await;
        let EventKind::ReconnectScheduled {
            attempt,
            delay,
            reason,
        } = scheduled
        else {
            unreachable!()
        };
        assert_eq!((attempt, reason), (n + 1, RetryReason::Backoff));
        assert!(
            delay <= policy.ceiling(n),
            "attempt {n}: {delay:?} > {:?}",
            policy.ceiling(n)
        );
    }
    let down = EventKind::StateChanged {
        from: State::Connecting,
        to: State::Down,
    };
    assert!(
        w.seen.contains(&down),
        "two failures (the default threshold) mean Down"
    );
}

#[tokio::test]
async fn credentials_failures_stop_retrying_and_say_why() {
    let lab = Lab::start().await.unwrap();
    for (path, needle) in [
        ("/reject?status=401", "HTTP 401"),
        ("/close?code=1008&reason=bad%20token", "1008"),
    ] {
        let mut w = watch(fast(lab.ws_url(path)));
        let gave_up = w
            .until(Duration::from_secs(3), |k| {
                matches!(k, EventKind::GaveUp { .. })
            })
            .await;
        let EventKind::GaveUp { reason } = gave_up else {
            unreachable!()
        };
        assert!(
            reason.contains(needle) && reason.contains("credentials"),
            "{path}: {reason}"
        );
        w.state(State::Down).await;
        assert!(
            !w.seen
                .iter()
                .any(|k| matches!(k, EventKind::ReconnectScheduled { .. })),
            "{path}"
        );
        // Resuming (reconnect now) tries again.
        w.controls.send(Control::Reconnect).unwrap();
        w.until(ms(2000), |k| {
            matches!(k, EventKind::Connecting { attempt: 1 })
        })
        .await;
    }
}

#[tokio::test]
async fn slow_handshake_times_out_in_the_upgrade_phase() {
    let lab = Lab::start().await.unwrap();
    let mut e = fast(lab.ws_url("/slow?delay=2s"));
    e.handshake_timeout = ms(300);
    let mut w = watch(e);
    let (phase, _) = w.handshake_failed().await;
    assert_eq!(
        phase,
        FailedPhase::Timeout {
            during: Phase::Upgrade
        }
    );
}

#[tokio::test]
async fn proxy_idle_timeout_kills_sessions_that_only_ping_when_pings_do_not_count() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/idle?after=400ms&pings=ignore")));
    let end = w.closed().await;
    assert_eq!((end.code(), end.initiator()), (1006, Initiator::Network));
    let Some(EventKind::Closed { stats, .. }) = w.seen.last().cloned() else {
        unreachable!()
    };
    assert!(
        // Closed by the 400 ms idle timer, long before anything else would end it.
        stats.duration >= ms(400) && stats.duration < ms(3000),
        "{:?}",
        stats.duration
    );
    // Only pings flowed: the whole session was silent, the evidence of an idle timeout.
    // No message ever arrived, so the silence is the whole session, measured from its start.
    assert_eq!(stats.messages_in, 0);
    assert!(stats.silent_for <= stats.duration, "{stats:?}");

    // The same proxy keeps a session alive when pings count as traffic.
    let mut w = watch(fast(lab.ws_url("/idle?after=1s")));
    w.state(State::Up).await;
    tokio::time::sleep(ms(1000)).await;
    w.stop(CloseCause::User).await;
    let end = w.closed().await;
    assert_eq!(end.cause(), Some(CloseCause::User), "{:#?}", w.seen);
}

#[tokio::test]
async fn flapping_endpoint_goes_down_and_recovers() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/flap?up=400ms&down=400ms")));
    w.until(
        Duration::from_secs(5),
        |k| matches!(k, EventKind::HandshakeFailed(f) if f.phase.status() == Some(503)),
    )
    .await;
    w.state(State::Down).await;
    w.state(State::Up).await;
    assert!(w.seen.iter().any(|k| matches!(
        k,
        EventKind::Closed {
            end: SessionEnd::Lost { .. },
            ..
        }
    )));
}

#[tokio::test]
async fn service_restart_retries_promptly_and_try_again_backs_off_harder() {
    let lab = Lab::start().await.unwrap();
    let mut e = fast(lab.ws_url("/restart?after=30ms"));
    e.reconnect.initial = ms(50);
    e.reconnect.cap = ms(1000);
    let mut w = watch(e.clone());
    assert_eq!(w.closed().await.code(), 1012);
    let s = w
        .until(ms(2000), |k| {
            matches!(k, EventKind::ReconnectScheduled { .. })
        })
        .await;
    let EventKind::ReconnectScheduled { delay, reason, .. } = s else {
        unreachable!()
    };
    assert_eq!(reason, RetryReason::ServiceRestart);
    assert!(delay <= ms(50), "{delay:?}");

    e.url = lab.ws_url("/try-again?after=30ms");
    e.reconnect.jitter = 0.0;
    let mut w = watch(e);
    assert_eq!(w.closed().await.code(), 1013);
    let s = w
        .until(ms(2000), |k| {
            matches!(k, EventKind::ReconnectScheduled { .. })
        })
        .await;
    let EventKind::ReconnectScheduled { delay, reason, .. } = s else {
        unreachable!()
    };
    assert_eq!(
        (reason, delay),
        (RetryReason::TryAgainLater, ms(200)),
        "4 × the 50 ms ceiling"
    );
}

#[tokio::test]
async fn tls_is_a_phase_of_its_own_and_certificates_are_checked() {
    let lab = Lab::start().await.unwrap();
    let url = lab.wss_url("/echo");

    let mut w = watch(fast(url.clone()));
    let (phase, error) = w.handshake_failed().await;
    assert_eq!(
        phase,
        FailedPhase::Tls,
        "self-signed is not trusted by default"
    );
    assert!(error.to_lowercase().contains("certificate"), "{error}");

    let dir = std::env::temp_dir().join(format!("heartline-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("lab.pem");
    std::fs::write(&ca, lab.certificate_pem()).unwrap();
    let mut trusted = fast(url.clone());
    trusted.tls.ca_file = Some(ca);
    let mut insecure = fast(url);
    insecure.tls.insecure = true;
    for e in [trusted, insecure] {
        let mut w = watch(e);
        let c = w
            .until(Duration::from_secs(5), |k| {
                matches!(k, EventKind::Connected { .. })
            })
            .await;
        let EventKind::Connected { handshake, .. } = c else {
            unreachable!()
        };
        assert!(handshake.phases.tls.is_some_and(|t| t > Duration::ZERO));
        assert!(
            handshake.phases.dns > Duration::ZERO || handshake.peer.ip().is_loopback(),
            "localhost is resolved"
        );
        w.state(State::Up).await;
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_missing_ca_file_is_refused_before_watching() {
    let mut e = fast("wss://localhost:1/".into());
    e.tls.ca_file = Some("/nonexistent/ca.pem".into());
    let err = Probe::new(e, Arc::new(SystemResolver))
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test]
async fn streamed_messages_are_counted_not_kept() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/stream?rate=200&size=100")));
    w.state(State::Up).await;
    tokio::time::sleep(ms(500)).await;
    w.stop(CloseCause::User).await;
    w.closed().await;
    let Some(EventKind::Closed { stats, .. }) = w.seen.last().cloned() else {
        unreachable!()
    };
    assert!(stats.messages_in >= 50, "{stats:?}");
    assert!(
        stats.silent_for < stats.duration / 2,
        "a busy stream is never silent long: {stats:?}"
    );
    assert_eq!(stats.bytes_in, stats.messages_in * 100);
}

#[tokio::test]
async fn oversized_messages_are_refused_and_reported() {
    let lab = Lab::start().await.unwrap();
    let mut e = fast(lab.ws_url("/oversized?size=2000000"));
    e.limits.max_frame_size = 64 << 10;
    e.limits.max_message_size = 256 << 10;
    let mut w = watch(e);
    let end = w.closed().await;
    assert_eq!(
        (end.cause(), end.code()),
        (Some(CloseCause::MessageTooBig), 1009),
        "{end:?}"
    );
    // The reason quotes the limit that applied: the frame's, not the message's.
    assert!(
        end.reason()
            .starts_with("frame of 2000000 bytes over the max_frame_size limit of 65536 bytes"),
        "{end:?}"
    );
}

#[tokio::test]
async fn invalid_utf8_is_a_protocol_error_1007() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/invalid-utf8")));
    let end = w.closed().await;
    assert_eq!(
        (end.cause(), end.code()),
        (Some(CloseCause::ProtocolError), 1007),
        "{end:?}"
    );
}

#[tokio::test]
async fn refused_tcp_connection_is_a_tcp_failure() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut w = watch(fast(format!("ws://127.0.0.1:{port}/")));
    let (phase, error) = w.handshake_failed().await;
    assert_eq!(phase, FailedPhase::Tcp);
    assert!(error.contains("refused"), "{error}");
}

#[derive(Debug)]
struct NoSuchHost;

impl Resolve for NoSuchHost {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        _port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host} not found"),
            ))
        })
    }
}

#[tokio::test]
async fn unresolvable_host_is_a_dns_failure() {
    let mut w = watch_with(
        fast("ws://feed.example.invalid/".into()),
        Arc::new(NoSuchHost),
    );
    let (phase, error) = w.handshake_failed().await;
    assert_eq!(phase, FailedPhase::Dns);
    assert!(error.contains("feed.example.invalid"), "{error}");
}

#[tokio::test]
async fn headers_subprotocols_and_on_connect_messages_reach_the_server() {
    let lab = Lab::start().await.unwrap();
    let mut e = fast(lab.ws_url("/headers"));
    e.headers = vec![
        Header::new("Authorization", "Bearer s3cret"),
        Header::new("X-Client", "heartline"),
    ];
    e.subprotocols = vec!["graphql-ws".into(), "json".into()];
    e.on_connect = vec![r#"{"subscribe":"ticker"}"#.into()];
    let mut w = watch(e);
    let c = w
        .until(Duration::from_secs(5), |k| {
            matches!(k, EventKind::Connected { .. })
        })
        .await;
    let EventKind::Connected { handshake, .. } = c else {
        unreachable!()
    };
    assert_eq!(handshake.subprotocol.as_deref(), Some("graphql-ws"));
    w.state(State::Up).await;
    let log = lab.log();
    let headers = log
        .iter()
        .find_map(|r| match r {
            LabRecord::Handshake { headers, .. } => Some(headers.clone()),
            _ => None,
        })
        .expect("handshake logged");
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("authorization"), Some("Bearer s3cret"));
    assert_eq!(get("x-client"), Some("heartline"));
    assert!(log
        .iter()
        .any(|r| matches!(r, LabRecord::Text { text, .. } if text == r#"{"subscribe":"ticker"}"#)));
}

#[tokio::test]
async fn pause_resume_and_reconnect_now() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/echo")));
    w.state(State::Up).await;
    w.controls.send(Control::Pause).unwrap();
    let end = w.closed().await;
    assert_eq!((end.cause(), end.clean()), (Some(CloseCause::User), true));
    w.state(State::Paused).await;
    tokio::time::sleep(ms(300)).await;
    while let Ok(e) = w.events.try_recv() {
        assert!(
            !matches!(e.kind, EventKind::Connecting { .. } | EventKind::Rtt { .. }),
            "paused: {e:?}"
        );
    }
    w.controls.send(Control::Resume).unwrap();
    w.state(State::Connecting).await;
    w.state(State::Up).await;
    w.controls.send(Control::Reconnect).unwrap();
    let end = w.closed().await;
    assert_eq!(end.cause(), Some(CloseCause::User));
    w.until(ms(2000), |k| {
        matches!(k, EventKind::Connected { attempt: 1, .. })
    })
    .await;
}

#[tokio::test]
async fn a_healthy_session_resets_the_attempt_count() {
    let lab = Lab::start().await.unwrap();
    // Up for 1.2 s (longer than reset_after = 1 s), then dropped.
    let mut w = watch(fast(lab.ws_url("/drop?after=1200ms")));
    w.closed().await;
    let s = w
        .until(ms(2000), |k| {
            matches!(k, EventKind::ReconnectScheduled { .. })
        })
        .await;
    assert!(
        matches!(s, EventKind::ReconnectScheduled { attempt: 1, .. }),
        "{s:?}"
    );
}

/// The next `n` reconnect delays the watch schedules.
async fn delays(w: &mut Watch, n: usize) -> Vec<Duration> {
    let mut out = Vec::new();
    while out.len() < n {
        let s = w
            .until(ms(10_000), |k| {
                matches!(k, EventKind::ReconnectScheduled { .. })
            })
            .await;
        let EventKind::ReconnectScheduled { delay, .. } = s else {
            unreachable!()
        };
        out.push(delay);
    }
    out
}

#[tokio::test]
async fn healthy_sessions_that_drop_reconnect_after_the_initial_delay_and_dead_ones_back_off() {
    let lab = Lab::start().await.unwrap();
    // Every session answers pings, then a proxy-like idle timer cuts it (pings do not count),
    // well before reset_after: the endpoint keeps dropping but each session was healthy.
    let mut e = fast(lab.ws_url("/idle?after=450ms&pings=ignore"));
    e.reconnect.initial = ms(40);
    e.reconnect.cap = ms(2000);
    e.reconnect.jitter = 0.0;
    e.reconnect.reset_after = Duration::from_secs(60);
    let mut w = watch(e.clone());
    let healthy = delays(&mut w, 3).await;
    assert!(
        w.seen.iter().any(|k| matches!(k, EventKind::Rtt { .. })),
        "the sessions answered heartbeats"
    );
    assert_eq!(
        healthy,
        [ms(40), ms(40), ms(40)],
        "no growth after healthy sessions"
    );

    // Accepted, but no heartbeat is ever answered (the peer stops reading at once, so our pong
    // timeout ends each session): sessions that die before their first answer back off, as
    // failed attempts do.
    e.url = lab.ws_url("/mute?after=0ms");
    let mut w = watch(e);
    let dead = delays(&mut w, 3).await;
    assert_eq!(
        dead,
        [ms(40), ms(80), ms(160)],
        "growth while sessions die unanswered"
    );
}
