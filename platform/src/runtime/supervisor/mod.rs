//! One supervisor task per container group, in phases: prepare the group's volumes
//! (`prepare.rs`), fetch and load every container's image (`fetch.rs`), run the init
//! containers in order (`init.rs`), start the containers — services bound on the group's IP,
//! commands under the restart policy with a capped back-off (`start.rs`, `command.rs`) — and
//! watch them until the group stops (`watch.rs`). Every state change and event goes back to
//! the store for the supervisor's own generation only (`group.rs`).
//!
//! The supervisor runs guests only through the runtime core; it is the part of `runtime`
//! that knows the store and the registry.

mod command;
mod fetch;
mod group;
mod init;
mod prepare;
mod probe;
mod start;
mod watch;

use super::core::host::{Mount, Sandbox};
use super::core::net::{Network, Warnings};
use super::{Runtime, Supervised};
use crate::model::{Container, ProvisioningState};
use crate::store::GroupRow;
use group::GroupCtx;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub(super) use fetch::pull_ahead;

/// First back-off before restarting an exited container, doubled each time...
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
/// ...up to this cap.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A run this long resets the back-off: the container was healthy.
const BACKOFF_RESET_AFTER: Duration = Duration::from_secs(60);

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub(super) async fn supervise(
    rt: Arc<Runtime>,
    group: GroupRow,
    cancel: CancellationToken,
    previous: Option<Supervised>,
) {
    let ctx = Arc::new(GroupCtx::new(rt, &group, cancel, previous));
    phases(&ctx, &group).await;
    // However this generation ended (stopped, failed, or it ran and was superseded), nothing
    // of an older one outlives it.
    ctx.previous_ended().await;
}

/// The previous generation, if any, serves until `start` has taken over its ports.
async fn phases(ctx: &Arc<GroupCtx>, group: &GroupRow) {
    ctx.defer_provisioning(ProvisioningState::Creating);
    let Some(volume_dirs) = prepare::volumes(ctx, group).await else {
        return;
    };
    let mounts = |c: &Container| super::volumes::mounts(c, &volume_dirs, &group.spec.volumes);
    let Some(loaded) = fetch::images(ctx, group).await else {
        return;
    };
    let (init_loaded, main_loaded) = loaded.split_at(group.spec.init_containers.len());
    if !init::run(ctx, &group.spec.init_containers, init_loaded, &mounts).await {
        return;
    }
    let started = start::containers(ctx, group, main_loaded, &mounts).await;
    watch::until_stopped(ctx, started).await;
}

/// The sandbox every run of container `c` gets: its volumes at their mount paths, its output
/// into the platform's logs, its share of the cores (its first throttle an event), its
/// group's network.
fn sandbox(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    mounts: &impl Fn(&Container) -> Vec<Mount>,
) -> Sandbox {
    let config = &ctx.rt.config;
    let sandbox = Sandbox::new(
        ctx.id,
        c,
        mounts(c),
        ctx.rt.logs.clone(),
        config.egress.platform.clone(),
    )
    .with_network(Network {
        container: c.name.as_str().into(),
        egress: config.egress.clone(),
        group_ip: ctx.ip,
        group_ports: ctx.ports.clone(),
        own_ports: c.ports.clone(),
        names: config.names.clone(),
        local_services: ctx.local_services.clone(),
        warnings: warning_events(ctx, &c.name),
        peers: Default::default(),
    })
    .with_stats(ctx.rt.container_stats(ctx.id, &c.name))
    .with_cpu(&ctx.rt.engines.cpu);
    if let (Some(share), Some(limit)) = (sandbox.cpu(), c.limits.cpu) {
        // Told from a guest's slice, on the guest pool: the event is written from the
        // platform's runtime.
        let (weak, name) = (Arc::downgrade(ctx), c.name.clone());
        let platform = tokio::runtime::Handle::current();
        share.on_throttle(move || {
            let Some(ctx) = weak.upgrade() else {
                return;
            };
            let message = format!(
                "Container {name} reached its CPU limit of {limit} cores and is throttled: it runs at most {limit} of a core over each period of {} ms",
                crate::runtime::core::cpu::PERIOD.as_millis()
            );
            platform.spawn(async move {
                ctx.event(Some(&name), "Throttled", message, true).await;
            });
        });
    }
    sandbox
}

/// A refusal of the container's network (an address the policy closes, an undeclared port,
/// a bind that failed) is a Warning event of the container, once per address.
fn warning_events(ctx: &Arc<GroupCtx>, container: &str) -> Warnings {
    let (ctx, container) = (Arc::downgrade(ctx), container.to_string());
    // Told from a guest's host call, on the guest pool: the event is written from the
    // platform's runtime.
    let platform = tokio::runtime::Handle::current();
    Warnings::new(move |message| {
        let Some(ctx) = ctx.upgrade() else {
            return;
        };
        let container = container.clone();
        let span = ctx.span(&container);
        platform.spawn(
            async move { ctx.event(Some(&container), "Warning", message, true).await }
                .instrument(span),
        );
    })
}
