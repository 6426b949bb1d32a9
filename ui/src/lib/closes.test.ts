import { describe, expect, it } from "vitest";
import type { CloseInfo } from "./bindings";
import { groupCloses, histogram, plural } from "./closes";

const close = (at: number, code: number, over: Partial<CloseInfo> = {}): CloseInfo => ({
  at,
  code,
  class: code === 1006 ? "abnormal" : "going_away",
  meaning: code === 1006 ? "abnormal closure" : "going away",
  reason: "",
  initiator: code === 1006 ? "network" : "server",
  cause: null,
  ...over,
});

describe("close groups", () => {
  it("folds repeated closes into one line with a count, most frequent first", () => {
    const groups = groupCloses([
      close(10, 1006),
      close(20, 1001, { reason: "deploy" }),
      close(30, 1006),
      close(40, 1001, { reason: " deploy " }),
      close(50, 1006),
      close(60, 1001, { reason: "maintenance" }),
    ]);
    expect(groups.map((g) => [g.code, g.reason, g.count])).toEqual([
      [1006, "", 3],
      [1001, "deploy", 2],
      [1001, "maintenance", 1],
    ]);
    expect(groups[0]).toMatchObject({ first: 10, last: 50 });
    expect(groups[0].rows.map((r) => r.at)).toEqual([50, 30, 10]);
  });

  it("keeps closes by us apart by cause", () => {
    const groups = groupCloses([
      close(1, 1000, { initiator: "client", cause: "pong_timeout" }),
      close(2, 1000, { initiator: "client", cause: "user" }),
    ]);
    expect(groups).toHaveLength(2);
  });

  it("counts times per slice of the window, leaving out those outside", () => {
    expect(histogram([0, 5, 9, 10, 99, 100, 150], { from: 0, to: 100 }, 10)).toEqual([3, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
  });

  it("says one or many", () => {
    expect(plural(1, "connection")).toBe("1 connection");
    expect(plural(3, "connection")).toBe("3 connections");
  });
});
