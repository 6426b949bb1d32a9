//! The whole chain behind a proxy-like idle timeout: the lab cuts every session after a
//! second of silence (pings do not count), the engine keeps reconnecting, the recorder
//! writes a real SQLite file, and what the store then says must be the truth: uptime under
//! 100 %, the drops counted, an Unstable incident whose cause is the idle timeout, and the
//! reconnects scheduled after the initial delay because every session was healthy.

use std::time::Duration;

use heartline_core::{
    CloseCause, Endpoint, EventKind, IncidentKind, RetryReason, Rule, State, Timestamp,
};
use heartline_engine::{Delivery, Engine, EngineOptions};
use heartline_lab::Lab;
use heartline_store::{RecorderOptions, Store};

mod common;
use common::TempDir;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn now() -> Timestamp {
    Timestamp::from_system(std::time::SystemTime::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_an_idle_timeout_the_store_tells_the_truth() {
    let lab = Lab::start().await.unwrap();
    let dir = TempDir::new("truth", "idle");
    let store = Store::open(&dir.path("heartline.db")).await.unwrap();
    let (recorder, writer) = store
        .record(RecorderOptions {
            flush_every: ms(50),
            ..RecorderOptions::default()
        })
        .await
        .unwrap();
    let from = now();
    let engine = Engine::new(EngineOptions {
        observers: vec![recorder.clone()],
        ..EngineOptions::default()
    });
    let mut events = engine.subscribe();

    let mut e = Endpoint::new("proxy-idle", lab.ws_url("/idle?after=1200ms&pings=ignore"));
    e.heartbeat.ping_interval = ms(250);
    e.heartbeat.pong_timeout = ms(200);
    e.reconnect.initial = ms(50);
    e.reconnect.cap = ms(5_000);
    e.reconnect.jitter = 0.0;
    // Far above the sessions' 1.2 s: only the answered heartbeats make them healthy.
    e.reconnect.reset_after = Duration::from_secs(60);
    let id = engine.add(e).unwrap();

    // Until the instability rule calls it and two more sessions have dropped (bounded: the
    // lab's timer cuts a session every ~1.3 s, so this takes about eight seconds).
    let mut delays = Vec::new();
    let (mut drops, mut unstable_at_drop) = (0, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while unstable_at_drop.is_none_or(|n| drops < n + 2) {
        let delivery = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the storm within a minute")
            .expect("the engine runs");
        let Delivery::Event(event) = delivery else {
            continue;
        };
        match event.kind {
            EventKind::Closed { end, .. } => {
                assert!(end.is_unexpected(), "{end}");
                drops += 1;
            }
            EventKind::StateChanged {
                to: State::Unstable,
                ..
            } => unstable_at_drop = Some(drops),
            EventKind::ReconnectScheduled { delay, reason, .. } => {
                assert_eq!(reason, RetryReason::Backoff);
                delays.push(delay);
            }
            _ => {}
        }
    }
    engine.stop_all(CloseCause::Shutdown).await;
    // The window is half-open: one millisecond past now holds an end stamped just now.
    let to = Timestamp(now().0 + 1);
    writer.shutdown().await.unwrap();

    // The rule needs three drops; the state machine saw them as each reconnect succeeded.
    assert_eq!(unstable_at_drop, Some(3));
    // Every session answered heartbeats before the proxy cut it: no backoff growth.
    assert!(delays.len() >= 4, "{delays:?}");
    assert!(delays.iter().all(|d| *d == ms(50)), "{delays:?}");

    let store = Store::open(&dir.path("heartline.db")).await.unwrap();
    let a = store.availability(id, from, to).await.unwrap();
    let uptime = a.uptime().expect("watched");
    assert!(uptime < 1.0, "uptime {uptime} with {drops} drops: {a:?}");
    assert!(a.connected_share().expect("watched") < 1.0, "{a:?}");
    assert_eq!(a.unexpected_ends, drops, "{a:?}");
    assert!(a.drops_per_hour().expect("watched") > 0.0);
    assert!(a.unstable > Duration::ZERO, "{a:?}");

    let incidents = store.incidents(&[], from, to).await.unwrap();
    let storm = incidents
        .iter()
        .find(|i| i.kind == IncidentKind::Unstable)
        .unwrap_or_else(|| panic!("an Unstable incident in {incidents:?}"));
    let cause = storm.cause.as_ref().expect("a cause");
    assert_eq!(cause.rule, Rule::IdleTimeout, "{cause:?}");
    assert!(cause.title.contains("about 1 s"), "{}", cause.title);
}
