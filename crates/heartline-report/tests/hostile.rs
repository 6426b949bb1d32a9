//! A history written by a hostile server: close reasons, errors and a give-up reason that try
//! to drive a terminal (OSC title, SGR colour, 8-bit CSI), forge a line, reorder text (bidi
//! override) or run as a spreadsheet formula, and an endpoint name people typed that starts
//! like a formula. Every export format must show all of it as inert text.

mod fixture;

use std::net::SocketAddr;
use std::time::Duration;

use heartline_core::untrusted::{is_unsafe_char, MAX_UNTRUSTED_LEN};
use heartline_core::{
    Endpoint, EndpointId, Event, EventKind, FailedPhase, Handshake, HandshakeFailure, Phases,
    SessionEnd, SessionStats,
};
use heartline_probe::Sink;
use heartline_report::{export, Format, Options, Selection, Zone, COLUMNS};
use heartline_store::{RecorderOptions, Secrets, Store};

use fixture::{at, TempDir};

/// The endpoint's name: a formula start, and a bidi override that would show "exe.txt" as
/// "txt.exe" reversed.
const NAME: &str = "=cmd feed \u{202e}txt.exe";
const SUBPROTOCOL: &str = "v1\u{1b}[2J";

/// What the server sent, in the order the history has it, and how each reaches the row.
const OSC_TITLE: &str = "\u{1b}]0;pwned\u{7}";
const SGR_RED: &str = "\u{1b}[31mred alert\u{1b}[0m";
const FORGED_LINE: &str = "reset\n2026-11-20T09:00:00Z ok: all good";
const HYPERLINK: &str = "=HYPERLINK(\"http://evil.example/x\",\"details\")";
const PLUS: &str = "+1";
const MINUS: &str = "-2+3";
const AT_SUM: &str = "@SUM(A1:A9)";
const C1_CSI: &str = "bye \u{9b}31m\u{7f} \u{202e}fdp.exe";

fn hostile_reasons() -> [&'static str; 8] {
    [
        OSC_TITLE,
        SGR_RED,
        FORGED_LINE,
        HYPERLINK,
        PLUS,
        MINUS,
        AT_SUM,
        C1_CSI,
    ]
}

fn stats() -> SessionStats {
    SessionStats {
        duration: Duration::from_secs(60),
        silent_for: Duration::ZERO,
        messages_in: 3,
        bytes_in: 120,
        messages_out: 1,
        bytes_out: 20,
    }
}

/// The history: a connection with a hostile subprotocol, then each hostile text once — as a
/// server's close reason, a lost session's error, a handshake error and a give-up reason —
/// then an error far over the length bound.
fn history() -> Vec<Event> {
    let id = EndpointId(1);
    let event = |clock: &str, kind| Event {
        at: at(clock),
        endpoint: id,
        kind,
    };
    let server = |reason: &str| EventKind::Closed {
        end: SessionEnd::ClosedByServer {
            code: 4000,
            reason: reason.into(),
        },
        stats: stats(),
    };
    vec![
        event(
            "08:00:00",
            EventKind::Connected {
                attempt: 1,
                handshake: Handshake {
                    phases: Phases {
                        dns: Duration::from_millis(1),
                        tcp: Duration::from_millis(2),
                        tls: None,
                        upgrade: Duration::from_millis(3),
                    },
                    peer: "192.0.2.7:80".parse::<SocketAddr>().unwrap(),
                    subprotocol: Some(SUBPROTOCOL.into()),
                    extensions: vec!["x-ext\u{7}".into()],
                },
            },
        ),
        event("08:01:00", server(OSC_TITLE)),
        event("08:02:00", server(SGR_RED)),
        event(
            "08:03:00",
            EventKind::Closed {
                end: SessionEnd::Lost {
                    error: FORGED_LINE.into(),
                },
                stats: stats(),
            },
        ),
        event(
            "08:04:00",
            EventKind::GaveUp {
                reason: HYPERLINK.into(),
            },
        ),
        event(
            "08:05:00",
            EventKind::HandshakeFailed(HandshakeFailure {
                phase: FailedPhase::Tcp,
                error: PLUS.into(),
                elapsed: Duration::from_millis(5),
            }),
        ),
        event("08:06:00", server(MINUS)),
        event("08:07:00", server(AT_SUM)),
        event("08:08:00", server(C1_CSI)),
        event(
            "08:09:00",
            EventKind::Closed {
                end: SessionEnd::Lost {
                    error: "x".repeat(4 * MAX_UNTRUSTED_LEN),
                },
                stats: stats(),
            },
        ),
    ]
}

async fn build(dir: &TempDir) -> Store {
    let path = dir.path("heartline.db");
    let store = Store::open(&path).await.unwrap();
    let secrets = Secrets::File(dir.path("secrets.json"));
    let mut endpoint = Endpoint::new(NAME, "wss://evil.example/ws");
    endpoint.tags = vec!["@tag".into()];
    store.add_endpoint(&endpoint, &secrets).await.unwrap();
    let (recorder, writer) = store
        .record(RecorderOptions {
            flush_every: Duration::from_millis(20),
            ..RecorderOptions::default()
        })
        .await
        .unwrap();
    for e in history() {
        recorder.emit(e);
    }
    writer.shutdown().await.unwrap();
    assert_eq!(recorder.dropped(), 0);
    store
}

async fn render(store: &Store, format: Format) -> String {
    let mut out = Vec::new();
    let selection = Selection::all(at("08:00:00"), at("09:00:00"));
    let options = Options {
        format,
        zone: Zone::Utc,
        now: at("09:00:00"),
    };
    export(store, &selection, &options, &mut out, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", format.name()));
    String::from_utf8(out).expect("exports are UTF-8")
}

/// Fails on any control character or bidi override other than the format's own line ends.
fn assert_inert(format: &str, text: &str) {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let line_end = c == '\n'
            || (format == "csv" && c == '\r' && chars.peek().is_some_and(|(_, n)| *n == '\n'));
        if !line_end && is_unsafe_char(c) {
            let before: Vec<char> = text[..i].chars().rev().take(60).collect();
            let before: String = before.into_iter().rev().collect();
            panic!("{format}: raw {c:?} at byte {i}, after {before:?}");
        }
    }
}

#[tokio::test]
async fn markdown_shows_hostile_text_escaped() {
    let dir = TempDir::new("hostile-md");
    let store = build(&dir).await;
    let md = render(&store, Format::Markdown).await;
    assert_inert("md", &md);
    for escaped in [
        r"\\x1b\]0;pwned\\x07",
        r"\\x1b\[31mred alert\\x1b\[0m",
        r"reset\\n2026-11-20T09:00:00Z ok: all good",
        r"bye \\u{9b}31m\\x7f \\u{202e}fdp.exe",
        r"subprotocol v1\\x1b\[2J, extensions x-ext\\x07",
        r"=cmd feed \\u{202e}txt.exe",
    ] {
        assert!(md.contains(escaped), "md lacks {escaped}:\n{md}");
    }
    // Every timeline row is one line with its four cells: the newline forged nothing.
    let rows: Vec<&str> = md
        .lines()
        .skip_while(|l| !l.starts_with("## Timeline"))
        .filter(|l| l.starts_with("| 2026-"))
        .collect();
    assert_eq!(rows.len(), history().len(), "{md}");
    for row in rows {
        let cells = row.replace(r"\|", "").matches('|').count();
        assert_eq!(cells, 5, "{row}");
    }
}

#[tokio::test]
async fn html_shows_hostile_text_escaped() {
    let dir = TempDir::new("hostile-html");
    let store = build(&dir).await;
    let html = render(&store, Format::Html).await;
    assert_inert("html", &html);
    for escaped in [
        r"\x1b]0;pwned\x07",
        r"\x1b[31mred alert\x1b[0m",
        r"reset\n2026-11-20T09:00:00Z ok: all good",
        "=HYPERLINK(&quot;http://evil.example/x&quot;,&quot;details&quot;)",
        r"bye \u{9b}31m\x7f \u{202e}fdp.exe",
        r"=cmd feed \u{202e}txt.exe",
    ] {
        assert!(html.contains(escaped), "html lacks {escaped}");
    }
    // The chart (inline SVG) names the endpoint with its override escaped too.
    let svg = &html[html.find("<svg").expect("a chart")..];
    assert!(svg.contains(r"=cmd feed \u{202e}txt.exe"), "{svg}");
}

#[tokio::test]
async fn csv_neutralises_formulas_and_escapes_controls() {
    let dir = TempDir::new("hostile-csv");
    let store = build(&dir).await;
    let csv = render(&store, Format::Csv).await;
    assert_inert("csv", &csv);
    let rows = parse_csv(&csv);
    assert_eq!(rows[0], COLUMNS);
    let rows = &rows[1..];
    assert_eq!(rows.len(), history().len());
    for row in rows {
        assert_eq!(row.len(), COLUMNS.len(), "{row:?}");
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a spreadsheet would evaluate {cell:?}"
            );
        }
        assert_eq!(row[1], format!(r"'=cmd feed \u{{202e}}txt.exe"));
    }
    let reason = |n: usize| rows[n][4].as_str();
    assert_eq!(reason(1), r"\x1b]0;pwned\x07");
    assert_eq!(reason(2), r"\x1b[31mred alert\x1b[0m");
    assert_eq!(reason(3), r"reset\n2026-11-20T09:00:00Z ok: all good");
    assert_eq!(reason(4), format!("'{HYPERLINK}"));
    assert_eq!(reason(5), "'+1");
    assert_eq!(reason(6), "'-2+3");
    assert_eq!(reason(7), "'@SUM(A1:A9)");
    assert_eq!(reason(8), r"bye \u{9b}31m\x7f \u{202e}fdp.exe");
    // Neutralised cells are quoted in the file itself.
    for raw in [
        "\"'+1\"",
        "\"'-2+3\"",
        "\"'@SUM(A1:A9)\"",
        "\"'=HYPERLINK(\"\"http://evil.example/x\"\",\"\"details\"\")\"",
    ] {
        assert!(csv.contains(raw), "csv lacks {raw}");
    }
}

#[tokio::test]
async fn json_and_ndjson_escape_controls_and_keep_the_text_exactly() {
    let dir = TempDir::new("hostile-json");
    let store = build(&dir).await;
    let json = render(&store, Format::Json).await;
    assert_inert("json", &json);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let ndjson = render(&store, Format::Ndjson).await;
    assert_inert("ndjson", &ndjson);
    let lines: Vec<serde_json::Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events = doc["events"].as_array().unwrap();
    assert_eq!(events.len(), history().len());
    assert_eq!(&lines, events);
    assert_eq!(doc["endpoints"][0]["name"], NAME);
    assert_eq!(doc["endpoints"][0]["tags"][0], "@tag");
    for (n, expected) in hostile_reasons().iter().enumerate() {
        assert_eq!(events[n + 1]["reason"], *expected, "event {}", n + 1);
        assert_eq!(events[n + 1]["endpoint"], NAME);
    }
    assert!(events[0]["detail"]
        .as_str()
        .unwrap()
        .contains("subprotocol v1\u{1b}[2J, extensions x-ext\u{7}"));
    // The over-long error is bounded, in the reason and in the detail quoting it.
    let long = &events[history().len() - 1];
    let reason = long["reason"].as_str().unwrap();
    assert!(
        reason.len() <= MAX_UNTRUSTED_LEN + '…'.len_utf8(),
        "{reason}"
    );
    assert!(reason.ends_with('…'));
    let detail = long["detail"].as_str().unwrap();
    assert!(detail.len() < 2 * MAX_UNTRUSTED_LEN, "{detail}");
}

/// RFC 4180 cells of each line (CRLF line ends; quoted cells may hold anything).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    assert!(cell.is_empty() && row.is_empty(), "the file ends mid-line");
    rows
}

#[test]
fn the_csv_parser_reads_what_it_should() {
    let rows = parse_csv("a,\"b,\"\"c\"\"\",\r\n\"x\r\ny\",z,\r\n");
    assert_eq!(
        rows,
        [vec!["a", "b,\"c\"", ""], vec!["x\r\ny", "z", ""]]
            .iter()
            .map(|r| r.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    );
}
