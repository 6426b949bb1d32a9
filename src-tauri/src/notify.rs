//! Desktop notifications when an endpoint goes Down or Unstable (naming the cause of its open
//! incident) and when it recovers; what is announced, and in what words, is
//! heartline-monitor's (`alerts.rs`).

use std::time::Instant;

use tauri::{AppHandle, Manager};
use tauri_plugin_notification::NotificationExt;

use heartline_monitor::alerts::{message, Notifier};

use crate::dto::StatusDelta;
use heartline_monitor::settings::Settings;

/// Announces the changes in `delta` (when notifications are on).
pub fn observe(handle: &AppHandle, delta: &StatusDelta) {
    let notifier = handle.state::<Notifier>();
    let enabled = handle.state::<Settings>().get().notifications;
    for s in &delta.statuses {
        let Some(change) = notifier.change(s.id, s.state, Instant::now()) else {
            continue;
        };
        if !enabled {
            continue;
        }
        let monitor = &handle.state::<crate::app::App>().monitor;
        let name = monitor.endpoint(s.id).map(|e| e.name).unwrap_or_default();
        let cause = monitor.open_cause(s.id);
        let (title, body) = message(change, &name, s, cause.as_deref());
        if let Err(err) = handle
            .notification()
            .builder()
            .title(title)
            .body(body)
            .show()
        {
            tracing::debug!(%err, "cannot show a desktop notification");
        }
    }
}
