// The one place the UI talks to the app. Every command's signature is generated from the Rust
// command (commands.ts) and its types from the DTOs (bindings.ts); every failure is an
// IpcError {code, message, fields}, never a bare string.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { EndpointRow, ExportProgress, IpcError, StatusDelta } from "./bindings";
import { EXPORT_PROGRESS_EVENT, STATUS_EVENT } from "./bindings";
import { commands } from "./commands";

/** Turns whatever a rejected invoke carries into an IpcError. */
export function toIpcError(e: unknown): IpcError {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as Partial<IpcError>;
    return { code: o.code ?? "engine", message: String(o.message), fields: o.fields ?? [] };
  }
  return { code: "engine", message: String(e), fields: [] };
}

// The app opens its database beside the window, not before it: every command waits until
// `app_ready` has answered (once for the page), and fails with its reason if the database
// could not open. The commands in WAITS_ITSELF wait in the app instead (the first overview:
// one round trip less before the first rows).
let ready: Promise<unknown> | null = null;
const WAITS_ITSELF = new Set(["app_ready", "list_endpoints"]);

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    ready ??= invoke("app_ready");
    if (!WAITS_ITSELF.has(cmd)) await ready;
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

/** Every command, with the signature Rust declares (generated into commands.ts). */
export const api = commands(call);

let firstOverview: Promise<EndpointRow[]> | null = null;

/** Asks for the overview now (main.ts, before the app is mounted), so that the request is
 *  on its way while the first view is built; the first `overview()` takes this answer. */
export function prefetchOverview() {
  firstOverview ??= api.listEndpoints();
  firstOverview.catch(() => {}); // whoever takes it sees the error
}

/** The overview: the prefetched answer the first time, a new request after that. */
export function overview(): Promise<EndpointRow[]> {
  const first = firstOverview;
  firstOverview = null;
  return first ?? api.listEndpoints();
}

/** Calls `f` with every coalesced status delta; returns the function that stops it. */
export function onStatus(f: (d: StatusDelta) => void): Promise<UnlistenFn> {
  return listen<StatusDelta>(STATUS_EVENT, (e) => f(e.payload));
}

/** Calls `f` with the running export's progress; returns the function that stops it. */
export function onExportProgress(f: (p: ExportProgress) => void): Promise<UnlistenFn> {
  return listen<ExportProgress>(EXPORT_PROGRESS_EVENT, (e) => f(e.payload));
}
