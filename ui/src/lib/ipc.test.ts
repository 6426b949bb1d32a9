import { describe, expect, it, vi } from "vitest";

vi.mock("@tauri-apps/api/core", () => ({
  invoke: vi.fn(async (cmd: string) => {
    if (cmd === "endpoint_form") throw { code: "not_found", message: "no endpoint #7", fields: [] };
    if (cmd === "list_endpoints") throw "plain string";
    return [];
  }),
}));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));

import { api, toIpcError } from "./ipc";

describe("ipc", () => {
  it("passes typed errors through as {code, message}", async () => {
    await expect(api.endpointForm(7)).rejects.toEqual({ code: "not_found", message: "no endpoint #7", fields: [] });
  });
  it("wraps anything else in an IpcError", async () => {
    await expect(api.listEndpoints()).rejects.toEqual({ code: "engine", message: "plain string", fields: [] });
    expect(toIpcError(new Error("x")).message).toBe("Error: x");
  });
});
