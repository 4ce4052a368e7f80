//! The runtime core: the engine, a container's sandbox, serving one service request and
//! running one command (with its output in the logs, or on an exec's console). It is what runs a guest and nothing more, so the same core serves
//! `waci serve` (under the supervisor, which records states in the store) and a Kubernetes
//! containerd shim (which writes a CRI log file instead).
//!
//! **Invariant:** the core needs no store, SQLite, control API or registry: nothing here
//! imports `crate::store`, `crate::logs`, `crate::api` or `crate::registry`. Guest output
//! leaves through [`LogSink`], which the platform's log hub implements; the supervisor
//! (`runtime::supervisor`) sits on top and is the only part of `runtime` that knows the store.

pub mod command;
pub mod console;
pub mod cpu;
pub mod engine;
pub mod host;
pub mod net;
mod outgoing;
pub mod probe;
pub mod service;
pub mod stats;
mod stdio;
pub mod warm;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long open connections of a stopped service may finish their current request, and how
/// long a request's guest still running at a stop may go on before it is cut.
pub const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// An output stream of a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Where the output of guests goes: the platform's log hub, or a log file of a shim.
pub trait LogSink: Send + Sync {
    /// The destination of `stream` of one instance of container `container` in group
    /// `group_id`. Every handle the guest opens on that stream writes through it, in order,
    /// so a line written in pieces stays one line.
    fn open(
        &self,
        group_id: i64,
        container: &Arc<str>,
        stream: Stream,
    ) -> Arc<Mutex<dyn StreamSink>>;

    /// Whether a guest may write now; while `false` the guest's stream is not ready
    /// (back-pressure), so a guest that outruns the sink waits instead of losing output.
    fn has_room(&self) -> bool;

    /// Waits until [`LogSink::has_room`].
    fn wait_for_room(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// One stream of one container instance: these bytes, as the guest wrote them.
pub trait StreamSink: Send {
    /// Takes one write of the guest. Must not block: a guest never waits on storage.
    fn write(&mut self, bytes: &[u8]);
}

#[cfg(test)]
mod tests;
