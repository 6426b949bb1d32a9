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

export type CloseClass = "normal" | "going_away" | "try_again" | "abnormal" | "policy" | "server_error" | "protocol" | "application" | "other";

export type Initiator = "server" | "client" | "network";

export type CloseCause = "pong_timeout" | "app_pong_timeout" | "stale" | "user" | "shutdown" | "duration_elapsed" | "message_too_big" | "protocol_error" | "reconfigured" | "server_beat_missed" | "protocol_handshake_timeout";

export type CloseInfo = { at: number, code: number, 
/**
 * The close-code class (`normal`, `going_away`, `abnormal`, …) for colour.
 */
class: CloseClass, meaning: string, reason: string, initiator: Initiator, 
/**
 * Why Heartline closed it, when Heartline did.
 */
cause: CloseCause | null, };

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
url: string, tags: Array<string>, paused: boolean, live: LiveStatus, missing_secrets: Array<string>, 
/**
 * The history columns; `None` while they are not known yet (shown as loading, never
 * as a value).
 */
history: RowHistory | null, };

export type RowHistory = { id: number, 
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
cause: string | null, 
/**
 * p95 of the recorded round trips of the last minutes.
 */
p95_us: number | null, 
/**
 * When the current state began, as the store knows it: for an endpoint whose live
 * status has no `since` yet (no state change in this run).
 */
since: number | null, 
/**
 * The last close the store holds: for an endpoint that has not closed in this run.
 */
last_close: CloseInfo | null, };

export type HeaderForm = { name: string, value: string, secret: boolean, };

export type Protocol = "websocket" | "socketio" | "socketio3" | "graphql-transport-ws" | "subscriptions-transport-ws" | "mqtt" | "mqtt5" | "actioncable" | "pusher" | "phoenix" | "signalr" | "stomp";

export type EndpointForm = { name: string, url: string, headers: Array<HeaderForm>, subprotocols: Array<string>, 
/**
 * Application protocol preset (`websocket` for none, `socketio`, `graphql-transport-ws`,
 * `mqtt`, …), by its configuration name.
 */
protocol: Protocol, tags: Array<string>, ping_interval_ms: number, pong_timeout_ms: number, misses_allowed: number, 
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
stale_after_ms: number | null, stale_reconnect: boolean, handshake_timeout_ms: number, reconnect_enabled: boolean, reconnect_initial_ms: number, reconnect_cap_ms: number, max_attempts: number | null, degraded_rtt_ms: number | null, failures_before_down: number, successes_before_up: number, insecure_tls: boolean, 
/**
 * The conversation after every handshake: messages to send and replies to wait for.
 */
on_connect: Array<StepForm>, 
/**
 * Named secret values the messages and the heartbeat payload use as `{{secret:NAME}}`.
 */
secret_vars: Array<SecretVarForm>, };

export type StepForm = { kind: StepKind, 
/**
 * The message to send, or the rule's text (`PATH=VALUE` for a JSON rule).
 */
value: string, 
/**
 * How long a wait lasts, in milliseconds; `null`: the handshake timeout.
 */
within_ms: number | null, };

export type StepKind = "send" | "expect" | "expect_regex" | "expect_json";

export type SecretVarForm = { name: string, value: string, 
/**
 * Whether the app already keeps a value under this name.
 */
stored: boolean, };

export type Window = { from: number, to: number, };

export type RttBucket = { at: number, count: number, p50_us: number, p95_us: number, max_us: number, };

export type StateSpan = { at: number, state: StateName, };

export type RetryReason = "backoff" | "service_restart" | "try_again_later" | "retry_after";

export type ReconnectRow = { at: number, attempt: number, delay_ms: number, reason: RetryReason, 
/**
 * `connected`, or the failure (`http 503`), or `None` when nothing followed in the window.
 */
outcome: string | null, };

export type PhaseRow = { at: number, dns_us: number, tcp_us: number, tls_us: number | null, upgrade_us: number, };

export type FindingRow = { rule: string, title: string, explanation: string, evidence: Array<string>, suggestion: string, };

export type BeatSummary = { beats: number, mean_interval_ms: number, min_interval_ms: number, 
/**
 * The longest wait for a beat: how close the server came to the missed-beat deadline.
 */
max_interval_ms: number, };

export type Resolution = "minute" | "hour" | "day";

export type Detail = { id: number, window: Window, 
/**
 * Bucket size of the RTT series: `minute`, `hour` or `day`.
 */
resolution: Resolution, rtt: Array<RttBucket>, app_rtt: Array<RttBucket>, states: Array<StateSpan>, closes: Array<CloseInfo>, phases: Array<PhaseRow>, reconnects: Array<ReconnectRow>, 
/**
 * Session counts per bucket; bounds in seconds in `session_bounds_s` (last open-ended).
 */
session_counts: Array<number>, session_bounds_s: Array<number>, findings: Array<FindingRow>, 
/**
 * The server's own heartbeats in the window (protocols whose server beats: Socket.IO,
 * ActionCable, …); `None` when none was recorded.
 */
server_beats: BeatSummary | null, };

export type IncidentKind = "down" | "degraded" | "unstable";

export type IncidentRow = { endpoint: number, endpoint_name: string, 
/**
 * `down`, `unstable` or `degraded`.
 */
kind: IncidentKind, 
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

export type ProbeStep = "dns" | "tcp" | "tls" | "http" | "timeout" | "ping";

export type StripBand = { cell: number, state: StateName | null, };

export type HistoryStrip = { id: number, bands: Array<StripBand>, drops: Array<[number, number]>, };

export type Strips = { window: Window, cells: number, strips: Array<HistoryStrip>, };

export type ProbeResult = { ok: boolean, phases: PhaseRow | null, rtt_us: number | null, subprotocol: string | null, 
/**
 * The step that failed, and why.
 */
failed_phase: ProbeStep | null, error: string | null, http_status: number | null, };

export type ExportFormat = "md" | "csv" | "json" | "ndjson" | "html" | "svg" | "png";

export type ExportRequest = { endpoints: Array<number>, window: Window, incidents_only: boolean, format: ExportFormat, path: string, };

export type ExportResult = { 
/**
 * The file written (the chosen path, with the extension added when it had none).
 */
path: string, format: ExportFormat, events: number, endpoints: number, incidents: number, };

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

/** Every `CloseClass`, in Rust's order. */
export const ALL_CLOSE_CLASSES: readonly CloseClass[] = ["normal", "going_away", "try_again", "abnormal", "policy", "server_error", "protocol", "application", "other"];

/** Every `Initiator`, in Rust's order. */
export const ALL_INITIATORS: readonly Initiator[] = ["server", "client", "network"];

/** Every `CloseCause`, in Rust's order. */
export const ALL_CLOSE_CAUSES: readonly CloseCause[] = ["pong_timeout", "app_pong_timeout", "stale", "user", "shutdown", "duration_elapsed", "message_too_big", "protocol_error", "reconfigured", "server_beat_missed", "protocol_handshake_timeout"];

/** Every `RetryReason`, in Rust's order. */
export const ALL_RETRY_REASONS: readonly RetryReason[] = ["backoff", "service_restart", "try_again_later", "retry_after"];

/** Every `IncidentKind`, in Rust's order. */
export const ALL_INCIDENT_KINDS: readonly IncidentKind[] = ["down", "degraded", "unstable"];

/** Every `ProbeStep`, in Rust's order. */
export const ALL_PROBE_STEPS: readonly ProbeStep[] = ["dns", "tcp", "tls", "http", "timeout", "ping"];

/** Every `ExportFormat`, in Rust's order. */
export const ALL_EXPORT_FORMATS: readonly ExportFormat[] = ["md", "csv", "json", "ndjson", "html", "svg", "png"];

/** Every `Protocol`, in Rust's order. */
export const ALL_PROTOCOLS: readonly Protocol[] = ["websocket", "socketio", "socketio3", "graphql-transport-ws", "subscriptions-transport-ws", "mqtt", "mqtt5", "actioncable", "pusher", "phoenix", "signalr", "stomp"];

/** The event carrying coalesced status deltas. */
export const STATUS_EVENT = "heartline://status";
/** The event carrying a running export's progress. */
export const EXPORT_PROGRESS_EVENT = "heartline://export-progress";
