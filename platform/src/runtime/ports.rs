//! The groups' bound ports. A port belongs to its group, not to one generation of it: an
//! update's new generation takes over the ports its predecessor bound (pointing each at its
//! own service) before the predecessor stops, so the group's IP never refuses a connection
//! and no request in flight is cut. A port the new spec no longer has is closed once the new
//! generation serves; a stop or delete closes them all.

use super::core::service::{self, Service, Target};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

struct Bound {
    /// The newest generation that serves on this port.
    generation: i64,
    target: Arc<Target>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Bound {
    /// Stops accepting; open connections finish their current request within the drain grace.
    async fn close(self) {
        self.cancel.cancel();
        let _ = self.task.await;
    }
}

/// What became of a service's port at start.
pub(super) enum Claim {
    /// An older generation had it bound: it serves this generation's service from now on.
    TakenOver,
    /// A newer generation serves it already; this one is superseded.
    Newer,
    /// Not bound yet: the caller binds it and hands it to [`Ports::serve`].
    Free,
}

/// Every group's bound ports: group id → address → the port.
#[derive(Default)]
pub(super) struct Ports(Mutex<HashMap<i64, HashMap<SocketAddr, Bound>>>);

impl Ports {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, HashMap<SocketAddr, Bound>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Points a port an older generation of `group` bound at `service` of `generation`.
    pub(super) fn claim(
        &self,
        group: i64,
        generation: i64,
        addr: SocketAddr,
        service: &Arc<Service>,
    ) -> Claim {
        let mut all = self.lock();
        let Some(bound) = all.get_mut(&group).and_then(|g| g.get_mut(&addr)) else {
            return Claim::Free;
        };
        if bound.generation > generation {
            return Claim::Newer;
        }
        bound.generation = generation;
        bound.target.set(service.clone());
        Claim::TakenOver
    }

    /// Serves `service` of `generation` on `listener` until the port is closed. Returns
    /// false (and drops the listener) when a newer generation already serves the address.
    pub(super) fn serve(
        &self,
        group: i64,
        generation: i64,
        listener: TcpListener,
        service: &Arc<Service>,
        span: tracing::Span,
    ) -> bool {
        let Ok(addr) = listener.local_addr() else {
            return false;
        };
        let mut all = self.lock();
        let ports = all.entry(group).or_default();
        if ports.get(&addr).is_some_and(|b| b.generation > generation) {
            return false;
        }
        let target = Target::new(service.clone());
        let cancel = CancellationToken::new();
        let serving = service::accept_loop(listener, target.clone(), cancel.clone());
        let task = tokio::spawn(serving.instrument(span));
        let stale = ports.insert(
            addr,
            Bound {
                generation,
                target,
                cancel,
                task,
            },
        );
        if let Some(stale) = stale {
            tokio::spawn(stale.close());
        }
        true
    }

    /// Closes the ports of `group` that no generation from `generation` on serves: they stop
    /// accepting now, and their open connections finish their current request within the
    /// drain grace.
    pub(super) fn close_older(&self, group: i64, generation: i64) {
        let mut all = self.lock();
        let Some(ports) = all.get_mut(&group) else {
            return;
        };
        let addrs: Vec<SocketAddr> = ports
            .iter()
            .filter(|(_, b)| b.generation < generation)
            .map(|(a, _)| *a)
            .collect();
        for stale in addrs.iter().filter_map(|a| ports.remove(a)) {
            stale.cancel.cancel();
            tokio::spawn(stale.close());
        }
        if ports.is_empty() {
            all.remove(&group);
        }
    }

    /// Stops accepting on every port of `group` at once and returns what waits for them to
    /// close.
    pub(super) fn close_group(&self, group: i64) -> impl Future<Output = ()> + use<> {
        Self::closing(
            self.lock()
                .remove(&group)
                .map(|p| p.into_values().collect())
                .unwrap_or_default(),
        )
    }

    /// [`Ports::close_group`] for every group (platform shutdown).
    pub(super) fn close_all(&self) -> impl Future<Output = ()> + use<> {
        Self::closing(
            self.lock()
                .drain()
                .flat_map(|(_, p)| p.into_values())
                .collect(),
        )
    }

    /// Stops accepting on every one of `ports` now; the future waits until they are closed.
    fn closing(ports: Vec<Bound>) -> impl Future<Output = ()> + use<> {
        for p in &ports {
            p.cancel.cancel();
        }
        async move {
            futures::future::join_all(ports.into_iter().map(Bound::close)).await;
        }
    }
}
