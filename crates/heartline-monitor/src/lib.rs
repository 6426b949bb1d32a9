//! The monitor façade both shells stand on: the desktop app (`src-tauri`) and the headless
//! agent (`heartline run`).
//!
//! ```text
//!  shell (Tauri commands, `heartline run`) ──plain data──▶ Monitor ──┬─ Store (+ Secrets)
//!                                                                    ├─ Engine ─▶ observers:
//!                                                                    │     Recorder ─▶ Writer ─▶ SQLite
//!                                                                    │     Metrics ─▶ /metrics
//!                                                                    └─ views: overview, detail,
//!                                                                       timeline, incidents, export
//! ```
//!
//! Like rust-analyzer's `ide` layer: operations take and return plain data ([`view`]'s and
//! [`form`]'s types, core's `Endpoint`), never a framework's type. A shell maps them to its own
//! wire (IPC DTOs, terminal lines) and holds no wiring and no logic of its own.
//!
//! Invariants:
//! - An edit reaches the store and the engine together or not at all: when the engine refuses
//!   what the store accepted, the store is put back (no endpoint stored but never watched).
//! - Paused lives in the store's column; the monitor starts a stored-paused endpoint paused
//!   in the engine ([`Engine::insert_paused`]) and every pause or resume goes to both, so the
//!   engine's live state (`Paused`) is what every view shows, without overrides.

pub mod alerts;
mod export;
pub mod form;
pub mod live;
mod probe;
pub mod settings;
pub mod view;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use heartline_core::{Endpoint, EndpointId};
use heartline_engine::{Engine, EngineOptions};
use heartline_metrics::Metrics;
use heartline_store::{Recorder, RecorderOptions, Store, WriterHandle};
use tokio::task::JoinHandle;

pub use export::target_path;
pub use form::{EndpointForm, FieldProblem, HeaderForm, SecretVarForm, StepForm, StepKind};
pub use heartline_engine::{Delivery, Subscription};
pub use heartline_report::palette;
pub use heartline_store::{default_path, Retention, ScrubReport, Secrets, WriterHealth};
pub use view::*;

/// Why a monitor operation failed. Shells map the variants to their own codes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] heartline_store::Error),
    #[error(transparent)]
    Engine(#[from] heartline_engine::Error),
    /// The endpoint is invalid: every bad field at once.
    #[error(transparent)]
    Invalid(#[from] heartline_core::ConfigErrors),
    /// A configuration file's text could not be read.
    #[error(transparent)]
    Config(#[from] heartline_config::Error),
    #[error(transparent)]
    Report(#[from] heartline_report::Error),
    #[error("no endpoint #{0}")]
    NotFound(u64),
    /// A request that cannot be served as asked (a window ending before it starts, an export
    /// path that names no file, an unknown format…).
    #[error("{0}")]
    Request(String),
    /// The export could not be written (folder missing, disk full, no permission…).
    #[error("{0}")]
    Export(String),
    /// A file exported earlier is no longer there.
    #[error("{0}")]
    Gone(String),
    /// The metrics server could not start.
    #[error(transparent)]
    Metrics(#[from] heartline_metrics::Error),
    #[error("cannot serve metrics: {0}")]
    Serve(std::io::Error),
    /// The defaults for new endpoints in the settings are invalid: every bad field at once.
    #[error("defaults for new endpoints: {0}")]
    Defaults(heartline_core::ConfigErrors),
    /// The settings file could not be written.
    #[error(transparent)]
    Settings(std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is, for a shell to turn into its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request or the endpoint is not valid as given; the person can fix it.
    Invalid,
    NotFound,
    /// A name (or id) already taken.
    Duplicate,
    /// The database or the secret store failed.
    Storage,
    /// The engine failed to watch.
    Engine,
    /// A configuration file's text could not be read.
    Config,
    /// An export could not be written.
    Export,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        use heartline_engine::Error as En;
        use heartline_store::Error as St;
        match self {
            Error::Store(St::DuplicateName(_)) => ErrorKind::Duplicate,
            Error::Store(St::UnknownEndpoint(_)) => ErrorKind::NotFound,
            Error::Store(St::Config(_)) => ErrorKind::Invalid,
            Error::Store(_) => ErrorKind::Storage,
            Error::Engine(En::UnknownEndpoint(_)) | Error::NotFound(_) | Error::Gone(_) => {
                ErrorKind::NotFound
            }
            Error::Engine(En::DuplicateId(_)) => ErrorKind::Duplicate,
            Error::Engine(_) => ErrorKind::Engine,
            Error::Invalid(_)
            | Error::Defaults(_)
            | Error::Request(_)
            | Error::Metrics(_)
            | Error::Serve(_) => ErrorKind::Invalid,
            Error::Settings(_) => ErrorKind::Storage,
            Error::Config(_) => ErrorKind::Config,
            Error::Report(e) if e.is_selection() => ErrorKind::Invalid,
            Error::Report(heartline_report::Error::Store(_)) => ErrorKind::Storage,
            Error::Report(_) | Error::Export(_) => ErrorKind::Export,
        }
    }

    /// The per-field problems of an invalid endpoint or invalid defaults for new endpoints
    /// (none for other errors).
    pub fn field_problems(&self) -> Vec<FieldProblem> {
        match self {
            Error::Invalid(e) | Error::Defaults(e) => FieldProblem::list(Err(e.clone())),
            _ => Vec::new(),
        }
    }
}

/// How to open a monitor.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    /// The database file (created when missing).
    pub database: PathBuf,
    pub retention: Retention,
    /// Largest database size; reaching it is handled like a full disk.
    pub max_db_size: Option<u64>,
    /// Fold events into Prometheus metrics ([`Monitor::serve_metrics`] serves them).
    pub metrics: bool,
    /// Watch only the stored endpoints with these names (the agent's `--config`); `None`:
    /// every stored endpoint, the paused ones paused.
    pub only: Option<Vec<String>>,
    /// Where secrets live; `None`: detected beside the database (keychain or 0600 file).
    pub secrets: Option<Secrets>,
}

impl MonitorOptions {
    pub fn new(database: impl Into<PathBuf>) -> Self {
        MonitorOptions {
            database: database.into(),
            retention: Retention::default(),
            max_db_size: None,
            metrics: false,
            only: None,
            secrets: None,
        }
    }

    /// Events, sessions and incidents kept `days` days (the app's one retention setting).
    pub fn retention_days(mut self, days: u32) -> Self {
        let keep = std::time::Duration::from_secs(u64::from(days.max(1)) * 86_400);
        self.retention = Retention {
            events: keep,
            sessions: keep,
            incidents: keep,
            ..Retention::default()
        };
        self
    }
}

/// A stored endpoint as the overview lists it: what a row shows besides its live state and
/// history, without the endpoint's secrets.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub id: EndpointId,
    pub name: String,
    /// With secrets in its query redacted.
    pub url: String,
    pub tags: Vec<String>,
    pub paused: bool,
    pub missing_secrets: Vec<String>,
}

impl Listed {
    fn of(stored: &[heartline_store::StoredEndpoint]) -> Arc<[Listed]> {
        stored
            .iter()
            .map(|e| Listed {
                id: e.id,
                name: e.endpoint.name.clone(),
                url: e.endpoint.display_url(),
                tags: e.endpoint.tags.clone(),
                paused: e.paused,
                missing_secrets: e.missing_secrets.clone(),
            })
            .collect()
    }
}

/// A stored endpoint the engine would not watch at start, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub name: String,
    pub reason: String,
}

/// The store, the engine recording into it, secrets and (optionally) metrics, wired once.
pub struct Monitor {
    store: Store,
    secrets: Secrets,
    engine: Arc<Engine>,
    recorder: Arc<Recorder>,
    writer: Mutex<Option<WriterHandle>>,
    writer_health: Arc<WriterHealth>,
    metrics: Option<Arc<Metrics>>,
    metrics_server: Mutex<Option<(SocketAddr, tokio::sync::oneshot::Sender<()>)>>,
    scrub: Mutex<Option<JoinHandle<heartline_store::Result<ScrubReport>>>>,
    refused: Vec<Refused>,
    missing: Vec<(String, Vec<String>)>,
    /// Edits one at a time, so that store and engine see them in the same order.
    edits: tokio::sync::Mutex<()>,
    /// The stored endpoints as the overview lists them, kept from the last read of the store
    /// (at open, or the first overview after an edit). Filled and cleared only under
    /// `edits`, so a list read before an edit can never be kept after it.
    listed: Mutex<Option<Arc<[Listed]>>>,
    /// The files [`Monitor::export`] wrote since the monitor opened.
    exported: Mutex<HashSet<PathBuf>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("database", &self.store.path())
            .field("secrets", &self.secrets.describe())
            .field("metrics", &self.metrics.is_some())
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// Opens (creating if needed) the database, starts recording, and watches the stored
    /// endpoints (paused ones paused). Stored history is scrubbed of echoed secrets once, in
    /// the background ([`Monitor::take_scrub`]). Must run inside a tokio runtime.
    pub async fn open(options: MonitorOptions) -> Result<Monitor> {
        let store = Store::open(&options.database).await?;
        let secrets = options
            .secrets
            .clone()
            .unwrap_or_else(|| Secrets::detect(store.path().parent().unwrap_or(Path::new("."))));
        // Every stored endpoint with its secrets: the one-time history scrub needs them all.
        let all = store.endpoints(&secrets).await?;
        let (recorder, writer) = store
            .record(RecorderOptions {
                retention: options.retention,
                max_size: options.max_db_size,
                ..RecorderOptions::default()
            })
            .await?;
        let metrics = options.metrics.then(|| Arc::new(Metrics::new()));
        let mut observers: Vec<Arc<dyn heartline_probe::Sink>> = vec![recorder.clone()];
        if let Some(m) = &metrics {
            observers.push(m.observer());
            // `incident_open` reads the recorder's tracker (the one incidents and exports use).
            let tracker = recorder.clone();
            m.set_incident_source(Arc::new(move || {
                tracker
                    .open_incidents()
                    .into_iter()
                    .map(|(endpoint, kind, cause)| heartline_metrics::OpenIncident {
                        endpoint,
                        kind: kind.as_str(),
                        cause: cause.map_or("unexplained", |rule| rule.as_str()),
                    })
                    .collect()
            }));
        }
        let engine = Arc::new(Engine::new(EngineOptions {
            observers,
            ..EngineOptions::default()
        }));
        open_file_room(all.len());
        let mut refused = Vec::new();
        let mut missing = Vec::new();
        let mut start = Vec::with_capacity(all.len());
        for e in &all {
            let watched = match &options.only {
                Some(names) => names.contains(&e.endpoint.name),
                None => true,
            };
            if !watched {
                continue;
            }
            // Named by the agent's configuration: watched even when paused before.
            let paused = e.paused && options.only.is_none();
            if !paused && !e.missing_secrets.is_empty() {
                missing.push((e.endpoint.name.clone(), e.missing_secrets.clone()));
            }
            if let Some(m) = &metrics {
                m.set_endpoint(e.id, &e.endpoint.name);
            }
            start.push((e, paused));
        }
        // Started together: their first connects ramp up (`heartline_engine::Ramp`).
        let results = engine.insert_all(
            start
                .iter()
                .map(|(e, paused)| (e.id, e.endpoint.clone(), *paused)),
        );
        for ((e, _), inserted) in start.iter().zip(results) {
            if let Err(err) = inserted {
                tracing::warn!(endpoint = %e.id, %err, "cannot watch a stored endpoint");
                if let Some(m) = &metrics {
                    m.remove_endpoint(e.id);
                }
                refused.push(Refused {
                    name: e.endpoint.name.clone(),
                    reason: err.to_string(),
                });
            }
        }
        let listed = Listed::of(&all);
        // History written before outside text was masked at the source may quote secrets.
        let scrub = {
            let store = store.clone();
            tokio::spawn(async move { store.scrub_pending(&all).await })
        };
        Ok(Monitor {
            writer_health: writer.health().clone(),
            store,
            secrets,
            engine,
            recorder,
            writer: Mutex::new(Some(writer)),
            metrics,
            metrics_server: Mutex::new(None),
            scrub: Mutex::new(Some(scrub)),
            refused,
            missing,
            edits: tokio::sync::Mutex::new(()),
            listed: Mutex::new(Some(listed)),
            exported: Mutex::new(HashSet::new()),
        })
    }

    /// Closes every session with `cause`, flushes the writer, stops the metrics server and
    /// closes the store. Returns whether the last events could be written.
    pub async fn shutdown(&self, cause: CloseCause) -> Result<()> {
        if let Some(scrub) = self.scrub.lock().ok().and_then(|mut s| s.take()) {
            // Unfinished endpoints stay pending and are scrubbed next time.
            scrub.abort();
        }
        self.engine.stop_all(cause).await;
        tracing::debug!("shutdown: every session stopped");
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        let flushed = match writer {
            Some(writer) => writer.shutdown().await,
            None => Ok(()),
        };
        tracing::debug!("shutdown: the writer flushed and stopped");
        if let Some((_, stop)) = self.metrics_server.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
        self.store.close().await;
        Ok(flushed?)
    }

    /// The one-time scrub of stored history started by [`Monitor::open`], to wait for and
    /// report; `None` once taken.
    pub fn take_scrub(&self) -> Option<JoinHandle<heartline_store::Result<ScrubReport>>> {
        self.scrub.lock().ok().and_then(|mut s| s.take())
    }

    /// Stored endpoints the engine would not watch at start.
    pub fn refused(&self) -> &[Refused] {
        &self.refused
    }

    /// Watched endpoints whose stored secrets the secret store does not have: (name, the
    /// headers and `?query` parameters missing).
    pub fn missing_secrets(&self) -> &[(String, Vec<String>)] {
        &self.missing
    }

    /// The database's path.
    pub fn database(&self) -> &Path {
        self.store.path()
    }

    /// Where secrets live, for people ("the system keychain", a file path).
    pub fn secrets_description(&self) -> String {
        self.secrets.describe()
    }

    /// The writer's health: rows written, events dropped, the last write error.
    pub fn writer_health(&self) -> &WriterHealth {
        &self.writer_health
    }

    /// Events the recorder could not keep (its queue was full).
    pub fn recorder_dropped(&self) -> u64 {
        self.recorder.dropped()
    }

    /// Every event from now on (the app's status forwarding).
    pub fn subscribe(&self) -> Subscription {
        self.engine.subscribe()
    }

    /// The watched endpoints, by id, with their secrets.
    pub fn endpoints(&self) -> Vec<(EndpointId, Endpoint)> {
        self.engine.endpoints()
    }

    /// How many watched endpoints are not paused.
    pub fn watching(&self) -> usize {
        self.engine
            .statuses()
            .iter()
            .filter(|(_, s)| s.state != heartline_core::State::Paused)
            .count()
    }

    /// One watched endpoint's configuration, with its secrets.
    pub fn endpoint(&self, id: u64) -> Result<Endpoint> {
        self.engine
            .endpoints()
            .into_iter()
            .find(|(i, _)| i.0 == id)
            .map(|(_, e)| e)
            .ok_or(Error::NotFound(id))
    }

    /// Adds an endpoint: stored, then watched. When the engine refuses it the stored row is
    /// removed again, so no endpoint is ever stored but not watched.
    pub async fn add(&self, endpoint: Endpoint) -> Result<EndpointId> {
        endpoint.validate()?;
        let _edit = self.edit().await;
        self.add_unlocked(endpoint).await
    }

    async fn add_unlocked(&self, endpoint: Endpoint) -> Result<EndpointId> {
        let id = self.store.add_endpoint(&endpoint, &self.secrets).await?;
        let name = endpoint.name.clone();
        if let Err(err) = self.engine.insert(id, endpoint) {
            if let Err(undo) = self.store.remove_endpoint(id, &self.secrets).await {
                tracing::warn!(endpoint = %id, %undo, "cannot remove an endpoint the engine refused");
            }
            return Err(err.into());
        }
        if let Some(m) = &self.metrics {
            m.set_endpoint(id, &name);
        }
        Ok(id)
    }

    /// Replaces an endpoint's configuration. Secret values left empty (as forms receive them)
    /// keep the stored ones. When the engine refuses the new configuration, the store keeps
    /// the previous one.
    pub async fn update(&self, id: u64, mut endpoint: Endpoint) -> Result<()> {
        let _edit = self.edit().await;
        let previous = self.endpoint(id)?;
        keep_secret_values(&mut endpoint, &previous);
        endpoint.validate()?;
        let eid = EndpointId(id);
        self.store
            .update_endpoint(eid, &endpoint, &self.secrets)
            .await?;
        let name = endpoint.name.clone();
        if let Err(err) = self.engine.update(eid, endpoint).await {
            if let Err(undo) = self
                .store
                .update_endpoint(eid, &previous, &self.secrets)
                .await
            {
                tracing::warn!(endpoint = %eid, %undo, "cannot restore an endpoint the engine refused");
            }
            return Err(err.into());
        }
        if let Some(m) = &self.metrics {
            m.set_endpoint(eid, &name);
        }
        Ok(())
    }

    /// A copy of an endpoint under the first free name `name (2)`, `name (3)`, …
    pub async fn duplicate(&self, id: u64) -> Result<EndpointId> {
        let _edit = self.edit().await;
        let mut endpoint = self.endpoint(id)?;
        let names: Vec<String> = self
            .engine
            .endpoints()
            .into_iter()
            .map(|(_, e)| e.name)
            .collect();
        endpoint.name = (2..)
            .map(|n| format!("{} ({n})", endpoint.name))
            .find(|n| !names.contains(n))
            .unwrap_or_default();
        self.add_unlocked(endpoint).await
    }

    /// Stops watching an endpoint and deletes it with its secrets (its history stays).
    pub async fn remove(&self, id: u64) -> Result<()> {
        let _edit = self.edit().await;
        let eid = EndpointId(id);
        self.engine.remove(eid).await?;
        if let Some(m) = &self.metrics {
            m.remove_endpoint(eid);
        }
        Ok(self.store.remove_endpoint(eid, &self.secrets).await?)
    }

    /// Pauses an endpoint: stored as paused (so it stays paused across restarts), then its
    /// session closes.
    pub async fn pause(&self, id: u64) -> Result<()> {
        self.set_paused(id, true).await
    }

    /// Resumes a paused endpoint.
    pub async fn resume(&self, id: u64) -> Result<()> {
        self.set_paused(id, false).await
    }

    /// Pauses every endpoint (the tray's "Pause all").
    pub async fn pause_all(&self) -> Result<()> {
        for (id, _) in self.engine.endpoints() {
            self.set_paused(id.0, true).await?;
        }
        Ok(())
    }

    async fn set_paused(&self, id: u64, paused: bool) -> Result<()> {
        let _edit = self.edit().await;
        let eid = EndpointId(id);
        if !self.engine.endpoints().iter().any(|(i, _)| *i == eid) {
            return Err(Error::NotFound(id));
        }
        self.store.set_paused(eid, paused).await?;
        let done = if paused {
            self.engine.pause(eid).await
        } else {
            self.engine.resume(eid).await
        };
        if let Err(err) = done {
            let _ = self.store.set_paused(eid, !paused).await;
            return Err(err.into());
        }
        Ok(())
    }

    /// Closes the current session (or skips the backoff wait) and connects now.
    pub async fn reconnect(&self, id: u64) -> Result<()> {
        Ok(self.engine.reconnect(EndpointId(id)).await?)
    }

    /// Adds or updates (by name) the endpoints of a configuration file's text. `{ env = … }`
    /// secrets are read with `env`.
    pub async fn import(
        &self,
        text: &str,
        format: ConfigFormat,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<ImportResult> {
        let file = match format {
            ConfigFormat::Json => heartline_config::parse_json(text, "import")?,
            ConfigFormat::Toml => heartline_config::parse_toml(text, "import")?,
        };
        let resolved = file.resolve(env)?;
        let endpoints: Vec<_> = resolved.into_iter().map(|r| r.endpoint).collect();
        let _edit = self.edit().await;
        let report = self
            .store
            .import_endpoints(&endpoints, &self.secrets)
            .await?;
        let running: HashMap<_, _> = self.engine.endpoints().into_iter().collect();
        for stored in self.store.endpoints(&self.secrets).await? {
            if running.contains_key(&stored.id) {
                if report.updated.contains(&stored.endpoint.name) {
                    self.engine.update(stored.id, stored.endpoint).await?;
                }
            } else if let Err(err) = self.engine.insert(stored.id, stored.endpoint) {
                // As `add`: what the engine will not watch is not kept.
                let _ = self.store.remove_endpoint(stored.id, &self.secrets).await;
                return Err(err.into());
            }
        }
        Ok(ImportResult {
            added: report.added,
            updated: report.updated,
        })
    }

    /// The endpoint configuration in the `heartline endpoints` format; secret values are
    /// never written out.
    pub fn export_endpoints(&self, format: ConfigFormat) -> String {
        let endpoints: Vec<Endpoint> = self
            .engine
            .endpoints()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        let file = heartline_config::ConfigFile::from_endpoints(&endpoints);
        match format {
            ConfigFormat::Json => file.to_json(),
            ConfigFormat::Toml => file.to_toml(),
        }
    }

    /// "Test connection": one handshake and one ping against an endpoint as given (see
    /// [`Monitor::test_form`] for a form, with the stored secret values it leaves empty).
    pub async fn test_connection(&self, endpoint: &Endpoint) -> Result<ProbeResult> {
        probe::test(endpoint).await
    }

    /// Serves the Prometheus metrics on `addr` (port 0: any free one) until
    /// [`Monitor::stop_metrics`] or shutdown; returns the bound address. Needs
    /// [`MonitorOptions::metrics`]. A server already running is replaced.
    pub async fn serve_metrics(&self, addr: SocketAddr) -> Result<SocketAddr> {
        let Some(metrics) = self.metrics.clone() else {
            return Err(Error::Request(
                "metrics are not collected by this monitor".into(),
            ));
        };
        let listener = heartline_metrics::bind(addr).await?;
        let bound = listener.local_addr().map_err(Error::Serve)?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(heartline_metrics::serve(metrics, listener, async {
            let _ = stopped.await;
        }));
        let previous = self
            .metrics_server
            .lock()
            .ok()
            .and_then(|mut s| s.replace((bound, stop)));
        if let Some((_, old)) = previous {
            let _ = old.send(());
        }
        Ok(bound)
    }

    /// Stops the metrics server, if one runs.
    pub fn stop_metrics(&self) {
        if let Some((_, stop)) = self.metrics_server.lock().ok().and_then(|mut s| s.take()) {
            let _ = stop.send(());
        }
    }

    /// Where metrics are served, if they are.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_server
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|(a, _)| *a))
    }

    /// Writes an export of recorded history into the file `request` names, made at `now`.
    pub async fn export(
        &self,
        request: &ExportRequest,
        now: heartline_core::Timestamp,
        progress: &(dyn Fn(ExportProgress) + Send + Sync),
    ) -> Result<ExportResult> {
        let result = export::write(&self.store, request, now, progress).await?;
        if let Ok(mut known) = self.exported.lock() {
            known.insert(PathBuf::from(&result.path));
        }
        Ok(result)
    }

    /// `path` when it is a file [`Monitor::export`] wrote since the monitor opened, for a
    /// shell to hand to the desktop (to open, or to show in its folder), and no other file:
    /// refused otherwise, and named when it has gone since.
    pub fn exported_file(&self, path: &str) -> Result<PathBuf> {
        let path = PathBuf::from(path);
        if !self.exported.lock().is_ok_and(|k| k.contains(&path)) {
            return Err(Error::Request(format!(
                "{} is not a file Heartline exported in this session",
                path.display()
            )));
        }
        if !path.is_file() {
            return Err(Error::Gone(format!(
                "{} is no longer there (moved or deleted since the export)",
                path.display()
            )));
        }
        Ok(path)
    }

    /// The recorder, as an event sink (tests feed it events of their own).
    pub fn recorder(&self) -> Arc<dyn heartline_probe::Sink> {
        self.recorder.clone()
    }

    /// Starts an edit: waits for the one before to finish, and forgets the listed endpoints
    /// (the next overview reads them from the store again).
    async fn edit(&self) -> tokio::sync::MutexGuard<'_, ()> {
        let guard = self.edits.lock().await;
        if let Ok(mut listed) = self.listed.lock() {
            *listed = None;
        }
        guard
    }

    /// The stored endpoints as the overview lists them: kept, or read from the store (with
    /// their secrets, for the missing ones) after an edit.
    pub(crate) async fn listed(&self) -> Result<Arc<[Listed]>> {
        if let Some(kept) = self.listed.lock().ok().and_then(|l| l.clone()) {
            return Ok(kept);
        }
        let _edit = self.edits.lock().await;
        if let Some(kept) = self.listed.lock().ok().and_then(|l| l.clone()) {
            return Ok(kept);
        }
        let listed = Listed::of(&self.store.endpoints(&self.secrets).await?);
        if let Ok(mut kept) = self.listed.lock() {
            *kept = Some(listed.clone());
        }
        Ok(listed)
    }

    pub(crate) fn recorder_ref(&self) -> &heartline_store::Recorder {
        &self.recorder
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// Fills in the secret values a form leaves empty from `previous`: an empty secret header,
/// secret query value (`token=`) or secret value for payloads (`{{secret:NAME}}`, by name)
/// keeps the stored one; a parameter or value removed stays removed.
pub fn keep_secret_values(e: &mut Endpoint, previous: &Endpoint) {
    for v in e.secret_vars.iter_mut().filter(|v| v.value.is_empty()) {
        if let Some(old) = previous.secret_vars.iter().find(|o| o.name == v.name) {
            v.value = old.value.clone();
        }
    }
    let (_, with_name) = heartline_config::strip_query_secrets(&e.url);
    let filled: Vec<String> = heartline_config::query_secrets(&e.url)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    for (name, value) in heartline_config::query_secrets(&previous.url) {
        if with_name.contains(&name) && !filled.contains(&name) {
            e.url = heartline_config::fill_query(&e.url, &name, &value);
        }
    }
    for h in e
        .headers
        .iter_mut()
        .filter(|h| h.secret && h.value.is_empty())
    {
        if let Some(old) = previous.headers.iter().find(|o| o.name == h.name) {
            h.value = old.value.clone();
        }
    }
}

/// Files a monitor keeps open besides its sessions' sockets: the database and its sidecars,
/// the metrics listener, the runtime's own, with room to spare.
const FILES_BESIDES_SESSIONS: u64 = 64;

/// Every watched endpoint holds a socket, and a desktop session's soft open-file limit is
/// often 1,024: past it, sessions fail with "too many open files". The soft limit is raised to
/// the hard one (what servers commonly do at start; it affects this process only), and a hard
/// limit too low for the stored endpoints is said once.
fn open_file_room(endpoints: usize) {
    let needed = endpoints as u64 + FILES_BESIDES_SESSIONS;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < needed => tracing::warn!(
            limit,
            endpoints,
            "the open-file limit is lower than the endpoints need: sessions past it fail with \
             'too many open files' (raise it: ulimit -n, or LimitNOFILE= for a service)"
        ),
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(err) => tracing::warn!(%err, "cannot raise the open-file limit"),
    }
}
