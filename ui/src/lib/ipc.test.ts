import { describe, expect, it, vi } from "vitest";

vi.mock("@tauri-apps/api/core", () => ({
  invoke: vi.fn(async (cmd: string) => {
    if (cmd === "endpoint_form") throw { code: "not_found", message: "no endpoint #7", fields: [] };
    if (cmd === "list_endpoints") throw "plain string";
    return [];
  }),
}));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));

import { invoke } from "@tauri-apps/api/core";
import { api, overview, prefetchOverview, toIpcError } from "./ipc";

describe("ipc", () => {
  it("passes typed errors through as {code, message}", async () => {
    await expect(api.endpointForm(7)).rejects.toEqual({ code: "not_found", message: "no endpoint #7", fields: [] });
  });
  it("wraps anything else in an IpcError", async () => {
    await expect(api.listEndpoints()).rejects.toEqual({ code: "engine", message: "plain string", fields: [] });
    expect(toIpcError(new Error("x")).message).toBe("Error: x");
  });
});

describe("the first overview", () => {
  it("is asked for once, early, and taken by the first overview() only", async () => {
    const calls = () => vi.mocked(invoke).mock.calls.filter(([c]) => c === "list_endpoints").length;
    const before = calls();
    prefetchOverview();
    prefetchOverview();
    await vi.waitFor(() => expect(calls()).toBe(before + 1));
    await expect(overview()).rejects.toMatchObject({ message: "plain string" });
    expect(calls()).toBe(before + 1);
    await expect(overview()).rejects.toMatchObject({ code: "engine" });
    expect(calls()).toBe(before + 2);
  });
});
