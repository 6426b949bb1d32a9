// The history windows a detail or timeline can show, and what a time axis and a lane need
// from them: round ticks, zooming to a dragged range, what was happening at a time.
import type { CloseInfo, StateName, StateSpan, Window } from "./bindings";
import { axisTime } from "./format";

export type Preset = "live" | "5m" | "15m" | "1h" | "6h" | "24h" | "7d" | "30d";

const ALL: { id: Preset; label: string; ms: number }[] = [
  { id: "live", label: "Live 5 min", ms: 5 * 60_000 },
  { id: "5m", label: "5 min", ms: 5 * 60_000 },
  { id: "15m", label: "15 min", ms: 15 * 60_000 },
  { id: "1h", label: "1 h", ms: 3_600_000 },
  { id: "6h", label: "6 h", ms: 6 * 3_600_000 },
  { id: "24h", label: "24 h", ms: 86_400_000 },
  { id: "7d", label: "7 d", ms: 7 * 86_400_000 },
  { id: "30d", label: "30 d", ms: 30 * 86_400_000 },
];

const pick = (ids: Preset[]) => ALL.filter((p) => ids.includes(p.id));

/** An endpoint's detail: the live window first, then stored history. */
export const PRESETS = pick(["live", "1h", "24h", "7d", "30d"]);
/** The timeline and the incidents: 5 minutes (a short incident fills the lane) to 30 days. */
export const HISTORY_PRESETS = pick(["5m", "15m", "1h", "6h", "24h", "7d", "30d"]);

export function windowFor(preset: Preset, now: number = Date.now()): Window {
  const p = ALL.find((x) => x.id === preset) ?? ALL[0];
  return { from: now - p.ms, to: now + 1 };
}

/** The label of a preset ("1 h"). */
export function presetLabel(preset: Preset): string {
  return ALL.find((x) => x.id === preset)?.label ?? preset;
}

/** The smallest window a drag can zoom to. */
export const MIN_ZOOM_MS = 10_000;

/**
 * The window a drag from fraction `a` to fraction `b` of `w` selects (either direction), at
 * least `MIN_ZOOM_MS` wide (centred on the drag), or null for a drag too short to mean a range
 * (`minFraction` of the width: a click).
 */
export function zoomTo(w: Window, a: number, b: number, minFraction = 0.005): Window | null {
  const lo = Math.max(0, Math.min(a, b));
  const hi = Math.min(1, Math.max(a, b));
  if (hi - lo < minFraction) return null;
  const span = w.to - w.from;
  let from = Math.round(w.from + lo * span);
  let to = Math.round(w.from + hi * span);
  if (to - from < MIN_ZOOM_MS) {
    const mid = (from + to) / 2;
    from = Math.round(mid - MIN_ZOOM_MS / 2);
    to = from + MIN_ZOOM_MS;
  }
  return { from, to };
}

/** Round tick steps a time axis may use, in ms. */
const STEPS = [
  1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
  60_000, 2 * 60_000, 5 * 60_000, 10 * 60_000, 15 * 60_000, 30 * 60_000,
  3_600_000, 2 * 3_600_000, 3 * 3_600_000, 6 * 3_600_000, 12 * 3_600_000,
  86_400_000, 2 * 86_400_000, 7 * 86_400_000,
];

/**
 * Ticks for a time axis `width` px wide: at round local times (whole minutes, hours, days),
 * at least `spacing` px apart so that labels never overlap, each with its label.
 */
export function timeTicks(w: Window, width: number, spacing = 90): { at: number; label: string }[] {
  const span = w.to - w.from;
  if (span <= 0 || width <= 0) return [];
  const most = Math.max(1, Math.floor(width / spacing));
  const step = STEPS.find((s) => span / s <= most) ?? STEPS[STEPS.length - 1] * Math.ceil(span / (most * STEPS[STEPS.length - 1]));
  // Round in local time: a 6-hour step falls on 00:00, 06:00, … of the local clock.
  const offset = -new Date(w.from).getTimezoneOffset() * 60_000;
  const out: { at: number; label: string }[] = [];
  let previous: number | null = null;
  for (let t = Math.ceil((w.from + offset) / step) * step - offset; t <= w.to && out.length < 100; t += step) {
    out.push({ at: t, label: axisTime(t, step, previous) });
    previous = t;
  }
  return out;
}

/** The state at time `t` and since when, from spans in time order. */
export function stateAt(states: StateSpan[], t: number): { state: StateName; since: number } | null {
  let found: StateSpan | null = null;
  for (const s of states) {
    if (s.at > t) break;
    found = s;
  }
  return found ? { state: found.state, since: found.at } : null;
}

/** The closes within `tolerance` ms of `t`, nearest first. */
export function closesNear(closes: CloseInfo[], t: number, tolerance: number): CloseInfo[] {
  return closes
    .filter((c) => Math.abs(c.at - t) <= tolerance)
    .sort((a, b) => Math.abs(a.at - t) - Math.abs(b.at - t));
}

/** Position of time `t` in a window as a fraction in [0, 1]. */
export function fraction(t: number, w: Window): number {
  return Math.min(1, Math.max(0, (t - w.from) / (w.to - w.from)));
}

/** A custom window's input value for a time, in local time and on the 24-hour clock
 *  ("2026-11-20 14:05"): text, not `datetime-local`, whose picker follows the system locale
 *  (a 12-hour clock under WebKitGTK's C locale) while every other time here is 24-hour. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A custom window from two local times ("2026-11-20 14:05", seconds optional, a `T` in place
 *  of the space accepted), or why it is not one. */
export function customWindow(from: string, to: string, now: number = Date.now()): { window: Window } | { error: string } {
  const parse = (s: string) => {
    const m = /^(\d{4})-(\d{1,2})-(\d{1,2})[T ]+(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(s.trim());
    if (!m) return null;
    const [y, mo, d, h, mi, se] = m.slice(1).map((x) => Number(x ?? 0));
    if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return null;
    const date = new Date(y, mo - 1, d, h, mi, se);
    // 2026-02-31 would roll over into March: not a date.
    if (date.getMonth() !== mo - 1 || date.getDate() !== d) return null;
    const t = date.getTime();
    return Number.isNaN(t) ? null : t;
  };
  const f = parse(from);
  const t = parse(to);
  if (f == null) return { error: "Enter the start as a date and a 24-hour time, e.g. 2026-11-20 14:05." };
  if (t == null) return { error: "Enter the end as a date and a 24-hour time, e.g. 2026-11-20 14:05." };
  if (t <= f) return { error: "The end must be after the start." };
  if (f > now) return { error: "The start is in the future: nothing is recorded yet." };
  // The inputs have minutes only: an end in the current minute (or later) means now.
  return { window: { from: f, to: t + 60_000 > now ? now + 1 : t } };
}
