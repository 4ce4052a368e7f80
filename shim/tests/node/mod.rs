//! The node of the shim's tests: `waci-node` with this package's shim binary and the guests
//! its build left beside it.

pub use waci_node::*;

use std::path::{Path, PathBuf};

/// This package's `containerd-shim-waci-v1`, as cargo built it for the tests.
const SHIM: &str = env!("CARGO_BIN_EXE_containerd-shim-waci-v1");

/// A node whose `waci` runtime is this package's shim, or the `containerd-shim-waci-v1` that
/// `WACI_SHIM_BIN` names (a copy, when other builds share the target dir).
pub async fn start() -> TestNode {
    let shim = std::env::var_os("WACI_SHIM_BIN").map_or_else(|| PathBuf::from(SHIM), PathBuf::from);
    TestNode::start(&shim).await
}

/// A guest component of the same build as the shim.
pub fn guest(name: &str) -> Vec<u8> {
    waci_node::guest(Path::new(SHIM).parent().expect("target/<profile>"), name)
}
