//! A lock-free latency histogram: fixed bucket bounds, one atomic per bucket and an atomic
//! sum, so recording from hundreds of worker threads never takes a lock.
//!
//! Owns recording and a consistent-enough snapshot; the text format is `text.rs`'s job.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds in nanoseconds: 1 ms to 30 s, the span from a cached health check to a
/// Bedrock call that exhausts its retries.
pub const BOUNDS_NS: [u64; 14] = [
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
    30_000_000_000,
];

/// Counts per bucket (the last one is +Inf) and the sum of all observations.
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS_NS.len() + 1],
    sum_ns: AtomicU64,
}

/// A copy of a histogram's state, with cumulative bucket counts as the format wants.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Cumulative counts, one per bound in [`BOUNDS_NS`], then +Inf (= the total count).
    pub cumulative: Vec<u64>,
    /// Sum of the observations, in seconds.
    pub sum_seconds: f64,
}

impl Histogram {
    /// An empty histogram (const, so histograms can live in statics).
    pub const fn new() -> Histogram {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; BOUNDS_NS.len() + 1],
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let i = BOUNDS_NS
            .iter()
            .position(|&b| ns <= b)
            .unwrap_or(BOUNDS_NS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// The current state; `_count` is taken from the buckets so the two always agree.
    pub fn snapshot(&self) -> Snapshot {
        let mut total = 0;
        let cumulative = self
            .buckets
            .iter()
            .map(|b| {
                total += b.load(Relaxed);
                total
            })
            .collect();
        Snapshot {
            cumulative,
            sum_seconds: self.sum_ns.load(Relaxed) as f64 / 1e9,
        }
    }

    /// True when nothing was recorded (such series are left out of the exposition).
    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(|b| b.load(Relaxed) == 0)
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::new();
        assert!(h.is_empty());
        h.observe(Duration::from_micros(500)); // ≤ 1 ms
        h.observe(Duration::from_millis(1)); // exactly on a bound: that bucket
        h.observe(Duration::from_millis(30)); // ≤ 50 ms
        h.observe(Duration::from_secs(60)); // +Inf
        let s = h.snapshot();
        assert_eq!(s.cumulative.len(), BOUNDS_NS.len() + 1);
        assert_eq!(s.cumulative[0], 2);
        assert_eq!(s.cumulative[4], 2, "≤ 25 ms");
        assert_eq!(s.cumulative[5], 3, "≤ 50 ms");
        assert_eq!(s.cumulative[BOUNDS_NS.len() - 1], 3, "≤ 30 s");
        assert_eq!(*s.cumulative.last().unwrap(), 4);
        assert!((s.sum_seconds - 60.0315).abs() < 1e-9, "{}", s.sum_seconds);
    }
}
