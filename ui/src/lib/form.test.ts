import { describe, expect, it } from "vitest";
import { ALL_PROBE_STEPS } from "./bindings";
import {
  derivedTimeout,
  formField,
  placeholder,
  plain,
  probeSummary,
  problemsByField,
  problemsByIndex,
  STEP_KINDS,
  secondsToMs,
  secretVarProblems,
  splitHeader,
  splitList,
} from "./form";

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

  it("groups several problems of one input in plain words, each once, and list items by index", () => {
    const problems = [
      { field: "headers[0]", problem: "header name must not be empty" },
      { field: "headers[2]", problem: "`X Y` is not a legal header name (letters, digits and !#$%&'*+-.^_`|~ only)" },
      { field: "url", problem: "must start with ws:// or wss://" },
      { field: "tags[0]", problem: "must be non-empty without commas or control characters" },
      { field: "tags[3]", problem: "must be non-empty without commas or control characters" },
    ];
    const got = problemsByField(problems);
    expect(got.url).toBe("Must start with ws:// or wss://");
    expect(got.tags).toBe("Must be non-empty without commas or control characters");
    expect(got.name).toBeUndefined();
    for (const text of Object.values(got)) {
      expect(text).not.toMatch(/`|#\d+:/);
    }
    const rows = problemsByIndex(problems, "headers");
    expect(rows.get(0)).toBe("Header name must not be empty");
    expect(rows.get(2)).toBe("“X Y” is not a legal header name (letters, digits and - _ . only; no spaces or colons)");
    expect(rows.has(1)).toBe(false);
  });

  it("words problems for people", () => {
    expect(plain("must be shorter than the ping interval (2s >= 300ms)")).toBe("Must be shorter than the ping interval (2s ≥ 300ms)");
    expect(plain("`v 2` is not a valid subprotocol token")).toBe("“v 2” is not a valid subprotocol token");
  });

  it("splits a pasted header line into name and value, marking credentials secret", () => {
    expect(splitHeader("Authorization: Bearer abc.def")).toEqual({ name: "Authorization", value: "Bearer abc.def", secret: true });
    expect(splitHeader("X-Trace:  on ")).toEqual({ name: "X-Trace", value: "on", secret: false });
    expect(splitHeader("X-Api-Key:k:with:colons")).toEqual({ name: "X-Api-Key", value: "k:with:colons", secret: true });
    expect(splitHeader("Authorization")).toBeNull();
    expect(splitHeader(": value")).toBeNull();
    expect(splitHeader("not a name: value")).toBeNull();
  });

  it("derives an unset timeout from the interval set", () => {
    expect(derivedTimeout(15_000, 5_000)).toBe(5_000);
    expect(derivedTimeout(300, 2_000)).toBe(150);
    expect(derivedTimeout(2_000, 2_000)).toBe(1_000);
    expect(derivedTimeout(0, 5_000)).toBe(5_000);
  });

  it("says what a test found, once and in plain words", () => {
    const failed = { ok: false, phases: null, rtt_us: null, subprotocol: null };
    const http = probeSummary({ ...failed, failed_phase: "http", http_status: 401, error: "401 Unauthorized" });
    expect(http).toEqual({ ok: false, headline: "The server refused the WebSocket upgrade (HTTP 401)", detail: "Unauthorized" });
    const both = probeSummary({ ...failed, failed_phase: "http", http_status: 401, error: "HTTP 401: 401 Unauthorized" });
    expect(both.detail).toBe("Unauthorized");
    const dns = probeSummary({ ...failed, failed_phase: "dns", http_status: null, error: "failed to lookup address `nowhere.invalid`" });
    expect(dns).toEqual({ ok: false, headline: "The host name could not be resolved", detail: "Failed to lookup address “nowhere.invalid”" });
    expect(probeSummary({ ...failed, ok: true, failed_phase: null, http_status: null, error: null }).headline).toBe("Connected");
  });

  it("names every step a test can fail at", () => {
    const headlines = ALL_PROBE_STEPS.map(
      (step) => probeSummary({ ok: false, phases: null, rtt_us: null, subprotocol: null, failed_phase: step, http_status: null, error: null }).headline,
    );
    expect(headlines).not.toContain("The test failed");
    expect(new Set(headlines).size).toBe(ALL_PROBE_STEPS.length);
  });

  it("splits comma lists and converts seconds", () => {
    expect(splitList(" a, b , ,c")).toEqual(["a", "b", "c"]);
    expect(secondsToMs("2.5")).toBe(2500);
    expect(secondsToMs("x")).toBeNaN();
  });

  it("lists every step kind once, each with its own words", () => {
    expect(new Set(STEP_KINDS.map((k) => k.kind)).size).toBe(STEP_KINDS.length);
    expect(new Set(STEP_KINDS.map((k) => k.label)).size).toBe(STEP_KINDS.length);
    expect(STEP_KINDS[0].kind).toBe("send");
  });

  it("words secret values: placeholders, new ones need a value, stored ones may stay empty", () => {
    expect(placeholder(" token ")).toBe("{{secret:token}}");
    expect(placeholder("")).toBe("{{secret:NAME}}");
    const rows = secretVarProblems([
      { name: "token", value: "", stored: true },
      { name: "user", value: "", stored: false },
      { name: "", value: "", stored: false },
      { name: "key", value: "k", stored: false },
    ]);
    expect([...rows.keys()]).toEqual([1]);
    expect(rows.get(1)).toMatch(/^Needs a value/);
    const server = problemsByIndex([{ field: "secret_vars[0]", problem: '"token" is given twice' }], "secret_vars");
    expect(server.get(0)).toBe('"token" is given twice');
    expect(formField("secret_vars[0]")).toBe("secret_vars");
  });

  it("puts a step's problems on that step", () => {
    const rows = problemsByIndex([{ field: "on_connect[1]", problem: "a JSON rule is PATH=VALUE, e.g. `type=connection_ack`" }], "on_connect");
    expect(rows.get(1)).toBe("A JSON rule is PATH=VALUE, e.g. “type=connection_ack”");
    expect(formField("on_connect[1]")).toBe("on_connect");
  });
});
