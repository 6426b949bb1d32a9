// The endpoint form: which input each validation problem belongs to.
import type { FieldProblem } from "./bindings";

/** Form inputs that can carry a problem. */
export type FormField =
  | "name"
  | "url"
  | "headers"
  | "subprotocols"
  | "protocol"
  | "tags"
  | "ping_interval_ms"
  | "pong_timeout_ms"
  | "misses_allowed"
  | "app_payload"
  | "app_reply_contains"
  | "app_interval_ms"
  | "app_timeout_ms"
  | "stale_after_ms"
  | "handshake_timeout_ms"
  | "reconnect_initial_ms"
  | "reconnect_cap_ms"
  | "max_attempts"
  | "degraded_rtt_ms"
  | "failures_before_down"
  | "successes_before_up"
  | "general";

const FIELDS: Record<string, FormField> = {
  name: "name",
  url: "url",
  headers: "headers",
  subprotocols: "subprotocols",
  protocol: "protocol",
  tags: "tags",
  "heartbeat.ping_interval": "ping_interval_ms",
  "heartbeat.pong_timeout": "pong_timeout_ms",
  "heartbeat.misses_allowed": "misses_allowed",
  "app_heartbeat.payload": "app_payload",
  "app_heartbeat.reply": "app_reply_contains",
  "app_heartbeat.interval": "app_interval_ms",
  "app_heartbeat.timeout": "app_timeout_ms",
  staleness: "stale_after_ms",
  "staleness.after": "stale_after_ms",
  handshake_timeout: "handshake_timeout_ms",
  "reconnect.initial": "reconnect_initial_ms",
  "reconnect.cap": "reconnect_cap_ms",
  "reconnect.max_attempts": "max_attempts",
  "health.degraded_rtt": "degraded_rtt_ms",
  "health.failures_before_down": "failures_before_down",
  "health.successes_before_up": "successes_before_up",
};

/** The input a problem's field path (`headers[1]`, `heartbeat.pong_timeout`, …) belongs to. */
export function formField(path: string): FormField {
  const bare = path.replace(/\[\d+\]/g, "");
  if (FIELDS[bare]) return FIELDS[bare];
  const parent = bare.split(".")[0];
  if (parent === "reconnect") return "reconnect_initial_ms";
  if (parent === "app_heartbeat") return "app_payload";
  if (parent === "health") return "failures_before_down";
  return FIELDS[parent] ?? "general";
}

/** Problems grouped by input, several per input joined in order. */
export function problemsByField(problems: FieldProblem[]): Partial<Record<FormField, string>> {
  const out: Partial<Record<FormField, string>> = {};
  for (const p of problems) {
    const f = formField(p.field);
    const index = /\[(\d+)\]/.exec(p.field);
    const text = index && f !== "general" ? `#${Number(index[1]) + 1}: ${p.problem}` : p.problem;
    out[f] = out[f] ? `${out[f]}; ${text}` : text;
  }
  return out;
}

/** "a, b , ,c" → ["a", "b", "c"]. */
export function splitList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Seconds typed in an input (may be fractional) to whole milliseconds; NaN stays NaN. */
export function secondsToMs(text: string): number {
  const v = Number(text);
  return Number.isFinite(v) ? Math.round(v * 1000) : NaN;
}
