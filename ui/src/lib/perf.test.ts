// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { startupMarks } from "./perf";

describe("startupMarks", () => {
  it("puts navigation and the heartline marks on the wall clock, and only those", () => {
    const entries: Record<string, unknown[]> = {
      navigation: [{ responseEnd: 40, domContentLoadedEventEnd: 120.5 }],
      mark: [
        { name: "heartline:script", startTime: 80 },
        { name: "someone-else", startTime: 90 },
        { name: "heartline:overview", startTime: 300.25 },
      ],
    };
    const p = {
      timeOrigin: 1_700_000_000_000,
      getEntriesByType: (type: string) => (entries[type] ?? []) as PerformanceEntryList,
    };
    expect(startupMarks(p)).toEqual([
      { name: "navigation-start", at_ms: 1_700_000_000_000 },
      { name: "response-end", at_ms: 1_700_000_000_040 },
      { name: "dom-content-loaded", at_ms: 1_700_000_000_120.5 },
      { name: "heartline:script", at_ms: 1_700_000_000_080 },
      { name: "heartline:overview", at_ms: 1_700_000_000_300.25 },
    ]);
  });

  it("without a navigation entry gives the origin and the marks", () => {
    const p = {
      timeOrigin: 5,
      getEntriesByType: (type: string) => (type === "mark" ? [{ name: "heartline:x", startTime: 1 }] : []) as PerformanceEntryList,
    };
    expect(startupMarks(p)).toEqual([
      { name: "navigation-start", at_ms: 5 },
      { name: "heartline:x", at_ms: 6 },
    ]);
  });
});

describe("markPaintedOnce", () => {
  it("marks a name once: a later call says so with null", async () => {
    const { markPaintedOnce } = await import("./perf");
    const first = markPaintedOnce("test:once", false);
    expect(first).not.toBeNull();
    await first;
    expect(performance.getEntriesByName("test:once", "mark")).toHaveLength(1);
    expect(markPaintedOnce("test:once", false)).toBeNull();
  });
});
