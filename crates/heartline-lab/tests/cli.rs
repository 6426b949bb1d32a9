//! The `heartline-lab` binary: its one stdout line, and a clean exit on SIGTERM.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn prints_listening_line_and_exits_zero_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_heartline-lab"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start heartline-lab");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{line:?}");
    assert_eq!(&words[..2], ["heartline-lab", "listening"]);
    let ws = words[2].strip_prefix("ws=ws://127.0.0.1:").expect(&line);
    let wss = words[3].strip_prefix("wss=wss://localhost:").expect(&line);
    let ws_port: u16 = ws.parse().unwrap();
    assert!(ws_port > 0 && wss.parse::<u16>().unwrap() > 0);
    std::net::TcpStream::connect(("127.0.0.1", ws_port)).expect("ws port accepts");

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "heartline-lab did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn no_tls_omits_wss() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_heartline-lab"))
        .arg("--no-tls")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start heartline-lab");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.starts_with("heartline-lab listening ws=ws://127.0.0.1:"),
        "{line:?}"
    );
    assert!(!line.contains("wss="), "{line:?}");
}
