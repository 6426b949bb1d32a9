//! The health state machine, with two-edge thresholds against flapping.

use std::fmt;
use std::time::Duration;

use crate::endpoint::FieldError;

/// An endpoint's health as shown everywhere (always with its word, never colour alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Connecting,
    Up,
    Degraded,
    Down,
    Paused,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::Up => "up",
            State::Degraded => "degraded",
            State::Down => "down",
            State::Paused => "paused",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Connecting => "Connecting",
            State::Up => "Up",
            State::Degraded => "Degraded",
            State::Down => "Down",
            State::Paused => "Paused",
        })
    }
}

/// Thresholds that turn signals into states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// A heartbeat round trip above this counts as Degraded (`None`: latency never degrades).
    pub degraded_rtt: Option<Duration>,
    /// Consecutive failures (lost sessions, failed handshakes) before Down.
    pub failures_before_down: u32,
    /// Consecutive good heartbeats before Up (from Connecting, Down or Degraded).
    pub successes_before_up: u32,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            degraded_rtt: Some(Duration::from_secs(1)),
            failures_before_down: 2,
            successes_before_up: 1,
        }
    }
}

impl HealthPolicy {
    pub fn problems(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        for (field, value) in [
            ("failures_before_down", self.failures_before_down),
            ("successes_before_up", self.successes_before_up),
        ] {
            if value == 0 {
                out.push(FieldError {
                    field: field.into(),
                    problem: "must be at least 1".into(),
                });
            } else if value > 100 {
                out.push(FieldError {
                    field: field.into(),
                    problem: "must be at most 100".into(),
                });
            }
        }
        if self.degraded_rtt.is_some_and(|d| d.is_zero()) {
            out.push(FieldError {
                field: "degraded_rtt".into(),
                problem: "must be positive".into(),
            });
        }
        out
    }
}

/// What the session loop tells the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// A heartbeat (protocol or application) was answered in `rtt`.
    Heartbeat {
        rtt: Duration,
    },
    /// A heartbeat was missed (below the limit) or the stream went stale: alive but unwell.
    Unwell,
    /// A session ended by a fault or an attempt failed.
    Failure,
    /// Reconnecting stopped: Down until resumed.
    GaveUp,
    Pause,
    Resume,
}

/// A state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
}

/// The health of one endpoint.
#[derive(Debug, Clone)]
pub struct Health {
    policy: HealthPolicy,
    state: State,
    failures: u32,
    /// Consecutive heartbeats of any latency (evidence the endpoint is alive).
    alive: u32,
    /// Consecutive heartbeats under the latency threshold.
    good: u32,
}

impl Health {
    pub fn new(policy: HealthPolicy) -> Self {
        Health {
            policy,
            state: State::Connecting,
            failures: 0,
            alive: 0,
            good: 0,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Replaces the thresholds; counters and state carry over.
    pub fn set_policy(&mut self, policy: HealthPolicy) {
        self.policy = policy;
    }

    /// Consecutive failures counted so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Feeds one signal; returns the transition it caused, if any.
    pub fn apply(&mut self, signal: Signal) -> Option<Transition> {
        let next = match (self.state, signal) {
            (State::Paused, Signal::Resume) => {
                self.reset();
                State::Connecting
            }
            (State::Paused, _) => State::Paused,
            (_, Signal::Pause) => {
                self.reset();
                State::Paused
            }
            (s, Signal::Resume) => s,
            (_, Signal::GaveUp) => State::Down,
            (s, Signal::Failure) => {
                self.alive = 0;
                self.good = 0;
                self.failures = self.failures.saturating_add(1);
                if self.failures >= self.policy.failures_before_down {
                    State::Down
                } else {
                    s
                }
            }
            (s, Signal::Unwell) => {
                self.good = 0;
                if s == State::Up {
                    State::Degraded
                } else {
                    s
                }
            }
            (s, Signal::Heartbeat { rtt }) => {
                self.failures = 0;
                self.alive = self.alive.saturating_add(1);
                let slow = self.policy.degraded_rtt.is_some_and(|limit| rtt > limit);
                if slow {
                    self.good = 0;
                } else {
                    self.good = self.good.saturating_add(1);
                }
                let enough = |n: u32| n >= self.policy.successes_before_up;
                match s {
                    State::Up if slow => State::Degraded,
                    State::Up => State::Up,
                    State::Degraded if enough(self.good) => State::Up,
                    State::Degraded => State::Degraded,
                    _ if enough(self.good) => State::Up,
                    _ if slow && enough(self.alive) => State::Degraded,
                    other => other,
                }
            }
        };
        if next == self.state {
            return None;
        }
        let t = Transition {
            from: self.state,
            to: next,
        };
        self.state = next;
        Some(t)
    }

    fn reset(&mut self) {
        self.failures = 0;
        self.alive = 0;
        self.good = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Signal::*;
    use State::*;

    const FAST: Signal = Heartbeat {
        rtt: Duration::from_millis(5),
    };
    const SLOW: Signal = Heartbeat {
        rtt: Duration::from_secs(2),
    };

    /// Feeds `signals` and checks the state after each one.
    fn check(policy: HealthPolicy, steps: &[(Signal, State)]) {
        let mut h = Health::new(policy);
        for (i, (signal, expected)) in steps.iter().enumerate() {
            let before = h.state();
            let t = h.apply(*signal);
            assert_eq!(h.state(), *expected, "step {i}: {signal:?} from {before:?}");
            assert_eq!(
                t.is_some(),
                before != *expected,
                "step {i}: transition reported"
            );
        }
    }

    #[test]
    fn up_degraded_down_and_back() {
        let p = HealthPolicy::default();
        check(
            p,
            &[
                (FAST, Up),
                (SLOW, Degraded),
                (FAST, Up),
                (Unwell, Degraded),
                (FAST, Up),
            ],
        );
        check(
            p,
            &[
                (Failure, Connecting),
                (Failure, Down),
                (Failure, Down),
                (FAST, Up),
            ],
        );
        check(p, &[(SLOW, Degraded), (FAST, Up)]);
    }

    #[test]
    fn one_blip_does_not_flap() {
        let p = HealthPolicy::default();
        check(
            p,
            &[
                (FAST, Up),
                (Failure, Up),
                (FAST, Up),
                (Failure, Up),
                (Failure, Down),
            ],
        );
    }

    #[test]
    fn two_edges() {
        let p = HealthPolicy {
            failures_before_down: 3,
            successes_before_up: 3,
            ..HealthPolicy::default()
        };
        check(
            p,
            &[
                (FAST, Connecting),
                (FAST, Connecting),
                (FAST, Up),
                (Failure, Up),
                (Failure, Up),
                (Failure, Down),
                (FAST, Down),
                (Failure, Down),
                (FAST, Down),
                (FAST, Down),
                (FAST, Up),
                (Unwell, Degraded),
                (FAST, Degraded),
                (FAST, Degraded),
                (FAST, Up),
            ],
        );
    }

    #[test]
    fn a_crash_loop_goes_down_even_though_it_connects() {
        // Accepts then closes at once: no heartbeat ever answers, failures accumulate.
        check(
            HealthPolicy::default(),
            &[(Failure, Connecting), (Failure, Down)],
        );
    }

    #[test]
    fn pause_freezes_and_resume_restarts() {
        let p = HealthPolicy::default();
        check(
            p,
            &[
                (FAST, Up),
                (Pause, Paused),
                (Failure, Paused),
                (FAST, Paused),
                (Resume, Connecting),
                (FAST, Up),
            ],
        );
        check(
            p,
            &[
                (Resume, Connecting),
                (GaveUp, Down),
                (Pause, Paused),
                (GaveUp, Paused),
            ],
        );
    }

    #[test]
    fn latency_threshold_optional() {
        let p = HealthPolicy {
            degraded_rtt: None,
            ..HealthPolicy::default()
        };
        check(p, &[(SLOW, Up), (SLOW, Up)]);
        assert!(
            HealthPolicy {
                failures_before_down: 0,
                ..p
            }
            .problems()[0]
                .field
                == "failures_before_down"
        );
    }
}
