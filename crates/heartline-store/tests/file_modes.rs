//! Files at rest are the user's alone: the database, its `-wal` and `-shm`, the secrets file
//! and the directories Heartline creates for them. Alone in its test binary because it sets
//! the process umask.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::Mode;
use sqlx::{ConnectOptions, Connection};

use heartline_core::Endpoint;
use heartline_store::{Secrets, Store};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[tokio::test]
async fn files_and_directories_are_private_even_under_a_permissive_umask() {
    let root = std::env::temp_dir().join(format!(
        "heartline-store-modes-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&root).unwrap();
    chmod(&root, 0o755);
    // Nothing masked: whatever is private below is private because Heartline made it so.
    let previous = rustix::process::umask(Mode::empty());

    let data = root.join("data").join("heartline");
    let db = data.join("heartline.db");
    let store = Store::open(&db).await.unwrap();
    let secrets = Secrets::File(root.join("keys").join("secrets.json"));
    let feed = Endpoint::new("feed", "wss://h/ws?token=T0KEN-1");
    store.add_endpoint(&feed, &secrets).await.unwrap();
    // A write connection open keeps the -wal and -shm files in place while we look.
    let mut writer = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&db)
        .connect()
        .await
        .unwrap();
    sqlx::query("INSERT INTO settings (key, value) VALUES ('mode-test', '1')")
        .execute(&mut writer)
        .await
        .unwrap();

    let created = [
        (root.join("data"), 0o700),
        (data.clone(), 0o700),
        (db.clone(), 0o600),
        (sidecar(&db, "-wal"), 0o600),
        (sidecar(&db, "-shm"), 0o600),
        (root.join("keys"), 0o700),
        (root.join("keys").join("secrets.json"), 0o600),
    ];
    let found: Vec<(PathBuf, u32)> = created.iter().map(|(p, _)| (p.clone(), mode(p))).collect();
    assert_eq!(found, created, "modes as created");
    // A directory Heartline did not create keeps its mode.
    assert_eq!(mode(&root), 0o755);
    // Closed and waited for, not dropped: a dropped sqlx connection closes on its worker
    // thread later, and could still be checkpointing into the -wal this test replaces below
    // (then the next open reads a WAL shorter than the -shm says: SQLITE_IOERR_SHORT_READ).
    writer.close().await.unwrap();
    store.close().await;

    // Files made readable by others (an older Heartline, a copy, a restore) are tightened:
    // the database and its sidecars at open, the secrets file when it is read.
    let stray_wal = sidecar(&db, "-wal");
    std::fs::write(&stray_wal, b"").unwrap();
    for path in [&db, &stray_wal, &root.join("keys").join("secrets.json")] {
        chmod(path, 0o644);
    }
    let tmp = root.join("keys").join("secrets.json.tmp");
    std::fs::write(&tmp, b"left over").unwrap();
    chmod(&tmp, 0o666);
    let store = Store::open(&db).await.unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&stray_wal), 0o600);
    assert_eq!(store.endpoints(&secrets).await.unwrap()[0].endpoint, feed);
    assert_eq!(mode(&root.join("keys").join("secrets.json")), 0o600);
    // A rewrite through a temporary file left behind with a wide mode is private too.
    secrets.set("other", "x").unwrap();
    assert_eq!(mode(&root.join("keys").join("secrets.json")), 0o600);
    store.close().await;

    rustix::process::umask(previous);
    let _ = std::fs::remove_dir_all(&root);
}
