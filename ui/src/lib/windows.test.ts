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
