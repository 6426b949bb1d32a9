//! The tray icon: the worst state (`Monitor::worst_state`) as its colour, a tooltip naming the endpoints in trouble
//! and their causes (and the same lines atop the menu, for Linux trays, which show no
//! tooltip), and a menu (open, pause all, quit). Monitoring continues while the window
//! is hidden.
//!
//! Boundary: the tooltip names the endpoints in trouble and the causes of their incidents,
//! which quote what servers sent; its text is built, escaped and bounded by
//! `heartline_monitor::alerts::tooltip` (through `Monitor::tray_tooltip`), never here.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use heartline_core::State;

use crate::app::App;

const ID: &str = "main";
const SIZE: u32 = 32;

/// The menu: the status lines first (disabled items: Linux trays show no tooltip, so this is
/// where the endpoints in trouble and their causes can be read), then the actions.
fn menu(handle: &AppHandle, status: &[String]) -> tauri::Result<Menu<tauri::Wry>> {
    let menu = Menu::new(handle)?;
    for (i, line) in status.iter().enumerate() {
        menu.append(&MenuItem::with_id(
            handle,
            format!("status-{i}"),
            line,
            false,
            None::<&str>,
        )?)?;
    }
    if !status.is_empty() {
        menu.append(&PredefinedMenuItem::separator(handle)?)?;
    }
    for (id, label) in [
        ("open", "Open Heartline"),
        ("pause_all", "Pause all"),
        ("quit", "Quit"),
    ] {
        menu.append(&MenuItem::with_id(handle, id, label, true, None::<&str>)?)?;
    }
    Ok(menu)
}

pub fn build(handle: &AppHandle) -> tauri::Result<()> {
    let menu = menu(handle, &[])?;
    TrayIconBuilder::with_id(ID)
        .icon(dot(None))
        .tooltip("Heartline")
        .menu(&menu)
        .on_menu_event(|handle, event| match event.id.as_ref() {
            "open" => crate::show_main(handle),
            "pause_all" => {
                let handle = handle.clone();
                tauri::async_runtime::spawn(async move {
                    if let Err(err) = handle.state::<App>().monitor.pause_all().await {
                        tracing::warn!(%err, "cannot pause every endpoint");
                    }
                });
            }
            "quit" => handle.exit(0),
            _ => {}
        })
        .build(handle)?;
    Ok(())
}

/// How long after the window the tray icon is set up: building it (the status-notifier
/// registration over D-Bus, the menu) runs on the main thread, which at start-up is better
/// spent on the window's first page load and the first overview.
pub const BUILD_AFTER: std::time::Duration = std::time::Duration::from_millis(1500);

/// Builds the tray icon on the main thread [`BUILD_AFTER`] from now.
pub fn build_soon(handle: &AppHandle) {
    let handle = handle.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(BUILD_AFTER).await;
        let main = handle.clone();
        let _ = handle.run_on_main_thread(move || {
            if let Err(err) = build(&main) {
                tracing::warn!(%err, "no tray icon on this desktop");
            }
        });
    });
}

pub fn available(handle: &AppHandle) -> bool {
    handle.tray_by_id(ID).is_some()
}

/// What the tray shows now, so that a refresh only touches what changed: setting the icon
/// re-encodes and re-writes its PNG (and the desktop redraws it), which at a status delta a
/// second was a steady cost for a colour that rarely changes.
#[derive(Debug, Default)]
pub struct Shown {
    icon: Option<Option<State>>,
    tooltip: Option<String>,
}

impl Shown {
    /// Records the new icon state and tooltip; returns which of the two differ from what is
    /// shown (both the first time).
    pub fn update(&mut self, worst: Option<State>, tooltip: String) -> (bool, Option<String>) {
        let icon = self.icon != Some(worst);
        self.icon = Some(worst);
        if self.tooltip.as_deref() == Some(tooltip.as_str()) {
            return (icon, None);
        }
        self.tooltip = Some(tooltip.clone());
        (icon, Some(tooltip))
    }
}

static SHOWN: std::sync::Mutex<Shown> = std::sync::Mutex::new(Shown {
    icon: None,
    tooltip: None,
});

/// Refreshes the icon colour and tooltip from the live statuses, each only when it changed.
pub fn refresh(handle: &AppHandle) {
    let Some(tray) = handle.tray_by_id(ID) else {
        return;
    };
    let monitor = &handle.state::<App>().monitor;
    let worst = monitor.worst_state();
    let (tooltip, lines) = monitor.tray_status();
    let Ok((icon, tooltip)) = SHOWN.lock().map(|mut s| s.update(worst, tooltip)) else {
        return;
    };
    if icon {
        let _ = tray.set_icon(Some(dot(worst)));
    }
    if let Some(text) = tooltip {
        // The menu's status lines change exactly when the tooltip does.
        match menu(handle, &lines) {
            Ok(m) => {
                let _ = tray.set_menu(Some(m));
            }
            Err(err) => tracing::warn!(%err, "cannot refresh the tray menu"),
        }
        let _ = tray.set_tooltip(Some(text));
    }
}

/// A filled circle in the state's colour (the one palette, `heartline_monitor::palette`).
fn dot(state: Option<State>) -> Image<'static> {
    let heartline_monitor::palette::Rgb(r, g, b) =
        heartline_monitor::palette::state(state.unwrap_or(State::Paused));
    let mut rgba = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    let c = (SIZE as f32 - 1.0) / 2.0;
    for y in 0..SIZE {
        for x in 0..SIZE {
            let d = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2)).sqrt();
            let a = if d <= c - 1.0 { 255 } else { 0 };
            rgba.extend_from_slice(&[r, g, b, a]);
        }
    }
    Image::new_owned(rgba, SIZE, SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_icon_and_tooltip_are_set_only_when_they_change() {
        let mut shown = Shown::default();
        let t = |s: &str| s.to_owned();
        assert_eq!(shown.update(None, t("a")), (true, Some(t("a"))));
        assert_eq!(shown.update(None, t("a")), (false, None));
        assert_eq!(shown.update(Some(State::Up), t("a")), (true, None));
        assert_eq!(shown.update(Some(State::Up), t("b")), (false, Some(t("b"))));
        assert_eq!(shown.update(Some(State::Up), t("b")), (false, None));
    }
}
