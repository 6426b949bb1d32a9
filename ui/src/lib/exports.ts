// History exports: what each entry point selects, the file name offered in the save dialog,
// and the flow "pick a path, then let the app write it". The dialog and the command are
// passed in, so the flow is tested without Tauri.
import type { ExportFormat, ExportRequest, ExportResult, IpcError, Window } from "./bindings";
import { toIpcError } from "./ipc";

export type { ExportFormat } from "./bindings";

/** Every export format in the order the dialog offers them (the tests check none is left out). */
export const FORMATS: { id: ExportFormat; label: string }[] = [
  { id: "md", label: "Markdown (postmortem)" },
  { id: "html", label: "HTML (one file, with charts)" },
  { id: "csv", label: "CSV (spreadsheet)" },
  { id: "json", label: "JSON" },
  { id: "ndjson", label: "NDJSON (one event a line)" },
  { id: "svg", label: "SVG chart" },
  { id: "png", label: "PNG chart" },
];

/** What an entry point exports: endpoint ids (empty: every endpoint), a window, a name. */
export interface ExportScope {
  endpoints: number[];
  window: Window;
  /** For the file name: an endpoint's name, "incidents", … */
  label: string;
  /** Whether "incidents only" starts ticked. */
  incidentsOnly: boolean;
}

/** Time before an incident's start that its export includes, for the lead-up. */
export const LEAD_UP_MS = 10 * 60_000;
/** Time after an incident's end that its export includes, to show the recovery. */
export const TAIL_MS = 2 * 60_000;

/** One incident: its endpoint from a little before the start to a little after the end. */
export function incidentScope(
  i: { endpoint: number; endpoint_name: string; started: number; ended: number | null },
  now: number = Date.now(),
): ExportScope {
  const end = i.ended == null ? now : Math.min(now, i.ended + TAIL_MS);
  return {
    endpoints: [i.endpoint],
    window: { from: i.started - LEAD_UP_MS, to: Math.max(end, i.started + 1) },
    label: `${i.endpoint_name}-incident`,
    incidentsOnly: false,
  };
}

/** The incidents list: the endpoints of the rows shown (every endpoint when the list is not
 *  filtered), over the list's window. */
export function listScope(shownEndpoints: number[], filtered: boolean, window: Window): ExportScope {
  return {
    endpoints: filtered ? [...new Set(shownEndpoints)].sort((a, b) => a - b) : [],
    window,
    label: "incidents",
    incidentsOnly: true,
  };
}

/** An endpoint's detail: that endpoint over the window it shows. */
export function endpointScope(id: number, name: string, window: Window): ExportScope {
  return { endpoints: [id], window, label: name, incidentsOnly: false };
}

/** A file name safe on every desktop: "heartline-feed-eu-2026-11-20-1405.md". */
export function fileName(scope: ExportScope, format: ExportFormat, now: Date = new Date()): string {
  const slug =
    scope.label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60) || "export";
  const pad = (n: number) => String(n).padStart(2, "0");
  const stamp = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}`;
  return `heartline-${slug}-${stamp}.${format}`;
}

export function request(scope: ExportScope, format: ExportFormat, incidentsOnly: boolean, path: string): ExportRequest {
  return { endpoints: scope.endpoints, window: scope.window, incidents_only: incidentsOnly, format, path };
}

/** Asks where to save (null: the user cancelled). */
export type PickPath = (suggested: string, format: ExportFormat) => Promise<string | null>;
export type WriteExport = (r: ExportRequest) => Promise<ExportResult>;

export type Outcome =
  | { kind: "cancelled" }
  | { kind: "done"; result: ExportResult }
  | { kind: "failed"; error: IpcError };

/** Picks a path, then has the app write the export there. A failure of either is an
 *  IpcError; cancelling the dialog writes nothing. */
export async function runExport(
  scope: ExportScope,
  format: ExportFormat,
  incidentsOnly: boolean,
  pick: PickPath,
  write: WriteExport,
  now: Date = new Date(),
): Promise<Outcome> {
  let path: string | null;
  try {
    path = await pick(fileName(scope, format, now), format);
  } catch (e) {
    return { kind: "failed", error: { ...toIpcError(e), message: `The save dialog failed: ${toIpcError(e).message}` } };
  }
  if (!path) return { kind: "cancelled" };
  try {
    return { kind: "done", result: await write(request(scope, format, incidentsOnly, path)) };
  } catch (e) {
    return { kind: "failed", error: toIpcError(e) };
  }
}

/** "Wrote 1,204 events (2 endpoints, 3 incidents) to /home/me/x.md". */
export function describe(r: ExportResult): string {
  const n = (v: number, one: string) => `${v.toLocaleString("en-US")} ${one}${v === 1 ? "" : "s"}`;
  const what = r.format === "svg" || r.format === "png" ? "a chart" : n(r.events, "event");
  return `Wrote ${what} (${n(r.endpoints, "endpoint")}, ${n(r.incidents, "incident")}) to ${r.path}`;
}

/** The folder of a file path (either separator), or null for a bare name. */
export function folderOf(file: string): string | null {
  const i = Math.max(file.lastIndexOf("/"), file.lastIndexOf("\\"));
  return i > 0 ? file.slice(0, i) : i === 0 ? file.slice(0, 1) : null;
}

/** `name` in `folder`, with the folder's own separator. */
export function inFolder(folder: string | null | undefined, name: string): string {
  if (!folder) return name;
  const sep = folder.includes("\\") && !folder.includes("/") ? "\\" : "/";
  return folder.endsWith(sep) ? `${folder}${name}` : `${folder}${sep}${name}`;
}
