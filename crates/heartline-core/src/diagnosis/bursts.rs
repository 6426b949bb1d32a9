//! Rules on many things at once: endpoints that drop at the same moment (a shared path) and
//! reconnects faster than a working backoff allows (a storm).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::time::Duration;

use super::text::{count, list, range, readable, times, when};
use super::{between, by_endpoint, Facts, Finding, Rule};
use crate::endpoint::EndpointId;
use crate::event::{Event, EventKind, SessionEnd, Timestamp};

/// Drops this close together are one moment: independent failures rarely coincide within two
/// seconds, while a proxy reload or a network change hits every session within a second or so.
const SHARED_PATH_WINDOW: Duration = Duration::from_secs(2);

/// Endpoints dropping together at this many separate moments are a pattern, not a coincidence…
const SHARED_PATH_MIN_CLUSTERS: usize = 2;

/// …and so is a single moment when at least this many endpoints dropped.
const SHARED_PATH_BIG_CLUSTER: usize = 3;

/// Moments of dropping together must be this unlikely (or less) to come from chance, given
/// each endpoint's own drop rate: two endpoints behind HAProxy dropping on independent 2 s and
/// 6 s timers coincide within 2 s all the time, and that is no shared path.
const SHARED_PATH_CHANCE: f64 = 0.01;

/// Reconnect rates are measured over this window.
const STORM_WINDOW: Duration = Duration::from_secs(60);

/// Reconnects of one endpoint per window that count as stormy.
const STORM_PER_ENDPOINT: usize = 6;

/// Reconnects of all endpoints together per window that count as stormy…
const STORM_ALL_ENDPOINTS: usize = 20;

/// …provided that is also at least this many per endpoint involved: a capped backoff with full
/// jitter (60 s cap) settles at about two a minute per endpoint, so a large fleet riding out
/// one outage is not a storm.
const STORM_FLEET_PER_ENDPOINT: usize = 3;

/// A storm must keep its rate this long. A backoff that works also starts fast — the default
/// policy's first six retries fit in 31.5 s — but slows down within a minute; a storm does not.
const STORM_MIN_SPAN: Duration = Duration::from_secs(120);

/// Evidence lines listed per finding; the rest are counted.
const MAX_LISTED: usize = 10;

/// Endpoints losing sessions (lost without a close frame, or a server close 1001, 1006, 1012 or
/// 1014) within [`SHARED_PATH_WINDOW`] of each other. Moments involving one host (at least two
/// of its endpoints) make a finding for that host; moments involving several hosts make one
/// finding for the network. A finding needs [`SHARED_PATH_MIN_CLUSTERS`] moments or one moment
/// of [`SHARED_PATH_BIG_CLUSTER`] endpoints.
pub(super) fn shared_path(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut drops: Vec<Loss> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Closed { end, .. } => match end {
                SessionEnd::Lost { .. } => Some(Loss::new(e, 1006)),
                SessionEnd::ClosedByServer { code, .. }
                    if matches!(code, 1001 | 1006 | 1012 | 1014) =>
                {
                    Some(Loss::new(e, *code))
                }
                _ => None,
            },
            _ => None,
        })
        .collect();
    drops.sort_by_key(|d| d.at);

    let mut moments: BTreeMap<Scope<'_>, Vec<&[Loss]>> = BTreeMap::new();
    let mut i = 0;
    while i < drops.len() {
        let end = i + drops[i..]
            .iter()
            .take_while(|d| between(drops[i].at, d.at) <= SHARED_PATH_WINDOW)
            .count();
        let moment = &drops[i..end];
        let endpoints: BTreeSet<EndpointId> = moment.iter().map(|d| d.endpoint).collect();
        if endpoints.len() < 2 {
            i += 1;
            continue;
        }
        let hosts: BTreeSet<Option<&str>> = endpoints.iter().map(|id| facts.host(*id)).collect();
        let scope = match hosts.into_iter().collect::<Vec<_>>().as_slice() {
            [Some(host)] => Scope::Host(host),
            _ => Scope::Network,
        };
        moments.entry(scope).or_default().push(moment);
        i = end;
    }

    // Each endpoint's drops over the history's span, for what chance alone would give.
    let mut per_endpoint: BTreeMap<EndpointId, f64> = BTreeMap::new();
    for d in &drops {
        *per_endpoint.entry(d.endpoint).or_default() += 1.0;
    }
    let span = match (
        events.iter().map(|e| e.at).min(),
        events.iter().map(|e| e.at).max(),
    ) {
        (Some(a), Some(b)) => between(a, b).max(SHARED_PATH_WINDOW).as_secs_f64(),
        _ => SHARED_PATH_WINDOW.as_secs_f64(),
    };

    let mut findings = Vec::new();
    for (scope, moments) in moments {
        let size = |m: &&[Loss]| m.iter().map(|d| d.endpoint).collect::<BTreeSet<_>>().len();
        let biggest = moments.iter().map(size).max().unwrap_or(0);
        if moments.len() < SHARED_PATH_MIN_CLUSTERS && biggest < SHARED_PATH_BIG_CLUSTER {
            continue;
        }
        let endpoints: BTreeSet<EndpointId> = moments
            .iter()
            .flat_map(|m| m.iter().map(|d| d.endpoint))
            .collect();
        // Independent drops at rates n/T meet within the window about 2·W·nᵢ·nⱼ/T times per
        // pair; the moments seen must be far beyond that.
        let counts: Vec<f64> = endpoints
            .iter()
            .map(|id| per_endpoint.get(id).copied().unwrap_or(0.0))
            .collect();
        let mut expected = 0.0;
        for (i, a) in counts.iter().enumerate() {
            for b in &counts[i + 1..] {
                expected += 2.0 * SHARED_PATH_WINDOW.as_secs_f64() * a * b / span;
            }
        }
        // A rate needs a few drops to be estimated; endpoints that drop rarely cannot meet
        // often by chance anyway.
        let rated = counts.iter().all(|n| *n >= 3.0);
        if rated && poisson_at_least(expected, moments.len()) > SHARED_PATH_CHANCE {
            continue;
        }
        let mut evidence: Vec<String> = moments
            .iter()
            .take(MAX_LISTED)
            .map(|m| {
                let mut names: Vec<String> = Vec::new();
                for d in m.iter() {
                    let name = facts.name(d.endpoint);
                    if !names.contains(&name) {
                        names.push(name);
                    }
                }
                let codes: Vec<String> = m.iter().map(|d| d.code.to_string()).collect();
                let spread = between(m[0].at, m[m.len() - 1].at);
                format!(
                    "{}: {} dropped within {} ({})",
                    when(m[0].at, m[0].at),
                    list(&names),
                    readable(spread),
                    codes.join(", ")
                )
            })
            .collect();
        if moments.len() > MAX_LISTED {
            evidence.push(format!(
                "and {} more",
                count(moments.len() - MAX_LISTED, "time", "times")
            ));
        }
        if rated {
            evidence.push(format!(
                "from each endpoint's own drop rate, chance alone would give about \
                 {expected:.2} such moments"
            ));
        }
        let n = times(moments.len());
        let window = readable(SHARED_PATH_WINDOW);
        let (title, explanation, suggestion) = match scope {
            Scope::Host(host) => (
                format!("Endpoints on {host} drop together"),
                format!(
                    "{} endpoints on {host} lost their sessions within {window} of each other {n}. \
                     They share whatever stands in front of that host — a proxy, a load balancer \
                     or the server process itself — so the cause is there, not in each endpoint.",
                    endpoints.len()
                ),
                format!(
                    "Check the proxy or load balancer in front of {host} at those times (reloads, \
                     configuration pushes, failed health checks, replaced instances) and the \
                     server's own restarts."
                ),
            ),
            Scope::Network => (
                "Endpoints on different hosts drop together".to_owned(),
                format!(
                    "{} endpoints on different hosts lost their sessions within {window} of each \
                     other {n}. What they share is the path from Heartline: this machine's \
                     network (sleep, Wi-Fi or VPN changes), a local proxy or a firewall.",
                    endpoints.len()
                ),
                "Check this machine's network at those times (sleep and resume, network changes, \
                 VPN reconnects) and any corporate proxy or firewall; to tell local drops from \
                 real ones, run Heartline on an always-on host."
                    .to_owned(),
            ),
        };
        findings.push(Finding {
            rule: Rule::SharedPath,
            endpoints: endpoints.into_iter().collect(),
            title,
            explanation,
            evidence,
            suggestion,
            first_seen: moments[0][0].at,
            last_seen: moments
                .iter()
                .map(|m| m[m.len() - 1].at)
                .max()
                .unwrap_or(moments[0][0].at),
            occurrences: moments.len() as u32,
        });
    }
    findings
}

/// P(X ≥ k) for X Poisson with mean `lambda`.
fn poisson_at_least(lambda: f64, k: usize) -> f64 {
    let mut term = (-lambda).exp();
    let mut below = 0.0;
    for x in 0..k {
        below += term;
        term *= lambda / (x + 1) as f64;
    }
    (1.0 - below).max(0.0)
}

/// A session that lasted this long was no failed attempt: retrying it soon is no storm.
const STORM_HEALTHY_SESSION: Duration = Duration::from_secs(2);

/// Reconnects (`ReconnectScheduled`) at [`STORM_PER_ENDPOINT`] or more per [`STORM_WINDOW`] for
/// one endpoint, sustained over [`STORM_MIN_SPAN`]; one finding per endpoint with each storm
/// as an occurrence. Across endpoints (leaving out endpoints in a storm of their own), at least
/// [`STORM_ALL_ENDPOINTS`] and [`STORM_FLEET_PER_ENDPOINT`] per endpoint involved per window,
/// from two or more endpoints, sustained likewise: one more finding.
pub(super) fn reconnect_storm(events: &[Event], facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut storming: Vec<(EndpointId, Timestamp, Timestamp)> = Vec::new();
    for (id, events) in by_endpoint(events) {
        // A retry after a session that lived (a proxy cut it, the server kicked it) is the
        // backoff working as meant: the next attempt waits only the initial delay. Only
        // retries after failed attempts and sessions that died at once make a storm.
        let mut after_healthy = false;
        let retries: Vec<&Event> = events
            .iter()
            .copied()
            .filter(|e| match &e.kind {
                EventKind::Closed { stats, .. } => {
                    after_healthy = stats.duration >= STORM_HEALTHY_SESSION;
                    false
                }
                EventKind::HandshakeFailed(_) => {
                    after_healthy = false;
                    false
                }
                EventKind::ReconnectScheduled { .. } => !after_healthy,
                _ => false,
            })
            .collect();
        let times: Vec<(Timestamp, EndpointId)> = retries.iter().map(|e| (e.at, id)).collect();
        let storms = storms(&times, |w| w.len() >= STORM_PER_ENDPOINT);
        if storms.is_empty() {
            continue;
        }
        let mut evidence = Vec::new();
        let (mut restart_said, mut total, mut longest_delay) = (0, 0, Duration::ZERO);
        for storm in storms.iter().take(MAX_LISTED) {
            let (first, last) = (times[storm.start].0, times[storm.end - 1].0);
            storming.push((id, first, last));
            let mut delays = Vec::new();
            let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
            for e in &retries[storm.clone()] {
                if let EventKind::ReconnectScheduled { delay, reason, .. } = &e.kind {
                    delays.push(*delay);
                    *reasons.entry(reason.as_str()).or_default() += 1;
                }
            }
            restart_said += reasons.get("service_restart").copied().unwrap_or(0);
            total += storm.len();
            let max_delay = delays.iter().max().copied().unwrap_or_default();
            longest_delay = longest_delay.max(max_delay);
            let reasons: Vec<String> = reasons.iter().map(|(r, n)| format!("{r} ×{n}")).collect();
            let ended = endings(&events, first, last);
            let mut line = format!(
                "{}: {} over {}, up to {} in one minute, delays {} ({})",
                when(first, last),
                count(storm.len(), "reconnect", "reconnects"),
                readable(between(first, last)),
                peak(&times[storm.clone()]),
                range(delays.iter().min().copied().unwrap_or_default(), max_delay),
                reasons.join(", ")
            );
            if !ended.is_empty() {
                line.push_str(&format!("; attempts ended by {ended}"));
            }
            evidence.push(line);
        }
        for storm in storms.iter().skip(MAX_LISTED) {
            storming.push((id, times[storm.start].0, times[storm.end - 1].0));
        }
        if storms.len() > MAX_LISTED {
            evidence.push(format!(
                "and {} more",
                count(storms.len() - MAX_LISTED, "storm", "storms")
            ));
        }
        let name = facts.name(id);
        let suggestion = if restart_said * 2 > total {
            "The server keeps closing with 1012 (service restart), and each time Heartline \
             reconnects promptly as 1012 asks: the server is in a restart loop or uses 1012 for \
             something else. Check its logs at those times."
        } else if longest_delay < Duration::from_secs(5) {
            "The backoff is not slowing the retries down: raise the endpoint's initial delay, \
             multiplier or cap, and keep jitter on so many clients do not retry in step."
        } else {
            "Sessions keep failing soon after they start; check the server's logs at those \
             times. A longer backoff cap, or a longer reset-after so a briefly healthy session \
             does not reset the backoff, keeps the retries gentle meanwhile."
        };
        findings.push(Finding {
            rule: Rule::ReconnectStorm,
            endpoints: vec![id],
            title: format!("Reconnect storm on {name}"),
            explanation: format!(
                "Heartline reconnected to {name} at least {STORM_PER_ENDPOINT} times a minute \
                 for {} or more: each attempt fails or its session dies quickly, and the retries \
                 are not slowing down as a backoff should. A storm like this also loads the \
                 server when many clients do it together.",
                readable(STORM_MIN_SPAN)
            ),
            evidence,
            suggestion: suggestion.into(),
            first_seen: times[storms[0].start].0,
            last_seen: times[storms[storms.len() - 1].end - 1].0,
            occurrences: storms.len() as u32,
        });
    }

    let fleet: Vec<(Timestamp, EndpointId)> = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ReconnectScheduled { .. }))
        .filter(|e| {
            !storming
                .iter()
                .any(|(id, a, b)| *id == e.endpoint && (*a..=*b).contains(&e.at))
        })
        .map(|e| (e.at, e.endpoint))
        .collect();
    let storms = storms(&fleet, |w| {
        w.len() >= STORM_ALL_ENDPOINTS && {
            let involved = w.iter().map(|r| r.1).collect::<BTreeSet<_>>().len();
            involved >= 2 && w.len() >= STORM_FLEET_PER_ENDPOINT * involved
        }
    });
    if !storms.is_empty() {
        let endpoints: BTreeSet<EndpointId> = storms
            .iter()
            .flat_map(|s| fleet[s.clone()].iter().map(|r| r.1))
            .collect();
        let mut evidence: Vec<String> = storms
            .iter()
            .take(MAX_LISTED)
            .map(|s| {
                let window = &fleet[s.clone()];
                let involved = window.iter().map(|r| r.1).collect::<BTreeSet<_>>().len();
                format!(
                    "{}: {} from {} endpoints, up to {} in one minute",
                    when(window[0].0, window[window.len() - 1].0),
                    count(window.len(), "reconnect", "reconnects"),
                    involved,
                    peak(window)
                )
            })
            .collect();
        if storms.len() > MAX_LISTED {
            evidence.push(format!(
                "and {} more",
                count(storms.len() - MAX_LISTED, "storm", "storms")
            ));
        }
        findings.push(Finding {
            rule: Rule::ReconnectStorm,
            title: format!("Reconnect storm across {} endpoints", endpoints.len()),
            endpoints: endpoints.into_iter().collect(),
            explanation: format!(
                "Together, Heartline's endpoints reconnected at least {STORM_ALL_ENDPOINTS} times \
                 a minute for {} or more, though none stormed on its own: many sessions are \
                 failing at once, which points at something they share.",
                readable(STORM_MIN_SPAN)
            ),
            evidence,
            suggestion: "Look for the shared cause (a shared-path finding may name it); where \
                         many endpoints sit behind one server, a larger backoff cap and full \
                         jitter spread their reconnects out."
                .into(),
            first_seen: fleet[storms[0].start].0,
            last_seen: fleet[storms[storms.len() - 1].end - 1].0,
            occurrences: storms.len() as u32,
        });
    }
    findings
}

/// A session lost in a way a shared path could cause, with its close code (1006 when lost).
#[derive(Debug, Clone, Copy)]
struct Loss {
    at: Timestamp,
    endpoint: EndpointId,
    code: u16,
}

impl Loss {
    fn new(e: &Event, code: u16) -> Self {
        Loss {
            at: e.at,
            endpoint: e.endpoint,
            code,
        }
    }
}

/// Who a shared-path moment is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope<'a> {
    Host(&'a str),
    Network,
}

/// Index ranges of sustained storms in time-sorted reconnects: windows of [`STORM_WINDOW`]
/// that `dense` accepts, merged where they overlap, kept when they span at least
/// [`STORM_MIN_SPAN`].
fn storms<F>(times: &[(Timestamp, EndpointId)], dense: F) -> Vec<Range<usize>>
where
    F: Fn(&[(Timestamp, EndpointId)]) -> bool,
{
    let mut merged: Vec<Range<usize>> = Vec::new();
    let mut end = 0;
    for start in 0..times.len() {
        end = end.max(start);
        while end < times.len() && between(times[start].0, times[end].0) <= STORM_WINDOW {
            end += 1;
        }
        if !dense(&times[start..end]) {
            continue;
        }
        match merged.last_mut() {
            Some(last) if start < last.end => last.end = last.end.max(end),
            _ => merged.push(start..end),
        }
    }
    merged.retain(|r| between(times[r.start].0, times[r.end - 1].0) >= STORM_MIN_SPAN);
    merged
}

/// The most reconnects within any one [`STORM_WINDOW`] of a storm.
fn peak(times: &[(Timestamp, EndpointId)]) -> usize {
    let mut end = 0;
    let mut best = 0;
    for start in 0..times.len() {
        while end < times.len() && between(times[start].0, times[end].0) <= STORM_WINDOW {
            end += 1;
        }
        best = best.max(end - start);
    }
    best
}

/// How attempts ended between `first` and `last`, most frequent first: "HTTP 503 ×40, 1012 ×4".
fn endings(events: &[&Event], first: Timestamp, last: Timestamp) -> String {
    let mut tally: Vec<(String, usize)> = Vec::new();
    for e in events.iter().filter(|e| (first..=last).contains(&e.at)) {
        let what = match &e.kind {
            EventKind::Closed { end, .. } => end.code().to_string(),
            EventKind::HandshakeFailed(f) => match f.phase.status() {
                Some(status) => format!("HTTP {status}"),
                None => format!("{} failure", f.phase.as_str()),
            },
            _ => continue,
        };
        match tally.iter_mut().find(|(w, _)| *w == what) {
            Some((_, n)) => *n += 1,
            None => tally.push((what, 1)),
        }
    }
    tally.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown: Vec<String> = tally
        .iter()
        .take(3)
        .map(|(w, n)| format!("{w} ×{n}"))
        .collect();
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::event::{CloseCause, RetryReason};

    fn check_shared(case: &str, history: History, expected: &[Expect]) {
        let endpoints = facts(&[
            (1, "ws.example"),
            (2, "ws.example"),
            (3, "ws.example"),
            (4, "other.example"),
        ]);
        check_rule(shared_path, case, &history.events(), &endpoints, expected);
    }

    fn check_storm(case: &str, history: History, expected: &[Expect]) {
        let endpoints = facts(&[(1, "a.example"), (2, "b.example"), (3, "c.example")]);
        check_rule(
            reconnect_storm,
            case,
            &history.events(),
            &endpoints,
            expected,
        );
    }

    #[test]
    fn endpoints_behind_one_host() {
        check_shared(
            "two moments on one host",
            History::default()
                .lost(1, 100.0, 50.0, 1.0)
                .lost(2, 100.4, 50.0, 1.0)
                .lost(1, 900.0, 50.0, 1.0)
                .server_close(2, 901.5, 1001, "", 1.0),
            &[Expect {
                endpoints: &[1, 2],
                occurrences: 2,
                mentions: &[
                    "Endpoints on ws.example drop together",
                    "at 09:01:40 UTC: feed-1 and feed-2 dropped within 400 ms (1006, 1006)",
                    "at 09:15:00 UTC: feed-1 and feed-2 dropped within 1.5 s (1006, 1001)",
                    "2 endpoints on ws.example lost their sessions within 2 s of each other twice",
                    "load balancer",
                ],
            }],
        );
        check_shared(
            "one moment of three endpoints",
            History::default()
                .lost(3, 10.0, 5.0, 1.0)
                .lost(1, 10.5, 5.0, 1.0)
                .server_close(2, 11.0, 1012, "", 1.0),
            &[Expect {
                endpoints: &[1, 2, 3],
                occurrences: 1,
                mentions: &["feed-3, feed-1 and feed-2 dropped within 1 s (1006, 1006, 1012)"],
            }],
        );
        check_shared(
            "different hosts and one unknown endpoint point at the network",
            History::default()
                .lost(1, 10.0, 5.0, 1.0)
                .lost(4, 10.2, 5.0, 1.0)
                .lost(9, 10.3, 5.0, 1.0),
            &[Expect {
                endpoints: &[1, 4, 9],
                occurrences: 1,
                mentions: &["different hosts", "#9", "this machine's network"],
            }],
        );
    }

    #[test]
    fn shared_path_near_misses() {
        check_shared(
            "one moment of two, drops 3 s apart, one endpoint twice, our own closes",
            History::default()
                .lost(1, 10.0, 5.0, 1.0)
                .lost(2, 10.5, 5.0, 1.0)
                .lost(1, 100.0, 5.0, 1.0)
                .lost(2, 103.0, 5.0, 1.0)
                .lost(3, 200.0, 5.0, 1.0)
                .lost(3, 200.5, 5.0, 1.0)
                .client_close(1, 300.0, CloseCause::PongTimeout, false, 5.0)
                .client_close(2, 300.1, CloseCause::User, true, 5.0)
                .server_close(3, 300.2, 1000, "", 1.0),
            &[],
        );
    }

    /// `n` reconnects of `ep` every `every` s from `from`, with `delay` s of delay each.
    fn retries(h: History, ep: u64, from: f64, n: u32, every: f64, reason: RetryReason) -> History {
        (0..n).fold(h, |h, i| {
            h.retry(ep, from + every * f64::from(i), every * 0.9, reason)
        })
    }

    #[test]
    fn storms() {
        let h = retries(
            History::default(),
            1,
            0.0,
            40,
            5.0,
            RetryReason::ServiceRestart,
        );
        let h = (0..40).fold(h, |h, i| {
            h.server_close(1, 5.0 * f64::from(i) - 0.1, 1012, "", 1.0)
        });
        check_storm(
            "a restart loop every 5 s for over 3 min",
            h,
            &[Expect {
                endpoints: &[1],
                occurrences: 1,
                mentions: &[
                    "Reconnect storm on feed-1",
                    "between 09:00:00 and 09:03:15 UTC: 40 reconnects over 3 min 15 s, up to 13 in \
                     one minute, delays 4.5 s (service_restart ×40); attempts ended by 1012 ×39",
                    "restart loop",
                ],
            }],
        );
        check_storm(
            "a backoff that does not back off, twice",
            retries(
                retries(History::default(), 2, 0.0, 40, 4.0, RetryReason::Backoff),
                2,
                3600.0,
                40,
                4.0,
                RetryReason::Backoff,
            ),
            &[Expect {
                endpoints: &[2],
                occurrences: 2,
                mentions: &["2 min", "raise the endpoint's initial delay"],
            }],
        );
        let h = (1..=5).fold(History::default(), |h, ep| {
            retries(h, ep, ep as f64, 30, 15.0, RetryReason::Backoff)
        });
        check_storm(
            "five endpoints at 5 a minute each, none storming alone",
            h,
            &[Expect {
                endpoints: &[1, 2, 3, 4, 5],
                occurrences: 1,
                mentions: &[
                    "Reconnect storm across 5 endpoints",
                    "150 reconnects from 5 endpoints, up to 21 in one minute",
                ],
            }],
        );
    }

    #[test]
    fn storm_near_misses() {
        // The default backoff's opening: 0.5, 1, 2, 4, 8, 16, 32, 60, 60… s ceilings.
        let mut h = History::default();
        let mut t = 0.0;
        for ceiling in [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0] {
            h = h.retry(1, t, ceiling, RetryReason::Backoff);
            t += ceiling;
        }
        check_storm("a backoff that works", h, &[]);
        check_storm(
            "fast but brief: 10 reconnects within a minute, then quiet",
            retries(History::default(), 1, 0.0, 10, 5.0, RetryReason::Backoff),
            &[],
        );
        // Up to 25 a minute in all, but only 2–3 per endpoint.
        let h = (1..=12).fold(History::default(), |h, ep| {
            retries(h, ep, ep as f64, 30, 30.0, RetryReason::Backoff)
        });
        check_storm(
            "a fleet of 12 riding out an outage at 2 a minute each",
            h,
            &[],
        );
    }

    #[test]
    fn quick_retries_after_sessions_that_lived_are_no_storm() {
        // A proxy cuts every session after 6 s; each retry waits only the initial delay, as
        // it should after a healthy session: 30 reconnects in 3.5 min, none of them a storm.
        let mut h = History::default();
        for i in 0..30 {
            let t = 7.0 * f64::from(i);
            h = h
                .lost(1, t + 6.0, 6.0, 6.0)
                .retry(1, t + 6.0, 0.5, RetryReason::Backoff);
        }
        check_storm("sessions cut at 6 s", h, &[]);
        // The same pace after sessions that died at once is a storm.
        let mut h = History::default();
        for i in 0..30 {
            let t = 7.0 * f64::from(i);
            h = h
                .lost(1, t + 0.1, 0.1, 0.1)
                .retry(1, t + 0.1, 0.5, RetryReason::Backoff);
        }
        let findings = reconnect_storm(&h.events(), &Facts::new(&[]));
        assert_eq!(findings.len(), 1, "{findings:#?}");
    }

    #[test]
    fn independent_timers_do_not_drop_together() {
        // Behind HAProxy, two endpoints cut by their own 2 s and 6 s timers for 10 minutes:
        // their drops meet within 2 s all the time, exactly as chance says they would.
        let mut h = History::default();
        let mut t = 0.0;
        while t < 600.0 {
            h = h.lost(1, t + 2.0, 2.0, 2.0);
            t += 2.1;
        }
        let mut t = 0.0;
        while t < 600.0 {
            h = h.lost(2, t + 6.0, 6.0, 6.0);
            t += 6.1;
        }
        check_shared("2 s and 6 s timers", h, &[]);
        // Three drops each, all together, over an hour: far beyond chance.
        let mut h = History::default()
            .lost(1, 0.0, 1.0, 1.0)
            .lost(2, 3600.0, 1.0, 1.0);
        for at in [600.0, 1800.0, 3000.0] {
            h = h.lost(1, at, 100.0, 1.0).lost(2, at + 0.5, 100.0, 1.0);
        }
        let findings = shared_path(
            &h.events(),
            &Facts::new(&facts(&[(1, "ws.example"), (2, "ws.example")])),
        );
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(
            findings[0]
                .evidence
                .iter()
                .any(|e| e.contains("chance alone")),
            "{findings:#?}"
        );
    }
}
