//! Times `Store::open` on an existing file (the first open after an upgrade migrates it), then
//! the first retention run in slices as the writer would run it, and the overview's parts.
//!
//! `cargo run --release -p heartline-store --example open_time -- <path/to/copy.db> [--retention]`
//! Opening migrates the file: run it on a copy.

use std::time::Instant;

use heartline_core::{EndpointId, Timestamp};
use heartline_store::Store;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::PathBuf::from(args.get(1).expect("a database path"));
    let started = Instant::now();
    let store = Store::open(&path).await.expect("open");
    println!(
        "Store::open: {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    let integrity = store.wait_integrity().await;
    println!(
        "background check: {integrity:?} after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let ids: Vec<EndpointId> = sqlx::query_scalar::<_, i64>("SELECT id FROM endpoints ORDER BY id")
        .fetch_all(store.reader())
        .await
        .unwrap()
        .into_iter()
        .map(|i| EndpointId(i.unsigned_abs()))
        .collect();
    let now: i64 = sqlx::query_scalar("SELECT max(ts) FROM states")
        .fetch_one(store.reader())
        .await
        .unwrap();
    let now = Timestamp(now + 60_000);
    for round in 0..7 {
        let t = Instant::now();
        let rows = store.overview(&ids, now).await.unwrap();
        println!(
            "overview {round}: {} rows, {:.1} ms",
            rows.len(),
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    if args.iter().any(|a| a == "--retention") {
        let t = Instant::now();
        let report = store
            .apply_retention(&heartline_store::Retention::default(), now)
            .await
            .unwrap();
        println!(
            "first retention (whole job at once): {:.1} s, packed {}, deleted {:?}, histograms {}",
            t.elapsed().as_secs_f64(),
            report.packed,
            report.deleted,
            report.histograms_dropped
        );
    }
}
