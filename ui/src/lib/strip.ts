// The overview's history strips: which windows they offer, how often they are asked for
// again, and how a strip the store bucketed (bands run-length coded, drops per cell) is drawn
// and read aloud. The bucketing itself is the store's (Monitor::strips); nothing here
// recomputes a state or a drop.
import type { HistoryStrip, StateName, Window } from "./bindings";
import { HISTORY_PRESETS, type Preset } from "./windows";

/** Cells a strip is cut into, whatever the window (one a minute over an hour). */
export const STRIP_CELLS = 60;

/** The windows the overview's strip offers. */
export const STRIP_PRESETS = HISTORY_PRESETS.filter((p) => ["1h", "6h", "24h", "7d", "30d"].includes(p.id));

export const DEFAULT_STRIP_PRESET: Preset = "24h";

/**
 * How often the strips are asked for again: half a cell (a new bad minute shows within half
 * its width), never more often than every 10 s nor less often than every minute. Not per live
 * event: a strip is history, and the live state is in the row beside it.
 */
export function stripRefreshMs(w: Window, cells: number = STRIP_CELLS): number {
  const cell = (w.to - w.from) / Math.max(1, cells);
  return Math.min(60_000, Math.max(10_000, Math.round(cell / 2)));
}

/** One drawn band: cells [from, to) in one state (null: nothing known or not recorded). */
export interface DrawnBand {
  from: number;
  to: number;
  state: StateName | null;
}

/** The bands of a strip with their ends, in cell order, clamped to `cells`. */
export function bandsOf(strip: HistoryStrip | undefined, cells: number): DrawnBand[] {
  if (!strip) return [];
  const starts = strip.bands.filter((b) => b.cell < cells);
  return starts.map((b, i) => ({
    from: b.cell,
    to: Math.min(cells, i + 1 < starts.length ? starts[i + 1].cell : cells),
    state: b.state,
  }));
}

/** The time span of cells [from, to) of a window cut into `cells` cells. */
export function cellSpan(w: Window, cells: number, from: number, to: number): Window {
  const size = (w.to - w.from) / cells;
  return { from: Math.round(w.from + from * size), to: Math.round(w.from + to * size) };
}

/** A drop tick's height in a strip `max` units tall: taller for more drops in the cell. */
export function tickHeight(drops: number, max: number): number {
  if (drops <= 0) return 0;
  return Math.min(max, Math.round((max * (1 + Math.log2(drops))) / 4));
}

/** The total of a strip's unexpected ends. */
export function totalDrops(strip: HistoryStrip | undefined): number {
  return (strip?.drops ?? []).reduce((sum, [, n]) => sum + n, 0);
}

/** A cell span in 24-hour local time, with the date when the window reaches past a day. */
function span(cell: Window, whole: Window): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const dated = whole.to - whole.from > 86_400_000;
  const at = (ms: number) => {
    const d = new Date(ms);
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return dated ? `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}` : hm;
  };
  return `${at(cell.from)}–${at(cell.to)}`;
}

/** A band's tooltip: "14:00–15:20 Down" ("no data" when nothing was known). */
export function bandTitle(w: Window, cells: number, b: DrawnBand): string {
  return `${span(cellSpan(w, cells, b.from, b.to), w)} ${b.state ?? "no data"}`;
}

/** A drop tick's tooltip: "3 unexpected session ends, 14:20–14:44". */
export function dropTitle(w: Window, cells: number, cell: number, n: number): string {
  return `${n} unexpected session end${n === 1 ? "" : "s"}, ${span(cellSpan(w, cells, cell, cell + 1), w)}`;
}

/**
 * The strip in words for assistive technology and the row's tooltip: the share of the
 * window in each state other than Up, worst first, and the drops ("Up throughout" when so).
 */
export function stripSummary(strip: HistoryStrip | undefined, cells: number, label: string): string {
  if (!strip) return `${label}: no history`;
  const count = new Map<string, number>();
  for (const b of bandsOf(strip, cells)) {
    const k = b.state ?? "no data";
    count.set(k, (count.get(k) ?? 0) + (b.to - b.from));
  }
  const order = ["Down", "Unstable", "Degraded", "Connecting", "Paused", "no data"];
  const parts = order
    .filter((k) => count.has(k))
    .map((k) => `${k} in ${count.get(k)} of ${cells} cells`);
  const drops = totalDrops(strip);
  const head = parts.length ? parts.join(", ") : "Up throughout";
  return `${label}: ${head}${drops ? `; ${drops} unexpected session end${drops === 1 ? "" : "s"}` : ""}`;
}
