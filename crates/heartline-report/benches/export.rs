//! Export benchmark: 1,000 endpoints, a simulated year of history, exports of the last 7 and
//! 30 days in each streaming format; time and peak memory of each export in its own process.
//!
//! ```sh
//! cargo bench -p heartline-report --bench export                 # 1,000 endpoints, 365 days
//! cargo bench -p heartline-report --bench export -- --endpoints 200 --days 60
//! ```
//! The database is generated once with bulk inserts that follow the schema of
//! migrations/20261121110000_initial.sql and cached under target/heartline-report-bench/.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use heartline_core::{Endpoint, Rollup, Timestamp};
use heartline_report::{export, Format, Options, Selection, Zone};
use heartline_store::{Secrets, Store};

const DAY: i64 = 86_400_000;
/// The simulated year ends here: 2026-11-01T00:00:00Z.
const END: i64 = 1_793_491_200_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str, default: i64| -> i64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let (db, format, days) = (&args[i + 1], &args[i + 2], &args[i + 3]);
        runtime.block_on(child(
            Path::new(db),
            Format::parse(format).unwrap(),
            days.parse().unwrap(),
        ));
        return;
    }
    let endpoints = value("--endpoints", 1000);
    let days = value("--days", 365);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/heartline-report-bench");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("history-{endpoints}x{days}d.db"));
    // A cache from an older schema (or a damaged one) is rebuilt.
    if db.exists() && runtime.block_on(Store::open(&db)).is_err() {
        println!(
            "rebuilding {}: it does not open with this schema",
            db.display()
        );
        let _ = std::fs::remove_file(&db);
    }
    if !db.exists() {
        let started = Instant::now();
        let partial = db.with_extension("partial.db");
        let _ = std::fs::remove_file(&partial);
        let rows = runtime.block_on(generate(&partial, endpoints, days));
        std::fs::rename(&partial, &db).unwrap();
        let _ = std::fs::rename(
            partial.with_extension("db-wal"),
            db.with_extension("db-wal"),
        );
        println!(
            "generated {} ({rows} history rows) in {:.1?}",
            db.display(),
            started.elapsed()
        );
    }
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!(
        "database: {} endpoints, {days} days, {:.0} MiB",
        endpoints,
        size as f64 / 1_048_576.0
    );
    println!(
        "machine: {} CPUs, load average {} at start",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg()
    );
    println!();
    println!("format  window  events      time       CPU     peak RSS  RSS before export  output");
    for window in [7, 30] {
        for format in ["md", "csv", "json", "ndjson", "html"] {
            let out = Command::new(std::env::current_exe().unwrap())
                .args(["--child", db.to_str().unwrap(), format, &window.to_string()])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
    println!();
    println!("load average {} at end", loadavg());
}

/// One export in this process; prints one line of the table.
async fn child(db: &Path, format: Format, days: i64) {
    let store = Store::open(db).await.unwrap();
    // The full integrity check of a large file runs in the background after opening; let it
    // finish so the export is measured alone.
    store.wait_integrity().await;
    let before = status("VmRSS:");
    let cpu_before = cpu_ticks();
    let out_path = db.with_extension(format!("{}d.{}", days, format.name()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&out_path).unwrap());
    let started = Instant::now();
    let summary = export(
        &store,
        &Selection::all(Timestamp(END - days * DAY), Timestamp(END)),
        &Options {
            format,
            zone: Zone::Utc,
            now: Timestamp(END),
        },
        &mut file,
        &|_| {},
    )
    .await
    .unwrap();
    std::io::Write::flush(&mut file).unwrap();
    let elapsed = started.elapsed();
    let cpu = cpu_ticks().saturating_sub(cpu_before) as f64 / 100.0;
    let size = std::fs::metadata(&out_path).map(|m| m.len()).unwrap_or(0);
    // HEARTLINE_BENCH_KEEP=1 keeps the output (to compare bytes before and after a change).
    if std::env::var_os("HEARTLINE_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_file(&out_path);
    }
    println!(
        "{:<6}  {:>4} d  {:>8}  {:>6.2} s  {:>6.2} s  {:>7.1} MiB  {:>13.1} MiB  {:>6.1} MiB",
        format.name(),
        days,
        summary.events_exported,
        elapsed.as_secs_f64(),
        cpu,
        status("VmHWM:") as f64 / 1024.0,
        before as f64 / 1024.0,
        size as f64 / 1_048_576.0
    );
}

/// User and system CPU time of this process (every thread) in clock ticks of 10 ms.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th
    // and 13th.
    stat.rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|v| v.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0)
}

/// A `/proc/self/status` figure in KiB.
fn status(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// A small deterministic generator (xorshift64*), so every run builds the same history.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Endpoint behaviours: most are steady (one or two session ends a day from deploys and
/// network blips), a fifth are flaky (several drops a day, a failed handshake, a short outage
/// every few days), and one in twenty sits behind a proxy that cuts idle sessions hourly.
fn profile(id: i64) -> (u64, bool) {
    match id % 20 {
        0 => (24, false),
        1..=4 => (6, true),
        _ => (2, false),
    }
}

/// Writes the history with bulk inserts; returns the number of event and state rows.
async fn generate(path: &Path, endpoints: i64, days: i64) -> u64 {
    let store = Store::open(path).await.unwrap();
    let secrets = Secrets::File(PathBuf::new());
    let list: Vec<Endpoint> = (0..endpoints)
        .map(|i| {
            let mut e = Endpoint::new(
                format!("ep-{i:04}"),
                format!("wss://host{}.example.com/feed/{i}", i % 50),
            );
            e.tags = vec![format!("team-{}", i % 10)];
            e
        })
        .collect();
    store.import_endpoints(&list, &secrets).await.unwrap();
    store.close().await;

    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Off),
    )
    .await
    .unwrap();
    let start = END - days * DAY;
    sqlx::query("INSERT INTO agent_runs (started_at, last_seen, stopped_at) VALUES (?, ?, ?)")
        .bind(start)
        .bind(END)
        .bind(END)
        .execute(&mut conn)
        .await
        .unwrap();
    let mut rollup = Rollup::default();
    for us in [18_000u64, 21_000, 25_000, 40_000, 95_000] {
        rollup.record(Duration::from_micros(us));
    }
    let histogram = rollup.histogram.encode();
    let connected = r#"{"peer":"192.0.2.1:443","dns_us":1200,"tcp_us":9800,"tls_us":21400,"upgrade_us":12100,"subprotocol":null,"extensions":[]}"#;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut rows = 0u64;
    let mut seq = 1i64;
    for id in 1..=endpoints {
        let mut tx = conn.begin().await.unwrap();
        let (drops, flaky) = profile(id);
        sqlx::query("INSERT INTO states (endpoint_id, ts, seq, state) VALUES (?, ?, ?, 'up')")
            .bind(id)
            .bind(start)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .unwrap();
        seq += 1;
        for day in 0..days {
            let day_start = start + day * DAY;
            let n = drops / 2 + rng.below(drops + 1);
            let mut times: Vec<i64> = (0..n)
                .map(|_| day_start + rng.below(DAY as u64 - 120_000) as i64)
                .collect();
            times.sort_unstable();
            for t in times {
                let (code, initiator, reason) = match rng.below(10) {
                    0 => (1012, "server", "service restart"),
                    1 => (1001, "server", "going away"),
                    _ => (1006, "network", "connection reset by peer"),
                };
                let detail = format!(
                    r#"{{"clean":{},"session_ms":{},"silent_ms":{},"messages_in":120,"bytes_in":48000,"messages_out":3,"bytes_out":180}}"#,
                    initiator == "server",
                    3_600_000 + rng.below(3_600_000),
                    if drops == 24 {
                        60_000
                    } else {
                        rng.below(20_000)
                    }
                );
                for (ts, kind, c, st, ph, init, cause, rsn, att, delay, det) in [
                    (
                        t,
                        "closed",
                        Some(code),
                        None,
                        None,
                        Some(initiator),
                        None,
                        Some(reason),
                        None,
                        None,
                        Some(detail.as_str()),
                    ),
                    (
                        t,
                        "reconnect_scheduled",
                        None,
                        None,
                        None,
                        None,
                        Some("backoff"),
                        None,
                        Some(1),
                        Some(800),
                        None,
                    ),
                    (
                        t + 900,
                        "connected",
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        Some(1),
                        None,
                        Some(connected),
                    ),
                ] {
                    insert(
                        &mut tx, id, ts, seq, kind, c, st, ph, init, cause, rsn, att, delay, det,
                    )
                    .await;
                    seq += 1;
                    rows += 1;
                }
            }
            if flaky {
                let t = day_start + rng.below(DAY as u64 - 3_600_000) as i64;
                insert(
                    &mut tx,
                    id,
                    t,
                    seq,
                    "handshake_failed",
                    None,
                    Some(502),
                    Some("http"),
                    None,
                    None,
                    Some("502 Bad Gateway"),
                    None,
                    None,
                    Some(r#"{"elapsed_ms":40}"#),
                )
                .await;
                seq += 1;
                rows += 1;
                if day % 3 == 0 {
                    let (down, up) = (t + 1_000, t + 60_000 + rng.below(600_000) as i64);
                    for (ts, state) in [(down, "down"), (up, "up")] {
                        sqlx::query(
                            "INSERT INTO states (endpoint_id, ts, seq, state) VALUES (?, ?, ?, ?)",
                        )
                        .bind(id)
                        .bind(ts)
                        .bind(seq)
                        .bind(state)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                        seq += 1;
                        rows += 1;
                    }
                    sqlx::query("INSERT INTO incidents (endpoint_id, kind, started_at, ended_at, ended_by_pause, detect_ms, summary) VALUES (?, 'down', ?, ?, 0, 1000, ?)")
                        .bind(id)
                        .bind(down)
                        .bind(up)
                        .bind(r#"{"close_codes":[[1006,1]],"handshake_failures":[["http",502,1]],"reconnect_attempts":3,"rtt_before_us":21000,"events":6}"#)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
            }
            // RTT rollups: a day row for every day, hour rows for the last 35 days.
            let day_no = day_start / DAY;
            sqlx::query("INSERT INTO rtt_day (endpoint_id, kind, day, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us, histogram) VALUES (?, 0, ?, 5760, 18000, 95000, 126720000, 21000, 40000, 95000, ?)")
                .bind(id)
                .bind(day_no)
                .bind(&histogram)
                .execute(&mut *tx)
                .await
                .unwrap();
            if day >= days - 35 {
                for h in 0..24 {
                    sqlx::query("INSERT INTO rtt_hour (endpoint_id, kind, hour, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us, histogram) VALUES (?, 0, ?, 240, 18000, 95000, 5280000, 21000, 40000, 95000, ?)")
                        .bind(id)
                        .bind(day_no * 24 + h)
                        .bind(&histogram)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                }
            }
        }
        tx.commit().await.unwrap();
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    rows
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    tx: &mut sqlx::SqliteConnection,
    id: i64,
    ts: i64,
    seq: i64,
    kind: &str,
    code: Option<i64>,
    status: Option<i64>,
    phase: Option<&str>,
    initiator: Option<&str>,
    cause: Option<&str>,
    reason: Option<&str>,
    attempt: Option<i64>,
    delay_ms: Option<i64>,
    detail: Option<&str>,
) {
    sqlx::query(
        "INSERT INTO events (endpoint_id, ts, seq, kind, code, status, phase, initiator, cause, reason, attempt, delay_ms, detail) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ts)
    .bind(seq)
    .bind(kind)
    .bind(code)
    .bind(status)
    .bind(phase)
    .bind(initiator)
    .bind(cause)
    .bind(reason)
    .bind(attempt)
    .bind(delay_ms)
    .bind(detail)
    .execute(tx)
    .await
    .unwrap();
}
