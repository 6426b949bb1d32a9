// Generated from src-tauri/src/dto.rs by ts-rs; do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p heartline-app bindings

export type IpcError = { code: ErrorCode, message: string, 
/**
 * Per-field problems when `code` is `invalid`.
 */
fields: Array<FieldProblem>, };

export type ErrorCode = "invalid" | "not_found" | "duplicate" | "storage" | "engine" | "lab" | "config" | "export";

export type ConfigFormat = "toml" | "json";

export type FieldProblem = { field: string, problem: string, };

export type StateName = "Connecting" | "Up" | "Degraded" | "Unstable" | "Down" | "Paused";

export type CloseInfo = { at: number, code: number, 
/**
 * The close-code class (`normal`, `going_away`, `abnormal`, …) for colour.
 */
class: string, meaning: string, reason: string, initiator: string, cause: string | null, };

export type LiveStatus = { id: number, state: StateName, since: number | null, rtt_us: number | null, app_rtt_us: number | null, last_close: CloseInfo | null, last_failure: string | null, sessions: number, };

export type StatusDelta = { statuses: Array<LiveStatus>, 
/**
 * Engine events this window missed because it fell behind (its view is then refreshed).
 */
missed: number, };

export type EndpointRow = { id: number, name: string, 
/**
 * The URL with secrets in its query redacted.
 */
url: string, tags: Array<string>, paused: boolean, live: LiveStatus, 
/**
 * Uptime over the last 24 h by the one definition (`heartline_core::Availability`).
 */
uptime_24h: number | null, 
/**
 * Unexpected session ends per watched hour over the last 24 h.
 */
drops_per_hour: number | null, 
/**
 * Share of the watched time with a session open over the last 24 h.
 */
connected_share: number | null, 
/**
 * Median length of the sessions that ended in the last 24 h.
 */
median_session_ms: number | null, 
/**
 * What explains the endpoint's open incident (a diagnosis finding's title), if one is open.
 */
cause: string | null, p95_us: number | null, missing_secrets: Array<string>, };

export type HeaderForm = { name: string, value: string, secret: boolean, };

export type EndpointForm = { name: string, url: string, headers: Array<HeaderForm>, subprotocols: Array<string>, 
/**
 * Application protocol preset by name (`websocket` for none, `socketio`,
 * `graphql-transport-ws`, `mqtt`, …: `heartline_core::Protocol`).
 */
protocol: string, tags: Array<string>, ping_interval_ms: number, pong_timeout_ms: number, misses_allowed: number, 
/**
 * Application heartbeat payload; empty = none.
 */
app_payload: string, 
/**
 * Text the reply must contain.
 */
app_reply_contains: string, app_interval_ms: number, app_timeout_ms: number, 
/**
 * Expect an application message at least this often; `null` = no staleness check.
 */
stale_after_ms: number | null, stale_reconnect: boolean, handshake_timeout_ms: number, reconnect_enabled: boolean, reconnect_initial_ms: number, reconnect_cap_ms: number, max_attempts: number | null, degraded_rtt_ms: number | null, failures_before_down: number, successes_before_up: number, insecure_tls: boolean, };

export type Window = { from: number, to: number, };

export type RttBucket = { at: number, count: number, p50_us: number, p95_us: number, max_us: number, };

export type StateSpan = { at: number, state: StateName, };

export type ReconnectRow = { at: number, attempt: number, delay_ms: number, reason: string, outcome: string | null, };

export type PhaseRow = { at: number, dns_us: number, tcp_us: number, tls_us: number | null, upgrade_us: number, };

export type FindingRow = { rule: string, title: string, explanation: string, evidence: Array<string>, suggestion: string, };

export type Detail = { id: number, window: Window, 
/**
 * Bucket size of the RTT series: `minute`, `hour` or `day`.
 */
resolution: string, rtt: Array<RttBucket>, app_rtt: Array<RttBucket>, states: Array<StateSpan>, closes: Array<CloseInfo>, phases: Array<PhaseRow>, reconnects: Array<ReconnectRow>, 
/**
 * Session counts per bucket; bounds in seconds in `session_bounds_s` (last open-ended).
 */
session_counts: Array<number>, session_bounds_s: Array<number>, findings: Array<FindingRow>, };

export type IncidentRow = { endpoint: number, endpoint_name: string, 
/**
 * `down`, `unstable` or `degraded`.
 */
kind: string, 
/**
 * What explains it (a diagnosis finding's title), or `None`: unexplained.
 */
cause: string | null, 
/**
 * How many times it opened (a return within the quiet period counts in the same row).
 */
episodes: number, started: number, ended: number | null, time_to_detect_ms: number, 
/**
 * Close codes with counts, most frequent first.
 */
close_codes: Array<[number, number]>, reconnect_attempts: number, };

export type IncidentList = { 
/**
 * Newest first.
 */
rows: Array<IncidentRow>, total: number, };

export type AppInfo = { database: string, secrets: string, version: string, 
/**
 * The lab's base URL while the demo runs.
 */
demo: string | null, 
/**
 * Where the export save dialog opens first (the user's downloads or home folder).
 */
export_dir: string | null, 
/**
 * Where this program is installed: its executable, e.g. /usr/bin/heartline-app.
 */
executable: string, 
/**
 * The `heartline` command installed beside it, when there is one.
 */
command: string | null, };

export type StartupMark = { name: string, 
/**
 * Milliseconds since the Unix epoch.
 */
at_ms: number, };

export type ImportResult = { added: Array<string>, updated: Array<string>, };

export type Lane = { id: number, name: string, states: Array<StateSpan>, closes: Array<CloseInfo>, };

export type StripBand = { cell: number, state: StateName | null, };

export type HistoryStrip = { id: number, bands: Array<StripBand>, drops: Array<[number, number]>, };

export type Strips = { window: Window, cells: number, strips: Array<HistoryStrip>, };

export type ProbeResult = { ok: boolean, phases: PhaseRow | null, rtt_us: number | null, subprotocol: string | null, 
/**
 * The phase that failed (`dns`, `tcp`, `tls`, `upgrade`, `timeout`, …) and why.
 */
failed_phase: string | null, error: string | null, http_status: number | null, };

export type ExportRequest = { endpoints: Array<number>, window: Window, incidents_only: boolean, format: string, path: string, };

export type ExportResult = { 
/**
 * The file written (the chosen path, with the extension added when it had none).
 */
path: string, format: string, events: number, endpoints: number, incidents: number, };

export type ExportProgress = { 
/**
 * Share of the window read, 0 to 1.
 */
fraction: number, 
/**
 * Events written so far.
 */
events: number, };

export type AppSettings = { 
/**
 * Desktop notifications on Down and recovery.
 */
notifications: boolean, 
/**
 * Closing the window keeps monitoring from the tray.
 */
keep_running_in_tray: boolean, 
/**
 * Days of history kept.
 */
retention_days: number, 
/**
 * What the add form starts from.
 */
endpoint_defaults: EndpointDefaults, 
/**
 * Serve Prometheus metrics (the agent's `/metrics`) on this address, e.g.
 * `127.0.0.1:9464`; `null`: off (the default).
 */
metrics_address: string | null, };

export type EndpointDefaults = { ping_interval_ms: number, pong_timeout_ms: number, misses_allowed: number, handshake_timeout_ms: number, reconnect_enabled: boolean, reconnect_initial_ms: number, reconnect_cap_ms: number, max_attempts: number | null, degraded_rtt_ms: number | null, failures_before_down: number, successes_before_up: number, };

/** The event carrying coalesced status deltas. */
export const STATUS_EVENT = "heartline://status";
/** The event carrying a running export's progress. */
export const EXPORT_PROGRESS_EVENT = "heartline://export-progress";
