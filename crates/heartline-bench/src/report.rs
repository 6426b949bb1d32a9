//! What a client child measures, and how the orchestrator prints it: table, ratios, verdicts.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// The N at which the issue states its goals.
pub const GOAL_N: usize = 10_000;
/// Engine CPU and RSS may be at most this many times the baseline's.
pub const MAX_RESOURCE_RATIO: f64 = 1.5;
/// Engine p50 RTT may be at most this many times the baseline's.
pub const MAX_RTT_RATIO: f64 = 1.10;
/// Every endpoint connected within this many seconds.
pub const MAX_CONNECT_SECS: f64 = 5.0;

/// Which client a child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ClientKind {
    /// A minimal tokio-tungstenite client that only pings.
    Baseline,
    /// `heartline_engine::Engine` with one endpoint per connection.
    Engine,
    /// The whole agent as `heartline run` wires it: the engine with the recorder (minute
    /// rollups, incidents, the SQLite writer on a real database file) and Prometheus metrics
    /// as observers, and `/metrics` served.
    Agent,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Baseline => "baseline",
            ClientKind::Engine => "engine",
            ClientKind::Agent => "agent",
        }
    }
}

/// RTT percentiles over the hold window, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RttSummary {
    pub samples: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

/// One child's figures (one client kind at one N); printed by the child as one JSON line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub client: ClientKind,
    pub n: usize,
    /// Sessions open when the hold window ended.
    pub connected: usize,
    /// Time from the first connect to the N-th open session; `None` if not all opened.
    pub connect_all_secs: Option<f64>,
    pub connect_failures: u64,
    pub worker_threads: usize,
    pub warmup_secs: f64,
    /// Measured length of the hold window.
    pub hold_secs: f64,
    /// CPU time (user + system) over the hold window, percent of one core.
    pub cpu_percent: f64,
    /// RSS before the first connection.
    pub rss_idle_kib: u64,
    /// RSS at the end of the hold window.
    pub rss_kib: u64,
    /// (rss - rss_idle) / n.
    pub rss_per_conn_bytes: f64,
    pub rtt: RttSummary,
    /// RTT samples per second over the hold window (ideal: n).
    pub rtt_per_sec: f64,
    /// Engine: `PongMissed` events (500 ms pong timeout). Baseline: pings still unanswered
    /// when the next one was due. Over the hold window.
    pub pongs_missed: u64,
    /// Sessions that ended during the whole run (should be 0).
    pub sessions_closed: u64,
    /// Engine only: events received by the subscriber per second over the hold window.
    pub events_per_sec: Option<f64>,
    /// Engine only: events the subscriber missed (`Delivery::Missed`) during the whole run.
    pub events_missed: Option<u64>,
    /// The lab process's CPU over the same hold window, percent of one core.
    pub lab_cpu_percent: Option<f64>,
    pub loadavg_end: Option<[f64; 3]>,
    /// Agent only: events the recorder or the writer could not keep (queue or buffer full),
    /// and rows written, over the whole run.
    #[serde(default)]
    pub dropped: Option<u64>,
    #[serde(default)]
    pub rows_written: Option<u64>,
}

/// Machine facts recorded by the orchestrator.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub nproc: usize,
    pub clk_tck: u64,
    pub loadavg_start: Option<[f64; 3]>,
    pub loadavg_end: Option<[f64; 3]>,
    pub lab_url: String,
}

/// Everything one `heartline-bench` run measured (`--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResults {
    pub machine: Machine,
    pub hold_secs: f64,
    pub warmup_secs: f64,
    pub runs: Vec<RunReport>,
}

/// `engine / baseline`, when both are known and the baseline is not zero.
pub fn ratio(engine: Option<f64>, baseline: Option<f64>) -> Option<f64> {
    match (engine, baseline) {
        (Some(e), Some(b)) if b > 0.0 && e.is_finite() && b.is_finite() => Some(e / b),
        _ => None,
    }
}

pub fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_owned(), |r| format!("{r:.2}x"))
}

pub fn fmt_kib(kib: u64) -> String {
    let mib = kib as f64 / 1024.0;
    if mib >= 1.0 {
        format!("{mib:.1} MiB")
    } else {
        format!("{kib} KiB")
    }
}

pub fn fmt_bytes(b: f64) -> String {
    if b.abs() >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

pub fn fmt_us(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

pub fn fmt_secs(s: Option<f64>) -> String {
    s.map_or_else(|| "not all".to_owned(), |s| format!("{s:.2} s"))
}

/// One goal's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub goal: String,
    /// `None`: could not be decided (a figure is missing).
    pub met: Option<bool>,
    pub figure: String,
}

impl Verdict {
    pub fn line(&self, n: usize) -> String {
        let word = match self.met {
            Some(true) => "MET",
            Some(false) => "NOT MET",
            None => "UNKNOWN",
        };
        let tag = if n == GOAL_N { "goal" } else { "reference" };
        format!("{tag}: {} at {n}: {word} ({})", self.goal, self.figure)
    }
}

/// The four goals for one N, judged on figures measured in the same run.
pub fn verdicts(baseline: &RunReport, engine: &RunReport) -> Vec<Verdict> {
    let who = engine.client.as_str();
    let cpu = ratio(Some(engine.cpu_percent), Some(baseline.cpu_percent));
    let rss = ratio(Some(engine.rss_kib as f64), Some(baseline.rss_kib as f64));
    let p50 = ratio(
        rtt_figure(engine).map(|r| r.p50_us as f64),
        rtt_figure(baseline).map(|r| r.p50_us as f64),
    );
    let below = |r: Option<f64>, max: f64| r.map(|r| r <= max);
    let mut verdicts = vec![
        Verdict {
            goal: format!("{who} CPU <= {MAX_RESOURCE_RATIO}x baseline"),
            met: below(cpu, MAX_RESOURCE_RATIO),
            figure: fmt_ratio(cpu),
        },
        Verdict {
            goal: format!("{who} RSS <= {MAX_RESOURCE_RATIO}x baseline"),
            met: below(rss, MAX_RESOURCE_RATIO),
            figure: fmt_ratio(rss),
        },
        Verdict {
            goal: format!("{who} p50 RTT within 10% of baseline (<= 1.10x)"),
            met: below(p50, MAX_RTT_RATIO),
            figure: fmt_ratio(p50),
        },
        Verdict {
            goal: format!("{who} connects all within {MAX_CONNECT_SECS} s"),
            met: Some(
                engine
                    .connect_all_secs
                    .is_some_and(|s| s <= MAX_CONNECT_SECS),
            ),
            figure: match engine.connect_all_secs {
                Some(s) => format!("{s:.2} s"),
                None => format!("{} of {} connected", engine.connected, engine.n),
            },
        },
    ];
    if let Some(dropped) = engine.dropped {
        verdicts.push(Verdict {
            goal: format!("{who} keeps every event (nothing dropped)"),
            met: Some(dropped == 0 && engine.events_missed.unwrap_or(0) == 0),
            figure: format!(
                "{dropped} dropped, {} missed, {} rows written",
                engine.events_missed.unwrap_or(0),
                engine.rows_written.unwrap_or(0)
            ),
        });
    }
    verdicts
}

fn rtt_figure(r: &RunReport) -> Option<&RttSummary> {
    (r.rtt.samples > 0).then_some(&r.rtt)
}

/// The table for one N: one row per figure, columns baseline, engine, engine/baseline.
pub fn table(baseline: &RunReport, engine: &RunReport) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut row = |name: &str, b: String, e: String, r: Option<f64>| {
        rows.push([
            name.to_owned(),
            b,
            e,
            r.map_or_else(String::new, |r| fmt_ratio(Some(r))),
        ]);
    };
    let f = |x: f64| Some(x);
    row(
        "CPU (% of one core)",
        format!("{:.1}%", baseline.cpu_percent),
        format!("{:.1}%", engine.cpu_percent),
        ratio(f(engine.cpu_percent), f(baseline.cpu_percent)),
    );
    row(
        "RSS",
        fmt_kib(baseline.rss_kib),
        fmt_kib(engine.rss_kib),
        ratio(f(engine.rss_kib as f64), f(baseline.rss_kib as f64)),
    );
    row(
        "RSS per connection",
        fmt_bytes(baseline.rss_per_conn_bytes),
        fmt_bytes(engine.rss_per_conn_bytes),
        ratio(f(engine.rss_per_conn_bytes), f(baseline.rss_per_conn_bytes)),
    );
    let us = |r: &RunReport, pick: fn(&RttSummary) -> u64| rtt_figure(r).map(pick);
    let show = |v: Option<u64>| v.map_or_else(|| "n/a".to_owned(), fmt_us);
    for (name, pick) in [
        (
            "RTT p50",
            (|s: &RttSummary| s.p50_us) as fn(&RttSummary) -> u64,
        ),
        ("RTT p90", |s| s.p90_us),
        ("RTT p99", |s| s.p99_us),
        ("RTT max", |s| s.max_us),
    ] {
        let (b, e) = (us(baseline, pick), us(engine, pick));
        row(
            name,
            show(b),
            show(e),
            ratio(e.map(|v| v as f64), b.map(|v| v as f64)),
        );
    }
    row(
        "time to connect all",
        fmt_secs(baseline.connect_all_secs),
        fmt_secs(engine.connect_all_secs),
        ratio(engine.connect_all_secs, baseline.connect_all_secs),
    );
    row(
        "connected at end",
        format!("{}/{}", baseline.connected, baseline.n),
        format!("{}/{}", engine.connected, engine.n),
        None,
    );
    row(
        "RTT samples / s",
        format!("{:.0}", baseline.rtt_per_sec),
        format!("{:.0}", engine.rtt_per_sec),
        None,
    );
    row(
        "pongs missed / closed",
        format!("{} / {}", baseline.pongs_missed, baseline.sessions_closed),
        format!("{} / {}", engine.pongs_missed, engine.sessions_closed),
        None,
    );
    let opt =
        |v: Option<f64>, unit: &str| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}{unit}"));
    row(
        "events / s (missed)",
        "-".to_owned(),
        format!(
            "{} ({})",
            opt(engine.events_per_sec, ""),
            engine
                .events_missed
                .map_or_else(|| "-".to_owned(), |m| m.to_string())
        ),
        None,
    );
    row(
        "lab CPU (% of one core)",
        opt(baseline.lab_cpu_percent, "%"),
        opt(engine.lab_cpu_percent, "%"),
        None,
    );
    let load = |r: &RunReport| {
        r.loadavg_end
            .map_or_else(|| "-".to_owned(), |l| format!("{:.2}", l[0]))
    };
    row(
        "load avg (1 min) at end",
        load(baseline),
        load(engine),
        None,
    );

    let header = [
        format!("N = {}", baseline.n),
        "baseline".to_owned(),
        engine.client.as_str().to_owned(),
        format!("{}/baseline", engine.client.as_str()),
    ];
    let mut widths = header.clone().map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String; 4]| {
        let mut l = format!("{:<w$}", cells[0], w = widths[0]);
        for (cell, w) in cells.iter().zip(widths).skip(1) {
            let pad = w.saturating_sub(cell.chars().count());
            let _ = write!(l, "  {}{cell}", " ".repeat(pad));
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(&header);
    line(&widths.map(|w| "-".repeat(w)));
    for r in &rows {
        line(r);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn report(
        client: ClientKind,
        cpu: f64,
        rss_kib: u64,
        p50: u64,
        connect: Option<f64>,
    ) -> RunReport {
        RunReport {
            client,
            n: GOAL_N,
            connected: GOAL_N,
            connect_all_secs: connect,
            connect_failures: 0,
            worker_threads: 2,
            warmup_secs: 5.0,
            hold_secs: 30.0,
            cpu_percent: cpu,
            rss_idle_kib: 2048,
            rss_kib,
            rss_per_conn_bytes: 4096.0,
            rtt: RttSummary {
                samples: if p50 > 0 { 300_000 } else { 0 },
                p50_us: p50,
                p90_us: p50 * 2,
                p99_us: p50 * 4,
                p999_us: p50 * 8,
                max_us: p50 * 10,
                mean_us: p50 as f64,
            },
            rtt_per_sec: 10_000.0,
            pongs_missed: 0,
            sessions_closed: 0,
            events_per_sec: None,
            events_missed: None,
            lab_cpu_percent: Some(30.0),
            loadavg_end: Some([1.0, 1.0, 1.0]),
            dropped: None,
            rows_written: None,
        }
    }

    #[test]
    fn the_agent_is_judged_on_keeping_every_event_too() {
        let b = report(ClientKind::Baseline, 10.0, 50_000, 100, Some(1.0));
        let mut a = report(ClientKind::Agent, 14.0, 70_000, 105, Some(2.0));
        a.dropped = Some(0);
        a.events_missed = Some(0);
        a.rows_written = Some(1234);
        let v = verdicts(&b, &a);
        assert!(v[0].goal.starts_with("agent CPU"), "{}", v[0].goal);
        let kept = v.last().expect("a verdict on dropped events");
        assert_eq!(kept.met, Some(true), "{}", kept.figure);
        a.dropped = Some(3);
        let kept = verdicts(&b, &a).pop().expect("a verdict");
        assert_eq!(kept.met, Some(false));
        assert!(kept.figure.starts_with("3 dropped"), "{}", kept.figure);
        // The engine alone has no writer: no such verdict.
        let e = report(ClientKind::Engine, 14.0, 70_000, 105, Some(2.0));
        assert_eq!(verdicts(&b, &e).len(), 4);
        assert!(table(&b, &a).contains("agent/baseline"));
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(Some(3.0), Some(2.0)), Some(1.5));
        assert_eq!(ratio(Some(3.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(2.0)), None);
        assert_eq!(fmt_ratio(Some(1.123)), "1.12x");
        assert_eq!(fmt_ratio(None), "n/a");
    }

    #[test]
    fn units() {
        assert_eq!(fmt_kib(512), "512 KiB");
        assert_eq!(fmt_kib(3 * 1024 + 512), "3.5 MiB");
        assert_eq!(fmt_bytes(4096.0), "4.0 KiB");
        assert_eq!(fmt_bytes(812.4), "812 B");
        assert_eq!(fmt_us(123), "123 µs");
        assert_eq!(fmt_us(25_400), "25.4 ms");
        assert_eq!(fmt_secs(Some(1.234)), "1.23 s");
        assert_eq!(fmt_secs(None), "not all");
    }

    #[test]
    fn all_goals_met() {
        let b = report(ClientKind::Baseline, 10.0, 40_000, 100, Some(1.0));
        let e = report(ClientKind::Engine, 14.0, 59_000, 109, Some(2.0));
        let v = verdicts(&b, &e);
        assert!(v.iter().all(|v| v.met == Some(true)), "{v:?}");
        assert_eq!(
            v[0].line(GOAL_N),
            "goal: engine CPU <= 1.5x baseline at 10000: MET (1.40x)"
        );
        assert_eq!(v[3].figure, "2.00 s");
    }

    #[test]
    fn goals_missed_and_unknown() {
        let b = report(ClientKind::Baseline, 10.0, 40_000, 0, Some(1.0));
        let mut e = report(ClientKind::Engine, 16.0, 61_000, 200, None);
        e.connected = 9_000;
        let v = verdicts(&b, &e);
        assert_eq!(v[0].met, Some(false));
        assert_eq!(v[1].met, Some(false));
        // No baseline RTT samples: the RTT goal cannot be judged.
        assert_eq!(v[2].met, None);
        assert_eq!(v[3].met, Some(false));
        assert_eq!(v[3].figure, "9000 of 10000 connected");
        assert_eq!(
            v[2].line(1000),
            "reference: engine p50 RTT within 10% of baseline (<= 1.10x) at 1000: UNKNOWN (n/a)"
        );
    }

    #[test]
    fn table_has_every_row_aligned() {
        let b = report(ClientKind::Baseline, 10.0, 40_000, 100, Some(1.0));
        let e = report(ClientKind::Engine, 15.0, 60_000, 120, Some(2.0));
        let t = table(&b, &e);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("N = 10000"));
        assert!(t.contains("CPU (% of one core)"));
        assert!(t.contains("1.50x"));
        assert!(t.contains("120 µs"));
        assert!(t.contains("time to connect all"));
        // Every row's ratio column ends at the same place as the header's.
        assert_eq!(lines[0].chars().count(), lines[1].chars().count());
    }

    #[test]
    fn report_round_trips_as_json() {
        let r = report(ClientKind::Engine, 15.0, 60_000, 120, None);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"client\":\"engine\""));
        assert_eq!(serde_json::from_str::<RunReport>(&json).unwrap(), r);
    }
}
