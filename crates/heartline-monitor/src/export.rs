//! History exports: a selection (endpoint ids or all, a window, incidents only or every
//! event) rendered by heartline-report into a file the shell's user chose.
//!
//! Invariant: no secret is exported: heartline-report reads endpoints without their secret
//! values and redacts URLs; this module only passes names and a window.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use heartline_core::{EndpointId, Timestamp};
use heartline_report::{Format, Options, Selection, Zone};
use heartline_store::Store;

use crate::view::{ExportProgress, ExportRequest, ExportResult};
use crate::{Error, Result};

fn invalid(message: impl Into<String>) -> Error {
    Error::Request(message.into())
}

pub fn target_path(path: &str, format: Format) -> Result<PathBuf> {
    let path = PathBuf::from(path.trim());
    if path.as_os_str().is_empty() || !path.is_absolute() {
        return Err(invalid(format!(
            "choose where to save the export (got {:?}, not an absolute path)",
            path.display().to_string()
        )));
    }
    if path.file_name().is_none() {
        return Err(invalid(format!("{} names no file", path.display())));
    }
    if path.is_dir() {
        return Err(invalid(format!(
            "{} is a folder: choose a file name",
            path.display()
        )));
    }
    Ok(if path.extension().is_none() {
        path.with_extension(format.name())
    } else {
        path
    })
}

/// Exports `request` from `store` into the file it names, made at time `now`. Writes beside
/// the target and renames on success, so a failed export never leaves half a file under the
/// chosen name (nor replaces an older file there).
pub(crate) async fn write(
    store: &Store,
    request: &ExportRequest,
    now: Timestamp,
    progress: &(dyn Fn(ExportProgress) + Send + Sync),
) -> Result<ExportResult> {
    let format = request.format;
    let path = target_path(&request.path, format)?;
    // Names by id: the secret store is never asked, only names are needed.
    let names: HashMap<EndpointId, String> = store
        .export_endpoints()
        .await?
        .into_iter()
        .map(|e| (e.id, e.endpoint.name))
        .collect();
    let mut endpoints = Vec::with_capacity(request.endpoints.len());
    for id in &request.endpoints {
        let name = names.get(&EndpointId(*id)).ok_or(Error::NotFound(*id))?;
        endpoints.push(name.clone());
    }
    let selection = Selection {
        endpoints,
        tags: Vec::new(),
        since: Timestamp(request.window.from),
        until: Timestamp(request.window.to),
        incidents_only: request.incidents_only,
    };
    let options = Options {
        format,
        zone: Zone::Local,
        now,
    };
    let summary = to_file(store, &path, &selection, &options, progress).await?;
    Ok(ExportResult {
        path: path.display().to_string(),
        format,
        events: summary.events_exported,
        endpoints: u32::try_from(summary.endpoints.len()).unwrap_or(u32::MAX),
        incidents: u32::try_from(summary.incidents.len()).unwrap_or(u32::MAX),
    })
}

async fn to_file(
    store: &Store,
    path: &Path,
    selection: &Selection,
    options: &Options,
    progress: &(dyn Fn(ExportProgress) + Send + Sync),
) -> heartline_report::Result<heartline_report::Summary> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    let partial = path.with_file_name(name);
    let file = std::fs::File::create(&partial)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", partial.display())))?;
    let mut out = std::io::BufWriter::new(file);
    let report = |p: heartline_report::Progress| {
        progress(ExportProgress {
            fraction: p.fraction,
            events: p.exported,
        })
    };
    let rendered = heartline_report::export(store, selection, options, &mut out, &report).await;
    let flushed = rendered.and_then(|s| {
        out.flush()?;
        out.get_ref().sync_all()?;
        Ok(s)
    });
    drop(out);
    let done = flushed.and_then(|s| {
        std::fs::rename(&partial, path)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(s)
    });
    if done.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    done
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use heartline_core::{
        CloseCause, Endpoint, Event, EventKind, Header, PingKind, SessionEnd, SessionStats, State,
    };
    use heartline_probe::Sink;
    use heartline_store::{RecorderOptions, Secrets};

    use super::*;
    use crate::view::Window;
    use crate::ErrorKind;

    const T0: i64 = 1_795_132_800_000;
    const SECRET: &str = "APP-EXPORT-SECRET-VALUE";
    const TOKEN: &str = "APP-EXPORT-URL-TOKEN";

    struct Dir(PathBuf);
    impl Dir {
        fn new(name: &str) -> Dir {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let dir = std::env::temp_dir().join(format!(
                "heartline-monitor-export-{name}-{}-{nanos}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            Dir(dir)
        }
        fn file(&self, name: &str) -> String {
            self.0.join(name).display().to_string()
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn event(ep: u64, secs: i64, kind: EventKind) -> Event {
        Event {
            at: Timestamp(T0 + secs * 1000),
            endpoint: EndpointId(ep),
            kind,
        }
    }

    /// Two endpoints (one with a secret header and a token in its URL); "alpha" goes down
    /// after our pong timeout and recovers, "beta" only answers pings.
    async fn store(dir: &Dir) -> Store {
        let store = Store::open(&dir.0.join("history.db")).await.expect("open");
        let secrets = Secrets::File(dir.0.join("secrets.json"));
        let mut alpha = Endpoint::new("alpha", format!("wss://a.example/feed?token={TOKEN}"));
        alpha.headers.push(Header {
            name: "Authorization".into(),
            value: SECRET.into(),
            secret: true,
        });
        let a = store.add_endpoint(&alpha, &secrets).await.expect("alpha");
        let b = store
            .add_endpoint(&Endpoint::new("beta", "ws://b.example/"), &secrets)
            .await
            .expect("beta");
        let (recorder, writer) = store
            .record(RecorderOptions::default())
            .await
            .expect("record");
        let rtt = |ms| EventKind::Rtt {
            kind: PingKind::Protocol,
            rtt: Duration::from_millis(ms),
        };
        let events = vec![
            event(
                a.0,
                0,
                EventKind::StateChanged {
                    from: State::Connecting,
                    to: State::Up,
                },
            ),
            event(
                b.0,
                0,
                EventKind::StateChanged {
                    from: State::Connecting,
                    to: State::Up,
                },
            ),
            event(a.0, 10, rtt(12)),
            event(b.0, 10, rtt(30)),
            event(
                a.0,
                60,
                EventKind::Closed {
                    end: SessionEnd::ClosedByClient {
                        cause: CloseCause::PongTimeout,
                        code: 1001,
                        reason: String::new(),
                        clean: false,
                    },
                    stats: SessionStats::default(),
                },
            ),
            event(
                a.0,
                61,
                EventKind::StateChanged {
                    from: State::Up,
                    to: State::Down,
                },
            ),
            event(
                a.0,
                120,
                EventKind::StateChanged {
                    from: State::Down,
                    to: State::Up,
                },
            ),
            event(b.0, 130, rtt(31)),
        ];
        for e in events {
            recorder.emit(e);
        }
        writer.shutdown().await.expect("flush");
        store
    }

    fn request(path: String, format: Format, endpoints: Vec<u64>) -> ExportRequest {
        ExportRequest {
            endpoints,
            window: Window {
                from: T0,
                to: T0 + 3_600_000,
            },
            incidents_only: false,
            format,
            path,
        }
    }

    #[tokio::test]
    async fn every_format_writes_the_chosen_file_without_secrets() {
        let dir = Dir::new("formats");
        let store = store(&dir).await;
        for f in Format::ALL {
            let path = dir.file(&format!("out.{}", f.name()));
            let last = std::sync::Mutex::new(None);
            let done = write(
                &store,
                &request(path.clone(), f, vec![]),
                Timestamp(T0),
                &|p| *last.lock().expect("lock") = Some(p),
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", f.name()));
            let last = last.into_inner().expect("lock").expect("progress reported");
            assert_eq!(last.fraction, 1.0, "{}", f.name());
            assert_eq!(last.events, done.events, "{}", f.name());
            assert_eq!(done.path, path);
            assert_eq!(done.endpoints, 2, "{}", f.name());
            let bytes = std::fs::read(&path).expect("written");
            assert!(!bytes.is_empty(), "{} is empty", f.name());
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(SECRET), "{} leaks the header", f.name());
            assert!(!text.contains(TOKEN), "{} leaks the URL token", f.name());
            assert!(
                !Path::new(&format!("{path}.partial")).exists(),
                "{} left its partial file",
                f.name()
            );
        }
        store.close().await;
    }

    #[tokio::test]
    async fn a_selection_of_ids_exports_only_those_endpoints() {
        let dir = Dir::new("select");
        let store = store(&dir).await;
        let ids: HashMap<String, u64> = store
            .export_endpoints()
            .await
            .expect("endpoints")
            .into_iter()
            .map(|e| (e.endpoint.name, e.id.0))
            .collect();
        let path = dir.file("beta.ndjson");
        let done = write(
            &store,
            &request(path.clone(), Format::Ndjson, vec![ids["beta"]]),
            Timestamp(T0),
            &|_| {},
        )
        .await
        .expect("export");
        assert_eq!(done.endpoints, 1);
        let text = std::fs::read_to_string(&path).expect("written");
        assert_eq!(text.lines().count() as u64, done.events);
        assert!(text.contains("beta") && !text.contains("alpha"), "{text}");

        let mut only = request(dir.file("incidents.csv"), Format::Csv, vec![ids["alpha"]]);
        only.incidents_only = true;
        let done = write(&store, &only, Timestamp(T0), &|_| {})
            .await
            .expect("incidents");
        assert_eq!(done.incidents, 1);
        store.close().await;
    }

    #[tokio::test]
    async fn a_name_without_extension_gets_the_formats() {
        let dir = Dir::new("ext");
        let store = store(&dir).await;
        let done = write(
            &store,
            &request(dir.file("report"), Format::Markdown, vec![]),
            Timestamp(T0),
            &|_| {},
        )
        .await
        .expect("export");
        assert_eq!(done.path, dir.file("report.md"));
        assert!(Path::new(&done.path).is_file());
        store.close().await;
    }

    #[tokio::test]
    async fn bad_requests_fail_with_a_code_and_leave_no_file() {
        let dir = Dir::new("bad");
        let store = store(&dir).await;
        let cases = [
            (
                request("relative.md".into(), Format::Markdown, vec![]),
                ErrorKind::Invalid,
            ),
            (
                request(dir.file("x.md"), Format::Markdown, vec![999]),
                ErrorKind::NotFound,
            ),
            (
                request(dir.file("missing/x.md"), Format::Markdown, vec![]),
                ErrorKind::Export,
            ),
        ];
        for (req, code) in cases {
            let err = write(&store, &req, Timestamp(T0), &|_| {})
                .await
                .expect_err(&req.path);
            assert_eq!(err.kind(), code, "{}: {err}", req.path);
            assert!(!err.to_string().is_empty());
        }
        // A window with nothing recorded is the user's to change, and leaves no file.
        let mut empty = request(dir.file("empty.json"), Format::Json, vec![]);
        empty.window = Window {
            from: T0 - 7_200_000,
            to: T0 - 3_600_000,
        };
        let err = write(&store, &empty, Timestamp(T0), &|_| {})
            .await
            .expect_err("no data");
        assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
        assert!(std::fs::read_dir(&dir.0)
            .expect("dir")
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with("empty")));
        store.close().await;
    }

    /// The format arrives by name (the UI's `ExportFormat`); a name that is no format is
    /// refused before anything is written, naming the choices.
    #[test]
    fn a_request_carries_its_format_by_name() {
        let json = |format: &str| {
            serde_json::json!({
                "endpoints": [], "window": { "from": T0, "to": T0 + 1 },
                "incidents_only": false, "format": format, "path": "/tmp/x"
            })
        };
        let read: ExportRequest = serde_json::from_value(json("ndjson")).expect("ndjson");
        assert_eq!(read.format, Format::Ndjson);
        assert_eq!(
            serde_json::to_value(&read).expect("serialize")["format"],
            "ndjson"
        );
        let refused = serde_json::from_value::<ExportRequest>(json("pdf"))
            .expect_err("pdf is no format")
            .to_string();
        assert!(
            refused.contains("`pdf`") && refused.contains("`png`"),
            "{refused}"
        );
    }
}
