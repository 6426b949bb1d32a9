//! The probe against a hostile server: the lab's hostile scenarios on loopback, one test each.
//! Each asserts how the end is classified, that the attempt or session ends of its own accord
//! (by what ends it, not by how fast), that the text kept in events stays small, and that
//! no secret the server echoes comes back out.

use std::sync::Arc;
use std::time::Duration;

use heartline_core::untrusted::{escape_controls, is_unsafe_char, MAX_UNTRUSTED_LEN};
use heartline_core::{
    CloseCause, Endpoint, EndpointId, Event, EventKind, FailedPhase, Header, Phase, Redactor,
    SessionEnd, State,
};
use heartline_lab::{Lab, LabRecord};
use heartline_probe::{Probe, SystemResolver};
use tokio::sync::mpsc;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Only keeps a broken test from hanging; nothing here asserts speed.
const PATIENCE: Duration = Duration::from_secs(10);

/// Millisecond policies, as in `lab.rs`, so every end shows within a second or two.
fn fast(url: String) -> Endpoint {
    let mut e = Endpoint::new("hostile", url);
    e.heartbeat.ping_interval = ms(200);
    e.heartbeat.pong_timeout = ms(150);
    e.heartbeat.misses_allowed = 1;
    e.handshake_timeout = ms(2000);
    e.reconnect.initial = ms(20);
    e.reconnect.cap = ms(200);
    e
}

/// A running watch and everything it has said so far.
struct Watch {
    events: mpsc::UnboundedReceiver<Event>,
    /// Dropping it ends the watch (cause: shutdown).
    _controls: heartline_probe::Controls,
    seen: Vec<EventKind>,
}

fn watch(endpoint: Endpoint) -> Watch {
    let probe = Probe::new(endpoint, Arc::new(SystemResolver)).expect("valid endpoint");
    let (tx, events) = mpsc::unbounded_channel();
    let (controls, rx) = heartline_probe::controls();
    let sink = Arc::new(move |e: Event| {
        let _ = tx.send(e);
    });
    tokio::spawn(probe.watch(EndpointId(1), rx, sink));
    Watch {
        events,
        _controls: controls,
        seen: Vec::new(),
    }
}

impl Watch {
    /// The next event matching `pred`; panics with everything seen when none comes.
    async fn until(&mut self, pred: impl Fn(&EventKind) -> bool) -> EventKind {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    self.seen.push(e.kind.clone());
                    if pred(&e.kind) {
                        return e.kind;
                    }
                }
                Ok(None) => panic!("watch ended; saw {:#?}", self.seen),
                Err(_) => panic!("nothing matched; saw {:#?}", self.seen),
            }
        }
    }

    async fn handshake_failed(&mut self) -> (FailedPhase, String) {
        match self
            .until(|k| matches!(k, EventKind::HandshakeFailed(_)))
            .await
        {
            EventKind::HandshakeFailed(f) => (f.phase, f.error),
            _ => unreachable!(),
        }
    }

    async fn closed(&mut self) -> SessionEnd {
        match self.until(|k| matches!(k, EventKind::Closed { .. })).await {
            EventKind::Closed { end, .. } => end,
            _ => unreachable!(),
        }
    }

    async fn gave_up(&mut self) -> String {
        match self.until(|k| matches!(k, EventKind::GaveUp { .. })).await {
            EventKind::GaveUp { reason } => reason,
            _ => unreachable!(),
        }
    }

    /// Whether anything but the first session's own events came before its end: a missed
    /// pong means heartbeats ended it, not what the server sent.
    fn heartbeats_missed(&self) -> bool {
        self.seen
            .iter()
            .any(|k| matches!(k, EventKind::PongMissed { .. }))
    }

    /// Every outside-supplied text of every event seen.
    fn texts(&self) -> Vec<String> {
        let mut texts = Vec::new();
        for kind in &self.seen {
            let mut kind = kind.clone();
            kind.map_untrusted(|t| {
                texts.push(t.to_owned());
                t.to_owned()
            });
        }
        texts
    }

    /// The text kept in events is bounded whatever the server sent: no field is longer than
    /// the untrusted-text bound (plus its `…`), and all of them together stay small.
    fn assert_bounded(&self) {
        let texts = self.texts();
        for t in &texts {
            assert!(
                t.len() <= MAX_UNTRUSTED_LEN + '…'.len_utf8(),
                "{} bytes kept: {:.120}…",
                t.len(),
                t
            );
        }
        let total: usize = texts.iter().map(String::len).sum();
        assert!(total < 16 * 1024, "{total} bytes of server text kept");
    }
}

fn handshakes(lab: &Lab) -> Vec<String> {
    lab.log()
        .into_iter()
        .filter_map(|r| match r {
            LabRecord::Handshake { path, .. } => Some(path),
            _ => None,
        })
        .collect()
}

// (a) 401 and 403 refusals whose body echoes the credentials.

/// An endpoint whose secrets the lab will echo: a bearer token, an API key header and a
/// secret-looking query value.
fn credentialed(lab: &Lab, status: u16) -> Endpoint {
    let mut e = fast(lab.ws_url(&format!(
        "/unauthorized?status={status}&access_token=q-s3cret-0123"
    )));
    e.headers = vec![
        Header::new("Authorization", "Bearer h-s3cret-4567"),
        Header::new("X-Api-Key", "k3y-s3cret-89ab"),
    ];
    assert!(e.headers.iter().all(|h| h.secret));
    e
}

#[tokio::test]
async fn unauthorized_refusals_are_http_failures_that_stop_retrying() {
    let lab = Lab::start().await.unwrap();
    for status in [401, 403] {
        let mut w = watch(credentialed(&lab, status));
        let (phase, error) = w.handshake_failed().await;
        assert_eq!(
            phase,
            FailedPhase::Http {
                status: Some(status),
                retry_after: None
            }
        );
        assert!(error.starts_with(&status.to_string()), "{error}");
        let reason = w.gave_up().await;
        assert!(
            reason.contains(&format!("HTTP {status}")) && reason.contains("credentials"),
            "{reason}"
        );
        w.until(|k| {
            matches!(
                k,
                EventKind::StateChanged {
                    to: State::Down,
                    ..
                }
            )
        })
        .await;
        assert!(
            !w.seen
                .iter()
                .any(|k| matches!(k, EventKind::ReconnectScheduled { .. })),
            "a refused credential is not retried"
        );
        w.assert_bounded();
    }
    // The lab really did echo them: the test below is about the probe, not a quiet lab.
    let log = lab.log();
    assert!(log
        .iter()
        .any(|r| matches!(r, LabRecord::Rejected { status: 403, .. })));
}

#[tokio::test]
async fn echoed_credentials_never_reach_an_event() {
    let lab = Lab::start().await.unwrap();
    for status in [401, 403] {
        let e = credentialed(&lab, status);
        let redactor = Redactor::for_endpoint(&e);
        let mut w = watch(e);
        w.gave_up().await;
        assert_no_secret(&w, &redactor);
    }
    // A 1008 close whose reason quotes the token: the close reason and the give-up reason
    // (which quotes the server) must both be clean.
    let mut e = fast(lab.ws_url("/close?code=1008&reason=bad+token+h-s3cret-4567"));
    e.headers = vec![Header::new("Authorization", "Bearer h-s3cret-4567")];
    let redactor = Redactor::for_endpoint(&e);
    let mut w = watch(e);
    w.gave_up().await;
    assert!(matches!(
        w.seen
            .iter()
            .find(|k| matches!(k, EventKind::Closed { .. })),
        Some(EventKind::Closed {
            end: SessionEnd::ClosedByServer { code: 1008, .. },
            ..
        })
    ));
    assert_no_secret(&w, &redactor);
}

/// No form of any of the endpoint's secrets appears anywhere in any event seen: in the
/// outside-supplied texts as they are, nor anywhere else in the event.
fn assert_no_secret(w: &Watch, redactor: &Redactor) {
    assert!(!redactor.is_empty());
    let shown = w.seen.iter().map(|k| format!("{k:?}"));
    for text in w.texts().into_iter().chain(shown) {
        for needle in redactor.needles() {
            assert!(!text.contains(needle.as_str()), "secret in {text}");
        }
    }
}

// (b) close reasons written to attack whoever displays them.

#[tokio::test]
async fn hostile_close_reasons_are_recorded_verbatim_and_stay_escapable() {
    let lab = Lab::start().await.unwrap();
    for (kind, sent) in [
        (
            "terminal",
            "\u{1b}]0;pwned\u{7}\u{1b}[31mALERT\u{1b}[0m\nheartline: every endpoint is up",
        ),
        ("formula", "=HYPERLINK(\"http://x\")"),
        ("bidi", "invoice\u{202e}fdp.exe"),
    ] {
        let mut w = watch(fast(lab.ws_url(&format!("/evil-reason?kind={kind}"))));
        let end = w.closed().await;
        assert_eq!(
            end,
            SessionEnd::ClosedByServer {
                code: 4000,
                reason: sent.into()
            },
            "{kind}: the event keeps what the server said; renderers escape it"
        );
        assert!(!w.heartbeats_missed(), "{kind}: the close frame ended it");
        let SessionEnd::ClosedByServer { reason, .. } = &end else {
            unreachable!()
        };
        let shown = escape_controls(reason);
        assert!(!shown.chars().any(is_unsafe_char), "{kind}: {shown}");
        w.assert_bounded();
    }
}

// (c) a 101 too large to be honest.

#[tokio::test]
async fn a_101_with_ten_thousand_headers_fails_the_upgrade() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/many-headers?count=10000")));
    let (phase, error) = w.handshake_failed().await;
    assert_eq!(
        phase,
        FailedPhase::Http {
            status: None,
            retry_after: None
        },
        "{error}"
    );
    // tungstenite stops parsing at 124 headers: "Space limit exceeded: Too many headers".
    assert!(error.to_lowercase().contains("too many headers"), "{error}");
    assert!(!error.contains("X-Flood"), "{error}");
    assert!(
        !w.seen
            .iter()
            .any(|k| matches!(k, EventKind::Connected { .. })),
        "never a session"
    );
    w.until(|k| matches!(k, EventKind::ReconnectScheduled { .. }))
        .await;
    w.assert_bounded();
}

#[tokio::test]
async fn a_101_with_a_mebibyte_header_line_fails_without_keeping_it() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/huge-header?size=1MiB")));
    let (phase, error) = w.handshake_failed().await;
    assert_eq!(
        phase,
        FailedPhase::Http {
            status: None,
            retry_after: None
        },
        "{error}"
    );
    // tungstenite refuses a response head over 64 KiB ("Attack attempt detected"): the
    // line is never read whole, let alone kept.
    assert!(!error.contains("xxxxxxxx"), "{error:.200}");
    w.until(|k| matches!(k, EventKind::ReconnectScheduled { .. }))
        .await;
    w.assert_bounded();
}

// (d) an upgrade response that never ends.

#[tokio::test]
async fn headers_that_never_end_are_cut_by_the_handshake_deadline() {
    let lab = Lab::start().await.unwrap();
    let mut e = fast(lab.ws_url("/endless-headers?every=20ms"));
    e.handshake_timeout = ms(500);
    let mut w = watch(e);
    let (phase, error) = w.handshake_failed().await;
    assert_eq!(
        phase,
        FailedPhase::Timeout {
            during: Phase::Upgrade
        },
        "{error}"
    );
    assert!(error.contains("500ms"), "{error}");
    // Backs off and tries again, like any failed attempt.
    w.until(|k| matches!(k, EventKind::Connecting { attempt: 2 }))
        .await;
    assert!(handshakes(&lab)
        .iter()
        .all(|p| p == "/endless-headers?every=20ms"));
    w.assert_bounded();
}

// (e) close frames no server may send.

#[tokio::test]
async fn a_one_byte_close_payload_is_a_protocol_error() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/bad-close?kind=one-byte&after=50ms")));
    let end = w.closed().await;
    assert!(
        matches!(
            end,
            SessionEnd::ClosedByClient {
                cause: CloseCause::ProtocolError,
                code: 1002,
                ..
            }
        ),
        "{end:?}"
    );
    assert!(!w.heartbeats_missed(), "the frame ended it: {:#?}", w.seen);
    w.assert_bounded();
}

#[tokio::test]
async fn a_close_reason_that_is_not_utf8_is_refused_with_1007() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/bad-close?kind=invalid-utf8&after=50ms")));
    let end = w.closed().await;
    assert!(
        matches!(
            end,
            SessionEnd::ClosedByClient {
                cause: CloseCause::ProtocolError,
                code: 1007,
                ..
            }
        ),
        "{end:?}"
    );
    assert!(!w.heartbeats_missed(), "the frame ended it: {:#?}", w.seen);
    w.assert_bounded();
}

/// 1004, 1005, 1006 and 1015 must never be sent. tungstenite answers them with 1002 and hands
/// the probe a 1002 "Protocol violation" frame in place of what the server sent, so that is
/// what the event records: the forbidden code never reaches history as if it were real.
#[tokio::test]
async fn reserved_close_codes_on_the_wire_are_recorded_as_a_protocol_violation() {
    let lab = Lab::start().await.unwrap();
    for code in [1004, 1005, 1006, 1015] {
        let mut w = watch(fast(
            lab.ws_url(&format!("/bad-close?kind={code}&after=50ms")),
        ));
        let end = w.closed().await;
        assert_eq!(
            end,
            SessionEnd::ClosedByServer {
                code: 1002,
                reason: "Protocol violation".into()
            },
            "{code}"
        );
        assert!(!w.heartbeats_missed(), "{code}: the frame ended it");
        w.assert_bounded();
    }
}

// (f) a redirect in answer to the upgrade.

#[tokio::test]
async fn redirects_are_failures_and_are_not_followed() {
    let lab = Lab::start().await.unwrap();
    let target = lab.ws_url("/echo?delay=1ms");
    for status in [301, 302] {
        let location: String = target.bytes().map(|b| format!("%{b:02X}")).collect();
        let path = format!("/redirect?status={status}&location={location}");
        let mut w = watch(fast(lab.ws_url(&path)));
        let (phase, error) = w.handshake_failed().await;
        assert_eq!(
            phase,
            FailedPhase::Http {
                status: Some(status),
                retry_after: None
            },
            "{error}"
        );
        // Retried as an ordinary failure, to the configured URL.
        w.until(|k| matches!(k, EventKind::Connecting { attempt: 2 }))
            .await;
        w.handshake_failed().await;
        w.assert_bounded();
    }
    assert!(
        !handshakes(&lab).iter().any(|p| p.starts_with("/echo")),
        "the Location was followed: {:?}",
        handshakes(&lab)
    );
}

// permessage-deflate: never offered, so a bomb cannot be inflated.

#[tokio::test]
async fn an_unsolicited_deflate_extension_fails_the_handshake_before_any_frame() {
    let lab = Lab::start().await.unwrap();
    let mut w = watch(fast(lab.ws_url("/deflate?size=16MiB")));
    let (phase, error) = w.handshake_failed().await;
    // RFC 6455 §4.1: an extension the client did not offer fails the connection.
    assert_eq!(
        phase,
        FailedPhase::Http {
            status: Some(101),
            retry_after: None
        }
    );
    assert!(
        error.contains("extension that was not offered (permessage-deflate)"),
        "{error}"
    );
    assert!(
        !w.seen
            .iter()
            .any(|k| matches!(k, EventKind::Connected { .. })),
        "no session opened, so no frame was read: {:?}",
        w.seen
    );
    w.assert_bounded();
    // The probe never offers an extension, so nothing it accepts can be compressed.
    let offered = lab.log().into_iter().any(|r| match r {
        LabRecord::Handshake { headers, .. } => headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-extensions")),
        _ => false,
    });
    assert!(!offered, "the probe offered an extension");
}
