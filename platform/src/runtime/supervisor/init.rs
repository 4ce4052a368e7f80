//! The init containers of a group, each run once, in order, before any other container
//! starts. One that is a service, fails or exits non-zero fails the group.

use super::command::run_command_once;
use super::group::GroupCtx;
use crate::model::Container;
use crate::runtime::core::command::Exit;
use crate::runtime::core::engine::{Loaded, Workload};
use crate::runtime::core::host::Mount;
use std::sync::Arc;
use tracing::Instrument;

/// Runs `containers` (with their loaded images, in the same order). `true` when every one
/// succeeded and the group goes on; `false` when it failed or was stopped.
pub(super) async fn run(
    ctx: &Arc<GroupCtx>,
    containers: &[Container],
    loaded: &[Arc<Loaded>],
    mounts: &impl Fn(&Container) -> Vec<Mount>,
) -> bool {
    for (c, l) in containers.iter().zip(loaded) {
        let Workload::Command(pre) = &l.workload else {
            ctx.event(Some(&c.name), "Failed", format!("Init container {} is a service; init containers must be commands (wasi:cli/run).", c.name), true).await;
            ctx.fail().await;
            return false;
        };
        let sandbox = super::sandbox(ctx, c, mounts);
        let exit = run_command_once(ctx, c, pre.current(), &sandbox, false)
            .instrument(ctx.span(&c.name))
            .await;
        if exit == Exit::Cancelled {
            return false;
        }
        if !exit.succeeded() {
            ctx.event(
                Some(&c.name),
                "Failed",
                format!(
                    "Init container {} failed with exit code {}; the group does not start.",
                    c.name,
                    exit.exit_code()
                ),
                true,
            )
            .await;
            ctx.fail().await;
            return false;
        }
    }
    true
}
