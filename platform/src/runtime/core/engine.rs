//! The one wasmtime `Engine` of the platform, its `Linker`, the epoch ticker and the
//! compiled-code cache. This is the only place that chooses wasmtime features.
//!
//! Invariant: a component is compiled at most once per content digest and engine build;
//! the result is kept on disk (`<data dir>/cache`) and in memory as a ready `*Pre`.
//!
//! Two tiers. Cranelift's optimised code is what runs and what the cache keeps. A heavy
//! component (at least [`BASELINE_FIRST_BYTES`]) that no cache has yet is first compiled
//! with Winch, wasmtime's baseline compiler, on an engine of its own: about three times
//! faster to compile, slower to run. It serves at once while Cranelift compiles in the
//! background; from then on every new instance (every request of a service, every run
//! of a command) uses Cranelift's code, and the cache has it for every later start. The
//! background compile runs on threads of its own below the guests' priority: it never takes
//! a core a running guest wants.

use super::cpu::{self, GUEST_NICE, Scheduler};
use super::host::Host;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
    RegallocAlgorithm, Strategy,
};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// How often the epoch advances. A running guest yields to the scheduler once per tick, so
/// this is the longest slice of guest code (see `cpu.rs`): how long a busy guest can hold a
/// slot before other containers waiting for one get a turn.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Instances alive at once across the platform (requests in flight plus running commands).
const POOL_INSTANCES: u32 = 1_000;
/// Largest linear memory any guest may reach; per-container caps are set by `StoreLimits`.
const POOL_MAX_MEMORY: usize = 4 << 30;
/// When an instance ends, up to this much of the memory it wrote is copied back to its
/// initial contents in place (found with Linux's PAGEMAP_SCAN where the kernel has it, 6.7+)
/// instead of being handed back to the kernel with `madvise`: no TLB shootdown on every core
/// and no page faults for the next instance in the slot. Anything beyond is given back. So a
/// slot holds at most this much resident memory between requests.
const POOL_KEEP_RESIDENT: usize = 1 << 20;
/// The same for tables (a guest's function tables, filled in lazily as it calls through them).
const POOL_TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// Niceness of the threads that compile optimised code in the background: below the guests'
/// ([`GUEST_NICE`]), so that while it runs a guest that wants a core gets it (about three
/// quarters of a contended one); on an idle machine it has every core.
pub const BACKGROUND_NICE: libc::c_int = GUEST_NICE + 5;

/// Components this large or larger that are in no cache yet run on Winch's code first
/// (the Python and JavaScript runtimes are 12–40 MB; the Rust guests under 1 MB).
pub const BASELINE_FIRST_BYTES: usize = 4 << 20;

/// What a component is, told by what it exports (DESIGN.md §4).
#[derive(Clone)]
pub enum Workload {
    Command(Tiered<CommandPre<Host>>),
    Service(Tiered<ProxyPre<Host>>),
}

/// A component's ready code: Winch's first when that is all there is yet, then Cranelift's
/// once the background compile has it. Take [`Tiered::current`] once per instance: a store
/// and the instance in it come from one engine.
pub struct Tiered<P> {
    first: P,
    /// Whether `first` is Winch's code.
    baseline: bool,
    /// Cranelift's code, set once by the background compile.
    optimized: Arc<OnceLock<P>>,
}

impl<P: Clone> Clone for Tiered<P> {
    fn clone(&self) -> Self {
        Tiered {
            first: self.first.clone(),
            baseline: self.baseline,
            optimized: self.optimized.clone(),
        }
    }
}

impl<P> Tiered<P> {
    fn new(first: P, baseline: bool) -> Self {
        Tiered {
            first,
            baseline,
            optimized: Arc::new(OnceLock::new()),
        }
    }

    /// The best code there is now.
    pub fn current(&self) -> &P {
        self.optimized.get().unwrap_or(&self.first)
    }

    /// Whether new instances still get the baseline compiler's code.
    pub fn is_baseline(&self) -> bool {
        self.baseline && self.optimized.get().is_none()
    }
}

impl Workload {
    /// Makes `optimized`'s code the code of every later instance of this workload; `false`
    /// when it is not the same kind of workload.
    fn take_optimized(&self, optimized: Workload) -> bool {
        match (self, optimized) {
            (Workload::Command(t), Workload::Command(o)) => {
                let _ = t.optimized.set(o.first);
                true
            }
            (Workload::Service(t), Workload::Service(o)) => {
                let _ = t.optimized.set(o.first);
                true
            }
            _ => false,
        }
    }
}

pub struct Loaded {
    pub digest: String,
    pub workload: Workload,
    /// `true` when the compiled code came from the cache, not the compiler.
    pub cache_hit: bool,
    pub load_time: Duration,
}

impl Loaded {
    /// Whether new instances still get the baseline compiler's code.
    pub fn is_baseline(&self) -> bool {
        match &self.workload {
            Workload::Command(t) => t.is_baseline(),
            Workload::Service(t) => t.is_baseline(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("the image is not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("the component exports neither wasi:cli/run nor wasi:http/incoming-handler: {0}")]
    NoEntryPoint(String),
    #[error("the compiled-code cache failed: {0}")]
    Cache(String),
}

/// What the compiled-code cache did: loads served from memory or disk, compilations, and
/// the time spent compiling.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub compile_nanos: AtomicU64,
}

pub struct Engines {
    /// Cranelift's engine. Stores are made from the engine of the code they instantiate
    /// (`InstancePre::engine`), which may be Winch's.
    engine: Engine,
    /// Counted by every load.
    pub cache: CacheStats,
    /// Where guest code runs and how the cores are shared (`cpu.rs`).
    pub cpu: Arc<Scheduler>,
    linker: Linker<Host>,
    /// Winch's engine and linker, for the first start of a heavy component, made when the
    /// first one comes; `None` where Winch cannot run (it needs AVX on x86_64, or another
    /// architecture).
    baseline: OnceLock<Option<(Engine, Linker<Host>)>>,
    cache_dir: PathBuf,
    /// Hash of the engine's code-compatibility settings, part of every cache file name.
    compat: u64,
    loaded: Mutex<HashMap<String, Arc<OnceCell<Arc<Loaded>>>>>,
}

/// The threads of the guest pool when not told: one per core the process may use.
pub fn default_guest_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Engines {
    /// The engine, with a guest pool of one thread per core.
    pub fn new(cache_dir: PathBuf) -> anyhow::Result<Arc<Engines>> {
        Self::with_guest_threads(cache_dir, default_guest_threads())
    }

    /// The engine, with a guest pool of `threads` threads (and as many slots).
    pub fn with_guest_threads(cache_dir: PathBuf, threads: usize) -> anyhow::Result<Arc<Engines>> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 4)
            .total_memories(POOL_INSTANCES * 2)
            .total_tables(POOL_INSTANCES * 4)
            .total_stacks(POOL_INSTANCES)
            .max_memory_size(POOL_MAX_MEMORY)
            .linear_memory_keep_resident(POOL_KEEP_RESIDENT)
            .table_keep_resident(POOL_TABLE_KEEP_RESIDENT)
            .pagemap_scan(Enabled::Auto);
        let mut config = Config::new();
        config
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        let linker = linker(&engine)?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        let compat = h.finish();
        std::fs::create_dir_all(&cache_dir)?;
        spawn_ticker(&engine);
        let cpu = Scheduler::new(threads)?;
        Ok(Arc::new(Engines {
            engine,
            cache: CacheStats::default(),
            cpu,
            linker,
            baseline: OnceLock::new(),
            cache_dir,
            compat,
            loaded: Mutex::new(HashMap::new()),
        }))
    }

    /// The ready-to-instantiate component for `digest`, compiling `bytes` only if neither
    /// memory nor the disk cache has it. Concurrent callers for one digest share one load.
    /// The second value is `true` when this call did the load; `false` when the component
    /// was already loaded (or being loaded) for another container.
    pub async fn load(
        self: &Arc<Self>,
        digest: &str,
        bytes: Arc<[u8]>,
    ) -> Result<(Arc<Loaded>, bool), LoadError> {
        let cell = {
            let mut map = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(digest.to_string()).or_default().clone()
        };
        let this = self.clone();
        let digest = digest.to_string();
        let loaded_here = std::sync::atomic::AtomicBool::new(false);
        let loaded = cell
            .get_or_try_init(|| async {
                loaded_here.store(true, std::sync::atomic::Ordering::Relaxed);
                let d = digest.clone();
                tokio::task::spawn_blocking(move || this.load_blocking(&d, bytes))
                    .await
                    .map_err(|e| LoadError::Cache(e.to_string()))?
                    .map(Arc::new)
            })
            .await
            .cloned()?;
        if !loaded_here.load(std::sync::atomic::Ordering::Relaxed) {
            self.cache.hits.fetch_add(1, Relaxed);
        }
        Ok((
            loaded,
            loaded_here.load(std::sync::atomic::Ordering::Relaxed),
        ))
    }

    /// Whether the compiled code of `digest` is loaded and ready to instantiate.
    pub fn is_loaded(&self, digest: &str) -> bool {
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(digest)
            .is_some_and(|cell| cell.initialized())
    }

    fn load_blocking(
        self: &Arc<Self>,
        digest: &str,
        bytes: Arc<[u8]>,
    ) -> Result<Loaded, LoadError> {
        let start = Instant::now();
        let file = self.cache_file(digest);
        let mut cache_hit = false;
        let component = if file.exists() {
            // SAFETY: the file was written by `precompile_component` of an engine with the
            // same compatibility hash (it is in the name), in a directory only we write.
            match unsafe { Component::deserialize_file(&self.engine, &file) } {
                Ok(c) => {
                    cache_hit = true;
                    self.cache.hits.fetch_add(1, Relaxed);
                    Some(c)
                }
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "discarding unreadable cache entry");
                    None
                }
            }
        } else {
            None
        };
        let baseline = if component.is_none() && bytes.len() >= BASELINE_FIRST_BYTES {
            self.baseline_first(digest, &bytes)
        } else {
            None
        };
        let workload = match (baseline, component) {
            (Some(workload), _) => workload,
            (None, Some(cached)) => self.workload(&self.linker, &cached, false)?,
            (None, None) => self.workload(&self.linker, &self.optimize(digest, &bytes)?, false)?,
        };
        Ok(Loaded {
            digest: digest.to_string(),
            workload,
            cache_hit,
            load_time: start.elapsed(),
        })
    }

    fn cache_file(&self, digest: &str) -> PathBuf {
        self.cache_dir.join(format!(
            "{}-{:016x}.cwasm",
            digest.trim_start_matches("sha256:"),
            self.compat
        ))
    }

    /// Cranelift's code for `bytes`, compiled now and written to the cache.
    fn optimize(&self, digest: &str, bytes: &[u8]) -> Result<Component, LoadError> {
        let compiling = Instant::now();
        let code = self
            .engine
            .precompile_component(bytes)
            .map_err(|e| LoadError::NotAComponent(format!("{e:#}")))?;
        let nanos = u64::try_from(compiling.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.cache.misses.fetch_add(1, Relaxed);
        self.cache.compile_nanos.fetch_add(nanos, Relaxed);
        let file = self.cache_file(digest);
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &code)
            .and_then(|_| std::fs::rename(&tmp, &file))
            .map_err(|e| LoadError::Cache(e.to_string()))?;
        // SAFETY: `code` was produced by this very engine a moment ago.
        unsafe { Component::deserialize(&self.engine, &code) }
            .map_err(|e| LoadError::Cache(format!("{e:#}")))
    }

    /// Winch's code for `bytes`, ready now, with Cranelift's compiled on a thread of its
    /// own and swapped in when done. `None` when Winch cannot compile it (a wasm feature
    /// it lacks): then Cranelift's is the first.
    pub(super) fn baseline_first(
        self: &Arc<Self>,
        digest: &str,
        bytes: &Arc<[u8]>,
    ) -> Option<Workload> {
        let (engine, linker) = self.baseline.get_or_init(baseline_engine).as_ref()?;
        let compiling = Instant::now();
        let component = match Component::new(engine, bytes) {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(%digest, error = %format!("{e:#}"), "the baseline compiler declined; compiling optimised code first");
                return None;
            }
        };
        let nanos = u64::try_from(compiling.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.cache.compile_nanos.fetch_add(nanos, Relaxed);
        let workload = self.workload(linker, &component, true).ok()?;
        let (this, first) = (self.clone(), workload.clone());
        let (digest, bytes) = (digest.to_string(), bytes.clone());
        let spawned = std::thread::Builder::new()
            .name("waci-optimize".into())
            .spawn(move || {
                cpu::set_nice(BACKGROUND_NICE);
                let compile = || {
                    this.optimize(&digest, &bytes)
                        .and_then(|c| this.workload(&this.linker, &c, false))
                };
                // On the background pool, wasmtime's parallel compile runs on its threads.
                let optimized = match background_pool() {
                    Some(pool) => pool.install(compile),
                    None => compile(),
                };
                match optimized.map(|o| first.take_optimized(o)) {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(%digest, "optimised code exports another world"),
                    Err(e) => tracing::warn!(%digest, error = %e, "optimising compile failed; the baseline code stays"),
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no thread for the optimising compile");
        }
        Some(workload)
    }

    /// What `component` is, ready to instantiate with `linker`'s imports.
    fn workload(
        &self,
        linker: &Linker<Host>,
        component: &Component,
        baseline: bool,
    ) -> Result<Workload, LoadError> {
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| LoadError::NoEntryPoint(format!("{e:#}")))?;
        Ok(match ProxyPre::new(pre.clone()) {
            Ok(p) => Workload::Service(Tiered::new(p, baseline)),
            Err(_) => Workload::Command(Tiered::new(
                CommandPre::new(pre).map_err(|e| LoadError::NoEntryPoint(format!("{e:#}")))?,
                baseline,
            )),
        })
    }
}

/// The threads of background compiles, one per core, at [`BACKGROUND_NICE`]: a compile run
/// in it (`install`) does its parallel work here, not on the pool of compiles a start is
/// waiting for. `None` if the threads cannot be made: the compile then runs on the caller's.
fn background_pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(default_guest_threads())
            .thread_name(|i| format!("waci-optimize-{i}"))
            .start_handler(|_| cpu::set_nice(BACKGROUND_NICE))
            .build()
            .map_err(|e| tracing::warn!(error = %e, "no threads for background compiles"))
            .ok()
    })
    .as_ref()
}

/// Winch's engine and its linker, or `None` where Winch cannot run. It allocates on demand:
/// it serves a component only until Cranelift's code is there. Its guests yield and are cut
/// on the same epochs.
///
/// Winch compiles the functions; the trampolines between host and guest (one per function
/// a guest can call through a table or an export: thousands in CPython) it leaves to
/// Cranelift, and those it takes unoptimised and with the single-pass register allocator:
/// about a fifth less time for the Python runtime, on code that serves for seconds. Nor does
/// it write native unwind tables (`.eh_frame`) for that code: only a native debugger or
/// profiler reads them; wasmtime's own backtraces and traps walk frame pointers.
fn baseline_engine() -> Option<(Engine, Linker<Host>)> {
    let made = (|| {
        let mut config = Config::new();
        config
            .strategy(Strategy::Winch)
            .cranelift_opt_level(OptLevel::None)
            .cranelift_regalloc_algorithm(RegallocAlgorithm::SinglePass)
            .native_unwind_info(false)
            .epoch_interruption(true);
        let engine = Engine::new(&config)?;
        let linker = linker(&engine)?;
        anyhow::Ok((engine, linker))
    })();
    match made {
        Ok((engine, linker)) => {
            spawn_ticker(&engine);
            Some((engine, linker))
        }
        Err(e) => {
            tracing::info!(error = %format!("{e:#}"), "no baseline compiler here; every component compiles optimised code first");
            None
        }
    }
}

/// The platform's imports for guests of `engine`: WASI 0.2, wasi:http and waci's sockets.
fn linker(engine: &Engine) -> anyhow::Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    super::net::sockets::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// One ticker thread per engine (a ticker per store costs orders of magnitude of
/// throughput). It holds only a weak handle and ends when the engine is gone.
fn spawn_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("waci-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}
