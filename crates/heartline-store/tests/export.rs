//! The export reads give the same answers as the per-endpoint reads they replace, over a real
//! SQLite file written by the recorder.

use std::time::Duration;

use futures_util::TryStreamExt;

use heartline_core::{
    Endpoint, EndpointId, Event, EventKind, FailedPhase, Handshake, HandshakeFailure, Header,
    Phases, PingKind, RetryReason, SessionEnd, SessionStats, State, Timestamp,
};
use heartline_probe::Sink;
use heartline_store::{RecorderOptions, Scope, Secrets, Store};

mod common;
use common::TempDir;

/// 2026-01-01T00:00:00Z plus `s` seconds.
fn t(s: i64) -> Timestamp {
    Timestamp(1_767_225_600_000 + s * 1000)
}

/// Seconds between the story's events: 900 of them span three days.
const STEP: i64 = 300;

/// Several hundred events over three endpoints and three days, with state changes before and
/// inside the window, closes by several codes and RTT samples.
fn story(ids: &[EndpointId]) -> Vec<Event> {
    let states = [State::Up, State::Degraded, State::Down, State::Up];
    let mut out = Vec::new();
    let mut last = vec![State::Connecting; ids.len()];
    for i in 0..900i64 {
        let which = usize::try_from(i).unwrap() % ids.len();
        let endpoint = ids[which];
        let at = t(i * STEP);
        let kind = match i % 7 {
            0 => EventKind::Closed {
                end: SessionEnd::ClosedByServer {
                    code: [1001, 1006, 1012][usize::try_from(i).unwrap() % 3],
                    reason: "bye".into(),
                },
                stats: SessionStats::default(),
            },
            1 => EventKind::ReconnectScheduled {
                attempt: 1,
                delay: Duration::from_millis(800),
                reason: RetryReason::Backoff,
            },
            2 => EventKind::HandshakeFailed(HandshakeFailure {
                phase: FailedPhase::Http {
                    status: Some(502),
                    retry_after: None,
                },
                error: "502 Bad Gateway".into(),
                elapsed: Duration::from_millis(40),
            }),
            3 => EventKind::PongMissed {
                kind: PingKind::Protocol,
                missed: 1,
            },
            4 => EventKind::Stale {
                silent: Duration::from_secs(30),
            },
            5 => EventKind::Connected {
                attempt: 2,
                handshake: Handshake {
                    phases: Phases {
                        dns: Duration::from_micros(1200),
                        tcp: Duration::from_micros(300),
                        tls: Some(Duration::from_micros(2500)),
                        upgrade: Duration::from_micros(900),
                    },
                    peer: "127.0.0.1:9443".parse().unwrap(),
                    subprotocol: Some("json".into()),
                    extensions: vec!["permessage-deflate".into()],
                },
            },
            _ => {
                let to = states[usize::try_from(i / 7).unwrap() % states.len()];
                if to == last[which] {
                    continue;
                }
                let from = std::mem::replace(&mut last[which], to);
                EventKind::StateChanged { from, to }
            }
        };
        out.push(Event { at, endpoint, kind });
        if i % 2 == 0 {
            out.push(Event {
                at,
                endpoint,
                kind: EventKind::Rtt {
                    kind: PingKind::Protocol,
                    rtt: Duration::from_micros(1000 + 500 * u64::try_from(i % 5).unwrap()),
                },
            });
        }
    }
    out
}

async fn recorded() -> (TempDir, Store, Vec<EndpointId>) {
    let dir = TempDir::new("reads");
    let store = Store::open(&dir.0.join("heartline.db")).await.unwrap();
    let secrets = Secrets::File(dir.0.join("secrets.json"));
    let mut ids = Vec::new();
    for name in ["alpha", "beta", "gamma"] {
        ids.push(
            store
                .add_endpoint(
                    &Endpoint::new(name, format!("wss://{name}.example.com/ws")),
                    &secrets,
                )
                .await
                .unwrap(),
        );
    }
    let (recorder, writer) = store
        .record(RecorderOptions {
            flush_every: Duration::from_millis(50),
            ..RecorderOptions::default()
        })
        .await
        .unwrap();
    for e in story(&ids) {
        recorder.emit(e);
    }
    writer.shutdown().await.unwrap();
    assert_eq!(recorder.dropped(), 0);
    (dir, store, ids)
}

async fn collect(store: &Store, scope: Scope<'_>, from: Timestamp, to: Timestamp) -> Vec<Event> {
    store
        .export_history(scope, from, to)
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn export_reads_answer_as_the_per_endpoint_reads_do() {
    let (_dir, store, ids) = recorded().await;
    // The window starts after several state changes, so the first change inside it must
    // carry the state from before the window.
    // It also starts and ends mid-day, so history is read in three slices.
    let (from, to) = (t(120 * STEP + 5), t(700 * STEP + 3));

    let all = collect(&store, Scope::All, from, to).await;
    let expected = store.history(&ids, from, to).await.unwrap();
    assert!(expected.len() > 500);
    for kind in ["connected", "closed", "state"] {
        assert!(
            expected.iter().any(|e| e.kind.name() == kind),
            "{kind} in the window"
        );
    }
    assert!(expected
        .iter()
        .any(|e| matches!(e.kind, EventKind::StateChanged { .. })));
    assert_eq!(all, expected, "every endpoint, in time order");

    let some = [ids[2], ids[0], ids[2]];
    assert_eq!(
        collect(&store, Scope::Only(&some), from, to).await,
        store.history(&[ids[0], ids[2]], from, to).await.unwrap(),
        "a selection, repeated ids read once"
    );
    assert!(collect(&store, Scope::Only(&[]), from, to).await.is_empty());
    assert!(collect(&store, Scope::All, t(1000 * STEP), t(2000 * STEP))
        .await
        .is_empty());

    assert!(store
        .export_has_history(Scope::All, from, to)
        .await
        .unwrap());
    assert!(!store
        .export_has_history(Scope::All, t(1000 * STEP), t(2000 * STEP))
        .await
        .unwrap());
    assert!(!store
        .export_has_history(Scope::Only(&[EndpointId(999)]), from, to)
        .await
        .unwrap());

    let uptime = store.availability_of(Scope::All, from, to).await.unwrap();
    assert_eq!(uptime.len(), ids.len());
    for id in &ids {
        assert_eq!(
            uptime[id],
            store.availability(*id, from, to).await.unwrap(),
            "uptime of {id}"
        );
    }

    assert_eq!(
        store
            .export_close_codes(Scope::All, from, to)
            .await
            .unwrap(),
        store.close_codes(&ids, from, to).await.unwrap()
    );
    assert_eq!(
        store
            .export_close_codes(Scope::Only(&ids[1..2]), from, to)
            .await
            .unwrap(),
        store.close_codes(&ids[1..2], from, to).await.unwrap()
    );

    let rtt = store
        .export_rtt(Scope::All, PingKind::Protocol, t(0), t(900 * STEP), 300)
        .await
        .unwrap();
    assert_eq!(rtt.len(), ids.len());
    for id in &ids {
        let (resolution, points) = store
            .rtt_series(*id, PingKind::Protocol, t(0), t(900 * STEP), 300)
            .await
            .unwrap();
        let samples: u64 = points.iter().map(|p| p.count).sum();
        let weighted: u128 = points
            .iter()
            .map(|p| p.mean.as_micros() * u128::from(p.count))
            .sum();
        let r = rtt[id];
        assert_eq!(r.resolution, resolution);
        assert_eq!(r.samples, samples);
        assert_eq!(
            u128::from(u64::try_from(r.mean.as_micros()).unwrap()),
            weighted / u128::from(samples)
        );
        assert_eq!(
            r.worst_p95,
            points.iter().map(|p| p.p95).max().unwrap_or_default()
        );
    }
    assert!(store
        .export_rtt(Scope::All, PingKind::App, t(0), t(900 * STEP), 300)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn export_endpoints_leave_secret_values_out() {
    let dir = TempDir::new("endpoints");
    let store = Store::open(&dir.0.join("heartline.db")).await.unwrap();
    let secrets = Secrets::File(dir.0.join("secrets.json"));
    let mut feed = Endpoint::new("feed", "wss://feed.example.com/ws?token=abc");
    feed.headers = vec![
        Header::new("Authorization", "Bearer TOP-SECRET"),
        Header::new("X-Client", "heartline"),
    ];
    feed.tags = vec!["prod".into()];
    let id = store.add_endpoint(&feed, &secrets).await.unwrap();
    // The secret store has the value; the export read does not ask for it.
    assert!(std::fs::read_to_string(dir.0.join("secrets.json"))
        .unwrap()
        .contains("TOP-SECRET"));

    let listed = store.export_endpoints().await.unwrap();
    assert_eq!(listed.len(), 1);
    let e = &listed[0];
    assert_eq!(
        (e.id, e.endpoint.name.as_str(), e.paused),
        (id, "feed", false)
    );
    assert_eq!(e.endpoint.tags, vec!["prod".to_string()]);
    let auth = e
        .endpoint
        .headers
        .iter()
        .find(|h| h.name == "Authorization")
        .unwrap();
    assert!(auth.secret);
    assert_eq!(auth.value, "");
    assert!(e
        .endpoint
        .headers
        .iter()
        .any(|h| h.name == "X-Client" && h.value == "heartline"));
    assert!(!format!("{listed:?}").contains("TOP-SECRET"));
}

/// The history arrives a day at a time: each item holds only its day's events, in order,
/// and together they are exactly what the per-endpoint read returns.
#[tokio::test]
async fn history_comes_a_day_at_a_time_on_its_own_connection() {
    let (_dir, store, ids) = recorded().await;
    let (from, to) = (t(120 * STEP + 5), t(700 * STEP + 3));
    let days: Vec<Vec<Event>> = store
        .export_history_days(Scope::All, from, to)
        .try_collect()
        .await
        .unwrap();
    // From mid-day to mid-day over about two days: three slices.
    assert_eq!(days.len(), 3);
    let mut start = from.0;
    for day in &days {
        let end = (start + 86_400_000).min(to.0);
        assert!(day.iter().all(|e| (start..end).contains(&e.at.0)));
        start = end;
    }
    let all: Vec<Event> = days.into_iter().flatten().collect();
    assert_eq!(all, store.history(&ids, from, to).await.unwrap());

    // An empty window reads nothing (and starts no reading).
    assert!(store
        .export_history_days(Scope::All, to, to)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .is_empty());
    // Dropping the stream after its first day stops the reading thread; nothing hangs.
    let mut stream = store.export_history_days(Scope::All, from, to);
    assert!(!stream.try_next().await.unwrap().unwrap().is_empty());
    drop(stream);
}

/// The export reads while the writer commits into the same window: no error, what was
/// there before is all there, in order, and what was added shows up at most once.
#[tokio::test]
async fn history_reads_while_the_writer_commits() {
    let (dir, store, ids) = recorded().await;
    let (from, to) = (t(0), t(900 * STEP));
    let before = store.history(&ids, from, to).await.unwrap();

    // A second store on the same file, as another process would open it, keeps writing
    // stale events (one per step, at odd seconds no story event uses) into the window.
    let writer_store = Store::open(&dir.0.join("heartline.db")).await.unwrap();
    let (recorder, writer) = writer_store
        .record(RecorderOptions {
            flush_every: Duration::from_millis(5),
            ..RecorderOptions::default()
        })
        .await
        .unwrap();
    let added: Vec<Event> = (0..900)
        .map(|i| Event {
            at: t(i * STEP + 1),
            endpoint: ids[usize::try_from(i).unwrap() % ids.len()],
            kind: EventKind::Stale {
                silent: Duration::from_secs(7),
            },
        })
        .collect();
    let feeding = {
        let (recorder, added) = (recorder.clone(), added.clone());
        tokio::spawn(async move {
            for chunk in added.chunks(30) {
                for e in chunk {
                    recorder.emit(e.clone());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    // Three exports while the writer commits.
    let mut reads = Vec::new();
    for _ in 0..3 {
        reads.push(collect(&store, Scope::All, from, to).await);
    }
    feeding.await.unwrap();
    writer.shutdown().await.unwrap();

    for read in &reads {
        for e in read {
            assert!(before.contains(e) || added.contains(e), "{e:?}");
        }
        for e in &before {
            assert!(read.contains(e), "{e:?} in every read");
        }
        assert!(read.windows(2).all(|p| p[0].at <= p[1].at), "in time order");
        assert!(read.len() <= before.len() + added.len());
    }
    // Once the writer is done, the export has everything.
    let last = collect(&store, Scope::All, from, to).await;
    assert_eq!(last.len(), before.len() + added.len());
    assert_eq!(last, store.history(&ids, from, to).await.unwrap());
}
