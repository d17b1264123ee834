//! Latency histograms that workers can serialize and the parent can merge exactly.
//!
//! Values are microseconds in log-linear buckets: exact below 128 µs, then 64 buckets per
//! power of two, so a reported percentile is within 1/64 (about 1.6 %) of the true sample.
//! Merging two histograms gives exactly the histogram of the combined samples, which keeps
//! the percentiles of a multi-worker run as good as those of a single process.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
const LINEAR: u64 = 2 * SUB;

/// A mergeable histogram of durations (microseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Bucket index → sample count (only non-empty buckets).
    buckets: BTreeMap<u32, u64>,
    count: u64,
    sum_us: u64,
    min_us: u64,
    max_us: u64,
}

fn bucket_of(v: u64) -> u32 {
    if v < LINEAR {
        return v as u32;
    }
    let e = 63 - v.leading_zeros(); // >= 7
    let shift = e - SUB_BITS;
    let sub = (v >> shift) - SUB; // 0..64
    (LINEAR + u64::from(e - SUB_BITS - 1) * SUB + sub) as u32
}

/// The inclusive range of values that fall into bucket `b`.
fn bucket_range(b: u32) -> (u64, u64) {
    let b = u64::from(b);
    if b < LINEAR {
        return (b, b);
    }
    let k = b - LINEAR;
    let e = SUB_BITS as u64 + 1 + k / SUB;
    let shift = e - SUB_BITS as u64;
    let lo = (SUB + k % SUB) << shift;
    let hi = ((SUB + k % SUB + 1) << shift) - 1;
    (lo, hi)
}

impl Histogram {
    /// Records one sample in microseconds.
    pub fn record_us(&mut self, us: u64) {
        *self.buckets.entry(bucket_of(us)).or_insert(0) += 1;
        if self.count == 0 || us < self.min_us {
            self.min_us = us;
        }
        self.max_us = self.max_us.max(us);
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
    }

    /// Records one duration.
    pub fn record(&mut self, d: Duration) {
        self.record_us(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        for (b, n) in &other.buckets {
            *self.buckets.entry(*b).or_insert(0) += n;
        }
        if self.count == 0 || other.min_us < self.min_us {
            self.min_us = other.min_us;
        }
        self.max_us = self.max_us.max(other.max_us);
        self.count += other.count;
        self.sum_us = self.sum_us.saturating_add(other.sum_us);
    }

    /// How many samples were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest sample (µs), if any.
    pub fn max_us(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max_us)
    }

    /// The `p`-th percentile (0 < p ≤ 100) in µs: the middle of the bucket holding the
    /// sample of rank ⌈p·n/100⌉, clamped to the observed minimum and maximum.
    pub fn percentile_us(&self, p: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        if p >= 100.0 {
            return Some(self.max_us);
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                let (lo, hi) = bucket_range(*b);
                let mid = lo + (hi - lo) / 2;
                return Some(mid.clamp(self.min_us, self.max_us));
            }
        }
        Some(self.max_us)
    }

    /// The usual summary in milliseconds.
    pub fn summary_ms(&self) -> Summary {
        let ms = |us: Option<u64>| us.map(|us| us as f64 / 1000.0);
        Summary {
            n: self.count,
            p50: ms(self.percentile_us(50.0)),
            p90: ms(self.percentile_us(90.0)),
            p99: ms(self.percentile_us(99.0)),
            max: ms(self.max_us()),
            mean: (self.count > 0).then(|| (self.sum_us as f64 / self.count as f64).round() / 1000.0),
        }
    }
}

/// Percentiles of a histogram in milliseconds (`null` when there were no samples).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub n: u64,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest sample.
    pub max: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_once() {
        let mut prev_hi = None;
        for b in 0..2000u32 {
            let (lo, hi) = bucket_range(b);
            assert!(lo <= hi);
            if let Some(p) = prev_hi {
                assert_eq!(lo, p + 1, "bucket {b} is not contiguous");
            }
            prev_hi = Some(hi);
            assert_eq!(bucket_of(lo), b);
            assert_eq!(bucket_of(hi), b);
        }
        assert!(bucket_of(u64::MAX) > 2000);
    }

    #[test]
    fn percentiles_are_within_the_bucket_precision() {
        let mut h = Histogram::default();
        for us in 1..=100_000u64 {
            h.record_us(us);
        }
        for (p, exact) in [(50.0, 50_000.0), (90.0, 90_000.0), (99.0, 99_000.0)] {
            let got = h.percentile_us(p).map(|v| v as f64);
            let err = (got.unwrap_or(0.0) - exact).abs() / exact;
            assert!(err < 0.016, "p{p}: {got:?} vs {exact}");
        }
        assert_eq!(h.percentile_us(100.0), Some(100_000));
        assert_eq!(h.max_us(), Some(100_000));
        assert_eq!(h.count(), 100_000);
        let s = h.summary_ms();
        assert_eq!(s.max, Some(100.0));
        assert_eq!(s.mean, Some(50.001));
    }

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::default();
        for us in [4, 1, 3, 2] {
            h.record_us(us);
        }
        assert_eq!(h.percentile_us(50.0), Some(2));
        assert_eq!(h.percentile_us(75.0), Some(3));
        assert_eq!(h.percentile_us(99.0), Some(4));
        assert_eq!(h.percentile_us(1.0), Some(1));
        assert_eq!(Histogram::default().percentile_us(50.0), None);
        assert_eq!(Histogram::default().summary_ms().p50, None);
    }

    #[test]
    fn merging_equals_recording_everything_in_one() {
        let mut all = Histogram::default();
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for i in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let us = x % 2_000_000;
            all.record_us(us);
            if i % 3 == 0 {
                a.record_us(us)
            } else {
                b.record_us(us)
            }
        }
        let mut merged = Histogram::default();
        merged.merge(&a);
        merged.merge(&Histogram::default());
        merged.merge(&b);
        assert_eq!(merged, all);
        // And through JSON, as workers send them.
        let json = serde_json::to_string(&a).unwrap_or_default();
        let back: Histogram = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, a);
    }
}
