//! `heartline watch`: several endpoints at once through the engine, live in the terminal.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use heartline_core::untrusted::escape_json_text;
use heartline_core::{escape_controls, CloseCause, Endpoint, EndpointId, EventKind, State};
use heartline_engine::{Delivery, Engine, EngineOptions, Status};

use crate::output::{describe, end_summary, event_json, short_name};
use crate::probe::Failure;

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Endpoints as `URL` or `NAME=URL`.
    #[arg(required = true, value_name = "[NAME=]URL")]
    pub endpoints: Vec<String>,
    /// Protocol ping interval for every endpoint.
    #[arg(long, value_name = "D", default_value = "5s", value_parser = crate::probe::duration)]
    pub ping_interval: Duration,
    /// Application protocol every endpoint speaks (see `heartline probe --help`).
    #[arg(long, value_name = "NAME", value_parser = crate::probe::protocol)]
    pub protocol: Option<heartline_core::Protocol>,
    /// Pong timeout for every endpoint [default: 2s, or half the ping interval when that is
    /// not longer].
    #[arg(long, value_name = "D", value_parser = crate::probe::duration)]
    pub pong_timeout: Option<Duration>,
    /// Stop after this long; without it, run until Ctrl-C.
    #[arg(long = "for", value_name = "D", value_parser = crate::probe::duration)]
    pub run_for: Option<Duration>,
    /// Print the status table this often.
    #[arg(long, value_name = "D", default_value = "10s", value_parser = crate::probe::duration)]
    pub table_every: Duration,
    /// Accept any TLS certificate (self-signed test servers only).
    #[arg(long)]
    pub insecure: bool,
    /// One JSON object per event per line (every event, with an `endpoint` name).
    #[arg(long)]
    pub json: bool,
}

impl WatchArgs {
    fn endpoints(&self) -> Result<Vec<Endpoint>, Failure> {
        self.endpoints
            .iter()
            .map(|arg| {
                let (name, url) = match arg.split_once('=') {
                    Some((name, url)) if url.starts_with("ws://") || url.starts_with("wss://") => {
                        (name.to_owned(), url.to_owned())
                    }
                    _ => (heartline_core::endpoint::redact_url(arg), arg.clone()),
                };
                let mut e = Endpoint::new(name, url);
                e.heartbeat.ping_interval = self.ping_interval;
                e.heartbeat.pong_timeout = self.pong_timeout.unwrap_or_else(|| {
                    heartline_core::derived_timeout(
                        self.ping_interval,
                        crate::probe::DEFAULT_PONG_TIMEOUT,
                    )
                });
                e.tls.insecure = self.insecure;
                e.protocol = self.protocol.unwrap_or_default();
                if let Some(hint) = crate::probe::protocol_hint(&e) {
                    say!("{hint}");
                }
                e.validate().map_err(|errs| {
                    Failure::Usage(format!(
                        "{}: {}",
                        e.name,
                        crate::probe::option_names(&errs.to_string())
                    ))
                })?;
                Ok(e)
            })
            .collect()
    }
}

/// Watches every endpoint until Ctrl-C or `--for`; exit 0 when all stayed Up.
pub async fn run(args: WatchArgs) -> Result<ExitCode, Failure> {
    let endpoints = args.endpoints()?;
    let engine = Engine::new(EngineOptions::default());
    let mut events = engine.subscribe();
    let mut names = HashMap::new();
    for e in endpoints {
        let name = e.name.clone();
        let id = engine.add(e).map_err(|e| Failure::Usage(e.to_string()))?;
        names.insert(id, name);
    }
    let mut out = std::io::stdout();
    if !args.json {
        // A reader gone before the first line: nothing to watch for.
        if writeln!(
            out,
            "watching {} endpoints (ping every {}, times in UTC); Ctrl-C to stop",
            names.len(),
            heartline_core::format_duration(args.ping_interval)
        )
        .is_err()
        {
            engine.stop_all(CloseCause::Shutdown).await;
            return Ok(ExitCode::SUCCESS);
        }
    }
    let width = names
        .values()
        .map(|n| escape_controls(n).chars().count())
        .max()
        .unwrap_or(8)
        .min(32);
    let deadline = args.run_for.map(|d| tokio::time::Instant::now() + d);
    let mut table = tokio::time::interval_at(
        tokio::time::Instant::now() + args.table_every,
        args.table_every,
    );
    let mut interrupted = crate::probe::pin_signal();
    let mut shown = Shown {
        json: args.json,
        width,
        unhealthy: false,
    };
    // Whoever reads the output may go away (`heartline watch | head`): the watch then stops
    // as if interrupted, rather than panicking on the broken pipe.
    let cause = loop {
        tokio::select! {
            delivery = events.recv() => match delivery {
                Some(d) => if shown.delivery(&mut out, d, &names).is_err() {
                    break CloseCause::Shutdown;
                },
                None => break CloseCause::Shutdown,
            },
            _ = table.tick(), if !args.json => {
                if print_table(&mut out, &engine.statuses(), &names, width).is_err() {
                    break CloseCause::Shutdown;
                }
            }
            () = crate::probe::sleep_until_opt(deadline) => break CloseCause::DurationElapsed,
            cause = &mut interrupted => break cause,
        }
    };
    // The last picture, taken before stopping empties the engine.
    let last = engine.statuses();
    engine.stop_all(cause).await;
    // Every session has closed by now: show how each ended.
    while let Ok(Some(d)) = tokio::time::timeout(Duration::from_millis(50), events.recv()).await {
        if shown.delivery(&mut out, d, &names).is_err() {
            break;
        }
    }
    if !args.json {
        let _ = print_table(&mut out, &last, &names, width);
    }
    Ok(if shown.unhealthy {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints deliveries and remembers whether anything went Degraded or Down.
struct Shown {
    json: bool,
    width: usize,
    unhealthy: bool,
}

impl Shown {
    /// Shows one delivery; an error is the output gone.
    fn delivery(
        &mut self,
        out: &mut impl Write,
        delivery: Delivery,
        names: &HashMap<EndpointId, String>,
    ) -> std::io::Result<()> {
        let e = match delivery {
            Delivery::Event(e) => e,
            Delivery::Missed(n) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "heartline: output fell behind; {n} events not shown"
                );
                return Ok(());
            }
        };
        let name = names.get(&e.endpoint).map_or("?", String::as_str);
        self.unhealthy |= matches!(
            e.kind,
            EventKind::StateChanged {
                to: State::Down | State::Degraded | State::Unstable,
                ..
            }
        );
        if self.json {
            let mut v = event_json(&e);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("endpoint".into(), name.into());
            }
            writeln!(out, "{}", escape_json_text(&v.to_string()))?;
        } else if notable(&e.kind) {
            let ts = humantime::format_rfc3339_millis(e.at.to_system()).to_string();
            let width = self.width;
            let (time, kind) = (&ts[11..23], short_name(&e.kind));
            // Names are the user's, descriptions quote the server: both escaped for the
            // terminal. JSON lines above carry them exactly, every control as a JSON escape.
            let name = escape_controls(name);
            writeln!(
                out,
                "{time}  {name:<width$}  {kind:<10}  {}",
                describe(&e.kind)
            )?;
        }
        Ok(())
    }
}

/// Heartbeats are the bulk of events; the log shows everything else.
fn notable(kind: &EventKind) -> bool {
    !matches!(kind, EventKind::Rtt { .. } | EventKind::Connecting { .. })
}

fn print_table(
    out: &mut impl Write,
    statuses: &[(EndpointId, Status)],
    names: &HashMap<EndpointId, String>,
    width: usize,
) -> std::io::Result<()> {
    if statuses.is_empty() {
        return Ok(());
    }
    writeln!(out, "{:-<1$}", "", width + 62)?;
    writeln!(
        out,
        "{:<width$}  {:<10}  {:>9}  {:>8}  last close",
        "endpoint", "state", "rtt", "sessions"
    )?;
    for (id, s) in statuses {
        let rtt = s
            .last_rtt
            .map_or_else(|| "–".to_owned(), heartline_core::rtt_text);
        let last = match &s.last_end {
            Some((_, end)) => end_summary(end),
            None => s
                .last_failure
                .as_deref()
                .map_or_else(|| "–".into(), |f| escape_controls(f).into_owned()),
        };
        let name = escape_controls(names.get(id).map_or("?", String::as_str));
        writeln!(
            out,
            "{name:<width$}  {:<10}  {rtt:>9}  {:>8}  {last}",
            s.state.to_string(),
            s.sessions
        )?;
    }
    writeln!(out, "{:-<1$}", "", width + 62)
}
