// Overview rows for the tests: a live status, a history, and a row holding both.
import type { EndpointRow, LiveStatus, RowHistory } from "../lib/bindings";

export function status(id: number, over: Partial<LiveStatus> = {}): LiveStatus {
  return { id, state: "Up", since: 0, rtt_us: 100, app_rtt_us: null, last_close: null, last_failure: null, sessions: 1, ...over };
}

export function hist(id: number, over: Partial<RowHistory> = {}): RowHistory {
  return {
    id,
    uptime_24h: 1,
    drops_per_hour: null,
    connected_share: null,
    median_session_ms: null,
    cause: null,
    p95_us: 100,
    since: null,
    last_close: null,
    ...over,
  };
}

/** A row with its history (`history` in `over` replaces it; `history: null`, as the first
 *  answer has it). */
export function row(id: number, name: string, over: Partial<EndpointRow> = {}, live: Partial<LiveStatus> = {}): EndpointRow {
  return {
    id,
    name,
    url: `ws://x/${name}`,
    tags: [],
    paused: false,
    live: status(id, live),
    missing_secrets: [],
    history: hist(id),
    ...over,
  };
}
