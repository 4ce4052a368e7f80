//! What a container has done, as plain counters the core keeps while it serves and runs:
//! requests by status class and their latency, instances started, restarts, memory in use,
//! and the time its guests ran.
//! Every update is a relaxed atomic operation (no lock, no allocation, no lookup), so the
//! request path pays a few increments; whoever reports them (the platform's `/metrics`)
//! reads them when asked.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds, in seconds, of the request-latency buckets (a last one is unbounded).
pub const LATENCY_BUCKETS: [f64; 7] = [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10.0];

/// One container's counters, shared by its sandbox, its service and its reporter.
#[derive(Debug, Default)]
pub struct ContainerStats {
    /// Requests answered, by status class: `1xx` at index 0 .. `5xx` at index 4.
    requests: [AtomicU64; 5],
    /// Requests by latency bucket (not cumulative); the last counts those over every bound.
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_micros: AtomicU64,
    /// Instances started: one per service request, one per command run.
    pub instances: AtomicU64,
    /// Runs of a command started again under the restart policy.
    pub restarts: AtomicU64,
    /// Bytes of linear memory held by the container's live instances.
    memory: AtomicI64,
    /// Nanoseconds of CPU the container's guests used: the thread CPU time of each slice
    /// of their runs (guest code and its instantiation).
    busy_nanos: AtomicU64,
    /// Nanoseconds its slices waited because it had used its CPU limit for the period.
    throttled_nanos: AtomicU64,
    /// Times one of its slices was held back by its CPU limit.
    throttles: AtomicU64,
}

/// A latency histogram read at one moment: each bucket's own count (not cumulative: the
/// encoder adds them up), sum and count.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    pub buckets: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl ContainerStats {
    /// Counts one answered request with its status and how long the answer took.
    pub fn record(&self, status: u16, took: Duration) {
        let class = usize::from((status / 100).clamp(1, 5)) - 1;
        self.requests[class].fetch_add(1, Relaxed);
        let secs = took.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency[bucket].fetch_add(1, Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros.fetch_add(micros, Relaxed);
    }

    /// Requests answered with a status of class `class` (1 to 5).
    pub fn requests(&self, class: usize) -> u64 {
        self.requests[class - 1].load(Relaxed)
    }

    /// The latency histogram so far (its count is the sum of its buckets).
    pub fn latency(&self) -> Latency {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len() + 1);
        for (i, n) in self.latency.iter().enumerate() {
            let n = n.load(Relaxed);
            total += n;
            buckets.push((LATENCY_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY), n));
        }
        Latency {
            buckets,
            sum_seconds: self.latency_micros.load(Relaxed) as f64 / 1e6,
            count: total,
        }
    }

    /// Bytes of memory the container's live instances hold now.
    pub fn memory_bytes(&self) -> u64 {
        u64::try_from(self.memory.load(Relaxed)).unwrap_or(0)
    }

    /// Seconds of CPU the container's guests have used.
    pub fn cpu_seconds(&self) -> f64 {
        self.busy_nanos.load(Relaxed) as f64 / 1e9
    }

    /// Seconds its guests waited because they had used their CPU limit, and how many times.
    pub fn throttled(&self) -> (f64, u64) {
        (
            self.throttled_nanos.load(Relaxed) as f64 / 1e9,
            self.throttles.load(Relaxed),
        )
    }

    /// A slice of guest code used `nanos` of CPU.
    pub(super) fn add_cpu_nanos(&self, nanos: u64) {
        self.busy_nanos.fetch_add(nanos, Relaxed);
    }

    /// A slice was held back `wait` by the CPU limit.
    pub(super) fn add_throttled(&self, wait: Duration) {
        let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.throttled_nanos.fetch_add(nanos, Relaxed);
        self.throttles.fetch_add(1, Relaxed);
    }

    /// An instance's memory grew (or, negative, was given back at its end).
    pub(super) fn add_memory(&self, bytes: i64) {
        self.memory.fetch_add(bytes, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_fall_into_classes_and_buckets() {
        let s = ContainerStats::default();
        s.record(200, Duration::from_micros(500));
        s.record(204, Duration::from_millis(3));
        s.record(504, Duration::from_secs(30));
        s.record(99, Duration::ZERO);
        assert_eq!((s.requests(1), s.requests(2), s.requests(5)), (1, 2, 1));
        let l = s.latency();
        assert_eq!(l.count, 4);
        assert_eq!(l.buckets[0], (0.001, 2));
        assert_eq!(l.buckets[1], (0.005, 1));
        assert_eq!(l.buckets.last(), Some(&(f64::INFINITY, 1)));
        assert!((l.sum_seconds - 30.0035).abs() < 1e-9);
    }

    #[test]
    fn cpu_and_throttled_time_add_up() {
        let s = ContainerStats::default();
        assert_eq!(s.cpu_seconds(), 0.0);
        s.add_cpu_nanos(1_500_000_000);
        s.add_cpu_nanos(500_000_000);
        s.add_throttled(Duration::from_millis(250));
        assert_eq!(s.cpu_seconds(), 2.0);
        assert_eq!(s.throttled(), (0.25, 1));
    }
}
