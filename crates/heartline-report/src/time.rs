//! Times as an export shows them: ISO 8601 UTC with milliseconds for machines, and the user's
//! chosen zone with its offset stated for people. Also the instants the CLI accepts.

use std::time::Duration;

use chrono::{Offset, TimeZone};

use heartline_core::Timestamp;

const DAY_MS: i64 = 86_400_000;

/// The zone human-readable times are shown in. Machine fields (CSV, JSON timestamps) are always
/// UTC; charts always have a UTC axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    #[default]
    Utc,
    /// The machine's local zone, as the operating system describes it (daylight saving too).
    Local,
    /// A fixed offset east of UTC in seconds: for tests and for users who name their offset.
    Fixed(i32),
}

impl Zone {
    /// Seconds east of UTC at `at`.
    pub fn offset_at(self, at: Timestamp) -> i32 {
        match self {
            Zone::Utc => 0,
            Zone::Fixed(secs) => secs,
            Zone::Local => chrono::DateTime::from_timestamp_millis(at.0)
                .map(|t| {
                    chrono::Local
                        .offset_from_utc_datetime(&t.naive_utc())
                        .fix()
                        .local_minus_utc()
                })
                .unwrap_or(0),
        }
    }

    /// How times in `[since, until)` are shown: the offsets met in the window (checked at both
    /// ends and at every UTC midnight between, which catches daylight-saving changes).
    pub fn view(self, since: Timestamp, until: Timestamp) -> ZoneView {
        let mut offsets = vec![self.offset_at(since)];
        let mut day = since.0.div_euclid(DAY_MS) * DAY_MS + DAY_MS;
        while day < until.0 {
            offsets.push(self.offset_at(Timestamp(day)));
            day += DAY_MS;
        }
        offsets.push(self.offset_at(Timestamp(until.0.saturating_sub(1))));
        offsets.dedup();
        let mut distinct = offsets.clone();
        distinct.sort_unstable();
        distinct.dedup();
        ZoneView {
            zone: self,
            offsets: if distinct.len() == 1 {
                distinct
            } else {
                offsets
            },
        }
    }
}

/// A zone over one export window: how to write times and how to name the zone in headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneView {
    zone: Zone,
    /// Offsets met in the window, in order of appearance; one when it never changes.
    offsets: Vec<i32>,
}

impl ZoneView {
    /// "UTC", "UTC+01:00", or "local, UTC+01:00 / UTC+02:00" when the offset changes.
    pub fn label(&self) -> String {
        match self.offsets.as_slice() {
            [0] => "UTC".into(),
            [one] => format!("UTC{}", offset_text(*one)),
            many => {
                let parts: Vec<String> = many
                    .iter()
                    .map(|o| format!("UTC{}", offset_text(*o)))
                    .collect();
                format!("local, {}", parts.join(" / "))
            }
        }
    }

    /// "2026-11-21 10:00:00.000", with the offset appended when it changes within the window.
    pub fn format(&self, at: Timestamp) -> String {
        let mut text = String::with_capacity(24);
        self.push_format(&mut text, at);
        text
    }

    /// [`ZoneView::format`] appended to `out`.
    pub(crate) fn push_format(&self, out: &mut String, at: Timestamp) {
        let offset = self.zone.offset_at(at);
        push_stamp(out, Timestamp(at.0 + i64::from(offset) * 1000), ' ', "");
        if self.offsets.len() > 1 {
            out.push(' ');
            out.push_str(&offset_text(offset));
        }
    }

    /// Like [`ZoneView::format`] without milliseconds, for headings.
    pub fn format_short(&self, at: Timestamp) -> String {
        let full = self.format(at);
        match full.split_once('.') {
            Some((head, tail)) => format!("{head}{}", tail.get(3..).unwrap_or("")),
            None => full,
        }
    }
}

/// `+01:00`, `-05:30`, `+00:00`.
fn offset_text(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let abs = secs.unsigned_abs();
    format!("{sign}{:02}:{:02}", abs / 3600, abs / 60 % 60)
}

/// ISO 8601 / RFC 3339 in UTC with milliseconds: `2026-11-21T10:00:00.000Z`.
pub fn iso_utc(at: Timestamp) -> String {
    stamp(at, 'T', "Z")
}

/// Date, `between`, clock with milliseconds, `end`.
fn stamp(at: Timestamp, between: char, end: &str) -> String {
    let mut text = String::with_capacity(24);
    push_stamp(&mut text, at, between, end);
    text
}

/// [`iso_utc`] appended to `out`, without an allocation of its own (exports write one or two
/// per event).
pub(crate) fn push_iso_utc(out: &mut String, at: Timestamp) {
    push_stamp(out, at, 'T', "Z");
}

/// Appends date, `between`, clock with milliseconds and `end` to `out`; digits are written
/// by hand (the `format!` this replaced was a tenth of a CSV export's rendering).
fn push_stamp(out: &mut String, at: Timestamp, between: char, end: &str) {
    let (y, m, d) = civil(at.0.div_euclid(DAY_MS));
    let ms = at.0.rem_euclid(DAY_MS);
    let secs = ms / 1000;
    if (0..10_000).contains(&y) {
        push_digits(out, y, 4);
    } else {
        // Outside four digits: as `{:04}` writes them (sign, at least four digits).
        use std::fmt::Write;
        let _ = write!(out, "{y:04}");
    }
    out.push('-');
    push_digits(out, i64::from(m), 2);
    out.push('-');
    push_digits(out, i64::from(d), 2);
    out.push(between);
    push_digits(out, secs / 3600, 2);
    out.push(':');
    push_digits(out, secs / 60 % 60, 2);
    out.push(':');
    push_digits(out, secs % 60, 2);
    out.push('.');
    push_digits(out, ms % 1000, 3);
    out.push_str(end);
}

/// `value` (0 ≤ value < 10^width) zero-padded to `width` digits.
fn push_digits(out: &mut String, value: i64, width: u32) {
    let mut rest = value;
    let mut digits = [b'0'; 4];
    for slot in digits[..width as usize].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    for &digit in &digits[..width as usize] {
        out.push(char::from(digit));
    }
}

/// (year, month, day) of a day count since 1970-01-01, proleptic Gregorian calendar.
fn civil(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of each 4/100/400-year cycle.
    let shifted = days + 719_468;
    let cycle = shifted.div_euclid(146_097);
    let day_of_cycle = shifted.rem_euclid(146_097);
    let year_of_cycle =
        (day_of_cycle - day_of_cycle / 1460 + day_of_cycle / 36_524 - day_of_cycle / 146_096) / 365;
    let day_of_year =
        day_of_cycle - (365 * year_of_cycle + year_of_cycle / 4 - year_of_cycle / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_cycle + cycle * 400 + i64::from(month <= 2);
    (year, month as u32, day as u32)
}

/// Days since 1970-01-01 of a calendar date (the inverse of [`civil`]).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let cycle = year.div_euclid(400);
    let year_of_cycle = year.rem_euclid(400);
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_cycle = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100 + day_of_year;
    cycle * 146_097 + day_of_cycle - 719_468
}

/// Parses an instant as the CLI takes it: RFC 3339 (`2026-11-21T10:00:00Z`, any offset), a date
/// (`2026-11-21`, UTC midnight), `now`, or a duration back from `now` (`24h`, `7d`, `90m`).
pub fn parse_instant(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Timestamp(t.timestamp_millis()));
    }
    if let Some(t) = parse_date(text) {
        return Ok(t);
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) && !text.contains('-') {
        if let Ok(back) = heartline_core::parse_duration(text) {
            let back = i64::try_from(back.as_millis()).unwrap_or(i64::MAX);
            return Ok(Timestamp(now.0.saturating_sub(back)));
        }
    }
    Err(format!(
        "`{text}` is not a time: write RFC 3339 (2026-11-21T10:00:00Z), a date (2026-11-21), \
         `now`, or a duration back from now (24h, 7d)"
    ))
}

/// `YYYY-MM-DD` as UTC midnight, refusing impossible dates.
fn parse_date(text: &str) -> Option<Timestamp> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d): (i64, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let days = days_from_civil(y, m, d);
    (civil(days) == (y, m, d)).then_some(Timestamp(days * DAY_MS))
}

/// A duration as a person says it: "350 ms", "59.8 s", "5 min 12 s", "2 h 5 min", "3 d 4 h".
pub fn readable(d: Duration) -> String {
    let mut text = String::new();
    push_readable(&mut text, d);
    text
}

/// [`readable`] appended to `out`.
pub(crate) fn push_readable(out: &mut String, d: Duration) {
    use std::fmt::Write;
    let ms = d.as_millis();
    if ms < 1000 {
        let _ = write!(out, "{ms} ms");
        return;
    }
    if ms < 60_000 {
        let tenths = (ms + 50) / 100;
        let _ = match tenths % 10 {
            0 => write!(out, "{} s", tenths / 10),
            t => write!(out, "{}.{t} s", tenths / 10),
        };
        return;
    }
    let secs = (ms + 500) / 1000;
    let (value, unit, rest, rest_unit) = if secs < 3600 {
        (secs / 60, "min", secs % 60, "s")
    } else if secs < 48 * 3600 {
        let mins = (secs + 30) / 60;
        (mins / 60, "h", mins % 60, "min")
    } else {
        let hours = (secs + 1800) / 3600;
        (hours / 24, "d", hours % 24, "h")
    };
    let _ = if rest == 0 {
        write!(out, "{value} {unit}")
    } else {
        write!(out, "{value} {unit} {rest} {rest_unit}")
    };
}

/// A round trip or handshake phase, in the one unit policy of every surface
/// ([`heartline_core::rtt_text`]: "0.321 ms", "12.5 ms", "1 800 ms").
pub fn millis_text(d: Duration) -> String {
    heartline_core::rtt_text(d)
}

/// [`millis_text`] appended to `out`.
pub(crate) fn push_millis(out: &mut String, d: Duration) {
    heartline_core::push_rtt(out, d);
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_795_255_200_000); // 2026-11-21T10:00:00Z

    #[test]
    fn instants_the_cli_accepts() {
        for (text, expected) in [
            ("2026-11-21T10:00:00Z", Ok(NOW.0)),
            ("2026-11-21T11:00:00+01:00", Ok(NOW.0)),
            ("2026-11-21T10:00:00.250Z", Ok(NOW.0 + 250)),
            ("2026-11-21", Ok(NOW.0 - 10 * 3_600_000)),
            ("now", Ok(NOW.0)),
            ("24h", Ok(NOW.0 - 86_400_000)),
            ("7d", Ok(NOW.0 - 7 * 86_400_000)),
            ("1h30m", Ok(NOW.0 - 5_400_000)),
            ("2026-02-30", Err("not a time")),
            ("yesterday", Err("not a time")),
            ("15", Err("not a time")),
        ] {
            match (parse_instant(text, NOW), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got.0, want, "{text}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text}: {got}"),
                (got, want) => panic!("{text}: got {got:?}, expected {want:?}"),
            }
        }
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-719_468, -1, 0, 59, 60, 365, 10_957, 20_778, 2_932_896] {
            let (y, m, d) = civil(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(iso_utc(NOW), "2026-11-21T10:00:00.000Z");
        assert_eq!(
            iso_utc(Timestamp(951_782_400_123)),
            "2000-02-29T00:00:00.123Z"
        );
    }

    #[test]
    fn zones_state_their_offset() {
        let utc = Zone::Utc.view(NOW, Timestamp(NOW.0 + 1000));
        assert_eq!(utc.label(), "UTC");
        assert_eq!(utc.format(NOW), "2026-11-21 10:00:00.000");
        let plus = Zone::Fixed(5400).view(NOW, Timestamp(NOW.0 + 1000));
        assert_eq!(plus.label(), "UTC+01:30");
        assert_eq!(plus.format(NOW), "2026-11-21 11:30:00.000");
        assert_eq!(plus.format_short(NOW), "2026-11-21 11:30:00");
        assert_eq!(Zone::Fixed(-18_000).view(NOW, NOW).label(), "UTC-05:00");
    }

    #[test]
    fn durations_read_naturally() {
        for (ms, text) in [
            (350, "350 ms"),
            (59_800, "59.8 s"),
            (60_000, "1 min"),
            (312_000, "5 min 12 s"),
            (7_500_000, "2 h 5 min"),
            (3 * 86_400_000 + 4 * 3_600_000, "3 d 4 h"),
        ] {
            assert_eq!(readable(Duration::from_millis(ms)), text);
        }
        assert_eq!(millis_text(Duration::from_micros(12_500)), "12.5 ms");
        assert_eq!(millis_text(Duration::from_micros(321)), "0.321 ms");
        assert_eq!(millis_text(Duration::from_millis(3)), "3.00 ms");
    }

    /// The hand-written digits give what `format!` gave, years outside four digits included.
    #[test]
    fn stamps_write_what_format_wrote() {
        let reference = |at: i64| {
            let (y, m, d) = civil(at.div_euclid(DAY_MS));
            let ms = at.rem_euclid(DAY_MS);
            let secs = ms / 1000;
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
                secs / 3600,
                secs / 60 % 60,
                secs % 60,
                ms % 1000
            )
        };
        let mut at = -80_000_000_000_000i64;
        while at < 300_000_000_000_000 {
            assert_eq!(iso_utc(Timestamp(at)), reference(at), "{at}");
            at += 7_777_777_777_777 + at.rem_euclid(999);
        }
        for at in [0, -1, 1, 86_399_999, 951_782_400_123, 253_402_300_799_999] {
            assert_eq!(iso_utc(Timestamp(at)), reference(at), "{at}");
        }
    }
}
