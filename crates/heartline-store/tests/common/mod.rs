//! What the store's test binaries share: a temporary directory of their own.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::path::PathBuf;

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
