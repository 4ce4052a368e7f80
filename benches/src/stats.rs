//! Percentiles of measured durations. Pure arithmetic: no I/O, no clocks.

use std::time::Duration;

/// The nearest-rank percentile `p` (0–100) of `sorted`, which must be ascending and not empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Latencies of one measurement, in milliseconds.
#[derive(Debug, Clone)]
pub struct Latencies {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

impl Latencies {
    /// `None` when nothing was measured.
    pub fn of(samples: &[Duration]) -> Option<Latencies> {
        Self::of_ms(samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect())
    }

    pub fn of_ms(mut ms: Vec<f64>) -> Option<Latencies> {
        if ms.is_empty() {
            return None;
        }
        ms.sort_by(f64::total_cmp);
        Some(Latencies {
            p50: percentile(&ms, 50.0),
            p95: percentile(&ms, 95.0),
            p99: percentile(&ms, 99.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(values: &[f64], p: f64, expected: f64) {
        assert_eq!(percentile(values, p), expected, "p{p} of {values:?}");
    }

    #[test]
    fn nearest_rank() {
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        check(&hundred, 50.0, 50.0);
        check(&hundred, 99.0, 99.0);
        check(&hundred, 100.0, 100.0);
        check(&[7.0], 99.0, 7.0);
        check(&[1.0, 2.0], 50.0, 1.0);
        check(&[1.0, 2.0], 99.0, 2.0);
        check(&[1.0, 2.0, 3.0], 0.0, 1.0);
    }
}
