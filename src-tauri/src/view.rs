//! What each view shows, assembled from the engine's live status and the store's history.
//! Every function answers for one window of history: the UI never loads all of it.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use heartline_core::{diagnose, EndpointFacts, EndpointId, EventKind, PingKind, Timestamp};
use heartline_store::{RttPoint, SESSION_BUCKETS};

use crate::app::App;
use crate::convert::{close_from_parts, close_info, live_status, state_name, IpcResult};
use crate::dto::{
    Detail, EndpointRow, ErrorCode, FindingRow, IncidentList, IncidentRow, IpcError, Lane,
    LiveStatus, PhaseRow, ReconnectRow, RttBucket, StateSpan, Window,
};

/// Points an RTT series is cut into at most (minute, hour or day buckets).
const MAX_POINTS: usize = 720;
/// Handshake phase rows shown, newest.
const MAX_PHASES: usize = 50;
const MAX_RECONNECTS: usize = 200;

pub fn now() -> Timestamp {
    Timestamp::from_system(SystemTime::now())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The overview: every endpoint with its live status and 24 h summary.
pub async fn overview(app: &App) -> IpcResult<Vec<EndpointRow>> {
    let stored = app.store.endpoints(&app.secrets).await?;
    let ids: Vec<EndpointId> = stored.iter().map(|e| e.id).collect();
    let summaries: HashMap<EndpointId, _> = app
        .store
        .overview(&ids, now())
        .await?
        .into_iter()
        .map(|r| (r.endpoint, r))
        .collect();
    let live: HashMap<EndpointId, LiveStatus> = app
        .engine
        .statuses()
        .into_iter()
        .map(|(id, s)| (id, live_status(id, &s)))
        .collect();
    // Before this run has seen a session end, the stored last close says who closed but not
    // why: read that one event back (a one-millisecond range seek) for its cause and reason.
    let unseen: Vec<(EndpointId, Timestamp)> = stored
        .iter()
        .filter_map(|e| {
            let at = summaries.get(&e.id)?.last_close.as_ref()?.0;
            let seen = live.get(&e.id).is_some_and(|s| s.last_close.is_some());
            (!seen).then_some((e.id, at))
        })
        .collect();
    // All of them in one statement (a seek each): one read per endpoint took 100-250 ms of
    // the first overview on a year's database.
    let mut stored_closes: HashMap<EndpointId, crate::dto::CloseInfo> = HashMap::new();
    for event in app.store.closes_at(&unseen).await? {
        if let EventKind::Closed { end, .. } = &event.kind {
            stored_closes.insert(event.endpoint, close_info(event.at, end));
        }
    }
    Ok(stored
        .into_iter()
        .map(|e| {
            let summary = summaries.get(&e.id);
            let mut status = live.get(&e.id).cloned().unwrap_or(LiveStatus {
                id: e.id.0,
                state: crate::dto::StateName::Connecting,
                since: None,
                rtt_us: None,
                app_rtt_us: None,
                last_close: None,
                last_failure: None,
                sessions: 0,
            });
            if let Some(s) = summary {
                // Before the first event of this run, the stored history knows better.
                if status.since.is_none() {
                    status.since = s.since.map(|t| t.0);
                }
                if status.last_close.is_none() {
                    status.last_close = stored_closes.remove(&e.id).or_else(|| {
                        s.last_close.as_ref().map(|(at, code, initiator)| {
                            close_from_parts(*at, *code, String::new(), initiator.clone(), None)
                        })
                    });
                }
            }
            if e.paused {
                status.state = crate::dto::StateName::Paused;
            }
            EndpointRow {
                id: e.id.0,
                name: e.endpoint.name.clone(),
                url: e.endpoint.display_url(),
                tags: e.endpoint.tags.clone(),
                paused: e.paused,
                live: status,
                uptime_24h: summary.and_then(|s| s.uptime_24h),
                p95_us: summary.and_then(|s| s.rtt_p95).map(micros),
                missing_secrets: e.missing_secrets,
            }
        })
        .collect())
}

/// Live statuses of the given endpoints (all when empty).
pub fn statuses(app: &App, only: &HashSet<EndpointId>) -> Vec<LiveStatus> {
    app.engine
        .statuses()
        .into_iter()
        .filter(|(id, _)| only.is_empty() || only.contains(id))
        .map(|(id, s)| live_status(id, &s))
        .collect()
}

fn buckets(points: Vec<RttPoint>) -> Vec<RttBucket> {
    points
        .into_iter()
        .map(|p| RttBucket {
            at: p.at.0,
            count: p.count,
            p50_us: micros(p.p50),
            p95_us: micros(p.p95),
            max_us: micros(p.max),
        })
        .collect()
}

fn check_window(w: Window) -> IpcResult<(Timestamp, Timestamp)> {
    if w.to <= w.from {
        return Err(IpcError::new(
            ErrorCode::Invalid,
            "the window must end after it starts",
        ));
    }
    Ok((Timestamp(w.from), Timestamp(w.to)))
}

/// One endpoint's detail over a window.
pub async fn detail(app: &App, id: EndpointId, window: Window) -> IpcResult<Detail> {
    let (from, to) = check_window(window)?;
    let endpoint = app
        .engine
        .endpoints()
        .into_iter()
        .find(|(i, _)| *i == id)
        .map(|(_, e)| e)
        .ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("no endpoint {id}")))?;
    let store = &app.store;
    let (resolution, rtt) = store
        .rtt_series(id, PingKind::Protocol, from, to, MAX_POINTS)
        .await?;
    let (_, app_rtt) = store
        .rtt_series(id, PingKind::App, from, to, MAX_POINTS)
        .await?;
    let events = store.history(&[id], from, to).await?;

    let mut states = Vec::new();
    if let Some(s) = store.state_at(id, from).await? {
        states.push(StateSpan {
            at: from.0,
            state: state_name(s),
        });
    }
    let mut closes = Vec::new();
    let mut phases = Vec::new();
    for event in &events {
        match &event.kind {
            EventKind::StateChanged { to, .. } => states.push(StateSpan {
                at: event.at.0,
                state: state_name(*to),
            }),
            EventKind::Closed { end, .. } => closes.push(close_info(event.at, end)),
            EventKind::Connected { handshake, .. } => {
                let p = handshake.phases;
                phases.push(PhaseRow {
                    at: event.at.0,
                    dns_us: micros(p.dns),
                    tcp_us: micros(p.tcp),
                    tls_us: p.tls.map(micros),
                    upgrade_us: micros(p.upgrade),
                });
            }
            _ => {}
        }
    }
    let skip = phases.len().saturating_sub(MAX_PHASES);
    phases.drain(..skip);

    let reconnects = store
        .reconnects(id, from, to, MAX_RECONNECTS)
        .await?
        .into_iter()
        .map(|r| ReconnectRow {
            at: r.at.0,
            attempt: r.attempt,
            delay_ms: u64::try_from(r.delay.as_millis()).unwrap_or(u64::MAX),
            reason: r.reason,
            outcome: r.outcome,
        })
        .collect();
    let session_counts = store.session_lengths(id, from, to).await?;
    let facts = EndpointFacts {
        id,
        name: endpoint.name.clone(),
        host: endpoint.target().map(|t| t.host).unwrap_or_default(),
        ping_interval: endpoint.heartbeat.ping_interval,
        app_heartbeat_interval: endpoint.app_heartbeat.as_ref().map(|a| a.interval),
    };
    let findings = diagnose(&events, &[facts])
        .into_iter()
        .map(|f| FindingRow {
            rule: f.rule.as_str().to_owned(),
            title: f.title,
            explanation: f.explanation,
            // Evidence quotes recorded close reasons and errors: server text, shown escaped.
            evidence: f
                .evidence
                .iter()
                .map(|e| crate::convert::shown(e))
                .collect(),
            suggestion: f.suggestion,
        })
        .collect();
    Ok(Detail {
        id: id.0,
        window,
        resolution: format!("{resolution:?}").to_lowercase(),
        rtt: buckets(rtt),
        app_rtt: buckets(app_rtt),
        states,
        closes,
        phases,
        reconnects,
        session_counts,
        session_bounds_s: SESSION_BUCKETS.to_vec(),
        findings,
    })
}

/// Swimlanes: every endpoint's states and closes over a window, to see correlated drops.
pub async fn timeline(app: &App, window: Window) -> IpcResult<Vec<Lane>> {
    let (from, to) = check_window(window)?;
    let mut lanes: Vec<Lane> = app
        .engine
        .endpoints()
        .into_iter()
        .map(|(id, e)| Lane {
            id: id.0,
            name: e.name,
            states: Vec::new(),
            closes: Vec::new(),
        })
        .collect();
    let index: HashMap<u64, usize> = lanes.iter().enumerate().map(|(i, l)| (l.id, i)).collect();
    for lane in &mut lanes {
        if let Some(s) = app.store.state_at(EndpointId(lane.id), from).await? {
            lane.states.push(StateSpan {
                at: from.0,
                state: state_name(s),
            });
        }
    }
    for event in app.store.history(&[], from, to).await? {
        let Some(&i) = index.get(&event.endpoint.0) else {
            continue;
        };
        match &event.kind {
            EventKind::StateChanged { to, .. } => lanes[i].states.push(StateSpan {
                at: event.at.0,
                state: state_name(*to),
            }),
            EventKind::Closed { end, .. } => lanes[i].closes.push(close_info(event.at, end)),
            _ => {}
        }
    }
    Ok(lanes)
}

/// Incidents overlapping a window, newest first.
/// The newest incidents of the window (at most [`IncidentList::LIMIT`]) and their total.
pub async fn incidents(app: &App, window: Window) -> IpcResult<IncidentList> {
    let (from, to) = check_window(window)?;
    // Names only: the secret store (a keychain round trip per secret) is not asked.
    let names: HashMap<EndpointId, String> = app
        .store
        .export_endpoints()
        .await?
        .into_iter()
        .map(|e| (e.id, e.endpoint.name))
        .collect();
    let (newest, total) = app
        .store
        .recent_incidents(from, to, IncidentList::LIMIT)
        .await?;
    let rows = newest
        .into_iter()
        .map(|i| IncidentRow {
            endpoint: i.endpoint.0,
            endpoint_name: names
                .get(&i.endpoint)
                .cloned()
                .unwrap_or_else(|| i.endpoint.to_string()),
            kind: i.kind.as_str().to_owned(),
            started: i.started.0,
            ended: i.ended.map(|t| t.0),
            time_to_detect_ms: u64::try_from(i.time_to_detect.as_millis()).unwrap_or(u64::MAX),
            close_codes: i
                .close_codes
                .iter()
                .map(|(c, n)| [u32::from(*c), *n])
                .collect(),
            reconnect_attempts: i.reconnect_attempts,
        })
        .collect();
    Ok(IncidentList { rows, total })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use heartline_core::{CloseCause, Endpoint, Event, SessionEnd, SessionStats};
    use heartline_probe::Sink;
    use heartline_store::{Secrets, Store};

    use super::*;

    #[tokio::test]
    async fn after_a_restart_the_last_close_still_says_who_closed_and_why() {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir: PathBuf =
            std::env::temp_dir().join(format!("heartline-app-view-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("heartline.db");
        let store = Store::open(&db).await.expect("open");
        let secrets = Secrets::File(dir.join("secrets.json"));
        // Paused, and on a port nothing listens on: this run sees no session of its own.
        let id = store
            .add_endpoint(&Endpoint::new("feed", "ws://127.0.0.1:9/"), &secrets)
            .await
            .expect("add");
        store.set_paused(id, true).await.expect("pause");
        store.close().await;

        let app = crate::app::App::open(&db, 30).await.expect("app");
        let at = Timestamp(now().0 - 5_000);
        app.recorder.emit(Event {
            at,
            endpoint: id,
            kind: EventKind::Closed {
                end: SessionEnd::ClosedByClient {
                    cause: CloseCause::PongTimeout,
                    code: 1001,
                    reason: String::new(),
                    clean: false,
                },
                stats: SessionStats {
                    duration: Duration::from_secs(60),
                    ..SessionStats::default()
                },
            },
        });
        app.shutdown().await;

        let app = crate::app::App::open(&db, 30).await.expect("reopen");
        let rows = overview(&app).await.expect("overview");
        let close = rows[0].live.last_close.clone().expect("a last close");
        assert_eq!(
            (
                close.at,
                close.code,
                close.initiator.as_str(),
                close.cause.as_deref()
            ),
            (at.0, 1001, "client", Some("pong_timeout"))
        );
        app.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
