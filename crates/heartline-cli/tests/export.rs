//! `heartline export` as an operator uses it: the real binary against a real database file.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use heartline_core::{
    Endpoint, EndpointId, Event, EventKind, Handshake, Phases, PingKind, RetryReason, SessionEnd,
    SessionStats, State, Timestamp,
};
use heartline_probe::Sink;
use heartline_store::{RecorderOptions, Secrets, Store};

mod common;
use common::TempDir;

fn heartline(db: &Path, args: &[&str]) -> Output {
    common::heartline()
        .arg("export")
        .args(["--db", db.to_str().unwrap()])
        .args(args)
        .output()
        .expect("run heartline")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// 2026-10-01T00:00:00Z.
const START: i64 = 1_790_812_800_000;
const DAY: i64 = 86_400_000;
const SECRET: &str = "EXPORT-CLI-SECRET";

fn until_arg(days: i64) -> String {
    heartline_report::iso_utc(Timestamp(START + days * DAY))
}

#[test]
fn an_empty_database_or_a_bad_selection_is_one_clear_line_and_exit_2() {
    let dir = TempDir::new("export", "empty");
    let db = dir.path("heartline.db");
    let since = until_arg(0);
    let until = until_arg(1);
    let cases: [(Vec<&str>, &str); 4] = [
        (
            vec!["--since", &since, "--until", &until, "--format", "md"],
            "no endpoints",
        ),
        (
            vec!["--since", &until, "--until", &since, "--format", "csv"],
            "must be before",
        ),
        (
            vec![
                "--since",
                "last tuesday",
                "--until",
                "now",
                "--format",
                "csv",
            ],
            "--since: `last tuesday` is not a time",
        ),
        (
            vec!["--since", "24h", "--until", "now", "--format", "pdf"],
            "pdf",
        ),
    ];
    for (args, words) in cases {
        let out = heartline(&db, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(words), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

/// `endpoints` endpoints over `days` days: each drops a few times a day (1006, with a
/// reconnect), some go Down for a while once a day, one round trip per endpoint every six
/// hours. Recorded through the real recorder.
async fn large(db: &Path, endpoints: u64, days: i64) -> u64 {
    let store = Store::open(db).await.unwrap();
    let secrets = Secrets::File(db.with_file_name("secrets.json"));
    let list: Vec<Endpoint> = (0..endpoints)
        .map(|i| {
            let mut e = Endpoint::new(
                format!("feed-{i:03}"),
                format!("wss://feed{}.example.com/stream", i % 20),
            );
            e.tags = vec![if i % 2 == 0 { "even" } else { "odd" }.into()];
            e
        })
        .collect();
    store.import_endpoints(&list, &secrets).await.unwrap();
    let (recorder, writer) = store
        .record(RecorderOptions {
            flush_every: Duration::from_millis(50),
            ..RecorderOptions::default()
        })
        .await
        .unwrap();
    let handshake = Handshake {
        phases: Phases::default(),
        peer: "192.0.2.1:443".parse::<SocketAddr>().unwrap(),
        subprotocol: None,
        extensions: Vec::new(),
    };
    let mut events = Vec::new();
    for id in 1..=endpoints {
        let ev = |ms: i64, kind| Event {
            at: Timestamp(START + ms),
            endpoint: EndpointId(id),
            kind,
        };
        events.push(ev(
            0,
            EventKind::StateChanged {
                from: State::Connecting,
                to: State::Up,
            },
        ));
        for day in 0..days {
            let base = day * DAY + (id as i64 * 7_919) % 3_600_000;
            for k in 0..3 {
                let t = base + k * 7 * 3_600_000;
                events.push(ev(
                    t,
                    EventKind::Closed {
                        end: SessionEnd::Lost {
                            error: "connection reset by peer".into(),
                        },
                        stats: SessionStats {
                            duration: Duration::from_secs(25_000),
                            silent_for: Duration::from_secs(20),
                            ..SessionStats::default()
                        },
                    },
                ));
                events.push(ev(
                    t,
                    EventKind::ReconnectScheduled {
                        attempt: 1,
                        delay: Duration::from_millis(800),
                        reason: RetryReason::Backoff,
                    },
                ));
                if id % 10 == 0 && k == 1 {
                    events.push(ev(
                        t + 1,
                        EventKind::StateChanged {
                            from: State::Up,
                            to: State::Down,
                        },
                    ));
                    events.push(ev(
                        t + 600_000,
                        EventKind::Connected {
                            attempt: 2,
                            handshake: handshake.clone(),
                        },
                    ));
                    events.push(ev(
                        t + 600_001,
                        EventKind::StateChanged {
                            from: State::Down,
                            to: State::Up,
                        },
                    ));
                } else {
                    events.push(ev(
                        t + 900,
                        EventKind::Connected {
                            attempt: 1,
                            handshake: handshake.clone(),
                        },
                    ));
                }
            }
            for q in 0..4 {
                events.push(ev(
                    day * DAY + q * 6 * 3_600_000 + 1_000,
                    EventKind::Rtt {
                        kind: PingKind::Protocol,
                        rtt: Duration::from_micros(20_000 + (id * 131 % 5_000)),
                    },
                ));
            }
        }
    }
    events.sort_by_key(|e| e.at);
    let n = events
        .iter()
        .filter(|e| !matches!(e.kind, EventKind::Rtt { .. }))
        .count() as u64;
    for e in events {
        recorder.emit(e);
        // The queue holds 100k: let the writer keep up.
        if recorder.dropped() > 0 {
            panic!("recorder dropped events");
        }
    }
    writer.shutdown().await.unwrap();
    let pool =
        sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(db))
            .await
            .unwrap();
    sqlx::query("INSERT INTO agent_runs (started_at, last_seen, stopped_at) VALUES (?, ?, ?)")
        .bind(START)
        .bind(START + days * DAY)
        .bind(START + days * DAY)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    store.close().await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_from_a_large_database_without_secrets() {
    let dir = TempDir::new("export", "large");
    let db = dir.path("heartline.db");
    let started = Instant::now();
    let events = large(&db, 200, 30).await;
    println!("recorded {events} events in {:.1?}", started.elapsed());

    // One more endpoint, with a credential, added the way a user would.
    let add = Command::new(env!("CARGO_BIN_EXE_heartline"))
        .env("HEARTLINE_SECRETS", "file")
        .args([
            "endpoints",
            "add",
            "private",
            "wss://private.example.com/ws?token=URLSECRET",
        ])
        .args(["-H", &format!("Authorization: Bearer {SECRET}")])
        .args(["--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(add.status.success(), "{}", stderr(&add));
    let secrets_file = std::fs::read_to_string(dir.path("secrets.json")).unwrap();
    assert!(
        secrets_file.contains(SECRET),
        "the secret is stored, outside the database"
    );

    let (since, until) = (until_arg(0), until_arg(30));
    // Two exports at a time (the machine has two cores).
    let formats = ["md", "csv", "json", "ndjson", "html", "svg", "png"];
    let results: Vec<(&str, Vec<u8>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = formats
            .chunks(4)
            .map(|group| {
                let (db, dir, since, until) = (&db, &dir, &since, &until);
                scope.spawn(move || {
                    group
                        .iter()
                        .map(|format| {
                            let started = Instant::now();
                            let file = dir.path(&format!("export.{format}"));
                            let out = heartline(
                                db,
                                &[
                                    "--since",
                                    since,
                                    "--until",
                                    until,
                                    "--format",
                                    format,
                                    "--out",
                                    file.to_str().unwrap(),
                                ],
                            );
                            assert!(out.status.success(), "{format}: {}", stderr(&out));
                            assert!(stderr(&out).contains("wrote"), "{}", stderr(&out));
                            assert!(!dir.path(&format!("export.{format}.partial")).exists());
                            let bytes = std::fs::read(&file).unwrap();
                            println!(
                                "{format}: {} bytes in {:.1?}",
                                bytes.len(),
                                started.elapsed()
                            );
                            (*format, bytes)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    for (format, bytes) in results {
        assert!(bytes.len() > 1000, "{format} is nearly empty");
        for secret in [SECRET, "URLSECRET"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in the {format} export"
            );
        }
        match format {
            "csv" => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.starts_with("timestamp,endpoint,event,code,reason,initiator,cause,phase,status,rtt_ms,attempt,delay_ms,detail\r\n"));
                assert_eq!(text.lines().count() as u64, events + 1);
            }
            "json" => {
                let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(doc["events"].as_array().unwrap().len() as u64, events);
                assert_eq!(doc["summary"]["endpoints"].as_array().unwrap().len(), 201);
            }
            "md" => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(
                    text.starts_with("# Heartline export: all 201 endpoints"),
                    "{}",
                    &text[..200]
                );
                assert!(text.contains("| Time (UTC) | Endpoint | Event | Detail |"));
            }
            "png" => assert_eq!(&bytes[1..4], b"PNG"),
            _ => {}
        }
    }

    // Text formats go to standard output; selections by tag and name narrow it.
    let out = heartline(
        &db,
        &[
            "--since",
            &since,
            "--until",
            &until,
            "--format",
            "ndjson",
            "--tag",
            "odd",
            "--endpoint",
            "feed-000",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let names: std::collections::BTreeSet<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["endpoint"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        names.contains("feed-000") && names.contains("feed-001"),
        "{names:?}"
    );
    assert!(
        !names.contains("feed-002"),
        "even endpoints other than feed-000 are left out"
    );

    // Names that do not exist are listed against what does; an empty range says so.
    let out = heartline(
        &db,
        &[
            "--since",
            &since,
            "--until",
            &until,
            "--format",
            "md",
            "--endpoint",
            "nope",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no endpoint named `nope`; the database has `feed-000`"),
        "{}",
        stderr(&out)
    );
    let out = heartline(
        &db,
        &[
            "--since",
            "2020-01-01",
            "--until",
            "2020-01-02",
            "--format",
            "md",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no data in range"),
        "{}",
        stderr(&out)
    );
}
