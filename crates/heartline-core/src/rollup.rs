//! Round-trip time rollups: count, min, max, sum and a compact mergeable histogram, so minute,
//! hour and day summaries can be built from samples or from each other without keeping samples.

use std::time::Duration;

/// Sub-buckets per power of two: 16 keeps every quantile within about 3 % of the true value.
const SUB_BITS: u32 = 4;
const SUBS: u32 = 1 << SUB_BITS;
/// Values below this many microseconds get a bucket each.
const LINEAR: u32 = 2 * SUBS;

/// A sparse log-linear histogram of microsecond values: buckets are exact below 32 µs and
/// 1/16 of an octave wide above, so any quantile is within ~3 % of the truth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// (bucket, count), sorted by bucket.
    buckets: Vec<(u16, u32)>,
}

/// The summary of a set of round trips.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rollup {
    pub count: u64,
    pub min_us: u64,
    pub max_us: u64,
    pub sum_us: u64,
    pub histogram: Histogram,
}

impl Rollup {
    pub fn record(&mut self, rtt: Duration) {
        let us = u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX);
        if self.count == 0 || us < self.min_us {
            self.min_us = us;
        }
        self.max_us = self.max_us.max(us);
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        self.histogram.record(us);
    }

    /// Adds another rollup into this one (e.g. minutes into an hour).
    pub fn merge(&mut self, other: &Rollup) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 || other.min_us < self.min_us {
            self.min_us = other.min_us;
        }
        self.max_us = self.max_us.max(other.max_us);
        self.count += other.count;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
        self.histogram.merge(&other.histogram);
    }

    pub fn mean_us(&self) -> Option<u64> {
        self.sum_us.checked_div(self.count)
    }

    /// The q-quantile (0..=1), clamped to the exact min and max.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        self.histogram
            .quantile(q)
            .map(|v| v.clamp(self.min_us, self.max_us))
    }
}

impl Histogram {
    pub fn record(&mut self, us: u64) {
        self.add(bucket_of(us), 1);
    }

    /// Gives back the room beyond its buckets (a finished period's histogram waiting to be
    /// written holds no more than it needs).
    pub fn shrink_to_fit(&mut self) {
        self.buckets.shrink_to_fit();
    }

    pub fn merge(&mut self, other: &Histogram) {
        for &(b, n) in &other.buckets {
            self.add(b, n);
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|&(_, n)| u64::from(n)).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The q-quantile (0..=1): the midpoint of the bucket holding that rank.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for &(b, n) in &self.buckets {
            seen += u64::from(n);
            if seen >= rank {
                return Some(midpoint(b));
            }
        }
        self.buckets.last().map(|&(b, _)| midpoint(b))
    }

    /// Compact bytes: pairs of (bucket delta, count) as LEB128 varints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.buckets.len() * 3);
        let mut prev = 0u16;
        for &(b, n) in &self.buckets {
            put_varint(&mut out, u64::from(b - prev));
            put_varint(&mut out, u64::from(n));
            prev = b;
        }
        out
    }

    /// Reads what [`Histogram::encode`] wrote; `None` for bytes it could not have written.
    pub fn decode(bytes: &[u8]) -> Option<Histogram> {
        let mut buckets = Vec::new();
        let mut at = 0;
        let mut bucket = 0u64;
        while at < bytes.len() {
            let delta = get_varint(bytes, &mut at)?;
            let n = u32::try_from(get_varint(bytes, &mut at)?).ok()?;
            bucket = bucket.checked_add(delta)?;
            let b = u16::try_from(bucket).ok()?;
            if buckets.last().is_some_and(|&(last, _)| last >= b) || n == 0 {
                return None;
            }
            buckets.push((b, n));
        }
        Some(Histogram { buckets })
    }

    fn add(&mut self, bucket: u16, n: u32) {
        match self.buckets.binary_search_by_key(&bucket, |&(b, _)| b) {
            Ok(i) => self.buckets[i].1 = self.buckets[i].1.saturating_add(n),
            Err(i) => self.buckets.insert(i, (bucket, n)),
        }
    }
}

/// The histogram bucket a value falls in. With [`bucket_value`], lets a store keep a quantile
/// this module reported (always a bucket's midpoint, unless clamped to min or max) as a small
/// bucket number.
pub fn bucket_index(us: u64) -> u16 {
    bucket_of(us)
}

/// The value [`Histogram::quantile`] reports for a bucket: its midpoint.
pub fn bucket_value(bucket: u16) -> u64 {
    midpoint(bucket)
}

fn bucket_of(us: u64) -> u16 {
    if us < u64::from(LINEAR) {
        return us as u16;
    }
    let octave = 63 - us.leading_zeros(); // >= SUB_BITS + 1
    let sub = (us >> (octave - SUB_BITS)) & u64::from(SUBS - 1);
    let index = LINEAR + (octave - SUB_BITS - 1) * SUBS + sub as u32;
    u16::try_from(index).unwrap_or(u16::MAX)
}

fn bounds(bucket: u16) -> (u64, u64) {
    let b = u32::from(bucket);
    if b < LINEAR {
        return (u64::from(b), u64::from(b));
    }
    let octave = (b - LINEAR) / SUBS + SUB_BITS + 1;
    let sub = u64::from((b - LINEAR) % SUBS);
    let width = 1u64 << (octave - SUB_BITS);
    let low = (1u64 << octave) + sub * width;
    (low, low + width - 1)
}

fn midpoint(bucket: u16) -> u64 {
    let (low, high) = bounds(bucket);
    low + (high - low) / 2
}

/// Appends `v` as an unsigned LEB128 varint (7 bits a byte, low first): the encoding of
/// [`Histogram::encode`], also used by the store's packed rollup rows.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a varint written by [`put_varint`] at `*at` and moves past it; `None` when the bytes
/// end inside it or it runs past 64 bits.
pub fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shrunk_histogram_is_exactly_its_buckets_and_reads_the_same() {
        let mut r = Rollup::default();
        for us in [100, 5_000, 70_000, 900_000, 3_000] {
            r.record(Duration::from_micros(us));
        }
        let before = r.clone();
        assert!(r.histogram.buckets.capacity() > r.histogram.buckets.len());
        r.histogram.shrink_to_fit();
        assert_eq!(r.histogram.buckets.capacity(), r.histogram.buckets.len());
        assert_eq!(r, before);
        assert_eq!(r.quantile_us(0.5), before.quantile_us(0.5));
    }

    #[test]
    fn buckets_cover_every_value_and_stay_ordered() {
        let mut last = 0u16;
        for us in (0..5000u64).chain([1 << 20, 1 << 30, 1 << 40, u64::MAX / 4]) {
            let b = bucket_of(us);
            let (low, high) = bounds(b);
            assert!(
                low <= us && us <= high,
                "{us} not in bucket {b} = [{low}, {high}]"
            );
            assert!(b >= last, "bucket order at {us}");
            last = b;
            assert!(
                (high - low) as f64 <= (us as f64 / 16.0).max(0.0) + 1.0,
                "{us}: width {}",
                high - low
            );
        }
    }

    fn check(samples: &[u64], q: f64, expected: u64) {
        let mut r = Rollup::default();
        for &s in samples {
            r.record(Duration::from_micros(s));
        }
        let got = r.quantile_us(q).unwrap();
        let err = (got as f64 - expected as f64).abs() / expected.max(1) as f64;
        assert!(
            err <= 0.035,
            "q{q} of {} samples: {got} vs {expected}",
            samples.len()
        );
    }

    #[test]
    fn quantiles_are_within_a_few_percent() {
        let uniform: Vec<u64> = (1..=10_000).collect();
        check(&uniform, 0.5, 5000);
        check(&uniform, 0.95, 9500);
        check(&uniform, 0.99, 9900);
        check(&[15, 15, 15], 0.5, 15);
        // A bimodal loopback/WAN mix: p50 in the fast mode, p99 in the slow one.
        let mut mix = vec![80u64; 900];
        mix.extend(std::iter::repeat_n(45_000u64, 100));
        check(&mix, 0.5, 80);
        check(&mix, 0.99, 45_000);
    }

    #[test]
    fn merge_equals_recording_everything() {
        let (mut a, mut b, mut all) = (Rollup::default(), Rollup::default(), Rollup::default());
        for us in 1..500u64 {
            let d = Duration::from_micros(us * 37 % 10_007);
            if us % 3 == 0 {
                a.record(d)
            } else {
                b.record(d)
            }
            all.record(d);
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(all.mean_us(), Some(all.sum_us / all.count));
        let mut empty = Rollup::default();
        empty.merge(&Rollup::default());
        assert_eq!(
            (empty.count, empty.quantile_us(0.5), empty.mean_us()),
            (0, None, None)
        );
    }

    #[test]
    fn encoding_round_trips_and_rejects_garbage() {
        let mut h = Histogram::default();
        for us in [3u64, 3, 90, 95, 40_000, 2_000_000] {
            h.record(us);
        }
        let bytes = h.encode();
        assert!(bytes.len() <= 12, "{} bytes", bytes.len());
        assert_eq!(Histogram::decode(&bytes), Some(h));
        assert_eq!(Histogram::decode(&[]), Some(Histogram::default()));
        assert_eq!(Histogram::decode(&[0x80]), None, "truncated varint");
        assert_eq!(Histogram::decode(&[5, 0]), None, "zero count");
        assert_eq!(Histogram::decode(&[5, 1, 0, 1]), None, "repeated bucket");
    }
}
