//! The store on a real SQLite file in a temp directory.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use heartline_core::{
    CloseCause, EndpointId, Event, EventKind, FailedPhase, Handshake, HandshakeFailure, Phase,
    Phases, PingKind, RetryReason, SessionEnd, SessionStats, State, Timestamp,
};
use heartline_probe::Sink;
use heartline_store::{Error, RecorderOptions, Store};

mod common;
use common::TempDir;

/// 2026-01-01T00:00:00Z plus `s` seconds.
fn t(s: i64) -> Timestamp {
    Timestamp(1_767_225_600_000 + s * 1000)
}

fn ev(endpoint: u64, at: Timestamp, kind: EventKind) -> Event {
    Event {
        at,
        endpoint: EndpointId(endpoint),
        kind,
    }
}

fn fast_options() -> RecorderOptions {
    RecorderOptions {
        flush_every: Duration::from_millis(50),
        ..RecorderOptions::default()
    }
}

/// Length and a 64-bit FNV-1a hash of the file: enough to tell whether anything changed.
fn file_digest(path: &Path) -> (u64, u64) {
    let bytes = std::fs::read(path).unwrap();
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    (bytes.len() as u64, hash)
}

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_reopen_cleanly() {
    let dir = TempDir::new("migrate");
    let store = Store::open(&dir.db()).await.unwrap();
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(store.reader())
            .await
            .unwrap();
    let names: Vec<&str> = tables.iter().map(|(n,)| n.as_str()).collect();
    for table in [
        "endpoints",
        "sessions",
        "states",
        "events",
        "rtt_minute",
        "rtt_hour",
        "rtt_day",
        "incidents",
        "agent_runs",
        "settings",
    ] {
        assert!(names.contains(&table), "{table} missing from {names:?}");
    }
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (vacuum,): (i64,) = sqlx::query_as("PRAGMA auto_vacuum")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(vacuum, 2, "incremental");
    store.close().await;
    Store::open(&dir.db()).await.expect("reopens");
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let dir = TempDir::new("notdb");
    let path = dir.db();
    std::fs::write(
        &path,
        b"this is my thesis, please do not overwrite it\n".repeat(100),
    )
    .unwrap();
    let before = file_digest(&path);
    let err = Store::open(&path).await.unwrap_err();
    assert!(matches!(err, Error::NotSqlite { .. }), "{err}");
    assert!(err.to_string().contains("left untouched"), "{err}");
    assert_eq!(file_digest(&path), before);
    assert!(!dir.0.join("heartline.db-wal").exists());
}

#[tokio::test]
async fn a_damaged_database_is_refused_and_left_untouched() {
    let dir = TempDir::new("corrupt");
    let path = dir.db();
    {
        let store = Store::open(&path).await.unwrap();
        let (recorder, writer) = store.record(fast_options()).await.unwrap();
        for i in 0..2000 {
            recorder.emit(ev(
                1,
                t(i),
                EventKind::GaveUp {
                    reason: format!("reason number {i} ").repeat(5),
                },
            ));
        }
        writer.shutdown().await.unwrap();
        store.close().await;
    }
    // Scribble over the middle of the file, keeping the header valid.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 64 * 1024, "{} bytes", bytes.len());
    for b in &mut bytes[8192..40_960] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let before = file_digest(&path);
    let err = Store::open(&path).await.unwrap_err();
    assert!(
        matches!(err, Error::Corrupt { .. } | Error::NotSqlite { .. }),
        "{err}"
    );
    assert_eq!(
        file_digest(&path),
        before,
        "nothing was written to the damaged file"
    );
}

#[tokio::test]
async fn a_database_from_a_newer_heartline_is_refused() {
    let dir = TempDir::new("newer");
    let store = Store::open(&dir.db()).await.unwrap();
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(dir.db()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (29991231000000, 'from the future', 1, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    store.close().await;
    let err = Store::open(&dir.db()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::NewerSchema {
                version: 29991231000000,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("newer Heartline"), "{err}");
}

fn handshake() -> Handshake {
    Handshake {
        phases: Phases {
            dns: Duration::from_micros(1200),
            tcp: Duration::from_micros(300),
            tls: Some(Duration::from_micros(2500)),
            upgrade: Duration::from_micros(900),
        },
        peer: "127.0.0.1:9443".parse::<SocketAddr>().unwrap(),
        subprotocol: Some("json".into()),
        extensions: vec!["permessage-deflate".into()],
    }
}

/// One of every event kind the store keeps.
fn story() -> Vec<Event> {
    vec![
        ev(
            1,
            t(0),
            EventKind::Connected {
                attempt: 1,
                handshake: handshake(),
            },
        ),
        ev(
            1,
            t(1),
            EventKind::StateChanged {
                from: State::Connecting,
                to: State::Up,
            },
        ),
        ev(
            1,
            t(30),
            EventKind::PongMissed {
                kind: PingKind::Protocol,
                missed: 1,
            },
        ),
        ev(
            1,
            t(30),
            EventKind::StateChanged {
                from: State::Up,
                to: State::Degraded,
            },
        ),
        ev(
            1,
            t(31),
            EventKind::Stale {
                silent: Duration::from_millis(31_000),
            },
        ),
        ev(
            1,
            t(60),
            EventKind::Closed {
                end: SessionEnd::ClosedByClient {
                    cause: CloseCause::PongTimeout,
                    code: 1001,
                    reason: "pong timeout".into(),
                    clean: false,
                },
                stats: SessionStats {
                    duration: Duration::from_millis(60_000),
                    silent_for: Duration::from_millis(59_000),
                    messages_in: 12,
                    bytes_in: 3400,
                    messages_out: 2,
                    bytes_out: 90,
                },
            },
        ),
        ev(
            1,
            t(60),
            EventKind::ReconnectScheduled {
                attempt: 1,
                delay: Duration::from_millis(400),
                reason: RetryReason::Backoff,
            },
        ),
        ev(
            1,
            t(61),
            EventKind::HandshakeFailed(HandshakeFailure {
                phase: FailedPhase::Http {
                    status: Some(503),
                    retry_after: Some(Duration::from_secs(7)),
                },
                error: "503 Service Unavailable".into(),
                elapsed: Duration::from_millis(3),
            }),
        ),
        ev(
            1,
            t(62),
            EventKind::HandshakeFailed(HandshakeFailure {
                phase: FailedPhase::Timeout { during: Phase::Tls },
                error: "no progress".into(),
                elapsed: Duration::from_millis(10_000),
            }),
        ),
        ev(
            1,
            t(63),
            EventKind::StateChanged {
                from: State::Degraded,
                to: State::Down,
            },
        ),
        ev(
            1,
            t(70),
            EventKind::GaveUp {
                reason: "upgrade refused with HTTP 401".into(),
            },
        ),
        ev(
            2,
            t(80),
            EventKind::Closed {
                end: SessionEnd::ClosedByServer {
                    code: 4001,
                    reason: "kicked".into(),
                },
                stats: SessionStats {
                    duration: Duration::from_millis(5000),
                    ..SessionStats::default()
                },
            },
        ),
        ev(
            2,
            t(90),
            EventKind::Closed {
                end: SessionEnd::Lost {
                    error: "connection reset".into(),
                },
                stats: SessionStats::default(),
            },
        ),
        ev(
            2,
            t(95),
            EventKind::PongMissed {
                kind: PingKind::Server,
                missed: 1,
            },
        ),
        // The application refused the session: read back as a refusal, protocol and class.
        ev(
            2,
            t(98),
            EventKind::Closed {
                end: SessionEnd::Refused {
                    protocol: heartline_core::Protocol::Mqtt,
                    class: heartline_core::RefusalClass::Credentials,
                    code: 1000,
                    reason: "CONNACK 5: not authorized".into(),
                },
                stats: SessionStats {
                    duration: Duration::from_millis(2),
                    ..SessionStats::default()
                },
            },
        ),
    ]
}

#[tokio::test]
async fn every_event_round_trips_and_rtt_becomes_rollups() {
    let dir = TempDir::new("roundtrip");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    for e in story() {
        recorder.emit(e);
    }
    // Two minutes of pings: 0..60 s at 1 ms, 60..120 s at 3 ms, plus app pings.
    for s in 0..120 {
        let rtt = Duration::from_micros(if s < 60 { 1000 } else { 3000 });
        recorder.emit(ev(
            1,
            t(s),
            EventKind::Rtt {
                kind: PingKind::Protocol,
                rtt,
            },
        ));
    }
    recorder.emit(ev(
        1,
        t(5),
        EventKind::Rtt {
            kind: PingKind::App,
            rtt: Duration::from_millis(40),
        },
    ));
    // Attempts and heartbeats are not events in the table.
    recorder.emit(ev(1, t(59), EventKind::Connecting { attempt: 2 }));
    writer.shutdown().await.unwrap();
    assert_eq!(recorder.dropped(), 0);

    let stored = store.history(&[], t(-10), t(1000)).await.unwrap();
    assert_eq!(
        stored,
        story(),
        "history reads back exactly what was recorded"
    );
    let only_two = store
        .history(&[EndpointId(2)], t(0), t(1000))
        .await
        .unwrap();
    assert_eq!(only_two.len(), 4);

    let minutes: Vec<(i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT kind, minute, count, min_us, max_us, p50_us FROM rtt_minute WHERE endpoint_id = 1 ORDER BY kind, minute",
    )
    .fetch_all(store.reader())
    .await
    .unwrap();
    let m0 = t(0).0 / 60_000;
    assert_eq!(
        minutes,
        vec![
            (0, m0, 60, 1000, 1000, 1000),
            (0, m0 + 1, 60, 3000, 3000, 3000),
            (1, m0, 1, 40_000, 40_000, 40_000)
        ]
    );
    let (count, p50, p99): (i64, i64, i64) = sqlx::query_as(
        "SELECT count, p50_us, p99_us FROM rtt_hour WHERE endpoint_id = 1 AND kind = 0",
    )
    .fetch_one(store.reader())
    .await
    .unwrap();
    assert_eq!(count, 120, "both minutes merged into the hour");
    assert!(
        (960..=1040).contains(&p50) || (2900..=3100).contains(&p50),
        "{p50}"
    );
    assert!((2900..=3100).contains(&p99), "{p99}");
    let (day_count,): (i64,) =
        sqlx::query_as("SELECT count FROM rtt_day WHERE endpoint_id = 1 AND kind = 0")
            .fetch_one(store.reader())
            .await
            .unwrap();
    assert_eq!(day_count, 120);

    // How the session ended is kept once, in the closed event's row (read above).
    let session: (i64, Option<i64>, bool, bool, i64, i64) = sqlx::query_as(
        "SELECT started_at, tls_us, ended_at IS NOT NULL, \
         code IS NULL AND reason IS NULL AND initiator IS NULL AND cause IS NULL, messages_in, silent_ms \
         FROM sessions WHERE endpoint_id = 1",
    )
    .fetch_one(store.reader())
    .await
    .unwrap();
    assert_eq!(session, (t(0).0, Some(2500), true, true, 12, 59_000));
    // A close whose opening was not recorded still becomes a session, starting duration earlier.
    let (started, phases): (i64, Option<i64>) = sqlx::query_as(
        "SELECT started_at, dns_us FROM sessions WHERE endpoint_id = 2 AND ended_at = ?",
    )
    .bind(t(80).0)
    .fetch_one(store.reader())
    .await
    .unwrap();
    assert_eq!((started, phases), (t(75).0, None));

    let codes = store.close_codes(&[], t(0), t(1000)).await.unwrap();
    assert_eq!(
        codes,
        vec![
            // The refusal: the application's decision, whoever sent the close frame.
            (1000, "server".into(), 1),
            (1001, "client".into(), 1),
            (1006, "network".into(), 1),
            (4001, "server".into(), 1)
        ]
    );
}

/// The overview names each endpoint's last close by time; `closes_at` reads all of them back
/// in full in one statement, exactly as `history` does, and ignores keys with no close.
#[tokio::test]
async fn the_last_closes_the_overview_names_read_back_in_full_at_once() {
    let dir = TempDir::new("closes-at");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    for e in story() {
        recorder.emit(e);
    }
    writer.shutdown().await.unwrap();
    let history = store.history(&[], t(-10), t(1000)).await.unwrap();
    let mut last: std::collections::BTreeMap<u64, Event> = Default::default();
    for e in &history {
        if matches!(e.kind, EventKind::Closed { .. }) {
            last.insert(e.endpoint.0, e.clone());
        }
    }
    assert!(!last.is_empty(), "the story has closes");
    let ids: Vec<EndpointId> = last.keys().map(|id| EndpointId(*id)).collect();
    let overview = store.overview(&ids, t(1000)).await.unwrap();
    let mut keys: Vec<(EndpointId, Timestamp)> = overview
        .iter()
        .filter_map(|r| Some((r.endpoint, r.last_close.as_ref()?.0)))
        .collect();
    assert_eq!(
        keys.len(),
        last.len(),
        "every endpoint with a close has a last close"
    );
    // A key where nothing closed, and one of an endpoint that does not exist.
    let connected_at = history
        .iter()
        .find(|e| matches!(e.kind, EventKind::Connected { .. }))
        .map(|e| (e.endpoint, e.at))
        .unwrap();
    keys.push(connected_at);
    keys.push((EndpointId(999), t(5)));
    let read = store.closes_at(&keys).await.unwrap();
    assert_eq!(read, last.into_values().collect::<Vec<_>>());
    assert!(store.closes_at(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn uptime_counts_open_sessions_in_up_and_not_time_nobody_recorded() {
    let dir = TempDir::new("uptime");
    let store = Store::open(&dir.db()).await.unwrap();
    // The window ends before this test's own writer starts, so only the synthetic run below
    // counts as recorded time.
    let now = Timestamp::from_system(std::time::SystemTime::now());
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    let at = |s: i64| Timestamp(now.0 - 1_000_000 + s * 1000);
    recorder.emit(ev(
        1,
        at(0),
        EventKind::StateChanged {
            from: State::Connecting,
            to: State::Up,
        },
    ));
    recorder.emit(ev(
        1,
        at(0),
        EventKind::Connected {
            attempt: 1,
            handshake: handshake(),
        },
    ));
    recorder.emit(ev(
        1,
        at(600),
        EventKind::Closed {
            end: SessionEnd::Lost {
                error: "reset".into(),
            },
            stats: SessionStats {
                duration: Duration::from_secs(600),
                ..SessionStats::default()
            },
        },
    ));
    recorder.emit(ev(
        1,
        at(600),
        EventKind::StateChanged {
            from: State::Up,
            to: State::Down,
        },
    ));
    recorder.emit(ev(
        1,
        at(700),
        EventKind::StateChanged {
            from: State::Down,
            to: State::Up,
        },
    ));
    // A session whose end was never recorded (the agent was killed): open until the run
    // that saw it start stopped, not until the end of the window.
    recorder.emit(ev(
        1,
        at(700),
        EventKind::Connected {
            attempt: 1,
            handshake: handshake(),
        },
    ));
    writer.shutdown().await.unwrap();
    sqlx::query("INSERT INTO agent_runs (started_at, last_seen, stopped_at) VALUES (?, ?, ?)")
        .bind(at(0).0)
        .bind(at(900).0)
        .bind(at(900).0)
        .execute(
            &sqlx::SqlitePool::connect_with(
                sqlx::sqlite::SqliteConnectOptions::new().filename(dir.db()),
            )
            .await
            .unwrap(),
        )
        .await
        .unwrap();
    let u = store
        .availability(EndpointId(1), at(-100), at(1000))
        .await
        .unwrap();
    assert_eq!(u.up, Duration::from_secs(600 + 200));
    assert_eq!(u.down, Duration::from_secs(100));
    assert_eq!(
        u.unknown,
        Duration::from_secs(100 + 100),
        "before the run and after it stopped"
    );
    assert_eq!(u.uptime(), Some(800.0 / 900.0));
    assert_eq!(u.connected, Duration::from_secs(800));
    assert_eq!((u.sessions_ended, u.unexpected_ends), (1, 1));
    assert_eq!(
        u.current_session, None,
        "the run stopped before the window's end"
    );
    assert_eq!(
        store.state_at(EndpointId(1), at(650)).await.unwrap(),
        Some(State::Down)
    );
    assert_eq!(store.state_at(EndpointId(1), at(-1)).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_delays_writes_but_never_the_sessions() {
    let dir = TempDir::new("locked");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    // Another program takes an exclusive lock for a while.
    let mut other = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new().filename(dir.db()),
    )
    .await
    .unwrap();
    use sqlx::{Connection, Executor};
    other.execute("BEGIN EXCLUSIVE").await.unwrap();
    // The lock is held until after the loop: an emit that waited for the writer's commit would
    // never return (sessions would stall), and the test would not get past here.
    for i in 0..5000 {
        recorder.emit(ev(
            1,
            t(i),
            EventKind::Stale {
                silent: Duration::from_millis(1),
            },
        ));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    other.execute("COMMIT").await.unwrap();
    other.close().await.unwrap();
    writer.shutdown().await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(n, 5000, "nothing lost");
}

#[tokio::test]
async fn dashboard_queries_summarise_recent_history() {
    use heartline_store::{Resolution, SESSION_BUCKETS};
    let dir = TempDir::new("dashboard");
    let store = Store::open(&dir.db()).await.unwrap();
    // `now` is taken before this test's writer starts, so its own run lies after the window.
    let now = Timestamp::from_system(std::time::SystemTime::now());
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    let ago = |s: i64| Timestamp(now.0 - s * 1000);
    recorder.emit(ev(
        1,
        ago(600),
        EventKind::StateChanged {
            from: State::Connecting,
            to: State::Up,
        },
    ));
    recorder.emit(ev(
        1,
        ago(300),
        EventKind::StateChanged {
            from: State::Up,
            to: State::Down,
        },
    ));
    recorder.emit(ev(
        1,
        ago(240),
        EventKind::StateChanged {
            from: State::Down,
            to: State::Up,
        },
    ));
    recorder.emit(ev(
        2,
        ago(500),
        EventKind::StateChanged {
            from: State::Connecting,
            to: State::Up,
        },
    ));
    let closed = |secs: u64| EventKind::Closed {
        end: SessionEnd::Lost {
            error: "reset".into(),
        },
        stats: SessionStats {
            duration: Duration::from_secs(secs),
            ..SessionStats::default()
        },
    };
    recorder.emit(ev(
        1,
        ago(400),
        EventKind::Connected {
            attempt: 1,
            handshake: handshake(),
        },
    ));
    recorder.emit(ev(1, ago(300), closed(100)));
    recorder.emit(ev(
        1,
        ago(299),
        EventKind::ReconnectScheduled {
            attempt: 1,
            delay: Duration::from_millis(500),
            reason: RetryReason::Backoff,
        },
    ));
    recorder.emit(ev(
        1,
        ago(298),
        EventKind::HandshakeFailed(HandshakeFailure {
            phase: FailedPhase::Http {
                status: Some(503),
                retry_after: None,
            },
            error: "503".into(),
            elapsed: Duration::from_millis(2),
        }),
    ));
    recorder.emit(ev(
        1,
        ago(297),
        EventKind::ReconnectScheduled {
            attempt: 2,
            delay: Duration::from_millis(900),
            reason: RetryReason::TryAgainLater,
        },
    ));
    recorder.emit(ev(
        1,
        ago(240),
        EventKind::Connected {
            attempt: 2,
            handshake: handshake(),
        },
    ));
    recorder.emit(ev(1, ago(10), closed(230)));
    for s in 1..=50 {
        recorder.emit(ev(
            1,
            ago(s),
            EventKind::Rtt {
                kind: PingKind::Protocol,
                rtt: Duration::from_micros(800 + s.unsigned_abs() * 10),
            },
        ));
    }
    writer.shutdown().await.unwrap();

    let rows = store
        .overview(&[EndpointId(1), EndpointId(2), EndpointId(3)], now)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    let one = &rows[0];
    assert_eq!((one.state, one.since), (Some(State::Up), Some(ago(240))));
    assert_eq!(one.last_close, Some((ago(10), 1006, "network".to_owned())));
    let p50 = one.rtt_p50.unwrap();
    assert!(
        p50 >= Duration::from_micros(1000) && p50 <= Duration::from_micros(1120),
        "{p50:?}"
    );
    assert!(one.rtt_p95.unwrap() >= p50);
    // This test's writer started just now, after those states: nothing in the window is known.
    assert_eq!(one.uptime_24h, None);
    // An agent that ran through the window (overlapping this writer's run, counted once).
    sqlx::query("INSERT INTO agent_runs (started_at, last_seen, stopped_at) VALUES (?, ?, ?)")
        .bind(ago(700).0)
        .bind(now.0)
        .bind(now.0)
        .execute(
            &sqlx::SqlitePool::connect_with(
                sqlx::sqlite::SqliteConnectOptions::new().filename(dir.db()),
            )
            .await
            .unwrap(),
        )
        .await
        .unwrap();
    let rows = store.overview(&[EndpointId(1)], now).await.unwrap();
    // Watched from the first state on (600 s); sessions were open 100 s and 230 s of it,
    // both while Up: the 200 s Up before the first session opened are not uptime.
    assert_eq!(rows[0].uptime_24h, Some(330.0 / 600.0));
    let day = rows[0].last_24h.unwrap();
    assert_eq!(day.connected_share(), Some(330.0 / 600.0));
    assert_eq!(day.unexpected_ends, 2);
    assert_eq!(day.drops_per_hour(), Some(12.0));
    assert_eq!(day.median_session, Some(Duration::from_secs(165)));
    assert_eq!(day.last_session, Some(Duration::from_secs(230)));
    let rows = store
        .overview(&[EndpointId(1), EndpointId(2), EndpointId(3)], now)
        .await
        .unwrap();
    assert_eq!(rows[1].state, Some(State::Up));
    assert_eq!(
        (rows[2].state, rows[2].last_close.clone(), rows[2].rtt_p50),
        (None, None, None)
    );

    let (res, points) = store
        .rtt_series(EndpointId(1), PingKind::Protocol, ago(3600), now, 300)
        .await
        .unwrap();
    assert_eq!(res, Resolution::Minute);
    assert_eq!(points.iter().map(|p| p.count).sum::<u64>(), 50);
    let (res, points) = store
        .rtt_series(
            EndpointId(1),
            PingKind::Protocol,
            ago(30 * 86_400),
            now,
            1000,
        )
        .await
        .unwrap();
    assert_eq!(
        (res, points.iter().map(|p| p.count).sum::<u64>()),
        (Resolution::Hour, 50)
    );
    let (res, _) = store
        .rtt_series(
            EndpointId(1),
            PingKind::Protocol,
            ago(2 * 365 * 86_400),
            now,
            1000,
        )
        .await
        .unwrap();
    assert_eq!(res, Resolution::Day);

    let lengths = store
        .session_lengths(EndpointId(1), ago(3600), now)
        .await
        .unwrap();
    assert_eq!(lengths.len(), SESSION_BUCKETS.len() + 1);
    let at = |secs: u64| SESSION_BUCKETS.iter().position(|&b| secs <= b).unwrap();
    assert_eq!(
        (
            lengths[at(100)],
            lengths[at(230)],
            lengths.iter().sum::<u64>()
        ),
        (1, 1, 2)
    );

    let reconnects = store
        .reconnects(EndpointId(1), ago(3600), now, 10)
        .await
        .unwrap();
    let outcomes: Vec<(u32, RetryReason, Option<&str>)> = reconnects
        .iter()
        .map(|r| (r.attempt, r.reason, r.outcome.as_deref()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (1, RetryReason::Backoff, Some("http 503")),
            (2, RetryReason::TryAgainLater, Some("connected"))
        ]
    );
}

#[tokio::test]
async fn incidents_are_recorded_live_and_survive_a_restart() {
    use heartline_core::IncidentKind;
    let dir = TempDir::new("incidents");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    recorder.emit(ev(
        1,
        t(0),
        EventKind::StateChanged {
            from: State::Connecting,
            to: State::Up,
        },
    ));
    for s in 1..=10 {
        recorder.emit(ev(
            1,
            t(s),
            EventKind::Rtt {
                kind: PingKind::Protocol,
                rtt: Duration::from_millis(20),
            },
        ));
    }
    recorder.emit(ev(
        1,
        t(30),
        EventKind::Closed {
            end: SessionEnd::Lost {
                error: "reset".into(),
            },
            stats: SessionStats::default(),
        },
    ));
    recorder.emit(ev(
        1,
        t(30),
        EventKind::ReconnectScheduled {
            attempt: 1,
            delay: Duration::from_millis(500),
            reason: RetryReason::Backoff,
        },
    ));
    recorder.emit(ev(
        1,
        t(31),
        EventKind::HandshakeFailed(HandshakeFailure {
            phase: FailedPhase::Tcp,
            error: "refused".into(),
            elapsed: Duration::from_millis(1),
        }),
    ));
    recorder.emit(ev(
        1,
        t(31),
        EventKind::StateChanged {
            from: State::Up,
            to: State::Down,
        },
    ));
    writer.shutdown().await.unwrap();

    let open = store.incidents(&[], t(0), t(100)).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].kind, open[0].started, open[0].ended),
        (IncidentKind::Down, t(31), None)
    );
    assert_eq!(
        open[0].time_to_detect,
        Duration::from_secs(1),
        "first sign of trouble at 30 s"
    );

    // A new run picks the open incident up and closes it on recovery.
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    recorder.emit(ev(
        1,
        t(90),
        EventKind::StateChanged {
            from: State::Down,
            to: State::Up,
        },
    ));
    writer.shutdown().await.unwrap();
    let closed = store
        .incidents(&[EndpointId(1)], t(0), t(100))
        .await
        .unwrap();
    assert_eq!(closed.len(), 1);
    let i = &closed[0];
    assert_eq!(
        (i.started, i.ended, i.ended_by_pause),
        (t(31), Some(t(90)), false)
    );
    assert_eq!(i.close_codes, vec![(1006, 1)]);
    assert_eq!(i.handshake_failures, vec![("tcp".to_owned(), None, 1)]);
    assert_eq!(
        (i.reconnect_attempts, i.rtt_before),
        (1, Some(Duration::from_millis(20)))
    );
    assert!(
        store
            .incidents(&[], t(200), t(300))
            .await
            .unwrap()
            .is_empty(),
        "outside the window"
    );
}

#[tokio::test]
async fn endpoints_keep_config_in_the_database_and_secrets_outside_it() {
    use heartline_core::{Endpoint, Header};
    use heartline_store::Secrets;
    let dir = TempDir::new("endpoints");
    let store = Store::open(&dir.db()).await.unwrap();
    let secrets = Secrets::File(dir.0.join("secrets.json"));
    let mut feed = Endpoint::new("feed", "wss://feed.example.com/ws");
    feed.headers = vec![
        Header::new("Authorization", "Bearer TOP-SECRET"),
        Header::new("X-Client", "heartline"),
    ];
    feed.tags = vec!["prod".into()];
    let id = store.add_endpoint(&feed, &secrets).await.unwrap();

    let all = store.endpoints(&secrets).await.unwrap();
    assert_eq!(all.len(), 1);
    // The file format lists plain headers before secret ones; order carries no meaning.
    let sorted = |e: &Endpoint| {
        let mut e = e.clone();
        e.headers.sort_by(|a, b| a.name.cmp(&b.name));
        e
    };
    assert_eq!(
        (all[0].id, sorted(&all[0].endpoint), all[0].paused),
        (id, sorted(&feed), false)
    );
    assert!(all[0].missing_secrets.is_empty());
    // The secret is not in the database file.
    let raw = std::fs::read(dir.db()).unwrap();
    let wal = std::fs::read(dir.0.join("heartline.db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        assert!(
            !bytes.windows(10).any(|w| w == b"TOP-SECRET"),
            "secret found in the database files"
        );
    }

    let err = store
        .add_endpoint(&Endpoint::new("feed", "ws://other/"), &secrets)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already exists"), "{err}");

    // Updating with an empty secret keeps the stored one.
    let mut edited = feed.clone();
    edited.headers[0].value = String::new();
    edited.url = "wss://feed.example.com/v2".into();
    store.update_endpoint(id, &edited, &secrets).await.unwrap();
    let after = &store.endpoints(&secrets).await.unwrap()[0];
    assert_eq!(
        (
            after.endpoint.url.as_str(),
            after
                .endpoint
                .headers
                .iter()
                .find(|h| h.name == "Authorization")
                .unwrap()
                .value
                .as_str()
        ),
        ("wss://feed.example.com/v2", "Bearer TOP-SECRET")
    );

    store.set_paused(id, true).await.unwrap();
    assert!(store.endpoints(&secrets).await.unwrap()[0].paused);

    // An import where one endpoint is invalid changes nothing.
    let bad = vec![
        Endpoint::new("new-one", "ws://a/"),
        Endpoint::new("broken", "http://b/"),
    ];
    assert!(store.import_endpoints(&bad, &secrets).await.is_err());
    assert_eq!(store.endpoints(&secrets).await.unwrap().len(), 1);
    let good = vec![
        Endpoint::new("new-one", "ws://a/"),
        Endpoint::new("feed", "wss://feed.example.com/v3"),
    ];
    let report = store.import_endpoints(&good, &secrets).await.unwrap();
    assert_eq!(
        (report.added, report.updated),
        (vec!["new-one".to_owned()], vec!["feed".to_owned()])
    );

    // A secret the store lost is reported, not invented.
    secrets
        .delete(&heartline_store::header_key(id, "Authorization"))
        .unwrap();
    let mut with_secret = feed.clone();
    with_secret.headers[0].value = String::new();
    store
        .update_endpoint(id, &with_secret, &secrets)
        .await
        .unwrap();
    let lost = store
        .endpoints(&secrets)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.id == id)
        .unwrap();
    assert_eq!(lost.missing_secrets, vec!["Authorization".to_owned()]);

    store.remove_endpoint(id, &secrets).await.unwrap();
    assert_eq!(store.endpoints(&secrets).await.unwrap().len(), 1);
    assert!(store.remove_endpoint(id, &secrets).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_holds_writes_reports_it_and_resumes_when_space_returns() {
    let dir = TempDir::new("full");
    let store = Store::open(&dir.db()).await.unwrap();
    let size = std::fs::metadata(dir.db()).unwrap().len();
    // Room for little more than the schema: the next batches do not fit.
    let options = RecorderOptions {
        max_size: Some(size + 8 * 4096),
        ..fast_options()
    };
    let (recorder, writer) = store.record(options).await.unwrap();
    let reason = "x".repeat(200);
    // Emitting never waits on the disk: the disk stays full until this test frees it below, so
    // an emit that waited for a commit would never return and the test would not get past here.
    for i in 0..3000 {
        recorder.emit(ev(
            1,
            t(i),
            EventKind::GaveUp {
                reason: reason.clone(),
            },
        ));
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    let error = loop {
        if let Some(e) = writer.health().last_error() {
            break e;
        }
        assert!(Instant::now() < deadline, "no error reported");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(error.contains("full"), "{error}");
    assert!(
        writer.health().pending() > 0,
        "the batch is held, not dropped"
    );

    // Space comes back: the held batch is written and the error clears.
    writer.set_max_size(None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.health().last_error().is_some() || writer.health().pending() > 0 {
        assert!(
            Instant::now() < deadline,
            "writes did not resume: {:?}",
            writer.health().last_error()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    writer.shutdown().await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(n, 3000, "nothing lost");
    assert_eq!(recorder.dropped(), 0);
}

/// A read-write pool on the file, for tests that lay out rows directly.
async fn raw(path: &Path) -> sqlx::SqlitePool {
    sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(path))
        .await
        .unwrap()
}

#[tokio::test]
async fn connected_and_closed_events_are_read_back_from_their_session_row() {
    let dir = TempDir::new("sessionjoin");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    let mut odd = handshake();
    // Names that ", " joining could not give back: the event keeps its own copy.
    odd.extensions = vec!["x-a, b".into(), "".into()];
    let events = vec![
        ev(
            3,
            t(0),
            EventKind::Connected {
                attempt: 1,
                handshake: handshake(),
            },
        ),
        // Measured length differs from the time between the two events.
        ev(
            3,
            t(10),
            EventKind::Closed {
                end: SessionEnd::ClosedByServer {
                    code: 1012,
                    reason: "restart".into(),
                },
                stats: SessionStats {
                    duration: Duration::from_millis(9_750),
                    silent_for: Duration::from_millis(20),
                    messages_in: 5,
                    bytes_in: 50,
                    messages_out: 6,
                    bytes_out: 60,
                },
            },
        ),
        ev(
            3,
            t(11),
            EventKind::Connected {
                attempt: 2,
                handshake: odd,
            },
        ),
        ev(
            3,
            t(20),
            EventKind::Closed {
                end: SessionEnd::Lost {
                    error: "reset".into(),
                },
                stats: SessionStats {
                    duration: Duration::from_millis(9_000),
                    ..SessionStats::default()
                },
            },
        ),
    ];
    for e in &events {
        recorder.emit(e.clone());
    }
    writer.shutdown().await.unwrap();
    assert_eq!(store.history(&[], t(-1), t(100)).await.unwrap(), events);
    // Only what the session row cannot give back is kept in `detail`.
    let details: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT kind, detail FROM events ORDER BY ts")
            .fetch_all(store.reader())
            .await
            .unwrap();
    assert_eq!(details[0], ("connected".into(), None));
    assert_eq!(
        details[1],
        ("closed".into(), Some(r#"{"session_ms":9750}"#.into()))
    );
    assert!(details[2].1.as_deref().unwrap().contains("x-a, b"));
    assert_eq!(details[3], ("closed".into(), None));
}

#[tokio::test]
async fn retention_deletes_by_range_and_drops_old_histograms() {
    let dir = TempDir::new("retention");
    let store = Store::open(&dir.db()).await.unwrap();
    let now = t(400 * 86_400);
    let pool = raw(&dir.db()).await;
    let minute_now = now.0 / 60_000;
    let hour_now = now.0 / 3_600_000;
    let day_now = now.0 / 86_400_000;
    // Two endpoints × two kinds: 3 weeks of minutes (more than one delete chunk each),
    // 400 days of hours and days, each row with a histogram.
    for e in [1, 7] {
        for k in [0, 1] {
            for (table, column, from, to) in [
                ("rtt_minute", "minute", minute_now - 21 * 1440, minute_now),
                ("rtt_hour", "hour", hour_now - 400 * 24, hour_now),
                ("rtt_day", "day", day_now - 400, day_now),
            ] {
                let hist = if table == "rtt_minute" {
                    ""
                } else {
                    ", histogram"
                };
                let value = if table == "rtt_minute" {
                    ""
                } else {
                    ", x'0101'"
                };
                sqlx::query(&format!(
                    "WITH RECURSIVE g(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM g WHERE x + 1 < ?) \
                     INSERT INTO {table} (endpoint_id, kind, {column}, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us{hist}) \
                     SELECT {e}, {k}, x, 1, 1, 1, 1, 1, 1, 1{value} FROM g"
                ))
                .bind(from)
                .bind(to)
                .execute(&pool)
                .await
                .unwrap();
            }
        }
    }
    pool.close().await;

    let report = store
        .apply_retention(&heartline_store::Retention::default(), now)
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let reader = store.reader().clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&reader)
                .await
                .unwrap()
        }
    };
    // 7 days of minutes, 365 of hours, everything of the 400 days (5-year retention); minutes
    // older than two hours and hours without their histogram are packed (whole days here).
    assert_eq!(count("SELECT count(*) FROM rtt_minute").await, 4 * 120);
    assert_eq!(
        count("SELECT count(*) FROM rtt_minute_packed").await,
        4 * (7 * 1440 - 120) / 30
    );
    for (e, k) in [(1, PingKind::Protocol), (7, PingKind::App)] {
        let week = store
            .rtt_series(
                EndpointId(e),
                k,
                Timestamp(now.0 - 7 * 86_400_000),
                now,
                7 * 1440,
            )
            .await
            .unwrap()
            .1;
        assert_eq!(week.len(), 7 * 1440);
        assert!(week
            .iter()
            .all(|p| p.count == 1 && p.p99 == Duration::from_micros(1)));
    }
    assert_eq!(count("SELECT count(*) FROM rtt_hour").await, 4 * 31 * 24);
    assert_eq!(count("SELECT count(*) FROM rtt_day").await, 4 * 400);
    // Histograms: hours and days of the last 31 days.
    assert_eq!(
        count("SELECT count(*) FROM rtt_hour WHERE length(histogram) > 0").await,
        4 * 31 * 24
    );
    assert_eq!(
        count("SELECT min(hour) FROM rtt_hour WHERE length(histogram) > 0").await,
        hour_now - 31 * 24
    );
    assert_eq!(
        count("SELECT count(*) FROM rtt_day WHERE length(histogram) > 0").await,
        4 * 31
    );
    assert_eq!(
        count("SELECT count(*) FROM rtt_hour_packed").await,
        4 * (365 - 31),
        "old hour rows keep their summary, a day to a row"
    );
    let old_hours = store
        .rtt_series(
            EndpointId(7),
            PingKind::Protocol,
            Timestamp(now.0 - 300 * 86_400_000),
            Timestamp(now.0 - 290 * 86_400_000),
            600,
        )
        .await
        .unwrap()
        .1;
    assert_eq!(old_hours.len(), 240);
    assert!(old_hours
        .iter()
        .all(|p| p.count == 1 && p.p99 == Duration::from_micros(1)));
    assert_eq!(report.histograms_dropped, 4 * ((365 - 31) * 24 + 400 - 31));
    assert!(
        report.deleted.contains(&("rtt_minute", 4 * 14 * 1440)),
        "{report:?}"
    );
    assert_eq!(
        count("PRAGMA freelist_count").await,
        0,
        "free pages given back"
    );

    // An hour later only what aged in that hour is touched.
    let later = Timestamp(now.0 + 3_600_000);
    let report = store
        .apply_retention(&heartline_store::Retention::default(), later)
        .await
        .unwrap();
    assert_eq!(report.histograms_dropped, 4, "{report:?}");
    assert_eq!(
        count("SELECT count(*) FROM rtt_hour WHERE length(histogram) > 0").await,
        4 * (31 * 24 - 1)
    );
}

#[tokio::test]
async fn sessions_outlive_a_shorter_session_retention_while_their_events_are_kept() {
    let dir = TempDir::new("retention-sessions");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    let events = vec![
        ev(
            4,
            t(0),
            EventKind::Connected {
                attempt: 1,
                handshake: handshake(),
            },
        ),
        ev(
            4,
            t(5),
            EventKind::Closed {
                end: SessionEnd::ClosedByServer {
                    code: 1000,
                    reason: String::new(),
                },
                stats: SessionStats {
                    duration: Duration::from_millis(5_000),
                    ..SessionStats::default()
                },
            },
        ),
    ];
    for e in &events {
        recorder.emit(e.clone());
    }
    writer.shutdown().await.unwrap();
    let retention = heartline_store::Retention {
        sessions: Duration::from_secs(86_400),
        ..heartline_store::Retention::default()
    };
    store
        .apply_retention(&retention, t(30 * 86_400))
        .await
        .unwrap();
    assert_eq!(store.history(&[], t(-1), t(100)).await.unwrap(), events);
    // Once the events go, so do the sessions.
    let short = heartline_store::Retention {
        events: Duration::from_secs(86_400),
        ..retention
    };
    let report = store.apply_retention(&short, t(30 * 86_400)).await.unwrap();
    assert!(report.deleted.contains(&("sessions", 1)), "{report:?}");
    assert!(report.deleted.contains(&("events", 2)), "{report:?}");
}

#[tokio::test]
async fn a_large_file_opens_before_its_full_check_and_damage_found_later_stops_writes() {
    let dir = TempDir::new("bigcorrupt");
    let path = dir.db();
    {
        let store = Store::open(&path).await.unwrap();
        let pool = raw(&path).await;
        // About 40 MiB of events: over the size checked in full before opening.
        sqlx::query(
            "WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < 100000) \
             INSERT INTO events (endpoint_id, ts, seq, kind, reason) SELECT 1, x, x, 'gave_up', printf('%.400c', 'r') FROM g",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        store.close().await;
    }
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 36 << 20, "{} bytes", bytes.len());
    // Damage deep inside the events table; the small tables and the schema stay intact.
    let middle = bytes.len() / 2 / 4096 * 4096;
    for b in &mut bytes[middle..middle + 64 * 1024] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let before = file_digest(&path);

    let store = Store::open(&path)
        .await
        .expect("opens without the full check");
    let found = store.wait_integrity().await;
    assert!(
        matches!(found, heartline_store::Integrity::Damaged(_)),
        "{found:?}"
    );
    let err = store.record(fast_options()).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(matches!(
        store.check_integrity().await,
        Err(Error::Corrupt { .. })
    ));
    store.close().await;
    assert_eq!(file_digest(&path), before, "nothing was written to it");
}

#[tokio::test]
async fn the_writer_applies_retention_a_slice_at_a_time() {
    let dir = TempDir::new("writer-retention");
    let store = Store::open(&dir.db()).await.unwrap();
    let pool = raw(&dir.db()).await;
    // Minute rows from long ago (5 000 per endpoint: more than one delete chunk) and one
    // from now, for 3 endpoints.
    let now_minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        / 60;
    for e in 1..=3 {
        sqlx::query(
            "WITH RECURSIVE g(x) AS (SELECT 1000 UNION ALL SELECT x + 1 FROM g WHERE x < 5999) \
             INSERT INTO rtt_minute (endpoint_id, kind, minute, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us) \
             SELECT ?, 0, x, 1, 1, 1, 1, 1, 1, 1 FROM g",
        )
        .bind(e)
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO rtt_minute (endpoint_id, kind, minute, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us) \
             VALUES (?, 0, ?, 1, 1, 1, 1, 1, 1, 1)",
        )
        .bind(e)
        .bind(now_minute)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    let (_recorder, writer) = store
        .record(RecorderOptions {
            retention_every: Duration::from_millis(100),
            ..fast_options()
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM rtt_minute")
            .fetch_one(store.reader())
            .await
            .unwrap();
        if left == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "{left} rows still there");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    writer.shutdown().await.unwrap();
}

#[tokio::test]
async fn events_written_before_the_session_join_still_read_back() {
    let dir = TempDir::new("old-events");
    let store = Store::open(&dir.db()).await.unwrap();
    let pool = raw(&dir.db()).await;
    // Rows as the first schema version wrote them: everything in `detail`, no session rows.
    sqlx::query(
        "INSERT INTO events (endpoint_id, ts, seq, kind, attempt, detail) VALUES (5, ?, 1, 'connected', 2, ?)",
    )
    .bind(t(0).0)
    .bind(
        r#"{"peer":"127.0.0.1:9443","dns_us":1200,"tcp_us":300,"tls_us":2500,"upgrade_us":900,"subprotocol":"json","extensions":["permessage-deflate"]}"#,
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO events (endpoint_id, ts, seq, kind, code, reason, initiator, detail) VALUES (5, ?, 2, 'closed', 4001, 'kicked', 'server', ?)",
    )
    .bind(t(5).0)
    .bind(
        r#"{"clean":true,"session_ms":5000,"silent_ms":10,"messages_in":1,"bytes_in":2,"messages_out":3,"bytes_out":4}"#,
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let history = store.history(&[], t(-1), t(10)).await.unwrap();
    assert_eq!(
        history,
        vec![
            ev(
                5,
                t(0),
                EventKind::Connected {
                    attempt: 2,
                    handshake: handshake(),
                },
            ),
            ev(
                5,
                t(5),
                EventKind::Closed {
                    end: SessionEnd::ClosedByServer {
                        code: 4001,
                        reason: "kicked".into(),
                    },
                    stats: SessionStats {
                        duration: Duration::from_millis(5000),
                        silent_for: Duration::from_millis(10),
                        messages_in: 1,
                        bytes_in: 2,
                        messages_out: 3,
                        bytes_out: 4,
                    },
                },
            ),
        ]
    );
}

#[tokio::test]
async fn a_bounded_incident_list_is_the_newest_first_with_the_total() {
    use heartline_core::IncidentKind;
    let dir = TempDir::new("recent-incidents");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    let state = |ep, s, from, to| ev(ep, t(s), EventKind::StateChanged { from, to });
    // Endpoint 1 goes down at 10 s and 40 s (recovering each time), 2 at 20 s (recovers),
    // 3 at 50 s and stays down; one more of 1 ended before the window.
    for e in [
        state(1, 0, State::Connecting, State::Up),
        state(2, 0, State::Connecting, State::Up),
        state(3, 0, State::Connecting, State::Up),
        state(1, 2, State::Up, State::Down),
        state(1, 4, State::Down, State::Up),
        state(1, 10, State::Up, State::Down),
        state(1, 15, State::Down, State::Up),
        state(2, 20, State::Up, State::Down),
        state(2, 25, State::Down, State::Up),
        state(1, 40, State::Up, State::Down),
        state(1, 45, State::Down, State::Up),
        state(3, 50, State::Up, State::Down),
    ] {
        recorder.emit(e);
    }
    writer.shutdown().await.unwrap();

    // Endpoint 1's outage at 2 s came back at 10 s and 40 s, each time within the quiet
    // period: one incident of three episodes, which reaches into the window.
    let all = store.incidents(&[], t(5), t(100)).await.unwrap();
    assert_eq!(all.len(), 3);
    let (newest, total) = store.recent_incidents(t(5), t(100), 2).await.unwrap();
    assert_eq!(total, 3);
    let starts: Vec<_> = newest
        .iter()
        .map(|i| (i.endpoint, i.started, i.ended, i.kind, i.episodes))
        .collect();
    assert_eq!(
        starts,
        vec![
            (EndpointId(3), t(50), None, IncidentKind::Down, 1),
            (EndpointId(2), t(20), Some(t(25)), IncidentKind::Down, 1),
        ]
    );
    let (every, total) = store.recent_incidents(t(5), t(100), 100).await.unwrap();
    assert_eq!((every.len(), total), (3, 3));
    assert_eq!(
        every
            .iter()
            .map(|i| (i.started, i.ended, i.episodes))
            .collect::<Vec<_>>(),
        vec![
            (t(50), None, 1),
            (t(20), Some(t(25)), 1),
            (t(2), Some(t(45)), 3)
        ]
    );
}

/// Varied rollup rows: `count` 60 per minute (3600 per hour), values that differ per bucket.
async fn lay_out_rollups(
    pool: &sqlx::SqlitePool,
    e: i64,
    table: &str,
    column: &str,
    from: i64,
    to: i64,
) {
    let hist = if table == "rtt_minute" {
        ""
    } else {
        ", histogram"
    };
    let value = if table == "rtt_minute" {
        ""
    } else {
        ", x'8a0105'"
    };
    let n = if table == "rtt_minute" { 60 } else { 3600 };
    sqlx::query(&format!(
        "WITH RECURSIVE g(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM g WHERE x + 1 < ?) \
         INSERT INTO {table} (endpoint_id, kind, {column}, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us{hist}) \
         SELECT {e}, 0, x, {n} + x % 7, 8000 + x % 13, 90000 + x % 1000, ({n} + x % 7) * (9500 + x % 17), \
           9000 + x % 11, 14000 + x % 300, 30000 + x % 900{value} FROM g"
    ))
    .bind(from)
    .bind(to)
    .execute(pool)
    .await
    .unwrap();
}

/// Old minute and hour rows are packed by retention, and every window reads the same points
/// before and after, whichever side of the packing boundaries it lies.
#[tokio::test]
async fn packed_rollups_read_back_the_same_points_across_the_boundaries() {
    let dir = TempDir::new("packing");
    let store = Store::open(&dir.db()).await.unwrap();
    let now = t(400 * 86_400 + 1234);
    let pool = raw(&dir.db()).await;
    let minute_now = now.0 / 60_000;
    let hour_now = now.0 / 3_600_000;
    for e in [1, 4] {
        lay_out_rollups(
            &pool,
            e,
            "rtt_minute",
            "minute",
            minute_now - 8 * 1440,
            minute_now,
        )
        .await;
        lay_out_rollups(&pool, e, "rtt_hour", "hour", hour_now - 400 * 24, hour_now).await;
    }
    // Hour rows already without histograms up to 31 days, as an earlier run left them.
    sqlx::query("UPDATE rtt_hour SET histogram = x'' WHERE hour < ?")
        .bind(hour_now - 31 * 24)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let h = |hours: i64| Timestamp(now.0 - hours * 3_600_000);
    let windows = [
        // Minutes around the 2-hour boundary, a whole day of minutes, minutes a week ago.
        (h(4), h(0), 600),
        (h(24), h(0), 1440),
        (h(7 * 24 - 3), h(7 * 24 - 9), 600),
        // Hours across the 31-day boundary, hours 200 days ago, a year of days.
        (h(34 * 24), h(27 * 24), 600),
        (h(200 * 24), h(190 * 24), 600),
        (h(20 * 24), h(0), 600),
    ];
    let mut before = Vec::new();
    for &(from, to, points) in &windows {
        let (from, to) = (from.min(to), from.max(to));
        before.push(
            store
                .rtt_series(EndpointId(4), PingKind::Protocol, from, to, points)
                .await
                .unwrap(),
        );
    }
    let totals_before = store
        .export_rtt(
            heartline_store::Scope::All,
            PingKind::Protocol,
            h(34 * 24),
            h(27 * 24),
            600,
        )
        .await
        .unwrap();
    let report = store
        .apply_retention(&heartline_store::Retention::default(), now)
        .await
        .unwrap();
    assert!(report.packed > 0, "{report:?}");
    let count = |sql: String| {
        let reader = store.reader().clone();
        async move {
            sqlx::query_scalar::<_, i64>(&sql)
                .fetch_one(&reader)
                .await
                .unwrap()
        }
    };
    // Plain minute rows: from two hours ago rounded down to a half hour; plain hour rows: the
    // 31 days with histograms (the current hour included).
    let plain_from = (minute_now - 120).div_euclid(30) * 30;
    assert_eq!(
        count("SELECT min(minute) FROM rtt_minute WHERE endpoint_id = 4".into()).await,
        plain_from
    );
    assert_eq!(
        count("SELECT count(*) FROM rtt_hour WHERE endpoint_id = 4".into()).await,
        hour_now - (hour_now - 31 * 24).div_euclid(24) * 24
    );
    assert_eq!(
        count("SELECT count(*) FROM rtt_hour WHERE length(histogram) = 0".into()).await,
        2 * ((hour_now - 31 * 24) % 24)
    );
    // Packed rows hold whole groups: 30 minutes, 24 hours.
    assert_eq!(
        count("SELECT count(*) FROM rtt_minute_packed WHERE start % 30 != 0".into()).await,
        0
    );
    assert_eq!(
        count("SELECT count(*) FROM rtt_hour_packed WHERE start % 24 != 0".into()).await,
        0
    );
    assert!(count("SELECT max(length(points)) FROM rtt_hour_packed".into()).await < 1000);

    for (&(from, to, points), expected) in windows.iter().zip(&before) {
        let (from, to) = (from.min(to), from.max(to));
        let got = store
            .rtt_series(EndpointId(4), PingKind::Protocol, from, to, points)
            .await
            .unwrap();
        assert_eq!(&got, expected, "{from:?}..{to:?}");
        assert!(!got.1.is_empty());
    }
    let totals_after = store
        .export_rtt(
            heartline_store::Scope::All,
            PingKind::Protocol,
            h(34 * 24),
            h(27 * 24),
            600,
        )
        .await
        .unwrap();
    assert_eq!(totals_after, totals_before);

    // A minute written again for a packed half hour (a restart) merges with the packed one.
    let pool = raw(&dir.db()).await;
    let old_minute = minute_now - 3 * 1440;
    sqlx::query("INSERT INTO rtt_minute (endpoint_id, kind, minute, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us) VALUES (4, 0, ?, 1, 7000, 7000, 7000, 7000, 7000, 7000)")
        .bind(old_minute)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let at = Timestamp(old_minute * 60_000);
    let one = |store: &Store| {
        let store = store.clone();
        async move {
            store
                .rtt_series(
                    EndpointId(4),
                    PingKind::Protocol,
                    at,
                    Timestamp(at.0 + 60_000),
                    10,
                )
                .await
                .unwrap()
                .1
        }
    };
    let merged = one(&store).await;
    assert_eq!(merged.len(), 1);
    let expected_count = 60 + old_minute % 7 + 1;
    assert_eq!(merged[0].count, u64::try_from(expected_count).unwrap());
    assert_eq!(merged[0].min, Duration::from_micros(7000));
    store
        .apply_retention(&heartline_store::Retention::default(), now)
        .await
        .unwrap();
    assert_eq!(one(&store).await, merged, "packed again into the same row");
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM rtt_minute WHERE minute = {old_minute}"
        ))
        .await,
        0
    );

    // Past the retention of each, packed rows go like plain ones: minutes after 7 days, hours
    // after 365.
    let later = Timestamp(now.0 + 30 * 86_400_000);
    store
        .apply_retention(&heartline_store::Retention::default(), later)
        .await
        .unwrap();
    assert_eq!(
        count("SELECT count(*) FROM rtt_minute_packed".into()).await,
        0
    );
    assert_eq!(count("SELECT count(*) FROM rtt_minute".into()).await, 0);
    let later_hour = later.0 / 3_600_000;
    assert!(
        count("SELECT min(start) FROM rtt_hour_packed".into()).await >= later_hour - 365 * 24 - 23
    );
    assert!(count("SELECT min(start) FROM rtt_hour_packed".into()).await <= later_hour - 365 * 24);
}

/// Events are written denser (one-letter kinds, a handshake's elapsed time as a column, no
/// cause for a backoff) and read back exactly; rows of the older form read the same.
#[tokio::test]
async fn dense_event_rows_and_rows_of_the_older_form_read_the_same() {
    let dir = TempDir::new("dense-events");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    let events: Vec<Event> = story()
        .into_iter()
        .filter(|e| !matches!(e.kind, EventKind::StateChanged { .. }))
        .collect();
    for e in &events {
        recorder.emit(e.clone());
    }
    writer.shutdown().await.unwrap();
    type Stored = (String, Option<String>, Option<i64>, Option<String>);
    let stored: Vec<Stored> =
        sqlx::query_as("SELECT kind, cause, delay_ms, detail FROM events WHERE kind NOT IN ('connected', 'closed') ORDER BY ts, seq")
            .fetch_all(store.reader())
            .await
            .unwrap();
    assert_eq!(
        stored,
        vec![
            ("p".into(), None, None, None),
            (
                "s".into(),
                None,
                None,
                Some(r#"{"silent_ms":31000}"#.into())
            ),
            ("r".into(), None, Some(400), None),
            (
                "h".into(),
                None,
                Some(3),
                Some(r#"{"retry_after_ms":7000}"#.into())
            ),
            ("h".into(), None, Some(10_000), None),
            ("g".into(), None, None, None),
            // A missed server heartbeat (its kind, `server`, is in the phase column).
            ("p".into(), None, None, None),
        ]
    );
    let phase: String = sqlx::query_scalar("SELECT phase FROM events WHERE ts = ?")
        .bind(t(62).0)
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(phase, "timeout:tls");
    assert_eq!(store.history(&[], t(-1), t(100)).await.unwrap(), events);

    // The same events as the previous version wrote them, for another endpoint.
    let pool = raw(&dir.db()).await;
    for (ts, seq, kind, phase, status, cause, reason, attempt, delay, detail) in [
        (
            t(200),
            1,
            "reconnect_scheduled",
            None,
            None,
            Some("backoff"),
            None,
            Some(3),
            Some(1500),
            None,
        ),
        (
            t(201),
            2,
            "reconnect_scheduled",
            None,
            None,
            Some("service_restart"),
            None,
            Some(1),
            Some(20),
            None,
        ),
        (
            t(202),
            3,
            "handshake_failed",
            Some("http"),
            Some(503),
            None,
            Some("503 Service Unavailable"),
            None,
            None,
            Some(r#"{"elapsed_ms":3,"retry_after_ms":7000}"#),
        ),
        (
            t(203),
            4,
            "handshake_failed",
            Some("tcp"),
            None,
            None,
            Some("refused"),
            None,
            None,
            Some(r#"{"elapsed_ms":12}"#),
        ),
        (
            t(203),
            6,
            "handshake_failed",
            Some("timeout"),
            None,
            None,
            Some("slow"),
            None,
            None,
            Some(r#"{"elapsed_ms":10000,"during":"dns"}"#),
        ),
        (
            t(204),
            5,
            "pong_missed",
            Some("app"),
            None,
            None,
            None,
            Some(2),
            None,
            None,
        ),
    ] {
        sqlx::query(
            "INSERT INTO events (endpoint_id, ts, seq, kind, phase, status, cause, reason, attempt, delay_ms, detail) \
             VALUES (9, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(ts.0)
        .bind(seq)
        .bind(kind)
        .bind(phase)
        .bind(status)
        .bind(cause)
        .bind(reason)
        .bind(attempt)
        .bind(delay)
        .bind(detail)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;
    assert_eq!(
        store
            .history(&[EndpointId(9)], t(199), t(300))
            .await
            .unwrap(),
        vec![
            ev(
                9,
                t(200),
                EventKind::ReconnectScheduled {
                    attempt: 3,
                    delay: Duration::from_millis(1500),
                    reason: RetryReason::Backoff
                }
            ),
            ev(
                9,
                t(201),
                EventKind::ReconnectScheduled {
                    attempt: 1,
                    delay: Duration::from_millis(20),
                    reason: RetryReason::ServiceRestart
                }
            ),
            ev(
                9,
                t(202),
                EventKind::HandshakeFailed(HandshakeFailure {
                    phase: FailedPhase::Http {
                        status: Some(503),
                        retry_after: Some(Duration::from_secs(7))
                    },
                    error: "503 Service Unavailable".into(),
                    elapsed: Duration::from_millis(3),
                })
            ),
            ev(
                9,
                t(203),
                EventKind::HandshakeFailed(HandshakeFailure {
                    phase: FailedPhase::Tcp,
                    error: "refused".into(),
                    elapsed: Duration::from_millis(12),
                })
            ),
            ev(
                9,
                t(203),
                EventKind::HandshakeFailed(HandshakeFailure {
                    phase: FailedPhase::Timeout { during: Phase::Dns },
                    error: "slow".into(),
                    elapsed: Duration::from_millis(10_000),
                })
            ),
            ev(
                9,
                t(204),
                EventKind::PongMissed {
                    kind: PingKind::App,
                    missed: 2
                }
            ),
        ]
    );
    // All endpoints (no time index: one key range per endpoint) gives both.
    assert_eq!(
        store.history(&[], t(-1), t(300)).await.unwrap().len(),
        events.len() + 6
    );
}

/// A file of the previous layout (the events' time index, no packed tables, old rows) is
/// migrated on open, reads the same, and its old rollup rows are packed by retention.
#[tokio::test]
async fn the_new_migrations_apply_to_a_database_of_the_old_layout() {
    let dir = TempDir::new("upgrade");
    let store = Store::open(&dir.db()).await.unwrap();
    drop(store);
    let now = t(100 * 86_400);
    let hour_now = now.0 / 3_600_000;
    let pool = raw(&dir.db()).await;
    // Back to the layout before migrations 20261121170000, 20261121171000 and 20261121190000
    // (and the later ones).
    for sql in [
        "ALTER TABLE incidents DROP COLUMN episodes",
        "ALTER TABLE incidents DROP COLUMN cause",
        "ALTER TABLE incidents DROP COLUMN cause_title",
        "DROP TABLE history_scrub_pending",
        "DROP TRIGGER close_counts_on_insert",
        "DROP TRIGGER close_counts_on_delete",
        "DROP TABLE close_counts",
        "DROP TABLE rtt_minute_packed",
        "DROP TABLE rtt_hour_packed",
        "CREATE INDEX events_by_time ON events (ts)",
        "DELETE FROM _sqlx_migrations WHERE version >= 20261121170000",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    lay_out_rollups(&pool, 2, "rtt_hour", "hour", hour_now - 60 * 24, hour_now).await;
    sqlx::query("UPDATE rtt_hour SET histogram = x'' WHERE hour < ?")
        .bind(hour_now - 31 * 24)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO events (endpoint_id, ts, seq, kind, phase, reason, detail) \
         VALUES (2, ?, 1, 'handshake_failed', 'dns', 'no such host', '{\"elapsed_ms\":40}')",
    )
    .bind(now.0 - 5_000)
    .execute(&pool)
    .await
    .unwrap();
    // Closes written before `close_counts` existed are counted when it is created.
    for (day, seq) in [(10, 2), (11, 3), (11, 4)] {
        sqlx::query(
            "INSERT INTO events (endpoint_id, ts, seq, kind, code, initiator) VALUES (2, ?, ?, 'closed', 1006, 'network')",
        )
        .bind(t(day * 86_400 + 3_600).0)
        .bind(seq)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let store = Store::open(&dir.db()).await.unwrap();
    assert_eq!(
        store.close_codes(&[], t(0), t(50 * 86_400)).await.unwrap(),
        vec![(1006, "network".into(), 3)]
    );
    let closes: Vec<(i64, i64)> = sqlx::query_as("SELECT day, n FROM close_counts ORDER BY day")
        .fetch_all(store.reader())
        .await
        .unwrap();
    let day0 = t(0).0 / 86_400_000;
    assert_eq!(closes, vec![(day0 + 10, 1), (day0 + 11, 2)]);
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE name IN ('events_by_time', 'rtt_minute_packed', 'rtt_hour_packed') ORDER BY name",
    )
    .fetch_all(store.reader())
    .await
    .unwrap();
    assert_eq!(names, ["rtt_hour_packed", "rtt_minute_packed"]);
    let expected = vec![ev(
        2,
        Timestamp(now.0 - 5_000),
        EventKind::HandshakeFailed(HandshakeFailure {
            phase: FailedPhase::Dns,
            error: "no such host".into(),
            elapsed: Duration::from_millis(40),
        }),
    )];
    assert_eq!(store.history(&[], t(0), now).await.unwrap(), expected);
    let window = (
        Timestamp(now.0 - 45 * 86_400_000),
        Timestamp(now.0 - 25 * 86_400_000),
    );
    let before = store
        .rtt_series(EndpointId(2), PingKind::Protocol, window.0, window.1, 600)
        .await
        .unwrap();
    assert_eq!(before.1.len(), 20 * 24);
    let report = store
        .apply_retention(&heartline_store::Retention::default(), now)
        .await
        .unwrap();
    assert!(report.packed >= 24 * 28, "{report:?}");
    assert_eq!(
        store
            .rtt_series(EndpointId(2), PingKind::Protocol, window.0, window.1, 600)
            .await
            .unwrap(),
        before
    );
    assert_eq!(store.history(&[], t(0), now).await.unwrap(), expected);
}

/// Fleet-wide close counts read whole days from `close_counts` and partial days from events:
/// every window gives what counting the closed events gives, before and after retention
/// deletes the oldest of them (mid-day, so a day's count must be lowered, not dropped).
#[tokio::test]
async fn close_codes_from_day_counts_match_the_closed_events_in_any_window() {
    let dir = TempDir::new("closecounts");
    let store = Store::open(&dir.db()).await.unwrap();
    let pool = raw(&dir.db()).await;
    const DAY: i64 = 86_400_000;
    let start = t(0).0 + 5 * 3_600_000; // 05:00 UTC: no window below starts on the data
    let kinds: [(i64, &str); 4] = [
        (1006, "network"),
        (1000, "client"),
        (1001, "server"),
        (4001, "server"),
    ];
    // 40 days of closes (and other events, which must not count) on three endpoints, at
    // uneven times: a small linear congruential sequence, no clock.
    let mut closes: Vec<(i64, u16, &str)> = Vec::new();
    let mut x: i64 = 12_345;
    let mut ts = start;
    let mut seq = 0;
    while ts < start + 40 * DAY {
        x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
        ts += 600_000 + x % 7_200_000;
        seq += 1;
        let endpoint = 1 + x % 3;
        let (code, initiator) = kinds[usize::try_from((x / 3) % 4).unwrap()];
        let kind = if x % 5 == 0 { "pong_missed" } else { "closed" };
        sqlx::query(
            "INSERT INTO events (endpoint_id, ts, seq, kind, code, initiator) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(endpoint)
        .bind(ts)
        .bind(seq)
        .bind(kind)
        .bind(code)
        .bind(initiator)
        .execute(&pool)
        .await
        .unwrap();
        if kind == "closed" {
            closes.push((ts, u16::try_from(code).unwrap(), initiator));
        }
    }
    pool.close().await;
    assert!(closes.len() > 300, "{} closes", closes.len());
    let expected = |closes: &[(i64, u16, &str)], from: i64, to: i64| {
        let mut counts: Vec<(u16, String, u64)> = Vec::new();
        for &(_, code, initiator) in closes.iter().filter(|c| c.0 >= from && c.0 < to) {
            match counts.iter_mut().find(|c| c.0 == code && c.1 == initiator) {
                Some(c) => c.2 += 1,
                None => counts.push((code, initiator.to_owned(), 1)),
            }
        }
        counts.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        counts
    };
    let midnight = start - 5 * 3_600_000;
    let windows = [
        (midnight, midnight + 41 * DAY),                // whole days only
        (start + 1234, start + 30 * DAY + 777),         // partial days at both edges
        (midnight + 3 * DAY, midnight + 33 * DAY - 1),  // one partial edge
        (start + 2 * DAY, start + 2 * DAY + 3_600_000), // inside a day
        (midnight + 10 * DAY, midnight + 11 * DAY),     // exactly one day
        (start - 30 * DAY, start - DAY),                // before any close
    ];
    let check = |closes: Vec<(i64, u16, &'static str)>| {
        let store = &store;
        async move {
            for (from, to) in windows {
                let got = store
                    .close_codes(&[], Timestamp(from), Timestamp(to))
                    .await
                    .unwrap();
                // Ties keep the store's order (count, then code); compare as sets of counts.
                let mut got_sorted = got.clone();
                got_sorted.sort();
                let mut want = expected(&closes, from, to);
                want.sort();
                assert_eq!(got_sorted, want, "window {from}..{to}");
                assert!(got.windows(2).all(|w| w[0].2 >= w[1].2), "{got:?}");
            }
        }
    };
    check(closes.clone()).await;

    // Retention keeps 25 days of events before a `now` that is not midnight.
    let now = Timestamp(start + 40 * DAY + 3 * 3_600_000);
    let retention = heartline_store::Retention {
        events: Duration::from_secs(25 * 86_400),
        sessions: Duration::from_secs(25 * 86_400),
        ..heartline_store::Retention::default()
    };
    store.apply_retention(&retention, now).await.unwrap();
    let cut = now.0 - 25 * DAY;
    assert_ne!(cut.rem_euclid(DAY), 0);
    let kept: Vec<_> = closes.into_iter().filter(|c| c.0 >= cut).collect();
    check(kept).await;
    let leftover: i64 = sqlx::query_scalar("SELECT count(*) FROM close_counts WHERE day < ?")
        .bind(cut / DAY)
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(leftover, 0, "days wholly before the cut keep no count");
}

/// Finished minutes travel to the writer on the recorder's queue: the first event of a later
/// minute (of any endpoint) closes the earlier ones, and they are written without a shutdown;
/// a minute still open waits for the next minute or for shutdown.
#[tokio::test]
async fn finished_minutes_reach_the_writer_on_its_queue() {
    let dir = TempDir::new("minutes");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    let rtt = |ms| EventKind::Rtt {
        kind: PingKind::Protocol,
        rtt: Duration::from_millis(ms),
    };
    for s in 0..10 {
        recorder.emit(ev(1, t(s), rtt(2)));
    }
    // Endpoint 1 falls silent; another endpoint's event in the next minute closes its minute.
    recorder.emit(ev(
        2,
        t(61),
        EventKind::StateChanged {
            from: State::Connecting,
            to: State::Up,
        },
    ));
    recorder.emit(ev(2, t(62), rtt(5)));
    let counts = |points: Vec<heartline_store::RttPoint>| -> Vec<u64> {
        points.into_iter().map(|p| p.count).collect()
    };
    let mut written = Vec::new();
    for _ in 0..200 {
        let (_, points) = store
            .rtt_series(EndpointId(1), PingKind::Protocol, t(0), t(120), 10)
            .await
            .unwrap();
        written = counts(points);
        if !written.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        written,
        [10],
        "the silent endpoint's minute was written while recording"
    );
    // Endpoint 2's minute is still open: nothing of it is written until shutdown.
    let (_, open) = store
        .rtt_series(EndpointId(2), PingKind::Protocol, t(0), t(120), 10)
        .await
        .unwrap();
    assert!(open.is_empty(), "{open:?}");
    writer.shutdown().await.unwrap();
    let (_, closed) = store
        .rtt_series(EndpointId(2), PingKind::Protocol, t(0), t(120), 10)
        .await
        .unwrap();
    assert_eq!(counts(closed), [1]);
    assert_eq!(recorder.dropped(), 0);
    store.close().await;
}

/// An endpoint's open minute is emptied, not dropped, when it is sent: nothing of one minute
/// leaks into the next, a minute with nothing recorded writes no row, and the
/// hour and day rows (read back and merged inside each batch, not cached) add every minute up,
/// across batches and within one.
#[tokio::test]
async fn minutes_in_a_row_keep_their_own_figures_and_add_up_in_the_hour_and_day() {
    let dir = TempDir::new("minutes-in-a-row");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    let rtt = |ms| EventKind::Rtt {
        kind: PingKind::Protocol,
        rtt: Duration::from_millis(ms),
    };
    let minute_rows = || async {
        sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(
            "SELECT minute, count, min_us, max_us, p50_us FROM rtt_minute \
             WHERE endpoint_id = 1 AND kind = 0 ORDER BY minute",
        )
        .fetch_all(store.reader())
        .await
        .unwrap()
    };
    // Minute 0: ten round trips of 2 ms. The first of minute 1 closes it; its row is written
    // in a batch of its own before anything else happens.
    for s in 0..10 {
        recorder.emit(ev(1, t(s), rtt(2)));
    }
    recorder.emit(ev(1, t(60), rtt(40)));
    for _ in 0..200 {
        if !minute_rows().await.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(minute_rows().await.len(), 1, "minute 0 written on its own");
    // Minute 1: four more of 40 ms. Minute 2: nothing from endpoint 1 (endpoint 2's event
    // closes minute 1). Minute 3: three of 7 ms, closed at shutdown.
    for s in 61..65 {
        recorder.emit(ev(1, t(s), rtt(40)));
    }
    recorder.emit(ev(2, t(125), rtt(1)));
    for s in 180..183 {
        recorder.emit(ev(1, t(s), rtt(7)));
    }
    writer.shutdown().await.unwrap();
    assert_eq!(recorder.dropped(), 0);

    let m0 = t(0).0 / 60_000;
    assert_eq!(
        minute_rows().await,
        [
            (m0, 10, 2_000, 2_000, 2_000),
            (m0 + 1, 5, 40_000, 40_000, 40_000),
            (m0 + 3, 3, 7_000, 7_000, 7_000),
        ],
        "each minute has its own figures, and the quiet minute no row"
    );
    for (table, column, bucket) in [("rtt_hour", "hour", m0 / 60), ("rtt_day", "day", m0 / 1440)] {
        let (count, min, max, sum): (i64, i64, i64, i64) = sqlx::query_as(&format!(
            "SELECT count, min_us, max_us, sum_us FROM {table} \
             WHERE endpoint_id = 1 AND kind = 0 AND {column} = ?"
        ))
        .bind(bucket)
        .fetch_one(store.reader())
        .await
        .unwrap();
        assert_eq!(
            (count, min, max, sum),
            (18, 2_000, 40_000, 10 * 2_000 + 5 * 40_000 + 3 * 7_000),
            "{table} adds up minutes written in separate batches"
        );
    }
    store.close().await;
}

/// Hour and day rows are read back a few hundred endpoints at a time: with more endpoints than
/// one read holds, and rows already stored by an earlier run, every endpoint's hour and day add
/// its own minutes and nobody else's.
#[tokio::test]
async fn hours_and_days_of_many_endpoints_add_up_across_runs() {
    let dir = TempDir::new("many-hours");
    let rtt = |us| EventKind::Rtt {
        kind: PingKind::Protocol,
        rtt: Duration::from_micros(us),
    };
    const N: u64 = 700;
    for run in 0..2i64 {
        let store = Store::open(&dir.db()).await.unwrap();
        let (recorder, writer) = store.record(fast_options()).await.unwrap();
        // Run 0 records minute 0, run 1 minute 2; endpoint n's round trip is 1000 + n µs.
        for n in 1..=N {
            recorder.emit(ev(n, t(120 * run + 1), rtt(1_000 + n)));
        }
        writer.shutdown().await.unwrap();
        assert_eq!(recorder.dropped(), 0);
        store.close().await;
    }
    let store = Store::open(&dir.db()).await.unwrap();
    let m0 = t(0).0 / 60_000;
    for (table, column, bucket) in [("rtt_hour", "hour", m0 / 60), ("rtt_day", "day", m0 / 1440)] {
        let rows: Vec<(i64, i64, i64, i64, i64)> = sqlx::query_as(&format!(
            "SELECT endpoint_id, count, min_us, max_us, sum_us FROM {table} \
             WHERE kind = 0 AND {column} = ? ORDER BY endpoint_id"
        ))
        .bind(bucket)
        .fetch_all(store.reader())
        .await
        .unwrap();
        assert_eq!(rows.len(), N as usize, "{table}: a row per endpoint");
        for (id, count, min, max, sum) in rows {
            let us = 1_000 + id;
            assert_eq!(
                (count, min, max, sum),
                (2, us, us, 2 * us),
                "{table}: endpoint {id} has its two minutes"
            );
        }
    }
    store.close().await;
}

/// A drop storm behind an idle timeout is stored as one Unstable incident with its cause.
#[tokio::test]
async fn a_drop_storm_is_stored_as_an_incident_with_its_cause() {
    use heartline_core::{IncidentKind, Rule};
    let dir = TempDir::new("storm");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    recorder.emit(ev(
        1,
        t(0),
        EventKind::StateChanged {
            from: State::Connecting,
            to: State::Up,
        },
    ));
    for i in 0..6 {
        let start = 7 * i;
        recorder.emit(ev(
            1,
            t(start),
            EventKind::Connected {
                attempt: 1,
                handshake: handshake(),
            },
        ));
        recorder.emit(ev(
            1,
            t(start + 6),
            EventKind::Closed {
                end: SessionEnd::Lost {
                    error: "eof".into(),
                },
                stats: SessionStats {
                    duration: Duration::from_secs(6),
                    silent_for: Duration::from_secs(6),
                    ..SessionStats::default()
                },
            },
        ));
        if i == 2 {
            recorder.emit(ev(
                1,
                t(start + 6),
                EventKind::StateChanged {
                    from: State::Up,
                    to: State::Unstable,
                },
            ));
        }
    }
    writer.shutdown().await.unwrap();
    let incidents = store.incidents(&[], t(0), t(100)).await.unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    let i = &incidents[0];
    assert_eq!(
        (i.kind, i.ended, i.episodes),
        (IncidentKind::Unstable, None, 1)
    );
    // Still open, yet its row holds every drop so far, not only those up to its opening.
    assert_eq!(i.close_codes, [(1006, 6)]);
    let cause = i.cause.as_ref().expect("a cause");
    assert_eq!(cause.rule, Rule::IdleTimeout);
    assert!(cause.title.contains("about 6 s"), "{}", cause.title);
}

/// A server's own heartbeats are rolled up by their intervals under a kind of their own: read
/// back per minute, hour and day as beats, never among round trips (every RTT figure reads as
/// if there had been no beat), and packed by retention like the rest.
#[tokio::test]
async fn server_beats_are_rolled_up_apart_from_round_trips() {
    use heartline_store::{BeatTotals, Resolution, Scope};
    let dir = TempDir::new("beats");
    let store = Store::open(&dir.db()).await.unwrap();
    let (recorder, writer) = store.record(fast_options()).await.unwrap();
    let ms = Duration::from_millis;
    for s in 0..120 {
        recorder.emit(ev(
            1,
            t(s),
            EventKind::Rtt {
                kind: PingKind::Protocol,
                rtt: ms(2),
            },
        ));
    }
    // (second, interval, jitter): the first beat's interval runs from the protocol handshake.
    let beats = [
        (10, 10_000, 0),
        (35, 25_000, 15_000),
        (61, 26_000, 1_000),
        (85, 24_000, 2_000),
        (110, 25_000, 1_000),
    ];
    for (s, interval, jitter) in beats {
        recorder.emit(ev(
            1,
            t(s),
            EventKind::ServerBeat {
                interval: ms(interval),
                jitter: ms(jitter),
            },
        ));
    }
    // A round trip claiming to be the server's (the probe never measures one) is neither.
    recorder.emit(ev(
        1,
        t(50),
        EventKind::Rtt {
            kind: PingKind::Server,
            rtt: ms(1),
        },
    ));
    writer.shutdown().await.unwrap();
    assert_eq!(recorder.dropped(), 0);

    let secs = Duration::from_secs;
    let (resolution, minutes) = store
        .beat_series(EndpointId(1), t(0), t(120), 10)
        .await
        .unwrap();
    assert_eq!(resolution, Resolution::Minute);
    let shape = |p: &heartline_store::BeatPoint| {
        (
            p.at,
            p.beats,
            p.min_interval,
            p.mean_interval,
            p.max_interval,
        )
    };
    assert_eq!(
        minutes.iter().map(shape).collect::<Vec<_>>(),
        [
            (t(0), 2, secs(10), ms(17_500), secs(25)),
            (t(60), 3, secs(24), secs(25), secs(26)),
        ]
    );
    // Percentiles come from the interval histogram, within the exact min and max.
    assert!(minutes
        .iter()
        .all(|p| p.p95_interval <= p.max_interval && p.p50_interval >= p.min_interval));
    let totals = BeatTotals::of(&minutes).expect("beats in the window");
    assert_eq!(
        (
            totals.beats,
            totals.mean_interval,
            totals.min_interval,
            totals.max_interval
        ),
        (5, secs(22), secs(10), secs(26))
    );
    assert_eq!(BeatTotals::of(&[]), None);
    // Rolled up into the hour and the day like round trips are.
    for (to, want) in [(t(3600), Resolution::Hour), (t(86_400), Resolution::Day)] {
        let (resolution, points) = store
            .beat_series(EndpointId(1), t(0), to, 10)
            .await
            .unwrap();
        assert_eq!(resolution, want);
        assert_eq!(
            points.iter().map(shape).collect::<Vec<_>>(),
            [(t(0), 5, secs(10), secs(22), secs(26))],
            "{want:?}"
        );
    }

    // Every RTT figure is what the round trips alone make.
    let (_, rtt) = store
        .rtt_series(EndpointId(1), PingKind::Protocol, t(0), t(120), 10)
        .await
        .unwrap();
    assert_eq!(
        rtt.iter()
            .map(|p| (p.count, p.min, p.max, p.mean))
            .collect::<Vec<_>>(),
        [(60, ms(2), ms(2), ms(2)), (60, ms(2), ms(2), ms(2))]
    );
    let (_, none) = store
        .rtt_series(EndpointId(1), PingKind::Server, t(0), t(120), 10)
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");
    // Exports name endpoints (this store has none configured, only history).
    let only = Scope::Only(&[EndpointId(1)]);
    let rtt_totals = store
        .export_rtt(only, PingKind::Protocol, t(0), t(3600), 10)
        .await
        .unwrap();
    let one = &rtt_totals[&EndpointId(1)];
    assert_eq!((one.samples, one.mean, one.worst_p95), (120, ms(2), ms(2)));
    assert!(store
        .export_rtt(only, PingKind::Server, t(0), t(3600), 10)
        .await
        .unwrap()
        .is_empty());
    let beat_totals = store.export_beats(only, t(0), t(3600), 10).await.unwrap();
    let b = &beat_totals[&EndpointId(1)];
    assert_eq!((b.samples, b.mean), (5, secs(22)));
    let hour_kinds: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT kind, count, max_us FROM rtt_hour WHERE endpoint_id = 1 ORDER BY kind",
    )
    .fetch_all(store.reader())
    .await
    .unwrap();
    assert_eq!(hour_kinds, [(0, 120, 2000), (2, 5, 26_000_000)]);

    // Three hours on, retention packs the minutes (beats with them); they read the same.
    let report = store
        .apply_retention(&heartline_store::Retention::default(), t(3 * 3600))
        .await
        .unwrap();
    assert!(report.packed > 0, "{report:?}");
    let (plain,): (i64,) = sqlx::query_as("SELECT count(*) FROM rtt_minute WHERE endpoint_id = 1")
        .fetch_one(store.reader())
        .await
        .unwrap();
    assert_eq!(plain, 0, "every minute packed");
    let (_, packed) = store
        .beat_series(EndpointId(1), t(0), t(120), 10)
        .await
        .unwrap();
    assert_eq!(packed, minutes);
    store.close().await;
}
