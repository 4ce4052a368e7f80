//! One container's life in its own process, which libcontainer has already put inside the
//! container's root, cgroup and namespaces (the pod's network among them): load the
//! component through waci's runtime core, then run it as a command or serve it on the pod's
//! IP, until it ends or containerd stops it. Its sandbox is waci's: the container's args and
//! env from the OCI spec and nothing of the host's env, the spec's volume mounts as its only
//! files, no sockets of its own, its memory capped within the container's limit.

use crate::{container, node, oom, stdio::Stdio};
use anyhow::Context as _;
use containerd_shim_wasm::sandbox::context::{RuntimeContext, Source};
use sha2::{Digest, Sha256};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use waci_platform::model::{Container, EnvVar, ResourceLimits, ResourceRequests};
use waci_platform::runtime::core::command::{Exit, run_once};
use waci_platform::runtime::core::engine::{Engines, Workload};
use waci_platform::runtime::core::host::Sandbox;
use waci_platform::runtime::core::probe::Admission;
use waci_platform::runtime::core::service::{Service, Target, accept_loop};

/// The container env var that says which port a `wasi:http` component answers on.
pub const HTTP_PORT_ENV: &str = "WACI_HTTP_PORT";
/// The port when [`HTTP_PORT_ENV`] is not set: HTTP's own.
pub const DEFAULT_HTTP_PORT: u16 = 80;
/// Time limit of one request, as `waci serve`'s default `--request-timeout`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Of the container's memory limit, what the runtime itself (wasmtime, its code, buffers)
/// may still need beside what it holds when the guest starts: the guest's cap is the limit
/// less both, so a guest over it ends as out of memory instead of the kernel killing the
/// whole process first.
const RUNTIME_HEADROOM: u64 = 32 << 20;
/// A guest's cap when the container has no memory limit: ACI's default of 1.5 GB.
const DEFAULT_MEMORY: u64 = 1536 << 20;
/// A guest's cap is never set below this, however little the limit leaves.
const MIN_MEMORY: u64 = 8 << 20;

/// Runs the container to its end and gives its exit code.
pub async fn container(ctx: &impl RuntimeContext) -> i32 {
    match run(ctx).await {
        Ok(code) => code,
        Err(e) => {
            // In the container's log, where `kubectl logs` shows why it did not run.
            eprintln!("waci: {e:#}");
            1
        }
    }
}

async fn run(ctx: &impl RuntimeContext) -> anyhow::Result<i32> {
    let entry = ctx.entrypoint();
    let name = entry.name.clone().unwrap_or_else(|| "container".into());
    let (bytes, digest) = match &entry.source {
        // The CNCF Wasm artifact's `application/wasm` layer, read from containerd's store.
        Source::Oci([layer]) => (layer.layer.clone(), layer.config.digest().to_string()),
        // A `.wasm` file in the image's ordinary tar layers, named by the entrypoint.
        source => {
            let bytes = source
                .as_bytes()
                .with_context(|| format!("reading the component {:?}", entry.arg0))?
                .into_owned();
            let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
            (bytes, digest)
        }
    };
    let cache = node::cache_dir().unwrap_or_else(|| {
        let dir = std::env::temp_dir().join("waci-cache");
        log::info!(
            "the node's compiled-code cache is not this container's to write; compiling into {}",
            dir.display()
        );
        dir
    });
    let engines = Engines::new(cache).context("starting the engine")?;
    let (loaded, _) = engines.load(&digest, bytes.into()).await?;
    let took = loaded.load_time.as_secs_f64() * 1e3;
    if loaded.cache_hit {
        log::info!("component {digest} loaded from the node's compiled-code cache in {took:.1} ms");
    } else {
        log::info!("component {digest} compiled in {took:.1} ms");
    }

    let spec = Container {
        name,
        image: digest,
        command: ctx.args().to_vec(),
        ports: Vec::new(),
        env: env_vars(ctx.envs()),
        requests: ResourceRequests {
            cpu: 1.0,
            memory_gb: gb(DEFAULT_MEMORY),
        },
        limits: ResourceLimits {
            cpu: None,
            memory_gb: Some(gb(guest_cap())),
        },
        volume_mounts: Vec::new(),
        instance_reuse: false,
        liveness_probe: None,
        readiness_probe: None,
        security_context: None,
    };
    let sandbox = Sandbox::new(
        0,
        &spec,
        container::volumes(),
        Arc::new(Stdio),
        Arc::from([]),
    );
    let stop = stop_on_signal();

    match &loaded.workload {
        Workload::Command(pre) => {
            let exit = run_once(&engines, pre.current(), &sandbox, &stop, None).await;
            match &exit {
                Exit::Code(_) => {}
                Exit::OutOfMemory => {
                    eprintln!("waci: the container ran out of memory (OOMKilled)");
                    oom::report();
                }
                other => eprintln!("waci: {}", other.detail_status()),
            }
            Ok(exit.exit_code())
        }
        Workload::Service(pre) => {
            let port = http_port(ctx.envs())?;
            let addr = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr} in the pod"))?;
            log::info!("serving wasi:http on {addr}");
            let service = Arc::new(Service {
                engines: engines.clone(),
                pre: pre.clone(),
                sandbox,
                request_timeout: REQUEST_TIMEOUT,
                // One request's failure (out of memory included) is that request's 5xx and
                // a line in the log; the container goes on serving, so it is no OOM of the
                // container's.
                on_failure: Box::new(|exit| {
                    eprintln!("waci: a request failed: {}", exit.detail_status());
                }),
                stopping: stop.clone(),
                runs: TaskTracker::new(),
                reuse: None,
                // Kubelet runs a Pod's probes and keeps traffic from it until it is ready.
                admission: Admission::open(),
            });
            accept_loop(listener, Target::new(service.clone()), stop).await;
            service.runs.close();
            service.runs.wait().await;
            Ok(0)
        }
    }
}

/// The guest's memory cap: the container's limit less what the runtime holds now and
/// [`RUNTIME_HEADROOM`]; [`DEFAULT_MEMORY`] without a limit.
fn guest_cap() -> u64 {
    match container::memory_limit() {
        Some(limit) => limit
            .saturating_sub(container::resident_bytes())
            .saturating_sub(RUNTIME_HEADROOM)
            .max(MIN_MEMORY),
        None => DEFAULT_MEMORY,
    }
}

fn gb(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1u32 << 30)
}

/// `K=V` pairs of the OCI spec as the core's env vars.
fn env_vars(envs: &[String]) -> Vec<EnvVar> {
    envs.iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            EnvVar {
                name: k.into(),
                value: Some(v.into()),
                secure_value: None,
            }
        })
        .collect()
}

/// The port from [`HTTP_PORT_ENV`], else [`DEFAULT_HTTP_PORT`]; a value that is not a port
/// stops the container with that message rather than serving somewhere unexpected.
fn http_port(envs: &[String]) -> anyhow::Result<u16> {
    let prefix = format!("{HTTP_PORT_ENV}=");
    match envs.iter().rev().find_map(|kv| kv.strip_prefix(&prefix)) {
        None => Ok(DEFAULT_HTTP_PORT),
        Some(v) => v
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .with_context(|| format!("{HTTP_PORT_ENV}={v:?} is not a port (1-65535)")),
    }
}

/// Cancelled at SIGTERM or SIGINT, as containerd stops a container. The process is PID 1 of
/// its PID namespace, which the kernel spares from every signal it has no handler for.
fn stop_on_signal() -> CancellationToken {
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        token.cancel();
    });
    stop
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(kvs: &[&str]) -> Vec<String> {
        kvs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_port_comes_from_the_env_else_80() {
        assert_eq!(http_port(&env(&["PATH=/bin"])).unwrap(), 80);
        assert_eq!(http_port(&env(&["WACI_HTTP_PORT=8080"])).unwrap(), 8080);
        for bad in [
            "WACI_HTTP_PORT=0",
            "WACI_HTTP_PORT=http",
            "WACI_HTTP_PORT=70000",
        ] {
            let e = http_port(&env(&[bad])).unwrap_err().to_string();
            assert!(e.contains("is not a port"), "{bad}: {e}");
        }
    }

    #[test]
    fn env_pairs_split_at_the_first_equals() {
        let vars = env_vars(&env(&["A=1", "B=x=y", "C"]));
        let got: Vec<(&str, &str)> = vars
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(got, [("A", "1"), ("B", "x=y"), ("C", "")]);
    }
}
