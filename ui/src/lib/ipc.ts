// The one place the UI talks to the app. Every command is typed with the generated
// bindings; every failure is an IpcError {code, message, fields}, never a bare string.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type {
  AppInfo,
  AppSettings,
  Detail,
  EndpointForm,
  EndpointRow,
  ExportProgress,
  ExportRequest,
  ExportResult,
  FieldProblem,
  ImportResult,
  IncidentList,
  IpcError,
  Lane,
  LiveStatus,
  ProbeResult,
  StatusDelta,
  Window,
} from "./bindings";
import { EXPORT_PROGRESS_EVENT, STATUS_EVENT } from "./bindings";

/** Turns whatever a rejected invoke carries into an IpcError. */
export function toIpcError(e: unknown): IpcError {
  if (e && typeof e === "object" && "code" in e && "message" in e) {
    const o = e as Partial<IpcError>;
    return { code: o.code ?? "engine", message: String(o.message), fields: o.fields ?? [] };
  }
  return { code: "engine", message: String(e), fields: [] };
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toIpcError(e);
  }
}

export const api = {
  appInfo: () => call<AppInfo>("app_info"),
  listEndpoints: () => call<EndpointRow[]>("list_endpoints"),
  liveStatuses: () => call<LiveStatus[]>("live_statuses"),
  newEndpointForm: () => call<EndpointForm>("new_endpoint_form"),
  endpointForm: (id: number) => call<EndpointForm>("endpoint_form", { id }),
  validateEndpoint: (form: EndpointForm) => call<FieldProblem[]>("validate_endpoint", { form }),
  addEndpoint: (form: EndpointForm) => call<number>("add_endpoint", { form }),
  updateEndpoint: (id: number, form: EndpointForm) => call<void>("update_endpoint", { id, form }),
  duplicateEndpoint: (id: number) => call<number>("duplicate_endpoint", { id }),
  removeEndpoint: (id: number) => call<void>("remove_endpoint", { id }),
  pause: (id: number) => call<void>("pause_endpoint", { id }),
  resume: (id: number) => call<void>("resume_endpoint", { id }),
  reconnect: (id: number) => call<void>("reconnect_endpoint", { id }),
  testConnection: (form: EndpointForm) => call<ProbeResult>("test_connection", { form }),
  detail: (id: number, window: Window) => call<Detail>("endpoint_detail", { id, window }),
  timeline: (window: Window) => call<Lane[]>("timeline", { window }),
  incidents: (window: Window) => call<IncidentList>("incidents", { window }),
  startDemo: () => call<string>("start_demo"),
  exportHistory: (request: ExportRequest) => call<ExportResult>("export_history", { request }),
  /** Opens a file this session exported with the desktop's program, or shows it in its folder. */
  openExport: (path: string, reveal: boolean) => call<void>("open_export", { path, reveal }),
  exportEndpoints: (format: "toml" | "json") => call<string>("export_endpoints", { format }),
  importEndpoints: (text: string, format: "toml" | "json") =>
    call<ImportResult>("import_endpoints", { text, format }),
  getSettings: () => call<AppSettings>("get_settings"),
  setSettings: (value: AppSettings) => call<void>("set_settings", { value }),
};

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
