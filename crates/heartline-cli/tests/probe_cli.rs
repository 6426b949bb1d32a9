//! `heartline probe` as a user runs it: the real binary against the lab on loopback.

use std::process::{Command, Output};

use heartline_lab::Lab;
use serde_json::Value;

/// Quick heartbeats with slack: a healthy run must stay healthy on a loaded machine.
const FAST: &[&str] = &["--ping-interval", "300ms", "--pong-timeout", "200ms"];

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

fn args(url: String, extra: &[&str]) -> Vec<String> {
    let mut v = vec!["probe".to_owned(), url];
    v.extend(FAST.iter().chain(extra).map(|s| s.to_string()));
    v
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

fn events<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["event"] == name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthy_run_prints_documented_json_and_exits_zero() {
    let lab = Lab::start().await.unwrap();
    let out = heartline(args(
        lab.ws_url("/echo"),
        &["--for", "1000ms", "--json", "--subprotocol", "chat"],
    ))
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    for v in &lines {
        let ts = v["ts"].as_str().expect("ts");
        assert!(
            ts.ends_with('Z') && ts.len() == 24,
            "RFC 3339 UTC with milliseconds: {ts}"
        );
    }
    let connected = events(&lines, "connected")[0];
    let phases = &connected["phases_ms"];
    assert!(
        phases["dns"].is_number() && phases["tcp"].is_number() && phases["upgrade"].is_number()
    );
    assert!(phases["tls"].is_null(), "ws:// has no TLS phase");
    assert_eq!(connected["subprotocol"], "chat");
    assert!(connected["extensions"].is_array());
    let state = events(&lines, "state")[0];
    assert_eq!(
        (&state["from"], &state["to"]),
        (&Value::from("connecting"), &Value::from("up"))
    );
    let rtts = events(&lines, "rtt");
    assert!(rtts.len() >= 3, "{lines:?}");
    assert!(rtts
        .iter()
        .all(|r| r["kind"] == "protocol" && r["ms"].as_f64().is_some()));
    let closed = events(&lines, "closed");
    assert_eq!(closed.len(), 1);
    let c = closed[0];
    assert_eq!(c["code"], 1000);
    assert_eq!(c["initiator"], "client");
    assert_eq!(c["cause"], "duration_elapsed");
    assert_eq!(c["clean"], true);
    assert!(c["session_ms"].as_f64().unwrap() >= 600.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_close_is_a_failure_with_code_reason_and_initiator() {
    let lab = Lab::start().await.unwrap();
    let out = heartline(args(
        lab.ws_url("/close?code=4001&reason=kicked&after=100ms"),
        &["--json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    let c = events(&lines, "closed")[0];
    assert_eq!(
        (&c["code"], &c["reason"], &c["initiator"], &c["clean"]),
        (
            &Value::from(4001),
            &Value::from("kicked"),
            &Value::from("server"),
            &Value::from(true)
        )
    );
    assert!(c["cause"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_reconnects_are_reported() {
    let lab = Lab::start().await.unwrap();
    let out = heartline(args(
        lab.ws_url("/reject?status=503"),
        &["--json", "--reconnect", "--for", "600ms"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    let f = events(&lines, "handshake_failed")[0];
    assert_eq!(
        (&f["phase"], &f["status"]),
        (&Value::from("http"), &Value::from(503))
    );
    let r = events(&lines, "reconnect_scheduled")[0];
    assert_eq!(r["attempt"], 2);
    assert!(r["delay_ms"].as_f64().unwrap() <= 500.0);

    let out = heartline(args(lab.ws_url("/mute?after=200ms"), &["--json"])).await;
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(events(&lines, "pong_missed")[0]["missed"], 1);
    let c = events(&lines, "closed")[0];
    assert_eq!(
        (&c["cause"], &c["initiator"], &c["code"]),
        (
            &Value::from("pong_timeout"),
            &Value::from("client"),
            &Value::from(1001)
        )
    );

    let out = heartline(args(lab.ws_url("/drop?after=100ms"), &["--json"])).await;
    let c = &events(&json_lines(&out), "closed")[0].clone();
    assert_eq!(
        (&c["code"], &c["initiator"], &c["clean"]),
        (
            &Value::from(1006),
            &Value::from("network"),
            &Value::from(false)
        )
    );

    let out = heartline(args(
        lab.ws_url("/silent?rate=20&after=150ms"),
        &["--json", "--stale-after", "300ms"],
    ))
    .await;
    let lines = json_lines(&out);
    assert!(events(&lines, "stale")[0]["silent_ms"].as_f64().unwrap() >= 300.0);
    assert_eq!(events(&lines, "closed")[0]["cause"], "stale");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_heartbeat_has_its_own_series() {
    let lab = Lab::start().await.unwrap();
    let url = lab.ws_url("/echo?reply=%7B%22type%22%3A%22pong%22%7D");
    let out = heartline(args(
        url,
        &[
            "--json",
            "--for",
            "600ms",
            "--app-ping",
            r#"{"type":"ping"}"#,
            "--app-pong-json",
            "type=pong",
        ],
    ))
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines = json_lines(&out);
    assert!(
        events(&lines, "rtt").iter().any(|r| r["kind"] == "app"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_headers_and_urls_are_never_printed() {
    let lab = Lab::start().await.unwrap();
    for mode in [&["--json"][..], &[][..]] {
        let mut extra = vec![
            "--for",
            "300ms",
            "-H",
            "Authorization: Bearer tok-SECRET-1",
            "-H",
            "X-Api-Key: key-SECRET-2",
        ];
        extra.extend_from_slice(mode);
        let out = heartline(args(lab.ws_url("/headers?token=url-SECRET-3"), &extra)).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains("SECRET"), "{mode:?}: {all}");
    }
    // The server did receive them.
    let sent = lab.log().iter().any(|r| {
        matches!(r, heartline_lab::LabRecord::Handshake { headers, .. }
        if headers.iter().any(|(_, v)| v == "Bearer tok-SECRET-1"))
    });
    assert!(sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readable_log_tells_the_story() {
    let lab = Lab::start().await.unwrap();
    let out = heartline(args(lab.ws_url("/close?code=1012&after=100ms"), &[])).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("probing ws://127.0.0.1:"), "{text}");
    assert!(
        text.contains("connected") && text.contains("tls –"),
        "{text}"
    );
    assert!(
        text.contains("1012 (service restart) by server, clean"),
        "{text}"
    );
    assert!(text.contains("not healthy: 1 session lost"), "{text}");
}

#[tokio::test]
async fn bad_usage_is_one_line_and_exit_two() {
    for (argv, needle) in [
        (vec!["probe", "http://example.com"], "ws:// or wss://"),
        (
            vec!["probe", "ws://h/", "--header", "NoColon"],
            "Name: value",
        ),
        (
            vec!["probe", "ws://h/", "--header", "Bad Name: x"],
            "legal header name",
        ),
        (
            vec!["probe", "ws://h/", "--ping-interval", "5"],
            "needs a unit",
        ),
        (
            vec!["probe", "ws://h/", "--pong-timeout", "20s"],
            "--pong-timeout",
        ),
        (
            vec!["probe", "ws://h/", "--ping-interval", "10ms"],
            "--ping-interval",
        ),
        (
            vec!["probe", "ws://h/", "--app-ping", "x"],
            "--app-pong-match",
        ),
        (
            vec!["probe", "ws://h/", "--app-pong-match", "x"],
            "--app-ping",
        ),
        (
            vec!["probe", "wss://h/", "--ca-file", "/nonexistent.pem"],
            "--ca-file",
        ),
        (vec!["probe"], "<URL>"),
        (vec!["probe", "ws://h/", "--bogus"], "--bogus"),
    ] {
        let out = heartline(argv.iter().map(|s| s.to_string()).collect()).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {err}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{argv:?}: one line: {err}"
        );
        assert!(err.contains(needle), "{argv:?}: {err}");
        assert!(out.stdout.is_empty(), "{argv:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_follows_several_endpoints_by_name() {
    let lab = Lab::start().await.unwrap();
    let argv = vec![
        "watch".to_owned(),
        format!("steady={}", lab.ws_url("/echo")),
        format!("zombie={}", lab.ws_url("/mute?after=200ms")),
        "--ping-interval".into(),
        "300ms".into(),
        "--pong-timeout".into(),
        "200ms".into(),
        "--for".into(),
        "2000ms".into(),
        "--json".into(),
    ];
    let out = heartline(argv.clone()).await;
    assert_eq!(out.status.code(), Some(1), "the zombie degrades");
    let lines = json_lines(&out);
    let of = |name: &str, event: &str| {
        lines
            .iter()
            .filter(|v| v["endpoint"] == name && v["event"] == event)
            .count()
    };
    assert!(of("steady", "rtt") >= 3);
    assert_eq!(of("steady", "closed"), 1, "closed once, at the end");
    assert!(of("zombie", "pong_missed") >= 2);
    assert!(lines.iter().any(|v| v["endpoint"] == "zombie"
        && v["event"] == "closed"
        && v["cause"] == "pong_timeout"));

    let human: Vec<String> = argv.into_iter().filter(|a| a != "--json").collect();
    let out = heartline(human).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("watching 2 endpoints"), "{text}");
    assert!(
        text.contains("zombie") && text.contains("by us (pong timeout)"),
        "{text}"
    );
    let table_row = text
        .lines()
        .rev()
        .find(|l| l.starts_with("steady"))
        .expect("final table");
    assert!(table_row.contains("Up"), "{table_row}");
}

/// `--ping-interval 300ms` alone: the pong timeout the user never set follows it (half the
/// interval) instead of refusing it with the 2 s default; one set explicitly still counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unset_pong_timeout_follows_the_ping_interval() {
    let lab = Lab::start().await.unwrap();
    let argv = |extra: &[&str]| {
        let mut v = vec![
            "probe".to_owned(),
            lab.ws_url("/echo"),
            "--ping-interval".into(),
            "300ms".into(),
            "--for".into(),
            "1s".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let out = heartline(argv(&[])).await;
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}{text}");
    assert!(
        text.contains("ping every 300ms, pong timeout 150ms"),
        "{text}"
    );
    // The application heartbeat's reply timeout (unset: the pong timeout) follows its own,
    // shorter interval the same way.
    let out = heartline(argv(&[
        "--pong-timeout",
        "250ms",
        "--app-ping",
        "hb",
        "--app-pong-match",
        "hb",
        "--app-interval",
        "200ms",
    ]))
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A pong timeout the user set is theirs: too long is still refused, naming it.
    let out = heartline(argv(&["--pong-timeout", "2s"])).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--pong-timeout"), "{err}");
}

/// `--secret-var NAME=ENV_VAR`: the value comes from the environment (never the command line),
/// reaches the server inside `--send` and `--app-ping`, and is never printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_vars_come_from_the_environment_and_are_never_printed() {
    const VALUE: &str = "env-SECRET-7f3a";
    let lab = Lab::start().await.unwrap();
    for mode in [&["--json"][..], &[]] {
        let mut extra = vec![
            "--for",
            "1000ms",
            "--secret-var",
            "token=HEARTLINE_TEST_TOKEN",
            "--send",
            "auth {{secret:token}}",
            "--app-ping",
            "beat {{secret:token}}",
            "--app-pong-match",
            "beat ",
        ];
        extra.extend_from_slice(mode);
        let argv = args(lab.ws_url("/echo"), &extra);
        assert!(!argv.iter().any(|a| a.contains(VALUE)));
        let out = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_heartline"))
                .args(&argv)
                .env("HEARTLINE_TEST_TOKEN", VALUE)
                .output()
                .expect("run heartline")
        })
        .await
        .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{mode:?}: {all}");
        assert!(!all.contains("SECRET"), "{mode:?}: {all}");
        if mode == ["--json"] {
            // The echoed heartbeat, with the value in it, was recognised: application RTTs.
            let lines = json_lines(&out);
            assert!(
                events(&lines, "rtt").iter().any(|r| r["kind"] == "app"),
                "{all}"
            );
        }
    }
    // The server received the values put in.
    let texts: Vec<String> = lab
        .log()
        .into_iter()
        .filter_map(|r| match r {
            heartline_lab::LabRecord::Text { text, .. } => Some(text),
            _ => None,
        })
        .collect();
    assert!(texts.contains(&format!("auth {VALUE}")), "{texts:?}");
    assert!(texts.contains(&format!("beat {VALUE}")), "{texts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unset_secret_var_is_refused_naming_the_variable() {
    let lab = Lab::start().await.unwrap();
    let argv = args(
        lab.ws_url("/echo"),
        &[
            "--secret-var",
            "token=HEARTLINE_TEST_UNSET_VAR",
            "--send",
            "auth {{secret:token}}",
        ],
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_heartline"))
            .args(&argv)
            .env_remove("HEARTLINE_TEST_UNSET_VAR")
            .output()
            .expect("run heartline")
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--secret-var")
            && err.contains("`HEARTLINE_TEST_UNSET_VAR`")
            && err.contains("not set"),
        "{err}"
    );
    // Refused before connecting: the server saw nobody.
    assert!(lab.log().is_empty(), "{:?}", lab.log());
}

/// `heartline watch | head -1`: once the reader of its output has gone, the watch stops as if
/// interrupted and exits by its health, not with a panic on the broken pipe (status 101).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_stops_quietly_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;
    let lab = Lab::start().await.unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_heartline"))
        .args([
            "watch".to_owned(),
            format!("steady={}", lab.ws_url("/echo")),
            "--ping-interval".into(),
            "200ms".into(),
            "--pong-timeout".into(),
            "150ms".into(),
            "--for".into(),
            "60s".into(),
            "--json".into(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run heartline watch");
    let status = tokio::task::spawn_blocking(move || {
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        assert!(first.contains("\"endpoint\":\"steady\""), "{first}");
        // The reader is gone (the pipe's read end closed with the BufReader); round trips
        // keep coming every 200 ms, so the next line meets the broken pipe.
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (child.wait().unwrap(), err)
    })
    .await
    .unwrap();
    let (status, err) = status;
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        status.code(),
        Some(0),
        "a healthy endpoint: {status:?} {err}"
    );
}
