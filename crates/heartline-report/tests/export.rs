//! Exports of a fixed synthetic history, compared with golden files.
//!
//! `HEARTLINE_BLESS=1 cargo test -p heartline-report` rewrites the files under tests/golden/
//! after an intended change; review the diff before committing it.

mod fixture;

use std::path::{Path, PathBuf};
use std::process::Command;

use heartline_core::State;
use heartline_report::{
    export, palette, ChartData, Error, Format, Options, Selection, Summary, Zone,
};
use heartline_store::Store;

use fixture::{at, TempDir, SECRET_HEADER, SECRET_TOKEN, SINCE, UNTIL};

fn options(format: Format) -> Options {
    Options {
        format,
        zone: Zone::Utc,
        now: at(UNTIL),
    }
}

fn window() -> Selection {
    Selection::all(at(SINCE), at(UNTIL))
}

async fn render(store: &Store, selection: &Selection, options: &Options) -> (Vec<u8>, Summary) {
    let mut out = Vec::new();
    let summary = export(store, selection, options, &mut out, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", options.format.name()));
    (out, summary)
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares with the golden file (or rewrites it under HEARTLINE_BLESS=1), failing with a
/// readable diff.
fn golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("HEARTLINE_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no golden file {}: run HEARTLINE_BLESS=1 cargo test -p heartline-report",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "{name} differs from its golden file (HEARTLINE_BLESS=1 rewrites it):\n{}",
            diff(&expected, actual)
        );
    }
}

/// The changed lines between the common head and tail, with a little context.
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let head = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let tail = e[head..]
        .iter()
        .rev()
        .zip(a[head..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = format!("@@ line {} @@\n", head + 1);
    for line in &e[head.saturating_sub(3)..head] {
        out.push_str(&format!("  {line}\n"));
    }
    for line in e[head..e.len() - tail].iter().take(40) {
        out.push_str(&format!("- {line}\n"));
    }
    for line in a[head..a.len() - tail].iter().take(40) {
        out.push_str(&format!("+ {line}\n"));
    }
    for line in e[e.len() - tail..].iter().take(3) {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

fn assert_no_secrets(name: &str, bytes: &[u8]) {
    for secret in [SECRET_HEADER, SECRET_TOKEN] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} leaked into {name}"
        );
    }
}

#[tokio::test]
async fn text_formats_match_their_golden_files() {
    let dir = TempDir::new("golden");
    let store = fixture::build(&dir.path("heartline.db")).await;
    for (format, file) in [
        (Format::Markdown, "export.md"),
        (Format::Csv, "export.csv"),
        (Format::Json, "export.json"),
        (Format::Ndjson, "export.ndjson"),
        (Format::Html, "export.html"),
    ] {
        let (bytes, summary) = render(&store, &window(), &options(format)).await;
        assert_no_secrets(file, &bytes);
        assert_eq!(summary.events_seen, summary.events_exported);
        golden(file, &String::from_utf8(bytes).unwrap());
    }

    // Incidents only, for two endpoints, in a zone an hour east of UTC.
    let selection = Selection {
        endpoints: vec!["feed-eu".into(), "orders".into()],
        incidents_only: true,
        ..window()
    };
    let options = Options {
        zone: Zone::Fixed(3600),
        ..options(Format::Markdown)
    };
    let (bytes, summary) = render(&store, &selection, &options).await;
    assert!(summary.events_exported < summary.events_seen);
    golden("incidents-utc+1.md", &String::from_utf8(bytes).unwrap());
}

#[tokio::test]
async fn the_summary_tells_the_story() {
    let dir = TempDir::new("summary");
    let store = fixture::build(&dir.path("heartline.db")).await;
    let (md, summary) = render(&store, &window(), &options(Format::Markdown)).await;
    let md = String::from_utf8(md).unwrap();
    let rules: Vec<&str> = summary.findings.iter().map(|f| f.rule).collect();
    for rule in [
        heartline_core::Rule::IdleTimeout,
        heartline_core::Rule::RestartOrDeploy,
        heartline_core::Rule::HalfOpen,
        heartline_core::Rule::Credentials,
    ] {
        let rule = rule.as_str();
        assert!(rules.contains(&rule), "{rule} missing from {rules:?}");
    }
    let kinds: Vec<(String, bool)> = summary
        .incidents
        .iter()
        .map(|i| {
            (
                format!("{}:{}", i.endpoint, i.kind.as_str()),
                i.ended.is_some(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("feed-eu:down".to_string(), true),
            ("feed-eu:degraded".to_string(), true),
            ("orders:down".to_string(), false)
        ]
    );
    // Outage start and end are marked in the timeline, and the lead-up's first sign too.
    assert!(
        md.contains("**OUTAGE STARTS (Down)** · state → Down"),
        "{md}"
    );
    assert!(
        md.contains("**OUTAGE ENDS (5 min 11 s)** · state → Up"),
        "{md}"
    );
    assert!(md.contains("*first sign of trouble*"));
    assert!(md.contains("wss://feed.example.com/v1/stream?region=eu&token=••••••"));
    assert!(md.starts_with("# Heartline export: chat-staging, feed-eu, orders\n"));
}

#[tokio::test]
async fn json_and_ndjson_follow_the_documented_schema() {
    let dir = TempDir::new("schema");
    let store = fixture::build(&dir.path("heartline.db")).await;
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/export.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");

    let (bytes, summary) = render(&store, &window(), &options(Format::Json)).await;
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(doc["version"], heartline_report::VERSION);
    assert_eq!(
        doc["events"].as_array().unwrap().len() as u64,
        summary.events_exported
    );

    // Each NDJSON line is the document's event object.
    let event_schema = serde_json::json!({ "$ref": "#/$defs/event", "$defs": schema["$defs"] });
    let event_validator = jsonschema::validator_for(&event_schema).unwrap();
    let (lines, _) = render(&store, &window(), &options(Format::Ndjson)).await;
    let lines = String::from_utf8(lines).unwrap();
    for (n, (line, in_doc)) in lines
        .lines()
        .zip(doc["events"].as_array().unwrap())
        .enumerate()
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(event_validator.is_valid(&v), "line {}: {line}", n + 1);
        assert_eq!(&v, in_doc, "line {}", n + 1);
    }
    assert_eq!(lines.lines().count() as u64, summary.events_exported);

    // A document that breaks the schema is caught (the validator is not vacuous).
    let mut broken = doc.clone();
    broken["events"][0]["timestamp"] = serde_json::json!("yesterday");
    assert!(!validator.is_valid(&broken));
}

/// The chart data of feed-eu, read back through an SVG export.
async fn feed_chart(store: &Store) -> String {
    let selection = Selection {
        endpoints: vec!["feed-eu".into()],
        ..window()
    };
    let (svg, summary) = render(store, &selection, &options(Format::Svg)).await;
    assert_eq!(summary.charted, ["feed-eu"]);
    String::from_utf8(svg).unwrap()
}

#[tokio::test]
async fn svg_charts_have_title_axes_legend_and_one_marker_per_close() {
    let dir = TempDir::new("svg");
    let store = fixture::build(&dir.path("heartline.db")).await;
    let svg = feed_chart(&store).await;
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    for text in [
        "feed-eu · 2026-11-20 08:00:00 → 2026-11-20 12:00:00 UTC",
        "Time (UTC)",
        "11-20 08:00",
        "09:00",
        "RTT (ms)",
        "RTT p50 (protocol ping)",
        "p50–p95 band, p95 line",
        "reconnect attempt",
        "Up",
        "Degraded",
        "Down",
        "Paused",
        "Connecting",
        "close abnormal (1006)",
    ] {
        let alone =
            |t: &str| svg.contains(&format!(">\n{t}\n<")) || svg.contains(&format!(">{t}<"));
        assert!(alone(text), "{text} missing from the SVG");
    }
    // feed-eu closed four times, all 1006: four markers plus the legend's dot.
    let abnormal = palette::close_class(heartline_core::CloseClass::Abnormal)
        .hex()
        .to_uppercase();
    let dots = svg
        .match_indices("<circle")
        .filter(|(i, _)| {
            svg[*i..]
                .split("/>")
                .next()
                .unwrap()
                .contains(&format!("fill=\"{abnormal}\""))
        })
        .count();
    assert_eq!(dots, 4 + 1);
    // The state band uses the palette's colours.
    for state in [State::Up, State::Down, State::Degraded] {
        let hex = palette::state(state).hex().to_uppercase();
        assert!(svg.contains(&format!("fill=\"{hex}\"")), "{state} band");
    }
    assert_no_secrets("svg", svg.as_bytes());
}

#[tokio::test]
async fn png_charts_have_the_size_and_are_not_blank() {
    let dir = TempDir::new("png");
    let store = fixture::build(&dir.path("heartline.db")).await;
    let selection = Selection {
        tags: vec!["prod".into()],
        ..window()
    };
    let mut out = Vec::new();
    match export(&store, &selection, &options(Format::Png), &mut out, &|_| {}).await {
        Err(Error::NoFont(why)) => panic!("install fonts-dejavu-core: {why}"),
        other => other.unwrap(),
    };
    let image = image::load_from_memory(&out).unwrap().to_rgb8();
    assert_eq!(
        image.dimensions(),
        (
            heartline_report::CHART_WIDTH,
            2 * heartline_report::CHART_HEIGHT
        ),
        "two prod endpoints stacked"
    );
    let mut colours = std::collections::HashSet::new();
    for p in image.pixels() {
        colours.insert(p.0);
    }
    assert!(colours.len() > 50, "only {} colours", colours.len());
    let white = image.pixels().filter(|p| p.0 == [255, 255, 255]).count();
    let share = white as f64 / (image.width() * image.height()) as f64;
    assert!((0.3..0.98).contains(&share), "white share {share}");
    // Text was drawn: some pixels have the text colour's darkness.
    assert!(image.pixels().any(|p| p.0.iter().all(|c| *c < 80)));
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("heartline-report-chart.png");
    std::fs::write(&shot, &out).unwrap();
    println!("chart for people to look at: {}", shot.display());
}

/// A backend that only records what was drawn: the chart functions are generic over
/// `DrawingBackend`, so tests can look at shapes rather than pixels.
#[derive(Default, Clone)]
struct Recording(std::rc::Rc<std::cell::RefCell<Drawn>>);

/// A circle's centre and colour.
type Dot = ((i32, i32), (u8, u8, u8));

#[derive(Default)]
struct Drawn {
    circles: Vec<Dot>,
    texts: Vec<String>,
}

#[derive(Debug)]
struct Never;
impl std::fmt::Display for Never {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("never")
    }
}
impl std::error::Error for Never {}

impl plotters::prelude::DrawingBackend for Recording {
    type ErrorType = Never;
    fn get_size(&self) -> (u32, u32) {
        (
            heartline_report::CHART_WIDTH,
            heartline_report::CHART_HEIGHT,
        )
    }
    fn ensure_prepared(&mut self) -> Result<(), plotters_backend::DrawingErrorKind<Never>> {
        Ok(())
    }
    fn present(&mut self) -> Result<(), plotters_backend::DrawingErrorKind<Never>> {
        Ok(())
    }
    fn draw_pixel(
        &mut self,
        _: (i32, i32),
        _: plotters_backend::BackendColor,
    ) -> Result<(), plotters_backend::DrawingErrorKind<Never>> {
        Ok(())
    }
    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        center: (i32, i32),
        _: u32,
        style: &S,
        _: bool,
    ) -> Result<(), plotters_backend::DrawingErrorKind<Never>> {
        self.0
            .borrow_mut()
            .circles
            .push((center, style.color().rgb));
        Ok(())
    }
    fn draw_text<T: plotters_backend::BackendTextStyle>(
        &mut self,
        text: &str,
        _: &T,
        _: (i32, i32),
    ) -> Result<(), plotters_backend::DrawingErrorKind<Never>> {
        self.0.borrow_mut().texts.push(text.to_owned());
        Ok(())
    }
    fn estimate_text_size<T: plotters_backend::BackendTextStyle>(
        &self,
        text: &str,
        _: &T,
    ) -> Result<(u32, u32), plotters_backend::DrawingErrorKind<Never>> {
        Ok((text.len() as u32 * 7, 12))
    }
}

#[test]
fn one_chart_function_draws_on_any_backend() {
    use plotters::prelude::IntoDrawingArea;
    let data = ChartData {
        name: "lab".into(),
        since: at("10:00:00"),
        until: at("11:00:00"),
        rtt_step_ms: 60_000,
        protocol: Vec::new(),
        app: Vec::new(),
        states: vec![
            (at("10:00:00"), Some(State::Up)),
            (at("10:20:00"), Some(State::Down)),
        ],
        closes: vec![
            (at("10:19:00"), 1006),
            (at("10:19:30"), 1006),
            (at("10:40:00"), 1012),
        ],
        reconnects: vec![(at("10:19:00"), 1), (at("10:19:30"), 2)],
    };
    let recording = Recording::default();
    {
        let area = recording.clone().into_drawing_area();
        heartline_report::draw(&area, &data).unwrap();
    }
    let backend = recording.0.borrow();
    let colour = |c: heartline_core::CloseClass| {
        let p = palette::close_class(c);
        (p.0, p.1, p.2)
    };
    let abnormal = backend
        .circles
        .iter()
        .filter(|c| c.1 == colour(heartline_core::CloseClass::Abnormal))
        .count();
    let restart = backend
        .circles
        .iter()
        .filter(|c| c.1 == colour(heartline_core::CloseClass::GoingAway))
        .count();
    assert_eq!(
        (abnormal, restart),
        (2 + 1, 1 + 1),
        "markers plus legend dots"
    );
    assert!(backend.texts.iter().any(|t| t.starts_with("lab · ")));
    assert!(backend
        .texts
        .iter()
        .any(|t| t == "close going away / restart (1012)"));
}

/// The HTML export, opened in headless Chromium from a file: it renders, logs no console
/// message, and requests nothing over the network.
#[tokio::test]
async fn html_renders_offline_in_chromium() {
    let chromium = Path::new("/usr/bin/chromium");
    let dir = TempDir::new("chromium");
    let store = fixture::build(&dir.path("heartline.db")).await;
    let (html, _) = render(&store, &window(), &options(Format::Html)).await;
    let html = String::from_utf8(html).unwrap();
    // Nothing in the file points outside it.
    for pattern in [
        "src=", "href=", "url(", "@import", "<script", "<link", "<iframe",
    ] {
        assert!(!html.contains(pattern), "{pattern} in the HTML");
    }
    if !chromium.exists() {
        println!("SKIPPED: /usr/bin/chromium is not installed (scripts/bootstrap.sh installs it)");
        return;
    }
    let page = dir.path("export.html");
    std::fs::write(&page, &html).unwrap();
    let netlog = dir.path("net.json");
    let run = |mode: &[String]| {
        let out = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--enable-logging=stderr",
                "--v=0",
                // Nothing can leave the machine: every host name fails to resolve.
                "--host-resolver-rules=MAP * ~NOTFOUND",
            ])
            .arg(format!("--user-data-dir={}", dir.path("profile").display()))
            .arg(format!("--log-net-log={}", netlog.display()))
            .args(mode)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("run chromium");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let out = run(&["--dump-dom".into()]);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("Heartline export: chat-staging, feed-eu, orders"),
        "{dom}"
    );
    assert!(dom.contains("<svg") && dom.contains("OUTAGE STARTS (Down)"));
    let log = String::from_utf8_lossy(&out.stderr);
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    // Requests made by the page carry the file's origin in their isolation key; Chromium's own
    // background requests (blocked above) do not.
    let net: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&netlog).unwrap()).unwrap();
    let page_requests: Vec<String> = net["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.contains("file://"))
        })
        .map(|e| e["params"]["url"].to_string())
        .collect();
    assert!(
        page_requests.is_empty(),
        "the page requested {page_requests:?}"
    );

    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("heartline-report-html.png");
    run(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=1280,2400".into(),
    ]);
    let image = image::open(&shot).unwrap().to_rgb8();
    let distinct: std::collections::HashSet<[u8; 3]> = image.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 20, "the page looks blank");
    println!("screenshot for people to look at: {}", shot.display());
}

#[tokio::test]
async fn a_bad_selection_says_what_is_wrong() {
    let dir = TempDir::new("errors");
    let empty = Store::open(&dir.path("empty.db")).await.unwrap();
    let err = export(
        &empty,
        &window(),
        &options(Format::Csv),
        &mut Vec::new(),
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(
        err.is_selection() && err.to_string().contains("no endpoints"),
        "{err}"
    );

    let store = fixture::build(&dir.path("heartline.db")).await;
    let check = |selection: Selection, words: &'static [&'static str]| {
        let store = store.clone();
        async move {
            let mut out = Vec::new();
            let err = export(
                &store,
                &selection,
                &options(Format::Markdown),
                &mut out,
                &|_| {},
            )
            .await
            .unwrap_err();
            assert!(err.is_selection(), "{err}");
            for w in words {
                assert!(err.to_string().contains(w), "{err} lacks {w}");
            }
            assert!(out.is_empty(), "nothing is written for a bad selection");
        }
    };
    check(
        Selection {
            endpoints: vec!["nope".into()],
            ..window()
        },
        &["`nope`", "`feed-eu`", "`orders`"],
    )
    .await;
    check(
        Selection {
            tags: vec!["qa".into()],
            ..window()
        },
        &["`qa`", "`prod`", "`staging`"],
    )
    .await;
    check(Selection::all(at(UNTIL), at(SINCE)), &["before"]).await;
    check(
        Selection::all(
            heartline_core::Timestamp(at(SINCE).0 - 30 * 86_400_000),
            heartline_core::Timestamp(at(SINCE).0 - 29 * 86_400_000),
        ),
        &["no data in range", "chat-staging, feed-eu, orders"],
    )
    .await;
}
