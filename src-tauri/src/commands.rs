//! The Tauri commands: each extracts state, calls one monitor operation (heartline-monitor),
//! and maps its plain data to DTOs and its errors to `{code, message, fields}`.

use tauri::State;

use crate::app::{App, Opening};
use crate::convert::IpcResult;
use crate::dto::{
    AppInfo, AppSettings, ConfigFormat, Detail, EndpointForm, EndpointRow, ErrorCode,
    ExportProgress, ExportRequest, ExportResult, FieldProblem, ImportResult, IncidentList,
    IpcError, Lane, LiveStatus, ProbeResult, RowHistory, StartupMark, Strips, Window,
    EXPORT_PROGRESS_EVENT,
};
use heartline_monitor::settings::Settings;

#[tauri::command]
pub async fn app_info(app: State<'_, App>, handle: tauri::AppHandle) -> IpcResult<AppInfo> {
    use tauri::Manager;
    let demo = app.demo.lock().await.as_ref().map(|lab| lab.ws_url(""));
    let paths = handle.path();
    let export_dir = paths
        .download_dir()
        .or_else(|_| paths.home_dir())
        .ok()
        .filter(|d| d.is_dir())
        .map(|d| d.display().to_string());
    // The packages install both programs in /usr/bin; a checkout builds both in target/.
    let exe = std::env::current_exe().ok();
    let command = exe
        .as_ref()
        .map(|p| p.with_file_name("heartline"))
        .filter(|p| p.is_file())
        .map(|p| p.display().to_string());
    Ok(AppInfo {
        database: app.monitor.database().display().to_string(),
        secrets: app.monitor.secrets_description(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        demo,
        export_dir,
        executable: exe.map_or_else(|| "unknown".into(), |p| p.display().to_string()),
        command,
    })
}

/// The overview's rows with their live states, without history (`history: null`): from
/// memory, for the first screen; `overview_history` brings the history columns.
///
/// Waits for the database to be open itself, like `app_ready` (the page sends the first one
/// without waiting for `app_ready`'s answer: one IPC round trip less before the first rows).
#[tauri::command]
pub async fn list_endpoints(
    opening: State<'_, Opening>,
    handle: tauri::AppHandle,
) -> IpcResult<Vec<EndpointRow>> {
    use tauri::Manager;
    app_ready(opening).await?;
    let app = handle.state::<App>();
    crate::startup::mark("list_endpoints:first:start");
    // Before the rows are read: whatever changes after them reaches the page as a delta.
    app.page_listening
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let rows = app.monitor.overview_rows().await.map_err(Into::into);
    crate::startup::mark("list_endpoints:first:end");
    rows
}

/// The overview's history columns of every endpoint (24 h summaries, causes, stored closes).
#[tauri::command]
pub async fn overview_history(app: State<'_, App>) -> IpcResult<Vec<RowHistory>> {
    crate::startup::mark("overview_history:first:start");
    let history = app.monitor.overview_history().await.map_err(Into::into);
    crate::startup::mark("overview_history:first:end");
    history
}

/// Resolves once the database is open and every stored endpoint watched, or fails with why
/// the database could not open. The page waits for it before any other command (those that
/// need the monitor would fail before it is there).
#[tauri::command]
pub async fn app_ready(opening: State<'_, Opening>) -> IpcResult<()> {
    opening.wait().await.map_err(|message| IpcError {
        code: ErrorCode::Storage,
        message,
        fields: Vec::new(),
    })
}

/// The start-up marks so far (ui/e2e/bench.mjs).
#[tauri::command]
pub fn startup_marks() -> Vec<StartupMark> {
    crate::startup::marks()
}

/// The page's start-up marks, sent once the first overview is on screen: kept beside the
/// app's and written to the log.
#[tauri::command]
pub fn page_marks(marks: Vec<StartupMark>) {
    crate::startup::page_marks(marks);
}

#[tauri::command]
pub fn live_statuses(app: State<'_, App>) -> Vec<LiveStatus> {
    app.monitor.statuses(&Default::default())
}

/// The form of a new endpoint, with the default policies chosen in Settings.
#[tauri::command]
pub fn new_endpoint_form(settings: State<'_, Settings>) -> EndpointForm {
    settings.get().endpoint_defaults.new_form()
}

#[tauri::command]
pub fn endpoint_form(app: State<'_, App>, id: u64) -> IpcResult<EndpointForm> {
    Ok(app.monitor.endpoint_form(id)?)
}

/// Every problem of a form, for marking fields as the user types.
#[tauri::command]
pub fn validate_endpoint(form: EndpointForm) -> Vec<FieldProblem> {
    form.problems()
}

#[tauri::command]
pub async fn add_endpoint(app: State<'_, App>, form: EndpointForm) -> IpcResult<u64> {
    Ok(app.monitor.add_form(&form).await?.0)
}

/// Secret values left empty in the form keep the stored ones.
#[tauri::command]
pub async fn update_endpoint(app: State<'_, App>, id: u64, form: EndpointForm) -> IpcResult<()> {
    Ok(app.monitor.update_form(id, &form).await?)
}

#[tauri::command]
pub async fn duplicate_endpoint(app: State<'_, App>, id: u64) -> IpcResult<u64> {
    Ok(app.monitor.duplicate(id).await?.0)
}

#[tauri::command]
pub async fn remove_endpoint(app: State<'_, App>, id: u64) -> IpcResult<()> {
    Ok(app.monitor.remove(id).await?)
}

#[tauri::command]
pub async fn pause_endpoint(app: State<'_, App>, id: u64) -> IpcResult<()> {
    Ok(app.monitor.pause(id).await?)
}

#[tauri::command]
pub async fn resume_endpoint(app: State<'_, App>, id: u64) -> IpcResult<()> {
    Ok(app.monitor.resume(id).await?)
}

#[tauri::command]
pub async fn reconnect_endpoint(app: State<'_, App>, id: u64) -> IpcResult<()> {
    Ok(app.monitor.reconnect(id).await?)
}

/// `id`: the endpoint the form edits (`null` for a new one); secret values left empty in the
/// form are the stored ones, as when saving.
#[tauri::command]
pub async fn test_connection(
    app: State<'_, App>,
    form: EndpointForm,
    id: Option<u64>,
) -> IpcResult<ProbeResult> {
    Ok(app.monitor.test_form(id, &form).await?)
}

#[tauri::command]
pub async fn endpoint_detail(app: State<'_, App>, id: u64, window: Window) -> IpcResult<Detail> {
    Ok(app.monitor.detail(id, window).await?)
}

#[tauri::command]
pub async fn timeline(app: State<'_, App>, window: Window) -> IpcResult<Vec<Lane>> {
    Ok(app.monitor.timeline(window).await?)
}

/// Every endpoint's history strip over a window cut into `cells` cells.
#[tauri::command]
pub async fn history_strips(app: State<'_, App>, window: Window, cells: u32) -> IpcResult<Strips> {
    Ok(app.monitor.strips(window, cells).await?)
}

#[tauri::command]
pub async fn incidents(app: State<'_, App>, window: Window) -> IpcResult<IncidentList> {
    Ok(app.monitor.incidents(window).await?)
}

#[tauri::command]
pub async fn start_demo(app: State<'_, App>) -> IpcResult<String> {
    crate::demo::start(&app).await
}

/// Exports recorded history to the path the user chose in the UI's save dialog.
#[tauri::command]
pub async fn export_history(
    app: State<'_, App>,
    handle: tauri::AppHandle,
    request: ExportRequest,
) -> IpcResult<ExportResult> {
    use tauri::Emitter;
    let progress = |p: ExportProgress| {
        let _ = handle.emit(EXPORT_PROGRESS_EVENT, p);
    };
    Ok(app
        .monitor
        .export(&request, heartline_monitor::now(), &progress)
        .await?)
}

/// Opens a file this session exported with the desktop's program for it, or (`reveal`) shows
/// it in its folder.
#[tauri::command]
pub fn open_export(app: State<'_, App>, path: String, reveal: bool) -> IpcResult<()> {
    crate::export::open(&app.monitor, &path, reveal)
}

/// The endpoint configuration in the `heartline endpoints` format (`toml` or `json`);
/// secret values are never written out.
#[tauri::command]
pub fn export_endpoints(app: State<'_, App>, format: ConfigFormat) -> String {
    app.monitor.export_endpoints(format)
}

/// Adds or updates (by name) the endpoints of a configuration file's text.
#[tauri::command]
pub async fn import_endpoints(
    app: State<'_, App>,
    text: String,
    format: ConfigFormat,
) -> IpcResult<ImportResult> {
    // `{ env = … }` secrets read the app's environment, as the CLI's import does.
    Ok(app
        .monitor
        .import(&text, format, &|name| std::env::var(name).ok())
        .await?)
}

#[tauri::command]
pub fn get_settings(settings: State<'_, Settings>) -> AppSettings {
    settings.get()
}

/// Saves the settings; a changed metrics address starts, moves or stops `/metrics` now.
#[tauri::command]
pub async fn set_settings(
    app: State<'_, App>,
    settings: State<'_, Settings>,
    value: AppSettings,
) -> IpcResult<()> {
    Ok(app.monitor.apply_settings(&settings, value).await?)
}
