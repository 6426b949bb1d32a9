//! Turning a request's path and query into a [`Scenario`].
//!
//! Parsing is strict: unknown paths get a 404, unknown, repeated or malformed parameters a
//! 400 whose body names the parameter. Nothing here panics on client input.

use std::time::Duration;

use crate::query::{bad, Query};

/// Longest duration accepted in a query (anything longer is a 400).
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
/// Highest message rate; larger rates are clamped to it.
pub(crate) const MAX_RATE: u32 = 10_000;
/// Largest `/stream` message; larger sizes are clamped to it.
pub(crate) const MAX_STREAM_SIZE: usize = 16 << 20;
/// Default and largest `/oversized` message; larger sizes are clamped.
pub(crate) const DEFAULT_OVERSIZED: usize = 16 << 20;
pub(crate) const MAX_OVERSIZED: usize = 256 << 20;
/// A close frame payload is at most 125 bytes: 2 for the code, 123 for the reason.
pub(crate) const MAX_REASON_BYTES: usize = 123;
/// Default and largest `/many-headers` count; larger counts are clamped.
pub(crate) const DEFAULT_MANY_HEADERS: usize = 10_000;
pub(crate) const MAX_MANY_HEADERS: usize = 1_000_000;
/// Default and largest `/huge-header` line; larger sizes are clamped.
pub(crate) const DEFAULT_HUGE_HEADER: usize = 1 << 20;
pub(crate) const MAX_HUGE_HEADER: usize = 64 << 20;
/// Default and largest inflated size of the `/deflate` message; larger sizes are clamped.
pub(crate) const DEFAULT_DEFLATE: usize = 16 << 20;
pub(crate) const MAX_DEFLATE: usize = 256 << 20;
/// Close code of the `/evil-reason` frames (application-defined range).
pub(crate) const EVIL_REASON_CODE: u16 = 4000;

/// What a connection asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) scenario: Scenario,
    /// Whether to accept the client's first offered subprotocol (`subprotocol=none` turns it off).
    pub(crate) accept_subprotocol: bool,
}

/// One of the lab's behaviours, with its parameters resolved to values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// `/echo`, `/headers`.
    Echo {
        delay: Duration,
        reply: Option<String>,
    },
    /// `/close`, `/restart`, `/try-again`. `code: None` sends a close frame without status.
    Close {
        after: Duration,
        code: Option<u16>,
        reason: String,
    },
    Drop {
        after: Duration,
        rst: bool,
    },
    Mute {
        after: Duration,
    },
    Silent {
        rate: u32,
        after: Duration,
    },
    Stream {
        rate: u32,
        size: usize,
    },
    Reject {
        status: u16,
        location: Option<String>,
    },
    Slow {
        delay: Duration,
    },
    Idle {
        after: Duration,
        ignore_pings: bool,
        close: bool,
    },
    Flap {
        up: Duration,
        down: Duration,
    },
    Oversized {
        size: usize,
    },
    InvalidUtf8,
    /// `/unauthorized`: the upgrade is refused with `status` (401 or 403) and a body that
    /// echoes the request's target and headers, credentials included.
    Unauthorized {
        status: u16,
    },
    /// `/many-headers`: a valid 101 carrying `count` extra header lines, written raw.
    ManyHeaders {
        count: usize,
    },
    /// `/huge-header`: a valid 101 with one header line of `size` bytes, written raw.
    HugeHeader {
        size: usize,
    },
    /// `/endless-headers`: a 101 whose header block never ends: one more line every `every`.
    EndlessHeaders {
        every: Duration,
    },
    /// `/bad-close`: after `after`, a close frame no conforming server sends, written raw.
    BadClose {
        after: Duration,
        kind: BadClose,
    },
    /// `/deflate`: `permessage-deflate` in the 101 although nobody offered it, then one
    /// compressed binary message that inflates to `size` zero bytes.
    Deflate {
        size: usize,
    },
}

impl Scenario {
    /// Whether the lab writes the upgrade response itself, byte by byte, instead of letting
    /// tungstenite write a well-formed one.
    pub(crate) fn answers_raw(&self) -> bool {
        matches!(
            self,
            Scenario::ManyHeaders { .. }
                | Scenario::HugeHeader { .. }
                | Scenario::EndlessHeaders { .. }
        )
    }
}

/// The malformed close frames of `/bad-close`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadClose {
    /// A payload of one byte: too long for "no status", too short for a status code.
    OneByte,
    /// Code 1000 with a reason that is not UTF-8.
    InvalidUtf8,
    /// A code the RFC reserves and forbids on the wire (1004, 1005, 1006, 1015).
    Reserved(u16),
}

impl BadClose {
    /// The close frame's payload as it goes on the wire.
    pub(crate) fn payload(self) -> Vec<u8> {
        match self {
            BadClose::OneByte => vec![0x03],
            BadClose::InvalidUtf8 => {
                let mut p = 1000u16.to_be_bytes().to_vec();
                p.extend_from_slice(b"bye \xC3\x28");
                p
            }
            BadClose::Reserved(code) => {
                let mut p = code.to_be_bytes().to_vec();
                p.extend_from_slice(b"reserved code on the wire");
                p
            }
        }
    }
}

/// The close reasons of `/evil-reason`, by `kind`: text a renderer must not pass on raw.
pub(crate) fn evil_reason(kind: &str) -> Option<&'static str> {
    Some(match kind {
        // Retitles the terminal (OSC 0), turns it red, then forges a log line of its own.
        "terminal" => {
            "\u{1b}]0;pwned\u{7}\u{1b}[31mALERT\u{1b}[0m\nheartline: every endpoint is up"
        }
        // A spreadsheet opening a CSV export would evaluate this.
        "formula" => "=HYPERLINK(\"http://x\")",
        // Right-to-left override: reads as `invoiceexe.pdf`.
        "bidi" => "invoice\u{202e}fdp.exe",
        _ => return None,
    })
}

/// Why a request cannot be served: the HTTP status and a body for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRequest {
    pub(crate) status: u16,
    pub(crate) message: String,
}

/// Paths the lab knows, in the order they are listed to users.
pub(crate) const PATHS: &[&str] = &[
    "/echo",
    "/close",
    "/restart",
    "/try-again",
    "/drop",
    "/mute",
    "/silent",
    "/stream",
    "/reject",
    "/slow",
    "/idle",
    "/flap",
    "/oversized",
    "/invalid-utf8",
    "/headers",
    "/unauthorized",
    "/evil-reason",
    "/redirect",
    "/many-headers",
    "/huge-header",
    "/endless-headers",
    "/bad-close",
    "/deflate",
];

/// Paths whose upgrade response the lab writes raw (see [`Scenario::answers_raw`]).
pub(crate) const RAW_PATHS: &[&str] = &["/many-headers", "/huge-header", "/endless-headers"];

/// Parses `path?query` (the request target) into a [`Plan`].
pub(crate) fn parse(path_and_query: &str) -> Result<Plan, BadRequest> {
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, query),
        None => (path_and_query, ""),
    };
    let allowed: &[&str] = match path {
        "/echo" | "/headers" => &["delay", "reply"],
        "/close" => &["code", "reason", "after"],
        "/restart" | "/try-again" | "/mute" => &["after"],
        "/drop" => &["after", "rst"],
        "/silent" => &["rate", "after"],
        "/stream" => &["rate", "size"],
        "/reject" => &["status", "location"],
        "/slow" => &["delay"],
        "/idle" => &["after", "pings", "mode"],
        "/flap" => &["up", "down"],
        "/oversized" => &["size"],
        "/invalid-utf8" => &[],
        "/unauthorized" => &["status"],
        "/evil-reason" => &["kind", "after"],
        "/redirect" => &["status", "location"],
        "/many-headers" => &["count"],
        "/huge-header" | "/deflate" => &["size"],
        "/endless-headers" => &["every"],
        "/bad-close" => &["kind", "after"],
        _ => {
            return Err(BadRequest {
                status: 404,
                message: format!(
                    "heartline-lab: unknown scenario path `{path}`; known paths: {}",
                    PATHS.join(", ")
                ),
            })
        }
    };
    let q = Query::parse(query, allowed, path)?;
    let accept_subprotocol = match q.get("subprotocol") {
        None | Some("first") => true,
        Some("none") => false,
        Some(other) => return Err(bad("subprotocol", "`none` or `first`", other)),
    };

    let scenario = match path {
        "/echo" | "/headers" => Scenario::Echo {
            delay: q.duration("delay", Duration::ZERO)?,
            reply: q.get("reply").map(str::to_owned),
        },
        "/close" => {
            let code =
                match q.get("code") {
                    None => Some(1000),
                    Some("none") => None,
                    Some(raw) => Some(raw.parse::<u16>().map_err(|_| {
                        bad("code", "an integer close code (0-65535) or `none`", raw)
                    })?),
                };
            let reason = q.get("reason").unwrap_or_default().to_owned();
            if code.is_none() && !reason.is_empty() {
                return Err(bad("reason", "no reason when `code=none`", &reason));
            }
            if reason.len() > MAX_REASON_BYTES {
                return Err(bad(
                    "reason",
                    "at most 123 bytes (close frame limit)",
                    &reason,
                ));
            }
            Scenario::Close {
                after: q.duration("after", Duration::ZERO)?,
                code,
                reason,
            }
        }
        "/restart" => Scenario::Close {
            after: q.duration("after", Duration::ZERO)?,
            code: Some(1012),
            reason: "service restart".to_owned(),
        },
        "/try-again" => Scenario::Close {
            after: q.duration("after", Duration::ZERO)?,
            code: Some(1013),
            reason: "try again later".to_owned(),
        },
        "/drop" => Scenario::Drop {
            after: q.duration("after", Duration::ZERO)?,
            rst: q.flag("rst", false)?,
        },
        "/mute" => Scenario::Mute {
            after: q.duration("after", Duration::ZERO)?,
        },
        "/silent" => Scenario::Silent {
            rate: q.rate("rate", 10)?,
            after: q.duration("after", Duration::from_secs(1))?,
        },
        "/stream" => Scenario::Stream {
            rate: q.rate("rate", 10)?,
            size: q.size("size", 64)?.min(MAX_STREAM_SIZE),
        },
        "/reject" => {
            let status = match q.get("status") {
                None => 503,
                Some(raw) => match raw.parse::<u16>() {
                    Ok(s) if (300..=399).contains(&s) || (400..=599).contains(&s) => s,
                    _ => return Err(bad("status", "an HTTP status in 300-599", raw)),
                },
            };
            let location = q.get("location").map(str::to_owned);
            if let Some(location) = &location {
                if location.bytes().any(|b| b < 0x20 || b == 0x7f) {
                    return Err(bad("location", "no control characters", location));
                }
            }
            Scenario::Reject { status, location }
        }
        "/slow" => Scenario::Slow {
            delay: q.duration("delay", Duration::ZERO)?,
        },
        "/idle" => Scenario::Idle {
            after: q.duration("after", Duration::from_secs(1))?,
            ignore_pings: match q.get("pings") {
                None | Some("count") => false,
                Some("ignore") => true,
                Some(other) => return Err(bad("pings", "`ignore` or `count`", other)),
            },
            close: match q.get("mode") {
                None | Some("drop") => false,
                Some("close") => true,
                Some(other) => return Err(bad("mode", "`drop` or `close`", other)),
            },
        },
        "/flap" => {
            let up = q.duration("up", Duration::from_secs(2))?;
            let down = q.duration("down", Duration::from_secs(2))?;
            if up.is_zero() && down.is_zero() {
                return Err(bad("up", "a non-zero cycle (up + down > 0)", "0"));
            }
            Scenario::Flap { up, down }
        }
        "/oversized" => Scenario::Oversized {
            size: q.size("size", DEFAULT_OVERSIZED)?.min(MAX_OVERSIZED),
        },
        "/unauthorized" => Scenario::Unauthorized {
            status: match q.get("status") {
                None | Some("401") => 401,
                Some("403") => 403,
                Some(other) => return Err(bad("status", "`401` or `403`", other)),
            },
        },
        "/evil-reason" => {
            let kind = q.get("kind").unwrap_or("terminal");
            let reason = evil_reason(kind)
                .ok_or_else(|| bad("kind", "`terminal`, `formula` or `bidi`", kind))?;
            Scenario::Close {
                after: q.duration("after", Duration::ZERO)?,
                code: Some(EVIL_REASON_CODE),
                reason: reason.to_owned(),
            }
        }
        "/redirect" => {
            let status = match q.get("status") {
                None => 302,
                Some(raw) => match raw.parse::<u16>() {
                    Ok(s @ (301 | 302 | 303 | 307 | 308)) => s,
                    _ => return Err(bad("status", "`301`, `302`, `303`, `307` or `308`", raw)),
                },
            };
            let location = q.get("location").unwrap_or("/echo").to_owned();
            if location.bytes().any(|b| b < 0x20 || b == 0x7f) {
                return Err(bad("location", "no control characters", &location));
            }
            Scenario::Reject {
                status,
                location: Some(location),
            }
        }
        "/many-headers" => Scenario::ManyHeaders {
            count: q.size("count", DEFAULT_MANY_HEADERS)?.min(MAX_MANY_HEADERS),
        },
        "/huge-header" => Scenario::HugeHeader {
            size: q.size("size", DEFAULT_HUGE_HEADER)?.min(MAX_HUGE_HEADER),
        },
        "/endless-headers" => {
            let every = q.duration("every", Duration::from_millis(100))?;
            if every.is_zero() {
                return Err(bad("every", "a duration of at least 1ms", "0"));
            }
            Scenario::EndlessHeaders { every }
        }
        "/bad-close" => {
            let kind = match q.get("kind") {
                None | Some("one-byte") => BadClose::OneByte,
                Some("invalid-utf8") => BadClose::InvalidUtf8,
                Some(code @ ("1004" | "1005" | "1006" | "1015")) => {
                    BadClose::Reserved(code.parse().unwrap_or(1006))
                }
                Some(other) => {
                    return Err(bad(
                        "kind",
                        "`one-byte`, `invalid-utf8`, `1004`, `1005`, `1006` or `1015`",
                        other,
                    ))
                }
            };
            Scenario::BadClose {
                after: q.duration("after", Duration::ZERO)?,
                kind,
            }
        }
        "/deflate" => Scenario::Deflate {
            size: q.size("size", DEFAULT_DEFLATE)?.min(MAX_DEFLATE),
        },
        _ => Scenario::InvalidUtf8,
    };
    Ok(Plan {
        scenario,
        accept_subprotocol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(s: &str) -> Scenario {
        parse(s).unwrap().scenario
    }

    fn err(s: &str) -> BadRequest {
        parse(s).unwrap_err()
    }

    #[test]
    fn echo_and_defaults() {
        assert_eq!(
            scenario("/echo"),
            Scenario::Echo {
                delay: Duration::ZERO,
                reply: None
            }
        );
        assert_eq!(
            scenario("/echo?delay=20ms&reply=hi+there%21"),
            Scenario::Echo {
                delay: Duration::from_millis(20),
                reply: Some("hi there!".into())
            }
        );
        assert_eq!(
            scenario("/headers"),
            Scenario::Echo {
                delay: Duration::ZERO,
                reply: None
            }
        );
        assert!(parse("/echo").unwrap().accept_subprotocol);
        assert!(!parse("/echo?subprotocol=none").unwrap().accept_subprotocol);
    }

    #[test]
    fn close_family() {
        assert_eq!(
            scenario("/close?code=4001&reason=bye&after=5"),
            Scenario::Close {
                after: Duration::from_millis(5),
                code: Some(4001),
                reason: "bye".into()
            }
        );
        assert_eq!(
            scenario("/close"),
            Scenario::Close {
                after: Duration::ZERO,
                code: Some(1000),
                reason: String::new()
            }
        );
        assert_eq!(
            scenario("/close?code=none"),
            Scenario::Close {
                after: Duration::ZERO,
                code: None,
                reason: String::new()
            }
        );
        assert_eq!(
            scenario("/restart?after=1s"),
            Scenario::Close {
                after: Duration::from_secs(1),
                code: Some(1012),
                reason: "service restart".into()
            }
        );
        assert!(matches!(
            scenario("/try-again"),
            Scenario::Close {
                code: Some(1013),
                ..
            }
        ));
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = err("/close?code=abc");
        assert_eq!(e.status, 400);
        assert!(e.message.contains("`code`"), "{}", e.message);
        assert!(err("/close?code=none&reason=x")
            .message
            .contains("`reason`"));
        assert!(err(&format!("/close?reason={}", "x".repeat(124)))
            .message
            .contains("`reason`"));
        assert!(err("/echo?delay=soon").message.contains("`delay`"));
        assert!(err("/echo?dealy=1").message.contains("`dealy`"));
        assert!(err("/echo?delay=1&delay=2").message.contains("twice"));
        assert!(err("/echo?reply=%ZZ").message.contains("`reply`"));
        assert!(err("/echo?reply=%C3").message.contains("`reply`"));
        assert!(err("/reject?status=200").message.contains("`status`"));
        assert!(err("/reject?status=99999").message.contains("`status`"));
        assert!(err("/stream?rate=0").message.contains("`rate`"));
        assert!(err("/idle?mode=explode").message.contains("`mode`"));
        assert!(err("/idle?pings=maybe").message.contains("`pings`"));
        assert!(err("/drop?rst=2").message.contains("`rst`"));
        assert!(err("/flap?up=0&down=0").message.contains("`up`"));
        assert!(err("/oversized?size=lots").message.contains("`size`"));
        assert!(err("/echo?subprotocol=some")
            .message
            .contains("`subprotocol`"));
    }

    #[test]
    fn headers_takes_any_parameter_other_paths_do_not() {
        assert_eq!(
            scenario("/headers?token=abc&room=1"),
            Scenario::Echo {
                delay: Duration::ZERO,
                reply: None
            }
        );
        assert!(err("/echo?token=abc").message.contains("`token`"));
    }

    #[test]
    fn unknown_path_is_404() {
        let e = err("/nope?x=1");
        assert_eq!(e.status, 404);
        assert!(e.message.contains("/nope"));
        assert_eq!(err("/").status, 404);
        assert_eq!(err("").status, 404);
    }

    #[test]
    fn caps_and_sizes() {
        assert_eq!(
            scenario("/stream?rate=99999&size=1KiB"),
            Scenario::Stream {
                rate: MAX_RATE,
                size: 1024
            }
        );
        assert_eq!(scenario("/stream"), Scenario::Stream { rate: 10, size: 64 });
        assert_eq!(
            scenario("/oversized"),
            Scenario::Oversized {
                size: DEFAULT_OVERSIZED
            }
        );
        assert_eq!(
            scenario("/oversized?size=999999999999999999999999"),
            Scenario::Oversized {
                size: MAX_OVERSIZED
            }
        );
        assert_eq!(
            scenario("/oversized?size=2MiB"),
            Scenario::Oversized { size: 2 << 20 }
        );
    }

    #[test]
    fn other_scenarios() {
        assert_eq!(
            scenario("/drop?after=10ms&rst=1"),
            Scenario::Drop {
                after: Duration::from_millis(10),
                rst: true
            }
        );
        assert_eq!(
            scenario("/drop"),
            Scenario::Drop {
                after: Duration::ZERO,
                rst: false
            }
        );
        assert_eq!(
            scenario("/mute?after=2s"),
            Scenario::Mute {
                after: Duration::from_secs(2)
            }
        );
        assert_eq!(
            scenario("/silent"),
            Scenario::Silent {
                rate: 10,
                after: Duration::from_secs(1)
            }
        );
        assert_eq!(
            scenario("/reject"),
            Scenario::Reject {
                status: 503,
                location: None
            }
        );
        assert_eq!(
            scenario("/reject?status=302&location=/echo"),
            Scenario::Reject {
                status: 302,
                location: Some("/echo".into())
            }
        );
        assert_eq!(
            scenario("/slow?delay=1s"),
            Scenario::Slow {
                delay: Duration::from_secs(1)
            }
        );
        assert_eq!(
            scenario("/idle?after=5s&pings=ignore&mode=close"),
            Scenario::Idle {
                after: Duration::from_secs(5),
                ignore_pings: true,
                close: true
            }
        );
        assert_eq!(
            scenario("/flap"),
            Scenario::Flap {
                up: Duration::from_secs(2),
                down: Duration::from_secs(2)
            }
        );
        assert_eq!(scenario("/invalid-utf8"), Scenario::InvalidUtf8);
        assert!(err("/invalid-utf8?x=1").message.contains("`x`"));
    }

    #[test]
    fn hostile_scenarios() {
        assert_eq!(
            scenario("/unauthorized"),
            Scenario::Unauthorized { status: 401 }
        );
        assert_eq!(
            scenario("/unauthorized?status=403&access_token=abc&room=1"),
            Scenario::Unauthorized { status: 403 },
            "any other parameter is accepted, so a secret query reaches the echo"
        );
        assert!(err("/unauthorized?status=500").message.contains("`status`"));

        let Scenario::Close { code, reason, .. } = scenario("/evil-reason") else {
            panic!("evil-reason is a close");
        };
        assert_eq!(code, Some(EVIL_REASON_CODE));
        assert!(reason.contains("\u{1b}]0;pwned\u{7}") && reason.contains('\n'));
        for kind in ["terminal", "formula", "bidi"] {
            let reason = evil_reason(kind).unwrap();
            assert!(reason.len() <= MAX_REASON_BYTES, "{kind}");
        }
        assert_eq!(evil_reason("formula"), Some("=HYPERLINK(\"http://x\")"));
        assert!(err("/evil-reason?kind=xss").message.contains("`kind`"));

        assert_eq!(
            scenario("/redirect"),
            Scenario::Reject {
                status: 302,
                location: Some("/echo".into())
            }
        );
        assert_eq!(
            scenario("/redirect?status=301&location=ws%3A%2F%2Fexample.invalid%2F"),
            Scenario::Reject {
                status: 301,
                location: Some("ws://example.invalid/".into())
            }
        );
        assert!(err("/redirect?status=404").message.contains("`status`"));
        assert!(err("/redirect?location=%0d%0aX:1")
            .message
            .contains("`location`"));

        assert_eq!(
            scenario("/many-headers"),
            Scenario::ManyHeaders {
                count: DEFAULT_MANY_HEADERS
            }
        );
        assert_eq!(
            scenario("/many-headers?count=99999999"),
            Scenario::ManyHeaders {
                count: MAX_MANY_HEADERS
            }
        );
        assert_eq!(
            scenario("/huge-header"),
            Scenario::HugeHeader {
                size: DEFAULT_HUGE_HEADER
            }
        );
        assert_eq!(
            scenario("/endless-headers?every=5ms"),
            Scenario::EndlessHeaders {
                every: Duration::from_millis(5)
            }
        );
        assert!(err("/endless-headers?every=0").message.contains("`every`"));
        for (path, answers_raw) in [
            ("/many-headers", true),
            ("/huge-header", true),
            ("/endless-headers", true),
            ("/deflate", false),
            ("/bad-close", false),
            ("/echo", false),
        ] {
            assert_eq!(scenario(path).answers_raw(), answers_raw, "{path}");
            let bare = path.split('?').next().unwrap();
            assert_eq!(RAW_PATHS.contains(&bare), answers_raw, "{path}");
        }

        assert_eq!(
            scenario("/bad-close"),
            Scenario::BadClose {
                after: Duration::ZERO,
                kind: BadClose::OneByte
            }
        );
        assert_eq!(
            scenario("/bad-close?kind=1015&after=10ms"),
            Scenario::BadClose {
                after: Duration::from_millis(10),
                kind: BadClose::Reserved(1015)
            }
        );
        assert!(err("/bad-close?kind=1000").message.contains("`kind`"));
        assert_eq!(BadClose::OneByte.payload(), [3]);
        assert_eq!(&BadClose::Reserved(1006).payload()[..2], [0x03, 0xee]);
        let invalid = BadClose::InvalidUtf8.payload();
        assert_eq!(&invalid[..2], [0x03, 0xe8]);
        assert!(std::str::from_utf8(&invalid[2..]).is_err());
        for kind in [
            BadClose::OneByte,
            BadClose::InvalidUtf8,
            BadClose::Reserved(1004),
        ] {
            assert!(kind.payload().len() <= 125, "{kind:?} fits a control frame");
        }

        assert_eq!(
            scenario("/deflate?size=1MiB"),
            Scenario::Deflate { size: 1 << 20 }
        );
        assert_eq!(
            scenario("/deflate?size=99999999999"),
            Scenario::Deflate { size: MAX_DEFLATE }
        );
    }
}
