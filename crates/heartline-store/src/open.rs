//! Opening the database: refuse what is not ours, migrate forward, set the pragmas.
//!
//! The database and its `-wal` and `-shm` files are readable only by the user (0600) and the
//! directories Heartline creates for them 0700: the history names the endpoints watched and
//! the errors their servers sent. SQLite gives `-wal` and `-shm` the database file's mode, so
//! creating that file 0600 is enough for new databases; existing files that others could read
//! are tightened at open.

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

/// Files up to this size get the whole `PRAGMA quick_check` before opening (a fraction of a
/// second); larger ones get the cheap checks first and the whole check in the background.
const FULL_CHECK_BELOW: u64 = 32 << 20;

/// The small tables checked on every open before anything writes: what the writer touches
/// first.
const CHECKED_ON_OPEN: [&str; 4] = ["_sqlx_migrations", "endpoints", "agent_runs", "settings"];

/// What is known about the file's integrity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Integrity {
    /// The whole-file check is running in the background (large files).
    Checking,
    /// The whole file passed `PRAGMA quick_check`.
    Ok,
    /// The check found damage (or could not run): the writer stops writing, readers may fail.
    Damaged(String),
}

/// An open Heartline database: a pool of read connections, and what the writer needs.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
    read: SqlitePool,
    options: SqliteConnectOptions,
    integrity: tokio::sync::watch::Receiver<Integrity>,
}

impl Store {
    /// Opens (creating if missing) and migrates the database at `path`.
    ///
    /// A file that is not SQLite, is damaged, or comes from a newer Heartline is refused with a
    /// clear error and left exactly as it was. Opening stays cheap whatever the size: the
    /// header, the schema and the small tables are checked before anything writes, the whole
    /// file too when it is small (under 32 MiB); a larger file is checked in the background —
    /// see [`Store::integrity`] — and damage found there stops the writer before it writes.
    #[tracing::instrument(skip_all, fields(path = %path.display()), err)]
    pub async fn open(path: &Path) -> Result<Store> {
        check_header(path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|source| Error::Directory {
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

        let inspection = if path.exists() {
            let inspection = inspect_read_only(path).await?;
            // Only a file found to be ours: a refused one is left exactly as it was.
            for file in [
                path.to_owned(),
                sidecar(path, "-wal"),
                sidecar(path, "-shm"),
            ] {
                if let Err(e) = restrict_to_owner(&file) {
                    tracing::warn!(file = %file.display(), error = %e, "cannot make the file private");
                }
            }
            inspection
        } else {
            create_private_file(path)?;
            Inspection::default()
        };
        let full_check_pending = inspection.full_check_pending;
        // An up-to-date file is not opened for writing here: nothing touches it before the
        // writer starts (and a damaged one is not touched at all).
        if !inspection.up_to_date {
            let mut conn = options.connect().await.map_err(|e| classify(path, e))?;
            MIGRATOR.run(&mut conn).await.map_err(|e| match e {
                sqlx::migrate::MigrateError::VersionMissing(version) => Error::NewerSchema {
                    path: path.to_owned(),
                    version,
                },
                other => Error::Migrate(other),
            })?;
            conn.close().await?;
        }

        // Readers set nothing persistent (journal mode and vacuum mode belong to the file, set
        // above), so they can be read-only.
        let read_options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(BUSY_TIMEOUT)
            .disable_statement_logging();
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            // A reader going back to the pool gives back its page cache: readers work in
            // bursts (a shell's start-up list of every endpoint, a view, an export), and an idle
            // one kept up to 2 MiB of pages (SQLite's default cache) for nobody. Warm pages stay
            // in the operating system's file cache.
            .after_release(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA shrink_memory").execute(conn).await?;
                    Ok(true)
                })
            })
            .connect_with(read_options)
            .await?;
        let (report, integrity) = tokio::sync::watch::channel(if full_check_pending {
            Integrity::Checking
        } else {
            Integrity::Ok
        });
        let store = Store {
            path: path.to_owned(),
            read,
            options,
            integrity,
        };
        if full_check_pending {
            let checker = store.clone();
            tokio::spawn(async move {
                let result = match checker.check_integrity().await {
                    Ok(()) => Integrity::Ok,
                    Err(e) => {
                        tracing::error!(error = %e, "integrity check failed; the writer will not write");
                        Integrity::Damaged(e.to_string())
                    }
                };
                let _ = report.send(result);
            });
        }
        Ok(store)
    }

    /// What the whole-file check found so far.
    pub fn integrity(&self) -> Integrity {
        self.integrity.borrow().clone()
    }

    /// Waits for the background check (if any) and returns what it found.
    pub async fn wait_integrity(&self) -> Integrity {
        let mut rx = self.integrity.clone();
        let found = match rx.wait_for(|i| *i != Integrity::Checking).await {
            Ok(i) => Some(i.clone()),
            Err(_) => None,
        };
        found.unwrap_or_else(|| rx.borrow().clone())
    }

    pub(crate) fn integrity_watch(&self) -> tokio::sync::watch::Receiver<Integrity> {
        self.integrity.clone()
    }

    /// Runs `PRAGMA quick_check` over the whole file now (seconds for gigabytes) on a
    /// read-only connection of its own; damage is [`Error::Corrupt`].
    pub async fn check_integrity(&self) -> Result<()> {
        let options = SqliteConnectOptions::new()
            .filename(&self.path)
            .read_only(true)
            .busy_timeout(BUSY_TIMEOUT)
            .disable_statement_logging();
        let mut conn = options
            .connect()
            .await
            .map_err(|e| classify(&self.path, e))?;
        let check = quick_check(&mut conn, &self.path, None).await;
        conn.close().await?;
        check
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

/// Creates `dir` and its missing parents, readable only by the user (0700 on Unix). Existing
/// directories keep their mode: they may be shared (`--db /srv/data/heartline.db`).
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates an empty database file with mode 0600 before SQLite opens it: SQLite would create
/// it 0644, and gives its `-wal` and `-shm` files the database's mode. An empty file is an
/// empty database.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        // Created meanwhile by another process: SQLite opens that one as it is.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Sql(sqlx::Error::Io(e))),
    }
}

/// Takes group and other access away from an existing file (0644 becomes 0600) and says so in
/// the log. A missing file is left missing.
pub(crate) fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match std::fs::metadata(path) {
            Ok(meta) => meta.permissions().mode() & 0o7777,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if mode & 0o077 != 0 {
            let private = mode & 0o700;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(private))?;
            tracing::warn!(
                file = %path.display(),
                was = %format!("{mode:o}"),
                now = %format!("{private:o}"),
                "other users could read this file; made it readable only by you"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// `heartline.db-wal` beside `heartline.db`.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `PRAGMA quick_check` of the whole file or of one table (and its indexes).
async fn quick_check(
    conn: &mut sqlx::SqliteConnection,
    path: &Path,
    table: Option<&str>,
) -> Result<()> {
    let sql = match table {
        Some(t) => format!("PRAGMA quick_check(\"{t}\")"),
        None => "PRAGMA quick_check".to_owned(),
    };
    let problems: Vec<String> = sqlx::query_scalar(&sql)
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| classify(path, e))?;
    if problems.len() == 1 && problems[0] == "ok" {
        return Ok(());
    }
    Err(Error::Corrupt {
        path: path.to_owned(),
        detail: problems.join("; "),
    })
}

/// Looks at an existing file through a read-only connection, which cannot change it: damage and
/// a schema from a newer Heartline are refused before anything opens it for writing. Returns
/// whether the whole-file check is still to be done and whether a migration is due.
async fn inspect_read_only(path: &Path) -> Result<Inspection> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .busy_timeout(BUSY_TIMEOUT)
        .disable_statement_logging();
    let mut conn = options.connect().await.map_err(|e| classify(path, e))?;
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let small = size < FULL_CHECK_BELOW;
    // The schema (page 1 and sqlite_master) must read, for any size.
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await
            .map_err(|e| classify(path, e))?;
    if small {
        quick_check(&mut conn, path, None).await?;
    } else {
        for table in CHECKED_ON_OPEN
            .iter()
            .filter(|t| tables.iter().any(|n| n == *t))
        {
            quick_check(&mut conn, path, Some(table)).await?;
        }
    }
    let has_history: bool = sqlx::query_scalar(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(|e| classify(path, e))?;
    let mut up_to_date = false;
    if has_history {
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&mut conn)
                .await
                .map_err(|e| classify(path, e))?;
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(&version) = applied.iter().filter(|v| **v > known).max() {
            return Err(Error::NewerSchema {
                path: path.to_owned(),
                version,
            });
        }
        up_to_date = MIGRATOR.iter().all(|m| applied.contains(&m.version));
    }
    conn.close().await?;
    Ok(Inspection {
        full_check_pending: !small,
        up_to_date,
    })
}

/// What the read-only look at an existing file found.
#[derive(Debug, Clone, Copy, Default)]
struct Inspection {
    /// The file is large: the whole-file check runs in the background.
    full_check_pending: bool,
    /// Every known migration is applied: nothing to write before the writer starts.
    up_to_date: bool,
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
