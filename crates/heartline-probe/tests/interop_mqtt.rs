//! The MQTT 3.1.1 and MQTT 5 presets against a real broker: mosquitto from the system (scripts/bootstrap.sh
//! installs it), started with its own configuration on free loopback ports.

mod interop_common;

use std::time::Duration;

use heartline_core::{EventKind, PingKind, Protocol, RefusalClass, SessionEnd};
use interop_common::{fast, mosquitto, mosquitto_with, watch};

const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_preset_connects_and_pings_with_binary_frames() {
    let broker = mosquitto().await;
    let mut e = fast(format!("ws://127.0.0.1:{}/mqtt", broker.port));
    e.protocol = Protocol::Mqtt;
    let mut w = watch(e);
    let EventKind::Connected { handshake, .. } = w
        .until(WITHIN, |k| matches!(k, EventKind::Connected { .. }))
        .await
    else {
        unreachable!()
    };
    assert_eq!(handshake.subprotocol.as_deref(), Some("mqtt"));
    // PINGREQ answered by PINGRESP, several times: a binary heartbeat with round trips.
    w.nth(4, WITHIN, |k| {
        matches!(
            k,
            EventKind::Rtt {
                kind: PingKind::App,
                ..
            }
        )
    })
    .await;
    assert!(!w.any_closed(), "{:#?}", w.seen);
    let EventKind::Closed { end, .. } = w.stop().await else {
        unreachable!()
    };
    assert!(matches!(end, SessionEnd::ClosedByClient { .. }), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_connack_refusal_is_an_application_refusal() {
    let broker = mosquitto().await;
    let mut e = fast(format!("ws://127.0.0.1:{}/mqtt", broker.other_port));
    e.protocol = Protocol::Mqtt;
    let mut w = watch(e);
    let end = w.closed().await;
    match &end {
        SessionEnd::Refused {
            protocol: Protocol::Mqtt,
            class: RefusalClass::Credentials,
            reason,
            ..
        } => assert_eq!(reason, "CONNACK 5: not authorized"),
        other => panic!("expected a CONNACK refusal, got {other:?}"),
    }
    w.until(WITHIN, |k| matches!(k, EventKind::GaveUp { .. }))
        .await;
}

/// Waits for `n` round trips of the preset's own heartbeat with no session ended meanwhile.
async fn pings_answered(w: &mut interop_common::Watch, n: usize) {
    w.nth(n, WITHIN, |k| {
        matches!(
            k,
            EventKind::Rtt {
                kind: PingKind::App,
                ..
            }
        )
    })
    .await;
    assert!(!w.any_closed(), "{:#?}", w.seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_session_is_held_with_pingreq_round_trips() {
    let broker = mosquitto().await;
    let mut e = fast(format!("ws://127.0.0.1:{}/mqtt", broker.port));
    e.protocol = Protocol::Mqtt5;
    let mut w = watch(e);
    let EventKind::Connected { handshake, .. } = w
        .until(WITHIN, |k| matches!(k, EventKind::Connected { .. }))
        .await
    else {
        unreachable!()
    };
    assert_eq!(handshake.subprotocol.as_deref(), Some("mqtt"));
    pings_answered(&mut w, 4).await;
    let EventKind::Closed { end, .. } = w.stop().await else {
        unreachable!()
    };
    assert!(matches!(end, SessionEnd::ClosedByClient { .. }), "{end:?}");
}

/// mosquitto's `max_keepalive 10` (its smallest) answers a CONNECT asking for more with
/// Server Keep Alive 10 in the CONNACK, and drops a client silent for 15 s. Heartline pings
/// every 20 s here (asking for 40 s): only by taking the server's keep-alive does its second
/// ping come before mosquitto's limit (and within the wait below) rather than after both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_server_keep_alive_replaces_the_clients() {
    let broker = mosquitto_with("max_keepalive 10\n").await;
    let mut e = fast(format!("ws://127.0.0.1:{}/mqtt", broker.port));
    e.protocol = Protocol::Mqtt5;
    e.heartbeat.ping_interval = Duration::from_secs(20);
    e.heartbeat.pong_timeout = Duration::from_secs(2);
    let mut w = watch(e);
    pings_answered(&mut w, 2).await;
    let EventKind::Closed { end, .. } = w.stop().await else {
        unreachable!()
    };
    assert!(matches!(end, SessionEnd::ClosedByClient { .. }), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_connack_refusal_is_a_credentials_refusal() {
    let broker = mosquitto().await;
    let mut e = fast(format!("ws://127.0.0.1:{}/mqtt", broker.other_port));
    e.protocol = Protocol::Mqtt5;
    let mut w = watch(e);
    let end = w.closed().await;
    match &end {
        SessionEnd::Refused {
            protocol: Protocol::Mqtt5,
            class: RefusalClass::Credentials,
            reason,
            ..
        } => assert!(
            reason == "CONNACK 0x87: not authorized"
                || reason == "CONNACK 0x86: bad user name or password",
            "{reason}"
        ),
        other => panic!("expected a CONNACK refusal, got {other:?}"),
    }
    // Credentials refusals stop reconnecting.
    w.until(WITHIN, |k| matches!(k, EventKind::GaveUp { .. }))
        .await;
}
