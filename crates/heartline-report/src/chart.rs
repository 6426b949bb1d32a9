//! Charts of one endpoint over the window, drawn with plotters: latency (protocol and
//! application round trips, p95 band), the state band with close markers by class, and
//! reconnect attempts, on one UTC time axis.
//!
//! Every drawing function is generic over plotters' `DrawingBackend`, so one function renders
//! SVG, PNG and the test backend. SVG and PNG go through [`FixedMetrics`], which measures text
//! from a fixed table instead of a font: SVG output is then identical on every machine (the
//! viewer's font draws the text), and PNG needs a font only to draw glyphs (see `font`).

use std::collections::HashMap;
use std::io::Write;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendCoord, DrawingErrorKind};

use heartline_core::{close_code, escape_controls, EndpointId, Event, EventKind, State, Timestamp};
use heartline_store::RttPoint;

use crate::palette::{self, Rgb};
use crate::{font, Error, Result};

/// Most endpoints drawn in one export; with more, the most troubled are drawn (and the
/// export says how many were left out).
pub const MAX_CHARTS: usize = 12;

/// Size of one endpoint's chart in pixels.
pub const CHART_WIDTH: u32 = 1000;
pub const CHART_HEIGHT: u32 = 470;

/// RTT buckets asked for per chart: about two per horizontal pixel of the plot.
pub(crate) const CHART_RTT_POINTS: usize = 1800;

/// What one endpoint's chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub name: String,
    pub since: Timestamp,
    pub until: Timestamp,
    /// Bucket length of the RTT series in ms (gaps longer than this break the lines).
    pub rtt_step_ms: i64,
    pub protocol: Vec<RttPoint>,
    pub app: Vec<RttPoint>,
    /// The state from `since` and each change after it (`None`: unknown).
    pub states: Vec<(Timestamp, Option<State>)>,
    pub closes: Vec<(Timestamp, u16)>,
    pub reconnects: Vec<(Timestamp, u32)>,
}

/// Collects chart data for the charted endpoints while events stream past.
#[derive(Debug, Default)]
pub(crate) struct Collector {
    pub charts: HashMap<EndpointId, ChartData>,
}

impl Collector {
    pub fn observe(&mut self, event: &Event) {
        let Some(chart) = self.charts.get_mut(&event.endpoint) else {
            return;
        };
        match &event.kind {
            EventKind::StateChanged { to, .. } => chart.states.push((event.at, Some(*to))),
            EventKind::Closed { end, .. } => chart.closes.push((event.at, end.code())),
            EventKind::ReconnectScheduled { attempt, .. } => {
                chart.reconnects.push((event.at, *attempt))
            }
            _ => {}
        }
    }
}

/// Renders charts stacked one above the other as an SVG document.
pub fn svg(charts: &[ChartData]) -> Result<String> {
    let mut out = String::new();
    {
        let height = CHART_HEIGHT * u32::try_from(charts.len().max(1)).unwrap_or(1);
        let backend = FixedMetrics(SVGBackend::with_string(&mut out, (CHART_WIDTH, height)));
        let root = backend.into_drawing_area();
        draw_stack(&root, charts)?;
        root.present().map_err(chart_error)?;
    }
    Ok(out)
}

/// Renders charts stacked one above the other as a PNG image. Fails with
/// [`Error::NoFont`] when no usable font is installed.
pub fn png(charts: &[ChartData], out: &mut dyn Write) -> Result<()> {
    font::ensure()?;
    let height = CHART_HEIGHT * u32::try_from(charts.len().max(1)).unwrap_or(1);
    let mut pixels = vec![0u8; CHART_WIDTH as usize * height as usize * 3];
    {
        let backend = FixedMetrics(BitMapBackend::with_buffer(
            &mut pixels,
            (CHART_WIDTH, height),
        ));
        let root = backend.into_drawing_area();
        draw_stack(&root, charts)?;
        root.present().map_err(chart_error)?;
    }
    use image::ImageEncoder;
    image::codecs::png::PngEncoder::new(out)
        .write_image(&pixels, CHART_WIDTH, height, image::ColorType::Rgb8)
        .map_err(|e| match e {
            image::ImageError::IoError(io) => Error::Io(io),
            other => Error::Chart(other.to_string()),
        })
}

/// Draws each chart in its own horizontal strip of `area`, top to bottom.
pub fn draw_stack<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    charts: &[ChartData],
) -> Result<()> {
    area.fill(&color(palette::BACKGROUND))
        .map_err(chart_error)?;
    if charts.is_empty() {
        return Ok(());
    }
    for (strip, chart) in area.split_evenly((charts.len(), 1)).iter().zip(charts) {
        draw(strip, chart)?;
    }
    Ok(())
}

/// Draws one endpoint's chart into `area` (best at [`CHART_WIDTH`] × [`CHART_HEIGHT`]).
pub fn draw<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, data: &ChartData) -> Result<()> {
    let (width, _) = area.dim_in_pixel();
    let width = i32::try_from(width).unwrap_or(i32::MAX);
    let utc = crate::time::Zone::Utc.view(data.since, data.until);
    // The name is the only text in a chart that people (or a database) supplied: controls in
    // it would be invalid in SVG's XML and garble a PNG's text.
    let title = format!(
        "{} · {} → {} UTC",
        escape_controls(&data.name),
        utc.format_short(data.since),
        utc.format_short(data.until)
    );
    area.draw_text(
        &title,
        &text_style(19, palette::TEXT).pos(Pos::new(HPos::Center, VPos::Top)),
        (width / 2, 8),
    )
    .map_err(chart_error)?;
    let legend_bottom = draw_legend(area, data, width)?;

    let (_, rest) = area.split_vertically(legend_bottom + 6);
    let (latency, rest) = rest.split_vertically(170);
    let (band, rest) = rest.split_vertically(70);
    let (attempts, _) = rest.split_vertically(rest.dim_in_pixel().1.saturating_sub(34));
    let span = 0.0..secs(data, data.until.0).max(0.001);

    // Latency.
    let max_ms = data
        .protocol
        .iter()
        .chain(&data.app)
        .map(|p| p.p95.as_secs_f64() * 1000.0)
        .fold(1.0f64, f64::max)
        * 1.15;
    let mut chart = panel(&latency, span.clone(), 0.0..max_ms)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(5)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("RTT (ms)")
        .light_line_style(TRANSPARENT)
        .bold_line_style(color(palette::GRID))
        .axis_style(color(palette::MUTED))
        .label_style(text_style(13, palette::MUTED))
        .axis_desc_style(text_style(13, palette::MUTED))
        .draw()
        .map_err(chart_error)?;
    time_grid(&mut chart, data, max_ms)?;
    for run in runs(&data.protocol, data.rtt_step_ms) {
        let band: Vec<(f64, f64)> = run
            .iter()
            .map(|p| (secs(data, p.at.0), ms(p.p95)))
            .chain(run.iter().rev().map(|p| (secs(data, p.at.0), ms(p.p50))))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                color(palette::RTT_P95).mix(0.35).filled(),
            )))
            .map_err(chart_error)?;
        rtt_line(&mut chart, data, run, |p| p.p95, palette::RTT_P95, 1)?;
        rtt_line(&mut chart, data, run, |p| p.p50, palette::RTT_PROTOCOL, 2)?;
    }
    for run in runs(&data.app, data.rtt_step_ms) {
        rtt_line(&mut chart, data, run, |p| p.p50, palette::RTT_APP, 2)?;
    }

    // State band (lower row) and close markers (upper row).
    let mut chart = panel(&band, span.clone(), 0.0..2.0)?;
    time_grid(&mut chart, data, 2.0)?;
    let mut pieces = data.states.clone();
    pieces.push((data.until, None));
    for pair in pieces.windows(2) {
        let (start, state) = pair[0];
        let end = pair[1].0;
        if end.0 <= start.0 {
            continue;
        }
        let fill = state.map_or(palette::UNKNOWN, palette::state);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(secs(data, start.0), 0.15), (secs(data, end.0), 0.85)],
                color(fill).filled(),
            )))
            .map_err(chart_error)?;
    }
    chart
        .draw_series(data.closes.iter().map(|&(at, code)| {
            let class = close_code::classify(code);
            Circle::new(
                (secs(data, at.0), 1.45),
                4,
                color(palette::close_class(class)).filled(),
            )
        }))
        .map_err(chart_error)?;
    row_label(&band, &chart, "state", 0.5)?;
    row_label(&band, &chart, "closes", 1.45)?;

    // Reconnect attempts.
    let top = data
        .reconnects
        .iter()
        .map(|r| f64::from(r.1))
        .fold(1.0f64, f64::max)
        + 1.0;
    let mut chart = panel(&attempts, span, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(4)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("attempt")
        .light_line_style(TRANSPARENT)
        .bold_line_style(color(palette::GRID))
        .axis_style(color(palette::MUTED))
        .label_style(text_style(13, palette::MUTED))
        .axis_desc_style(text_style(13, palette::MUTED))
        .draw()
        .map_err(chart_error)?;
    time_grid(&mut chart, data, top)?;
    chart
        .draw_series(data.reconnects.iter().map(|&(at, attempt)| {
            Rectangle::new(
                [
                    (secs(data, at.0), 0.0),
                    (secs(data, at.0), f64::from(attempt)),
                ],
                color(palette::RECONNECT).stroke_width(2),
            )
        }))
        .map_err(chart_error)?;
    time_labels(area, &chart, data)?;
    Ok(())
}

type Panel<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

fn panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<Panel<'a, DB>> {
    ChartBuilder::on(area)
        .margin_right(18)
        .margin_top(4)
        .y_label_area_size(76)
        .build_cartesian_2d(x, y)
        .map_err(chart_error)
}

/// One RTT line over a run of buckets: the figure `pick` takes from each, in one colour.
fn rtt_line<DB: DrawingBackend>(
    chart: &mut Panel<'_, DB>,
    data: &ChartData,
    run: &[RttPoint],
    pick: fn(&RttPoint) -> std::time::Duration,
    line: Rgb,
    width: u32,
) -> Result<()> {
    chart
        .draw_series(LineSeries::new(
            run.iter().map(|p| (secs(data, p.at.0), ms(pick(p)))),
            color(line).stroke_width(width),
        ))
        .map_err(chart_error)?;
    Ok(())
}

/// Vertical grid lines at the time ticks.
fn time_grid<DB: DrawingBackend>(
    chart: &mut Panel<'_, DB>,
    data: &ChartData,
    top: f64,
) -> Result<()> {
    let grid = color(palette::GRID);
    chart
        .draw_series(
            ticks(data.since, data.until).into_iter().map(|(t, _)| {
                PathElement::new(vec![(secs(data, t), 0.0), (secs(data, t), top)], grid)
            }),
        )
        .map_err(chart_error)?;
    Ok(())
}

/// Tick labels under the last panel, and the axis caption that names the zone.
fn time_labels<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Panel<'_, DB>,
    data: &ChartData,
) -> Result<()> {
    let base = area.get_base_pixel();
    let style = text_style(13, palette::MUTED).pos(Pos::new(HPos::Center, VPos::Top));
    let mut last_y = 0;
    for (t, label) in ticks(data.since, data.until) {
        let (x, y) = chart.backend_coord(&(secs(data, t), 0.0));
        last_y = y - base.1;
        area.draw_text(&label, &style, (x - base.0, y - base.1 + 4))
            .map_err(chart_error)?;
    }
    let (right, _) = chart.backend_coord(&(secs(data, data.until.0), 0.0));
    area.draw_text(
        "Time (UTC)",
        &text_style(13, palette::TEXT).pos(Pos::new(HPos::Right, VPos::Top)),
        (right - base.0, last_y + 18),
    )
    .map_err(chart_error)?;
    Ok(())
}

/// A row name in the left label area of the band panel.
fn row_label<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Panel<'_, DB>,
    text: &str,
    y: f64,
) -> Result<()> {
    let base = area.get_base_pixel();
    let (x, y) = chart.backend_coord(&(chart.x_range().start, y));
    area.draw_text(
        text,
        &text_style(13, palette::MUTED).pos(Pos::new(HPos::Right, VPos::Center)),
        (x - base.0 - 6, y - base.1),
    )
    .map_err(chart_error)
}

/// The legend: one entry per series drawn (close classes only when present). Returns the y
/// below it.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &ChartData,
    width: i32,
) -> Result<i32> {
    enum Swatch {
        Line(Rgb),
        Band(Rgb),
        Dot(Rgb),
    }
    let mut entries: Vec<(Swatch, String)> = vec![
        (
            Swatch::Line(palette::RTT_PROTOCOL),
            "RTT p50 (protocol ping)".into(),
        ),
        (
            Swatch::Band(palette::RTT_P95),
            "p50–p95 band, p95 line".into(),
        ),
    ];
    if !data.app.is_empty() {
        entries.push((
            Swatch::Line(palette::RTT_APP),
            "RTT p50 (app heartbeat)".into(),
        ));
    }
    entries.push((Swatch::Line(palette::RECONNECT), "reconnect attempt".into()));
    for state in palette::STATES {
        entries.push((Swatch::Band(palette::state(state)), state.to_string()));
    }
    let mut codes: Vec<u16> = data.closes.iter().map(|c| c.1).collect();
    codes.sort_unstable();
    codes.dedup();
    for (class, words) in palette::CLOSE_CLASSES {
        let present: Vec<String> = codes
            .iter()
            .filter(|c| close_code::classify(**c) == class)
            .map(u16::to_string)
            .collect();
        if !present.is_empty() {
            let name = words.split(" (").next().unwrap_or(words);
            entries.push((
                Swatch::Dot(palette::close_class(class)),
                format!("close {} ({})", name, present.join(", ")),
            ));
        }
    }
    let style = text_style(13, palette::TEXT).pos(Pos::new(HPos::Left, VPos::Center));
    let (mut x, mut y) = (76, 40);
    for (swatch, label) in entries {
        let w = 22 + text_width(&label, 13) + 16;
        if x + w > width - 10 {
            x = 76;
            y += 18;
        }
        match swatch {
            Swatch::Line(c) => area.draw(&PathElement::new(
                vec![(x, y), (x + 16, y)],
                color(c).stroke_width(2),
            )),
            Swatch::Band(c) => area.draw(&Rectangle::new(
                [(x, y - 5), (x + 16, y + 5)],
                color(c).filled(),
            )),
            Swatch::Dot(c) => area.draw(&Circle::new((x + 8, y), 4, color(c).filled())),
        }
        .map_err(chart_error)?;
        area.draw_text(&label, &style, (x + 22, y))
            .map_err(chart_error)?;
        x += w;
    }
    Ok(y + 10)
}

/// Tick times and labels: a round step giving at most 8 ticks, aligned to UTC.
fn ticks(since: Timestamp, until: Timestamp) -> Vec<(i64, String)> {
    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;
    let span = (until.0 - since.0).max(1);
    let step = [
        MIN,
        5 * MIN,
        15 * MIN,
        30 * MIN,
        HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
        30 * DAY,
        90 * DAY,
    ]
    .into_iter()
    .find(|s| span / s <= 8)
    .unwrap_or(365 * DAY);
    let mut out = Vec::new();
    let mut t = since.0.div_euclid(step) * step;
    if t < since.0 {
        t += step;
    }
    while t <= until.0 {
        let iso = crate::time::iso_utc(Timestamp(t));
        // "2026-11-21T10:00:00.000Z" → "11-21" / "10:00" / "11-21 10:00".
        let (day, clock) = (&iso[5..10], &iso[11..16]);
        let label = if step >= DAY {
            day.to_owned()
        } else if t.rem_euclid(DAY) == 0 || out.is_empty() {
            format!("{day} {clock}")
        } else {
            clock.to_owned()
        };
        out.push((t, label));
        t += step;
    }
    out
}

/// Runs of consecutive buckets (a missing bucket breaks the line rather than bridging it).
fn runs(points: &[RttPoint], step: i64) -> Vec<&[RttPoint]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=points.len() {
        if i == points.len() || points[i].at.0 - points[i - 1].at.0 > step.max(1) {
            out.push(&points[start..i]);
            start = i;
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// The chart's x: seconds since the start of the window (plotters' integer axes overflow on
/// epoch milliseconds).
fn secs(data: &ChartData, t: i64) -> f64 {
    (t - data.since.0) as f64 / 1000.0
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn color(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

fn text_style(size: u32, c: Rgb) -> TextStyle<'static> {
    ("sans-serif", f64::from(size)).into_font().color(&color(c))
}

/// Width of `text` at `size` px from average glyph widths of a sans-serif face (DejaVu Sans is
/// a little wider than most): good enough to lay out a legend and place labels.
fn text_width(text: &str, size: u32) -> i32 {
    let em: f64 = text
        .chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '!' | '|' | '\'' | ' ' => 0.32,
            'f' | 't' | 'r' | '(' | ')' | '-' | '/' => 0.42,
            'm' | 'w' | 'M' | 'W' | '—' | '–' | '→' => 0.9,
            c if c.is_ascii_uppercase() || c.is_ascii_digit() => 0.66,
            _ => 0.58,
        })
        .sum();
    (em * f64::from(size)).round() as i32
}

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::Chart(e.to_string())
}

/// A backend that measures text with [`text_width`] instead of a font and delegates the rest.
pub struct FixedMetrics<B>(pub B);

impl<B: DrawingBackend> DrawingBackend for FixedMetrics<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: plotters_backend::BackendColor,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_pixel(point, color)
    }
    fn draw_line<S: plotters_backend::BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: plotters_backend::BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: plotters_backend::BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: plotters_backend::BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }
    fn draw_text<T: plotters_backend::BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.draw_text(text, style, pos)
    }
    fn estimate_text_size<T: plotters_backend::BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> Result<(u32, u32), DrawingErrorKind<B::ErrorType>> {
        let size = plotters_backend::BackendTextStyle::size(style)
            .round()
            .max(1.0) as u32;
        Ok((text_width(text, size).unsigned_abs(), size))
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        iwh: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<B::ErrorType>> {
        self.0.blit_bitmap(pos, iwh, src)
    }
}
