//! The few `/proc` figures the benchmark needs: CPU time, resident memory, load average.

use std::path::Path;

/// User + system CPU time of a process, in clock ticks, from a `/proc/PID/stat` line.
///
/// The command name (field 2) is in parentheses and may itself contain spaces or `)`, so the
/// fields are counted from the last `)`: field 3 (state) is the first after it, utime is
/// field 14 and stime field 15.
pub fn parse_stat_cpu_ticks(line: &str) -> Option<u64> {
    let rest = &line[line.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS` in KiB from the text of `/proc/PID/status`.
pub fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The 1, 5 and 15 minute load averages from `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|v| v.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// CPU ticks used so far by process `pid` (`None` = this process).
pub fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    parse_stat_cpu_ticks(&std::fs::read_to_string(path).ok()?)
}

/// This process's resident set size in KiB.
pub fn rss_kib() -> Option<u64> {
    parse_vm_rss_kib(&std::fs::read_to_string("/proc/self/status").ok()?)
}

pub fn loadavg() -> Option<[f64; 3]> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

/// Open file descriptors of process `pid`.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(
        std::fs::read_dir(Path::new("/proc").join(pid.to_string()).join("fd"))
            .ok()?
            .count(),
    )
}

/// Percent of one core: `ticks` of CPU time over `wall_secs` of wall time.
pub fn cpu_percent(ticks: u64, clk_tck: u64, wall_secs: f64) -> f64 {
    if wall_secs <= 0.0 || clk_tck == 0 {
        return 0.0;
    }
    ticks as f64 / clk_tck as f64 / wall_secs * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_with_odd_command_name() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
        // utime stime ...
        let line = "4242 (heart line) x) S 1 4242 4242 0 -1 4194560 1200 0 3 0 \
                    250 75 0 0 20 0 3 0 123456 1000000 500 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(line), Some(325));
    }

    #[test]
    fn stat_line_too_short() {
        assert_eq!(parse_stat_cpu_ticks("1 (a) S 1 2 3"), None);
        assert_eq!(parse_stat_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn own_stat_parses() {
        assert!(cpu_ticks(None).is_some());
        assert!(rss_kib().unwrap() > 0);
    }

    #[test]
    fn vm_rss() {
        let status = "Name:\tbench\nVmPeak:\t  9000 kB\nVmRSS:\t   51234 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(parse_vm_rss_kib(status), Some(51234));
        assert_eq!(parse_vm_rss_kib("Name: x\n"), None);
    }

    #[test]
    fn loadavg_line() {
        assert_eq!(
            parse_loadavg("3.65 2.16 1.03 5/120 17260\n"),
            Some([3.65, 2.16, 1.03])
        );
        assert_eq!(parse_loadavg("3.65"), None);
    }

    #[test]
    fn percent_of_one_core() {
        // 150 ticks at 100 Hz = 1.5 s of CPU in 3 s = 50 %.
        assert!((cpu_percent(150, 100, 3.0) - 50.0).abs() < 1e-9);
        assert_eq!(cpu_percent(1, 100, 0.0), 0.0);
    }
}
