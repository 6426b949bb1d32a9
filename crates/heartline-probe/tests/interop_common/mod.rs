//! Shared by the interop tests: real third-party servers started on loopback (node scripts in
//! `interop/`, mosquitto from the system), and a watch whose events a test reads in order.
//!
//! A server that cannot start fails the test with the setup step that installs it; nothing
//! is skipped.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use heartline_core::{Endpoint, EndpointId, Event, EventKind, SessionEnd};
use heartline_probe::{Control, Probe, SystemResolver};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An endpoint with fast policies so a test sees several heartbeats within a second or two.
pub fn fast(url: String) -> Endpoint {
    let mut e = Endpoint::new("interop", url);
    e.heartbeat.ping_interval = ms(200);
    e.heartbeat.pong_timeout = ms(150);
    e.heartbeat.misses_allowed = 2;
    e.handshake_timeout = ms(3000);
    e.reconnect.initial = ms(20);
    e.reconnect.cap = ms(200);
    e
}

/// A third-party server process, killed when dropped.
pub struct Server {
    _child: Child,
    pub port: u16,
    /// Extra ports (mosquitto: the listener that requires a password).
    pub other_port: u16,
    _dir: Option<TempDir>,
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

/// Starts `node interop/<script> <args>` and reads the `{"port":N}` line it prints.
pub async fn node_server(script: &str, args: &[&str]) -> Server {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "interop/node_modules is missing: run `make deps` (scripts/bootstrap.sh runs `npm ci` in interop/)"
    );
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start node for interop/{script}: {e}; install Node.js (scripts/bootstrap.sh)")
        });
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("interop/{script} printed no port within 20 s"))
        .unwrap_or_else(|e| panic!("reading interop/{script}'s stdout: {e}"))
        .unwrap_or_else(|| {
            panic!("interop/{script} exited before listening; run `make deps` to install interop/")
        });
    let v: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("interop/{script} printed {line:?}, not JSON: {e}"));
    let port = v["port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_else(|| panic!("interop/{script} printed {line:?} without a port"));
    Server {
        _child: child,
        port,
        other_port: 0,
        _dir: None,
    }
}

/// A free loopback port (bound and released: mosquitto cannot listen on port 0).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local address").port()
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts mosquitto with two WebSocket listeners: `port` open to anonymous clients,
/// `other_port` requiring a password (an empty password file: every CONNECT is refused).
pub async fn mosquitto() -> Server {
    mosquitto_with("").await
}

/// [`mosquitto`] with extra general settings (e.g. `max_keepalive 1\n`) before the listeners.
pub async fn mosquitto_with(general: &str) -> Server {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("heartline-mosquitto-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let dir = TempDir(dir);
    let (tcp, open, closed) = (free_port(), free_port(), free_port());
    let passwords = dir.0.join("passwords");
    std::fs::write(&passwords, "").expect("write the password file");
    // mosquitto 2.0.11 exits ("Unable to start any listening sockets") when only WebSocket
    // listeners are configured, so a plain MQTT listener on loopback comes first.
    let conf = format!(
        "{general}\
         per_listener_settings true\n\
         persistence false\n\
         log_dest stderr\n\
         listener {tcp} 127.0.0.1\n\
         allow_anonymous false\n\
         password_file {pw}\n\
         listener {open} 127.0.0.1\n\
         protocol websockets\n\
         allow_anonymous true\n\
         listener {closed} 127.0.0.1\n\
         protocol websockets\n\
         allow_anonymous false\n\
         password_file {pw}\n",
        pw = passwords.display()
    );
    let conf_path = dir.0.join("mosquitto.conf");
    std::fs::write(&conf_path, conf).expect("write mosquitto.conf");
    // Debian installs it in /usr/sbin, which a user's PATH may lack.
    let program = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .unwrap_or("mosquitto");
    let mut child = Command::new(program)
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Its log on stderr: unbuffered, so the "running" line arrives when it is written.
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start mosquitto: {e}; install it with scripts/bootstrap.sh (apt package `mosquitto`)")
        });
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut running = false;
    while let Ok(Ok(Some(line))) = tokio::time::timeout_at(deadline, lines.next_line()).await {
        running = line.contains(" running");
        seen.push(line);
        if running {
            break;
        }
    }
    assert!(running, "mosquitto did not start: {seen:#?}");
    // Keep reading its log so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server {
        _child: child,
        port: open,
        other_port: closed,
        _dir: Some(dir),
    }
}

/// A running watch with its event stream.
pub struct Watch {
    events: mpsc::UnboundedReceiver<Event>,
    controls: heartline_probe::Controls,
    pub seen: Vec<EventKind>,
}

pub fn watch(endpoint: Endpoint) -> Watch {
    let probe = Probe::new(endpoint, Arc::new(SystemResolver)).expect("valid endpoint");
    let (tx, events) = mpsc::unbounded_channel();
    let (controls, rx) = heartline_probe::controls();
    let sink = Arc::new(move |e: Event| {
        let _ = tx.send(e);
    });
    tokio::spawn(probe.watch(EndpointId(1), rx, sink));
    Watch {
        events,
        controls,
        seen: Vec::new(),
    }
}

impl Watch {
    /// Waits for an event matching `pred`; panics with everything seen when none comes.
    pub async fn until(
        &mut self,
        within: Duration,
        pred: impl Fn(&EventKind) -> bool,
    ) -> EventKind {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(e)) => {
                    self.seen.push(e.kind.clone());
                    if pred(&e.kind) {
                        return e.kind;
                    }
                }
                Ok(None) => panic!("watch ended; saw {:#?}", self.seen),
                Err(_) => panic!("timed out; saw {:#?}", self.seen),
            }
        }
    }

    /// Waits for the `n`th event matching `pred` (counting those already seen).
    pub async fn nth(&mut self, n: usize, within: Duration, pred: impl Fn(&EventKind) -> bool) {
        while self.seen.iter().filter(|k| pred(k)).count() < n {
            self.until(within, &pred).await;
        }
    }

    /// The first session's end.
    pub async fn closed(&mut self) -> SessionEnd {
        match self
            .until(Duration::from_secs(10), |k| {
                matches!(k, EventKind::Closed { .. })
            })
            .await
        {
            EventKind::Closed { end, .. } => end,
            _ => unreachable!(),
        }
    }

    /// Stops the watch (cause: user) and returns the session's end and stats.
    pub async fn stop(&mut self) -> EventKind {
        self.controls
            .send(Control::Stop(heartline_core::CloseCause::User))
            .expect("watch running");
        self.until(Duration::from_secs(5), |k| {
            matches!(k, EventKind::Closed { .. })
        })
        .await
    }

    /// Whether any session ended before now.
    pub fn any_closed(&self) -> bool {
        self.seen
            .iter()
            .any(|k| matches!(k, EventKind::Closed { .. }))
    }
}
