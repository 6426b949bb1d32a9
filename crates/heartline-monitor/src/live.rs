//! Live updates for a screen: the endpoints whose status changed, coalesced to a few a
//! second. Invariant: a screen gets deltas, never history; a slow one never stalls a session
//! (the engine's subscription drops for it and counts what it dropped).

use std::collections::HashSet;
use std::time::Duration;

use heartline_engine::Delivery;

/// How often at most the UI hears about changes of state (connects, closes, state changes).
pub const EVERY: Duration = Duration::from_millis(250);

/// Round-trip samples alone reach the UI once in this many flushes (once a second): with
/// 1 s heartbeats every endpoint has a new RTT every second, and redrawing a thousand rows
/// four times a second for numbers nobody can read that fast was most of the webview's CPU.
pub const RTT_EVERY_NTH: u32 = 4;

/// Collects the ids of endpoints that changed between two flushes.
#[derive(Debug, Default)]
pub struct Coalescer {
    /// Endpoints with something besides round trips to show: sent at the next flush.
    changed: HashSet<heartline_core::EndpointId>,
    /// Endpoints whose only news is round-trip samples: sent every [`RTT_EVERY_NTH`] flush.
    rtt_only: HashSet<heartline_core::EndpointId>,
    missed: u64,
    flushes: u32,
}

impl Coalescer {
    pub fn push(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::Event(e) => {
                if matches!(e.kind, heartline_core::EventKind::Rtt { .. }) {
                    if !self.changed.contains(&e.endpoint) {
                        self.rtt_only.insert(e.endpoint);
                    }
                } else {
                    self.rtt_only.remove(&e.endpoint);
                    self.changed.insert(e.endpoint);
                }
            }
            Delivery::Missed(n) => self.missed += n,
        }
    }

    /// At one flush: the changed ids (every endpoint when some events were missed) and the
    /// missed count; `None` when nothing is due.
    pub fn take(&mut self) -> Option<(HashSet<heartline_core::EndpointId>, u64)> {
        self.flushes = self.flushes.wrapping_add(1);
        if self.flushes % RTT_EVERY_NTH == 0 {
            self.changed.extend(self.rtt_only.drain());
        }
        if self.changed.is_empty() && self.missed == 0 {
            return None;
        }
        let missed = std::mem::take(&mut self.missed);
        let mut changed = std::mem::take(&mut self.changed);
        if missed > 0 {
            changed.clear(); // empty = all
            self.rtt_only.clear();
        }
        Some((changed, missed))
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

    fn rtt(id: u64) -> Delivery {
        Delivery::Event(Event {
            at: Timestamp(0),
            endpoint: EndpointId(id),
            kind: EventKind::Rtt {
                kind: heartline_core::PingKind::Protocol,
                rtt: std::time::Duration::from_micros(150),
            },
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
    fn round_trips_alone_wait_for_every_fourth_flush_other_news_does_not() {
        let mut c = Coalescer::default();
        c.push(rtt(1));
        c.push(rtt(2));
        c.push(event(3));
        // Flush 1: only the endpoint with a state-like change.
        let (changed, _) = c.take().expect("a connect is sent at once");
        assert_eq!(changed, HashSet::from([EndpointId(3)]));
        // An RTT endpoint that then gets other news goes out at the next flush, once.
        c.push(event(2));
        let (changed, _) = c.take().expect("flush 2");
        assert_eq!(changed, HashSet::from([EndpointId(2)]));
        assert_eq!(c.take(), None, "flush 3: round trips still held");
        let (changed, _) = c.take().expect("flush 4 carries the round trips");
        assert_eq!(changed, HashSet::from([EndpointId(1)]));
        assert_eq!(c.take(), None);
    }

    #[test]
    fn missed_events_refresh_every_endpoint() {
        let mut c = Coalescer::default();
        c.push(event(7));
        c.push(rtt(9));
        c.push(Delivery::Missed(3));
        let (changed, missed) = c.take().expect("changes");
        assert!(changed.is_empty(), "empty means all");
        assert_eq!(missed, 3);
        for _ in 0..RTT_EVERY_NTH {
            assert_eq!(
                c.take(),
                None,
                "the full refresh covered the held round trips"
            );
        }
    }
}
