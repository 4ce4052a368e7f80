//! The runtime: makes reality match the store. For every container group it starts a
//! supervisor task that resolves and loads each container's image, binds the group's ports,
//! runs commands under the restart policy, and writes every state change and event back.
//!
//! Two layers. `core/` runs guests (engine, sandbox, one service request, one command) and
//! knows no store: its guest output leaves through [`LogSink`]. `supervisor/` (with
//! `volumes.rs` and this file) sits on top and keeps the store up to date; `exec.rs` runs a
//! command inside a container its supervisor started.
//!
//! Only this module (and its children) imports wasmtime.
//! **Invariant:** nothing in `core/` imports `crate::store`, `crate::logs`, `crate::api` or
//! `crate::registry`.
//! **Invariant:** a supervisor writes container and group state only for the generation it
//! was started for, so a superseded one cannot overwrite its successor's rows.

pub mod core;
pub mod exec;
mod ports;
mod supervisor;
mod volumes;

pub use self::core::service::{ResponseBody, Service, full_body};
pub use self::core::stats::ContainerStats;
pub use self::core::{DRAIN_GRACE, LogSink, Stream, StreamSink, command, engine, host};
use crate::logs::LogHub;
use crate::model::{ContainerState, GroupState, RestartPolicy};
use crate::registry::Registries;
use crate::store::{GroupRow, Store};
use engine::Engines;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Time limit of one service request (DESIGN.md §4); over it the client gets 504.
    pub request_timeout: Duration,
    /// Time limit of one run of a command container; `None` (the default) for none.
    pub max_runtime: Option<Duration>,
    /// Where each group's volumes live (`<data dir>/volumes`).
    pub volumes_dir: PathBuf,
    /// What guests may reach over sockets and outgoing HTTP (the platform's own listeners
    /// never).
    pub egress: Arc<self::core::net::policy::Egress>,
    /// The names guests resolve without the host's resolver (the platform's zone).
    pub names: Option<Arc<dyn self::core::net::Names>>,
}

/// What the front door finds for a group.
pub enum FrontService {
    Serving(Arc<Service>),
    /// The group's service is not ready (its readiness probe has not passed, or it is being
    /// restarted); the group's name.
    NotReady(Arc<str>),
    /// Nothing serves the group now (stopped, starting, failed).
    NotRunning,
}

/// The running supervisor of one generation of a group.
struct Supervised {
    generation: i64,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// A group's names and each of its containers' stats (init containers included), for the
/// platform's metrics. Kept from the group's start until [`Runtime::stop`]: a new generation
/// from an update keeps counting into the same stats; a stop or delete drops them (so the
/// group's series disappear), and a restart, which stops first, starts them from zero.
#[derive(Debug, Clone)]
pub struct GroupStats {
    pub id: i64,
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
    pub containers: Vec<(Arc<str>, Arc<ContainerStats>)>,
}

pub struct Runtime {
    engines: Arc<Engines>,
    registries: Arc<Registries>,
    store: Store,
    logs: Arc<LogHub>,
    config: RuntimeConfig,
    groups: Mutex<HashMap<i64, Supervised>>,
    /// The service answering each group's first port, for the front door: group id →
    /// (generation, service, the group's name for the front door's pages).
    front: Mutex<HashMap<i64, (i64, Arc<Service>, Arc<str>)>>,
    /// Every image reference this runtime has loaded, with the content digest it was last
    /// loaded as: how [`Runtime::cached_images`] names the engine's compiled code.
    loaded_images: Mutex<HashMap<String, String>>,
    /// Each running group's stats, by group id.
    stats: Mutex<HashMap<i64, GroupStats>>,
    /// Each group's bound service ports, which outlive a generation (an update takes them
    /// over).
    ports: ports::Ports,
    /// The running containers exec can enter.
    execs: exec::Targets,
}

impl Runtime {
    pub fn new(
        engines: Arc<Engines>,
        registries: Arc<Registries>,
        store: Store,
        logs: Arc<LogHub>,
        config: RuntimeConfig,
    ) -> Arc<Runtime> {
        Arc::new(Runtime {
            engines,
            registries,
            store,
            logs,
            config,
            groups: Mutex::new(HashMap::new()),
            front: Mutex::new(HashMap::new()),
            loaded_images: Mutex::new(HashMap::new()),
            stats: Mutex::new(HashMap::new()),
            ports: ports::Ports::default(),
            execs: exec::Targets::default(),
        })
    }

    /// The compiled-code cache's counters.
    pub fn cache_stats(&self) -> &engine::CacheStats {
        &self.engines.cache
    }

    /// Every running group's stats, at this moment.
    pub fn stats(&self) -> Vec<GroupStats> {
        let stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.values().cloned().collect()
    }

    /// Keeps stats for each container of `group`: those it had keep counting, new ones
    /// start at zero, those no longer in the group are dropped.
    fn track(&self, group: &GroupRow) {
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        let old = stats.remove(&group.id);
        let find = |name: &str| {
            old.as_ref()
                .and_then(|o| o.containers.iter().find(|(n, _)| &**n == name))
                .map(|(_, s)| s.clone())
                .unwrap_or_default()
        };
        let spec = &group.spec;
        let containers = spec
            .init_containers
            .iter()
            .chain(&spec.containers)
            .map(|c| (Arc::from(c.name.as_str()), find(&c.name)))
            .collect();
        stats.insert(
            group.id,
            GroupStats {
                id: group.id,
                subscription: group.subscription.clone(),
                resource_group: group.resource_group.clone(),
                name: group.name.clone(),
                containers,
            },
        );
    }

    /// The stats of container `name` of group `group_id` (fresh ones if it is not tracked).
    fn container_stats(&self, group_id: i64, name: &str) -> Arc<ContainerStats> {
        let stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats
            .get(&group_id)
            .and_then(|g| g.containers.iter().find(|(n, _)| &**n == name))
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    pub fn logs(&self) -> &Arc<LogHub> {
        &self.logs
    }

    /// Starts (or restarts, for a new generation) the supervisor of `group`. Returns at once.
    /// The previous supervisor, if any, goes on serving while the new one loads its images
    /// and runs its init containers; it is stopped once the new one has taken over the
    /// group's ports (its requests in flight get the drain grace), or once the new one has
    /// failed.
    pub fn apply(self: &Arc<Self>, group: GroupRow) {
        let mut groups = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        if groups
            .get(&group.id)
            .is_some_and(|s| s.generation == group.generation && !s.task.is_finished())
        {
            return;
        }
        let previous = groups.remove(&group.id);
        self.track(&group);
        let cancel = CancellationToken::new();
        let id = group.id;
        let generation = group.generation;
        let span = tracing::info_span!("group", group = id, generation);
        let task = tokio::spawn(
            supervisor::supervise(self.clone(), group, cancel.clone(), previous).instrument(span),
        );
        groups.insert(
            id,
            Supervised {
                generation,
                cancel,
                task,
            },
        );
    }

    /// The service that answers a group's first port, if it is running and ready.
    pub fn front_service(&self, group_id: i64) -> FrontService {
        let front = self.front.lock().unwrap_or_else(|e| e.into_inner());
        match front.get(&group_id) {
            None => FrontService::NotRunning,
            Some((_, s, group)) if !s.admission.is_open() => FrontService::NotReady(group.clone()),
            Some((_, s, _)) => FrontService::Serving(s.clone()),
        }
    }

    /// Remembers that `reference` loaded as `digest` (its compiled code is now cached).
    fn loaded_image(&self, reference: &str, digest: &str) {
        self.loaded_images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(reference.to_string(), digest.to_string());
    }

    /// Pulls `image` now and compiles it on a task of its own, ahead of any group of it
    /// (`POST .../cachedImages`): a group of it then starts as from the cache. Answers
    /// once the image is here (an image that cannot be pulled is an error now), with its
    /// content digest and whether its compiled code was already loaded.
    pub async fn cache_image(
        self: &Arc<Self>,
        image: &str,
        credentials: &[crate::model::RegistryCredential],
    ) -> Result<(String, bool), String> {
        let (digest, bytes) = supervisor::pull_ahead(self, image, credentials).await?;
        if self.engines.is_loaded(&digest) {
            self.loaded_image(image, &digest);
            return Ok((digest, true));
        }
        let (rt, image, d) = (self.clone(), image.to_string(), digest.clone());
        tokio::spawn(async move {
            match rt.engines.load(&d, bytes).await {
                Ok((l, _)) => {
                    rt.loaded_image(&image, &d);
                    tracing::info!(%image, digest = %d, ms = l.load_time.as_secs_f64() * 1e3, "compiled ahead of its groups");
                }
                Err(e) => {
                    tracing::warn!(%image, error = %e, "compiling an image ahead of its groups failed")
                }
            }
        });
        Ok((digest, false))
    }

    /// The image references whose compiled code is loaded, sorted: a container of one of
    /// these starts without a pull or a compile.
    pub fn cached_images(&self) -> Vec<String> {
        let images = self
            .loaded_images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut cached: Vec<String> = images
            .into_iter()
            .filter(|(_, digest)| self.engines.is_loaded(digest))
            .map(|(reference, _)| reference)
            .collect();
        cached.sort();
        cached
    }

    /// Stops a group's supervisor and waits until its ports are closed and its instances gone.
    pub async fn stop(&self, group_id: i64) {
        let s = self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&group_id);
        let closing = self.ports.close_group(group_id);
        if let Some(s) = s {
            s.cancel.cancel();
            let _ = s.task.await;
        }
        closing.await;
        // A port the supervisor bound while it was being stopped.
        self.ports.close_group(group_id).await;
        let mut stats = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        stats.remove(&group_id);
        self.logs.forget(group_id);
    }

    /// Removes a deleted group's volumes (its emptyDir contents and secret files).
    pub async fn delete_volumes(&self, group_id: i64) {
        let dir = volumes::group_dir(&self.config.volumes_dir, group_id);
        let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(dir)).await;
    }

    /// Stops every group (platform shutdown).
    pub async fn stop_all(&self) {
        let all: Vec<Supervised> = self
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .map(|(_, s)| s)
            .collect();
        let closing = self.ports.close_all();
        for s in &all {
            s.cancel.cancel();
        }
        for s in all {
            let _ = s.task.await;
        }
        closing.await;
        self.ports.close_all().await;
    }
}

/// Whether a terminated container stays ended under `policy` (else it will be restarted).
pub fn ended_for_good(policy: RestartPolicy, s: &ContainerState) -> bool {
    s.is_terminated()
        && match policy {
            RestartPolicy::Always => false,
            RestartPolicy::OnFailure => s.exit_code == Some(0),
            RestartPolicy::Never => true,
        }
}

/// ACI's group state from its containers' states (DESIGN.md §3, States): `Running` while any
/// container runs or will run again, else `Succeeded` if every one ended 0, else `Failed`.
fn group_state<'a>(
    policy: RestartPolicy,
    states: impl Iterator<Item = &'a ContainerState>,
) -> GroupState {
    let states: Vec<&ContainerState> = states.collect();
    if states
        .iter()
        .any(|s| s.state == "Running" || (s.is_terminated() && !ended_for_good(policy, s)))
    {
        return GroupState::Running;
    }
    if !states.is_empty() && states.iter().all(|s| s.is_terminated()) {
        return if states.iter().all(|s| s.exit_code == Some(0)) {
            GroupState::Succeeded
        } else {
            GroupState::Failed
        };
    }
    if policy == RestartPolicy::Never
        && states
            .iter()
            .any(|s| s.is_terminated() && s.exit_code != Some(0))
    {
        return GroupState::Failed;
    }
    GroupState::Pending
}

#[cfg(test)]
mod tests {
    use super::*;

    fn term(code: i32) -> ContainerState {
        ContainerState {
            state: "Terminated".into(),
            exit_code: Some(code),
            ..Default::default()
        }
    }

    fn check(policy: RestartPolicy, states: &[ContainerState], expected: GroupState) {
        assert_eq!(
            group_state(policy, states.iter()),
            expected,
            "{policy:?} {states:?}"
        );
    }

    #[test]
    fn group_state_follows_aci() {
        let running = ContainerState {
            state: "Running".into(),
            ..Default::default()
        };
        check(RestartPolicy::Never, &[term(0)], GroupState::Succeeded);
        check(RestartPolicy::Never, &[term(3)], GroupState::Failed);
        check(
            RestartPolicy::OnFailure,
            &[term(0), term(0)],
            GroupState::Succeeded,
        );
        check(
            RestartPolicy::Never,
            &[term(0), running.clone()],
            GroupState::Running,
        );
        check(RestartPolicy::Always, &[term(0)], GroupState::Running);
        check(RestartPolicy::OnFailure, &[term(1)], GroupState::Running);
        check(
            RestartPolicy::OnFailure,
            &[term(0), running.clone()],
            GroupState::Running,
        );
        check(
            RestartPolicy::Never,
            &[ContainerState::waiting("Pulling")],
            GroupState::Pending,
        );
    }
}
