//! Where events go. A trait only (no I/O): the probe's watches emit into it, and the store's
//! recorder and the metrics implement it, so neither depends on the probe to receive events.

use crate::event::Event;

/// Where a watched endpoint's events go. Must not block: the engine calls its observers in
/// the session's own task.
pub trait Sink: Send + Sync {
    fn emit(&self, event: Event);
}

impl<F: Fn(Event) + Send + Sync> Sink for F {
    fn emit(&self, event: Event) {
        self(event)
    }
}
