//! Words for findings: readable durations, UTC times of day, counts and lists.

use std::time::Duration;

use crate::event::Timestamp;

/// A duration as a person says it: "350 ms", "59.8 s", "2 min", "1 h 5 min".
pub(super) fn readable(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if ms < 120_000 {
        let tenths = (ms + 50) / 100;
        return match tenths % 10 {
            0 => format!("{} s", tenths / 10),
            t => format!("{}.{t} s", tenths / 10),
        };
    }
    let secs = (ms + 500) / 1000;
    if secs < 7200 {
        return match (secs / 60, secs % 60) {
            (m, 0) => format!("{m} min"),
            (m, s) => format!("{m} min {s} s"),
        };
    }
    let mins = (secs + 30) / 60;
    if mins < 48 * 60 {
        return match (mins / 60, mins % 60) {
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        };
    }
    let hours = (mins + 30) / 60;
    match (hours / 24, hours % 24) {
        (d, 0) => format!("{d} d"),
        (d, h) => format!("{d} d {h} h"),
    }
}

/// A range of durations sharing the unit where they can: "59.2–60.8 s", "900 ms–1.2 s".
pub(super) fn range(lo: Duration, hi: Duration) -> String {
    let (a, b) = (readable(lo), readable(hi));
    if a == b {
        return a;
    }
    for unit in [" ms", " s", " min", " h", " d"] {
        if let (Some(x), Some(y)) = (a.strip_suffix(unit), b.strip_suffix(unit)) {
            if !x.contains(' ') && !y.contains(' ') {
                return format!("{x}–{y}{unit}");
            }
        }
    }
    format!("{a}–{b}")
}

/// Time of day in UTC, "HH:MM:SS".
pub(crate) fn clock(t: Timestamp) -> String {
    let ms = t.0.rem_euclid(86_400_000);
    let secs = ms / 1000;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The UTC date, "YYYY-MM-DD".
pub(crate) fn date(t: Timestamp) -> String {
    let (y, m, d) = civil_from_days(t.0.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// When something happened: "at 09:12:03 UTC", "between 09:12:03 and 11:40:10 UTC", with
/// dates when the span crosses midnight.
pub(super) fn when(first: Timestamp, last: Timestamp) -> String {
    if clock(first) == clock(last) && date(first) == date(last) {
        format!("at {} UTC", clock(first))
    } else if date(first) == date(last) {
        format!("between {} and {} UTC", clock(first), clock(last))
    } else {
        format!(
            "between {} {} and {} {} UTC",
            date(first),
            clock(first),
            date(last),
            clock(last)
        )
    }
}

/// "1 session", "14 sessions".
pub(super) fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "once", "twice", "3 times".
pub(super) fn times(n: usize) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
}

/// "a", "a and b", "a, b and c".
pub(super) fn list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} and {}", init.join(", "), last.as_ref())
        }
    }
}

/// Up to `max` distinct non-empty texts, quoted, in order of first appearance, with how many
/// others were left out: `"token expired", "bad key" and 2 others`. Copies of one text that
/// differ only in a timestamp are one text (the first copy is quoted), and UNIX times are
/// written as dates (`error_text`).
pub(super) fn samples<'a>(texts: impl Iterator<Item = &'a str>, max: usize) -> String {
    let mut distinct: Vec<(&str, String)> = Vec::new();
    for t in texts.map(str::trim).filter(|t| !t.is_empty()) {
        let key = crate::error_text::merge_key(t).into_owned();
        if !distinct.iter().any(|(_, k)| *k == key) {
            distinct.push((t, key));
        }
    }
    let mut shown: Vec<String> = distinct
        .iter()
        .take(max)
        .map(|(t, _)| format!("\"{}\"", crate::error_text::readable_times(t)))
        .collect();
    if distinct.len() > max {
        shown.push(count(distinct.len() - max, "other", "others"));
    }
    list(&shown)
}

/// (year, month, day) of a day number counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ms: u64, expected: &str) {
        assert_eq!(readable(Duration::from_millis(ms)), expected, "{ms} ms");
    }

    #[test]
    fn durations_read_naturally() {
        check(0, "0 ms");
        check(350, "350 ms");
        check(1000, "1 s");
        check(59_840, "59.8 s");
        check(60_000, "60 s");
        check(119_990, "120 s");
        check(120_000, "2 min");
        check(150_400, "2 min 30 s");
        check(600_000, "10 min");
        check(7_200_000, "2 h");
        check(3_900_000, "65 min");
        check(9_000_000, "2 h 30 min");
        check(3 * 86_400_000 + 4 * 3_600_000, "3 d 4 h");
    }

    #[test]
    fn ranges_share_units() {
        let r = |a: u64, b: u64| range(Duration::from_millis(a), Duration::from_millis(b));
        assert_eq!(r(59_200, 60_800), "59.2–60.8 s");
        assert_eq!(r(900, 1_200), "900 ms–1.2 s");
        assert_eq!(r(60_000, 60_000), "60 s");
        assert_eq!(r(120_000, 150_000), "2 min–2 min 30 s");
    }

    #[test]
    fn times_in_utc() {
        // 2024-05-01 09:12:03.500 UTC.
        let t = Timestamp(1_714_554_723_500);
        assert_eq!(
            (clock(t), date(t)),
            ("09:12:03".into(), "2024-05-01".into())
        );
        assert_eq!(date(Timestamp(0)), "1970-01-01");
        assert_eq!(date(Timestamp(-1)), "1969-12-31");
        assert_eq!(clock(Timestamp(-1)), "23:59:59");
        assert_eq!(date(Timestamp(951_782_400_000)), "2000-02-29");
        assert_eq!(when(t, t), "at 09:12:03 UTC");
        assert_eq!(
            when(t, Timestamp(t.0 + 3_600_000)),
            "between 09:12:03 and 10:12:03 UTC"
        );
        assert_eq!(
            when(t, Timestamp(t.0 + 86_400_000)),
            "between 2024-05-01 09:12:03 and 2024-05-02 09:12:03 UTC"
        );
    }

    #[test]
    fn counts_lists_and_samples() {
        assert_eq!(count(1, "session", "sessions"), "1 session");
        assert_eq!(count(14, "session", "sessions"), "14 sessions");
        assert_eq!([times(1), times(2), times(3)], ["once", "twice", "3 times"]);
        assert_eq!(list(&["a", "b", "c"]), "a, b and c");
        assert_eq!(list(&["a"]), "a");
        assert_eq!(
            samples(["x", "", "y", "x", "z"].into_iter(), 2),
            "\"x\", \"y\" and 1 other"
        );
        // Copies differing only in a timestamp are one sample, its UNIX times as dates.
        assert_eq!(
            samples(
                [
                    "expired: verification time 1714554000 (UNIX), not valid after 1714000000 (UNIX)",
                    "expired: verification time 1714554060 (UNIX), not valid after 1714000000 (UNIX)",
                    "HTTP 503 at 2024-05-01T09:00:00Z",
                    "HTTP 503 at 2024-05-01T09:01:00Z",
                ]
                .into_iter(),
                5
            ),
            "\"expired: verification time 2024-05-01 09:00:00 UTC, not valid after 2024-04-24 \
             23:06:40 UTC\" and \"HTTP 503 at 2024-05-01T09:00:00Z\""
        );
    }
}
