//! The health state machine, with two-edge thresholds against flapping.
//!
//! Besides latency and failures, one rule watches how sessions end: `unstable_after`
//! unexpected ends within `unstable_window` make the endpoint **Unstable** even when every
//! reconnect succeeds (a proxy's idle timeout, a kick loop, a lifetime cap); it leaves after
//! `stable_after` without one. Down outranks Unstable; Unstable outranks Up and Degraded.

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::endpoint::FieldError;
use crate::event::Timestamp;

/// An endpoint's health as shown everywhere (always with its word, never colour alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Connecting,
    Up,
    Degraded,
    /// Sessions keep ending unexpectedly (see [`HealthPolicy::unstable_after`]), however
    /// well each one answers while it lasts.
    Unstable,
    Down,
    Paused,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Connecting => "connecting",
            State::Up => "up",
            State::Degraded => "degraded",
            State::Unstable => "unstable",
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
            State::Unstable => "Unstable",
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
    /// Unexpected session ends within [`Self::unstable_window`] that make the endpoint
    /// Unstable. Default 3: a deploy costs one or two (the close and perhaps a refused
    /// retry), a healthy endpoint none; the 60 s idle timeouts of nginx, ALB or Heroku
    /// cost ten in ten minutes and even a 4-minute cap costs three.
    pub unstable_after: u32,
    /// The window those ends are counted in. Default 10 min: long enough to catch every
    /// common middlebox timeout (30–120 s) three times over, short enough that last
    /// hour's deploy does not count.
    pub unstable_window: Duration,
    /// Time without an unexpected end before an Unstable endpoint is Up again (the second
    /// edge). Default 5 min: longer than the idle timeouts that cause most storms, so a
    /// storm that pauses for one session does not flap back and forth.
    pub stable_after: Duration,
}

/// The longest `unstable_window` and `stable_after`: a storm is about the last minutes or
/// hours; a longer window would count yesterday's deploy against today.
pub const MAX_UNSTABLE_PERIOD: Duration = Duration::from_secs(86_400);

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            degraded_rtt: Some(Duration::from_secs(1)),
            failures_before_down: 2,
            successes_before_up: 1,
            unstable_after: 3,
            unstable_window: Duration::from_secs(600),
            stable_after: Duration::from_secs(300),
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
        if !(2..=100).contains(&self.unstable_after) {
            out.push(FieldError {
                field: "unstable_after".into(),
                problem: "must be between 2 and 100".into(),
            });
        }
        for (field, value) in [
            ("unstable_window", self.unstable_window),
            ("stable_after", self.stable_after),
        ] {
            if value.is_zero() {
                out.push(FieldError {
                    field: field.into(),
                    problem: "must be positive".into(),
                });
            } else if value > MAX_UNSTABLE_PERIOD {
                out.push(FieldError {
                    field: field.into(),
                    problem: "must be at most 1d".into(),
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
    /// A connection attempt failed (or a session ended by a fault before it was ever
    /// answered, counted like a failed attempt).
    Failure,
    /// An open session ended unexpectedly: a failure, and a drop the instability rule counts.
    Dropped,
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
    /// The latest unexpected ends, newest last, at most `unstable_after` of them.
    drops: VecDeque<Timestamp>,
}

impl Health {
    pub fn new(policy: HealthPolicy) -> Self {
        Health {
            policy,
            state: State::Connecting,
            failures: 0,
            alive: 0,
            good: 0,
            drops: VecDeque::new(),
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

    /// Whether the instability rule holds at `now`: enough drops within the window, the last
    /// one less than `stable_after` ago.
    fn unstable_at(&self, now: Timestamp) -> bool {
        let n = usize::try_from(self.policy.unstable_after).unwrap_or(usize::MAX);
        let (Some(first), Some(last)) = (
            self.drops
                .len()
                .checked_sub(n)
                .and_then(|i| self.drops.get(i)),
            self.drops.back(),
        ) else {
            return false;
        };
        let within = |a: Timestamp, b: Timestamp, d: Duration| {
            u64::try_from(b.0.saturating_sub(a.0)).unwrap_or(0)
                < u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
        };
        // Entered when n drops fit in one window; held until a quiet `stable_after`.
        let entered =
            self.state == State::Unstable || within(*first, *last, self.policy.unstable_window);
        entered && within(*last, now, self.policy.stable_after)
    }

    /// Feeds one signal that happened at `at`; returns the transition it caused, if any.
    pub fn apply(&mut self, signal: Signal, at: Timestamp) -> Option<Transition> {
        if signal == Signal::Dropped {
            let n = usize::try_from(self.policy.unstable_after.max(1)).unwrap_or(usize::MAX);
            if self.drops.len() >= n {
                self.drops.pop_front();
            }
            self.drops.push_back(at);
        }
        let next = self.next_state(signal);
        // The instability rule sits over the others: it replaces Up and Degraded while it
        // holds (and its second edge keeps Unstable until a quiet period), never Down,
        // Connecting or Paused.
        let next = match next {
            State::Up | State::Degraded | State::Unstable if self.unstable_at(at) => {
                State::Unstable
            }
            State::Unstable => self.settled(),
            other => other,
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

    /// The state once an Unstable endpoint is quiet again: by its latest heartbeats.
    fn settled(&self) -> State {
        if self.good >= self.policy.successes_before_up {
            State::Up
        } else if self.alive > 0 {
            State::Degraded
        } else {
            State::Connecting
        }
    }

    fn next_state(&mut self, signal: Signal) -> State {
        match (self.state, signal) {
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
            (s, Signal::Failure | Signal::Dropped) => {
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
        }
    }

    fn reset(&mut self) {
        self.failures = 0;
        self.alive = 0;
        self.good = 0;
        self.drops.clear();
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

    /// Feeds `signals` a second apart and checks the state after each one.
    fn check(policy: HealthPolicy, steps: &[(Signal, State)]) {
        let timed: Vec<(f64, Signal, State)> = steps
            .iter()
            .enumerate()
            .map(|(i, (signal, state))| (i as f64, *signal, *state))
            .collect();
        check_at(policy, &timed);
    }

    /// Feeds signals at the given seconds and checks the state after each one.
    fn check_at(policy: HealthPolicy, steps: &[(f64, Signal, State)]) {
        let mut h = Health::new(policy);
        for (i, (secs, signal, expected)) in steps.iter().enumerate() {
            let before = h.state();
            let t = h.apply(*signal, Timestamp((secs * 1000.0).round() as i64));
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

    #[test]
    fn a_drop_storm_is_unstable_even_though_every_reconnect_succeeds() {
        let p = HealthPolicy::default();
        // A proxy cutting every session after 6 s; each new session answers at once.
        let mut steps = vec![(0.0, FAST, Up)];
        for i in 0..3 {
            let t = 6.0 + 7.0 * f64::from(i);
            let expected = if i < 2 { Up } else { Unstable };
            steps.push((t, Dropped, expected));
            steps.push((t + 1.0, FAST, expected));
        }
        // Still dropping: stays Unstable, through slow answers and missed pongs too.
        steps.extend([
            (30.0, SLOW, Unstable),
            (31.0, Unwell, Unstable),
            (34.0, Dropped, Unstable),
            (35.0, FAST, Unstable),
            // Quiet for less than five minutes: still Unstable.
            (333.0, FAST, Unstable),
            // Five minutes without a drop: the second edge.
            (334.0, FAST, Up),
        ]);
        check_at(p, &steps);
    }

    #[test]
    fn drops_spread_wider_than_the_window_are_not_a_storm() {
        let p = HealthPolicy::default();
        // A drop every 5 minutes: two in any 10-minute window.
        check_at(
            p,
            &[
                (0.0, FAST, Up),
                (300.0, Dropped, Up),
                (301.0, FAST, Up),
                (600.0, Dropped, Up),
                (601.0, FAST, Up),
                (900.0, Dropped, Up),
                (901.0, FAST, Up),
            ],
        );
    }

    #[test]
    fn down_outranks_unstable_and_recovery_goes_back_to_unstable() {
        let p = HealthPolicy::default();
        check_at(
            p,
            &[
                (0.0, FAST, Up),
                (1.0, Dropped, Up),
                (2.0, FAST, Up),
                (3.0, Dropped, Up),
                (4.0, FAST, Up),
                (5.0, Dropped, Unstable),
                // The next attempt fails too (the drop was the first failure): Down,
                // whatever the storm.
                (6.0, Failure, Down),
                (7.0, Failure, Down),
                // It answers again within the quiet period: Unstable, not Up.
                (8.0, FAST, Unstable),
                (400.0, SLOW, Degraded),
                (401.0, FAST, Up),
            ],
        );
        // Pausing forgets the storm.
        check_at(
            p,
            &[
                (0.0, FAST, Up),
                (1.0, Dropped, Up),
                (1.5, FAST, Up),
                (2.0, Dropped, Up),
                (2.5, FAST, Up),
                (3.0, Dropped, Unstable),
                (4.0, FAST, Unstable),
                (5.0, Pause, Paused),
                (6.0, Resume, Connecting),
                (7.0, FAST, Up),
            ],
        );
    }

    #[test]
    fn instability_thresholds_are_validated() {
        let bad = HealthPolicy {
            unstable_after: 1,
            unstable_window: Duration::ZERO,
            ..HealthPolicy::default()
        };
        let fields: Vec<String> = bad.problems().into_iter().map(|p| p.field).collect();
        assert_eq!(fields, ["unstable_after", "unstable_window"]);
        assert!(HealthPolicy::default().problems().is_empty());
    }
}
