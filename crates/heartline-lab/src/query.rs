//! Query-string parameters: decoding and the value syntaxes the scenarios share.

use std::time::Duration;

use crate::scenario::{BadRequest, MAX_DURATION, MAX_RATE};

/// Parses "250ms", "2s", "1m", "1h" or a bare integer (milliseconds).
pub(crate) fn parse_duration(raw: &str) -> Option<Duration> {
    let digits_end = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(digits_end);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let millis_per_unit: u64 = match unit {
        "" | "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    let d = Duration::from_millis(n.checked_mul(millis_per_unit)?);
    (d <= MAX_DURATION).then_some(d)
}

pub(crate) fn bad(param: &str, expected: &str, got: &str) -> BadRequest {
    BadRequest {
        status: 400,
        message: format!(
            "heartline-lab: bad query parameter `{param}`: expected {expected}, got `{got}`"
        ),
    }
}

/// Decoded query parameters, checked against the names a path accepts.
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(query: &str, allowed: &[&str], path: &str) -> Result<Self, BadRequest> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (raw_key, raw_value) = part.split_once('=').unwrap_or((part, ""));
            let key = percent_decode(raw_key).ok_or_else(|| BadRequest {
                status: 400,
                message: format!(
                    "heartline-lab: bad query parameter name `{raw_key}`: invalid percent-encoding"
                ),
            })?;
            let value = percent_decode(raw_value)
                .ok_or_else(|| bad(&key, "valid percent-encoded UTF-8", raw_value))?;
            // `/headers` and `/unauthorized` show what a client sent, so they take any
            // parameter (e.g. `token=`).
            let takes_any = matches!(path, "/headers" | "/unauthorized");
            if key != "subprotocol" && !takes_any && !allowed.contains(&key.as_str()) {
                let mut accepted: Vec<&str> = allowed.to_vec();
                accepted.push("subprotocol");
                return Err(BadRequest {
                    status: 400,
                    message: format!(
                        "heartline-lab: unknown query parameter `{key}` for {path} (accepted: {})",
                        accepted.join(", ")
                    ),
                });
            }
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(BadRequest {
                    status: 400,
                    message: format!("heartline-lab: query parameter `{key}` given twice"),
                });
            }
            pairs.push((key, value));
        }
        Ok(Self { pairs })
    }

    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn duration(&self, key: &str, default: Duration) -> Result<Duration, BadRequest> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => parse_duration(raw).ok_or_else(|| {
                bad(
                    key,
                    "a duration like `250ms`, `2s`, `1m` or milliseconds, at most 24h",
                    raw,
                )
            }),
        }
    }

    pub(crate) fn rate(&self, key: &str, default: u32) -> Result<u32, BadRequest> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => match raw.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(n.min(u64::from(MAX_RATE)) as u32),
                _ => Err(bad(key, "messages per second, an integer >= 1", raw)),
            },
        }
    }

    pub(crate) fn size(&self, key: &str, default: usize) -> Result<usize, BadRequest> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => parse_size(raw)
                .ok_or_else(|| bad(key, "a byte count like `1000`, `64KiB` or `16MiB`", raw)),
        }
    }

    pub(crate) fn flag(&self, key: &str, default: bool) -> Result<bool, BadRequest> {
        match self.get(key) {
            None => Ok(default),
            Some("" | "1" | "true" | "yes") => Ok(true),
            Some("0" | "false" | "no") => Ok(false),
            Some(other) => Err(bad(key, "`1` or `0`", other)),
        }
    }
}

/// Parses a byte count with an optional `KiB`/`MiB` suffix. Saturates instead of overflowing
/// (callers clamp to their cap anyway).
fn parse_size(raw: &str) -> Option<usize> {
    let digits_end = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (digits, unit) = raw.split_at(digits_end);
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().unwrap_or(u64::MAX);
    let factor: u64 = match unit {
        "" | "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        _ => return None,
    };
    Some(usize::try_from(n.saturating_mul(factor)).unwrap_or(usize::MAX))
}

/// Decodes `%XX` escapes and `+` (as a space). `None` for bad escapes or non-UTF-8 results.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("75"), Some(Duration::from_millis(75)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        for bad in [
            "",
            "ms",
            "1.5s",
            "-1",
            "2 s",
            "3d",
            "25h",
            "99999999999999999999",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%2B").as_deref(), Some("a b c+"));
        assert_eq!(percent_decode("%e2%9c%93").as_deref(), Some("\u{2713}"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("2KiB"), Some(2048));
        assert_eq!(parse_size("1MiB"), Some(1 << 20));
        assert_eq!(parse_size("1GiB"), None);
        assert_eq!(parse_size("MiB"), None);
    }
}
