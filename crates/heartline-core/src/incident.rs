//! Incidents: the periods during which an endpoint was Down, Degraded or Unstable (a drop
//! storm), derived from its events.
//!
//! The same trouble coming back within [`REOPEN_WITHIN`] of its end reopens the incident
//! rather than starting another one (`episodes` counts them): a half-open path that flaps
//! between Up and Degraded thirteen times is one incident, not thirteen. Each incident
//! carries its cause, the diagnosis finding that explains it ([`IncidentCause`]), worked out
//! from the endpoint's recent history when it opens and again when it closes.
//!
//! An incident opens on the state change to Down or Degraded and closes on the change to Up, or
//! to Paused (the user stopped watching, so how it would have ended is unknown). A Down that
//! starts inside a Degraded period closes the Degraded incident and opens a Down one, and the
//! other way round, so each incident has one kind from start to end.
//!
//! The tallies also cover the *lead-up*: the events from the first sign of trouble (a failed
//! handshake, a closed session, a missed pong, a stale stream) to the state change. The health
//! thresholds deliberately let a failure or two pass before calling an endpoint Down, and those
//! first failures — the 1006 that started it all — are where a postmortem begins. When one
//! incident follows another directly (Degraded → Down), the second one's lead-up may repeat
//! events the first already holds; do not sum tallies across incidents.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::diagnosis::{diagnose_named, Finding, Rule};
use crate::endpoint::EndpointId;
use crate::event::{Event, EventKind, PingKind, Timestamp};
use crate::health::State;

/// The same kind of trouble again within this of an incident's end reopens it. Five minutes:
/// the instability rule's quiet period, so a storm that pauses and resumes stays one story.
pub const REOPEN_WITHIN: Duration = Duration::from_secs(300);

/// Recent events (all but round trips and state changes) kept per endpoint for the diagnosis
/// of its incidents' cause: enough for every rule's minimum, bounded.
pub const RECENT_EVENTS: usize = 300;

/// What explains an incident: the rule and its one-line finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentCause {
    pub rule: Rule,
    /// The finding's title, e.g. "Idle timeout of about 6 s on the path to this endpoint".
    pub title: String,
}

impl IncidentCause {
    fn of(f: &Finding) -> Self {
        IncidentCause {
            rule: f.rule,
            title: f.title.clone(),
        }
    }
}

/// Events kept per incident; the rest are only counted, so one incident stuck open for a week
/// of reconnect attempts costs bounded memory and a bounded row in the store.
pub const MAX_INCIDENT_EVENTS: usize = 500;

/// Protocol round trips behind [`Incident::rtt_before`]: enough for a stable median, few enough
/// to describe "just before" rather than "on average this month".
pub const RTT_BASELINE_SAMPLES: usize = 10;

/// Whether the endpoint was unreachable or merely unwell. Serialized by its
/// [`IncidentKind::as_str`] name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    Down,
    Degraded,
    /// A drop storm: sessions keep ending though each reconnect succeeds.
    Unstable,
}

impl IncidentKind {
    pub const ALL: [IncidentKind; 3] = [
        IncidentKind::Down,
        IncidentKind::Degraded,
        IncidentKind::Unstable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            IncidentKind::Down => "down",
            IncidentKind::Degraded => "degraded",
            IncidentKind::Unstable => "unstable",
        }
    }

    /// The incident kind a health state means, if it means one.
    pub fn of(state: State) -> Option<Self> {
        match state {
            State::Down => Some(IncidentKind::Down),
            State::Degraded => Some(IncidentKind::Degraded),
            State::Unstable => Some(IncidentKind::Unstable),
            State::Connecting | State::Up | State::Paused => None,
        }
    }
}

/// One period of trouble of one endpoint, with what a postmortem needs to know about it.
///
/// `(endpoint, kind, started)` identifies an incident: an endpoint has at most one open at a
/// time, and an incident that follows another at the same instant has the other kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub endpoint: EndpointId,
    pub kind: IncidentKind,
    /// The state change that opened it.
    pub started: Timestamp,
    /// The state change that closed it; `None` while open.
    pub ended: Option<Timestamp>,
    /// Closed because the endpoint was paused, not because it recovered.
    pub ended_by_pause: bool,
    /// From the first sign of trouble (first failure, close, missed pong, stale stream or failed
    /// handshake after the last answered heartbeat) to the state change that opened the
    /// incident: how long the health thresholds took to call it.
    pub time_to_detect: Duration,
    /// Close code → sessions, most frequent first (then by code). Lead-up included.
    pub close_codes: Vec<(u16, u32)>,
    /// (phase as in [`crate::FailedPhase::as_str`], HTTP status, count), most frequent first.
    /// Lead-up included.
    pub handshake_failures: Vec<(String, Option<u16>, u32)>,
    /// `ReconnectScheduled` events in the lead-up and the incident.
    pub reconnect_attempts: u32,
    /// Median of the last (up to [`RTT_BASELINE_SAMPLES`]) protocol round trips before the
    /// first sign of trouble, for "how did it look before"; `None` without any.
    pub rtt_before: Option<Duration>,
    /// Every event of the lead-up and the incident except round trips, in order, capped at
    /// [`MAX_INCIDENT_EVENTS`].
    pub events: Vec<Event>,
    /// Events beyond the cap, counted only.
    pub more_events: u32,
    /// How many times it opened: 1, plus one for each return within [`REOPEN_WITHIN`].
    pub episodes: u32,
    /// The diagnosis that explains it; `None`: unexplained.
    pub cause: Option<IncidentCause>,
}

impl Incident {
    /// How long it lasted, or has lasted so far at `now` if still open.
    pub fn duration(&self, now: Timestamp) -> Duration {
        between(self.started, self.ended.unwrap_or(now))
    }

    pub fn is_open(&self) -> bool {
        self.ended.is_none()
    }
}

/// What one event did to the incidents.
#[derive(Debug, Clone, PartialEq)]
pub enum IncidentChange {
    /// An incident opened; its tallies already hold the lead-up.
    Opened(Incident),
    /// An incident closed; this is its final form.
    Closed(Incident),
    /// An open incident's tallies (or cause) changed: another drop or failed attempt while it
    /// is open, so a long storm's stored row does not keep the tallies of its first minute.
    Updated(Incident),
}

impl IncidentChange {
    pub fn incident(&self) -> &Incident {
        match self {
            IncidentChange::Opened(i) | IncidentChange::Closed(i) | IncidentChange::Updated(i) => i,
        }
    }
}

/// Derives incidents live from events of any number of endpoints, fed in time order.
///
/// Memory per endpoint is bounded: a ring of [`RTT_BASELINE_SAMPLES`] round trips, the
/// lead-up since the first sign of trouble (at most 100 events kept) and the open incident (at
/// most [`MAX_INCIDENT_EVENTS`] events kept).
#[derive(Debug, Clone, Default)]
pub struct IncidentTracker {
    endpoints: BTreeMap<EndpointId, Track>,
}

impl IncidentTracker {
    pub fn new() -> Self {
        IncidentTracker::default()
    }

    /// Feeds one event; returns the incidents it opened or closed, in that order of happening
    /// (a Degraded→Down change closes one and then opens another).
    pub fn observe(&mut self, event: &Event) -> Vec<IncidentChange> {
        let mut changes = Vec::new();
        self.endpoints
            .entry(event.endpoint)
            .or_default()
            .observe(event, &mut changes);
        changes
    }

    /// The incidents open now, by endpoint.
    pub fn open(&self) -> impl Iterator<Item = &Incident> {
        self.endpoints.values().filter_map(|t| t.open.as_deref())
    }

    /// Adopts an open incident loaded from storage after a restart, so the endpoint's next
    /// recovery closes it instead of leaving it open forever. An incident already open for the
    /// endpoint is replaced and returned.
    pub fn resume(&mut self, incident: Incident) -> Option<Incident> {
        let track = self.endpoints.entry(incident.endpoint).or_default();
        track.open.replace(Box::new(incident)).map(|b| *b)
    }

    /// Stops tracking an endpoint (removed by the user); returns its open incident, if any, for
    /// the caller to close as it sees fit.
    pub fn forget(&mut self, endpoint: EndpointId) -> Option<Incident> {
        self.endpoints
            .remove(&endpoint)
            .and_then(|t| t.open)
            .map(|b| *b)
    }
}

/// All incidents in a history (events sorted by time, any endpoints): closed ones by start
/// time, then the ones still open at the end of the history, with `ended: None`.
pub fn derive_incidents(events: &[Event]) -> Vec<Incident> {
    let mut tracker = IncidentTracker::new();
    // By identity: a reopened incident closes again under the same key.
    let mut closed: BTreeMap<(Timestamp, EndpointId, IncidentKind), Incident> = BTreeMap::new();
    for event in events {
        for change in tracker.observe(event) {
            match change {
                IncidentChange::Closed(i) => {
                    closed.insert((i.started, i.endpoint, i.kind), i);
                }
                IncidentChange::Opened(i) => {
                    closed.remove(&(i.started, i.endpoint, i.kind));
                }
                IncidentChange::Updated(_) => {}
            }
        }
    }
    let mut out: Vec<Incident> = closed.into_values().collect();
    let mut open: Vec<Incident> = tracker.open().cloned().collect();
    open.sort_by_key(|i| (i.started, i.endpoint));
    out.extend(open);
    out
}

/// Lead-up events kept before the incident opens; a long lead-up (an endpoint whose threshold
/// tolerates many failures) is counted beyond this rather than kept.
const MAX_LEAD_UP_EVENTS: usize = 100;

/// What the tracker remembers about one endpoint. The incidents are boxed: most endpoints have
/// none, and inline they made every endpoint's entry 632 bytes instead of about 100.
#[derive(Debug, Clone, Default)]
struct Track {
    /// Protocol round trips while no incident was open, newest last, in microseconds (a
    /// quarter of a `Duration`'s size; 10,000 endpoints keep ten each).
    baseline: VecDeque<u32>,
    /// The previous event was this answered heartbeat: a slow one may be what tips the state
    /// into Degraded.
    last_rtt: Option<(Timestamp, PingKind)>,
    /// An incident in the making: tallies since the first sign of trouble after the last
    /// answered heartbeat. Its `started` is that first sign; its kind is decided on opening.
    lead_up: Option<Box<Incident>>,
    open: Option<Box<Incident>>,
    /// The last incident that closed by recovery: the same trouble soon after reopens it.
    closed: Option<Box<Incident>>,
    /// Recent events for the diagnosis of causes, newest last.
    recent: VecDeque<Event>,
}

impl Track {
    fn observe(&mut self, event: &Event, changes: &mut Vec<IncidentChange>) {
        match &event.kind {
            EventKind::Rtt { kind, rtt } => {
                // An answered heartbeat is the healthy moment that ends any lead-up.
                if self.open.is_none() && *kind == PingKind::Protocol {
                    if self.baseline.len() == RTT_BASELINE_SAMPLES {
                        self.baseline.pop_front();
                    } else if self.baseline.capacity() == 0 {
                        // Exactly the ring's size, not the doubling's 16.
                        self.baseline.reserve_exact(RTT_BASELINE_SAMPLES);
                    }
                    self.baseline
                        .push_back(u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX));
                }
                self.lead_up = None;
                self.last_rtt = Some((event.at, *kind));
                return;
            }
            EventKind::StateChanged { to, .. } => self.state_changed(event, *to, changes),
            kind => {
                // The diagnosis reads no attempt starts, and a healthy endpoint would keep one
                // per session here for hours.
                if !matches!(kind, EventKind::Connecting { .. }) {
                    if self.recent.len() == RECENT_EVENTS {
                        self.recent.pop_front();
                    } else if self.recent.len() == self.recent.capacity() && self.recent.len() < 8 {
                        // A healthy endpoint keeps one or two events here for hours: grow one
                        // at a time while small (an event is ~170 bytes), by doubling beyond.
                        self.recent.reserve_exact(1);
                    }
                    self.recent.push_back(event.clone());
                }
                if self.lead_up.is_none() && is_sign_of_trouble(kind) {
                    self.lead_up = Some(Box::new(Incident::pending(event.endpoint, event.at)));
                }
                if let Some(lead_up) = &mut self.lead_up {
                    lead_up.record(event, MAX_LEAD_UP_EVENTS);
                }
                if let Some(open) = &mut self.open {
                    open.record(event, MAX_INCIDENT_EVENTS);
                }
                if matches!(
                    kind,
                    EventKind::Closed { .. } | EventKind::HandshakeFailed(_)
                ) {
                    if let Some(mut open) = self.open.take() {
                        open.cause = self.cause(&open).or(open.cause.take());
                        changes.push(IncidentChange::Updated(Incident::clone(&open)));
                        self.open = Some(open);
                    }
                }
            }
        }
        self.last_rtt = None;
    }

    fn state_changed(&mut self, event: &Event, to: State, changes: &mut Vec<IncidentChange>) {
        let Some(kind) = IncidentKind::of(to) else {
            if to == State::Connecting {
                // Not a recovery: keep whatever is open or in the making.
                if let Some(open) = &mut self.open {
                    open.record(event, MAX_INCIDENT_EVENTS);
                }
                if let Some(lead_up) = &mut self.lead_up {
                    lead_up.record(event, MAX_LEAD_UP_EVENTS);
                }
            } else {
                self.lead_up = None;
                if let Some(incident) = self.close(event, to == State::Paused) {
                    changes.push(IncidentChange::Closed(incident));
                }
            }
            return;
        };
        if let Some(open) = &mut self.open {
            if open.kind == kind {
                open.record(event, MAX_INCIDENT_EVENTS);
                return;
            }
        }
        let follows_another = self.open.is_some();
        if let Some(incident) = self.close(event, false) {
            changes.push(IncidentChange::Closed(incident));
        }
        if let Some(mut again) = self.closed.take().filter(|c| {
            c.kind == kind
                && c.ended
                    .is_some_and(|e| between(e, event.at) <= REOPEN_WITHIN)
        }) {
            // The same trouble back soon: the same incident, one more episode.
            self.lead_up = None;
            again.ended = None;
            again.episodes = again.episodes.saturating_add(1);
            again.record(event, MAX_INCIDENT_EVENTS);
            let previous = again.cause.take();
            again.cause = self.cause(&again).or(previous);
            changes.push(IncidentChange::Opened(Incident::clone(&again)));
            self.open = Some(again);
            return;
        }
        let mut incident = match (self.lead_up.take(), self.last_rtt) {
            (Some(lead_up), _) => {
                // Kept while this incident is open: when it hands over to another directly
                // (Degraded after a first missed pong, Down after the second), the first sign
                // of trouble of both is the first missed pong, not the second.
                self.lead_up = Some(lead_up.clone());
                lead_up
            }
            (None, Some((rtt_at, rtt_kind))) => {
                // No failure: the round trip just before tipped it (a slow one). It is the
                // first sign of trouble and no part of the baseline.
                if rtt_kind == PingKind::Protocol && !follows_another {
                    self.baseline.pop_back();
                }
                Box::new(Incident::pending(event.endpoint, rtt_at))
            }
            (None, None) => Box::new(Incident::pending(event.endpoint, event.at)),
        };
        incident.kind = kind;
        incident.time_to_detect = between(incident.started, event.at);
        incident.started = event.at;
        incident.rtt_before = median(
            self.baseline
                .iter()
                .map(|&us| Duration::from_micros(u64::from(us))),
        );
        incident.record(event, MAX_INCIDENT_EVENTS);
        incident.cause = self.cause(&incident);
        changes.push(IncidentChange::Opened(Incident::clone(&incident)));
        self.open = Some(incident);
    }

    fn close(&mut self, event: &Event, by_pause: bool) -> Option<Incident> {
        let mut incident = *self.open.take()?;
        incident.record(event, MAX_INCIDENT_EVENTS);
        incident.ended = Some(event.at);
        incident.ended_by_pause = by_pause;
        incident.cause = self.cause(&incident).or(incident.cause.take());
        self.closed = (!by_pause).then(|| Box::new(incident.clone()));
        Some(incident)
    }

    /// The finding that explains `incident` from the recent history: among the findings
    /// seen since [`REOPEN_WITHIN`] before its first episode, the best fit for its kind, then
    /// the most frequent. Reconnect storms are a symptom, named only when nothing else is.
    fn cause(&self, incident: &Incident) -> Option<IncidentCause> {
        let events: Vec<Event> = self.recent.iter().cloned().collect();
        let since = Timestamp(
            incident
                .started
                .0
                .saturating_sub(i64::try_from(REOPEN_WITHIN.as_millis()).unwrap_or(0))
                .saturating_sub(i64::try_from(incident.time_to_detect.as_millis()).unwrap_or(0)),
        );
        let findings = diagnose_named(&events, "this endpoint");
        findings
            .iter()
            .filter(|f| f.endpoints.contains(&incident.endpoint) && f.last_seen >= since)
            .max_by_key(|f| (fit(incident.kind, f.rule), f.occurrences, f.last_seen))
            .map(IncidentCause::of)
    }
}

/// How well a rule explains an incident of a kind: failed attempts explain being Down,
/// sessions that end explain a drop storm or a degraded path; a storm of reconnects explains
/// nothing by itself.
fn fit(kind: IncidentKind, rule: Rule) -> u8 {
    let handshake = matches!(
        rule,
        Rule::Credentials | Rule::Tls | Rule::Dns | Rule::UpgradeRefused
    );
    match (kind, rule) {
        (_, Rule::ReconnectStorm) => 0,
        (IncidentKind::Down, _) if handshake => 3,
        (IncidentKind::Unstable | IncidentKind::Degraded, _) if !handshake => 3,
        _ => 1,
    }
}

impl Incident {
    /// An empty incident whose trouble started at `since`; kind and timing are set on opening.
    fn pending(endpoint: EndpointId, since: Timestamp) -> Self {
        Incident {
            endpoint,
            kind: IncidentKind::Down,
            started: since,
            ended: None,
            ended_by_pause: false,
            time_to_detect: Duration::ZERO,
            close_codes: Vec::new(),
            handshake_failures: Vec::new(),
            reconnect_attempts: 0,
            rtt_before: None,
            events: Vec::new(),
            more_events: 0,
            episodes: 1,
            cause: None,
        }
    }

    /// Tallies one (non-round-trip) event, keeping at most `cap` events.
    fn record(&mut self, event: &Event, cap: usize) {
        match &event.kind {
            EventKind::Closed { end, .. } => {
                let code = end.code();
                match self.close_codes.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, n)) => *n += 1,
                    None => self.close_codes.push((code, 1)),
                }
                self.close_codes
                    .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            }
            EventKind::HandshakeFailed(failure) => {
                let (phase, status) = (failure.phase.as_str(), failure.phase.status());
                match self
                    .handshake_failures
                    .iter_mut()
                    .find(|(p, s, _)| p == phase && *s == status)
                {
                    Some((_, _, n)) => *n += 1,
                    None => self.handshake_failures.push((phase.to_owned(), status, 1)),
                }
                self.handshake_failures
                    .sort_by(|a, b| b.2.cmp(&a.2).then((&a.0, a.1).cmp(&(&b.0, b.1))));
            }
            EventKind::ReconnectScheduled { .. } => self.reconnect_attempts += 1,
            _ => {}
        }
        if self.events.len() < cap {
            self.events.push(event.clone());
        } else {
            self.more_events = self.more_events.saturating_add(1);
        }
    }
}

/// Events that say something is wrong, as opposed to the user or program deciding to stop.
fn is_sign_of_trouble(kind: &EventKind) -> bool {
    match kind {
        EventKind::Closed { end, .. } => end.cause().is_none_or(|c| c.is_fault()),
        EventKind::HandshakeFailed(_)
        | EventKind::PongMissed { .. }
        | EventKind::Stale { .. }
        | EventKind::GaveUp { .. } => true,
        EventKind::Connecting { .. }
        | EventKind::Connected { .. }
        | EventKind::Rtt { .. }
        | EventKind::ServerBeat { .. }
        | EventKind::ReconnectScheduled { .. }
        | EventKind::StateChanged { .. } => false,
    }
}

/// The time from `from` to `to`, zero if they are the wrong way round.
pub(crate) fn between(from: Timestamp, to: Timestamp) -> Duration {
    Duration::from_millis(u64::try_from(to.0.saturating_sub(from.0)).unwrap_or(0))
}

fn median(samples: impl Iterator<Item = Duration>) -> Option<Duration> {
    let mut sorted: Vec<Duration> = samples.collect();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[mid]),
        _ => Some((sorted[mid - 1] + sorted[mid]) / 2),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::event::{
        CloseCause, FailedPhase, Handshake, HandshakeFailure, Phases, RetryReason, SessionEnd,
        SessionStats,
    };

    /// The names the store keeps and the UI colours by (`--state-down`, …).
    #[test]
    fn kinds_serialize_by_their_names() {
        let kinds = [
            (IncidentKind::Down, "down"),
            (IncidentKind::Degraded, "degraded"),
            (IncidentKind::Unstable, "unstable"),
        ];
        assert_eq!(kinds.map(|(k, _)| k), IncidentKind::ALL);
        for (kind, name) in kinds {
            assert_eq!(kind.as_str(), name);
            let json = serde_json::to_value(kind).expect("serialize");
            assert_eq!(json, serde_json::Value::from(name));
            assert_eq!(
                serde_json::from_value::<IncidentKind>(json).ok(),
                Some(kind)
            );
        }
    }

    /// A history of one or more endpoints, written in seconds from an arbitrary origin.
    #[derive(Default)]
    struct History(Vec<Event>);

    impl History {
        fn at(mut self, ep: u64, secs: f64, kind: EventKind) -> Self {
            self.0.push(Event {
                at: Timestamp((secs * 1000.0).round() as i64),
                endpoint: EndpointId(ep),
                kind,
            });
            self
        }
        fn state(self, ep: u64, secs: f64, from: State, to: State) -> Self {
            self.at(ep, secs, EventKind::StateChanged { from, to })
        }
        fn rtt(self, ep: u64, secs: f64, ms: u64) -> Self {
            let rtt = Duration::from_millis(ms);
            self.at(
                ep,
                secs,
                EventKind::Rtt {
                    kind: PingKind::Protocol,
                    rtt,
                },
            )
        }
        fn lost(self, ep: u64, secs: f64) -> Self {
            let end = SessionEnd::Lost {
                error: "reset".into(),
            };
            let stats = SessionStats::default();
            self.at(ep, secs, EventKind::Closed { end, stats })
        }
        fn closed_by(self, ep: u64, secs: f64, cause: CloseCause) -> Self {
            let end = SessionEnd::ClosedByClient {
                cause,
                code: 1000,
                reason: String::new(),
                clean: true,
            };
            let stats = SessionStats::default();
            self.at(ep, secs, EventKind::Closed { end, stats })
        }
        fn server_close(self, ep: u64, secs: f64, code: u16) -> Self {
            let end = SessionEnd::ClosedByServer {
                code,
                reason: String::new(),
            };
            let stats = SessionStats::default();
            self.at(ep, secs, EventKind::Closed { end, stats })
        }
        fn refused(self, ep: u64, secs: f64, phase: FailedPhase) -> Self {
            let failure = HandshakeFailure {
                phase,
                error: "no".into(),
                elapsed: Duration::from_millis(5),
            };
            self.at(ep, secs, EventKind::HandshakeFailed(failure))
        }
        fn retry(self, ep: u64, secs: f64) -> Self {
            let kind = EventKind::ReconnectScheduled {
                attempt: 2,
                delay: Duration::from_secs(1),
                reason: RetryReason::Backoff,
            };
            self.at(ep, secs, kind)
        }
        fn connected(self, ep: u64, secs: f64) -> Self {
            let handshake = Handshake {
                phases: Phases::default(),
                peer: "127.0.0.1:9".parse().unwrap(),
                subprotocol: None,
                extensions: Vec::new(),
            };
            self.at(
                ep,
                secs,
                EventKind::Connected {
                    attempt: 1,
                    handshake,
                },
            )
        }
    }

    /// One line per incident with the fields that matter, so expectations read like a log.
    fn summary(i: &Incident) -> String {
        let secs = |t: Timestamp| t.0 as f64 / 1000.0;
        let mut s = format!("#{} {} {}", i.endpoint.0, i.kind.as_str(), secs(i.started));
        match i.ended {
            Some(end) if i.ended_by_pause => write!(s, "–{} paused", secs(end)).unwrap(),
            Some(end) => write!(s, "–{}", secs(end)).unwrap(),
            None => s.push_str("–open"),
        }
        write!(s, " detect {}", i.time_to_detect.as_secs_f64()).unwrap();
        for (code, n) in &i.close_codes {
            write!(s, " {code}×{n}").unwrap();
        }
        for (phase, status, n) in &i.handshake_failures {
            match status {
                Some(status) => write!(s, " {phase}:{status}×{n}").unwrap(),
                None => write!(s, " {phase}×{n}").unwrap(),
            }
        }
        if i.reconnect_attempts > 0 {
            write!(s, " retries {}", i.reconnect_attempts).unwrap();
        }
        if let Some(rtt) = i.rtt_before {
            write!(s, " rtt {}ms", rtt.as_millis()).unwrap();
        }
        write!(s, " events {}", i.events.len()).unwrap();
        s
    }

    fn check(history: History, expected: &[&str]) {
        let got: Vec<String> = derive_incidents(&history.0).iter().map(summary).collect();
        assert_eq!(got, expected);
    }

    use State::{Connecting, Degraded, Down, Paused, Up};

    #[test]
    fn down_with_its_lead_up() {
        // Up, a loss the threshold tolerates, a failed retry, Down, then recovery.
        check(
            History::default()
                .state(1, 0.0, Connecting, Up)
                .rtt(1, 1.0, 10)
                .rtt(1, 2.0, 30)
                .rtt(1, 3.0, 20)
                .lost(1, 10.0)
                .retry(1, 10.0)
                .refused(1, 11.0, FailedPhase::Tcp)
                .state(1, 11.0, Up, Down)
                .retry(1, 11.0)
                .refused(
                    1,
                    13.0,
                    FailedPhase::Http {
                        status: Some(503),
                        retry_after: None,
                    },
                )
                .retry(1, 13.0)
                .connected(1, 20.0)
                .rtt(1, 20.5, 900)
                .state(1, 20.5, Down, Up),
            &["#1 down 11–20.5 detect 1 1006×1 http:503×1 tcp×1 retries 3 rtt 20ms events 9"],
        );
    }

    #[test]
    fn an_answered_heartbeat_ends_the_lead_up() {
        // The first loss was forgiven by a heartbeat; trouble restarts at the second.
        check(
            History::default()
                .state(1, 0.0, Connecting, Up)
                .lost(1, 5.0)
                .connected(1, 6.0)
                .rtt(1, 6.5, 10)
                .lost(1, 30.0)
                .lost(1, 32.0)
                .state(1, 32.0, Up, Down),
            &["#1 down 32–open detect 2 1006×2 rtt 10ms events 3"],
        );
    }

    #[test]
    fn degraded_then_down_then_degraded() {
        check(
            History::default()
                .state(1, 0.0, Connecting, Up)
                .rtt(1, 1.0, 10)
                .rtt(1, 2.0, 1500)
                .state(1, 2.0, Up, Degraded)
                .rtt(1, 3.0, 1600)
                .lost(1, 4.0)
                .refused(1, 6.0, FailedPhase::Dns)
                .state(1, 6.0, Degraded, Down)
                .rtt(1, 9.0, 1700)
                .state(1, 9.0, Down, Degraded)
                .rtt(1, 10.0, 10)
                .state(1, 10.0, Degraded, Up),
            &[
                // The slow round trip that tipped it is the first sign and not the baseline.
                "#1 degraded 2–6 detect 0 1006×1 dns×1 rtt 10ms events 4",
                "#1 down 6–9 detect 2 1006×1 dns×1 rtt 10ms events 4",
                "#1 degraded 9–10 detect 0 rtt 10ms events 2",
            ],
        );
    }

    #[test]
    fn pause_ends_an_incident_and_drops_the_lead_up() {
        check(
            History::default()
                .state(1, 0.0, Connecting, Down)
                .closed_by(1, 5.0, CloseCause::User)
                .state(1, 5.0, Down, Paused)
                .state(1, 8.0, Paused, Connecting)
                .lost(1, 9.0)
                .state(1, 9.5, Connecting, Paused)
                .state(1, 10.0, Paused, Connecting)
                .lost(1, 11.0)
                .lost(1, 12.0)
                .state(1, 12.0, Connecting, Down),
            &[
                "#1 down 0–5 paused detect 0 1000×1 events 3",
                "#1 down 12–open detect 1 1006×2 events 3",
            ],
        );
    }

    #[test]
    fn user_closes_are_not_trouble() {
        // Closing for a reconfiguration starts no lead-up; the real loss does.
        check(
            History::default()
                .state(1, 0.0, Connecting, Up)
                .closed_by(1, 1.0, CloseCause::Reconfigured)
                .connected(1, 2.0)
                .server_close(1, 7.0, 1011)
                .closed_by(1, 8.0, CloseCause::PongTimeout)
                .state(1, 8.0, Up, Down),
            &["#1 down 8–open detect 1 1000×1 1011×1 events 3"],
        );
    }

    #[test]
    fn endpoints_are_independent_and_open_ones_come_last() {
        check(
            History::default()
                .state(2, 0.0, Connecting, Down)
                .lost(1, 1.0)
                .state(1, 1.0, Up, Down)
                .state(1, 2.0, Down, Up)
                .state(3, 3.0, Up, Degraded)
                .state(3, 4.0, Degraded, Up),
            &[
                "#1 down 1–2 detect 0 1006×1 events 3",
                "#3 degraded 3–4 detect 0 events 2",
                "#2 down 0–open detect 0 events 1",
            ],
        );
    }

    #[test]
    fn tallies_sort_by_count_then_key() {
        let mut h = History::default().state(1, 0.0, Up, Down);
        for (i, code) in [1011, 1006, 1001, 1006, 1011, 1006].into_iter().enumerate() {
            h = h.server_close(1, 1.0 + i as f64, code);
        }
        h = h
            .refused(1, 10.0, FailedPhase::Tls)
            .refused(
                1,
                11.0,
                FailedPhase::Http {
                    status: Some(502),
                    retry_after: None,
                },
            )
            .refused(
                1,
                12.0,
                FailedPhase::Http {
                    status: Some(401),
                    retry_after: None,
                },
            )
            .refused(
                1,
                13.0,
                FailedPhase::Http {
                    status: Some(502),
                    retry_after: None,
                },
            );
        check(
            h,
            &["#1 down 0–open detect 0 1006×3 1011×2 1001×1 http:502×2 http:401×1 tls×1 events 11"],
        );
    }

    #[test]
    fn events_are_capped_and_the_rest_counted() {
        let mut h = History::default().state(1, 0.0, Connecting, Down);
        for i in 0..1_000 {
            h = h.retry(1, 1.0 + f64::from(i));
        }
        let incidents = derive_incidents(&h.0);
        assert_eq!(incidents[0].events.len(), MAX_INCIDENT_EVENTS);
        assert_eq!(incidents[0].more_events, 501);
        assert_eq!(incidents[0].reconnect_attempts, 1_000);
    }

    #[test]
    fn baseline_is_the_median_of_the_last_ten() {
        let mut h = History::default().state(1, 0.0, Connecting, Up);
        for i in 0..30u64 {
            // 1000 ms for the old ones, then 10..=19 ms: only the last ten count.
            let ms = if i < 20 { 1000 } else { i - 10 };
            h = h.rtt(1, 1.0 + i as f64, ms);
        }
        h = h.lost(1, 40.0).state(1, 40.0, Up, Down);
        // Median of 10..=19 is (14 + 15) / 2.
        check(h, &["#1 down 40–open detect 0 1006×1 rtt 14ms events 2"]);
    }

    /// Checks what the live tracker reports, event by event.
    fn check_changes(history: History, expected: &[&str]) {
        let mut tracker = IncidentTracker::new();
        let mut got = Vec::new();
        for event in &history.0 {
            for change in tracker.observe(event) {
                let (word, i) = match &change {
                    IncidentChange::Opened(i) => ("opened", i),
                    IncidentChange::Closed(i) => ("closed", i),
                    IncidentChange::Updated(i) => ("updated", i),
                };
                got.push(format!("{word} {}", summary(i)));
            }
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn live_changes() {
        check_changes(
            History::default()
                .state(1, 0.0, Connecting, Up)
                .lost(1, 1.0)
                .state(1, 2.0, Up, Degraded)
                .retry(1, 2.5)
                .state(1, 3.0, Degraded, Down)
                .state(1, 4.0, Down, Down)
                .state(1, 5.0, Down, Up),
            &[
                "opened #1 degraded 2–open detect 1 1006×1 events 2",
                "closed #1 degraded 2–3 detect 1 1006×1 retries 1 events 4",
                // The Down follows the Degraded directly: its lead-up is the Degraded one's,
                // from the same first sign (the loss at 1 s).
                "opened #1 down 3–open detect 2 1006×1 retries 1 events 3",
                "closed #1 down 3–5 detect 2 1006×1 retries 1 events 5",
            ],
        );
    }

    #[test]
    fn resumed_incidents_close_on_recovery_and_forgotten_ones_are_returned() {
        let mut tracker = IncidentTracker::new();
        let mut loaded = Incident::pending(EndpointId(7), Timestamp(1_000));
        loaded.kind = IncidentKind::Down;
        assert_eq!(tracker.resume(loaded.clone()), None);
        let still_down = History::default()
            .state(7, 5.0, Connecting, Down)
            .state(7, 9.0, Down, Up);
        assert!(tracker.observe(&still_down.0[0]).is_empty());
        let changes = tracker.observe(&still_down.0[1]);
        assert_eq!(changes.len(), 1);
        let closed = changes[0].incident();
        assert_eq!(
            (closed.started, closed.ended),
            (Timestamp(1_000), Some(Timestamp(9_000)))
        );
        assert_eq!(closed.duration(Timestamp(99_000)), Duration::from_secs(8));

        tracker.resume(loaded);
        assert_eq!(tracker.open().count(), 1);
        let forgotten = tracker.forget(EndpointId(7)).unwrap();
        assert_eq!(forgotten.duration(Timestamp(4_000)), Duration::from_secs(3));
        assert_eq!(tracker.open().count(), 0);
    }

    /// A session lost without a close frame after `lasted` s, all of it silent.
    fn idle_drop(h: History, ep: u64, secs: f64, lasted: f64) -> History {
        let end = SessionEnd::Lost {
            error: "eof".into(),
        };
        let stats = SessionStats {
            duration: Duration::from_secs_f64(lasted),
            silent_for: Duration::from_secs_f64(lasted),
            ..SessionStats::default()
        };
        h.at(ep, secs, EventKind::Closed { end, stats })
    }

    #[test]
    fn the_first_missed_pong_is_the_first_sign_of_trouble() {
        // A half-open path: the first missed pong makes it Degraded, the second closes the
        // session and, with the failed retries, makes it Down. Both incidents start their
        // lead-up at the first miss.
        let miss = |n| EventKind::PongMissed {
            kind: PingKind::Protocol,
            missed: n,
        };
        let h = History::default()
            .state(1, 0.0, Connecting, Up)
            .rtt(1, 5.0, 10)
            .at(1, 10.0, miss(1))
            .state(1, 10.0, Up, Degraded)
            .at(1, 20.0, miss(2))
            .closed_by(1, 20.0, CloseCause::PongTimeout)
            .retry(1, 20.0)
            .refused(1, 21.0, FailedPhase::Tcp)
            .state(1, 21.0, Degraded, Down)
            .connected(1, 30.0)
            .state(1, 30.0, Down, Up);
        check(
            h,
            &[
                "#1 degraded 10–21 detect 0 1000×1 tcp×1 retries 1 rtt 10ms events 7",
                "#1 down 21–30 detect 11 1000×1 tcp×1 retries 1 rtt 10ms events 8",
            ],
        );
    }

    #[test]
    fn flapping_within_the_quiet_period_is_one_incident_with_episodes() {
        // A half-open path: Degraded and back thirteen times, a minute apart.
        let mut h = History::default().state(1, 0.0, Connecting, Up);
        for i in 0..13 {
            let t = 10.0 + 60.0 * f64::from(i);
            h = h
                .at(
                    1,
                    t,
                    EventKind::PongMissed {
                        kind: PingKind::Protocol,
                        missed: 1,
                    },
                )
                .state(1, t, Up, Degraded)
                .rtt(1, t + 20.0, 10)
                .state(1, t + 20.0, Degraded, Up);
        }
        // Back again after more than the quiet period: a new incident.
        h = h.state(1, 2000.0, Up, Degraded);
        let incidents = derive_incidents(&h.0);
        let got: Vec<(f64, Option<i64>, u32)> = incidents
            .iter()
            .map(|i| {
                (
                    i.started.0 as f64 / 1000.0,
                    i.ended.map(|e| e.0),
                    i.episodes,
                )
            })
            .collect();
        assert_eq!(got, [(10.0, Some(750_000), 13), (2000.0, None, 1)]);
    }

    #[test]
    fn a_drop_storm_opens_an_unstable_incident_with_its_cause() {
        // Sessions cut after 6 s of silence; the instability rule calls it Unstable.
        let mut h = History::default().state(1, 0.0, Connecting, Up);
        for i in 0..4 {
            let t = 7.0 * f64::from(i);
            h = idle_drop(h.connected(1, t), 1, t + 6.0, 6.0);
        }
        h = h.state(1, 27.0, Up, State::Unstable);
        for i in 4..8 {
            let t = 7.0 * f64::from(i);
            h = idle_drop(h.connected(1, t), 1, t + 6.0, 6.0);
        }
        h = h.state(1, 400.0, State::Unstable, Up);
        let incidents = derive_incidents(&h.0);
        assert_eq!(incidents.len(), 1, "{incidents:?}");
        let i = &incidents[0];
        assert_eq!(i.kind, IncidentKind::Unstable);
        // No heartbeat answered between the drops: the lead-up holds the first four.
        assert_eq!(i.close_codes, [(1006, 8)]);
        let cause = i.cause.as_ref().expect("a cause");
        assert_eq!(cause.rule, Rule::IdleTimeout);
        assert_eq!(
            cause.title,
            "Idle timeout of about 6 s on the path to this endpoint"
        );
    }

    #[test]
    fn trouble_without_a_pattern_is_unexplained() {
        let h = History::default()
            .state(1, 0.0, Connecting, Up)
            .lost(1, 5.0)
            .state(1, 5.0, Up, Down);
        assert_eq!(derive_incidents(&h.0)[0].cause, None);
    }
}
