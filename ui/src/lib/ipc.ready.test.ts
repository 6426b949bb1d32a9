// The gate in front of every command: the app opens its database beside the window, and the
// page's commands wait for `app_ready` (ipc.ts).
import { afterEach, describe, expect, it, vi } from "vitest";

vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));

/** ipc.ts afresh (its gate is per page) over an `invoke` that answers `app_ready` with `ready()`. */
async function load(ready: () => Promise<unknown>) {
  vi.resetModules();
  const order: string[] = [];
  vi.doMock("@tauri-apps/api/core", () => ({
    invoke: vi.fn(async (cmd: string) => {
      order.push(cmd);
      if (cmd === "app_ready") return ready();
      return [];
    }),
  }));
  const ipc = await import("./ipc");
  return { ipc, order };
}

afterEach(() => vi.doUnmock("@tauri-apps/api/core"));

describe("commands wait for the app to be ready", () => {
  it("asks app_ready once, and sends nothing else before it has answered but the overview", async () => {
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    const { ipc, order } = await load(() => opened);
    const statuses = ipc.api.liveStatuses();
    const settings = ipc.api.getSettings();
    // list_endpoints waits for the open in the app: sent at once.
    const rows = ipc.api.listEndpoints();
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(["app_ready", "list_endpoints"]);
    open();
    await expect(rows).resolves.toEqual([]);
    await expect(statuses).resolves.toEqual([]);
    await expect(settings).resolves.toEqual([]);
    expect(order).toEqual(["app_ready", "list_endpoints", "live_statuses", "get_settings"]);
  });

  it("fails every command with the reason the database could not open", async () => {
    const why = { code: "storage", message: "cannot open the database /x/heartline.db: database is locked", fields: [] };
    const { ipc, order } = await load(() => Promise.reject(why));
    await expect(ipc.api.getSettings()).rejects.toEqual(why);
    await expect(ipc.api.liveStatuses()).rejects.toEqual(why);
    expect(order).toEqual(["app_ready"]);
  });
});
