//! `heartline export`: a selection of the recorded history as Markdown, CSV, JSON, NDJSON,
//! HTML, SVG or PNG, to a file or standard output.
//!
//! Progress goes to stderr: a live line when stderr is a terminal; otherwise one line per tenth
//! of the window once an export has passed [`QUIET_UNTIL`] events (small exports stay silent in
//! scripts and logs).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use clap::{Args, ValueEnum};

use heartline_core::Timestamp;
use heartline_report::{Format, Options, Progress, Selection, Zone};

use crate::probe::Failure;

/// Past this many events, progress is reported even when stderr is not a terminal.
const QUIET_UNTIL: u64 = 100_000;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The database (default: heartline.db in your data directory).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Endpoint to include, by name (repeatable). Without --endpoint and --tag: every endpoint.
    #[arg(long = "endpoint", short = 'e', value_name = "NAME")]
    pub endpoints: Vec<String>,
    /// Include the endpoints with this tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Start of the window: RFC 3339 (2026-11-21T10:00:00Z), a date (2026-11-21, UTC
    /// midnight), `now`, or a duration back from now (24h, 7d).
    #[arg(long, value_name = "T")]
    pub since: String,
    /// End of the window (excluded), in the same forms as --since.
    #[arg(long, value_name = "T")]
    pub until: String,
    /// Only events from each incident's first sign of trouble to its end.
    #[arg(long)]
    pub incidents_only: bool,
    /// Output format.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: FormatArg,
    /// Write to this file (default: standard output; required for html/svg/png on a terminal).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Zone for times people read (md, html): utc, or local with its offset stated. CSV and
    /// JSON timestamps and chart axes are always UTC.
    #[arg(long, value_enum, default_value = "utc", value_name = "ZONE")]
    pub tz: TzArg,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FormatArg {
    Md,
    Csv,
    Json,
    Ndjson,
    Html,
    Svg,
    Png,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TzArg {
    Utc,
    Local,
}

impl FormatArg {
    fn format(self) -> Format {
        match self {
            FormatArg::Md => Format::Markdown,
            FormatArg::Csv => Format::Csv,
            FormatArg::Json => Format::Json,
            FormatArg::Ndjson => Format::Ndjson,
            FormatArg::Html => Format::Html,
            FormatArg::Svg => Format::Svg,
            FormatArg::Png => Format::Png,
        }
    }
}

pub async fn run(args: ExportArgs) -> Result<ExitCode, Failure> {
    let now = Timestamp::from_system(SystemTime::now());
    let since = heartline_report::parse_instant(&args.since, now)
        .map_err(|why| Failure::Usage(format!("--since: {why}")))?;
    let until = heartline_report::parse_instant(&args.until, now)
        .map_err(|why| Failure::Usage(format!("--until: {why}")))?;
    if since >= until {
        return Err(Failure::Usage(format!(
            "--since ({}) must be before --until ({})",
            heartline_report::iso_utc(since),
            heartline_report::iso_utc(until)
        )));
    }
    let format = args.format.format();
    if args.out.is_none() && format.is_document() && std::io::stdout().is_terminal() {
        return Err(Failure::Usage(format!(
            "{} output is a document, not terminal text: pass --out FILE or redirect standard output",
            format.name()
        )));
    }
    let store = crate::run::open_store(args.db.clone()).await?;
    let selection = Selection {
        endpoints: args.endpoints.clone(),
        tags: args.tags.clone(),
        since,
        until,
        incidents_only: args.incidents_only,
    };
    let options = Options {
        format,
        zone: match args.tz {
            TzArg::Utc => Zone::Utc,
            TzArg::Local => Zone::Local,
        },
        now,
    };
    let report = Reporter::new();
    let progress = |p: Progress| report.progress(p);
    let result = match &args.out {
        Some(path) => to_file(path, &store, &selection, &options, &progress).await,
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout());
            let r =
                heartline_report::export(&store, &selection, &options, &mut out, &progress).await;
            r.and_then(|s| out.flush().map(|()| s).map_err(Into::into))
        }
    };
    report.done();
    store.close().await;
    let summary = result.map_err(|e| {
        if e.is_selection() {
            Failure::Config(format!("heartline: {e}"))
        } else {
            Failure::Other(e.into())
        }
    })?;
    if let Some(path) = &args.out {
        eprintln!(
            "heartline: wrote {} ({} events, {} endpoints, {} incidents)",
            path.display(),
            summary.events_exported,
            summary.endpoints.len(),
            summary.incidents.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes next to `path` and renames on success, so a failed export never leaves half a file
/// under the name asked for.
async fn to_file(
    path: &Path,
    store: &heartline_store::Store,
    selection: &Selection,
    options: &Options,
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> heartline_report::Result<heartline_report::Summary> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = std::fs::File::create(&partial)?;
    let mut out = std::io::BufWriter::new(file);
    let result = heartline_report::export(store, selection, options, &mut out, progress)
        .await
        .and_then(|s| {
            out.flush()?;
            Ok(s)
        });
    drop(out);
    match result {
        Ok(summary) => {
            std::fs::rename(&partial, path)?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

/// Progress on stderr (see the module documentation for when).
struct Reporter {
    live: bool,
    /// Tenths of the window already reported (non-terminal mode).
    tenths: AtomicU64,
    shown: AtomicU64,
}

impl Reporter {
    fn new() -> Self {
        Reporter {
            live: std::io::stderr().is_terminal(),
            tenths: AtomicU64::new(0),
            shown: AtomicU64::new(0),
        }
    }

    fn progress(&self, p: Progress) {
        let percent = (p.fraction * 100.0).round() as u64;
        if self.live {
            eprint!(
                "\rheartline: exporting… {percent:>3} % of the window, {} events",
                p.events
            );
            self.shown.store(1, Ordering::Relaxed);
        } else if p.events > QUIET_UNTIL {
            let tenth = percent / 10;
            if self.tenths.fetch_max(tenth, Ordering::Relaxed) < tenth {
                eprintln!(
                    "heartline: exporting… {percent} % of the window, {} events",
                    p.events
                );
            }
        }
    }

    fn done(&self) {
        if self.live && self.shown.load(Ordering::Relaxed) > 0 {
            eprint!("\r\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}
