//! Rules on how open sessions end: heartbeats that stop (half-open connections) and servers
//! that go away and come back (restarts and deploys).

use std::time::Duration;

use super::text::{count, range, readable, samples, when};
use super::{between, by_endpoint, Facts, Finding, Rule};
use crate::close_code::meaning;
use crate::event::{CloseCause, Event, EventKind, RetryReason, SessionEnd, Timestamp};

/// One session closed because heartbeats stopped is already worth saying: nothing else makes a
/// connection look open while it is dead.
const HALF_OPEN_MIN_OCCURRENCES: usize = 1;

/// A going-away close followed by a successful connect within this reads as a restart: a
/// deploy or process restart comes back in seconds, an outage does not.
const RESTART_RECOVERY: Duration = Duration::from_secs(30);

/// One quick recovery after a going-away close is enough to name a restart.
const RESTART_MIN_OCCURRENCES: usize = 1;

/// Per endpoint, sessions Heartline closed because protocol pongs or application heartbeat
/// replies stopped (cause `PongTimeout` or `AppPongTimeout`), at least
/// [`HALF_OPEN_MIN_OCCURRENCES`].
pub(super) fn half_open(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (id, events) in by_endpoint(events) {
        let ends: Vec<(Timestamp, CloseCause, bool, Duration)> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Closed {
                    end:
                        SessionEnd::ClosedByClient {
                            cause: cause @ (CloseCause::PongTimeout | CloseCause::AppPongTimeout),
                            clean,
                            ..
                        },
                    stats,
                } => Some((e.at, *cause, *clean, stats.duration)),
                _ => None,
            })
            .collect();
        if ends.len() < HALF_OPEN_MIN_OCCURRENCES {
            continue;
        }
        let name = facts.name(id);
        let first = ends[0].0;
        let last = ends[ends.len() - 1].0;
        let protocol = ends
            .iter()
            .filter(|e| e.1 == CloseCause::PongTimeout)
            .count();
        let app = ends.len() - protocol;
        let unanswered = ends.iter().filter(|e| !e.2).count();

        const PONGS: &str = "after protocol pongs stopped";
        const REPLIES: &str = "after application heartbeat replies stopped";
        let what = match (protocol, app) {
            (_, 0) => format!(" {PONGS}"),
            (0, _) => format!(" {REPLIES}"),
            (p, a) => format!(": {p} {PONGS} and {a} {REPLIES}"),
        };
        let mut evidence = vec![format!(
            "{} closed by Heartline{what} ({})",
            count(ends.len(), "session", "sessions"),
            when(first, last)
        )];
        let one = ends.len() == 1;
        evidence.push(if unanswered == ends.len() {
            format!(
                "{} Heartline's close frame either: the peer was gone",
                if one {
                    "it did not answer"
                } else {
                    "none answered"
                }
            )
        } else if unanswered == 0 {
            "the server answered every close frame, so it was reachable but its heartbeat \
             handling had stalled"
                .to_owned()
        } else {
            format!(
                "{unanswered} of them did not answer Heartline's close frame either: the peer \
                 was gone"
            )
        });
        let lasted = ends.iter().map(|e| e.3);
        evidence.push(format!(
            "{} open {}",
            if one {
                "the session had been"
            } else {
                "those sessions had been"
            },
            range(
                lasted.clone().min().unwrap_or_default(),
                lasted.max().unwrap_or_default()
            )
        ));

        findings.push(Finding {
            rule: Rule::HalfOpen,
            endpoints: vec![id],
            title: format!("Half-open connections to {name}"),
            explanation: format!(
                "The connection to {name} stayed open as far as TCP could tell, but heartbeats \
                 stopped being answered, so Heartline closed it: a half-open (zombie) connection. \
                 Typical causes are this machine sleeping, a NAT or firewall entry expiring, a \
                 network change (Wi-Fi to mobile, VPN), or a server process that hangs while its \
                 socket stays open."
            ),
            evidence,
            suggestion: "Keep the pong timeout short (a few seconds) so a dead connection is \
                         noticed quickly; without one it looks open until TCP gives up, often \
                         hours later, and clients of this service should do the same. If the \
                         times match sleep or network changes on this machine the cause is \
                         local; otherwise check NAT and firewall timeouts and the server's \
                         health at those times."
                .into(),
            first_seen: first,
            last_seen: last,
            occurrences: ends.len() as u32,
        });
    }
    findings
}

/// Per endpoint, server closes with 1001 (going away) or 1012 (service restart) followed by a
/// successful `Connected` within [`RESTART_RECOVERY`], at least [`RESTART_MIN_OCCURRENCES`].
pub(super) fn restart_or_deploy(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (id, events) in by_endpoint(events) {
        let mut restarts: Vec<Restart<'_>> = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let EventKind::Closed {
                end: SessionEnd::ClosedByServer { code, reason },
                ..
            } = &e.kind
            else {
                continue;
            };
            if !matches!(code, 1001 | 1012) {
                continue;
            }
            let later = &events[i + 1..];
            let recovered = later
                .iter()
                .take_while(|n| between(e.at, n.at) <= RESTART_RECOVERY)
                .find(|n| matches!(n.kind, EventKind::Connected { .. }));
            let Some(recovered) = recovered else {
                continue;
            };
            let prompt = later.iter().take_while(|n| n.at <= recovered.at).any(|n| {
                matches!(
                    n.kind,
                    EventKind::ReconnectScheduled {
                        reason: RetryReason::ServiceRestart,
                        ..
                    }
                )
            });
            restarts.push(Restart {
                at: e.at,
                code: *code,
                reason,
                back_after: between(e.at, recovered.at),
                prompt,
            });
        }
        if restarts.len() < RESTART_MIN_OCCURRENCES {
            continue;
        }
        let name = facts.name(id);
        let first = restarts[0].at;
        let last = restarts[restarts.len() - 1].at;
        let with = |code: u16| restarts.iter().filter(|r| r.code == code).count();
        let (going_away, restart) = (with(1001), with(1012));
        let with_code = |code: u16| format!("with {code} ({})", meaning(code));
        let codes = match (going_away, restart) {
            (_, 0) => format!(" {}", with_code(1001)),
            (0, _) => format!(" {}", with_code(1012)),
            (g, r) => format!(": {g} {} and {r} {}", with_code(1001), with_code(1012)),
        };
        let back = restarts.iter().map(|r| r.back_after);
        let mut evidence = vec![
            format!(
                "{}{codes}, {}",
                count(restarts.len(), "server close", "server closes"),
                when(first, last)
            ),
            format!(
                "a new session opened {} later{}",
                range(
                    back.clone().min().unwrap_or_default(),
                    back.max().unwrap_or_default()
                ),
                if restarts.len() == 1 {
                    ""
                } else {
                    " each time"
                }
            ),
        ];
        let reasons = samples(restarts.iter().map(|r| r.reason), 3);
        if !reasons.is_empty() {
            evidence.push(format!("reasons given: {reasons}"));
        }
        let prompt = restarts.iter().filter(|r| r.prompt).count();
        if prompt > 0 {
            let after = if prompt == restarts.len() {
                String::new()
            } else {
                format!(", after {prompt} of them")
            };
            evidence.push(format!(
                "Heartline reconnected promptly, as 1012 asks{after}"
            ));
        }

        let mut suggestion = "Restart instances one at a time and drain each first: stop \
                              accepting new connections, close existing ones with 1012 so \
                              clients reconnect promptly (with jitter) to another instance."
            .to_owned();
        if restart == 0 {
            suggestion.push_str(
                " This server says 1001 (going away); 1012 (service restart) would tell clients \
                 the restart is planned and coming back.",
            );
        }
        suggestion.push_str(" Clients should honour 1012 with a short, jittered delay.");

        findings.push(Finding {
            rule: Rule::RestartOrDeploy,
            endpoints: vec![id],
            title: format!("Server restarts or deploys on {name}"),
            explanation: format!(
                "The server behind {name} closed sessions saying it was going away or restarting, \
                 and accepted a new connection within {} each time: a restart or deploy of the \
                 server (or of the instance behind a load balancer). That is expected, but it \
                 disconnects every client at once.",
                readable(RESTART_RECOVERY)
            ),
            evidence,
            suggestion,
            first_seen: first,
            last_seen: last,
            occurrences: restarts.len() as u32,
        });
    }
    findings
}

/// One going-away close and the recovery after it.
struct Restart<'a> {
    at: Timestamp,
    code: u16,
    reason: &'a str,
    back_after: Duration,
    /// A reconnect was scheduled promptly because the server said 1012.
    prompt: bool,
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;

    fn check_half_open(case: &str, history: History, expected: &[Expect]) {
        let endpoints = facts(&[(1, "feed.example"), (2, "feed.example")]);
        check_rule(half_open, case, &history.events(), &endpoints, expected);
    }

    fn check_restart(case: &str, history: History, expected: &[Expect]) {
        let endpoints = facts(&[(1, "feed.example"), (2, "feed.example")]);
        check_rule(
            restart_or_deploy,
            case,
            &history.events(),
            &endpoints,
            expected,
        );
    }

    #[test]
    fn half_open_connections() {
        check_half_open(
            "pongs stopped twice, no close reply",
            History::default()
                .client_close(1, 100.0, CloseCause::PongTimeout, false, 95.0)
                .client_close(1, 400.0, CloseCause::PongTimeout, false, 3600.0),
            &[Expect {
                endpoints: &[1],
                occurrences: 2,
                mentions: &[
                    "Half-open connections to feed-1",
                    "2 sessions closed by Heartline after protocol pongs stopped (between \
                     09:01:40 and 09:06:40 UTC)",
                    "none answered Heartline's close frame either",
                    "the peer was gone",
                    "open 95 s–60 min",
                    "this machine sleeping",
                    "pong timeout short",
                ],
            }],
        );
        check_half_open(
            "app heartbeat replies stopped, the server still answered the close",
            History::default().client_close(2, 10.0, CloseCause::AppPongTimeout, true, 30.0),
            &[Expect {
                endpoints: &[2],
                occurrences: 1,
                mentions: &[
                    "1 session closed by Heartline after application heartbeat replies stopped (at \
                     09:00:10 UTC)",
                    "the session had been open 30 s",
                    "heartbeat handling had stalled",
                ],
            }],
        );
    }

    #[test]
    fn half_open_mixed_heartbeats() {
        check_half_open(
            "pongs and app replies, one close answered",
            History::default()
                .client_close(1, 10.0, CloseCause::PongTimeout, true, 30.0)
                .client_close(1, 20.0, CloseCause::AppPongTimeout, false, 30.0),
            &[Expect {
                endpoints: &[1],
                occurrences: 2,
                mentions: &[
                    "2 sessions closed by Heartline: 1 after protocol pongs stopped and 1 after \
                     application heartbeat replies stopped (between 09:00:10 and 09:00:20 UTC)",
                    "1 of them did not answer Heartline's close frame either",
                ],
            }],
        );
    }

    #[test]
    fn half_open_near_misses() {
        check_half_open(
            "stale streams, user closes, missed pongs below the limit and lost sessions",
            History::default()
                .client_close(1, 10.0, CloseCause::Stale, false, 30.0)
                .client_close(1, 20.0, CloseCause::User, true, 30.0)
                .at(
                    1,
                    30.0,
                    EventKind::PongMissed {
                        kind: crate::event::PingKind::Protocol,
                        missed: 1,
                    },
                )
                .lost(2, 40.0, 30.0, 30.0),
            &[],
        );
    }

    #[test]
    fn restarts_and_deploys() {
        check_restart(
            "1012 then back within a second, twice",
            History::default()
                .server_close(1, 100.0, 1012, "deploying", 10.0)
                .retry(1, 100.0, 0.2, RetryReason::ServiceRestart)
                .refused(1, 100.3, crate::event::FailedPhase::Tcp, "refused")
                .connected(1, 101.5)
                .server_close(1, 700.0, 1012, "deploying", 10.0)
                .connected(1, 700.8),
            &[Expect {
                endpoints: &[1],
                occurrences: 2,
                mentions: &[
                    "Server restarts or deploys on feed-1",
                    "2 server closes with 1012 (service restart), between 09:01:40 and 09:11:40 \
                     UTC",
                    "opened 800 ms–1.5 s later",
                    "reasons given: \"deploying\"",
                    "reconnected promptly, as 1012 asks, after 1 of them",
                    "one at a time",
                ],
            }],
        );
        check_restart(
            "1001 then back after 25 s",
            History::default()
                .server_close(2, 10.0, 1001, "", 10.0)
                .connected(2, 35.0),
            &[Expect {
                endpoints: &[2],
                occurrences: 1,
                mentions: &[
                    "1 server close with 1001 (going away), at 09:00:10 UTC",
                    "a new session opened 25 s later\n",
                    "would tell clients",
                ],
            }],
        );
    }

    #[test]
    fn restarts_with_both_codes() {
        check_restart(
            "1001 and 1012, not always reconnecting promptly",
            History::default()
                .server_close(1, 10.0, 1001, "", 10.0)
                .connected(1, 12.0)
                .server_close(1, 20.0, 1012, "", 10.0)
                .retry(1, 20.0, 0.1, RetryReason::ServiceRestart)
                .connected(1, 20.2),
            &[Expect {
                endpoints: &[1],
                occurrences: 2,
                mentions: &[
                    "2 server closes: 1 with 1001 (going away) and 1 with 1012 (service restart), \
                     between 09:00:10 and 09:00:20 UTC",
                    "opened 200 ms–2 s later each time",
                    "as 1012 asks, after 1 of them",
                ],
            }],
        );
    }

    #[test]
    fn restart_near_misses() {
        check_restart(
            "back only after 45 s, other codes, another endpoint's connect",
            History::default()
                .server_close(1, 10.0, 1001, "", 10.0)
                .connected(2, 12.0)
                .connected(1, 55.0)
                .server_close(1, 100.0, 1000, "", 10.0)
                .connected(1, 101.0)
                .server_close(1, 200.0, 1011, "", 10.0)
                .connected(1, 201.0)
                .lost(1, 300.0, 10.0, 10.0)
                .connected(1, 301.0),
            &[],
        );
    }
}
