//! App settings, in `settings.json` beside the database.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What the Settings view changes.
#[derive(Debug, Clone, Serialize, Deserialize, TS, PartialEq, Eq)]
#[serde(default)]
pub struct AppSettings {
    /// Desktop notifications on Down and recovery.
    pub notifications: bool,
    /// Closing the window keeps monitoring from the tray.
    pub keep_running_in_tray: bool,
    /// Days of history kept.
    pub retention_days: u32,
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            notifications: true,
            keep_running_in_tray: true,
            retention_days: 30,
        }
    }
}

pub struct Settings {
    path: PathBuf,
    current: Mutex<AppSettings>,
}

impl Settings {
    /// Reads the settings at `path`; missing or unreadable means the defaults.
    pub fn load(path: PathBuf) -> Settings {
        let current = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Settings {
            path,
            current: Mutex::new(current),
        }
    }

    pub fn get(&self) -> AppSettings {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set(&self, s: AppSettings) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&s).map_err(std::io::Error::other)?;
        std::fs::write(&self.path, text)?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = s;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_a_restart_and_missing_ones_are_defaults() {
        let dir = std::env::temp_dir().join(format!("heartline-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("settings.json");
        let _ = std::fs::remove_file(&path);
        assert_eq!(Settings::load(path.clone()).get(), AppSettings::default());
        let changed = AppSettings {
            notifications: false,
            ..AppSettings::default()
        };
        Settings::load(path.clone())
            .set(changed.clone())
            .expect("save");
        assert_eq!(Settings::load(path).get(), changed);
        let _ = std::fs::remove_dir_all(dir);
    }
}
