//! The tray icon: the aggregate state as its colour and tooltip, and a menu (open, pause all,
//! quit). Monitoring continues while the window is hidden.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

use heartline_core::State;

use crate::app::App;

const ID: &str = "main";
const SIZE: u32 = 32;

pub fn build(handle: &AppHandle) -> tauri::Result<()> {
    let open = MenuItem::with_id(handle, "open", "Open Heartline", true, None::<&str>)?;
    let pause = MenuItem::with_id(handle, "pause_all", "Pause all", true, None::<&str>)?;
    let quit = MenuItem::with_id(handle, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(handle, &[&open, &pause, &quit])?;
    TrayIconBuilder::with_id(ID)
        .icon(dot(aggregate(&[])))
        .tooltip("Heartline")
        .menu(&menu)
        .on_menu_event(|handle, event| match event.id.as_ref() {
            "open" => crate::show_main(handle),
            "pause_all" => {
                let handle = handle.clone();
                tauri::async_runtime::spawn(async move {
                    let app = handle.state::<App>();
                    for (id, _) in app.engine.endpoints() {
                        let _ = app.engine.pause(id).await;
                        let _ = app.store.set_paused(id, true).await;
                    }
                });
            }
            "quit" => handle.exit(0),
            _ => {}
        })
        .build(handle)?;
    Ok(())
}

pub fn available(handle: &AppHandle) -> bool {
    handle.tray_by_id(ID).is_some()
}

/// The worst state among `states` (Down before Degraded before Connecting before Up).
pub fn aggregate(states: &[State]) -> Option<State> {
    let rank = |s: &State| match s {
        State::Down => 4,
        State::Degraded => 3,
        State::Connecting => 2,
        State::Up => 1,
        State::Paused => 0,
    };
    states.iter().copied().max_by_key(rank)
}

/// Refreshes the icon colour and tooltip from the live statuses.
pub fn refresh(handle: &AppHandle) {
    let Some(tray) = handle.tray_by_id(ID) else {
        return;
    };
    let states: Vec<State> = handle
        .state::<App>()
        .engine
        .statuses()
        .into_iter()
        .map(|(_, s)| s.state)
        .collect();
    let count = |st: State| states.iter().filter(|s| **s == st).count();
    let worst = aggregate(&states);
    let _ = tray.set_icon(Some(dot(worst)));
    let _ = tray.set_tooltip(Some(format!(
        "Heartline: {} up, {} degraded, {} down",
        count(State::Up),
        count(State::Degraded),
        count(State::Down)
    )));
}

/// A filled circle in the state's colour (the palette of ui/src/lib/palette.ts).
fn dot(state: Option<State>) -> Image<'static> {
    let (r, g, b) = match state {
        Some(State::Up) => (0x16, 0xa3, 0x4a),
        Some(State::Degraded) => (0xd9, 0x77, 0x06),
        Some(State::Down) => (0xdc, 0x26, 0x26),
        Some(State::Connecting) => (0x25, 0x63, 0xeb),
        Some(State::Paused) | None => (0x6b, 0x72, 0x80),
    };
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
    fn the_tray_shows_the_worst_state() {
        assert_eq!(aggregate(&[]), None);
        assert_eq!(aggregate(&[State::Up, State::Paused]), Some(State::Up));
        assert_eq!(
            aggregate(&[State::Up, State::Down, State::Degraded]),
            Some(State::Down)
        );
    }
}
