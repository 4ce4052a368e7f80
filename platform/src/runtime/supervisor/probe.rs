//! A service container's probes over its life (DESIGN.md §4, ACI's `livenessProbe` and
//! `readinessProbe`): readiness opens and closes its service's [`Admission`] and shows in its
//! `detailStatus`; `failureThreshold` liveness failures in a row kill it (its clients held
//! back, its requests in flight given the drain grace) and restart it under the group's
//! restart policy, raising `restartCount`, or end it `Terminated` under `Never`.
//!
//! An `httpGet` probe is handed to the service in process; an `exec` probe runs its command
//! in the container's sandbox through exec, and passes on exit code 0.
//!
//! Each failure is an `Unhealthy` event in Kubernetes' words ("Readiness probe failed: ...");
//! repeats of the same failure count up on one event instead of adding events.

use super::group::GroupCtx;
use super::{BACKOFF_FIRST, BACKOFF_RESET_AFTER, ms};
use crate::model::{Container, ContainerState, Probe, ProbeAction, RestartPolicy, now_rfc3339};
use crate::runtime::core::DRAIN_GRACE;
use crate::runtime::core::probe::{Admission, http_get};
use crate::runtime::core::service::Service;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A service's `detailStatus` while its readiness probe has not passed.
pub(super) const NOT_READY: &str = "Not ready: the readiness probe has not passed";

/// The exit code a killed container shows, as a container killed by SIGKILL does.
const KILLED_EXIT_CODE: i32 = 137;

/// Watches container `c`'s probes until the group stops; `start_time` is when its service
/// started.
pub(super) async fn watch(
    ctx: Arc<GroupCtx>,
    c: Container,
    service: Arc<Service>,
    mut start_time: String,
) {
    let admission = service.admission.clone();
    let mut backoff = BACKOFF_FIRST;
    loop {
        let began = Instant::now();
        let life = ctx.cancel.child_token();
        let readiness = c.readiness_probe.clone().map(|p| {
            let (ctx, name, service) = (ctx.clone(), c.name.clone(), service.clone());
            let (admission, start_time, life) =
                (admission.clone(), start_time.clone(), life.clone());
            let span = ctx.span(&name);
            tokio::spawn(tracing::Instrument::instrument(
                readiness(ctx, name, p, service, admission, start_time, life),
                span,
            ))
        });
        let failed = match &c.liveness_probe {
            Some(p) => liveness(&ctx, &c.name, p, &service, &life).await,
            None => {
                life.cancelled().await;
                None
            }
        };
        life.cancel();
        if let Some(r) = readiness {
            let _ = r.await;
        }
        let Some(why) = failed else {
            return;
        };
        let again = ctx.policy != RestartPolicy::Never;
        kill(
            &ctx,
            &c.name,
            &service,
            &admission,
            &start_time,
            &why,
            again,
        )
        .await;
        if !again {
            return;
        }
        if began.elapsed() > BACKOFF_RESET_AFTER {
            backoff = BACKOFF_FIRST;
        }
        let message = format!(
            "Back-off {} restarting failed container {}",
            ms(backoff),
            c.name
        );
        if !ctx.back_off(&c.name, message, None, &mut backoff).await {
            return;
        }
        service
            .sandbox
            .stats
            .restarts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        start_time = now_rfc3339();
        let state = ContainerState {
            state: "Running".into(),
            start_time: Some(start_time.clone()),
            detail_status: c.readiness_probe.as_ref().map(|_| NOT_READY.to_string()),
            ..Default::default()
        };
        let started = format!("Started container {}", c.name);
        ctx.set_state_with(&c.name, state, true, vec![("Started", started, false)])
            .await;
        if c.readiness_probe.is_none() {
            admission.set(true);
        }
    }
}

/// Probes an update's new service in process until its readiness probe passes, then opens it
/// to clients: until then the previous generation keeps the group's ports. `false` if the
/// group stopped first.
pub(super) async fn ready_before_takeover(
    ctx: &Arc<GroupCtx>,
    name: &str,
    p: &Probe,
    service: &Arc<Service>,
) -> bool {
    let life = &ctx.cancel;
    if !pause(life, Duration::from_secs(p.initial_delay_seconds.into())).await {
        return false;
    }
    let mut passes = 0;
    loop {
        let result = tokio::select! {
            _ = life.cancelled() => return false,
            r = check(ctx, name, service, p) => r,
        };
        match result {
            Ok(()) => {
                passes += 1;
                if passes >= p.success_threshold {
                    service.admission.set(true);
                    return true;
                }
            }
            Err(why) => {
                passes = 0;
                let message = format!("Readiness probe failed: {why}");
                ctx.event(Some(name), "Unhealthy", message, true).await;
            }
        }
        if !pause(life, Duration::from_secs(p.period_seconds.into())).await {
            return false;
        }
    }
}

/// Sleeps `d` unless `life` ends first (then `false`).
async fn pause(life: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        _ = life.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

/// One probe of container `name` (whose service is `service`), within the probe's timeout.
async fn check(
    ctx: &Arc<GroupCtx>,
    name: &str,
    service: &Arc<Service>,
    p: &Probe,
) -> Result<(), String> {
    let timeout = Duration::from_secs(p.timeout_seconds.into());
    match &p.action {
        ProbeAction::HttpGet(get) => http_get(service, get, timeout).await,
        ProbeAction::Exec(command) => exec(ctx, name, command, timeout).await,
    }
}

/// The most of an exec probe's output a failure's event quotes.
const EXEC_OUTPUT_QUOTED: usize = 1024;

/// An `exec` probe: `command` run in the container's sandbox as exec runs it, with no input;
/// exit code 0 within `timeout` passes. A failure says what the command printed, as
/// kubelet's "Liveness probe failed: <output>" does, or its exit code if it printed nothing.
async fn exec(
    ctx: &Arc<GroupCtx>,
    name: &str,
    command: &[String],
    timeout: Duration,
) -> Result<(), String> {
    let run = ctx
        .rt
        .exec(ctx.id, name, command.to_vec())
        .await
        .map_err(|e| format!("command {command:?} cannot run: {e}"))?;
    let crate::runtime::exec::ExecRun {
        input,
        mut output,
        mut end,
    } = run.start(false);
    // No input: the guest's stdin ends at once, and with the input's echo gone the output
    // ends when the run does.
    drop(input);
    let mut printed = Vec::new();
    let ran = tokio::time::timeout(timeout, async {
        while let Some(bytes) = output.next().await {
            let room = EXEC_OUTPUT_QUOTED.saturating_sub(printed.len());
            printed.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
        end.ended().await
    })
    .await;
    // Dropping `end` ends a run still going.
    let Ok(ended) = ran else {
        return Err(format!(
            "command {command:?} timed out after {} s",
            timeout.as_secs()
        ));
    };
    if ended.exit_code == 0 {
        return Ok(());
    }
    let printed = String::from_utf8_lossy(&printed).trim().to_string();
    Err(if printed.is_empty() {
        format!("command {command:?} exited with {}", ended.exit_code)
    } else {
        printed
    })
}

/// Probes until `failureThreshold` failures in a row (`Some` with the last failure) or the
/// end of this life (`None`).
async fn liveness(
    ctx: &Arc<GroupCtx>,
    name: &str,
    p: &Probe,
    service: &Arc<Service>,
    life: &CancellationToken,
) -> Option<String> {
    if !pause(life, Duration::from_secs(p.initial_delay_seconds.into())).await {
        return None;
    }
    let mut failures = 0;
    loop {
        let result = tokio::select! {
            _ = life.cancelled() => return None,
            r = check(ctx, name, service, p) => r,
        };
        match result {
            Ok(()) => failures = 0,
            Err(why) => {
                failures += 1;
                let message = format!("Liveness probe failed: {why}");
                ctx.event(Some(name), "Unhealthy", message, true).await;
                if failures >= p.failure_threshold {
                    return Some(why);
                }
            }
        }
        if !pause(life, Duration::from_secs(p.period_seconds.into())).await {
            return None;
        }
    }
}

/// Probes for readiness until the end of this life: `successThreshold` passes in a row open
/// the service to its clients, `failureThreshold` failures in a row close it again.
async fn readiness(
    ctx: Arc<GroupCtx>,
    name: String,
    p: Probe,
    service: Arc<Service>,
    admission: Admission,
    start_time: String,
    life: CancellationToken,
) {
    if !pause(&life, Duration::from_secs(p.initial_delay_seconds.into())).await {
        return;
    }
    // Ready already when an update waited for it before taking over the ports.
    let (mut ready, mut passes, mut failures) = (admission.is_open(), 0, 0);
    loop {
        let result = tokio::select! {
            _ = life.cancelled() => return,
            r = check(&ctx, &name, &service, &p) => r,
        };
        match result {
            Ok(()) => {
                failures = 0;
                passes += 1;
                if !ready && passes >= p.success_threshold {
                    ready = true;
                    admission.set(true);
                    let state = running(&start_time, None);
                    ctx.set_state(&name, state, false).await;
                }
            }
            Err(why) => {
                passes = 0;
                failures += 1;
                let message = format!("Readiness probe failed: {why}");
                ctx.event(Some(&name), "Unhealthy", message, true).await;
                if ready && failures >= p.failure_threshold {
                    ready = false;
                    admission.set(false);
                    let state = running(&start_time, Some(NOT_READY));
                    ctx.set_state(&name, state, false).await;
                }
            }
        }
        if !pause(&life, Duration::from_secs(p.period_seconds.into())).await {
            return;
        }
    }
}

fn running(start_time: &str, detail: Option<&str>) -> ContainerState {
    ContainerState {
        state: "Running".into(),
        start_time: Some(start_time.to_string()),
        detail_status: detail.map(str::to_string),
        ..Default::default()
    }
}

/// Kills a container that failed its liveness probe: its clients are held back, its
/// requests in flight get the drain grace, and it is `Terminated` with a `Killing` event in
/// ACI's words.
async fn kill(
    ctx: &Arc<GroupCtx>,
    name: &str,
    service: &Arc<Service>,
    admission: &Admission,
    start_time: &str,
    why: &str,
    again: bool,
) {
    admission.set(false);
    let message = if again {
        format!("Container {name} failed liveness probe, will be restarted")
    } else {
        format!(
            "Container {name} failed liveness probe, will not be restarted (restart policy Never)"
        )
    };
    ctx.event(Some(name), "Killing", message, false).await;
    service.runs.close();
    let _ = tokio::time::timeout(DRAIN_GRACE, service.runs.wait()).await;
    service.runs.reopen();
    let state = ContainerState {
        state: "Terminated".into(),
        start_time: Some(start_time.to_string()),
        finish_time: Some(now_rfc3339()),
        exit_code: Some(KILLED_EXIT_CODE),
        detail_status: Some(format!("Killed: liveness probe failed ({why})")),
    };
    ctx.set_state(name, state, false).await;
}
