//! The app's state: the monitor (store, engine, recorder, secrets, metrics — wired in
//! heartline-monitor, as `heartline run` is) and the demo lab.

use std::path::PathBuf;

use heartline_monitor::{Monitor, MonitorOptions};

/// Environment variable naming the database to use instead of the default one in the
/// user's data directory (tests and side-by-side runs).
pub const DB_ENV: &str = "HEARTLINE_DB";

pub struct App {
    pub monitor: Monitor,
    /// The lab the demo started, kept alive while the app runs.
    pub demo: tokio::sync::Mutex<Option<heartline_lab::Lab>>,
    /// The page has asked for its first overview: status deltas are sent to it from then on.
    /// Before, nobody listens, and at start-up (thousands of endpoints connecting) each delta
    /// is every endpoint's status, which the web process would evaluate while it is still
    /// loading the page.
    pub page_listening: std::sync::atomic::AtomicBool,
}

/// Whether the monitor behind the commands is open. The database opens on a thread of its own
/// while Tauri's window and webview start, and the main thread is not held for it: `None`
/// while it opens, then `Ok` (the [`App`] is managed by then) or why it could not open.
/// The page asks `app_ready` before any other command.
pub struct Opening(tokio::sync::watch::Sender<Option<Result<(), String>>>);

impl Default for Opening {
    fn default() -> Self {
        Opening(tokio::sync::watch::Sender::new(None))
    }
}

impl Opening {
    /// Records how the open ended.
    pub fn finish(&self, result: Result<(), String>) {
        self.0.send_replace(Some(result));
    }

    /// Resolves once the open has ended, with how.
    pub async fn wait(&self) -> Result<(), String> {
        let mut rx = self.0.subscribe();
        let ended = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| "the app is closing".to_owned())?;
        ended.clone().unwrap_or(Ok(()))
    }
}

/// The database the app opens: `$HEARTLINE_DB`, or the default path.
pub fn database_path() -> Result<PathBuf, heartline_monitor::Error> {
    match std::env::var_os(DB_ENV).filter(|v| !v.is_empty()) {
        Some(p) => Ok(PathBuf::from(p)),
        None => Ok(heartline_monitor::default_path()?),
    }
}

impl App {
    /// Opens the monitor (watching every stored endpoint, paused ones paused), logs what the
    /// one-time history scrub did, and serves `/metrics` when the settings ask for it. Must
    /// run inside the tokio runtime.
    pub async fn open(options: MonitorOptions, metrics: Option<String>) -> Result<App, String> {
        let monitor = Monitor::open(options).await.map_err(|e| e.to_string())?;
        if let Some(scrub) = monitor.take_scrub() {
            tokio::spawn(async move {
                match scrub.await {
                    Ok(Ok(report)) if report.rows > 0 || !report.waiting.is_empty() => {
                        tracing::info!(?report, "stored history scrubbed of echoed secrets");
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(err)) => {
                        tracing::warn!(%err, "cannot scrub stored history; trying again next start")
                    }
                    Err(err) => tracing::warn!(%err, "the history scrub stopped"),
                }
            });
        }
        if let Some(addr) = metrics {
            match heartline_monitor::settings::metrics_address(&addr) {
                Ok(addr) => match monitor.serve_metrics(addr).await {
                    Ok(bound) => tracing::info!(%bound, "serving /metrics"),
                    Err(err) => tracing::warn!(%err, "cannot serve /metrics"),
                },
                Err(err) => tracing::warn!(%err, "metrics address"),
            }
        }
        Ok(App {
            monitor,
            demo: tokio::sync::Mutex::new(None),
            page_listening: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Closes every session, flushes the writer and stops the demo lab.
    pub async fn shutdown(&self) {
        tracing::info!("shutdown: stopping the sessions, then flushing the writer");
        if let Err(err) = self
            .monitor
            .shutdown(heartline_core::CloseCause::Shutdown)
            .await
        {
            tracing::warn!(%err, "the last events could not be written");
        }
        tracing::info!("shutdown: sessions stopped, writer flushed, store closed");
        if let Some(lab) = self.demo.lock().await.take() {
            lab.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Opening;

    #[tokio::test]
    async fn waiting_for_the_open_ends_with_its_result() {
        let opening = std::sync::Arc::new(Opening::default());
        let waiter = tokio::spawn({
            let opening = opening.clone();
            async move { opening.wait().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "resolved before the open ended");
        opening.finish(Err("database is locked".into()));
        assert_eq!(waiter.await.unwrap(), Err("database is locked".to_owned()));
        // Later callers get the same answer at once.
        assert_eq!(opening.wait().await, Err("database is locked".to_owned()));
    }

    #[tokio::test]
    async fn a_successful_open_lets_every_waiter_go() {
        let opening = Opening::default();
        opening.finish(Ok(()));
        assert_eq!(opening.wait().await, Ok(()));
    }
}
