//! The storage benchmark: `cargo bench -p heartline-store --bench store [-- --quick]`.
//!
//! 1. the writer in real time at fleet scale (CPU, backlog, drops);
//! 2. database size per endpoint after a simulated year at 1 s and 30 s heartbeats;
//! 3. dashboard query times on a simulated year of 1,000 endpoints.
//!
//! Prints a report and saves it as Markdown in `target/bench/store.md`. Figures only: nothing
//! here asserts on time.

mod fleet;
mod queries;
mod size;
mod throughput;
mod util;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use util::{loadavg, machine, progress, Report, DAY_MS, YEAR_MS};

pub type BoxResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() {
    if let Err(e) = run() {
        eprintln!("store bench failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> BoxResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--only=1,3` runs some sections (for working on one); unknown flags (cargo's --bench) are ignored.
    let only: Option<Vec<String>> = args
        .iter()
        .find_map(|a| a.strip_prefix("--only="))
        .map(|s| s.split(',').map(str::to_owned).collect());
    // `--keep` leaves the temp databases behind (for EXPLAIN by hand).
    if args.iter().any(|a| a == "--keep") {
        util::KEEP.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let wanted = |n: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| x == n));

    let started = Instant::now();
    let mut report = Report::default();
    report.line(format!(
        "# Store benchmark{}",
        if quick { " (quick: small sizes)" } else { "" }
    ));
    report.blank();
    report.line(format!("- machine: {}", machine()));
    report.line(format!("- load average at start: {}", loadavg()));
    report.line(format!(
        "- command: `cargo bench -p heartline-store --bench store{}`",
        if quick { " -- --quick" } else { "" }
    ));
    report.blank();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    if wanted("1") {
        throughput::run(
            &mut report,
            &rt,
            &throughput::Config {
                endpoints: if quick { 1_000 } else { 10_000 },
                measure: Duration::from_secs(if quick { 5 } else { 60 }),
                warm_up: !quick,
                sample_every: if quick { 1 } else { 5 },
            },
        )?;
    }
    if wanted("2") {
        rt.block_on(size::run(
            &mut report,
            &size::Config {
                span_ms: if quick { 30 * DAY_MS } else { YEAR_MS },
                endpoints: if quick { 1 } else { 5 },
                emit_budget: Duration::from_secs(if quick { 10 } else { 180 }),
            },
        ))?;
    }
    if wanted("3") {
        rt.block_on(queries::run(
            &mut report,
            &queries::Config {
                endpoints: if quick { 50 } else { 1_000 },
                warm_ups: 2,
                runs: if quick { 5 } else { 20 },
                all_plans: args.iter().any(|a| a == "--plans"),
            },
        ))?;
    }

    report.line(format!("- load average at end: {}", loadavg()));
    report.line(format!(
        "- total run time: {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out)?;
    let file = out.join("store.md");
    std::fs::write(&file, report.markdown())?;
    progress(format!("report saved to {}", file.display()));
    Ok(())
}

/// The workspace's target directory (CARGO_TARGET_DIR when set).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}
