//! A simulated endpoint: heartbeat round trips plus the rare events a real fleet produces, in
//! time order, as the engine would hand them to its observers.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use heartline_core::{
    CloseCause, EndpointId, Event, EventKind, FailedPhase, Handshake, HandshakeFailure, Phase,
    Phases, PingKind, RetryReason, SessionEnd, SessionStats, State, Timestamp,
};

use crate::util::{Rng, DAY_MS, MINUTE_MS, WEEK_MS};

/// How often each kind of trouble happens to one endpoint (Poisson arrivals).
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// Connection lost without a close frame (1006); reconnected at the first attempt.
    pub drops_per_day: f64,
    /// Server closes with 1012 (a deploy); reconnected promptly.
    pub restarts_per_day: f64,
    /// One protocol pong missed: Up → Degraded, back Up at the next answered ping.
    pub missed_per_day: f64,
    /// Pongs stop, Heartline closes (pong timeout), reconnects fail with backoff for 2–30 min:
    /// Up → Degraded → Down → Up, an incident.
    pub outages_per_week: f64,
    /// Round trips above the 1 s threshold for 2–10 min: Up → Degraded → Up.
    pub slow_per_week: f64,
}

impl Mix {
    /// The mix for the real-time writer run, given per endpoint per hour.
    pub fn per_hour(drop: f64, restart: f64, missed: f64, outage: f64, slow: f64) -> Mix {
        Mix {
            drops_per_day: drop * 24.0,
            restarts_per_day: restart * 24.0,
            missed_per_day: missed * 24.0,
            outages_per_week: outage * 24.0 * 7.0,
            slow_per_week: slow * 24.0 * 7.0,
        }
    }

    fn means_ms(&self) -> [f64; 5] {
        let mean = |per: f64, span: i64| {
            if per > 0.0 {
                span as f64 / per
            } else {
                f64::INFINITY
            }
        };
        [
            mean(self.drops_per_day, DAY_MS),
            mean(self.restarts_per_day, DAY_MS),
            mean(self.missed_per_day, DAY_MS),
            mean(self.outages_per_week, WEEK_MS),
            mean(self.slow_per_week, WEEK_MS),
        ]
    }
}

const DROP: usize = 0;
const RESTART: usize = 1;
const MISSED: usize = 2;
const OUTAGE: usize = 3;
const SLOW: usize = 4;

/// One endpoint's life.
#[derive(Debug)]
pub struct EndpointSim {
    pub id: EndpointId,
    rng: Rng,
    /// Median protocol round trip of this endpoint, µs.
    median_us: f64,
    interval_ms: i64,
    means: [f64; 5],
    next: [i64; 5],
    /// Scheduled events, in time order.
    pending: VecDeque<Event>,
    /// End of the scenario in progress: the next one starts after it.
    busy_until: i64,
    /// No round trips are answered before this (disconnected).
    quiet_until: i64,
    /// Round trips are slow (a latency incident) before this.
    slow_until: i64,
    session_start: i64,
    /// Events-only mode: put one round trip before each scenario, as heartbeats would.
    mark_heartbeats: bool,
}

impl EndpointSim {
    /// Connects at `start` (Connected, then Connecting → Up).
    pub fn new(id: u64, seed: u64, start: i64, interval_ms: i64, mix: Mix) -> EndpointSim {
        let mut rng = Rng::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ id);
        // Sites from 8 ms (same region) to ~80 ms (other continent), log-uniform.
        let median_us = 8_000.0 * 10f64.powf(rng.unit());
        let means = mix.means_ms();
        let mut next = [0i64; 5];
        for (n, mean) in next.iter_mut().zip(means) {
            *n = start.saturating_add(exp_ms(&mut rng, mean));
        }
        let mut sim = EndpointSim {
            id: EndpointId(id),
            rng,
            median_us,
            interval_ms,
            means,
            next,
            pending: VecDeque::new(),
            busy_until: start,
            quiet_until: start,
            slow_until: start,
            session_start: start,
            mark_heartbeats: false,
        };
        let connected = sim.connected(1);
        sim.push(start, connected);
        sim.push(
            start,
            EventKind::StateChanged {
                from: State::Connecting,
                to: State::Up,
            },
        );
        sim
    }

    /// Events-only mode (no round trips are asked for): a round trip is put before each
    /// scenario so the incident tracker sees the healthy moment before trouble.
    pub fn marking_heartbeats(mut self) -> EndpointSim {
        self.mark_heartbeats = true;
        self
    }

    /// Emits every event due at or before `t`, starting the scenarios whose time has come.
    pub fn events_until(&mut self, t: i64, out: &mut impl FnMut(Event)) {
        loop {
            while self.pending.front().is_some_and(|e| e.at.0 <= t) {
                if let Some(e) = self.pending.pop_front() {
                    out(e);
                }
            }
            let Some((k, at)) = self
                .next
                .iter()
                .copied()
                .enumerate()
                .min_by_key(|&(_, at)| at)
            else {
                return;
            };
            if at > t {
                return;
            }
            let begin = at.max(self.busy_until + 1_000);
            if begin > at {
                self.next[k] = begin;
                continue;
            }
            if self.mark_heartbeats {
                let rtt = self.rtt(begin - 1);
                self.push(begin - 1, rtt);
            }
            match k {
                DROP => self.drop_and_reconnect(begin),
                RESTART => self.server_restart(begin),
                MISSED => self.missed_pong(begin),
                OUTAGE => self.outage(begin),
                SLOW => self.slow(begin),
                _ => {}
            }
            let gap = exp_ms(&mut self.rng, self.means[k]);
            self.next[k] = begin.saturating_add(gap);
        }
    }

    /// The round trip answered at `t`, or `None` while disconnected.
    pub fn rtt_at(&mut self, t: i64) -> Option<Event> {
        (t >= self.quiet_until).then(|| Event {
            at: Timestamp(t),
            endpoint: self.id,
            kind: self.rtt(t),
        })
    }

    fn rtt(&mut self, t: i64) -> EventKind {
        // Log-normal around the site's median, ±15 % over the day, 0.3 % spikes ×4–20,
        // and 1.2–3 s during a latency incident.
        let phase = (t.rem_euclid(DAY_MS)) as f64 / DAY_MS as f64;
        let diurnal = 1.0 + 0.15 * (std::f64::consts::TAU * phase).sin();
        let mut us = self.median_us * diurnal * (0.25 * self.rng.normal()).exp();
        if self.rng.chance(0.003) {
            us *= self.rng.range(4.0, 20.0);
        }
        if t < self.slow_until {
            us = self.rng.range(1_200_000.0, 3_000_000.0);
        }
        EventKind::Rtt {
            kind: PingKind::Protocol,
            rtt: Duration::from_micros(us.max(1.0) as u64),
        }
    }

    fn push(&mut self, at: i64, kind: EventKind) {
        self.busy_until = self.busy_until.max(at);
        self.pending.push_back(Event {
            at: Timestamp(at),
            endpoint: self.id,
            kind,
        });
    }

    fn median_rtt(&self) -> Duration {
        Duration::from_micros(self.median_us as u64)
    }

    fn connected(&mut self, attempt: u32) -> EventKind {
        let rtt = self.median_rtt();
        let jitter = |rng: &mut Rng| rng.range(0.9, 1.3);
        let phases = Phases {
            dns: Duration::from_micros(self.rng.int(300, 4_000).unsigned_abs()),
            tcp: rtt.mul_f64(jitter(&mut self.rng)),
            tls: Some(rtt.mul_f64(2.0 * jitter(&mut self.rng))),
            upgrade: rtt.mul_f64(jitter(&mut self.rng)),
        };
        let host = u8::try_from(self.id.0 % 250).unwrap_or(0) + 1;
        EventKind::Connected {
            attempt,
            handshake: Handshake {
                phases,
                peer: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, host)), 443),
                subprotocol: None,
                extensions: Vec::new(),
            },
        }
    }

    fn stats(&mut self, end: i64) -> SessionStats {
        let secs = u64::try_from((end - self.session_start).max(0) / 1000).unwrap_or(0);
        SessionStats {
            duration: Duration::from_millis(u64::try_from(end - self.session_start).unwrap_or(0)),
            silent_for: Duration::from_millis(self.rng.int(0, 2_000).unsigned_abs()),
            // A feed of about one 300-byte message a second; an application heartbeat every 30 s.
            messages_in: secs,
            bytes_in: secs * 300,
            messages_out: secs / 30,
            bytes_out: secs / 30 * 40,
        }
    }

    /// Reconnects after `delay`; returns when the session is open again.
    fn reconnect_once(&mut self, at: i64, delay_ms: i64, reason: RetryReason) -> i64 {
        self.push(
            at,
            EventKind::ReconnectScheduled {
                attempt: 1,
                delay: Duration::from_millis(delay_ms.unsigned_abs()),
                reason,
            },
        );
        let open = at + delay_ms + 4 * self.median_rtt().as_millis().max(1) as i64;
        let connected = self.connected(1);
        self.push(open, connected);
        self.session_start = open;
        self.quiet_until = open;
        open
    }

    fn drop_and_reconnect(&mut self, t: i64) {
        let stats = self.stats(t);
        self.push(
            t,
            EventKind::Closed {
                end: SessionEnd::Lost {
                    error: "connection reset by peer (os error 104)".into(),
                },
                stats,
            },
        );
        let delay = self.rng.int(250, 750);
        self.reconnect_once(t, delay, RetryReason::Backoff);
    }

    fn server_restart(&mut self, t: i64) {
        let stats = self.stats(t);
        self.push(
            t,
            EventKind::Closed {
                end: SessionEnd::ClosedByServer {
                    code: 1012,
                    reason: "service restart".into(),
                },
                stats,
            },
        );
        let delay = self.rng.int(100, 300);
        self.reconnect_once(t, delay, RetryReason::ServiceRestart);
    }

    fn missed_pong(&mut self, t: i64) {
        self.push(
            t,
            EventKind::PongMissed {
                kind: PingKind::Protocol,
                missed: 1,
            },
        );
        self.push(
            t,
            EventKind::StateChanged {
                from: State::Up,
                to: State::Degraded,
            },
        );
        let back = t + self.interval_ms;
        self.push(
            back,
            EventKind::StateChanged {
                from: State::Degraded,
                to: State::Up,
            },
        );
        self.quiet_until = self.quiet_until.max(t + 1);
    }

    fn outage(&mut self, t: i64) {
        let length = self.rng.int(2 * MINUTE_MS, 30 * MINUTE_MS);
        self.quiet_until = i64::MAX; // until reconnected below
        self.push(
            t,
            EventKind::PongMissed {
                kind: PingKind::Protocol,
                missed: 1,
            },
        );
        self.push(
            t,
            EventKind::StateChanged {
                from: State::Up,
                to: State::Degraded,
            },
        );
        self.push(
            t + 10_000,
            EventKind::PongMissed {
                kind: PingKind::Protocol,
                missed: 2,
            },
        );
        let closed_at = t + 20_000;
        let stats = self.stats(closed_at);
        self.push(
            closed_at,
            EventKind::Closed {
                end: SessionEnd::ClosedByClient {
                    cause: CloseCause::PongTimeout,
                    code: 1001,
                    reason: "pong timeout".into(),
                    clean: false,
                },
                stats,
            },
        );
        let mut at = closed_at;
        let mut attempt = 1u32;
        let mut delay_ms = 500.0;
        let mut down = false;
        while at < t + length {
            let delay = (delay_ms * self.rng.range(0.8, 1.2)) as i64;
            self.push(
                at,
                EventKind::ReconnectScheduled {
                    attempt,
                    delay: Duration::from_millis(delay.unsigned_abs()),
                    reason: RetryReason::Backoff,
                },
            );
            at += delay;
            let roll = self.rng.unit();
            let (phase, error, elapsed) = if roll < 0.5 {
                (FailedPhase::Tcp, "connection refused (os error 111)", 2)
            } else if roll < 0.8 {
                (
                    FailedPhase::Http {
                        status: Some(503),
                        retry_after: None,
                    },
                    "503 Service Unavailable",
                    40,
                )
            } else {
                (
                    FailedPhase::Timeout { during: Phase::Tls },
                    "handshake deadline of 10s passed",
                    10_000,
                )
            };
            at += elapsed;
            self.push(
                at,
                EventKind::HandshakeFailed(HandshakeFailure {
                    phase,
                    error: error.into(),
                    elapsed: Duration::from_millis(elapsed.unsigned_abs()),
                }),
            );
            if !down {
                down = true;
                self.push(
                    at,
                    EventKind::StateChanged {
                        from: State::Degraded,
                        to: State::Down,
                    },
                );
            }
            attempt += 1;
            delay_ms = (delay_ms * 2.0).min(60_000.0);
        }
        let delay = (delay_ms * self.rng.range(0.8, 1.2)) as i64;
        self.push(
            at,
            EventKind::ReconnectScheduled {
                attempt,
                delay: Duration::from_millis(delay.unsigned_abs()),
                reason: RetryReason::Backoff,
            },
        );
        let open = at + delay + 4 * self.median_rtt().as_millis().max(1) as i64;
        let connected = self.connected(attempt);
        self.push(open, connected);
        self.push(
            open + self.interval_ms.min(1_000),
            EventKind::StateChanged {
                from: State::Down,
                to: State::Up,
            },
        );
        self.session_start = open;
        self.quiet_until = open;
    }

    fn slow(&mut self, t: i64) {
        let length = self.rng.int(2 * MINUTE_MS, 10 * MINUTE_MS);
        self.slow_until = t + length;
        self.push(
            t,
            EventKind::StateChanged {
                from: State::Up,
                to: State::Degraded,
            },
        );
        self.push(
            t + length,
            EventKind::StateChanged {
                from: State::Degraded,
                to: State::Up,
            },
        );
    }
}

fn exp_ms(rng: &mut Rng, mean: f64) -> i64 {
    if mean.is_finite() {
        rng.exp(mean) as i64
    } else {
        i64::MAX / 4
    }
}
