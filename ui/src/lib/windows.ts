// The history windows a detail or timeline can show.
import type { Window } from "./bindings";

export type Preset = "live" | "1h" | "24h" | "7d" | "30d";

export const PRESETS: { id: Preset; label: string; ms: number }[] = [
  { id: "live", label: "Live 5 min", ms: 5 * 60_000 },
  { id: "1h", label: "1 h", ms: 3_600_000 },
  { id: "24h", label: "24 h", ms: 86_400_000 },
  { id: "7d", label: "7 d", ms: 7 * 86_400_000 },
  { id: "30d", label: "30 d", ms: 30 * 86_400_000 },
];

export function windowFor(preset: Preset, now: number = Date.now()): Window {
  const p = PRESETS.find((x) => x.id === preset) ?? PRESETS[0];
  return { from: now - p.ms, to: now + 1 };
}

/** Position of time `t` in a window as a fraction in [0, 1]. */
export function fraction(t: number, w: Window): number {
  return Math.min(1, Math.max(0, (t - w.from) / (w.to - w.from)));
}

/** A `datetime-local` input's value ("2026-11-20T14:05") for a time, in local time. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A custom window from two `datetime-local` values (local time), or why it is not one. */
export function customWindow(from: string, to: string, now: number = Date.now()): { window: Window } | { error: string } {
  const parse = (s: string) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(s.trim());
    if (!m) return null;
    const [y, mo, d, h, mi, se] = m.slice(1).map((x) => Number(x ?? 0));
    const t = new Date(y, mo - 1, d, h, mi, se).getTime();
    return Number.isNaN(t) ? null : t;
  };
  const f = parse(from);
  const t = parse(to);
  if (f == null) return { error: "Enter the start as a date and time." };
  if (t == null) return { error: "Enter the end as a date and time." };
  if (t <= f) return { error: "The end must be after the start." };
  if (f > now) return { error: "The start is in the future: nothing is recorded yet." };
  // The inputs have minutes only: an end in the current minute (or later) means now.
  return { window: { from: f, to: t + 60_000 > now ? now + 1 : t } };
}
