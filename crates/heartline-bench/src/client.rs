//! The child process: hold N sessions with one client kind and measure it.
//!
//! Both kinds run under the same harness: the same runtime (multi-threaded, default worker
//! count), the same connect driver (at most `concurrency` handshakes in flight), the same
//! recording path (a mutex-guarded HDR histogram, microseconds) and the same windows
//! (connect, warm-up, hold). Only what sits between the socket and the histogram differs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use heartline_core::{Endpoint, Event, EventKind, PingKind};
use heartline_engine::{Delivery, Engine, EngineOptions};

use crate::procfs;
use crate::report::{ClientKind, RttSummary, RunReport};

/// Ping interval of both clients.
pub const PING_INTERVAL: Duration = Duration::from_secs(1);
/// The engine's pong timeout in this benchmark.
pub const PONG_TIMEOUT: Duration = Duration::from_millis(500);
/// Highest RTT the histogram tracks, in microseconds (larger values are clamped).
const RTT_MAX_US: u64 = 60_000_000;

/// What one child is asked to do.
#[derive(Debug, Clone)]
pub struct ChildConfig {
    pub kind: ClientKind,
    pub url: String,
    pub n: usize,
    pub hold: Duration,
    pub warmup: Duration,
    pub clk_tck: u64,
    pub lab_pid: Option<u32>,
    pub concurrency: usize,
    pub connect_timeout: Duration,
    /// Engine only: run without an event subscriber (diagnostic; no RTT figures).
    pub no_subscribe: bool,
}

/// Counters and the RTT histogram, shared by every connection of one child.
struct Shared {
    rtt: Mutex<Histogram<u64>>,
    rtt_samples: AtomicU64,
    /// Sessions opened (handshake completed).
    connected: AtomicU64,
    connect_failures: AtomicU64,
    closed: AtomicU64,
    pongs_missed: AtomicU64,
    events: AtomicU64,
    events_missed: AtomicU64,
    progress: Notify,
}

impl Shared {
    fn new() -> anyhow::Result<Self> {
        Ok(Shared {
            rtt: Mutex::new(
                Histogram::new_with_bounds(1, RTT_MAX_US, 3).context("creating the histogram")?,
            ),
            rtt_samples: AtomicU64::new(0),
            connected: AtomicU64::new(0),
            connect_failures: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            pongs_missed: AtomicU64::new(0),
            events: AtomicU64::new(0),
            events_missed: AtomicU64::new(0),
            progress: Notify::new(),
        })
    }

    fn record_rtt(&self, rtt: Duration) {
        let us = u64::try_from(rtt.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, RTT_MAX_US);
        if let Ok(mut h) = self.rtt.lock() {
            h.saturating_record(us);
        }
        self.rtt_samples.fetch_add(1, Relaxed);
    }

    fn hist(&self) -> std::sync::MutexGuard<'_, Histogram<u64>> {
        self.rtt.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `host:port` of a `ws://` URL whose host is an IP literal (the lab's always is).
pub fn socket_addr(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("ws://")
        .with_context(|| format!("{url}: only ws:// URLs are supported"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    authority
        .parse()
        .with_context(|| format!("{url}: the host must be an IP address with a port"))
}

/// Runs one child to completion, prints its report line and returns the report.
pub fn run(cfg: ChildConfig) -> anyhow::Result<RunReport> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    if (limit as usize) < cfg.n + 64 {
        eprintln!(
            "warning: open file limit {limit} is below {} connections + headroom",
            cfg.n
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let workers = rt.metrics().num_workers();
    let report = rt.block_on(measure(cfg, workers))?;
    // Out before the runtime tears thousands of sessions down.
    emit(&report)?;
    Ok(report)
}

async fn measure(cfg: ChildConfig, workers: usize) -> anyhow::Result<RunReport> {
    let tag = format!("[{} n={}]", cfg.kind.as_str(), cfg.n);
    // The agent counts through an observer (`Counter`), the others through a subscriber.
    let no_subscribe = cfg.no_subscribe;
    let shared = Arc::new(Shared::new()?);
    let rss_idle = procfs::rss_kib().unwrap_or(0);

    // Keep the engine (and, for the agent, everything around it) alive until the figures
    // are taken.
    let mut engine = None;
    let mut agent: Option<Agent> = None;
    let connect_start = Instant::now();
    let connect_all = match cfg.kind {
        ClientKind::Baseline => {
            let addr = socket_addr(&cfg.url)?;
            let url: Arc<str> = cfg.url.as_str().into();
            let start = |_: usize| {
                tokio::spawn(baseline_session(addr, url.clone(), shared.clone()));
                Ok(())
            };
            drive_connects(&cfg, &shared, start, || {
                shared.connected.load(Relaxed) as usize
            })
            .await?
        }
        ClientKind::Engine | ClientKind::Agent => {
            let e = if cfg.kind == ClientKind::Agent {
                let a = Agent::start(&cfg, &shared).await?;
                let e = a.engine.clone();
                agent = Some(a);
                e
            } else {
                Arc::new(Engine::new(EngineOptions::default()))
            };
            let ids = agent.as_ref().map(|a| a.ids.clone());
            if !no_subscribe && cfg.kind != ClientKind::Agent {
                tokio::spawn(engine_subscriber(e.subscribe(), shared.clone()));
            }
            engine = Some(e.clone());
            let start = |i: usize| {
                let endpoint = bench_endpoint(i, &cfg.url);
                match &ids {
                    // The agent watches the endpoints stored in its database, by their ids.
                    Some(ids) => e.insert(ids[i], endpoint).context("adding an endpoint"),
                    None => e.add(endpoint).map(|_| ()).context("adding an endpoint"),
                }
            };
            let count = || {
                // Counting `Connected` events is exact unless the subscriber fell behind (or
                // there is none); then ask every endpoint's live status instead.
                if no_subscribe || shared.events_missed.load(Relaxed) > 0 {
                    e.statuses().iter().filter(|(_, s)| s.connected).count()
                } else {
                    shared.connected.load(Relaxed) as usize
                }
            };
            drive_connects(&cfg, &shared, start, count).await?
        }
    };
    match connect_all {
        Some(d) => eprintln!("{tag} all {} connected in {:.2} s", cfg.n, d.as_secs_f64()),
        None => eprintln!(
            "{tag} only {} of {} connected after {:.1} s; measuring anyway",
            shared.connected.load(Relaxed),
            cfg.n,
            connect_start.elapsed().as_secs_f64()
        ),
    }

    eprintln!(
        "{tag} warm-up {:.0} s, then hold {:.0} s",
        cfg.warmup.as_secs_f64(),
        cfg.hold.as_secs_f64()
    );
    tokio::time::sleep(cfg.warmup).await;

    // The hold window.
    shared.hist().reset();
    let samples0 = shared.rtt_samples.load(Relaxed);
    let missed0 = shared.pongs_missed.load(Relaxed);
    let events0 = shared.events.load(Relaxed);
    let lab0 = cfg.lab_pid.and_then(|p| procfs::cpu_ticks(Some(p)));
    let cpu0 = procfs::cpu_ticks(None).context("reading /proc/self/stat")?;
    let t0 = Instant::now();
    tokio::time::sleep(cfg.hold).await;
    let cpu1 = procfs::cpu_ticks(None).context("reading /proc/self/stat")?;
    let wall = t0.elapsed().as_secs_f64();
    let lab1 = cfg.lab_pid.and_then(|p| procfs::cpu_ticks(Some(p)));
    let rss = procfs::rss_kib().context("reading /proc/self/status")?;
    let hist = shared.hist().clone();
    let samples = shared.rtt_samples.load(Relaxed) - samples0;
    let pongs_missed = shared.pongs_missed.load(Relaxed) - missed0;
    let events = shared.events.load(Relaxed) - events0;

    let connected_now = match &engine {
        Some(e) if no_subscribe => e.statuses().iter().filter(|(_, s)| s.connected).count(),
        _ => (shared.connected.load(Relaxed) - shared.closed.load(Relaxed)) as usize,
    };
    let is_engine = cfg.kind != ClientKind::Baseline;
    let report = RunReport {
        client: cfg.kind,
        n: cfg.n,
        connected: connected_now,
        connect_all_secs: connect_all.map(|d| d.as_secs_f64()),
        connect_failures: shared.connect_failures.load(Relaxed),
        worker_threads: workers,
        warmup_secs: cfg.warmup.as_secs_f64(),
        hold_secs: wall,
        cpu_percent: procfs::cpu_percent(cpu1.saturating_sub(cpu0), cfg.clk_tck, wall),
        rss_idle_kib: rss_idle,
        rss_kib: rss,
        rss_per_conn_bytes: (rss.saturating_sub(rss_idle) as f64 * 1024.0) / cfg.n.max(1) as f64,
        rtt: summarize(&hist),
        rtt_per_sec: samples as f64 / wall,
        pongs_missed,
        sessions_closed: shared.closed.load(Relaxed),
        events_per_sec: (is_engine && !no_subscribe).then(|| events as f64 / wall),
        events_missed: is_engine.then(|| shared.events_missed.load(Relaxed)),
        lab_cpu_percent: lab0
            .zip(lab1)
            .map(|(a, b)| procfs::cpu_percent(b.saturating_sub(a), cfg.clk_tck, wall)),
        loadavg_end: procfs::loadavg(),
        dropped: agent.as_ref().map(Agent::dropped),
        rows_written: agent.as_ref().map(|a| a.writer.health().rows()),
    };
    eprintln!(
        "{tag} cpu {:.1}%  rss {} KiB  rtt p50 {} µs p99 {} µs  ({} samples)",
        report.cpu_percent, report.rss_kib, report.rtt.p50_us, report.rtt.p99_us, samples
    );
    drop(engine);
    if let Some(a) = agent {
        a.stop().await;
    }
    Ok(report)
}

/// The endpoint every engine-based client watches for connection `i`.
fn bench_endpoint(i: usize, url: &str) -> Endpoint {
    let mut endpoint = Endpoint::new(format!("bench-{i}"), url.to_owned());
    endpoint.heartbeat.ping_interval = PING_INTERVAL;
    endpoint.heartbeat.pong_timeout = PONG_TIMEOUT;
    endpoint
}

/// The whole agent, wired as `heartline run` wires it, on a database in a temporary directory.
struct Agent {
    engine: Arc<Engine>,
    recorder: Arc<heartline_store::Recorder>,
    writer: heartline_store::WriterHandle,
    store: heartline_store::Store,
    /// Endpoint ids in the database, by connection index.
    ids: Arc<Vec<heartline_core::EndpointId>>,
    stop_metrics: tokio::sync::oneshot::Sender<()>,
    dir: std::path::PathBuf,
}

impl Agent {
    async fn start(cfg: &ChildConfig, shared: &Arc<Shared>) -> anyhow::Result<Agent> {
        use heartline_store::{RecorderOptions, Secrets, Store};
        let dir = std::env::temp_dir().join(format!("heartline-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let store = Store::open(&dir.join("bench.db"))
            .await
            .context("opening the database")?;
        let secrets = Secrets::File(dir.join("secrets.json"));
        let endpoints: Vec<Endpoint> = (0..cfg.n).map(|i| bench_endpoint(i, &cfg.url)).collect();
        store
            .import_endpoints(&endpoints, &secrets)
            .await
            .context("storing the endpoints")?;
        let mut stored = store
            .endpoints(&secrets)
            .await
            .context("reading the endpoints")?;
        stored.sort_by_key(|e| {
            e.endpoint
                .name
                .strip_prefix("bench-")
                .and_then(|i| i.parse::<usize>().ok())
        });
        let ids: Vec<_> = stored.iter().map(|e| e.id).collect();
        if ids.len() != cfg.n {
            bail!("{} endpoints stored, {} expected", ids.len(), cfg.n);
        }
        let metrics = Arc::new(heartline_metrics::Metrics::new());
        for e in &stored {
            metrics.set_endpoint(e.id, &e.endpoint.name);
        }
        let (recorder, writer) = store
            .record(RecorderOptions::default())
            .await
            .context("starting the recorder")?;
        let engine = Arc::new(Engine::new(EngineOptions {
            observers: if cfg.no_subscribe {
                vec![recorder.clone(), metrics.observer()]
            } else {
                vec![
                    recorder.clone(),
                    metrics.observer(),
                    Arc::new(Counter(shared.clone())),
                ]
            },
            ..EngineOptions::default()
        }));
        let listener = heartline_metrics::bind("127.0.0.1:0".parse()?)
            .await
            .context("binding /metrics")?;
        let (stop_metrics, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(heartline_metrics::serve(metrics, listener, async {
            let _ = stopped.await;
        }));
        Ok(Agent {
            engine,
            recorder,
            writer,
            store,
            ids: Arc::new(ids),
            stop_metrics,
            dir,
        })
    }

    fn dropped(&self) -> u64 {
        self.recorder.dropped() + self.writer.health().dropped()
    }

    async fn stop(self) {
        self.engine
            .stop_all(heartline_core::CloseCause::Shutdown)
            .await;
        let _ = self.writer.shutdown().await;
        let _ = self.stop_metrics.send(());
        self.store.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn summarize(h: &Histogram<u64>) -> RttSummary {
    if h.is_empty() {
        return RttSummary::default();
    }
    RttSummary {
        samples: h.len(),
        p50_us: h.value_at_quantile(0.50),
        p90_us: h.value_at_quantile(0.90),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
        max_us: h.max(),
        mean_us: h.mean(),
    }
}

/// Starts `cfg.n` sessions with at most `cfg.concurrency` not yet connected at any time;
/// returns the time until `connected()` reached n, or `None` after the connect timeout.
async fn drive_connects(
    cfg: &ChildConfig,
    shared: &Shared,
    mut start: impl FnMut(usize) -> anyhow::Result<()>,
    connected: impl Fn() -> usize,
) -> anyhow::Result<Option<Duration>> {
    let t0 = Instant::now();
    let mut started = 0usize;
    loop {
        let done = connected();
        if done >= cfg.n {
            return Ok(Some(t0.elapsed()));
        }
        if t0.elapsed() >= cfg.connect_timeout {
            return Ok(None);
        }
        while started < cfg.n && started - done.min(started) < cfg.concurrency {
            start(started)?;
            started += 1;
        }
        tokio::select! {
            () = shared.progress.notified() => {}
            () = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
}

type Ws = WebSocketStream<TcpStream>;

/// Same buffers the engine's sessions use.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

async fn open(addr: SocketAddr, url: &str) -> anyhow::Result<Ws> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(url, tcp, Some(ws_config())).await?;
    Ok(ws)
}

/// The baseline: connect (retrying every 500 ms), then ping every second and time the pong.
async fn baseline_session(addr: SocketAddr, url: Arc<str>, shared: Arc<Shared>) {
    let mut ws = loop {
        match open(addr, &url).await {
            Ok(ws) => break ws,
            Err(_) => {
                shared.connect_failures.fetch_add(1, Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    };
    shared.connected.fetch_add(1, Relaxed);
    shared.progress.notify_one();

    // Like the engine: first ping at once, then every interval; the RTT clock starts once
    // the ping has been written and stops when its pong is read.
    let mut tick = tokio::time::interval(PING_INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seq: u64 = 0;
    let mut sent: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            message = ws.next() => match message {
                Some(Ok(Message::Pong(payload))) => {
                    if let Some(at) = sent.filter(|_| payload.as_ref() == seq.to_be_bytes()) {
                        shared.record_rtt(at.elapsed());
                        sent = None;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            _ = tick.tick() => {
                if sent.is_some() {
                    shared.pongs_missed.fetch_add(1, Relaxed);
                }
                seq = seq.wrapping_add(1);
                let payload = seq.to_be_bytes().to_vec();
                if ws.send(Message::Ping(payload.into())).await.is_err() {
                    break;
                }
                sent = Some(Instant::now());
            }
        }
    }
    shared.closed.fetch_add(1, Relaxed);
}

/// The engine's one subscriber: counts and records what the benchmark reports.
async fn engine_subscriber(mut sub: heartline_engine::Subscription, shared: Arc<Shared>) {
    while let Some(delivery) = sub.recv().await {
        let event = match delivery {
            Delivery::Event(e) => e,
            Delivery::Missed(n) => {
                shared.events_missed.fetch_add(n, Relaxed);
                shared.progress.notify_one();
                continue;
            }
        };
        shared.count(&event);
    }
}

/// The agent's instrument: an observer beside the recorder and the metrics, as `heartline run`
/// has no subscriber (so its engine keeps no event ring). Observers see every event; nothing
/// can be missed.
struct Counter(Arc<Shared>);

impl heartline_core::Sink for Counter {
    fn emit(&self, event: Event) {
        self.0.count(&event);
    }
}

impl Shared {
    /// Counts and records what the benchmark reports of one engine event.
    fn count(&self, event: &Event) {
        self.events.fetch_add(1, Relaxed);
        match event.kind {
            EventKind::Rtt {
                kind: PingKind::Protocol,
                rtt,
            } => self.record_rtt(rtt),
            EventKind::Connected { .. } => {
                self.connected.fetch_add(1, Relaxed);
                self.progress.notify_one();
            }
            EventKind::HandshakeFailed(_) => {
                self.connect_failures.fetch_add(1, Relaxed);
            }
            EventKind::PongMissed {
                kind: PingKind::Protocol,
                ..
            } => {
                self.pongs_missed.fetch_add(1, Relaxed);
            }
            EventKind::Closed { .. } => {
                self.closed.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }
}

/// Prints the report as the child's one JSON line on stdout.
pub fn emit(report: &RunReport) -> anyhow::Result<()> {
    use std::io::Write;
    let line = serde_json::to_string(report).context("encoding the report")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").context("writing the report")?;
    out.flush().context("flushing the report")?;
    Ok(())
}

/// The report from a child's stdout: its last line that is a JSON object.
pub fn parse_child_output(stdout: &str) -> anyhow::Result<RunReport> {
    let Some(line) = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
    else {
        bail!("the child printed no report");
    };
    serde_json::from_str(line).context("decoding the child's report")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_socket_addr() {
        assert_eq!(
            socket_addr("ws://127.0.0.1:40123/echo").unwrap(),
            "127.0.0.1:40123".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(socket_addr("ws://127.0.0.1:9?x=1").unwrap().port(), 9);
        assert!(socket_addr("wss://127.0.0.1:1/echo").is_err());
        assert!(socket_addr("ws://localhost:1/echo").is_err());
    }

    #[test]
    fn percentiles_in_microseconds() {
        let mut h = Histogram::<u64>::new_with_bounds(1, RTT_MAX_US, 3).unwrap();
        for us in 1..=1000 {
            h.record(us).unwrap();
        }
        let s = summarize(&h);
        assert_eq!(s.samples, 1000);
        assert_eq!(s.p50_us, 500);
        assert_eq!(s.p99_us, 990);
        assert_eq!(s.max_us, 1000);
        assert_eq!(
            summarize(&Histogram::new(3).unwrap()),
            RttSummary::default()
        );
    }

    #[test]
    fn child_output_last_json_line() {
        assert!(parse_child_output("").is_err());
        assert!(parse_child_output("{not json").is_err());
        let report = RunReport {
            client: ClientKind::Baseline,
            n: 3,
            connected: 3,
            connect_all_secs: Some(0.01),
            connect_failures: 0,
            worker_threads: 2,
            warmup_secs: 1.0,
            hold_secs: 3.0,
            cpu_percent: 1.5,
            rss_idle_kib: 1000,
            rss_kib: 1100,
            rss_per_conn_bytes: 34_133.3,
            rtt: RttSummary::default(),
            rtt_per_sec: 3.0,
            pongs_missed: 0,
            sessions_closed: 0,
            events_per_sec: None,
            events_missed: None,
            lab_cpu_percent: None,
            loadavg_end: None,
            dropped: None,
            rows_written: None,
        };
        let stdout = format!("noise\n{}\n", serde_json::to_string(&report).unwrap());
        assert_eq!(parse_child_output(&stdout).unwrap(), report);
    }
}
