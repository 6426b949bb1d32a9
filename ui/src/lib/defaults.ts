// The Settings view's defaults for new endpoints: durations typed in seconds, checked for
// numbers here and for sense by the app (as it checks an endpoint).
import type { EndpointDefaults } from "./bindings";
import { secondsToMs, type FormField } from "./form";

export interface DefaultsText {
  ping: string;
  pong: string;
  handshake: string;
  initial: string;
  cap: string;
  attempts: string;
  degraded: string;
}

const secs = (ms: number) => String(ms / 1000);

export function defaultsText(d: EndpointDefaults): DefaultsText {
  return {
    ping: secs(d.ping_interval_ms),
    pong: secs(d.pong_timeout_ms),
    handshake: secs(d.handshake_timeout_ms),
    initial: secs(d.reconnect_initial_ms),
    cap: secs(d.reconnect_cap_ms),
    attempts: d.max_attempts == null ? "" : String(d.max_attempts),
    degraded: d.degraded_rtt_ms == null ? "" : String(d.degraded_rtt_ms),
  };
}

/** The defaults the text describes (other fields from `base`), or what is not a number. */
export function readDefaults(
  text: DefaultsText,
  base: EndpointDefaults,
): { defaults: EndpointDefaults } | { problems: Partial<Record<FormField, string>> } {
  const problems: Partial<Record<FormField, string>> = {};
  const seconds = (v: string, field: FormField) => {
    const n = secondsToMs(v.trim());
    if (v.trim() === "" || !Number.isFinite(n) || n < 0) problems[field] = "enter a number of seconds";
    return n;
  };
  const whole = (v: string, field: FormField, what: string) => {
    if (v.trim() === "") return null;
    const n = Number(v.trim());
    if (!Number.isInteger(n) || n < 0) problems[field] = `enter a whole number of ${what}, or leave it empty`;
    return n;
  };
  const defaults: EndpointDefaults = {
    ...base,
    ping_interval_ms: seconds(text.ping, "ping_interval_ms"),
    pong_timeout_ms: seconds(text.pong, "pong_timeout_ms"),
    handshake_timeout_ms: seconds(text.handshake, "handshake_timeout_ms"),
    reconnect_initial_ms: seconds(text.initial, "reconnect_initial_ms"),
    reconnect_cap_ms: seconds(text.cap, "reconnect_cap_ms"),
    max_attempts: whole(text.attempts, "max_attempts", "attempts"),
    degraded_rtt_ms: whole(text.degraded, "degraded_rtt_ms", "milliseconds"),
  };
  return Object.keys(problems).length ? { problems } : { defaults };
}
