import { describe, expect, it } from "vitest";
import * as fmt from "./format";
// The cases Rust's `heartline_core::rtt_text` is tested against: one policy on both sides.
import rttTable from "../../../crates/heartline-core/src/rtt_text.tsv?raw";

const rttCases = rttTable
  .split("\n")
  .filter((line) => line && !line.startsWith("#"))
  .map((line) => {
    const [us, text] = line.split("\t");
    const number = text.replace(/ ms$/, "");
    return [Number(us), `${number.replaceAll(" ", "\u202f")} ms`] as const;
  });

describe("format", () => {
  it.each([
    [null, "—"],
    [85, "0.085 ms"],
    [1240, "1.24 ms"],
    [31_240, "31.2 ms"],
    [312_400, "312 ms"],
    [1_800_000, "1\u202f800 ms"],
  ])("rtt(%s) = %s", (us, text) => expect(fmt.rtt(us)).toBe(text));

  it("reads every case of the shared table as Rust does", () => {
    expect(rttCases.length).toBeGreaterThanOrEqual(15);
    for (const [us, text] of rttCases) expect(fmt.rtt(us), `${us} µs`).toBe(text);
  });

  it("gives the chart's millisecond axis the same numbers", () => {
    expect(fmt.msNumber(0.085)).toBe("0.085");
    expect(fmt.msNumber(9.995)).toBe("10.0");
    expect(fmt.msNumber(1800)).toBe("1\u202f800");
    expect(fmt.msNumber(-0.5)).toBe("-0.500");
  });

  it.each([
    [42_000, "42 s"],
    [185_000, "3 min 5 s"],
    [120_000, "2 min"],
    [7_800_000, "2 h 10 min"],
    [273_600_000, "3 d 4 h"],
    [-1, "—"],
  ])("duration(%s) = %s", (ms, text) => expect(fmt.duration(ms)).toBe(text));

  it.each([
    [null, "—"],
    [1, "100 %"],
    [0.99951, "99.95 %"],
    [0.5, "50.0 %"],
  ])("uptime(%s) = %s", (r, text) => expect(fmt.uptime(r)).toBe(text));

  it("shows the date only when not today", () => {
    const now = new Date(2026, 10, 21, 12, 0, 0).getTime();
    expect(fmt.time(new Date(2026, 10, 21, 9, 5, 7).getTime(), now)).toBe("09:05:07");
    expect(fmt.time(new Date(2026, 10, 20, 9, 5, 7).getTime(), now)).toBe("2026-11-20 09:05:07");
  });

});

import { ALL_CLOSE_CAUSES, ALL_RETRY_REASONS, type CloseCause, type CloseInfo } from "./bindings";
import { causeLabel, closeSummary } from "./format";

describe("close summaries", () => {
  const base: Pick<CloseInfo, "code" | "meaning" | "reason" | "initiator" | "cause"> = {
    code: 1001,
    meaning: "going away",
    reason: "",
    initiator: "client",
    cause: "pong_timeout",
  };
  it("say who closed and why", () => {
    expect(closeSummary(base)).toBe("by us: pong timeout");
    expect(closeSummary({ ...base, cause: "stale" })).toBe("by us: no message in time (stale)");
    expect(closeSummary({ ...base, cause: null })).toBe("by us: 1001 going away");
    expect(closeSummary({ ...base, initiator: "server", cause: null, reason: "deploy" })).toBe("by server: 1001 going away “deploy”");
    expect(closeSummary({ ...base, initiator: "server", cause: null }, false)).toBe("by server: going away");
    expect(closeSummary({ ...base, code: 1013, meaning: "try again later", initiator: "server", cause: null, reason: "Try again later" }, false)).toBe(
      "by server: try again later",
    );
    expect(closeSummary({ ...base, code: 1006, meaning: "abnormal closure", initiator: "network", cause: null })).toBe("lost: no close frame");
  });
  it("say why every reconnect waited, in words", () => {
    const words = ALL_RETRY_REASONS.map((r) => fmt.retryLabel(r));
    for (const w of words) expect(w).not.toMatch(/_/);
    expect(new Set(words).size).toBe(ALL_RETRY_REASONS.length);
  });
  it("name every cause of ours in words", () => {
    const words = ALL_CLOSE_CAUSES.map((c: CloseCause) => causeLabel(c));
    for (const w of words) expect(w).toMatch(/^[a-z][^_]*$/);
    expect(new Set(words).size).toBe(ALL_CLOSE_CAUSES.length);
    expect(causeLabel(null)).toBe("");
  });

  it("labels axis ticks on a 24-hour clock, seconds only when the step needs them", () => {
    const t = new Date(2026, 11, 3, 16, 40, 0).getTime();
    expect(fmt.axisTime(t, 60_000)).toBe("16:40");
    expect(fmt.axisTime(t + 15_000, 15_000)).toBe("16:40:15");
    expect(fmt.axisTime(t, 86_400_000)).toBe("12-03");
    // The first tick of a new day says which day.
    const midnight = new Date(2026, 11, 4, 0, 0, 0).getTime();
    expect(fmt.axisTime(midnight, 3_600_000, midnight - 3_600_000)).toBe("12-04 00:00");
    expect(fmt.axisTime(midnight + 3_600_000, 3_600_000, midnight)).toBe("01:00");
  });

  it("states the zone", () => {
    expect(fmt.zoneLabel()).toMatch(/^24-hour local time \(UTC[+-]\d\d:\d\d\)$/);
  });
});

describe("failure", () => {
  it("says an HTTP status once", () => {
    expect(fmt.failure("upgrade refused with HTTP 503: 503 Service Unavailable: rejected")).toBe(
      "upgrade refused with HTTP 503 Service Unavailable: rejected",
    );
    expect(fmt.failure("upgrade refused with HTTP 401: a credentials problem")).toBe("upgrade refused with HTTP 401: a credentials problem");
    expect(fmt.failure(null)).toBe("");
  });
});
