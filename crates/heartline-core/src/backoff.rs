//! Reconnect policy: capped exponential backoff with jitter, steered by close codes.

use std::time::Duration;

use crate::endpoint::FieldError;
use crate::event::{FailedPhase, HandshakeFailure, RetryReason, SessionEnd};
use crate::protocol::RefusalClass;

/// How an endpoint reconnects after a session ends or an attempt fails.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    pub enabled: bool,
    /// Ceiling of the first delay.
    pub initial: Duration,
    /// Growth of the ceiling per consecutive failure.
    pub multiplier: f64,
    /// Largest ceiling.
    pub cap: Duration,
    /// 0 = always wait the full ceiling; 1 = full jitter, anywhere in `[0, ceiling]`.
    pub jitter: f64,
    /// A session open this long counts as healthy and resets the failure count (so does one
    /// that answered a heartbeat: see the watch loop in heartline-probe).
    pub reset_after: Duration,
    /// Stop after this many consecutive failed attempts (`None`: never give up).
    pub max_attempts: Option<u32>,
    /// 1013 (try again later) multiplies the ceiling by this.
    pub try_again_factor: f64,
    /// Close codes that mean "do not retry" (default: 1008 policy violation).
    pub stop_on_close_codes: Vec<u16>,
    /// HTTP statuses on upgrade that mean "do not retry" (default: 401, 403).
    pub stop_on_http_status: Vec<u16>,
}

/// What ended the last attempt.
#[derive(Debug, Clone, Copy)]
pub enum Ended<'a> {
    Session(&'a SessionEnd),
    Handshake(&'a HandshakeFailure),
}

/// The decision after an attempt ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Retry {
    After {
        delay: Duration,
        reason: RetryReason,
    },
    Stop {
        reason: String,
    },
}

/// `Retry-After` values beyond this are treated as this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            initial: Duration::from_millis(500),
            multiplier: 2.0,
            cap: Duration::from_secs(60),
            jitter: 1.0,
            reset_after: Duration::from_secs(30),
            max_attempts: None,
            try_again_factor: 4.0,
            stop_on_close_codes: vec![1008],
            stop_on_http_status: vec![401, 403],
        }
    }
}

impl ReconnectPolicy {
    /// The largest delay after `failures` consecutive failures (1 = the first).
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(64) as i32;
        let grown = self.initial.as_secs_f64() * self.multiplier.powi(exp);
        if grown.is_finite() && grown < self.cap.as_secs_f64() {
            Duration::from_secs_f64(grown)
        } else {
            self.cap
        }
    }

    /// Decides whether and when to retry. `unit` is a uniform random number in `[0, 1)`
    /// supplied by the caller, so the decision itself is deterministic.
    pub fn decide(&self, failures: u32, ended: Ended<'_>, unit: f64) -> Retry {
        if let Some(reason) = self.stop_reason(failures, ended) {
            return Retry::Stop { reason };
        }
        let unit = unit.clamp(0.0, 1.0);
        let jittered = |ceiling: Duration| ceiling.mul_f64(1.0 - self.jitter * unit);
        match ended {
            // The application's refusal steers like the close codes it resembles: a restart
            // (ActionCable `server_restart`, Pusher 4200–4299) reconnects promptly, overload
            // (MQTT "server unavailable", Pusher 4100–4199) backs off harder.
            Ended::Session(SessionEnd::Refused {
                class: RefusalClass::ServerRestart,
                ..
            })
            | Ended::Session(SessionEnd::ClosedByServer { code: 1012, .. }) => Retry::After {
                delay: jittered(self.initial),
                reason: RetryReason::ServiceRestart,
            },
            Ended::Session(SessionEnd::Refused {
                class: RefusalClass::Overload,
                ..
            })
            | Ended::Session(SessionEnd::ClosedByServer { code: 1013, .. }) => {
                let ceiling = self.ceiling(failures).mul_f64(self.try_again_factor);
                Retry::After {
                    delay: jittered(ceiling.min(self.cap.mul_f64(self.try_again_factor))),
                    reason: RetryReason::TryAgainLater,
                }
            }
            Ended::Handshake(HandshakeFailure {
                phase:
                    FailedPhase::Http {
                        retry_after: Some(after),
                        ..
                    },
                ..
            }) => {
                let backoff = jittered(self.ceiling(failures));
                let after = (*after).min(MAX_RETRY_AFTER);
                if after > backoff {
                    Retry::After {
                        delay: after,
                        reason: RetryReason::RetryAfter,
                    }
                } else {
                    Retry::After {
                        delay: backoff,
                        reason: RetryReason::Backoff,
                    }
                }
            }
            _ => Retry::After {
                delay: jittered(self.ceiling(failures)),
                reason: RetryReason::Backoff,
            },
        }
    }

    fn stop_reason(&self, failures: u32, ended: Ended<'_>) -> Option<String> {
        match ended {
            Ended::Session(SessionEnd::Refused {
                protocol,
                class,
                code,
                reason,
            }) if class.is_final() => {
                return Some(format!(
                    "refused by the application ({}, {}, {code}){}: a {} problem; not retrying until the endpoint is resumed",
                    protocol.as_str(),
                    class.as_str(),
                    if reason.is_empty() { String::new() } else { format!(": {reason}") },
                    if *class == RefusalClass::Credentials { "credentials" } else { "policy" },
                ));
            }
            Ended::Session(SessionEnd::ClosedByServer { code, reason })
                if self.stop_on_close_codes.contains(code) =>
            {
                let said = if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                };
                return Some(format!(
                    "server closed with {code} ({}){said}: a credentials or policy problem; not retrying until the endpoint is resumed",
                    crate::close_code::meaning(*code)
                ));
            }
            Ended::Handshake(HandshakeFailure {
                phase:
                    FailedPhase::Http {
                        status: Some(status),
                        ..
                    },
                ..
            }) if self.stop_on_http_status.contains(status) => {
                return Some(format!(
                    "upgrade refused with HTTP {status}: a credentials or authorisation problem; not retrying until the endpoint is resumed"
                ));
            }
            _ => {}
        }
        if !self.enabled {
            return Some("reconnect is disabled for this endpoint".into());
        }
        match self.max_attempts {
            Some(max) if failures >= max => Some(format!(
                "gave up after {failures} consecutive failed attempts"
            )),
            _ => None,
        }
    }

    /// Field problems, with field names relative to the policy.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        let mut bad = |field: &str, problem: &str| {
            out.push(FieldError {
                field: field.into(),
                problem: problem.into(),
            })
        };
        if self.initial < Duration::from_millis(10) {
            bad("initial", "must be at least 10ms");
        }
        if !(1.0..=10.0).contains(&self.multiplier) {
            bad("multiplier", "must be at least 1 and at most 10");
        }
        if self.cap < self.initial {
            bad("cap", "must be at least the initial delay");
        }
        if self.cap > Duration::from_secs(24 * 3600) {
            bad("cap", "must be at most 24h");
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            bad("jitter", "must be between 0 and 1");
        }
        if self.reset_after < Duration::from_secs(1) {
            bad("reset_after", "must be at least 1s");
        }
        if self.max_attempts == Some(0) {
            bad(
                "max_attempts",
                "must be at least 1 (or absent to never give up)",
            );
        }
        if !(1.0..=100.0).contains(&self.try_again_factor) {
            bad("try_again_factor", "must be between 1 and 100");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn closed(code: u16) -> SessionEnd {
        SessionEnd::ClosedByServer {
            code,
            reason: String::new(),
        }
    }

    fn http(status: u16, retry_after: Option<u64>) -> HandshakeFailure {
        HandshakeFailure {
            phase: FailedPhase::Http {
                status: Some(status),
                retry_after: retry_after.map(Duration::from_secs),
            },
            error: String::new(),
            elapsed: ms(1),
        }
    }

    fn check(
        policy: &ReconnectPolicy,
        failures: u32,
        ended: Ended<'_>,
        unit: f64,
        expected: Retry,
    ) {
        assert_eq!(
            policy.decide(failures, ended, unit),
            expected,
            "failures {failures}, unit {unit}"
        );
    }

    #[test]
    fn ceilings_grow_and_cap() {
        let p = ReconnectPolicy::default();
        let got: Vec<u64> = (1..=10).map(|n| p.ceiling(n).as_millis() as u64).collect();
        assert_eq!(
            got,
            [500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]
        );
        assert_eq!(p.ceiling(u32::MAX), p.cap);
        assert_eq!(p.ceiling(0), p.initial);
    }

    #[test]
    fn full_jitter_spans_zero_to_ceiling() {
        let p = ReconnectPolicy::default();
        let lost = SessionEnd::Lost {
            error: "eof".into(),
        };
        let after = |delay| Retry::After {
            delay,
            reason: RetryReason::Backoff,
        };
        check(&p, 3, Ended::Session(&lost), 0.0, after(ms(2000)));
        check(&p, 3, Ended::Session(&lost), 0.5, after(ms(1000)));
        check(
            &p,
            3,
            Ended::Session(&lost),
            0.999,
            after(Duration::from_secs_f64(2.0 * 0.001)),
        );
        let half = ReconnectPolicy {
            jitter: 0.5,
            ..p.clone()
        };
        check(
            &half,
            3,
            Ended::Session(&lost),
            0.999,
            after(Duration::from_secs_f64(2.0 * (1.0 - 0.4995))),
        );
        let none = ReconnectPolicy { jitter: 0.0, ..p };
        check(&none, 2, Ended::Session(&lost), 0.7, after(ms(1000)));
    }

    #[test]
    fn application_refusals_steer_or_stop() {
        let p = ReconnectPolicy::default();
        let refused = |class| SessionEnd::Refused {
            protocol: crate::Protocol::Pusher,
            class,
            code: 4100,
            reason: "over capacity".into(),
        };
        let restart = refused(RefusalClass::ServerRestart);
        check(
            &p,
            5,
            Ended::Session(&restart),
            0.0,
            Retry::After {
                delay: p.initial,
                reason: RetryReason::ServiceRestart,
            },
        );
        let overload = refused(RefusalClass::Overload);
        let Retry::After { reason, delay } = p.decide(1, Ended::Session(&overload), 0.0) else {
            panic!("overload must retry");
        };
        assert_eq!(reason, RetryReason::TryAgainLater);
        assert!(delay > p.ceiling(1), "{delay:?}");
        let creds = refused(RefusalClass::Credentials);
        let Retry::Stop { reason } = p.decide(1, Ended::Session(&creds), 0.0) else {
            panic!("credentials must stop");
        };
        assert!(reason.contains("pusher, credentials, 4100"), "{reason}");
        let other = refused(RefusalClass::Other);
        assert!(matches!(
            p.decide(1, Ended::Session(&other), 0.0),
            Retry::After {
                reason: RetryReason::Backoff,
                ..
            }
        ));
    }

    #[test]
    fn close_codes_steer_the_delay() {
        let p = ReconnectPolicy {
            jitter: 0.0,
            ..ReconnectPolicy::default()
        };
        check(
            &p,
            5,
            Ended::Session(&closed(1012)),
            0.3,
            Retry::After {
                delay: ms(500),
                reason: RetryReason::ServiceRestart,
            },
        );
        check(
            &p,
            2,
            Ended::Session(&closed(1013)),
            0.3,
            Retry::After {
                delay: ms(4000),
                reason: RetryReason::TryAgainLater,
            },
        );
        check(
            &p,
            20,
            Ended::Session(&closed(1013)),
            0.3,
            Retry::After {
                delay: ms(240_000),
                reason: RetryReason::TryAgainLater,
            },
        );
        check(
            &p,
            1,
            Ended::Session(&closed(1000)),
            0.3,
            Retry::After {
                delay: ms(500),
                reason: RetryReason::Backoff,
            },
        );
        check(
            &p,
            1,
            Ended::Handshake(&http(503, Some(7))),
            0.3,
            Retry::After {
                delay: ms(7000),
                reason: RetryReason::RetryAfter,
            },
        );
        check(
            &p,
            1,
            Ended::Handshake(&http(503, Some(99_999))),
            0.3,
            Retry::After {
                delay: MAX_RETRY_AFTER,
                reason: RetryReason::RetryAfter,
            },
        );
        check(
            &p,
            8,
            Ended::Handshake(&http(503, Some(1))),
            0.3,
            Retry::After {
                delay: ms(60_000),
                reason: RetryReason::Backoff,
            },
        );
    }

    #[test]
    fn credentials_policy_and_limits_stop() {
        let p = ReconnectPolicy::default();
        for ended in [
            Ended::Session(&closed(1008)),
            Ended::Handshake(&http(401, None)),
            Ended::Handshake(&http(403, None)),
        ] {
            match p.decide(1, ended, 0.5) {
                Retry::Stop { reason } => assert!(reason.contains("credentials"), "{reason}"),
                other => panic!("{ended:?}: {other:?}"),
            }
        }
        let custom = ReconnectPolicy {
            stop_on_http_status: vec![],
            ..p.clone()
        };
        assert!(matches!(
            custom.decide(1, Ended::Handshake(&http(401, None)), 0.5),
            Retry::After { .. }
        ));
        let limited = ReconnectPolicy {
            max_attempts: Some(3),
            ..p.clone()
        };
        assert!(matches!(
            limited.decide(2, Ended::Session(&closed(1006)), 0.5),
            Retry::After { .. }
        ));
        assert_eq!(
            limited.decide(3, Ended::Session(&closed(1006)), 0.5),
            Retry::Stop {
                reason: "gave up after 3 consecutive failed attempts".into()
            }
        );
        let off = ReconnectPolicy {
            enabled: false,
            ..p
        };
        assert!(matches!(
            off.decide(1, Ended::Session(&closed(1000)), 0.5),
            Retry::Stop { .. }
        ));
    }

    #[test]
    fn policy_problems() {
        let p = ReconnectPolicy {
            initial: ms(1),
            cap: ms(0),
            jitter: 2.0,
            ..ReconnectPolicy::default()
        };
        let fields: Vec<String> = p.problems().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["initial", "cap", "jitter"]);
        assert!(ReconnectPolicy::default().problems().is_empty());
    }
}
