//! Error texts as a person reads them. Libraries write times the way machines do: rustls says
//! a certificate "is not valid after 1580515200 (UNIX)", and a server's error body may stamp
//! each copy of one error with the moment it was sent. [`readable_times`] writes UNIX times as
//! UTC dates; [`merge_key`] masks timestamps, so copies of one error that differ only in when
//! they happened are counted as one.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::diagnosis::{clock, date};
use crate::event::Timestamp;

/// `1580515200 (UNIX)`: seconds since 1970, as rustls and webpki write them.
static UNIX_SECONDS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,12}) \(UNIX\)").expect("a valid pattern"));

/// What looks like a moment: an ISO 8601 / RFC 3339 date with or without a time and zone, a
/// time of day with seconds, a date written as our [`readable_times`] writes it, or a run of 9
/// to 19 digits (UNIX seconds, milliseconds, nanoseconds).
static TIMESTAMP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        \d{4}-\d{2}-\d{2}(?:[T\ ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?:\ ?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?
        | \b\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:\ ?(?:Z|UTC|GMT))?
        | \b\d{9,19}\b",
    )
    .expect("a valid pattern")
});

/// `text` with every `N (UNIX)` written as a UTC date and time ("2020-02-01 00:00:00 UTC").
/// Other text is unchanged (borrowed when there is nothing to rewrite).
pub fn readable_times(text: &str) -> Cow<'_, str> {
    UNIX_SECONDS.replace_all(text, |c: &Captures<'_>| {
        match c[1].parse::<i64>().ok().and_then(|s| s.checked_mul(1000)) {
            Some(ms) => {
                let t = Timestamp(ms);
                format!("{} {} UTC", date(t), clock(t))
            }
            None => c[0].to_owned(),
        }
    })
}

/// `text` with every timestamp masked: two errors with the same key are copies of one error,
/// whenever each happened.
pub fn merge_key(text: &str) -> Cow<'_, str> {
    TIMESTAMP.replace_all(text, "<time>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_become_dates() {
        assert_eq!(
            readable_times(
                "invalid peer certificate: certificate expired: verification time 1714554000 \
                 (UNIX), but certificate is not valid after 1580515200 (UNIX)"
            ),
            "invalid peer certificate: certificate expired: verification time 2024-05-01 \
             09:00:00 UTC, but certificate is not valid after 2020-02-01 00:00:00 UTC"
        );
        assert!(matches!(
            readable_times("connection refused"),
            Cow::Borrowed("connection refused")
        ));
        // A number without the unit is left alone.
        assert_eq!(
            readable_times("HTTP 503 after 1714554000"),
            "HTTP 503 after 1714554000"
        );
    }

    #[test]
    fn copies_differing_only_in_a_timestamp_share_a_key() {
        let same = [
            (
                "certificate expired: verification time 1714554000 (UNIX), but certificate is not valid after 1580515200 (UNIX)",
                "certificate expired: verification time 1714554999 (UNIX), but certificate is not valid after 1580515200 (UNIX)",
            ),
            (
                r#"upgrade refused with HTTP 503: {"error":"busy","at":"2024-05-01T09:00:00.123Z"}"#,
                r#"upgrade refused with HTTP 503: {"error":"busy","at":"2024-05-01T09:00:07.981Z"}"#,
            ),
            (
                "upgrade refused with HTTP 502: Bad Gateway at 09:00:01 UTC (request 1714554001234)",
                "upgrade refused with HTTP 502: Bad Gateway at 09:14:59 UTC (request 1714554899001)",
            ),
            (
                "verification time 2024-05-01 09:00:00 UTC",
                "verification time 2024-05-02 10:00:00 UTC",
            ),
        ];
        for (a, b) in same {
            assert_eq!(merge_key(a), merge_key(b), "{a}\n{b}");
        }
        let different = [
            (
                "upgrade refused with HTTP 503",
                "upgrade refused with HTTP 502",
            ),
            (
                "connection refused (os error 111)",
                "connection reset (os error 104)",
            ),
            ("not valid after 1580515200 (UNIX)", "name mismatch"),
        ];
        for (a, b) in different {
            assert_ne!(merge_key(a), merge_key(b), "{a}\n{b}");
        }
        // Short numbers (statuses, ports, sizes) are kept.
        assert_eq!(
            merge_key("tcp 127.0.0.1:8080: message of 70000 bytes"),
            "tcp 127.0.0.1:8080: message of 70000 bytes"
        );
    }
}
