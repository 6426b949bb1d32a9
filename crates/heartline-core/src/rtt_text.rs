//! How a round trip (or a handshake phase) reads, in one policy for every surface: the app's
//! list and detail, exports, the tray, notifications and the terminal. The cases in
//! `rtt_text.tsv` are checked here and by the UI's tests, so the two cannot drift.

use std::fmt::Write;
use std::time::Duration;

/// `d` in milliseconds: "0.085 ms", "1.24 ms", "31.2 ms", "312 ms", "1 800 ms".
pub fn rtt_text(d: Duration) -> String {
    let mut out = String::with_capacity(12);
    push_rtt(&mut out, d);
    out
}

/// [`rtt_text`] appended to `out` (no allocation of its own, for exports of many rows).
pub fn push_rtt(out: &mut String, d: Duration) {
    let us = d.as_micros();
    // Three significant digits below 100 ms, each tier chosen after rounding so that 9.995 ms
    // reads "10.0 ms", not "10.00 ms".
    if us < 1000 {
        let _ = write!(out, "0.{us:03}");
    } else if let Some(v) = Some((us + 5) / 10).filter(|v| *v < 1000) {
        let _ = write!(out, "{}.{:02}", v / 100, v % 100);
    } else if let Some(v) = Some((us + 50) / 100).filter(|v| *v < 1000) {
        let _ = write!(out, "{}.{}", v / 10, v % 10);
    } else {
        push_grouped(out, (us + 500) / 1000);
    }
    out.push_str(" ms");
}

/// A whole number with its thousands separated by a narrow no-break space.
fn push_grouped(out: &mut String, n: u128) {
    let digits = n.to_string();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table the UI is tested against too (`ui/src/lib/format.test.ts`). It writes the
    /// thousands separator as a plain space, for people reading it.
    #[test]
    fn every_case_in_the_shared_table_reads_as_written() {
        let table = include_str!("rtt_text.tsv");
        let mut checked = 0;
        for line in table
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (us, text) = line.split_once('\t').expect("a tab between the columns");
            let us: u64 = us.parse().expect("microseconds");
            let number = text.strip_suffix(" ms").expect("a unit");
            let expected = format!("{} ms", number.replace(' ', "\u{202f}"));
            assert_eq!(rtt_text(Duration::from_micros(us)), expected, "{us} µs");
            checked += 1;
        }
        assert!(checked >= 15, "only {checked} cases read from the table");
    }

    #[test]
    fn push_rtt_appends() {
        let mut out = String::from("rtt ");
        push_rtt(&mut out, Duration::from_micros(1_235));
        assert_eq!(out, "rtt 1.24 ms");
    }
}
