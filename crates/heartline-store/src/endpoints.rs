//! The watched endpoints: configuration as JSON rows, secret header values in [`Secrets`].
//!
//! Invariant: history is written only by the writer; these rare configuration edits use short
//! transactions of their own (WAL lets them wait their turn behind a batch).

use std::time::SystemTime;

use sqlx::Connection;

use heartline_config::EndpointSpec;
use heartline_core::{Endpoint, EndpointId, Timestamp};

use crate::secrets::{header_key, Secrets};
use crate::{Error, Result, Store};

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEndpoint {
    pub id: EndpointId,
    /// With secret header values filled in from the secret store.
    pub endpoint: Endpoint,
    pub paused: bool,
    /// Secret headers whose value the secret store no longer has.
    pub missing_secrets: Vec<String>,
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
}

fn now_ms() -> i64 {
    Timestamp::from_system(SystemTime::now()).0
}

impl Store {
    /// Every stored endpoint, by id, with its secret values from `secrets`.
    pub async fn endpoints(&self, secrets: &Secrets) -> Result<Vec<StoredEndpoint>> {
        let stored = self.export_endpoints().await?;
        let mut out = Vec::with_capacity(stored.len());
        for e in stored {
            let mut endpoint = e.endpoint;
            let mut missing = Vec::new();
            for header in endpoint.headers.iter_mut().filter(|h| h.secret) {
                match secrets.get(&header_key(e.id, &header.name))? {
                    Some(value) => header.value = value,
                    None => missing.push(header.name.clone()),
                }
            }
            out.push(StoredEndpoint {
                id: e.id,
                endpoint,
                paused: e.paused,
                missing_secrets: missing,
            });
        }
        Ok(out)
    }

    /// Adds an endpoint (names are unique) and keeps its secret values in `secrets`.
    pub async fn add_endpoint(&self, endpoint: &Endpoint, secrets: &Secrets) -> Result<EndpointId> {
        endpoint
            .validate()
            .map_err(|e| Error::Config(format!("{}: {e}", endpoint.name)))?;
        let mut conn = self.connect_writer().await?;
        let mut tx = conn.begin().await?;
        let now = now_ms();
        let id = sqlx::query(
            "INSERT INTO endpoints (name, config, created_at, updated_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&endpoint.name)
        .bind(EndpointSpec::from_endpoint(endpoint).to_json())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_name(e, &endpoint.name))?
        .last_insert_rowid();
        let id = EndpointId(id.max(0).unsigned_abs());
        keep_secrets(id, endpoint, secrets)?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces an endpoint's configuration. A secret header given with an empty value keeps
    /// the value already stored.
    pub async fn update_endpoint(
        &self,
        id: EndpointId,
        endpoint: &Endpoint,
        secrets: &Secrets,
    ) -> Result<()> {
        endpoint
            .validate()
            .map_err(|e| Error::Config(format!("{}: {e}", endpoint.name)))?;
        let mut conn = self.connect_writer().await?;
        let changed =
            sqlx::query("UPDATE endpoints SET name = ?, config = ?, updated_at = ? WHERE id = ?")
                .bind(&endpoint.name)
                .bind(EndpointSpec::from_endpoint(endpoint).to_json())
                .bind(now_ms())
                .bind(i64::try_from(id.0).unwrap_or(i64::MAX))
                .execute(&mut conn)
                .await
                .map_err(|e| unique_name(e, &endpoint.name))?
                .rows_affected();
        if changed == 0 {
            return Err(Error::UnknownEndpoint(id.to_string()));
        }
        keep_secrets(id, endpoint, secrets)?;
        conn.close().await?;
        Ok(())
    }

    /// Removes an endpoint's configuration and secrets; its history stays.
    pub async fn remove_endpoint(&self, id: EndpointId, secrets: &Secrets) -> Result<()> {
        let stored = self.endpoints(secrets).await?;
        let Some(found) = stored.iter().find(|e| e.id == id) else {
            return Err(Error::UnknownEndpoint(id.to_string()));
        };
        let mut conn = self.connect_writer().await?;
        sqlx::query("DELETE FROM endpoints WHERE id = ?")
            .bind(i64::try_from(id.0).unwrap_or(i64::MAX))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        for h in found.endpoint.headers.iter().filter(|h| h.secret) {
            secrets.delete(&header_key(id, &h.name))?;
        }
        Ok(())
    }

    pub async fn set_paused(&self, id: EndpointId, paused: bool) -> Result<()> {
        let mut conn = self.connect_writer().await?;
        let changed = sqlx::query("UPDATE endpoints SET paused = ?, updated_at = ? WHERE id = ?")
            .bind(paused)
            .bind(now_ms())
            .bind(i64::try_from(id.0).unwrap_or(i64::MAX))
            .execute(&mut conn)
            .await?
            .rows_affected();
        conn.close().await?;
        if changed == 0 {
            return Err(Error::UnknownEndpoint(id.to_string()));
        }
        Ok(())
    }

    /// Adds or updates (by name) every endpoint in one transaction: all of them or none.
    pub async fn import_endpoints(
        &self,
        endpoints: &[Endpoint],
        secrets: &Secrets,
    ) -> Result<ImportReport> {
        for e in endpoints {
            e.validate()
                .map_err(|err| Error::Config(format!("{}: {err}", e.name)))?;
        }
        let existing: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM endpoints")
            .fetch_all(self.reader())
            .await?;
        let mut conn = self.connect_writer().await?;
        let mut tx = conn.begin().await?;
        let mut report = ImportReport::default();
        let mut ids = Vec::with_capacity(endpoints.len());
        let now = now_ms();
        for e in endpoints {
            let config = EndpointSpec::from_endpoint(e).to_json();
            let id = match existing.iter().find(|(_, n)| *n == e.name) {
                Some((id, _)) => {
                    sqlx::query("UPDATE endpoints SET config = ?, updated_at = ? WHERE id = ?")
                        .bind(&config)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    report.updated.push(e.name.clone());
                    *id
                }
                None => {
                    let id = sqlx::query("INSERT INTO endpoints (name, config, created_at, updated_at) VALUES (?, ?, ?, ?)")
                        .bind(&e.name)
                        .bind(&config)
                        .bind(now)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(|err| unique_name(err, &e.name))?
                        .last_insert_rowid();
                    report.added.push(e.name.clone());
                    id
                }
            };
            ids.push((EndpointId(id.max(0).unsigned_abs()), e));
        }
        // Secrets last, right before the commit, so a failed import leaves them alone.
        for (id, e) in &ids {
            keep_secrets(*id, e, secrets)?;
        }
        tx.commit().await?;
        Ok(report)
    }
}

fn keep_secrets(id: EndpointId, endpoint: &Endpoint, secrets: &Secrets) -> Result<()> {
    for h in endpoint
        .headers
        .iter()
        .filter(|h| h.secret && !h.value.is_empty())
    {
        secrets.set(&header_key(id, &h.name), &h.value)?;
    }
    Ok(())
}

fn unique_name(e: sqlx::Error, name: &str) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            Error::DuplicateName(name.to_owned())
        }
        _ => Error::Sql(e),
    }
}
