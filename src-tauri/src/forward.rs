//! Monitor events to the UI: the changed endpoints' statuses, coalesced (by
//! `heartline_monitor::live::Coalescer`) to a few a second.
//! Invariant: the UI gets deltas, never history; a slow webview never stalls a session (the
//! engine's subscription drops for us and counts what it dropped). Deltas go to the page
//! once it has asked for its first overview (`App::page_listening`); notifications and the
//! tray follow every flush from the start.

use tauri::{AppHandle, Emitter, Manager};

use heartline_monitor::live::{Coalescer, EVERY};

use crate::app::App;
use crate::dto::{StatusDelta, STATUS_EVENT};

/// Runs until the engine is gone.
pub async fn run(handle: AppHandle, mut events: heartline_monitor::Subscription) {
    let mut coalescer = Coalescer::default();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            delivery = events.recv() => match delivery {
                Some(d) => coalescer.push(d),
                None => return,
            },
            _ = tick.tick() => {
                let Some((changed, missed)) = coalescer.take() else { continue };
                let app = handle.state::<App>();
                let delta = StatusDelta { statuses: app.monitor.statuses(&changed), missed };
                crate::notify::observe(&handle, &delta);
                crate::tray::refresh(&handle);
                if !app.page_listening.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                if let Err(err) = handle.emit(STATUS_EVENT, &delta) {
                    tracing::debug!(%err, "no window to tell about status changes");
                }
            }
        }
    }
}
