//! The metric families and how events fold into them.
//!
//! Invariant: what a fleet operator alerts on stays per endpoint — state, up, the session
//! gauges, every counter, the last round trip and an RTT histogram with 13 buckets — while
//! what describes the fleet rather than one endpoint is fleet-wide: handshake phase and
//! session length histograms, with each endpoint's last handshake phases and last session
//! length as gauges beside them. An endpoint's series are plain numbers in one struct
//! (encoded by a [`Collector`] at scrape time), not a prometheus-client metric per series:
//! at 10,000 endpoints a `Family` entry per series cost about 3.5 KiB per endpoint, this
//! costs a few hundred bytes.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use heartline_core::close_code::class_of_end;
use heartline_core::{
    EndpointId, Event, EventKind, Phase, PingKind, RefusalClass, SessionEnd, State, Timestamp,
};

/// One open incident as `/metrics` shows it: `heartline_incident_open{endpoint,kind,cause} 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenIncident {
    pub endpoint: EndpointId,
    /// `down`, `degraded` or `unstable` ([`heartline_core::IncidentKind::as_str`]).
    pub kind: &'static str,
    /// The diagnosis rule that explains it ([`heartline_core::Rule::as_str`]), or
    /// `unexplained`.
    pub cause: &'static str,
}

/// Where the open incidents come from, asked at every scrape: the recorder's tracker (wired by
/// the monitor), so the process keeps one incident tracker per endpoint, not a copy here.
pub type IncidentSource = Arc<dyn Fn() -> Vec<OpenIncident> + Send + Sync>;

/// Every Heartline metric, ready to be scraped. Share it behind an `Arc`: every method takes
/// `&self`, and the engine calls [`Metrics::observe`] from many sessions at once.
pub struct Metrics {
    registry: Registry,
    fleet: Fleet,
    endpoints: Arc<RwLock<Endpoints>>,
    incidents: Arc<RwLock<Option<IncidentSource>>>,
}

impl Metrics {
    pub fn new() -> Self {
        let fleet = Fleet::default();
        let endpoints = Arc::new(RwLock::new(Endpoints::default()));
        let incidents = Arc::new(RwLock::new(None));
        let mut registry = Registry::with_prefix("heartline");
        fleet.register(&mut registry);
        registry.register_collector(Box::new(PerEndpoint {
            endpoints: endpoints.clone(),
            incidents: Arc::clone(&incidents),
            seconds: Unit::Seconds,
            timestamp: Unit::Other("timestamp_seconds".into()),
        }));
        Metrics {
            registry,
            fleet,
            endpoints,
            incidents,
        }
    }

    /// Where `incident_open` reads the open incidents from at each scrape (without a source,
    /// the family is left out).
    pub fn set_incident_source(&self, source: IncidentSource) {
        let mut slot = self
            .incidents
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(source);
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
                old.series().state
            }
            None => State::Connecting,
        };
        let label = endpoints.unique_label(id, Some(name));
        endpoints.adopt(id, Some(name), label, state);
    }

    /// Forgets the endpoint: removes every series it has, so a removed endpoint vanishes from
    /// `/metrics` instead of reporting its last state forever. Events for it that arrive later
    /// (a session closing after this call) are ignored until it is named again. What it added
    /// to the fleet-wide histograms stays there, as it would in any fleet-wide counter.
    pub fn remove_endpoint(&self, id: EndpointId) {
        let mut endpoints = self.write();
        endpoints.removed.insert(id);
        if let Some(old) = endpoints.by_id.remove(&id) {
            endpoints.labels.remove(&old.label);
        }
    }

    /// Folds one event in. The engine calls this synchronously for every event of every
    /// endpoint, so the heartbeat path costs a shared lock, a map lookup and the endpoint's
    /// own (uncontended) lock, nothing more.
    pub fn observe(&self, event: &Event) {
        {
            let endpoints = self.read();
            if let Some(known) = endpoints.by_id.get(&event.endpoint) {
                self.fold(known, event.at, &event.kind);
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
                endpoints.adopt(id, None, label, State::Connecting);
            }
        }
        let endpoints = self.read();
        if let Some(known) = endpoints.by_id.get(&event.endpoint) {
            self.fold(known, event.at, &event.kind);
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

    fn fold(&self, known: &Known, at: Timestamp, kind: &EventKind) {
        match kind {
            EventKind::Rtt { kind, rtt } => {
                let mut s = known.series();
                s.rtt[kind_index(*kind)]
                    .get_or_insert_with(Box::default)
                    .observe(*rtt);
            }
            EventKind::StateChanged { to, .. } => known.series().state = *to,
            EventKind::Closed { end, stats } => {
                self.fleet.session_duration.observe(seconds(stats.duration));
                let mut s = known.series();
                s.session_open = false;
                s.session_started = 0;
                s.last_session = Some(seconds(stats.duration));
                let rare = s.rare.get_or_insert_with(Box::default);
                bump(&mut rare.closes, (end.code(), end.initiator().as_str()));
                if let Some(cause) = end.cause() {
                    bump(&mut rare.closed_by_us, cause.as_str());
                }
                if end.is_unexpected() {
                    bump(&mut rare.unexpected_ends, class_of_end(end).as_str());
                }
                if let SessionEnd::Refused { class, .. } = end {
                    rare.refusals.get_or_insert_with(Box::default)[refusal_index(*class)] += 1;
                }
            }
            EventKind::HandshakeFailed(failure) => {
                let mut s = known.series();
                let rare = s.rare.get_or_insert_with(Box::default);
                bump(&mut rare.handshake_failures, failure.phase.as_str());
                if let Some(status) = failure.phase.status() {
                    bump(&mut rare.http_statuses, status);
                }
            }
            EventKind::Connected { handshake, .. } => {
                let p = &handshake.phases;
                // A zero DNS phase means an IP literal: no lookup happened, nothing to time.
                let dns = (!p.dns.is_zero()).then_some(p.dns);
                let phases = [dns, Some(p.tcp), p.tls, Some(p.upgrade)];
                for (phase, took) in PHASES.into_iter().zip(phases) {
                    if let Some(took) = took {
                        self.fleet
                            .handshake_phase
                            .get_or_create(&PhaseLabels {
                                phase: phase.as_str(),
                            })
                            .observe(seconds(took));
                    }
                }
                let mut s = known.series();
                s.session_open = true;
                s.session_started = at.0.div_euclid(1000);
                s.last_phases = phases.map(|p| p.map_or(f64::NAN, seconds));
            }
            EventKind::ReconnectScheduled { .. } => known.series().reconnects += 1,
            EventKind::PongMissed { kind, .. } => {
                known.series().pong_missed[kind_index(*kind)] += 1;
            }
            EventKind::Stale { .. } => known.series().stale += 1,
            // A server's own heartbeat is an interval, not a latency: counted, its interval
            // kept as the last one, never an RTT sample.
            EventKind::ServerBeat { interval, .. } => {
                let mut s = known.series();
                s.beats = s.beats.saturating_add(1);
                s.last_beat_ms = u32::try_from(interval.as_millis()).unwrap_or(u32::MAX);
            }
            // Attempts show up as handshakes or failures; giving up shows up as state `down`.
            EventKind::Connecting { .. } | EventKind::GaveUp { .. } => {}
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Endpoints> {
        read(&self.endpoints)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Endpoints> {
        // A panic while holding the lock leaves plain bookkeeping behind; keep counting.
        self.endpoints
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn read(endpoints: &RwLock<Endpoints>) -> RwLockReadGuard<'_, Endpoints> {
    endpoints
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
/// Heartbeat kinds, in the order of [`kind_index`].
const PING_KINDS: [PingKind; 3] = [PingKind::Protocol, PingKind::App, PingKind::Server];
const PHASES: [Phase; 4] = [Phase::Dns, Phase::Tcp, Phase::Tls, Phase::Upgrade];

/// Refusal classes, in the order of [`refusal_index`] (the core's own list).
const REFUSAL_CLASSES: [RefusalClass; 6] = RefusalClass::ALL;

fn refusal_index(class: RefusalClass) -> usize {
    match class {
        RefusalClass::Credentials => 0,
        RefusalClass::Policy => 1,
        RefusalClass::Overload => 2,
        RefusalClass::ServerRestart => 3,
        RefusalClass::Protocol => 4,
        RefusalClass::Other => 5,
    }
}

fn kind_index(kind: PingKind) -> usize {
    match kind {
        PingKind::Protocol => 0,
        PingKind::App => 1,
        PingKind::Server => 2,
    }
}

/// Per-endpoint round-trip buckets' upper bounds in nanoseconds: 0.5 ms to 5 s in steps of
/// 2–2.5× (the usual 1–2.5–5 series), enough for `histogram_quantile` to tell a loopback,
/// a LAN, a region and another continent apart; a slower answer lands in `+Inf` (the pong
/// timeout is usually well below 5 s). Finer latency resolution lives in the fleet-wide
/// handshake histogram's 18 buckets.
const RTT_BOUNDS_NS: [u64; 13] = [
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
];

/// Handshake phases across the fleet: 100 µs doubling to ~13 s, so both a loopback echo and
/// a congested intercontinental link land in a bucket that tells them apart.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 18))
}

/// Session lengths: 1 s doubling to ~18 h, then one day — the spans idle timeouts and
/// nightly restarts produce.
fn session_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 17).chain([86_400.0]))
}

/// The fleet-wide families: one histogram per phase and one for session lengths, whatever
/// the number of endpoints.
struct Fleet {
    handshake_phase: Family<PhaseLabels, Histogram, fn() -> Histogram>,
    session_duration: Histogram,
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet {
            handshake_phase: Family::new_with_constructor(latency_histogram),
            session_duration: session_histogram(),
        }
    }
}

impl Fleet {
    fn register(&self, r: &mut Registry) {
        r.register_with_unit(
            "handshake_phase",
            "Duration of each phase of successful handshakes across every endpoint (dns only \
             when a lookup happened); each endpoint's last ones are last_handshake_phase_seconds",
            Unit::Seconds,
            self.handshake_phase.clone(),
        );
        r.register_with_unit(
            "session_duration",
            "Length of ended sessions across every endpoint, from handshake to close; each \
             endpoint's last one is last_session_duration_seconds",
            Unit::Seconds,
            self.session_duration.clone(),
        );
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: &'static str,
}

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
struct EndpointPhaseLabels {
    endpoint: Arc<str>,
    phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    endpoint: Arc<str>,
    status: u16,
}

/// One endpoint's series as plain numbers. Changed under the endpoint's own lock, which
/// only its session and a scrape ever take.
struct Series {
    state: State,
    session_open: bool,
    /// Unix seconds; 0 while no session is open.
    session_started: i64,
    reconnects: u64,
    stale: u64,
    /// By [`kind_index`].
    pong_missed: [u64; 3],
    /// By [`kind_index`]; created by the first round trip of that kind.
    rtt: [Option<Box<Rtt>>; 3],
    /// The last successful handshake's phases in seconds, by [`PHASES`]; NaN for a phase it
    /// did not have (no lookup, no TLS) or before the first handshake.
    last_phases: [f64; 4],
    /// The last ended session's length in seconds.
    last_session: Option<f64>,
    /// Server heartbeats received (saturating: at one a second, 136 years).
    beats: u32,
    /// The interval before the last server heartbeat, in milliseconds; meaningful once
    /// `beats` > 0.
    last_beat_ms: u32,
    /// Counters by open-ended label values, created on first occurrence; most endpoints
    /// never need them.
    rare: Option<Box<Rare>>,
}

impl Series {
    fn new(state: State) -> Self {
        Series {
            state,
            session_open: false,
            session_started: 0,
            reconnects: 0,
            stale: 0,
            pong_missed: [0; 3],
            rtt: [None, None, None],
            last_phases: [f64::NAN; 4],
            last_session: None,
            beats: 0,
            last_beat_ms: 0,
            rare: None,
        }
    }
}

/// One endpoint's round trips of one kind: a histogram over [`RTT_BOUNDS_NS`] and the last
/// value.
#[derive(Default)]
struct Rtt {
    /// Counts per bucket (not cumulative); the last one is `+Inf`.
    buckets: [u64; RTT_BOUNDS_NS.len() + 1],
    sum_ns: u64,
    last: Duration,
}

impl Rtt {
    fn observe(&mut self, rtt: Duration) {
        let ns = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
        let bucket = RTT_BOUNDS_NS.partition_point(|&bound| bound < ns);
        self.buckets[bucket] += 1;
        self.sum_ns = self.sum_ns.saturating_add(ns);
        self.last = rtt;
    }

    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// Counters whose label values are open-ended (close codes, causes, classes, failed phases,
/// HTTP statuses), each value with its count.
#[derive(Default)]
struct Rare {
    closes: Vec<((u16, &'static str), u64)>,
    closed_by_us: Vec<(&'static str, u64)>,
    unexpected_ends: Vec<(&'static str, u64)>,
    handshake_failures: Vec<(&'static str, u64)>,
    http_statuses: Vec<(u16, u64)>,
    /// Sessions the application protocol refused, by [`refusal_index`]; created by the
    /// first refusal (most endpoints never see one).
    refusals: Option<Box<[u64; REFUSAL_CLASSES.len()]>>,
}

fn bump<K: PartialEq>(counts: &mut Vec<(K, u64)>, key: K) {
    match counts.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => counts.push((key, 1)),
    }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Who is known by which label.
#[derive(Default)]
struct Endpoints {
    by_id: HashMap<EndpointId, Box<Known>>,
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

    /// Starts the endpoint's series: they show up (and counters start at 0, which
    /// `increase()` needs to see the first increment) before anything happens to it.
    fn adopt(&mut self, id: EndpointId, name: Option<&str>, label: Arc<str>, state: State) {
        let known = Known {
            name: name.map(Box::from),
            label: label.clone(),
            series: Mutex::new(Series::new(state)),
        };
        self.labels.insert(label);
        self.by_id.insert(id, Box::new(known));
    }
}

/// One endpoint's label and series.
struct Known {
    /// The name given by `set_endpoint`; `None` while labelled by id.
    name: Option<Box<str>>,
    label: Arc<str>,
    series: Mutex<Series>,
}

impl Known {
    fn series(&self) -> MutexGuard<'_, Series> {
        self.series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Encodes every endpoint's series at scrape time.
struct PerEndpoint {
    endpoints: Arc<RwLock<Endpoints>>,
    incidents: Arc<RwLock<Option<IncidentSource>>>,
    seconds: Unit,
    timestamp: Unit,
}

impl fmt::Debug for PerEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerEndpoint").finish_non_exhaustive()
    }
}

/// A family's name, help and type, for [`PerEndpoint::family`].
struct Desc<'a> {
    name: &'static str,
    help: &'static str,
    unit: Option<&'a Unit>,
    kind: MetricType,
}

impl PerEndpoint {
    /// Writes one family: its descriptor, then each endpoint's samples, each endpoint locked
    /// in turn. A family no endpoint has a sample of (`has` false for all) is left out, as
    /// the registry leaves out an empty `Family`.
    fn family(
        encoder: &mut DescriptorEncoder<'_>,
        endpoints: &Endpoints,
        desc: Desc<'_>,
        has: impl Fn(&Series) -> bool,
        mut write: impl for<'m> FnMut(&Arc<str>, &Series, &mut MetricEncoder<'m>) -> fmt::Result,
    ) -> fmt::Result {
        if !endpoints.by_id.values().any(|k| has(&k.series())) {
            return Ok(());
        }
        let mut metric = encoder.encode_descriptor(desc.name, desc.help, desc.unit, desc.kind)?;
        for known in endpoints.by_id.values() {
            let series = known.series();
            write(&known.label, &series, &mut metric)?;
        }
        Ok(())
    }

    /// A counter family over one of [`Rare`]'s lists (`list`): a sample per endpoint and key,
    /// labelled by `labels`; left out while no endpoint has counted any.
    fn rare_counter<K: Copy, L: EncodeLabelSet>(
        encoder: &mut DescriptorEncoder<'_>,
        endpoints: &Endpoints,
        desc: Desc<'_>,
        list: impl Fn(&Rare) -> &[(K, u64)],
        labels: impl Fn(Arc<str>, K) -> L,
    ) -> fmt::Result {
        Self::family(
            encoder,
            endpoints,
            desc,
            |s| rare(s).is_some_and(|r| !list(r).is_empty()),
            |e, s, m| {
                for &(key, n) in rare(s).map_or(&[][..], &list) {
                    count(m, &labels(e.clone(), key), n)?;
                }
                Ok(())
            },
        )
    }
}

fn gauge(name: &'static str, help: &'static str) -> Desc<'static> {
    Desc {
        name,
        help,
        unit: None,
        kind: MetricType::Gauge,
    }
}

fn counter(name: &'static str, help: &'static str) -> Desc<'static> {
    Desc {
        name,
        help,
        unit: None,
        kind: MetricType::Counter,
    }
}

fn count(m: &mut MetricEncoder<'_>, labels: &impl EncodeLabelSet, n: u64) -> fmt::Result {
    m.encode_family(labels)?
        .encode_counter::<NoLabelSet, _, u64>(&n, None)
}

fn set(m: &mut MetricEncoder<'_>, labels: &impl EncodeLabelSet, v: impl Into<f64>) -> fmt::Result {
    m.encode_family(labels)?.encode_gauge(&v.into())
}

fn one(endpoint: &Arc<str>) -> EndpointLabels {
    EndpointLabels {
        endpoint: endpoint.clone(),
    }
}

fn rare(s: &Series) -> Option<&Rare> {
    s.rare.as_deref()
}

impl PerEndpoint {
    /// `incident_open`: one series per open incident of a known endpoint, from the source.
    fn incidents(&self, encoder: &mut DescriptorEncoder<'_>, endpoints: &Endpoints) -> fmt::Result {
        let source = self
            .incidents
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let Some(source) = source else {
            return Ok(());
        };
        let open: Vec<(Arc<str>, OpenIncident)> = source()
            .into_iter()
            .filter_map(|o| Some((endpoints.by_id.get(&o.endpoint)?.label.clone(), o)))
            .collect();
        if open.is_empty() {
            return Ok(());
        }
        let mut metric = encoder.encode_descriptor(
            "incident_open",
            "1 while an incident is open, by kind and by the diagnosis rule that explains it",
            None,
            MetricType::Gauge,
        )?;
        for (endpoint, o) in open {
            let labels = IncidentLabels {
                endpoint,
                kind: o.kind,
                cause: o.cause,
            };
            metric.encode_family(&labels)?.encode_gauge(&1i64)?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IncidentLabels {
    endpoint: Arc<str>,
    kind: &'static str,
    cause: &'static str,
}

impl Collector for PerEndpoint {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let endpoints = read(&self.endpoints);
        self.incidents(&mut encoder, &endpoints)?;
        let (enc, all) = (&mut encoder, &*endpoints);
        let always = |_: &Series| true;
        Self::family(
            enc,
            all,
            gauge(
                "endpoint_up",
                "1 while the endpoint is up or degraded (a session is answering), 0 otherwise",
            ),
            always,
            |e, s, m| {
                let up = matches!(s.state, State::Up | State::Degraded);
                m.encode_family(&one(e))?.encode_gauge(&i64::from(up))
            },
        )?;
        Self::family(
            enc,
            all,
            gauge(
                "endpoint_state",
                "Current health state as a stateset: 1 for the current state, 0 for the others",
            ),
            always,
            |e, s, m| {
                for state in STATES {
                    let labels = StateLabels {
                        endpoint: e.clone(),
                        state: state.as_str(),
                    };
                    m.encode_family(&labels)?
                        .encode_gauge(&i64::from(s.state == state))?;
                }
                Ok(())
            },
        )?;
        let has_rtt = |s: &Series| s.rtt.iter().any(Option::is_some);
        Self::family(
            enc,
            all,
            Desc {
                name: "rtt",
                help:
                    "Heartbeat round trip, send to reply, by heartbeat kind (protocol ping or app)",
                unit: Some(&self.seconds),
                kind: MetricType::Histogram,
            },
            has_rtt,
            |e, s, m| {
                for (kind, rtt) in PING_KINDS.into_iter().zip(&s.rtt) {
                    let Some(rtt) = rtt else { continue };
                    let mut buckets = [(f64::INFINITY, 0u64); RTT_BOUNDS_NS.len() + 1];
                    for (i, slot) in buckets.iter_mut().enumerate() {
                        if let Some(&bound) = RTT_BOUNDS_NS.get(i) {
                            slot.0 = bound as f64 / 1e9;
                        }
                        slot.1 = rtt.buckets[i];
                    }
                    let labels = KindLabels {
                        endpoint: e.clone(),
                        kind: kind.as_str(),
                    };
                    m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                        rtt.sum_ns as f64 / 1e9,
                        rtt.count(),
                        &buckets,
                        None,
                    )?;
                }
                Ok(())
            },
        )?;
        Self::family(
            enc,
            all,
            Desc {
                name: "last_rtt",
                help: "The last heartbeat round trip, by heartbeat kind",
                unit: Some(&self.seconds),
                kind: MetricType::Gauge,
            },
            has_rtt,
            |e, s, m| {
                for (kind, rtt) in PING_KINDS.into_iter().zip(&s.rtt) {
                    if let Some(rtt) = rtt {
                        let labels = KindLabels {
                            endpoint: e.clone(),
                            kind: kind.as_str(),
                        };
                        set(m, &labels, seconds(rtt.last))?;
                    }
                }
                Ok(())
            },
        )?;
        Self::rare_counter(
            enc,
            all,
            counter(
                "closes",
                "Sessions ended, by close code (1006 when no close frame) and who ended them",
            ),
            |r| &r.closes,
            |endpoint, (code, initiator)| CloseLabels {
                endpoint,
                code,
                initiator,
            },
        )?;
        Self::rare_counter(
            enc,
            all,
            counter("closed_by_us", "Sessions Heartline itself closed, by cause"),
            |r| &r.closed_by_us,
            |endpoint, cause| CauseLabels { endpoint, cause },
        )?;
        Self::rare_counter(
            enc,
            all,
            counter(
                "handshake_failures",
                "Connection attempts that failed before the session opened, by phase",
            ),
            |r| &r.handshake_failures,
            |endpoint, phase| EndpointPhaseLabels { endpoint, phase },
        )?;
        Self::rare_counter(
            enc,
            all,
            counter(
                "handshake_http_status",
                "Upgrades refused with an HTTP status other than 101, by status",
            ),
            |r| &r.http_statuses,
            |endpoint, status| StatusLabels { endpoint, status },
        )?;
        Self::family(
            enc,
            all,
            counter(
                "reconnects",
                "Reconnects scheduled after a session ended or an attempt failed",
            ),
            always,
            |e, s, m| count(m, &one(e), s.reconnects),
        )?;
        Self::family(
            enc,
            all,
            counter(
                "pong_missed",
                "Heartbeat replies that did not arrive in time, by heartbeat kind",
            ),
            always,
            |e, s, m| {
                // The protocol ping's count is always there (starting at 0); the others appear
                // with their first miss.
                for (i, (kind, &n)) in PING_KINDS.iter().zip(&s.pong_missed).enumerate() {
                    if i == 0 || n > 0 {
                        let labels = KindLabels {
                            endpoint: e.clone(),
                            kind: kind.as_str(),
                        };
                        count(m, &labels, n)?;
                    }
                }
                Ok(())
            },
        )?;
        Self::family(
            enc,
            all,
            counter(
                "stale",
                "Times no application message arrived within the staleness window",
            ),
            always,
            |e, s, m| count(m, &one(e), s.stale),
        )?;
        Self::rare_counter(enc, all, counter(
                "unexpected_ends",
                "Sessions that ended unexpectedly (drops: every end but the user's, a shutdown, a \
                 reconfiguration or a timed run's end), by class; Heartline's own closes are classed \
                 by their cause (a pong timeout is abnormal, whatever code was sent)",
            ), |r| &r.unexpected_ends, |endpoint, class| {
            ClassLabels {
                endpoint,
                class,
            }
        })?;
        Self::family(
            enc,
            all,
            counter(
                "refusals",
                "Sessions the application protocol refused on an open WebSocket (connected at \
                 the WebSocket layer, refused by the application), by the refusal's class",
            ),
            |s| rare(s).is_some_and(|r| r.refusals.is_some()),
            |e, s, m| {
                let Some(refusals) = rare(s).and_then(|r| r.refusals.as_deref()) else {
                    return Ok(());
                };
                for (class, &n) in REFUSAL_CLASSES.iter().zip(refusals) {
                    if n > 0 {
                        let labels = ClassLabels {
                            endpoint: e.clone(),
                            class: class.as_str(),
                        };
                        count(m, &labels, n)?;
                    }
                }
                Ok(())
            },
        )?;
        let has_beats = |s: &Series| s.beats > 0;
        Self::family(
            enc,
            all,
            counter(
                "server_beats",
                "Heartbeats the server itself sent (and Heartline answered); intervals, never \
                 round trips",
            ),
            has_beats,
            |e, s, m| {
                if s.beats > 0 {
                    count(m, &one(e), u64::from(s.beats))?;
                }
                Ok(())
            },
        )?;
        Self::family(
            enc,
            all,
            Desc {
                name: "last_server_beat_interval",
                help: "Time between the server's last two heartbeats (the first: since the \
                       protocol handshake)",
                unit: Some(&self.seconds),
                kind: MetricType::Gauge,
            },
            has_beats,
            |e, s, m| {
                if s.beats > 0 {
                    set(m, &one(e), f64::from(s.last_beat_ms) / 1000.0)?;
                }
                Ok(())
            },
        )?;
        Self::family(
            enc,
            all,
            gauge(
                "session_open",
                "1 while a session is open, 0 while disconnected, connecting or backing off",
            ),
            always,
            |e, s, m| {
                m.encode_family(&one(e))?
                    .encode_gauge(&i64::from(s.session_open))
            },
        )?;
        Self::family(
            enc,
            all,
            Desc {
                name: "session_started",
                help: "Unix time the open session started, 0 while none is open: time() minus \
                       this is the current session's age",
                unit: Some(&self.timestamp),
                kind: MetricType::Gauge,
            },
            always,
            |e, s, m| m.encode_family(&one(e))?.encode_gauge(&s.session_started),
        )?;
        Self::family(
            enc,
            all,
            Desc {
                name: "last_handshake_phase",
                help: "Duration of each phase of the endpoint's last successful handshake (dns \
                       only when a lookup happened, tls only for wss)",
                unit: Some(&self.seconds),
                kind: MetricType::Gauge,
            },
            |s| s.last_phases.iter().any(|p| !p.is_nan()),
            |e, s, m| {
                for (phase, &took) in PHASES.iter().zip(&s.last_phases) {
                    if !took.is_nan() {
                        let labels = EndpointPhaseLabels {
                            endpoint: e.clone(),
                            phase: phase.as_str(),
                        };
                        set(m, &labels, took)?;
                    }
                }
                Ok(())
            },
        )?;
        Self::family(
            enc,
            all,
            Desc {
                name: "last_session_duration",
                help: "Length of the endpoint's last ended session, from handshake to close",
                unit: Some(&self.seconds),
                kind: MetricType::Gauge,
            },
            |s| s.last_session.is_some(),
            |e, s, m| match s.last_session {
                Some(took) => set(m, &one(e), took),
                None => Ok(()),
            },
        )
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
                // Session lengths are fleet-wide; the endpoint keeps its last one.
                "heartline_session_duration_seconds_count 4",
                "heartline_session_duration_seconds_sum 109.0",
                r#"heartline_session_duration_seconds_bucket{le="4.0"} 2"#,
                r#"heartline_session_duration_seconds_bucket{le="86400.0"} 4"#,
                r#"heartline_last_session_duration_seconds{endpoint="feed"} 1.0"#,
            ],
        );
        assert_no_mention(&text, "heartline_session_duration_seconds_count{");
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
                // A bucket's bound is inclusive: 1 ms lands in le="0.001".
                r#"heartline_rtt_seconds_bucket{le="0.0005",endpoint="feed",kind="protocol"} 0"#,
                r#"heartline_rtt_seconds_bucket{le="0.001",endpoint="feed",kind="protocol"} 1"#,
                r#"heartline_rtt_seconds_bucket{le="0.0025",endpoint="feed",kind="protocol"} 1"#,
                r#"heartline_rtt_seconds_bucket{le="0.005",endpoint="feed",kind="protocol"} 2"#,
                r#"heartline_rtt_seconds_bucket{le="0.1",endpoint="feed",kind="protocol"} 2"#,
                r#"heartline_rtt_seconds_bucket{le="0.25",endpoint="feed",kind="protocol"} 3"#,
                r#"heartline_rtt_seconds_bucket{le="5.0",endpoint="feed",kind="protocol"} 3"#,
                r#"heartline_rtt_seconds_bucket{le="+Inf",endpoint="feed",kind="protocol"} 3"#,
                r#"heartline_rtt_seconds_count{endpoint="feed",kind="protocol"} 3"#,
                r#"heartline_rtt_seconds_sum{endpoint="feed",kind="protocol"} 0.254"#,
                "# TYPE heartline_rtt_seconds histogram",
                "# UNIT heartline_rtt_seconds seconds",
                r#"heartline_last_rtt_seconds{endpoint="feed",kind="protocol"} 0.25"#,
                // Handshake phases are fleet-wide; the endpoint keeps its last ones.
                r#"heartline_handshake_phase_seconds_count{phase="tcp"} 1"#,
                r#"heartline_handshake_phase_seconds_bucket{le="0.0002",phase="tcp"} 1"#,
                r#"heartline_handshake_phase_seconds_count{phase="upgrade"} 1"#,
                r#"heartline_last_handshake_phase_seconds{endpoint="feed",phase="tcp"} 0.00015"#,
                r#"heartline_last_handshake_phase_seconds{endpoint="feed",phase="upgrade"} 0.002"#,
            ],
        );
        // 13 bounds and +Inf, not the fleet histograms' 19.
        assert_eq!(
            text.matches(r#"heartline_rtt_seconds_bucket{le="#).count(),
            14,
            "{text}"
        );
        assert_no_mention(&text, "heartline_handshake_phase_seconds_count{endpoint");
        // No lookup (IP literal) and no TLS (ws://): nothing to time, so no series.
        assert_no_mention(&text, r#"phase="dns""#);
        assert_no_mention(&text, r#"phase="tls""#);
        // No app heartbeat configured: no app histogram either.
        assert_no_mention(&text, r#"kind="app""#);
    }

    #[test]
    fn fleet_histograms_outlive_an_endpoint_and_slow_rtts_reach_inf() {
        let m = Metrics::new();
        m.set_endpoint(FEED, "feed");
        for rtt in [Duration::from_secs(5), Duration::from_millis(5_001)] {
            m.observe(&event(
                FEED,
                EventKind::Rtt {
                    kind: PingKind::Protocol,
                    rtt,
                },
            ));
        }
        m.observe(&event(
            FEED,
            closed(
                SessionEnd::Lost {
                    error: "reset".into(),
                },
                7,
            ),
        ));
        assert_lines(
            &m.encode(),
            &[
                r#"heartline_rtt_seconds_bucket{le="5.0",endpoint="feed",kind="protocol"} 1"#,
                r#"heartline_rtt_seconds_bucket{le="+Inf",endpoint="feed",kind="protocol"} 2"#,
                r#"heartline_last_rtt_seconds{endpoint="feed",kind="protocol"} 5.001"#,
            ],
        );
        m.remove_endpoint(FEED);
        let text = m.encode();
        assert_no_mention(&text, "feed");
        // What the fleet saw stays counted, like any fleet-wide counter.
        assert_lines(
            &text,
            &[
                "heartline_session_duration_seconds_count 1",
                r#"heartline_session_duration_seconds_bucket{le="8.0"} 1"#,
            ],
        );
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

    /// `incident_open` shows what the source says is open, labelled by the endpoint's name,
    /// and nothing for endpoints it does not know (removed, never named).
    #[test]
    fn open_incidents_come_from_the_source_at_each_scrape() {
        let m = Metrics::new();
        m.set_endpoint(EndpointId(1), "feed");
        m.set_endpoint(EndpointId(2), "orders");
        assert!(!m.encode().contains("heartline_incident_open"));
        let open = Arc::new(Mutex::new(vec![
            OpenIncident {
                endpoint: EndpointId(1),
                kind: "unstable",
                cause: "idle_timeout",
            },
            OpenIncident {
                endpoint: EndpointId(9),
                kind: "down",
                cause: "dns",
            },
        ]));
        let source = Arc::clone(&open);
        m.set_incident_source(Arc::new(move || source.lock().unwrap().clone()));
        let text = m.encode();
        assert_lines(
            &text,
            &[r#"heartline_incident_open{endpoint="feed",kind="unstable",cause="idle_timeout"} 1"#],
        );
        assert!(!text.contains(r#"cause="dns""#), "{text}");
        // Asked again at the next scrape: the incident handed over to Down, then closed.
        open.lock().unwrap()[0].kind = "down";
        assert_lines(
            &m.encode(),
            &[r#"heartline_incident_open{endpoint="feed",kind="down",cause="idle_timeout"} 1"#],
        );
        open.lock().unwrap().clear();
        assert!(!m.encode().contains("heartline_incident_open"));
    }

    /// A server's heartbeats are counted and their last interval kept, never as a round
    /// trip; refusals by the application are counted by class beside the close they are.
    #[test]
    fn server_beats_and_refusals_have_series_of_their_own() {
        use heartline_core::{Protocol, RefusalClass};
        let m = Metrics::new();
        m.set_endpoint(FEED, "feed");
        // Nothing yet: neither family appears for an endpoint without beats or refusals.
        let text = m.encode();
        assert_no_mention(&text, "heartline_server_beats_total{");
        assert_no_mention(&text, "heartline_refusals_total{");
        for (interval, jitter) in [(25_000, 0), (25_250, 250), (24_900, 350)] {
            m.observe(&event(
                FEED,
                EventKind::ServerBeat {
                    interval: Duration::from_millis(interval),
                    jitter: Duration::from_millis(jitter),
                },
            ));
        }
        m.observe(&event(
            FEED,
            EventKind::PongMissed {
                kind: PingKind::Server,
                missed: 1,
            },
        ));
        let refused = |class| {
            closed(
                SessionEnd::Refused {
                    protocol: Protocol::SocketIo,
                    class,
                    code: 1000,
                    reason: "not authorized".into(),
                },
                1,
            )
        };
        m.observe(&event(FEED, refused(RefusalClass::Credentials)));
        m.observe(&event(FEED, refused(RefusalClass::Credentials)));
        m.observe(&event(FEED, refused(RefusalClass::Overload)));
        let text = m.encode();
        assert_lines(
            &text,
            &[
                "# TYPE heartline_server_beats counter",
                r#"heartline_server_beats_total{endpoint="feed"} 3"#,
                "# TYPE heartline_last_server_beat_interval_seconds gauge",
                r#"heartline_last_server_beat_interval_seconds{endpoint="feed"} 24.9"#,
                r#"heartline_pong_missed_total{endpoint="feed",kind="server"} 1"#,
                "# TYPE heartline_refusals counter",
                r#"heartline_refusals_total{endpoint="feed",class="credentials"} 2"#,
                r#"heartline_refusals_total{endpoint="feed",class="overload"} 1"#,
                // A refusal is also a close and, being the server's decision, a drop.
                r#"heartline_closes_total{endpoint="feed",code="1000",initiator="server"} 3"#,
                r#"heartline_unexpected_ends_total{endpoint="feed",class="policy"} 2"#,
                r#"heartline_unexpected_ends_total{endpoint="feed",class="try_again"} 1"#,
            ],
        );
        // Classes that never happened have no series; beats are no round trips.
        assert_no_mention(
            &text,
            r#"heartline_refusals_total{endpoint="feed",class="policy"}"#,
        );
        assert_no_mention(&text, "heartline_rtt_seconds");
        assert_no_mention(&text, "heartline_last_rtt_seconds");
        // A plain WebSocket endpoint beside it shows neither family.
        m.set_endpoint(EndpointId(2), "plain");
        let text = m.encode();
        assert_no_mention(&text, r#"heartline_server_beats_total{endpoint="plain"}"#);
        assert_no_mention(&text, r#"heartline_refusals_total{endpoint="plain""#);
        // Removal takes them away with the rest.
        m.remove_endpoint(FEED);
        let text = m.encode();
        assert_no_mention(&text, "heartline_server_beats_total{");
        assert_no_mention(&text, "heartline_refusals_total{");
    }

    /// Per-endpoint memory is what the agent's RSS at 10,000 endpoints is made of: the beat
    /// series add 8 bytes to `Series` (two `u32`s) and refusals 8 to the lazily created
    /// `Rare` (a pointer, allocated at the first refusal).
    #[test]
    fn per_endpoint_series_stay_small() {
        assert_eq!(std::mem::size_of::<Series>(), 144);
        assert_eq!(std::mem::size_of::<Option<Box<Rare>>>(), 8);
        assert_eq!(std::mem::size_of::<Rare>(), 128);
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
}
