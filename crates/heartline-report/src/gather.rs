//! The thin data-gathering layer over heartline-store: which endpoints a selection means, the
//! aggregates behind the summary, and the events streamed a day at a time with what each
//! event contributes (tallies, diagnosis, incident marks) on the way through.

use std::collections::{BTreeMap, HashMap, HashSet};

use heartline_core::{
    diagnose, EndpointFacts, EndpointId, Event, EventKind, Finding, Incident, IncidentKind,
    PingKind, Timestamp,
};
use heartline_store::{Availability, Scope, Store};

use crate::model::{
    CloseCount, EndpointSummary, FindingSummary, IncidentSummary, Mark, RttSummary, ServerBeats,
};
use crate::{Error, Result, Selection};

/// Events are read in slices of this much time: a day keeps one read's memory small whatever
/// the window, and is the unit progress is reported in.
pub(crate) const CHUNK_MS: i64 = 86_400_000;

/// Diagnosis holds at most this many events at once. A window with more (per the whole
/// selection) is diagnosed in consecutive slices of whole days, each with its own findings: the
/// rules look at minutes-long patterns, so little is lost, and memory stays bounded.
pub const DIAGNOSIS_SLICE_EVENTS: usize = 50_000;

/// RTT buckets read for the summary: minutes up to 5 h, hours up to 12 days, then days.
const SUMMARY_RTT_POINTS: usize = 300;

/// A selected endpoint with what the export shows about it.
#[derive(Debug, Clone)]
pub(crate) struct Selected {
    pub id: EndpointId,
    pub name: String,
    pub url: String,
    pub tags: Vec<String>,
    pub facts: EndpointFacts,
}

/// The endpoints a selection names, read without their secret values (the secret store is
/// never asked).
pub(crate) async fn resolve(store: &Store, selection: &Selection) -> Result<Vec<Selected>> {
    let stored = store.export_endpoints().await?;
    if stored.is_empty() {
        return Err(Error::NoEndpoints(
            "the database has no endpoints (add some with `heartline endpoints add`)".into(),
        ));
    }
    let names: Vec<&str> = stored.iter().map(|e| e.endpoint.name.as_str()).collect();
    let unknown: Vec<&String> = selection
        .endpoints
        .iter()
        .filter(|n| !names.contains(&n.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::UnknownEndpoints {
            unknown: join_quoted(unknown.iter().map(|s| s.as_str())),
            known: join_quoted(names.iter().copied()),
        });
    }
    let mut tags: Vec<&str> = stored
        .iter()
        .flat_map(|e| e.endpoint.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    let unknown: Vec<&String> = selection
        .tags
        .iter()
        .filter(|t| !tags.contains(&t.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::UnknownTags {
            unknown: join_quoted(unknown.iter().map(|s| s.as_str())),
            known: if tags.is_empty() {
                "none (no endpoint has tags)".into()
            } else {
                join_quoted(tags.iter().copied())
            },
        });
    }
    let everything = selection.endpoints.is_empty() && selection.tags.is_empty();
    let mut out: Vec<Selected> = stored
        .into_iter()
        .filter(|s| {
            everything
                || selection.endpoints.contains(&s.endpoint.name)
                || s.endpoint.tags.iter().any(|t| selection.tags.contains(t))
        })
        .map(|s| {
            let e = s.endpoint;
            let host = e.target().map(|t| t.host).unwrap_or_default();
            Selected {
                id: s.id,
                url: e.display_url(),
                tags: e.tags.clone(),
                facts: EndpointFacts {
                    id: s.id,
                    name: e.name.clone(),
                    host,
                    ping_interval: e.heartbeat.ping_interval,
                    app_heartbeat_interval: e.app_heartbeat.as_ref().map(|a| a.interval),
                },
                name: e.name,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if out.is_empty() {
        return Err(Error::NoEndpoints(
            "no endpoint matches the selection".into(),
        ));
    }
    Ok(out)
}

/// The store's scope for a selection: every endpoint when it names none, else their ids.
pub(crate) fn scope<'a>(selection: &Selection, ids: &'a [EndpointId]) -> Scope<'a> {
    if selection.endpoints.is_empty() && selection.tags.is_empty() {
        Scope::All
    } else {
        Scope::Only(ids)
    }
}

/// "`a`, `b`, `c`", at most 20 names, then how many more (one line even for 10,000). The
/// names (typed on a command line or read from the database) have their control characters
/// escaped: the message is shown on a terminal.
fn join_quoted<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<String> = items
        .map(|s| format!("`{}`", heartline_core::escape_controls(s)))
        .collect();
    let mut text = all.iter().take(20).cloned().collect::<Vec<_>>().join(", ");
    if all.len() > 20 {
        text.push_str(&format!(" and {} more", all.len() - 20));
    }
    text
}

/// What aggregate queries say about the window, before any event is read.
#[derive(Debug, Default)]
pub(crate) struct Aggregates {
    pub uptime: HashMap<EndpointId, Availability>,
    pub rtt: HashMap<EndpointId, RttSummary>,
    pub beats: HashMap<EndpointId, ServerBeats>,
    pub incidents: Vec<Incident>,
    pub close_codes: Vec<CloseCount>,
}

impl Aggregates {
    /// Whether the aggregates alone show anything happened or was known in the window.
    pub fn any(&self) -> bool {
        !self.incidents.is_empty()
            || !self.close_codes.is_empty()
            || !self.rtt.is_empty()
            || !self.beats.is_empty()
            || self
                .uptime
                .values()
                .any(|u| u.uptime().is_some() || !u.paused.is_zero())
    }
}

pub(crate) async fn aggregates(
    store: &Store,
    scope: Scope<'_>,
    ids: &[EndpointId],
    since: Timestamp,
    until: Timestamp,
) -> Result<Aggregates> {
    // Five independent statements, on the pool's connections at once.
    let (rtt, beats, uptime, incidents, close_codes) = futures_util::future::try_join5(
        store.export_rtt(scope, PingKind::Protocol, since, until, SUMMARY_RTT_POINTS),
        store.export_beats(scope, since, until, SUMMARY_RTT_POINTS),
        store.availability_of(scope, since, until),
        store.incidents(ids, since, until),
        store.export_close_codes(scope, since, until),
    )
    .await?;
    Ok(Aggregates {
        uptime,
        rtt: rtt
            .into_iter()
            .map(|(id, r)| {
                (
                    id,
                    RttSummary {
                        resolution: resolution_name(r.resolution),
                        samples: r.samples,
                        mean: r.mean,
                        worst_p95: r.worst_p95,
                    },
                )
            })
            .collect(),
        beats: beats
            .into_iter()
            .map(|(id, b)| {
                (
                    id,
                    ServerBeats {
                        resolution: resolution_name(b.resolution),
                        beats: b.samples,
                        mean_interval: b.mean,
                        worst_p95_interval: b.worst_p95,
                    },
                )
            })
            .collect(),
        incidents,
        close_codes: close_codes
            .into_iter()
            .map(|(code, initiator, count)| CloseCount {
                code,
                initiator,
                count,
            })
            .collect(),
    })
}

fn resolution_name(r: heartline_store::Resolution) -> &'static str {
    match r {
        heartline_store::Resolution::Minute => "minute",
        heartline_store::Resolution::Hour => "hour",
        heartline_store::Resolution::Day => "day",
    }
}

/// Per-endpoint counts made while streaming.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub by_endpoint: HashMap<EndpointId, Counts>,
    pub seen: u64,
    pub exported: u64,
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub closes: u64,
    pub handshake_failures: u64,
    pub reconnects: u64,
}

impl Tally {
    pub fn observe(&mut self, event: &Event) {
        self.seen += 1;
        let c = self.by_endpoint.entry(event.endpoint).or_default();
        match event.kind {
            EventKind::Closed { .. } => c.closes += 1,
            EventKind::HandshakeFailed(_) => c.handshake_failures += 1,
            EventKind::ReconnectScheduled { .. } => c.reconnects += 1,
            _ => {}
        }
    }
}

/// Runs the diagnosis rules over the streamed events in bounded slices.
pub(crate) struct Diagnoser {
    facts: Vec<EndpointFacts>,
    held: Vec<Event>,
    /// The wanted events of the day being read.
    today: Vec<Event>,
    /// Findings merged across slices as they come (one per rule and endpoints, so memory
    /// does not grow with the number of slices), with how many slices found each.
    merged: BTreeMap<(heartline_core::Rule, Vec<EndpointId>), (Finding, usize)>,
}

impl Diagnoser {
    pub fn new(facts: Vec<EndpointFacts>) -> Self {
        Diagnoser {
            facts,
            held: Vec::new(),
            today: Vec::new(),
            merged: BTreeMap::new(),
        }
    }

    /// Takes one event of the day being read (only the kinds a rule reads are kept).
    pub fn push(&mut self, event: Event) {
        if !matches!(
            event.kind,
            EventKind::StateChanged { .. } | EventKind::Stale { .. } | EventKind::Rtt { .. }
        ) {
            self.today.push(event);
        }
    }

    /// Ends a day: diagnoses what is held first when the day would take it past the slice
    /// size, so slices are whole days.
    pub fn end_day(&mut self) {
        if !self.held.is_empty() && self.held.len() + self.today.len() > DIAGNOSIS_SLICE_EVENTS {
            self.flush();
        }
        self.held.append(&mut self.today);
    }

    fn flush(&mut self) {
        if !self.held.is_empty() {
            for f in diagnose(&self.held, &self.facts) {
                self.absorb(f);
            }
            self.held.clear();
        }
    }

    /// Merges a slice's finding: a pattern found in several slices keeps the finding with the
    /// most occurrences, with the first and last times and the total over all of them.
    fn absorb(&mut self, f: Finding) {
        match self.merged.entry((f.rule, f.endpoints.clone())) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert((f, 1));
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                let (kept, parts) = slot.get_mut();
                let (first, last) = (
                    kept.first_seen.min(f.first_seen),
                    kept.last_seen.max(f.last_seen),
                );
                let total = kept.occurrences.saturating_add(f.occurrences);
                if f.occurrences > kept.occurrences {
                    *kept = f;
                }
                kept.first_seen = first;
                kept.last_seen = last;
                kept.occurrences = total;
                *parts += 1;
            }
        }
    }

    /// Every finding, newest first, with endpoints named. A pattern found in several slices
    /// is reported once: the slice's finding with the most occurrences, with the totals.
    pub fn finish(mut self, names: &HashMap<EndpointId, String>) -> Vec<FindingSummary> {
        self.end_day();
        self.flush();
        let mut findings: Vec<Finding> = std::mem::take(&mut self.merged)
            .into_values()
            .map(|(mut f, parts)| {
                if parts > 1 {
                    f.evidence.push(format!(
                        "in all {} occurrences between {} and {}, found in {parts} parts of the \
                         window (diagnosed {} events at a time); the lines above describe the \
                         largest",
                        f.occurrences,
                        crate::time::iso_utc(f.first_seen),
                        crate::time::iso_utc(f.last_seen),
                        DIAGNOSIS_SLICE_EVENTS
                    ));
                }
                f
            })
            .collect();
        heartline_core::sort_findings(&mut findings);
        findings
            .into_iter()
            .map(|f| FindingSummary {
                rule: f.rule.as_str(),
                endpoints: f
                    .endpoints
                    .iter()
                    .map(|id| names.get(id).cloned().unwrap_or_else(|| id.to_string()))
                    .collect(),
                title: f.title,
                explanation: f.explanation,
                evidence: f.evidence,
                suggestion: f.suggestion,
                first_seen: f.first_seen,
                last_seen: f.last_seen,
                occurrences: f.occurrences,
            })
            .collect()
    }
}

/// Where incidents start and end, and (for `--incidents-only`) which events belong to one.
pub(crate) struct Marks {
    /// (endpoint, time) → marks falling there.
    at: HashMap<(EndpointId, i64), Vec<Mark>>,
    /// First signs not yet placed on an event: (endpoint, time) → incident kind.
    first_signs: HashMap<(EndpointId, i64), IncidentKind>,
    /// Per endpoint, the incidents' spans from first sign to end, for the incidents-only filter.
    spans: BTreeMap<EndpointId, Vec<(i64, i64)>>,
    incidents_only: bool,
}

impl Marks {
    pub fn new(incidents: &[Incident], incidents_only: bool, until: Timestamp) -> Self {
        let mut marks = Marks {
            at: HashMap::new(),
            first_signs: HashMap::new(),
            spans: BTreeMap::new(),
            incidents_only,
        };
        for i in incidents {
            let detect = i64::try_from(i.time_to_detect.as_millis()).unwrap_or(0);
            let first = i.started.0 - detect;
            marks
                .at
                .entry((i.endpoint, i.started.0))
                .or_default()
                .push(Mark::Start(i.kind));
            if let Some(end) = i.ended {
                marks
                    .at
                    .entry((i.endpoint, end.0))
                    .or_default()
                    .push(Mark::End {
                        kind: i.kind,
                        lasted: i.duration(end),
                        by_pause: i.ended_by_pause,
                    });
            }
            if detect > 0 {
                marks.first_signs.insert((i.endpoint, first), i.kind);
            }
            marks
                .spans
                .entry(i.endpoint)
                .or_default()
                .push((first, i.ended.map_or(until.0, |t| t.0)));
        }
        // Ends before starts where one incident hands over to the next at the same instant.
        for list in marks.at.values_mut() {
            list.sort_by_key(|m| match m {
                Mark::FirstSign(_) => 0,
                Mark::End { .. } => 1,
                Mark::Start(_) => 2,
            });
        }
        marks
    }

    /// Whether an event goes into the export.
    pub fn keep(&self, event: &Event) -> bool {
        !self.incidents_only
            || self
                .spans
                .get(&event.endpoint)
                .is_some_and(|spans| spans.iter().any(|&(a, b)| (a..=b).contains(&event.at.0)))
    }

    /// The marks that fall on this event.
    pub fn on(&mut self, event: &Event) -> Vec<Mark> {
        let key = (event.endpoint, event.at.0);
        let mut out = Vec::new();
        if !matches!(event.kind, EventKind::StateChanged { .. }) {
            if let Some(kind) = self.first_signs.remove(&key) {
                out.push(Mark::FirstSign(kind));
            }
            return out;
        }
        let EventKind::StateChanged { from, to } = event.kind else {
            return out;
        };
        if let Some(list) = self.at.get(&key) {
            for m in list {
                let fits = match m {
                    Mark::Start(k) => IncidentKind::of(to) == Some(*k),
                    Mark::End { kind, .. } => IncidentKind::of(from) == Some(*kind),
                    Mark::FirstSign(_) => false,
                };
                if fits {
                    out.push(*m);
                }
            }
        }
        out
    }
}

/// The incidents as the summary shows them.
pub(crate) fn incident_summaries(
    incidents: &[Incident],
    names: &HashMap<EndpointId, String>,
    now: Timestamp,
) -> Vec<IncidentSummary> {
    incidents
        .iter()
        .map(|i| IncidentSummary {
            endpoint_id: i.endpoint,
            endpoint: names
                .get(&i.endpoint)
                .cloned()
                .unwrap_or_else(|| i.endpoint.to_string()),
            kind: i.kind,
            started: i.started,
            ended: i.ended,
            ended_by_pause: i.ended_by_pause,
            duration: i.duration(now),
            time_to_detect: i.time_to_detect,
            close_codes: i.close_codes.clone(),
            handshake_failures: i.handshake_failures.clone(),
            reconnect_attempts: i.reconnect_attempts,
            rtt_before: i.rtt_before,
            episodes: i.episodes,
            cause: i.cause.as_ref().map(|c| (c.rule.as_str(), c.title.clone())),
        })
        .collect()
}

/// Endpoint summaries from the aggregates and the tallies.
pub(crate) fn endpoint_summaries(
    endpoints: &[Selected],
    agg: &Aggregates,
    tally: &Tally,
) -> Vec<EndpointSummary> {
    let mut incidents: HashMap<EndpointId, u64> = HashMap::new();
    for i in &agg.incidents {
        *incidents.entry(i.endpoint).or_default() += 1;
    }
    endpoints
        .iter()
        .map(|e| {
            let c = tally.by_endpoint.get(&e.id).copied().unwrap_or_default();
            EndpointSummary {
                id: e.id,
                name: e.name.clone(),
                url: e.url.clone(),
                tags: e.tags.clone(),
                uptime: agg.uptime.get(&e.id).copied().unwrap_or_default(),
                closes: c.closes,
                handshake_failures: c.handshake_failures,
                reconnects: c.reconnects,
                incidents: incidents.get(&e.id).copied().unwrap_or(0),
                rtt: agg.rtt.get(&e.id).cloned(),
                server_beats: agg.beats.get(&e.id).cloned(),
            }
        })
        .collect()
}

/// Endpoints most worth a chart first: longest Down or Degraded, then most incidents, then
/// by name.
pub(crate) fn rank_for_charts(
    endpoints: &[Selected],
    agg: &Aggregates,
    max: usize,
) -> Vec<EndpointId> {
    let mut incidents: HashMap<EndpointId, usize> = HashMap::new();
    for i in &agg.incidents {
        *incidents.entry(i.endpoint).or_default() += 1;
    }
    let mut ranked: Vec<&Selected> = endpoints.iter().collect();
    ranked.sort_by_key(|e| {
        let u = agg.uptime.get(&e.id).copied().unwrap_or_default();
        (
            std::cmp::Reverse(u.watched.saturating_sub(u.available)),
            std::cmp::Reverse(incidents.get(&e.id).copied().unwrap_or(0)),
            e.name.clone(),
        )
    });
    let chosen: HashSet<EndpointId> = ranked.iter().take(max).map(|e| e.id).collect();
    // Charts appear in the selection's (name) order.
    endpoints
        .iter()
        .filter(|e| chosen.contains(&e.id))
        .map(|e| e.id)
        .collect()
}
