//! The app's state: the store, the engine recording into it, secrets, and the demo lab.
//! Wired like `heartline run` (crates/heartline-cli/src/run.rs), with the UI on top.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use heartline_core::CloseCause;
use heartline_engine::{Engine, EngineOptions};
use heartline_store::{Recorder, RecorderOptions, Retention, Secrets, Store, WriterHandle};

/// Environment variable naming the database to use instead of the default one in the
/// user's data directory (tests and side-by-side runs).
pub const DB_ENV: &str = "HEARTLINE_DB";

pub struct App {
    pub store: Store,
    pub secrets: Secrets,
    pub engine: Arc<Engine>,
    pub recorder: Arc<Recorder>,
    writer: Mutex<Option<WriterHandle>>,
    /// The lab the demo started, kept alive while the app runs.
    pub demo: tokio::sync::Mutex<Option<heartline_lab::Lab>>,
}

/// The database the app opens: `$HEARTLINE_DB`, or the default path.
pub fn database_path() -> Result<PathBuf, heartline_store::Error> {
    match std::env::var_os(DB_ENV).filter(|v| !v.is_empty()) {
        Some(p) => Ok(PathBuf::from(p)),
        None => heartline_store::default_path(),
    }
}

impl App {
    /// Opens (creating if needed) the database, starts recording, and watches every stored
    /// endpoint (paused ones stay paused). Must run inside the tokio runtime.
    pub async fn open(path: &Path, retention_days: u32) -> Result<App, heartline_store::Error> {
        let store = Store::open(path).await?;
        let secrets = Secrets::detect(store.path().parent().unwrap_or(Path::new(".")));
        let stored = store.endpoints(&secrets).await?;
        let days = std::time::Duration::from_secs(u64::from(retention_days.max(1)) * 86_400);
        let retention = Retention {
            events: days,
            sessions: days,
            incidents: days,
            ..Retention::default()
        };
        let (recorder, writer) = store
            .record(RecorderOptions {
                retention,
                ..RecorderOptions::default()
            })
            .await?;
        let engine = Arc::new(Engine::new(EngineOptions {
            observers: vec![recorder.clone()],
            ..EngineOptions::default()
        }));
        // History written before outside text was masked at the source may quote secrets:
        // scrubbed once, in the background, with the secrets just loaded (as `heartline run`).
        let scrub = {
            let (store, all) = (store.clone(), stored.clone());
            async move {
                match store.scrub_pending(&all).await {
                    Ok(report) if report.rows > 0 || !report.waiting.is_empty() => {
                        tracing::info!(?report, "stored history scrubbed of echoed secrets");
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(%err, "cannot scrub stored history; trying again next start")
                    }
                }
            }
        };
        tokio::spawn(scrub);
        for e in stored {
            if let Err(err) = engine.insert(e.id, e.endpoint) {
                tracing::warn!(endpoint = %e.id, %err, "cannot watch a stored endpoint");
                continue;
            }
            if e.paused {
                let _ = engine.pause(e.id).await;
            }
        }
        Ok(App {
            store,
            secrets,
            engine,
            recorder,
            writer: Mutex::new(Some(writer)),
            demo: tokio::sync::Mutex::new(None),
        })
    }

    /// Closes every session, flushes the writer and stops the demo lab.
    pub async fn shutdown(&self) {
        self.engine.stop_all(CloseCause::Shutdown).await;
        let writer = self.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(writer) = writer {
            if let Err(err) = writer.shutdown().await {
                tracing::warn!(%err, "the last events could not be written");
            }
        }
        if let Some(lab) = self.demo.lock().await.take() {
            lab.shutdown().await;
        }
        self.store.close().await;
    }
}
