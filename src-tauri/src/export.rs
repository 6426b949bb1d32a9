//! Exported files on the desktop. The export itself is the monitor's (`Monitor::export`,
//! heartline-monitor/src/export.rs): the save dialog lives in the UI and the command passes
//! the chosen path. This module hands a file this session exported, and no other, to the
//! desktop to open or show in its folder.

use std::path::{Path, PathBuf};

use crate::convert::IpcResult;
use crate::dto::{ErrorCode, IpcError};

/// The files this session's exports wrote: the only paths [`open`] will hand to the desktop.
#[derive(Debug, Default)]
pub struct Exported(std::sync::Mutex<std::collections::HashSet<PathBuf>>);

impl Exported {
    pub fn remember(&self, path: &Path) {
        if let Ok(mut known) = self.0.lock() {
            known.insert(path.to_owned());
        }
    }

    fn knows(&self, path: &Path) -> bool {
        self.0.lock().is_ok_and(|known| known.contains(path))
    }
}

/// Opens an exported file with the desktop's default program for it, or (`reveal`) shows it
/// in its folder. Refuses any path this session did not export, and says so when the file has
/// gone since or the desktop has no program for it.
pub fn open(exported: &Exported, path: &str, reveal: bool) -> IpcResult<()> {
    let path = PathBuf::from(path);
    if !exported.knows(&path) {
        return Err(invalid(format!(
            "{} is not a file Heartline exported in this session",
            path.display()
        )));
    }
    if !path.is_file() {
        return Err(IpcError::new(
            ErrorCode::NotFound,
            format!(
                "{} is no longer there (moved or deleted since the export)",
                path.display()
            ),
        ));
    }
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

fn invalid(message: impl Into<String>) -> IpcError {
    IpcError::new(ErrorCode::Invalid, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);
    impl Dir {
        fn new(name: &str) -> Dir {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let dir = std::env::temp_dir().join(format!(
                "heartline-app-export-{name}-{}-{nanos}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            Dir(dir)
        }
        fn file(&self, name: &str) -> String {
            self.0.join(name).display().to_string()
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Only a file this session exported reaches the desktop, and one deleted since is named.
    /// (Opening a real one needs a desktop session: that path is left to the e2e's buttons.)
    #[test]
    fn only_files_this_session_exported_are_opened() {
        let dir = Dir::new("open");
        let exported = Exported::default();
        let path = dir.file("report.md");
        std::fs::write(&path, "# report").expect("write");
        for reveal in [false, true] {
            let refused = open(&exported, &path, reveal).expect_err("not exported");
            assert_eq!(refused.code, ErrorCode::Invalid);
            assert!(
                refused.message.contains("not a file Heartline exported"),
                "{}",
                refused.message
            );
        }
        exported.remember(Path::new(&path));
        std::fs::remove_file(&path).expect("remove");
        let gone = open(&exported, &path, false).expect_err("deleted");
        assert_eq!(gone.code, ErrorCode::NotFound);
        assert!(gone.message.contains("no longer there"), "{}", gone.message);
        let other = dir.file("other.md");
        std::fs::write(&other, "x").expect("write");
        assert_eq!(
            open(&exported, &other, true)
                .expect_err("another file")
                .code,
            ErrorCode::Invalid
        );
    }
}
