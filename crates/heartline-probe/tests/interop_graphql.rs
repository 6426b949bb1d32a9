//! The graphql-transport-ws preset against a real `graphql-ws` 6 server over `ws`, started
//! from `interop/graphql-server.mjs` on loopback.

mod interop_common;

use std::time::Duration;

use heartline_core::{
    AppHeartbeat, CloseCause, EventKind, PingKind, Protocol, RefusalClass, ReplyMatch, SessionEnd,
    Step,
};
use interop_common::{fast, ms, node_server, watch};

const WITHIN: Duration = Duration::from_secs(10);
const SUBSCRIBE: &str =
    r#"{"id":"1","type":"subscribe","payload":{"query":"subscription { tick }"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_preset_subscribes_after_the_ack_and_measures_its_own_pings() {
    let server = node_server("graphql-server.mjs", &[]).await;
    let mut e = fast(format!("ws://127.0.0.1:{}/graphql", server.port));
    e.protocol = Protocol::GraphqlTransportWs;
    e.on_connect = vec![SUBSCRIBE.into()];
    // A real operation as the application heartbeat: it too must wait for the ack.
    e.app_heartbeat = Some(Box::new(AppHeartbeat {
        payload: r#"{"id":"hb","type":"subscribe","payload":{"query":"{ hello }"}}"#.into(),
        reply: ReplyMatch::JsonField {
            path: "payload.data.hello".into(),
            equals: "world".into(),
        },
        interval: ms(200),
        timeout: ms(150),
        misses_allowed: 2,
    }));
    let mut w = watch(e);
    let EventKind::Connected { handshake, .. } = w
        .until(WITHIN, |k| matches!(k, EventKind::Connected { .. }))
        .await
    else {
        unreachable!()
    };
    // The preset offered the subprotocol the server requires (else 4406).
    assert_eq!(
        handshake.subprotocol.as_deref(),
        Some("graphql-transport-ws")
    );
    // Our `ping`s answered by `pong`s and `{ hello }` answered: application round trips.
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
    assert!(!w.any_closed(), "no 4401: {:#?}", w.seen);
    let EventKind::Closed { stats, .. } = w.stop().await else {
        unreachable!()
    };
    // ack + pongs + hello results + `next` ticks of the subscription.
    assert!(stats.messages_in > 5, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_subscribe_before_the_ack_is_what_gets_4401_without_the_preset() {
    let server = node_server("graphql-server.mjs", &[]).await;
    let mut e = fast(format!("ws://127.0.0.1:{}/graphql", server.port));
    e.subprotocols = vec!["graphql-transport-ws".into()];
    e.on_connect = vec![
        r#"{"type":"connection_init","payload":{}}"#.into(),
        SUBSCRIBE.into(),
    ];
    let mut w = watch(e);
    match w.closed().await {
        SessionEnd::ClosedByServer { code: 4401, .. } => {}
        other => panic!("expected 4401 from the server, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_forbidden_is_a_policy_refusal_with_the_protocols_meaning() {
    let server = node_server("graphql-server.mjs", &[]).await;
    let mut e = fast(format!("ws://127.0.0.1:{}/graphql?deny=1", server.port));
    e.protocol = Protocol::GraphqlTransportWs;
    let mut w = watch(e);
    let end = w.closed().await;
    assert!(
        matches!(
            end,
            SessionEnd::Refused {
                protocol: Protocol::GraphqlTransportWs,
                class: RefusalClass::Policy,
                code: 4403,
                ..
            }
        ),
        "{end:?}"
    );
    assert!(end.to_string().contains("forbidden"), "{end}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_init_timeout_4408_is_explained() {
    // A bare socket that never sends connection_init, against a 300 ms wait.
    let server = node_server("graphql-server.mjs", &["--init-wait", "300"]).await;
    let mut e = fast(format!("ws://127.0.0.1:{}/graphql", server.port));
    e.subprotocols = vec!["graphql-transport-ws".into()];
    let mut w = watch(e);
    let end = w.closed().await;
    assert_eq!(end.code(), 4408, "{end:?}");
    let meaning = Protocol::GraphqlTransportWs
        .close_meaning(4408)
        .expect("4408 has a meaning");
    assert!(meaning.meaning.contains("initialisation timeout"));
}

/// graphql-transport-ws spoken by hand, without the preset: init, wait for `reply` within
/// `within`, then subscribe.
fn by_hand(port: u16, reply: ReplyMatch, within: Duration) -> heartline_core::Endpoint {
    let mut e = fast(format!("ws://127.0.0.1:{port}/graphql"));
    e.subprotocols = vec!["graphql-transport-ws".into()];
    e.on_connect = vec![
        r#"{"type":"connection_init","payload":{}}"#.into(),
        Step::Expect {
            reply,
            within: Some(within),
        },
        SUBSCRIBE.into(),
    ];
    e
}

/// Without the preset, a scripted conversation does what the preset does: init, wait for the
/// server's `connection_ack`, then subscribe. The server accepts it (no 4401) and streams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_handshake_waits_for_the_ack_before_subscribing() {
    let server = node_server("graphql-server.mjs", &[]).await;
    let ack = ReplyMatch::JsonField {
        path: "type".into(),
        equals: "connection_ack".into(),
    };
    let mut w = watch(by_hand(server.port, ack, ms(2000)));
    // Several heartbeats later the session still stands: the subscribe left after the ack.
    w.nth(5, WITHIN, |k| {
        matches!(
            k,
            EventKind::Rtt {
                kind: PingKind::Protocol,
                ..
            }
        )
    })
    .await;
    assert!(!w.any_closed(), "no 4401: {:#?}", w.seen);
    let EventKind::Closed { stats, .. } = w.stop().await else {
        unreachable!()
    };
    // The ack and the subscription's `next` ticks (every 50 ms on the server).
    assert!(stats.messages_in >= 3, "{stats:?}");
    assert_eq!(stats.messages_out, 2, "init and subscribe: {stats:?}");
}

/// A reply that never comes ends the session at the step's deadline, as a protocol handshake
/// timeout whose reason names the step and the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_wait_that_is_not_answered_ends_the_session_and_says_which_step() {
    let server = node_server("graphql-server.mjs", &[]).await;
    let welcome = ReplyMatch::Contains("welcome".into());
    let mut w = watch(by_hand(server.port, welcome, ms(300)));
    match w.closed().await {
        SessionEnd::ClosedByClient {
            cause: CloseCause::ProtocolHandshakeTimeout,
            reason,
            ..
        } => assert_eq!(
            reason,
            r#"no reply matching "welcome" within 300ms (on_connect[1])"#
        ),
        other => panic!("expected our handshake timeout, got {other:?}"),
    }
}
