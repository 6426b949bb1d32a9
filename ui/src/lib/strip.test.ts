import { describe, expect, it } from "vitest";
import type { HistoryStrip } from "./bindings";
import {
  STRIP_PRESETS,
  bandTitle,
  bandsOf,
  cellSpan,
  dropTitle,
  stripRefreshMs,
  stripSummary,
  tickHeight,
  totalDrops,
} from "./strip";

const strip: HistoryStrip = {
  id: 1,
  bands: [
    { cell: 0, state: "Up" },
    { cell: 10, state: "Unstable" },
    { cell: 13, state: "Up" },
    { cell: 30, state: "Down" },
    { cell: 31, state: "Up" },
    { cell: 40, state: null },
  ],
  drops: [
    [10, 3],
    [30, 1],
  ],
};

describe("history strip", () => {
  it("offers hour to month windows", () => {
    expect(STRIP_PRESETS.map((p) => p.id)).toEqual(["1h", "6h", "24h", "7d", "30d"]);
  });

  it("draws each band up to the next one's first cell", () => {
    expect(bandsOf(strip, 60)).toEqual([
      { from: 0, to: 10, state: "Up" },
      { from: 10, to: 13, state: "Unstable" },
      { from: 13, to: 30, state: "Up" },
      { from: 30, to: 31, state: "Down" },
      { from: 31, to: 40, state: "Up" },
      { from: 40, to: 60, state: null },
    ]);
    // A strip asked for with more cells than drawn is clamped, never drawn past the end.
    expect(bandsOf(strip, 35).at(-1)).toEqual({ from: 31, to: 35, state: "Up" });
    expect(bandsOf(undefined, 60)).toEqual([]);
  });

  it("is asked for again every half cell, between 10 s and a minute", () => {
    const hour = { from: 0, to: 3_600_000 };
    expect(stripRefreshMs(hour)).toBe(30_000);
    expect(stripRefreshMs({ from: 0, to: 600_000 })).toBe(10_000);
    expect(stripRefreshMs({ from: 0, to: 30 * 86_400_000 })).toBe(60_000);
  });

  it("names the time and state of a band and the drops of a cell", () => {
    const from = new Date(2026, 11, 3, 14, 0, 0).getTime();
    const w = { from, to: from + 3_600_000 };
    expect(cellSpan(w, 60, 10, 13)).toEqual({ from: from + 600_000, to: from + 780_000 });
    const bands = bandsOf(strip, 60);
    expect(bandTitle(w, 60, bands[1])).toBe("14:10–14:13 Unstable");
    expect(bandTitle(w, 60, bands[5])).toBe("14:40–15:00 no data");
    expect(dropTitle(w, 60, 10, 3)).toBe("3 unexpected session ends, 14:10–14:11");
    expect(dropTitle(w, 60, 30, 1)).toBe("1 unexpected session end, 14:30–14:31");
    // Past a day, the date is part of the time.
    const week = { from, to: from + 7 * 86_400_000 };
    expect(bandTitle(week, 7, { from: 1, to: 2, state: "Down" })).toBe("12-04 14:00–12-05 14:00 Down");
  });

  it("ticks grow with the drops and stay inside the strip", () => {
    expect(tickHeight(0, 8)).toBe(0);
    expect(tickHeight(1, 8)).toBe(2);
    expect(tickHeight(2, 8)).toBeGreaterThan(tickHeight(1, 8));
    expect(tickHeight(8, 8)).toBe(8);
    expect(tickHeight(1000, 8)).toBe(8);
  });

  it("reads as words, worst first", () => {
    expect(totalDrops(strip)).toBe(4);
    expect(stripSummary(strip, 60, "Last 1 h")).toBe(
      "Last 1 h: Down in 1 of 60 cells, Unstable in 3 of 60 cells, no data in 20 of 60 cells; 4 unexpected session ends",
    );
    expect(stripSummary({ id: 2, bands: [{ cell: 0, state: "Up" }], drops: [] }, 60, "Last 24 h")).toBe(
      "Last 24 h: Up throughout",
    );
    expect(stripSummary(undefined, 60, "Last 24 h")).toBe("Last 24 h: no history");
  });
});
