//! Section 1: The writer at fleet scale, in real time: 10,000 endpoints pinged every second for 60 s,
//! plus the rare events of a real fleet, through `Recorder::emit` as the engine calls it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use heartline_probe::Sink;
use heartline_store::{Recorder, RecorderOptions, Store, WriterHealth};

use crate::fleet::{EndpointSim, Mix};
use crate::util::{
    current_tid, now_ms, percentile, process_ticks, progress, rss_mib, thousands, thread_ticks,
    threads_named, Report, TempDir, CLOCK_TICKS,
};
use crate::BoxResult;

pub struct Config {
    pub endpoints: u64,
    pub measure: Duration,
    /// Run past the first minute boundary before measuring, so the window shows the steady
    /// state rather than the first (cold) minute flush and the startup burst.
    pub warm_up: bool,
    pub sample_every: u64,
}

/// Rates per endpoint per hour.
const DROP_PER_HOUR: f64 = 0.03;
const RESTART_PER_HOUR: f64 = 0.01;
const MISSED_PER_HOUR: f64 = 0.02;
const OUTAGE_PER_HOUR: f64 = 0.002;
const SLOW_PER_HOUR: f64 = 0.005;

struct Ready {
    tid: Option<u64>,
    recorder: Arc<Recorder>,
    health: Arc<WriterHealth>,
}

#[derive(Default)]
struct GenStats {
    rtt: u64,
    events: BTreeMap<&'static str, u64>,
    max_lag_ms: u64,
    ticks: u64,
}

/// One reading, taken every second.
struct Sample {
    at: f64,
    rows: u64,
    batches: u64,
    pending: u64,
    writer_dropped: u64,
    recorder_dropped: u64,
    writer_ticks: u64,
    sqlite: BTreeMap<u64, u64>,
    gen_ticks: u64,
    process_ticks: u64,
    rss: f64,
}

impl Sample {
    /// SQLite worker ticks used since `earlier`, over threads alive in both readings.
    fn sqlite_since(&self, earlier: &Sample) -> u64 {
        self.sqlite
            .iter()
            .map(|(tid, t)| t.saturating_sub(*earlier.sqlite.get(tid).unwrap_or(t)))
            .sum()
    }
}

pub fn run(report: &mut Report, rt: &tokio::runtime::Runtime, cfg: &Config) -> BoxResult<()> {
    let dir = TempDir::new("writer")?;
    let path = dir.join("heartline.db");
    let n = cfg.endpoints;
    let warm_up_secs = if cfg.warm_up {
        // Past the next minute boundary, plus time for its flush.
        let now = now_ms();
        let boundary = (now / 60_000 + 1) * 60_000;
        u64::try_from((boundary - now) / 1000 + 6).unwrap_or(6)
    } else {
        0
    };
    let total_secs = warm_up_secs + cfg.measure.as_secs();
    progress(format!(
        "1. writer: {n} endpoints, {warm_up_secs} s warm-up + {} s measured",
        cfg.measure.as_secs()
    ));

    // The writer: its own thread, its own current-thread runtime.
    let (ready_tx, ready_rx) = mpsc::channel::<Ready>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let writer_path: PathBuf = path.clone();
    let writer = std::thread::Builder::new().name("hl-writer".into()).spawn(
        move || -> Result<Duration, String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let store = Store::open(&writer_path).await.map_err(|e| e.to_string())?;
                let (recorder, handle) = store
                    .record(RecorderOptions::default())
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = ready_tx.send(Ready {
                    tid: current_tid(),
                    recorder,
                    health: handle.health().clone(),
                });
                let _ = stop_rx.await;
                let started = Instant::now();
                handle.shutdown().await.map_err(|e| e.to_string())?;
                let took = started.elapsed();
                store.close().await;
                Ok(took)
            })
        },
    )?;
    let ready = ready_rx.recv()?;
    let writer_tid = ready.tid.ok_or("no /proc/thread-self")?;

    // The generator: another thread, paced by the wall clock.
    let finished = Arc::new(AtomicBool::new(false));
    let (gen_tid_tx, gen_tid_rx) = mpsc::channel::<Option<u64>>();
    let generator = {
        let recorder = ready.recorder.clone();
        let finished = finished.clone();
        std::thread::Builder::new()
            .name("hl-gen".into())
            .spawn(move || {
                let _ = gen_tid_tx.send(current_tid());
                let stats = generate(&recorder, n, Duration::from_secs(total_secs));
                finished.store(true, Ordering::Release);
                stats
            })?
    };
    let gen_tid = gen_tid_rx.recv()?.ok_or("no generator tid")?;

    // Sample every second while it runs.
    let started = Instant::now();
    // A thread that has exited keeps its last reading.
    let last_writer = std::cell::Cell::new(0u64);
    let last_gen = std::cell::Cell::new(0u64);
    let take = |at: f64| Sample {
        at,
        rows: ready.health.rows(),
        batches: ready.health.batches(),
        pending: ready.health.pending(),
        writer_dropped: ready.health.dropped(),
        recorder_dropped: ready.recorder.dropped(),
        writer_ticks: {
            last_writer.set(thread_ticks(writer_tid).unwrap_or(last_writer.get()));
            last_writer.get()
        },
        sqlite: threads_named("sqlx-sqlite-wor")
            .into_iter()
            .filter_map(|tid| Some((tid, thread_ticks(tid)?)))
            .collect(),
        gen_ticks: {
            last_gen.set(thread_ticks(gen_tid).unwrap_or(last_gen.get()));
            last_gen.get()
        },
        process_ticks: process_ticks().unwrap_or(0),
        rss: rss_mib().unwrap_or(0.0),
    };
    let mut samples = vec![take(0.0)];
    let mut k = 1u64;
    loop {
        let due = started + Duration::from_secs(k);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        samples.push(take(started.elapsed().as_secs_f64()));
        if finished.load(Ordering::Acquire) && k >= total_secs {
            break;
        }
        k += 1;
        if k > total_secs + 30 {
            return Err("the generator did not finish".into());
        }
    }
    let gen = generator.join().map_err(|_| "generator panicked")?;
    let _ = stop_tx.send(());
    let shutdown = writer.join().map_err(|_| "writer panicked")??;
    let after_shutdown = take(started.elapsed().as_secs_f64());
    let tables = rt.block_on(crate::size::count_rows(&path))?;

    // ---- report
    let w0 = usize::try_from(warm_up_secs)
        .unwrap_or(0)
        .min(samples.len() - 1);
    let first = &samples[w0];
    let last = samples.last().ok_or("no samples")?;
    let window = last.at - first.at;
    let pct = |ticks: u64| ticks as f64 / CLOCK_TICKS / window * 100.0;
    let writer_rt = pct(last.writer_ticks - first.writer_ticks);
    let writer_sql = pct(last.sqlite_since(first));
    let per_second: Vec<f64> = samples[w0..]
        .windows(2)
        .map(|p| {
            let dt = p[1].at - p[0].at;
            ((p[1].writer_ticks - p[0].writer_ticks) + p[1].sqlite_since(&p[0])) as f64
                / CLOCK_TICKS
                / dt
                * 100.0
        })
        .collect();
    let peak = per_second.iter().copied().fold(0.0f64, f64::max);
    let flushes: Vec<String> = samples[w0..]
        .windows(2)
        .filter(|p| p[1].rows - p[0].rows >= n)
        .map(|p| {
            format!(
                "{} rows committed between t={:.0} s and t={:.0} s",
                thousands(p[1].rows - p[0].rows),
                p[0].at,
                p[1].at
            )
        })
        .collect();

    report.line("## 1. Writer throughput with the engine's event mix (real time)");
    report.blank();
    report.line(format!(
        "{} endpoints, protocol ping every 1 s each ({} round trips/s spread evenly over each \
         second, log-normal around a per-endpoint median of 8–80 ms), emitted through \
         `heartline_probe::Sink::emit` on the `Recorder` from a generator thread; the writer \
         (`Store::record` with `RecorderOptions::default()`) runs in a current-thread tokio \
         runtime on its own thread. Rare events per endpoint per hour: {:.0} % session lost \
         (closed 1006 → reconnect_scheduled → connected), {:.0} % server restart (closed 1012 → \
         reconnect_scheduled → connected), {:.0} % one missed pong (pong_missed, Up→Degraded→Up), \
         {:.1} % latency incident (Up→Degraded→Up), {:.1} % outage (pongs stop, closed by \
         Heartline, failed reconnects with backoff for 2–30 min, Up→Degraded→Down→Up). At start \
         every endpoint emits connected and Connecting→Up.",
        thousands(n),
        thousands(n),
        DROP_PER_HOUR * 100.0,
        RESTART_PER_HOUR * 100.0,
        MISSED_PER_HOUR * 100.0,
        SLOW_PER_HOUR * 100.0,
        OUTAGE_PER_HOUR * 100.0,
    ));
    report.blank();
    if warm_up_secs > 0 {
        report.line(format!(
            "Warm-up {warm_up_secs} s (startup burst and the first, cold minute flush, which also \
             reads back every hour/day row), then a {:.0} s measured window. CPU is utime+stime \
             from /proc/self/task/<tid>/stat at {} ticks/s; the writer is its runtime thread plus \
             the SQLite worker thread sqlx runs each connection on.",
            window, CLOCK_TICKS
        ));
    } else {
        report.line(format!(
            "No warm-up (quick run): the {window:.0} s window includes the startup burst. CPU is \
             utime+stime from /proc/self/task/<tid>/stat at {CLOCK_TICKS} ticks/s; the writer is \
             its runtime thread plus the SQLite worker thread sqlx runs each connection on."
        ));
    }
    report.blank();

    let mut rows = Vec::new();
    let step = usize::try_from(cfg.sample_every.max(1)).unwrap_or(1);
    let mut i = 0;
    while i < samples.len() {
        let s = &samples[i];
        let prev = &samples[i.saturating_sub(step)];
        let dt = (s.at - prev.at).max(1e-9);
        let cpu = |ticks: u64| format!("{:.1}", ticks as f64 / CLOCK_TICKS / dt * 100.0);
        rows.push(vec![
            format!("{:.0}", s.at),
            if i < w0 { "warm-up" } else { "measured" }.to_owned(),
            thousands(s.rows),
            thousands(s.batches),
            thousands(s.pending),
            thousands(s.writer_dropped),
            thousands(s.recorder_dropped),
            if i == 0 {
                "–".into()
            } else {
                cpu((s.writer_ticks - prev.writer_ticks) + s.sqlite_since(prev))
            },
            if i == 0 {
                "–".into()
            } else {
                cpu(s.gen_ticks - prev.gen_ticks)
            },
            format!("{:.0}", s.rss),
        ]);
        if i + 1 == samples.len() {
            break;
        }
        i = (i + step).min(samples.len() - 1);
    }
    report.line(format!(
        "Sampled every {step} s (`WriterHealth` rows/batches/pending/dropped, `Recorder::dropped()`; \
         CPU % of one core over the preceding {step} s):"
    ));
    report.blank();
    report.table(
        &[
            "t (s)",
            "phase",
            "rows written",
            "batches",
            "pending",
            "writer dropped",
            "recorder dropped",
            "writer CPU %",
            "generator CPU %",
            "RSS MiB",
        ],
        &rows,
    );

    let events: u64 = gen.events.values().sum();
    let mix: Vec<String> = gen
        .events
        .iter()
        .map(|(k, v)| format!("{k} {}", thousands(*v)))
        .collect();
    let summary = vec![
        vec![
            "endpoints × heartbeat".into(),
            format!("{} × 1 s", thousands(n)),
        ],
        vec![
            "run (warm-up + measured)".into(),
            format!("{warm_up_secs} s + {window:.1} s"),
        ],
        vec![
            "round trips emitted (whole run)".into(),
            format!(
                "{} ({:.0}/s)",
                thousands(gen.rtt),
                gen.rtt as f64 / total_secs.max(1) as f64
            ),
        ],
        vec![
            "other events emitted (whole run)".into(),
            format!("{} ({})", thousands(events), mix.join(", ")),
        ],
        vec![
            "generator lag behind schedule (max)".into(),
            format!("{} ms", gen.max_lag_ms),
        ],
        vec![
            "rows written in the window".into(),
            format!(
                "{} in {} batches",
                thousands(last.rows - first.rows),
                thousands(last.batches - first.batches)
            ),
        ],
        vec![
            "batches of ≥ 1 row per endpoint (minute flushes)".into(),
            if flushes.is_empty() {
                "none in the window".into()
            } else {
                flushes.join("; ")
            },
        ],
        vec![
            "writer CPU, window average".into(),
            format!(
                "{:.1} % of one core (runtime thread {:.1} % + SQLite worker {:.1} %)",
                writer_rt + writer_sql,
                writer_rt,
                writer_sql
            ),
        ],
        vec![
            "writer CPU, 1-s peak / median".into(),
            format!("{:.0} % / {:.1} %", peak, percentile(&per_second, 0.5)),
        ],
        vec![
            "writer CPU during the warm-up (startup burst + first, cold minute flush)".into(),
            if w0 > 0 {
                format!(
                    "{:.2} s of CPU in {} s",
                    ((first.writer_ticks - samples[0].writer_ticks)
                        + first.sqlite_since(&samples[0])) as f64
                        / CLOCK_TICKS,
                    w0
                )
            } else {
                "no warm-up".into()
            },
        ],
        vec![
            "generator CPU (incl. Recorder::emit), window".into(),
            format!("{:.1} % of one core", pct(last.gen_ticks - first.gen_ticks)),
        ],
        vec![
            "generator CPU, whole run".into(),
            format!(
                "{:.1} % of one core",
                gen.ticks as f64 / CLOCK_TICKS / total_secs.max(1) as f64 * 100.0
            ),
        ],
        vec![
            "whole process CPU, window".into(),
            format!(
                "{:.1} % of one core",
                pct(last.process_ticks - first.process_ticks)
            ),
        ],
        vec![
            "pending (max over samples) / writer dropped / recorder dropped".into(),
            format!(
                "{} / {} / {}",
                thousands(samples.iter().map(|s| s.pending).max().unwrap_or(0)),
                thousands(after_shutdown.writer_dropped),
                thousands(after_shutdown.recorder_dropped)
            ),
        ],
        vec![
            "shutdown (flush everything, close)".into(),
            format!(
                "{:.0} ms, {} more rows",
                shutdown.as_secs_f64() * 1000.0,
                thousands(after_shutdown.rows - last.rows)
            ),
        ],
        vec![
            "rows in the database afterwards".into(),
            tables
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(t, n)| format!("{t} {}", thousands(*n)))
                .collect::<Vec<_>>()
                .join(", "),
        ],
    ];
    report.table(&["writer run", "measured"], &summary);
    Ok(())
}

/// Emits every endpoint's round trip once a second at its own offset, plus due events.
fn generate(recorder: &Recorder, n: u64, total: Duration) -> GenStats {
    let start_ms = now_ms();
    let mix = Mix::per_hour(
        DROP_PER_HOUR,
        RESTART_PER_HOUR,
        MISSED_PER_HOUR,
        OUTAGE_PER_HOUR,
        SLOW_PER_HOUR,
    );
    let mut sims: Vec<EndpointSim> = (0..n)
        .map(|i| EndpointSim::new(i + 1, 1, start_ms, 1_000, mix))
        .collect();
    let mut stats = GenStats::default();
    let ticks0 = current_tid().and_then(thread_ticks).unwrap_or(0);
    let started = Instant::now();
    let total_ms = u64::try_from(total.as_millis()).unwrap_or(u64::MAX);
    let slice = Duration::from_millis(10);
    let mut k: u64 = 0; // emissions so far; emission k is endpoint k % n in second k / n
    let mut slices = 0u32;
    loop {
        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        if elapsed >= total_ms {
            break;
        }
        let now = now_ms();
        loop {
            let due = (k / n) * 1000 + (k % n) * 1000 / n;
            if due > elapsed || due >= total_ms {
                break;
            }
            stats.max_lag_ms = stats.max_lag_ms.max(elapsed - due);
            let sim = &mut sims[usize::try_from(k % n).unwrap_or(0)];
            sim.events_until(now, &mut |e| {
                *stats.events.entry(e.kind.name()).or_default() += 1;
                recorder.emit(e);
            });
            if let Some(e) = sim.rtt_at(now) {
                stats.rtt += 1;
                recorder.emit(e);
            }
            k += 1;
        }
        slices += 1;
        let next = started + slice * slices;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    stats.ticks = current_tid()
        .and_then(thread_ticks)
        .unwrap_or(0)
        .saturating_sub(ticks0);
    stats
}
