//! The lab server as a separate process: found next to this executable, started with
//! `--no-tls`, killed when the guard drops (also on error).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use anyhow::{bail, Context};

const LAB_BIN: &str = "heartline-lab";

/// The `ws=` URL from the lab's first stdout line,
/// `heartline-lab listening ws=ws://127.0.0.1:PORT [wss=...]`.
pub fn parse_listening_line(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("heartline-lab listening")?;
    rest.split_whitespace()
        .find_map(|w| w.strip_prefix("ws="))
        .filter(|u| u.starts_with("ws://"))
        .map(|u| u.trim_end_matches('/').to_owned())
}

/// The lab binary beside `exe` (both live in `target/release`).
pub fn lab_path(exe: &Path) -> anyhow::Result<PathBuf> {
    let dir = exe
        .parent()
        .context("the benchmark executable has no parent directory")?;
    let path = dir.join(format!("{LAB_BIN}{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        bail!(
            "{} not found; build it first with `cargo build --release -p heartline-lab` \
             (`make bench` builds both)",
            path.display()
        );
    }
    Ok(path)
}

/// A running lab; killed on drop.
pub struct LabProcess {
    child: Child,
    // Kept open so the lab never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
    /// Base URL, e.g. `ws://127.0.0.1:40123`.
    pub base_url: String,
    pub log: PathBuf,
}

impl LabProcess {
    pub fn start(path: &Path) -> anyhow::Result<Self> {
        let log =
            std::env::temp_dir().join(format!("heartline-bench-lab-{}.log", std::process::id()));
        let stderr = std::fs::File::create(&log)
            .with_context(|| format!("creating the lab log {}", log.display()))?;
        let mut child = Command::new(path)
            .arg("--no-tls")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {}", path.display()))?;
        let stdout = child.stdout.take().context("no stdout pipe to the lab")?;
        // From here on the guard kills the lab whatever happens.
        let mut lab = LabProcess {
            child,
            _stdout: BufReader::new(stdout),
            base_url: String::new(),
            log,
        };
        let mut line = String::new();
        lab._stdout
            .read_line(&mut line)
            .context("reading the lab's first line")?;
        match parse_listening_line(&line) {
            Some(url) => lab.base_url = url,
            None => bail!(
                "the lab did not announce its address (got {:?}); see {}",
                line.trim(),
                lab.log.display()
            ),
        }
        Ok(lab)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The echo scenario's URL.
    pub fn echo_url(&self) -> String {
        format!("{}/echo", self.base_url)
    }

    /// Fails if the lab has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait().context("polling the lab")? {
            bail!("the lab exited ({status}); see {}", self.log.display());
        }
        Ok(())
    }
}

impl Drop for LabProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_line() {
        assert_eq!(
            parse_listening_line("heartline-lab listening ws=ws://127.0.0.1:40123\n").as_deref(),
            Some("ws://127.0.0.1:40123")
        );
        assert_eq!(
            parse_listening_line(
                "heartline-lab listening ws=ws://127.0.0.1:1/ wss=wss://localhost:2"
            )
            .as_deref(),
            Some("ws://127.0.0.1:1")
        );
        assert_eq!(parse_listening_line("something else ws=ws://x:1"), None);
        assert_eq!(
            parse_listening_line("heartline-lab listening wss=wss://x:1"),
            None
        );
        assert_eq!(parse_listening_line(""), None);
    }

    #[test]
    fn missing_lab_says_how_to_build_it() {
        let err = lab_path(Path::new("/nonexistent-dir/heartline-bench")).unwrap_err();
        assert!(err
            .to_string()
            .contains("cargo build --release -p heartline-lab"));
    }
}
