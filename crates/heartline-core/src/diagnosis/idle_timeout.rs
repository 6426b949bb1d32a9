//! Rule: sessions that end after the same silence point at an idle timeout on the path.

use std::ops::Range;
use std::time::Duration;

use super::text::{count, list, range, readable, when};
use super::{by_endpoint, Facts, Finding, Rule};
use crate::close_code::meaning;
use crate::event::{Event, EventKind, SessionEnd, Timestamp};

/// Two similar silences can be chance; three make a pattern.
const MIN_OCCURRENCES: usize = 3;

/// Silences agree when within this of their median (or [`TOLERANCE_SHARE`] of it, whichever is
/// larger): intermediaries check their timers coarsely, and the loss reaches Heartline a read
/// or a round trip after it happened.
const TOLERANCE_FLOOR: Duration = Duration::from_secs(2);
const TOLERANCE_SHARE: f64 = 0.05;

/// Shorter silences need more proof: the ends of a busy stream would all "agree" near zero.
/// Below this an idle timeout is found only when *every* abnormal end of the period agrees (a
/// proxy set to 2 s: six of six at 2.0 s), or when the server said so in its close reason.
const MIN_SILENCE: Duration = Duration::from_secs(5);

/// No silence shorter than this is considered at all: below it even a quiet stream's gaps
/// between messages would agree.
const MIN_SHORT_SILENCE: Duration = Duration::from_secs(1);

/// A session is quiet from its start when its last message came at most this long after it
/// opened (a server's greeting, the answer to our first ping).
const QUIET_FROM_START: Duration = Duration::from_millis(500);

/// Close reasons that name an idle timer, matched case-insensitively (a Gin + gorilla server
/// closes 1000 "idle timeout" when the *client* sent nothing, its own ticks still flowing).
const IDLE_WORDS: [&str; 3] = ["idle", "timeout", "inactiv"];

/// The agreeing silences must be at least this share of the abnormal ends that were silent at
/// least as long, over the same period. Behind a real timeout almost every long silence ends
/// at it; among many random silences a few agree by chance, and that is no pattern.
const MIN_SHARE: f64 = 0.5;

/// A suggested heartbeat interval, as a fraction of the timeout: margin for a late or lost
/// heartbeat and for the timer's own coarseness.
const HEARTBEAT_FRACTION: f64 = 0.8;

/// Well-known idle timeouts worth naming when the estimate matches: (who, low s, high s).
const KNOWN_TIMEOUTS: [(&str, u64, u64); 5] = [
    ("nginx's default proxy_read_timeout (60 s)", 60, 60),
    (
        "an AWS Application Load Balancer's default idle timeout (60 s)",
        60,
        60,
    ),
    ("Cloudflare's idle timeout (100 s)", 100, 100),
    ("CloudFront's idle timeout (10 min)", 600, 600),
    ("the 30–120 s typical of enterprise firewalls", 30, 120),
];

/// Finds, per endpoint, at least [`MIN_OCCURRENCES`] abnormal ends (lost without a close frame,
/// or a server close 1000/1001/1006) whose silences lie within max(2 s, 5 %) of their median,
/// that median being at least [`MIN_SILENCE`] and the group at least [`MIN_SHARE`] of the
/// abnormal ends silent that long.
pub(super) fn idle_timeout(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (id, events) in by_endpoint(events) {
        let all: Vec<IdleEnd> = events.iter().filter_map(|e| IdleEnd::of(e)).collect();
        let min_short = MIN_SHORT_SILENCE.as_millis() as u64;
        let mut ends: Vec<&IdleEnd> = all.iter().filter(|e| e.silent >= min_short).collect();
        ends.sort_by_key(|e| e.silent);
        let silences: Vec<u64> = ends.iter().map(|e| e.silent).collect();
        let Some(group) = agreeing(&silences) else {
            continue;
        };
        let members = &ends[group.clone()];
        let first = members.iter().map(|e| e.at).min().unwrap_or(Timestamp(0));
        let last = members.iter().map(|e| e.at).max().unwrap_or(Timestamp(0));
        let long_enough = ends
            .iter()
            .filter(|e| e.silent >= silences[group.start] && (first..=last).contains(&e.at))
            .count();
        if (members.len() as f64) < MIN_SHARE * long_enough as f64 {
            continue;
        }
        let said_idle: Vec<&str> = members
            .iter()
            .filter(|e| e.said_idle)
            .map(|e| e.reason.as_str())
            .collect();
        if median(&silences[group.clone()]) < MIN_SILENCE.as_millis() as u64 && said_idle.is_empty()
        {
            // A short silence proves an idle timeout only when every abnormal end agrees.
            let everyone = all
                .iter()
                .filter(|e| (first..=last).contains(&e.at))
                .count();
            if members.len() < everyone {
                continue;
            }
        }

        let name = facts.name(id);
        let median = Duration::from_millis(median(&silences[group.clone()]));
        let timeout = round_timeout(median);
        let about = readable(timeout);
        let ping = facts.get(id).map(|f| f.ping_interval);
        let pings_ignored = ping.is_some_and(|p| p < timeout);
        let heartbeat = timeout.mul_f64(HEARTBEAT_FRACTION);

        let matches: Vec<&str> = KNOWN_TIMEOUTS
            .iter()
            .filter(|(_, lo, hi)| {
                let tol = tolerance(timeout.as_millis() as u64);
                let t = timeout.as_millis() as u64;
                t + tol >= lo * 1000 && t <= hi * 1000 + tol
            })
            .map(|(who, _, _)| *who)
            .collect();
        let mut explanation = format!(
            "Sessions to {name} keep ending after the same silence, about {about} without an \
             application message: the signature of an idle timeout in a proxy, load balancer or \
             firewall on the path (or in the server), not of random failures."
        );
        if matches.is_empty() {
            explanation.push_str(&format!(
                " No common default is exactly {about}, so look for a configured timeout of that \
                 length."
            ));
        } else {
            explanation.push_str(&format!(" That matches {}.", list(&matches)));
        }
        if let Some(reason) = said_idle.first() {
            explanation.push_str(&format!(
                " The server said so itself, closing with the reason \"{reason}\"."
            ));
        }
        if members.iter().any(|e| e.outbound) {
            explanation.push_str(
                " Heartline had sent no application message for that long: the timer counts \
                 what the client sends, whatever the server keeps sending.",
            );
        }
        let quiet_from_start = |e: &&IdleEnd| {
            e.lasted.saturating_sub(Duration::from_millis(e.silent)) <= QUIET_FROM_START
        };
        if median < MIN_SILENCE && members.iter().all(quiet_from_start) {
            explanation.push_str(
                " Every one of these sessions was quiet from its first moments, so a deadline the \
                 server sets at connect (waiting for a handshake or init message it never got, \
                 as a Socket.IO server does with a client that does not answer its open packet) \
                 would look the same: if heartbeats do not help, check which first message the \
                 server expects.",
            );
        }
        if let (true, Some(p)) = (pings_ignored, ping) {
            explanation.push_str(&format!(
                " Heartline was pinging every {}, well within it, so protocol pings apparently do \
                 not count as traffic on this path.",
                readable(p)
            ));
        }

        let silent = |e: &&IdleEnd| Duration::from_millis(e.silent);
        let lasted = |e: &&IdleEnd| e.lasted;
        let mut evidence = vec![format!(
            "{} {} after {} of silence ({})",
            count(members.len(), "session", "sessions"),
            how_they_ended(members),
            range(
                members.iter().map(silent).min().unwrap_or_default(),
                members.iter().map(silent).max().unwrap_or_default()
            ),
            when(first, last)
        )];
        evidence.push(format!(
            "those sessions lasted {}",
            range(
                members.iter().map(lasted).min().unwrap_or_default(),
                members.iter().map(lasted).max().unwrap_or_default()
            )
        ));
        if let Some(f) = facts.get(id) {
            let app = match f.app_heartbeat_interval {
                Some(a) => format!("an application heartbeat every {}", readable(a)),
                None => "no application heartbeat".into(),
            };
            evidence.push(format!(
                "configured: protocol pings every {}, {app}",
                readable(f.ping_interval)
            ));
        }

        let app_every = readable(nice_floor(heartbeat));
        let suggestion = if pings_ignored {
            format!(
                "Send an application heartbeat every {app_every} or less (protocol pings do not \
                 keep this path open), or raise the intermediary's idle timeout if you control it."
            )
        } else {
            format!(
                "Send an application heartbeat every {app_every} or less; if the intermediary \
                 counts WebSocket pings as traffic, a ping interval under {} also works. Or \
                 raise the intermediary's idle timeout if you control it.",
                readable(heartbeat)
            )
        };

        findings.push(Finding {
            rule: Rule::IdleTimeout,
            endpoints: vec![id],
            title: format!("Idle timeout of about {about} on the path to {name}"),
            explanation,
            evidence,
            suggestion,
            first_seen: first,
            last_seen: last,
            occurrences: members.len() as u32,
        });
    }
    findings
}

/// A session end that an idle timeout could have caused.
struct IdleEnd {
    at: Timestamp,
    /// Milliseconds of silence when it ended: without an application message received or,
    /// when the server's reason names an idle timer and Heartline sent none, without one sent.
    silent: u64,
    lasted: Duration,
    /// `None`: lost without a close frame; otherwise the server's close code.
    server_code: Option<u16>,
    /// The server's close reason named an idle timer.
    said_idle: bool,
    reason: String,
    /// `silent` is Heartline's own outbound silence.
    outbound: bool,
}

impl IdleEnd {
    fn of(event: &Event) -> Option<Self> {
        let EventKind::Closed { end, stats } = &event.kind else {
            return None;
        };
        let (server_code, reason) = match end {
            SessionEnd::Lost { .. } => (None, ""),
            SessionEnd::ClosedByServer { code, reason } => (Some(*code), reason.as_str()),
            SessionEnd::ClosedByClient { .. } | SessionEnd::Refused { .. } => return None,
        };
        if super::server_closes::names_connect_deadline(reason) {
            // "Connection initialisation timeout": a deadline set at connect, the lifetime
            // rule's to explain, whatever the silence.
            return None;
        }
        let lower = reason.to_lowercase();
        let said_idle = IDLE_WORDS.iter().any(|w| lower.contains(w));
        if server_code.is_some_and(|c| !matches!(c, 1000 | 1001 | 1006)) && !said_idle {
            return None;
        }
        // Heartline sent nothing the whole session: its outbound silence is the session.
        let outbound = said_idle && stats.messages_out == 0 && stats.duration > stats.silent_for;
        let silent = if outbound {
            stats.duration
        } else {
            stats.silent_for
        };
        Some(IdleEnd {
            at: event.at,
            silent: silent.as_millis() as u64,
            lasted: stats.duration,
            server_code,
            said_idle,
            reason: reason.to_owned(),
            outbound,
        })
    }
}

/// The largest run of sorted silences (at least [`MIN_OCCURRENCES`]) that all lie within
/// tolerance of their own median.
fn agreeing(sorted: &[u64]) -> Option<Range<usize>> {
    let mut best: Option<Range<usize>> = None;
    for &center in sorted {
        // Centre on each value, then re-centre once on the median of what it gathered.
        let around = within(sorted, center);
        let group = within(sorted, median(&sorted[around]));
        let m = median(&sorted[group.clone()]);
        let agrees = sorted[group.clone()]
            .iter()
            .all(|&v| v.abs_diff(m) <= tolerance(m));
        if agrees
            && group.len() >= MIN_OCCURRENCES
            && group.len() > best.as_ref().map_or(0, Range::len)
        {
            best = Some(group);
        }
    }
    best
}

fn within(sorted: &[u64], center: u64) -> Range<usize> {
    let tol = tolerance(center);
    sorted.partition_point(|&v| v + tol < center)..sorted.partition_point(|&v| v <= center + tol)
}

/// How far silences may differ and still agree: max(2 s, 5 %), or for the short silences
/// below [`MIN_SILENCE`] max(100 ms, 10 %) (a 2 s floor would make 1 s and 3 s agree).
fn tolerance(ms: u64) -> u64 {
    if ms < MIN_SILENCE.as_millis() as u64 {
        100.max(ms / 10)
    } else {
        (TOLERANCE_FLOOR.as_millis() as u64).max((ms as f64 * TOLERANCE_SHARE) as u64)
    }
}

fn median(sorted: &[u64]) -> u64 {
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2
    }
}

/// The estimate as a person would state it: whole seconds under 2 min, 5 s steps under 10 min,
/// half minutes beyond.
fn round_timeout(d: Duration) -> Duration {
    let step = match d.as_secs() {
        0..120 => 1.0,
        120..600 => 5.0,
        _ => 30.0,
    };
    Duration::from_secs_f64((d.as_secs_f64() / step).round() * step)
}

/// A round interval at or below `d`: whole seconds under 10 s, 5 s steps under 2 min, 30 s
/// steps beyond (never below 1 s).
fn nice_floor(d: Duration) -> Duration {
    let step = match d.as_secs() {
        0..10 => 1,
        10..120 => 5,
        _ => 30,
    };
    Duration::from_secs((d.as_secs() / step * step).max(1))
}

/// "closed without a close frame", "closed by the server with 1001 (going away)", or a mix.
fn how_they_ended(ends: &[&IdleEnd]) -> String {
    let mut kinds: Vec<(Option<u16>, usize)> = Vec::new();
    for e in ends {
        match kinds.iter_mut().find(|(k, _)| *k == e.server_code) {
            Some((_, n)) => *n += 1,
            None => kinds.push((e.server_code, 1)),
        }
    }
    let words = |code: Option<u16>| match code {
        None => "without a close frame".to_owned(),
        Some(code) => format!("by the server with {code} ({})", meaning(code)),
    };
    match kinds.as_slice() {
        [(code, _)] => format!("closed {}", words(*code)),
        _ => {
            let parts: Vec<String> = kinds
                .iter()
                .map(|(code, n)| format!("{n} closed {}", words(*code)))
                .collect();
            format!("ended ({})", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::event::CloseCause;

    fn check(case: &str, history: History, expected: &[Expect]) {
        let endpoints = facts(&[(1, "feed.example"), (2, "feed.example")]);
        check_rule(idle_timeout, case, &history.events(), &endpoints, expected);
    }

    /// Sessions of endpoint 1 ending with these silences, 5 min apart.
    fn silences(values: &[f64]) -> History {
        let mut h = History::default();
        for (i, &s) in values.iter().enumerate() {
            h = h.lost(1, 300.0 * i as f64 + s, s + 0.5, s);
        }
        h
    }

    #[test]
    fn sixty_seconds_behind_a_proxy() {
        check(
            "fourteen lost sessions around 60 s",
            silences(&[
                59.2, 60.1, 60.8, 59.9, 60.0, 60.3, 59.7, 60.4, 60.0, 59.5, 60.2, 60.6, 59.8, 60.1,
            ]),
            &[Expect {
                endpoints: &[1],
                occurrences: 14,
                mentions: &[
                    "Idle timeout of about 60 s on the path to feed-1",
                    "14 sessions closed without a close frame after 59.2–60.8 s of silence \
                     (between 09:00:59 and 10:06:00 UTC)",
                    "nginx's default proxy_read_timeout",
                    "AWS Application Load Balancer",
                    "30–120 s typical of enterprise firewalls",
                    // Pings every 20 s were already below 60 s.
                    "protocol pings apparently do not count as traffic",
                    "application heartbeat every 45 s or less",
                ],
            }],
        );
    }

    #[test]
    fn server_closes_and_other_timeouts() {
        let mut h = History::default();
        for i in 0..4 {
            h = h.server_close(2, 1000.0 * f64::from(i), 1001, "idle", 300.0 + f64::from(i));
        }
        check(
            "a server that says going away after 5 min",
            h,
            &[Expect {
                endpoints: &[2],
                occurrences: 4,
                mentions: &[
                    "about 5 min",
                    "closed by the server with 1001 (going away)",
                    "No common default is exactly 5 min",
                    "every 4 min or less",
                ],
            }],
        );
        let mut h = silences(&[100.3, 99.6, 100.9]);
        h = h.server_close(1, 5000.0, 1000, "", 100.0);
        check(
            "Cloudflare's 100 s, mixed ends",
            h,
            &[Expect {
                endpoints: &[1],
                occurrences: 4,
                mentions: &[
                    "about 100 s",
                    "Cloudflare",
                    "ended (3 closed without a close frame, 1 closed by the server with 1000",
                ],
            }],
        );
    }

    #[test]
    fn pings_that_might_count() {
        let mut endpoints = facts(&[(1, "feed.example")]);
        endpoints[0].ping_interval = Duration::from_secs(90);
        let history = silences(&[60.0, 60.5, 59.5]).events();
        let findings = idle_timeout(&history, &Facts::new(&endpoints));
        let f = &findings[0];
        assert!(!f.explanation.contains("apparently"), "{}", f.explanation);
        assert!(
            f.suggestion
                .contains("a ping interval under 48 s also works"),
            "{}",
            f.suggestion
        );
    }

    #[test]
    fn near_misses() {
        check("only two", silences(&[60.0, 60.4]), &[]);
        check(
            "spread beyond the tolerance",
            silences(&[40.0, 60.0, 80.0, 100.0, 120.0]),
            &[],
        );
        check(
            "a busy stream's losses all agree near zero",
            silences(&[1.0, 1.2, 0.9, 1.1]),
            &[],
        );
        check(
            "three agree by chance among many long silences",
            silences(&[
                60.0, 75.0, 90.0, 130.0, 61.0, 150.0, 170.0, 200.0, 60.5, 240.0, 280.0,
            ]),
            &[],
        );
        let mut h = History::default();
        for i in 0..5 {
            h = h
                .client_close(1, 100.0 * f64::from(i), CloseCause::Stale, true, 60.0)
                .server_close(2, 100.0 * f64::from(i) + 1.0, 1011, "", 60.0);
        }
        check("our own closes and server errors", h, &[]);
    }

    #[test]
    fn rounding() {
        let r = |s: f64| readable(round_timeout(Duration::from_secs_f64(s)));
        assert_eq!(
            [r(59.6), r(99.6), r(298.0), r(598.7)],
            ["60 s", "100 s", "5 min", "10 min"]
        );
        let n = |s: u64| readable(nice_floor(Duration::from_secs(s)));
        assert_eq!(
            [n(48), n(8), n(80), n(480)],
            ["45 s", "8 s", "80 s", "8 min"]
        );
    }

    #[test]
    fn short_timeouts_count_when_every_session_ends_at_them() {
        check(
            "six of six sessions at 2.0 s behind a proxy set to 2 s",
            silences(&[2.0, 2.05, 1.98, 2.02, 2.0, 2.01]),
            &[Expect {
                endpoints: &[1],
                occurrences: 6,
                mentions: &[
                    "Idle timeout of about 2 s",
                    "after 2–2.1 s of silence",
                    // Each lasted only its silence and half a second: a deadline at connect
                    // would look the same, and the finding says so.
                    "quiet from its first moments",
                ],
            }],
        );
        // Sessions of a minute that went quiet 2 s before the end: a plain idle timeout.
        let mut h = History::default();
        for i in 0..4 {
            h = h.lost(1, 100.0 * f64::from(i) + 60.0, 60.0, 2.0);
        }
        let findings = idle_timeout(&h.events(), &Facts::new(&facts(&[(1, "feed.example")])));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(
            !findings[0].explanation.contains("first moments"),
            "{}",
            findings[0].explanation
        );
        check(
            "five at 2 s but one after 0.3 s: not every session",
            silences(&[2.0, 2.05, 0.3, 1.98, 2.02, 2.0]),
            &[],
        );
        check(
            "a busy stream's short gaps do not agree",
            silences(&[1.1, 1.6, 2.4, 3.1, 1.3, 4.2]),
            &[],
        );
        check(
            "gaps under a second are never an idle timeout",
            silences(&[0.2, 0.2, 0.2, 0.2]),
            &[],
        );
    }

    #[test]
    fn a_deadline_at_connect_is_no_idle_timeout() {
        let mut h = History::default();
        for i in 0..4 {
            h = h.server_close(
                1,
                10.0 * f64::from(i) + 3.0,
                4408,
                "Connection initialisation timeout",
                3.0,
            );
        }
        check("graphql-ws 4408 without connection_init", h, &[]);
    }

    #[test]
    fn a_close_reason_naming_the_timer_and_our_own_silence_count() {
        // The server's ticks arrive every 0.5 s, but it closes 1000 "idle timeout" when the
        // client sent nothing for 3 s: inbound silence says nothing, outbound says it all.
        let mut h = History::default();
        for i in 0..7 {
            h = h.server_close_after(1, 10.0 * f64::from(i), 1000, "idle timeout", 3.0, 0.2);
        }
        check(
            "Gin + gorilla closing idle clients",
            h,
            &[Expect {
                endpoints: &[1],
                occurrences: 7,
                mentions: &[
                    "Idle timeout of about 3 s",
                    "closing with the reason \"idle timeout\"",
                    "Heartline had sent no application message for that long",
                ],
            }],
        );
        // The same silence without the reason and with ticks flowing: no finding.
        let mut h = History::default();
        for i in 0..7 {
            h = h.server_close_after(1, 10.0 * f64::from(i), 1000, "", 3.0, 0.2);
        }
        check("ticks flowing, no reason", h, &[]);
    }
}
