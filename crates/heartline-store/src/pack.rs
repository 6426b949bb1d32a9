//! Old RTT rollup rows packed several to a row.
//!
//! A minute or hour row without a histogram is ≈ 40–47 bytes on disk, more than half of it key,
//! record header and cell overhead. Retention moves minute rows older than a couple of hours
//! into `rtt_minute_packed` (30 minutes a row) and hour rows whose histogram was dropped into
//! `rtt_hour_packed` (a day a row), each bucket's count, min, max, sum and p50/p95/p99 kept
//! exactly as varints relative to each other. Readers ([`Store::rtt_points`]) merge the plain
//! and packed rows, so a window reads the same whichever form its rows are in.

use std::collections::BTreeMap;

use sqlx::SqliteConnection;

use heartline_core::rollup::{bucket_index, bucket_value, get_varint, put_varint};

use crate::{Result, Store};

/// One bucket's summary, as the rollup tables keep it (microseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub count: i64,
    pub min_us: i64,
    pub max_us: i64,
    pub sum_us: i64,
    pub p50_us: i64,
    pub p95_us: i64,
    pub p99_us: i64,
}

impl Summary {
    /// Two summaries of one bucket (written across a restart or after packing): counts add,
    /// the larger half's percentiles win, as the writer merges a minute written twice.
    pub(crate) fn merge(&mut self, other: &Summary) {
        if other.count > self.count {
            self.p50_us = other.p50_us;
            self.p95_us = other.p95_us;
            self.p99_us = other.p99_us;
        }
        self.min_us = if self.count == 0 {
            other.min_us
        } else {
            self.min_us.min(other.min_us)
        };
        self.max_us = self.max_us.max(other.max_us);
        self.count += other.count;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }
}

/// A rollup table whose old rows are packed, and where they go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packing {
    pub table: &'static str,
    pub column: &'static str,
    pub packed: &'static str,
    /// Buckets per packed row; packed rows start at multiples of it.
    pub group: i64,
}

pub(crate) const MINUTES: Packing = Packing {
    table: "rtt_minute",
    column: "minute",
    packed: "rtt_minute_packed",
    group: 30,
};

pub(crate) const HOURS: Packing = Packing {
    table: "rtt_hour",
    column: "hour",
    packed: "rtt_hour_packed",
    group: 24,
};

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Percentiles come from histogram buckets: a percentile that is its bucket's midpoint (as the
/// rollups report them, unless clamped to min or max) is kept as the bucket's number.
fn as_bucket(v: i64) -> Option<i64> {
    let u = u64::try_from(v).ok()?;
    let b = bucket_index(u);
    (bucket_value(b) == u).then_some(i64::from(b))
}

fn from_bucket(b: i64) -> Option<i64> {
    // No value falls past u64::MAX's bucket (nor could its bounds be computed).
    if !(0..=i64::from(bucket_index(u64::MAX))).contains(&b) {
        return None;
    }
    i64::try_from(bucket_value(u16::try_from(b).ok()?)).ok()
}

/// Packs `(offset in the group, summary)` pairs, offsets strictly increasing. Per bucket, all
/// zigzag varints: the gap to the previous offset (×2, +1 when the percentiles are bucket
/// midpoints), count, min as a change from the previous bucket's min; then either the
/// percentiles' bucket numbers (p50's from min's bucket, p95's from p50's, p99's from p95's)
/// or their values (p50−min, p95−p50, p99−p95); then max−p99 and sum−count·p50. Any stored
/// values round-trip, ordered or not; a typical minute takes ≈ 12 bytes.
pub(crate) fn encode(points: &[(i64, Summary)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(points.len() * 14);
    let mut next = 0i64;
    let mut prev_min = 0i64;
    for &(offset, s) in points {
        let buckets = match (
            as_bucket(s.p50_us),
            as_bucket(s.p95_us),
            as_bucket(s.p99_us),
        ) {
            (Some(a), Some(b), Some(c)) => Some((a, b, c)),
            _ => None,
        };
        let gap = offset.wrapping_sub(next);
        put_varint(
            &mut out,
            zigzag(gap.wrapping_mul(2) | i64::from(buckets.is_some())),
        );
        next = offset + 1;
        put_varint(&mut out, zigzag(s.count));
        put_varint(&mut out, zigzag(s.min_us.wrapping_sub(prev_min)));
        prev_min = s.min_us;
        match buckets {
            Some((b50, b95, b99)) => {
                let base = i64::from(bucket_index(u64::try_from(s.min_us).unwrap_or(0)));
                put_varint(&mut out, zigzag(b50 - base));
                put_varint(&mut out, zigzag(b95 - b50));
                put_varint(&mut out, zigzag(b99 - b95));
            }
            None => {
                put_varint(&mut out, zigzag(s.p50_us.wrapping_sub(s.min_us)));
                put_varint(&mut out, zigzag(s.p95_us.wrapping_sub(s.p50_us)));
                put_varint(&mut out, zigzag(s.p99_us.wrapping_sub(s.p95_us)));
            }
        }
        put_varint(&mut out, zigzag(s.max_us.wrapping_sub(s.p99_us)));
        put_varint(
            &mut out,
            zigzag(s.sum_us.wrapping_sub(s.count.wrapping_mul(s.p50_us))),
        );
    }
    out
}

/// Reads what [`encode`] wrote; `None` for bytes it could not have written.
pub(crate) fn decode(bytes: &[u8]) -> Option<Vec<(i64, Summary)>> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut next = 0i64;
    let mut prev_min = 0i64;
    let read = |at: &mut usize| get_varint(bytes, at).map(unzigzag);
    while at < bytes.len() {
        let head = read(&mut at)?;
        let offset = next.checked_add(head >> 1)?;
        next = offset + 1;
        let count = read(&mut at)?;
        let min_us = prev_min.wrapping_add(read(&mut at)?);
        prev_min = min_us;
        let (p50_us, p95_us, p99_us) = if head & 1 == 1 {
            let base = i64::from(bucket_index(u64::try_from(min_us).unwrap_or(0)));
            let b50 = base.checked_add(read(&mut at)?)?;
            let b95 = b50.checked_add(read(&mut at)?)?;
            let b99 = b95.checked_add(read(&mut at)?)?;
            (from_bucket(b50)?, from_bucket(b95)?, from_bucket(b99)?)
        } else {
            let p50 = min_us.wrapping_add(read(&mut at)?);
            let p95 = p50.wrapping_add(read(&mut at)?);
            (p50, p95, p95.wrapping_add(read(&mut at)?))
        };
        let max_us = p99_us.wrapping_add(read(&mut at)?);
        let sum_us = count.wrapping_mul(p50_us).wrapping_add(read(&mut at)?);
        out.push((
            offset,
            Summary {
                count,
                min_us,
                max_us,
                sum_us,
                p50_us,
                p95_us,
                p99_us,
            },
        ));
    }
    Some(out)
}

type Row = (i64, i64, i64, i64, i64, i64, i64, i64);

/// One (endpoint, kind)'s plain rollup rows in `[?3, ?4)` as [`Row`]s, bucket order: what the
/// packer moves and what the reader merges with the packed form.
fn plain_rows_sql(table: &str, column: &str) -> String {
    format!(
        "SELECT {column}, count, min_us, max_us, sum_us, p50_us, p95_us, p99_us FROM {table} \
         WHERE endpoint_id = ? AND kind = ? AND {column} >= ? AND {column} < ? ORDER BY {column}"
    )
}

fn summary(r: &Row) -> Summary {
    Summary {
        count: r.1,
        min_us: r.2,
        max_us: r.3,
        sum_us: r.4,
        p50_us: r.5,
        p95_us: r.6,
        p99_us: r.7,
    }
}

/// Packs the rows of one (endpoint, kind) older than `before` (rounded down to a whole group),
/// at most about `max_rows` of them, in one transaction (the rows move or stay, never both).
/// Returns how many rows were packed and whether none is left to pack.
pub(crate) async fn pack_some(
    conn: &mut SqliteConnection,
    p: Packing,
    endpoint: i64,
    kind: i64,
    before: i64,
    max_rows: i64,
) -> Result<(u64, bool)> {
    let Packing {
        table,
        column,
        packed,
        group,
    } = p;
    let before = before.div_euclid(group) * group;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let first: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT {column} FROM {table} WHERE endpoint_id = ? AND kind = ? AND {column} < ? \
         ORDER BY {column} LIMIT 1"
    ))
    .bind(endpoint)
    .bind(kind)
    .bind(before)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(first) = first else {
        tx.commit().await?;
        return Ok((0, true));
    };
    let lo = first.div_euclid(group) * group;
    let hi = before.min(lo + (max_rows / group).max(1) * group);
    let rows: Vec<Row> = sqlx::query_as(&plain_rows_sql(table, column))
        .bind(endpoint)
        .bind(kind)
        .bind(lo)
        .bind(hi)
        .fetch_all(&mut *tx)
        .await?;
    let mut groups: BTreeMap<i64, BTreeMap<i64, Summary>> = BTreeMap::new();
    for r in &rows {
        let start = r.0.div_euclid(group) * group;
        groups
            .entry(start)
            .or_default()
            .entry(r.0 - start)
            .or_default()
            .merge(&summary(r));
    }
    // Groups packed before (a row written for them since, after a restart) merge in.
    let existing: Vec<(i64, Vec<u8>)> = sqlx::query_as(&format!(
        "SELECT start, points FROM {packed} WHERE endpoint_id = ? AND kind = ? AND start >= ? AND start < ?"
    ))
    .bind(endpoint)
    .bind(kind)
    .bind(lo)
    .bind(hi)
    .fetch_all(&mut *tx)
    .await?;
    for (start, bytes) in existing {
        if let Some(g) = groups.get_mut(&start) {
            for (offset, s) in decode(&bytes).unwrap_or_default() {
                g.entry(offset).or_default().merge(&s);
            }
        }
    }
    for (start, points) in &groups {
        let points: Vec<(i64, Summary)> = points.iter().map(|(&o, &s)| (o, s)).collect();
        sqlx::query(&format!(
            "INSERT OR REPLACE INTO {packed} (endpoint_id, kind, start, points) VALUES (?, ?, ?, ?)"
        ))
        .bind(endpoint)
        .bind(kind)
        .bind(start)
        .bind(encode(&points))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(&format!(
        "DELETE FROM {table} WHERE endpoint_id = ? AND kind = ? AND {column} >= ? AND {column} < ?"
    ))
    .bind(endpoint)
    .bind(kind)
    .bind(lo)
    .bind(hi)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((rows.len() as u64, hi >= before))
}

impl Store {
    /// Summaries of one endpoint's buckets in `[lo, hi)` from a rollup table and its packed
    /// form, in bucket order (a bucket in both merges).
    pub(crate) async fn rtt_points(
        &self,
        table: &str,
        column: &str,
        endpoint: i64,
        kind: i64,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<(i64, Summary)>> {
        let rows: Vec<Row> = sqlx::query_as(&plain_rows_sql(table, column))
            .bind(endpoint)
            .bind(kind)
            .bind(lo)
            .bind(hi)
            .fetch_all(self.reader())
            .await?;
        let Some(p) = [MINUTES, HOURS].into_iter().find(|p| p.table == table) else {
            return Ok(rows.iter().map(|r| (r.0, summary(r))).collect());
        };
        let packed: Vec<(i64, Vec<u8>)> = sqlx::query_as(&format!(
            "SELECT start, points FROM {} WHERE endpoint_id = ? AND kind = ? AND start > ? AND start < ? \
             ORDER BY start",
            p.packed
        ))
        .bind(endpoint)
        .bind(kind)
        .bind(lo - p.group)
        .bind(hi)
        .fetch_all(self.reader())
        .await?;
        if packed.is_empty() {
            return Ok(rows.iter().map(|r| (r.0, summary(r))).collect());
        }
        let mut out: BTreeMap<i64, Summary> = BTreeMap::new();
        for (start, bytes) in packed {
            for (offset, s) in decode(&bytes).unwrap_or_default() {
                let bucket = start + offset;
                if bucket >= lo && bucket < hi {
                    out.entry(bucket).or_default().merge(&s);
                }
            }
        }
        for r in &rows {
            out.entry(r.0).or_default().merge(&summary(r));
        }
        Ok(out.into_iter().collect())
    }
}

/// Per endpoint: samples, Σ mean·count (the mean in whole µs, as exports compute it from plain
/// rows) and the largest p95.
pub(crate) type Totals = std::collections::HashMap<i64, (i64, i64, i64)>;

impl Store {
    /// What the packed rows of `table` add to a fleet window's totals: buckets in `[lo, hi)`
    /// of the endpoints that `ids_cte` (a `WITH ids(id) AS (…)` reading `?3`) selects.
    pub(crate) async fn packed_totals(
        &self,
        table: &str,
        ids_cte: &str,
        scope: Option<String>,
        kind: i64,
        lo: i64,
        hi: i64,
    ) -> Result<Totals> {
        let mut out = Totals::new();
        let Some(p) = [MINUTES, HOURS].into_iter().find(|p| p.table == table) else {
            return Ok(out);
        };
        let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(&format!(
            "{ids_cte} SELECT endpoint_id, start, points FROM {} WHERE endpoint_id IN (SELECT id FROM ids) \
             AND kind = ?4 AND start > ?1 - {} AND start < ?2",
            p.packed, p.group
        ))
        .bind(lo)
        .bind(hi)
        .bind(scope)
        .bind(kind)
        .fetch_all(self.reader())
        .await?;
        for (endpoint, start, bytes) in rows {
            for (offset, s) in decode(&bytes).unwrap_or_default() {
                if start + offset < lo || start + offset >= hi || s.count <= 0 {
                    continue;
                }
                let t = out.entry(endpoint).or_insert((0, 0, i64::MIN));
                t.0 += s.count;
                t.1 += s.sum_us / s.count * s.count;
                t.2 = t.2.max(s.p95_us);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_round_trips_any_values() {
        let s = |count, min_us, p50_us, p95_us, p99_us, max_us, sum_us| Summary {
            count,
            min_us,
            max_us,
            sum_us,
            p50_us,
            p95_us,
            p99_us,
        };
        let points = vec![
            (
                0,
                s(3600, 8_000, 9_000, 12_000, 30_000, 160_000, 3600 * 9_500),
            ),
            (
                1,
                s(60, 40_000, 41_000, 60_000, 61_000, 61_000, 60 * 42_000),
            ),
            (7, s(1, 5, 5, 5, 5, 5, 5)),
            // Out of order or odd values (a hand-edited row) still come back as they were.
            (8, s(2, 100, 50, 40, 300, 10, -7)),
            (29, s(i64::MAX, 0, i64::MAX, 0, i64::MIN, 1, i64::MAX)),
        ];
        let bytes = encode(&points);
        assert_eq!(decode(&bytes), Some(points));
        // Percentiles as a rollup reports them (bucket midpoints) take a byte each.
        let mut minute = heartline_core::Rollup::default();
        for us in [
            21_000u64, 30_000, 39_000, 40_000, 41_000, 52_000, 60_000, 75_000, 180_000,
        ] {
            minute.record(std::time::Duration::from_micros(us));
        }
        let q = |p| i64::try_from(minute.quantile_us(p).unwrap()).unwrap();
        let real = s(9, 21_000, q(0.5), q(0.95), q(0.99), 180_000, 538_000);
        let packed = encode(&[(3, real), (4, real)]);
        assert_eq!(decode(&packed), Some(vec![(3, real), (4, real)]));
        assert!(packed.len() <= 2 * 13, "{}", packed.len());
        assert_eq!(decode(&[]), Some(Vec::new()));
        assert_eq!(decode(&[0x80]), None);
        // A bucket number no value has is refused, not computed.
        assert_eq!(decode(&[2, 2, 2, 0xa0, 0x1f, 0, 0, 0, 0]), None);
        // A typical hour of a 1 s endpoint fits in about 20 bytes.
        let hour = encode(&[(0, s(3600, 8_120, 9_800, 13_400, 21_000, 95_000, 36_100_000))]);
        assert!(hour.len() <= 20, "{}", hour.len());
    }

    #[test]
    fn merging_keeps_the_larger_halfs_percentiles() {
        let mut a = Summary {
            count: 10,
            min_us: 5,
            max_us: 50,
            sum_us: 200,
            p50_us: 20,
            p95_us: 40,
            p99_us: 45,
        };
        a.merge(&Summary {
            count: 50,
            min_us: 3,
            max_us: 40,
            sum_us: 1000,
            p50_us: 18,
            p95_us: 30,
            p99_us: 35,
        });
        assert_eq!(
            a,
            Summary {
                count: 60,
                min_us: 3,
                max_us: 50,
                sum_us: 1200,
                p50_us: 18,
                p95_us: 30,
                p99_us: 35
            }
        );
        let mut empty = Summary::default();
        empty.merge(&a);
        assert_eq!(empty, a);
    }
}
