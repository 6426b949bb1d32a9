//! Wall-clock marks of the app's start-up, for `ui/e2e/bench.mjs` (which reads them with the
//! `startup_marks` command and puts them beside the process start and the page's own marks).
//! Each name is kept the first time only; marking costs a clock read and a short lock.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::dto::StartupMark;

static MARKS: Mutex<Vec<StartupMark>> = Mutex::new(Vec::new());

/// Records `name` now (milliseconds since the Unix epoch) unless it was recorded before.
pub fn mark(name: &'static str) {
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);
    if let Ok(mut marks) = MARKS.lock() {
        if !marks.iter().any(|m| m.name == name) {
            marks.push(StartupMark {
                name: name.to_owned(),
                at_ms,
            });
        }
    }
}

/// Every mark so far, in the order they were recorded.
pub fn marks() -> Vec<StartupMark> {
    MARKS.lock().map(|m| m.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_mark_is_kept_once_in_order() {
        super::mark("test:a");
        super::mark("test:b");
        super::mark("test:a");
        let names: Vec<String> = super::marks()
            .into_iter()
            .map(|m| m.name)
            .filter(|n| n.starts_with("test:"))
            .collect();
        assert_eq!(names, ["test:a", "test:b"]);
    }
}
