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
    expect(toLocalInput(from)).toBe("2026-11-20T09:30");
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
    expect(customWindow("", "2026-11-20T10:00", now)).toEqual({ error: "Enter the start as a date and time." });
    expect(customWindow("2026-11-20T10:00", "nope", now)).toEqual({ error: "Enter the end as a date and time." });
    expect(customWindow("2026-11-20T10:00", "2026-11-20T10:00", now)).toEqual({ error: "The end must be after the start." });
    expect(customWindow("2026-11-21T10:00", "2026-11-21T11:00", now)).toHaveProperty("error");
  });
});
