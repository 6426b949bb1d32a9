//! The MQTT 3.1.1 preset against a real broker: mosquitto from the system (scripts/bootstrap.sh
//! installs it), started with its own configuration on free loopback ports.

mod interop_common;

use std::time::Duration;

use heartline_core::{EventKind, PingKind, Protocol, RefusalClass, SessionEnd};
use interop_common::{fast, mosquitto, watch};

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
