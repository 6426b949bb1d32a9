import { describe, expect, it } from "vitest";
import { formField, problemsByField, secondsToMs, splitList } from "./form";

describe("form", () => {
  it.each([
    ["url", "url"],
    ["headers[1]", "headers"],
    ["tags[0]", "tags"],
    ["heartbeat.pong_timeout", "pong_timeout_ms"],
    ["app_heartbeat.timeout", "app_timeout_ms"],
    ["reconnect.cap", "reconnect_cap_ms"],
    ["reconnect.jitter", "reconnect_initial_ms"],
    ["health.degraded_rtt", "degraded_rtt_ms"],
    ["limits.max_frame_size", "general"],
  ])("problem at %s belongs to %s", (path, field) => expect(formField(path)).toBe(field));

  it("groups several problems of one input, numbering list items", () => {
    const got = problemsByField([
      { field: "headers[0]", problem: "empty name" },
      { field: "headers[2]", problem: "bad value" },
      { field: "url", problem: "must start with ws:// or wss://" },
    ]);
    expect(got.headers).toBe("#1: empty name; #3: bad value");
    expect(got.url).toBe("must start with ws:// or wss://");
    expect(got.name).toBeUndefined();
  });

  it("splits comma lists and converts seconds", () => {
    expect(splitList(" a, b , ,c")).toEqual(["a", "b", "c"]);
    expect(secondsToMs("2.5")).toBe(2500);
    expect(secondsToMs("x")).toBeNaN();
  });
});
