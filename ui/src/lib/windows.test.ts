import { describe, expect, it } from "vitest";
import { fraction, windowFor } from "./windows";

describe("windows", () => {
  it("ends a window now and starts it the preset earlier", () => {
    expect(windowFor("1h", 10_000_000)).toEqual({ from: 10_000_000 - 3_600_000, to: 10_000_001 });
  });
  it("places times in a window, clamped", () => {
    const w = { from: 0, to: 100 };
    expect([fraction(-5, w), fraction(25, w), fraction(500, w)]).toEqual([0, 0.25, 1]);
  });
});

import { customWindow, toLocalInput } from "./windows";

describe("custom windows", () => {
  const now = new Date(2026, 10, 20, 15, 0).getTime();
  it("reads local date-times and round-trips the input format", () => {
    const from = new Date(2026, 10, 20, 9, 30).getTime();
    expect(toLocalInput(from)).toBe("2026-11-20 09:30");
    expect(customWindow("2026-11-20T09:30", "2026-11-20T10:00", now)).toEqual({
      window: { from, to: new Date(2026, 10, 20, 10, 0).getTime() },
    });
  });
  it("ends a window that reaches into the future now", () => {
    const r = customWindow("2026-11-20T14:00", "2026-11-21T00:00", now);
    expect(r).toEqual({ window: { from: new Date(2026, 10, 20, 14, 0).getTime(), to: now + 1 } });
  });
  it("takes an end in the current minute for now, so the last seconds are not left out", () => {
    const at = new Date(2026, 10, 20, 15, 0, 40).getTime();
    expect(customWindow("2026-11-20T14:00", "2026-11-20T15:00", at)).toEqual({
      window: { from: new Date(2026, 10, 20, 14, 0).getTime(), to: at + 1 },
    });
  });
  it("says what is wrong", () => {
    expect(customWindow("", "2026-11-20T10:00", now)).toEqual({ error: "Enter the start as a date and a 24-hour time, e.g. 2026-11-20 14:05." });
    expect(customWindow("2026-11-20T10:00", "nope", now)).toEqual({ error: "Enter the end as a date and a 24-hour time, e.g. 2026-11-20 14:05." });
    expect(customWindow("2026-11-20T10:00", "2026-11-20T10:00", now)).toEqual({ error: "The end must be after the start." });
    expect(customWindow("2026-11-21T10:00", "2026-11-21T11:00", now)).toHaveProperty("error");
    // Typed as shown (a space, 24-hour) or as the old inputs wrote it (a "T"): the same window.
    expect(customWindow("2026-11-20 09:30", "2026-11-20 10:00", now)).toEqual(customWindow("2026-11-20T09:30", "2026-11-20T10:00", now));
    // No 12-hour clock, no rolled-over dates.
    expect(customWindow("2026-11-20 9:30 pm", "2026-11-20 22:00", now)).toHaveProperty("error");
    expect(customWindow("2026-02-31 10:00", "2026-03-01 10:00", now)).toHaveProperty("error");
    expect(customWindow("2026-11-20 24:00", "2026-11-20 23:00", now)).toHaveProperty("error");
  });
});

import type { CloseInfo } from "./bindings";
import { HISTORY_PRESETS, MIN_ZOOM_MS, closesNear, stateAt, timeTicks, zoomTo } from "./windows";

describe("timeline windows", () => {
  it("offers 5 minutes to 30 days", () => {
    const ms = HISTORY_PRESETS.map((p) => p.ms);
    expect(Math.min(...ms)).toBe(5 * 60_000);
    expect(Math.max(...ms)).toBe(30 * 86_400_000);
    expect(windowFor("5m", 1_000_000)).toEqual({ from: 700_000, to: 1_000_001 });
  });

  it("zooms to a dragged range in either direction, ignores a click, and keeps a minimum width", () => {
    const w = { from: 0, to: 3_600_000 };
    expect(zoomTo(w, 0.5, 0.25)).toEqual({ from: 900_000, to: 1_800_000 });
    expect(zoomTo(w, 0.3, 0.302)).toBeNull();
    const tiny = zoomTo({ from: 0, to: 100_000 }, 0.5, 0.51)!;
    expect(tiny.to - tiny.from).toBe(MIN_ZOOM_MS);
    expect(tiny.from).toBe(45_500);
    // Out-of-range fractions (a drag past the lane's end) are clamped.
    expect(zoomTo(w, -0.2, 1.4)).toEqual(w);
  });

  it("puts axis ticks at round local times, far enough apart not to overlap", () => {
    const from = new Date(2026, 11, 3, 15, 47, 19).getTime();
    const ticks = timeTicks({ from, to: from + 3_600_000 }, 900, 90);
    expect(ticks.length).toBeGreaterThan(3);
    expect(ticks.length).toBeLessThanOrEqual(10);
    for (const t of ticks) {
      const d = new Date(t.at);
      expect(d.getSeconds()).toBe(0);
      expect(d.getMinutes() % 5).toBe(0);
    }
    expect(ticks[0].label).toBe("15:50");
    const gap = ticks[1].at - ticks[0].at;
    expect((gap / 3_600_000) * 900).toBeGreaterThanOrEqual(90);
    // A 5-minute window on a narrow axis: whole minutes.
    const five = timeTicks({ from, to: from + 300_000 }, 500, 90);
    expect(five.map((t) => t.label)).toEqual(["15:48", "15:49", "15:50", "15:51", "15:52"]);
    expect(timeTicks({ from, to: from + 300_000 }, 400, 90).map((t) => t.label)).toEqual(["15:48", "15:50", "15:52"]);
    // Thirty days: whole days, labelled by date.
    const month = timeTicks({ from, to: from + 30 * 86_400_000 }, 900, 90);
    expect(month.every((t) => new Date(t.at).getHours() === 0 && /^\d\d-\d\d$/.test(t.label))).toBe(true);
  });

  it("tells the state at a time and the closes near it", () => {
    const states = [
      { at: 0, state: "Up" as const },
      { at: 100, state: "Down" as const },
      { at: 200, state: "Up" as const },
    ];
    expect(stateAt(states, -1)).toBeNull();
    expect(stateAt(states, 150)).toEqual({ state: "Down", since: 100 });
    expect(stateAt(states, 200)).toEqual({ state: "Up", since: 200 });
    const close = (at: number, code: number): CloseInfo => ({ at, code, class: "abnormal", meaning: "abnormal closure", reason: "", initiator: "network", cause: null });
    expect(closesNear([close(90, 1006), close(140, 1001), close(300, 1000)], 100, 45).map((c) => c.code)).toEqual([1006, 1001]);
  });
});
