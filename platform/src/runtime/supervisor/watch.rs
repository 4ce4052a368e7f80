//! The last phase of a supervisor: it waits for its containers until the group stops, then
//! for every request still running in its services (bounded by the stop's grace) and every
//! exec run (cancelled by the same stop), and takes its service off the front door, unless a
//! later generation already put its own there.

use super::group::GroupCtx;
use super::start::Started;
use std::sync::Arc;

/// Returns once nothing of the group runs any more.
pub(super) async fn until_stopped(ctx: &Arc<GroupCtx>, started: Started) {
    for t in started.tasks {
        let _ = t.await;
    }
    // Requests whose guests go on after their connections: bounded by the stop's grace.
    for service in started.services {
        service.runs.close();
        service.runs.wait().await;
    }
    // No exec starts in this generation any more; those running end with its stop.
    ctx.rt.execs.remove(ctx.id, ctx.generation);
    ctx.exec_runs.close();
    ctx.exec_runs.wait().await;
    let mut front = ctx.rt.front.lock().unwrap_or_else(|e| e.into_inner());
    if front
        .get(&ctx.id)
        .is_some_and(|(generation, ..)| *generation == ctx.generation)
    {
        front.remove(&ctx.id);
    }
}
