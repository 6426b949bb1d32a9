//! The TypeScript types of everything crossing IPC, generated from the DTOs with ts-rs.
//!
//! ts-rs rather than tauri-specta: it derives types from plain structs without wrapping the
//! commands in its own macro, is stable (tauri-specta 2 is still a release candidate), and
//! keeps the commands ordinary `#[tauri::command]` functions. The committed file is checked
//! by the `bindings_are_current` test; `UPDATE_BINDINGS=1 cargo test -p heartline-app
//! bindings` rewrites it.

use ts_rs::TS;

use crate::dto::*;

/// Where the generated file lives, relative to this crate.
pub const PATH: &str = "../ui/src/lib/bindings.ts";
/// Where the generated palette lives, relative to this crate.
pub const PALETTE_PATH: &str = "../ui/src/lib/palette.generated.ts";

/// The whole generated file.
pub fn render() -> String {
    let decls = [
        IpcError::decl(),
        ErrorCode::decl(),
        ConfigFormat::decl(),
        FieldProblem::decl(),
        StateName::decl(),
        CloseClass::decl(),
        Initiator::decl(),
        CloseCause::decl(),
        CloseInfo::decl(),
        LiveStatus::decl(),
        StatusDelta::decl(),
        EndpointRow::decl(),
        RowHistory::decl(),
        HeaderForm::decl(),
        Protocol::decl(),
        EndpointForm::decl(),
        StepForm::decl(),
        StepKind::decl(),
        SecretVarForm::decl(),
        Window::decl(),
        RttBucket::decl(),
        StateSpan::decl(),
        RetryReason::decl(),
        ReconnectRow::decl(),
        PhaseRow::decl(),
        FindingRow::decl(),
        BeatSummary::decl(),
        Resolution::decl(),
        Detail::decl(),
        IncidentKind::decl(),
        IncidentRow::decl(),
        IncidentList::decl(),
        AppInfo::decl(),
        StartupMark::decl(),
        ImportResult::decl(),
        Lane::decl(),
        ProbeStep::decl(),
        StripBand::decl(),
        HistoryStrip::decl(),
        Strips::decl(),
        ProbeResult::decl(),
        ExportFormat::decl(),
        ExportRequest::decl(),
        ExportResult::decl(),
        ExportProgress::decl(),
        AppSettings::decl(),
        EndpointDefaults::decl(),
    ];
    let mut out = String::from(
        "// Generated from src-tauri/src/dto.rs by ts-rs; do not edit.\n\
         // Regenerate: UPDATE_BINDINGS=1 cargo test -p heartline-app bindings\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    // Every value of each union, in Rust's order: what a UI map keyed by the union must
    // cover (checked by the UI's tests), and what a picker offers.
    let lists = [
        ("ALL_CLOSE_CLASSES", "CloseClass", names(CloseClass::ALL)),
        ("ALL_INITIATORS", "Initiator", names(Initiator::ALL)),
        ("ALL_CLOSE_CAUSES", "CloseCause", names(CloseCause::ALL)),
        ("ALL_RETRY_REASONS", "RetryReason", names(RetryReason::ALL)),
        (
            "ALL_INCIDENT_KINDS",
            "IncidentKind",
            names(IncidentKind::ALL),
        ),
        ("ALL_PROBE_STEPS", "ProbeStep", names(ProbeStep::ALL)),
        (
            "ALL_EXPORT_FORMATS",
            "ExportFormat",
            names(ExportFormat::ALL),
        ),
        ("ALL_PROTOCOLS", "Protocol", names(Protocol::ALL)),
    ];
    for (name, ty, values) in lists {
        out.push_str(&format!(
            "/** Every `{ty}`, in Rust's order. */\nexport const {name}: readonly {ty}[] = [{}];\n\n",
            values.join(", ")
        ));
    }
    out.push_str(&format!(
        "/** The event carrying coalesced status deltas. */\nexport const STATUS_EVENT = {STATUS_EVENT:?};\n"
    ));
    out.push_str(&format!(
        "/** The event carrying a running export's progress. */\nexport const EXPORT_PROGRESS_EVENT = {EXPORT_PROGRESS_EVENT:?};\n"
    ));
    out
}

/// Each value as serde writes it (a JSON string).
fn names<T: serde::Serialize>(all: impl IntoIterator<Item = T>) -> Vec<String> {
    all.into_iter()
        .map(|v| serde_json::to_string(&v).unwrap_or_else(|e| panic!("an enum serializes: {e}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn bindings_are_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(super::PATH);
        let fresh = super::render();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).expect("write bindings");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is out of date: run UPDATE_BINDINGS=1 cargo test -p heartline-app bindings",
            path.display()
        );
    }

    #[test]
    fn palette_bindings_are_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(super::PALETTE_PATH);
        let fresh = heartline_monitor::palette::typescript();
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::write(&path, &fresh).expect("write palette");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is out of date: run UPDATE_BINDINGS=1 cargo test -p heartline-app bindings",
            path.display()
        );
    }
}
