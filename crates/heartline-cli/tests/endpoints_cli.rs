//! `heartline endpoints` with a credential in the URL (`?token=…`): kept in the secret store,
//! never in the database or an export.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::TempDir;

const TOKEN: &str = "CLI-Q-T0KEN-31337";

fn endpoints(db: &Path, args: &[&str]) -> Output {
    let out = common::heartline()
        .arg("endpoints")
        .args(args)
        .args(["--db", db.to_str().unwrap()])
        .output()
        .expect("run heartline");
    assert!(
        out.status.success(),
        "heartline endpoints {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `needle` is anywhere in the database, its -wal or the secrets file.
fn in_file(path: &Path, needle: &str) -> bool {
    std::fs::read(path).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
}

#[test]
fn export_writes_a_query_token_as_stored_and_never_its_value() {
    let dir = TempDir::new("endpoints", "query-token");
    let db = dir.path("heartline.db");
    let url = format!("wss://feed.example.com/ws?token={TOKEN}&room=1");
    let mut add = Command::new("sh");
    // A permissive umask: the files are private because heartline makes them so.
    add.args(["-c", "umask 000 && exec \"$@\"", "sh"])
        .arg(env!("CARGO_BIN_EXE_heartline"))
        .args([
            "endpoints",
            "add",
            "feed",
            &url,
            "--db",
            db.to_str().unwrap(),
        ])
        .env("HEARTLINE_SECRETS", "file");
    let out = add.output().expect("run heartline");
    assert!(out.status.success(), "{}", text(&out.stderr));

    let toml = text(&endpoints(&db, &["export"]).stdout);
    assert!(
        toml.contains("url = \"wss://feed.example.com/ws?token=&room=1\"\n")
            && toml.contains("secret_query = { token = { stored = true } }\n"),
        "{toml}"
    );
    let json = text(&endpoints(&db, &["export", "--format", "json"]).stdout);
    assert!(
        json.contains(r#""secret_query": {"#) && json.contains(r#""stored": true"#),
        "{json}"
    );
    let list = text(&endpoints(&db, &["list"]).stdout);
    assert!(list.contains("token=••••••&room=1"), "{list}");
    for shown in [&toml, &json, &list] {
        assert!(!shown.contains(TOKEN), "{shown}");
    }

    let secrets = dir.path("secrets.json");
    assert!(in_file(&secrets, TOKEN), "the value is in the secret store");
    for file in ["heartline.db", "heartline.db-wal"] {
        assert!(!in_file(&dir.path(file), TOKEN), "{file} holds the token");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in [&db, &secrets] {
            let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }

    // Importing what export wrote keeps the stored value: the endpoint still connects with it.
    let file = dir.path("exported.toml");
    std::fs::write(&file, &toml).unwrap();
    let out = endpoints(&db, &["import", file.to_str().unwrap()]);
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
    assert!(in_file(&secrets, TOKEN));
    assert_eq!(text(&endpoints(&db, &["export"]).stdout), toml);
}

#[test]
fn importing_a_token_written_in_the_url_warns_without_the_value() {
    let dir = TempDir::new("endpoints", "query-warning");
    let db = dir.path("heartline.db");
    let file = dir.path("heartline.toml");
    std::fs::write(
        &file,
        format!(
            "[[endpoint]]\nname = \"feed\"\nurl = \"wss://h/ws?room=1&access_token={TOKEN}\"\n"
        ),
    )
    .unwrap();
    let out = endpoints(&db, &["import", file.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "heartline: warning: {}:3: endpoint 1 (feed): url: query parameter `access_token` has its value written in the URL",
            file.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN) && !text(&out.stdout).contains(TOKEN));
    // Imported all the same, and kept out of the database.
    assert!(in_file(&dir.path("secrets.json"), TOKEN));
    let toml = text(&endpoints(&db, &["export"]).stdout);
    assert!(
        toml.contains("secret_query = { access_token = { stored = true } }")
            && !toml.contains(TOKEN),
        "{toml}"
    );
}
