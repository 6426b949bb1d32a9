//! State shared by all connections of one lab: the record log and counters.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::LabRecord;

/// How many records [`Shared::record`] keeps.
pub(crate) const LOG_CAPACITY: usize = 10_000;
/// Received text is cut to this many bytes (on a character boundary) in the log.
pub(crate) const TEXT_LOG_LIMIT: usize = 1024;

pub(crate) struct Shared {
    /// When the lab started; `/flap` windows are measured from here.
    pub(crate) started: Instant,
    next_conn: AtomicU64,
    open: AtomicUsize,
    log: Mutex<VecDeque<LabRecord>>,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            started: Instant::now(),
            next_conn: AtomicU64::new(1),
            open: AtomicUsize::new(0),
            log: Mutex::new(VecDeque::new()),
        }
    }

    /// A fresh connection number.
    pub(crate) fn next_conn(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn record(&self, record: LabRecord) {
        let mut log = self.lock_log();
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(record);
    }

    pub(crate) fn log_snapshot(&self) -> Vec<LabRecord> {
        self.lock_log().iter().cloned().collect()
    }

    pub(crate) fn open_sessions(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Counts a WebSocket session as open until the returned guard is dropped, which also
    /// records [`LabRecord::Ended`].
    pub(crate) fn open_session(&self, conn: u64) -> SessionGuard<'_> {
        self.open.fetch_add(1, Ordering::Relaxed);
        SessionGuard { shared: self, conn }
    }

    fn lock_log(&self) -> MutexGuard<'_, VecDeque<LabRecord>> {
        // A panic while holding the lock cannot leave the deque inconsistent; keep going.
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) struct SessionGuard<'a> {
    shared: &'a Shared,
    conn: u64,
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::Relaxed);
        self.shared.record(LabRecord::Ended { conn: self.conn });
    }
}

/// `text` cut to at most `TEXT_LOG_LIMIT` bytes without splitting a character.
pub(crate) fn truncate_text(text: &str) -> String {
    if text.len() <= TEXT_LOG_LIMIT {
        return text.to_owned();
    }
    let mut end = TEXT_LOG_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_is_bounded() {
        let shared = Shared::new();
        for conn in 0..(LOG_CAPACITY as u64 + 5) {
            shared.record(LabRecord::Ping { conn });
        }
        let log = shared.log_snapshot();
        assert_eq!(log.len(), LOG_CAPACITY);
        assert_eq!(log[0], LabRecord::Ping { conn: 5 });
    }

    #[test]
    fn sessions_are_counted_and_end_is_logged() {
        let shared = Shared::new();
        let guard = shared.open_session(7);
        assert_eq!(shared.open_sessions(), 1);
        drop(guard);
        assert_eq!(shared.open_sessions(), 0);
        assert_eq!(shared.log_snapshot(), vec![LabRecord::Ended { conn: 7 }]);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate_text("short"), "short");
        let long = "é".repeat(600); // 1200 bytes
        let cut = truncate_text(&long);
        assert_eq!(cut.len(), 1024);
        assert!(cut.chars().all(|c| c == 'é'));
        let odd = format!("a{}", "é".repeat(600));
        assert_eq!(truncate_text(&odd).len(), 1023);
    }
}
