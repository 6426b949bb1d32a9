//! The font PNG text is drawn with, found on the system at run time (none is bundled): the
//! `HEARTLINE_FONT` file if set, else DejaVu Sans or another common sans-serif at its usual
//! place, else whatever `fc-match sans-serif` names.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::style::FontStyle;

use crate::{Error, Result};

/// Where common systems keep a regular and a bold sans-serif face.
const KNOWN: &[(&str, &str)] = &[
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    ),
    (
        "/usr/local/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/local/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    ),
    (
        "/System/Library/Fonts/Supplemental/Arial.ttf",
        "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
    ),
    ("/Library/Fonts/Arial.ttf", "/Library/Fonts/Arial Bold.ttf"),
    (
        "C:\\Windows\\Fonts\\arial.ttf",
        "C:\\Windows\\Fonts\\arialbd.ttf",
    ),
];

/// Registers a sans-serif face with plotters once per process; later calls return the first
/// outcome.
pub(crate) fn ensure() -> Result<()> {
    static LOADED: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    match LOADED.get_or_init(load) {
        Ok(_) => Ok(()),
        Err(tried) => Err(Error::NoFont(tried.clone())),
    }
}

fn load() -> std::result::Result<PathBuf, String> {
    let mut candidates: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    if let Some(path) = std::env::var_os("HEARTLINE_FONT") {
        candidates.push((PathBuf::from(path), None));
    }
    candidates.extend(
        KNOWN
            .iter()
            .map(|(regular, bold)| (PathBuf::from(regular), Some(PathBuf::from(bold)))),
    );
    if let Some(found) = fc_match() {
        candidates.push((found, None));
    }
    for (regular, bold) in &candidates {
        let Some(bytes) = read(regular) else {
            continue;
        };
        if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_err() {
            continue;
        }
        if let Some(bold) = bold.as_deref().and_then(read) {
            // Bold is a nicety: plotters falls back to the regular face without it.
            let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, bold);
        }
        tracing::debug!(font = %regular.display(), "PNG text font");
        return Ok(regular.clone());
    }
    Err(
        "tried HEARTLINE_FONT, the usual DejaVu Sans and Arial locations and `fc-match sans-serif`"
            .into(),
    )
}

/// The file's bytes, kept for the life of the process (plotters needs them `'static`; this
/// happens once).
fn read(path: &Path) -> Option<&'static [u8]> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    if ext != "ttf" && ext != "otf" {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    Some(Box::leak(bytes.into_boxed_slice()))
}

/// The file fontconfig picks for "sans-serif", when fontconfig is installed.
fn fc_match() -> Option<PathBuf> {
    let out = std::process::Command::new("fc-match")
        .args(["--format=%{file}", "sans-serif:style=Regular"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    let path = path.trim();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}
