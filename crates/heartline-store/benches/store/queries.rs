//! Section 3: Dashboard query times on a simulated year of 1,000 endpoints, generated straight into
//! SQLite with bulk inserts that follow the schema (the writer would need days for this).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use heartline_core::{
    EndpointId, Event, EventKind, FailedPhase, IncidentChange, IncidentTracker, PingKind, Rollup,
    Timestamp,
};
use heartline_store::{Retention, Store};

use crate::fleet::EndpointSim;
use crate::size::{count_rows_on, describe_year_mix, table_bytes, year_mix};
use crate::util::{
    db_sizes, median, mib, now_ms, percentile, progress, secs, thousands, Report, Rng, TempDir,
    DAY_MS, HOUR_MS, MINUTE_MS, WEEK_MS, YEAR_MS,
};
use crate::BoxResult;

pub struct Config {
    pub endpoints: u64,
    pub warm_ups: usize,
    pub runs: usize,
    /// Plans for every query, not only the slow ones.
    pub all_plans: bool,
}

/// The goal for every dashboard query.
const GOAL_MS: f64 = 50.0;

/// Sites (median RTT) and histogram variants per site.
const SITES: u64 = 16;
const VARIANTS: u64 = 4;

pub async fn run(report: &mut Report, cfg: &Config) -> BoxResult<()> {
    let dir = TempDir::new("queries")?;
    let path = dir.join("heartline.db");
    let now = now_ms();
    progress(format!(
        "3. queries: generating a year of {} endpoints",
        cfg.endpoints
    ));

    // The schema, exactly as the store creates it.
    let store = Store::open(&path).await?;
    store.close().await;
    let generated = generate(&path, cfg.endpoints, now).await?;
    let (db, wal) = db_sizes(&path);

    let mut conn = SqliteConnectOptions::from_str("sqlite:")?
        .filename(&path)
        .read_only(true)
        .disable_statement_logging()
        .connect()
        .await?;
    let rows = count_rows_on(&mut conn).await?;
    let bytes = table_bytes(&mut conn).await.unwrap_or_default();
    conn.close().await?;

    // Opening it as the app does (cheap checks; the whole-file check in the background).
    let t = Instant::now();
    let store = Store::open(&path).await?;
    let open_time = t.elapsed();
    // The whole-file check runs in the background; let it finish so it does not share the
    // machine with the timed queries.
    let integrity = store.wait_integrity().await;
    let check_time = t.elapsed();

    report.line(format!(
        "## 3. Dashboard query times on a simulated year of {} endpoints",
        thousands(cfg.endpoints)
    ));
    report.blank();
    report.line(format!(
        "{} endpoints, generated with bulk SQL that follows the schema (`INSERT … SELECT` over \
         generated ranges for the rollups, multi-row `INSERT`s for the rest), shaped like a \
         database after retention: 7 days of minute rows, a year of hour rows (histograms on the \
         last 31 days only), a year of day rows with histograms, a year of events, sessions, states and incidents. Hour and day \
         histograms are `heartline_core::Rollup` + `Histogram::encode()` of simulated 1 s \
         round trips ({SITES} sites × {VARIANTS} variants pre-encoded, reused); minute rows \
         derive their percentiles from the site median. Events, sessions and states come from \
         the same simulated fleet as section 2 ({}), mapped to rows as the writer maps them; incidents come from `IncidentTracker` over those events. Rows are \
         inserted endpoint by endpoint, so pages are denser than the writer's interleaved \
         appends would leave them. No `ANALYZE` (the store never runs it). The file was \
         just written, so it is in the OS page cache: these are warm-cache times.",
        thousands(cfg.endpoints),
        describe_year_mix(),
    ));
    report.blank();
    let mut gen_rows: Vec<Vec<String>> = generated
        .steps
        .iter()
        .map(|(name, d)| vec![name.clone(), secs(*d)])
        .collect();
    gen_rows.push(vec![
        "file (db + wal)".into(),
        format!("{} + {}", mib(db), mib(wal)),
    ]);
    gen_rows.push(vec![
        "per endpoint".into(),
        format!(
            "{:.1} KiB",
            (db + wal) as f64 / 1024.0 / cfg.endpoints as f64
        ),
    ]);
    gen_rows.push(vec![
        "`Store::open` (header, schema, small tables)".into(),
        format!("{:.0} ms", open_time.as_secs_f64() * 1000.0),
    ]);
    gen_rows.push(vec![
        "background `PRAGMA quick_check` done after".into(),
        format!(
            "{:.0} ms ({integrity:?})",
            check_time.as_secs_f64() * 1000.0
        ),
    ]);
    for (table, n) in &rows {
        gen_rows.push(vec![format!("rows: {table}"), thousands(*n)]);
    }
    for (name, b) in &bytes {
        gen_rows.push(vec![format!("bytes: {name}"), mib(*b)]);
    }
    report.table(&["generated database", "value"], &gen_rows);

    // ---- the queries
    let ids: Vec<EndpointId> = (1..=cfg.endpoints).map(EndpointId).collect();
    let one = EndpointId(cfg.endpoints / 2 + 1);
    let to = Timestamp(now);
    let ago = |ms: i64| Timestamp(now - ms);
    let s = &store;
    let all = &ids;
    let ctx = Ctx {
        ids: cfg.endpoints,
        one: one.0,
        now,
    };
    progress("3. queries: timing");
    let mut results: Vec<Timed> = Vec::new();
    let (w, r) = (cfg.warm_ups, cfg.runs);
    results.push(
        time(
            "overview (all endpoints)",
            ctx.overview(),
            w,
            r,
            || async move { Ok(s.overview(all, to).await?.len()) },
        )
        .await?,
    );
    for (label, span) in [
        ("1 h", HOUR_MS),
        ("24 h", DAY_MS),
        ("7 d", WEEK_MS),
        ("30 d", 30 * DAY_MS),
        ("365 d", YEAR_MS),
    ] {
        results.push(
            time(
                &format!("rtt_series (one endpoint, {label}, max 600 points)"),
                ctx.rtt_series(span),
                w,
                r,
                || async move {
                    Ok(s.rtt_series(one, PingKind::Protocol, ago(span), to, 600)
                        .await?
                        .1
                        .len())
                },
            )
            .await?,
        );
    }
    for (label, span, everyone) in [
        ("one endpoint, 24 h", DAY_MS, false),
        ("one endpoint, 30 d", 30 * DAY_MS, false),
        ("all endpoints, 1 h", HOUR_MS, true),
    ] {
        let which: &[EndpointId] = if everyone {
            &[]
        } else {
            std::slice::from_ref(&one)
        };
        results.push(
            time(
                &format!("history ({label})"),
                ctx.history(span, everyone),
                w,
                r,
                || async move { Ok(s.history(which, ago(span), to).await?.len()) },
            )
            .await?,
        );
    }
    for (label, span) in [("24 h", DAY_MS), ("7 d", WEEK_MS), ("30 d", 30 * DAY_MS)] {
        results.push(
            time(
                &format!("uptime (one endpoint, {label})"),
                ctx.uptime(span),
                w,
                r,
                || async move {
                    s.availability(one, ago(span), to).await?;
                    Ok(1)
                },
            )
            .await?,
        );
    }
    for (label, span) in [("24 h", DAY_MS), ("30 d", 30 * DAY_MS)] {
        results.push(
            time(
                &format!("history strips (all endpoints, {label}, 60 cells)"),
                ctx.strips(span),
                w,
                r,
                || async move {
                    Ok(s.strips(heartline_store::Scope::All, ago(span), to, 60)
                        .await?
                        .len())
                },
            )
            .await?,
        );
    }
    results.push(
        time(
            "close_codes (all endpoints, 30 d)",
            ctx.close_codes(30 * DAY_MS),
            w,
            r,
            || async move { Ok(s.close_codes(&[], ago(30 * DAY_MS), to).await?.len()) },
        )
        .await?,
    );
    results.push(
        time(
            "session_lengths (one endpoint, 30 d)",
            ctx.session_lengths(30 * DAY_MS),
            w,
            r,
            || async move {
                Ok(s.session_lengths(one, ago(30 * DAY_MS), to)
                    .await?
                    .iter()
                    .sum::<u64>() as usize)
            },
        )
        .await?,
    );
    results.push(
        time(
            "reconnects (one endpoint, 7 d, limit 100)",
            ctx.history(WEEK_MS, false),
            w,
            r,
            || async move { Ok(s.reconnects(one, ago(WEEK_MS), to, 100).await?.len()) },
        )
        .await?,
    );
    results.push(
        time(
            "incidents (all endpoints, 30 d)",
            ctx.incidents(30 * DAY_MS, true),
            w,
            r,
            || async move { Ok(s.incidents(&[], ago(30 * DAY_MS), to).await?.len()) },
        )
        .await?,
    );
    results.push(
        time(
            "incidents list (all endpoints, 30 d, newest 1,000 + total)",
            Vec::new(),
            w,
            r,
            || async move {
                Ok(s.recent_incidents(ago(30 * DAY_MS), to, 1000)
                    .await?
                    .0
                    .len())
            },
        )
        .await?,
    );
    results.push(
        time(
            "incidents (one endpoint, 365 d)",
            ctx.incidents(YEAR_MS, false),
            w,
            r,
            || async move {
                Ok(s.incidents(std::slice::from_ref(&one), ago(YEAR_MS), to)
                    .await?
                    .len())
            },
        )
        .await?,
    );

    report.line(format!(
        "Each query through the `Store` API on its read pool, {w} warm-up runs then {r} timed \
         runs (wall time of the call, rows decoded included); one endpoint = {one}; goal < \
         {GOAL_MS:.0} ms."
    ));
    report.blank();
    let table: Vec<Vec<String>> = results
        .iter()
        .map(|t| {
            let med = median(&t.ms);
            vec![
                t.name.clone(),
                thousands(t.returned as u64),
                format!("{med:.2}"),
                format!("{:.2}", percentile(&t.ms, 0.95)),
                if med < GOAL_MS {
                    "yes".into()
                } else {
                    format!("**no** (×{:.1})", med / GOAL_MS)
                },
            ]
        })
        .collect();
    report.table(
        &["query", "returned", "median ms", "p95 ms", "< 50 ms"],
        &table,
    );

    // Anything over the goal: its statements, their plans and their own times.
    let slow: Vec<&Timed> = results
        .iter()
        .filter(|t| cfg.all_plans || median(&t.ms) >= GOAL_MS)
        .collect();
    for t in &slow {
        let med = median(&t.ms);
        report.line(format!(
            "### {}: {} (median {med:.1} ms)",
            if med >= GOAL_MS {
                format!("Over {GOAL_MS:.0} ms")
            } else {
                "Plan".to_owned()
            },
            t.name,
        ));
        report.blank();
        explain_all(report, &store, &t.statements).await?;
    }

    // The writer's hourly retention on a database this size: first with nothing old enough,
    // then an hour later (one hour of minute rows per endpoint to delete, one hour of
    // histograms to drop), then two hours later with the free pages of both given back.
    let mut retention_ms = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        store.apply_retention(&Retention::default(), to).await?;
        retention_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut later = Vec::new();
    for hours in [1, 2] {
        let t = Instant::now();
        let r = store
            .apply_retention(&Retention::default(), Timestamp(now + hours * HOUR_MS))
            .await?;
        later.push(format!(
            "+{hours} h: {:.0} ms ({:?}, {} histograms dropped, {} pages freed)",
            t.elapsed().as_secs_f64() * 1000.0,
            r.deleted,
            r.histograms_dropped,
            r.pages_freed
        ));
    }
    report.line(format!(
        "### Retention on this database (`Store::apply_retention`: the whole job at once; the \
         writer runs the same job 50 ms per tick): nothing to do, median {:.0} ms over 3 runs; {}",
        median(&retention_ms),
        later.join("; ")
    ));
    report.blank();
    explain_all(report, &store, &ctx.retention()).await?;
    store.close().await;
    Ok(())
}

struct Timed {
    name: String,
    returned: usize,
    ms: Vec<f64>,
    statements: Vec<String>,
}

async fn time<F, Fut>(
    name: &str,
    statements: Vec<String>,
    warm_ups: usize,
    runs: usize,
    f: F,
) -> BoxResult<Timed>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<usize, heartline_store::Error>>,
{
    let mut returned = 0;
    for _ in 0..warm_ups {
        returned = f().await?;
    }
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        returned = f().await?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    progress(format!("   {name}: median {:.2} ms", median(&ms)));
    Ok(Timed {
        name: name.to_owned(),
        returned,
        ms,
        statements,
    })
}

/// EXPLAIN QUERY PLAN and the statement's own time (median of 5) for each statement.
async fn explain_all(report: &mut Report, store: &Store, statements: &[String]) -> BoxResult<()> {
    for sql in statements {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(store.reader())
                .await?;
        let mut depth: BTreeMap<i64, usize> = BTreeMap::new();
        let mut text = String::new();
        for (id, parent, _, detail) in &plan {
            let d = depth.get(parent).map_or(0, |d| d + 1);
            depth.insert(*id, d);
            text.push_str(&format!("{}{}\n", "  ".repeat(d), detail));
        }
        let own =
            if !(sql.trim_start().starts_with("SELECT") || sql.trim_start().starts_with("WITH")) {
                String::new()
            } else {
                let mut ms = Vec::new();
                let mut n = 0;
                for _ in 0..5 {
                    let t = Instant::now();
                    n = sqlx::query(sql).fetch_all(store.reader()).await?.len();
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                format!(
                    " — alone: median {:.2} ms, {} rows",
                    median(&ms),
                    thousands(n as u64)
                )
            };
        report.line(format!("`{}`{own}", abbreviate(sql)));
        report.blank();
        report.code(text.trim_end());
        report.blank();
    }
    Ok(())
}

/// Long id lists shortened for the report.
fn abbreviate(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(i) = rest.find("IN (") {
        let (head, tail) = rest.split_at(i + 4);
        out.push_str(head);
        let end = tail.find(')').unwrap_or(tail.len());
        let list = &tail[..end];
        let n = list.split(',').count();
        if n > 4 {
            let first = list.split(',').next().unwrap_or("");
            let last = list.split(',').next_back().unwrap_or("");
            out.push_str(&format!("{first},…,{last} ({n} ids)"));
        } else {
            out.push_str(list);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    if let Some(i) = out.find("VALUES (1),") {
        let end = out[i..].find(") SELECT").map_or(out.len(), |e| i + e);
        out.replace_range(i..end, "VALUES (1),…(ids)");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The statements each API call runs (as in crates/heartline-store/src at the time of writing),
// with their parameters inlined, for EXPLAIN QUERY PLAN.

struct Ctx {
    ids: u64,
    one: u64,
    now: i64,
}

impl Ctx {
    fn runs(&self, from: i64) -> String {
        format!(
            "SELECT started_at, COALESCE(stopped_at, last_seen) FROM agent_runs \
             WHERE started_at < {} AND COALESCE(stopped_at, last_seen) > {from} ORDER BY started_at",
            self.now
        )
    }

    fn state_at(&self, at: i64) -> String {
        format!(
            "SELECT state FROM states WHERE endpoint_id = {} AND ts < {at} ORDER BY ts DESC, seq DESC LIMIT 1",
            self.one
        )
    }

    fn overview(&self) -> Vec<String> {
        let values = (1..=self.ids)
            .map(|i| format!("({i})"))
            .collect::<Vec<_>>()
            .join(",");
        let day_ago = self.now - DAY_MS;
        let hour = self.now.div_euclid(HOUR_MS);
        let now = self.now;
        vec![
            format!(
                "WITH ids(id) AS (VALUES {values}) SELECT ids.id AS id, \
                 (SELECT ts || ' ' || state FROM states WHERE endpoint_id = ids.id ORDER BY ts DESC, seq DESC LIMIT 1) AS newest, \
                 (SELECT ts || ' ' || code || ' ' || initiator FROM events WHERE endpoint_id = ids.id AND kind = 'closed' \
                  ORDER BY ts DESC, seq DESC LIMIT 1) AS close, \
                 (SELECT state FROM states WHERE endpoint_id = ids.id AND ts < {day_ago} ORDER BY ts DESC, seq DESC LIMIT 1) AS before, \
                 (SELECT group_concat(ts || ' ' || state, ',') FROM (SELECT ts, state FROM states \
                  WHERE endpoint_id = ids.id AND ts >= {day_ago} AND ts < {now} ORDER BY ts, seq)) AS changes, \
                 p.count, p.min_us, p.max_us, p.sum_us, p.histogram, p.p50_us, p.p95_us, \
                 c.count, c.min_us, c.max_us, c.sum_us, c.histogram, c.p50_us, c.p95_us FROM ids \
                 LEFT JOIN rtt_hour p ON p.endpoint_id = ids.id AND p.kind = 0 AND p.hour = {prev} \
                 LEFT JOIN rtt_hour c ON c.endpoint_id = ids.id AND c.kind = 0 AND c.hour = {hour}",
                prev = hour - 1
            ),
            self.runs(day_ago),
        ]
    }

    fn rtt_series(&self, span: i64) -> Vec<String> {
        let (table, column, step) = if span / MINUTE_MS <= 600 {
            ("rtt_minute", "minute", MINUTE_MS)
        } else if span / HOUR_MS <= 600 {
            ("rtt_hour", "hour", HOUR_MS)
        } else {
            ("rtt_day", "day", DAY_MS)
        };
        vec![format!(
            "SELECT {column}, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us FROM {table} \
             WHERE endpoint_id = {} AND kind = 0 AND {column} >= {} AND {column} < {} ORDER BY {column}",
            self.one,
            (self.now - span).div_euclid(step),
            (self.now + step - 1).div_euclid(step)
        )]
    }

    fn history(&self, span: i64, everyone: bool) -> Vec<String> {
        let from = self.now - span;
        let filter = if everyone {
            String::new()
        } else {
            format!("AND endpoint_id IN ({})", self.one)
        };
        // No time index on events: all endpoints are enumerated from the key (as the store does).
        let (with, events_filter) = if everyone {
            (
                "WITH RECURSIVE eids(id) AS (SELECT (SELECT endpoint_id FROM events ORDER BY endpoint_id LIMIT 1) \
                 UNION ALL SELECT (SELECT endpoint_id FROM events WHERE endpoint_id > eids.id ORDER BY endpoint_id LIMIT 1) \
                 FROM eids WHERE eids.id IS NOT NULL)",
                "AND endpoint_id IN (SELECT id FROM eids)".to_owned(),
            )
        } else {
            ("", filter.clone())
        };
        vec![
            format!(
                "{with} SELECT endpoint_id, ts, seq, kind, code, status, phase, initiator, cause, reason, attempt, delay_ms, detail \
                 FROM events WHERE ts >= {from} AND ts < {} {events_filter} ORDER BY ts, seq",
                self.now
            ),
            format!(
                "SELECT endpoint_id, ts, seq, state FROM states WHERE ts >= {from} AND ts < {} {filter} ORDER BY endpoint_id, ts, seq",
                self.now
            ),
            self.state_at(from),
        ]
    }

    fn uptime(&self, span: i64) -> Vec<String> {
        let from = self.now - span;
        vec![
            self.runs(from),
            format!(
                "SELECT ts, state FROM states WHERE endpoint_id = {} AND ts >= {from} AND ts < {} ORDER BY ts, seq",
                self.one, self.now
            ),
            self.state_at(from),
        ]
    }

    /// The overview's history strips (`Store::strips`): state changes and closes grouped per
    /// endpoint and cell, every endpoint (`Scope::All`), 60 cells.
    fn strips(&self, span: i64) -> Vec<String> {
        let (from, to) = (self.now - span, self.now);
        let ids = "WITH ids(id) AS (SELECT id FROM endpoints)";
        let cell = format!("((ts - {from}) * 60) / ({to} - {from})");
        vec![
            self.runs(from),
            format!(
                "{ids} SELECT id, \
                   (SELECT state FROM states WHERE endpoint_id = id AND ts < {from} \
                    ORDER BY ts DESC, seq DESC LIMIT 1), \
                   (SELECT group_concat(c || ' ' || state || ' ' || t || ' ' || sq, char(30)) FROM \
                     (SELECT {cell} AS c, state, max(ts) AS t, seq AS sq \
                      FROM states WHERE endpoint_id = id AND ts >= {from} AND ts < {to} GROUP BY 1, 2)) \
                 FROM ids"
            ),
            format!(
                "{ids} SELECT endpoint_id, \
                   group_concat(cell || ' ' || n || ' ' || who || ' ' || why, char(30)) FROM ( \
                     SELECT endpoint_id, {cell} AS cell, count(*) AS n, \
                       CASE WHEN initiator = 'client' THEN 'client' ELSE 'other' END AS who, \
                       CASE WHEN initiator = 'client' THEN COALESCE(cause, '') ELSE '' END AS why \
                     FROM events \
                     WHERE endpoint_id IN (SELECT id FROM ids) AND ts >= {from} AND ts < {to} \
                       AND kind = 'closed' AND initiator IS NOT NULL \
                     GROUP BY 1, 2, 4, 5) \
                 GROUP BY endpoint_id"
            ),
        ]
    }

    /// Whole UTC days from `close_counts`, the partial days at the edges from closed events.
    fn close_codes(&self, span: i64) -> Vec<String> {
        let (from, to) = (self.now - span, self.now);
        let first = from.div_euclid(DAY_MS) + i64::from(from.rem_euclid(DAY_MS) != 0);
        let end = to.div_euclid(DAY_MS);
        vec![format!(
            "SELECT code, initiator, sum(n) AS n FROM ( \
               SELECT code, initiator, n FROM close_counts WHERE day >= {first} AND day < {end} \
               UNION ALL SELECT code, initiator, 1 FROM events \
                 WHERE kind = 'closed' AND ts >= {from} AND ts < {first} * 86400000 \
               UNION ALL SELECT code, initiator, 1 FROM events \
                 WHERE kind = 'closed' AND ts >= {end} * 86400000 AND ts < {to}) \
             GROUP BY code, initiator ORDER BY n DESC, code"
        )]
    }

    fn session_lengths(&self, span: i64) -> Vec<String> {
        vec![format!(
            "SELECT ended_at - started_at FROM sessions WHERE endpoint_id = {} AND started_at >= {} \
             AND started_at < {} AND ended_at IS NOT NULL",
            self.one,
            self.now - span,
            self.now
        )]
    }

    fn incidents(&self, span: i64, everyone: bool) -> Vec<String> {
        let filter = if everyone {
            String::new()
        } else {
            format!("AND endpoint_id IN ({})", self.one)
        };
        let columns = "endpoint_id, kind, started_at, ended_at, ended_by_pause, detect_ms, summary";
        let (now, from) = (self.now, self.now - span);
        vec![if everyone {
            format!(
                "SELECT {columns} FROM incidents INDEXED BY incidents_by_end WHERE ended_at >= {from} AND started_at < {now} \
                 UNION ALL SELECT {columns} FROM incidents INDEXED BY incidents_by_end WHERE ended_at IS NULL AND started_at < {now} \
                 ORDER BY started_at, endpoint_id"
            )
        } else {
            format!(
                "SELECT {columns} FROM incidents INDEXED BY incidents_by_endpoint \
                 WHERE started_at < {now} AND (ended_at IS NULL OR ended_at >= {from}) {filter} ORDER BY started_at, endpoint_id"
            )
        }]
    }

    fn retention(&self) -> Vec<String> {
        let r = Retention::default();
        let cut = |d: Duration| self.now - i64::try_from(d.as_millis()).unwrap_or(0);
        let one = self.ids / 2 + 1;
        vec![
            format!(
                "SELECT endpoint_id, kind FROM rtt_minute WHERE (endpoint_id, kind) > ({one}, 0) \
                 ORDER BY endpoint_id, kind LIMIT 1"
            ),
            format!(
                "DELETE FROM rtt_minute WHERE (endpoint_id, kind, minute) IN (SELECT endpoint_id, kind, minute \
                 FROM rtt_minute WHERE endpoint_id = {one} AND kind = 0 AND minute < {} ORDER BY minute LIMIT 2000)",
                cut(r.minute_rollups).div_euclid(MINUTE_MS)
            ),
            format!(
                "UPDATE rtt_hour SET histogram = x'' WHERE endpoint_id = {one} AND kind = 0 AND hour >= {} \
                 AND hour < {} AND length(histogram) > 0",
                cut(r.hour_histograms).div_euclid(HOUR_MS) - 1,
                cut(r.hour_histograms).div_euclid(HOUR_MS)
            ),
            format!(
                "DELETE FROM events WHERE (endpoint_id, ts, seq) IN (SELECT endpoint_id, ts, seq FROM events \
                 WHERE endpoint_id = {one} AND ts < {} ORDER BY ts LIMIT 2000)",
                cut(r.events)
            ),
            format!(
                "DELETE FROM sessions WHERE (endpoint_id, started_at, seq) IN (SELECT endpoint_id, started_at, seq \
                 FROM sessions WHERE endpoint_id = {one} AND started_at < {} ORDER BY started_at LIMIT 2000)",
                cut(r.sessions)
            ),
            format!(
                "DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE started_at < {} \
                 AND ended_at IS NOT NULL ORDER BY started_at LIMIT 2000)",
                cut(r.incidents)
            ),
        ]
    }
}

// ---------------------------------------------------------------------------------------------
// generation

struct Generated {
    steps: Vec<(String, Duration)>,
}

async fn generate(path: &Path, endpoints: u64, now: i64) -> BoxResult<Generated> {
    let mut conn = SqliteConnectOptions::from_str("sqlite:")?
        .filename(path)
        // Benchmark data: no journal, no fsync while loading; WAL again at the end.
        .journal_mode(SqliteJournalMode::Off)
        .synchronous(SqliteSynchronous::Off)
        .pragma("cache_size", "-1048576")
        .pragma("temp_store", "memory")
        .disable_statement_logging()
        .connect()
        .await?;
    let mut steps = Vec::new();
    let year_start = now - YEAR_MS;

    // Helper tables, TEMP so they never reach the file.
    let t = Instant::now();
    for sql in [
        "CREATE TEMP TABLE eps (id INTEGER PRIMARY KEY, site INTEGER NOT NULL, base_us INTEGER NOT NULL)",
        "CREATE TEMP TABLE mins (x INTEGER PRIMARY KEY)",
        "CREATE TEMP TABLE hours (x INTEGER PRIMARY KEY)",
        "CREATE TEMP TABLE days (x INTEGER PRIMARY KEY)",
        "CREATE TEMP TABLE hour_hist (id INTEGER PRIMARY KEY, count INTEGER, min_us INTEGER, max_us INTEGER, \
         sum_us INTEGER, p50_us INTEGER, p95_us INTEGER, p99_us INTEGER, histogram BLOB)",
        "CREATE TEMP TABLE day_hist (id INTEGER PRIMARY KEY, count INTEGER, min_us INTEGER, max_us INTEGER, \
         sum_us INTEGER, p50_us INTEGER, p95_us INTEGER, p99_us INTEGER, histogram BLOB)",
    ] {
        sqlx::query(sql).execute(&mut conn).await?;
    }
    let mut tx = conn.begin().await?;
    for id in 1..=endpoints {
        let site = id % SITES;
        sqlx::query("INSERT INTO eps VALUES (?, ?, ?)")
            .bind(id as i64)
            .bind(site as i64)
            .bind(site_median_us(site) as i64)
            .execute(&mut *tx)
            .await?;
    }
    let retention = Retention::default();
    let cut = |d: Duration| now - i64::try_from(d.as_millis()).unwrap_or(0);
    for (table, from, to) in [
        (
            "mins",
            cut(retention.minute_rollups).div_euclid(MINUTE_MS),
            now.div_euclid(MINUTE_MS),
        ),
        (
            "hours",
            cut(retention.hour_rollups).div_euclid(HOUR_MS),
            now.div_euclid(HOUR_MS),
        ),
        (
            "days",
            year_start.div_euclid(DAY_MS),
            now.div_euclid(DAY_MS),
        ),
    ] {
        sqlx::query(&format!(
            "WITH RECURSIVE r(x) AS (SELECT ? UNION ALL SELECT x + 1 FROM r WHERE x < ?) \
             INSERT INTO {table} (x) SELECT x FROM r"
        ))
        .bind(from)
        .bind(to)
        .execute(&mut *tx)
        .await?;
    }
    // Pre-encoded rollups: an hour (3,600 samples) and a day (24 such hours) per site/variant.
    let mut rng = Rng::new(42);
    for site in 0..SITES {
        for variant in 0..VARIANTS {
            let id = (site * VARIANTS + variant) as i64;
            let mut day = Rollup::default();
            let mut first_hour = None;
            for hour in 0..24 {
                let r = hour_rollup(&mut rng, site, variant, hour);
                day.merge(&r);
                first_hour.get_or_insert(r);
            }
            for (table, r) in [
                ("hour_hist", first_hour.unwrap_or_default()),
                ("day_hist", day),
            ] {
                let q = |p| r.quantile_us(p).unwrap_or(0) as i64;
                sqlx::query(&format!(
                    "INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ))
                .bind(id)
                .bind(r.count as i64)
                .bind(r.min_us as i64)
                .bind(r.max_us as i64)
                .bind(r.sum_us as i64)
                .bind(q(0.5))
                .bind(q(0.95))
                .bind(q(0.99))
                .bind(r.histogram.encode())
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    tx.commit().await?;
    steps.push(("helpers and pre-encoded histograms".into(), t.elapsed()));

    // Rollups, endpoint by endpoint (key order), in SQLite.
    let t = Instant::now();
    sqlx::query(
        "INSERT INTO rtt_minute (endpoint_id, kind, minute, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us) \
         SELECT id, 0, x, 60, p * 8 / 10, p * (CASE WHEN j < 20 THEN 60 ELSE 22 END) / 10, p * 62, p, p * 13 / 10, \
                p * (CASE WHEN j < 20 THEN 40 ELSE 17 END) / 10 \
         FROM (SELECT e.id AS id, m.x AS x, \
                      e.base_us + e.base_us * ((m.x * 2654435761 + e.id * 40503) % 300) / 1000 AS p, \
                      (m.x * 7919 + e.id * 104729) % 1000 AS j \
               FROM eps AS e CROSS JOIN mins AS m)",
    )
    .execute(&mut conn)
    .await?;
    steps.push(("rtt_minute (INSERT … SELECT)".into(), t.elapsed()));
    // Histograms only where retention keeps them (hours and days: the last 31 days).
    let hour_hist_from = cut(retention.hour_histograms).div_euclid(HOUR_MS);
    let day_hist_from = cut(retention.day_histograms).div_euclid(DAY_MS);
    for (table, column, grid, hist, hist_from, mark) in [
        (
            "rtt_hour",
            "hour",
            "hours",
            "hour_hist",
            hour_hist_from,
            "store.hour_histograms_dropped_before",
        ),
        (
            "rtt_day",
            "day",
            "days",
            "day_hist",
            day_hist_from,
            "store.day_histograms_dropped_before",
        ),
    ] {
        let t = Instant::now();
        sqlx::query(&format!(
            "INSERT INTO {table} (endpoint_id, kind, {column}, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us, histogram) \
             SELECT e.id, 0, g.x, h.count, h.min_us, h.max_us, h.sum_us, h.p50_us, h.p95_us, h.p99_us, \
                    CASE WHEN g.x >= {hist_from} THEN h.histogram ELSE x'' END \
             FROM eps AS e CROSS JOIN {grid} AS g CROSS JOIN {hist} AS h \
             WHERE h.id = e.site * {VARIANTS} + (g.x * 2654435761 + e.id * 40503) % {VARIANTS}"
        ))
        .execute(&mut conn)
        .await?;
        sqlx::query("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)")
            .bind(mark)
            .bind(hist_from.to_string())
            .execute(&mut conn)
            .await?;
        steps.push((format!("{table} (INSERT … SELECT)"), t.elapsed()));
    }

    // Configuration rows and agent runs (a restart every week).
    let t = Instant::now();
    let mut tx = conn.begin().await?;
    for id in 1..=endpoints {
        let name = format!("endpoint-{id:04}");
        let config = json!({
            "name": name,
            "url": format!("wss://feed-{id:04}.example.net/v1/stream"),
            "tags": [format!("site-{}", id % SITES)],
        })
        .to_string();
        sqlx::query(
            "INSERT INTO endpoints (id, name, config, paused, created_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)",
        )
        .bind(id as i64)
        .bind(&name)
        .bind(config)
        .bind(year_start)
        .bind(year_start)
        .execute(&mut *tx)
        .await?;
    }
    let mut start = year_start;
    while start < now {
        let end = start + WEEK_MS - MINUTE_MS;
        let (last_seen, stopped) = if end >= now {
            (now, None)
        } else {
            (end, Some(end))
        };
        sqlx::query("INSERT INTO agent_runs (started_at, last_seen, stopped_at) VALUES (?, ?, ?)")
            .bind(start)
            .bind(last_seen)
            .bind(stopped)
            .execute(&mut *tx)
            .await?;
        start += WEEK_MS;
    }
    tx.commit().await?;

    // Events, sessions, states and incidents of each endpoint, mapped as the writer maps them.
    let mut rows = Rows::default();
    let mut tx = conn.begin().await?;
    let mut seq: i64 = 1 << 32;
    for id in 1..=endpoints {
        let mut sim = EndpointSim::new(id, 7, year_start, 1_000, year_mix()).marking_heartbeats();
        let mut events = Vec::new();
        sim.events_until(now, &mut |e| events.push(e));
        rows.add_endpoint(&events, &mut seq);
        rows.flush(&mut tx, false).await?;
    }
    rows.flush(&mut tx, true).await?;
    tx.commit().await?;
    steps.push((
        "events, sessions, states, incidents, endpoints, agent_runs (multi-row INSERT)".into(),
        t.elapsed(),
    ));

    let t = Instant::now();
    sqlx::query("PRAGMA journal_mode = WAL")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    steps.push(("back to WAL, close".into(), t.elapsed()));
    let total: Duration = steps.iter().map(|(_, d)| *d).sum();
    steps.push(("**generation total**".into(), total));
    Ok(Generated { steps })
}

fn site_median_us(site: u64) -> f64 {
    8_000.0 * 10f64.powf(site as f64 / (SITES - 1) as f64)
}

/// One hour of 1 s round trips at a site: variants differ in spread and spikes.
fn hour_rollup(rng: &mut Rng, site: u64, variant: u64, hour: i64) -> Rollup {
    let median = site_median_us(site);
    let (sigma, spikes) = match variant {
        0 => (0.20, 0.002),
        1 => (0.25, 0.003),
        2 => (0.35, 0.01),
        _ => (0.25, 0.03),
    };
    let diurnal = 1.0 + 0.15 * (std::f64::consts::TAU * hour as f64 / 24.0).sin();
    let mut r = Rollup::default();
    for _ in 0..3600 {
        let mut us = median * diurnal * (sigma * rng.normal()).exp();
        if rng.chance(spikes) {
            us *= rng.range(4.0, 20.0);
        }
        r.record(Duration::from_micros(us.max(1.0) as u64));
    }
    r
}

type Text = Option<String>;
type Int = Option<i64>;

struct EventRow {
    endpoint: i64,
    ts: i64,
    seq: i64,
    kind: &'static str,
    code: Int,
    status: Int,
    phase: Text,
    initiator: Text,
    cause: Text,
    reason: Text,
    attempt: Int,
    delay_ms: Int,
    detail: Text,
}

#[derive(Default, Clone)]
struct SessionRow {
    endpoint: i64,
    started_at: i64,
    seq: i64,
    attempt: i64,
    dns_us: Int,
    tcp_us: Int,
    tls_us: Int,
    upgrade_us: Int,
    peer: Text,
    subprotocol: Text,
    extensions: Text,
    ended_at: Int,
    code: Int,
    reason: Text,
    initiator: Text,
    cause: Text,
    clean: Option<bool>,
    messages_in: Int,
    bytes_in: Int,
    messages_out: Int,
    bytes_out: Int,
    silent_ms: Int,
}

struct IncidentRow {
    endpoint: i64,
    kind: &'static str,
    started_at: i64,
    ended_at: Int,
    detect_ms: i64,
    summary: String,
}

#[derive(Default)]
struct Rows {
    events: Vec<EventRow>,
    sessions: Vec<SessionRow>,
    states: Vec<(i64, i64, i64, &'static str)>,
    incidents: Vec<IncidentRow>,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn us(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn n64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Rows {
    /// One endpoint's history, in time order, as the writer would have stored it.
    fn add_endpoint(&mut self, events: &[Event], seq: &mut i64) {
        let mut tracker = IncidentTracker::new();
        let mut incidents: BTreeMap<(&'static str, i64), IncidentRow> = BTreeMap::new();
        let mut open: Option<SessionRow> = None;
        for event in events {
            for change in tracker.observe(event) {
                let i = match &change {
                    IncidentChange::Opened(i)
                    | IncidentChange::Closed(i)
                    | IncidentChange::Updated(i) => i,
                };
                let summary = json!({
                    "close_codes": i.close_codes,
                    "handshake_failures": i.handshake_failures,
                    "reconnect_attempts": i.reconnect_attempts,
                    "rtt_before_us": i.rtt_before.map(us),
                    "events": i.events.len() as u64 + u64::from(i.more_events),
                })
                .to_string();
                incidents.insert(
                    (i.kind.as_str(), i.started.0),
                    IncidentRow {
                        endpoint: n64(i.endpoint.0),
                        kind: i.kind.as_str(),
                        started_at: i.started.0,
                        ended_at: i.ended.map(|t| t.0),
                        detect_ms: ms(i.time_to_detect),
                        summary,
                    },
                );
            }
            let endpoint = n64(event.endpoint.0);
            let ts = event.at.0;
            match &event.kind {
                EventKind::Rtt { .. } | EventKind::Connecting { .. } => continue,
                EventKind::StateChanged { to, .. } => {
                    *seq += 1;
                    self.states.push((endpoint, ts, *seq, to.as_str()));
                    continue;
                }
                _ => {}
            }
            *seq += 1;
            let mut row = EventRow {
                endpoint,
                ts,
                seq: *seq,
                kind: event.kind.name(),
                code: None,
                status: None,
                phase: None,
                initiator: None,
                cause: None,
                reason: None,
                attempt: None,
                delay_ms: None,
                detail: None,
            };
            match &event.kind {
                EventKind::Connected { attempt, handshake } => {
                    let p = handshake.phases;
                    row.attempt = Some(i64::from(*attempt));
                    // The session row holds the handshake (the fleet's extension names all
                    // round-trip through ", ").
                    row.detail = None;
                    if let Some(s) = open.take() {
                        self.sessions.push(s);
                    }
                    open = Some(SessionRow {
                        endpoint,
                        started_at: ts,
                        seq: *seq,
                        attempt: i64::from(*attempt),
                        dns_us: Some(us(p.dns)),
                        tcp_us: Some(us(p.tcp)),
                        tls_us: p.tls.map(us),
                        upgrade_us: Some(us(p.upgrade)),
                        peer: Some(handshake.peer.to_string()),
                        subprotocol: handshake.subprotocol.clone(),
                        extensions: Some(handshake.extensions.join(", ")).filter(|s| !s.is_empty()),
                        ..SessionRow::default()
                    });
                }
                EventKind::Closed { end, stats } => {
                    row.code = Some(i64::from(end.code()));
                    row.reason = Some(end.reason().to_owned());
                    row.initiator = Some(end.initiator().as_str().to_owned());
                    row.cause = end.cause().map(|c| c.as_str().to_owned());
                    let mut s = open.take().unwrap_or_else(|| SessionRow {
                        endpoint,
                        started_at: ts - ms(stats.duration),
                        seq: *seq,
                        ..SessionRow::default()
                    });
                    // As the writer: where the session row starts, and the measured length
                    // only when it differs from that.
                    let offset = ts - s.started_at;
                    row.delay_ms = Some(offset);
                    row.detail = (ms(stats.duration) != offset)
                        .then(|| json!({ "session_ms": ms(stats.duration) }).to_string());
                    s.ended_at = Some(ts);
                    s.code = row.code;
                    s.reason = row.reason.clone();
                    s.initiator = row.initiator.clone();
                    s.cause = row.cause.clone();
                    s.clean = Some(end.clean());
                    s.messages_in = Some(n64(stats.messages_in));
                    s.bytes_in = Some(n64(stats.bytes_in));
                    s.messages_out = Some(n64(stats.messages_out));
                    s.bytes_out = Some(n64(stats.bytes_out));
                    s.silent_ms = Some(ms(stats.silent_for));
                    self.sessions.push(s);
                }
                EventKind::HandshakeFailed(f) => {
                    row.phase = Some(f.phase.as_str().to_owned());
                    row.status = f.phase.status().map(i64::from);
                    row.reason = Some(f.error.clone());
                    let mut d = json!({ "elapsed_ms": ms(f.elapsed) });
                    match f.phase {
                        FailedPhase::Timeout { during } => d["during"] = json!(during.as_str()),
                        FailedPhase::Http {
                            retry_after: Some(r),
                            ..
                        } => d["retry_after_ms"] = json!(ms(r)),
                        _ => {}
                    }
                    row.detail = Some(d.to_string());
                }
                EventKind::ReconnectScheduled {
                    attempt,
                    delay,
                    reason,
                } => {
                    row.attempt = Some(i64::from(*attempt));
                    row.delay_ms = Some(ms(*delay));
                    row.cause = Some(reason.as_str().to_owned());
                }
                EventKind::GaveUp { reason } => row.reason = Some(reason.clone()),
                EventKind::PongMissed { kind, missed } => {
                    row.phase = Some(kind.as_str().to_owned());
                    row.attempt = Some(i64::from(*missed));
                }
                EventKind::Stale { silent } => {
                    row.detail = Some(json!({ "silent_ms": ms(*silent) }).to_string());
                }
                _ => {}
            }
            self.events.push(row);
        }
        if let Some(s) = open {
            self.sessions.push(s);
        }
        self.incidents.extend(incidents.into_values());
    }

    /// Writes what has accumulated, in multi-row INSERTs (all of it with `everything`).
    async fn flush(
        &mut self,
        tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
        everything: bool,
    ) -> BoxResult<()> {
        const EVENTS: usize = 200;
        const SESSIONS: usize = 100;
        const OTHERS: usize = 300;
        while self.events.len() >= EVENTS || (everything && !self.events.is_empty()) {
            let take = self.events.len().min(EVENTS);
            let chunk: Vec<EventRow> = self.events.drain(..take).collect();
            let sql = multi_row(
                "INSERT INTO events (endpoint_id, ts, seq, kind, code, status, phase, initiator, cause, reason, attempt, delay_ms, detail) VALUES ",
                13,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(r.endpoint)
                    .bind(r.ts)
                    .bind(r.seq)
                    .bind(r.kind)
                    .bind(r.code)
                    .bind(r.status)
                    .bind(r.phase)
                    .bind(r.initiator)
                    .bind(r.cause)
                    .bind(r.reason)
                    .bind(r.attempt)
                    .bind(r.delay_ms)
                    .bind(r.detail);
            }
            q.execute(&mut **tx).await?;
        }
        while self.sessions.len() >= SESSIONS || (everything && !self.sessions.is_empty()) {
            let take = self.sessions.len().min(SESSIONS);
            let chunk: Vec<SessionRow> = self.sessions.drain(..take).collect();
            let sql = multi_row(
                "INSERT INTO sessions (endpoint_id, started_at, seq, attempt, dns_us, tcp_us, tls_us, upgrade_us, peer, \
                 subprotocol, extensions, ended_at, code, reason, initiator, cause, clean, messages_in, bytes_in, \
                 messages_out, bytes_out, silent_ms) VALUES ",
                22,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for s in chunk {
                q = q
                    .bind(s.endpoint)
                    .bind(s.started_at)
                    .bind(s.seq)
                    .bind(s.attempt)
                    .bind(s.dns_us)
                    .bind(s.tcp_us)
                    .bind(s.tls_us)
                    .bind(s.upgrade_us)
                    .bind(s.peer)
                    .bind(s.subprotocol)
                    .bind(s.extensions)
                    .bind(s.ended_at)
                    .bind(s.code)
                    .bind(s.reason)
                    .bind(s.initiator)
                    .bind(s.cause)
                    .bind(s.clean)
                    .bind(s.messages_in)
                    .bind(s.bytes_in)
                    .bind(s.messages_out)
                    .bind(s.bytes_out)
                    .bind(s.silent_ms);
            }
            q.execute(&mut **tx).await?;
        }
        while self.states.len() >= OTHERS || (everything && !self.states.is_empty()) {
            let take = self.states.len().min(OTHERS);
            let chunk: Vec<_> = self.states.drain(..take).collect();
            let sql = multi_row(
                "INSERT INTO states (endpoint_id, ts, seq, state) VALUES ",
                4,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for (e, ts, seq, state) in chunk {
                q = q.bind(e).bind(ts).bind(seq).bind(state);
            }
            q.execute(&mut **tx).await?;
        }
        while self.incidents.len() >= OTHERS || (everything && !self.incidents.is_empty()) {
            let take = self.incidents.len().min(OTHERS);
            let chunk: Vec<IncidentRow> = self.incidents.drain(..take).collect();
            let sql = multi_row(
                "INSERT INTO incidents (endpoint_id, kind, started_at, ended_at, ended_by_pause, detect_ms, summary) VALUES ",
                7,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for i in chunk {
                q = q
                    .bind(i.endpoint)
                    .bind(i.kind)
                    .bind(i.started_at)
                    .bind(i.ended_at)
                    .bind(false)
                    .bind(i.detect_ms)
                    .bind(i.summary);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// `INSERT … VALUES (?, …), (?, …)` for `rows` rows of `columns` values.
fn multi_row(head: &str, columns: usize, rows: usize) -> String {
    let one = format!("({})", vec!["?"; columns].join(", "));
    format!("{head}{}", vec![one; rows].join(", "))
}
