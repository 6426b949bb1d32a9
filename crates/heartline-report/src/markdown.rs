//! Markdown: a summary and a timeline table ready to paste under "Timeline" in a postmortem.

use std::io::{self, Write};

use heartline_core::{escape_controls, State};

use crate::model::{Mark, Row, Summary};
use crate::time::{millis_text, readable, ZoneView};

/// One timeline line, built in a buffer kept between rows and written at once.
pub(crate) fn row(out: &mut dyn Write, row: &Row, zone: &ZoneView) -> io::Result<()> {
    thread_local! {
        static LINE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    LINE.with_borrow_mut(|line| {
        line.clear();
        line.push_str("| ");
        zone.push_format(line, row.at);
        line.push_str(" | ");
        push_escaped(line, &row.endpoint);
        line.push_str(" | ");
        for m in row
            .marks
            .iter()
            .filter(|m| !matches!(m, Mark::FirstSign(_)))
        {
            line.push_str("**");
            line.push_str(&m.words());
            line.push_str("** · ");
        }
        push_escaped(line, &row.label());
        line.push_str(" | ");
        push_escaped(line, &row.detail);
        if row.marks.iter().any(|m| matches!(m, Mark::FirstSign(_))) {
            line.push_str(" — *first sign of trouble*");
        }
        line.push_str(" |\n");
        out.write_all(line.as_bytes())
    })
}

/// Everything before the timeline rows: title, window, summary, and the table header.
pub(crate) fn head(out: &mut dyn Write, s: &Summary, zone: &ZoneView) -> io::Result<()> {
    writeln!(out, "# Heartline export: {}", escape(&title(s)))?;
    writeln!(out)?;
    writeln!(
        out,
        "- **Window:** {} → {} {} ({})",
        zone.format_short(s.since),
        zone.format_short(s.until),
        zone.label(),
        readable(std::time::Duration::from_millis(
            (s.until.0 - s.since.0).max(0).unsigned_abs()
        ))
    )?;
    let urls: Vec<String> = s
        .endpoints
        .iter()
        .map(|e| {
            format!(
                "{} (`{}`)",
                escape(&e.name),
                escape_controls(&e.url).replace('`', "%60")
            )
        })
        .collect();
    writeln!(out, "- **Endpoints:** {}", urls.join(", "))?;
    if s.incidents_only {
        writeln!(
            out,
            "- **Timeline:** incidents only, from each one's first sign of trouble to its end \
             ({} of {} events)",
            s.events_exported, s.events_seen
        )?;
    } else {
        writeln!(out, "- **Timeline:** every event ({})", s.events_exported)?;
    }
    writeln!(
        out,
        "- **Generated:** {} {} by Heartline {}",
        zone.format_short(s.generated),
        zone.label(),
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(out)?;

    writeln!(out, "## Summary")?;
    writeln!(out)?;
    writeln!(
        out,
        "| Endpoint | Uptime | Connected | Drops | Drops/h | Median session | Degraded | Down | Not recorded | Incidents | Closes | Failed handshakes | Reconnects | RTT mean | RTT worst p95 |"
    )?;
    writeln!(
        out,
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    )?;
    for e in &s.endpoints {
        let u = &e.uptime;
        let (mean, p95) = match &e.rtt {
            Some(r) => (
                millis_text(r.mean),
                format!("{} (per {})", millis_text(r.worst_p95), r.resolution),
            ),
            None => ("–".into(), "–".into()),
        };
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {mean} | {p95} |",
            escape(&e.name),
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
    writeln!(out)?;
    writeln!(out, "{}", crate::model::UPTIME_DEFINITION)?;
    writeln!(out)?;

    writeln!(out, "### Incidents")?;
    writeln!(out)?;
    if s.incidents.is_empty() {
        writeln!(out, "No incidents in the window.")?;
    } else {
        writeln!(
            out,
            "| # | Endpoint | Kind | Cause | Episodes | Start ({z}) | End ({z}) | Duration | Detected after | Close codes | Failed handshakes | Reconnects | RTT before |",
            z = zone.label()
        )?;
        writeln!(out, "|--:|---|---|---|--:|---|---|--:|--:|---|---|--:|--:|")?;
        for (n, i) in s.incidents.iter().enumerate() {
            let end = i.end_cell(zone);
            let codes: Vec<String> = i
                .close_code_cells()
                .into_iter()
                .map(|(code, times)| format!("{code} {times}"))
                .collect();
            let failures: Vec<String> = i
                .handshake_failure_cells()
                .iter()
                .map(|f| escape(f))
                .collect();
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {end} | {}{} | {} | {} | {} | {} | {} |",
                n + 1,
                escape(&i.endpoint),
                state_word(i.kind),
                escape(&i.cause_cell()),
                i.episodes,
                zone.format(i.started),
                readable(i.duration),
                if i.ended.is_none() { " so far" } else { "" },
                readable(i.time_to_detect),
                or_dash(codes.join(", ")),
                or_dash(failures.join(", ")),
                i.reconnect_attempts,
                i.rtt_before.map_or("–".into(), millis_text),
            )?;
        }
    }
    writeln!(out)?;

    writeln!(out, "### Close codes")?;
    writeln!(out)?;
    if s.close_codes.is_empty() {
        writeln!(out, "No session closed in the window.")?;
    } else {
        writeln!(out, "| Code | Meaning | Class | Closed by | Count |")?;
        writeln!(out, "|--:|---|---|---|--:|")?;
        for c in &s.close_codes {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                c.code,
                c.meaning(),
                c.class().as_str().replace('_', " "),
                escape(&c.initiator),
                c.count
            )?;
        }
    }
    writeln!(out)?;

    writeln!(out, "### Diagnosis")?;
    writeln!(out)?;
    if s.findings.is_empty() {
        writeln!(out, "No known failure pattern in the window.")?;
        writeln!(out)?;
    }
    for (n, f) in s.findings.iter().enumerate() {
        writeln!(out, "#### {}. {}", n + 1, escape(&f.title))?;
        writeln!(out)?;
        writeln!(
            out,
            "*{} · {} · {} occurrence{} · {} → {} UTC*",
            f.rule,
            escape(&f.endpoints.join(", ")),
            f.occurrences,
            if f.occurrences == 1 { "" } else { "s" },
            crate::time::Zone::Utc
                .view(f.first_seen, f.last_seen)
                .format_short(f.first_seen),
            crate::time::Zone::Utc
                .view(f.first_seen, f.last_seen)
                .format_short(f.last_seen),
        )?;
        writeln!(out)?;
        writeln!(out, "{}", escape(&f.explanation))?;
        writeln!(out)?;
        for line in &f.evidence {
            writeln!(out, "- {}", escape(line))?;
        }
        if !f.evidence.is_empty() {
            writeln!(out)?;
        }
        writeln!(out, "**Suggestion:** {}", escape(&f.suggestion))?;
        writeln!(out)?;
    }

    writeln!(out, "## Timeline")?;
    writeln!(out)?;
    writeln!(
        out,
        "| Time ({}) | Endpoint | Event | Detail |",
        zone.label()
    )?;
    writeln!(out, "|---|---|---|---|")?;
    Ok(())
}

/// What follows the rows.
pub(crate) fn tail(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    if s.events_exported == 0 {
        writeln!(out, "| | | *no events* | |")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "*Close codes by class: {}. RTT comes from per-minute, hour and day rollups.*",
        classes_note()
    )?;
    out.flush()
}

/// "feed-1", "feed-1, feed-2", "3 endpoints tagged prod", "all 200 endpoints".
pub(crate) fn title(s: &Summary) -> String {
    let names: Vec<&str> = s.endpoints.iter().map(|e| e.name.as_str()).collect();
    if names.len() <= 4 {
        names.join(", ")
    } else if !s.requested_tags.is_empty() && s.requested_endpoints.is_empty() {
        format!(
            "{} endpoints tagged {}",
            names.len(),
            s.requested_tags.join(", ")
        )
    } else if s.requested_endpoints.is_empty() {
        format!("all {} endpoints", names.len())
    } else {
        format!("{} endpoints", names.len())
    }
}

fn classes_note() -> String {
    let words: Vec<&str> = crate::palette::CLOSE_CLASSES
        .iter()
        .map(|(_, w)| *w)
        .collect();
    words.join("; ")
}

fn state_word(kind: heartline_core::IncidentKind) -> State {
    match kind {
        heartline_core::IncidentKind::Down => State::Down,
        heartline_core::IncidentKind::Degraded => State::Degraded,
        heartline_core::IncidentKind::Unstable => State::Unstable,
    }
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "–".into()
    } else {
        s
    }
}

/// Escapes what would break a table cell or turn into markup: text from servers and the
/// network (and names people typed) is shown as it is, never interpreted. Control characters
/// and bidi overrides are written as escapes first (`\x1b`, `\n`: a reason cannot end a table
/// row, colour a terminal that shows the file, or reorder what a reader sees); then every
/// Markdown character that could start markup or split a cell gets a backslash.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// [`escape`] appended to `out`.
fn push_escaped(out: &mut String, text: &str) {
    let text = escape_controls(text);
    let special = |b: u8| {
        matches!(
            b,
            b'\\' | b'|' | b'*' | b'_' | b'`' | b'<' | b'>' | b'[' | b']'
        )
    };
    if !text.bytes().any(special) {
        out.push_str(&text);
        return;
    }
    for c in text.chars() {
        if c.is_ascii() && special(c as u8) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_keeps_cells_whole_and_controls_visible() {
        for (input, expected) in [
            ("plain ünïcode", "plain ünïcode"),
            ("a | b", "a \\| b"),
            (
                "`code` *em* _u_ [l](x) <b>",
                "\\`code\\` \\*em\\* \\_u\\_ \\[l\\](x) \\<b\\>",
            ),
            ("\u{1b}]0;pwned\u{7}", "\\\\x1b\\]0;pwned\\\\x07"),
            ("two\nlines\r\ttab", "two\\\\nlines\\\\r\\\\ttab"),
            ("8-bit csi \u{9b}31m", "8-bit csi \\\\u{9b}31m"),
        ] {
            assert_eq!(super::escape(input), expected, "{input:?}");
        }
    }
}
