//! The engine against the lab: many endpoints, run-time changes, and slow subscribers.

use std::time::Duration;

use heartline_core::{CloseCause, Endpoint, EndpointId, EventKind, State};
use heartline_engine::{Delivery, Engine, EngineOptions, Error, Subscription};
use heartline_lab::Lab;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn fast(name: &str, url: String) -> Endpoint {
    let mut e = Endpoint::new(name, url);
    // Slack enough that a loaded machine does not miss pongs that did arrive.
    e.heartbeat.ping_interval = ms(200);
    e.heartbeat.pong_timeout = ms(150);
    e.reconnect.initial = ms(20);
    e.reconnect.cap = ms(200);
    e
}

/// Waits until `pred` holds for an event, skipping others; panics after `within`.
async fn until(
    sub: &mut Subscription,
    within: Duration,
    pred: impl Fn(EndpointId, &EventKind) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Some(Delivery::Event(e))) if pred(e.endpoint, &e.kind) => return,
            Ok(Some(_)) => {}
            Ok(None) => panic!("engine gone"),
            Err(_) => panic!("timed out"),
        }
    }
}

async fn wait_for(
    engine: &Engine,
    within: Duration,
    pred: impl Fn(&[(EndpointId, heartline_engine::Status)]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if pred(&engine.statuses()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "statuses: {:#?}",
            engine.statuses()
        );
        tokio::time::sleep(ms(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_endpoints_come_up_and_shut_down_cleanly() {
    let lab = Lab::start().await.unwrap();
    let engine = Engine::new(EngineOptions::default());
    let mut sub = engine.subscribe();
    let n = 200;
    for i in 0..n {
        engine
            .add(fast(&format!("echo {i}"), lab.ws_url("/echo")))
            .unwrap();
    }
    wait_for(&engine, Duration::from_secs(10), |s| {
        s.len() == n && s.iter().all(|(_, st)| st.state == State::Up)
    })
    .await;
    assert!(engine
        .statuses()
        .iter()
        .all(|(_, s)| s.last_rtt.is_some() && s.connected));
    assert_eq!(lab.open_connections(), n);

    engine.stop_all(CloseCause::Shutdown).await;
    assert!(engine.endpoints().is_empty());
    // Every session ended exactly once, closed by us for shutdown.
    let mut closes = 0;
    while let Ok(Some(d)) = tokio::time::timeout(ms(200), sub.recv()).await {
        if let Delivery::Event(e) = d {
            if let EventKind::Closed { end, .. } = e.kind {
                assert_eq!(end.cause(), Some(CloseCause::Shutdown), "{end:?}");
                closes += 1;
            }
        }
    }
    assert_eq!(closes, n);
    tokio::time::sleep(ms(200)).await;
    assert_eq!(lab.open_connections(), 0);
}

#[tokio::test]
async fn endpoints_change_at_run_time() {
    let lab = Lab::start().await.unwrap();
    let engine = Engine::new(EngineOptions::default());
    let mut sub = engine.subscribe();
    let a = engine.add(fast("a", lab.ws_url("/echo"))).unwrap();
    let b = engine.add(fast("b", lab.ws_url("/echo"))).unwrap();
    assert_ne!(a, b);
    until(&mut sub, Duration::from_secs(5), |id, k| {
        id == a && matches!(k, EventKind::StateChanged { to: State::Up, .. })
    })
    .await;

    engine.pause(a).await.unwrap();
    until(&mut sub, Duration::from_secs(5), |id, k| {
        id == a
            && matches!(
                k,
                EventKind::StateChanged {
                    to: State::Paused,
                    ..
                }
            )
    })
    .await;
    engine.resume(a).await.unwrap();
    until(&mut sub, Duration::from_secs(5), |id, k| {
        id == a && matches!(k, EventKind::StateChanged { to: State::Up, .. })
    })
    .await;

    // Update: the session restarts against the new URL.
    engine
        .update(a, fast("a2", lab.ws_url("/close?code=4002&after=50ms")))
        .await
        .unwrap();
    until(&mut sub, Duration::from_secs(5), |id, k| {
        id == a && matches!(k, EventKind::Closed { end, .. } if end.cause() == Some(CloseCause::Reconfigured))
    })
    .await;
    until(&mut sub, Duration::from_secs(5), |id, k| {
        id == a && matches!(k, EventKind::Closed { end, .. } if end.code() == 4002)
    })
    .await;
    assert_eq!(
        engine
            .endpoints()
            .iter()
            .find(|(id, _)| *id == a)
            .unwrap()
            .1
            .name,
        "a2"
    );

    engine.reconnect(b).await.unwrap();
    until(&mut sub, Duration::from_secs(5), |id, k| {
        id == b && matches!(k, EventKind::Connected { .. })
    })
    .await;

    let removed = engine.remove(b).await.unwrap();
    assert_eq!(removed.name, "b");
    assert!(matches!(
        engine.pause(b).await,
        Err(Error::UnknownEndpoint(_))
    ));
    assert!(matches!(
        engine.remove(b).await,
        Err(Error::UnknownEndpoint(_))
    ));
}

#[tokio::test]
async fn invalid_endpoints_are_refused_with_the_field() {
    let engine = Engine::new(EngineOptions::default());
    let err = engine
        .add(Endpoint::new("x", "http://example.com"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("url") && err.contains("ws://"), "{err}");
    assert!(engine.endpoints().is_empty());
    engine
        .insert(EndpointId(7), fast("x", "ws://127.0.0.1:1/".into()))
        .unwrap();
    assert!(matches!(
        engine.insert(EndpointId(7), fast("y", "ws://127.0.0.1:1/".into())),
        Err(Error::DuplicateId(_))
    ));
    // Ids chosen by the caller are never handed out again.
    assert!(engine.add(fast("z", "ws://127.0.0.1:1/".into())).unwrap().0 > 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_told_what_it_missed_and_stalls_nobody() {
    let lab = Lab::start().await.unwrap();
    let engine = Engine::new(EngineOptions {
        event_capacity: 16,
        ..EngineOptions::default()
    });
    let mut slow = engine.subscribe();
    let mut fast_sub = engine.subscribe();
    let id = engine.add(fast("busy", lab.ws_url("/echo"))).unwrap();

    // The fast subscriber keeps seeing heartbeats while the slow one never reads.
    let mut rtts = 0;
    while rtts < 20 {
        match tokio::time::timeout(Duration::from_secs(5), fast_sub.recv())
            .await
            .expect("events keep flowing")
        {
            Some(Delivery::Event(e)) if matches!(e.kind, EventKind::Rtt { .. }) => rtts += 1,
            Some(_) => {}
            None => panic!("engine gone"),
        }
    }
    match slow.recv().await {
        Some(Delivery::Missed(n)) => assert!(n > 0),
        other => panic!("expected a missed count first, got {other:?}"),
    }
    // After the gap the slow subscriber resumes with real events.
    assert!(matches!(slow.recv().await, Some(Delivery::Event(_))));
    let (_, status) = engine
        .statuses()
        .into_iter()
        .find(|(i, _)| *i == id)
        .unwrap();
    assert_eq!(status.state, State::Up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observers_see_every_event_even_when_subscribers_lag() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    let lab = Lab::start().await.unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    let observer: Arc<dyn heartline_probe::Sink> = Arc::new(move |_e: heartline_core::Event| {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let engine = Engine::new(EngineOptions {
        event_capacity: 16,
        observers: vec![observer],
        ..EngineOptions::default()
    });
    let mut lagging = engine.subscribe();
    // Counting only: fast pings to overflow the 16-event ring quickly; a missed pong under load
    // would only add events.
    let mut busy = fast("busy", lab.ws_url("/echo"));
    busy.heartbeat.ping_interval = ms(100);
    busy.heartbeat.pong_timeout = ms(60);
    engine.add(busy).unwrap();
    tokio::time::sleep(ms(2500)).await;
    engine.stop_all(CloseCause::Shutdown).await;

    // Count what the lagging subscriber received plus what it was told it missed.
    let mut received = 0u64;
    let mut missed = 0u64;
    while let Ok(Some(d)) = tokio::time::timeout(ms(100), lagging.recv()).await {
        match d {
            Delivery::Event(_) => received += 1,
            Delivery::Missed(n) => missed += n,
        }
    }
    assert!(missed > 0, "the subscriber lagged");
    assert_eq!(
        seen.load(Ordering::Relaxed),
        received + missed,
        "the observer saw every event"
    );
}

/// An endpoint inserted paused says Paused from the first look and never dials: its first
/// events are the attempt it did not make and the pause, and it connects only on resume.
#[tokio::test]
async fn an_endpoint_inserted_paused_never_dials_until_resumed() {
    let lab = Lab::start().await.unwrap();
    let engine = Engine::new(EngineOptions::default());
    let mut sub = engine.subscribe();
    let id = EndpointId(7);
    engine
        .insert_paused(id, fast("quiet", lab.ws_url("/echo")))
        .unwrap();
    assert_eq!(engine.statuses()[0].1.state, State::Paused);
    until(&mut sub, ms(10_000), |_, k| {
        matches!(
            k,
            EventKind::StateChanged {
                to: State::Paused,
                ..
            }
        )
    })
    .await;
    // Nothing but the resume makes it connect: the first connection follows it.
    engine.resume(id).await.unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + ms(10_000);
    loop {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Some(Delivery::Event(e))) => {
                let connected = matches!(e.kind, EventKind::Connected { .. });
                seen.push(e.kind);
                if connected {
                    break;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("no connection after resume: {seen:?}"),
        }
    }
    assert!(
        seen.iter().any(|k| matches!(
            k,
            EventKind::StateChanged {
                from: State::Paused,
                ..
            }
        )),
        "{seen:?}"
    );
    engine.stop_all(CloseCause::Shutdown).await;
    lab.shutdown().await;
}

/// The subscribers' ring is made by the first subscription: an endpoint watched before anyone
/// subscribed delivers its later events to a subscriber that came afterwards.
#[tokio::test]
async fn a_subscriber_that_comes_late_hears_endpoints_added_before_it() {
    let lab = Lab::start().await.unwrap();
    let engine = Engine::new(EngineOptions::default());
    let a = engine.add(fast("a", lab.ws_url("/echo"))).unwrap();
    wait_for(&engine, Duration::from_secs(5), |s| {
        s.iter().any(|(id, st)| *id == a && st.connected)
    })
    .await;
    let mut sub = engine.subscribe();
    engine.reconnect(a).await.unwrap();
    until(&mut sub, Duration::from_secs(5), |id, k| {
        id == a && matches!(k, EventKind::Connected { .. })
    })
    .await;
    engine.stop_all(CloseCause::Shutdown).await;
}
