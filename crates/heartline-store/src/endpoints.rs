//! The watched endpoints: configuration as JSON rows; the values of secret headers, secret
//! query parameters (`?token=…`) and secret values for payloads (`{{secret:NAME}}`) in
//! [`Secrets`], the rows keeping `{ stored = true }` and the URL with the parameter left empty.
//!
//! Invariant: history is written only by the writer; these rare configuration edits use short
//! transactions of their own (WAL lets them wait their turn behind a batch).

use std::time::SystemTime;

use sqlx::Connection;

use heartline_config::{fill_query, query_secrets, strip_query_secrets, EndpointSpec};
use heartline_core::{Endpoint, EndpointId, Timestamp};

use crate::secrets::{header_key, query_key, var_key, Secrets};
use crate::{Error, Result, Store};

/// An endpoint as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEndpoint {
    pub id: EndpointId,
    /// With secret header values, secret query values and secret values for payloads filled
    /// in from the secret store.
    pub endpoint: Endpoint,
    pub paused: bool,
    /// Secrets the secret store does not have: headers by name, query parameters as `?name`
    /// (left empty in the URL), secret values for payloads as `{{secret:NAME}}` (left empty).
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
    ///
    /// First moves secret query values an older Heartline left in the rows into `secrets`
    /// (see `move_query_secrets`).
    pub async fn endpoints(&self, secrets: &Secrets) -> Result<Vec<StoredEndpoint>> {
        self.move_query_secrets(secrets).await?;
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
            // Rows name every secret parameter `{ stored = true }` and leave it empty in the URL;
            // one still written in it (not moved yet) is used as it is.
            let (_, params) = strip_query_secrets(&endpoint.url);
            let inline = query_secrets(&endpoint.url);
            for name in params
                .into_iter()
                .filter(|p| inline.iter().all(|(n, _)| n != p))
            {
                match secrets.get(&query_key(e.id, &name))? {
                    Some(value) => endpoint.url = fill_query(&endpoint.url, &name, &value),
                    None => missing.push(format!("?{name}")),
                }
            }
            for var in endpoint.secret_vars.iter_mut() {
                match secrets.get(&var_key(e.id, &var.name))? {
                    Some(value) => var.value = value,
                    None => missing.push(format!("{{{{secret:{}}}}}", var.name)),
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
        check(endpoint)?;
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

    /// Replaces an endpoint's configuration. A secret header, a secret query parameter
    /// (`?token=`) or a secret value for payloads given with an empty value keeps the value
    /// already stored.
    pub async fn update_endpoint(
        &self,
        id: EndpointId,
        endpoint: &Endpoint,
        secrets: &Secrets,
    ) -> Result<()> {
        check(endpoint)?;
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
        for name in strip_query_secrets(&found.endpoint.url).1 {
            secrets.delete(&query_key(id, &name))?;
        }
        for var in &found.endpoint.secret_vars {
            secrets.delete(&var_key(id, &var.name))?;
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
            check(e)?;
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

impl Store {
    /// Moves secret query values that an older Heartline kept in the configuration JSON
    /// (`"url": "wss://h/ws?token=…"`) into `secrets`, and rewrites those rows in the current
    /// form (the parameter empty in the URL, `{ stored = true }` beside it).
    ///
    /// It runs here rather than in [`Store::open`]: it needs the secret store, which callers
    /// choose after opening (beside the database), and opening an up-to-date file writes
    /// nothing. A SQL migration cannot reach the secret store. It needs no marker: a row in
    /// the current form has no value in its URL, so once moved there is nothing left to find,
    /// and the check is a look at rows every call parses anyway. Each value is kept in the
    /// secret store before its row loses it, so an interruption repeats the move rather than
    /// losing the value.
    async fn move_query_secrets(&self, secrets: &Secrets) -> Result<()> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT id, name, config FROM endpoints ORDER BY id")
                .fetch_all(self.reader())
                .await?;
        let mut moved = Vec::new();
        for (id, name, config) in rows {
            // A row that does not read is reported by the read that follows.
            let Ok(spec) = EndpointSpec::from_json(&config) else {
                continue;
            };
            if query_secrets(&spec.url).is_empty() {
                continue;
            }
            let Ok(resolved) = spec.resolve(&heartline_config::Defaults::default(), &|_| None)
            else {
                continue;
            };
            let endpoint = resolved.endpoint;
            let id = EndpointId(id.max(0).unsigned_abs());
            if let Err(e) = keep_secrets(id, &endpoint, secrets) {
                // The row keeps working as it is and is moved by a later call.
                tracing::warn!(endpoint = %name, error = %e, "cannot move a secret query value to the secret store yet");
                continue;
            }
            let rewritten = EndpointSpec::from_endpoint(&endpoint).to_json();
            moved.push((id, config, rewritten, name));
        }
        if moved.is_empty() {
            return Ok(());
        }
        let mut conn = self.connect_writer().await?;
        // Zero the old rows' bytes as they are freed, so the page written back holds no copy.
        sqlx::query("PRAGMA secure_delete = ON")
            .execute(&mut conn)
            .await?;
        let mut tx = conn.begin().await?;
        for (id, old, new, _) in &moved {
            // Only the row as read: an edit made meanwhile is already in the current form.
            sqlx::query("UPDATE endpoints SET config = ? WHERE id = ? AND config = ?")
                .bind(new)
                .bind(i64::try_from(id.0).unwrap_or(i64::MAX))
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        // The old pages stay in the database file until a checkpoint copies the new ones over
        // them, and old frames in the -wal file until it is truncated: do both now. Busy
        // readers only delay this to a later checkpoint.
        let busy: Option<(i64, i64, i64)> = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_optional(&mut conn)
            .await?;
        conn.close().await?;
        let names: Vec<&str> = moved.iter().map(|(.., name)| name.as_str()).collect();
        tracing::info!(
            endpoints = %names.join(", "),
            to = %secrets.describe(),
            checkpoint_done = !matches!(busy, Some((1, _, _))),
            "moved secret query values out of the database into the secret store"
        );
        Ok(())
    }
}

/// Core validation, and one value per secret query parameter: the secret store keeps one
/// value per name, so `?key=a&key=b` could not come back as it was.
fn check(endpoint: &Endpoint) -> Result<()> {
    endpoint
        .validate()
        .map_err(|e| Error::Config(format!("{}: {e}", endpoint.name)))?;
    let values = query_secrets(&endpoint.url);
    for (i, (name, value)) in values.iter().enumerate() {
        if values[..i].iter().any(|(n, v)| n == name && v != value) {
            return Err(Error::Config(format!(
                "{}: url: the secret query parameter `{name}` is given twice with different \
                 values; give it once",
                endpoint.name
            )));
        }
    }
    Ok(())
}

/// Keeps the non-empty values of secret headers, secret query parameters and secret values
/// for payloads in `secrets` (an empty one keeps the value stored before).
fn keep_secrets(id: EndpointId, endpoint: &Endpoint, secrets: &Secrets) -> Result<()> {
    for var in endpoint.secret_vars.iter().filter(|v| !v.value.is_empty()) {
        secrets.set(&var_key(id, &var.name), &var.value)?;
    }
    for h in endpoint
        .headers
        .iter()
        .filter(|h| h.secret && !h.value.is_empty())
    {
        secrets.set(&header_key(id, &h.name), &h.value)?;
    }
    for (name, value) in query_secrets(&endpoint.url) {
        secrets.set(&query_key(id, &name), &value)?;
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
