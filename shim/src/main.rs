//! `containerd-shim-waci-v1`: runs waci's containers on a Kubernetes node. kubelet asks
//! containerd (CRI) for a pod with `runtimeClassName: waci`; containerd starts this shim for
//! the runtime `io.containerd.waci.v1`, and the shim runs each of the pod's containers with
//! waci's runtime core and sandbox, as `waci serve` runs them (docs/kubernetes.md).
//!
//! containerd-shim-wasm does the containerd side (the task API, the container's root, cgroup
//! and namespaces through libcontainer, the pod's native pause container); this crate is what
//! runs inside a container's process:
//! - `run`: load the component and run it as a command or serve it on the pod's IP.
//! - `container`: what the process learns about its container (volumes, memory limit).
//! - `stdio`: guest output into the container's stdout and stderr (the CRI log file).
//! - `node`: the node's compiled-code cache, opened before any container exists.
//! - `oom`: the `/tasks/oom` event for a guest over its memory cap.
//!
//! It links waci's runtime core alone (`waci-platform` without its `server` feature): no
//! store, no SQLite, no API.

mod container;
mod node;
mod oom;
mod run;
mod stdio;

use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::sandbox::context::RuntimeContext;
use containerd_shim_wasm::shim::{Cli, Config, Shim, Version, version};

/// The shim: its name makes containerd's runtime `io.containerd.waci.v1`.
struct WaciShim;

impl Shim for WaciShim {
    fn name() -> &'static str {
        "waci"
    }

    fn version() -> Version {
        version!()
    }

    type Sandbox = WaciSandbox;
}

/// One container, as containerd-shim-wasm hands it over inside the container's process.
#[derive(Default)]
struct WaciSandbox;

impl Sandbox for WaciSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> anyhow::Result<i32> {
        Ok(run::container(ctx).await)
    }
}

fn main() {
    // Both before containerd-shim-wasm starts: every container process is forked from the
    // shim's process after this, and inherits what is opened here.
    node::open_cache();
    oom::listen();
    WaciShim::run(Config::default());
}
