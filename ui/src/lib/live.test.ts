import { describe, expect, it } from "vitest";
import type { CloseInfo, EndpointRow, StatusDelta } from "./bindings";
import { DEFAULT_QUERY, LiveModel, Selection, select, sparkline, visibleRange } from "./live";
import { hist, row, status } from "../test/rows";


describe("LiveModel", () => {
  it("folds deltas into rows and ignores unknown endpoints", () => {
    const m = new LiveModel([row(1, "a"), row(2, "b")]);
    const delta: StatusDelta = { statuses: [status(1, { state: "Down", rtt_us: null }), status(9)], missed: 0 };
    expect(m.apply(delta)).toBe(true);
    expect(m.rows.get(1)?.live.state).toBe("Down");
    expect(m.counts()).toMatchObject({ Up: 1, Down: 1 });
    expect(m.apply({ statuses: [status(9)], missed: 0 })).toBe(false);
  });

  it("keeps the stored last close until this run sees one", () => {
    const stored: CloseInfo = { at: 1, code: 4001, class: "application", meaning: "application-defined", reason: "kicked", initiator: "server", cause: null };
    const m = new LiveModel([row(1, "a", {}, { last_close: stored })]);
    m.apply({ statuses: [status(1, { rtt_us: 90 })], missed: 0 });
    expect(m.rows.get(1)?.live.last_close).toEqual(stored);
    const fresh = { ...stored, at: 2, code: 1006 };
    m.apply({ statuses: [status(1, { last_close: fresh })], missed: 0 });
    expect(m.rows.get(1)?.live.last_close).toEqual(fresh);
  });

  it("takes paused from the engine's state, the one the store's column sets", () => {
    const m = new LiveModel([row(1, "a")]);
    m.apply({ statuses: [status(1, { state: "Paused" })], missed: 0 });
    expect(m.rows.get(1)?.paused).toBe(true);
    expect(m.rows.get(1)?.live.state).toBe("Paused");
    m.apply({ statuses: [status(1, { state: "Connecting" })], missed: 0 });
    expect(m.rows.get(1)?.paused).toBe(false);
    expect(m.rows.get(1)?.live.state).toBe("Connecting");
  });

  it("records a sample only when a round trip changes, and caps them", () => {
    const m = new LiveModel([row(1, "a")]);
    m.apply({ statuses: [status(1, { rtt_us: 100 })], missed: 0 }, 1);
    m.apply({ statuses: [status(1, { rtt_us: 120 })], missed: 0 }, 2);
    expect(m.samples.get(1)?.map((s) => s.rtt_us)).toEqual([100, 120]);
    for (let i = 0; i < 3000; i++) m.apply({ statuses: [status(1, { rtt_us: i })], missed: 0 }, i);
    expect(m.samples.get(1)?.length).toBe(1200);
  });
});

describe("select", () => {
  const rows = [
    row(1, "orders", { tags: ["prod"] }, { state: "Up", rtt_us: 300 }),
    row(2, "quotes", { tags: ["prod", "eu"] }, { state: "Down", rtt_us: null }),
    row(3, "staging", { tags: ["dev"] }, { state: "Degraded", rtt_us: 50 }),
  ];

  it("puts the worst state first by default", () => {
    expect(select(rows, DEFAULT_QUERY).map((r) => r.name)).toEqual(["quotes", "staging", "orders"]);
  });

  it("searches names, URLs and tags; filters by state and tag", () => {
    expect(select(rows, { ...DEFAULT_QUERY, search: "EU" }).map((r) => r.id)).toEqual([2]);
    expect(select(rows, { ...DEFAULT_QUERY, states: ["Up", "Degraded"] }).map((r) => r.id)).toEqual([3, 1]);
    expect(select(rows, { ...DEFAULT_QUERY, tag: "prod" }).map((r) => r.id)).toEqual([2, 1]);
  });

  it("sorts by RTT with unknown values last, and reverses", () => {
    expect(select(rows, { ...DEFAULT_QUERY, sort: "rtt" }).map((r) => r.id)).toEqual([3, 1, 2]);
    expect(select(rows, { ...DEFAULT_QUERY, sort: "name", descending: true }).map((r) => r.name)).toEqual(["staging", "quotes", "orders"]);
  });

  it("handles a thousand endpoints", () => {
    const many = Array.from({ length: 1000 }, (_, i) => row(i, `ep-${i}`));
    expect(select(many, { ...DEFAULT_QUERY, search: "ep-99" }).length).toBe(11);
  });
});

describe("virtual list and sparkline", () => {
  it("renders only the rows in view, with margin", () => {
    expect(visibleRange(0, 440, 44, 1000)).toEqual({ start: 0, end: 15 });
    expect(visibleRange(44 * 500, 440, 44, 1000)).toEqual({ start: 495, end: 515 });
    expect(visibleRange(44 * 995, 440, 44, 1000).end).toBe(1000);
  });

  it("draws nothing from fewer than two samples and scales the rest", () => {
    expect(sparkline([], 90, 22)).toBe("");
    const pts = sparkline([{ at: 0, rtt_us: 10, app_rtt_us: null }, { at: 1, rtt_us: 20, app_rtt_us: null }], 90, 22);
    expect(pts).toBe("0.0,21.0 90.0,1.0");
  });
});

describe("first-minute figures", () => {
  it("shows p95 from live samples until the store has a minute rollup", () => {
    const m = new LiveModel();
    m.replace([row(1, "a", { history: hist(1, { p95_us: null, uptime_24h: null }) }, { rtt_us: null })], 0);
    expect(m.rows.get(1)?.history?.p95_us).toBeNull();
    for (let i = 1; i <= 20; i++) m.apply({ statuses: [status(1, { rtt_us: i * 100 })], missed: 0 }, i);
    expect(m.rows.get(1)?.history?.p95_us).toBe(1900);
    expect(m.estimated(1)).toBe(true);
    m.replace([row(1, "a", { history: hist(1, { p95_us: 555, uptime_24h: 0.5 }) })], 30);
    expect(m.rows.get(1)?.history?.p95_us).toBe(555);
    expect(m.rows.get(1)?.history?.uptime_24h).toBe(0.5);
    expect(m.estimated(1)).toBe(false);
  });

  it("shows no uptime of its own: the store's figure or none", () => {
    const m = new LiveModel();
    m.replace([row(1, "a", { history: hist(1, { uptime_24h: null }) }, { state: "Connecting" })], 0);
    m.apply({ statuses: [status(1, { state: "Up" })], missed: 0 }, 1_000);
    m.apply({ statuses: [status(1, { state: "Down" })], missed: 0 }, 4_000);
    expect(m.rows.get(1)?.history?.uptime_24h).toBeNull();
    m.replace([row(1, "a", { history: hist(1, { uptime_24h: 0.25 }) }, { state: "Up" })], 5_000);
    expect(m.rows.get(1)?.history?.uptime_24h).toBe(0.25);
  });

  it("leaves stored figures alone", () => {
    const m = new LiveModel([row(1, "a", { history: hist(1, { p95_us: 100, uptime_24h: 0.99 }) })]);
    m.apply({ statuses: [status(1, { rtt_us: 9_000 })], missed: 0 });
    expect(m.rows.get(1)?.history).toMatchObject({ p95_us: 100, uptime_24h: 0.99 });
  });
});

describe("deltas before the first rows", () => {
  it("count where they are newer than the first answer, and are dropped where older", () => {
    const m = new LiveModel();
    // Sent while the first list_endpoints was on its way (endpoints still connecting).
    m.apply({ statuses: [status(1, { state: "Up", sessions: 1, since: 50 }), status(2, { state: "Connecting", sessions: 0, since: null })], missed: 0 }, 1);
    expect(m.rows.size).toBe(0);
    // The answer: 1 built before its connect, 2 after its own.
    m.replace([row(1, "a", { history: null }, { state: "Connecting", sessions: 0, since: null }), row(2, "b", { history: null }, { state: "Up", sessions: 1, since: 60 })], 2);
    expect(m.rows.get(1)?.live.state).toBe("Up");
    expect(m.rows.get(2)?.live.state).toBe("Up");
    // Only before the first rows: later unknown endpoints are not kept for the next answer.
    m.apply({ statuses: [status(3, { state: "Down", sessions: 7, since: 120 })], missed: 0 }, 3);
    m.replace([row(3, "c", { history: null }, { state: "Up", sessions: 6, since: 100 })], 4);
    expect(m.rows.get(3)?.live.state).toBe("Up");
  });
});

describe("catching up once the page listens", () => {
  it("folds in the statuses that are newer and leaves the rest", () => {
    const m = new LiveModel([
      row(1, "a", { history: null }, { state: "Connecting", sessions: 0, since: null }),
      row(2, "b", { history: null }, { state: "Down", sessions: 2, since: 90 }),
    ]);
    const changed = m.catchUp([
      status(1, { state: "Up", sessions: 1, since: 40 }),
      // Older than what a delta already brought: not taken.
      status(2, { state: "Up", sessions: 2, since: 80 }),
      status(9, { state: "Up" }),
    ]);
    expect(changed).toBe(true);
    expect(m.rows.get(1)?.live.state).toBe("Up");
    expect(m.rows.get(2)?.live.state).toBe("Down");
    expect(m.rows.has(9)).toBe(false);
  });
});

describe("two-phase overview", () => {
  it("has rows before their history, then folds the history in", () => {
    const m = new LiveModel();
    m.replace([row(1, "a", { history: null }, { state: "Down", since: null }), row(2, "b", { history: null })], 0);
    // The first answer: names and live states, no figure of any kind, not even an estimate.
    expect(m.rows.get(1)?.live.state).toBe("Down");
    expect(m.rows.get(1)?.history).toBeNull();
    m.apply({ statuses: [status(2, { rtt_us: 700 })], missed: 0 }, 1);
    expect(m.rows.get(2)?.history).toBeNull();
    expect(m.estimated(2)).toBe(false);

    const close: CloseInfo = { at: 5, code: 1006, class: "abnormal", meaning: "abnormal closure", reason: "", initiator: "network", cause: null };
    expect(m.setHistory([hist(1, { uptime_24h: 0.4, drops_per_hour: 3, since: 77, last_close: close }), hist(9)])).toBe(true);
    const a = m.rows.get(1)!;
    expect(a.history).toMatchObject({ uptime_24h: 0.4, drops_per_hour: 3 });
    // The stored since and last close fill in what this run has not seen.
    expect(a.live.since).toBe(77);
    expect(a.live.last_close).toEqual(close);
    // A later delta without a state change of this run keeps them.
    m.apply({ statuses: [status(1, { state: "Down", since: null, last_close: null })], missed: 0 }, 2);
    expect(m.rows.get(1)?.live.since).toBe(77);
    expect(m.rows.get(1)?.live.last_close).toEqual(close);
    // b has no history yet: still unknown, not a value.
    expect(m.rows.get(2)?.history).toBeNull();
  });

  it("keeps the last history over a refresh of the rows, and forgets removed endpoints'", () => {
    const m = new LiveModel([row(1, "a", { history: null }), row(2, "b", { history: null })]);
    m.setHistory([hist(1, { uptime_24h: 0.5 }), hist(2, { uptime_24h: 0.75 })]);
    m.replace([row(1, "a", { history: null }), row(3, "c", { history: null })]);
    expect(m.rows.get(1)?.history?.uptime_24h).toBe(0.5);
    expect(m.rows.get(3)?.history).toBeNull();
    // 2 was removed: were it added back, its old figures would not come with it.
    m.replace([row(2, "b", { history: null })]);
    expect(m.rows.get(2)?.history).toBeNull();
  });

  it("sorts rows whose history is unknown after every known figure", () => {
    const m = new LiveModel([row(1, "a", { history: null }), row(2, "b", { history: hist(2, { uptime_24h: 0.1 }) })]);
    const q = { ...DEFAULT_QUERY, sort: "uptime" as const };
    expect(select(m.rows.values(), q).map((r) => r.name)).toEqual(["b", "a"]);
  });
});

describe("Selection", () => {
  const names = (rows: EndpointRow[]) => rows.map((r) => r.name);
  const fleet = () =>
    new LiveModel([
      row(1, "orders", {}, { state: "Up", rtt_us: 300 }),
      row(2, "quotes", {}, { state: "Down", rtt_us: null }),
      row(3, "staging", {}, { state: "Up", rtt_us: 50 }),
      row(4, "audit", {}, { state: "Degraded", rtt_us: 70 }),
    ]);

  it("answers as select does, and keeps the order when only round trips changed", () => {
    const m = fleet();
    const sel = new Selection();
    expect(names(sel.select(m.rows, DEFAULT_QUERY))).toEqual(names(select(m.rows.values(), DEFAULT_QUERY)));
    m.apply({ statuses: [status(1, { rtt_us: 10 }), status(3, { rtt_us: 900 })], missed: 0 });
    const shown = sel.select(m.rows, DEFAULT_QUERY);
    expect(names(shown)).toEqual(["quotes", "audit", "orders", "staging"]);
    // The changed rows are the model's new objects (what the list re-renders).
    expect(shown[2]).toBe(m.rows.get(1));
    expect(shown[2].live.rtt_us).toBe(10);
    expect(shown).toEqual(select(m.rows.values(), DEFAULT_QUERY));
  });

  it("sorts again when a state changes, or the sort key of a changed row", () => {
    const m = fleet();
    const sel = new Selection();
    sel.select(m.rows, DEFAULT_QUERY);
    m.apply({ statuses: [status(3, { state: "Down", rtt_us: null })], missed: 0 });
    expect(names(sel.select(m.rows, DEFAULT_QUERY))).toEqual(["quotes", "staging", "audit", "orders"]);
    const byRtt = { ...DEFAULT_QUERY, sort: "rtt" as const };
    expect(names(sel.select(m.rows, byRtt))).toEqual(["audit", "orders", "quotes", "staging"]);
    m.apply({ statuses: [status(1, { rtt_us: 1 })], missed: 0 });
    expect(names(sel.select(m.rows, byRtt))).toEqual(["orders", "audit", "quotes", "staging"]);
  });

  it("filters again when the query or the set of endpoints changes", () => {
    const m = fleet();
    const sel = new Selection();
    sel.select(m.rows, DEFAULT_QUERY);
    const upOnly = { ...DEFAULT_QUERY, states: ["Up" as const] };
    expect(names(sel.select(m.rows, upOnly))).toEqual(["orders", "staging"]);
    m.apply({ statuses: [status(4, { state: "Up" })], missed: 0 });
    expect(names(sel.select(m.rows, upOnly))).toEqual(["audit", "orders", "staging"]);
    m.replace([...m.rows.values(), row(5, "billing")]);
    expect(names(sel.select(m.rows, upOnly))).toEqual(["audit", "billing", "orders", "staging"]);
    m.replace([...m.rows.values()].map((r) => (r.id === 5 ? { ...r, name: "zebra" } : r)));
    expect(names(sel.select(m.rows, upOnly))).toEqual(["audit", "orders", "staging", "zebra"]);
  });
});

describe("Selection while held (pointer over the list, or a row focused)", () => {
  const names = (rows: EndpointRow[]) => rows.map((r) => r.name);
  const fleet = () =>
    new LiveModel([
      row(1, "orders", {}, { state: "Up", rtt_us: 300 }),
      row(2, "quotes", {}, { state: "Down", rtt_us: null }),
      row(3, "staging", {}, { state: "Up", rtt_us: 50 }),
      row(4, "audit", {}, { state: "Degraded", rtt_us: 70 }),
    ]);

  it("keeps every row in place when states change, and marks the rows that changed", () => {
    const m = fleet();
    const sel = new Selection();
    const before = names(sel.select(m.rows, DEFAULT_QUERY));
    expect(before).toEqual(["quotes", "audit", "orders", "staging"]);
    // The pointer enters; then staging goes Down and quotes recovers.
    sel.select(m.rows, DEFAULT_QUERY, true);
    m.apply({ statuses: [status(3, { state: "Down", rtt_us: null }), status(2, { state: "Up" })], missed: 0 });
    const held = sel.select(m.rows, DEFAULT_QUERY, true);
    expect(names(held)).toEqual(before);
    expect([...sel.changed].sort()).toEqual([2, 3]);
    // The rows shown are today's: the new states are displayed in the old places.
    expect(held[3].live.state).toBe("Down");
    // The pointer leaves: sorted again, marks gone.
    expect(names(sel.select(m.rows, DEFAULT_QUERY, false))).toEqual(["staging", "audit", "orders", "quotes"]);
    expect(sel.changed.size).toBe(0);
  });

  it("keeps a row that left the state filter until the hold ends, marked", () => {
    const m = fleet();
    const sel = new Selection();
    const downOnly = { ...DEFAULT_QUERY, states: ["Down" as const] };
    sel.select(m.rows, downOnly, true);
    m.apply({ statuses: [status(2, { state: "Up" })], missed: 0 });
    expect(names(sel.select(m.rows, downOnly, true))).toEqual(["quotes"]);
    expect(sel.changed.has(2)).toBe(true);
    expect(names(sel.select(m.rows, downOnly, false))).toEqual([]);
  });

  it("appends endpoints added during the hold and drops removed ones", () => {
    const m = fleet();
    const sel = new Selection();
    sel.select(m.rows, DEFAULT_QUERY, true);
    m.replace([...m.rows.values()].filter((r) => r.id !== 4).concat(row(5, "billing", {}, { state: "Down", rtt_us: null })));
    expect(names(sel.select(m.rows, DEFAULT_QUERY, true))).toEqual(["quotes", "orders", "staging", "billing"]);
    expect(sel.changed.has(5)).toBe(true);
  });

  it("applies a query the user changes at once, even while held", () => {
    const m = fleet();
    const sel = new Selection();
    sel.select(m.rows, DEFAULT_QUERY, true);
    const byName = { ...DEFAULT_QUERY, sort: "name" as const };
    expect(names(sel.select(m.rows, byName, true))).toEqual(["audit", "orders", "quotes", "staging"]);
    m.apply({ statuses: [status(1, { state: "Down" })], missed: 0 });
    expect(names(sel.select(m.rows, byName, true))).toEqual(["audit", "orders", "quotes", "staging"]);
    expect([...sel.changed]).toEqual([1]);
  });

  it("round trips that change a sort key do not move rows while held", () => {
    const m = fleet();
    const sel = new Selection();
    const byRtt = { ...DEFAULT_QUERY, sort: "rtt" as const };
    const before = names(sel.select(m.rows, byRtt, true));
    m.apply({ statuses: [status(1, { rtt_us: 1 })], missed: 0 });
    expect(names(sel.select(m.rows, byRtt, true))).toEqual(before);
    expect(sel.changed.size).toBe(0);
    expect(names(sel.select(m.rows, byRtt, false))[0]).toBe("orders");
  });
});
