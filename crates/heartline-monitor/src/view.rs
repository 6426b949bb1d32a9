//! What each view shows, as plain data, assembled from the engine's live status and the
//! store's history. Every function answers for one window of history: no view loads all of
//! it. Times are milliseconds since the Unix epoch (UTC); round trips are microseconds.
//!
//! The types derive serde, and with the `ts` feature ts-rs, so that the desktop app can hand
//! them over IPC as they are (its bindings are generated from them).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use heartline_core::untrusted::{bound, MAX_UNTRUSTED_LEN};
use heartline_core::{
    close_code, diagnose, escape_controls, EndpointFacts, EndpointId, EventKind, FailedPhase,
    PingKind, SessionEnd, State, Timestamp,
};
use heartline_engine::Status;
use heartline_store::{BeatTotals, RttPoint, Scope, StripCell, MAX_STRIP_CELLS, SESSION_BUCKETS};

/// The closed vocabularies the views carry, as the domain crates define them (each serializes
/// by the name its `as_str` gives, and derives its TypeScript union with the `ts` feature), so
/// the UI switches on the same variants Rust does.
pub use heartline_core::{CloseCause, CloseClass, IncidentKind, Initiator, RetryReason};
/// The export formats (`md`, `csv`, …), `ExportFormat` in TypeScript.
pub use heartline_report::Format as ExportFormat;
pub use heartline_store::Resolution;

use crate::{Error, Monitor, Result};

/// The text formats of an endpoint configuration (`heartline endpoints export/import`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ConfigFormat {
    Toml,
    Json,
}

/// Live state of an endpoint as the engine folds it from events.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum StateName {
    Connecting,
    Up,
    Degraded,
    /// Sessions keep dropping (a drop storm), even when every reconnect succeeds.
    Unstable,
    Down,
    Paused,
}

/// How a session ended, for lists and markers.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CloseInfo {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: i64,
    pub code: u16,
    /// The close-code class (`normal`, `going_away`, `abnormal`, …) for colour.
    pub class: CloseClass,
    pub meaning: String,
    pub reason: String,
    pub initiator: Initiator,
    /// Why Heartline closed it, when Heartline did.
    pub cause: Option<CloseCause>,
}

/// What changes often: one endpoint's live status (sent as coalesced deltas).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LiveStatus {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    pub state: StateName,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub since: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub rtt_us: Option<u64>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub app_rtt_us: Option<u64>,
    pub last_close: Option<CloseInfo>,
    pub last_failure: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub sessions: u64,
}

/// One row of the overview: configuration and live status, and the 24 h summary once
/// [`Monitor::overview_history`] has answered for it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EndpointRow {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    pub name: String,
    /// The URL with secrets in its query redacted.
    pub url: String,
    pub tags: Vec<String>,
    pub paused: bool,
    pub live: LiveStatus,
    pub missing_secrets: Vec<String>,
    /// The history columns; `None` while they are not known yet (shown as loading, never
    /// as a value).
    pub history: Option<RowHistory>,
}

/// The overview's history columns of one endpoint, from the store (the slow half of the
/// overview: [`Monitor::overview_history`]).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RowHistory {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    /// Uptime over the last 24 h by the one definition (`heartline_core::Availability`).
    pub uptime_24h: Option<f64>,
    /// Unexpected session ends per watched hour over the last 24 h.
    pub drops_per_hour: Option<f64>,
    /// Share of the watched time with a session open over the last 24 h.
    pub connected_share: Option<f64>,
    /// Median length of the sessions that ended in the last 24 h.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub median_session_ms: Option<u64>,
    /// What explains the endpoint's open incident (a diagnosis finding's title), if one is open.
    pub cause: Option<String>,
    /// p95 of the recorded round trips of the last minutes.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub p95_us: Option<u64>,
    /// When the current state began, as the store knows it: for an endpoint whose live
    /// status has no `since` yet (no state change in this run).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub since: Option<i64>,
    /// The last close the store holds: for an endpoint that has not closed in this run.
    pub last_close: Option<CloseInfo>,
}

impl EndpointRow {
    /// The row with its history columns, the stored `since` and last close filling in what
    /// the live status does not know yet.
    pub fn with_history(mut self, history: RowHistory) -> EndpointRow {
        if self.live.since.is_none() {
            self.live.since = history.since;
        }
        if self.live.last_close.is_none() {
            self.live.last_close = history.last_close.clone();
        }
        self.history = Some(history);
        self
    }
}

/// A time window of history.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Window {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub from: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub to: i64,
}

/// One bucket of an RTT series, in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RttBucket {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub count: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub p50_us: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub p95_us: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub max_us: u64,
}

/// A state that began at `at` (the state band).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StateSpan {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: i64,
    pub state: StateName,
}

/// A scheduled reconnect and its outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReconnectRow {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: i64,
    pub attempt: u32,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub delay_ms: u64,
    pub reason: RetryReason,
    /// `connected`, or the failure (`http 503`), or `None` when nothing followed in the window.
    pub outcome: Option<String>,
}

/// Handshake phases of one successful connection, in microseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PhaseRow {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub at: i64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub dns_us: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub tcp_us: u64,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub tls_us: Option<u64>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub upgrade_us: u64,
}

/// The server's own heartbeats over a window, from the recorded rollups: how many arrived and
/// the time between them, in milliseconds. Intervals, never round trips.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BeatSummary {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub beats: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub mean_interval_ms: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub min_interval_ms: u64,
    /// The longest wait for a beat: how close the server came to the missed-beat deadline.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub max_interval_ms: u64,
}

/// A diagnosis finding in plain language.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FindingRow {
    pub rule: String,
    pub title: String,
    pub explanation: String,
    pub evidence: Vec<String>,
    pub suggestion: String,
}

/// Everything the detail view shows for one endpoint over one window.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Detail {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    pub window: Window,
    /// Bucket size of the RTT series: `minute`, `hour` or `day`.
    pub resolution: Resolution,
    pub rtt: Vec<RttBucket>,
    pub app_rtt: Vec<RttBucket>,
    pub states: Vec<StateSpan>,
    pub closes: Vec<CloseInfo>,
    pub phases: Vec<PhaseRow>,
    pub reconnects: Vec<ReconnectRow>,
    /// Session counts per bucket; bounds in seconds in `session_bounds_s` (last open-ended).
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub session_counts: Vec<u64>,
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub session_bounds_s: Vec<u64>,
    pub findings: Vec<FindingRow>,
    /// The server's own heartbeats in the window (protocols whose server beats: Socket.IO,
    /// ActionCable, …); `None` when none was recorded.
    pub server_beats: Option<BeatSummary>,
}

/// One incident for the list.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentRow {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub endpoint: u64,
    pub endpoint_name: String,
    /// `down`, `unstable` or `degraded`.
    pub kind: IncidentKind,
    /// What explains it (a diagnosis finding's title), or `None`: unexplained.
    pub cause: Option<String>,
    /// How many times it opened (a return within the quiet period counts in the same row).
    pub episodes: u32,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub started: i64,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub ended: Option<i64>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub time_to_detect_ms: u64,
    /// Close codes with counts, most frequent first.
    pub close_codes: Vec<[u32; 2]>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub reconnect_attempts: u32,
}

/// The incidents list: the newest incidents of a window, at most [`IncidentList::LIMIT`], and
/// how many the window holds in all.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct IncidentList {
    /// Newest first.
    pub rows: Vec<IncidentRow>,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: u64,
}

impl IncidentList {
    /// More than a person scrolls through; fewer than would make every 10 s refresh of a
    /// 30-day window over a large fleet heavy (15 000 incidents in the store benchmark).
    pub const LIMIT: u32 = 1000;
}

/// A run of a history strip's cells in one state: from cell `cell` up to the next band's
/// first cell (or the strip's end). `state` is `None` where nothing was known or no agent was
/// recording.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StripBand {
    pub cell: u32,
    pub state: Option<StateName>,
}

/// One endpoint's history strip: the worst state of each cell, run-length coded, and the
/// cells where sessions ended unexpectedly, as `[cell, count]` (other cells had none).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HistoryStrip {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    pub bands: Vec<StripBand>,
    pub drops: Vec<[u32; 2]>,
}

/// Every endpoint's history strip over one window cut into `cells` equal cells (the
/// overview's "a bad hour at a glance"). Endpoints with no history in or before the window
/// have no strip.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Strips {
    pub window: Window,
    pub cells: u32,
    pub strips: Vec<HistoryStrip>,
}

impl Strips {
    /// The most cells a strip may be cut into.
    pub const MAX_CELLS: u32 = MAX_STRIP_CELLS as u32;
}

/// What an import changed.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ImportResult {
    pub added: Vec<String>,
    pub updated: Vec<String>,
}

/// One endpoint's swimlane in the timeline.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Lane {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    pub name: String,
    pub states: Vec<StateSpan>,
    pub closes: Vec<CloseInfo>,
}

/// What "Test connection" found: the handshake phases, one ping's round trip, or the failure.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProbeResult {
    pub ok: bool,
    pub phases: Option<PhaseRow>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub rtt_us: Option<u64>,
    pub subprotocol: Option<String>,
    /// The step that failed, and why.
    pub failed_phase: Option<ProbeStep>,
    pub error: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub http_status: Option<u16>,
}

/// The step of "Test connection" that failed: a handshake phase (as
/// [`heartline_core::FailedPhase`] names it), or the ping after it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ProbeStep {
    Dns,
    Tcp,
    Tls,
    /// The upgrade was refused (`http_status` says how) or answered wrongly.
    Http,
    /// The handshake took longer than its timeout.
    Timeout,
    /// Connected, but the ping got no answer.
    Ping,
}

impl ProbeStep {
    pub const ALL: [ProbeStep; 6] = [
        ProbeStep::Dns,
        ProbeStep::Tcp,
        ProbeStep::Tls,
        ProbeStep::Http,
        ProbeStep::Timeout,
        ProbeStep::Ping,
    ];
}

impl From<FailedPhase> for ProbeStep {
    fn from(phase: FailedPhase) -> Self {
        match phase {
            FailedPhase::Dns => ProbeStep::Dns,
            FailedPhase::Tcp => ProbeStep::Tcp,
            FailedPhase::Tls => ProbeStep::Tls,
            FailedPhase::Http { .. } => ProbeStep::Http,
            FailedPhase::Timeout { .. } => ProbeStep::Timeout,
        }
    }
}

/// What to export and where: the endpoints by id (empty: all of them), a window, whether
/// only incidents or every event, the format (`md`, `csv`, `json`, `ndjson`, `html`, `svg`,
/// `png`) and the absolute path the user chose.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportRequest {
    #[cfg_attr(feature = "ts", ts(type = "Array<number>"))]
    pub endpoints: Vec<u64>,
    pub window: Window,
    pub incidents_only: bool,
    pub format: ExportFormat,
    pub path: String,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportResult {
    /// The file written (the chosen path, with the extension added when it had none).
    pub path: String,
    pub format: ExportFormat,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub events: u64,
    pub endpoints: u32,
    pub incidents: u32,
}

/// How far the running export has got (event [`EXPORT_PROGRESS_EVENT`], after each day read).
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ExportProgress {
    /// Share of the window read, 0 to 1.
    pub fraction: f64,
    /// Events written so far.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub events: u64,
}

/// Points an RTT series is cut into at most (minute, hour or day buckets).
const MAX_POINTS: usize = 720;
/// Handshake phase rows shown, newest.
const MAX_PHASES: usize = 50;
const MAX_RECONNECTS: usize = 200;

/// Now, on the wall clock.
pub fn now() -> Timestamp {
    Timestamp::from_system(SystemTime::now())
}

pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub fn state_name(s: State) -> StateName {
    match s {
        State::Connecting => StateName::Connecting,
        State::Up => StateName::Up,
        State::Degraded => StateName::Degraded,
        State::Unstable => StateName::Unstable,
        State::Down => StateName::Down,
        State::Paused => StateName::Paused,
    }
}

/// Text from outside (a close reason, an error a server or the network produced) as a screen
/// shows it: control characters and bidi overrides written as escapes (`\x1b`, `\n`), at most
/// [`MAX_UNTRUSTED_LEN`] bytes. This keeps a reason from breaking lines, hiding text or
/// reordering what is read.
pub fn shown(text: &str) -> String {
    // UNIX times (rustls' "not valid after 1580515200 (UNIX)", in history recorded before the
    // probe wrote dates) as dates.
    let text = heartline_core::error_text::readable_times(text);
    bound(&escape_controls(&text), MAX_UNTRUSTED_LEN).into_owned()
}

/// A close marker from a session end.
pub fn close_info(at: Timestamp, end: &SessionEnd) -> CloseInfo {
    close_from_parts(
        at,
        end.code(),
        end.reason().to_owned(),
        end.initiator(),
        end.cause(),
    )
}

/// A close marker from its parts (as the store keeps them). The reason is the server's (or
/// the network error's) and is [`shown`] escaped; initiator and cause are Heartline's own
/// vocabulary, typed.
pub fn close_from_parts(
    at: Timestamp,
    code: u16,
    reason: String,
    initiator: Initiator,
    cause: Option<CloseCause>,
) -> CloseInfo {
    CloseInfo {
        at: at.0,
        code,
        class: close_code::classify(code),
        meaning: close_code::meaning(code).to_owned(),
        reason: shown(&reason),
        initiator,
        cause,
    }
}

/// An engine status as the views show it.
pub fn live_status(id: EndpointId, s: &Status) -> LiveStatus {
    LiveStatus {
        id: id.0,
        state: state_name(s.state),
        since: s.since.map(|t| t.0),
        rtt_us: s.last_rtt.map(micros),
        app_rtt_us: s.last_app_rtt.map(micros),
        last_close: s.last_end.as_ref().map(|(at, end)| close_info(*at, end)),
        last_failure: s.last_failure.as_deref().map(shown),
        sessions: s.sessions,
    }
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

/// A strip's cells as the view sends them: bands where the worst state changes, and the
/// cells with drops.
fn strip_of(id: EndpointId, cells: &[StripCell]) -> HistoryStrip {
    let mut bands: Vec<StripBand> = Vec::new();
    let mut drops = Vec::new();
    for (i, c) in cells.iter().enumerate() {
        let cell = u32::try_from(i).unwrap_or(u32::MAX);
        let state = c.worst.map(state_name);
        if bands.last().is_none_or(|b| b.state != state) {
            bands.push(StripBand { cell, state });
        }
        if c.drops > 0 {
            drops.push([cell, c.drops]);
        }
    }
    HistoryStrip {
        id: id.0,
        bands,
        drops,
    }
}

fn check_window(w: Window) -> Result<(Timestamp, Timestamp)> {
    if w.to <= w.from {
        return Err(Error::Request("the window must end after it starts".into()));
    }
    Ok((Timestamp(w.from), Timestamp(w.to)))
}

impl Monitor {
    /// The overview in one answer: [`Monitor::overview_rows`] with
    /// [`Monitor::overview_history`] folded in.
    pub async fn overview(&self) -> Result<Vec<EndpointRow>> {
        let rows = self.overview_rows().await?;
        let mut history: HashMap<u64, RowHistory> = self
            .overview_history()
            .await?
            .into_iter()
            .map(|h| (h.id, h))
            .collect();
        Ok(rows
            .into_iter()
            .map(|r| match history.remove(&r.id) {
                Some(h) => r.with_history(h),
                None => r,
            })
            .collect())
    }

    /// The overview's first half, cheap enough for the first screen of 10,000 endpoints:
    /// every stored endpoint with its configuration and live state, from memory (the
    /// monitor's list of stored endpoints, read once and again only after an edit, and the
    /// engine's statuses), without history (`history: None`). The state is the engine's (a
    /// paused endpoint's is `Paused`, from the store's column through the engine); an
    /// endpoint the engine does not watch says `Paused` or `Connecting`, as the store has it.
    pub async fn overview_rows(&self) -> Result<Vec<EndpointRow>> {
        let listed = self.listed().await?;
        let mut live: HashMap<EndpointId, LiveStatus> = self
            .engine()
            .statuses()
            .into_iter()
            .map(|(id, s)| (id, live_status(id, &s)))
            .collect();
        Ok(listed
            .iter()
            .map(|e| {
                // Not watched (the agent's selection, or refused at start): the store's word.
                let status = live.remove(&e.id).unwrap_or(LiveStatus {
                    id: e.id.0,
                    state: if e.paused {
                        StateName::Paused
                    } else {
                        StateName::Connecting
                    },
                    since: None,
                    rtt_us: None,
                    app_rtt_us: None,
                    last_close: None,
                    last_failure: None,
                    sessions: 0,
                });
                EndpointRow {
                    id: e.id.0,
                    name: e.name.clone(),
                    url: e.url.clone(),
                    tags: e.tags.clone(),
                    paused: e.paused,
                    live: status,
                    missing_secrets: e.missing_secrets.clone(),
                    history: None,
                }
            })
            .collect())
    }

    /// The overview's second half: every stored endpoint's history columns (uptime, drops,
    /// connected share and median session of the last 24 h, the open incident's cause, p95),
    /// and the stored `since` and last close for endpoints this run has not seen change.
    pub async fn overview_history(&self) -> Result<Vec<RowHistory>> {
        let store = self.store();
        let listed = self.listed().await?;
        let ids: Vec<EndpointId> = listed.iter().map(|e| e.id).collect();
        let at = now();
        let summaries: HashMap<EndpointId, _> = store
            .overview(&ids, at)
            .await?
            .into_iter()
            .map(|r| (r.endpoint, r))
            .collect();
        // Which endpoints have closed in this run: their last close is the engine's.
        let seen: HashSet<EndpointId> = self
            .engine()
            .statuses()
            .into_iter()
            .filter(|(_, s)| s.last_end.is_some())
            .map(|(id, _)| id)
            .collect();
        // Before this run has seen a session end, the stored last close says who closed but
        // not why: read that one event back (a one-millisecond range seek) for its cause and
        // reason. All of them in one statement (a seek each): one read per endpoint took
        // 100-250 ms of the first overview on a year's database.
        let unseen: Vec<(EndpointId, Timestamp)> = ids
            .iter()
            .filter(|id| !seen.contains(id))
            .filter_map(|id| Some((*id, summaries.get(id)?.last_close.as_ref()?.0)))
            .collect();
        // The cause of each endpoint's open incident, from the newest incidents of a day.
        let day_ago = Timestamp(at.0 - 86_400_000);
        let (recent, _) = store
            .recent_incidents(day_ago, at, IncidentList::LIMIT)
            .await?;
        let mut causes: HashMap<EndpointId, String> = HashMap::new();
        for i in recent.iter().filter(|i| i.ended.is_none()) {
            if let Some(c) = &i.cause {
                causes.entry(i.endpoint).or_insert_with(|| shown(&c.title));
            }
        }
        let mut stored_closes: HashMap<EndpointId, CloseInfo> = HashMap::new();
        for event in store.closes_at(&unseen).await? {
            if let EventKind::Closed { end, .. } = &event.kind {
                stored_closes.insert(event.endpoint, close_info(event.at, end));
            }
        }
        Ok(ids
            .into_iter()
            .map(|id| {
                let summary = summaries.get(&id);
                let last_close = if seen.contains(&id) {
                    None
                } else {
                    // An initiator the database holds but this build does not know is not
                    // shown rather than guessed.
                    stored_closes.remove(&id).or_else(|| {
                        let (at, code, initiator) = summary?.last_close.as_ref()?;
                        let initiator = Initiator::parse(initiator)?;
                        Some(close_from_parts(*at, *code, String::new(), initiator, None))
                    })
                };
                let day = summary.and_then(|s| s.last_24h.as_ref());
                RowHistory {
                    id: id.0,
                    uptime_24h: summary.and_then(|s| s.uptime_24h),
                    drops_per_hour: day.and_then(|a| a.drops_per_hour()),
                    connected_share: day.and_then(|a| a.connected_share()),
                    median_session_ms: day.and_then(|a| a.median_session).map(millis),
                    cause: causes.remove(&id),
                    p95_us: summary.and_then(|s| s.rtt_p95).map(micros),
                    since: summary.and_then(|s| s.since).map(|t| t.0),
                    last_close,
                }
            })
            .collect())
    }

    /// Live statuses of the given endpoints (all when empty).
    pub fn statuses(&self, only: &HashSet<EndpointId>) -> Vec<LiveStatus> {
        self.engine()
            .statuses()
            .into_iter()
            .filter(|(id, _)| only.is_empty() || only.contains(id))
            .map(|(id, s)| live_status(id, &s))
            .collect()
    }

    /// The worst live state of the watched endpoints (`alerts::worst`), the tray's colour.
    pub fn worst_state(&self) -> Option<State> {
        crate::alerts::worst(self.engine().statuses().into_iter().map(|(_, s)| s.state))
    }

    /// The title of the diagnosis finding that explains the endpoint's open incident, as the
    /// live incident tracker knows it now; `None` without an open incident or without an
    /// explanation. Outside text: escape it where it is shown (`alerts::message` does).
    pub fn open_cause(&self, id: u64) -> Option<String> {
        self.recorder_ref()
            .open_cause(EndpointId(id))
            .map(|c| c.title)
    }

    /// The tray's tooltip over every watched endpoint (`alerts::tooltip`): counts per state,
    /// then the endpoints in trouble with their causes.
    /// Refreshed with every status delta, so endpoints that are fine cost only their state:
    /// names and causes are looked up for the ones in trouble.
    pub fn tray_tooltip(&self) -> String {
        crate::alerts::tooltip(&self.tray_entries())
    }

    /// The tooltip ([`Monitor::tray_tooltip`]) and the same lines as menu items
    /// ([`crate::alerts::tray_menu_lines`]) for trays that show no tooltip, from one look.
    pub fn tray_status(&self) -> (String, Vec<String>) {
        let entries = self.tray_entries();
        (
            crate::alerts::tooltip(&entries),
            crate::alerts::tray_menu_lines(&entries),
        )
    }

    fn tray_entries(&self) -> Vec<crate::alerts::TrayEntry> {
        let statuses = self.engine().statuses();
        let troubled = |s: State| matches!(s, State::Down | State::Unstable | State::Degraded);
        let mut names: HashMap<EndpointId, String> =
            if statuses.iter().any(|(_, s)| troubled(s.state)) {
                self.engine()
                    .endpoints()
                    .into_iter()
                    .map(|(id, e)| (id, e.name))
                    .collect()
            } else {
                HashMap::new()
            };
        statuses
            .into_iter()
            .map(|(id, status)| {
                let (name, cause) = if troubled(status.state) {
                    let name = names.remove(&id).unwrap_or_else(|| id.to_string());
                    (name, self.open_cause(id.0))
                } else {
                    (String::new(), None)
                };
                crate::alerts::TrayEntry {
                    name,
                    state: state_name(status.state),
                    cause,
                }
            })
            .collect()
    }

    /// One endpoint's detail over a window.
    pub async fn detail(&self, id: u64, window: Window) -> Result<Detail> {
        let (from, to) = check_window(window)?;
        let endpoint = self.endpoint(id)?;
        let id = EndpointId(id);
        let store = self.store();
        let (resolution, rtt) = store
            .rtt_series(id, PingKind::Protocol, from, to, MAX_POINTS)
            .await?;
        let (_, app_rtt) = store
            .rtt_series(id, PingKind::App, from, to, MAX_POINTS)
            .await?;
        let (_, beats) = store.beat_series(id, from, to, MAX_POINTS).await?;
        let server_beats = BeatTotals::of(&beats).map(|b| BeatSummary {
            beats: b.beats,
            mean_interval_ms: millis(b.mean_interval),
            min_interval_ms: millis(b.min_interval),
            max_interval_ms: millis(b.max_interval),
        });
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
                delay_ms: millis(r.delay),
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
                // Evidence quotes recorded close reasons and errors: server text, escaped.
                evidence: f.evidence.iter().map(|e| shown(e)).collect(),
                suggestion: f.suggestion,
            })
            .collect();
        Ok(Detail {
            id: id.0,
            window,
            resolution,
            rtt: buckets(rtt),
            app_rtt: buckets(app_rtt),
            states,
            closes,
            phases,
            reconnects,
            session_counts,
            session_bounds_s: SESSION_BUCKETS.to_vec(),
            findings,
            server_beats,
        })
    }

    /// Swimlanes: every endpoint's states and closes over a window, to see correlated drops.
    pub async fn timeline(&self, window: Window) -> Result<Vec<Lane>> {
        let (from, to) = check_window(window)?;
        let store = self.store();
        let mut lanes: Vec<Lane> = self
            .engine()
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
            if let Some(s) = store.state_at(EndpointId(lane.id), from).await? {
                lane.states.push(StateSpan {
                    at: from.0,
                    state: state_name(s),
                });
            }
        }
        for event in store.history(&[], from, to).await? {
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

    /// Every endpoint's history strip over a window cut into `cells` cells (1 to
    /// [`Strips::MAX_CELLS`]): the worst state of each cell and its unexpected session ends,
    /// bucketed by the store in two statements for the whole fleet.
    pub async fn strips(&self, window: Window, cells: u32) -> Result<Strips> {
        let (from, to) = check_window(window)?;
        if cells == 0 || cells > Strips::MAX_CELLS {
            return Err(Error::Request(format!(
                "a history strip has 1 to {} cells, not {cells}",
                Strips::MAX_CELLS
            )));
        }
        let n = usize::try_from(cells).unwrap_or(MAX_STRIP_CELLS);
        let mut strips: Vec<HistoryStrip> = self
            .store()
            .strips(Scope::All, from, to, n)
            .await?
            .into_iter()
            .map(|(id, cells)| strip_of(id, &cells))
            .collect();
        strips.sort_by_key(|s| s.id);
        Ok(Strips {
            window,
            cells,
            strips,
        })
    }

    /// The newest incidents overlapping a window (at most [`IncidentList::LIMIT`], newest
    /// first) and their total.
    pub async fn incidents(&self, window: Window) -> Result<IncidentList> {
        let (from, to) = check_window(window)?;
        let store = self.store();
        // Names only: the secret store (a keychain round trip per secret) is not asked.
        let names: HashMap<EndpointId, String> = store
            .export_endpoints()
            .await?
            .into_iter()
            .map(|e| (e.id, e.endpoint.name))
            .collect();
        let (newest, total) = store
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
                kind: i.kind,
                cause: i.cause.as_ref().map(|c| shown(&c.title)),
                episodes: i.episodes,
                started: i.started.0,
                ended: i.ended.map(|t| t.0),
                time_to_detect_ms: millis(i.time_to_detect),
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
}

#[cfg(test)]
mod tests {
    use heartline_core::untrusted::MAX_UNTRUSTED_LEN;

    use super::*;

    #[test]
    fn server_text_reaches_the_ui_escaped_and_bounded() {
        let end = SessionEnd::ClosedByServer {
            code: 4000,
            reason: "\u{1b}]0;pwned\u{7} \u{1b}[31mred\nforged \u{9b}1m \u{202e}exe".into(),
        };
        let close = close_info(Timestamp(1), &end);
        assert_eq!(
            close.reason,
            r"\x1b]0;pwned\x07 \x1b[31mred\nforged \u{9b}1m \u{202e}exe"
        );

        let status = Status {
            last_failure: Some(format!("tcp failed: \u{1b}[2J{}", "x".repeat(2000))),
            last_end: Some((Timestamp(2), end)),
            ..Status::default()
        };
        let live = live_status(EndpointId(7), &status);
        let failure = live.last_failure.expect("a failure");
        assert!(failure.starts_with(r"tcp failed: \x1b[2Jxxx"), "{failure}");
        assert!(failure.len() <= MAX_UNTRUSTED_LEN + '…'.len_utf8());
        assert!(failure.ends_with('…'));
        assert_eq!(live.last_close.expect("a close").reason, close.reason);
        // A TLS error recorded before the probe wrote dates reads as one.
        assert_eq!(
            shown("certificate is not valid after 1580515200 (UNIX)"),
            "certificate is not valid after 2020-02-01 00:00:00 UTC"
        );

        // Plain text is left as it is.
        assert_eq!(shown("going away: deploy"), "going away: deploy");
    }

    #[test]
    fn closes_carry_class_and_meaning() {
        let c = close_from_parts(Timestamp(5), 1006, String::new(), Initiator::Network, None);
        assert_eq!(
            (c.class, c.meaning.is_empty()),
            (CloseClass::Abnormal, false)
        );
        assert_eq!(
            close_from_parts(Timestamp(5), 4001, String::new(), Initiator::Server, None).class,
            CloseClass::Application
        );
    }

    /// A failed test names its step as the handshake failure does (`http`, …), or `ping`.
    #[test]
    fn probe_steps_serialize_by_the_failed_phase_names() {
        use heartline_core::Phase;
        for phase in [
            FailedPhase::Dns,
            FailedPhase::Tcp,
            FailedPhase::Tls,
            FailedPhase::Http {
                status: Some(401),
                retry_after: None,
            },
            FailedPhase::Timeout { during: Phase::Tls },
        ] {
            let json = serde_json::to_value(ProbeStep::from(phase)).expect("serialize");
            assert_eq!(json, phase.as_str(), "{phase:?}");
        }
        assert_eq!(
            serde_json::to_value(ProbeStep::Ping).expect("serialize"),
            "ping"
        );
        for step in ProbeStep::ALL {
            let json = serde_json::to_value(step).expect("serialize");
            assert_eq!(serde_json::from_value::<ProbeStep>(json).ok(), Some(step));
        }
    }

    /// What the UI receives: class, initiator and cause by the names it switches on.
    #[test]
    fn closes_serialize_their_vocabulary_by_name() {
        let ours = SessionEnd::ClosedByClient {
            cause: CloseCause::PongTimeout,
            code: 1001,
            reason: String::new(),
            clean: true,
        };
        let server = SessionEnd::ClosedByServer {
            code: 1013,
            reason: "busy".into(),
        };
        let lost = SessionEnd::Lost {
            error: "reset".into(),
        };
        let seen: Vec<serde_json::Value> = [ours, server, lost]
            .iter()
            .map(|end| {
                let json = serde_json::to_value(close_info(Timestamp(9), end)).expect("serialize");
                serde_json::json!([json["class"], json["initiator"], json["cause"]])
            })
            .collect();
        assert_eq!(
            seen,
            [
                serde_json::json!(["going_away", "client", "pong_timeout"]),
                serde_json::json!(["try_again", "server", null]),
                serde_json::json!(["abnormal", "network", null]),
            ]
        );
    }
}
