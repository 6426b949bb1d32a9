//! Opening the database: refuse what is not ours, migrate forward, set the pragmas.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use crate::{Error, Result};

/// The migrations, embedded: applied forward only, never edited once released.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// How long a connection waits for a lock before reporting "database is locked".
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database in the user's data directory: `$XDG_DATA_HOME/heartline/heartline.db` on Linux,
/// `~/Library/Application Support/heartline/heartline.db` on macOS, `%APPDATA%\heartline\…` on Windows.
pub fn default_path() -> Result<PathBuf> {
    Ok(dirs::data_dir()
        .ok_or(Error::NoDataDir)?
        .join("heartline")
        .join("heartline.db"))
}

/// An open Heartline database: a pool of read connections, and what the writer needs.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    read: SqlitePool,
    options: SqliteConnectOptions,
}

impl Store {
    /// Opens (creating if missing) and migrates the database at `path`.
    ///
    /// A file that is not SQLite, is damaged, or comes from a newer Heartline is refused with a
    /// clear error and left exactly as it was.
    #[tracing::instrument(skip_all, fields(path = %path.display()), err)]
    pub async fn open(path: &Path) -> Result<Store> {
        check_header(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Directory {
                path: dir.to_owned(),
                source,
            })?;
        }
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .foreign_keys(true)
            .disable_statement_logging();

        if path.exists() {
            inspect_read_only(path).await?;
        }
        let mut conn = options.connect().await.map_err(|e| classify(path, e))?;
        MIGRATOR.run(&mut conn).await.map_err(|e| match e {
            sqlx::migrate::MigrateError::VersionMissing(version) => Error::NewerSchema {
                path: path.to_owned(),
                version,
            },
            other => Error::Migrate(other),
        })?;
        conn.close().await?;

        // Readers set nothing persistent (journal mode and vacuum mode belong to the file, set
        // above), so they can be read-only.
        let read_options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(BUSY_TIMEOUT)
            .disable_statement_logging();
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(read_options)
            .await?;
        Ok(Store {
            path: path.to_owned(),
            read,
            options,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pool for queries.
    pub fn reader(&self) -> &SqlitePool {
        &self.read
    }

    /// A fresh read-write connection (for the writer, and for administrative commands).
    pub(crate) async fn connect_writer(&self) -> Result<sqlx::SqliteConnection> {
        Ok(self.options.connect().await?)
    }

    /// Applies retention now, on a connection of its own (the writer also does this hourly).
    pub async fn apply_retention(
        &self,
        retention: &crate::Retention,
        now: heartline_core::Timestamp,
    ) -> Result<crate::retention::Report> {
        let mut conn = self.connect_writer().await?;
        let report = crate::retention::apply(&mut conn, retention, now.0).await?;
        conn.close().await?;
        Ok(report)
    }

    /// Closes the read pool (the writer closes its own connection).
    pub async fn close(&self) {
        self.read.close().await;
    }
}

/// Looks at an existing file through a read-only connection, which cannot change it: damage and
/// a schema from a newer Heartline are refused before anything opens it for writing.
async fn inspect_read_only(path: &Path) -> Result<()> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(BUSY_TIMEOUT)
        .disable_statement_logging();
    let mut conn = options.connect().await.map_err(|e| classify(path, e))?;
    let check: String = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| classify(path, e))?;
    if check != "ok" {
        return Err(Error::Corrupt {
            path: path.to_owned(),
            detail: check,
        });
    }
    let has_history: bool = sqlx::query_scalar(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(|e| classify(path, e))?;
    if has_history {
        let newest: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| classify(path, e))?;
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(version) = newest.filter(|v| *v > known) {
            return Err(Error::NewerSchema {
                path: path.to_owned(),
                version,
            });
        }
    }
    conn.close().await?;
    Ok(())
}

/// Refuses a non-empty file whose first bytes are not SQLite's magic header.
fn check_header(path: &Path) -> Result<()> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::Sql(sqlx::Error::Io(e))),
    };
    let mut header = [0u8; 16];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(Error::Sql(sqlx::Error::Io(e))),
        }
    }
    // An empty file is a valid empty database; anything else must carry SQLite's magic.
    if read == 0 || header == *b"SQLite format 3\0" {
        Ok(())
    } else {
        Err(Error::NotSqlite {
            path: path.to_owned(),
        })
    }
}

fn classify(path: &Path, e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &e {
        // SQLITE_NOTADB (26) and SQLITE_CORRUPT (11), extended codes included.
        let code = db.code().and_then(|c| c.parse::<i64>().ok()).unwrap_or(0) & 0xff;
        if code == 26 {
            return Error::NotSqlite {
                path: path.to_owned(),
            };
        }
        if code == 11 {
            return Error::Corrupt {
                path: path.to_owned(),
                detail: db.message().to_owned(),
            };
        }
    }
    Error::Sql(e)
}
