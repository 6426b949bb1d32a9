import { describe, expect, it } from "vitest";
import type { EndpointDefaults } from "./bindings";
import { defaultsText, readDefaults } from "./defaults";

const BASE: EndpointDefaults = {
  ping_interval_ms: 15_000,
  pong_timeout_ms: 5_000,
  misses_allowed: 1,
  handshake_timeout_ms: 10_000,
  reconnect_enabled: true,
  reconnect_initial_ms: 500,
  reconnect_cap_ms: 60_000,
  max_attempts: null,
  degraded_rtt_ms: 1_000,
  failures_before_down: 2,
  successes_before_up: 1,
};

describe("endpoint defaults", () => {
  it("round-trip through the text the Settings view shows", () => {
    expect(defaultsText(BASE)).toMatchObject({ ping: "15", pong: "5", initial: "0.5", attempts: "", degraded: "1000" });
    expect(readDefaults(defaultsText(BASE), BASE)).toEqual({ defaults: BASE });
  });
  it("read seconds and optional whole numbers", () => {
    const r = readDefaults({ ...defaultsText(BASE), ping: " 2.5 ", attempts: "7", degraded: "" }, BASE);
    expect(r).toEqual({ defaults: { ...BASE, ping_interval_ms: 2_500, max_attempts: 7, degraded_rtt_ms: null } });
  });
  it("name every field that is not a number", () => {
    const r = readDefaults({ ...defaultsText(BASE), ping: "", pong: "abc", attempts: "2.5", degraded: "-1" }, BASE);
    expect(r).toEqual({
      problems: {
        ping_interval_ms: "enter a number of seconds",
        pong_timeout_ms: "enter a number of seconds",
        max_attempts: "enter a whole number of attempts, or leave it empty",
        degraded_rtt_ms: "enter a whole number of milliseconds, or leave it empty",
      },
    });
  });
});
