//! Heartline's desktop app: a thin Tauri 2 shell over heartline-monitor.
//!
//! ```text
//! UI (ui/, Svelte) ──invoke──▶ commands ──▶ Monitor (operations and views, plain data)
//!        ▲                                     │ every event
//!        └── "heartline://status" (coalesced) ◀── forward ◀─ Monitor::subscribe
//! ```
//! Invariant: only this crate knows Tauri. Boundary: everything crossing IPC is a type in
//! [`dto`], generated for TypeScript into ui/src/lib/bindings.ts.

pub mod app;
pub mod bindings;
mod commands;
pub mod convert;
mod demo;
pub mod dto;
pub mod export;
pub mod forward;
pub mod notify;
pub mod startup;
pub mod tray;
mod webview;

use tauri::{Manager, RunEvent, WindowEvent};

use crate::app::App;
use heartline_monitor::settings::Settings;

/// Builds and runs the app until the user quits.
pub fn run() {
    startup::mark("run");
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,heartline_app=info".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();

    // The database and settings paths are known before Tauri starts; the store is opened (and
    // the sessions started) on a thread of its own from the first moment the single-instance
    // plugin has let this process go on (its `setup`), so that the store and Tauri's window
    // and webview start side by side. Nothing waits for it on the main thread: the app's
    // `setup` returns at once (the page's navigation needs the main loop), and the monitor is
    // handed over when it is open (`app::Opening`; the page asks `app_ready` first).
    let config = app::database_path().map(|path| {
        let settings = Settings::load(path.with_file_name("settings.json"));
        (path, settings)
    });
    let (open_tx, open_rx) = tokio::sync::oneshot::channel::<()>();
    let (opened_tx, opened_rx) = tokio::sync::oneshot::channel::<Result<App, String>>();
    {
        let target = config.as_ref().ok().map(|(p, s)| (p.clone(), s.get()));
        // A thread of its own rather than a task: `App::open`'s future is not `Send`.
        std::thread::spawn(move || {
            let open = || {
                let (path, settings) = target.ok_or("no database path")?;
                open_rx
                    .blocking_recv()
                    .map_err(|_| "the app did not start")?;
                startup::mark("app:open-start");
                // Metrics are folded from the start, so that turning the setting on serves
                // them at once; they are served only when the setting names an address.
                let mut options = heartline_monitor::MonitorOptions::new(path)
                    .retention_days(settings.retention_days);
                options.metrics = true;
                let metrics = settings.metrics_address.filter(|a| !a.trim().is_empty());
                tauri::async_runtime::block_on(App::open(options, metrics))
            };
            let _ = opened_tx.send(open());
        });
    }
    let built = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|handle, _args, _cwd| {
            show_main(handle);
        }))
        .plugin(
            // Runs right after single-instance's set-up: a second launch has exited by now.
            tauri::plugin::Builder::<tauri::Wry, ()>::new("heartline-open")
                .setup(move |_, _| {
                    let _ = open_tx.send(());
                    Ok(())
                })
                .build(),
        )
        .plugin(
            // Size, position and the like; not visibility: the window is shown by `show_once`.
            tauri_plugin_window_state::Builder::default()
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::all()
                        - tauri_plugin_window_state::StateFlags::VISIBLE,
                )
                .build(),
        )
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .setup(move |tauri_app| {
            // Tauri has built the configured window (and its webview) just before this.
            startup::mark("setup:start");
            if let Some(window) = tauri_app.get_webview_window("main") {
                webview::tune(&window);
            }
            let (path, settings) = config?;
            tauri_app.manage(settings);
            tauri_app.manage(heartline_monitor::alerts::Notifier::default());
            tauri_app.manage(app::Opening::default());
            {
                // Shown when its page has loaded; this is the fallback for a page that never
                // does (a window with an error is better than none).
                let handle = tauri_app.handle().clone();
                tauri::async_runtime::spawn(async move {
                    tokio::time::sleep(SHOW_AT_THE_LATEST).await;
                    show_once(&handle);
                });
            }
            let handle = tauri_app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let opened = opened_rx
                    .await
                    .unwrap_or_else(|_| Err("opening the database panicked".to_owned()));
                opened_app(&handle, opened, &path);
            });
            tauri::async_runtime::spawn(quit_on_signal(tauri_app.handle().clone()));
            startup::mark("setup:end");
            Ok(())
        })
        .on_page_load(|webview, payload| match payload.event() {
            tauri::webview::PageLoadEvent::Started => startup::mark("page:load-started"),
            tauri::webview::PageLoadEvent::Finished => {
                startup::mark("page:load-finished");
                show_once(webview.app_handle());
            }
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let keep = window.state::<Settings>().get().keep_running_in_tray;
                if keep && tray::available(window.app_handle()) {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::list_endpoints,
            commands::overview_history,
            commands::live_statuses,
            commands::new_endpoint_form,
            commands::endpoint_form,
            commands::validate_endpoint,
            commands::add_endpoint,
            commands::update_endpoint,
            commands::duplicate_endpoint,
            commands::remove_endpoint,
            commands::pause_endpoint,
            commands::resume_endpoint,
            commands::reconnect_endpoint,
            commands::test_connection,
            commands::endpoint_detail,
            commands::timeline,
            commands::history_strips,
            commands::incidents,
            commands::start_demo,
            commands::export_history,
            commands::open_export,
            commands::export_endpoints,
            commands::import_endpoints,
            commands::get_settings,
            commands::set_settings,
            commands::app_ready,
            commands::startup_marks,
            commands::page_marks,
        ])
        .build(tauri::generate_context!());
    let app = match built {
        Ok(app) => {
            startup::mark("tauri:built");
            app
        }
        Err(err) => {
            eprintln!("heartline: cannot start the app: {err}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let RunEvent::Exit = event {
            // Quit while the database was still opening: its sessions may have started, so
            // the open is let finish (bounded) and they are shut down like any other.
            if handle.try_state::<App>().is_none() {
                if let Some(opening) = handle.try_state::<app::Opening>() {
                    // The timer is made inside the runtime (a tokio timer needs one).
                    tauri::async_runtime::block_on(async {
                        let _ = tokio::time::timeout(OPEN_AT_EXIT, opening.wait()).await;
                    });
                }
            }
            if let Some(state) = handle.try_state::<App>() {
                tauri::async_runtime::block_on(state.shutdown());
            }
        }
    });
}

/// How long a quit waits for a database still opening, to shut its sessions down.
const OPEN_AT_EXIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a quit by signal may take before the process ends without it.
const QUIT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// SIGTERM (a session logout, `kill`, systemd) and SIGINT quit the way the tray's Quit does: the
/// `Exit` event stops every session and flushes the writer, so the last second of events seen
/// live is on disk, not lost with the process.
async fn quit_on_signal(handle: tauri::AppHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!(
                "cannot listen for SIGTERM/SIGINT: a signal ends the app without flushing"
            );
            return;
        };
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = hup.recv() => "SIGHUP",
        };
        tracing::info!(
            signal = name,
            "quitting: stopping sessions and writing what is pending"
        );
    }
    // Whoever sent the signal waits for us only so long (a session logout, systemd's stop
    // timeout): if the orderly quit has not ended the process by then, end it anyway, saying
    // so; the shutdown's own log lines tell how far it got.
    std::thread::spawn(|| {
        std::thread::sleep(QUIT_DEADLINE);
        tracing::error!(
            deadline_s = QUIT_DEADLINE.as_secs(),
            "the quit did not finish in time: exiting without it"
        );
        std::process::exit(1);
    });
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
    }
    handle.exit(0);
}

/// Hands the opened monitor to the commands, the status forwarder, the demo and the tray, and
/// lets the page's `app_ready` answer; or, when the database could not open, tells the page
/// why (it shows the reason in place of the overview).
fn opened_app(handle: &tauri::AppHandle, opened: Result<App, String>, path: &std::path::Path) {
    let opening = handle.state::<app::Opening>();
    let opened = match opened {
        Ok(opened) => opened,
        Err(err) => {
            tracing::error!(database = %path.display(), %err, "cannot open the database");
            // The store's reasons name the file; the others get its path here.
            let named = err.contains(&path.display().to_string());
            opening.finish(Err(if named {
                err
            } else {
                format!("cannot open the database {}: {err}", path.display())
            }));
            return;
        }
    };
    startup::mark("setup:app-opened");
    let events = opened.monitor.subscribe();
    let has_demo = demo::present(&opened);
    handle.manage(opened);
    tauri::async_runtime::spawn(forward::run(handle.clone(), events));
    if has_demo {
        let handle = handle.clone();
        tauri::async_runtime::spawn(async move {
            if let Err(err) = demo::start(&handle.state::<App>()).await {
                tracing::warn!(?err, "cannot restart the demo lab");
            }
        });
    }
    tray::build_soon(handle);
    tracing::info!(database = %path.display(), "heartline is watching");
    opening.finish(Ok(()));
}

/// How long after setup the main window is shown even if its page has not loaded.
const SHOW_AT_THE_LATEST: std::time::Duration = std::time::Duration::from_secs(3);

/// Shows the main window the first time it is called; later calls do nothing (a window the
/// user has hidden in the tray since stays hidden when its page reloads).
///
/// The window starts hidden (`visible: false` in tauri.conf.json) and is shown once its page
/// has loaded. Shown at once, its first draw came while the web process was still starting the
/// page: WebKitGTK's draw then waits, on the main thread, up to 500 ms for a frame the web
/// process cannot send yet (seen in an off-CPU trace of a launch with 10,000 endpoints: a
/// 500 ms timed wait under `gtk_container_propagate_draw`), and the page's navigation waited
/// behind it.
fn show_once(handle: &tauri::AppHandle) {
    static SHOWN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SHOWN.swap(true, std::sync::atomic::Ordering::SeqCst) {
        startup::mark("window:shown");
        show_main(handle);
    }
}

/// Shows and focuses the main window (second launch, tray "Open").
pub(crate) fn show_main(handle: &tauri::AppHandle) {
    if let Some(w) = handle.get_webview_window("main") {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
    }
}
