//! A command container's runs: each one recorded Running then Terminated (with how it
//! ended, in the same transaction), and restarted under the group's restart policy with a
//! capped back-off that a long healthy run resets.

use super::group::GroupCtx;
use super::{BACKOFF_FIRST, BACKOFF_RESET_AFTER, ms};
use crate::model::{Container, ContainerState, RestartPolicy, now_rfc3339};
use crate::runtime::core::command::{self, Exit};
use crate::runtime::core::engine::Tiered;
use crate::runtime::core::host::{Host, Sandbox};
use std::sync::Arc;
use std::time::Instant;
use wasmtime_wasi::p2::bindings::CommandPre;

/// Runs a command once, recording Running then Terminated.
pub(super) async fn run_command_once(
    ctx: &Arc<GroupCtx>,
    c: &Container,
    pre: &CommandPre<Host>,
    sandbox: &Sandbox,
    restarted: bool,
) -> Exit {
    let start_time = now_rfc3339();
    let started = format!("Started container {}", c.name);
    ctx.set_state_with(
        &c.name,
        ContainerState {
            state: "Running".into(),
            start_time: Some(start_time.clone()),
            ..Default::default()
        },
        restarted,
        vec![("Started", started, false)],
    )
    .await;
    let exit = command::run_once(
        &ctx.rt.engines,
        pre,
        sandbox,
        &ctx.cancel,
        ctx.rt.config.max_runtime,
    )
    .await;
    if exit == Exit::Cancelled {
        return exit;
    }
    let state = ContainerState {
        state: "Terminated".into(),
        start_time: Some(start_time),
        finish_time: Some(now_rfc3339()),
        exit_code: Some(exit.exit_code()),
        detail_status: Some(exit.detail_status()),
    };
    // The end and its event in one trip: whoever sees the container terminated sees why.
    let warning = !exit.succeeded();
    let event = (
        if warning { "Failed" } else { "Completed" },
        format!(
            "Container {} terminated with exit code {} ({})",
            c.name,
            exit.exit_code(),
            exit.detail_status()
        ),
        warning,
    );
    ctx.set_state_with(&c.name, state, false, vec![event]).await;
    exit
}

/// A command container under its group's restart policy, with a capped back-off.
pub(super) async fn command_loop(
    ctx: Arc<GroupCtx>,
    c: Container,
    pre: Tiered<CommandPre<Host>>,
    sandbox: Sandbox,
) {
    let mut backoff = BACKOFF_FIRST;
    let mut restarted = false;
    loop {
        let began = Instant::now();
        // Each run takes the best code there is when it starts.
        let exit = run_command_once(&ctx, &c, pre.current(), &sandbox, restarted).await;
        let again = match ctx.policy {
            RestartPolicy::Always => exit != Exit::Cancelled,
            RestartPolicy::OnFailure => exit != Exit::Cancelled && !exit.succeeded(),
            RestartPolicy::Never => false,
        };
        if !again {
            return;
        }
        if began.elapsed() > BACKOFF_RESET_AFTER {
            backoff = BACKOFF_FIRST;
        }
        let message = format!("Back-off {} restarting container {}", ms(backoff), c.name);
        if !ctx.back_off(&c.name, message, None, &mut backoff).await {
            return;
        }
        restarted = true;
        sandbox
            .stats
            .restarts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}
