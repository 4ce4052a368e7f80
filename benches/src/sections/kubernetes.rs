//! Kubernetes: pods on a node without kubelet (`waci-node`, the shim's test node: a private
//! containerd driven through CRI as kubelet drives it), hello-http on the `waci` shim beside
//! containerd's `runc` running the same page as a native program (`benches/hello-native`).
//! For each runtime, N pods one after another, each left running: `RunPodSandbox` (and the
//! `PodSandboxStatus` that gives its IP, as kubelet asks), `CreateContainer` +
//! `StartContainer`, then the first 200 from the pod's IP. With all N running, the PSS of
//! every process of each pod (its shim and everything the shim started), over N.

use crate::Ctx;
use crate::probe::{self, Pace};
use crate::report::{Better::*, Report, value};
use crate::stats::Latencies;
use crate::waci::pss;
use anyhow::Context;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use waci_node::{HANDLER, Image, RUNC_HANDLER, TestNode, container_config, wasm_image};

const S: &str = "kubernetes";
const COMPONENT_IMAGE: &str = "docker.io/waci/hello-http:bench";
const NATIVE_IMAGE: &str = "docker.io/waci/hello-native:bench";
/// Where both serve: the shim's default for a component without `WACI_HTTP_PORT`, and the
/// native program's.
const PORT: u16 = 80;
const FIRST_200_TIMEOUT: Duration = Duration::from_secs(60);

/// What the measuring task needs, owned: it runs on a task of its own (see [`run`]).
struct Plan {
    shim: PathBuf,
    native: PathBuf,
    component: PathBuf,
    pods: usize,
}

/// One pod's start, phase by phase.
struct PodStart {
    /// `RunPodSandbox`, then `PodSandboxStatus` for its IP.
    sandbox: Duration,
    /// `CreateContainer` + `StartContainer`.
    container: Duration,
    /// From `StartContainer`'s answer to the first 200.
    first_200: Duration,
}

/// One phase of a pod's start, read from its times.
type Phase = fn(&PodStart) -> Duration;

impl PodStart {
    fn total(&self) -> Duration {
        self.sandbox + self.container + self.first_200
    }
}

/// One runtime's figures.
struct Side {
    starts: Vec<PodStart>,
    /// PSS of all the pods' processes, summed, in bytes.
    pss: u64,
    /// The pods' processes by name: how many, and their PSS summed, in bytes.
    processes: BTreeMap<String, (usize, u64)>,
}

pub async fn run(ctx: &Ctx, r: &mut Report) -> anyhow::Result<()> {
    let plan = Plan {
        shim: ctx.shim.clone(),
        native: ctx.hello_native.clone(),
        component: ctx.guests.hello_http.clone(),
        pods: ctx.sizes.pods,
    };
    // The node panics where a test would fail (containerd's log in the message); on a task
    // of its own a panic is this section's error, and the node's `Drop` has already stopped
    // containerd, its shims and pods, and removed its bridge.
    let (waci, runc) =
        tokio::spawn(measure(plan))
            .await
            .map_err(|e| match e.try_into_panic() {
                Ok(p) => anyhow::anyhow!(
                    "the node failed: {}",
                    p.downcast_ref::<String>()
                        .map(String::as_str)
                        .or_else(|| p.downcast_ref::<&str>().copied())
                        .unwrap_or("(no message)")
                ),
                Err(e) => anyhow::anyhow!("the node's task: {e}"),
            })??;

    let n = ctx.sizes.pods;
    let phases: [(&str, Phase); 4] = [
        ("pod start, RunPodSandbox → first 200", PodStart::total),
        ("  RunPodSandbox (and its IP)", |s| s.sandbox),
        ("  CreateContainer + StartContainer", |s| s.container),
        ("  StartContainer → first 200 from the pod's IP", |s| {
            s.first_200
        }),
    ];
    for (name, phase) in phases {
        let of = |side: &Side| Latencies::of(&side.starts.iter().map(phase).collect::<Vec<_>>());
        let (w, p) = (of(&waci), of(&runc));
        r.add(
            S,
            format!("{name}, p50"),
            "ms",
            Lower,
            w.as_ref().map(|l| l.p50),
            p.as_ref().map(|l| l.p50),
        );
        r.add(
            S,
            format!("{name}, p95"),
            "ms",
            Lower,
            w.as_ref().map(|l| l.p95),
            p.as_ref().map(|l| l.p95),
        );
    }
    let per_pod = |side: &Side| side.pss as f64 / n as f64 / 1024.0;
    r.add(
        S,
        format!("memory per pod (PSS, {n} running)"),
        "KiB",
        Lower,
        Some(per_pod(&waci)),
        Some(per_pod(&runc)),
    );
    r.peer(
        S,
        "containerd's `runc` (io.containerd.runc.v2) running the same page as a static native \
         program (`benches/hello-native`), on the same node: one containerd 1.6, its CNI \
         bridge, the same pause image",
    );
    let counted = |side: &Side| {
        side.processes
            .iter()
            .map(|(name, (count, bytes))| {
                format!(
                    "{name} ×{:.0} {}",
                    *count as f64 / n as f64,
                    value(Some(*bytes as f64 / n as f64 / 1024.0), "KiB")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    r.note(format!(
        "kubernetes: {n} pods per runtime started one after another and left running, after a \
         first pod of each (not counted; on the shim it compiles the component into the node's \
         cache, so the others load it from there); memory counts every process of a pod, its shim and what the shim started; \
         per pod, waci: {}; runc: {}; containerd itself is not counted, and PSS splits the \
         pages the pods' processes share (the shim's binary, libc) among them, so it falls as \
         N grows",
        counted(&waci),
        counted(&runc)
    ));
    Ok(())
}

/// Starts a node, imports both images, and measures the shim and then runc on it.
async fn measure(plan: Plan) -> anyhow::Result<(Side, Side)> {
    let component = std::fs::read(&plan.component)
        .with_context(|| format!("reading {}", plan.component.display()))?;
    let native = std::fs::read(&plan.native)
        .with_context(|| format!("reading {}", plan.native.display()))?;
    let mut node = TestNode::start(&plan.shim).await;
    node.import(&wasm_image(
        COMPONENT_IMAGE,
        "hello-http.wasm",
        &["/hello-http.wasm"],
        component,
    ))
    .await;
    node.import(&Image {
        name: NATIVE_IMAGE,
        platform: ("linux", "amd64"),
        entrypoint: &["/hello"],
        files: vec![("hello", native, 0o755)],
    })
    .await;
    eprintln!("waci shim: {} pods", plan.pods);
    let waci = side(&mut node, HANDLER, COMPONENT_IMAGE, plan.pods).await?;
    eprintln!("peer: runc, {} pods", plan.pods);
    let runc = side(&mut node, RUNC_HANDLER, NATIVE_IMAGE, plan.pods).await?;
    Ok((waci, runc))
}

/// A first pod (started, answered, removed), then `n` pods measured, then every pod's
/// processes' PSS while all `n` run, then all removed.
async fn side(node: &mut TestNode, handler: &str, image: &str, n: usize) -> anyhow::Result<Side> {
    let (pod, container, _) = start_pod(node, handler, image, &format!("{handler}-first")).await?;
    node.remove_pod(&pod, &[&container]).await;

    let mut starts = Vec::with_capacity(n);
    let mut pods = Vec::with_capacity(n);
    for i in 0..n {
        let (pod, container, start) =
            start_pod(node, handler, image, &format!("{handler}-{i:03}")).await?;
        starts.push(start);
        pods.push((pod, container));
    }
    let mut total = 0;
    let mut processes = BTreeMap::new();
    for (pod, container) in &pods {
        let pids = node.pod_processes(pod, &[container]);
        anyhow::ensure!(!pids.is_empty(), "no process runs pod {pod}");
        for pid in pids {
            let bytes = pss(pid).with_context(|| format!("the PSS of pid {pid}"))?;
            total += bytes;
            let kind = processes.entry(process_name(pid)).or_insert((0, 0));
            kind.0 += 1;
            kind.1 += bytes;
        }
    }
    let ids: Vec<(&str, [&str; 1])> = pods
        .iter()
        .map(|(p, c)| (p.as_str(), [c.as_str()]))
        .collect();
    let ids: Vec<(&str, &[&str])> = ids.iter().map(|(p, c)| (*p, &c[..])).collect();
    node.remove_pods(&ids).await;
    Ok(Side {
        starts,
        pss: total,
        processes,
    })
}

/// A process's name: its executable's file name (`comm` cuts it to 15 characters), or its
/// `comm` where the process renamed itself (libcontainer's `youki:[2:INIT]`).
fn process_name(pid: u32) -> String {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let comm = comm.trim();
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()));
    match exe {
        Some(exe) if !comm.is_empty() && exe.starts_with(comm) => exe,
        _ => comm.to_string(),
    }
}

/// kubelet's calls for a one-container pod with `handler`, timed; then GETs at the pod's IP
/// until one answers 200. The pod's id, its container's, and the times.
async fn start_pod(
    node: &mut TestNode,
    handler: &str,
    image: &str,
    name: &str,
) -> anyhow::Result<(String, String, PodStart)> {
    let pod_config = node.pod_config(name);
    let config = container_config("web", image, &[], &[], 0);
    let t = Instant::now();
    let pod = node.run_pod_with(&pod_config, handler).await;
    let ip: IpAddr = node.pod_ip(&pod).await.parse().context("the pod's IP")?;
    let sandbox = t.elapsed();
    let t = Instant::now();
    let container = node.start_container(&pod, &pod_config, config).await;
    let started = Instant::now();
    let container_took = t.elapsed();
    let first_200 = probe::until_200(
        SocketAddr::from((ip, PORT)),
        started,
        Pace::Millisecond,
        FIRST_200_TIMEOUT,
    )
    .await
    .with_context(|| format!("pod {name} ({handler})"))?;
    Ok((
        pod,
        container,
        PodStart {
            sandbox,
            container: container_took,
            first_200,
        },
    ))
}
