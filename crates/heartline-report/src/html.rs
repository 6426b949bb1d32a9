//! HTML: one self-contained file (inline CSS, inline SVG charts, no script, no external
//! request) with the summary, the charts and the timeline; a light theme that prints well.

use std::io::{self, Write};

use heartline_core::{close_code, escape_controls, IncidentKind, State};

use crate::markdown::title;
use crate::model::{Mark, Row, Summary};
use crate::palette;
use crate::time::{millis_text, readable, ZoneView};

/// One timeline row.
pub(crate) fn row(out: &mut dyn Write, row: &Row, zone: &ZoneView) -> io::Result<()> {
    let mut classes = Vec::new();
    let mut marks = String::new();
    for m in &row.marks {
        match m {
            Mark::Start(k) => classes.push(format!("start {}", kind_class(*k))),
            Mark::End { kind, .. } => classes.push(format!("end {}", kind_class(*kind))),
            Mark::FirstSign(_) => classes.push("first".into()),
        }
        marks.push_str(&format!("<b class=\"mark\">{}</b> ", escape(&m.words())));
    }
    let event = match (row.state_to, row.close_class()) {
        (Some(to), _) => format!("state → {}", chip(to)),
        (_, Some(class)) => format!(
            "closed <span class=\"code k-{}\">{}</span>",
            class.as_str(),
            row.code.unwrap_or_default()
        ),
        _ => escape(&row.label()),
    };
    writeln!(
        out,
        "<tr{}><td class=\"t\">{}</td><td>{}</td><td>{marks}{event}</td><td>{}</td></tr>",
        if classes.is_empty() {
            String::new()
        } else {
            format!(" class=\"{}\"", classes.join(" "))
        },
        zone.format(row.at),
        escape(&row.endpoint),
        escape(&row.detail)
    )
}

/// The document up to the timeline's rows.
pub(crate) fn head(
    out: &mut dyn Write,
    s: &Summary,
    zone: &ZoneView,
    charts: Option<&str>,
) -> io::Result<()> {
    let name = escape(&title(s));
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"Heartline {}\">\n\
         <title>Heartline export: {name}</title>\n<style>\n{}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        css()
    )?;
    writeln!(out, "<header><h1>Heartline export: {name}</h1>")?;
    writeln!(
        out,
        "<p class=\"meta\">Window <b>{}</b> → <b>{}</b> {} ({}) · {} · generated {} {}</p></header>",
        zone.format_short(s.since),
        zone.format_short(s.until),
        escape(&zone.label()),
        readable(std::time::Duration::from_millis(
            (s.until.0 - s.since.0).max(0).unsigned_abs()
        )),
        if s.incidents_only {
            format!(
                "incidents only ({} of {} events)",
                s.events_exported, s.events_seen
            )
        } else {
            format!("every event ({})", s.events_exported)
        },
        zone.format_short(s.generated),
        escape(&zone.label()),
    )?;

    writeln!(out, "<section><h2>Summary</h2>\n<table class=\"num\"><thead><tr><th>Endpoint</th><th>URL</th><th>Uptime</th><th>Connected</th><th>Drops</th><th>Drops/h</th><th>Median session</th><th>Degraded</th><th>Down</th><th>Not recorded</th><th>Incidents</th><th>Closes</th><th>Failed handshakes</th><th>Reconnects</th><th>RTT mean</th><th>RTT worst p95</th></tr></thead><tbody>")?;
    for e in &s.endpoints {
        let u = &e.uptime;
        let (mean, p95) = e.rtt.as_ref().map_or(("–".into(), "–".into()), |r| {
            (
                millis_text(r.mean),
                format!("{} (per {})", millis_text(r.worst_p95), r.resolution),
            )
        });
        writeln!(
            out,
            "<tr><td>{}</td><td class=\"url\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{mean}</td><td>{p95}</td></tr>",
            escape(&e.name),
            escape(&e.url),
            crate::model::percent(u.uptime()),
            crate::model::percent(u.connected_share()),
            u.unexpected_ends,
            crate::model::per_hour(u.drops_per_hour()),
            u.median_session.map_or("–".into(), readable),
            readable(u.degraded + u.unstable),
            readable(u.down),
            readable(u.unknown),
            e.incidents,
            e.closes,
            e.handshake_failures,
            e.reconnects,
        )?;
    }
    writeln!(out, "</tbody></table>")?;
    writeln!(out, "<p>{}</p>", escape(crate::model::UPTIME_DEFINITION))?;

    writeln!(out, "<h3>Incidents</h3>")?;
    if s.incidents.is_empty() {
        writeln!(out, "<p class=\"empty\">No incidents in the window.</p>")?;
    } else {
        writeln!(out, "<table><thead><tr><th>#</th><th>Endpoint</th><th>Kind</th><th>Cause</th><th>Episodes</th><th>Start</th><th>End</th><th>Duration</th><th>Detected after</th><th>Close codes</th><th>Failed handshakes</th><th>Reconnects</th><th>RTT before</th></tr></thead><tbody>")?;
        for (n, i) in s.incidents.iter().enumerate() {
            let end = i.end_cell(zone);
            let codes: Vec<String> = i
                .close_code_cells()
                .into_iter()
                .map(|(code, times)| {
                    format!(
                        "<span class=\"code k-{}\">{code}</span> {times}",
                        close_code::classify(code).as_str()
                    )
                })
                .collect();
            let failures: Vec<String> = i
                .handshake_failure_cells()
                .iter()
                .map(|f| escape(f))
                .collect();
            writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{end}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                n + 1,
                escape(&i.endpoint),
                chip(match i.kind {
                    IncidentKind::Down => State::Down,
                    IncidentKind::Degraded => State::Degraded,
                    IncidentKind::Unstable => State::Unstable,
                }),
                escape(&i.cause_cell()),
                i.episodes,
                zone.format(i.started),
                readable(i.duration),
                if i.ended.is_none() { " so far" } else { "" },
                readable(i.time_to_detect),
                dash(codes.join(", ")),
                dash(failures.join(", ")),
                i.reconnect_attempts,
                i.rtt_before.map_or("–".into(), millis_text),
            )?;
        }
        writeln!(out, "</tbody></table>")?;
    }

    writeln!(out, "<h3>Close codes</h3>")?;
    if s.close_codes.is_empty() {
        writeln!(
            out,
            "<p class=\"empty\">No session closed in the window.</p>"
        )?;
    } else {
        writeln!(out, "<table><thead><tr><th>Code</th><th>Meaning</th><th>Class</th><th>Closed by</th><th>Count</th></tr></thead><tbody>")?;
        for c in &s.close_codes {
            writeln!(
                out,
                "<tr><td><span class=\"code k-{cls}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                c.code,
                c.meaning(),
                c.class().as_str().replace('_', " "),
                escape(&c.initiator),
                c.count,
                cls = c.class().as_str(),
            )?;
        }
        writeln!(out, "</tbody></table>")?;
    }

    writeln!(out, "<h3>Diagnosis</h3>")?;
    if s.findings.is_empty() {
        writeln!(
            out,
            "<p class=\"empty\">No known failure pattern in the window.</p>"
        )?;
    }
    for f in &s.findings {
        writeln!(
            out,
            "<article class=\"finding\"><h4>{}</h4><p class=\"meta\">{} · {} · {} × · {} → {} UTC</p><p>{}</p>",
            escape(&f.title),
            f.rule,
            escape(&f.endpoints.join(", ")),
            f.occurrences,
            crate::time::iso_utc(f.first_seen),
            crate::time::iso_utc(f.last_seen),
            escape(&f.explanation)
        )?;
        if !f.evidence.is_empty() {
            writeln!(out, "<ul>")?;
            for line in &f.evidence {
                writeln!(out, "<li>{}</li>", escape(line))?;
            }
            writeln!(out, "</ul>")?;
        }
        writeln!(
            out,
            "<p><b>Suggestion:</b> {}</p></article>",
            escape(&f.suggestion)
        )?;
    }
    writeln!(out, "</section>")?;

    if let Some(svg) = charts {
        writeln!(out, "<section class=\"charts\"><h2>Charts</h2>")?;
        if s.not_charted > 0 {
            writeln!(
                out,
                "<p class=\"meta\">The {} most troubled endpoints; {} more are in the tables and the timeline.</p>",
                s.charted.len(),
                s.not_charted
            )?;
        }
        // The SVG document without its XML declaration, inline.
        let body = svg.find("<svg").map_or(svg, |at| &svg[at..]);
        writeln!(out, "<figure>{body}</figure></section>")?;
    }

    writeln!(
        out,
        "<section><h2>Timeline</h2>\n<table class=\"timeline\"><thead><tr><th>Time ({})</th><th>Endpoint</th><th>Event</th><th>Detail</th></tr></thead><tbody>",
        escape(&zone.label())
    )
}

/// Closes the timeline and the document.
pub(crate) fn tail(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    if s.events_exported == 0 {
        writeln!(
            out,
            "<tr><td colspan=\"4\" class=\"empty\">No events in the window.</td></tr>"
        )?;
    }
    writeln!(
        out,
        "</tbody></table></section>\n<footer>Exported by Heartline {}. Close codes by class: {}.</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION"),
        palette::CLOSE_CLASSES
            .iter()
            .map(|(c, words)| format!("<span class=\"code k-{}\">{}</span>", c.as_str(), escape(words)))
            .collect::<Vec<_>>()
            .join(" ")
    )?;
    out.flush()
}

fn chip(state: State) -> String {
    format!("<span class=\"chip s-{}\">{state}</span>", state.as_str())
}

fn kind_class(kind: IncidentKind) -> &'static str {
    match kind {
        IncidentKind::Down => "down",
        IncidentKind::Degraded => "degraded",
        IncidentKind::Unstable => "unstable",
    }
}

fn dash(s: String) -> String {
    if s.is_empty() {
        "–".into()
    } else {
        s
    }
}

/// The stylesheet, with the palette's colours as classes.
fn css() -> String {
    let mut css = String::from(
        ":root{color-scheme:light;--text:TEXT;--muted:MUTED;--grid:GRID}\n\
         body{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,\"DejaVu Sans\",sans-serif;color:var(--text);background:#fff;margin:24px auto;max-width:1200px;padding:0 16px}\n\
         h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid var(--grid);padding-bottom:4px}h3{font-size:15px;margin:20px 0 6px}h4{margin:0 0 4px;font-size:14px}\n\
         .meta{color:var(--muted);margin:0 0 8px}.empty{color:var(--muted);font-style:italic}\n\
         table{border-collapse:collapse;width:100%;margin:4px 0 12px;font-size:13px}\n\
         th,td{border-bottom:1px solid var(--grid);padding:4px 8px;text-align:left;vertical-align:top}\n\
         th{background:#f6f7f9;font-weight:600}td.t{white-space:nowrap;font-variant-numeric:tabular-nums}\n\
         td.url{word-break:break-all;font-family:ui-monospace,\"DejaVu Sans Mono\",monospace;font-size:12px}\n\
         .chip,.code{display:inline-block;border-radius:3px;padding:0 6px;color:#fff;background:var(--c);font-weight:600;font-size:12px}\n\
         .code{font-variant-numeric:tabular-nums}\n\
         tr.start td{border-top:2px solid var(--c)}tr.end td{border-bottom:2px solid var(--c)}\n\
         tr.start,tr.end{background:#fdf6f6}tr.start.degraded,tr.end.degraded{background:#fdf9ef}\n\
         tr.first{background:#fffbe6}.mark{margin-right:6px}\n\
         .finding{border-left:4px solid var(--grid);padding:4px 12px;margin:8px 0}.finding ul{margin:4px 0}\n\
         figure{margin:0}figure svg{max-width:100%;height:auto;display:block}\n\
         footer{color:var(--muted);margin:24px 0;font-size:12px}footer .code{margin:2px}\n\
         @media print{body{margin:0;max-width:none;font-size:11px}table{font-size:10px}h2{break-after:avoid}\
         tr,figure,.finding{break-inside:avoid}thead{display:table-header-group}.chip,.code,tr.start,tr.end,tr.first{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\n",
    )
    .replace("TEXT", &palette::TEXT.hex())
    .replace("MUTED", &palette::MUTED.hex())
    .replace("GRID", &palette::GRID.hex());
    for state in palette::STATES {
        css.push_str(&format!(
            ".s-{}{{--c:{}}}",
            state.as_str(),
            palette::state(state).hex()
        ));
    }
    css.push_str(&format!(
        "tr.down{{--c:{}}}tr.degraded{{--c:{}}}tr.unstable{{--c:{}}}\n",
        palette::state(State::Down).hex(),
        palette::state(State::Degraded).hex(),
        palette::state(State::Unstable).hex()
    ));
    for (class, _) in palette::CLOSE_CLASSES {
        css.push_str(&format!(
            ".k-{}{{--c:{}}}",
            class.as_str(),
            palette::close_class(class).hex()
        ));
    }
    css.push('\n');
    css
}

/// Escapes text for HTML content and attribute values: control characters and bidi
/// overrides as visible escapes first (`\x1b`, `\n`; XML-based tools reject most raw C0
/// controls, and an override would reorder what the reader sees), then the markup characters
/// as entities.
pub(crate) fn escape(text: &str) -> String {
    let text = escape_controls(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_covers_markup_and_controls() {
        for (input, expected) in [
            ("plain ünïcode", "plain ünïcode"),
            ("<script>&\"'", "&lt;script&gt;&amp;&quot;&#39;"),
            ("\u{1b}]0;pwned\u{7}", "\\x1b]0;pwned\\x07"),
            ("a\nb\u{9b}c\u{202e}d", "a\\nb\\u{9b}c\\u{202e}d"),
        ] {
            assert_eq!(super::escape(input), expected, "{input:?}");
        }
    }
}
