//! Settings of the main window's webview that Tauri does not expose.

/// Linux (WebKitGTK): no hardware-accelerated compositing. Heartline's pages are text, a
/// list of fixed rows and small canvas charts: painted directly, a change repaints the rows
/// it touched; composited, every update also goes through a GL compositing pass, which on
/// machines without a usable GPU (virtual machines, remote desktops, Xvfb) is software GL
/// (llvmpipe) on the CPU. Measured with 1 000 endpoints at one heartbeat a second
/// (BENCHMARKS.md, "Desktop app"): the web process used 13.8 % of a core composited and
/// about 4 % without, and 100 MiB less memory, and the first overview paints sooner.
#[cfg(target_os = "linux")]
pub fn tune(window: &tauri::WebviewWindow) {
    let done = window.with_webview(|w| {
        use webkit2gtk::{HardwareAccelerationPolicy, SettingsExt, WebViewExt};
        if let Some(settings) = WebViewExt::settings(&w.inner()) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
    if let Err(err) = done {
        tracing::warn!(%err, "cannot tune the webview");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn tune(_window: &tauri::WebviewWindow) {}
