// An endpoint's closes folded for reading: one line per kind of close (code, reason, who,
// why) with its count, when it happened first and last, and where in the window.
import type { CloseCause, CloseClass, CloseInfo, Initiator, Window } from "./bindings";

export interface CloseGroup {
  key: string;
  code: number;
  class: CloseClass;
  meaning: string;
  reason: string;
  initiator: Initiator;
  cause: CloseCause | null;
  count: number;
  first: number;
  last: number;
  /** The closes of this kind, newest first. */
  rows: CloseInfo[];
}

/** Closes grouped by code, reason, initiator and cause; the most frequent first, then the
 *  most recent. */
export function groupCloses(closes: CloseInfo[]): CloseGroup[] {
  const groups = new Map<string, CloseGroup>();
  for (const c of closes) {
    const key = JSON.stringify([c.code, c.reason.trim(), c.initiator, c.cause]);
    let g = groups.get(key);
    if (!g) {
      g = { key, code: c.code, class: c.class, meaning: c.meaning, reason: c.reason.trim(), initiator: c.initiator, cause: c.cause, count: 0, first: c.at, last: c.at, rows: [] };
      groups.set(key, g);
    }
    g.count++;
    g.first = Math.min(g.first, c.at);
    g.last = Math.max(g.last, c.at);
    g.rows.push(c);
  }
  const out = [...groups.values()];
  for (const g of out) g.rows.sort((a, b) => b.at - a.at);
  return out.sort((a, b) => b.count - a.count || b.last - a.last);
}

/** How many of `times` fall in each of `bins` equal slices of the window. */
export function histogram(times: number[], w: Window, bins: number): number[] {
  const out = new Array<number>(bins).fill(0);
  const span = w.to - w.from;
  if (span <= 0 || bins <= 0) return out;
  for (const t of times) {
    if (t < w.from || t > w.to) continue;
    out[Math.min(bins - 1, Math.floor(((t - w.from) / span) * bins))]++;
  }
  return out;
}

/** "1 connection", "3 connections". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}
