//! The harness of the end-to-end tests and the benchmarks: the real `waci serve` started on
//! port 0 in a data dir of its own, and what a client does with it.
//!
//! Shared with `benches/` (always built):
//! - `serve`: the `waci serve` process, its endpoints and token
//! - `arm`: ARM paths and URLs, one request and its answer, a one-container group body
//! - `json`: the fields of a group's JSON that are read again and again
//! - `wait`: `eventually`, the one way to wait for a condition
//!
//! The tests' own (feature `e2e`, on by default; the benchmarks leave it off and so do not
//! build the platform, WebDriver or SQLite through this crate):
//! - `platform`: `TestPlatform`, the fixture every end-to-end test starts with
//! - `local`: the binary under test, built guests, a free port, a plain HTTP GET
//! - `cli`: the `waci` CLI run as a user's shell would
//! - `dns`: a small DNS client; `browser`: the portal in a real Chromium; `registry`: a real
//!   OCI registry

pub mod arm;
pub mod json;
pub mod serve;
pub mod wait;

#[cfg(feature = "e2e")]
pub mod browser;
#[cfg(feature = "e2e")]
pub mod cli;
#[cfg(feature = "e2e")]
pub mod dns;
#[cfg(feature = "e2e")]
pub mod local;
#[cfg(feature = "e2e")]
pub mod platform;
#[cfg(feature = "e2e")]
pub mod registry;

pub use arm::{API_VERSION, Reply, group_body, hello_http};
pub use json::*;
pub use wait::{eventually, eventually_every};

#[cfg(feature = "e2e")]
pub use cli::{CliRun, run_cli, waci_command};
#[cfg(feature = "e2e")]
pub use local::{free_port, guest, http_get, http_get_as, waci_bin};
#[cfg(feature = "e2e")]
pub use platform::{SUB, TestPlatform};
