//! Which changes of state a person is told about, and in what words: an endpoint going Down,
//! becoming Unstable (its sessions keep dropping) and recovering, each naming the cause the
//! diagnosis found for the open incident; and the tray's tooltip, which names the endpoints in
//! trouble and their causes. Debounced twice: the health thresholds already require
//! consecutive failures before Down or Unstable, and one endpoint is announced at most once
//! per [`QUIET`] for each kind of change. Pure: the caller passes the time and the causes in;
//! showing it is the shell's (desktop notifications and the tray in the app).

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

/// Endpoints in trouble the tooltip names one per line; the rest are counted. A tooltip is a
/// glance, not a list.
pub const TOOLTIP_LINES: usize = 3;

/// Longest line of the tooltip naming one endpoint and its cause, in bytes after escaping.
pub const MAX_TOOLTIP_LINE: usize = 120;

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
    /// When an Unstable was last announced.
    told_unstable: Option<Instant>,
    /// The current trouble (Down or Unstable) was announced, so its recovery will be too.
    trouble_announced: bool,
}

/// A change worth telling someone about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Down,
    /// Sessions keep ending unexpectedly, even when every reconnect succeeds.
    Unstable,
    Recovered,
}

impl Notifier {
    /// The change `state` makes for endpoint `id`, if it should be announced now. A Down (or an
    /// Unstable) within [`QUIET`] of the last announced one of its kind is not announced, nor
    /// is the recovery from it. Going from Down to Unstable is no news (still in trouble, not
    /// recovered); from Unstable to Down is.
    pub fn change(&self, id: u64, state: StateName, now: Instant) -> Option<Change> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let m = last.entry(id).or_insert(Memory {
            state,
            told_down: None,
            told_unstable: None,
            trouble_announced: false,
        });
        let before = m.state;
        m.state = state;
        let troubled = |s: StateName| matches!(s, StateName::Down | StateName::Unstable);
        let (told, change) = match (before, state) {
            (b, StateName::Down) if b != StateName::Down => (&mut m.told_down, Change::Down),
            (b, StateName::Unstable) if !troubled(b) => (&mut m.told_unstable, Change::Unstable),
            (b, StateName::Up) if troubled(b) => {
                return std::mem::take(&mut m.trouble_announced).then_some(Change::Recovered);
            }
            _ => return None,
        };
        let quiet = told.is_some_and(|t| now.duration_since(t) < QUIET);
        if quiet {
            // Trouble that was announced and only changed its kind still owes its recovery.
            m.trouble_announced &= troubled(before);
            return None;
        }
        *told = Some(now);
        m.trouble_announced = true;
        Some(change)
    }
}

/// The title and body announcing `change` of the endpoint called `name`. The body of a Down
/// or an Unstable names the cause (`cause`: the title of the diagnosis finding that explains
/// the open incident) and quotes the last failure or close (a server's status line or a network
/// error): they and the name are shown with control characters escaped and bounded
/// ([`MAX_TITLE_NAME`], [`MAX_BODY`]), so what a server sent cannot break lines, reorder text
/// or fill the screen. The body is also markup-escaped: freedesktop notification servers read
/// `<a href>`, `<img>` and `<b>` in a body, and a server's text must not become a link or an
/// image there.
pub fn message(
    change: Change,
    name: &str,
    s: &LiveStatus,
    cause: Option<&str>,
) -> (String, String) {
    let name = bound(&escape_controls(name), MAX_TITLE_NAME).into_owned();
    let last = || match &s.last_failure {
        Some(failure) => Some(failure.clone()),
        None => s
            .last_close
            .as_ref()
            .map(|c| format!("closed with {} ({})", c.code, c.meaning)),
    };
    let with_cause = |fallback: Option<String>| {
        let text = match (cause, last()) {
            (Some(cause), Some(last)) => format!("Cause: {cause}. Last: {last}"),
            (Some(cause), None) => format!("Cause: {cause}"),
            (None, Some(last)) => fallback.map_or(last.clone(), |f| format!("{f}. Last: {last}")),
            (None, None) => fallback.unwrap_or_default(),
        };
        body_text(&text)
    };
    match change {
        Change::Down => (format!("{name} is down"), with_cause(None)),
        Change::Unstable => (
            format!("{name} keeps dropping"),
            with_cause(Some(
                "Sessions keep ending unexpectedly, even though reconnecting works".to_owned(),
            )),
        ),
        Change::Recovered => (format!("{name} recovered"), "back up".to_owned()),
    }
}

/// One endpoint as the tray's tooltip sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TrayEntry {
    pub name: String,
    pub state: StateName,
    /// The open incident's cause (a diagnosis finding's title), outside text.
    pub cause: Option<String>,
}

/// The tray's tooltip: how many endpoints are in each state that matters, then the endpoints
/// in trouble, worst first (Down, Unstable, Degraded; by name within a state), each with its
/// cause — at most [`TOOLTIP_LINES`], the rest counted. Names and causes are escaped (controls
/// and markup: a status-notifier host may read the tooltip as markup) and each line bounded.
pub fn tooltip(entries: &[TrayEntry]) -> String {
    let (header, lines, more) = tray_text(entries);
    let mut out = header;
    for line in &lines {
        out.push('\n');
        out.push_str(&bounded_markup(line, MAX_TOOLTIP_LINE));
    }
    if let Some(more) = more {
        out.push('\n');
        out.push_str(&more);
    }
    out
}

/// The tooltip's lines as menu items, for desktops whose tray shows no tooltip (Linux's
/// status notifiers): plain text (controls escaped, each line bounded), `&` doubled so the
/// menu does not read it as a mnemonic marker.
pub fn tray_menu_lines(entries: &[TrayEntry]) -> Vec<String> {
    let (header, lines, more) = tray_text(entries);
    std::iter::once(header)
        .chain(
            lines
                .iter()
                .map(|l| bound(&escape_controls(l), MAX_TOOLTIP_LINE).into_owned()),
        )
        .chain(more)
        .map(|l| l.replace('&', "&&"))
        .collect()
}

/// The counts line, the troubled endpoints' lines (raw: outside text not yet escaped) and the
/// "and N more" line.
fn tray_text(entries: &[TrayEntry]) -> (String, Vec<String>, Option<String>) {
    let count = |st: StateName| entries.iter().filter(|e| e.state == st).count();
    let mut counts = vec![format!("{} up", count(StateName::Up))];
    for (st, word) in [
        (StateName::Degraded, "degraded"),
        (StateName::Unstable, "unstable"),
        (StateName::Down, "down"),
    ] {
        let n = count(st);
        if n > 0 || st != StateName::Unstable {
            counts.push(format!("{n} {word}"));
        }
    }
    let header = format!("Heartline: {}", counts.join(", "));
    let rank = |st: StateName| match st {
        StateName::Down => 0,
        StateName::Unstable => 1,
        _ => 2,
    };
    let mut troubled: Vec<&TrayEntry> = entries
        .iter()
        .filter(|e| {
            matches!(
                e.state,
                StateName::Down | StateName::Unstable | StateName::Degraded
            )
        })
        .collect();
    troubled.sort_by(|a, b| {
        rank(a.state)
            .cmp(&rank(b.state))
            .then_with(|| a.name.cmp(&b.name))
    });
    let lines = troubled
        .iter()
        .take(TOOLTIP_LINES)
        .map(|e| {
            let word = match e.state {
                StateName::Down => "down",
                StateName::Unstable => "keeps dropping",
                _ => "degraded",
            };
            match &e.cause {
                Some(cause) => format!("{} {word}: {cause}", e.name),
                None => format!("{} {word}", e.name),
            }
        })
        .collect();
    let more = (troubled.len() > TOOLTIP_LINES)
        .then(|| format!("and {} more in trouble", troubled.len() - TOOLTIP_LINES));
    (header, lines, more)
}

/// Outside text for a notification body: controls escaped, markup escaped, bounded.
fn body_text(text: &str) -> String {
    bounded_markup(text, MAX_BODY)
}

/// Controls and markup escaped, bounded to `max` bytes; a cut that falls inside an entity drops
/// the partial entity rather than leave `&am…`.
fn bounded_markup(text: &str, max: usize) -> String {
    let escaped = markup_escape(&escape_controls(text));
    let cut = bound(&escaped, max);
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

/// The worst state among `states`, the tray's colour: Down before Unstable before Degraded
/// before Connecting before Up; Paused only when every endpoint is; `None` without any.
pub fn worst(
    states: impl IntoIterator<Item = heartline_core::State>,
) -> Option<heartline_core::State> {
    use heartline_core::State;
    let rank = |s: &State| match s {
        State::Down => 5,
        State::Unstable => 4,
        State::Degraded => 3,
        State::Connecting => 2,
        State::Up => 1,
        State::Paused => 0,
    };
    states.into_iter().max_by_key(rank)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tray_shows_the_worst_state() {
        use heartline_core::State;
        assert_eq!(worst([]), None);
        assert_eq!(worst([State::Up, State::Paused]), Some(State::Up));
        assert_eq!(worst([State::Paused]), Some(State::Paused));
        assert_eq!(
            worst([State::Up, State::Down, State::Degraded]),
            Some(State::Down)
        );
        assert_eq!(
            worst([State::Connecting, State::Unstable, State::Degraded]),
            Some(State::Unstable)
        );
    }

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
        let (_, body) = message(
            Change::Down,
            "feed",
            &status(Some(hostile.to_owned())),
            None,
        );
        assert!(!body.contains('<') && !body.contains('>'), "{body}");
        assert!(
            body.contains("&lt;a href=\"https://evil.example/\"&gt;log in&lt;/a&gt;"),
            "{body}"
        );
        assert!(body.ends_with("&amp; more"), "{body}");
        // A cut inside an entity does not leave half of it.
        let long = format!("{}<b>", "x".repeat(MAX_BODY - 2));
        let (_, body) = message(Change::Down, "feed", &status(Some(long)), None);
        assert!(body.ends_with("x…"), "{body}");
    }

    #[test]
    fn notifications_show_server_text_escaped_and_bounded() {
        let hostile = format!(
            "upgrade refused with HTTP 500: \u{1b}]0;pwned\u{7}\nforged\u{9b}{}",
            "y".repeat(1000)
        );
        let (title, body) = message(
            Change::Down,
            "feed \u{202e}exe.txt",
            &status(Some(hostile)),
            None,
        );
        assert_eq!(title, r"feed \u{202e}exe.txt is down");
        assert!(
            body.starts_with(r"upgrade refused with HTTP 500: \x1b]0;pwned\x07\nforged\u{9b}yyy"),
            "{body}"
        );
        assert!(!body.chars().any(heartline_core::untrusted::is_unsafe_char));
        assert!(body.len() <= MAX_BODY + '…'.len_utf8() && body.ends_with('…'));

        let long_name = "n".repeat(500);
        let (title, body) = message(Change::Recovered, &long_name, &status(None), None);
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
    #[test]
    fn down_and_unstable_name_the_cause() {
        let mut s = status(None);
        s.last_close = Some(crate::view::close_from_parts(
            heartline_core::Timestamp(0),
            1006,
            String::new(),
            heartline_core::Initiator::Network,
            None,
        ));
        let cause = "Idle timeout of about 2 s on the path to this endpoint";
        let (title, body) = message(Change::Unstable, "feed", &s, Some(cause));
        assert_eq!(title, "feed keeps dropping");
        assert_eq!(
            body,
            "Cause: Idle timeout of about 2 s on the path to this endpoint. Last: closed with \
             1006 (abnormal closure, no close frame)"
        );
        let (title, body) = message(Change::Unstable, "feed", &s, None);
        assert_eq!(title, "feed keeps dropping");
        assert!(
            body.starts_with("Sessions keep ending unexpectedly")
                && body.contains("Last: closed with 1006"),
            "{body}"
        );
        let (title, body) = message(
            Change::Down,
            "feed",
            &status(Some("tcp: connection refused".into())),
            Some("The server kicks this endpoint: 4001 '<b>kicked</b>\u{1b}[2J' ×13"),
        );
        assert_eq!(title, "feed is down");
        assert_eq!(
            body,
            r"Cause: The server kicks this endpoint: 4001 '&lt;b&gt;kicked&lt;/b&gt;\x1b[2J' ×13. Last: tcp: connection refused"
        );
    }

    #[test]
    fn unstable_is_announced_and_its_recovery_too() {
        let n = Notifier::default();
        let t = Instant::now();
        assert_eq!(n.change(1, StateName::Up, t), None);
        assert_eq!(n.change(1, StateName::Unstable, t), Some(Change::Unstable));
        // Worse: announced; better but still in trouble: not.
        assert_eq!(n.change(1, StateName::Down, t), Some(Change::Down));
        assert_eq!(n.change(1, StateName::Unstable, t), None);
        assert_eq!(n.change(1, StateName::Up, t), Some(Change::Recovered));
        // A second storm within the quiet minute: neither it nor its recovery.
        let soon = t + Duration::from_secs(10);
        assert_eq!(n.change(1, StateName::Unstable, soon), None);
        assert_eq!(n.change(1, StateName::Up, soon), None);
        // An announced storm that turns Down inside the Down's quiet minute still owes its
        // recovery.
        let later = t + QUIET + Duration::from_secs(1);
        assert_eq!(
            n.change(1, StateName::Unstable, later),
            Some(Change::Unstable)
        );
        assert_eq!(n.change(1, StateName::Down, later), Some(Change::Down));
        assert_eq!(n.change(1, StateName::Up, later), Some(Change::Recovered));
        let again = later + Duration::from_secs(1);
        assert_eq!(n.change(1, StateName::Down, again), None);
        assert_eq!(n.change(1, StateName::Up, again), None);
    }

    #[test]
    fn the_tooltip_names_the_troubled_endpoints_and_their_causes() {
        let entry = |name: &str, state, cause: Option<&str>| TrayEntry {
            name: name.into(),
            state,
            cause: cause.map(Into::into),
        };
        assert_eq!(
            tooltip(&[
                entry("a", StateName::Up, None),
                entry("b", StateName::Up, None)
            ]),
            "Heartline: 2 up, 0 degraded, 0 down"
        );
        let text = tooltip(&[
            entry("steady", StateName::Up, None),
            entry(
                "proxy-idle",
                StateName::Unstable,
                Some("Idle timeout of about 2 s on the path to this endpoint"),
            ),
            entry("gone", StateName::Down, Some("Host does not resolve")),
            entry("slow", StateName::Degraded, None),
            entry("zombie", StateName::Degraded, Some("Half-open connections")),
            entry("paused", StateName::Paused, None),
        ]);
        assert_eq!(
            text,
            "Heartline: 1 up, 2 degraded, 1 unstable, 1 down\n\
             gone down: Host does not resolve\n\
             proxy-idle keeps dropping: Idle timeout of about 2 s on the path to this endpoint\n\
             slow degraded\n\
             and 1 more in trouble"
        );
        // A hostile name or cause cannot add lines or markup, nor grow a line without bound.
        let text = tooltip(&[entry(
            "feed\n<b>x</b>",
            StateName::Down,
            Some(&"y".repeat(500)),
        )]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[1].starts_with(r"feed\n&lt;b&gt;x&lt;/b&gt; down: yyy"),
            "{text}"
        );
        assert!(
            lines[1].len() <= MAX_TOOLTIP_LINE + '…'.len_utf8(),
            "{text}"
        );

        // As menu items (Linux trays show no tooltip): the same lines, plain text, one item
        // per line, `&` doubled so the menu shows it rather than underlining the next letter.
        let items = tray_menu_lines(&[
            entry("steady", StateName::Up, None),
            entry("r&d\nfeed", StateName::Down, Some("<b>Host</b> & path")),
        ]);
        assert_eq!(
            items,
            [
                "Heartline: 1 up, 0 degraded, 1 down",
                r"r&&d\nfeed down: <b>Host</b> && path",
            ]
        );
        let items = tray_menu_lines(&[entry("x", StateName::Down, Some(&"y".repeat(500)))]);
        assert!(
            items[1].len() <= MAX_TOOLTIP_LINE + '…'.len_utf8(),
            "{items:?}"
        );
    }
}
