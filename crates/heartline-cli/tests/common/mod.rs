//! Set-up shared by the CLI's integration tests: a scratch directory and the real binary.
//!
//! Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A directory of its own under the system temp dir, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// `suite` and `name` make the directory recognisable when a failed run leaves it behind.
    pub fn new(suite: &str, name: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "heartline-{suite}-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts `heartline run` with `args` and returns it with the first line it printed on
/// stderr, and the rest of its stderr to read on (keep it: a closed pipe is a reader gone).
pub async fn start_run(args: &[&str]) -> (Child, String, BufReader<ChildStderr>) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut child = heartline()
            .arg("run")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start heartline run");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        (child, line, stderr)
    })
    .await
    .unwrap()
}

/// The `heartline` binary under test, keeping secrets in a file: tests never touch the
/// desktop keychain.
pub fn heartline() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_heartline"));
    c.env("HEARTLINE_SECRETS", "file");
    c
}

/// A plain HTTP/1.1 GET (the agent's `/metrics`), the whole response as text.
pub fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the HTTP server");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// The `/metrics` address (`host:port`) in `heartline run`'s first line
/// ("… metrics http://127.0.0.1:PORT/metrics").
pub fn metrics_addr(first_line: &str) -> String {
    first_line
        .split("metrics http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no metrics address in {first_line:?}"))
        .to_owned()
}
