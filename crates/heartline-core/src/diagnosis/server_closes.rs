//! Rules on what servers say when they end sessions or refuse them, and on sessions that end
//! at one age: application kicks (the same 4xxx code and reason again and again), overload
//! (1013 try again later), upgrades refused with one status (flapping between refusals and
//! working sessions, or not), and lifetime caps (sessions cut at the same age whatever the
//! traffic).

use std::collections::BTreeMap;
use std::time::Duration;

use super::text::{count, range, readable, when};
use super::{by_endpoint, Facts, Finding, Rule};
use crate::event::{Event, EventKind, SessionEnd, Timestamp};

/// The same application close twice can be chance (a user kicked twice); three times is the
/// server's policy towards this client.
const KICK_MIN_OCCURRENCES: usize = 3;

/// One 1013 already says the server is shedding load; two make it a pattern worth a finding.
const OVERLOAD_MIN_OCCURRENCES: usize = 2;

/// Refusals with one status this many times make a finding (credentials have their own rule).
const REFUSAL_MIN_OCCURRENCES: usize = 3;

/// Statuses the credentials rule owns.
const CREDENTIAL_STATUSES: [u16; 2] = [401, 403];

/// Three sessions ending at one age make a pattern (as for idle timeouts).
const AGE_MIN_OCCURRENCES: usize = 3;

/// The agreeing ages must be at least this share of the endpoint's unexpected ends over the
/// same period: behind a cap nearly every session ends at it.
const AGE_MIN_SHARE: f64 = 0.5;

/// A session counts as having had traffic up to near its end when the silence before the end
/// was under this share of its age: then no idle timer can have ended it.
const TRAFFIC_SHARE: f64 = 0.8;

/// Well-known lifetime caps worth naming when the age matches: (who, low s, high s).
const KNOWN_CAPS: [(&str, u64, u64); 4] = [
    (
        "a GCP load balancer's backend service timeout (30 s by default), which caps a \
         WebSocket's whole life",
        29,
        31,
    ),
    ("Azure Front Door's 4 h connection cap", 14_390, 14_410),
    ("Binance's 24 h connection limit", 86_300, 86_500),
    (
        "a Socket.IO server dropping a client that did not answer its handshake (2 s)",
        2,
        2,
    ),
];

/// Per endpoint, server closes with the same application code (4000–4999) and reason, at
/// least [`KICK_MIN_OCCURRENCES`] times: "the server kicks this client".
pub(super) fn application_kicks(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (id, events) in by_endpoint(events) {
        let mut groups: BTreeMap<(u16, &str), Vec<Timestamp>> = BTreeMap::new();
        for e in &events {
            if let EventKind::Closed {
                end: SessionEnd::ClosedByServer { code, reason },
                ..
            } = &e.kind
            {
                if (4000..=4999).contains(code) {
                    groups
                        .entry((*code, reason.as_str()))
                        .or_default()
                        .push(e.at);
                }
            }
        }
        for ((code, reason), at) in groups {
            if at.len() < KICK_MIN_OCCURRENCES {
                continue;
            }
            let name = facts.name(id);
            let (first, last) = (at[0], at[at.len() - 1]);
            let quoted = if reason.is_empty() {
                String::new()
            } else {
                format!(" '{reason}'")
            };
            findings.push(Finding {
                rule: Rule::ApplicationKick,
                endpoints: vec![id],
                title: format!("The server kicks {name}: {code}{quoted} ×{}", at.len()),
                explanation: format!(
                    "The server behind {name} keeps closing sessions with the application code \
                     {code}{quoted}: a decision of the application, not a network fault. Codes \
                     4000–4999 are defined by the service (graphql-ws, for one, closes 4408 when \
                     no connection_init arrived in time and 4401/4403 for credentials)."
                ),
                evidence: vec![format!(
                    "{} closed by the server with {code}{quoted} ({})",
                    count(at.len(), "session", "sessions"),
                    when(first, last)
                )],
                suggestion: format!(
                    "Look up what {code} means in the service's protocol or documentation and \
                     what this client does to earn it (a missing init or subscribe message, an \
                     expired token, a duplicate connection)."
                ),
                first_seen: first,
                last_seen: last,
                occurrences: u32::try_from(at.len()).unwrap_or(u32::MAX),
            });
        }
    }
    findings
}

/// Per endpoint, server closes with 1013 (try again later), at least
/// [`OVERLOAD_MIN_OCCURRENCES`]: the service sheds load.
pub(super) fn overload(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (id, events) in by_endpoint(events) {
        let at: Vec<Timestamp> = events
            .iter()
            .filter(|e| {
                matches!(
                    &e.kind,
                    EventKind::Closed {
                        end: SessionEnd::ClosedByServer { code: 1013, .. },
                        ..
                    }
                )
            })
            .map(|e| e.at)
            .collect();
        if at.len() < OVERLOAD_MIN_OCCURRENCES {
            continue;
        }
        let name = facts.name(id);
        let (first, last) = (at[0], at[at.len() - 1]);
        findings.push(Finding {
            rule: Rule::Overloaded,
            endpoints: vec![id],
            title: format!(
                "Service overloaded: {name} says try again later (1013) ×{}",
                at.len()
            ),
            explanation: format!(
                "The server behind {name} closed sessions with 1013 (try again later): it is \
                 shedding load, not failing. Heartline backs off harder after a 1013, as \
                 clients should."
            ),
            evidence: vec![format!(
                "{} closed with 1013 ({})",
                count(at.len(), "session", "sessions"),
                when(first, last)
            )],
            suggestion: "Check the service's capacity and connection limits; if many clients \
                         reconnect at once after a 1013, make sure they back off with jitter."
                .into(),
            first_seen: first,
            last_seen: last,
            occurrences: u32::try_from(at.len()).unwrap_or(u32::MAX),
        });
    }
    findings
}

/// Per endpoint and HTTP status (other than 401/403), upgrades refused at least
/// [`REFUSAL_MIN_OCCURRENCES`] times; "flapping" when refusals and working sessions take turns
/// at least twice (the service is up and down, not just down).
pub(super) fn upgrade_refused(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (id, events) in by_endpoint(events) {
        let mut by_status: BTreeMap<u16, Vec<Timestamp>> = BTreeMap::new();
        // Turns between "refused with S" and "connected", per status.
        let mut turns: BTreeMap<u16, (bool, usize)> = BTreeMap::new();
        for e in &events {
            match &e.kind {
                EventKind::HandshakeFailed(f) => {
                    let Some(status) = f.phase.status() else {
                        continue;
                    };
                    if CREDENTIAL_STATUSES.contains(&status) {
                        continue;
                    }
                    by_status.entry(status).or_default().push(e.at);
                    let t = turns.entry(status).or_insert((false, 0));
                    if !t.0 {
                        t.0 = true;
                        t.1 += 1;
                    }
                }
                EventKind::Connected { .. } => {
                    for t in turns.values_mut() {
                        t.0 = false;
                    }
                }
                _ => {}
            }
        }
        for (status, at) in by_status {
            if at.len() < REFUSAL_MIN_OCCURRENCES {
                continue;
            }
            let spells = turns.get(&status).map_or(0, |t| t.1);
            let flapping = spells >= 2;
            let name = facts.name(id);
            let (first, last) = (at[0], at[at.len() - 1]);
            let title = if flapping {
                format!(
                    "Upgrade refused with HTTP {status} ×{} on {name}, flapping with working sessions",
                    at.len()
                )
            } else {
                format!("Upgrade refused with HTTP {status} ×{} on {name}", at.len())
            };
            let mut evidence = vec![format!(
                "{} refused with HTTP {status} ({})",
                count(at.len(), "upgrade", "upgrades"),
                when(first, last)
            )];
            if flapping {
                evidence.push(format!(
                    "{spells} spells of refusals, each ended by a working session"
                ));
            }
            findings.push(Finding {
                rule: Rule::UpgradeRefused,
                endpoints: vec![id],
                title,
                explanation: if flapping {
                    format!(
                        "{name} refuses the WebSocket upgrade with HTTP {status} for a while, \
                         then accepts again, over and over: a backend that keeps failing its \
                         health checks, a pool that empties and refills, or a rate limit that \
                         resets."
                    )
                } else {
                    format!(
                        "{name} refuses the WebSocket upgrade with HTTP {status}: the request \
                         reaches something (a proxy or the server) that answers but does not \
                         let the connection through."
                    )
                },
                evidence,
                suggestion: format!(
                    "Look at what answers {status} in front of the service (its logs at those \
                     times) and at the backends' health and limits."
                ),
                first_seen: first,
                last_seen: last,
                occurrences: u32::try_from(at.len()).unwrap_or(u32::MAX),
            });
        }
    }
    findings
}

/// Words in a server's close reason that name a first message the server waits for…
pub(super) const FIRST_MESSAGE_WORDS: [&str; 5] = ["init", "handshake", "hello", "auth", "login"];

/// …and words saying it did not come in time. A reason needs one of each to name a deadline set
/// at connect: graphql-ws closes 4408 "Connection initialisation timeout" when no
/// `connection_init` arrives, while "Unauthorized" alone is a refusal (the credentials rule's).
pub(super) const LATE_WORDS: [&str; 5] = ["time", "wait", "expect", "missing", "not receiv"];

/// Whether a server's close reason names a deadline set at connect rather than an idle timer
/// (case-insensitive).
pub(super) fn names_connect_deadline(reason: &str) -> bool {
    let lower = reason.to_lowercase();
    FIRST_MESSAGE_WORDS.iter().any(|w| lower.contains(w))
        && LATE_WORDS.iter().any(|w| lower.contains(w))
}

/// One unexpected end with its age and whether traffic flowed until near the end.
struct AgedEnd {
    at: Timestamp,
    age_ms: u64,
    silent_ms: u64,
    busy: bool,
    /// The server's close reason, when it names a deadline set at connect.
    deadline: Option<String>,
}

/// Per endpoint, at least [`AGE_MIN_OCCURRENCES`] unexpected ends whose session ages agree
/// (within max(100 ms, 10 %) under 5 s, max(2 s, 5 %) beyond), being at least
/// [`AGE_MIN_SHARE`] of the unexpected ends over their period, at least one of them busy until
/// near its end: a lifetime cap or a fixed deadline, told apart from an idle timeout because
/// traffic did not stop it.
pub(super) fn lifetime_cap(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (id, events) in by_endpoint(events) {
        let mut ends: Vec<AgedEnd> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Closed { end, stats } if end.is_unexpected() => Some(AgedEnd {
                    at: e.at,
                    age_ms: u64::try_from(stats.duration.as_millis()).unwrap_or(u64::MAX),
                    silent_ms: u64::try_from(stats.silent_for.as_millis()).unwrap_or(u64::MAX),
                    busy: stats.silent_for.as_secs_f64()
                        < TRAFFIC_SHARE * stats.duration.as_secs_f64(),
                    deadline: match end {
                        SessionEnd::ClosedByServer { reason, .. }
                        | SessionEnd::Refused { reason, .. }
                            if names_connect_deadline(reason) =>
                        {
                            Some(reason.clone())
                        }
                        _ => None,
                    },
                }),
                _ => None,
            })
            .collect();
        ends.sort_by_key(|e| e.age_ms);
        let Some(group) = agreeing(&ends) else {
            continue;
        };
        let members = &ends[group];
        // The server said it was waiting for a first message: a deadline set at connect,
        // whatever the silence looked like.
        let deadline = members.iter().find_map(|e| e.deadline.as_deref());
        let all_said_so = members.iter().all(|e| e.deadline.is_some());
        if !all_said_so && (!members.iter().any(|e| e.busy) || same_silence(members)) {
            // All silent to the end, or ended after one same silence: an idle timeout
            // explains it (that rule's finding), not a cap on the age.
            continue;
        }
        let first = members.iter().map(|e| e.at).min().unwrap_or(Timestamp(0));
        let last = members.iter().map(|e| e.at).max().unwrap_or(Timestamp(0));
        let all = ends
            .iter()
            .filter(|e| (first..=last).contains(&e.at))
            .count();
        if (members.len() as f64) < AGE_MIN_SHARE * all as f64 {
            continue;
        }
        let ages: Vec<u64> = members.iter().map(|e| e.age_ms).collect();
        let median = Duration::from_millis(ages[ages.len() / 2]);
        let about = readable(Duration::from_secs(median.as_secs_f64().round() as u64));
        let name = facts.name(id);
        let secs = median.as_secs_f64().round() as u64;
        let known: Vec<&str> = KNOWN_CAPS
            .iter()
            .filter(|(_, lo, hi)| (*lo..=*hi).contains(&secs))
            .map(|(who, _, _)| *who)
            .collect();
        let busy = members.iter().filter(|e| e.busy).count();
        if let (true, Some(reason)) = (all_said_so, deadline) {
            findings.push(Finding {
                rule: Rule::LifetimeCap,
                endpoints: vec![id],
                title: format!(
                    "Sessions to {name} end about {about} after they open: the server waits for \
                     a first message"
                ),
                explanation: format!(
                    "Sessions to {name} keep ending at the same age, about {about} after they \
                     opened, the server saying \"{reason}\": it expects a first message (an \
                     init, hello or authentication) within a deadline set at connect, and did \
                     not get it. graphql-ws closes 4408 when no connection_init arrives; a \
                     Socket.IO server drops a client that does not answer its handshake. Not an \
                     idle timeout: heartbeats will not help."
                ),
                evidence: vec![format!(
                    "{} closed by the server after {} ({}), saying \"{reason}\"",
                    count(members.len(), "session", "sessions"),
                    range(
                        Duration::from_millis(ages[0]),
                        Duration::from_millis(ages[ages.len() - 1])
                    ),
                    when(first, last)
                )],
                suggestion: format!(
                    "Send what the server expects first, within {about}: choose the endpoint's \
                     protocol preset (it sends the protocol's init or connect message) or add \
                     the message to on_connect."
                ),
                first_seen: first,
                last_seen: last,
                occurrences: u32::try_from(members.len()).unwrap_or(u32::MAX),
            });
            continue;
        }
        let mut explanation = format!(
            "Sessions to {name} keep ending at the same age, about {about} after they opened, \
             even while messages were flowing: a cap on the connection's whole life or a \
             deadline the server sets at connect, not an idle timeout."
        );
        if let Some(who) = known.first() {
            explanation.push_str(&format!(" That matches {who}."));
        }
        findings.push(Finding {
            rule: Rule::LifetimeCap,
            endpoints: vec![id],
            title: format!("Sessions to {name} end at the same age, about {about}"),
            explanation,
            evidence: vec![
                format!(
                    "{} ended after {} ({})",
                    count(members.len(), "session", "sessions"),
                    range(
                        Duration::from_millis(ages[0]),
                        Duration::from_millis(ages[ages.len() - 1])
                    ),
                    when(first, last)
                ),
                format!("{busy} of them still had traffic shortly before the end"),
            ],
            suggestion: "Heartbeats will not help against a cap: find which hop limits a \
                         connection's life (load balancer, gateway, the service's own deadline \
                         or handshake timeout) and raise it, or reconnect on purpose before it."
                .into(),
            first_seen: first,
            last_seen: last,
            occurrences: u32::try_from(members.len()).unwrap_or(u32::MAX),
        });
    }
    findings
}

/// Whether the sessions' last silences agree (max(2 s, 5 %) of their median, at least 1 s):
/// the signature of an idle timeout, which then explains the equal ages too.
fn same_silence(ends: &[AgedEnd]) -> bool {
    let mut silences: Vec<u64> = ends.iter().map(|e| e.silent_ms).collect();
    silences.sort_unstable();
    let m = silences[silences.len() / 2];
    let tol = 2_000.max(m / 20);
    m >= 1_000 && silences.iter().all(|s| s.abs_diff(m) <= tol)
}

/// The largest run of ages (sorted) that agree within tolerance of their median.
fn agreeing(sorted: &[AgedEnd]) -> Option<std::ops::Range<usize>> {
    let tol = |ms: u64| {
        if ms < 5_000 {
            100.max(ms / 10)
        } else {
            2_000.max(ms / 20)
        }
    };
    let mut best: Option<std::ops::Range<usize>> = None;
    for (i, center) in sorted.iter().enumerate() {
        let c = center.age_ms;
        let end = sorted[i..].partition_point(|e| e.age_ms <= c + tol(c)) + i;
        let start = sorted.partition_point(|e| e.age_ms + tol(c) < c);
        let group = start..end;
        let ages: Vec<u64> = sorted[group.clone()].iter().map(|e| e.age_ms).collect();
        let m = ages[ages.len() / 2];
        if ages.iter().all(|a| a.abs_diff(m) <= tol(m))
            && group.len() >= AGE_MIN_OCCURRENCES
            && group.len() > best.as_ref().map_or(0, |b| b.len())
        {
            best = Some(group);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn check(rule: super::super::RuleFn, case: &str, history: History, expected: &[Expect]) {
        let endpoints = facts(&[(1, "api.example")]);
        check_rule(rule, case, &history.events(), &endpoints, expected);
    }

    #[test]
    fn the_server_kicks_this_client() {
        let mut h = History::default();
        for i in 0..13 {
            h = h.server_close(1, 60.0 * f64::from(i), 4001, "kicked", 1.0);
        }
        // Two other codes, too rare to be a pattern.
        h = h
            .server_close(1, 900.0, 4002, "other", 1.0)
            .server_close(1, 901.0, 4002, "other", 1.0);
        check(
            application_kicks,
            "4001 kicked ×13",
            h,
            &[Expect {
                endpoints: &[1],
                occurrences: 13,
                mentions: &["The server kicks feed-1: 4001 'kicked' ×13"],
            }],
        );
        check(
            application_kicks,
            "a normal close is no kick",
            History::default()
                .server_close(1, 1.0, 1000, "bye", 1.0)
                .server_close(1, 2.0, 1000, "bye", 1.0)
                .server_close(1, 3.0, 1000, "bye", 1.0),
            &[],
        );
    }

    #[test]
    fn try_again_later_is_overload() {
        check(
            overload,
            "three 1013",
            History::default()
                .server_close(1, 1.0, 1013, "busy", 1.0)
                .server_close(1, 20.0, 1013, "busy", 1.0)
                .server_close(1, 60.0, 1013, "busy", 1.0),
            &[Expect {
                endpoints: &[1],
                occurrences: 3,
                mentions: &["Service overloaded", "(1013) ×3"],
            }],
        );
        check(
            overload,
            "one 1013",
            History::default().server_close(1, 1.0, 1013, "", 1.0),
            &[],
        );
    }

    #[test]
    fn a_lifetime_cap_is_told_apart_from_an_idle_timeout() {
        // Sessions of 30 s whatever the traffic: messages until shortly before the end, the
        // last gaps of any length.
        let mut h = History::default();
        for (i, gap) in [0.2, 9.0, 0.7, 14.0, 0.4].into_iter().enumerate() {
            h = h.lost(1, 40.0 * i as f64 + 30.0, 30.0 + 0.1 * i as f64, gap);
        }
        check(
            lifetime_cap,
            "a GCP backend timeout",
            h,
            &[Expect {
                endpoints: &[1],
                occurrences: 5,
                mentions: &[
                    "Sessions to feed-1 end at the same age, about 30 s",
                    "GCP load balancer",
                    "5 of them still had traffic",
                ],
            }],
        );
        // The same ages, silent to the end: the idle timeout rule's case, not this one.
        let mut h = History::default();
        for i in 0..5 {
            h = h.lost(1, 40.0 * f64::from(i) + 30.0, 30.0, 30.0);
        }
        check(lifetime_cap, "silent to the end", h, &[]);
        // The same ages after the same 60 s silence: an idle timeout of 60 s.
        let mut h = History::default();
        for i in 0..3 {
            h = h.lost(1, 1000.0 * f64::from(i) + 900.0, 900.0, 60.0);
        }
        check(lifetime_cap, "the same silence before each end", h, &[]);
        // Ages all over the place: no cap.
        let mut h = History::default();
        for (i, age) in [3.0, 40.0, 12.0, 90.0, 7.0].into_iter().enumerate() {
            h = h.lost(1, 100.0 * i as f64 + age, age, 0.5);
        }
        check(lifetime_cap, "random ages", h, &[]);
    }

    #[test]
    fn a_server_waiting_for_a_first_message_is_a_deadline_not_an_idle_timeout() {
        // graphql-ws without connection_init: closed 4408 three seconds after each open.
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
        check(
            lifetime_cap,
            "graphql-ws 4408",
            h,
            &[Expect {
                endpoints: &[1],
                occurrences: 4,
                mentions: &[
                    "Sessions to feed-1 end about 3 s after they open: the server waits for a \
                     first message",
                    "\"Connection initialisation timeout\"",
                    "4 sessions closed by the server after 3 s",
                    "on_connect",
                ],
            }],
        );
        // The same ages with a reason naming an idle timer stay the idle timeout rule's.
        let mut h = History::default();
        for i in 0..4 {
            h = h.server_close(1, 10.0 * f64::from(i) + 3.0, 1000, "idle timeout", 3.0);
        }
        check(lifetime_cap, "an idle timer", h, &[]);
        assert!(names_connect_deadline("auth not received in time"));
        assert!(!names_connect_deadline("Unauthorized"));
        assert!(!names_connect_deadline("idle timeout"));
    }

    #[test]
    fn refused_upgrades_and_flapping_ones() {
        let mut h = History::default();
        for spell in 0..3 {
            let t = 100.0 * f64::from(spell);
            h = h
                .http(1, t, 503)
                .http(1, t + 1.0, 503)
                .connected(1, t + 5.0);
        }
        check(
            upgrade_refused,
            "503 spells between working sessions",
            h,
            &[Expect {
                endpoints: &[1],
                occurrences: 6,
                mentions: &[
                    "Upgrade refused with HTTP 503 ×6 on feed-1, flapping",
                    "3 spells of refusals",
                ],
            }],
        );
        check(
            upgrade_refused,
            "502 all along",
            History::default()
                .http(1, 1.0, 502)
                .http(1, 2.0, 502)
                .http(1, 4.0, 502),
            &[Expect {
                endpoints: &[1],
                occurrences: 3,
                mentions: &["Upgrade refused with HTTP 502 ×3 on feed-1"],
            }],
        );
        check(
            upgrade_refused,
            "401 is the credentials rule's",
            History::default()
                .http(1, 1.0, 401)
                .http(1, 2.0, 401)
                .http(1, 4.0, 401),
            &[],
        );
    }
}
