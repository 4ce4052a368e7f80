//! Exec (DESIGN.md §4): a command run inside a running container's sandbox — its env
//! (secure values included), its volumes at their mount paths, its memory cap, its share of
//! the cores and its network — with its standard streams on a console
//! (`core::console`) instead of the logs.
//!
//! What runs: the container's own image when it is a command (`wasi:cli/run`) and the
//! command's first word is the container's own argv[0] (its `command`'s first word, else
//! its name); the built-in toolbox (`waci/toolbox`) otherwise, its first word naming the
//! tool (`sh`, `ls`, `cat`, ...).
//!
//! **Invariant:** an exec run belongs to the generation of the group it started in: the
//! generation's stop cancels it, and its supervisor waits for it (`watch.rs`), so no exec
//! outlives a stop, a delete or an update.

use super::Runtime;
use super::core::command::{self, Exit};
use super::core::console::{self, ConsoleInput, ConsoleOutput};
use super::core::engine::{Engines, Workload};
use super::core::host::{Host, Sandbox};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;
use wasmtime_wasi::p2::bindings::CommandPre;

/// A running container as exec finds it: registered by its supervisor when it starts.
#[derive(Clone)]
pub(super) struct Target {
    pub(super) generation: i64,
    pub(super) sandbox: Sandbox,
    /// The container's own image, when it is a command.
    pub(super) own: Option<CommandPre<Host>>,
    /// The generation's stop.
    pub(super) cancel: CancellationToken,
    /// The generation's exec runs, which its supervisor waits for.
    pub(super) runs: TaskTracker,
}

/// Every running container exec can enter, by group id and container name.
#[derive(Default)]
pub(super) struct Targets(Mutex<HashMap<(i64, String), Target>>);

impl Targets {
    pub(super) fn insert(&self, group: i64, container: &str, target: Target) {
        self.lock().insert((group, container.to_string()), target);
    }

    /// Forgets generation `generation`'s containers of `group` (a later one's stay).
    pub(super) fn remove(&self, group: i64, generation: i64) {
        self.lock()
            .retain(|(g, _), t| *g != group || t.generation != generation);
    }

    fn get(&self, group: i64, container: &str) -> Option<Target> {
        self.lock().get(&(group, container.to_string())).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, String), Target>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("container '{0}' is not running")]
    NotRunning(String),
    #[error(
        "container '{0}' runs a service (wasi:http), which exec cannot run as a command; leave out '{1}' to run a toolbox command such as 'sh' or 'ls'"
    )]
    OwnImageIsService(String, String),
    #[error("the toolbox could not be loaded: {0}")]
    Toolbox(String),
}

/// A command ready to run in a container's sandbox.
pub struct Exec {
    engines: Arc<Engines>,
    pre: CommandPre<Host>,
    sandbox: Sandbox,
    target: Target,
    max_runtime: Option<std::time::Duration>,
}

/// A started exec run: the client's ends of its console, and its end.
pub struct ExecRun {
    pub input: ConsoleInput,
    pub output: ConsoleOutput,
    pub end: RunEnd,
}

/// How a run ends: by itself, by an interrupt, by its group's stop, or when its client
/// leaves (this is dropped).
pub struct RunEnd {
    exit: oneshot::Receiver<Exit>,
    cancel: CancellationToken,
    _cancel_on_drop: DropGuard,
    interrupted: bool,
    stopped: CancellationToken,
}

/// How an exec run ended, for its client.
#[derive(Debug, PartialEq)]
pub struct Ended {
    pub exit_code: i32,
    /// Why, when the command did not end by itself ("Interrupted", "OOMKilled", ...).
    pub detail: Option<String>,
}

/// The exit code of a run interrupted with Ctrl-C, as a shell reports SIGINT.
pub const INTERRUPTED: i32 = 130;

impl Runtime {
    /// Prepares `argv` to run in container `container` of group `group_id`; it starts with
    /// [`Exec::start`].
    pub async fn exec(
        &self,
        group_id: i64,
        container: &str,
        argv: Vec<String>,
    ) -> Result<Exec, ExecError> {
        let target = self
            .execs
            .get(group_id, container)
            .filter(|t| !t.cancel.is_cancelled())
            .ok_or_else(|| ExecError::NotRunning(container.to_string()))?;
        let own_word = target.sandbox.argv().first().cloned().unwrap_or_default();
        let pre = if argv.first() == Some(&own_word) {
            target
                .own
                .clone()
                .ok_or_else(|| ExecError::OwnImageIsService(container.to_string(), own_word))?
        } else {
            self.toolbox().await?
        };
        Ok(Exec {
            engines: self.engines.clone(),
            pre,
            sandbox: target.sandbox.clone().with_argv(argv),
            target,
            max_runtime: self.config.max_runtime,
        })
    }

    /// The toolbox, loaded once (compiled code cached like any image's).
    async fn toolbox(&self) -> Result<CommandPre<Host>, ExecError> {
        let image = crate::images::resolve(crate::images::TOOLBOX)
            .map_err(|e| ExecError::Toolbox(e.to_string()))?;
        let (loaded, _) = self
            .engines
            .load(&image.digest, image.bytes)
            .await
            .map_err(|e| ExecError::Toolbox(e.to_string()))?;
        match &loaded.workload {
            Workload::Command(pre) => Ok(pre.current().clone()),
            Workload::Service(_) => Err(ExecError::Toolbox("it is not a command".into())),
        }
    }
}

impl Exec {
    /// Starts the run, its streams on a console (a terminal if `tty`).
    pub fn start(self, tty: bool) -> ExecRun {
        let (console, input, output) = console::console(tty);
        let cancel = self.target.cancel.child_token();
        let (tx, exit) = oneshot::channel();
        let run_cancel = cancel.clone();
        self.target.runs.spawn(async move {
            let exit = command::run_on(
                &self.engines,
                &self.pre,
                &self.sandbox,
                Some(console),
                &run_cancel,
                self.max_runtime,
            )
            .await;
            let _ = tx.send(exit);
        });
        ExecRun {
            input,
            output,
            end: RunEnd {
                exit,
                _cancel_on_drop: cancel.clone().drop_guard(),
                cancel,
                interrupted: false,
                stopped: self.target.cancel,
            },
        }
    }
}

impl RunEnd {
    /// Ends the run (Ctrl-C on a terminal).
    pub fn interrupt(&mut self) {
        self.interrupted = true;
        self.cancel.cancel();
    }

    /// Waits for the run's end. Cancel-safe until it returns; call it no more after that.
    pub async fn ended(&mut self) -> Ended {
        let exit = (&mut self.exit).await.unwrap_or(Exit::Cancelled);
        match exit {
            Exit::Code(c) => Ended {
                exit_code: c,
                detail: None,
            },
            Exit::Cancelled if self.interrupted && !self.stopped.is_cancelled() => Ended {
                exit_code: INTERRUPTED,
                detail: Some("Interrupted".into()),
            },
            Exit::Cancelled => Ended {
                exit_code: exit.exit_code(),
                detail: Some("the container group stopped".into()),
            },
            other => Ended {
                exit_code: other.exit_code(),
                detail: Some(other.detail_status()),
            },
        }
    }
}
