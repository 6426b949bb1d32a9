//! The `heartline` command.

/// A line for the person or the log on stderr. A command keeps going when nobody reads it any
/// more (a log pipe that went away): `eprintln!` would panic on the broken pipe and end, say,
/// the agent in the middle of its watch.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod endpoints;
mod export;
mod output;
mod probe;
mod run;
mod watch;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use heartline_core::escape_controls;

#[derive(Parser, Debug)]
#[command(
    name = "heartline",
    version,
    about = "Watch WebSocket endpoints the way their users experience them",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open a real session to one endpoint, heartbeat it and print every event.
    Probe(Box<probe::ProbeArgs>),
    /// Watch several endpoints at once: notable events as they happen and a status table.
    Watch(Box<watch::WatchArgs>),
    /// Run as a headless agent: watch, record to the database, serve Prometheus metrics.
    Run(Box<run::RunArgs>),
    /// Manage the stored endpoints: list, add, remove, import, export.
    Endpoints(Box<endpoints::EndpointsArgs>),
    /// Export recorded history (timeline, incidents, diagnosis, charts) as md, csv, json,
    /// ndjson, html, svg or png — e.g. the timeline of a postmortem.
    Export(Box<export::ExportArgs>),
}

fn main() -> ExitCode {
    // Parsed by hand from the matches (what `try_parse` does) so that the order of `--send`
    // and `--expect*` on the command line can be read too.
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let cli = match parsed {
        Ok((mut cli, matches)) => {
            if let (Command::Probe(args), Some(m)) =
                (&mut cli.command, matches.subcommand_matches("probe"))
            {
                args.order = probe::step_order(m);
            }
            cli
        }
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                let _ = e.print();
                return ExitCode::from(2);
            }
            return usage_error(&first_line(&e.to_string()));
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEARTLINE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            say!("heartline: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Probe(args) => runtime.block_on(probe::run(*args)),
        Command::Watch(args) => runtime.block_on(watch::run(*args)),
        Command::Run(args) => runtime.block_on(run::run(*args)),
        Command::Endpoints(args) => runtime.block_on(endpoints::run(*args)),
        Command::Export(args) => runtime.block_on(export::run(*args)),
    };
    match result {
        Ok(code) => code,
        Err(probe::Failure::Usage(reason)) => usage_error(&reason),
        Err(probe::Failure::Config(problems)) => {
            // One problem a line; what a line quotes from the file is escaped.
            for line in problems.lines() {
                say!("{}", escape_controls(line));
            }
            ExitCode::from(2)
        }
        Err(probe::Failure::Other(e)) => {
            say!("heartline: {}", escape_controls(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Bad usage: one line on stderr, exit status 2. The reason may quote what the user typed:
/// escaped, so it stays one line.
fn usage_error(reason: &str) -> ExitCode {
    say!(
        "heartline: {} (see heartline --help)",
        escape_controls(reason)
    );
    ExitCode::from(2)
}

/// The first line of a clap error, with the line after it when the first ends in a colon
/// (as in "the following required arguments were not provided:").
fn first_line(text: &str) -> String {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid usage")
        .trim_start_matches("error: ");
    match (first.ends_with(':'), lines.next()) {
        (true, Some(next)) => format!("{first} {next}"),
        _ => first.to_owned(),
    }
}
