//! "Try the demo": the bundled lab on loopback and one endpoint per failure mode, the same
//! set as scripts/demo.sh, so a newcomer sees every way a session dies within a minute.

use std::time::Duration;

use heartline_core::Endpoint;

use crate::app::App;
use crate::convert::IpcResult;
use crate::dto::{ErrorCode, IpcError};

/// (name, lab path): each shows one failure mode.
pub const SCENARIOS: [(&str, &str); 8] = [
    ("steady", "/echo"),
    ("kicked-4001", "/close?code=4001&reason=kicked&after=8s"),
    ("proxy-idle", "/idle?after=6s&pings=ignore"),
    ("half-open", "/mute?after=5s"),
    ("deploy-1012", "/restart?after=10s"),
    ("overloaded-1013", "/try-again?after=7s"),
    ("flapping", "/flap?up=6s&down=4s"),
    ("bad-token", "/reject?status=401"),
];

/// Starts the lab (once) and adds the demo endpoints that are not there yet; returns the
/// lab's base URL.
pub async fn start(app: &App) -> IpcResult<String> {
    let mut demo = app.demo.lock().await;
    if demo.is_none() {
        let lab = heartline_lab::Lab::start()
            .await
            .map_err(|e| IpcError::new(ErrorCode::Lab, e.to_string()))?;
        *demo = Some(lab);
    }
    let Some(lab) = demo.as_ref() else {
        return Err(IpcError::new(ErrorCode::Lab, "the lab did not start"));
    };
    let existing = app.monitor.endpoints();
    for (name, path) in SCENARIOS {
        let name = format!("demo-{name}");
        let url = lab.ws_url(path);
        // A demo from an earlier run points at that run's lab port: follow the new lab.
        if let Some((id, old)) = existing.iter().find(|(_, e)| e.name == name) {
            if old.url != url {
                let mut e = old.clone();
                e.url = url;
                app.monitor.update(id.0, e).await?;
            }
            continue;
        }
        let mut e = Endpoint::new(&name, url);
        e.tags = vec!["demo".into()];
        e.heartbeat.ping_interval = Duration::from_secs(2);
        e.heartbeat.pong_timeout = Duration::from_secs(1);
        app.monitor.add(e).await?;
    }
    Ok(lab.ws_url(""))
}

/// Whether the database holds demo endpoints (their lab restarts with the app).
pub fn present(app: &App) -> bool {
    app.monitor
        .endpoints()
        .iter()
        .any(|(_, e)| e.tags.iter().any(|t| t == "demo") && e.name.starts_with("demo-"))
}
