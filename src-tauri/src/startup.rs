//! Wall-clock marks of the app's start-up: the app's own (`mark`) and the page's, which it
//! sends once the first overview is on screen (`page_marks`). The log says how long the first
//! overview took (info) and lists every mark (debug, target `heartline_app::startup`): that is
//! how `ui/e2e/bench.mjs` times a launch without WebDriver in the way. The bench also reads
//! them with the `startup_marks` command beside the process start.
//! Each name is kept the first time only; marking costs a clock read and a short lock.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::dto::StartupMark;

static MARKS: Mutex<Vec<StartupMark>> = Mutex::new(Vec::new());

/// The page's mark set once the first overview (every endpoint with its state) is painted.
pub const PAGE_OVERVIEW: &str = "page:heartline:overview";
/// The app's first mark, in `main`.
const MAIN: &str = "main";

/// Records `name` now (milliseconds since the Unix epoch) unless it was recorded before.
pub fn mark(name: &'static str) {
    let at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);
    record(name.to_owned(), at_ms);
}

/// At most this many marks are kept (the app's and the page's together).
const MAX_MARKS: usize = 256;

/// Keeps `name` at `at_ms` unless a mark of that name was kept before (or `MAX_MARKS` are);
/// whether it was kept.
fn record(name: String, at_ms: f64) -> bool {
    let Ok(mut marks) = MARKS.lock() else {
        return false;
    };
    if marks.len() >= MAX_MARKS || marks.iter().any(|m| m.name == name) {
        return false;
    }
    marks.push(StartupMark { name, at_ms });
    true
}

/// Every mark so far, in the order they were recorded.
pub fn marks() -> Vec<StartupMark> {
    MARKS.lock().map(|m| m.clone()).unwrap_or_default()
}

/// Keeps the page's marks (named `page:` + the page's name; the page's text is not trusted:
/// names are cut to 64 characters of `[A-Za-z0-9:_-]`, times must be finite) and writes the
/// start-up to the log: the first time the first overview is among them, how long it took
/// since `main` (info), and every mark so far on each call (debug).
pub fn page_marks(page: Vec<StartupMark>) {
    let mut overview_now = false;
    for m in page.into_iter().take(64) {
        if !m.at_ms.is_finite() {
            continue;
        }
        let name: String = m
            .name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-'))
            .take(64)
            .collect();
        let name = format!("page:{name}");
        let is_overview = name == PAGE_OVERVIEW;
        if record(name, m.at_ms) && is_overview {
            overview_now = true;
        }
    }
    let all = marks();
    if overview_now {
        if let Some(ms) = since(&all, MAIN, PAGE_OVERVIEW) {
            tracing::info!("the first overview was on screen {ms:.0} ms after the app started");
        }
    }
    tracing::debug!(target: "heartline_app::startup", "startup marks: {}", line(&all));
}

/// Milliseconds from mark `from` to mark `to`, if both exist.
fn since(marks: &[StartupMark], from: &str, to: &str) -> Option<f64> {
    let at = |n: &str| marks.iter().find(|m| m.name == n).map(|m| m.at_ms);
    Some(at(to)? - at(from)?)
}

/// `name=epoch-ms` for every mark, space-separated, in the order recorded.
fn line(marks: &[StartupMark]) -> String {
    let mut out = String::new();
    for m in marks {
        let _ = write!(
            out,
            "{}{}={:.1}",
            if out.is_empty() { "" } else { " " },
            m.name,
            m.at_ms
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_kept_once_in_order() {
        mark("test:a");
        mark("test:b");
        mark("test:a");
        let names: Vec<String> = marks()
            .into_iter()
            .map(|m| m.name)
            .filter(|n| n.starts_with("test:"))
            .collect();
        assert_eq!(names, ["test:a", "test:b"]);
    }

    #[test]
    fn page_marks_are_prefixed_cleaned_and_kept_once() {
        let page = |name: &str, at_ms: f64| StartupMark {
            name: name.to_owned(),
            at_ms,
        };
        page_marks(vec![
            page("test-page:one", 10.0),
            page("test-page:\u{1b}[31mred\n", 11.0),
            page("test-page:nan", f64::NAN),
        ]);
        page_marks(vec![page("test-page:one", 99.0)]);
        let kept: Vec<(String, f64)> = marks()
            .into_iter()
            .filter(|m| m.name.starts_with("page:test-page:"))
            .map(|m| (m.name, m.at_ms))
            .collect();
        assert_eq!(
            kept,
            [
                ("page:test-page:one".to_owned(), 10.0),
                ("page:test-page:31mred".to_owned(), 11.0)
            ]
        );
    }

    #[test]
    fn the_log_line_lists_names_and_times() {
        let m = |name: &str, at_ms: f64| StartupMark {
            name: name.to_owned(),
            at_ms,
        };
        let marks = [m("main", 1000.0), m(PAGE_OVERVIEW, 1812.25)];
        assert_eq!(line(&marks), "main=1000.0 page:heartline:overview=1812.2");
        assert_eq!(since(&marks, "main", PAGE_OVERVIEW), Some(812.25));
        assert_eq!(since(&marks, "main", "page:missing"), None);
    }
}
