//! Runs a command container (`wasi:cli/run`) once, like a process, and says how it ended.

use super::console::Console;
use super::engine::Engines;
use super::host::{Host, Sandbox};
use tokio_util::sync::CancellationToken;
use wasmtime_wasi::p2::bindings::CommandPre;

/// How one run of a guest ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Exit {
    /// The guest returned or called exit; 0 is success.
    Code(i32),
    /// The guest grew its memory past its cap.
    OutOfMemory,
    /// The guest trapped (unreachable, stack overflow, ...): the message says which.
    Trap(String),
    /// The platform stopped it (stop, delete, update, shutdown).
    Cancelled,
    /// It ran longer than the platform's `--max-runtime`.
    Timeout,
}

impl Exit {
    /// The exit code ACI would show: the guest's, else 1 for a failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Exit::Code(c) => *c,
            Exit::OutOfMemory => 137,
            Exit::Trap(_) => 1,
            Exit::Cancelled => 143,
            Exit::Timeout => 124,
        }
    }
    /// `detailStatus` of the terminated container.
    pub fn detail_status(&self) -> String {
        match self {
            Exit::Code(0) => "Completed".into(),
            Exit::Code(_) => "Error".into(),
            Exit::OutOfMemory => "OOMKilled".into(),
            Exit::Trap(m) => format!("Trap: {m}"),
            Exit::Cancelled => "Killed".into(),
            Exit::Timeout => "Timeout".into(),
        }
    }
    pub fn succeeded(&self) -> bool {
        matches!(self, Exit::Code(0))
    }
}

/// Classifies an error that ended a guest call.
pub fn classify(e: &wasmtime::Error) -> Exit {
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return Exit::Code(exit.0);
    }
    let text = format!("{e:#}");
    if text.contains("forcing trap when growing memory") {
        return Exit::OutOfMemory;
    }
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return Exit::Trap(trap.to_string());
    }
    Exit::Trap(text.lines().next().unwrap_or("unknown error").to_string())
}

/// Runs the command to its end, its cancellation, or `max_runtime`, on the guest pool with
/// its slices scheduled by the sandbox's share of the cores.
pub async fn run_once(
    engines: &Engines,
    pre: &CommandPre<Host>,
    sandbox: &Sandbox,
    cancel: &CancellationToken,
    max_runtime: Option<std::time::Duration>,
) -> Exit {
    run_on(engines, pre, sandbox, None, cancel, max_runtime).await
}

/// [`run_once`] with the guest's standard streams on `console` (an exec run), when given.
pub async fn run_on(
    engines: &Engines,
    pre: &CommandPre<Host>,
    sandbox: &Sandbox,
    console: Option<Console>,
    cancel: &CancellationToken,
    max_runtime: Option<std::time::Duration>,
) -> Exit {
    let mut store = match sandbox.store_with(pre.instance_pre().engine(), console) {
        Ok(s) => s,
        Err(e) => return Exit::Trap(e.to_string()),
    };
    let pre = pre.clone();
    let run = Box::pin(async move {
        let command = pre.instantiate_async(&mut store).await?;
        command.wasi_cli_run().call_run(&mut store).await
    });
    let mut task = engines.cpu.spawn(sandbox.gate(run));
    let limit = async {
        match max_runtime {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let cut = tokio::select! {
        r = &mut task => return match r {
            Ok(Ok(Ok(()))) => Exit::Code(0),
            Ok(Ok(Err(()))) => Exit::Code(1),
            Ok(Err(e)) => classify(&e),
            // The guest pool is gone: the platform is shutting down.
            Err(_) => Exit::Cancelled,
        },
        _ = cancel.cancelled() => Exit::Cancelled,
        _ = limit => Exit::Timeout,
    };
    // The instance ends (its memory given back) before the run is reported over; it ends at
    // its current slice's end, within one tick.
    task.abort();
    let _ = task.await;
    cut
}
