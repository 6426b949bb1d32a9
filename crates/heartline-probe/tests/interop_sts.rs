//! The subscriptions-transport-ws preset (subprotocol `graphql-ws`, the legacy Apollo protocol)
//! against the real npm `subscriptions-transport-ws` server, started from
//! `interop/sts-server.mjs` on loopback.

mod interop_common;

use std::time::Duration;

use heartline_core::{EventKind, PingKind, Protocol, RefusalClass, SessionEnd};
use interop_common::{fast, node_server, watch};

const WITHIN: Duration = Duration::from_secs(10);
const START: &str = r#"{"id":"1","type":"start","payload":{"query":"subscription { tick }"}}"#;

/// The preset offers `graphql-ws`, sends `connection_init`, and records the server's `ka`
/// keep-alives (every 200 ms here) as beats with their interval, never as round trips; the
/// subscription started after the ack streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alives_are_beats_and_the_subscription_streams() {
    let server = node_server("sts-server.mjs", &["--keep-alive", "200"]).await;
    let mut e = fast(format!("ws://127.0.0.1:{}/graphql", server.port));
    e.protocol = Protocol::SubscriptionsTransportWs;
    e.on_connect = vec![START.into()];
    let mut w = watch(e);
    let EventKind::Connected { handshake, .. } = w
        .until(WITHIN, |k| matches!(k, EventKind::Connected { .. }))
        .await
    else {
        unreachable!()
    };
    assert_eq!(handshake.subprotocol.as_deref(), Some("graphql-ws"));
    w.nth(4, WITHIN, |k| matches!(k, EventKind::ServerBeat { .. }))
        .await;
    let intervals: Vec<Duration> = w
        .seen
        .iter()
        .filter_map(|k| match k {
            EventKind::ServerBeat { interval, .. } => Some(*interval),
            _ => None,
        })
        .collect();
    // After the first (from the ack), the server's own schedule: 200 ms apart, give or take.
    assert!(
        intervals[2..]
            .iter()
            .all(|i| *i > Duration::from_millis(100) && *i < Duration::from_millis(1000)),
        "{intervals:?}"
    );
    assert!(
        !w.seen.iter().any(|k| matches!(
            k,
            EventKind::Rtt {
                kind: PingKind::App,
                ..
            }
        )),
        "a keep-alive taken for a round trip: {:#?}",
        w.seen
    );
    assert!(!w.any_closed(), "{:#?}", w.seen);
    let EventKind::Closed { stats, .. } = w.stop().await else {
        unreachable!()
    };
    // The ack, the keep-alives and the subscription's `data` ticks (every 50 ms).
    assert!(stats.messages_in > 6, "{stats:?}");
}

/// A `connection_init` the server's onConnect refuses: `connection_error` with its message,
/// an application refusal with the protocol's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_init_is_an_application_refusal() {
    let server = node_server("sts-server.mjs", &[]).await;
    let mut e = fast(format!("ws://127.0.0.1:{}/graphql", server.port));
    e.protocol = Protocol::SubscriptionsTransportWs;
    // The user's own connection_init (credentials travel in its payload) replaces the preset's.
    e.on_connect = vec![r#"{"type":"connection_init","payload":{"deny":true}}"#.into()];
    let mut w = watch(e);
    match w.closed().await {
        SessionEnd::Refused {
            protocol: Protocol::SubscriptionsTransportWs,
            class,
            reason,
            ..
        } => {
            assert_eq!(reason, "Prohibited connection!");
            assert_eq!(class, RefusalClass::Policy);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
