// The overview's model: rows by id, live deltas folded in, the history columns when they
// come (a second answer: `history` is null until then), search / filter / sort, and a short
// client-side RTT history per endpoint for sparklines and the live chart.
import type { EndpointRow, LiveStatus, RowHistory, StateName, StatusDelta } from "./bindings";
import { STATE_ORDER } from "./palette";

/** Live samples kept per endpoint: enough for a 5-minute live chart at 4 updates a second. */
export const LIVE_SAMPLES = 1200;

export interface Sample {
  at: number;
  rtt_us: number | null;
  app_rtt_us: number | null;
}

/** p95 (nearest rank) of the live round trips, or null without any. */
export function liveP95(samples: Sample[] | undefined): number | null {
  const v = (samples ?? []).map((s) => s.rtt_us).filter((x): x is number => x != null).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v[Math.min(v.length - 1, Math.ceil(0.95 * v.length) - 1)];
}

/** Whether status `a` is at least as new as `b`: a later session, or the same session and a
 *  state that began no earlier (a status knows no clock of its own). */
function notOlder(a: LiveStatus, b: LiveStatus): boolean {
  if (a.sessions !== b.sessions) return a.sessions > b.sessions;
  return (a.since ?? Number.NEGATIVE_INFINITY) >= (b.since ?? Number.NEGATIVE_INFINITY);
}

export class LiveModel {
  rows = new Map<number, EndpointRow>();
  samples = new Map<number, Sample[]>();
  /** The history columns as the store last answered, by endpoint (p95 null before its first
   *  minute rollup). Uptime is the store's alone: one definition, in heartline-core, and no
   *  estimate of the UI's own. */
  private stored = new Map<number, RowHistory>();
  /** Deltas that came before the first rows, by endpoint: the page listens before the first
   *  `list_endpoints` answers, and while endpoints are still connecting (the engine's start-up
   *  ramp) a change sent meanwhile would otherwise be lost until the endpoint's next one. */
  private early: Map<number, LiveStatus> | null = new Map();

  constructor(rows: EndpointRow[] = []) {
    this.replace(rows);
  }

  /** New rows (`list_endpoints`). Rows without history keep the history last answered for
   *  their endpoint until a new one comes (`setHistory`); a new endpoint's stays unknown. */
  replace(rows: EndpointRow[], now: number = Date.now()) {
    const ids = new Set(rows.map((r) => r.id));
    for (const id of [...this.stored.keys()]) if (!ids.has(id)) this.stored.delete(id);
    for (const r of rows) if (r.history) this.stored.set(r.id, r.history);
    this.rows = new Map();
    for (const r of rows) {
      this.sample(r.live, now);
      this.rows.set(r.id, this.withHistory(r));
    }
    // The first rows: a delta that came before them counts where it is not older than the
    // row (the answer and the deltas travel apart, in either order).
    if (rows.length > 0 && this.early) {
      for (const [id, s] of this.early) {
        const row = this.rows.get(id);
        if (row && notOlder(s, row.live)) this.fold(row, s, now);
      }
      this.early = null;
    }
  }

  /** The history columns (`overview_history`), folded into the rows they belong to; the
   *  stored `since` and last close fill in what the live status does not know yet. Returns
   *  whether any row changed. */
  setHistory(history: RowHistory[]): boolean {
    let changed = false;
    for (const h of history) {
      const row = this.rows.get(h.id);
      if (!row) continue;
      this.stored.set(h.id, h);
      this.rows.set(h.id, this.withHistory(row));
      changed = true;
    }
    return changed;
  }

  /** Every endpoint's status as the app has it now (`live_statuses`), folded in where it is not
   *  older than the row: once the page listens, to catch up with the changes sent before it
   *  did (those reached nobody). Returns whether any row changed. */
  catchUp(statuses: LiveStatus[], now: number = Date.now()): boolean {
    let changed = false;
    for (const s of statuses) {
      const row = this.rows.get(s.id);
      if (!row || !notOlder(s, row.live)) continue;
      this.fold(row, s, now);
      changed = true;
    }
    return changed;
  }

  /** Folds one delta in; returns whether anything shown changed. */
  apply(delta: StatusDelta, now: number = Date.now()): boolean {
    let changed = false;
    for (const s of delta.statuses) {
      const row = this.rows.get(s.id);
      if (!row) {
        // Before the first rows: kept, the newest per endpoint, for `replace` to weigh.
        this.early?.set(s.id, s);
        continue;
      }
      this.fold(row, s, now);
      changed = true;
    }
    return changed;
  }

  private fold(row: EndpointRow, s: LiveStatus, now: number) {
    // The engine knows closes and state changes of this run only; until one happens, keep
    // the last close and `since` the store had (overview_history reads them back after a
    // restart) rather than blank them.
    const seen = s.last_close ?? row.live.last_close;
    // Paused lives in the store; the monitor starts and keeps the engine in step with it,
    // so the engine's state says it (a pause from the tray shows here too).
    const live = { ...s, last_close: seen, since: s.since ?? row.live.since };
    this.sample(s, now);
    // A new object, so that views keyed on rows see the change.
    this.rows.set(s.id, this.withP95({ ...row, paused: live.state === "Paused", live }));
  }

  /** Whether a row's p95 is still the app's own estimate from live samples (the store has no
   *  minute rollup for it yet). */
  estimated(id: number): boolean {
    const s = this.stored.get(id);
    return s != null && s.p95_us == null && this.rows.get(id)?.history?.p95_us != null;
  }

  /** The row with the stored history (or none yet) and the fallbacks it carries. */
  private withHistory(r: EndpointRow): EndpointRow {
    const h = this.stored.get(r.id) ?? null;
    if (!h) return { ...r, history: null };
    const live = {
      ...r.live,
      since: r.live.since ?? h.since,
      last_close: r.live.last_close ?? h.last_close,
    };
    return this.withP95({ ...r, live, history: h });
  }

  /** Without a stored p95 yet (no minute rollup), the p95 of this session's live samples. */
  private withP95(r: EndpointRow): EndpointRow {
    const s = this.stored.get(r.id);
    if (!s || s.p95_us != null || !r.history) return r;
    return { ...r, history: { ...r.history, p95_us: liveP95(this.samples.get(r.id)) } };
  }

  private sample(s: LiveStatus, at: number) {
    if (s.rtt_us == null && s.app_rtt_us == null) return;
    let list = this.samples.get(s.id);
    if (!list) this.samples.set(s.id, (list = []));
    const last = list[list.length - 1];
    if (last && last.rtt_us === s.rtt_us && last.app_rtt_us === s.app_rtt_us) return;
    list.push({ at, rtt_us: s.rtt_us, app_rtt_us: s.app_rtt_us });
    if (list.length > LIVE_SAMPLES) list.splice(0, list.length - LIVE_SAMPLES);
  }

  counts(): Record<StateName, number> {
    const c: Record<StateName, number> = { Up: 0, Degraded: 0, Unstable: 0, Down: 0, Connecting: 0, Paused: 0 };
    for (const r of this.rows.values()) c[r.live.state]++;
    return c;
  }

  tags(): string[] {
    const t = new Set<string>();
    for (const r of this.rows.values()) r.tags.forEach((x) => t.add(x));
    return [...t].sort();
  }
}

export type SortKey = "state" | "name" | "rtt" | "p95" | "uptime" | "drops" | "since";

export interface Query {
  search: string;
  states: StateName[];
  tag: string;
  sort: SortKey;
  descending: boolean;
}

export const DEFAULT_QUERY: Query = { search: "", states: [], tag: "", sort: "state", descending: false };

/** The value a row is sorted by under `sort`. */
function sortKey(r: EndpointRow, sort: SortKey): number | string {
  const num = (v: number | null | undefined) => (v == null ? Number.POSITIVE_INFINITY : v);
  switch (sort) {
    case "state":
      return STATE_ORDER.indexOf(r.live.state);
    case "name":
      return r.name.toLowerCase();
    case "rtt":
      return num(r.live.rtt_us);
    case "p95":
      return num(r.history?.p95_us);
    case "uptime":
      return num(r.history?.uptime_24h);
    case "drops": {
      // Most drops first reads best ascending too: negate.
      const d = r.history?.drops_per_hour;
      return d == null ? Number.POSITIVE_INFINITY : -d;
    }
    case "since":
      return num(r.live.since);
  }
}

// One collator for every tie-break: `localeCompare` without one costs a lookup per call, and a
// sort of a thousand rows that mostly tie (all Up) makes ten thousand of them.
const collator = new Intl.Collator();

/** The rows a query shows, in order. */
export function select(rows: Iterable<EndpointRow>, q: Query): EndpointRow[] {
  const needle = q.search.trim().toLowerCase();
  const out = [...rows].filter(
    (r) =>
      (!needle ||
        r.name.toLowerCase().includes(needle) ||
        r.url.toLowerCase().includes(needle) ||
        r.tags.some((t) => t.toLowerCase().includes(needle))) &&
      (q.states.length === 0 || q.states.includes(r.live.state)) &&
      (!q.tag || r.tags.includes(q.tag)),
  );
  const keys = new Map(out.map((r) => [r, sortKey(r, q.sort)]));
  out.sort((a, b) => {
    const x = keys.get(a)!;
    const y = keys.get(b)!;
    const c = x < y ? -1 : x > y ? 1 : collator.compare(a.name, b.name);
    return q.descending ? -c : c;
  });
  return out;
}

/**
 * `select` for a list that changes a few fields at a time: the order is kept from the last
 * answer when the query is the same, the same endpoints are there, and no changed row moved
 * in or out of the filter or changed its sort key (a round trip while sorted by state: the
 * usual delta). Then only the changed rows are swapped in, without filtering and sorting a
 * thousand rows again.
 *
 * While `hold` is true (the pointer is over the list, or a row has the focus) rows never move
 * under the pointer: the order of the last answer is kept whatever the deltas say, endpoints
 * added meanwhile are appended, removed ones dropped, and the rows whose state changed since
 * the hold began (or that no longer match the filter) are listed in `changed` for the view to
 * mark. A query the user changes still applies at once. When the hold ends the list is sorted
 * again and the marks go.
 */
export class Selection {
  private query = "";
  private last = new Map<number, EndpointRow>();
  private shown: EndpointRow[] = [];
  private held = false;
  /** States when the hold began, by endpoint. */
  private heldStates = new Map<number, StateName>();
  /** Rows whose state changed during the hold, or that left the filter. */
  changed = new Set<number>();

  select(rows: Map<number, EndpointRow>, q: Query, hold = false): EndpointRow[] {
    const query = JSON.stringify(q);
    const released = this.held && !hold;
    if (hold && query === this.query && this.shown.length + this.last.size > 0) {
      if (!this.held) this.heldStates = new Map([...this.last].map(([id, r]) => [id, r.live.state]));
      // Nothing that could move a row (the usual round-trip delta): swap the rows in.
      if (this.held && this.sameOrder(rows, q)) this.shown = this.shown.map((r) => rows.get(r.id)!);
      else this.shown = this.holding(rows, q);
      this.held = true;
    } else if (released || query !== this.query || !this.sameOrder(rows, q)) {
      this.shown = select(rows.values(), q);
      this.query = query;
      this.held = hold;
      this.heldStates = new Map([...rows].map(([id, r]) => [id, r.live.state]));
      this.changed = new Set();
    } else {
      this.shown = this.shown.map((r) => rows.get(r.id)!);
    }
    this.last = new Map(rows);
    return this.shown;
  }

  /** The held order with today's rows in it. */
  private holding(rows: Map<number, EndpointRow>, q: Query): EndpointRow[] {
    const kept = this.shown.filter((r) => rows.has(r.id)).map((r) => rows.get(r.id)!);
    const there = new Set(kept.map((r) => r.id));
    const matches = new Set(select(rows.values(), q).map((r) => r.id));
    const added = select(
      [...rows.values()].filter((r) => !there.has(r.id)),
      q,
    );
    const changed = new Set<number>();
    for (const r of kept) {
      const before = this.heldStates.get(r.id);
      if ((before !== undefined && before !== r.live.state) || !matches.has(r.id)) changed.add(r.id);
    }
    for (const r of added) changed.add(r.id);
    this.changed = changed;
    return [...kept, ...added];
  }

  private sameOrder(rows: Map<number, EndpointRow>, q: Query): boolean {
    if (rows.size !== this.last.size) return false;
    for (const [id, r] of rows) {
      const p = this.last.get(id);
      if (p === r) continue;
      if (
        !p ||
        p.name !== r.name ||
        p.url !== r.url ||
        p.tags !== r.tags ||
        p.live.state !== r.live.state ||
        sortKey(p, q.sort) !== sortKey(r, q.sort)
      )
        return false;
    }
    return true;
  }
}

/** The slice of a fixed-row-height list that a viewport shows, with a few rows of margin. */
export function visibleRange(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  total: number,
  overscan = 5,
): { start: number; end: number } {
  const start = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const end = Math.min(total, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return { start, end };
}

/** An SVG polyline's points for a sparkline of the last samples. */
export function sparkline(samples: Sample[] | undefined, width: number, height: number, n = 30): string {
  const v = (samples ?? []).slice(-n).map((s) => s.rtt_us).filter((x): x is number => x != null);
  if (v.length < 2) return "";
  const max = Math.max(...v);
  const min = Math.min(...v);
  const span = max - min || 1;
  return v
    .map((y, i) => `${((i / (v.length - 1)) * width).toFixed(1)},${(height - 1 - ((y - min) / span) * (height - 2)).toFixed(1)}`)
    .join(" ");
}
