// Generated from the #[tauri::command] functions in src-tauri/src/commands.rs; do not edit.
// Regenerate: UPDATE_BINDINGS=1 cargo test -p heartline-app bindings

import type { AppInfo, AppSettings, ConfigFormat, Detail, EndpointForm, EndpointRow, ExportRequest, ExportResult, FieldProblem, ImportResult, IncidentList, Lane, LiveStatus, ProbeResult, RowHistory, StartupMark, Strips, Window } from "./bindings";

/** How a command is sent: `invoke` with errors turned into `IpcError` (see ipc.ts). */
export type Call = <T>(command: string, args?: Record<string, unknown>) => Promise<T>;

/** Every command the app registers, typed as Rust declares it. */
export function commands(call: Call) {
  return {
    appInfo: () => call<AppInfo>("app_info"),
    listEndpoints: () => call<Array<EndpointRow>>("list_endpoints"),
    overviewHistory: () => call<Array<RowHistory>>("overview_history"),
    appReady: () => call<void>("app_ready"),
    startupMarks: () => call<Array<StartupMark>>("startup_marks"),
    pageMarks: (marks: Array<StartupMark>) => call<void>("page_marks", { marks }),
    liveStatuses: () => call<Array<LiveStatus>>("live_statuses"),
    newEndpointForm: () => call<EndpointForm>("new_endpoint_form"),
    endpointForm: (id: number) => call<EndpointForm>("endpoint_form", { id }),
    validateEndpoint: (form: EndpointForm) => call<Array<FieldProblem>>("validate_endpoint", { form }),
    addEndpoint: (form: EndpointForm) => call<number>("add_endpoint", { form }),
    updateEndpoint: (id: number, form: EndpointForm) => call<void>("update_endpoint", { id, form }),
    duplicateEndpoint: (id: number) => call<number>("duplicate_endpoint", { id }),
    removeEndpoint: (id: number) => call<void>("remove_endpoint", { id }),
    pauseEndpoint: (id: number) => call<void>("pause_endpoint", { id }),
    resumeEndpoint: (id: number) => call<void>("resume_endpoint", { id }),
    reconnectEndpoint: (id: number) => call<void>("reconnect_endpoint", { id }),
    testConnection: (form: EndpointForm, id: number | null) => call<ProbeResult>("test_connection", { form, id }),
    endpointDetail: (id: number, window: Window) => call<Detail>("endpoint_detail", { id, window }),
    timeline: (window: Window) => call<Array<Lane>>("timeline", { window }),
    historyStrips: (window: Window, cells: number) => call<Strips>("history_strips", { window, cells }),
    incidents: (window: Window) => call<IncidentList>("incidents", { window }),
    startDemo: () => call<string>("start_demo"),
    exportHistory: (request: ExportRequest) => call<ExportResult>("export_history", { request }),
    openExport: (path: string, reveal: boolean) => call<void>("open_export", { path, reveal }),
    exportEndpoints: (format: ConfigFormat) => call<string>("export_endpoints", { format }),
    importEndpoints: (text: string, format: ConfigFormat) => call<ImportResult>("import_endpoints", { text, format }),
    getSettings: () => call<AppSettings>("get_settings"),
    setSettings: (value: AppSettings) => call<void>("set_settings", { value }),
  };
}
