import { describe, expect, it } from "vitest";
import type { Window } from "./bindings";
import { matching, pollWindow, type Polled, type Timers } from "./poll";

/** Timers the test fires by hand. */
function manual() {
  const jobs = new Map<number, () => void>();
  let next = 1;
  const timers: Timers = {
    every: (f) => {
      jobs.set(next, f);
      return next++;
    },
    cancel: (h) => jobs.delete(h as number),
  };
  return { timers, fire: () => [...jobs.values()].forEach((f) => f()), count: () => jobs.size };
}

/** A load whose answers the test releases in any order. */
function deferred<T>() {
  const calls: { w: Window; resolve: (v: T) => void; reject: (e: unknown) => void }[] = [];
  const load = (w: Window) => new Promise<T>((resolve, reject) => calls.push({ w, resolve, reject }));
  return { load, calls };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("pollWindow", () => {
  it("loads now and again on every tick, with the window it was asked for", async () => {
    const t = manual();
    const d = deferred<string>();
    const states: Polled<string>[] = [];
    let n = 0;
    const stop = pollWindow(d.load, () => ({ from: n, to: ++n }), (s) => states.push(s), { every: 10_000, timers: t.timers });
    expect(states.at(-1)).toMatchObject({ loading: true, loaded: false });
    d.calls[0].resolve("a");
    await flush();
    expect(states.at(-1)).toEqual({ data: "a", window: { from: 0, to: 1 }, error: null, loaded: true, loading: false });
    t.fire();
    d.calls[1].resolve("b");
    await flush();
    expect(states.at(-1)).toMatchObject({ data: "b", window: { from: 1, to: 2 } });
    stop();
    expect(t.count()).toBe(0);
  });

  it("keeps the last answer and maps a failure to an IpcError", async () => {
    const t = manual();
    const d = deferred<string>();
    let last: Polled<string> | null = null;
    pollWindow(d.load, () => ({ from: 0, to: 1 }), (s) => (last = s), { every: 1, timers: t.timers });
    d.calls[0].resolve("good");
    await flush();
    t.fire();
    d.calls[1].reject({ code: "storage", message: "database is locked", fields: [] });
    await flush();
    expect(last).toMatchObject({ data: "good", loaded: true, error: { code: "storage", message: "database is locked" } });
    t.fire();
    d.calls[2].reject("boom");
    await flush();
    expect(last!.error).toEqual({ code: "engine", message: "boom", fields: [] });
    t.fire();
    d.calls[3].resolve("again");
    await flush();
    expect(last).toMatchObject({ data: "again", error: null });
  });

  it("never lets an older answer replace a newer one", async () => {
    const t = manual();
    const d = deferred<string>();
    let last: Polled<string> | null = null;
    pollWindow(d.load, () => ({ from: 0, to: 1 }), (s) => (last = s), { every: 1, timers: t.timers });
    t.fire();
    d.calls[1].resolve("new");
    await flush();
    d.calls[0].resolve("old");
    await flush();
    expect(last!.data).toBe("new");
    expect(last!.loading).toBe(false);
  });

  it("reports nothing after stop, and loads once without a period", async () => {
    const t = manual();
    const d = deferred<string>();
    const states: Polled<string>[] = [];
    const stop = pollWindow(d.load, () => ({ from: 0, to: 1 }), (s) => states.push(s), { every: null, timers: t.timers });
    expect(t.count()).toBe(0);
    const before = states.length;
    stop();
    d.calls[0].resolve("late");
    await flush();
    expect(states.length).toBe(before);
  });
});

describe("matching", () => {
  it("filters by text ignoring case and spaces; empty search keeps all", () => {
    const items = ["Feed EU", "orders", "feed-us"];
    expect(matching(items, "  FEED ", (s) => s)).toEqual(["Feed EU", "feed-us"]);
    expect(matching(items, " ", (s) => s)).toBe(items);
  });
});
