//! The desktop app's settings, in `settings.json` beside the database: what they hold, their
//! defaults, how they are kept, and applying a change ([`Monitor::apply_settings`]). A shell
//! holds a [`Settings`] and reads it; nothing here knows the shell.

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use heartline_core::{ConfigErrors, Endpoint};

use crate::{EndpointForm, Error, Monitor, Result};

/// What the Settings view changes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct AppSettings {
    /// Desktop notifications on Down and recovery.
    pub notifications: bool,
    /// Closing the window keeps monitoring from the tray.
    pub keep_running_in_tray: bool,
    /// Days of history kept.
    pub retention_days: u32,
    /// What the add form starts from.
    pub endpoint_defaults: EndpointDefaults,
    /// Serve Prometheus metrics (the agent's `/metrics`) on this address, e.g.
    /// `127.0.0.1:9464`; `null`: off (the default).
    pub metrics_address: Option<String>,
}

/// The address of the metrics setting, or why it is not one.
pub fn metrics_address(text: &str) -> std::result::Result<std::net::SocketAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("`{text}` is not an address like 127.0.0.1:9464"))
}

/// The policies a new endpoint starts with (durations in milliseconds, as in the form).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct EndpointDefaults {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub ping_interval_ms: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub pong_timeout_ms: u64,
    pub misses_allowed: u32,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub handshake_timeout_ms: u64,
    pub reconnect_enabled: bool,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub reconnect_initial_ms: u64,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub reconnect_cap_ms: u64,
    pub max_attempts: Option<u32>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub degraded_rtt_ms: Option<u64>,
    pub failures_before_down: u32,
    pub successes_before_up: u32,
}

impl Default for EndpointDefaults {
    /// Heartline's own defaults (those of `Endpoint::new`).
    fn default() -> Self {
        let f = EndpointForm::of(&Endpoint::new("", "wss://"));
        EndpointDefaults {
            ping_interval_ms: f.ping_interval_ms,
            pong_timeout_ms: f.pong_timeout_ms,
            misses_allowed: f.misses_allowed,
            handshake_timeout_ms: f.handshake_timeout_ms,
            reconnect_enabled: f.reconnect_enabled,
            reconnect_initial_ms: f.reconnect_initial_ms,
            reconnect_cap_ms: f.reconnect_cap_ms,
            max_attempts: f.max_attempts,
            degraded_rtt_ms: f.degraded_rtt_ms,
            failures_before_down: f.failures_before_down,
            successes_before_up: f.successes_before_up,
        }
    }
}

impl EndpointDefaults {
    /// The add form of a new endpoint with these policies.
    pub fn new_form(&self) -> EndpointForm {
        let mut f = EndpointForm::of(&Endpoint::new("", "wss://"));
        f.ping_interval_ms = self.ping_interval_ms;
        f.pong_timeout_ms = self.pong_timeout_ms;
        f.misses_allowed = self.misses_allowed;
        f.handshake_timeout_ms = self.handshake_timeout_ms;
        f.reconnect_enabled = self.reconnect_enabled;
        f.reconnect_initial_ms = self.reconnect_initial_ms;
        f.reconnect_cap_ms = self.reconnect_cap_ms;
        f.max_attempts = self.max_attempts;
        f.degraded_rtt_ms = self.degraded_rtt_ms;
        f.failures_before_down = self.failures_before_down;
        f.successes_before_up = self.successes_before_up;
        f
    }

    /// Every problem these policies would give an endpoint, as the form names the fields.
    pub fn validate(&self) -> std::result::Result<(), ConfigErrors> {
        let mut form = self.new_form();
        form.name = "defaults".into();
        form.url = "wss://example.com/".into();
        form.endpoint(None).validate()
    }
}

impl Default for AppSettings {
    fn default() -> Self {
        AppSettings {
            notifications: true,
            keep_running_in_tray: true,
            retention_days: 30,
            endpoint_defaults: EndpointDefaults::default(),
            metrics_address: None,
        }
    }
}

/// The settings as they stand, and the file they are kept in.
#[derive(Debug)]
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

impl Monitor {
    /// Checks and saves new settings; a changed metrics address starts, moves or stops
    /// `/metrics` now. Nothing is saved when the defaults or the address are invalid.
    pub async fn apply_settings(&self, settings: &Settings, value: AppSettings) -> Result<()> {
        value
            .endpoint_defaults
            .validate()
            .map_err(Error::Defaults)?;
        let metrics = match value.metrics_address.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                metrics_address(text)
                    .map_err(|message| Error::Request(format!("metrics address: {message}")))?,
            ),
        };
        let changed = settings.get().metrics_address != value.metrics_address;
        let stopped = metrics.is_some() && self.metrics_address().is_none();
        if changed || stopped {
            match metrics {
                Some(addr) => {
                    self.serve_metrics(addr).await?;
                }
                None => self.stop_metrics(),
            }
        }
        settings.set(value).map_err(Error::Settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldProblem;

    #[test]
    fn metrics_are_off_by_default_and_a_bad_address_is_named() {
        assert_eq!(AppSettings::default().metrics_address, None);
        assert_eq!(
            metrics_address(" 127.0.0.1:9464 ").map(|a| a.port()),
            Ok(9464)
        );
        let err = metrics_address("localhost").expect_err("not an address");
        assert!(err.contains("`localhost`"), "{err}");
    }

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
        assert_eq!(Settings::load(path.clone()).get(), changed);
        // A file from before endpoint defaults existed reads with Heartline's own.
        std::fs::write(&path, r#"{"notifications": false}"#).expect("old file");
        assert_eq!(Settings::load(path).get(), changed);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_add_form_starts_from_the_defaults_and_bad_ones_are_named() {
        let defaults = EndpointDefaults {
            ping_interval_ms: 5_000,
            pong_timeout_ms: 2_000,
            max_attempts: Some(7),
            ..EndpointDefaults::default()
        };
        assert_eq!(defaults.validate(), Ok(()));
        let form = defaults.new_form();
        assert_eq!(
            (
                form.ping_interval_ms,
                form.pong_timeout_ms,
                form.max_attempts
            ),
            (5_000, 2_000, Some(7))
        );
        assert_eq!(form.url, "wss://");
        assert_eq!(EndpointDefaults::default().validate(), Ok(()));

        let bad = EndpointDefaults {
            pong_timeout_ms: 9_000,
            ping_interval_ms: 5_000,
            ..EndpointDefaults::default()
        };
        let problems = FieldProblem::list(bad.validate());
        assert!(
            problems.iter().any(|p| p.field.contains("pong_timeout")),
            "{problems:?}"
        );
    }
}
