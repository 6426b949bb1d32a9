//! The default mode: start the lab, run one child per (N, client kind), print the figures.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::client::parse_child_output;
use crate::lab::{lab_path, LabProcess};
use crate::procfs;
use crate::report::{self, BenchResults, ClientKind, Machine, RunReport};

/// What the orchestrator runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub sizes: Vec<usize>,
    pub clients: Vec<ClientKind>,
    pub hold: Duration,
    pub warmup: Duration,
    pub concurrency: usize,
    pub connect_timeout: Duration,
    /// Use an already running lab at this URL instead of starting one.
    pub url: Option<String>,
    pub lab_pid: Option<u32>,
    pub no_subscribe: bool,
    pub json: bool,
}

/// `getconf CLK_TCK`, or the Linux default of 100.
fn clk_tck() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

pub fn run(plan: Plan) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("locating the benchmark executable")?;
    let clk_tck = clk_tck();
    let nproc = std::thread::available_parallelism().map_or(1, |n| n.get());
    let loadavg_start = procfs::loadavg();

    let mut lab = match &plan.url {
        Some(_) => None,
        None => Some(LabProcess::start(&lab_path(&exe)?)?),
    };
    let (url, lab_pid) = match (&plan.url, &lab) {
        (Some(url), _) => (url.clone(), plan.lab_pid),
        (None, Some(lab)) => (lab.echo_url(), Some(lab.pid())),
        (None, None) => unreachable!("a lab is started when no URL is given"),
    };
    let lab_fds_idle = lab_pid.and_then(procfs::open_fds).unwrap_or(0);

    eprintln!(
        "heartline-bench: lab {url}{}, sizes {:?}, warm-up {} + hold {} per run, {nproc} CPUs, \
         load {}",
        lab_pid.map_or_else(String::new, |p| format!(" (pid {p})")),
        plan.sizes,
        heartline_core::format_duration(plan.warmup),
        heartline_core::format_duration(plan.hold),
        fmt_load(loadavg_start),
    );

    let mut runs: Vec<RunReport> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for &n in &plan.sizes {
        for &kind in &plan.clients {
            if let Some(lab) = &mut lab {
                lab.check_alive()?;
            }
            if let Some(pid) = lab_pid {
                settle(pid, lab_fds_idle);
            }
            match run_child(&exe, &plan, kind, n, &url, lab_pid, clk_tck) {
                Ok(r) => runs.push(r),
                Err(e) => {
                    eprintln!("{} n={n} failed: {e:#}", kind.as_str());
                    failures.push(format!("{} n={n}: {e:#}", kind.as_str()));
                }
            }
        }
    }
    let loadavg_end = procfs::loadavg();
    drop(lab);

    let results = BenchResults {
        machine: Machine {
            nproc,
            clk_tck,
            loadavg_start,
            loadavg_end,
            lab_url: url,
        },
        hold_secs: plan.hold.as_secs_f64(),
        warmup_secs: plan.warmup.as_secs_f64(),
        runs,
    };
    print!("{}", render(&results));
    if plan.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&results).context("encoding the results")?
        );
    }
    if !failures.is_empty() {
        bail!("{} run(s) failed: {}", failures.len(), failures.join("; "));
    }
    Ok(())
}

fn fmt_load(l: Option<[f64; 3]>) -> String {
    l.map_or_else(
        || "unknown".to_owned(),
        |l| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2]),
    )
}

/// Waits until the lab has dropped the previous child's sessions (its descriptor count is
/// back near idle), at most 20 s, then one more second for it to go quiet.
fn settle(lab_pid: u32, idle_fds: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        match procfs::open_fds(lab_pid) {
            Some(fds) if fds > idle_fds + 16 => std::thread::sleep(Duration::from_millis(100)),
            _ => break,
        }
    }
    std::thread::sleep(Duration::from_secs(1));
}

fn run_child(
    exe: &std::path::Path,
    plan: &Plan,
    kind: ClientKind,
    n: usize,
    url: &str,
    lab_pid: Option<u32>,
    clk_tck: u64,
) -> anyhow::Result<RunReport> {
    let mut cmd = Command::new(exe);
    cmd.arg("--client")
        .arg(kind.as_str())
        .arg("--url")
        .arg(url)
        .arg("--n")
        .arg(n.to_string())
        .arg("--hold")
        .arg(format!("{}ms", plan.hold.as_millis()))
        .arg("--warmup")
        .arg(format!("{}ms", plan.warmup.as_millis()))
        .arg("--concurrency")
        .arg(plan.concurrency.to_string())
        .arg("--connect-timeout")
        .arg(format!("{}ms", plan.connect_timeout.as_millis()))
        .arg("--clk-tck")
        .arg(clk_tck.to_string());
    if let Some(pid) = lab_pid {
        cmd.arg("--lab-pid").arg(pid.to_string());
    }
    if plan.no_subscribe {
        cmd.arg("--no-subscribe");
    }
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .context("running the client child")?;
    if !out.status.success() {
        bail!("the child exited with {}", out.status);
    }
    parse_child_output(&String::from_utf8_lossy(&out.stdout))
}

/// The printed report: per N a table (when both kinds ran) and the goal verdicts.
pub fn render(results: &BenchResults) -> String {
    let mut out = String::new();
    let m = &results.machine;
    out.push_str(&format!(
        "\nheartline-bench: engine and agent vs baseline, {} s hold after {} s warm-up, ping every 1 s\n\
         machine: {} CPUs, load avg {} at start, {} at end; lab {}\n",
        results.hold_secs,
        results.warmup_secs,
        m.nproc,
        fmt_load(m.loadavg_start),
        fmt_load(m.loadavg_end),
        m.lab_url
    ));
    let mut sizes: Vec<usize> = results.runs.iter().map(|r| r.n).collect();
    sizes.dedup();
    for n in sizes {
        let find = |k: ClientKind| results.runs.iter().find(|r| r.n == n && r.client == k);
        out.push('\n');
        let baseline = find(ClientKind::Baseline);
        let others: Vec<&RunReport> = [ClientKind::Engine, ClientKind::Agent]
            .into_iter()
            .filter_map(find)
            .collect();
        match (baseline, others.is_empty()) {
            (Some(b), false) => {
                for (i, e) in others.into_iter().enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    out.push_str(&report::table(b, e));
                    out.push('\n');
                    for v in report::verdicts(b, e) {
                        out.push_str(&v.line(n));
                        out.push('\n');
                    }
                }
            }
            _ => {
                for r in results.runs.iter().filter(|r| r.n == n) {
                    let rtt = if r.rtt.samples == 0 {
                        "no RTT samples".to_owned()
                    } else {
                        format!(
                            "rtt p50 {} p99 {}",
                            report::fmt_us(r.rtt.p50_us),
                            report::fmt_us(r.rtt.p99_us)
                        )
                    };
                    out.push_str(&format!(
                        "N = {n} {}: cpu {:.1}%, rss {}, {rtt}, connect all {}\n",
                        r.client.as_str(),
                        r.cpu_percent,
                        report::fmt_kib(r.rss_kib),
                        report::fmt_secs(r.connect_all_secs),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::report;

    #[test]
    fn render_pairs_and_singles() {
        let mut single = report(ClientKind::Engine, 3.0, 9_000, 0, Some(0.2));
        single.n = 500;
        let results = BenchResults {
            machine: Machine {
                nproc: 2,
                clk_tck: 100,
                loadavg_start: Some([1.0, 0.5, 0.25]),
                loadavg_end: None,
                lab_url: "ws://127.0.0.1:1/echo".into(),
            },
            hold_secs: 30.0,
            warmup_secs: 5.0,
            runs: vec![
                single,
                report(ClientKind::Baseline, 10.0, 40_000, 100, Some(1.0)),
                report(ClientKind::Engine, 12.0, 80_000, 105, Some(1.2)),
            ],
        };
        let text = render(&results);
        assert!(text.contains("load avg 1.00 0.50 0.25 at start, unknown at end"));
        assert!(text.contains("N = 500 engine: cpu 3.0%, rss 8.8 MiB, no RTT samples"));
        assert!(text.contains("goal: engine RSS <= 1.5x baseline at 10000: NOT MET (2.00x)"));
        assert!(text.contains("goal: engine CPU <= 1.5x baseline at 10000: MET (1.20x)"));
    }
}
