//! The fourth phase of a supervisor: once every image is loaded and every init container
//! has succeeded, each container starts — a service on its ports of the group's IP (and the
//! group's first port at the front door), a command under the restart policy — and
//! provisioning `Succeeded` rides with the first container's Running.

use super::command::command_loop;
use super::group::GroupCtx;
use crate::model::{Container, ContainerState, Protocol, ProvisioningState, now_rfc3339};
use crate::runtime::core::command::Exit;
use crate::runtime::core::engine::{Loaded, Workload};
use crate::runtime::core::host::{Mount, Sandbox};
use crate::runtime::core::probe::Admission;
use crate::runtime::core::service::Service;
use crate::runtime::core::warm::Warm;
use crate::runtime::ports::Claim;
use crate::store::GroupRow;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// What runs once the group has started, for the watch.
pub(super) struct Started {
    /// Each service's accept loops and its wait for the stop; each command's restart loop.
    pub(super) tasks: Vec<JoinHandle<()>>,
    pub(super) services: Vec<Arc<Service>>,
}

/// Starts `group`'s containers (with their loaded images, in the same order), then writes
/// what is still deferred.
pub(super) async fn containers(
    ctx: &Arc<GroupCtx>,
    group: &GroupRow,
    loaded: &[Arc<Loaded>],
    mounts: &impl Fn(&Container) -> Vec<Mount>,
) -> Started {
    let rt = &ctx.rt;
    let front_port = group
        .spec
        .ip_address
        .as_ref()
        .and_then(|ip| ip.ports.first())
        .map(|p| p.port);
    // Every image is loaded: provisioning has succeeded. It rides with the first container's
    // Running, so a service group reaches Running in one transaction.
    ctx.defer_provisioning(ProvisioningState::Succeeded);
    let mut tasks = Vec::new();
    let mut services = Vec::new();
    let mut commands = Vec::new();
    for (c, l) in group.spec.containers.iter().zip(loaded) {
        let sandbox = super::sandbox(ctx, c, mounts);
        offer_exec(ctx, c, &sandbox, &l.workload);
        match &l.workload {
            Workload::Service(pre) => {
                let reuse = c.instance_reuse.then(|| {
                    let cpu = c.limits.cpu.unwrap_or(c.requests.cpu);
                    Arc::new(Warm::new(cpu, c.memory_cap_bytes()))
                });
                if let Some(warm) = &reuse {
                    let sweep = Warm::keep_swept(Arc::downgrade(warm), ctx.cancel.clone());
                    tokio::spawn(sweep.instrument(ctx.span(&c.name)));
                }
                let service = Arc::new(Service {
                    reuse,
                    engines: rt.engines.clone(),
                    pre: pre.clone(),
                    sandbox,
                    request_timeout: rt.config.request_timeout,
                    on_failure: request_failure_events(ctx, &c.name),
                    stopping: ctx.cancel.clone(),
                    runs: TaskTracker::new(),
                    // A readiness probe keeps clients out until it passes.
                    admission: match c.readiness_probe {
                        Some(_) => Admission::closed(),
                        None => Admission::open(),
                    },
                });
                services.push(service.clone());
                {
                    // Siblings reach it as `localhost:<port>` in process.
                    let mut local = ctx.local_services.lock().unwrap_or_else(|e| e.into_inner());
                    for p in c.ports.iter().filter(|p| p.protocol == Protocol::Tcp) {
                        local.insert(p.port, Arc::downgrade(&service));
                    }
                }
                // An update's service takes over the ports and the front door only once ready, so the previous
                // generation serves until then and no request meets a 503.
                if let Some(p) = &c.readiness_probe
                    && ctx.has_previous()
                    && !super::probe::ready_before_takeover(ctx, &c.name, p, &service).await
                {
                    continue;
                }
                if front_port.is_some_and(|fp| c.ports.iter().any(|p| p.port == fp)) {
                    let mut front = rt.front.lock().unwrap_or_else(|e| e.into_inner());
                    if front
                        .get(&ctx.id)
                        .is_none_or(|(g, ..)| *g <= ctx.generation)
                    {
                        let name = group.name.as_str().into();
                        front.insert(ctx.id, (ctx.generation, service.clone(), name));
                    }
                }
                let (serving, start_time) = start_service(ctx, c, service.clone()).await;
                tasks.extend(serving);
                if c.liveness_probe.is_some() || c.readiness_probe.is_some() {
                    let watch = super::probe::watch(ctx.clone(), c.clone(), service, start_time);
                    tasks.push(tokio::spawn(watch.instrument(ctx.span(&c.name))));
                }
            }
            Workload::Command(pre) => {
                if c.liveness_probe.is_some() || c.readiness_probe.is_some() {
                    let message = format!(
                        "The probes of container {} are not run: it is a command (wasi:cli/run), \
                         and probes watch a service (wasi:http/incoming-handler)",
                        c.name
                    );
                    ctx.event(Some(&c.name), "Warning", message, true).await;
                }
                commands.push((c, pre, sandbox))
            }
        }
    }
    // Every service of this generation answers on the group's ports now: the previous
    // generation stops taking requests and finishes those it has; its commands stop before
    // this one's start.
    ctx.retire_previous();
    for (c, pre, sandbox) in commands {
        let span = ctx.span(&c.name);
        let (ctx, c, pre) = (ctx.clone(), c.clone(), pre.clone());
        tasks.push(tokio::spawn(
            async move { command_loop(ctx, c, pre, sandbox).await }.instrument(span),
        ));
    }
    ctx.flush_deferred().await;
    Started { tasks, services }
}

/// From now until the generation ends, exec may run commands in `c`'s sandbox.
fn offer_exec(ctx: &Arc<GroupCtx>, c: &Container, sandbox: &Sandbox, workload: &Workload) {
    let own = match workload {
        Workload::Command(pre) => Some(pre.current().clone()),
        Workload::Service(_) => None,
    };
    let target = crate::runtime::exec::Target {
        generation: ctx.generation,
        sandbox: sandbox.clone(),
        own,
        cancel: ctx.cancel.clone(),
        runs: ctx.exec_runs.clone(),
    };
    ctx.rt.execs.insert(ctx.id, &c.name, target);
}

/// A failed request of a service (trap, out of memory) is a Warning event of its container;
/// repeats of the same failure count up instead of adding events.
fn request_failure_events(ctx: &Arc<GroupCtx>, container: &str) -> Box<dyn Fn(Exit) + Send + Sync> {
    let (ctx, container) = (Arc::downgrade(ctx), container.to_string());
    Box::new(move |exit| {
        let (Some(ctx), container) = (ctx.upgrade(), container.clone()) else {
            return;
        };
        let span = ctx.span(&container);
        tokio::spawn(
            async move {
                let message = format!(
                    "A request to container {container} failed: {}",
                    exit.detail_status()
                );
                ctx.event(Some(&container), "Failed", message, true).await;
            }
            .instrument(span),
        );
    })
}

/// How often a port that could not be bound is tried again: a try is one system call, and a
/// user who frees the port sees it served within this long.
const BIND_RETRY: Duration = Duration::from_secs(3);

/// The addresses of a service that are not served yet, with why.
type NotServed = Arc<Mutex<BTreeMap<SocketAddr, String>>>;

/// Binds the container's ports on the group's IP and serves until cancelled; returns the
/// serving tasks and the service's start time. A port that cannot be bound is a Warning
/// event and shows in the container's `detailStatus` until a later try binds it; a UDP port
/// is a Warning too (a service answers HTTP only).
async fn start_service(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    service: Arc<Service>,
) -> (Vec<JoinHandle<()>>, String) {
    let mut bound = Vec::new();
    let mut tasks = Vec::new();
    let mut warnings = Vec::new();
    let not_served = NotServed::default();
    if let Some(ip) = ctx.ip {
        for p in &c.ports {
            let addr = SocketAddr::from((ip, p.port));
            if p.protocol == Protocol::Udp {
                warnings.push(format!(
                    "Port {addr}/UDP of container {} is not served: a service (wasi:http) answers \
                     TCP only. A command container binds its declared UDP ports itself.",
                    c.name
                ));
                continue;
            }
            match ctx.rt.ports.claim(ctx.id, ctx.generation, addr, &service) {
                Claim::TakenOver => {
                    bound.push(addr.to_string());
                    continue;
                }
                // A newer generation serves the group already; this one is about to stop.
                Claim::Newer => continue,
                Claim::Free => {}
            }
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    if ctx
                        .rt
                        .ports
                        .serve(ctx.id, ctx.generation, l, &service, ctx.span(&c.name))
                    {
                        bound.push(addr.to_string());
                    }
                }
                Err(e) => {
                    let hint = if p.port < 1024 && e.kind() == std::io::ErrorKind::PermissionDenied
                    {
                        " Ports below 1024 need root or CAP_NET_BIND_SERVICE: run `setcap cap_net_bind_service=+ep <path to waci>`."
                    } else {
                        ""
                    };
                    warnings.push(format!(
                        "Could not bind {addr}/TCP for container {}: {e}. The port is not served; \
                         binding it is tried again every {} s.{hint}",
                        c.name,
                        BIND_RETRY.as_secs()
                    ));
                    lock(&not_served).insert(addr, e.to_string());
                }
            }
        }
    }
    let detail = if bound.is_empty() {
        "no address bound".to_string()
    } else {
        format!("serving on {}", bound.join(", "))
    };
    let started = format!("Started container {} ({detail})", c.name);
    let start_time = now_rfc3339();
    let mut events = vec![("Started", started, false)];
    events.extend(warnings.into_iter().map(|w| ("Warning", w, true)));
    let mut state = running(&start_time, &lock(&not_served));
    if !service.admission.is_open() && state.detail_status.is_none() {
        state.detail_status = Some(super::probe::NOT_READY.to_string());
    }
    ctx.set_state_with(&c.name, state, false, events).await;
    let retries: Vec<SocketAddr> = lock(&not_served).keys().copied().collect();
    for addr in retries {
        let retry = retry_bind(
            ctx.clone(),
            c.name.clone(),
            addr,
            service.clone(),
            start_time.clone(),
            not_served.clone(),
        );
        tasks.push(tokio::spawn(retry.instrument(ctx.span(&c.name))));
    }
    let cancel = ctx.cancel.clone();
    tasks.push(tokio::spawn(async move { cancel.cancelled().await }));
    (tasks, start_time)
}

fn lock(n: &NotServed) -> std::sync::MutexGuard<'_, BTreeMap<SocketAddr, String>> {
    n.lock().unwrap_or_else(|e| e.into_inner())
}

/// A service's Running state, naming the addresses it does not serve.
fn running(start_time: &str, not_served: &BTreeMap<SocketAddr, String>) -> ContainerState {
    let missing: Vec<String> = not_served
        .iter()
        .map(|(addr, why)| format!("{addr} ({why})"))
        .collect();
    ContainerState {
        state: "Running".into(),
        start_time: Some(start_time.to_string()),
        detail_status: (!missing.is_empty()).then(|| format!("Not serving {}", missing.join(", "))),
        ..Default::default()
    }
}

/// Tries `addr` again every [`BIND_RETRY`] until it binds (then serves it, with a `Bound`
/// event and the address gone from `detailStatus`) or the group stops.
async fn retry_bind(
    ctx: Arc<GroupCtx>,
    container: String,
    addr: SocketAddr,
    service: Arc<Service>,
    start_time: String,
    not_served: NotServed,
) {
    loop {
        tokio::select! {
            _ = ctx.cancel.cancelled() => return,
            _ = tokio::time::sleep(BIND_RETRY) => {}
        }
        let Ok(listener) = TcpListener::bind(addr).await else {
            continue;
        };
        if ctx.cancel.is_cancelled()
            || !ctx.rt.ports.serve(
                ctx.id,
                ctx.generation,
                listener,
                &service,
                ctx.span(&container),
            )
        {
            return;
        }
        let state = {
            let mut missing = lock(&not_served);
            missing.remove(&addr);
            running(&start_time, &missing)
        };
        let message = format!("Container {container} serves {addr} now: the address is free");
        ctx.set_state_with(&container, state, false, vec![("Bound", message, false)])
            .await;
        return;
    }
}
