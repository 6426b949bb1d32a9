//! Exported files on the desktop. The export itself is the monitor's (`Monitor::export`,
//! heartline-monitor/src/export.rs): the save dialog lives in the UI and the command passes
//! the chosen path. This module hands a file this session exported, and no other
//! (`Monitor::exported_file` decides), to the desktop to open or show in its folder.

use heartline_monitor::Monitor;

use crate::convert::IpcResult;
use crate::dto::{ErrorCode, IpcError};

/// Opens an exported file with the desktop's default program for it, or (`reveal`) shows it
/// in its folder; says so when the desktop has no program for it.
pub fn open(monitor: &Monitor, path: &str, reveal: bool) -> IpcResult<()> {
    let path = monitor.exported_file(path)?;
    let opened = if reveal {
        tauri_plugin_opener::reveal_item_in_dir(&path)
    } else {
        tauri_plugin_opener::open_path(&path, None::<&str>)
    };
    opened.map_err(|e| {
        IpcError::new(
            ErrorCode::Export,
            format!(
                "the desktop could not {} {}: {e}",
                if reveal { "show" } else { "open" },
                path.display()
            ),
        )
    })
}
