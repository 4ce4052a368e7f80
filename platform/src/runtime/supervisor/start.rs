//! The fourth phase of a supervisor: once every image is loaded and every init container
//! has succeeded, each container starts — a service on its ports of the group's IP (and the
//! group's first port at the front door), a command under the restart policy — and
//! provisioning `Succeeded` rides with the first container's Running.

use super::command::command_loop;
use super::group::GroupCtx;
use crate::model::{Container, ContainerState, Protocol, ProvisioningState, now_rfc3339};
use crate::runtime::core::command::Exit;
use crate::runtime::core::engine::{Loaded, Workload};
use crate::runtime::core::host::Mount;
use crate::runtime::core::service::{self, Service};
use crate::store::GroupRow;
use std::net::SocketAddr;
use std::sync::Arc;
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
    for (c, l) in group.spec.containers.iter().zip(loaded) {
        let sandbox = super::sandbox(ctx, c, mounts);
        match &l.workload {
            Workload::Service(pre) => {
                let service = Arc::new(Service {
                    engines: rt.engines.clone(),
                    pre: pre.clone(),
                    sandbox,
                    request_timeout: rt.config.request_timeout,
                    on_failure: request_failure_events(ctx, &c.name),
                    stopping: ctx.cancel.clone(),
                    runs: TaskTracker::new(),
                });
                services.push(service.clone());
                {
                    // Siblings reach it as `localhost:<port>` in process.
                    let mut local = ctx
                        .local_services
                        .lock()
                        .unwrap_or_else(|e| e.into_inner());
                    for p in c.ports.iter().filter(|p| p.protocol == Protocol::Tcp) {
                        local.insert(p.port, Arc::downgrade(&service));
                    }
                }
                if front_port.is_some_and(|fp| c.ports.iter().any(|p| p.port == fp)) {
                    rt.front
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(ctx.id, (ctx.generation, service.clone()));
                }
                tasks.extend(start_service(ctx, c, service).await);
            }
            Workload::Command(pre) => {
                let span = ctx.span(&c.name);
                let (ctx, c, pre) = (ctx.clone(), c.clone(), pre.clone());
                tasks.push(tokio::spawn(
                    async move { command_loop(ctx, c, pre, sandbox).await }.instrument(span),
                ));
            }
        }
    }
    ctx.flush_deferred().await;
    Started { tasks, services }
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

/// Binds the container's ports on the group's IP and serves until cancelled.
async fn start_service(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    service: Arc<Service>,
) -> Vec<JoinHandle<()>> {
    let mut bound = Vec::new();
    let mut tasks = Vec::new();
    if let Some(ip) = ctx.ip {
        for p in c
            .ports
            .iter()
            .filter(|p| p.protocol == Protocol::Tcp)
        {
            let addr = SocketAddr::from((ip, p.port));
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    bound.push(addr.to_string());
                    // The span is entered per poll of the accept loop, not per request.
                    let serving = service::accept_loop(l, service.clone(), ctx.cancel.clone());
                    tasks.push(tokio::spawn(serving.instrument(ctx.span(&c.name))));
                }
                Err(e) => {
                    let hint = if p.port < 1024 && e.kind() == std::io::ErrorKind::PermissionDenied
                    {
                        " Ports below 1024 need root or CAP_NET_BIND_SERVICE: run `setcap cap_net_bind_service=+ep <path to waci>`."
                    } else {
                        ""
                    };
                    ctx.event(
                        Some(&c.name),
                        "Warning",
                        format!("Could not bind {addr}: {e}.{hint}"),
                        true,
                    )
                    .await;
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
    ctx.set_state_with(
        &c.name,
        ContainerState {
            state: "Running".into(),
            start_time: Some(now_rfc3339()),
            ..Default::default()
        },
        false,
        vec![("Started", started, false)],
    )
    .await;
    let cancel = ctx.cancel.clone();
    tasks.push(tokio::spawn(async move { cancel.cancelled().await }));
    tasks
}
