//! Rules on why connection attempts fail: credentials refused, TLS that does not verify, names
//! that do not resolve.

use super::text::{clock, count, samples, times, when};
use super::{by_endpoint, Facts, Finding, Rule};
use crate::close_code::meaning;
use crate::endpoint::EndpointId;
use crate::event::{Event, EventKind, FailedPhase, SessionEnd, Timestamp};

/// One refusal is enough: credentials do not fix themselves, and Heartline stops retrying on
/// them, so there may never be a second.
const CREDENTIALS_MIN_OCCURRENCES: usize = 1;

/// Upgrade statuses that mean "who you are" (401) or "what you may do" (403) was refused.
const REFUSED_STATUSES: [u16; 2] = [401, 403];

/// The close code servers use to end a session over policy, typically an expired token.
const POLICY_CLOSE: u16 = 1008;

/// One failed TLS handshake is enough: certificates do not flap.
const TLS_MIN_OCCURRENCES: usize = 1;

/// One failed lookup is enough to report; whether it is intermittent is part of the finding.
const DNS_MIN_OCCURRENCES: usize = 1;

/// Per endpoint: upgrades refused with HTTP 401/403, server closes with 1008, or giving up with
/// a reason that mentions credentials; at least [`CREDENTIALS_MIN_OCCURRENCES`]. Occurrences
/// count the refusals and closes (a give-up only when there is nothing else to count, since it
/// usually follows one).
pub(super) fn credentials(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (id, events) in by_endpoint(events) {
        let mut refusals: Vec<(Timestamp, Refusal<'_>)> = Vec::new();
        for e in &events {
            let refusal = match &e.kind {
                EventKind::HandshakeFailed(f) => match f.phase.status() {
                    Some(status) if REFUSED_STATUSES.contains(&status) => Refusal::Status(status),
                    _ => continue,
                },
                EventKind::Closed {
                    end: SessionEnd::ClosedByServer { code, reason },
                    ..
                } if *code == POLICY_CLOSE => Refusal::Policy(reason),
                // The WebSocket opened but the application protocol said no (Socket.IO
                // connect_error, MQTT CONNACK, graphql-ws 4401/4403, …).
                EventKind::Closed {
                    end:
                        SessionEnd::Refused {
                            protocol,
                            class,
                            reason,
                            ..
                        },
                    ..
                } if class.is_final() => Refusal::App(protocol.as_str(), reason),
                EventKind::GaveUp { reason } if reason.to_lowercase().contains("credential") => {
                    Refusal::GaveUp(reason)
                }
                _ => continue,
            };
            refusals.push((e.at, refusal));
        }
        let direct = refusals
            .iter()
            .filter(|(_, r)| !matches!(r, Refusal::GaveUp(_)))
            .count();
        let occurrences = if direct > 0 { direct } else { refusals.len() };
        if refusals.is_empty() || occurrences < CREDENTIALS_MIN_OCCURRENCES {
            continue;
        }
        let name = facts.name(id);
        let (first, last) = (refusals[0].0, refusals[refusals.len() - 1].0);

        let mut explanation = vec![format!(
            "The server behind {name} refuses Heartline's credentials, or what they allow."
        )];
        let mut evidence = Vec::new();
        for status in REFUSED_STATUSES {
            let hits: Vec<Timestamp> = refusals
                .iter()
                .filter(|(_, r)| matches!(r, Refusal::Status(s) if *s == status))
                .map(|(t, _)| *t)
                .collect();
            if let (Some(a), Some(b)) = (hits.first(), hits.last()) {
                let (words, why) = if status == 401 {
                    ("Unauthorized", "HTTP 401 on the upgrade means the credentials (token, API key, cookie) are missing, wrong or expired.")
                } else {
                    ("Forbidden", "HTTP 403 means the server knows the caller but does not allow it (scopes, an IP allowlist or an Origin check).")
                };
                evidence.push(format!(
                    "{} refused with HTTP {status} {words} ({})",
                    count(hits.len(), "upgrade", "upgrades"),
                    when(*a, *b)
                ));
                explanation.push(why.into());
            }
        }
        let policy: Vec<(Timestamp, &str)> = refusals
            .iter()
            .filter_map(|(t, r)| match r {
                Refusal::Policy(reason) => Some((*t, *reason)),
                _ => None,
            })
            .collect();
        if let (Some(a), Some(b)) = (policy.first(), policy.last()) {
            let reasons = samples(policy.iter().map(|(_, reason)| *reason), 3);
            let said = if reasons.is_empty() {
                String::new()
            } else {
                format!(": {reasons}")
            };
            evidence.push(format!(
                "{} closed by the server with {POLICY_CLOSE} ({}) ({}){said}",
                count(policy.len(), "session", "sessions"),
                meaning(POLICY_CLOSE),
                when(a.0, b.0)
            ));
            explanation.push(format!(
                "A {POLICY_CLOSE} close ends an open session over policy, commonly a token that \
                 expired mid-session or a permission that was revoked."
            ));
        }
        let app: Vec<(Timestamp, &str, &str)> = refusals
            .iter()
            .filter_map(|(t, r)| match r {
                Refusal::App(protocol, reason) => Some((*t, *protocol, *reason)),
                _ => None,
            })
            .collect();
        if let (Some(a), Some(b)) = (app.first(), app.last()) {
            let reasons = samples(app.iter().map(|(_, _, reason)| *reason), 3);
            let said = if reasons.is_empty() {
                String::new()
            } else {
                format!(": {reasons}")
            };
            evidence.push(format!(
                "{} refused by the application ({}) after the WebSocket opened ({}){said}",
                count(app.len(), "session", "sessions"),
                a.1,
                when(a.0, b.0)
            ));
            explanation.push(
                "The connection itself works; the application protocol spoken over it \
                 refused the client's credentials or what they allow."
                    .into(),
            );
        }
        let gave_up = refusals.iter().rev().find_map(|(t, r)| match r {
            Refusal::GaveUp(reason) => Some((t, reason)),
            _ => None,
        });
        if let Some((at, reason)) = gave_up {
            evidence.push(format!(
                "Heartline stopped reconnecting at {} UTC: {reason}",
                clock(*at)
            ));
        }

        findings.push(Finding {
            rule: Rule::Credentials,
            endpoints: vec![id],
            title: format!("Credentials or authorisation rejected by {name}"),
            explanation: explanation.join(" "),
            evidence,
            suggestion: "Check the token or key in the endpoint's handshake headers or URL — its \
                         value, expiry and scopes — and any Origin or IP allowlist; renew it and \
                         resume the endpoint. Heartline stops retrying on these so it does not \
                         hammer the server or get the account locked."
                .into(),
            first_seen: first,
            last_seen: last,
            occurrences: occurrences as u32,
        });
    }
    findings
}

/// Per endpoint and kind of problem (expired, unknown issuer, name mismatch, other, as told by
/// the error text): handshakes that failed in TLS, at least [`TLS_MIN_OCCURRENCES`].
pub(super) fn tls(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (id, events) in by_endpoint(events) {
        for problem in TlsProblem::ALL {
            let failures: Vec<(Timestamp, &str)> = events
                .iter()
                .filter_map(|e| match &e.kind {
                    EventKind::HandshakeFailed(f) if f.phase == FailedPhase::Tls => {
                        Some((e.at, f.error.as_str()))
                    }
                    _ => None,
                })
                .filter(|(_, error)| TlsProblem::of(error) == problem)
                .collect();
            if failures.len() < TLS_MIN_OCCURRENCES {
                continue;
            }
            findings.push(tls_finding(id, problem, &failures, facts));
        }
    }
    findings
}

/// Per endpoint: lookups that failed, at least [`DNS_MIN_OCCURRENCES`]; intermittent when a
/// session opened between the first and last failure, persistent when none opened since the
/// first.
pub(super) fn dns(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (id, events) in by_endpoint(events) {
        let failures: Vec<(Timestamp, &str)> = events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::HandshakeFailed(f) if f.phase == FailedPhase::Dns => {
                    Some((e.at, f.error.as_str()))
                }
                _ => None,
            })
            .collect();
        if failures.len() < DNS_MIN_OCCURRENCES {
            continue;
        }
        let (first, last) = (failures[0].0, failures[failures.len() - 1].0);
        let connects: Vec<Timestamp> = events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Connected { .. }))
            .map(|e| e.at)
            .collect();
        let in_between = connects
            .iter()
            .filter(|t| first < **t && **t < last)
            .count();
        let after = connects.iter().find(|t| **t > last);
        let name = facts.name(id);
        let host = facts.host(id).unwrap_or("its host");
        let n = failures.len();
        let mut evidence = vec![format!(
            "{} of {host} failed ({}): {}",
            count(n, "lookup", "lookups"),
            when(first, last),
            samples(failures.iter().map(|f| f.1), 2)
        )];
        let (title, explanation, suggestion) = if in_between > 0 {
            evidence.push(format!(
                "{} opened between the failures",
                count(in_between, "session", "sessions")
            ));
            (
                format!("Intermittent DNS failures for {name}"),
                format!(
                    "Looking up {host} failed {}, yet sessions opened in between: the name exists, \
                     so the resolver is unreliable — timeouts, an overloaded or unreachable DNS \
                     server, or one of several resolvers lacking the record.",
                    times(n)
                ),
                format!(
                    "Check the resolvers this machine uses (/etc/resolv.conf, DNS pushed by a \
                     VPN) and query each directly, e.g. `dig {host} @<resolver>`; a local caching \
                     resolver or a reliable secondary smooths out a flaky one."
                ),
            )
        } else if let Some(back) = after {
            evidence.push(format!("a session opened again at {} UTC", clock(*back)));
            (
                format!("{name} could not resolve {host} for a while"),
                format!(
                    "Looking up {host} failed {} and then worked again: a DNS outage, or a record \
                     that was changed and took time to propagate.",
                    times(n)
                ),
                format!(
                    "If it recurs, query the resolvers directly when it happens (`dig {host}`) \
                     and check the record's TTL and the health of its authoritative servers."
                ),
            )
        } else {
            evidence.push("no session has opened since the first failure".into());
            (
                format!("{host} does not resolve for {name}"),
                format!(
                    "Looking up {host} failed {} and no session has opened since: the name may \
                     be mistyped or deleted, or resolve only inside a network (a VPN, a private \
                     zone) this machine is not on.",
                    times(n)
                ),
                format!(
                    "Check the spelling of the host and query it with `dig {host}`; if it only \
                     resolves on a VPN or internal network, run Heartline there."
                ),
            )
        };
        findings.push(Finding {
            rule: Rule::Dns,
            endpoints: vec![id],
            title,
            explanation,
            evidence,
            suggestion,
            first_seen: first,
            last_seen: last,
            occurrences: n as u32,
        });
    }
    findings
}

/// What a credentials rule saw.
enum Refusal<'a> {
    Status(u16),
    Policy(&'a str),
    /// Protocol name and reason of an application refusal.
    App(&'static str, &'a str),
    GaveUp(&'a str),
}

/// What is wrong with the certificate, as far as the error text tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsProblem {
    Expired,
    UnknownIssuer,
    NameMismatch,
    Other,
}

impl TlsProblem {
    const ALL: [TlsProblem; 4] = [
        TlsProblem::Expired,
        TlsProblem::UnknownIssuer,
        TlsProblem::NameMismatch,
        TlsProblem::Other,
    ];

    /// Classifies by the words rustls and OpenSSL use.
    fn of(error: &str) -> Self {
        let e = error.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| e.contains(w));
        if has(&["expired"]) {
            TlsProblem::Expired
        } else if has(&[
            "unknownissuer",
            "unknown issuer",
            "self-signed",
            "self signed",
        ]) {
            TlsProblem::UnknownIssuer
        } else if has(&["notvalidforname", "not valid for"]) {
            TlsProblem::NameMismatch
        } else {
            TlsProblem::Other
        }
    }
}

fn tls_finding(
    id: EndpointId,
    problem: TlsProblem,
    failures: &[(Timestamp, &str)],
    facts: &Facts<'_>,
) -> Finding {
    let name = facts.name(id);
    let host = facts.host(id).unwrap_or("the host");
    let (first, last) = (failures[0].0, failures[failures.len() - 1].0);
    let (title, explanation, suggestion) = match problem {
        TlsProblem::Expired => (
            format!("Expired TLS certificate on {name}"),
            format!("The certificate {host} presents has expired, so the handshake is refused."),
            "Renew the server's certificate and find out why automatic renewal (certbot or \
             another ACME client) did not run; if the certificate looks valid, check this \
             machine's clock."
                .to_owned(),
        ),
        TlsProblem::UnknownIssuer => (
            format!("Untrusted TLS certificate on {name}"),
            format!(
                "The certificate {host} presents is not signed by a trusted authority: it is \
                 self-signed, issued by a private CA, or sent without its intermediate \
                 certificates."
            ),
            "For a private CA or a self-signed certificate, add the CA to the endpoint's CA file; \
             for a public one, make the server send the full chain including intermediates. Use \
             the insecure option only against a lab."
                .to_owned(),
        ),
        TlsProblem::NameMismatch => (
            format!("TLS certificate does not match the host of {name}"),
            format!(
                "The certificate the server presents is valid, but not for {host}: it names \
                 other hosts, so it could be impersonating one."
            ),
            format!(
                "Connect with a name the certificate covers, or reissue it with {host} among its \
                 subject alternative names; behind a shared IP, check that the server picks the \
                 certificate by SNI."
            ),
        ),
        TlsProblem::Other => (
            format!("TLS handshake failing on {name}"),
            format!("The TLS handshake with {host} fails for a reason other than the certificate's dates, issuer or name."),
            format!(
                "Try the handshake by hand, e.g. `openssl s_client -connect {host}:443 \
                 -servername {host}`, and compare the TLS versions and ciphers the server \
                 accepts with the error shown."
            ),
        ),
    };
    Finding {
        rule: Rule::Tls,
        endpoints: vec![id],
        title,
        explanation,
        evidence: vec![format!(
            "{} failed during TLS ({}): {}",
            count(failures.len(), "handshake", "handshakes"),
            when(first, last),
            samples(failures.iter().map(|f| f.1), 2)
        )],
        suggestion,
        first_seen: first,
        last_seen: last,
        occurrences: failures.len() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::RuleFn;
    use super::*;
    use crate::event::{CloseCause, FailedPhase};

    fn check(rule: RuleFn, case: &str, history: History, expected: &[Expect]) {
        let endpoints = facts(&[(1, "api.example"), (2, "api.example")]);
        check_rule(rule, case, &history.events(), &endpoints, expected);
    }

    #[test]
    fn credentials_refused() {
        check(
            credentials,
            "401 on upgrade, then giving up",
            History::default()
                .http(1, 5.0, 401)
                .gave_up(1, 5.0, "upgrade refused with HTTP 401: a credentials or authorisation problem; not retrying until the endpoint is resumed"),
            &[Expect {
                endpoints: &[1],
                occurrences: 1,
                mentions: &[
                    "Credentials or authorisation rejected by feed-1",
                    "1 upgrade refused with HTTP 401 Unauthorized (at 09:00:05 UTC)",
                    "missing, wrong or expired",
                    "Heartline stopped reconnecting at 09:00:05 UTC",
                    "resume the endpoint",
                ],
            }],
        );
        check(
            credentials,
            "403s and a 1008 mid-session",
            History::default()
                .http(2, 5.0, 403)
                .http(2, 6.0, 403)
                .server_close(2, 100.0, 1008, "token expired", 1.0),
            &[Expect {
                endpoints: &[2],
                occurrences: 3,
                mentions: &[
                    "2 upgrades refused with HTTP 403 Forbidden",
                    "1 session closed by the server with 1008 (policy violation) (at 09:01:40 UTC): \"token expired\"",
                    "Origin check",
                    "token that expired mid-session",
                ],
            }],
        );
        check(
            credentials,
            "the application refuses after the WebSocket opened",
            History::default().closed_end(
                1,
                7.0,
                SessionEnd::Refused {
                    protocol: crate::Protocol::Mqtt,
                    class: crate::RefusalClass::Credentials,
                    code: 1000,
                    reason: "CONNACK 5: not authorized".into(),
                },
            ),
            &[Expect {
                endpoints: &[1],
                occurrences: 1,
                mentions: &[
                    "1 session refused by the application (mqtt) after the WebSocket opened (at 09:00:07 UTC): \"CONNACK 5: not authorized\"",
                    "The connection itself works",
                ],
            }],
        );
        check(
            credentials,
            "a give-up alone still counts",
            History::default().gave_up(
                1,
                5.0,
                "server closed with 1008: a credentials or policy problem",
            ),
            &[Expect {
                endpoints: &[1],
                occurrences: 1,
                mentions: &["stopped reconnecting"],
            }],
        );
    }

    #[test]
    fn credentials_near_misses() {
        check(
            credentials,
            "other statuses, other closes, other give-ups",
            History::default()
                .http(1, 1.0, 404)
                .http(1, 2.0, 503)
                .server_close(1, 3.0, 1011, "policy", 1.0)
                .client_close(1, 4.0, CloseCause::ProtocolError, true, 1.0)
                .gave_up(1, 5.0, "gave up after 3 consecutive failed attempts")
                // A refusal that is not about credentials (a restart) is another story.
                .closed_end(
                    1,
                    6.0,
                    SessionEnd::Refused {
                        protocol: crate::Protocol::ActionCable,
                        class: crate::RefusalClass::ServerRestart,
                        code: 1000,
                        reason: "server_restart".into(),
                    },
                ),
            &[],
        );
    }

    #[test]
    fn tls_problems() {
        check(
            tls,
            "one finding per kind of problem, in a fixed order",
            History::default()
                .refused(1, 1.0, FailedPhase::Tls, "invalid peer certificate: UnknownIssuer")
                .refused(1, 2.0, FailedPhase::Tls, "invalid peer certificate: certificate expired: verification time 1714554000 (UNIX), but certificate is not valid after 1714000000 (UNIX)")
                .refused(1, 3.0, FailedPhase::Tls, "self-signed certificate in certificate chain")
                .refused(2, 4.0, FailedPhase::Tls, "invalid peer certificate: NotValidForNameContext { expected: \"api.example\" }")
                .refused(2, 5.0, FailedPhase::Tls, "received fatal alert: HandshakeFailure"),
            &[
                Expect { endpoints: &[1], occurrences: 1, mentions: &["Expired TLS certificate on feed-1", "automatic renewal", "not valid after 2024-04-24 23:06:40 UTC\""] },
                Expect { endpoints: &[1], occurrences: 2, mentions: &["Untrusted TLS certificate on feed-1", "2 handshakes failed during TLS (between 09:00:01 and 09:00:03 UTC)", "CA file"] },
                Expect { endpoints: &[2], occurrences: 1, mentions: &["does not match the host of feed-2", "subject alternative names"] },
                Expect { endpoints: &[2], occurrences: 1, mentions: &["TLS handshake failing on feed-2", "openssl s_client -connect api.example:443", "\"received fatal alert: HandshakeFailure\""] },
            ],
        );
        check(
            tls,
            "failures in other phases",
            History::default()
                .refused(1, 1.0, FailedPhase::Tcp, "certificate expired")
                .refused(
                    1,
                    2.0,
                    FailedPhase::Timeout {
                        during: crate::event::Phase::Tls,
                    },
                    "deadline",
                ),
            &[],
        );
    }

    #[test]
    fn dns_failures() {
        check(
            dns,
            "intermittent: sessions open between failures",
            History::default()
                .refused(
                    1,
                    1.0,
                    FailedPhase::Dns,
                    "failed to lookup address information: Temporary failure in name resolution",
                )
                .connected(1, 3.0)
                .refused(
                    1,
                    500.0,
                    FailedPhase::Dns,
                    "failed to lookup address information: Temporary failure in name resolution",
                ),
            &[Expect {
                endpoints: &[1],
                occurrences: 2,
                mentions: &[
                    "Intermittent DNS failures for feed-1",
                    "1 session opened between the failures",
                    "resolver is unreliable",
                ],
            }],
        );
        check(
            dns,
            "persistent: nothing opened since",
            History::default()
                .connected(2, 0.0)
                .refused(2, 1.0, FailedPhase::Dns, "Name or service not known")
                .refused(2, 2.0, FailedPhase::Dns, "Name or service not known"),
            &[Expect {
                endpoints: &[2],
                occurrences: 2,
                mentions: &[
                    "api.example does not resolve for feed-2",
                    "no session has opened since",
                    "\"Name or service not known\"",
                ],
            }],
        );
        check(
            dns,
            "an outage that passed",
            History::default()
                .refused(1, 1.0, FailedPhase::Dns, "timed out")
                .connected(1, 60.0),
            &[Expect {
                endpoints: &[1],
                occurrences: 1,
                mentions: &["for a while", "opened again at 09:01:00 UTC"],
            }],
        );
        check(
            dns,
            "other phases are not DNS",
            History::default().refused(1, 1.0, FailedPhase::Tcp, "connection refused"),
            &[],
        );
    }
}
