//! waci: WebAssembly Container Instances. The platform crate: everything `waci serve` runs.
//!
//! - [`model`]: what a container group is; parsing and validation of user input.
//! - [`store`]: SQLite, the truth: groups, containers, events, logs, operations.
//! - [`images`]: image references to component bytes and digests.
//! - [`registry`]: OCI registries: pulls and pushes of components, blobs kept by digest.
//! - [`runtime`]: wasmtime; supervisors that make running groups match the store.
//! - [`logs`]: guest output into the store, and followers woken as it lands.
//! - [`directory`]: published FQDNs → groups, read by [`dns`] and [`frontdoor`].
//! - [`dns`]: the embedded authoritative DNS server (hickory).
//! - [`groups`]: the group operations (put, delete, stop, start, resume): the domain layer
//!   that sequences store, names, runtime and volumes.
//! - [`frontdoor`]: HTTP by `Host` to a group's first port, in-process.
//! - [`http`]: the one accept loop of every listener (timeouts, drain).
//! - [`metrics`]: what `/metrics` shows: the counters the other parts keep, read at scrape.
//! - [`api`]: the ARM-shaped control API (axum).
//! - [`portal`]: the web portal: a page, its styles and scripts, served beside the API.
//! - [`config`], [`server`]: settings and the `serve` entry point.
//!
//! Feature `server` (on by default) is everything but [`model`], [`http`] and `runtime::core`;
//! the containerd shim (`shim/`) builds without it, so it links no SQLite and no API.

#[cfg(feature = "server")]
pub mod api;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
pub mod directory;
#[cfg(feature = "server")]
pub mod dns;
#[cfg(feature = "server")]
pub mod frontdoor;
#[cfg(feature = "server")]
pub mod groups;
pub mod http;
#[cfg(feature = "server")]
pub mod images;
#[cfg(feature = "server")]
pub mod logs;
#[cfg(feature = "server")]
pub mod metrics;
pub mod model;
#[cfg(feature = "server")]
pub mod portal;
#[cfg(feature = "server")]
pub mod registry;
#[cfg(feature = "server")]
pub mod runtime;
/// Without the `server` feature: the runtime core alone, what the containerd shim runs.
#[cfg(not(feature = "server"))]
pub mod runtime {
    pub mod core;
}
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "server")]
pub mod store;
