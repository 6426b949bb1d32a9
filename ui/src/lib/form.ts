// The endpoint form: which input each validation problem belongs to, problems and test
// results in plain words, header lines pasted whole, and timeouts derived from intervals.
import type { FieldProblem, ProbeResult, ProbeStep, SecretVarForm, StepKind } from "./bindings";

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
  | "on_connect"
  | "secret_vars"
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
  on_connect: "on_connect",
  secret_vars: "secret_vars",
};

/** The kinds of step after connecting, as the form words them (every kind: the type says so). */
const STEP_WORDS: Record<StepKind, { label: string; placeholder: string }> = {
  send: { label: "Send", placeholder: '{"type":"connection_init"}' },
  expect_json: { label: "Wait for JSON", placeholder: "type=connection_ack" },
  expect: { label: "Wait for text", placeholder: "welcome" },
  expect_regex: { label: "Wait for regex", placeholder: "^ok\\b" },
};

/** The step kinds in the order the form lists them. */
export const STEP_KINDS = (Object.keys(STEP_WORDS) as StepKind[]).map((kind) => ({ kind, ...STEP_WORDS[kind] }));

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

/**
 * A problem as the app's checks word it, for a person: quoted names in quotation marks
 * rather than backticks, "≥" for ">=", a capital first letter.
 */
export function plain(problem: string): string {
  const text = problem
    .replace("letters, digits and !#$%&'*+-.^_`|~ only", "letters, digits and - _ . only; no spaces or colons")
    .replace("letters, digits and !#$%&'*+-.^_`|~", "letters, digits and - _ . only")
    .replace(/`([^`]*)`/g, "“$1”")
    .replace(/`/g, "")
    .replace(/ >= /g, " ≥ ")
    .replace(/\s{2,}/g, " ")
    .trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Problems grouped by input, in plain words, several per input joined in order (each once). */
export function problemsByField(problems: FieldProblem[]): Partial<Record<FormField, string>> {
  const out: Partial<Record<FormField, string[]>> = {};
  for (const p of problems) {
    const f = formField(p.field);
    const text = plain(p.problem);
    const list = (out[f] ??= []);
    if (!list.includes(text)) list.push(text);
  }
  return Object.fromEntries(Object.entries(out).map(([f, l]) => [f, l!.join("; ")])) as Partial<Record<FormField, string>>;
}

/** The problems of one list's items (`headers[1]` → 1), in plain words, by index. */
export function problemsByIndex(problems: FieldProblem[], list: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const p of problems) {
    const m = new RegExp(`^${list}\\[(\\d+)\\]`).exec(p.field);
    if (!m) continue;
    const i = Number(m[1]);
    const text = plain(p.problem);
    out.set(i, out.has(i) ? `${out.get(i)}; ${text}` : text);
  }
  return out;
}

/** How a message or the heartbeat payload refers to the secret value named `name`. */
export function placeholder(name: string): string {
  return `{{secret:${name.trim() || "NAME"}}}`;
}

/**
 * Problems the app cannot see, by row: a new secret value needs a value (an empty one keeps
 * the stored value, and a new one has none stored).
 */
export function secretVarProblems(vars: SecretVarForm[]): Map<number, string> {
  const out = new Map<number, string>();
  vars.forEach((v, i) => {
    if (!v.stored && v.name.trim() !== "" && v.value === "") out.set(i, "Needs a value: it is kept in the secret store, never shown again");
  });
  return out;
}

/** Header names that carry a credential (as `heartline_core::endpoint::looks_secret`). */
export function looksSecret(name: string): boolean {
  const n = name.toLowerCase();
  return (
    ["authorization", "proxy-authorization", "cookie"].includes(n) ||
    ["token", "secret", "key", "password", "passwd", "auth", "session", "signature", "sig"].some((w) => n.includes(w))
  );
}

/**
 * A whole header line typed or pasted into the name field ("Authorization: Bearer abc"),
 * split into its name and value; null when the text is only a name.
 */
export function splitHeader(text: string): { name: string; value: string; secret: boolean } | null {
  const i = text.indexOf(":");
  if (i <= 0) return null;
  const name = text.slice(0, i).trim();
  const value = text.slice(i + 1).trim();
  if (!name || /\s/.test(name)) return null;
  return { name, value, secret: looksSecret(name) };
}

/**
 * The reply timeout of a heartbeat whose interval the user set but whose timeout they did not:
 * the default when it is shorter than the interval, else half the interval. The same rule as
 * `heartline_core::endpoint::derived_timeout` (the command line and the configuration file).
 */
export function derivedTimeout(intervalMs: number, defaultMs: number): number {
  if (!(intervalMs > 0) || defaultMs < intervalMs) return defaultMs;
  return Math.floor(intervalMs / 2);
}

const PHASES: Record<ProbeStep, string> = {
  dns: "The host name could not be resolved",
  tcp: "The server could not be reached",
  tls: "The secure connection (TLS) failed",
  http: "The server refused the WebSocket upgrade",
  timeout: "The handshake took too long",
  ping: "Connected, but the ping got no answer",
};

/** A test result as a headline and a detail, in plain words, each thing said once. */
export function probeSummary(p: ProbeResult): { ok: boolean; headline: string; detail: string } {
  if (p.ok) return { ok: true, headline: "Connected", detail: "" };
  let headline = (p.failed_phase && PHASES[p.failed_phase]) || "The test failed";
  let detail = p.error ? plain(p.error) : "";
  if (p.http_status === 101) headline = "The server's upgrade answer was not valid";
  else if (p.http_status != null) {
    headline = `${headline} (HTTP ${p.http_status})`;
    // "HTTP 401: 401 Unauthorized" says the status twice: keep what is left after it.
    detail = detail
      .replace(new RegExp(`^(HTTP\\s*)?${p.http_status}\\b[:\\s]*`, "i"), "")
      .replace(new RegExp(`^(HTTP\\s*)?${p.http_status}\\b[:\\s]*`, "i"), "")
      .trim();
    if (detail) detail = detail.charAt(0).toUpperCase() + detail.slice(1);
  }
  return { ok: false, headline, detail };
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
