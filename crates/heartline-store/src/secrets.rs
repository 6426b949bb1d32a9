//! Where the values of secret headers, secret query parameters and secret values for
//! payloads live: the operating system's
//! keychain when there is one, else a file only the user can read (0600, in a directory
//! created 0700). Never in the database, never in exports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Keychain service name under which every Heartline secret is filed.
const SERVICE: &str = "heartline";

/// Where secrets are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secrets {
    /// The system keychain: Secret Service (GNOME Keyring, KWallet) on Linux, Keychain on
    /// macOS, Credential Manager on Windows.
    Keychain,
    /// A JSON file with mode 0600, for headless servers and CI where no keychain runs. An
    /// existing file that others could read is made private when it is read.
    File(PathBuf),
}

/// Why a secret could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the system keychain refused: {0}")]
    Keychain(String),
    #[error("secrets file {}: {problem}", path.display())]
    File { path: PathBuf, problem: String },
}

impl Secrets {
    /// The keychain when one answers, otherwise `secrets.json` beside the database.
    /// `HEARTLINE_SECRETS=file` forces the file, `=keychain` the keychain.
    pub fn detect(data_dir: &Path) -> Secrets {
        let file = Secrets::File(data_dir.join("secrets.json"));
        match std::env::var("HEARTLINE_SECRETS").as_deref() {
            Ok("file") => return file,
            Ok("keychain") => return Secrets::Keychain,
            _ => {}
        }
        let probe = keyring::Entry::new(SERVICE, "heartline-probe").and_then(|e| e.get_password());
        match probe {
            Ok(_) | Err(keyring::Error::NoEntry) => Secrets::Keychain,
            Err(e) => {
                tracing::info!(error = %e, "no system keychain; keeping secrets in a file readable only by you");
                file
            }
        }
    }

    /// In words, for settings screens and `--help`.
    pub fn describe(&self) -> String {
        match self {
            Secrets::Keychain => "the system keychain".into(),
            Secrets::File(path) => format!("{} (readable only by you)", path.display()),
        }
    }

    pub fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        match self {
            Secrets::Keychain => {
                match keyring::Entry::new(SERVICE, key).and_then(|e| e.get_password()) {
                    Ok(v) => Ok(Some(v)),
                    Err(keyring::Error::NoEntry) => Ok(None),
                    Err(e) => Err(SecretError::Keychain(e.to_string())),
                }
            }
            Secrets::File(path) => Ok(read_file(path)?.remove(key)),
        }
    }

    pub fn set(&self, key: &str, value: &str) -> Result<(), SecretError> {
        match self {
            Secrets::Keychain => keyring::Entry::new(SERVICE, key)
                .and_then(|e| e.set_password(value))
                .map_err(|e| SecretError::Keychain(e.to_string())),
            Secrets::File(path) => {
                let mut all = read_file(path)?;
                all.insert(key.to_owned(), value.to_owned());
                write_file(path, &all)
            }
        }
    }

    pub fn delete(&self, key: &str) -> Result<(), SecretError> {
        match self {
            Secrets::Keychain => {
                match keyring::Entry::new(SERVICE, key).and_then(|e| e.delete_credential()) {
                    Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                    Err(e) => Err(SecretError::Keychain(e.to_string())),
                }
            }
            Secrets::File(path) => {
                let mut all = read_file(path)?;
                if all.remove(key).is_some() {
                    write_file(path, &all)?;
                }
                Ok(())
            }
        }
    }
}

/// The key of one endpoint's secret header.
pub fn header_key(endpoint: heartline_core::EndpointId, header: &str) -> String {
    format!(
        "endpoint/{}/header/{}",
        endpoint.0,
        header.to_ascii_lowercase()
    )
}

/// The key of one endpoint's secret query parameter, named as written in the URL (query
/// names are case-sensitive, unlike header names).
pub fn query_key(endpoint: heartline_core::EndpointId, param: &str) -> String {
    format!("endpoint/{}/query/{param}", endpoint.0)
}

/// The key of one endpoint's secret value for payloads (`{{secret:NAME}}`); names are
/// case-sensitive, as in the placeholders.
pub fn var_key(endpoint: heartline_core::EndpointId, name: &str) -> String {
    format!("endpoint/{}/var/{name}", endpoint.0)
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, SecretError> {
    let bad = |problem: String| SecretError::File {
        path: path.to_owned(),
        problem,
    };
    if let Err(e) = crate::open::restrict_to_owner(path) {
        tracing::warn!(file = %path.display(), error = %e, "cannot make the secrets file private");
    }
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| bad(format!("not valid JSON ({e}); fix or remove it"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// Writes to a temporary file created with mode 0600 and renames it over the old one, so the
/// file is never readable by others nor half-written.
fn write_file(path: &Path, all: &BTreeMap<String, String>) -> Result<(), SecretError> {
    use std::io::Write;
    let bad = |problem: String| SecretError::File {
        path: path.to_owned(),
        problem,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::open::create_private_dir(dir).map_err(|e| bad(e.to_string()))?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| bad(e.to_string()))?;
    // The mode above applies only when the file is created: a temporary file left behind by
    // an interrupted write keeps its own, so set it before writing.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| bad(e.to_string()))?;
    }
    let text = serde_json::to_string_pretty(all).map_err(|e| bad(e.to_string()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| bad(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_backend_keeps_secrets_private_and_round_trips() {
        let dir = std::env::temp_dir().join(format!("heartline-secrets-{}", std::process::id()));
        let secrets = Secrets::File(dir.join("secrets.json"));
        let key = header_key(heartline_core::EndpointId(7), "Authorization");
        assert_eq!(key, "endpoint/7/header/authorization");
        assert_eq!(
            query_key(heartline_core::EndpointId(7), "Access_Token"),
            "endpoint/7/query/Access_Token"
        );
        assert_eq!(secrets.get(&key).unwrap(), None);
        secrets.set(&key, "Bearer s3cret").unwrap();
        secrets.set("other", "x").unwrap();
        assert_eq!(secrets.get(&key).unwrap().as_deref(), Some("Bearer s3cret"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("secrets.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        secrets.delete(&key).unwrap();
        assert_eq!(secrets.get(&key).unwrap(), None);
        assert_eq!(secrets.get("other").unwrap().as_deref(), Some("x"));
        std::fs::write(dir.join("secrets.json"), r#"{"k": "Bearer LEAK-ME" oops"#).unwrap();
        let err = secrets.get("other").unwrap_err().to_string();
        assert!(
            err.contains("not valid JSON") && !err.contains("LEAK-ME"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn forced_file_backend() {
        // The variable is read at detection only; set it for this process.
        std::env::set_var("HEARTLINE_SECRETS", "file");
        let d = Secrets::detect(Path::new("/data"));
        assert_eq!(d, Secrets::File(PathBuf::from("/data/secrets.json")));
        assert!(d.describe().contains("readable only by you"));
    }
}
