//! Container-group operations, the domain layer between the API and the rest: put, patch,
//! delete, stop, start, restart and resume at boot, and the resource-group operations that
//! carry groups with them. Each sequences the store (the truth), the directory (published
//! names), the runtime (what runs) and the group's volumes in the one order that keeps the
//! invariants below. The API turns a request into one call here and the result into a
//! response; the server calls [`Groups::resume`] once at boot.
//!
//! This module knows no HTTP status, no ARM JSON and no SQL: it speaks `model` and `store`
//! types, and its failures are [`Error`], which the API maps to statuses and codes.
//!
//! **Invariants:**
//! - A name resolves from the moment `put` returns until `delete` returns, and not after: the
//!   directory is written here only, right after the store commits a put and before a delete
//!   returns ([`Groups::remove`] is the one delete sequence).
//! - A deleted group leaves no instance running and no volume on disk once `delete` returns.
//! - The runtime is told to run only what the store holds: `apply` follows the commit.

use crate::directory::Directory;
use crate::model::{ContainerGroupSpec, Event, Scope};
use crate::runtime::Runtime;
use crate::store::{
    self, ContainerRow, GroupKey, GroupRow, Operation, Page, ResourceGroupRow, Store,
};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

mod exec;
mod rules;
#[cfg(test)]
mod tests;
mod usage;

use rules::fqdn_of;
pub use rules::{PROVIDER, group_id, publish_stored, should_resume};
pub use usage::{Quota, Usage};

/// The most items a page of a list holds. ARM's lists commonly come in pages of 100, so
/// clients written for ARM meet a page size they are used to; and a page of groups without
/// instance views is some 50 to 100 KB, so an answer stays small and quick however many
/// groups a subscription holds.
pub const PAGE_SIZE: usize = 100;

/// What a group operation can fail with, besides bad input (refused before it gets here).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container group '{name}' under resource group '{resource_group}' was not found")]
    GroupNotFound {
        resource_group: String,
        name: String,
    },
    #[error("resource group '{0}' could not be found")]
    ResourceGroupNotFound(String),
    #[error("the operation '{0}' was not found")]
    OperationNotFound(String),
    #[error("the container '{container}' was not found in container group '{group}'")]
    ContainerNotFound { group: String, container: String },
    /// Exec cannot run in the container now: `why` says what would let it.
    #[error("cannot exec into container '{container}' of container group '{group}': {why}")]
    ExecRefused {
        group: String,
        container: String,
        why: String,
    },
    #[error(transparent)]
    Exec(crate::runtime::exec::ExecError),
    /// An image to cache ahead that could not be pulled or read.
    #[error("the image '{image}' is not accessible: {why}")]
    InaccessibleImage { image: String, why: String },
    #[error(transparent)]
    Store(#[from] store::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The platform's settings that shape a group: its FQDN's parts, where its IP comes from,
/// and how many groups a subscription may hold.
#[derive(Debug, Clone)]
pub struct Settings {
    /// This platform's tenant id, hashed into `TenantReuse` FQDNs.
    pub tenant: String,
    pub zone: String,
    pub location: String,
    /// First and last assignable address of the IP pool, as u32.
    pub ip_pool: (u32, u32),
    pub max_groups_per_subscription: u64,
}

/// A group with its instance view as the store holds it: containers and events (container
/// `None` = the group's own).
pub struct Snapshot {
    pub group: GroupRow,
    pub containers: Vec<ContainerRow>,
    pub events: Vec<(Option<String>, Event)>,
}

/// What a put did: the group and its view as committed, and whether it was new.
pub struct Put {
    pub snapshot: Snapshot,
    pub created: bool,
    /// Every image is ready without a registry pull ([`Groups::starts_at_once`]).
    pub starts_at_once: bool,
}

/// An async operation a caller can poll (`Azure-AsyncOperation`), named before it starts so
/// it is recorded with the change it follows.
pub struct NewOperation {
    pub id: String,
}

impl NewOperation {
    pub fn new() -> NewOperation {
        NewOperation {
            id: uuid::Uuid::new_v4().to_string(),
        }
    }
}

impl Default for NewOperation {
    fn default() -> Self {
        Self::new()
    }
}

/// The group operations, over the parts they sequence.
pub struct Groups {
    store: Store,
    directory: Arc<Directory>,
    runtime: Arc<Runtime>,
    settings: Settings,
    /// The images each subscription asked to have compiled ahead (`POST .../cachedImages`),
    /// which its list of cached images shows besides its groups' own.
    cached_ahead: std::sync::Mutex<HashMap<String, BTreeSet<String>>>,
}

impl Groups {
    pub fn new(
        store: Store,
        directory: Arc<Directory>,
        runtime: Arc<Runtime>,
        settings: Settings,
    ) -> Groups {
        Groups {
            store,
            directory,
            runtime,
            settings,
            cached_ahead: Default::default(),
        }
    }

    /// Boot: starts again every group of `stored` (the store's groups as boot read them) that
    /// was running (or would restart under its policy), in one transaction first, so none
    /// shows a stale `Running` before its ports are bound again. Their names were published
    /// from the same list before any listener answered ([`publish_stored`]).
    pub async fn resume(&self, stored: &[GroupRow]) -> Result<usize> {
        let ids: HashSet<i64> = stored
            .iter()
            .filter(|g| should_resume(g))
            .map(|g| g.id)
            .collect();
        let resumed = self
            .store
            .run(move |s| {
                s.restart_groups(&ids.iter().copied().collect::<Vec<_>>())?;
                // Read back as restarted: new generation, containers waiting.
                let groups = s.list_groups(None, None)?;
                Ok::<_, store::Error>(
                    groups
                        .into_iter()
                        .filter(|g| ids.contains(&g.id))
                        .collect::<Vec<_>>(),
                )
            })
            .await?;
        let n = resumed.len();
        for g in resumed {
            self.runtime.apply(g);
        }
        Ok(n)
    }

    /// Creates or replaces a group (a spec already parsed and valid). The store change and
    /// the async operation are one transaction; the name is published and the runtime told
    /// once it is committed.
    pub async fn put(
        &self,
        scope: Scope,
        name: String,
        spec: ContainerGroupSpec,
        operation: &NewOperation,
    ) -> Result<Put> {
        let starts_at_once = self.starts_at_once(&spec);
        let settings = self.settings.clone();
        let op = operation.id.clone();
        let (outcome, containers, events) = self
            .store
            .run(move |s| {
                let fqdn = |nonce: &str| fqdn_of(&settings, &scope, &spec, nonce);
                let resource_id = group_id(&scope.subscription, &scope.resource_group, &name);
                let outcome = s.put_group(store::PutGroup {
                    scope: &scope,
                    name: &name,
                    spec: &spec,
                    ip_pool: settings.ip_pool,
                    max_groups_per_subscription: settings.max_groups_per_subscription,
                    fqdn: &fqdn,
                    operation: Some((&op, &resource_id)),
                })?;
                // The answer's instance view, read in the same trip to the store.
                let id = outcome.group.id;
                Ok::<_, store::Error>((outcome, s.containers(id)?, s.events(id)?))
            })
            .await?;
        let g = &outcome.group;
        // The stored spec again: the running generation goes on untouched.
        if !outcome.unchanged {
            self.directory.publish(g.id, g.fqdn.as_deref(), g.ip);
            self.runtime.apply(g.clone());
        }
        Ok(Put {
            snapshot: Snapshot {
                group: outcome.group,
                containers,
                events,
            },
            created: outcome.created,
            starts_at_once,
        })
    }

    /// A group by its name, or [`Error::GroupNotFound`].
    pub async fn find(&self, scope: &Scope, name: &str) -> Result<GroupRow> {
        let (s, n) = (scope.clone(), name.to_string());
        self.store
            .read(move |r| r.group(&s, &n))
            .await?
            .ok_or_else(|| Error::GroupNotFound {
                resource_group: scope.resource_group.clone(),
                name: name.to_string(),
            })
    }

    /// A group with its instance view.
    pub async fn snapshot(&self, group: GroupRow) -> Result<Snapshot> {
        let id = group.id;
        let (containers, events) = self
            .store
            .read(move |r| Ok((r.containers(id)?, r.events(id)?)))
            .await?;
        Ok(Snapshot {
            group,
            containers,
            events,
        })
    }

    /// Replaces a group's tags; nothing restarts.
    pub async fn patch_tags(
        &self,
        scope: &Scope,
        name: &str,
        tags: BTreeMap<String, String>,
    ) -> Result<Snapshot> {
        let id = self.find(scope, name).await?.id;
        self.store.run(move |s| s.set_tags(id, &tags)).await?;
        let g = self.find(scope, name).await?;
        self.snapshot(g).await
    }

    /// Stops and deletes a group; `None` if there was none. The answer is the group as it
    /// was just before (a DELETE shows it `Deleting`).
    pub async fn delete(&self, scope: &Scope, name: &str) -> Result<Option<Snapshot>> {
        let g = match self.find(scope, name).await {
            Ok(g) => g,
            Err(Error::GroupNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let snapshot = self.snapshot(g).await?;
        self.remove(snapshot.group.id).await?;
        Ok(Some(snapshot))
    }

    /// The one delete sequence: nothing runs any more, the store forgets the group (its IP
    /// and label are free), its name stops resolving, its volumes go.
    async fn remove(&self, id: i64) -> Result<()> {
        self.runtime.stop(id).await;
        self.store.run(move |s| s.delete_group(id)).await?;
        self.directory.withdraw(id);
        self.runtime.delete_volumes(id).await;
        Ok(())
    }

    /// Stops a group (synchronous, as ACI's stop): its instances are gone when this returns
    /// and it stays stopped across platform restarts.
    pub async fn stop(&self, scope: &Scope, name: &str) -> Result<()> {
        let id = self.find(scope, name).await?.id;
        self.runtime.stop(id).await;
        self.store.run(move |s| s.mark_stopped(id)).await?;
        Ok(())
    }

    /// Starts a group over (ACI's start and restart are the same here): the running
    /// generation stops, a new one starts with its containers waiting, under `operation`.
    pub async fn restart(&self, scope: &Scope, name: &str, operation: &NewOperation) -> Result<()> {
        let id = self.find(scope, name).await?.id;
        self.runtime.stop(id).await;
        let (op, sub, rid) = (
            operation.id.clone(),
            scope.subscription.clone(),
            group_id(&scope.subscription, &scope.resource_group, name),
        );
        let g = self
            .store
            .run(move |s| {
                let g = s.restart_group(id)?;
                s.create_operation(&op, &sub, &rid, Some(id), "InProgress")?;
                Ok::<_, store::Error>(g)
            })
            .await?;
        if let Some(g) = g {
            self.runtime.apply(g);
        }
        Ok(())
    }

    /// A page of the container groups of a subscription, of one resource group if given:
    /// at most [`PAGE_SIZE`], the first after `after` in [`GroupKey`] order (from the first
    /// if `None`). The next page starts after the key of this one's last group.
    pub async fn list(
        &self,
        subscription: &str,
        rg: Option<&str>,
        after: Option<GroupKey>,
    ) -> Result<Page<GroupRow>> {
        let (sub, rg) = (subscription.to_string(), rg.map(str::to_string));
        Ok(self
            .store
            .run(move |s| s.list_groups_page(&sub, rg.as_deref(), after.as_ref(), PAGE_SIZE))
            .await?)
    }

    /// An async operation with the events of its group so far.
    pub async fn operation(
        &self,
        subscription: &str,
        id: &str,
    ) -> Result<(Operation, Vec<(Option<String>, Event)>)> {
        let (sub, op_id) = (subscription.to_string(), id.to_string());
        let op = self
            .store
            .run(move |s| s.operation(&sub, &op_id))
            .await?
            .ok_or_else(|| Error::OperationNotFound(id.to_string()))?;
        let events = match op.group_id {
            Some(gid) => self.store.run(move |s| s.events(gid)).await?,
            None => vec![],
        };
        Ok((op, events))
    }

    /// Creates or updates a resource group; `true` if it was new.
    pub async fn put_resource_group(
        &self,
        subscription: &str,
        name: &str,
        location: Option<String>,
        tags: BTreeMap<String, String>,
    ) -> Result<(ResourceGroupRow, bool)> {
        let (sub, rg) = (subscription.to_string(), name.to_string());
        let location = location.unwrap_or_else(|| self.settings.location.clone());
        Ok(self
            .store
            .run(move |s| s.put_resource_group(&sub, &rg, &location, &tags))
            .await?)
    }

    pub async fn resource_group(&self, subscription: &str, name: &str) -> Result<ResourceGroupRow> {
        let (sub, rg) = (subscription.to_string(), name.to_string());
        self.store
            .run(move |s| s.resource_group(&sub, &rg))
            .await?
            .ok_or_else(|| Error::ResourceGroupNotFound(name.to_string()))
    }

    /// A page of a subscription's resource groups: at most [`PAGE_SIZE`], the first whose
    /// key ([`ResourceGroupRow::key`]) is after `after` (from the first if `None`).
    pub async fn resource_groups(
        &self,
        subscription: &str,
        after: Option<String>,
    ) -> Result<Page<ResourceGroupRow>> {
        let sub = subscription.to_string();
        Ok(self
            .store
            .run(move |s| s.list_resource_groups_page(&sub, after.as_deref(), PAGE_SIZE))
            .await?)
    }

    /// Deletes a resource group with every container group in it (each by the one delete
    /// sequence); `false` if there was none.
    pub async fn delete_resource_group(&self, subscription: &str, name: &str) -> Result<bool> {
        let mut after = None;
        loop {
            let page = self.list(subscription, Some(name), after).await?;
            for g in &page.items {
                self.remove(g.id).await?;
            }
            if !page.more {
                break;
            }
            after = page.items.last().map(GroupKey::of);
        }
        let (sub, rg) = (subscription.to_string(), name.to_string());
        Ok(self
            .store
            .run(move |s| s.delete_resource_group(&sub, &rg))
            .await?)
    }
}
