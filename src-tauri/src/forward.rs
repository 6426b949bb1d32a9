//! Engine events to the UI: the changed endpoints' statuses, coalesced to a few a second.
//! Invariant: the UI gets deltas, never history; a slow webview never stalls a session (the
//! engine's subscription drops for us and counts what it dropped).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tauri::{AppHandle, Emitter, Manager};

use heartline_engine::Delivery;

use crate::app::App;
use crate::dto::{StatusDelta, STATUS_EVENT};

/// How often at most the UI hears about changes.
pub const EVERY: Duration = Duration::from_millis(250);

/// Collects the ids of endpoints that changed between two flushes.
#[derive(Debug, Default)]
pub struct Coalescer {
    changed: HashSet<heartline_core::EndpointId>,
    missed: u64,
}

impl Coalescer {
    pub fn push(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::Event(e) => {
                self.changed.insert(e.endpoint);
            }
            Delivery::Missed(n) => self.missed += n,
        }
    }

    /// The changed ids (every endpoint when some events were missed) and the missed count;
    /// `None` when nothing changed.
    pub fn take(&mut self) -> Option<(HashSet<heartline_core::EndpointId>, u64)> {
        if self.changed.is_empty() && self.missed == 0 {
            return None;
        }
        let missed = std::mem::take(&mut self.missed);
        let mut changed = std::mem::take(&mut self.changed);
        if missed > 0 {
            changed.clear(); // empty = all
        }
        Some((changed, missed))
    }
}

/// Runs until the engine is gone.
pub async fn run(handle: AppHandle, engine: Arc<heartline_engine::Engine>) {
    let mut events = engine.subscribe();
    drop(engine);
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
                let delta = StatusDelta { statuses: crate::view::statuses(&app, &changed), missed };
                crate::notify::observe(&handle, &delta);
                crate::tray::refresh(&handle);
                if let Err(err) = handle.emit(STATUS_EVENT, &delta) {
                    tracing::debug!(%err, "no window to tell about status changes");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use heartline_core::{EndpointId, Event, EventKind, Timestamp};

    fn event(id: u64) -> Delivery {
        Delivery::Event(Event {
            at: Timestamp(0),
            endpoint: EndpointId(id),
            kind: EventKind::Connecting { attempt: 1 },
        })
    }

    #[test]
    fn many_events_of_one_endpoint_become_one_update() {
        let mut c = Coalescer::default();
        assert_eq!(c.take(), None);
        for _ in 0..100 {
            c.push(event(7));
        }
        c.push(event(8));
        let (changed, missed) = c.take().expect("changes");
        assert_eq!((changed.len(), missed), (2, 0));
        assert_eq!(c.take(), None);
    }

    #[test]
    fn missed_events_refresh_every_endpoint() {
        let mut c = Coalescer::default();
        c.push(event(7));
        c.push(Delivery::Missed(3));
        let (changed, missed) = c.take().expect("changes");
        assert!(changed.is_empty(), "empty means all");
        assert_eq!(missed, 3);
    }
}
