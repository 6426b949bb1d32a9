//! Importing an endpoint configuration (the `heartline endpoints` TOML/JSON format) into the
//! store and the running engine.

use std::collections::HashMap;

use crate::app::App;
use crate::convert::IpcResult;
use crate::dto::{ConfigFormat, ImportResult};

pub async fn import(app: &App, text: &str, format: ConfigFormat) -> IpcResult<ImportResult> {
    let file = match format {
        ConfigFormat::Json => heartline_config::parse_json(text, "import")?,
        ConfigFormat::Toml => heartline_config::parse_toml(text, "import")?,
    };
    // `{ env = … }` secrets read the app's environment, as the CLI's import does.
    let resolved = file.resolve(&|name| std::env::var(name).ok())?;
    let endpoints: Vec<_> = resolved.into_iter().map(|r| r.endpoint).collect();
    let report = app.store.import_endpoints(&endpoints, &app.secrets).await?;
    let running: HashMap<_, _> = app.engine.endpoints().into_iter().collect();
    for stored in app.store.endpoints(&app.secrets).await? {
        if running.contains_key(&stored.id) {
            if report.updated.contains(&stored.endpoint.name) {
                app.engine.update(stored.id, stored.endpoint).await?;
            }
        } else {
            app.engine.insert(stored.id, stored.endpoint)?;
        }
    }
    Ok(ImportResult {
        added: report.added,
        updated: report.updated,
    })
}
