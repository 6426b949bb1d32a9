//! The façade's operations without any shell: a real SQLite file in a temp dir, the lab on
//! loopback (port 0), secrets in a 0600 file. Waits are bounded and prove order, not speed.

use std::path::PathBuf;
use std::time::Duration;

use heartline_core::{
    CloseCause, Endpoint, EndpointId, Event, EventKind, Header, IncidentKind, Initiator,
    SessionEnd, SessionStats, State, Timestamp,
};
use heartline_lab::Lab;
use heartline_monitor::{
    ConfigFormat, Delivery, ErrorKind, ExportFormat, ExportRequest, Monitor, MonitorOptions,
    ProbeStep, Secrets, StateName, Subscription, Window,
};

/// Longest any single wait may take before the test fails (a bound, not a measurement).
const BOUND: Duration = Duration::from_secs(30);

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "heartline-monitor-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Dir(dir)
    }

    fn options(&self) -> MonitorOptions {
        let mut o = MonitorOptions::new(self.0.join("heartline.db")).retention_days(30);
        o.secrets = Some(Secrets::File(self.0.join("secrets.json")));
        o
    }

    async fn open(&self) -> Monitor {
        Monitor::open(self.options()).await.expect("open monitor")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn quick(name: &str, url: String) -> Endpoint {
    let mut e = Endpoint::new(name, url);
    e.heartbeat.ping_interval = Duration::from_millis(500);
    e.heartbeat.pong_timeout = Duration::from_millis(400);
    e
}

/// Waits (bounded) for the first event of `id` that `pred` accepts.
async fn wait_for(events: &mut Subscription, id: EndpointId, pred: impl Fn(&EventKind) -> bool) {
    let found = tokio::time::timeout(BOUND, async {
        while let Some(d) = events.recv().await {
            if let Delivery::Event(e) = d {
                if e.endpoint == id && pred(&e.kind) {
                    return true;
                }
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no such event of {id}");
}

fn to_state(s: State) -> impl Fn(&EventKind) -> bool {
    move |k| matches!(k, EventKind::StateChanged { to, .. } if *to == s)
}

fn window_around_now() -> Window {
    let now = heartline_monitor::now().0;
    Window {
        from: now - 3_600_000,
        to: now + 60_000,
    }
}

#[tokio::test]
async fn add_pause_resume_update_reconnect_remove_keep_store_and_engine_together() {
    let lab = Lab::start().await.expect("lab");
    let dir = Dir::new("edits");
    let monitor = dir.open().await;
    let mut events = monitor.subscribe();

    let id = monitor
        .add(quick("feed", lab.ws_url("/echo")))
        .await
        .expect("add");
    wait_for(&mut events, id, to_state(State::Up)).await;
    let rows = monitor.overview().await.expect("overview");
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].name.as_str(), rows[0].paused), ("feed", false));
    assert_eq!(rows[0].live.state, StateName::Up);

    // Paused: the store's column and the engine's state say it, with no override.
    monitor.pause(id.0).await.expect("pause");
    wait_for(&mut events, id, to_state(State::Paused)).await;
    let row = &monitor.overview().await.expect("overview")[0];
    assert!(row.paused);
    assert_eq!(row.live.state, StateName::Paused);
    assert_eq!(monitor.watching(), 0);

    monitor.resume(id.0).await.expect("resume");
    wait_for(&mut events, id, to_state(State::Up)).await;
    let row = &monitor.overview().await.expect("overview")[0];
    assert!(!row.paused);
    assert_eq!(row.live.state, StateName::Up);

    // Reconnect: the session closes (cause user) and a new one opens.
    monitor.reconnect(id.0).await.expect("reconnect");
    wait_for(&mut events, id, |k| matches!(k, EventKind::Closed { .. })).await;
    wait_for(&mut events, id, |k| {
        matches!(k, EventKind::Connected { .. })
    })
    .await;

    let mut renamed = monitor.endpoint(id.0).expect("endpoint");
    renamed.name = "feed-2".into();
    monitor.update(id.0, renamed).await.expect("update");
    assert_eq!(monitor.endpoint(id.0).expect("endpoint").name, "feed-2");

    let copy = monitor.duplicate(id.0).await.expect("duplicate");
    assert_eq!(monitor.endpoint(copy.0).expect("copy").name, "feed-2 (2)");

    monitor.remove(id.0).await.expect("remove");
    assert_eq!(
        monitor.remove(id.0).await.expect_err("gone").kind(),
        ErrorKind::NotFound
    );
    let names: Vec<String> = monitor
        .overview()
        .await
        .expect("overview")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["feed-2 (2)"]);
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");

    // What the store kept is what the engine watched.
    let reopened = dir.open().await;
    let stored: Vec<String> = reopened
        .endpoints()
        .into_iter()
        .map(|(_, e)| e.name)
        .collect();
    assert_eq!(stored, ["feed-2 (2)"]);
    reopened
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
    lab.shutdown().await;
}

/// The engine refuses an endpoint whose CA file is missing (validation cannot know): the add
/// leaves no stored row, and a refused update leaves the stored configuration as it was.
#[tokio::test]
async fn an_endpoint_the_engine_refuses_is_not_left_stored() {
    let dir = Dir::new("refused");
    let monitor = dir.open().await;
    let mut bad = Endpoint::new("bad-ca", "wss://127.0.0.1:9/");
    bad.tls.ca_file = Some(dir.0.join("no-such-ca.pem"));
    let err = monitor.add(bad.clone()).await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Engine, "{err}");
    assert!(monitor.overview().await.expect("overview").is_empty());
    // The name is free again: nothing half-added holds it.
    let id = monitor
        .add(Endpoint::new("bad-ca", "ws://127.0.0.1:9/"))
        .await
        .expect("add");
    monitor.pause(id.0).await.expect("pause");

    let err = monitor.update(id.0, bad).await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Engine, "{err}");
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");

    let reopened = dir.open().await;
    let stored = reopened.endpoint(id.0).expect("still there");
    assert_eq!(stored.url, "ws://127.0.0.1:9/");
    assert_eq!(stored.tls.ca_file, None);
    assert!(reopened.overview().await.expect("overview")[0].paused);
    reopened
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
}

/// A stored-paused endpoint starts paused: its state is `Paused` from the first look, and it
/// never dials (the lab sees only the other endpoint).
#[tokio::test]
async fn paused_lives_in_the_store_and_a_restart_never_dials_it() {
    let lab = Lab::start().await.expect("lab");
    let dir = Dir::new("paused");
    let monitor = dir.open().await;
    let quiet = monitor
        .add(quick("quiet", lab.ws_url("/headers")))
        .await
        .expect("add");
    monitor.pause(quiet.0).await.expect("pause");
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
    let before = lab.log().len();

    let monitor = dir.open().await;
    let statuses = monitor.statuses(&Default::default());
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].state, StateName::Paused);
    // Another endpoint connects: by then the paused one would have dialed too.
    let mut events = monitor.subscribe();
    let loud = monitor
        .add(quick("loud", lab.ws_url("/echo")))
        .await
        .expect("add");
    wait_for(&mut events, loud, to_state(State::Up)).await;
    let after: Vec<String> = lab.log()[before..]
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    assert!(!after.is_empty());
    assert!(
        after.iter().all(|r| !r.contains("/headers")),
        "the paused endpoint dialed: {after:?}"
    );
    let rows = monitor.overview().await.expect("overview");
    let quiet_row = rows.iter().find(|r| r.id == quiet.0).expect("quiet");
    assert_eq!(
        (quiet_row.paused, quiet_row.live.state),
        (true, StateName::Paused)
    );
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
    lab.shutdown().await;
}

#[tokio::test]
async fn test_connection_goes_through_the_probe() {
    let lab = Lab::start().await.expect("lab");
    let dir = Dir::new("test-connection");
    let monitor = dir.open().await;

    let ok = monitor
        .test_connection(&Endpoint::new("t", lab.ws_url("/echo")))
        .await
        .expect("tested");
    assert!(ok.ok, "{ok:?}");
    assert!(ok.rtt_us.is_some() && ok.phases.is_some(), "{ok:?}");

    let refused = monitor
        .test_connection(&Endpoint::new("t", lab.ws_url("/reject?status=401")))
        .await
        .expect("tested");
    assert!(!refused.ok);
    assert_eq!(refused.http_status, Some(401), "{refused:?}");
    assert_eq!(refused.failed_phase, Some(ProbeStep::Http));

    let invalid = monitor
        .test_connection(&Endpoint::new("", "http://nope"))
        .await
        .expect_err("invalid");
    assert_eq!(invalid.kind(), ErrorKind::Invalid);
    assert!(!invalid.field_problems().is_empty());
    // Nothing was stored by a test.
    assert!(monitor.overview().await.expect("overview").is_empty());
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
    lab.shutdown().await;
}

/// A WebSocket server of the test's own on loopback that accepts every upgrade, answers pings
/// and reports each request's path and query with its `Authorization` header, in order.
async fn recording_server() -> (
    std::net::SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<(String, Option<String>)>,
) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                #[allow(clippy::result_large_err)] // tungstenite's callback signature
                let record = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
                    let auth = req.headers().get("authorization");
                    let auth = auth.and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let _ = tx.send((req.uri().to_string(), auth));
                    Ok(resp)
                };
                if let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, record).await {
                    // Reading answers the client's pings.
                    while let Some(Ok(_)) = ws.next().await {}
                }
            });
        }
    });
    (addr, rx)
}

/// "Test connection" while editing: the form comes with its secret values empty, and the
/// stored ones (a secret header and a secret query value) are what reaches the server, as
/// saving would keep them; none of them comes back in the result.
#[tokio::test]
async fn testing_an_edited_form_sends_the_stored_secret_values() {
    let (addr, mut requests) = recording_server().await;
    let dir = Dir::new("test-form");
    let monitor = dir.open().await;
    let mut stored = Endpoint::new("feed", format!("ws://{addr}/watch?room=1&token=q-s3cret"));
    stored.headers.push(Header {
        name: "Authorization".into(),
        value: "Bearer h-s3cret".into(),
        secret: true,
    });
    let id = monitor.add(stored).await.expect("add");

    let mut form = monitor.endpoint_form(id.0).expect("form");
    assert_eq!(form.headers[0].value, "", "the form holds no secret");
    assert_eq!(form.url, format!("ws://{addr}/watch?room=1&token="));
    // The test goes to another path than the watch's, to tell the two connections apart.
    form.url = form.url.replace("/watch", "/test");
    let result = monitor.test_form(Some(id.0), &form).await.expect("tested");
    assert!(result.ok, "{result:?}");
    assert!(!format!("{result:?}").contains("s3cret"), "{result:?}");

    // The probe returned after its handshake, so its request was recorded before this.
    let mut seen = Vec::new();
    while let Ok(request) = requests.try_recv() {
        seen.push(request);
    }
    let tested: Vec<_> = seen
        .iter()
        .filter(|(uri, _)| uri.starts_with("/test"))
        .collect();
    assert_eq!(
        tested,
        [&(
            "/test?room=1&token=q-s3cret".to_owned(),
            Some("Bearer h-s3cret".to_owned())
        )],
        "{seen:?}"
    );

    // A new endpoint's form has no stored values to fill; an id not watched is named.
    let fresh = monitor.test_form(None, &form).await.expect("tested");
    assert!(fresh.ok, "{fresh:?}");
    let mut last = None;
    while let Ok(request) = requests.try_recv() {
        last = Some(request)
            .filter(|(uri, _)| uri.starts_with("/test"))
            .or(last);
    }
    assert_eq!(
        last,
        Some(("/test?room=1&token=".to_owned(), Some(String::new())))
    );
    let missing = monitor
        .test_form(Some(99), &form)
        .await
        .expect_err("no #99");
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
}

/// Settings are checked before anything is saved or served: invalid defaults name their
/// fields, a bad metrics address is named, and a good one serves `/metrics` and is kept.
#[tokio::test]
async fn settings_are_checked_then_saved_and_applied() {
    use heartline_monitor::settings::{AppSettings, EndpointDefaults, Settings};
    let dir = Dir::new("settings");
    let mut options = dir.options();
    options.metrics = true;
    let monitor = Monitor::open(options).await.expect("open");
    let path = dir.0.join("settings.json");
    let settings = Settings::load(path.clone());

    let bad_defaults = AppSettings {
        endpoint_defaults: EndpointDefaults {
            ping_interval_ms: 5_000,
            pong_timeout_ms: 9_000,
            ..EndpointDefaults::default()
        },
        ..AppSettings::default()
    };
    let err = monitor
        .apply_settings(&settings, bad_defaults)
        .await
        .expect_err("invalid defaults");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(
        err.to_string().starts_with("defaults for new endpoints: "),
        "{err}"
    );
    assert!(
        err.field_problems()
            .iter()
            .any(|p| p.field.contains("pong_timeout")),
        "{:?}",
        err.field_problems()
    );

    let bad_address = AppSettings {
        metrics_address: Some("localhost".into()),
        ..AppSettings::default()
    };
    let err = monitor
        .apply_settings(&settings, bad_address)
        .await
        .expect_err("bad address");
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().starts_with("metrics address: "), "{err}");
    assert!(!path.exists(), "nothing saved");
    assert_eq!(monitor.metrics_address(), None);

    let good = AppSettings {
        metrics_address: Some("127.0.0.1:0".into()),
        notifications: false,
        ..AppSettings::default()
    };
    monitor
        .apply_settings(&settings, good.clone())
        .await
        .expect("saved");
    assert!(monitor.metrics_address().is_some(), "served");
    assert_eq!(Settings::load(path).get(), good);
    monitor
        .apply_settings(&settings, AppSettings::default())
        .await
        .expect("saved");
    assert_eq!(monitor.metrics_address(), None, "stopped");
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
}

/// The cause a notification or the tray names is the live incident tracker's: known as soon as
/// the incident opens, gone when it closes.
#[tokio::test]
async fn the_open_incident_names_its_cause_live() {
    let dir = Dir::new("cause");
    let monitor = dir.open().await;
    let id = monitor
        .add(Endpoint::new("feed", "ws://127.0.0.1:9/"))
        .await
        .expect("add");
    monitor.pause(id.0).await.expect("pause");
    let now = heartline_monitor::now().0;
    let at = |ago_s: i64| Timestamp(now - ago_s * 1000);
    let recorder = monitor.recorder();
    let emit = |t: i64, kind: EventKind| {
        recorder.emit(Event {
            at: at(t),
            endpoint: id,
            kind,
        })
    };
    let state = |from, to| EventKind::StateChanged { from, to };
    emit(600, state(State::Connecting, State::Up));
    assert_eq!(monitor.open_cause(id.0), None, "no incident yet");
    emit(
        300,
        EventKind::Closed {
            end: SessionEnd::ClosedByClient {
                cause: CloseCause::PongTimeout,
                code: 1001,
                reason: String::new(),
                clean: false,
            },
            stats: SessionStats {
                duration: Duration::from_secs(300),
                ..SessionStats::default()
            },
        },
    );
    emit(299, state(State::Up, State::Down));
    let cause = monitor.open_cause(id.0).expect("a cause while Down");
    assert!(cause.starts_with("Half-open connections"), "{cause}");
    emit(200, state(State::Down, State::Up));
    assert_eq!(monitor.open_cause(id.0), None, "the incident closed");
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
}

/// The tray's tooltip counts the live states and names the endpoint in trouble.
#[tokio::test]
async fn the_tray_tooltip_names_an_endpoint_that_is_down() {
    let dir = Dir::new("tooltip");
    let monitor = dir.open().await;
    let mut events = monitor.subscribe();
    // Nothing listens on a port just released: every attempt is refused, Down after two.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut e = quick("gone <b>", format!("ws://127.0.0.1:{port}/"));
    e.reconnect.initial = Duration::from_millis(20);
    e.reconnect.jitter = 0.0;
    let id = monitor.add(e).await.expect("add");
    wait_for(&mut events, id, to_state(State::Down)).await;
    let tooltip = monitor.tray_tooltip();
    assert!(
        tooltip.starts_with("Heartline: 0 up, 0 degraded, 1 down\ngone &lt;b&gt; down"),
        "{tooltip}"
    );
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
}

/// History fed to the recorder comes back in detail, timeline and incidents, and (after a
/// restart) the overview's last close still says who closed and why.
#[tokio::test]
async fn views_read_the_recorded_history() {
    let dir = Dir::new("views");
    let monitor = dir.open().await;
    // Paused, and on a port nothing listens on: this run makes no history of its own.
    let id = monitor
        .add(Endpoint::new("feed", "ws://127.0.0.1:9/"))
        .await
        .expect("add");
    monitor.pause(id.0).await.expect("pause");
    let now = heartline_monitor::now().0;
    let at = |ago_s: i64| Timestamp(now - ago_s * 1000);
    let recorder = monitor.recorder();
    let state = |from, to| EventKind::StateChanged { from, to };
    for (t, kind) in [
        (600, state(State::Connecting, State::Up)),
        (
            300,
            EventKind::Closed {
                end: SessionEnd::ClosedByClient {
                    cause: CloseCause::PongTimeout,
                    code: 1001,
                    reason: String::new(),
                    clean: false,
                },
                stats: SessionStats {
                    duration: Duration::from_secs(300),
                    ..SessionStats::default()
                },
            },
        ),
        (299, state(State::Up, State::Down)),
        (200, state(State::Down, State::Up)),
        // The server's own heartbeats: intervals, never round trips.
        (
            190,
            EventKind::ServerBeat {
                interval: Duration::from_secs(10),
                jitter: Duration::ZERO,
            },
        ),
        (
            164,
            EventKind::ServerBeat {
                interval: Duration::from_secs(26),
                jitter: Duration::from_secs(16),
            },
        ),
    ] {
        recorder.emit(Event {
            at: at(t),
            endpoint: id,
            kind,
        });
    }
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");

    let monitor = dir.open().await;
    let window = window_around_now();
    let rows = monitor.overview().await.expect("overview");
    let close = rows[0].live.last_close.clone().expect("a last close");
    assert_eq!(
        (close.code, close.initiator, close.cause),
        (1001, Initiator::Client, Some(CloseCause::PongTimeout))
    );

    let detail = monitor.detail(id.0, window).await.expect("detail");
    let states: Vec<StateName> = detail.states.iter().map(|s| s.state).collect();
    assert!(
        states
            .windows(3)
            .any(|w| w == [StateName::Up, StateName::Down, StateName::Up]),
        "{states:?}"
    );
    assert_eq!(detail.closes.len(), 1);
    let beats = detail.server_beats.clone().expect("the recorded beats");
    assert_eq!(
        (
            beats.beats,
            beats.mean_interval_ms,
            beats.min_interval_ms,
            beats.max_interval_ms
        ),
        (2, 18_000, 10_000, 26_000)
    );
    assert!(detail.rtt.is_empty(), "beats are no round trips");

    let lanes = monitor.timeline(window).await.expect("timeline");
    assert_eq!(lanes.len(), 1);
    assert_eq!(lanes[0].closes.len(), 1);

    let incidents = monitor.incidents(window).await.expect("incidents");
    assert_eq!(incidents.total, 1, "{incidents:?}");
    assert_eq!(incidents.rows[0].endpoint_name, "feed");
    assert_eq!(incidents.rows[0].kind, IncidentKind::Down);

    let backwards = Window {
        from: window.to,
        to: window.from,
    };
    assert_eq!(
        monitor
            .detail(id.0, backwards)
            .await
            .expect_err("bad")
            .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        monitor.detail(999, window).await.expect_err("none").kind(),
        ErrorKind::NotFound
    );

    // An export of the same window, written beside the database.
    let path = dir.0.join("report.md");
    let done = monitor
        .export(
            &ExportRequest {
                endpoints: vec![id.0],
                window,
                incidents_only: false,
                format: ExportFormat::Markdown,
                path: path.display().to_string(),
            },
            heartline_monitor::now(),
            &|_| {},
        )
        .await
        .expect("export");
    assert_eq!((done.endpoints, done.incidents), (1, 1));
    let text = std::fs::read_to_string(&path).expect("written");
    assert!(text.contains("feed"), "{text}");

    // Only a file this monitor exported is handed to a shell to open, and one deleted since
    // is named.
    assert_eq!(monitor.exported_file(&done.path).expect("exported"), path);
    let other = dir.0.join("other.md");
    std::fs::write(&other, "x").expect("write");
    let refused = monitor
        .exported_file(&other.display().to_string())
        .expect_err("not exported");
    assert_eq!(refused.kind(), ErrorKind::Invalid);
    assert!(
        refused
            .to_string()
            .contains("not a file Heartline exported"),
        "{refused}"
    );
    std::fs::remove_file(&path).expect("remove");
    let gone = monitor.exported_file(&done.path).expect_err("deleted");
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    assert!(gone.to_string().contains("no longer there"), "{gone}");
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
}

#[tokio::test]
async fn import_and_export_of_the_endpoint_configuration() {
    let dir = Dir::new("import");
    let monitor = dir.open().await;
    let text = r#"
[[endpoint]]
name = "one"
url = "ws://127.0.0.1:9/one"

[[endpoint]]
name = "two"
url = "ws://127.0.0.1:9/two"
secret_headers = { Authorization = { env = "HEARTLINE_MONITOR_TEST_TOKEN" } }
"#;
    let env = |name: &str| (name == "HEARTLINE_MONITOR_TEST_TOKEN").then(|| "s3cret".to_owned());
    let result = monitor
        .import(text, ConfigFormat::Toml, &env)
        .await
        .expect("import");
    assert_eq!(result.added, ["one", "two"]);
    assert_eq!(
        monitor.endpoints().len(),
        2,
        "imported endpoints are watched"
    );
    let again = monitor
        .import(text, ConfigFormat::Toml, &env)
        .await
        .expect("import again");
    assert!(again.added.is_empty());

    let toml = monitor.export_endpoints(ConfigFormat::Toml);
    assert!(
        toml.contains("\"one\"") && toml.contains("\"two\""),
        "{toml}"
    );
    assert!(!toml.contains("s3cret"), "{toml}");
    let bad = monitor
        .import("[[endpoint]]\nname = 3", ConfigFormat::Toml, &env)
        .await
        .expect_err("bad toml");
    assert_eq!(bad.kind(), ErrorKind::Config);
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
}

#[tokio::test]
async fn metrics_are_served_when_asked() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let lab = Lab::start().await.expect("lab");
    let dir = Dir::new("metrics");
    let mut options = dir.options();
    options.metrics = true;
    let monitor = Monitor::open(options).await.expect("open");
    let mut events = monitor.subscribe();
    let id = monitor
        .add(quick("feed", lab.ws_url("/echo")))
        .await
        .expect("add");
    wait_for(&mut events, id, to_state(State::Up)).await;
    assert_eq!(monitor.metrics_address(), None, "off until asked");
    let addr = monitor
        .serve_metrics("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("serve");
    assert_eq!(monitor.metrics_address(), Some(addr));

    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    let mut body = String::new();
    tokio::time::timeout(BOUND, conn.read_to_string(&mut body))
        .await
        .expect("bounded")
        .expect("response");
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(
        body.contains(r#"heartline_endpoint_up{endpoint="feed"} 1"#),
        "{body}"
    );

    monitor.stop_metrics();
    assert_eq!(monitor.metrics_address(), None);
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");

    // Without metrics collected, serving is refused with a reason.
    let plain = dir.open().await;
    assert!(plain
        .serve_metrics("127.0.0.1:0".parse().expect("addr"))
        .await
        .is_err());
    plain
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
    lab.shutdown().await;
}

/// A form sends secret values back empty: an update keeps the stored ones, in the engine and
/// in the secret store, across a restart.
#[tokio::test]
async fn an_update_keeps_secret_values_left_empty() {
    let dir = Dir::new("secrets");
    let monitor = dir.open().await;
    let mut e = Endpoint::new("feed", "ws://127.0.0.1:9/feed?token=URL-SECRET");
    e.headers.push(heartline_core::Header {
        name: "Authorization".into(),
        value: "Bearer HEADER-SECRET".into(),
        secret: true,
    });
    e.secret_vars = vec![
        heartline_core::SecretVar::new("token", "VAR-SECRET"),
        heartline_core::SecretVar::new("other", "OTHER-SECRET"),
    ];
    e.on_connect = vec!["{\"auth\":\"{{secret:token}}\"}".into()];
    let id = monitor.add(e).await.expect("add");
    monitor.pause(id.0).await.expect("pause");

    // What a form sends back: the secrets emptied, the name changed, one secret value gone.
    let mut edited = monitor.endpoint(id.0).expect("endpoint");
    edited.name = "feed-renamed".into();
    edited.url = "ws://127.0.0.1:9/feed?token=".into();
    edited.headers[0].value.clear();
    edited.secret_vars = vec![heartline_core::SecretVar::new("token", "")];
    monitor.update(id.0, edited).await.expect("update");
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");

    let reopened = dir.open().await;
    let kept = reopened.endpoint(id.0).expect("endpoint");
    assert_eq!(kept.name, "feed-renamed");
    assert_eq!(kept.headers[0].value, "Bearer HEADER-SECRET");
    assert_eq!(kept.url, "ws://127.0.0.1:9/feed?token=URL-SECRET");
    assert_eq!(
        kept.secret_vars,
        [heartline_core::SecretVar::new("token", "VAR-SECRET")]
    );
    // A new value replaces the stored one.
    let mut edited = kept.clone();
    edited.secret_vars[0].value = "VAR-NEW".into();
    reopened.update(id.0, edited).await.expect("update");
    assert_eq!(
        reopened.endpoint(id.0).expect("endpoint").secret_vars[0].value,
        "VAR-NEW"
    );
    // The configuration shown or exported never carries them.
    let toml = reopened.export_endpoints(ConfigFormat::Toml);
    assert!(
        !toml.contains("HEADER-SECRET") && !toml.contains("URL-SECRET"),
        "{toml}"
    );
    assert!(
        !toml.contains("VAR-") && toml.contains("secret_vars = { token = { stored = true } }"),
        "{toml}"
    );
    reopened
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
}

/// The overview's history strips: a synthetic hour in 60 one-minute cells, bucketed by the
/// store for every endpoint at once. Each cell has the worst state it saw (carried on from the
/// cell before), its unexpected ends (a reconnect the user asked for is none), and is blank
/// where no agent was recording.
#[tokio::test]
async fn history_strips_bucket_the_window_worst_state_first() {
    let dir = Dir::new("strips");
    let monitor = dir.open().await;
    let start = heartline_monitor::now().0;
    // The window: an hour that ended two hours ago, before anything this test's runs record.
    let from = start - 3 * 3_600_000;
    let window = Window {
        from,
        to: from + 3_600_000,
    };
    let at = |min: i64, s: i64| Timestamp(from + min * 60_000 + s * 1000);
    let mut ids = Vec::new();
    for name in ["steady", "storm", "quiet"] {
        let id = monitor
            .add(Endpoint::new(name, "ws://127.0.0.1:9/"))
            .await
            .expect("add");
        monitor.pause(id.0).await.expect("pause");
        ids.push(id);
    }
    let (steady, storm) = (ids[0], ids[1]);
    let state = |from, to| EventKind::StateChanged { from, to };
    let closed = |end| EventKind::Closed {
        end,
        stats: SessionStats::default(),
    };
    let lost = || {
        closed(SessionEnd::Lost {
            error: "connection reset".into(),
        })
    };
    let history = [
        // Both Up since before the window.
        (steady, at(-10, 0), state(State::Connecting, State::Up)),
        (storm, at(-10, 0), state(State::Connecting, State::Up)),
        // Minute 10: four drops and a storm until minute 12.
        (storm, at(10, 1), lost()),
        (storm, at(10, 9), lost()),
        (storm, at(10, 17), lost()),
        // Our own close for a missed pong is a drop too.
        (
            storm,
            at(10, 19),
            closed(SessionEnd::ClosedByClient {
                cause: CloseCause::PongTimeout,
                code: 1001,
                reason: String::new(),
                clean: false,
            }),
        ),
        (storm, at(10, 20), state(State::Up, State::Unstable)),
        (storm, at(12, 30), state(State::Unstable, State::Up)),
        // Minute 20: a reconnect the user asked for is no drop.
        (
            storm,
            at(20, 5),
            closed(SessionEnd::ClosedByClient {
                cause: CloseCause::User,
                code: 1000,
                reason: String::new(),
                clean: true,
            }),
        ),
        // Minute 30: Down for 40 s, back Up in the same minute.
        (storm, at(30, 10), state(State::Up, State::Down)),
        (storm, at(30, 50), state(State::Down, State::Up)),
    ];
    let recorder = monitor.recorder();
    for (endpoint, at, kind) in history {
        recorder.emit(Event { at, endpoint, kind });
    }
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
    // An agent recorded the first 40 minutes of the window only.
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.0.join("heartline.db")),
    )
    .await
    .expect("connect");
    sqlx::query("INSERT INTO agent_runs (started_at, last_seen, stopped_at) VALUES (?, ?, ?)")
        .bind(at(-20, 0).0)
        .bind(at(40, 0).0)
        .bind(at(40, 0).0)
        .execute(&pool)
        .await
        .expect("run");
    pool.close().await;

    let monitor = dir.open().await;
    let strips = monitor.strips(window, 60).await.expect("strips");
    assert_eq!((strips.window, strips.cells), (window, 60));
    let ids_with_strips: Vec<u64> = strips.strips.iter().map(|s| s.id).collect();
    assert_eq!(
        ids_with_strips,
        [steady.0, storm.0],
        "the endpoint without history has no strip"
    );
    let band = |cell: u32, state: Option<StateName>| heartline_monitor::StripBand { cell, state };
    let steady_strip = &strips.strips[0];
    assert_eq!(
        steady_strip.bands,
        [band(0, Some(StateName::Up)), band(40, None)]
    );
    assert!(steady_strip.drops.is_empty());
    let storm_strip = &strips.strips[1];
    assert_eq!(
        storm_strip.bands,
        [
            band(0, Some(StateName::Up)),
            band(10, Some(StateName::Unstable)),
            band(13, Some(StateName::Up)),
            band(30, Some(StateName::Down)),
            band(31, Some(StateName::Up)),
            band(40, None),
        ]
    );
    assert_eq!(storm_strip.drops, [[10, 4]]);

    // Coarser cells merge: one cell per 20 minutes holds all four drops and the storm.
    let coarse = monitor.strips(window, 3).await.expect("strips");
    assert_eq!(
        coarse.strips[1].bands,
        [
            band(0, Some(StateName::Unstable)),
            band(1, Some(StateName::Down)),
            band(2, None),
        ]
    );
    assert_eq!(coarse.strips[1].drops, [[0, 4]]);

    for cells in [0, heartline_monitor::Strips::MAX_CELLS + 1] {
        assert_eq!(
            monitor
                .strips(window, cells)
                .await
                .expect_err("bad cells")
                .kind(),
            ErrorKind::Invalid
        );
    }
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
}

/// The overview in two halves: the rows with their live states first, from memory (the list
/// of stored endpoints is read again after every edit, so edits show at once), then the
/// history columns from the store. After a restart, the first half says only what is known
/// now (Paused, no close yet) and the second brings what the store remembers.
#[tokio::test]
async fn the_overview_answers_rows_first_then_history_and_its_rows_follow_every_edit() {
    let lab = Lab::start().await.expect("lab");
    let dir = Dir::new("two-halves");
    let monitor = dir.open().await;
    let mut events = monitor.subscribe();
    let a = monitor
        .add(quick("alpha", lab.ws_url("/echo")))
        .await
        .expect("add");
    let b = monitor
        .add(quick("bravo", lab.ws_url("/echo")))
        .await
        .expect("add");
    wait_for(&mut events, a, to_state(State::Up)).await;

    let names = |rows: &[heartline_monitor::EndpointRow]| {
        let mut n: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
        n.sort();
        n
    };
    let rows = monitor.overview_rows().await.expect("rows");
    assert_eq!(names(&rows), ["alpha", "bravo"]);
    assert!(rows.iter().all(|r| r.history.is_none()), "{rows:?}");
    let alpha = rows.iter().find(|r| r.id == a.0).expect("alpha");
    assert_eq!(alpha.live.state, StateName::Up);

    let history = monitor.overview_history().await.expect("history");
    let mut ids: Vec<u64> = history.iter().map(|h| h.id).collect();
    ids.sort();
    assert_eq!(ids, [a.0, b.0]);
    let full = monitor.overview().await.expect("overview");
    assert!(full.iter().all(|r| r.history.is_some()), "{full:?}");

    // Edits show in the next rows: a rename, a pause, a removal.
    let mut renamed = monitor.endpoint(b.0).expect("bravo");
    renamed.name = "charlie".into();
    monitor.update(b.0, renamed).await.expect("update");
    monitor.pause(a.0).await.expect("pause");
    wait_for(&mut events, a, |k| matches!(k, EventKind::Closed { .. })).await;
    let rows = monitor.overview_rows().await.expect("rows");
    assert_eq!(names(&rows), ["alpha", "charlie"]);
    let alpha = rows.iter().find(|r| r.id == a.0).expect("alpha");
    assert!(alpha.paused);
    assert_eq!(alpha.live.state, StateName::Paused);
    monitor.remove(b.0).await.expect("remove");
    assert_eq!(
        names(&monitor.overview_rows().await.expect("rows")),
        ["alpha"]
    );
    monitor
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");

    let reopened = dir.open().await;
    let rows = reopened.overview_rows().await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].live.state, StateName::Paused);
    assert_eq!(rows[0].live.last_close, None, "no close in this run yet");
    assert!(rows[0].history.is_none());
    let history = reopened.overview_history().await.expect("history");
    let stored = history[0].last_close.clone().expect("the stored close");
    assert_eq!(
        (stored.initiator, stored.cause),
        (Initiator::Client, Some(CloseCause::User))
    );
    let full = reopened.overview().await.expect("overview");
    assert_eq!(full[0].live.last_close, Some(stored));
    reopened
        .shutdown(CloseCause::Shutdown)
        .await
        .expect("shutdown");
    lab.shutdown().await;
}
