//! `heartline-lab`: run the misbehaving WebSocket server from the command line.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use heartline_lab::{Lab, LabOptions};

/// A WebSocket server that misbehaves on purpose (see the README for all scenarios).
#[derive(Debug, Parser)]
#[command(name = "heartline-lab", version, about)]
struct Args {
    /// Address of the plain ws:// listener.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    bind: SocketAddr,
    /// Address of the wss:// listener (self-signed certificate for localhost).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:0",
        conflicts_with = "no_tls"
    )]
    tls_bind: SocketAddr,
    /// Do not start the wss:// listener.
    #[arg(long)]
    no_tls: bool,
    /// Write the self-signed certificate (PEM) to FILE so clients can trust it.
    #[arg(long, value_name = "FILE", conflicts_with = "no_tls")]
    cert_out: Option<PathBuf>,
}

const SCENARIOS: &str = "\
scenarios (same on ws and wss; durations like 250ms, 2s, 1m or bare milliseconds):
  /echo?delay=T&reply=TEXT      echo every message (after T), or answer with TEXT
  /close?code=C&reason=R&after=T  close with C (default 1000, `none` = no code) after T
  /restart?after=T              close 1012 \"service restart\" after T
  /try-again?after=T            close 1013 \"try again later\" after T
  /drop?after=T&rst=1           drop TCP without a close frame after T (rst=1: RST)
  /mute?after=T                 echo until T, then never read again (no pongs)
  /silent?rate=R&after=T        send \"tick N\" R/s until T (default 10/s, 1s), then nothing
  /stream?rate=R&size=N         send N-byte texts R/s forever (default 10/s, 64 B)
  /reject?status=S              refuse the upgrade with HTTP S (default 503)
  /slow?delay=T                 wait T before answering the upgrade, then echo
  /idle?after=T&pings=ignore&mode=close  end after T without client frames (default 1s, drop)
  /flap?up=T1&down=T2           up/down cycles since start (default 2s/2s)
  /oversized?size=N             send one N-byte binary message first (default 16MiB)
  /invalid-utf8                 send a text frame that is not UTF-8
  /headers                      echo; the handshake headers are logged
hostile (see the README):
  /unauthorized?status=401|403  refuse, echoing the request's credentials in the body
  /evil-reason?kind=terminal|formula|bidi  close 4000 with a reason that attacks its reader
  /redirect?status=302&location=/echo      answer the upgrade with a redirect
  /many-headers?count=N         a 101 with N extra headers (default 10000)
  /huge-header?size=N           a 101 with one N-byte header (default 1MiB)
  /endless-headers?every=T      a 101 whose headers never end (one line per T)
  /bad-close?kind=one-byte|invalid-utf8|1004|1005|1006|1015  a malformed close frame
  /deflate?size=N               unsolicited permessage-deflate and an N-byte bomb
  any path: subprotocol=none    do not echo the client's first offered subprotocol";

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(err) => tracing::warn!(%err, "cannot raise the open file limit"),
    }

    let opts = LabOptions {
        bind: args.bind,
        tls_bind: if args.no_tls {
            None
        } else {
            Some(args.tls_bind)
        },
    };
    let lab = Lab::start_with(opts).await.context("starting the lab")?;
    if let Some(path) = &args.cert_out {
        std::fs::write(path, lab.certificate_pem())
            .with_context(|| format!("writing the certificate to {}", path.display()))?;
    }

    // Handlers first: whoever reads the line below may signal us at once.
    let signals = Signals::install()?;
    let mut line = format!("heartline-lab listening ws={}", lab.ws_url(""));
    if lab.tls_addr().is_some() {
        line.push_str(&format!(" wss={}", lab.wss_url("")));
    }
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}").context("writing to stdout")?;
    stdout.flush().context("flushing stdout")?;
    drop(stdout);
    eprintln!("{SCENARIOS}");

    signals.wait().await?;
    tracing::info!("signal received, shutting down");
    lab.shutdown().await;
    Ok(())
}

/// SIGINT and SIGTERM, registered as soon as this is created.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
            terminate: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
        })
    }

    async fn wait(mut self) -> anyhow::Result<()> {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
        Ok(())
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> anyhow::Result<Signals> {
        Ok(Signals)
    }

    async fn wait(self) -> anyhow::Result<()> {
        tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
    }
}
