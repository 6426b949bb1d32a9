//! `heartline run`: the headless agent. Watches every endpoint, records everything, serves
//! Prometheus metrics, and stops cleanly on SIGINT/SIGTERM. The wiring (store, engine,
//! recorder, metrics, secrets, the history scrub) is heartline-monitor's, as in the desktop
//! app; this file holds the flags and what the agent says.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use heartline_core::{escape_controls, CloseCause};
use heartline_monitor::{Monitor, MonitorOptions, Retention};
use heartline_store::{Secrets, Store};

use crate::probe::Failure;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Endpoints to watch, from a TOML or JSON file; they are saved to the database too.
    /// Without it, the endpoints stored in the database (see `heartline endpoints`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The database (default: heartline.db in your data directory).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Serve Prometheus metrics on this address, or `off`.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub metrics: String,
    /// Stop after this long (otherwise run until SIGINT or SIGTERM).
    #[arg(long = "for", value_name = "D", value_parser = crate::probe::duration)]
    pub run_for: Option<Duration>,
    /// Keep per-minute round-trip rollups this long.
    #[arg(long, value_name = "D", default_value = "7d", value_parser = crate::probe::duration)]
    pub keep_minutes: Duration,
    /// Keep per-hour round-trip rollups this long.
    #[arg(long, value_name = "D", default_value = "365d", value_parser = crate::probe::duration)]
    pub keep_hours: Duration,
    /// Keep per-day rollups, events, sessions and incidents this long.
    #[arg(long, value_name = "D", default_value = "1825d", value_parser = crate::probe::duration)]
    pub keep_history: Duration,
    /// Largest database size, e.g. 512MiB or 2GiB; reaching it is handled like a full disk
    /// (watching goes on, events wait in memory).
    #[arg(long, value_name = "SIZE", value_parser = size)]
    pub max_db_size: Option<u64>,
    /// With no endpoint to watch, keep running and serving metrics instead of exiting: for a
    /// service whose configuration is still the commented example.
    #[arg(long)]
    pub allow_empty: bool,
}

/// `512MiB`, `2GiB`, `100MB`, or bytes.
fn size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let number: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 512MiB"))?;
    let unit = match t[digits..].trim() {
        "" | "B" => 1,
        "KB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "`{other}` is not a size unit (B, KiB, MiB, GiB, KB, MB, GB)"
            ))
        }
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Opens the database at `--db` or the default path, with a message that says which.
pub(crate) async fn open_store(db: Option<PathBuf>) -> Result<Store, Failure> {
    let path = match db {
        Some(p) => p,
        None => heartline_store::default_path().map_err(|e| Failure::Other(e.into()))?,
    };
    Store::open(&path)
        .await
        .map_err(|e| Failure::Other(e.into()))
}

/// Where secrets of the database at `store` live.
pub(crate) fn secrets_for(store: &Store) -> Secrets {
    Secrets::detect(store.path().parent().unwrap_or(std::path::Path::new(".")))
}

pub async fn run(args: RunArgs) -> Result<ExitCode, Failure> {
    let database = match args.db.clone() {
        Some(p) => p,
        None => heartline_monitor::default_path().map_err(|e| Failure::Other(e.into()))?,
    };
    // The configuration file is saved to the database first; the monitor then watches the
    // endpoints it names (or, without one, every stored endpoint, paused ones paused).
    let names = match &args.config {
        Some(path) => {
            let store = open_store(Some(database.clone())).await?;
            let names = crate::endpoints::import_file(&store, &secrets_for(&store), path).await;
            store.close().await;
            Some(names?)
        }
        None => None,
    };
    let metrics_addr = if args.metrics == "off" {
        None
    } else {
        Some(args.metrics.parse().map_err(|_| {
            Failure::Usage(format!(
                "--metrics: `{}` is not an address like 127.0.0.1:9464",
                args.metrics
            ))
        })?)
    };
    let mut options = MonitorOptions::new(database);
    options.retention = Retention {
        minute_rollups: args.keep_minutes,
        hour_rollups: args.keep_hours,
        day_rollups: args.keep_history,
        events: args.keep_history,
        sessions: args.keep_history,
        incidents: args.keep_history,
        ..Retention::default()
    };
    options.max_db_size = args.max_db_size;
    options.metrics = metrics_addr.is_some();
    options.only = names;
    let monitor = Monitor::open(options)
        .await
        .map_err(|e| Failure::Other(e.into()))?;
    let refusal = monitor.refused().first().map(|r| {
        Failure::Usage(format!(
            "{}: {}",
            escape_controls(&r.name),
            escape_controls(&r.reason)
        ))
    });
    let empty = (monitor.watching() == 0 && !args.allow_empty).then(|| {
        Failure::Usage(
            "no endpoints to watch: pass --config FILE or add some with `heartline endpoints add`"
                .into(),
        )
    });
    if let Some(failure) = refusal.or(empty) {
        let _ = monitor.shutdown(CloseCause::Shutdown).await;
        return Err(failure);
    }
    for (name, missing) in monitor.missing_secrets() {
        say!(
            "heartline: warning: {} has no stored value for {} (set it again with `heartline endpoints import`)",
            escape_controls(name),
            escape_controls(&missing.join(", "))
        );
    }
    let metrics_url = match metrics_addr {
        Some(addr) => {
            let bound = monitor
                .serve_metrics(addr)
                .await
                .map_err(|e| Failure::Other(e.into()))?;
            Some(format!("http://{bound}/metrics"))
        }
        None => None,
    };
    let watching = monitor.watching();
    say!(
        "heartline: watching {} endpoints · database {} · secrets in {} · metrics {}",
        watching,
        monitor.database().display(),
        monitor.secrets_description(),
        metrics_url.as_deref().unwrap_or("off"),
    );

    if watching == 0 {
        match &args.config {
            Some(path) => say!(
                "heartline: no endpoints to watch yet: add [[endpoint]] tables to {} and restart",
                path.display()
            ),
            None => say!(
                "heartline: no endpoints to watch yet: add some with `heartline endpoints add` and restart"
            ),
        }
    }

    // History written before outside text was masked at the source may quote secrets: the
    // monitor scrubs it once, beside the watching; this says what it did.
    let mut scrub = monitor.take_scrub();

    let deadline = args.run_for.map(|d| tokio::time::Instant::now() + d);
    let mut interrupted = crate::probe::pin_signal();
    let mut check = tokio::time::interval(Duration::from_secs(10));
    let mut reported: Option<String> = None;
    let cause = loop {
        tokio::select! {
            cause = &mut interrupted => break cause,
            () = crate::probe::sleep_until_opt(deadline) => break CloseCause::DurationElapsed,
            done = async {
                match scrub.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            }, if scrub.is_some() => {
                scrub = None;
                report_scrub(done);
            }
            _ = check.tick() => {
                // Say when writing starts failing and when it recovers; never stop watching.
                let now = monitor.writer_health().last_error();
                if now != reported {
                    match &now {
                        Some(e) => say!("heartline: cannot write to the database ({e}); keeping events in memory and retrying"),
                        None => say!("heartline: writing to the database again"),
                    }
                    reported = now;
                }
            }
        }
    };
    if let Some(scrub) = scrub {
        // Unfinished endpoints stay pending and are scrubbed next time.
        scrub.abort();
    }
    let health = monitor.writer_health();
    let flushed = monitor.shutdown(cause).await;
    let lost = health.dropped() + monitor.recorder_dropped();
    say!(
        "heartline: stopped; {} rows written{}",
        health.rows(),
        if lost > 0 {
            format!(", {lost} events could not be kept")
        } else {
            String::new()
        }
    );
    flushed.map_err(|e| Failure::Other(e.into()))?;
    Ok(ExitCode::SUCCESS)
}

/// Says what the one-time history scrub did, when it did anything.
fn report_scrub(
    done: Result<heartline_store::Result<heartline_store::ScrubReport>, tokio::task::JoinError>,
) {
    match done {
        Ok(Ok(report)) => {
            if report.rows > 0 {
                say!(
                    "heartline: masked echoed secrets in {} stored history rows of {} endpoints",
                    report.rows, report.endpoints
                );
            }
            if !report.waiting.is_empty() {
                say!(
                    "heartline: warning: the history of {} may quote secrets that have no stored value; it is cleaned once they are set again",
                    escape_controls(&report.waiting.join(", "))
                );
            }
        }
        Ok(Err(e)) => say!(
            "heartline: warning: cannot clean stored history of echoed secrets ({}); trying again next start",
            escape_controls(&e.to_string())
        ),
        Err(e) => say!("heartline: warning: the history clean-up stopped: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_read_like_people_write_them() {
        for (text, bytes) in [
            ("512MiB", 512 << 20),
            ("2GiB", 2 << 30),
            ("100MB", 100_000_000),
            ("4096", 4096),
            ("1 KiB", 1024),
        ] {
            assert_eq!(size(text), Ok(bytes), "{text}");
        }
        assert!(size("12XB").unwrap_err().contains("not a size unit"));
        assert!(size("lots").unwrap_err().contains("not a size"));
        assert!(size("99999999999999GiB").unwrap_err().contains("too large"));
    }
}
