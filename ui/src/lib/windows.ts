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
