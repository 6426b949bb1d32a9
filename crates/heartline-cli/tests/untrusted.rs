//! Hostile servers through the real `heartline` binary: a credential the server echoes is
//! never shown or stored, and control characters it sends never reach the terminal raw.

use std::process::{Command, Output};

use heartline_lab::Lab;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

mod common;
use common::{heartline, TempDir};

const TOKEN: &str = "hl-echo-9d8c7b6a5f4e";
const MASK: &str = "••••••";

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run heartline"))
        .await
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// Auth middleware in front of a WebSocket: refuses every upgrade with 401 and quotes the
/// credential it was sent, as some do. Returns its `ws://` URL.
async fn echoing_401() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !contains(&request, b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request);
                let credential = request
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("authorization")
                            .then(|| value.trim().to_owned())
                    })
                    .unwrap_or_default();
                let body = format!("invalid credentials: {credential}");
                let response = format!(
                    "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("ws://{addr}/feed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoed_credential_is_neither_shown_nor_stored_nor_exported() {
    let url = echoing_401().await;
    let auth = format!("Authorization: Bearer {TOKEN}");

    // probe, readable and JSON lines.
    for json in [false, true] {
        let mut probe = heartline();
        probe.args(["probe", &url, "-H", &auth, "--handshake-timeout", "5s"]);
        if json {
            probe.arg("--json");
        }
        let out = output(probe).await;
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(!all.contains(TOKEN), "json {json}: {all}");
        assert!(
            all.contains(&format!("invalid credentials: {MASK}")),
            "json {json}: the refusal is shown, masked: {all}"
        );
        if json {
            let failed: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
                .filter(|v: &serde_json::Value| v["event"] == "handshake_failed")
                .collect();
            assert_eq!(failed.len(), 1, "{all}");
            assert_eq!(failed[0]["status"], 401);
            assert_eq!(
                failed[0]["error"],
                // The whole header value is a secret form: `Bearer` goes with it.
                format!("401 Unauthorized: invalid credentials: {MASK}")
            );
        }
    }

    // run: the agent records the refusal, masked, and nothing else of the secret.
    let dir = TempDir::new("untrusted", "echo");
    let config = dir.path("heartline.toml");
    std::fs::write(
        &config,
        format!(
            "[[endpoint]]\nname = \"guarded\"\nurl = \"{url}\"\nsecret_headers = {{ Authorization = \"Bearer {TOKEN}\" }}\n"
        ),
    )
    .unwrap();
    let db = dir.path("heartline.db");
    let db_arg = db.to_str().unwrap();
    let mut run = heartline();
    run.args(["run", "--config", config.to_str().unwrap(), "--db", db_arg])
        .args(["--metrics", "off", "--for", "2s"]);
    let out = output(run).await;
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(TOKEN), "{}", text(&out));
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .read_only(true),
    )
    .await
    .unwrap();
    let reasons: Vec<(String,)> =
        sqlx::query_as("SELECT reason FROM events WHERE status = 401 AND reason IS NOT NULL")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert!(!reasons.is_empty(), "the refusal is recorded");
    for (reason,) in &reasons {
        assert!(
            reason.ends_with(&format!("invalid credentials: {MASK}")),
            "{reason}"
        );
    }
    for file in ["heartline.db", "heartline.db-wal"] {
        let bytes = std::fs::read(dir.path(file)).unwrap_or_default();
        assert!(!contains(&bytes, TOKEN.as_bytes()), "secret in {file}");
    }

    // export: every text format of that history.
    for format in ["md", "csv", "json"] {
        let mut export = heartline();
        export.args(["export", "--db", db_arg, "--since", "1h", "--until", "now"]);
        export.args(["--format", format]);
        let out = output(export).await;
        let all = text(&out);
        assert!(out.status.success(), "{format}: {all}");
        assert!(
            all.contains("401"),
            "{format}: the refusal is exported: {all}"
        );
        assert!(!all.contains(TOKEN), "{format}: {all}");
    }
}

/// A close reason that retitles the terminal, turns it red and forges a second log line.
const HOSTILE_REASON: &str = "\u{1b}]0;pwned\u{7}\u{1b}[31m\nforged: all good";
const HOSTILE_QUERY: &str = "%1B%5D0%3Bpwned%07%1B%5B31m%0Aforged%3A%20all%20good";

fn assert_escaped(what: &str, out: &Output) {
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !bytes.iter().any(|b| *b == 0x1b || *b == 0x07),
            "{what}: raw ESC or BEL on {stream}: {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r"\x1b]0;pwned\x07\x1b[31m\nforged: all good"),
        "{what}: the reason is shown escaped: {stdout}"
    );
    assert!(
        !stdout.lines().any(|l| l.starts_with("forged")),
        "{what}: no forged line: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_close_reason_reaches_the_terminal_escaped() {
    let lab = Lab::start().await.unwrap();
    let url = lab.ws_url(&format!(
        "/close?code=4000&reason={HOSTILE_QUERY}&after=200ms"
    ));

    let mut probe = heartline();
    probe.args(["probe", &url]);
    let out = output(probe).await;
    assert_escaped("probe", &out);

    let mut watch = heartline();
    watch.args(["watch", &url, "--for", "1500ms", "--table-every", "1s"]);
    let out = output(watch).await;
    assert_escaped("watch", &out);

    // JSON lines carry the reason as it came, escaped by the JSON encoder.
    let mut probe = heartline();
    probe.args(["probe", &url, "--json"]);
    let out = output(probe).await;
    assert!(!out.stdout.iter().any(|b| *b == 0x1b || *b == 0x07));
    let closed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"] == "closed")
        .expect("a closed event");
    assert_eq!(closed["reason"], HOSTILE_REASON);
}
