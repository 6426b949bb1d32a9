//! History strips: every endpoint's window cut into a fixed number of cells, each with the
//! worst state it saw and how many sessions ended unexpectedly in it (the overview's "a bad
//! hour at a glance"). Two statements for any number of endpoints, both bucketed by SQLite:
//! state changes grouped per (endpoint, cell, state) from the `states` primary key (one range
//! seek per endpoint, the state before the window a seek of its own), and closes counted per
//! (endpoint, cell) from the events' primary key the same way. Each returns one row per endpoint with its
//! cells as short text: what reaches Rust is a few entries per cell that saw a change, not
//! the history.

use std::collections::HashMap;

use futures_util::TryStreamExt;
use heartline_core::{EndpointId, State, Timestamp};

use crate::availability::unexpected;
use crate::export::{Scope, IDS};
use crate::query::state_from;
use crate::{Result, Store};

/// The most cells a strip may be cut into.
pub const MAX_STRIP_CELLS: usize = 240;

/// One cell of a strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StripCell {
    /// The worst state the endpoint was in at any time of the cell (Down, Unstable, Degraded,
    /// Up, Connecting, Paused, worst first); `None` when no state was known or no agent was
    /// recording during the cell.
    pub worst: Option<State>,
    /// Sessions that ended unexpectedly in the cell (every end but user, shutdown,
    /// reconfiguration and a `--for` limit).
    pub drops: u32,
}

/// How bad a state is, for "the worst of a cell": Down above Unstable above Degraded above
/// Up; Connecting (a start, not trouble) and Paused (chosen) rank below Up.
pub fn severity(s: State) -> u8 {
    match s {
        State::Down => 5,
        State::Unstable => 4,
        State::Degraded => 3,
        State::Up => 2,
        State::Connecting => 1,
        State::Paused => 0,
    }
}

fn worse(a: Option<State>, b: State) -> State {
    match a {
        Some(a) if severity(a) >= severity(b) => a,
        _ => b,
    }
}

/// A state seen in a cell: the state, and the key (ts, seq) of its last change in the cell.
#[derive(Debug, Clone, Copy)]
struct Seen {
    state: State,
    last: (i64, i64),
}

/// One endpoint's rows as read, before the fold.
#[derive(Default)]
struct Gathered {
    before: Option<State>,
    /// Per cell, the states it changed to.
    changes: HashMap<usize, Vec<Seen>>,
    drops: HashMap<usize, u32>,
}

/// The cell `[from, to)` split into `cells` parts puts `ts` in (clamped), as the statements
/// below compute it.
#[cfg(test)]
fn cell_of(ts: i64, from: i64, to: i64, cells: usize) -> usize {
    let span = i128::from((to - from).max(1));
    let n = i128::try_from(cells).unwrap_or(1);
    let c = (i128::from(ts - from) * n).div_euclid(span);
    usize::try_from(c.clamp(0, n - 1)).unwrap_or(0)
}

/// Where cell `c` of `cells` over `[from, to)` starts.
fn cell_start(c: usize, from: i64, to: i64, cells: usize) -> i64 {
    let span = i128::from(to - from);
    let c = i128::try_from(c).unwrap_or(0);
    let n = i128::try_from(cells.max(1)).unwrap_or(1);
    // Smallest ts with floor((ts - from) * n / span) >= c: the ceiling of c * span / n.
    let offset = (c * span + n - 1).div_euclid(n);
    from + i64::try_from(offset).unwrap_or(i64::MAX)
}

/// Folds one endpoint's rows into its cells: each cell starts in the state the previous one
/// ended in, takes the worst of that and of every state it changed to, and is blanked when
/// no agent recorded any of it (`runs`: merged, sorted spans).
fn fold(
    g: &Gathered,
    from: i64,
    to: i64,
    cells: usize,
    runs: Option<&[(i64, i64)]>,
) -> Vec<StripCell> {
    let mut current = g.before;
    let mut out = Vec::with_capacity(cells);
    for c in 0..cells {
        let mut worst = current;
        if let Some(seen) = g.changes.get(&c) {
            for s in seen {
                worst = Some(worse(worst, s.state));
            }
            if let Some(last) = seen.iter().max_by_key(|s| s.last) {
                current = Some(last.state);
            }
        }
        let recorded = runs.is_none_or(|runs| {
            let (a, b) = (
                cell_start(c, from, to, cells),
                cell_start(c + 1, from, to, cells),
            );
            runs.iter().any(|&(start, end)| start < b && end > a)
        });
        out.push(StripCell {
            worst: if recorded { worst } else { None },
            drops: g.drops.get(&c).copied().unwrap_or(0),
        });
    }
    out
}

/// Between the entries of a statement's per-endpoint list (ASCII record separator: none of
/// the fields, our own vocabulary and numbers, contains it).
const RS: char = '\u{1e}';

/// The statement that reads, per endpoint, the state before the window and the window's
/// state changes grouped per (cell, state) as one text (`cell state ts seq`, [`RS`] between
/// them): `?1` from, `?2` to, `?3` the scope, `?4` cells. One row per endpoint, as the
/// overview's statement: sqlx hands rows over one at a time, which cost more than the seeks.
pub(crate) fn states_sql() -> String {
    format!(
        "{IDS} SELECT id, \
           (SELECT state FROM states WHERE endpoint_id = id AND ts < ?1 \
            ORDER BY ts DESC, seq DESC LIMIT 1), \
           (SELECT group_concat(c || ' ' || state || ' ' || t || ' ' || sq, char(30)) FROM \
             (SELECT ((ts - ?1) * ?4) / (?2 - ?1) AS c, state, max(ts) AS t, seq AS sq \
              FROM states WHERE endpoint_id = id AND ts >= ?1 AND ts < ?2 GROUP BY 1, 2)) \
         FROM ids"
    )
}

/// The statement that counts the window's session ends per endpoint as one text (`cell count
/// initiator cause`, [`RS`] between them): same parameters as [`states_sql`]. A range seek per
/// endpoint on the events' key, grouped in key order; closes not ours are counted per cell
/// whatever their initiator, ours per cause (which says whether they were chosen). Ends with
/// no initiator recorded are not drops. (The closes' partial index was slower here: on the
/// store bench's month of 1000 endpoints, 0.44 s against 0.12 s, sorting its 94k closes by
/// endpoint again.)
pub(crate) fn drops_sql() -> String {
    format!(
        "{IDS} SELECT endpoint_id, \
           group_concat(cell || ' ' || n || ' ' || who || ' ' || why, char(30)) FROM ( \
             SELECT endpoint_id, ((ts - ?1) * ?4) / (?2 - ?1) AS cell, count(*) AS n, \
               CASE WHEN initiator = 'client' THEN 'client' ELSE 'other' END AS who, \
               CASE WHEN initiator = 'client' THEN COALESCE(cause, '') ELSE '' END AS why \
             FROM events \
             WHERE endpoint_id IN (SELECT id FROM ids) AND ts >= ?1 AND ts < ?2 \
               AND kind = 'closed' AND initiator IS NOT NULL \
             GROUP BY 1, 2, 4, 5) \
         GROUP BY endpoint_id"
    )
}

/// The entries of a per-endpoint list, each split into `n` fields (the last takes the rest).
fn entries(list: Option<&str>, n: usize) -> impl Iterator<Item = Vec<&str>> {
    list.unwrap_or_default()
        .split(RS)
        .filter(|e| !e.is_empty())
        .map(move |e| e.splitn(n, ' ').collect::<Vec<&str>>())
        .filter(move |f| f.len() == n)
}

impl Store {
    /// Every endpoint of `scope` over `[from, to)` cut into `cells` cells (1 to
    /// [`MAX_STRIP_CELLS`]), each with its worst state and its unexpected session ends.
    /// Endpoints with no state and no close in or before the window are left out.
    pub async fn strips(
        &self,
        scope: Scope<'_>,
        from: Timestamp,
        to: Timestamp,
        cells: usize,
    ) -> Result<HashMap<EndpointId, Vec<StripCell>>> {
        let mut out = HashMap::new();
        if to <= from || cells == 0 {
            return Ok(out);
        }
        let cells = cells.min(MAX_STRIP_CELLS);
        let n = i64::try_from(cells).unwrap_or(1);
        let runs = self.runs_between(from, to).await?;
        let mut gathered: HashMap<i64, Gathered> = HashMap::new();

        let sql = states_sql();
        let mut rows = sqlx::query_as::<_, (i64, Option<String>, Option<String>)>(&sql)
            .bind(from.0)
            .bind(to.0)
            .bind(scope.param())
            .bind(n)
            .fetch(self.reader());
        while let Some((id, before, changes)) = rows.try_next().await? {
            let g = gathered.entry(id).or_default();
            g.before = before.as_deref().and_then(state_from);
            for f in entries(changes.as_deref(), 4) {
                let (Ok(c), Some(state), Ok(ts), Ok(seq)) = (
                    f[0].parse::<usize>(),
                    state_from(f[1]),
                    f[2].parse::<i64>(),
                    f[3].parse::<i64>(),
                ) else {
                    continue;
                };
                if c < cells {
                    g.changes.entry(c).or_default().push(Seen {
                        state,
                        last: (ts, seq),
                    });
                }
            }
        }
        drop(rows);

        let sql = drops_sql();
        let mut rows = sqlx::query_as::<_, (i64, Option<String>)>(&sql)
            .bind(from.0)
            .bind(to.0)
            .bind(scope.param())
            .bind(n)
            .fetch(self.reader());
        while let Some((id, list)) = rows.try_next().await? {
            for f in entries(list.as_deref(), 4) {
                let (Ok(c), Ok(count)) = (f[0].parse::<usize>(), f[1].parse::<u32>()) else {
                    continue;
                };
                let cause = Some(f[3]).filter(|c| !c.is_empty());
                if c < cells && unexpected(Some(f[2]), cause) {
                    let slot = gathered.entry(id).or_default().drops.entry(c).or_default();
                    *slot = slot.saturating_add(count);
                }
            }
        }
        drop(rows);

        for (id, g) in gathered {
            if g.before.is_none() && g.changes.is_empty() && g.drops.is_empty() {
                continue;
            }
            let id = EndpointId(id.max(0).unsigned_abs());
            out.insert(id, fold(&g, from.0, to.0, cells, Some(&runs)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(state: State, ts: i64) -> Seen {
        Seen {
            state,
            last: (ts, 0),
        }
    }

    #[test]
    fn cells_split_the_window_evenly_and_clamp() {
        assert_eq!(cell_of(0, 0, 600, 60), 0);
        assert_eq!(cell_of(9, 0, 600, 60), 0);
        assert_eq!(cell_of(10, 0, 600, 60), 1);
        assert_eq!(cell_of(599, 0, 600, 60), 59);
        assert_eq!(cell_of(600, 0, 600, 60), 59, "clamped");
        assert_eq!(cell_of(-5, 0, 600, 60), 0, "clamped");
        // An uneven split: every ts goes to the cell whose start is at or before it.
        for ts in 0..1000 {
            let c = cell_of(ts, 0, 1000, 7);
            assert!(cell_start(c, 0, 1000, 7) <= ts, "{ts} in {c}");
            assert!(cell_start(c + 1, 0, 1000, 7) > ts, "{ts} in {c}");
        }
        assert_eq!(cell_start(7, 0, 1000, 7), 1000);
    }

    #[test]
    fn a_cell_takes_the_worst_state_and_carries_the_last_one_on() {
        let mut g = Gathered {
            before: Some(State::Up),
            ..Gathered::default()
        };
        // Cell 1: Up → Down → Up (worst Down, ends Up). Cell 3: → Degraded, stays.
        g.changes
            .insert(1, vec![seen(State::Down, 12), seen(State::Up, 15)]);
        g.changes.insert(3, vec![seen(State::Degraded, 31)]);
        g.drops.insert(1, 3);
        let cells = fold(&g, 0, 60, 6, None);
        let worst: Vec<Option<State>> = cells.iter().map(|c| c.worst).collect();
        assert_eq!(
            worst,
            [
                Some(State::Up),
                Some(State::Down),
                Some(State::Up),
                Some(State::Degraded),
                Some(State::Degraded),
                Some(State::Degraded)
            ]
        );
        let drops: Vec<u32> = cells.iter().map(|c| c.drops).collect();
        assert_eq!(drops, [0, 3, 0, 0, 0, 0]);
    }

    #[test]
    fn connecting_and_paused_rank_below_up_and_unrecorded_cells_are_blank() {
        let mut g = Gathered::default();
        g.changes
            .insert(0, vec![seen(State::Connecting, 1), seen(State::Up, 2)]);
        g.changes.insert(2, vec![seen(State::Paused, 25)]);
        // The agent recorded [0, 20) and [40, 60): cell 2 and 3 ([20, 40)) were not seen.
        let runs = [(0, 20), (40, 60)];
        let cells = fold(&g, 0, 60, 6, Some(&runs));
        let worst: Vec<Option<State>> = cells.iter().map(|c| c.worst).collect();
        assert_eq!(
            worst,
            [
                Some(State::Up),
                Some(State::Up),
                None,
                None,
                Some(State::Paused),
                Some(State::Paused)
            ]
        );
        assert!(severity(State::Down) > severity(State::Unstable));
        assert!(severity(State::Unstable) > severity(State::Degraded));
        assert!(severity(State::Degraded) > severity(State::Up));
    }

    /// Both statements are a range seek per endpoint on a history table's primary key:
    /// neither scans one, whatever the fleet or the window.
    #[tokio::test]
    async fn the_statements_seek_an_index_and_scan_no_history_table() {
        let dir = std::env::temp_dir().join(format!(
            "heartline-store-strip-plan-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = Store::open(&dir.join("heartline.db")).await.expect("open");
        for sql in [states_sql(), drops_sql()] {
            let plan: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .bind(0_i64)
                    .bind(86_400_000_i64)
                    .bind(Option::<String>::None)
                    .bind(60_i64)
                    .fetch_all(store.reader())
                    .await
                    .expect("plan");
            let steps: Vec<&str> = plan.iter().map(|p| p.3.as_str()).collect();
            for table in ["states", "events"] {
                assert!(
                    !steps
                        .iter()
                        .any(|s| s.starts_with(&format!("SCAN {table}"))),
                    "{table} scanned: {steps:#?}"
                );
            }
            let seeks = |what: &str| {
                steps
                    .iter()
                    .any(|s| s.starts_with("SEARCH") && s.contains(what))
            };
            assert!(
                seeks("USING PRIMARY KEY (endpoint_id=? AND ts>? AND ts<?)"),
                "no range seek per endpoint: {steps:#?}"
            );
        }
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
