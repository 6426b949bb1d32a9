//! Synthetic histories for the rules' tests, written in seconds after 2024-05-01 09:00:00 UTC.

use std::time::Duration;

use super::{EndpointFacts, Facts, RuleFn};
use crate::endpoint::EndpointId;
use crate::event::{
    CloseCause, Event, EventKind, FailedPhase, Handshake, HandshakeFailure, Phases, RetryReason,
    SessionEnd, SessionStats, Timestamp,
};

/// 2024-05-01 09:00:00 UTC.
pub(super) const ORIGIN: i64 = 1_714_554_000_000;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// Events of any endpoints, added in any order and sorted (stably) by time on `events()`.
#[derive(Default)]
pub(super) struct History(Vec<Event>);

impl History {
    pub(super) fn at(mut self, ep: u64, t: f64, kind: EventKind) -> Self {
        self.0.push(Event {
            at: Timestamp(ORIGIN + (t * 1000.0).round() as i64),
            endpoint: EndpointId(ep),
            kind,
        });
        self
    }

    fn closed(self, ep: u64, t: f64, end: SessionEnd, lasted: f64, silent: f64) -> Self {
        let stats = SessionStats {
            duration: secs(lasted),
            silent_for: secs(silent),
            ..SessionStats::default()
        };
        self.at(ep, t, EventKind::Closed { end, stats })
    }

    /// A session that ended as `end` after 1 s.
    pub(super) fn closed_end(self, ep: u64, t: f64, end: SessionEnd) -> Self {
        self.closed(ep, t, end, 1.0, 0.0)
    }

    /// A session lost without a close frame after `lasted` s, the last `silent` s silent.
    pub(super) fn lost(self, ep: u64, t: f64, lasted: f64, silent: f64) -> Self {
        let end = SessionEnd::Lost {
            error: "connection reset".into(),
        };
        self.closed(ep, t, end, lasted, silent)
    }

    pub(super) fn server_close(
        self,
        ep: u64,
        t: f64,
        code: u16,
        reason: &str,
        silent: f64,
    ) -> Self {
        let end = SessionEnd::ClosedByServer {
            code,
            reason: reason.into(),
        };
        self.closed(ep, t, end, silent, silent)
    }

    /// A server close after `lasted` s, the last `silent` s without a message received.
    pub(super) fn server_close_after(
        self,
        ep: u64,
        t: f64,
        code: u16,
        reason: &str,
        lasted: f64,
        silent: f64,
    ) -> Self {
        let end = SessionEnd::ClosedByServer {
            code,
            reason: reason.into(),
        };
        self.closed(ep, t, end, lasted, silent)
    }

    pub(super) fn client_close(
        self,
        ep: u64,
        t: f64,
        cause: CloseCause,
        clean: bool,
        lasted: f64,
    ) -> Self {
        let end = SessionEnd::ClosedByClient {
            cause,
            code: 1001,
            reason: cause.as_str().into(),
            clean,
        };
        self.closed(ep, t, end, lasted, 1.0)
    }

    pub(super) fn connected(self, ep: u64, t: f64) -> Self {
        let handshake = Handshake {
            phases: Phases::default(),
            peer: "127.0.0.1:9000".parse().unwrap(),
            subprotocol: None,
            extensions: Vec::new(),
        };
        self.at(
            ep,
            t,
            EventKind::Connected {
                attempt: 1,
                handshake,
            },
        )
    }

    pub(super) fn refused(self, ep: u64, t: f64, phase: FailedPhase, error: &str) -> Self {
        let failure = HandshakeFailure {
            phase,
            error: error.into(),
            elapsed: Duration::from_millis(20),
        };
        self.at(ep, t, EventKind::HandshakeFailed(failure))
    }

    pub(super) fn http(self, ep: u64, t: f64, status: u16) -> Self {
        let phase = FailedPhase::Http {
            status: Some(status),
            retry_after: None,
        };
        self.refused(ep, t, phase, "refused")
    }

    pub(super) fn retry(self, ep: u64, t: f64, delay: f64, reason: RetryReason) -> Self {
        let kind = EventKind::ReconnectScheduled {
            attempt: 1,
            delay: secs(delay),
            reason,
        };
        self.at(ep, t, kind)
    }

    pub(super) fn gave_up(self, ep: u64, t: f64, reason: &str) -> Self {
        let reason = reason.into();
        self.at(ep, t, EventKind::GaveUp { reason })
    }

    pub(super) fn events(mut self) -> Vec<Event> {
        self.0.sort_by_key(|e| e.at);
        self.0
    }
}

/// Endpoints named `feed-<id>` on the given hosts, pinging every 20 s, no app heartbeat.
pub(super) fn facts(hosts: &[(u64, &str)]) -> Vec<EndpointFacts> {
    hosts
        .iter()
        .map(|&(id, host)| EndpointFacts {
            id: EndpointId(id),
            name: format!("feed-{id}"),
            host: host.into(),
            ping_interval: Duration::from_secs(20),
            app_heartbeat_interval: None,
        })
        .collect()
}

/// What one finding must show.
pub(super) struct Expect {
    pub endpoints: &'static [u64],
    pub occurrences: u32,
    /// Phrases the finding's text (title, explanation, evidence, suggestion) must contain.
    pub mentions: &'static [&'static str],
}

/// The common core of every rule's `check`: runs `rule` and compares its findings, in order,
/// with `expected` (empty: the rule must stay silent).
pub(super) fn check_rule(
    rule: RuleFn,
    case: &str,
    events: &[Event],
    endpoints: &[EndpointFacts],
    expected: &[Expect],
) {
    let findings = rule(events, &Facts::new(endpoints));
    assert_eq!(
        findings.len(),
        expected.len(),
        "{case}: expected {} findings, got {findings:#?}",
        expected.len()
    );
    for (f, e) in findings.iter().zip(expected) {
        let ids: Vec<u64> = f.endpoints.iter().map(|id| id.0).collect();
        assert_eq!(ids, e.endpoints, "{case}: endpoints of {f:#?}");
        assert_eq!(
            f.occurrences, e.occurrences,
            "{case}: occurrences of {f:#?}"
        );
        assert!(f.first_seen <= f.last_seen, "{case}: {f:#?}");
        let text = format!(
            "{}\n{}\n{}\n{}",
            f.title,
            f.explanation,
            f.evidence.join("\n"),
            f.suggestion
        );
        for phrase in e.mentions {
            assert!(
                text.contains(phrase),
                "{case}: {phrase:?} missing from\n{text}"
            );
        }
    }
}
