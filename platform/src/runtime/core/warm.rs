//! Warm instance reuse (`instanceReuse: true` on a container): a service's requests are
//! served by a small pool of instances kept between requests, as a long-lived process keeps
//! its memory, instead of a fresh instance per request. Each instance handles one request at
//! a time. An instance is thrown away after a trap, a time-out or a cut, when its
//! container's instances together hold more than its memory cap, and after
//! [`IDLE_TIMEOUT`] without a request. The pool grows under load up to
//! [`Warm::bound`] instances; a request beyond it waits for a free instance (within its
//! time limit) rather than fail.

use super::host::{Host, Sandbox};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::Proxy;

/// A warm instance unused this long is thrown away (its memory given back).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Warm instances per core of the container's CPU (its limit, else its request)...
const PER_CORE: f64 = 4.0;
/// ...and never fewer than this.
const MIN_INSTANCES: usize = 1;

/// One instance and its store, between requests.
pub struct Instance {
    pub store: Store<Host>,
    pub proxy: Proxy,
    used: Instant,
}

/// The warm instances of one service container.
pub struct Warm {
    idle: Mutex<Vec<Instance>>,
    /// One permit per instance the pool may hold, idle or busy.
    slots: Arc<Semaphore>,
    bound: usize,
    /// The container's memory cap: its instances together stay under it once idle.
    memory_cap: u64,
}

/// A request's claim on the pool: an idle instance if there was one (else the request makes
/// a fresh one), and the permit that counts it among the pool's instances until it ends.
pub struct Lease {
    pub instance: Option<Instance>,
    permit: OwnedSemaphorePermit,
}

impl Warm {
    /// The pool of a container that asks for `cpu` cores and `memory_cap` bytes.
    pub fn new(cpu: f64, memory_cap: u64) -> Warm {
        let bound = ((cpu * PER_CORE).ceil() as usize).max(MIN_INSTANCES);
        Warm {
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(bound)),
            bound,
            memory_cap,
        }
    }

    /// How many instances the pool may hold at once.
    pub fn bound(&self) -> usize {
        self.bound
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for a free place in the pool: the most recently used idle instance (its caches
    /// the warmest), or room for a fresh one.
    pub async fn lease(&self) -> Lease {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed");
        let instance = {
            let mut idle = self.idle();
            let now = Instant::now();
            idle.retain(|i| now.duration_since(i.used) < IDLE_TIMEOUT);
            idle.pop()
        };
        Lease { instance, permit }
    }

    /// Keeps `instance` for the next request, after a request it answered and returned from,
    /// unless the container's instances together hold more than its memory cap. `sandbox`
    /// counts that memory.
    pub fn give_back(&self, lease: Lease, store: Store<Host>, proxy: Proxy, sandbox: &Sandbox) {
        let Lease { permit, .. } = lease;
        if sandbox.stats.memory_bytes() > self.memory_cap {
            // Dropped here: its memory goes back before another request takes its place.
            drop((store, proxy));
            drop(permit);
            return;
        }
        self.idle().push(Instance {
            store,
            proxy,
            used: Instant::now(),
        });
        drop(permit);
    }

    /// Throws away the instances idle longer than [`IDLE_TIMEOUT`]; how many are left.
    pub fn sweep(&self) -> usize {
        let mut idle = self.idle();
        let now = Instant::now();
        idle.retain(|i| now.duration_since(i.used) < IDLE_TIMEOUT);
        idle.len()
    }

    /// How many instances wait for a request now.
    pub fn idle_count(&self) -> usize {
        self.idle().len()
    }

    /// Sweeps `warm` now and then until `stopping`, then throws away every idle instance,
    /// so a stopped container's memory goes back at once.
    pub async fn keep_swept(warm: Weak<Warm>, stopping: CancellationToken) {
        loop {
            tokio::select! {
                _ = stopping.cancelled() => break,
                _ = tokio::time::sleep(IDLE_TIMEOUT / 10) => {}
            }
            let Some(w) = warm.upgrade() else {
                return;
            };
            w.sweep();
        }
        if let Some(w) = warm.upgrade() {
            w.idle().clear();
        }
    }
}
