//! heartline-lab: a WebSocket server that misbehaves on purpose.
//!
//! The lab is the test fixture for the other Heartline crates, a demo target and the peer
//! for connection benchmarks. It listens on a plain `ws://` port and (optionally) a `wss://`
//! port with a freshly generated self-signed certificate, and picks a behaviour for every
//! connection from the request path and query, e.g. `/close?code=4001&reason=bye` or
//! `/drop?after=250ms&rst=1`. See the crate README for the full scenario table.
//!
//! ```no_run
//! # async fn demo() -> heartline_lab::Result<()> {
//! let lab = heartline_lab::Lab::start().await?;
//! let url = lab.ws_url("/close?code=4001&reason=bye");
//! // ... point a client at `url` ...
//! for record in lab.log() {
//!     println!("{record:?}");
//! }
//! lab.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

mod hostile;
mod query;
mod scenario;
mod serve;
mod session;
mod state;
mod stream;
mod tls;

/// Errors from starting the lab.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The self-signed certificate could not be generated.
    #[error("cannot generate the self-signed certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// The TLS server configuration was refused by rustls.
    #[error("cannot configure TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// Any other I/O failure while starting.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the lab listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabOptions {
    /// Address of the plain `ws://` listener.
    pub bind: SocketAddr,
    /// Address of the `wss://` listener; `None` disables TLS.
    pub tls_bind: Option<SocketAddr>,
}

impl Default for LabOptions {
    fn default() -> Self {
        let loopback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        Self {
            bind: loopback,
            tls_bind: Some(loopback),
        }
    }
}

/// One thing the lab saw, in [`Lab::log`].
///
/// `conn` numbers TCP connections in accept order (starting at 1, shared by the ws and wss
/// listeners). Every WebSocket upgrade request produces a `Handshake` record; one that the
/// lab refuses is followed by a `Rejected` record, one that it accepts ends with `Ended`.
#[derive(Debug, Clone, PartialEq)]
pub enum LabRecord {
    /// An upgrade request arrived. `headers` are all request headers (names lower-case, in
    /// request order); `subprotocols` are the offered `Sec-WebSocket-Protocol` values in order.
    Handshake {
        conn: u64,
        path: String,
        headers: Vec<(String, String)>,
        subprotocols: Vec<String>,
    },
    /// The upgrade was refused with this HTTP status.
    Rejected {
        conn: u64,
        path: String,
        status: u16,
    },
    /// A text message from the client (truncated to 1 KiB on a character boundary).
    Text { conn: u64, text: String },
    /// A binary message from the client.
    Binary { conn: u64, len: usize },
    /// A protocol ping from the client.
    Ping { conn: u64 },
    /// A close frame from the client.
    CloseReceived {
        conn: u64,
        code: Option<u16>,
        reason: String,
    },
    /// The WebSocket session is over (for whatever reason).
    Ended { conn: u64 },
}

/// A running lab. Dropping it stops it, like [`Lab::shutdown`] without waiting.
pub struct Lab {
    addr: SocketAddr,
    tls_addr: Option<SocketAddr>,
    cert_pem: String,
    cert_der: Vec<u8>,
    shared: Arc<state::Shared>,
    stop: watch::Sender<bool>,
    accept_tasks: Vec<JoinHandle<()>>,
    alive_tx: mpsc::Sender<()>,
    alive_rx: mpsc::Receiver<()>,
}

impl Lab {
    /// Binds 127.0.0.1:0 for ws and a second 127.0.0.1:0 listener for wss (self-signed
    /// certificate for "localhost", 127.0.0.1 and ::1) and spawns the accept loops on the
    /// current tokio runtime.
    pub async fn start() -> Result<Lab> {
        Self::start_with(LabOptions::default()).await
    }

    /// Like [`Lab::start`] with explicit listen addresses.
    pub async fn start_with(opts: LabOptions) -> Result<Lab> {
        let identity = tls::Identity::generate()?;
        let shared = Arc::new(state::Shared::new());
        let (stop, stop_rx) = watch::channel(false);
        let (alive_tx, alive_rx) = mpsc::channel(1);

        let listener = serve::bind(opts.bind)?;
        let addr = listener.local_addr()?;
        let tls_listener = match opts.tls_bind {
            Some(tls_bind) => Some(serve::bind(tls_bind)?),
            None => None,
        };
        let tls_addr = tls_listener.as_ref().map(|l| l.local_addr()).transpose()?;

        let mut accept_tasks = vec![tokio::spawn(serve::accept_loop(
            listener,
            None,
            shared.clone(),
            stop_rx.clone(),
            alive_tx.clone(),
        ))];
        if let Some(tls_listener) = tls_listener {
            accept_tasks.push(tokio::spawn(serve::accept_loop(
                tls_listener,
                Some(identity.acceptor.clone()),
                shared.clone(),
                stop_rx,
                alive_tx.clone(),
            )));
        }
        tracing::info!(%addr, tls_addr = ?tls_addr, "heartline-lab started");

        Ok(Lab {
            addr,
            tls_addr,
            cert_pem: identity.cert_pem,
            cert_der: identity.cert_der,
            shared,
            stop,
            accept_tasks,
            alive_tx,
            alive_rx,
        })
    }

    /// Address of the plain `ws://` listener.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Address of the `wss://` listener, if TLS is enabled.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// `ws://IP:PORT` followed by `path_and_query` (a leading `/` is added if missing).
    pub fn ws_url(&self, path_and_query: &str) -> String {
        format!(
            "ws://{}{}",
            url_addr(self.addr),
            normalize_path(path_and_query)
        )
    }

    /// `wss://localhost:PORT` followed by `path_and_query`; "localhost" is used so that
    /// certificate name checks pass.
    ///
    /// # Panics
    /// If the lab was started without a TLS listener (`tls_bind: None`).
    pub fn wss_url(&self, path_and_query: &str) -> String {
        let Some(tls_addr) = self.tls_addr else {
            panic!("heartline-lab: wss_url() called on a lab started without TLS");
        };
        format!(
            "wss://localhost:{}{}",
            tls_addr.port(),
            normalize_path(path_and_query)
        )
    }

    /// The self-signed certificate, PEM encoded.
    pub fn certificate_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// The self-signed certificate, DER encoded (add it to a client's root store).
    pub fn certificate_der(&self) -> Vec<u8> {
        self.cert_der.clone()
    }

    /// What the lab saw, oldest first (the last 10 000 records).
    pub fn log(&self) -> Vec<LabRecord> {
        self.shared.log_snapshot()
    }

    /// WebSocket sessions currently open.
    pub fn open_connections(&self) -> usize {
        self.shared.open_sessions()
    }

    /// Stops accepting, drops every connection (no close frames) and waits (up to 5 s) until
    /// all connection tasks are gone.
    pub async fn shutdown(self) {
        let Lab {
            stop,
            accept_tasks,
            alive_tx,
            mut alive_rx,
            ..
        } = self;
        stop.send_replace(true);
        for task in accept_tasks {
            if let Err(err) = task.await {
                tracing::warn!(%err, "accept loop ended abnormally");
            }
        }
        drop(alive_tx);
        // Every connection task holds a sender; `recv` yields `None` once all are gone.
        if tokio::time::timeout(Duration::from_secs(5), alive_rx.recv())
            .await
            .is_err()
        {
            tracing::warn!("some lab connections did not stop within 5 s");
        }
        tracing::info!("heartline-lab stopped");
    }
}

impl std::fmt::Debug for Lab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("addr", &self.addr)
            .field("tls_addr", &self.tls_addr)
            .field("open_connections", &self.open_connections())
            .finish_non_exhaustive()
    }
}

/// The address as it should appear in a URL: unspecified addresses become loopback.
fn url_addr(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

fn normalize_path(path_and_query: &str) -> String {
    if path_and_query.is_empty() || path_and_query.starts_with('/') {
        path_and_query.to_owned()
    } else {
        format!("/{path_and_query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize_path(""), "");
        assert_eq!(normalize_path("/echo"), "/echo");
        assert_eq!(normalize_path("echo?delay=1"), "/echo?delay=1");
    }

    #[test]
    fn unspecified_addresses_become_loopback() {
        let any: SocketAddr = "0.0.0.0:80".parse().unwrap();
        assert_eq!(url_addr(any).to_string(), "127.0.0.1:80");
        let any6: SocketAddr = "[::]:80".parse().unwrap();
        assert_eq!(url_addr(any6).to_string(), "[::1]:80");
    }

    #[test]
    fn lab_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Lab>();
    }
}
