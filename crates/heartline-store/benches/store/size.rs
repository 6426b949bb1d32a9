//! Section 2: Database size per endpoint after a simulated year, at 1 s and at 30 s heartbeats, with
//! the default retention: every round trip of the year goes through `Recorder::emit`.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use heartline_core::Timestamp;
use heartline_probe::Sink;
use heartline_store::{Recorder, RecorderOptions, Retention, Store, WriterHealth};

use crate::fleet::{EndpointSim, Mix};
use crate::util::{
    db_sizes, kib, mib, now_ms, progress, secs, thousands, Report, TempDir, DAY_MS, MINUTE_MS,
    WEEK_MS, YEAR_MS,
};
use crate::BoxResult;

pub const TABLES: [&str; 11] = [
    "rtt_minute",
    "rtt_minute_packed",
    "rtt_hour",
    "rtt_hour_packed",
    "rtt_day",
    "events",
    "sessions",
    "states",
    "incidents",
    "agent_runs",
    "endpoints",
];

pub struct Config {
    /// Simulated history, ending now.
    pub span_ms: i64,
    /// Endpoints per database at most (the 1 s count may be lowered after calibration).
    pub endpoints: usize,
    /// Wall-clock budget for emitting one 1 s database's samples.
    pub emit_budget: Duration,
}

/// In words, for the report.
pub fn describe_year_mix() -> String {
    let m = year_mix();
    format!(
        "per day {} session lost (closed 1006 → reconnect_scheduled → connected) and {} server \
         restart (closed 1012 → reconnect_scheduled → connected); per week {} outage of 2–30 min \
         (pongs stop, Heartline closes for pong timeout, reconnects fail with backoff: \
         Up→Degraded→Down→Up), {} latency incident (round trips of 1.2–3 s for 2–10 min: \
         Up→Degraded→Up) and {:.0} missed pong (Up→Degraded→Up)",
        m.drops_per_day,
        m.restarts_per_day,
        m.outages_per_week,
        m.slow_per_week,
        m.missed_per_day * 7.0
    )
}

/// A few session drops a day, a weekly incident.
pub fn year_mix() -> Mix {
    Mix {
        drops_per_day: 2.0,
        restarts_per_day: 1.0,
        missed_per_day: 1.0 / 7.0,
        outages_per_week: 1.0,
        slow_per_week: 0.5,
    }
}

struct Emitted {
    samples: u64,
    events: BTreeMap<&'static str, u64>,
    emit_time: Duration,
}

struct SimResult {
    endpoints: usize,
    interval_s: i64,
    emitted: Emitted,
    wall: Duration,
    writer_rows: u64,
    writer_dropped: u64,
    recorder_dropped: u64,
    deleted: Vec<(&'static str, u64)>,
    before_retention: (u64, u64),
    after_retention: u64,
    free_after_retention: u64,
    vacuum: Duration,
    after_vacuum: u64,
    rows: Vec<(&'static str, u64)>,
    bytes: Vec<(String, u64)>,
    /// Average histogram bytes of an hour and a day row.
    histogram: (f64, f64),
    /// Events by kind: rows, average `detail` JSON bytes.
    kinds: Vec<(String, u64, f64)>,
}

pub async fn run(report: &mut Report, cfg: &Config) -> BoxResult<()> {
    let dir = TempDir::new("size")?;
    let now = now_ms();

    // Calibrate: 30 simulated days of one 1 s endpoint.
    progress("2. size: calibrating emission");
    let calib_span = (30 * DAY_MS).min(cfg.span_ms);
    let calib = simulate(&dir.join("calibrate.db"), 1, 1_000, calib_span, now, false).await?;
    let ns_per_sample =
        calib.emitted.emit_time.as_secs_f64() * 1e9 / calib.emitted.samples.max(1) as f64;
    let minutes = calib_span / MINUTE_MS;
    let writer_us_per_minute =
        (calib.wall - calib.emitted.emit_time).as_secs_f64() * 1e6 / minutes.max(1) as f64;
    let samples_1s = cfg.span_ms / 1000;
    let emit_per_endpoint = ns_per_sample * samples_1s as f64 / 1e9;
    let n_1s = ((cfg.emit_budget.as_secs_f64() / emit_per_endpoint).floor() as usize)
        .clamp(1, cfg.endpoints);

    // The schema's fixed cost: a new database as `Store::open` leaves it, VACUUMed (every table
    // and index holds at least one page whatever the number of endpoints).
    let empty = {
        let path = dir.join("empty.db");
        Store::open(&path).await?.close().await;
        let mut conn = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .disable_statement_logging()
            .connect()
            .await?;
        sqlx::query("VACUUM").execute(&mut conn).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let (db, wal) = db_sizes(&path);
        db + wal
    };

    let span_days = cfg.span_ms as f64 / DAY_MS as f64;
    progress(format!(
        "2. size: {ns_per_sample:.0} ns/sample → {n_1s} endpoints at 1 s, {} at 30 s, {span_days:.0} days",
        cfg.endpoints
    ));
    let one = simulate(
        &dir.join("one-second.db"),
        n_1s,
        1_000,
        cfg.span_ms,
        now,
        true,
    )
    .await?;
    let thirty = simulate(
        &dir.join("thirty-seconds.db"),
        cfg.endpoints,
        30_000,
        cfg.span_ms,
        now,
        true,
    )
    .await?;

    report.line("## 2. Database size per endpoint after a simulated year (default retention)");
    report.blank();
    report.line(format!(
        "A history of {span_days:.0} days ending now, per endpoint: one protocol round trip per \
         heartbeat (log-normal σ 0.25 around a per-endpoint median of 8–80 ms, ±15 % daily swing, \
         0.3 % spikes ×4–20, 1.2–3 s during latency incidents, none while disconnected), plus \
         {}. Every sample and event goes through `Recorder::emit` with its simulated timestamp, \
         in time order, endpoints interleaved; the writer runs with \
         `RecorderOptions::default()`. Emission is paced: after each chunk of simulated time \
         (at most 4 weeks) the generator waits for two writer batches, so nothing queues up \
         (dropped counts below). Then `Store::apply_retention(&Retention::default(), now)`, a \
         WAL checkpoint, then `VACUUM`, both on a separate connection.",
        describe_year_mix()
    ));
    report.blank();
    report.line(format!(
        "Calibration: {} samples of one endpoint emitted at {ns_per_sample:.0} ns/sample \
         (round-trip sampling + `Recorder::emit`: minute rollup and incident tracker); the writer \
         then took {writer_us_per_minute:.0} µs of wall time per minute of history (its minute \
         row and hour/day upserts; an upper bound, the 1 s tick waits are included). A 1 s endpoint-year is {} samples ≈ {:.1} s of emission, so {} \
         endpoint(s) at 1 s fit the {:.0} s budget (at most {}).",
        thousands(calib.emitted.samples),
        thousands(u64::try_from(samples_1s).unwrap_or(0)),
        emit_per_endpoint,
        n_1s,
        cfg.emit_budget.as_secs_f64(),
        cfg.endpoints
    ));
    report.blank();

    let results = [&one, &thirty];
    let per = |r: &SimResult, v: u64| v as f64 / r.endpoints as f64;
    let header: Vec<String> = results
        .iter()
        .map(|r| format!("{} × {} s", r.endpoints, r.interval_s))
        .collect();
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |label: &str, f: &dyn Fn(&SimResult) -> String| {
        let mut cells = vec![label.to_owned()];
        cells.extend(results.iter().map(|r| f(r)));
        rows.push(cells);
    };
    row("samples emitted", &|r| thousands(r.emitted.samples));
    row("other events emitted", &|r| {
        thousands(r.emitted.events.values().sum())
    });
    row("emission time (ns/sample)", &|r| {
        format!(
            "{} ({:.0})",
            secs(r.emitted.emit_time),
            r.emitted.emit_time.as_secs_f64() * 1e9 / r.emitted.samples.max(1) as f64
        )
    });
    row("wall time incl. writer", &|r| secs(r.wall));
    row("rows written by the writer", &|r| thousands(r.writer_rows));
    row("recorder dropped / writer dropped", &|r| {
        format!("{} / {}", r.recorder_dropped, r.writer_dropped)
    });
    row("file when writing ended (db + wal)", &|r| {
        format!(
            "{} + {}",
            mib(r.before_retention.0),
            mib(r.before_retention.1)
        )
    });
    row("rows deleted by retention", &|r| {
        r.deleted
            .iter()
            .map(|(t, n)| format!("{t} {}", thousands(*n)))
            .collect::<Vec<_>>()
            .join(", ")
    });
    row(
        "file after retention + checkpoint (of which free pages)",
        &|r| {
            format!(
                "{} ({})",
                mib(r.after_retention),
                mib(r.free_after_retention)
            )
        },
    );
    row("VACUUM time", &|r| secs(r.vacuum));
    row("file after VACUUM", &|r| mib(r.after_vacuum));
    row("per endpoint after VACUUM (file / endpoints)", &|r| {
        kib(per(r, r.after_vacuum))
    });
    row(
        "empty database (the schema's fixed cost, once per file)",
        &|_| kib(empty as f64),
    );
    row("**per endpoint after VACUUM, fixed cost apart**", &|r| {
        format!("**{}**", kib(per(r, r.after_vacuum.saturating_sub(empty))))
    });
    if cfg.span_ms >= YEAR_MS {
        row(
            "per endpoint at the 5-year steady state (projection)",
            &|r| kib(steady_state(r) / r.endpoints as f64),
        );
    }
    for table in TABLES {
        row(&format!("rows: {table} (per endpoint)"), &|r| {
            let n = r
                .rows
                .iter()
                .find(|(t, _)| *t == table)
                .map_or(0, |(_, n)| *n);
            format!("{} ({:.0})", thousands(n), per(r, n))
        });
    }
    row("average histogram bytes: hour row / day row", &|r| {
        format!("{:.0} / {:.0}", r.histogram.0, r.histogram.1)
    });
    for name in BIG.iter().copied().chain(["other (schema, small tables)"]) {
        row(&format!("bytes per endpoint: {name}"), &|r| {
            kib(per(r, bytes_of(r, name)))
        });
    }
    let mut head = vec!["after VACUUM unless said"];
    head.extend(header.iter().map(String::as_str));
    report.table(&head, &rows);
    let mut kinds: Vec<String> = Vec::new();
    for r in results {
        for (k, _, _) in &r.kinds {
            if !kinds.contains(k) {
                kinds.push(k.clone());
            }
        }
    }
    let kind_rows: Vec<Vec<String>> = kinds
        .iter()
        .map(|k| {
            let mut cells = vec![k.clone()];
            cells.extend(results.iter().map(|r| {
                r.kinds
                    .iter()
                    .find(|(name, _, _)| name == k)
                    .map_or("0".into(), |(_, n, d)| {
                        format!("{:.0} ({d:.0} B)", per(r, *n))
                    })
            }));
            cells
        })
        .collect();
    let mut head = vec!["events per endpoint by kind (average detail JSON)"];
    head.extend(header.iter().map(String::as_str));
    report.table(&head, &kind_rows);
    report.line(
        "Bytes per table come from the `dbstat` virtual table (pages × page size, after VACUUM, \
         indexes listed separately); `endpoints` is empty here (a configuration row is a few \
         hundred bytes). The 5-year projection is arithmetic, not a measurement: minute and hour \
         rollups as measured (their retention is 7 days and 1 year), everything kept 5 years \
         (events, sessions, states, incidents and their indexes) × 5, day rollups once plus \
         4 more years of day rows without their histogram (dropped after 31 days), the small \
         tables once.",
    );
    report.blank();
    Ok(())
}

/// Tables and indexes reported one by one; the rest are grouped.
const BIG: [&str; 14] = [
    "rtt_minute",
    "rtt_minute_packed",
    "rtt_hour",
    "rtt_hour_packed",
    "rtt_day",
    "events",
    "events_closed_by_time",
    "sessions",
    "states",
    "incidents",
    "incidents_by_endpoint",
    "incidents_by_time",
    "agent_runs",
    "close_counts",
];

/// Kept five years by the default retention.
const FIVE_YEARS: [&str; 9] = [
    "rtt_day",
    "events",
    "events_closed_by_time",
    "sessions",
    "states",
    "incidents",
    "incidents_by_endpoint",
    "incidents_by_time",
    "close_counts",
];

fn bytes_of(r: &SimResult, name: &str) -> u64 {
    if BIG.contains(&name) {
        r.bytes
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, b)| *b)
    } else {
        r.bytes
            .iter()
            .filter(|(n, _)| !BIG.contains(&n.as_str()))
            .map(|(_, b)| *b)
            .sum()
    }
}

/// The file after five years of this history: five-year tables × 5, the rest as measured.
fn steady_state(r: &SimResult) -> f64 {
    let total: u64 = r.bytes.iter().map(|(_, b)| *b).sum();
    let five: u64 = FIVE_YEARS
        .iter()
        .filter(|n| **n != "rtt_day")
        .map(|n| bytes_of(r, n))
        .sum();
    // Day rows older than 31 days keep no histogram: the four older years' day rows are this
    // year's without their histogram bytes.
    let day_rows = r
        .rows
        .iter()
        .find(|(n, _)| *n == "rtt_day")
        .map_or(0, |(_, n)| *n);
    let old_days = (bytes_of(r, "rtt_day") as f64 - day_rows as f64 * r.histogram.1).max(0.0);
    total as f64 + 4.0 * (five as f64 + old_days)
}

/// Emits `span` of history ending at `now` for `n` endpoints into a new database at `path`;
/// with `finish`, then applies retention and VACUUMs, measuring the file at each step.
async fn simulate(
    path: &Path,
    n: usize,
    interval_ms: i64,
    span: i64,
    now: i64,
    finish: bool,
) -> BoxResult<SimResult> {
    let started = Instant::now();
    let store = Store::open(path).await?;
    let (recorder, handle) = store.record(RecorderOptions::default()).await?;
    let health = handle.health().clone();
    let from = now - span;
    let sims: Vec<EndpointSim> = (0..n)
        .map(|i| EndpointSim::new(i as u64 + 1, 7, from, interval_ms, year_mix()))
        .collect();
    // Enough simulated time per chunk for real work, few enough minutes to stay far below
    // the writer's 1,000,000 pending rollups.
    let chunk = (200_000 / n as i64 * MINUTE_MS).clamp(DAY_MS, 4 * WEEK_MS);
    let emitter = {
        let recorder = recorder.clone();
        let health = health.clone();
        tokio::task::spawn_blocking(move || {
            emit(&recorder, &health, sims, from, now, interval_ms, chunk)
        })
    };
    let emitted = emitter.await??;
    handle.shutdown().await?;
    let wall = started.elapsed();
    let mut result = SimResult {
        endpoints: n,
        interval_s: interval_ms / 1000,
        emitted,
        wall,
        writer_rows: health.rows(),
        writer_dropped: health.dropped(),
        recorder_dropped: recorder.dropped(),
        deleted: Vec::new(),
        before_retention: db_sizes(path),
        after_retention: 0,
        free_after_retention: 0,
        vacuum: Duration::ZERO,
        after_vacuum: 0,
        rows: Vec::new(),
        bytes: Vec::new(),
        histogram: (0.0, 0.0),
        kinds: Vec::new(),
    };
    if !finish {
        store.close().await;
        return Ok(result);
    }
    progress(format!(
        "2. size: {n} × {} s emitted in {}, retention + VACUUM",
        interval_ms / 1000,
        secs(wall)
    ));
    let report = store
        .apply_retention(&Retention::default(), Timestamp(now))
        .await?;
    result.deleted = report.deleted;
    store.close().await;

    let mut conn = SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .disable_statement_logging()
        .connect()
        .await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await?;
    let (db, wal) = db_sizes(path);
    result.after_retention = db + wal;
    let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
        .fetch_one(&mut conn)
        .await?;
    let page: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut conn)
        .await?;
    result.free_after_retention = (free * page).max(0).unsigned_abs();
    let t = Instant::now();
    sqlx::query("VACUUM").execute(&mut conn).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await?;
    result.vacuum = t.elapsed();
    let (db, wal) = db_sizes(path);
    result.after_vacuum = db + wal;
    result.rows = count_rows_on(&mut conn).await?;
    result.bytes = table_bytes(&mut conn).await.unwrap_or_default();
    result.histogram = sqlx::query_as(
        "SELECT (SELECT coalesce(avg(length(histogram)), 0.0) FROM rtt_hour), \
                (SELECT coalesce(avg(length(histogram)), 0.0) FROM rtt_day)",
    )
    .fetch_one(&mut conn)
    .await?;
    let kinds: Vec<(String, i64, f64)> = sqlx::query_as(
        "SELECT kind, count(*), coalesce(avg(length(detail)), 0.0) FROM events GROUP BY kind ORDER BY count(*) DESC",
    )
    .fetch_all(&mut conn)
    .await?;
    result.kinds = kinds
        .into_iter()
        .map(|(k, n, d)| (k, n.max(0).unsigned_abs(), d))
        .collect();
    conn.close().await?;
    Ok(result)
}

fn emit(
    recorder: &Arc<Recorder>,
    health: &Arc<WriterHealth>,
    mut sims: Vec<EndpointSim>,
    from: i64,
    to: i64,
    interval_ms: i64,
    chunk: i64,
) -> Result<Emitted, String> {
    let mut out = Emitted {
        samples: 0,
        events: BTreeMap::new(),
        emit_time: Duration::ZERO,
    };
    let n = sims.len() as i64;
    let mut t = from;
    while t < to {
        let chunk_end = (t + chunk).min(to);
        let began = Instant::now();
        while t < chunk_end {
            for (i, sim) in sims.iter_mut().enumerate() {
                // Endpoints spread over the interval, as their sessions would be.
                let at = t + interval_ms * i as i64 / n;
                sim.events_until(at, &mut |e| {
                    *out.events.entry(e.kind.name()).or_default() += 1;
                    recorder.emit(e);
                });
                if let Some(e) = sim.rtt_at(at) {
                    out.samples += 1;
                    recorder.emit(e);
                }
            }
            t += interval_ms;
        }
        out.emit_time += began.elapsed();
        // Two more batches: the second began after this chunk was complete.
        let target = health.batches() + 2;
        let wait = Instant::now();
        while health.batches() < target {
            if wait.elapsed() > Duration::from_secs(300) {
                return Err(format!(
                    "the writer made no progress for 300 s (last error: {:?})",
                    health.last_error()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // The rest of every scenario in progress (up to now).
    for sim in &mut sims {
        sim.events_until(to, &mut |e| {
            *out.events.entry(e.kind.name()).or_default() += 1;
            recorder.emit(e);
        });
    }
    Ok(out)
}

/// Rows per table of the database at `path` (read-only).
pub async fn count_rows(path: &Path) -> BoxResult<Vec<(&'static str, u64)>> {
    let mut conn = SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        .read_only(true)
        .disable_statement_logging()
        .connect()
        .await?;
    let rows = count_rows_on(&mut conn).await?;
    conn.close().await?;
    Ok(rows)
}

pub async fn count_rows_on(
    conn: &mut sqlx::SqliteConnection,
) -> BoxResult<Vec<(&'static str, u64)>> {
    let mut out = Vec::new();
    for table in TABLES {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&mut *conn)
            .await?;
        out.push((table, n.max(0).unsigned_abs()));
    }
    Ok(out)
}

/// Bytes per table and index, largest first (needs SQLite's dbstat virtual table).
pub async fn table_bytes(conn: &mut sqlx::SqliteConnection) -> BoxResult<Vec<(String, u64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY sum(pgsize) DESC",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(n, b)| (n, b.max(0).unsigned_abs()))
        .collect())
}
