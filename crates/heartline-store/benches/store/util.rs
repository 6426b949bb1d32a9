//! Small helpers: a seeded random source, temp directories, /proc readings, statistics and
//! the report that is printed and saved as Markdown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
pub const WEEK_MS: i64 = 7 * DAY_MS;
pub const YEAR_MS: i64 = 365 * DAY_MS;

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run on).
pub const CLOCK_TICKS: f64 = 100.0;

/// SplitMix64: tiny, fast, good enough for workloads, and reproducible from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi).
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi - lo).max(1).unsigned_abs();
        lo + i64::try_from(self.next_u64() % span).unwrap_or(0)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Exponential with the given mean (for Poisson arrivals).
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

pub fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

/// Set by `--keep`: leave the databases behind for inspection.
pub static KEEP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A unique directory under the system temp dir, removed on drop (unless `--keep`).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> std::io::Result<TempDir> {
        let dir = std::env::temp_dir().join(format!(
            "heartline-bench-store-{name}-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if KEEP.load(std::sync::atomic::Ordering::Relaxed) {
            progress(format!("kept {}", self.0.display()));
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Size of a file, 0 when missing.
pub fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The database file plus its `-wal` and `-shm` companions.
pub fn db_sizes(path: &Path) -> (u64, u64) {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    (file_size(path), file_size(&wal))
}

// ---------------------------------------------------------------------------------------------
// /proc

/// utime + stime in clock ticks from a `stat` line (fields 14 and 15).
fn stat_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// CPU ticks used so far by one thread of this process.
pub fn thread_ticks(tid: u64) -> Option<u64> {
    stat_ticks(&std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?)
}

/// CPU ticks used so far by the whole process.
pub fn process_ticks() -> Option<u64> {
    stat_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// The calling thread's id (from the `/proc/thread-self` link: `<pid>/task/<tid>`).
pub fn current_tid() -> Option<u64> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    link.file_name()?.to_str()?.parse().ok()
}

/// Threads of this process whose name starts with `prefix` (names are cut at 15 bytes).
pub fn threads_named(prefix: &str) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut out: Vec<u64> = dir
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let tid: u64 = entry.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            comm.trim_end().starts_with(prefix).then_some(tid)
        })
        .collect();
    out.sort_unstable();
    out
}

/// Resident memory of this process in MiB.
pub fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// One line describing the machine: cores, CPU model, memory, kernel.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map(|kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        .unwrap_or_else(|| "?".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    format!("nproc {cores} ({model}), MemTotal {mem}, Linux {kernel}")
}

// ---------------------------------------------------------------------------------------------
// statistics and formatting

/// Nearest-rank percentile of unsorted values.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / 1024.0 / 1024.0)
}

pub fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// report

/// Everything printed is also kept, to be saved as Markdown at the end.
#[derive(Default)]
pub struct Report {
    md: String,
}

impl Report {
    pub fn line(&mut self, text: impl AsRef<str>) {
        let text = text.as_ref();
        println!("{text}");
        self.md.push_str(text);
        self.md.push('\n');
    }

    pub fn blank(&mut self) {
        self.line("");
    }

    /// A Markdown table with padded columns, so it also reads well on a terminal.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(cell.chars().count());
                }
            }
        }
        let fmt_row = |cells: Vec<&str>| {
            let mut s = String::from("|");
            for (i, w) in widths.iter().enumerate() {
                let cell = cells.get(i).copied().unwrap_or("");
                let pad = w.saturating_sub(cell.chars().count());
                // Numbers right-aligned, words left-aligned.
                let numeric = cell
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '≤' || c == '<');
                if numeric && i > 0 {
                    let _ = write!(s, " {}{} |", " ".repeat(pad), cell);
                } else {
                    let _ = write!(s, " {}{} |", cell, " ".repeat(pad));
                }
            }
            s
        };
        self.line(fmt_row(header.to_vec()));
        let mut sep = String::from("|");
        for w in &widths {
            let _ = write!(sep, "{}|", "-".repeat(w + 2));
        }
        self.line(sep);
        for row in rows {
            self.line(fmt_row(row.iter().map(String::as_str).collect()));
        }
        self.blank();
    }

    /// A fenced block (query plans).
    pub fn code(&mut self, text: &str) {
        self.line("```text");
        for l in text.lines() {
            self.line(l);
        }
        self.line("```");
    }

    pub fn markdown(&self) -> &str {
        &self.md
    }
}

/// Progress for whoever watches the terminal; not part of the report.
pub fn progress(text: impl AsRef<str>) {
    eprintln!("[store bench] {}", text.as_ref());
}
