// Numbers as people read them: round trips, durations, uptime, times of day.

// The unit policy: every round trip is shown in milliseconds (list, detail, charts, form,
// settings), with the precision that matters at its size. One unit means a 0.085 ms loopback
// and a 312 ms intercontinental link read on the same scale, and the chart's "ms" axis is the
// list's number. Rust's `heartline_core::rtt_text` (exports, tray, terminal) follows the same
// policy; both are tested against crates/heartline-core/src/rtt_text.tsv.

/** Whole microseconds as milliseconds with three significant digits below 100 ms (rounded
 *  half up on integers, the tier chosen after rounding), whole and grouped above. */
function usNumber(us: number): string {
  if (us < 1000) return `0.${String(us).padStart(3, "0")}`;
  const hundredths = Math.floor((us + 5) / 10);
  if (hundredths < 1000) return `${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, "0")}`;
  const tenths = Math.floor((us + 50) / 100);
  if (tenths < 1000) return `${Math.floor(tenths / 10)}.${tenths % 10}`;
  return String(Math.floor((us + 500) / 1000)).replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f");
}

import type { CloseCause, Initiator, RetryReason } from "./bindings";

/** A round trip in milliseconds, as a number with sensible precision (no unit). */
export function msNumber(ms: number): string {
  const us = Math.round(Math.abs(ms) * 1000);
  return `${ms < 0 && us > 0 ? "-" : ""}${usNumber(us)}`;
}

/** A round trip in microseconds: "0.085 ms", "1.24 ms", "31.2 ms", "312 ms", "1 800 ms", or "—". */
export function rtt(us: number | null | undefined): string {
  if (us == null) return "—";
  return `${usNumber(Math.round(us))} ms`;
}

/** A span in milliseconds, two units at most: "42 s", "3 min 5 s", "2 h 10 min", "3 d 4 h". */
export function duration(ms: number | null | undefined): string {
  if (ms == null || ms < 0) return "—";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** Uptime ratio as a percentage with the precision that matters near 100 %. */
/** The one definition of uptime (heartline-core's `Availability`), for tooltips. */
export const UPTIME_DEFINITION =
  "Time with an open session while Up, over the time watched (not paused). Disconnected, reconnecting, Down, Degraded and Unstable time count against it.";

/** Unexpected session ends per hour: "0", "0.4", "12". */
export function drops(perHour: number | null | undefined): string {
  if (perHour == null) return "—";
  if (perHour === 0) return "0";
  if (perHour < 10) return perHour.toFixed(1);
  return Math.round(perHour).toString();
}

export function uptime(ratio: number | null | undefined): string {
  if (ratio == null) return "—";
  const pct = ratio * 100;
  if (pct >= 99.995) return "100 %";
  if (pct >= 99) return `${pct.toFixed(2)} %`;
  return `${pct.toFixed(1)} %`;
}

/** Local time of day, or date and time when not today. */
export function time(ms: number, now: number = Date.now()): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return hms;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms}`;
}

/** The UTC offset of local time, e.g. "UTC+01:00". */
export function zone(date: Date = new Date()): string {
  const off = -date.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const a = Math.abs(off);
  return `UTC${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

/** "24-hour local time (UTC+01:00)", to state beside every time axis and table. */
export function zoneLabel(date: Date = new Date()): string {
  return `24-hour local time (${zone(date)})`;
}

/**
 * A tick's label on a time axis whose ticks are `step` ms apart: seconds only when the step
 * needs them, the date when the step is a day or more, and the date before the time on the
 * first tick of a day. 24-hour clock, local time.
 */
export function axisTime(ms: number, step: number, previous: number | null = null): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  const date = `${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  if (step >= 86_400_000) return date;
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const clock = step < 60_000 ? `${hm}:${pad(d.getSeconds())}` : hm;
  const newDay = previous != null && new Date(previous).toDateString() !== d.toDateString();
  return newDay ? `${date} ${clock}` : clock;
}

/** Our close causes in words: one for every `CloseCause`. */
const CAUSE_WORDS: Record<CloseCause, string> = {
  pong_timeout: "pong timeout",
  app_pong_timeout: "app heartbeat timeout",
  stale: "no message in time (stale)",
  user: "paused or reconnected by you",
  shutdown: "app shut down",
  duration_elapsed: "run time over",
  message_too_big: "message too big",
  protocol_error: "protocol error",
  reconfigured: "configuration changed",
  server_beat_missed: "server beat missed",
  protocol_handshake_timeout: "protocol handshake timeout",
};

const RETRY_WORDS: Record<RetryReason, string> = {
  backoff: "backoff after a failure",
  service_restart: "server restarting (1012): soon",
  try_again_later: "server busy (1013): later",
  retry_after: "as the server's Retry-After asked",
};

/** Why a reconnect waited as long as it did, in words. */
export function retryLabel(reason: RetryReason): string {
  return RETRY_WORDS[reason];
}

/** A close cause of ours (`pong_timeout`, …) in words. */
export function causeLabel(cause: CloseCause | null | undefined): string {
  return cause ? CAUSE_WORDS[cause] : "";
}

/** Who ended a session and why, for "Last close": "by us: pong timeout", "by server: 1001
 *  going away “deploy”", "lost: no close frame (1006)". */
export function closeSummary(
  c: { code: number; meaning: string; reason: string; initiator: Initiator; cause: CloseCause | null },
  withCode = true,
): string {
  // A reason that only repeats the code's meaning ("try again later" on 1013) says nothing more.
  const said = c.reason.trim();
  const reason = said && said.toLowerCase() !== c.meaning.toLowerCase() ? ` “${said}”` : "";
  const what = withCode ? `${c.code} ${c.meaning}` : c.meaning;
  switch (c.initiator) {
    case "client":
      return c.cause ? `by us: ${causeLabel(c.cause)}` : `by us: ${what}`;
    case "server":
      return `by server: ${what}${reason}`;
    case "network":
      return "lost: no close frame";
  }
}

/** A failure as the engine words it, without saying the status twice ("HTTP 503: 503
 *  Service Unavailable" → "HTTP 503 Service Unavailable"). */
export function failure(text: string | null | undefined): string {
  if (!text) return "";
  return text.replace(/HTTP (\d{3}): \1\b/g, "HTTP $1");
}
