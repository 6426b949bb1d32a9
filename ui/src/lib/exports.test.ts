import { describe as group, expect, it, vi } from "vitest";
import { ALL_EXPORT_FORMATS, type ExportRequest, type ExportResult } from "./bindings";
import {
  LEAD_UP_MS,
  TAIL_MS,
  describe,
  endpointScope,
  fileName,
  FORMATS,
  incidentScope,
  listScope,
  runExport,
} from "./exports";

const W = { from: 1_000, to: 2_000 };
const DONE: ExportResult = { path: "/tmp/x.md", format: "md", events: 1204, endpoints: 2, incidents: 1 };

group("export scopes", () => {
  it("exports one incident with its lead-up and recovery", () => {
    const s = incidentScope({ endpoint: 3, endpoint_name: "feed", started: 100_000_000, ended: 100_060_000 }, 200_000_000);
    expect(s.endpoints).toEqual([3]);
    expect(s.window).toEqual({ from: 100_000_000 - LEAD_UP_MS, to: 100_060_000 + TAIL_MS });
  });
  it("ends an open incident's export now", () => {
    const s = incidentScope({ endpoint: 3, endpoint_name: "feed", started: 100_000_000, ended: null }, 100_500_000);
    expect(s.window.to).toBe(100_500_000);
  });
  it("exports every endpoint from an unfiltered list, only the shown ones from a filtered one", () => {
    expect(listScope([2, 1, 2], false, W).endpoints).toEqual([]);
    expect(listScope([2, 1, 2], true, W).endpoints).toEqual([1, 2]);
    expect(listScope([], true, W).incidentsOnly).toBe(true);
  });
  it("exports an endpoint over the detail's window", () => {
    expect(endpointScope(5, "x", W)).toMatchObject({ endpoints: [5], window: W, incidentsOnly: false });
  });
});

group("formats", () => {
  it("offers every format the app writes, each once", () => {
    const offered = FORMATS.map((f) => f.id);
    expect([...offered].sort()).toEqual([...ALL_EXPORT_FORMATS].sort());
    expect(new Set(FORMATS.map((f) => f.label)).size).toBe(FORMATS.length);
  });
});

group("file names", () => {
  it("are safe slugs with a local time stamp and the format's extension", () => {
    const now = new Date(2026, 10, 20, 14, 5);
    expect(fileName(endpointScope(1, "Feed EU / prod?", W), "csv", now)).toBe("heartline-feed-eu-prod-2026-11-20-1405.csv");
    expect(fileName(endpointScope(1, "☃", W), "png", now)).toBe("heartline-export-2026-11-20-1405.png");
  });
});

group("runExport", () => {
  const scope = endpointScope(7, "feed", W);

  it("writes where the user chose", async () => {
    const write = vi.fn(async (_r: ExportRequest) => DONE);
    const pick = vi.fn(async (_name: string, _format: string) => "/home/me/report.md");
    const out = await runExport(scope, "md", true, pick, write);
    expect(out).toEqual({ kind: "done", result: DONE });
    expect(pick.mock.calls[0][1]).toBe("md");
    expect(write).toHaveBeenCalledWith({ endpoints: [7], window: W, incidents_only: true, format: "md", path: "/home/me/report.md" });
  });
  it("writes nothing when the dialog is cancelled", async () => {
    const write = vi.fn(async () => DONE);
    expect(await runExport(scope, "md", false, async () => null, write)).toEqual({ kind: "cancelled" });
    expect(write).not.toHaveBeenCalled();
  });
  it("passes the app's error through with its code", async () => {
    const err = { code: "export", message: "cannot write the export: permission denied", fields: [] };
    const out = await runExport(scope, "md", false, async () => "/x.md", async () => Promise.reject(err));
    expect(out).toEqual({ kind: "failed", error: err });
  });
  it("reports a failing dialog as an error", async () => {
    const out = await runExport(scope, "md", false, async () => Promise.reject("no portal"), async () => DONE);
    expect(out.kind).toBe("failed");
    if (out.kind === "failed") expect(out.error.message).toContain("no portal");
  });
  it("describes what was written", () => {
    expect(describe(DONE)).toBe("Wrote 1,204 events (2 endpoints, 1 incident) to /tmp/x.md");
    expect(describe({ ...DONE, format: "png" })).toContain("Wrote a chart");
  });
});

import { folderOf, inFolder } from "./exports";

group("folders", () => {
  it("find a file's folder and put a name in one", () => {
    expect(folderOf("/home/me/x.md")).toBe("/home/me");
    expect(folderOf("/x.md")).toBe("/");
    expect(folderOf("C:\\Users\\me\\x.md")).toBe("C:\\Users\\me");
    expect(folderOf("x.md")).toBeNull();
    expect(inFolder("/home/me", "x.md")).toBe("/home/me/x.md");
    expect(inFolder("/", "x.md")).toBe("/x.md");
    expect(inFolder("C:\\Users\\me", "x.md")).toBe("C:\\Users\\me\\x.md");
    expect(inFolder(null, "x.md")).toBe("x.md");
  });
});
