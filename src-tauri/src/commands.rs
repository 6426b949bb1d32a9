//! The Tauri commands: each extracts state, calls the engine or store (or one `view`
//! function over them), and maps errors to `{code, message}`.

use tauri::State;

use heartline_core::{Endpoint, EndpointId};

use crate::app::App;
use crate::convert::{endpoint_from, form_from, keep_secret_values, IpcResult};
use crate::dto::{
    AppInfo, ConfigFormat, Detail, EndpointForm, EndpointRow, ErrorCode, ExportProgress,
    ExportRequest, ExportResult, FieldProblem, ImportResult, IncidentList, IpcError, Lane,
    LiveStatus, ProbeResult, StartupMark, Window, EXPORT_PROGRESS_EVENT,
};
use crate::settings::{AppSettings, Settings};

fn current(app: &App, id: u64) -> IpcResult<Endpoint> {
    app.engine
        .endpoints()
        .into_iter()
        .find(|(i, _)| i.0 == id)
        .map(|(_, e)| e)
        .ok_or_else(|| IpcError::new(ErrorCode::NotFound, format!("no endpoint #{id}")))
}

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
        database: app.store.path().display().to_string(),
        secrets: app.secrets.describe(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        demo,
        export_dir,
        executable: exe.map_or_else(|| "unknown".into(), |p| p.display().to_string()),
        command,
    })
}

#[tauri::command]
pub async fn list_endpoints(app: State<'_, App>) -> IpcResult<Vec<EndpointRow>> {
    crate::startup::mark("list_endpoints:first:start");
    let rows = crate::view::overview(&app).await;
    crate::startup::mark("list_endpoints:first:end");
    rows
}

/// The start-up marks so far (ui/e2e/bench.mjs).
#[tauri::command]
pub fn startup_marks() -> Vec<StartupMark> {
    crate::startup::marks()
}

#[tauri::command]
pub fn live_statuses(app: State<'_, App>) -> Vec<LiveStatus> {
    crate::view::statuses(&app, &Default::default())
}

/// The form of a new endpoint, with the default policies chosen in Settings.
#[tauri::command]
pub fn new_endpoint_form(settings: State<'_, Settings>) -> EndpointForm {
    settings.get().endpoint_defaults.new_form()
}

#[tauri::command]
pub fn endpoint_form(app: State<'_, App>, id: u64) -> IpcResult<EndpointForm> {
    Ok(form_from(&current(&app, id)?))
}

/// Every problem of a form, for marking fields as the user types.
#[tauri::command]
pub fn validate_endpoint(form: EndpointForm) -> Vec<FieldProblem> {
    IpcError::from_validation(endpoint_from(&form, None).validate())
}

#[tauri::command]
pub async fn add_endpoint(app: State<'_, App>, form: EndpointForm) -> IpcResult<u64> {
    let endpoint = endpoint_from(&form, None);
    endpoint.validate()?;
    let id = app.store.add_endpoint(&endpoint, &app.secrets).await?;
    app.engine.insert(id, endpoint)?;
    Ok(id.0)
}

#[tauri::command]
pub async fn update_endpoint(app: State<'_, App>, id: u64, form: EndpointForm) -> IpcResult<()> {
    let previous = current(&app, id)?;
    let mut endpoint = endpoint_from(&form, Some(&previous));
    keep_secret_values(&mut endpoint, &previous);
    endpoint.validate()?;
    app.store
        .update_endpoint(EndpointId(id), &endpoint, &app.secrets)
        .await?;
    Ok(app.engine.update(EndpointId(id), endpoint).await?)
}

#[tauri::command]
pub async fn duplicate_endpoint(app: State<'_, App>, id: u64) -> IpcResult<u64> {
    let mut endpoint = current(&app, id)?;
    let names: Vec<String> = app
        .engine
        .endpoints()
        .into_iter()
        .map(|(_, e)| e.name)
        .collect();
    endpoint.name = (2..)
        .map(|n| format!("{} ({n})", endpoint.name))
        .find(|n| !names.contains(n))
        .unwrap_or_default();
    let new = app.store.add_endpoint(&endpoint, &app.secrets).await?;
    app.engine.insert(new, endpoint)?;
    Ok(new.0)
}

#[tauri::command]
pub async fn remove_endpoint(app: State<'_, App>, id: u64) -> IpcResult<()> {
    app.engine.remove(EndpointId(id)).await?;
    Ok(app
        .store
        .remove_endpoint(EndpointId(id), &app.secrets)
        .await?)
}

#[tauri::command]
pub async fn pause_endpoint(app: State<'_, App>, id: u64) -> IpcResult<()> {
    app.engine.pause(EndpointId(id)).await?;
    Ok(app.store.set_paused(EndpointId(id), true).await?)
}

#[tauri::command]
pub async fn resume_endpoint(app: State<'_, App>, id: u64) -> IpcResult<()> {
    app.engine.resume(EndpointId(id)).await?;
    Ok(app.store.set_paused(EndpointId(id), false).await?)
}

#[tauri::command]
pub async fn reconnect_endpoint(app: State<'_, App>, id: u64) -> IpcResult<()> {
    Ok(app.engine.reconnect(EndpointId(id)).await?)
}

#[tauri::command]
pub async fn test_connection(form: EndpointForm) -> IpcResult<ProbeResult> {
    crate::probe::test(&endpoint_from(&form, None)).await
}

#[tauri::command]
pub async fn endpoint_detail(app: State<'_, App>, id: u64, window: Window) -> IpcResult<Detail> {
    crate::view::detail(&app, EndpointId(id), window).await
}

#[tauri::command]
pub async fn timeline(app: State<'_, App>, window: Window) -> IpcResult<Vec<Lane>> {
    crate::view::timeline(&app, window).await
}

#[tauri::command]
pub async fn incidents(app: State<'_, App>, window: Window) -> IpcResult<IncidentList> {
    crate::view::incidents(&app, window).await
}

#[tauri::command]
pub async fn start_demo(app: State<'_, App>) -> IpcResult<String> {
    crate::demo::start(&app).await
}

/// Exports recorded history to the path the user chose in the UI's save dialog.
#[tauri::command]
pub async fn export_history(
    app: State<'_, App>,
    exported: State<'_, crate::export::Exported>,
    handle: tauri::AppHandle,
    request: ExportRequest,
) -> IpcResult<ExportResult> {
    use tauri::Emitter;
    let progress = |p: ExportProgress| {
        let _ = handle.emit(EXPORT_PROGRESS_EVENT, p);
    };
    let result = crate::export::write(&app.store, &request, crate::view::now(), &progress).await?;
    exported.remember(std::path::Path::new(&result.path));
    Ok(result)
}

/// Opens a file this session exported with the desktop's program for it, or (`reveal`) shows
/// it in its folder.
#[tauri::command]
pub fn open_export(
    exported: State<'_, crate::export::Exported>,
    path: String,
    reveal: bool,
) -> IpcResult<()> {
    crate::export::open(&exported, &path, reveal)
}

/// The endpoint configuration in the `heartline endpoints` format (`toml` or `json`);
/// secret values are never written out.
#[tauri::command]
pub fn export_endpoints(app: State<'_, App>, format: ConfigFormat) -> String {
    let endpoints: Vec<Endpoint> = app.engine.endpoints().into_iter().map(|(_, e)| e).collect();
    let file = heartline_config::ConfigFile::from_endpoints(&endpoints);
    match format {
        ConfigFormat::Json => file.to_json(),
        ConfigFormat::Toml => file.to_toml(),
    }
}

/// Adds or updates (by name) the endpoints of a configuration file's text.
#[tauri::command]
pub async fn import_endpoints(
    app: State<'_, App>,
    text: String,
    format: ConfigFormat,
) -> IpcResult<ImportResult> {
    crate::config_import::import(&app, &text, format).await
}

#[tauri::command]
pub fn get_settings(settings: State<'_, Settings>) -> AppSettings {
    settings.get()
}

#[tauri::command]
pub fn set_settings(settings: State<'_, Settings>, value: AppSettings) -> IpcResult<()> {
    let problems = value.endpoint_defaults.problems();
    if !problems.is_empty() {
        let list: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.problem))
            .collect();
        return Err(IpcError {
            code: ErrorCode::Invalid,
            message: format!("defaults for new endpoints: {}", list.join("; ")),
            fields: problems,
        });
    }
    settings
        .set(value)
        .map_err(|e| IpcError::new(ErrorCode::Storage, e.to_string()))
}
