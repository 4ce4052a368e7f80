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

pub mod api;
pub mod config;
pub mod directory;
pub mod dns;
pub mod frontdoor;
pub mod groups;
pub mod http;
pub mod images;
pub mod logs;
pub mod metrics;
pub mod model;
pub mod portal;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod store;
