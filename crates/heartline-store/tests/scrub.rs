//! History written before outside text was masked at the source: the one-time scrub takes
//! every echoed secret out of the rows and off the disk.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use heartline_core::untrusted::MASK;
use heartline_core::{
    Endpoint, EndpointId, Event, EventKind, FailedPhase, Handshake, HandshakeFailure, Header,
    Phases, Redactor, SessionEnd, SessionStats, Timestamp,
};
use heartline_probe::Sink;
use heartline_store::{header_key, RecorderOptions, Secrets, Store};

/// Every form stored below starts with this: a fragment of it anywhere is a leak.
const TOKEN: &str = "tok-5eCr3t-0a9b8c7d6e";
const LEAK: &[u8] = b"tok-5eCr";
/// A secret in a URL's query rather than a header.
const QUERY_TOKEN: &str = "qry-7c1d2e3f4a5b";
/// The secret of an endpoint whose stored value is gone: it cannot be recognised.
const LOST_TOKEN: &str = "lost-91a2b3c4d5";

mod common;
use common::TempDir;

fn at(s: i64) -> Timestamp {
    Timestamp(1_767_225_600_000 + s * 1000)
}

fn ev(endpoint: EndpointId, s: i64, kind: EventKind) -> Event {
    Event {
        at: at(s),
        endpoint,
        kind,
    }
}

/// Everything a server could have echoed `secret` into, as older versions stored it. The
/// refused upgrade's body quote was cut at 200 bytes, here in the middle of the secret.
fn echoes(endpoint: EndpointId, s: i64, secret: &str) -> Vec<Event> {
    let cut = format!(
        "401 Unauthorized: {}Bearer {}",
        "x".repeat(180),
        &secret[..10]
    );
    vec![
        ev(
            endpoint,
            s,
            EventKind::HandshakeFailed(HandshakeFailure {
                phase: FailedPhase::Http {
                    status: Some(401),
                    retry_after: None,
                },
                error: format!("401 Unauthorized: invalid credentials: Bearer {secret}"),
                elapsed: Duration::from_millis(4),
            }),
        ),
        ev(
            endpoint,
            s + 1,
            EventKind::HandshakeFailed(HandshakeFailure {
                phase: FailedPhase::Http {
                    status: Some(401),
                    retry_after: None,
                },
                error: cut,
                elapsed: Duration::from_millis(4),
            }),
        ),
        ev(
            endpoint,
            s + 2,
            EventKind::Connected {
                attempt: 1,
                handshake: Handshake {
                    phases: Phases {
                        dns: Duration::ZERO,
                        tcp: Duration::from_micros(300),
                        tls: None,
                        upgrade: Duration::from_micros(900),
                    },
                    peer: "127.0.0.1:9000".parse::<SocketAddr>().unwrap(),
                    subprotocol: Some(format!("v1.{secret}")),
                    extensions: vec![format!("x-auth; token=\"{secret}\"")],
                },
            },
        ),
        ev(
            endpoint,
            s + 3,
            EventKind::Closed {
                end: SessionEnd::ClosedByServer {
                    code: 1008,
                    reason: format!("bad token {secret}"),
                },
                stats: SessionStats {
                    duration: Duration::from_secs(1),
                    ..SessionStats::default()
                },
            },
        ),
        ev(
            endpoint,
            s + 4,
            EventKind::GaveUp {
                reason: format!("server closed with 1008 (policy violation) (bad token {secret}): a credentials or policy problem"),
            },
        ),
    ]
}

fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// The database and its WAL, as bytes.
fn on_disk(db: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(db).unwrap();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    bytes.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
    bytes
}

/// Every outside-text column of every history row, one string per row.
async fn texts(db: &Path) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true),
    )
    .await
    .unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT coalesce(reason, '') || ' ' || coalesce(detail, '') FROM events \
         UNION ALL SELECT coalesce(subprotocol, '') || ' ' || coalesce(extensions, '') || ' ' || coalesce(reason, '') FROM sessions",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.into_iter().map(|(s,)| s).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_one_time_scrub_takes_echoed_secrets_out_of_rows_and_off_the_disk() {
    let dir = TempDir::new("pending");
    let db = dir.db();
    let secrets = Secrets::File(dir.0.join("secrets.json"));

    // A database of the version before: endpoints, and a history that quotes their secrets.
    let store = Store::open(&db).await.unwrap();
    let mut header = Endpoint::new("header", "ws://127.0.0.1:9/feed");
    header
        .headers
        .push(Header::new("Authorization", format!("Bearer {TOKEN}")));
    let query = Endpoint::new(
        "query",
        format!("ws://127.0.0.1:9/feed?access_token={QUERY_TOKEN}"),
    );
    let mut lost = Endpoint::new("lost", "ws://127.0.0.1:9/feed");
    lost.headers
        .push(Header::new("Authorization", format!("Bearer {LOST_TOKEN}")));
    let plain = Endpoint::new("plain", "ws://127.0.0.1:9/feed");
    let mut ids = Vec::new();
    for e in [&header, &query, &lost, &plain] {
        ids.push(store.add_endpoint(e, &secrets).await.unwrap());
    }
    secrets
        .delete(&header_key(ids[2], "Authorization"))
        .unwrap();

    let options = RecorderOptions {
        flush_every: Duration::from_millis(50),
        ..RecorderOptions::default()
    };
    let (recorder, writer) = store.record(options.clone()).await.unwrap();
    // Enough rows, interleaved across endpoints, for several pages and more than one chunk.
    for round in 0..500 {
        for (id, secret) in [(ids[0], TOKEN), (ids[1], QUERY_TOKEN), (ids[2], LOST_TOKEN)] {
            for e in echoes(id, round * 10, secret) {
                recorder.emit(e);
            }
        }
    }
    writer.shutdown().await.unwrap();
    assert_eq!(recorder.dropped(), 0);
    store.close().await;
    // Back to the schema before the scrub's migration.
    {
        let pool =
            sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&db))
                .await
                .unwrap();
        for sql in [
            "DROP TABLE history_scrub_pending",
            "DELETE FROM _sqlx_migrations WHERE version = 20261203180000",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let before = on_disk(&db);
    assert!(contains(&before, LEAK), "the test history holds the secret");

    // This version opens it: the migration lists the endpoints, a shell loads their secrets
    // and scrubs while its writer records.
    let store = Store::open(&db).await.unwrap();
    let (recorder, writer) = store.record(options).await.unwrap();
    for s in 0..20 {
        recorder.emit(ev(
            ids[3],
            10_000 + s,
            EventKind::GaveUp {
                reason: "reconnect is disabled for this endpoint".into(),
            },
        ));
    }
    let loaded = store.endpoints(&secrets).await.unwrap();
    let report = store.scrub_pending(&loaded).await.unwrap();
    assert_eq!(report.endpoints, 3, "{report:?}");
    assert_eq!(report.waiting, vec!["lost".to_owned()]);
    // Per echoing endpoint and round: both failures, the closed event, the give-up and the
    // session row (subprotocol, extensions); the connected event's detail is not kept when
    // the session row holds its handshake exactly.
    assert!(report.rows >= 2 * 500 * 5, "{report:?}");
    assert!(report.compacted);
    writer.shutdown().await.unwrap();

    let rows = texts(&db).await;
    for text in &rows {
        assert!(!text.contains("tok-5eC"), "{text}");
        assert!(!text.contains(QUERY_TOKEN), "{text}");
    }
    assert!(
        rows.iter().any(|t| t.contains(LOST_TOKEN)),
        "not recognisable yet"
    );
    let history = store.history(&[ids[0]], at(0), at(10)).await.unwrap();
    let reasons: Vec<String> = history
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Closed { end, .. } => Some(end.reason().to_owned()),
            EventKind::HandshakeFailed(f) => Some(f.error.clone()),
            EventKind::Connected { handshake, .. } => handshake.subprotocol.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            // The whole header value is a secret form: `Bearer` goes with it.
            format!("401 Unauthorized: invalid credentials: {MASK}"),
            format!("401 Unauthorized: {}{MASK}", "x".repeat(180)),
            format!("v1.{MASK}"),
            format!("bad token {MASK}"),
        ]
    );

    // Off the disk too: no copy in free space, page slack or old WAL frames.
    // (The query secret stays in the endpoint's stored URL, its configuration: only header
    // values live outside the database.)
    let after = on_disk(&db);
    assert!(!contains(&after, LEAK), "secret left in the database files");

    let owed: Vec<(String,)> = sqlx::query_as("SELECT key FROM settings WHERE key LIKE '%scrub%'")
        .fetch_all(store.reader())
        .await
        .unwrap();
    assert!(owed.is_empty(), "nothing left to do: {owed:?}");

    // Done once: a second run finds only the endpoint still waiting for its secret.
    let again = store.scrub_pending(&loaded).await.unwrap();
    assert_eq!(
        (again.endpoints, again.rows, again.waiting),
        (0, 0, vec!["lost".to_owned()])
    );

    // When the value is known again, the endpoint's history is scrubbed directly.
    let redactor = Redactor::from_secrets([format!("Bearer {LOST_TOKEN}")]);
    let changed = store.scrub_history(ids[2], &redactor).await.unwrap();
    assert!(changed >= 500 * 5, "{changed}");
    assert!(!texts(&db).await.iter().any(|t| t.contains("lost-91a")));
    assert!(!contains(&on_disk(&db), b"lost-91a"));
    store.close().await;
}

#[tokio::test]
async fn a_new_database_has_nothing_pending() {
    let dir = TempDir::new("fresh");
    let store = Store::open(&dir.db()).await.unwrap();
    let secrets = Secrets::File(dir.0.join("secrets.json"));
    let mut e = Endpoint::new("feed", "ws://127.0.0.1:9/");
    e.headers
        .push(Header::new("Authorization", format!("Bearer {TOKEN}")));
    store.add_endpoint(&e, &secrets).await.unwrap();
    let report = store
        .scrub_pending(&store.endpoints(&secrets).await.unwrap())
        .await
        .unwrap();
    assert_eq!(report, heartline_store::ScrubReport::default());
    store.close().await;
}
