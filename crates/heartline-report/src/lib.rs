//! Heartline's exports: the history of a selection of endpoints over a window, as the thing an
//! engineer pastes into a postmortem (Markdown), loads into a spreadsheet (CSV), feeds to a
//! script (JSON, NDJSON), sends around (one self-contained HTML file) or drops into a slide
//! (charts as SVG or PNG).
//!
//! ```text
//! Store ──▶ gather: endpoints of the selection · aggregates (uptime, incidents, close codes,
//!                   RTT rollups) · events a day at a time ──┬─ tallies, incident marks,
//!                                                            │  diagnosis (bounded slices)
//!                                                            └─▶ render: one Row per event ─▶ Write
//! ```
//! Invariant: for md, csv, json and ndjson, memory does not grow with the number of events:
//! events are read a day at a time and written as they come; the summary comes from aggregate
//! queries and running tallies; diagnosis holds at most [`DIAGNOSIS_SLICE_EVENTS`] events.
//! Markdown and HTML put the summary first, so their timeline is spooled to a temporary file.
//! Invariant: no secret is exported. Endpoints are read with an empty secret store (header
//! values are never loaded), URLs go through `Endpoint::display_url`, headers are not exported.
//! Boundary: this crate renders; it never parses arguments or decides where output goes (the
//! CLI and, later, the desktop app do).

mod chart;
mod csv;
mod font;
mod gather;
mod html;
mod json;
mod markdown;
mod model;
pub mod palette;
mod spool;
mod time;

use std::collections::HashMap;
use std::io::Write;

use futures_util::TryStreamExt;

use heartline_core::{EndpointId, Timestamp};
use heartline_store::Store;

pub use chart::{
    draw, draw_stack, png, svg, ChartData, FixedMetrics, CHART_HEIGHT, CHART_WIDTH, MAX_CHARTS,
};
pub use gather::DIAGNOSIS_SLICE_EVENTS;
pub use json::{event_json, VERSION};
pub use model::{
    CloseCount, EndpointSummary, FindingSummary, IncidentSummary, Mark, Row, RttSummary,
    ServerBeats, Summary, COLUMNS,
};
pub use time::{iso_utc, parse_instant, readable, Zone, ZoneView};

/// Why an export failed. [`Error::is_selection`] tells apart what the user should change.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("bad time range: {0}")]
    Range(String),
    #[error("no endpoint named {unknown}; the database has {known}")]
    UnknownEndpoints { unknown: String, known: String },
    #[error("no endpoint is tagged {unknown}; tags in use: {known}")]
    UnknownTags { unknown: String, known: String },
    #[error("{0}")]
    NoEndpoints(String),
    #[error("no data in range: nothing was recorded for {what} between {since} and {until}")]
    NoData {
        what: String,
        since: String,
        until: String,
    },
    #[error(transparent)]
    Store(#[from] heartline_store::Error),
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot draw the chart: {0}")]
    Chart(String),
    #[error(
        "no font to draw PNG text ({0}): install one (Debian/Ubuntu: `apt-get install \
         fonts-dejavu-core`) or set HEARTLINE_FONT to a .ttf file; SVG needs no font"
    )]
    NoFont(String),
}

impl Error {
    /// Whether the selection itself is at fault (bad range, unknown names, nothing in it), as
    /// opposed to the database, the disk or the machine.
    pub fn is_selection(&self) -> bool {
        matches!(
            self,
            Error::Range(_)
                | Error::UnknownEndpoints { .. }
                | Error::UnknownTags { .. }
                | Error::NoEndpoints(_)
                | Error::NoData { .. }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to export: endpoints by name and by tag (both empty: all of them), a window, and
/// whether only incidents (from each one's first sign of trouble to its end) or every event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub endpoints: Vec<String>,
    pub tags: Vec<String>,
    pub since: Timestamp,
    pub until: Timestamp,
    pub incidents_only: bool,
}

impl Selection {
    /// Every endpoint over `[since, until)`, every event.
    pub fn all(since: Timestamp, until: Timestamp) -> Self {
        Selection {
            endpoints: Vec::new(),
            tags: Vec::new(),
            since,
            until,
            incidents_only: false,
        }
    }

    fn check(&self) -> Result<()> {
        if self.since >= self.until {
            return Err(Error::Range(format!(
                "since ({}) must be before until ({})",
                iso_utc(self.since),
                iso_utc(self.until)
            )));
        }
        Ok(())
    }
}

/// The export formats, serialized by their [`Format::name`] (`md`, `csv`, …; the long name
/// `markdown` that [`Format::parse`] also takes is for people typing, not for IPC).
/// TypeScript knows it as `ExportFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(rename = "ExportFormat"))]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[serde(rename = "md")]
    Markdown,
    Csv,
    Json,
    Ndjson,
    Html,
    Svg,
    Png,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Markdown,
        Format::Csv,
        Format::Json,
        Format::Ndjson,
        Format::Html,
        Format::Svg,
        Format::Png,
    ];

    /// The name on the command line, also the usual file extension.
    pub fn name(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Html => "html",
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }

    pub fn parse(text: &str) -> Option<Format> {
        let text = text.to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.name() == text)
            .or_else(|| (text == "markdown").then_some(Format::Markdown))
    }

    /// Documents a person opens rather than reads on a terminal (binary or markup-heavy).
    pub fn is_document(self) -> bool {
        matches!(self, Format::Html | Format::Svg | Format::Png)
    }

    fn has_charts(self) -> bool {
        matches!(self, Format::Html | Format::Svg | Format::Png)
    }

    fn has_summary(self) -> bool {
        matches!(self, Format::Markdown | Format::Json | Format::Html)
    }
}

/// How to render: the format, the zone people read times in, and the time the export is made
/// (passed in, so the same history always renders the same bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    pub zone: Zone,
    pub now: Timestamp,
}

/// How far an export has got, reported after each day of the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Events read so far, and written so far.
    pub events: u64,
    pub exported: u64,
    /// The window has been read up to here.
    pub through: Timestamp,
    /// Share of the window read, 0..=1.
    pub fraction: f64,
}

/// Exports the selection in one format to `out`, reporting progress after each day read;
/// returns the summary it rendered.
#[tracing::instrument(skip_all, fields(format = options.format.name()))]
pub async fn export(
    store: &Store,
    selection: &Selection,
    options: &Options,
    out: &mut (dyn Write + Send),
    progress: &(dyn Fn(Progress) + Send + Sync),
) -> Result<Summary> {
    selection.check()?;
    let (since, until) = (selection.since, selection.until);
    let endpoints = gather::resolve(store, selection).await?;
    let ids: Vec<EndpointId> = endpoints.iter().map(|e| e.id).collect();
    let scope = gather::scope(selection, &ids);
    // The store starts reading history on a thread of its own now, so its first days are
    // read while the aggregates below are.
    let mut days = store.export_history_days(scope, since, until);
    let agg = gather::aggregates(store, scope, &ids, since, until).await?;
    if !agg.any() && !store.export_has_history(scope, since, until).await? {
        // Shown on a terminal: names with their control characters escaped.
        let names: Vec<_> = endpoints
            .iter()
            .map(|e| heartline_core::escape_controls(&e.name))
            .collect();
        return Err(Error::NoData {
            what: if names.len() <= 5 {
                names.join(", ")
            } else {
                format!("{} endpoints", names.len())
            },
            since: iso_utc(since),
            until: iso_utc(until),
        });
    }
    let names: HashMap<EndpointId, String> =
        endpoints.iter().map(|e| (e.id, e.name.clone())).collect();
    let zone = options.zone.view(since, until);
    let format = options.format;

    let charted = if format.has_charts() {
        gather::rank_for_charts(&endpoints, &agg, MAX_CHARTS)
    } else {
        Vec::new()
    };
    let mut collector = chart::Collector::default();
    for id in &charted {
        collector
            .charts
            .insert(*id, chart_base(store, *id, &names, since, until).await?);
    }

    let mut marks = gather::Marks::new(&agg.incidents, selection.incidents_only, until);
    let mut diagnoser = format
        .has_summary()
        .then(|| gather::Diagnoser::new(endpoints.iter().map(|e| e.facts.clone()).collect()));
    let mut tally = gather::Tally::default();
    let mut body = Body::start(format, out, selection, &endpoints, options, &zone)?;
    let span = (until.0 - since.0) as f64;
    // Streamed in time order; days (from `since`) are the unit of progress and of diagnosis
    // slices, and the store reads one ahead while this one is rendered.
    let day_after = |t: Timestamp| Timestamp(t.0.saturating_add(gather::CHUNK_MS).min(until.0));
    let end_day = |diagnoser: &mut Option<gather::Diagnoser>, tally: &gather::Tally, through| {
        if let Some(d) = diagnoser.as_mut() {
            d.end_day();
        }
        progress(Progress {
            events: tally.seen,
            exported: tally.exported,
            through,
            fraction: ((through.0 - since.0) as f64 / span).clamp(0.0, 1.0),
        });
    };
    let mut through = day_after(since);
    // One row, refilled for every event (its strings keep their memory).
    let mut row = Row::from_event(
        &heartline_core::Event {
            at: since,
            endpoint: EndpointId(0),
            kind: heartline_core::EventKind::Connecting { attempt: 0 },
        },
        "",
    );
    while let Some(day) = days.try_next().await? {
        for event in day {
            while event.at >= through {
                end_day(&mut diagnoser, &tally, through);
                through = day_after(through);
            }
            tally.observe(&event);
            collector.observe(&event);
            if body.takes_rows() && marks.keep(&event) {
                let name = names.get(&event.endpoint).map_or("?", String::as_str);
                row.refill(&event, name);
                row.marks = marks.on(&event);
                body.row(&row)?;
                tally.exported += 1;
            }
            // Last: diagnosis keeps the event itself (no copy).
            if let Some(d) = diagnoser.as_mut() {
                d.push(event);
            }
        }
    }
    drop(days);
    loop {
        end_day(&mut diagnoser, &tally, through);
        if through >= until {
            break;
        }
        through = day_after(through);
    }

    let charts: Vec<ChartData> = charted
        .iter()
        .filter_map(|id| collector.charts.remove(id))
        .collect();
    let summary = Summary {
        generated: options.now,
        since,
        until,
        zone: zone.label(),
        incidents_only: selection.incidents_only,
        requested_endpoints: selection.endpoints.clone(),
        requested_tags: selection.tags.clone(),
        endpoints: gather::endpoint_summaries(&endpoints, &agg, &tally),
        incidents: gather::incident_summaries(&agg.incidents, &names, options.now),
        close_codes: agg.close_codes.clone(),
        findings: diagnoser.map(|d| d.finish(&names)).unwrap_or_default(),
        events_exported: tally.exported,
        events_seen: tally.seen,
        charted: charts.iter().map(|c| c.name.clone()).collect(),
        not_charted: if format.has_charts() {
            endpoints.len().saturating_sub(charts.len())
        } else {
            0
        },
    };
    body.finish(&summary, &zone, &charts)?;
    Ok(summary)
}

/// A chart's data that does not come from the event stream: RTT rollups and the state at the
/// start of the window.
async fn chart_base(
    store: &Store,
    id: EndpointId,
    names: &HashMap<EndpointId, String>,
    since: Timestamp,
    until: Timestamp,
) -> Result<ChartData> {
    let kind = heartline_core::PingKind::Protocol;
    let (resolution, protocol) = store
        .rtt_series(id, kind, since, until, chart::CHART_RTT_POINTS)
        .await?;
    let (_, app) = store
        .rtt_series(
            id,
            heartline_core::PingKind::App,
            since,
            until,
            chart::CHART_RTT_POINTS,
        )
        .await?;
    Ok(ChartData {
        name: names.get(&id).cloned().unwrap_or_else(|| id.to_string()),
        since,
        until,
        rtt_step_ms: resolution.millis(),
        protocol,
        app,
        states: vec![(since, store.state_at(id, since).await?)],
        closes: Vec::new(),
        reconnects: Vec::new(),
    })
}

/// Where rows go while streaming, and what is written around them.
enum Body<'w> {
    Csv(csv::Writer<'w>),
    Ndjson(&'w mut (dyn Write + Send)),
    Json(&'w mut (dyn Write + Send), json::Events),
    Markdown(&'w mut (dyn Write + Send), spool::Spool, ZoneView),
    Html(&'w mut (dyn Write + Send), spool::Spool, ZoneView),
    Chart(&'w mut (dyn Write + Send), Format),
}

impl<'w> Body<'w> {
    fn start(
        format: Format,
        out: &'w mut (dyn Write + Send),
        selection: &Selection,
        endpoints: &[gather::Selected],
        options: &Options,
        zone: &ZoneView,
    ) -> Result<Body<'w>> {
        Ok(match format {
            Format::Csv => Body::Csv(csv::Writer::start(out)?),
            Format::Ndjson => Body::Ndjson(out),
            Format::Json => {
                json::head(out, selection, endpoints, options, zone)?;
                Body::Json(out, json::Events::default())
            }
            Format::Markdown => Body::Markdown(out, spool::Spool::new()?, zone.clone()),
            Format::Html => Body::Html(out, spool::Spool::new()?, zone.clone()),
            Format::Svg | Format::Png => Body::Chart(out, format),
        })
    }

    fn takes_rows(&self) -> bool {
        !matches!(self, Body::Chart(..))
    }

    fn row(&mut self, row: &Row) -> Result<()> {
        match self {
            Body::Csv(w) => w.row(row)?,
            Body::Ndjson(out) => {
                json::write_event(&mut **out, row)?;
                out.write_all(b"\n")?;
            }
            Body::Json(out, events) => events.row(&mut **out, row)?,
            Body::Markdown(_, spool, zone) => markdown::row(spool.writer(), row, zone)?,
            Body::Html(_, spool, zone) => html::row(spool.writer(), row, zone)?,
            Body::Chart(..) => {}
        }
        Ok(())
    }

    fn finish(self, summary: &Summary, zone: &ZoneView, charts: &[ChartData]) -> Result<()> {
        match self {
            Body::Csv(w) => w.finish()?,
            Body::Ndjson(out) => out.flush()?,
            Body::Json(out, events) => json::finish(out, events, summary)?,
            Body::Markdown(out, spool, _) => {
                markdown::head(out, summary, zone)?;
                spool.copy_to(out)?;
                markdown::tail(out, summary)?;
            }
            Body::Html(out, spool, _) => {
                let svg = if charts.is_empty() {
                    None
                } else {
                    Some(svg(charts)?)
                };
                html::head(out, summary, zone, svg.as_deref())?;
                spool.copy_to(out)?;
                html::tail(out, summary)?;
            }
            Body::Chart(out, Format::Png) => {
                png(charts, out)?;
                out.flush()?;
            }
            Body::Chart(out, _) => {
                out.write_all(svg(charts)?.as_bytes())?;
                out.flush()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Format;

    /// Over IPC a format is its command-line name, the one the UI offers and the extension.
    #[test]
    fn formats_serialize_by_their_names() {
        let names = [
            (Format::Markdown, "md"),
            (Format::Csv, "csv"),
            (Format::Json, "json"),
            (Format::Ndjson, "ndjson"),
            (Format::Html, "html"),
            (Format::Svg, "svg"),
            (Format::Png, "png"),
        ];
        assert_eq!(names.map(|(f, _)| f), Format::ALL);
        for (format, name) in names {
            assert_eq!(format.name(), name);
            assert_eq!(Format::parse(name), Some(format));
            let json = serde_json::to_value(format).expect("serialize");
            assert_eq!(json, serde_json::Value::from(name));
            assert_eq!(serde_json::from_value::<Format>(json).ok(), Some(format));
        }
        // An unknown name is refused with the choices.
        let refused = serde_json::from_str::<Format>("\"pdf\"")
            .expect_err("pdf is no format")
            .to_string();
        assert!(
            refused.contains("pdf") && refused.contains("`md`"),
            "{refused}"
        );
    }
}
