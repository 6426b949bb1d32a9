//! Heartline's history in one SQLite file that stays small and fast for years.
//!
//! ```text
//! engine observer ──▶ Recorder ──┬─ RTT samples ─▶ per-minute rollups in memory ─┐
//!  (never blocks)                ├─ server beats ─▶ (their intervals, own kind) ─┤
//!                                └─ other events ─▶ bounded queue ───────────────┴▶ Writer
//!                                                    (one connection, batched transactions)
//! readers: their own pooled connections (WAL) ──▶ queries for the UI, CLI and exports
//! ```
//! Invariant: one writer owns writes; sessions never wait on the disk. When the disk fails
//! (full, read-only, locked) the writer keeps its batch, reports the error and retries.

mod availability;
mod dashboard;
mod endpoints;
pub mod export;
mod incidents;
mod open;
mod pack;
pub mod query;
mod recorder;
pub mod retention;
mod scrub;
mod secrets;
mod strip;
mod writer;

pub use dashboard::{
    BeatPoint, BeatTotals, OverviewRow, Reconnect, Resolution, RttPoint, SESSION_BUCKETS,
};
pub use endpoints::{ImportReport, StoredEndpoint};
pub use export::{ExportEndpoint, RttTotals, Scope};
pub use heartline_core::Availability;
pub use open::{default_path, Integrity, Store};
pub use recorder::{Recorder, RecorderOptions, WriterHandle, WriterHealth};
pub use retention::Retention;
pub use scrub::ScrubReport;
pub use secrets::{header_key, query_key, var_key, SecretError, Secrets};
pub use strip::{severity, StripCell, MAX_STRIP_CELLS};

use std::path::PathBuf;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{} is not a Heartline database (not an SQLite file); it was left untouched", path.display())]
    NotSqlite { path: PathBuf },
    #[error("{} is damaged ({detail}); it was left untouched — restore a backup or move it away", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{} was written by a newer Heartline (schema version {version}); upgrade Heartline to open it", path.display())]
    NewerSchema { path: PathBuf, version: i64 },
    #[error("cannot create the database directory {}: {source}", path.display())]
    Directory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no data directory on this system; pass a database path explicitly")]
    NoDataDir,
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// An SQLite error on the export's own read-only connection (rusqlite), with SQLite's
    /// extended code when there is one.
    #[error("database error while reading history for an export: {0}")]
    Read(#[from] rusqlite::Error),
    /// A thread of the store's own could not be started (the system is out of threads or
    /// memory).
    #[error("cannot start a thread for {what}: {source}")]
    Thread {
        what: &'static str,
        source: std::io::Error,
    },
    /// A background job of the store's own ended before its work was done (it panicked).
    #[error("{0}")]
    Stopped(String),
    #[error("{0}")]
    Config(String),
    #[error("an endpoint named `{0}` already exists")]
    DuplicateName(String),
    #[error("no endpoint {0}")]
    UnknownEndpoint(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
