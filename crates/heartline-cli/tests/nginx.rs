//! Behind a real nginx whose `proxy_read_timeout` is 2 s, in front of the lab's echo server:
//! every session that goes quiet is cut after 2 s, while each reconnect succeeds. Within a
//! bounded time `/metrics` must say the endpoint keeps dropping, how often and why, and after
//! the agent stops the Markdown and JSON exports must say the same: uptime under 100 %, the
//! drops counted per hour, an Unstable incident caused by an idle timeout of about 2 s.
//!
//! nginx is the Debian package `nginx` (scripts/bootstrap.sh installs it); it runs as this
//! test's own process (no daemon, no master process) with a configuration written into a
//! temporary directory. Without it the test fails and says so: nothing is skipped.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use heartline_lab::Lab;

mod common;
use common::{heartline, http_get, metrics_addr, start_run, TempDir};

/// The idle timeout nginx is given, and what the diagnosis must find.
const READ_TIMEOUT: &str = "2s";

/// How long the whole storm may take to show: the rule needs three drops (about 2.1 s each).
const STORM_DEADLINE: Duration = Duration::from_secs(60);

/// Attempts at starting nginx on a port another process took between our probe and its bind.
const PORT_ATTEMPTS: usize = 5;

/// The nginx binary: on the PATH, or in the sbin directories Debian installs it to (outside a
/// user's PATH).
fn nginx_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nginx not found on the PATH nor in /usr/sbin: this test needs the Debian \
                 package `nginx` (scripts/bootstrap.sh installs it)"
            )
        })
}

/// An nginx process of this test's own, killed when dropped.
struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nginx_config(dir: &Path, port: u16, upstream: std::net::SocketAddr) -> String {
    let d = dir.display();
    format!(
        "daemon off;\n\
         master_process off;\n\
         worker_processes 1;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {d}/body;\n\
           proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n\
           scgi_temp_path {d}/scgi;\n\
           server {{\n\
             listen 127.0.0.1:{port};\n\
             location / {{\n\
               proxy_pass http://{upstream};\n\
               proxy_http_version 1.1;\n\
               proxy_set_header Upgrade $http_upgrade;\n\
               proxy_set_header Connection \"upgrade\";\n\
               proxy_read_timeout {READ_TIMEOUT};\n\
               proxy_send_timeout {READ_TIMEOUT};\n\
             }}\n\
           }}\n\
         }}\n"
    )
}

/// Starts nginx on a free loopback port in front of `upstream`: a port is found by binding
/// port 0 and releasing it (nginx cannot listen on port 0), and another is tried when
/// something took it in between.
fn start_nginx(dir: &TempDir, upstream: std::net::SocketAddr) -> Nginx {
    let binary = nginx_binary();
    let root = dir.path("nginx");
    std::fs::create_dir_all(&root).expect("create nginx's directory");
    let mut last_error = String::new();
    for attempt in 1..=PORT_ATTEMPTS {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let conf = root.join(format!("nginx-{attempt}.conf"));
        std::fs::write(&conf, nginx_config(&root, port, upstream)).expect("write nginx.conf");
        let mut child = Command::new(&binary)
            .arg("-p")
            .arg(&root)
            .arg("-e")
            .arg(root.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        // Ready once it accepts a connection; gone means it could not start (a taken port).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                last_error = format!("nginx exited with {status}: {err}");
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Nginx { child, port };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("nginx did not listen on 127.0.0.1:{port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !last_error.contains("Address already in use") {
            break;
        }
    }
    panic!("nginx could not start: {last_error}");
}

/// The value of the one sample line starting with `series`, if any.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_the_agent_exports_and_metrics_tell_why_sessions_drop() {
    let lab = Lab::start().await.unwrap();
    let dir = TempDir::new("nginx", "idle");
    let nginx = start_nginx(&dir, lab.addr());

    // Pings every 30 s: the first goes out at once (so each session is answered and healthy),
    // then the session is quiet and nginx cuts it after 2 s.
    let config = dir.path("heartline.toml");
    std::fs::write(
        &config,
        format!(
            "[[endpoint]]\nname = \"proxied\"\nurl = \"ws://127.0.0.1:{}/echo\"\n\
             ping_interval = \"30s\"\npong_timeout = \"5s\"\n\n\
             [endpoint.reconnect]\ninitial = \"100ms\"\njitter = 0.0\n",
            nginx.port
        ),
    )
    .unwrap();
    let db = dir.path("heartline.db");
    let (mut child, first, _stderr) = start_run(&[
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--metrics",
        "127.0.0.1:0",
    ])
    .await;
    let addr = metrics_addr(&first);

    // /metrics: Unstable, explained by an idle timeout, with the drops counted.
    let open =
        r#"heartline_incident_open{endpoint="proxied",kind="unstable",cause="idle_timeout"}"#;
    let drops = r#"heartline_unexpected_ends_total{endpoint="proxied",class="abnormal"}"#;
    let deadline = Instant::now() + STORM_DEADLINE;
    let body = loop {
        let a = addr.clone();
        let body = tokio::task::spawn_blocking(move || http_get(&a, "/metrics"))
            .await
            .unwrap();
        if sample(&body, open) == Some(1.0) {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "no idle-timeout incident within {STORM_DEADLINE:?}; nginx log:\n{}\n/metrics:\n{body}",
            std::fs::read_to_string(dir.path("nginx").join("error.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        sample(
            &body,
            r#"heartline_endpoint_state{endpoint="proxied",state="unstable"}"#
        ),
        Some(1.0),
        "{body}"
    );
    let dropped = sample(&body, drops).unwrap_or_else(|| panic!("no {drops} in\n{body}"));
    assert!(dropped >= 3.0, "{body}");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    drop(nginx);

    let export = |format: &str| {
        let out = heartline()
            .args(["export", "--db"])
            .arg(&db)
            .args(["--since", "1h", "--until", "now", "--format", format])
            .output()
            .expect("run heartline export");
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    };

    // Markdown: the summary row, the incident with its cause, the finding.
    let md = export("md");
    let row = md
        .lines()
        .find(|l| l.starts_with("| proxied |"))
        .unwrap_or_else(|| panic!("no summary row in\n{md}"));
    // The figures, for whoever reads the test's output.
    eprintln!("{row}");
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    let uptime: f64 = cells[2]
        .trim_end_matches(" %")
        .parse()
        .unwrap_or_else(|_| panic!("uptime cell {:?} in {row}", cells[2]));
    assert!(uptime < 100.0, "{row}");
    let md_drops: u32 = cells[4].parse().unwrap_or_else(|_| panic!("{row}"));
    assert!(f64::from(md_drops) >= dropped, "{row}");
    let per_hour: f64 = cells[5].parse().unwrap_or_else(|_| panic!("{row}"));
    assert!(per_hour > 100.0, "a drop every few seconds: {row}");
    assert!(
        md.lines().any(
            |l| l.contains("| proxied | Unstable |") && l.contains("Idle timeout of about 2 s")
        ),
        "no Unstable incident caused by the idle timeout in\n{md}"
    );
    assert!(
        md.contains("Idle timeout of about 2 s on the path to proxied"),
        "{md}"
    );

    // JSON: the same figures, for machines.
    let json: serde_json::Value = serde_json::from_str(&export("json")).expect("JSON export");
    let summary = &json["summary"];
    let endpoint = summary["endpoints"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["name"] == "proxied"))
        .unwrap_or_else(|| panic!("no proxied in {summary}"));
    let ratio = endpoint["uptime"]["ratio"]
        .as_f64()
        .expect("an uptime ratio");
    assert!(ratio < 1.0, "{endpoint}");
    assert!(
        endpoint["sessions"]["unexpected_ends"]
            .as_u64()
            .unwrap_or(0)
            >= 3,
        "{endpoint}"
    );
    assert!(
        endpoint["sessions"]["drops_per_hour"]
            .as_f64()
            .unwrap_or(0.0)
            > 100.0,
        "{endpoint}"
    );
    let incident = summary["incidents"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|i| i["endpoint"] == "proxied" && i["kind"] == "unstable")
        })
        .unwrap_or_else(|| panic!("no Unstable incident in {summary}"));
    assert_eq!(incident["cause"]["rule"], "idle_timeout", "{incident}");
    let finding = summary["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["rule"] == "idle_timeout"))
        .unwrap_or_else(|| panic!("no idle timeout finding in {summary}"));
    assert!(
        finding["title"]
            .as_str()
            .is_some_and(|t| t.contains("about 2 s")),
        "{finding}"
    );
}
