//! What the store's test binaries share: a temporary directory of their own, and a look at
//! the database file behind the store's back.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use heartline_core::EndpointId;

/// A unique directory under the system temp dir, removed on drop; `.0` is its path.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "heartline-store-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The database file in it.
    pub fn db(&self) -> PathBuf {
        self.0.join("heartline.db")
    }

    /// A file in it.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A read-write connection of the test's own to the database file.
pub async fn raw(db: &Path) -> sqlx::SqliteConnection {
    SqliteConnectOptions::from_str("sqlite:")
        .unwrap()
        .filename(db)
        .connect()
        .await
        .unwrap()
}

/// Copies every WAL frame into the database and empties the `-wal` file, then returns
/// whether `needle` appears anywhere in the database, `-wal` or `-shm` bytes.
pub async fn on_disk(db: &Path, needle: &str) -> bool {
    let mut conn = raw(db).await;
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(busy, 0, "the checkpoint ran to the end");
    conn.close().await.unwrap();
    ["", "-wal", "-shm"].iter().any(|suffix| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        std::fs::read(PathBuf::from(name))
            .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
    })
}

/// The endpoint's stored configuration text, as the row holds it.
pub async fn config_of(db: &Path, id: EndpointId) -> String {
    let mut conn = raw(db).await;
    let config: String = sqlx::query_scalar("SELECT config FROM endpoints WHERE id = ?")
        .bind(i64::try_from(id.0).unwrap())
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    config
}
