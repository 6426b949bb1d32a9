//! `heartline run` and `heartline endpoints` as an operator uses them: the real binary, a real
//! database file, the lab on loopback, signals.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use heartline_lab::Lab;

mod common;
use common::{heartline, http_get, metrics_addr, start_run, TempDir};

async fn output(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().expect("run heartline"))
        .await
        .unwrap()
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn sql(db: &Path, query: &str) -> String {
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true),
    )
    .await
    .unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(&format!("SELECT CAST(({query}) AS TEXT)"))
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.into_iter()
        .map(|(s,)| s)
        .collect::<Vec<_>>()
        .join("\n")
}

fn write_config(dir: &TempDir, body: &str) -> PathBuf {
    let path = dir.path("heartline.toml");
    std::fs::write(&path, body).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_records_history_serves_metrics_and_stops_cleanly() {
    let lab = Lab::start().await.unwrap();
    let dir = TempDir::new("agent", "run");
    let config = write_config(
        &dir,
        &format!(
            "[defaults]\nping_interval = \"200ms\"\npong_timeout = \"100ms\"\n\n\
             [[endpoint]]\nname = \"steady\"\nurl = \"{}\"\n\n\
             [[endpoint]]\nname = \"kicked\"\nurl = \"{}\"\nsecret_headers = {{ Authorization = \"Bearer AGENT-SECRET\" }}\n",
            lab.ws_url("/echo"),
            lab.ws_url("/close?code=4001&reason=kicked&after=300ms"),
        ),
    );
    let db = dir.path("heartline.db");
    let (child, first, _stderr) = start_run(&[
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--metrics",
        "127.0.0.1:0",
    ])
    .await;
    assert!(first.contains("watching 2 endpoints"), "{first}");
    let addr = metrics_addr(&first);

    // Scrape until both the round trips and the 4001 closes show.
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let a = addr.clone();
        let body = tokio::task::spawn_blocking(move || http_get(&a, "/metrics"))
            .await
            .unwrap();
        // A series appears with its first observation: the steady endpoint's round trip.
        let rtt =
            body.contains(r#"heartline_rtt_seconds_count{endpoint="steady",kind="protocol"}"#);
        let closed = body.contains(
            r#"heartline_closes_total{endpoint="kicked",code="4001",initiator="server"}"#,
        );
        if (rtt && closed) || Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.contains(r#"heartline_rtt_seconds_count{endpoint="steady",kind="protocol"}"#),
        "{body}"
    );
    assert!(
        body.contains(
            r#"heartline_closes_total{endpoint="kicked",code="4001",initiator="server"}"#
        ),
        "{body}"
    );
    assert!(
        body.contains(r#"heartline_endpoint_up{endpoint="steady"} 1"#),
        "{body}"
    );
    assert!(!body.contains("AGENT-SECRET"));

    signal(&child, "-TERM");
    let status = tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "{status:?}");

    assert_eq!(sql(&db, "SELECT count(*) FROM endpoints").await, "2");
    assert!(
        sql(
            &db,
            "SELECT count(*) FROM events WHERE kind = 'closed' AND code = 4001"
        )
        .await
        .parse::<u32>()
        .unwrap()
            >= 1
    );
    assert!(
        sql(
            &db,
            "SELECT count(*) FROM events WHERE kind = 'closed' AND cause = 'shutdown'"
        )
        .await
        .parse::<u32>()
        .unwrap()
            >= 1
    );
    assert!(
        sql(&db, "SELECT sum(count) FROM rtt_minute")
            .await
            .parse::<u32>()
            .unwrap()
            >= 5,
        "round trips rolled up"
    );
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM agent_runs WHERE stopped_at IS NOT NULL"
        )
        .await,
        "1",
        "a clean stop is recorded"
    );
    for file in ["heartline.db", "heartline.db-wal"] {
        let bytes = std::fs::read(dir.path(file)).unwrap_or_default();
        assert!(
            !bytes
                .windows(b"AGENT-SECRET".len())
                .any(|w| w == b"AGENT-SECRET"),
            "secret in {file}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_heavy_writes_loses_at_most_the_last_batch() {
    let lab = Lab::start().await.unwrap();
    let dir = TempDir::new("agent", "kill");
    // 60 endpoints that connect, drop and reconnect several times a second: a heavy event mix.
    let mut body = String::from("[defaults]\nping_interval = \"100ms\"\npong_timeout = \"50ms\"\n[defaults.reconnect]\ninitial = \"10ms\"\ncap = \"50ms\"\n");
    for i in 0..60 {
        body.push_str(&format!(
            "\n[[endpoint]]\nname = \"churn-{i}\"\nurl = \"{}\"\n",
            lab.ws_url("/drop?after=150ms")
        ));
    }
    let config = write_config(&dir, &body);
    let db = dir.path("heartline.db");
    let (child, first, _stderr) = start_run(&[
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--metrics",
        "off",
    ])
    .await;
    assert!(first.contains("watching 60 endpoints"), "{first}");
    // Read what the agent has committed so far, from outside, until it is a heavy load; the
    // kill comes right after. Whatever a reader saw committed must survive the kill.
    let (seen_events, seen_newest) = loop {
        let events: u64 = sql(&db, "SELECT count(*) FROM events")
            .await
            .parse()
            .unwrap_or(0);
        if events > 500 {
            let newest: i64 = sql(&db, "SELECT max(ts) FROM events")
                .await
                .parse()
                .unwrap();
            break (events, newest);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let killed_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    signal(&child, "-KILL");
    tokio::task::spawn_blocking(move || {
        let mut child = child;
        child.wait().unwrap()
    })
    .await
    .unwrap();

    assert_eq!(
        sql(&db, "SELECT integrity_check FROM pragma_integrity_check").await,
        "ok"
    );
    let events: u64 = sql(&db, "SELECT count(*) FROM events")
        .await
        .parse()
        .unwrap();
    let newest: i64 = sql(&db, "SELECT max(ts) FROM events")
        .await
        .parse()
        .unwrap();
    let lost_window = Duration::from_millis((killed_at - newest).max(0).unsigned_abs());
    println!(
        "SIGKILL under churn: {events} events on disk, newest {lost_window:?} before the kill"
    );
    // Every batch a reader saw committed before the kill is still there after it: only the
    // batch being written (at most a second of events, see BENCHMARKS.md) can be lost.
    assert!(
        events >= seen_events && newest >= seen_newest,
        "committed before the kill: {seen_events} events up to {seen_newest}; after: {events} up to {newest}"
    );

    // The next run opens the same file, and the crashed run is closed at its last sign of life.
    let mut again = heartline();
    again.args([
        "run",
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--metrics",
        "off",
        "--for",
        "300ms",
    ]);
    let out = output(again).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sql(
            &db,
            "SELECT count(*) FROM agent_runs WHERE stopped_at IS NULL"
        )
        .await,
        "0"
    );
}

#[tokio::test]
async fn a_malformed_config_names_line_and_field_and_changes_nothing() {
    let dir = TempDir::new("agent", "badconfig");
    let db = dir.path("heartline.db");
    let mut add = heartline();
    add.args([
        "endpoints",
        "add",
        "existing",
        "ws://127.0.0.1:9/",
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(output(add).await.status.success());
    let config = write_config(&dir, "[[endpoint]]\nname = \"a\"\nurl = \"ws://127.0.0.1:9/\"\n\n[[endpoint]]\nname = \"b\"\nurl = \"ws://127.0.0.1:9/\"\nping_interval = \"15\"\n");
    for sub in [
        &["run", "--metrics", "off", "--config"][..],
        &["endpoints", "import"][..],
    ] {
        let mut cmd = heartline();
        cmd.args(sub)
            .arg(&config)
            .args(["--db", db.to_str().unwrap()]);
        let out = output(cmd).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sub:?}: {err}");
        assert!(
            err.contains("heartline.toml:8")
                && err.contains("ping_interval")
                && err.contains("needs a unit"),
            "{sub:?}: {err}"
        );
    }
    let mut list = heartline();
    list.args(["endpoints", "list", "--db", db.to_str().unwrap()]);
    let out = output(list).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.lines().count(),
        1,
        "only the existing endpoint: {text}"
    );
}

#[tokio::test]
async fn endpoints_round_trip_through_export_and_import_without_secrets() {
    let dir = TempDir::new("agent", "endpoints");
    let db = dir.path("heartline.db");
    let dbs = db.to_str().unwrap().to_owned();
    let run = |args: Vec<String>| async move {
        let mut c = heartline();
        c.args(&args);
        output(c).await
    };
    let argv = |s: &str| {
        s.split(' ')
            .map(str::to_owned)
            .chain(["--db".to_owned(), dbs.clone()])
            .collect::<Vec<_>>()
    };
    let mut add =
        argv("endpoints add feed wss://feed.example.com/ws --tag prod --ping-interval 10s");
    add.extend(["-H".into(), "Authorization: Bearer EXPORT-SECRET".into()]);
    let out = run(add).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("added feed"));

    let out = run(argv("endpoints export --format toml")).await;
    let exported = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        exported.contains("name = \"feed\"") && exported.contains("stored = true"),
        "{exported}"
    );
    assert!(!exported.contains("EXPORT-SECRET"));
    let json = run(argv("endpoints export --format json")).await;
    assert!(!String::from_utf8_lossy(&json.stdout).contains("EXPORT-SECRET"));

    let file = dir.path("exported.toml");
    std::fs::write(&file, &exported).unwrap();
    let out = run(argv("endpoints remove feed")).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("history stays"));
    let out = run(argv(&format!("endpoints import {}", file.display()))).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(argv("endpoints list --json")).await;
    let listed: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).unwrap();
    assert_eq!(
        (listed["name"].as_str(), listed["ping_interval"].as_str()),
        (Some("feed"), Some("10s"))
    );

    let out = run(argv("endpoints add feed ws://other/")).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let out = run(argv("endpoints remove nosuch")).await;
    assert_eq!(out.status.code(), Some(2));
}

/// The packages' /etc/heartline/heartline.toml (every endpoint commented out): without
/// `--allow-empty` `run` refuses to start; with it (as heartline.service runs) the agent starts,
/// serves metrics, says what to do and stops cleanly.
#[tokio::test]
async fn the_packaged_config_runs_an_idle_agent_only_when_allowed() {
    let dir = TempDir::new("agent", "empty");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/linux/heartline.toml");
    let db = dir.path("heartline.db");
    let base = [
        "run",
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--for",
        "3s",
    ];
    let mut refused = heartline();
    refused.args(base).args(["--metrics", "off"]);
    let out = output(refused).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no endpoints to watch"));

    let mut args = base[1..].to_vec();
    args.extend(["--metrics", "127.0.0.1:0", "--allow-empty"]);
    let (mut child, first, mut stderr) = start_run(&args).await;
    assert!(first.contains("watching 0 endpoints"), "{first}");
    let addr = metrics_addr(&first);
    let body = tokio::task::spawn_blocking(move || http_get(&addr, "/metrics"))
        .await
        .unwrap();
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{rest}");
    assert!(rest.contains("add [[endpoint]] tables to"), "{rest}");
}

/// A desktop session's soft open-file limit is often 1,024; the agent raises it to the hard
/// limit, so more endpoints than the soft limit allows all hold their sessions. Run here
/// under a soft limit of 128 with 200 endpoints (without the raise, about 70 of them fail
/// with "too many open files").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_endpoints_than_the_soft_open_file_limit_all_connect() {
    const ENDPOINTS: usize = 200;
    let lab = Lab::start().await.unwrap();
    let dir = TempDir::new("agent", "nofile");
    let mut body = String::from("[defaults]\nping_interval = \"1s\"\npong_timeout = \"500ms\"\n");
    for i in 0..ENDPOINTS {
        body.push_str(&format!(
            "\n[[endpoint]]\nname = \"e{i:03}\"\nurl = \"{}\"\n",
            lab.ws_url("/echo")
        ));
    }
    let config = write_config(&dir, &body);
    let db = dir.path("heartline.db");
    // The soft limit is lowered by the shell that then becomes the agent; the hard limit is
    // left as it is (it must allow 200 sockets, as it does on any Linux).
    let mut cmd = Command::new("sh");
    cmd.args(["-c", r#"ulimit -Sn 128 && exec "$0" "$@""#])
        .arg(env!("CARGO_BIN_EXE_heartline"))
        .args(["run", "--config"])
        .arg(&config)
        .arg("--db")
        .arg(&db)
        .args(["--metrics", "127.0.0.1:0"])
        .env("HEARTLINE_SECRETS", "file")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start heartline run under sh");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    // The reader stays open to the end: the agent writes to stderr when it stops.
    let (first, _stderr) = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        (line, stderr)
    })
    .await
    .unwrap();
    assert!(
        first.contains(&format!("watching {ENDPOINTS} endpoints")),
        "{first}"
    );
    let addr = metrics_addr(&first);
    let up = |body: &str| {
        body.lines()
            .filter(|l| l.starts_with("heartline_endpoint_up{") && l.ends_with(" 1"))
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let body = loop {
        let a = addr.clone();
        let body = tokio::task::spawn_blocking(move || http_get(&a, "/metrics"))
            .await
            .unwrap();
        if up(&body) == ENDPOINTS || Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    signal(&child, "-TERM");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(
        up(&body),
        ENDPOINTS,
        "endpoints up under a soft limit of 128"
    );
    assert!(status.success(), "{status:?}");
}

/// An agent whose stderr nobody reads any more (a log pipe that went away) keeps watching and
/// stops cleanly: its lines for the operator are dropped, not a panic on the broken pipe
/// (which ended it with status 101 at its "stopped" line).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_stops_cleanly_after_its_stderr_went_away() {
    let lab = Lab::start().await.unwrap();
    let dir = TempDir::new("agent", "epipe");
    let config = write_config(
        &dir,
        &format!(
            "[defaults]\nping_interval = \"200ms\"\npong_timeout = \"100ms\"\n\n\
             [[endpoint]]\nname = \"steady\"\nurl = \"{}\"\n",
            lab.ws_url("/echo"),
        ),
    );
    let db = dir.path("heartline.db");
    let (child, first, stderr) = start_run(&[
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ])
    .await;
    assert!(first.contains("watching 1 endpoints"), "{first}");
    drop(stderr);
    // Round trips recorded before the stop: the agent was watching with its stderr gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sql(&db, "SELECT COUNT(*) FROM events WHERE kind = 'connected'").await == "0"
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&child, "-TERM");
    let mut child = child;
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        sql(&db, "SELECT COUNT(*) FROM events WHERE kind = 'connected'").await,
        "1"
    );
}
