//! The per-instance host state (`Store<Host>`) and how a container's definition becomes a
//! sandbox: its argv, its env, its stdout/stderr into a [`LogSink`] (whatever stores them),
//! its memory cap, its volumes at their mount paths, its network (`net`: sockets and outgoing
//! HTTP under the egress policy) — and nothing else (no host env, no other file).

use super::console::Console;
use super::net::Network;
use super::outgoing::GuestHttpHooks;
use super::stats::ContainerStats;
use super::stdio::LogOutput;
use super::{LogSink, Stream};
use crate::model::Container;
use std::path::PathBuf;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct Host {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: Limits,
    hooks: GuestHttpHooks,
    /// The container's network, for the `wasi:sockets` functions of `net::sockets`.
    pub(crate) net: Arc<Network>,
}

/// The memory cap of one instance, which also counts the memory it holds into its
/// container's [`ContainerStats`] (at each growth, not per request) and gives it back when
/// the instance ends.
struct Limits {
    cap: StoreLimits,
    stats: Arc<ContainerStats>,
    held: usize,
}

impl ResourceLimiter for Limits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = self.cap.memory_growing(current, desired, maximum)?;
        if ok {
            let grown = desired.saturating_sub(current);
            self.held += grown;
            self.stats
                .add_memory(i64::try_from(grown).unwrap_or(i64::MAX));
        }
        Ok(ok)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.cap.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.cap.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.cap.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.cap.instances()
    }

    fn tables(&self) -> usize {
        self.cap.tables()
    }

    fn memories(&self) -> usize {
        self.cap.memories()
    }
}

impl Drop for Limits {
    fn drop(&mut self) {
        self.stats
            .add_memory(-i64::try_from(self.held).unwrap_or(i64::MAX));
    }
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// A host directory a container sees at `guest_path`.
#[derive(Debug, Clone)]
pub struct Mount {
    pub host_path: PathBuf,
    pub guest_path: String,
    pub read_only: bool,
}

/// What every instance of one container is started with; built once per container start.
/// A clone is the same container's sandbox (same stats, share of the cores and network),
/// which is how an exec run shares the container's limits.
#[derive(Clone)]
pub struct Sandbox {
    pub group_id: i64,
    pub container: Arc<str>,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    memory_cap: usize,
    mounts: Vec<Mount>,
    logs: Arc<dyn LogSink>,
    /// What the guest may reach and bind (the default policy, in no group, unless
    /// [`Sandbox::with_network`]).
    pub net: Arc<Network>,
    /// What the container's instances do, counted (fresh unless [`Sandbox::with_stats`]).
    pub stats: Arc<ContainerStats>,
    /// `requests.cpu` and `limits.cpu`, for [`Sandbox::with_cpu`].
    cpu_request: f64,
    cpu_limit: Option<f64>,
    /// The container's claim on the cores; without one its slices run unscheduled.
    cpu: Option<Arc<super::cpu::Share>>,
}

impl Sandbox {
    pub fn new(
        group_id: i64,
        c: &Container,
        mounts: Vec<Mount>,
        logs: Arc<dyn LogSink>,
        forbidden: Arc<[std::net::SocketAddr]>,
    ) -> Sandbox {
        let argv = if c.command.is_empty() {
            vec![c.name.clone()]
        } else {
            c.command.clone()
        };
        let env = c
            .env
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.secure_value
                        .clone()
                        .or_else(|| e.value.clone())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let memory_cap = usize::try_from(c.memory_cap_bytes()).unwrap_or(usize::MAX);
        Sandbox {
            group_id,
            container: c.name.as_str().into(),
            argv,
            env,
            memory_cap,
            mounts,
            logs,
            net: Arc::new(Network::isolated(c.name.as_str().into(), forbidden)),
            stats: Arc::default(),
            cpu_request: c.requests.cpu,
            cpu_limit: c.limits.cpu,
            cpu: None,
        }
    }

    /// The same sandbox, its slices scheduled by `scheduler` by the container's CPU request
    /// and limit (after [`Sandbox::with_stats`]: the share counts into the sandbox's stats).
    pub fn with_cpu(mut self, scheduler: &Arc<super::cpu::Scheduler>) -> Sandbox {
        self.cpu = Some(super::cpu::Share::new(
            scheduler.clone(),
            self.cpu_request,
            self.cpu_limit,
            self.stats.clone(),
        ));
        self
    }

    /// The container's claim on the cores, if scheduled.
    pub fn cpu(&self) -> Option<&Arc<super::cpu::Share>> {
        self.cpu.as_ref()
    }

    /// `run` (a run of one of its instances) with each slice scheduled by the container's
    /// share and counted into its stats.
    pub fn gate<F: std::future::Future + Unpin>(&self, run: F) -> super::cpu::Gated<F> {
        match &self.cpu {
            Some(share) => share.gate(run),
            None => super::cpu::Gated::ungated(run, self.stats.clone()),
        }
    }

    /// The same sandbox on the network `net` (its group's IP, ports, names and policy).
    pub fn with_network(mut self, net: Network) -> Sandbox {
        self.net = Arc::new(net);
        self
    }

    /// The same sandbox running `argv` (an exec's command) instead of the container's own.
    pub fn with_argv(mut self, argv: Vec<String>) -> Sandbox {
        self.argv = argv;
        self
    }

    /// The container's argv: its `command`, or its name when it has none.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// The same sandbox, counting into `stats` (kept by whoever reports them).
    pub fn with_stats(mut self, stats: Arc<ContainerStats>) -> Sandbox {
        self.stats = stats;
        self
    }

    /// A fresh store for one instance, with its memory cap and an epoch deadline that makes
    /// the guest yield every tick (with epoch interruption on, no deadline means an
    /// immediate trap).
    /// Fails only if a volume's directory cannot be opened.
    pub fn store(&self, engine: &Engine) -> anyhow::Result<Store<Host>> {
        self.store_with(engine, None)
    }

    /// [`Sandbox::store`], with the guest's stdin, stdout and stderr on `console` (an exec
    /// run) instead of no input and output into the logs.
    pub fn store_with(
        &self,
        engine: &Engine,
        console: Option<Console>,
    ) -> anyhow::Result<Store<Host>> {
        let out = |stream| {
            let to = self.logs.open(self.group_id, &self.container, stream);
            LogOutput::new(to, self.logs.clone())
        };
        let mut builder = WasiCtx::builder();
        for m in &self.mounts {
            let perms = if m.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            builder
                .preopened_dir(&m.host_path, &m.guest_path, perms)
                .map_err(|e| anyhow::anyhow!("volume at {} cannot be opened: {e}", m.guest_path))?;
        }
        match console {
            Some(c) => {
                builder
                    .stdin(c.stdin)
                    .stderr(c.stdout.shared())
                    .stdout(c.stdout);
            }
            None => {
                builder
                    .stdout(out(Stream::Stdout))
                    .stderr(out(Stream::Stderr));
            }
        }
        let net = self.net.clone();
        let wasi = builder
            .args(&self.argv)
            .envs(&self.env)
            .allow_tcp(true)
            .allow_udp(true)
            .allow_ip_name_lookup(true)
            .socket_addr_check(move |addr, use_| {
                Box::pin(std::future::ready(net.check(addr, use_)))
            })
            .build();
        let limits = Limits {
            cap: StoreLimitsBuilder::new()
                .memory_size(self.memory_cap)
                .trap_on_grow_failure(true)
                .build(),
            stats: self.stats.clone(),
            held: 0,
        };
        let mut store = Store::new(
            engine,
            Host {
                wasi,
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                limits,
                hooks: GuestHttpHooks {
                    net: self.net.clone(),
                },
                net: self.net.clone(),
            },
        );
        store.limiter(|h| &mut h.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        self.stats
            .instances
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(store)
    }
}
