//! Availability: the one definition of uptime and session stability every reader uses (the
//! store's overview, exports, metrics and the CLI).
//!
//! - **Uptime** = time with an open session while the endpoint was Up ÷ time watched (recorded
//!   and not paused). Time disconnected, backing off, handshaking or failing counts against it,
//!   and so does time Degraded or Unstable, which is reported apart ([`Availability::degraded_share`]).
//!   The health thresholds deliberately let one lost session pass without leaving Up; the
//!   seconds until the next session opens are not uptime for all that.
//! - **Session stability**: unexpected ends (every end except user, shutdown, reconfiguration
//!   and a run's time limit, see [`crate::SessionEnd::is_unexpected`]), drops per watched hour,
//!   median and last session length, and the share of watched time a session was open.
//!
//! Time no agent was recording is unknown: neither watched nor against the endpoint.

use std::time::Duration;

use crate::event::{Event, EventKind, Timestamp};
use crate::health::State;

/// One session as the availability needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSpan {
    pub started: Timestamp,
    /// `None` while open, or when its end was never recorded (a killed agent): such a session
    /// counts as open until the recording that saw it start stopped.
    pub ended: Option<Timestamp>,
    /// Whether its end was unexpected (meaningless while open).
    pub unexpected: bool,
}

/// Everything known about one endpoint over a window `[from, to)`.
#[derive(Debug, Clone, Copy)]
pub struct Watch<'a> {
    pub from: Timestamp,
    pub to: Timestamp,
    /// The state at `from` (`None`: nothing recorded before).
    pub state_before: Option<State>,
    /// State changes in the window, in time order.
    pub states: &'a [(Timestamp, State)],
    /// Sessions that overlap the window (one that started before it included), in time order.
    pub sessions: &'a [SessionSpan],
    /// When an agent was recording, as `[start, end)` spans in any order (`None`: all of the
    /// window was recorded).
    pub recorded: Option<&'a [(Timestamp, Timestamp)]>,
}

/// Uptime and session stability of one endpoint over one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Availability {
    /// Recorded time in each health state.
    pub up: Duration,
    pub degraded: Duration,
    pub unstable: Duration,
    pub down: Duration,
    pub connecting: Duration,
    pub paused: Duration,
    /// Time nobody was recording (or no state was known).
    pub unknown: Duration,
    /// Recorded time not paused: the denominator of every share.
    pub watched: Duration,
    /// Watched time Up with a session open: the numerator of uptime.
    pub available: Duration,
    /// Watched time Degraded or Unstable with a session open.
    pub impaired: Duration,
    /// Watched time with a session open, whatever the state.
    pub connected: Duration,
    /// Sessions that ended in the window, and how many of them unexpectedly.
    pub sessions_ended: u32,
    pub unexpected_ends: u32,
    /// Median length of the sessions that ended in the window.
    pub median_session: Option<Duration>,
    /// Length of the last session that ended in the window.
    pub last_session: Option<Duration>,
    /// Age at the end of the window of the session open then, if one was.
    pub current_session: Option<Duration>,
}

impl Availability {
    /// Available ÷ watched; `None` when nothing was watched.
    pub fn uptime(&self) -> Option<f64> {
        share(self.available, self.watched)
    }

    /// Degraded or Unstable with a session open ÷ watched: reported apart from uptime.
    pub fn degraded_share(&self) -> Option<f64> {
        share(self.impaired, self.watched)
    }

    /// Time with a session open ÷ watched.
    pub fn connected_share(&self) -> Option<f64> {
        share(self.connected, self.watched)
    }

    /// Unexpected ends per watched hour; `None` when nothing was watched.
    pub fn drops_per_hour(&self) -> Option<f64> {
        (!self.watched.is_zero())
            .then(|| f64::from(self.unexpected_ends) * 3600.0 / self.watched.as_secs_f64())
    }

    /// The figures over one window of one endpoint.
    pub fn of(watch: &Watch<'_>) -> Availability {
        compute(watch)
    }

    /// The figures over `[from, to)` from one endpoint's events (state changes, connected
    /// and closed events; the rest are ignored), all recorded. A closed event's session
    /// length places its start, so a session begun before the window counts from `from`.
    pub fn from_events(
        events: &[Event],
        from: Timestamp,
        to: Timestamp,
        state_before: Option<State>,
    ) -> Availability {
        let mut states = Vec::new();
        let mut sessions: Vec<SessionSpan> = Vec::new();
        let mut open: Option<Timestamp> = None;
        for e in events {
            match &e.kind {
                EventKind::StateChanged { to: s, .. } => states.push((e.at, *s)),
                EventKind::Connected { .. } => open = Some(e.at),
                EventKind::Closed { end, stats } => {
                    let lasted = i64::try_from(stats.duration.as_millis()).unwrap_or(i64::MAX);
                    let started = open
                        .take()
                        .unwrap_or(Timestamp(e.at.0.saturating_sub(lasted)));
                    sessions.push(SessionSpan {
                        started,
                        ended: Some(e.at),
                        unexpected: end.is_unexpected(),
                    });
                }
                _ => {}
            }
        }
        if let Some(started) = open {
            sessions.push(SessionSpan {
                started,
                ended: None,
                unexpected: false,
            });
        }
        compute(&Watch {
            from,
            to,
            state_before,
            states: &states,
            sessions: &sessions,
            recorded: None,
        })
    }
}

fn share(part: Duration, whole: Duration) -> Option<f64> {
    (!whole.is_zero()).then(|| part.as_secs_f64() / whole.as_secs_f64())
}

/// Sorted, disjoint, non-empty `[start, end)` spans in milliseconds.
type Spans = Vec<(i64, i64)>;

fn normalize(mut v: Spans) -> Spans {
    v.retain(|(a, b)| a < b);
    v.sort_unstable();
    let mut out: Spans = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn intersect(a: &[(i64, i64)], b: &[(i64, i64)]) -> Spans {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let start = a[i].0.max(b[j].0);
        let end = a[i].1.min(b[j].1);
        if start < end {
            out.push((start, end));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn measure(v: &[(i64, i64)]) -> Duration {
    let ms: i64 = v.iter().map(|(a, b)| b - a).sum();
    Duration::from_millis(ms.max(0).unsigned_abs())
}

fn millis(d: Timestamp, e: Timestamp) -> Duration {
    Duration::from_millis(e.0.saturating_sub(d.0).max(0).unsigned_abs())
}

fn compute(w: &Watch<'_>) -> Availability {
    let (from, to) = (w.from.0, w.to.0);
    let mut out = Availability::default();
    if to <= from {
        return out;
    }
    let window = vec![(from, to)];
    let recorded = match w.recorded {
        Some(runs) => intersect(
            &normalize(runs.iter().map(|(a, b)| (a.0, b.0)).collect()),
            &window,
        ),
        None => window.clone(),
    };

    // Piecewise-constant state: (start, state) pieces over the window.
    let mut pieces: Vec<(i64, Option<State>)> = vec![(from, w.state_before)];
    pieces.extend(
        w.states
            .iter()
            .filter(|(at, _)| at.0 >= from && at.0 < to)
            .map(|(at, s)| (at.0, Some(*s))),
    );
    let in_state = |want: Option<State>| -> Spans {
        let mut v = Vec::new();
        for (i, (start, s)) in pieces.iter().enumerate() {
            let end = pieces.get(i + 1).map_or(to, |p| p.0);
            if *s == want {
                v.push((*start, end));
            }
        }
        intersect(&normalize(v), &recorded)
    };
    let up = in_state(Some(State::Up));
    let degraded = normalize(
        [
            in_state(Some(State::Degraded)),
            in_state(Some(State::Unstable)),
        ]
        .concat(),
    );
    let down = in_state(Some(State::Down));
    let connecting = in_state(Some(State::Connecting));
    out.up = measure(&up);
    out.unstable = measure(&in_state(Some(State::Unstable)));
    out.degraded = measure(&degraded).saturating_sub(out.unstable);
    out.down = measure(&down);
    out.connecting = measure(&connecting);
    out.paused = measure(&in_state(Some(State::Paused)));
    let known = out.up + out.degraded + out.unstable + out.down + out.connecting + out.paused;
    out.unknown = millis(w.from, w.to).saturating_sub(known);
    // Watched: recorded, a state known and not Paused.
    let watched = normalize([up.clone(), degraded.clone(), down, connecting].concat());
    out.watched = measure(&watched);

    // Sessions: open spans, an unrecorded end closed where its recording stopped.
    let recorded_end_after = |t: i64| -> i64 {
        recorded
            .iter()
            .find(|(a, b)| *a <= t && t < *b)
            .map_or(t, |(_, b)| *b)
    };
    let open: Spans = normalize(
        w.sessions
            .iter()
            .map(|s| {
                let end = match s.ended {
                    Some(e) => e.0,
                    None => recorded_end_after(s.started.0.max(from)),
                };
                (s.started.0.max(from), end.min(to))
            })
            .collect(),
    );
    let open = intersect(&open, &watched);
    out.connected = measure(&open);
    out.available = measure(&intersect(&open, &up));
    out.impaired = measure(&intersect(&open, &degraded));

    let mut lengths: Vec<Duration> = Vec::new();
    for s in w.sessions {
        match s.ended {
            Some(e) if e.0 >= from && e.0 < to => {
                out.sessions_ended += 1;
                out.unexpected_ends += u32::from(s.unexpected);
                lengths.push(millis(s.started, e));
            }
            Some(_) => {}
            None => {
                if s.started.0 < to && recorded_end_after(s.started.0.max(from)) >= to {
                    out.current_session = Some(millis(s.started, w.to));
                }
            }
        }
    }
    out.last_session = lengths.last().copied();
    lengths.sort_unstable();
    out.median_session = match lengths.len() {
        0 => None,
        n if n % 2 == 1 => Some(lengths[n / 2]),
        n => Some((lengths[n / 2 - 1] + lengths[n / 2]) / 2),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::{Connecting, Degraded, Down, Paused, Up};

    /// A synthetic history in seconds: states, sessions and recorded spans.
    #[derive(Default)]
    struct H {
        before: Option<State>,
        states: Vec<(Timestamp, State)>,
        sessions: Vec<SessionSpan>,
        recorded: Option<Vec<(Timestamp, Timestamp)>>,
    }

    fn t(s: f64) -> Timestamp {
        Timestamp((s * 1000.0).round() as i64)
    }

    impl H {
        fn before(mut self, s: State) -> Self {
            self.before = Some(s);
            self
        }
        fn state(mut self, at: f64, s: State) -> Self {
            self.states.push((t(at), s));
            self
        }
        /// A session from `a` to `b`; `drop` says whether its end was unexpected.
        fn session(mut self, a: f64, b: f64, drop: bool) -> Self {
            self.sessions.push(SessionSpan {
                started: t(a),
                ended: Some(t(b)),
                unexpected: drop,
            });
            self
        }
        fn open(mut self, a: f64) -> Self {
            self.sessions.push(SessionSpan {
                started: t(a),
                ended: None,
                unexpected: false,
            });
            self
        }
        fn recorded(mut self, a: f64, b: f64) -> Self {
            self.recorded
                .get_or_insert_with(Vec::new)
                .push((t(a), t(b)));
            self
        }
    }

    /// What a row of the table expects (percentages and rates rounded to 0.1).
    #[derive(Debug, PartialEq)]
    struct Expect {
        uptime: Option<f64>,
        degraded: Option<f64>,
        connected: Option<f64>,
        drops: u32,
        drops_per_hour: Option<f64>,
        median_s: Option<f64>,
        last_s: Option<f64>,
    }

    fn round(x: Option<f64>) -> Option<f64> {
        x.map(|v| (v * 10.0).round() / 10.0)
    }

    /// Computes `[0, to)` for the history and compares with the expected figures.
    fn check(name: &str, h: H, to: f64, e: Expect) {
        let a = Availability::of(&Watch {
            from: t(0.0),
            to: t(to),
            state_before: h.before,
            states: &h.states,
            sessions: &h.sessions,
            recorded: h.recorded.as_deref(),
        });
        let got = Expect {
            uptime: round(a.uptime().map(|u| u * 100.0)),
            degraded: round(a.degraded_share().map(|u| u * 100.0)),
            connected: round(a.connected_share().map(|u| u * 100.0)),
            drops: a.unexpected_ends,
            drops_per_hour: round(a.drops_per_hour()),
            median_s: round(a.median_session.map(|d| d.as_secs_f64())),
            last_s: round(a.last_session.map(|d| d.as_secs_f64())),
        };
        assert_eq!(got, e, "{name}: {a:?}");
    }

    #[test]
    fn availability_table() {
        // Steady: one session open for the whole hour.
        check(
            "steady",
            H::default().before(Up).open(-100.0),
            3600.0,
            Expect {
                uptime: Some(100.0),
                degraded: Some(0.0),
                connected: Some(100.0),
                drops: 0,
                drops_per_hour: Some(0.0),
                median_s: None,
                last_s: None,
            },
        );
        // Behind a 6 s idle timeout with 1 s to reconnect: Up all along by the state
        // machine, 6 of every 7 seconds connected, 10 minutes → 85 drops at 514/h.
        let mut proxy = H::default().state(0.0, Up);
        let mut at = 0.0;
        while at + 7.0 <= 600.0 {
            proxy = proxy.session(at, at + 6.0, true);
            at += 7.0;
        }
        check(
            "proxy idle timeout",
            proxy,
            600.0,
            Expect {
                uptime: Some(85.0),
                degraded: Some(0.0),
                connected: Some(85.0),
                drops: 85,
                drops_per_hour: Some(510.0),
                median_s: Some(6.0),
                last_s: Some(6.0),
            },
        );
        // Degraded is reported apart and not counted as up; Down time counts against.
        check(
            "degraded and down",
            H::default()
                .state(0.0, Up)
                .session(0.0, 60.0, true)
                .state(30.0, Degraded)
                .state(61.0, Down)
                .state(90.0, Up)
                .open(90.0),
            120.0,
            Expect {
                uptime: Some(50.0),
                degraded: Some(25.0),
                connected: Some(75.0),
                drops: 1,
                drops_per_hour: Some(30.0),
                median_s: Some(60.0),
                last_s: Some(60.0),
            },
        );
        // Unstable is no uptime, connected or not; reported with Degraded.
        check(
            "unstable",
            H::default()
                .state(0.0, Up)
                .session(0.0, 6.0, true)
                .session(7.0, 13.0, true)
                .session(14.0, 20.0, true)
                .state(20.0, State::Unstable)
                .session(21.0, 27.0, true)
                .session(28.0, 34.0, true)
                .open(35.0),
            40.0,
            Expect {
                uptime: Some(45.0),
                degraded: Some(42.5),
                connected: Some(87.5),
                drops: 5,
                drops_per_hour: Some(450.0),
                median_s: Some(6.0),
                last_s: Some(6.0),
            },
        );
        // Paused time is not watched; the user's own close is no drop.
        check(
            "paused",
            H::default()
                .state(0.0, Up)
                .session(0.0, 50.0, false)
                .state(50.0, Paused)
                .state(150.0, Connecting)
                .state(151.0, Up)
                .open(151.0),
            200.0,
            Expect {
                uptime: Some(99.0),
                degraded: Some(0.0),
                connected: Some(99.0),
                drops: 0,
                drops_per_hour: Some(0.0),
                median_s: Some(50.0),
                last_s: Some(50.0),
            },
        );
        // Unrecorded time is neither watched nor against; a session whose end was never
        // recorded ends with its recording, not at the next run.
        check(
            "agent gap",
            H::default()
                .before(Up)
                .open(-10.0)
                .state(200.0, Up)
                .session(200.0, 300.0, true)
                .recorded(0.0, 100.0)
                .recorded(200.0, 400.0),
            400.0,
            Expect {
                uptime: Some(66.7),
                degraded: Some(0.0),
                connected: Some(66.7),
                drops: 1,
                drops_per_hour: Some(12.0),
                median_s: Some(100.0),
                last_s: Some(100.0),
            },
        );
        // Nothing watched: no figures rather than 100 % or 0 %.
        check(
            "never watched",
            H::default().before(Paused),
            60.0,
            Expect {
                uptime: None,
                degraded: None,
                connected: None,
                drops: 0,
                drops_per_hour: None,
                median_s: None,
                last_s: None,
            },
        );
        // No state known at all (new endpoint, nothing before): unknown, not watched.
        check(
            "state unknown until it is known",
            H::default().state(30.0, Up).open(30.0),
            60.0,
            Expect {
                uptime: Some(100.0),
                degraded: Some(0.0),
                connected: Some(100.0),
                drops: 0,
                drops_per_hour: Some(0.0),
                median_s: None,
                last_s: None,
            },
        );
        // Median of odd and even counts; last is the latest to end.
        check(
            "median and last",
            H::default()
                .before(Up)
                .session(0.0, 10.0, true)
                .session(11.0, 41.0, true)
                .session(42.0, 44.0, true)
                .session(45.0, 65.0, true),
            100.0,
            Expect {
                uptime: Some(62.0),
                degraded: Some(0.0),
                connected: Some(62.0),
                drops: 4,
                drops_per_hour: Some(144.0),
                median_s: Some(15.0),
                last_s: Some(20.0),
            },
        );
    }

    #[test]
    fn from_events_matches_spans() {
        use crate::endpoint::EndpointId;
        use crate::event::{Handshake, Phases, SessionEnd, SessionStats};
        let ev = |s: f64, kind: EventKind| Event {
            at: t(s),
            endpoint: EndpointId(1),
            kind,
        };
        let closed = |lasted: f64, end: SessionEnd| EventKind::Closed {
            end,
            stats: SessionStats {
                duration: Duration::from_secs_f64(lasted),
                ..SessionStats::default()
            },
        };
        let connected = EventKind::Connected {
            attempt: 1,
            handshake: Handshake {
                phases: Phases::default(),
                peer: "127.0.0.1:1".parse().expect("literal address"),
                subprotocol: None,
                extensions: Vec::new(),
            },
        };
        let events = vec![
            // A session begun before the window, lost 5 s into it.
            ev(
                5.0,
                closed(
                    20.0,
                    SessionEnd::Lost {
                        error: "eof".into(),
                    },
                ),
            ),
            ev(6.0, connected.clone()),
            ev(
                16.0,
                closed(
                    10.0,
                    SessionEnd::ClosedByClient {
                        cause: crate::event::CloseCause::User,
                        code: 1000,
                        reason: String::new(),
                        clean: true,
                    },
                ),
            ),
            ev(20.0, connected),
        ];
        let a = Availability::from_events(&events, t(0.0), t(40.0), Some(Up));
        assert_eq!(a.connected, Duration::from_secs(35));
        assert_eq!(a.available, Duration::from_secs(35));
        assert_eq!((a.sessions_ended, a.unexpected_ends), (2, 1));
        assert_eq!(a.current_session, Some(Duration::from_secs(20)));
        assert_eq!(a.median_session, Some(Duration::from_secs(15)));
    }
}
