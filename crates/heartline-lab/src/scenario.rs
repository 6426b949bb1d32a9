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
];

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
}
