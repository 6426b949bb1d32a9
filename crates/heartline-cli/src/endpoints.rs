//! `heartline endpoints`: the stored set of watched endpoints.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use heartline_core::{escape_controls, Endpoint, Header};
use heartline_store::{Secrets, Store};

use crate::probe::Failure;

#[derive(Args, Debug)]
pub struct EndpointsArgs {
    /// The database (default: heartline.db in your data directory).
    #[arg(long, value_name = "PATH", global = true)]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: EndpointsCommand,
}

#[derive(Subcommand, Debug)]
pub enum EndpointsCommand {
    /// List the stored endpoints.
    List {
        /// One JSON object per endpoint per line.
        #[arg(long)]
        json: bool,
    },
    /// Add one endpoint (see `import` for every setting).
    Add {
        name: String,
        /// ws:// or wss:// URL. Credential query values (`?token=…`) go to the keychain.
        url: String,
        /// Handshake header `Name: value` (repeatable); credential values go to the keychain.
        #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
        headers: Vec<String>,
        #[arg(long = "subprotocol", value_name = "P")]
        subprotocols: Vec<String>,
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        #[arg(long, value_name = "D", value_parser = crate::probe::duration)]
        ping_interval: Option<Duration>,
        #[arg(long, value_name = "D", value_parser = crate::probe::duration)]
        pong_timeout: Option<Duration>,
    },
    /// Remove an endpoint by name; its history stays in the database.
    Remove { name: String },
    /// Add or update (by name) every endpoint of a TOML or JSON file: all of them or none.
    Import { file: PathBuf },
    /// Write the stored endpoints as TOML or JSON. Secret values (credential headers and
    /// credential query parameters) are never written: they appear as `{ stored = true }`.
    Export {
        #[arg(long, value_parser = ["toml", "json"], default_value = "toml")]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

pub async fn run(args: EndpointsArgs) -> Result<ExitCode, Failure> {
    let store = crate::run::open_store(args.db).await?;
    let secrets = crate::run::secrets_for(&store);
    let other = |e: heartline_store::Error| match e {
        heartline_store::Error::Config(_)
        | heartline_store::Error::DuplicateName(_)
        | heartline_store::Error::UnknownEndpoint(_) => Failure::Usage(e.to_string()),
        e => Failure::Other(e.into()),
    };
    match args.command {
        EndpointsCommand::List { json } => {
            for e in store.endpoints(&secrets).await.map_err(other)? {
                let ep = &e.endpoint;
                if json {
                    let v = serde_json::json!({
                        "id": e.id.0, "name": ep.name, "url": ep.display_url(), "tags": ep.tags,
                        "paused": e.paused, "ping_interval": heartline_core::format_duration(ep.heartbeat.ping_interval),
                    });
                    println!("{v}");
                } else {
                    // Names, URLs and tags come from files and forms: escaped for the terminal.
                    let tags = if ep.tags.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", escape_controls(&ep.tags.join(", ")))
                    };
                    let paused = if e.paused { "  (paused)" } else { "" };
                    println!(
                        "{:>4}  {:<24}  {}{tags}{paused}",
                        e.id.0,
                        escape_controls(&ep.name),
                        escape_controls(&ep.display_url())
                    );
                }
            }
        }
        EndpointsCommand::Add {
            name,
            url,
            headers,
            subprotocols,
            tags,
            ping_interval,
            pong_timeout,
        } => {
            let mut e = Endpoint::new(name, url);
            for line in &headers {
                e.headers.push(
                    Header::parse_line(line)
                        .map_err(|why| Failure::Usage(format!("--header: {why}")))?,
                );
            }
            e.subprotocols = subprotocols;
            e.tags = tags;
            if let Some(d) = ping_interval {
                e.heartbeat.ping_interval = d;
            }
            // An unset pong timeout follows the interval set rather than refuse it.
            e.heartbeat.pong_timeout = pong_timeout.unwrap_or_else(|| {
                heartline_core::derived_timeout(e.heartbeat.ping_interval, e.heartbeat.pong_timeout)
            });
            e.validate()
                .map_err(|errs| Failure::Usage(crate::probe::option_names(&errs.to_string())))?;
            let id = store.add_endpoint(&e, &secrets).await.map_err(other)?;
            println!("added {} as #{}", escape_controls(&e.name), id.0);
        }
        EndpointsCommand::Remove { name } => {
            let all = store.endpoints(&secrets).await.map_err(other)?;
            let found = all
                .iter()
                .find(|e| e.endpoint.name == name)
                .ok_or_else(|| {
                    Failure::Usage(format!("no endpoint named `{}`", escape_controls(&name)))
                })?;
            store
                .remove_endpoint(found.id, &secrets)
                .await
                .map_err(other)?;
            println!(
                "removed {} (its history stays in the database)",
                escape_controls(&name)
            );
        }
        EndpointsCommand::Import { file } => {
            let names = import_file(&store, &secrets, &file).await?;
            println!("imported {} endpoints from {}", names.len(), file.display());
        }
        EndpointsCommand::Export { format, out } => {
            let endpoints: Vec<Endpoint> = store
                .endpoints(&secrets)
                .await
                .map_err(other)?
                .into_iter()
                .map(|e| e.endpoint)
                .collect();
            let file = heartline_config::ConfigFile::from_endpoints(&endpoints);
            let text = if format == "json" {
                file.to_json()
            } else {
                file.to_toml()
            };
            match out {
                Some(path) => {
                    std::fs::write(&path, text).map_err(|e| {
                        Failure::Other(anyhow::anyhow!("cannot write {}: {e}", path.display()))
                    })?;
                    eprintln!("wrote {} endpoints to {}", endpoints.len(), path.display());
                }
                None => print!("{text}"),
            }
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Reads, validates and imports a configuration file; returns the names it declares.
/// Any problem in the file is reported (every one, with its line) and nothing changes;
/// warnings (a credential written in the file) go to standard error and the import goes on.
pub(crate) async fn import_file(
    store: &Store,
    secrets: &Secrets,
    path: &Path,
) -> Result<Vec<String>, Failure> {
    let file = heartline_config::load(path).map_err(|e| Failure::Config(e.to_string()))?;
    let resolved = file
        .resolve(&|var| std::env::var(var).ok())
        .map_err(|e| Failure::Config(e.to_string()))?;
    for warning in resolved.iter().flat_map(|r| &r.warnings) {
        // Names the file, endpoint and key, never the value; the names come from the file.
        eprintln!(
            "heartline: warning: {}",
            heartline_core::escape_controls(&warning.to_string())
        );
    }
    let endpoints: Vec<Endpoint> = resolved.into_iter().map(|r| r.endpoint).collect();
    store
        .import_endpoints(&endpoints, secrets)
        .await
        .map_err(|e| Failure::Config(format!("{}: {e}", path.display())))?;
    Ok(endpoints.into_iter().map(|e| e.name).collect())
}
