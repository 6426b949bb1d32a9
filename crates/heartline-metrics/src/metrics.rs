//! The metric families and how events fold into them.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use heartline_core::close_code::class_of_end;
use heartline_core::{
    EndpointId, Event, EventKind, IncidentTracker, Phase, PingKind, State, Timestamp,
};

/// Every Heartline metric, ready to be scraped. Share it behind an `Arc`: every method takes
/// `&self`, and the engine calls [`Metrics::observe`] from many sessions at once.
pub struct Metrics {
    registry: Registry,
    families: Families,
    endpoints: RwLock<Endpoints>,
}

impl Metrics {
    pub fn new() -> Self {
        let families = Families::default();
        let mut registry = Registry::with_prefix("heartline");
        families.register(&mut registry);
        Metrics {
            registry,
            families,
            endpoints: RwLock::new(Endpoints::default()),
        }
    }

    /// Names the endpoint for labels. Call it when an endpoint is added — before its first
    /// event, so no series is born under the `endpoint-<id>` stand-in — and when it is renamed.
    ///
    /// The endpoint's series appear at once (state `connecting`, counters at 0), so a fleet
    /// query sees it before anything has happened. A rename moves the current state to the new
    /// name and starts its counters and histograms afresh: to Prometheus the new name is a new
    /// series either way. A name another endpoint already carries is labelled `name#id`,
    /// because two endpoints sharing one label set would sum into each other.
    pub fn set_endpoint(&self, id: EndpointId, name: &str) {
        let mut endpoints = self.write();
        endpoints.removed.remove(&id);
        if endpoints
            .by_id
            .get(&id)
            .is_some_and(|known| known.name.as_deref() == Some(name))
        {
            return;
        }
        let state = match endpoints.by_id.remove(&id) {
            Some(old) => {
                endpoints.labels.remove(&old.label);
                self.families.forget(&old);
                old.book().state
            }
            None => State::Connecting,
        };
        let label = endpoints.unique_label(id, Some(name));
        self.adopt(&mut endpoints, id, Some(name), label, state);
    }

    /// Forgets the endpoint: removes every series it has, so a removed endpoint vanishes from
    /// `/metrics` instead of reporting its last state forever. Events for it that arrive later
    /// (a session closing after this call) are ignored until it is named again.
    pub fn remove_endpoint(&self, id: EndpointId) {
        let mut endpoints = self.write();
        endpoints.removed.insert(id);
        if let Some(old) = endpoints.by_id.remove(&id) {
            endpoints.labels.remove(&old.label);
            self.families.forget(&old);
        }
    }

    /// Folds one event in. The engine calls this synchronously for every event of every
    /// endpoint, so the heartbeat path costs a shared lock and a label lookup, nothing more.
    pub fn observe(&self, event: &Event) {
        {
            let endpoints = self.read();
            if let Some(known) = endpoints.by_id.get(&event.endpoint) {
                self.families.fold(known, event.at, &event.kind);
                self.families.track(known, event);
                return;
            }
        }
        // First sight of an unnamed endpoint: label it by id so its events still count.
        {
            let mut endpoints = self.write();
            let id = event.endpoint;
            if endpoints.removed.contains(&id) {
                return;
            }
            if !endpoints.by_id.contains_key(&id) {
                let label = endpoints.unique_label(id, None);
                self.adopt(&mut endpoints, id, None, label, State::Connecting);
            }
        }
        let endpoints = self.read();
        if let Some(known) = endpoints.by_id.get(&event.endpoint) {
            self.families.fold(known, event.at, &event.kind);
            self.families.track(known, event);
        }
    }

    /// The OpenMetrics text exposition of every series, as prometheus-client encodes it.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            // Writing to a String cannot fail; a label that refused to encode would land here.
            tracing::error!(error = %e, "encoding metrics failed; the exposition is incomplete");
        }
        out
    }

    /// An engine observer (`EngineOptions::observers`) that forwards every event here.
    pub fn observer(self: &Arc<Self>) -> Arc<dyn heartline_core::Sink> {
        let metrics = Arc::clone(self);
        Arc::new(move |event: Event| metrics.observe(&event))
    }

    fn adopt(
        &self,
        endpoints: &mut Endpoints,
        id: EndpointId,
        name: Option<&str>,
        label: Arc<str>,
        state: State,
    ) {
        let known = Known {
            name: name.map(Box::from),
            label: label.clone(),
            book: Mutex::new(Book::new(state)),
        };
        self.families.introduce(&known, state);
        endpoints.labels.insert(label);
        endpoints.by_id.insert(id, known);
    }

    fn read(&self) -> RwLockReadGuard<'_, Endpoints> {
        // A panic while holding the lock leaves plain bookkeeping behind; keep counting.
        self.endpoints
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Endpoints> {
        self.endpoints
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("endpoints", &self.read().by_id.len())
            .finish_non_exhaustive()
    }
}

/// The health states in stateset order.
const STATES: [State; 6] = [
    State::Connecting,
    State::Up,
    State::Degraded,
    State::Unstable,
    State::Down,
    State::Paused,
];
const PING_KINDS: [PingKind; 2] = [PingKind::Protocol, PingKind::App];
const PHASES: [Phase; 4] = [Phase::Dns, Phase::Tcp, Phase::Tls, Phase::Upgrade];

/// Round trips and handshake phases: 100 µs doubling to ~13 s, so both a loopback echo and a
/// congested intercontinental link land in a bucket that tells them apart.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 18))
}

/// Session lengths: 1 s doubling to ~18 h, then one day — the spans idle timeouts and
/// nightly restarts produce.
fn session_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 17).chain([86_400.0]))
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    endpoint: Arc<str>,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    endpoint: Arc<str>,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabels {
    endpoint: Arc<str>,
    code: u16,
    initiator: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    endpoint: Arc<str>,
    cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    endpoint: Arc<str>,
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    endpoint: Arc<str>,
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IncidentLabels {
    endpoint: Arc<str>,
    kind: &'static str,
    cause: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    endpoint: Arc<str>,
    status: u16,
}

/// The metric families. Each is a cheap handle onto shared storage, also held by the registry.
struct Families {
    up: Family<EndpointLabels, Gauge>,
    state: Family<StateLabels, Gauge>,
    rtt: HistogramFamily<KindLabels>,
    closes: Family<CloseLabels, Counter>,
    closed_by_us: Family<CauseLabels, Counter>,
    handshake_failures: Family<PhaseLabels, Counter>,
    handshake_http_status: Family<StatusLabels, Counter>,
    reconnects: Family<EndpointLabels, Counter>,
    pong_missed: Family<KindLabels, Counter>,
    stale: Family<EndpointLabels, Counter>,
    session_duration: HistogramFamily<EndpointLabels>,
    handshake_phase: HistogramFamily<PhaseLabels>,
    unexpected_ends: Family<ClassLabels, Counter>,
    session_open: Family<EndpointLabels, Gauge>,
    session_started: Family<EndpointLabels, Gauge>,
    incident: Family<IncidentLabels, Gauge>,
}

impl Default for Families {
    fn default() -> Self {
        Families {
            up: Family::default(),
            state: Family::default(),
            rtt: Family::new_with_constructor(latency_histogram),
            closes: Family::default(),
            closed_by_us: Family::default(),
            handshake_failures: Family::default(),
            handshake_http_status: Family::default(),
            reconnects: Family::default(),
            pong_missed: Family::default(),
            stale: Family::default(),
            session_duration: Family::new_with_constructor(session_histogram),
            handshake_phase: Family::new_with_constructor(latency_histogram),
            unexpected_ends: Family::default(),
            session_open: Family::default(),
            session_started: Family::default(),
            incident: Family::default(),
        }
    }
}

impl Families {
    fn register(&self, r: &mut Registry) {
        r.register(
            "endpoint_up",
            "1 while the endpoint is up or degraded (a session is answering), 0 otherwise",
            self.up.clone(),
        );
        r.register(
            "endpoint_state",
            "Current health state as a stateset: 1 for the current state, 0 for the others",
            self.state.clone(),
        );
        r.register_with_unit(
            "rtt",
            "Heartbeat round trip, send to reply, by heartbeat kind (protocol ping or app)",
            Unit::Seconds,
            self.rtt.clone(),
        );
        r.register(
            "closes",
            "Sessions ended, by close code (1006 when no close frame) and who ended them",
            self.closes.clone(),
        );
        r.register(
            "closed_by_us",
            "Sessions Heartline itself closed, by cause",
            self.closed_by_us.clone(),
        );
        r.register(
            "handshake_failures",
            "Connection attempts that failed before the session opened, by phase",
            self.handshake_failures.clone(),
        );
        r.register(
            "handshake_http_status",
            "Upgrades refused with an HTTP status other than 101, by status",
            self.handshake_http_status.clone(),
        );
        r.register(
            "reconnects",
            "Reconnects scheduled after a session ended or an attempt failed",
            self.reconnects.clone(),
        );
        r.register(
            "pong_missed",
            "Heartbeat replies that did not arrive in time, by heartbeat kind",
            self.pong_missed.clone(),
        );
        r.register(
            "stale",
            "Times no application message arrived within the staleness window",
            self.stale.clone(),
        );
        r.register_with_unit(
            "session_duration",
            "Length of ended sessions, from handshake to close",
            Unit::Seconds,
            self.session_duration.clone(),
        );
        r.register(
            "unexpected_ends",
            "Sessions that ended unexpectedly (drops: every end but the user's, a shutdown, a \
             reconfiguration or a timed run's end), by class; Heartline's own closes are classed \
             by their cause (a pong timeout is abnormal, whatever code was sent)",
            self.unexpected_ends.clone(),
        );
        r.register(
            "session_open",
            "1 while a session is open, 0 while disconnected, connecting or backing off",
            self.session_open.clone(),
        );
        r.register_with_unit(
            "session_started",
            "Unix time the open session started, 0 while none is open: time() minus this is \
             the current session's age",
            Unit::Other("timestamp_seconds".into()),
            self.session_started.clone(),
        );
        r.register(
            "incident_open",
            "1 while an incident is open, by kind and by the diagnosis rule that explains it",
            self.incident.clone(),
        );
        r.register_with_unit(
            "handshake_phase",
            "Duration of each phase of successful handshakes (dns only when a lookup happened)",
            Unit::Seconds,
            self.handshake_phase.clone(),
        );
    }

    /// Creates the series an endpoint always has, so it shows up (and counters start at 0,
    /// which `increase()` needs to see the first increment) before anything happens to it.
    fn introduce(&self, known: &Known, state: State) {
        let endpoint = &known.label;
        self.set_state(endpoint, state);
        let labels = EndpointLabels {
            endpoint: endpoint.clone(),
        };
        // Creating is the point; the returned guard is released at once.
        drop(self.reconnects.get_or_create(&labels));
        drop(self.stale.get_or_create(&labels));
        drop(self.session_open.get_or_create(&labels));
        drop(self.session_started.get_or_create(&labels));
        drop(self.pong_missed.get_or_create(&KindLabels {
            endpoint: endpoint.clone(),
            kind: PingKind::Protocol.as_str(),
        }));
    }

    fn fold(&self, known: &Known, at: Timestamp, kind: &EventKind) {
        let endpoint = &known.label;
        match kind {
            EventKind::Rtt { kind, rtt } => {
                self.rtt
                    .get_or_create(&KindLabels {
                        endpoint: endpoint.clone(),
                        kind: kind.as_str(),
                    })
                    .observe(seconds(*rtt));
            }
            EventKind::StateChanged { to, .. } => {
                let mut book = known.book();
                book.state = *to;
                self.set_state(endpoint, *to);
            }
            EventKind::Closed { end, stats } => {
                let code = end.code();
                let initiator = end.initiator().as_str();
                let mut book = known.book();
                book.closes.insert((code, initiator));
                self.closes
                    .get_or_create(&CloseLabels {
                        endpoint: endpoint.clone(),
                        code,
                        initiator,
                    })
                    .inc();
                if let Some(cause) = end.cause() {
                    book.causes.insert(cause.as_str());
                    self.closed_by_us
                        .get_or_create(&CauseLabels {
                            endpoint: endpoint.clone(),
                            cause: cause.as_str(),
                        })
                        .inc();
                }
                self.session_duration
                    .get_or_create(&EndpointLabels {
                        endpoint: endpoint.clone(),
                    })
                    .observe(seconds(stats.duration));
                if end.is_unexpected() {
                    let class = class_of_end(end).as_str();
                    book.classes.insert(class);
                    self.unexpected_ends
                        .get_or_create(&ClassLabels {
                            endpoint: endpoint.clone(),
                            class,
                        })
                        .inc();
                }
                let labels = EndpointLabels {
                    endpoint: endpoint.clone(),
                };
                self.session_open.get_or_create(&labels).set(0);
                self.session_started.get_or_create(&labels).set(0);
            }
            EventKind::HandshakeFailed(failure) => {
                let phase = failure.phase.as_str();
                let mut book = known.book();
                book.failed_phases.insert(phase);
                self.handshake_failures
                    .get_or_create(&PhaseLabels {
                        endpoint: endpoint.clone(),
                        phase,
                    })
                    .inc();
                if let Some(status) = failure.phase.status() {
                    book.statuses.insert(status);
                    self.handshake_http_status
                        .get_or_create(&StatusLabels {
                            endpoint: endpoint.clone(),
                            status,
                        })
                        .inc();
                }
            }
            EventKind::Connected { handshake, .. } => {
                let labels = EndpointLabels {
                    endpoint: endpoint.clone(),
                };
                self.session_open.get_or_create(&labels).set(1);
                self.session_started
                    .get_or_create(&labels)
                    .set(at.0.div_euclid(1000));
                let p = &handshake.phases;
                // A zero DNS phase means an IP literal: no lookup happened, nothing to time.
                let dns = (!p.dns.is_zero()).then_some(p.dns);
                for (phase, took) in [
                    (Phase::Dns, dns),
                    (Phase::Tcp, Some(p.tcp)),
                    (Phase::Tls, p.tls),
                    (Phase::Upgrade, Some(p.upgrade)),
                ] {
                    if let Some(took) = took {
                        self.handshake_phase
                            .get_or_create(&PhaseLabels {
                                endpoint: endpoint.clone(),
                                phase: phase.as_str(),
                            })
                            .observe(seconds(took));
                    }
                }
            }
            EventKind::ReconnectScheduled { .. } => {
                self.reconnects
                    .get_or_create(&EndpointLabels {
                        endpoint: endpoint.clone(),
                    })
                    .inc();
            }
            EventKind::PongMissed { kind, .. } => {
                self.pong_missed
                    .get_or_create(&KindLabels {
                        endpoint: endpoint.clone(),
                        kind: kind.as_str(),
                    })
                    .inc();
            }
            EventKind::Stale { .. } => {
                self.stale
                    .get_or_create(&EndpointLabels {
                        endpoint: endpoint.clone(),
                    })
                    .inc();
            }
            // Attempts show up as handshakes or failures; giving up shows up as state `down`.
            // A server's own heartbeat is an interval, not a latency: no RTT sample.
            EventKind::Connecting { .. }
            | EventKind::GaveUp { .. }
            | EventKind::ServerBeat { .. } => {}
        }
    }

    /// Feeds the endpoint's incident tracker (every event but round trips, so the heartbeat
    /// path stays lock-free) and moves `incident_open` to the open incident's kind and cause.
    fn track(&self, known: &Known, event: &Event) {
        if matches!(
            event.kind,
            EventKind::Rtt { .. } | EventKind::ServerBeat { .. }
        ) {
            return;
        }
        let mut book = known.book();
        let changes = book.incidents.observe(event);
        if changes.is_empty() {
            return;
        }
        let open = book.incidents.open().next().map(|i| {
            (
                i.kind.as_str(),
                i.cause.as_ref().map_or("unexplained", |c| c.rule.as_str()),
            )
        });
        if open == book.incident {
            return;
        }
        if let Some((kind, cause)) = book.incident.take() {
            self.incident.remove(&IncidentLabels {
                endpoint: known.label.clone(),
                kind,
                cause,
            });
        }
        if let Some((kind, cause)) = open {
            self.incident
                .get_or_create(&IncidentLabels {
                    endpoint: known.label.clone(),
                    kind,
                    cause,
                })
                .set(1);
        }
        book.incident = open;
    }

    /// Moves the stateset to `to`: the old state drops to 0 before the new one rises, so a
    /// scrape in between may see no state but never two.
    fn set_state(&self, endpoint: &Arc<str>, to: State) {
        for state in STATES.into_iter().filter(|s| *s != to) {
            self.state
                .get_or_create(&StateLabels {
                    endpoint: endpoint.clone(),
                    state: state.as_str(),
                })
                .set(0);
        }
        self.state
            .get_or_create(&StateLabels {
                endpoint: endpoint.clone(),
                state: to.as_str(),
            })
            .set(1);
        self.up
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.clone(),
            })
            .set(i64::from(matches!(to, State::Up | State::Degraded)));
    }

    /// Removes every series carrying this endpoint's label.
    fn forget(&self, known: &Known) {
        let endpoint = &known.label;
        let book = known.book();
        let one = EndpointLabels {
            endpoint: endpoint.clone(),
        };
        self.up.remove(&one);
        self.reconnects.remove(&one);
        self.stale.remove(&one);
        self.session_duration.remove(&one);
        self.session_open.remove(&one);
        self.session_started.remove(&one);
        if let Some((kind, cause)) = book.incident {
            self.incident.remove(&IncidentLabels {
                endpoint: endpoint.clone(),
                kind,
                cause,
            });
        }
        for &class in &book.classes {
            self.unexpected_ends.remove(&ClassLabels {
                endpoint: endpoint.clone(),
                class,
            });
        }
        for state in STATES {
            self.state.remove(&StateLabels {
                endpoint: endpoint.clone(),
                state: state.as_str(),
            });
        }
        for kind in PING_KINDS {
            let labels = KindLabels {
                endpoint: endpoint.clone(),
                kind: kind.as_str(),
            };
            self.rtt.remove(&labels);
            self.pong_missed.remove(&labels);
        }
        for phase in PHASES {
            self.handshake_phase.remove(&PhaseLabels {
                endpoint: endpoint.clone(),
                phase: phase.as_str(),
            });
        }
        for &(code, initiator) in &book.closes {
            self.closes.remove(&CloseLabels {
                endpoint: endpoint.clone(),
                code,
                initiator,
            });
        }
        for &cause in &book.causes {
            self.closed_by_us.remove(&CauseLabels {
                endpoint: endpoint.clone(),
                cause,
            });
        }
        for &phase in &book.failed_phases {
            self.handshake_failures.remove(&PhaseLabels {
                endpoint: endpoint.clone(),
                phase,
            });
        }
        for &status in &book.statuses {
            self.handshake_http_status.remove(&StatusLabels {
                endpoint: endpoint.clone(),
                status,
            });
        }
    }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Who is known by which label.
#[derive(Default)]
struct Endpoints {
    by_id: HashMap<EndpointId, Known>,
    /// Labels in use, so no two endpoints ever share one.
    labels: HashSet<Arc<str>>,
    /// Removed endpoints whose straggling events must not resurrect their series.
    removed: HashSet<EndpointId>,
}

impl Endpoints {
    /// The label for `id`: its name (or `endpoint-<id>` when unnamed), made unique.
    fn unique_label(&self, id: EndpointId, name: Option<&str>) -> Arc<str> {
        let base = match name {
            Some(name) if !name.trim().is_empty() => name.to_owned(),
            _ => format!("endpoint-{}", id.0),
        };
        if !self.labels.contains(base.as_str()) {
            return base.into();
        }
        let mut candidate = format!("{base}#{}", id.0);
        let mut n = 1u32;
        while self.labels.contains(candidate.as_str()) {
            n += 1;
            candidate = format!("{base}#{}.{n}", id.0);
        }
        candidate.into()
    }
}

/// One endpoint's label and the bookkeeping needed to remove or rename its series.
struct Known {
    /// The name given by `set_endpoint`; `None` while labelled by id.
    name: Option<Box<str>>,
    label: Arc<str>,
    /// Changed only by rare events (state changes, closes, failures), never by heartbeats.
    book: Mutex<Book>,
}

impl Known {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The current state and the open-ended label values an endpoint has used.
struct Book {
    state: State,
    closes: HashSet<(u16, &'static str)>,
    causes: HashSet<&'static str>,
    classes: HashSet<&'static str>,
    failed_phases: HashSet<&'static str>,
    statuses: HashSet<u16>,
    /// Incidents derived from this endpoint's events, as the recorder derives them.
    incidents: IncidentTracker,
    /// The labels (kind, cause) of the `incident_open` series now set, if any.
    incident: Option<(&'static str, &'static str)>,
}

impl Book {
    fn new(state: State) -> Self {
        Book {
            incidents: IncidentTracker::new(),
            incident: None,
            state,
            closes: HashSet::new(),
            causes: HashSet::new(),
            classes: HashSet::new(),
            failed_phases: HashSet::new(),
            statuses: HashSet::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::SocketAddr;

    use heartline_core::{
        CloseCause, FailedPhase, Handshake, HandshakeFailure, Phases, RetryReason, SessionEnd,
        SessionStats, Timestamp,
    };

    const FEED: EndpointId = EndpointId(1);

    fn event(endpoint: EndpointId, kind: EventKind) -> Event {
        Event {
            at: Timestamp(1_700_000_000_000),
            endpoint,
            kind,
        }
    }

    fn closed(end: SessionEnd, secs: u64) -> EventKind {
        EventKind::Closed {
            end,
            stats: SessionStats {
                duration: Duration::from_secs(secs),
                ..SessionStats::default()
            },
        }
    }

    fn state(from: State, to: State) -> EventKind {
        EventKind::StateChanged { from, to }
    }

    #[track_caller]
    fn assert_lines(text: &str, lines: &[&str]) {
        for line in lines {
            assert!(
                text.lines().any(|l| l == *line),
                "missing line {line:?} in:\n{text}"
            );
        }
    }

    #[track_caller]
    fn assert_no_mention(text: &str, needle: &str) {
        assert!(
            !text
                .lines()
                .any(|l| !l.starts_with('#') && l.contains(needle)),
            "unexpected {needle:?} in:\n{text}"
        );
    }

    #[test]
    fn named_endpoint_starts_connecting_with_zeroed_counters() {
        let m = Metrics::new();
        m.set_endpoint(FEED, "feed");
        let text = m.encode();
        assert_lines(
            &text,
            &[
                r#"heartline_endpoint_up{endpoint="feed"} 0"#,
                r#"heartline_endpoint_state{endpoint="feed",state="connecting"} 1"#,
                r#"heartline_endpoint_state{endpoint="feed",state="up"} 0"#,
                r#"heartline_endpoint_state{endpoint="feed",state="degraded"} 0"#,
                r#"heartline_endpoint_state{endpoint="feed",state="down"} 0"#,
                r#"heartline_endpoint_state{endpoint="feed",state="paused"} 0"#,
                r#"heartline_reconnects_total{endpoint="feed"} 0"#,
                r#"heartline_stale_total{endpoint="feed"} 0"#,
                r#"heartline_pong_missed_total{endpoint="feed",kind="protocol"} 0"#,
                "# EOF",
            ],
        );
    }

    #[test]
    fn stateset_follows_state_changes() {
        let m = Metrics::new();
        m.set_endpoint(FEED, "feed");
        m.observe(&event(FEED, state(State::Connecting, State::Up)));
        let text = m.encode();
        assert_lines(
            &text,
            &[
                r#"heartline_endpoint_up{endpoint="feed"} 1"#,
                r#"heartline_endpoint_state{endpoint="feed",state="connecting"} 0"#,
                r#"heartline_endpoint_state{endpoint="feed",state="up"} 1"#,
            ],
        );
        m.observe(&event(FEED, state(State::Up, State::Degraded)));
        assert_lines(
            &m.encode(),
            &[
                r#"heartline_endpoint_up{endpoint="feed"} 1"#,
                r#"heartline_endpoint_state{endpoint="feed",state="up"} 0"#,
                r#"heartline_endpoint_state{endpoint="feed",state="degraded"} 1"#,
            ],
        );
        m.observe(&event(FEED, state(State::Degraded, State::Down)));
        let text = m.encode();
        assert_lines(
            &text,
            &[
                r#"heartline_endpoint_up{endpoint="feed"} 0"#,
                r#"heartline_endpoint_state{endpoint="feed",state="degraded"} 0"#,
                r#"heartline_endpoint_state{endpoint="feed",state="down"} 1"#,
            ],
        );
        let ones = text
            .lines()
            .filter(|l| l.starts_with("heartline_endpoint_state{") && l.ends_with(" 1"))
            .count();
        assert_eq!(ones, 1, "{text}");
    }

    #[test]
    fn closes_failures_and_counters() {
        let m = Metrics::new();
        m.set_endpoint(FEED, "feed");
        let server = SessionEnd::ClosedByServer {
            code: 4001,
            reason: "bye".into(),
        };
        m.observe(&event(FEED, closed(server.clone(), 3)));
        m.observe(&event(FEED, closed(server, 5)));
        m.observe(&event(
            FEED,
            closed(
                SessionEnd::ClosedByClient {
                    cause: CloseCause::PongTimeout,
                    code: 1001,
                    reason: String::new(),
                    clean: false,
                },
                100,
            ),
        ));
        m.observe(&event(
            FEED,
            closed(
                SessionEnd::Lost {
                    error: "reset".into(),
                },
                1,
            ),
        ));
        for phase in [
            FailedPhase::Http {
                status: Some(503),
                retry_after: None,
            },
            FailedPhase::Http {
                status: None,
                retry_after: None,
            },
            FailedPhase::Timeout { during: Phase::Tls },
            FailedPhase::Dns,
        ] {
            m.observe(&event(
                FEED,
                EventKind::HandshakeFailed(HandshakeFailure {
                    phase,
                    error: "nope".into(),
                    elapsed: Duration::from_millis(5),
                }),
            ));
        }
        m.observe(&event(
            FEED,
            EventKind::ReconnectScheduled {
                attempt: 2,
                delay: Duration::from_secs(1),
                reason: RetryReason::Backoff,
            },
        ));
        for kind in [PingKind::Protocol, PingKind::App, PingKind::App] {
            m.observe(&event(FEED, EventKind::PongMissed { kind, missed: 1 }));
        }
        m.observe(&event(
            FEED,
            EventKind::Stale {
                silent: Duration::from_secs(30),
            },
        ));
        let text = m.encode();
        assert_lines(
            &text,
            &[
                r#"heartline_closes_total{endpoint="feed",code="4001",initiator="server"} 2"#,
                r#"heartline_closes_total{endpoint="feed",code="1001",initiator="client"} 1"#,
                r#"heartline_closes_total{endpoint="feed",code="1006",initiator="network"} 1"#,
                r#"heartline_closed_by_us_total{endpoint="feed",cause="pong_timeout"} 1"#,
                r#"heartline_handshake_failures_total{endpoint="feed",phase="http"} 2"#,
                r#"heartline_handshake_failures_total{endpoint="feed",phase="timeout"} 1"#,
                r#"heartline_handshake_failures_total{endpoint="feed",phase="dns"} 1"#,
                r#"heartline_handshake_http_status_total{endpoint="feed",status="503"} 1"#,
                r#"heartline_reconnects_total{endpoint="feed"} 1"#,
                r#"heartline_pong_missed_total{endpoint="feed",kind="protocol"} 1"#,
                r#"heartline_pong_missed_total{endpoint="feed",kind="app"} 2"#,
                r#"heartline_stale_total{endpoint="feed"} 1"#,
                r#"heartline_session_duration_seconds_count{endpoint="feed"} 4"#,
                r#"heartline_session_duration_seconds_sum{endpoint="feed"} 109.0"#,
                r#"heartline_session_duration_seconds_bucket{le="4.0",endpoint="feed"} 2"#,
                r#"heartline_session_duration_seconds_bucket{le="86400.0",endpoint="feed"} 4"#,
            ],
        );
        assert_eq!(
            text.matches("heartline_handshake_http_status_total{")
                .count(),
            1,
            "{text}"
        );
    }

    #[test]
    fn rtt_and_handshake_phases_are_histograms() {
        let m = Metrics::new();
        m.set_endpoint(FEED, "feed");
        for ms in [1, 3, 250] {
            m.observe(&event(
                FEED,
                EventKind::Rtt {
                    kind: PingKind::Protocol,
                    rtt: Duration::from_millis(ms),
                },
            ));
        }
        m.observe(&event(
            FEED,
            EventKind::Connected {
                attempt: 1,
                handshake: Handshake {
                    phases: Phases {
                        dns: Duration::ZERO,
                        tcp: Duration::from_micros(150),
                        tls: None,
                        upgrade: Duration::from_millis(2),
                    },
                    peer: SocketAddr::from(([127, 0, 0, 1], 9)),
                    subprotocol: None,
                    extensions: Vec::new(),
                },
            },
        ));
        let text = m.encode();
        assert_lines(
            &text,
            &[
                r#"heartline_rtt_seconds_bucket{le="0.0001",endpoint="feed",kind="protocol"} 0"#,
                r#"heartline_rtt_seconds_bucket{le="0.0016",endpoint="feed",kind="protocol"} 1"#,
                r#"heartline_rtt_seconds_bucket{le="0.0032",endpoint="feed",kind="protocol"} 2"#,
                r#"heartline_rtt_seconds_bucket{le="0.0064",endpoint="feed",kind="protocol"} 2"#,
                r#"heartline_rtt_seconds_bucket{le="0.4096",endpoint="feed",kind="protocol"} 3"#,
                r#"heartline_rtt_seconds_bucket{le="13.1072",endpoint="feed",kind="protocol"} 3"#,
                r#"heartline_rtt_seconds_bucket{le="+Inf",endpoint="feed",kind="protocol"} 3"#,
                r#"heartline_rtt_seconds_count{endpoint="feed",kind="protocol"} 3"#,
                "# TYPE heartline_rtt_seconds histogram",
                "# UNIT heartline_rtt_seconds seconds",
                r#"heartline_handshake_phase_seconds_count{endpoint="feed",phase="tcp"} 1"#,
                r#"heartline_handshake_phase_seconds_bucket{le="0.0002",endpoint="feed",phase="tcp"} 1"#,
                r#"heartline_handshake_phase_seconds_count{endpoint="feed",phase="upgrade"} 1"#,
            ],
        );
        // No lookup (IP literal) and no TLS (ws://): nothing to time, so no series.
        assert_no_mention(&text, r#"phase="dns""#);
        assert_no_mention(&text, r#"phase="tls""#);
        // No app heartbeat configured: no app histogram either.
        assert_no_mention(&text, r#"kind="app""#);
    }

    #[test]
    fn unknown_endpoints_are_labelled_by_id_until_named() {
        let m = Metrics::new();
        let id = EndpointId(7);
        m.observe(&event(id, state(State::Connecting, State::Up)));
        m.observe(&event(
            id,
            EventKind::Rtt {
                kind: PingKind::Protocol,
                rtt: Duration::from_millis(2),
            },
        ));
        let text = m.encode();
        assert_lines(
            &text,
            &[
                r#"heartline_endpoint_state{endpoint="endpoint-7",state="up"} 1"#,
                r#"heartline_rtt_seconds_count{endpoint="endpoint-7",kind="protocol"} 1"#,
            ],
        );

        // Naming it moves the state over and drops the stand-in's series.
        m.set_endpoint(id, "orders");
        let text = m.encode();
        assert_no_mention(&text, "endpoint-7");
        assert_lines(
            &text,
            &[
                r#"heartline_endpoint_up{endpoint="orders"} 1"#,
                r#"heartline_endpoint_state{endpoint="orders",state="up"} 1"#,
                r#"heartline_endpoint_state{endpoint="orders",state="connecting"} 0"#,
            ],
        );

        // Renaming does the same; naming it what it already is changes nothing.
        m.observe(&event(
            id,
            EventKind::Stale {
                silent: Duration::from_secs(1),
            },
        ));
        m.set_endpoint(id, "orders");
        assert_lines(
            &m.encode(),
            &[r#"heartline_stale_total{endpoint="orders"} 1"#],
        );
        m.set_endpoint(id, "orders-eu");
        let text = m.encode();
        assert_no_mention(&text, r#"endpoint="orders""#);
        assert_lines(
            &text,
            &[
                r#"heartline_endpoint_state{endpoint="orders-eu",state="up"} 1"#,
                r#"heartline_stale_total{endpoint="orders-eu"} 0"#,
            ],
        );
    }

    #[test]
    fn remove_endpoint_removes_every_series() {
        let m = Metrics::new();
        let other = EndpointId(2);
        m.set_endpoint(FEED, "feed");
        m.set_endpoint(other, "other");
        for id in [FEED, other] {
            m.observe(&event(id, state(State::Connecting, State::Up)));
            m.observe(&event(
                id,
                EventKind::Rtt {
                    kind: PingKind::App,
                    rtt: Duration::from_millis(2),
                },
            ));
            m.observe(&event(
                id,
                closed(
                    SessionEnd::ClosedByClient {
                        cause: CloseCause::Stale,
                        code: 1000,
                        reason: String::new(),
                        clean: true,
                    },
                    2,
                ),
            ));
            m.observe(&event(
                id,
                EventKind::HandshakeFailed(HandshakeFailure {
                    phase: FailedPhase::Http {
                        status: Some(429),
                        retry_after: None,
                    },
                    error: "slow down".into(),
                    elapsed: Duration::from_millis(5),
                }),
            ));
        }
        m.remove_endpoint(FEED);
        let text = m.encode();
        assert_no_mention(&text, r#"endpoint="feed""#);
        assert_lines(
            &text,
            &[
                r#"heartline_endpoint_state{endpoint="other",state="up"} 1"#,
                r#"heartline_closed_by_us_total{endpoint="other",cause="stale"} 1"#,
                r#"heartline_handshake_http_status_total{endpoint="other",status="429"} 1"#,
            ],
        );

        // A session that closes after removal does not bring the endpoint back...
        m.observe(&event(FEED, state(State::Up, State::Down)));
        assert_no_mention(&m.encode(), "feed");
        assert_no_mention(&m.encode(), "endpoint-1");
        // ...but naming it again (an id reused) does.
        m.set_endpoint(FEED, "feed");
        assert_lines(
            &m.encode(),
            &[r#"heartline_endpoint_state{endpoint="feed",state="connecting"} 1"#],
        );
    }

    #[test]
    fn shared_names_get_distinct_labels() {
        let m = Metrics::new();
        m.set_endpoint(EndpointId(1), "feed");
        m.set_endpoint(EndpointId(2), "feed");
        m.observe(&event(EndpointId(2), state(State::Connecting, State::Up)));
        let text = m.encode();
        assert_lines(
            &text,
            &[
                r#"heartline_endpoint_up{endpoint="feed"} 0"#,
                r#"heartline_endpoint_up{endpoint="feed#2"} 1"#,
            ],
        );
        // Removing one leaves the other's series alone.
        m.remove_endpoint(EndpointId(2));
        let text = m.encode();
        assert_no_mention(&text, "feed#2");
        assert_lines(&text, &[r#"heartline_endpoint_up{endpoint="feed"} 0"#]);
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.set_endpoint(FEED, "say \"hi\"\\now");
        assert_lines(
            &m.encode(),
            &[r#"heartline_endpoint_up{endpoint="say \"hi\"\\now"} 0"#],
        );
    }

    #[test]
    fn observer_forwards_to_observe() {
        let m = Arc::new(Metrics::new());
        m.set_endpoint(FEED, "feed");
        let sink = m.observer();
        sink.emit(event(FEED, state(State::Connecting, State::Paused)));
        assert_lines(
            &m.encode(),
            &[r#"heartline_endpoint_state{endpoint="feed",state="paused"} 1"#],
        );
    }

    #[test]
    fn metrics_are_shareable() {
        fn check<T: Send + Sync>() {}
        check::<Metrics>();
    }

    #[test]
    fn session_stability_series() {
        let m = Metrics::new();
        m.set_endpoint(FEED, "feed");
        let text = m.encode();
        assert_lines(
            &text,
            &[
                r#"heartline_session_open{endpoint="feed"} 0"#,
                r#"heartline_session_started_timestamp_seconds{endpoint="feed"} 0"#,
            ],
        );
        let connected = EventKind::Connected {
            attempt: 1,
            handshake: Handshake {
                phases: Phases::default(),
                peer: SocketAddr::from(([127, 0, 0, 1], 9)),
                subprotocol: None,
                extensions: Vec::new(),
            },
        };
        m.observe(&event(FEED, connected.clone()));
        assert_lines(
            &m.encode(),
            &[
                r#"heartline_session_open{endpoint="feed"} 1"#,
                r#"heartline_session_started_timestamp_seconds{endpoint="feed"} 1700000000"#,
            ],
        );
        // A pong timeout we closed with 1001 is an abnormal drop, not a server going away;
        // the user's own close is no drop at all.
        let ours = |cause| SessionEnd::ClosedByClient {
            cause,
            code: 1001,
            reason: String::new(),
            clean: false,
        };
        m.observe(&event(FEED, closed(ours(CloseCause::PongTimeout), 30)));
        m.observe(&event(FEED, connected.clone()));
        m.observe(&event(
            FEED,
            closed(
                SessionEnd::ClosedByServer {
                    code: 1001,
                    reason: String::new(),
                },
                30,
            ),
        ));
        m.observe(&event(FEED, connected));
        m.observe(&event(FEED, closed(ours(CloseCause::User), 30)));
        let text = m.encode();
        assert_lines(
            &text,
            &[
                r#"heartline_unexpected_ends_total{endpoint="feed",class="abnormal"} 1"#,
                r#"heartline_unexpected_ends_total{endpoint="feed",class="going_away"} 1"#,
                r#"heartline_session_open{endpoint="feed"} 0"#,
                r#"heartline_session_started_timestamp_seconds{endpoint="feed"} 0"#,
            ],
        );
        assert!(!text.contains(r#"class="normal""#), "{text}");
        m.remove_endpoint(FEED);
        assert!(!m.encode().contains("unexpected_ends_total{"));
    }

    #[test]
    fn an_open_incident_names_its_kind_and_cause() {
        let m = Metrics::new();
        m.set_endpoint(FEED, "feed");
        let at = |secs: i64, kind: EventKind| Event {
            at: Timestamp(1_700_000_000_000 + secs * 1000),
            endpoint: FEED,
            kind,
        };
        let lost = EventKind::Closed {
            end: SessionEnd::Lost {
                error: "reset".into(),
            },
            stats: SessionStats {
                duration: Duration::from_secs(60),
                silent_for: Duration::from_secs(60),
                ..SessionStats::default()
            },
        };
        m.observe(&at(0, state(State::Connecting, State::Up)));
        for i in 1..=3 {
            m.observe(&at(61 * i, lost.clone()));
        }
        assert!(!m.encode().contains("heartline_incident_open{"));
        m.observe(&at(183, state(State::Up, State::Unstable)));
        assert_lines(
            &m.encode(),
            &[r#"heartline_incident_open{endpoint="feed",kind="unstable",cause="idle_timeout"} 1"#],
        );
        // Worse: the Unstable incident hands over to a Down one, explained the same way.
        m.observe(&at(200, state(State::Unstable, State::Down)));
        let text = m.encode();
        assert_lines(
            &text,
            &[r#"heartline_incident_open{endpoint="feed",kind="down",cause="idle_timeout"} 1"#],
        );
        assert!(!text.contains(r#"kind="unstable""#), "{text}");
        m.observe(&at(300, state(State::Down, State::Up)));
        assert!(!m.encode().contains("heartline_incident_open{"));
        // Without a pattern the incident is unexplained; removing the endpoint removes it.
        m.observe(&at(1000, state(State::Up, State::Degraded)));
        assert_lines(
            &m.encode(),
            &[r#"heartline_incident_open{endpoint="feed",kind="degraded",cause="unexplained"} 1"#],
        );
        m.remove_endpoint(FEED);
        assert!(!m.encode().contains("heartline_incident_open{"));
    }
}
