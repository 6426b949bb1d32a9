//! The start-up ramp (`Engine::insert_all`) against the lab on loopback: who connects at once,
//! who waits its turn, and that a control during the wait is obeyed. Proved by order and
//! cause (a ramp whose later turns lie days ahead), never by timing.

use std::time::Duration;

use heartline_core::{CloseCause, Endpoint, EndpointId, EventKind, Header, State};
use heartline_engine::{Delivery, Engine, EngineOptions, Ramp, Subscription};
use heartline_lab::{Lab, LabRecord};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn endpoint(lab: &Lab, name: &str) -> Endpoint {
    let mut e = Endpoint::new(name, lab.ws_url("/echo"));
    // Who dialed, as the lab records it.
    e.headers.push(Header {
        name: "x-who".into(),
        value: name.into(),
        secret: false,
    });
    // Heartbeats far apart: a loaded machine must not drop a session the test watches.
    e.heartbeat.ping_interval = Duration::from_secs(30);
    e.heartbeat.pong_timeout = Duration::from_secs(10);
    e.reconnect.initial = ms(20);
    e.reconnect.cap = ms(200);
    e
}

/// Longest any single wait may take before the test fails (a bound, not a measurement).
const BOUND: Duration = Duration::from_secs(30);

/// A ramp whose turns after the burst are days apart: within a test, whoever is not in the
/// burst connects only because something told it to.
fn engine(burst: usize) -> Engine {
    Engine::new(EngineOptions {
        ramp: Ramp {
            burst,
            per_second: 1e-6,
        },
        ..EngineOptions::default()
    })
}

/// The names whose upgrade request reached the lab so far.
fn dialed(lab: &Lab) -> Vec<String> {
    let mut names: Vec<String> = lab
        .log()
        .into_iter()
        .filter_map(|r| match r {
            LabRecord::Handshake { headers, .. } => headers
                .into_iter()
                .find(|(name, _)| name == "x-who")
                .map(|(_, who)| who),
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Waits for `id`'s first `Connected`, returning every event of `id` up to it (panics after
/// [`BOUND`]: a connect that never comes).
async fn connected(sub: &mut Subscription, id: EndpointId) -> Vec<EventKind> {
    let deadline = tokio::time::Instant::now() + BOUND;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Some(Delivery::Event(e))) if e.endpoint == id => {
                let done = matches!(e.kind, EventKind::Connected { .. });
                seen.push(e.kind);
                if done {
                    return seen;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                let last = &seen[seen.len().saturating_sub(4)..];
                panic!("{id} never connected; its last events: {last:?}")
            }
        }
    }
}

/// Waits until every one of `ids` has sent a `Connected`, in whatever order (panics after
/// [`BOUND`]).
async fn all_connected(sub: &mut Subscription, ids: &[EndpointId]) {
    let deadline = tokio::time::Instant::now() + BOUND;
    let mut waiting: Vec<EndpointId> = ids.to_vec();
    while !waiting.is_empty() {
        match tokio::time::timeout_at(deadline, sub.recv()).await {
            Ok(Some(Delivery::Event(e))) if matches!(e.kind, EventKind::Connected { .. }) => {
                waiting.retain(|id| *id != e.endpoint);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("never connected: {waiting:?}"),
        }
    }
}

fn state(engine: &Engine, id: EndpointId) -> Option<State> {
    engine
        .statuses()
        .into_iter()
        .find(|(i, _)| *i == id)
        .map(|(_, s)| s.state)
}

#[test]
fn small_fleets_start_at_once_and_ten_thousand_within_the_agents_goal() {
    let ramp = Ramp::default();
    assert_eq!(ramp.delay(0), Duration::ZERO);
    assert_eq!(
        ramp.span(ramp.burst),
        Duration::ZERO,
        "a fleet within the burst"
    );
    assert!(ramp.span(300).is_zero(), "a few hundred are not held back");
    // Later turns are in order, one step apart.
    assert!(ramp.delay(ramp.burst) > Duration::ZERO);
    assert!(ramp.delay(ramp.burst + 1) > ramp.delay(ramp.burst));
    // The agent's goal is all 10,000 connected within 5 s: the ramp leaves most of it.
    let span = ramp.span(10_000);
    assert!(
        span > Duration::ZERO && span < Duration::from_secs(3),
        "{span:?}"
    );
    // No ramp, or nonsense rates, hold nobody back.
    assert!(Ramp::NONE.span(1_000_000).is_zero());
    for per_second in [0.0, -1.0, f64::NAN] {
        let r = Ramp {
            burst: 0,
            per_second,
        };
        assert!(r.span(10).is_zero(), "{per_second}");
    }
}

/// Beyond the burst, endpoints wait their turn without dialing (and without a `Connecting`
/// event: the wait is no attempt); paused ones and refused ones take no turn; and while one
/// waits, reconnect, resume, update and remove act at once, and an endpoint added alone
/// connects at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_beyond_the_burst_wait_their_turn_and_obey_controls_meanwhile() {
    let lab = Lab::start().await.unwrap();
    let engine = engine(2);
    let mut sub = engine.subscribe();
    let mut bad = endpoint(&lab, "bad");
    bad.url = "http://not-a-websocket".into();
    let id = EndpointId;
    let results = engine.insert_all([
        (id(1), endpoint(&lab, "first"), false),
        (id(2), bad, false),
        (id(3), endpoint(&lab, "paused"), true),
        (id(4), endpoint(&lab, "second"), false),
        (id(5), endpoint(&lab, "waits-reconnect"), false),
        (id(6), endpoint(&lab, "waits-pause"), false),
        (id(7), endpoint(&lab, "waits-update"), false),
        (id(8), endpoint(&lab, "waits-remove"), false),
    ]);
    assert!(results[1].is_err(), "an invalid endpoint is refused");
    assert!(results.iter().enumerate().all(|(i, r)| i == 1 || r.is_ok()));

    // The burst: the first two that are neither refused nor paused (in either order).
    all_connected(&mut sub, &[id(1), id(4)]).await;
    // Kept from the start: what each endpoint sent, in order, read at the end.
    let mut from_start = sub;
    let mut sub = engine.subscribe();
    assert_eq!(dialed(&lab), ["first", "second"]);
    for waiting in [5, 6, 7, 8] {
        assert_eq!(state(&engine, id(waiting)), Some(State::Connecting));
    }
    assert_eq!(state(&engine, id(3)), Some(State::Paused));

    // An endpoint added alone does not queue behind the ramp.
    let alone = engine.add(endpoint(&lab, "alone")).unwrap();
    connected(&mut sub, alone).await;

    // Reconnect: the waiting one connects now, its first attempt the first event it sends.
    engine.reconnect(id(5)).await.unwrap();
    let events = connected(&mut sub, id(5)).await;
    assert!(
        matches!(events[0], EventKind::Connecting { attempt: 1 }),
        "{events:?}"
    );

    // Pause: it says Paused and still does not dial; resume connects it.
    engine.pause(id(6)).await.unwrap();
    assert_eq!(state(&engine, id(6)), Some(State::Paused));
    engine.resume(id(6)).await.unwrap();
    let events = connected(&mut sub, id(6)).await;
    assert!(
        events.iter().any(|k| matches!(
            k,
            EventKind::StateChanged {
                to: State::Paused,
                ..
            }
        )),
        "the pause came before the connect: {events:?}"
    );

    // Update: the new configuration connects now.
    engine
        .update(id(7), endpoint(&lab, "updated"))
        .await
        .unwrap();
    connected(&mut sub, id(7)).await;

    // Remove: gone, never having dialed.
    engine.remove(id(8)).await.unwrap();
    assert_eq!(state(&engine, id(8)), None);

    assert_eq!(
        dialed(&lab),
        [
            "alone",
            "first",
            "second",
            "updated",
            "waits-pause",
            "waits-reconnect"
        ]
    );
    // Before its control, a waiting endpoint sent nothing: one attempt, made after the
    // reconnect (a `Connecting` sent before the wait would make two), and the pause before any.
    let until_connected = |id: EndpointId, events: &[(EndpointId, EventKind)]| -> Vec<EventKind> {
        let mine = events
            .iter()
            .filter(|(e, _)| *e == id)
            .map(|(_, k)| k.clone());
        let mut out = Vec::new();
        for k in mine {
            let done = matches!(k, EventKind::Connected { .. });
            out.push(k);
            if done {
                break;
            }
        }
        out
    };
    let mut events = Vec::new();
    while events.len() < 100_000 {
        match tokio::time::timeout(BOUND, from_start.recv()).await {
            Ok(Some(Delivery::Event(e))) => {
                let last = e.endpoint == id(7) && matches!(e.kind, EventKind::Connected { .. });
                events.push((e.endpoint, e.kind));
                if last {
                    break;
                }
            }
            Ok(Some(Delivery::Missed(n))) => panic!("missed {n} events"),
            Ok(None) | Err(_) => panic!("the events up to 7's connect did not come"),
        }
    }
    let five = until_connected(id(5), &events);
    let attempts = five
        .iter()
        .filter(|k| matches!(k, EventKind::Connecting { .. }))
        .count();
    assert_eq!(attempts, 1, "{five:?}");
    let six = until_connected(id(6), &events);
    let paused_at = six
        .iter()
        .position(|k| {
            matches!(
                k,
                EventKind::StateChanged {
                    to: State::Paused,
                    ..
                }
            )
        })
        .expect("6 paused");
    assert!(
        !six[..paused_at]
            .iter()
            .any(|k| matches!(k, EventKind::Connecting { .. })),
        "{six:?}"
    );
    assert!(events.iter().all(|(e, _)| *e != id(8)), "8 sent nothing");
    engine.stop_all(CloseCause::Shutdown).await;
    lab.shutdown().await;
}
