//! `heartline-bench`: with no arguments, runs the engine-vs-baseline benchmark against a lab
//! started as a separate process (`make bench`). With `--client`, it is one measured child.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use heartline_bench::client::{self, ChildConfig};
use heartline_bench::orchestrate::{self, Plan};
use heartline_bench::report::ClientKind;

/// Engine vs a minimal tokio-tungstenite client: N sessions pinged every second.
#[derive(Debug, Parser)]
#[command(name = "heartline-bench", version, about)]
struct Args {
    /// Connection counts to measure, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    sizes: Vec<usize>,
    /// Measured window per run (after warm-up). A minute at least: the agent's recorder
    /// hands every endpoint's finished minute to the writer at each minute's end, so a
    /// shorter window measures the agent with or without that flush depending on the clock.
    #[arg(long, default_value = "60s", value_parser = duration)]
    hold: Duration,
    /// Time between all connected and the start of the measured window.
    #[arg(long, default_value = "5s", value_parser = duration)]
    warmup: Duration,
    /// Which clients to run, comma separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "baseline,engine,agent"
    )]
    clients: Vec<ClientKind>,
    /// Handshakes in flight at once while connecting (both clients).
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Give up waiting for all sessions to open after this long (then measure anyway).
    #[arg(long, default_value = "60s", value_parser = duration)]
    connect_timeout: Duration,
    /// Also print the raw results as one JSON document.
    #[arg(long)]
    json: bool,
    /// Use a lab already listening at this ws:// URL (e.g. ws://127.0.0.1:PORT/echo)
    /// instead of starting one.
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// PID of that lab, to report its CPU.
    #[arg(long, value_name = "PID")]
    lab_pid: Option<u32>,
    /// Diagnostic: run the engine without an event subscriber, and the agent without its
    /// counting observer (no RTT figures).
    #[arg(long)]
    no_subscribe: bool,

    /// Run as one measured child with this client (used by the orchestrator).
    #[arg(long, value_enum, requires = "url", requires = "n")]
    client: Option<ClientKind>,
    /// Child: number of sessions.
    #[arg(long)]
    n: Option<usize>,
    /// Child: clock ticks per second for /proc CPU times.
    #[arg(long, default_value_t = 100, hide = true)]
    clk_tck: u64,
}

fn duration(text: &str) -> Result<Duration, String> {
    heartline_core::parse_duration(text)
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("heartline-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    match args.client {
        Some(kind) => {
            client::run(ChildConfig {
                kind,
                url: args.url.context("--url is required with --client")?,
                n: args.n.context("--n is required with --client")?,
                hold: args.hold,
                warmup: args.warmup,
                clk_tck: args.clk_tck,
                lab_pid: args.lab_pid,
                concurrency: args.concurrency.max(1),
                connect_timeout: args.connect_timeout,
                no_subscribe: args.no_subscribe,
            })?;
            Ok(())
        }
        None => orchestrate::run(Plan {
            sizes: args.sizes,
            clients: args.clients,
            hold: args.hold,
            warmup: args.warmup,
            concurrency: args.concurrency.max(1),
            connect_timeout: args.connect_timeout,
            url: args.url,
            lab_pid: args.lab_pid,
            no_subscribe: args.no_subscribe,
            json: args.json,
        }),
    }
}
