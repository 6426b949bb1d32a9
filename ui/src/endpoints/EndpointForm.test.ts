// @vitest-environment jsdom
// The add/edit form as a component, with the app's commands replaced: which messages it shows
// and when (issue: a dashboard a monitoring engineer would choose, section 5).
import { fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { EndpointForm as Form, FieldProblem, ProbeResult } from "../lib/bindings";

const app = vi.hoisted(() => ({
  newEndpointForm: vi.fn(),
  endpointForm: vi.fn(),
  validateEndpoint: vi.fn(),
  testConnection: vi.fn(),
}));
vi.mock("../lib/ipc", () => ({ api: app }));

import EndpointForm from "./EndpointForm.svelte";

const blank: Form = {
  name: "",
  url: "",
  headers: [],
  subprotocols: [],
  protocol: "websocket",
  tags: [],
  ping_interval_ms: 15_000,
  pong_timeout_ms: 5_000,
  misses_allowed: 1,
  app_payload: "",
  app_reply_contains: "",
  app_interval_ms: 30_000,
  app_timeout_ms: 5_000,
  stale_after_ms: null,
  stale_reconnect: false,
  handshake_timeout_ms: 10_000,
  reconnect_enabled: true,
  reconnect_initial_ms: 1_000,
  reconnect_cap_ms: 60_000,
  max_attempts: null,
  degraded_rtt_ms: 1_000,
  failures_before_down: 2,
  successes_before_up: 1,
  insecure_tls: false,
  on_connect: [],
  secret_vars: [],
};

const connected: ProbeResult = {
  ok: true,
  phases: null,
  rtt_us: 850,
  subprotocol: null,
  failed_phase: null,
  error: null,
  http_status: null,
};

function open() {
  render(EndpointForm, { props: { id: null, onsaved: () => {}, oncancel: () => {} } });
  return waitFor(() => expect(screen.getByPlaceholderText("wss://example.com/stream")).toBeTruthy());
}

describe("EndpointForm", () => {
  beforeEach(() => {
    app.newEndpointForm.mockResolvedValue(structuredClone(blank));
    app.validateEndpoint.mockResolvedValue([]);
    app.testConnection.mockResolvedValue(connected);
  });

  it("shows a field's problem only once the field was touched, in plain words", async () => {
    const problems: FieldProblem[] = [{ field: "url", problem: "must start with `ws://` or `wss://`" }];
    app.validateEndpoint.mockResolvedValue(problems);
    await open();
    // Validated (debounced) but untouched: counted at the buttons, not shouted at the field.
    await waitFor(() => expect(screen.getByText("1 problem to fix")).toBeTruthy());
    expect(screen.queryByRole("alert")).toBeNull();
    const url = screen.getByPlaceholderText("wss://example.com/stream");
    await fireEvent.input(url, { target: { value: "http://x" } });
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).toBe("Must start with “ws://” or “wss://”");
    expect(url.getAttribute("aria-invalid")).toBe("true");
    expect((screen.getByRole("button", { name: "Add endpoint" }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("clears a test result as soon as an input it ran with changes", async () => {
    await open();
    await fireEvent.input(screen.getByPlaceholderText("wss://example.com/stream"), { target: { value: "ws://127.0.0.1:1/x" } });
    await waitFor(() => expect(app.validateEndpoint).toHaveBeenCalled());
    await fireEvent.click(screen.getByRole("button", { name: "Test connection" }));
    const result = await screen.findByRole("status", { name: "Test result" });
    expect(result.textContent).toContain("0.850 ms");
    await fireEvent.input(screen.getByPlaceholderText("orders-feed"), { target: { value: "feed" } });
    await waitFor(() => expect(screen.queryByRole("status", { name: "Test result" })).toBeNull());
  });

  it("tests an edited endpoint with its id, so the stored secret values it leaves empty are used", async () => {
    const stored: Form = { ...structuredClone(blank), name: "feed", url: "wss://example.test/feed", headers: [{ name: "Authorization", value: "", secret: true }] };
    app.endpointForm.mockResolvedValue(stored);
    render(EndpointForm, { props: { id: 7, onsaved: () => {}, oncancel: () => {} } });
    await waitFor(() => expect(screen.getByRole("heading", { name: "Edit endpoint" })).toBeTruthy());
    await waitFor(() => expect((screen.getByPlaceholderText("wss://example.com/stream") as HTMLInputElement).value).toBe("wss://example.test/feed"));
    await fireEvent.click(screen.getByRole("button", { name: "Test connection" }));
    await screen.findByRole("status", { name: "Test result" });
    expect(app.endpointForm).toHaveBeenCalledWith(7);
    const [form, id] = app.testConnection.mock.calls.at(-1) ?? [];
    expect(id).toBe(7);
    expect((form as Form).headers[0]).toEqual({ name: "Authorization", value: "", secret: true });
  });

  it("tests a new endpoint without an id", async () => {
    await open();
    await fireEvent.input(screen.getByPlaceholderText("wss://example.com/stream"), { target: { value: "ws://127.0.0.1:1/x" } });
    await fireEvent.click(screen.getByRole("button", { name: "Test connection" }));
    await screen.findByRole("status", { name: "Test result" });
    expect(app.testConnection.mock.calls.at(-1)?.[1]).toBeNull();
  });

  it("splits a pasted header line and marks a credential secret", async () => {
    await open();
    await fireEvent.click(screen.getByRole("button", { name: "Add header" }));
    const name = screen.getByLabelText("Header 1 name") as HTMLInputElement;
    await fireEvent.input(name, { target: { value: "Authorization: Bearer abc" } });
    await waitFor(() => expect(name.value).toBe("Authorization"));
    const value = screen.getByLabelText("Header 1 value") as HTMLInputElement;
    expect(value.value).toBe("Bearer abc");
    expect(value.type).toBe("password");
  });
});
