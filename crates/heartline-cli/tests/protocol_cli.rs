//! `heartline probe --protocol` against a real Socket.IO 4.8 server (`interop/`, installed by
//! `make deps`): the server's pings show as `server_beat` events, a refusal as `refused`.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// The node server, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn socketio_server() -> Server {
    node_server(
        "socketio-server.mjs",
        &["--ping-interval", "300", "--ping-timeout", "200"],
    )
}

/// `interop/<script> <args>` under node, once it printed its `{"port":N}` line.
fn node_server(script: &str, args: &[&str]) -> Server {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop");
    assert!(
        dir.join("node_modules").is_dir(),
        "interop/node_modules is missing: run `make deps` (scripts/bootstrap.sh runs `npm ci` in interop/)"
    );
    let mut child = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start node (install Node.js: scripts/bootstrap.sh)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read the port line");
    let v: Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{script} printed {line:?}: {e}"));
    let port = v["port"].as_u64().expect("a port") as u16;
    Server { child, port }
}

async fn heartline(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_heartline"))
            .args(&args)
            .output()
            .expect("run heartline")
    })
    .await
    .unwrap()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

fn probe(url: String, extra: &[&str]) -> Vec<String> {
    let mut v = vec![
        "probe".to_owned(),
        url,
        "--ping-interval".into(),
        "300ms".into(),
        "--pong-timeout".into(),
        "200ms".into(),
        "--json".into(),
    ];
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_with_the_socketio_preset_answers_pings_and_stays_healthy() {
    let server = socketio_server();
    let url = format!(
        "ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket",
        server.port
    );
    let out = heartline(probe(url, &["--protocol", "socketio", "--for", "1500ms"])).await;
    let lines = json_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{lines:#?}");
    let beats: Vec<_> = lines
        .iter()
        .filter(|v| v["event"] == "server_beat")
        .collect();
    assert!(beats.len() >= 2, "{lines:#?}");
    assert!(beats
        .iter()
        .all(|b| b["interval_ms"].is_number() && b["jitter_ms"].is_number()));
    // Round trips only from our own pings.
    assert!(lines
        .iter()
        .filter(|v| v["event"] == "rtt")
        .all(|v| v["kind"] == "protocol"));
    let closed: Vec<_> = lines.iter().filter(|v| v["event"] == "closed").collect();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["cause"], "duration_elapsed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_reports_a_refusal_with_the_protocols_reason_and_a_hint_without_the_flag() {
    let server = socketio_server();
    let url = format!(
        "ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket&deny=1",
        server.port
    );
    let out = heartline(probe(url.clone(), &["--protocol", "socketio"])).await;
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    let closed = lines
        .iter()
        .find(|v| v["event"] == "closed")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(closed["refused"]["protocol"], "socketio");
    assert_eq!(closed["refused"]["class"], "credentials");
    assert_eq!(closed["reason"], "not authorized: missing token");

    // The readable log names the protocol and the refusal, the server's words quoted.
    let out = heartline(vec![
        "probe".into(),
        url.clone(),
        "--protocol".into(),
        "socketio".into(),
    ])
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("speaking Socket.IO 4"), "{text}");
    assert!(
        text.contains("refused by socketio (credentials): \"not authorized: missing token\""),
        "{text}"
    );

    // Without --protocol, the URL's shape earns a hint on stderr.
    let out = heartline(probe(url, &["--for", "300ms"])).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--protocol socketio"), "{stderr}");
}

/// `--send`/`--expect*` run in command-line order: graphql-transport-ws spoken by hand, the
/// subscribe waiting for the server's ack (sent before it, the server closes 4401).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_scripted_steps_wait_for_the_reply_in_command_line_order() {
    let server = node_server("graphql-server.mjs", &[]);
    let url = format!("ws://127.0.0.1:{}/graphql", server.port);
    let init = r#"{"type":"connection_init","payload":{}}"#;
    let subscribe = r#"{"id":"1","type":"subscribe","payload":{"query":"subscription { tick }"}}"#;
    let scripted = [
        "--subprotocol",
        "graphql-transport-ws",
        "--send",
        init,
        "--expect-json",
        "type=connection_ack",
        "--send",
        subscribe,
        "--for",
        "1500ms",
    ];
    let out = heartline(probe(url.clone(), &scripted)).await;
    let lines = json_lines(&out);
    assert_eq!(out.status.code(), Some(0), "{lines:#?}");
    let closed: Vec<_> = lines.iter().filter(|v| v["event"] == "closed").collect();
    assert_eq!(closed.len(), 1, "{lines:#?}");
    assert_eq!(closed[0]["cause"], "duration_elapsed", "{lines:#?}");

    // A wait nobody answers ends the session, naming the step and the rule.
    let out = heartline(probe(
        url,
        &[
            "--subprotocol",
            "graphql-transport-ws",
            "--send",
            init,
            "--expect",
            "welcome",
            "--expect-within",
            "300ms",
            "--send",
            subscribe,
        ],
    ))
    .await;
    let lines = json_lines(&out);
    assert_eq!(out.status.code(), Some(1), "{lines:#?}");
    let closed = lines
        .iter()
        .find(|v| v["event"] == "closed")
        .unwrap_or_else(|| panic!("{lines:#?}"));
    assert_eq!(closed["cause"], "protocol_handshake_timeout", "{closed}");
    assert_eq!(
        closed["reason"],
        r#"no reply matching "welcome" within 300ms (on_connect[1])"#
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_refuses_a_malformed_expectation_before_connecting() {
    for (args, says) in [
        (
            &["--expect-json", "connection_ack"][..],
            "--expect-json: `connection_ack` is not PATH=VALUE",
        ),
        (&["--expect-regex", "("][..], "invalid regex"),
        (
            &["--expect-within", "1s"][..],
            "--expect-within needs an --expect",
        ),
    ] {
        let out = heartline(probe("ws://127.0.0.1:9/".into(), args)).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
