//! The state one supervisor shares between its phases ([`GroupCtx`]) and its every trip to
//! the store: container and group states, events, provisioning, each written for the
//! supervisor's own generation only, with the quick steps deferred so that they ride along
//! with the next write.
//!
//! It knows the store's write batch; it runs no guest and binds no port.

use super::BACKOFF_MAX;
use crate::model::{ContainerState, Port, ProvisioningState, RestartPolicy};
use crate::runtime::core::net::LocalServices;
use crate::runtime::{Runtime, Supervised, group_state};
use crate::store::{Batch, GroupRow};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared state of one supervisor: writes go to the store for this generation only.
pub(super) struct GroupCtx {
    pub(super) rt: Arc<Runtime>,
    pub(super) id: i64,
    pub(super) generation: i64,
    pub(super) policy: RestartPolicy,
    pub(super) ip: Option<Ipv4Addr>,
    /// The latest state of each container; the group state follows from the main
    /// containers' (init containers only decide whether those start).
    states: Mutex<HashMap<String, ContainerState>>,
    main: HashSet<String>,
    pub(super) cancel: CancellationToken,
    /// Writes that ride along with the next trip to the store (see [`GroupCtx::defer_event`]).
    deferred: Mutex<Deferred>,
    /// Every port the group's containers declare: the group's `localhost`.
    pub(super) ports: Arc<[Port]>,
    /// The group's services by port, for outgoing HTTP to `localhost` in process.
    pub(super) local_services: LocalServices,
    /// The supervisor of the generation before this one, serving until this one takes over.
    previous: Mutex<Option<Supervised>>,
    /// The exec runs in this generation's containers, waited for before it ends.
    pub(super) exec_runs: TaskTracker,
}

/// A container's event: (container, name, message, warning).
type EventRow = (Option<String>, &'static str, String, bool);

#[derive(Default)]
struct Deferred {
    provisioning: Option<ProvisioningState>,
    events: Vec<EventRow>,
}

/// The async operations of a group end when its provisioning does.
fn operation_status(provisioning: ProvisioningState) -> Option<&'static str> {
    match provisioning {
        ProvisioningState::Succeeded => Some("Succeeded"),
        ProvisioningState::Failed => Some("Failed"),
        _ => None,
    }
}

impl Deferred {
    /// Writes what was deferred, in order, inside the caller's trip to the store.
    fn write(self, w: &Batch<'_>, id: i64, generation: i64) -> Result<(), crate::store::Error> {
        if let Some(p) = self.provisioning {
            w.set_provisioning_state(id, generation, p)?;
            if let Some(st) = operation_status(p) {
                w.finish_operations(id, generation, st)?;
            }
        }
        write_events(w, id, &self.events)
    }
}

fn write_events(w: &Batch<'_>, id: i64, events: &[EventRow]) -> Result<(), crate::store::Error> {
    for (container, name, message, warning) in events {
        let kind = if *warning { "Warning" } else { "Normal" };
        w.add_event(id, container.as_deref(), name, message, kind)?;
    }
    Ok(())
}

impl GroupCtx {
    /// The shared state of the supervisor of `group`'s generation, nothing recorded yet.
    pub(super) fn new(
        rt: Arc<Runtime>,
        group: &GroupRow,
        cancel: CancellationToken,
        previous: Option<Supervised>,
    ) -> GroupCtx {
        GroupCtx {
            rt,
            id: group.id,
            generation: group.generation,
            policy: group.spec.restart_policy,
            ip: group.ip,
            states: Mutex::new(HashMap::new()),
            main: group
                .spec
                .containers
                .iter()
                .map(|c| c.name.clone())
                .collect(),
            cancel,
            deferred: Mutex::new(Deferred::default()),
            ports: group
                .spec
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().cloned())
                .collect(),
            local_services: LocalServices::default(),
            previous: Mutex::new(previous),
            exec_runs: TaskTracker::new(),
        }
    }

    /// This generation takes over from the one before it (it serves the group's ports now, or
    /// it has failed or been stopped): the ports it does not serve close, and the previous
    /// supervisor stops; its requests in flight get the drain grace.
    pub(super) fn retire_previous(&self) {
        self.rt.ports.close_older(self.id, self.generation);
        if let Some(p) = self
            .previous
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            p.cancel.cancel();
        }
    }

    /// Whether a previous generation still runs (and serves the group's ports).
    pub(super) fn has_previous(&self) -> bool {
        let previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        previous.as_ref().is_some_and(|p| !p.task.is_finished())
    }

    /// Retires the previous generation, if this one has not yet, and waits until nothing of
    /// it runs.
    pub(super) async fn previous_ended(&self) {
        self.retire_previous();
        let previous = self
            .previous
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(p) = previous {
            let _ = p.task.await;
        }
    }

    /// The span of one container's work (its image, its runs, its ports), inside the
    /// supervisor's own.
    pub(super) fn span(&self, container: &str) -> tracing::Span {
        tracing::info_span!("container", group = self.id, container)
    }

    /// Keeps a container's event for the next write to the store, so the quick steps on the
    /// way to Running (Pulled, Created...) cost no trip of their own: the first state a user
    /// can act on (Running, or a failure) carries them all.
    pub(super) fn defer_event(&self, container: &str, name: &'static str, message: String) {
        let row = (Some(container.to_string()), name, message, false);
        self.lock_deferred().events.push(row);
    }

    /// The same for the provisioning state (`Creating`, and `Succeeded` once every image
    /// is loaded, so the first container's Running carries it).
    pub(super) fn defer_provisioning(&self, state: ProvisioningState) {
        self.lock_deferred().provisioning = Some(state);
    }

    fn lock_deferred(&self) -> std::sync::MutexGuard<'_, Deferred> {
        self.deferred.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_deferred(&self) -> Deferred {
        std::mem::take(&mut *self.lock_deferred())
    }

    /// One trip to the store: `deferred`, then `then`, in one transaction. A failure is
    /// logged as `failed`; the supervisor goes on either way.
    async fn commit(
        &self,
        deferred: Deferred,
        failed: &'static str,
        then: impl FnOnce(&Batch<'_>) -> Result<(), crate::store::Error> + Send + 'static,
    ) {
        let (id, generation) = (self.id, self.generation);
        let r = self
            .rt
            .store
            .run(move |s| {
                s.write(|w| {
                    deferred.write(w, id, generation)?;
                    then(w)
                })
            })
            .await;
        if let Err(e) = r {
            tracing::error!(group = id, error = %e, "{failed}");
        }
    }

    pub(super) async fn event(
        &self,
        container: Option<&str>,
        name: &'static str,
        message: String,
        warning: bool,
    ) {
        let id = self.id;
        let row = vec![(container.map(str::to_string), name, message, warning)];
        self.commit(
            self.take_deferred(),
            "recording an event failed",
            move |w| write_events(w, id, &row),
        )
        .await
    }

    /// Records a container's new state and the group state that follows from all of them.
    pub(super) async fn set_state(&self, container: &str, state: ContainerState, restarted: bool) {
        self.set_state_with(container, state, restarted, Vec::new())
            .await
    }

    /// [`GroupCtx::set_state`] and the container's `events` (name, message, warning) in one
    /// trip to the store, with whatever was deferred: on the path to Running every trip is
    /// latency a user waits for.
    pub(super) async fn set_state_with(
        &self,
        container: &str,
        state: ContainerState,
        restarted: bool,
        events: Vec<(&'static str, String, bool)>,
    ) {
        let group_state = {
            let mut states = self.states.lock().unwrap_or_else(|e| e.into_inner());
            states.insert(container.to_string(), state.clone());
            let main = states
                .iter()
                .filter(|(name, _)| self.main.contains(*name))
                .map(|(_, s)| s);
            group_state(self.policy, main)
        };
        let (id, generation, c) = (self.id, self.generation, container.to_string());
        let rows: Vec<EventRow> = events
            .into_iter()
            .map(|(n, m, w)| (Some(c.clone()), n, m, w))
            .collect();
        self.commit(self.take_deferred(), "recording a state failed", move |w| {
            write_events(w, id, &rows)?;
            w.set_container_state(id, generation, &c, &state, restarted)?;
            w.set_group_state(id, generation, group_state)
        })
        .await
    }

    /// A `BackOff` event (with the container's new state, if any), then a wait of `backoff`,
    /// which doubles up to the cap. `false` when the group was cancelled during the wait.
    pub(super) async fn back_off(
        &self,
        container: &str,
        message: String,
        state: Option<ContainerState>,
        backoff: &mut Duration,
    ) -> bool {
        match state {
            Some(s) => {
                self.set_state_with(container, s, false, vec![("BackOff", message, true)])
                    .await
            }
            None => self.event(Some(container), "BackOff", message, true).await,
        }
        let wait = *backoff;
        *backoff = (*backoff * 2).min(BACKOFF_MAX);
        tokio::select! {
            _ = self.cancel.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }

    /// The group cannot start: provisioning and group state both `Failed`, with whatever
    /// was deferred, in one transaction.
    pub(super) async fn fail(&self) {
        let (id, generation) = (self.id, self.generation);
        let mut deferred = self.take_deferred();
        deferred.provisioning = Some(ProvisioningState::Failed);
        self.commit(deferred, "recording a failed group failed", move |w| {
            w.set_group_state(id, generation, crate::model::GroupState::Failed)
        })
        .await
    }

    /// Writes what is still deferred, if anything.
    pub(super) async fn flush_deferred(&self) {
        let deferred = self.take_deferred();
        if deferred.provisioning.is_none() && deferred.events.is_empty() {
            return;
        }
        self.commit(deferred, "recording deferred events failed", |_| Ok(()))
            .await
    }
}
