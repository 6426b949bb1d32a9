//! Which changes of state a person is told about, and in what words: an endpoint going Down
//! and recovering. Debounced twice: the health thresholds already require consecutive
//! failures before Down, and one endpoint is announced at most once per [`QUIET`] for each
//! kind of change. Pure: the caller passes the time in; showing it is the shell's (desktop
//! notifications in the app).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use heartline_core::escape_controls;
use heartline_core::untrusted::bound;

use crate::view::{LiveStatus, StateName};

pub const QUIET: Duration = Duration::from_secs(60);

/// Longest endpoint name in a notification's title, and longest body, in bytes after
/// escaping: a desktop shows a couple of lines, and the body quotes what a server sent.
pub const MAX_TITLE_NAME: usize = 120;
pub const MAX_BODY: usize = 256;

/// What the notifier remembers per endpoint.
#[derive(Debug, Default)]
pub struct Notifier {
    last: Mutex<HashMap<u64, Memory>>,
}

#[derive(Debug, Clone, Copy)]
struct Memory {
    state: StateName,
    /// When a Down was last announced.
    told_down: Option<Instant>,
    /// The current Down was announced, so its recovery will be too.
    down_announced: bool,
}

/// A change worth telling someone about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Down,
    Recovered,
}

impl Notifier {
    /// The change `state` makes for endpoint `id`, if it should be announced now. A Down
    /// within [`QUIET`] of the last announced one is not announced, nor is its recovery.
    pub fn change(&self, id: u64, state: StateName, now: Instant) -> Option<Change> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let m = last.entry(id).or_insert(Memory {
            state,
            told_down: None,
            down_announced: false,
        });
        let before = m.state;
        m.state = state;
        match (before, state) {
            (b, StateName::Down) if b != StateName::Down => {
                let quiet = m.told_down.is_some_and(|t| now.duration_since(t) < QUIET);
                m.down_announced = !quiet;
                if quiet {
                    return None;
                }
                m.told_down = Some(now);
                Some(Change::Down)
            }
            (StateName::Down, StateName::Up) => {
                std::mem::take(&mut m.down_announced).then_some(Change::Recovered)
            }
            _ => None,
        }
    }
}

/// The title and body announcing `change` of the endpoint called `name`. The body of a Down
/// quotes the last failure (a server's status line or a network error): it and the name are
/// shown with control characters escaped and bounded ([`MAX_TITLE_NAME`], [`MAX_BODY`]), so
/// what a server sent cannot break lines, reorder text or fill the screen. The body is also
/// markup-escaped: freedesktop notification servers read `<a href>`, `<img>` and `<b>` in a
/// body, and a server's text must not become a link or an image there.
pub fn message(change: Change, name: &str, s: &LiveStatus) -> (String, String) {
    let name = bound(&escape_controls(name), MAX_TITLE_NAME).into_owned();
    match change {
        Change::Down => {
            let body = match &s.last_failure {
                Some(failure) => body_text(failure),
                None => s
                    .last_close
                    .as_ref()
                    .map(|c| format!("closed with {} ({})", c.code, c.meaning))
                    .unwrap_or_default(),
            };
            (format!("{name} is down"), body)
        }
        Change::Recovered => (format!("{name} recovered"), "back up".to_owned()),
    }
}

/// Outside text for a notification body: controls escaped, markup escaped, bounded; a cut
/// that falls inside an entity drops the partial entity rather than leave `&am…`.
fn body_text(text: &str) -> String {
    let escaped = markup_escape(&escape_controls(text));
    let cut = bound(&escaped, MAX_BODY);
    if let Some(kept) = cut.strip_suffix('…') {
        if let Some(amp) = kept.rfind('&') {
            if !kept[amp..].contains(';') {
                return format!("{}…", &kept[..amp]);
            }
        }
    }
    cut.into_owned()
}

/// `&`, `<` and `>` as entities (the subset of XML the notification spec's markup uses).
fn markup_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(last_failure: Option<String>) -> LiveStatus {
        LiveStatus {
            id: 1,
            state: StateName::Down,
            since: None,
            rtt_us: None,
            app_rtt_us: None,
            last_close: None,
            last_failure,
            sessions: 0,
        }
    }

    #[test]
    fn server_markup_in_a_body_is_shown_as_text() {
        let hostile = r#"upgrade refused with HTTP 500: <a href="https://evil.example/">log in</a><img src="file:///etc/passwd"> & more"#;
        let (_, body) = message(Change::Down, "feed", &status(Some(hostile.to_owned())));
        assert!(!body.contains('<') && !body.contains('>'), "{body}");
        assert!(
            body.contains("&lt;a href=\"https://evil.example/\"&gt;log in&lt;/a&gt;"),
            "{body}"
        );
        assert!(body.ends_with("&amp; more"), "{body}");
        // A cut inside an entity does not leave half of it.
        let long = format!("{}<b>", "x".repeat(MAX_BODY - 2));
        let (_, body) = message(Change::Down, "feed", &status(Some(long)));
        assert!(body.ends_with("x…"), "{body}");
    }

    #[test]
    fn notifications_show_server_text_escaped_and_bounded() {
        let hostile = format!(
            "upgrade refused with HTTP 500: \u{1b}]0;pwned\u{7}\nforged\u{9b}{}",
            "y".repeat(1000)
        );
        let (title, body) = message(Change::Down, "feed \u{202e}exe.txt", &status(Some(hostile)));
        assert_eq!(title, r"feed \u{202e}exe.txt is down");
        assert!(
            body.starts_with(r"upgrade refused with HTTP 500: \x1b]0;pwned\x07\nforged\u{9b}yyy"),
            "{body}"
        );
        assert!(!body.chars().any(heartline_core::untrusted::is_unsafe_char));
        assert!(body.len() <= MAX_BODY + '…'.len_utf8() && body.ends_with('…'));

        let long_name = "n".repeat(500);
        let (title, body) = message(Change::Recovered, &long_name, &status(None));
        assert!(title.len() <= MAX_TITLE_NAME + '…'.len_utf8() + " recovered".len());
        assert_eq!(body, "back up");
    }

    #[test]
    fn down_and_recovery_are_announced_once_and_flapping_is_quieted() {
        let n = Notifier::default();
        let t = Instant::now();
        assert_eq!(n.change(1, StateName::Up, t), None);
        assert_eq!(n.change(1, StateName::Down, t), Some(Change::Down));
        assert_eq!(n.change(1, StateName::Down, t), None);
        assert_eq!(n.change(1, StateName::Up, t), Some(Change::Recovered));
        // Down again within the quiet period: neither it nor its recovery is announced.
        assert_eq!(
            n.change(1, StateName::Down, t + Duration::from_secs(5)),
            None
        );
        assert_eq!(n.change(1, StateName::Up, t + Duration::from_secs(6)), None);
        assert_eq!(
            n.change(1, StateName::Down, t + QUIET + Duration::from_secs(1)),
            Some(Change::Down)
        );
    }
}
