//! Masking echoed secrets out of history written before outside text was cleaned where it
//! enters (the probe). New rows need none of this; see migration `20261203180000`.
//!
//! The stored outside text of an endpoint is: `events.reason` (close reasons, handshake
//! errors, give-up reasons) and `events.detail` (a connection's subprotocol and extensions,
//! as JSON), and `sessions.subprotocol`, `sessions.extensions` and `sessions.reason` (older
//! versions filled the last one). Incidents and state changes hold only Heartline's own words.
//!
//! Invariant: like retention, the scrub reads one endpoint's rows by range seeks of at most
//! [`CHUNK`] rows and rewrites the changed ones in a short transaction of its own, so the one
//! writer is never held up for long. Its connection overwrites what it frees
//! (`secure_delete`); when anything changed the file is rebuilt (`VACUUM`, once per database
//! that held echoed secrets; owed until it succeeds) and the WAL emptied, so no copy of the
//! old text stays in free space, in a page's slack or in old WAL frames.

use std::borrow::Cow;

use serde_json::Value;
use sqlx::{Connection, Row, SqliteConnection};

use heartline_core::{EndpointId, Redactor};

use crate::endpoints::StoredEndpoint;
use crate::{Error, Integrity, Result, Store};

/// Rows read per statement (a range seek of one endpoint's key).
const CHUNK: i64 = 2_000;

/// The `settings` key set in the same transaction as every rewrite and removed once the file
/// has been rebuilt: a rebuild that failed (or was interrupted) is owed and done next time.
const COMPACT_OWED: &str = "history_scrub_compact_owed";

/// A history table and its outside-text columns.
struct Table {
    name: &'static str,
    /// The time column of its (endpoint_id, time, seq) key.
    time: &'static str,
    /// Text columns kept whole.
    text: &'static [&'static str],
    /// Text columns older versions may have cut short (a refused upgrade's body quote): a
    /// secret cut at their end is masked too ([`Redactor::scrub_truncated`]).
    cut: &'static [&'static str],
    /// A JSON column whose string values are outside text.
    json: Option<&'static str>,
}

const TABLES: [Table; 2] = [
    Table {
        name: "events",
        time: "ts",
        text: &[],
        cut: &["reason"],
        json: Some("detail"),
    },
    Table {
        name: "sessions",
        time: "started_at",
        text: &["subprotocol", "extensions"],
        cut: &["reason"],
        json: None,
    },
];

/// What [`Store::scrub_pending`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScrubReport {
    /// Endpoints whose history was scrubbed and is no longer pending.
    pub endpoints: u64,
    /// Rows that held a secret and were rewritten.
    pub rows: u64,
    /// Names of endpoints still pending: the secret store has no value for one of their
    /// secret headers, so their secrets cannot be recognised yet.
    pub waiting: Vec<String>,
    /// Whether the file was rebuilt to drop every old copy of the rewritten text.
    pub compacted: bool,
}

impl Store {
    /// Masks `redactor`'s secrets in every stored outside text of `endpoint`'s history (see
    /// the module documentation for the columns) and returns how many rows changed. When any
    /// did, the file is rebuilt and the WAL emptied, so the old text is gone from the disk, not
    /// only from the rows. Safe to run while the writer writes.
    pub async fn scrub_history(&self, endpoint: EndpointId, redactor: &Redactor) -> Result<u64> {
        let mut conn = self.scrub_connection().await?;
        let rows = scrub_endpoint(&mut conn, endpoint, redactor).await?;
        compact_if_owed(&mut conn).await?;
        conn.close().await?;
        Ok(rows)
    }

    /// The one-time scrub of history written before outside text was cleaned at the source:
    /// each endpoint the migration listed as pending that is among `endpoints` (as loaded with
    /// their secrets by [`Store::endpoints`]) is scrubbed with its redactor and taken off the
    /// list. One whose secret values are missing stays pending for a later run. Returns at
    /// once when nothing is pending. Waits for the background integrity check and does not
    /// write into a damaged file.
    pub async fn scrub_pending(&self, endpoints: &[StoredEndpoint]) -> Result<ScrubReport> {
        let mut report = ScrubReport::default();
        let pending: Vec<i64> = sqlx::query_scalar("SELECT endpoint_id FROM history_scrub_pending")
            .fetch_all(self.reader())
            .await?;
        let todo: Vec<&StoredEndpoint> = endpoints
            .iter()
            .filter(|e| pending.contains(&id_of(e.id)))
            .collect();
        let owed: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
            .bind(COMPACT_OWED)
            .fetch_optional(self.reader())
            .await?;
        if todo.is_empty() && owed.is_none() {
            return Ok(report);
        }
        if let Integrity::Damaged(detail) = self.wait_integrity().await {
            return Err(Error::Corrupt {
                path: self.path().to_owned(),
                detail,
            });
        }
        let mut conn = self.scrub_connection().await?;
        for e in todo {
            if !e.missing_secrets.is_empty() {
                report.waiting.push(e.endpoint.name.clone());
                continue;
            }
            let redactor = Redactor::for_endpoint(&e.endpoint);
            if !redactor.is_empty() {
                report.rows += scrub_endpoint(&mut conn, e.id, &redactor).await?;
            }
            sqlx::query("DELETE FROM history_scrub_pending WHERE endpoint_id = ?")
                .bind(id_of(e.id))
                .execute(&mut conn)
                .await?;
            report.endpoints += 1;
        }
        report.compacted = compact_if_owed(&mut conn).await?;
        conn.close().await?;
        Ok(report)
    }

    /// A read-write connection that overwrites what it frees with zeros.
    async fn scrub_connection(&self) -> Result<SqliteConnection> {
        let mut conn = self.connect_writer().await?;
        sqlx::query("PRAGMA secure_delete = ON")
            .execute(&mut conn)
            .await?;
        Ok(conn)
    }
}

fn id_of(id: EndpointId) -> i64 {
    i64::try_from(id.0).unwrap_or(i64::MAX)
}

/// Scrubs one endpoint's rows in every history table; returns the rows changed.
async fn scrub_endpoint(
    conn: &mut SqliteConnection,
    endpoint: EndpointId,
    redactor: &Redactor,
) -> Result<u64> {
    let mut changed = 0;
    for table in &TABLES {
        changed += scrub_table(conn, table, id_of(endpoint), redactor).await?;
    }
    Ok(changed)
}

/// A row's key (time, seq) and its text columns' new values.
type Update = ((i64, i64), Vec<Option<String>>);

async fn scrub_table(
    conn: &mut SqliteConnection,
    table: &Table,
    endpoint: i64,
    redactor: &Redactor,
) -> Result<u64> {
    let Table {
        name,
        time,
        text,
        cut,
        json,
    } = *table;
    let columns: Vec<&str> = text.iter().chain(cut).copied().chain(json).collect();
    let list = columns.join(", ");
    let select = format!(
        "SELECT {time}, seq, {list} FROM {name} \
         WHERE endpoint_id = ?1 AND ({time}, seq) > (?2, ?3) ORDER BY {time}, seq LIMIT {CHUNK}"
    );
    let set = columns
        .iter()
        .map(|c| format!("{c} = ?"))
        .collect::<Vec<_>>()
        .join(", ");
    let update =
        format!("UPDATE {name} SET {set} WHERE endpoint_id = ? AND {time} = ? AND seq = ?");

    let mut after = (i64::MIN, i64::MIN);
    let mut changed = 0u64;
    loop {
        let rows = sqlx::query(&select)
            .bind(endpoint)
            .bind(after.0)
            .bind(after.1)
            .fetch_all(&mut *conn)
            .await?;
        let Some(last) = rows.last() else { break };
        after = (last.try_get(0)?, last.try_get(1)?);
        let mut updates: Vec<Update> = Vec::new();
        for row in &rows {
            let mut values = Vec::with_capacity(columns.len());
            let mut dirty = false;
            for (i, column) in columns.iter().enumerate() {
                let value: Option<String> = row.try_get(i + 2)?;
                let cleaned = value.as_deref().and_then(|v| {
                    if Some(*column) == json {
                        scrub_json(v, redactor)
                    } else if cut.contains(column) {
                        owned(redactor.scrub_truncated(v))
                    } else {
                        owned(redactor.scrub(v))
                    }
                });
                dirty |= cleaned.is_some();
                values.push(cleaned.or(value));
            }
            if dirty {
                updates.push(((row.try_get(0)?, row.try_get(1)?), values));
            }
        }
        if !updates.is_empty() {
            let mut tx = conn.begin().await?;
            for ((at, seq), values) in &updates {
                let mut query = sqlx::query(&update);
                for v in values {
                    query = query.bind(v.as_deref());
                }
                query
                    .bind(endpoint)
                    .bind(at)
                    .bind(seq)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("INSERT OR REPLACE INTO settings (key, value) VALUES (?, '1')")
                .bind(COMPACT_OWED)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            changed += updates.len() as u64;
        }
        if rows.len() < CHUNK as usize {
            break;
        }
    }
    Ok(changed)
}

/// The text when scrubbing changed it.
fn owned(text: Cow<'_, str>) -> Option<String> {
    match text {
        Cow::Owned(s) => Some(s),
        Cow::Borrowed(_) => None,
    }
}

/// The JSON text with secrets masked in its string values; `None` when nothing changed. Text
/// that is not JSON is scrubbed as text.
fn scrub_json(text: &str, redactor: &Redactor) -> Option<String> {
    let Ok(mut value) = serde_json::from_str::<Value>(text) else {
        return owned(redactor.scrub(text));
    };
    fn walk(v: &mut Value, redactor: &Redactor) -> bool {
        match v {
            Value::String(s) => match redactor.scrub(s) {
                Cow::Owned(clean) => {
                    *s = clean;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |any, item| walk(item, redactor) | any),
            Value::Object(map) => map
                .values_mut()
                .fold(false, |any, item| walk(item, redactor) | any),
            _ => false,
        }
    }
    walk(&mut value, redactor).then(|| value.to_string())
}

/// Drops every old copy of rewritten text from the disk when a rewrite has left one: `VACUUM`
/// rebuilds the file from the rows as they are now (`secure_delete` alone is not enough: old
/// copies sit in the slack of pages the updates never touched, left there when earlier
/// inserts split pages, and in pages freed earlier), then the WAL, which still holds the old
/// pages, is emptied. Runs only after something changed: once, for a database that held
/// echoed secrets. Returns whether it ran.
async fn compact_if_owed(conn: &mut SqliteConnection) -> Result<bool> {
    let owed: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
        .bind(COMPACT_OWED)
        .fetch_optional(&mut *conn)
        .await?;
    if owed.is_none() {
        return Ok(false);
    }
    sqlx::query("VACUUM").execute(&mut *conn).await?;
    sqlx::query("DELETE FROM settings WHERE key = ?")
        .bind(COMPACT_OWED)
        .execute(&mut *conn)
        .await?;
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut *conn)
        .await?;
    if busy != 0 {
        // A reader kept an older snapshot: the next checkpoint (the writer's, at the latest
        // when it stops) truncates the WAL.
        tracing::warn!(
            "the WAL could not be emptied after the scrub; it will be at the next checkpoint"
        );
    }
    Ok(true)
}
