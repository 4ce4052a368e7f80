//! Reads of container groups: the rows a group and its containers are read into, and the
//! point reads of a [`Reader`] (one group by name or id, its containers, its events;
//! `tokens.rs` adds one token's).
//!
//! [`Store::read`] runs point reads without holding up the reactor; the `Store` methods of
//! the same names run them on a blocking caller's thread. Nothing here writes.

use super::{Error, Result, Store};
use crate::model::{
    ContainerGroupSpec, ContainerState, Event, GroupState, ProvisioningState, Scope,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::net::Ipv4Addr;

/// Point reads (one group, its containers and events, one token), on a connection already
/// held: see [`Store::read`].
pub struct Reader<'a>(pub(super) &'a Connection);

#[derive(Debug, Clone)]
pub struct GroupRow {
    pub id: i64,
    pub subscription: String,
    /// The resource group's name as first written.
    pub resource_group: String,
    pub name: String,
    pub spec: ContainerGroupSpec,
    pub provisioning_state: ProvisioningState,
    pub state: GroupState,
    pub ip: Option<Ipv4Addr>,
    pub fqdn: Option<String>,
    pub generation: i64,
}

#[derive(Debug, Clone)]
pub struct ContainerRow {
    pub name: String,
    pub init: bool,
    pub restart_count: u32,
    pub current: ContainerState,
    pub previous: Option<ContainerState>,
    /// The pinned image (`registry/repo@sha256:...`) a registry tag resolved to at create.
    pub image_digest: Option<String>,
}

/// The columns [`group_from_row`] reads, of `g` (the group) joined with `r` (its resource
/// group).
pub(super) const GROUP_COLUMNS: &str = "g.id, g.subscription, r.name, g.name, g.spec, g.provisioning_state, g.state, g.ip, g.fqdn, g.generation";

/// A group's row as SQLite holds it: its spec and provisioning state are parsed by
/// [`StoredGroup::parse`], outside rusqlite's row callback, so that a bad one is a
/// [`Error::Corrupt`].
pub(super) struct StoredGroup {
    id: i64,
    subscription: String,
    resource_group: String,
    name: String,
    spec: String,
    provisioning_state: String,
    state: String,
    ip: Option<u32>,
    fqdn: Option<String>,
    generation: i64,
}

/// A row of [`GROUP_COLUMNS`].
pub(super) fn group_from_row(r: &Row<'_>) -> rusqlite::Result<StoredGroup> {
    Ok(StoredGroup {
        id: r.get(0)?,
        subscription: r.get(1)?,
        resource_group: r.get(2)?,
        name: r.get(3)?,
        spec: r.get(4)?,
        provisioning_state: r.get(5)?,
        state: r.get(6)?,
        ip: r.get(7)?,
        fqdn: r.get(8)?,
        generation: r.get(9)?,
    })
}

impl StoredGroup {
    pub(super) fn parse(self) -> Result<GroupRow> {
        let id = self.id;
        let corrupt = |e: String| Error::Corrupt(format!("group {id}: {e}"));
        Ok(GroupRow {
            id,
            subscription: self.subscription,
            resource_group: self.resource_group,
            name: self.name,
            spec: serde_json::from_str(&self.spec).map_err(|e| corrupt(e.to_string()))?,
            provisioning_state: self.provisioning_state.parse().map_err(corrupt)?,
            state: GroupState::parse(&self.state),
            ip: self.ip.map(Ipv4Addr::from),
            fqdn: self.fqdn,
            generation: self.generation,
        })
    }
}

impl Store {
    /// Runs the point reads of `f` (a few indexed rows, pages the cache holds): in place
    /// when the connection is free, since handing them to a blocking thread and back costs
    /// more than they do; on a blocking thread when it is taken, so the caller never waits
    /// on another's commit (an fsync) on the reactor.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Reader<'_>) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        match self.read_in_place(f) {
            Ok(r) => r,
            Err(f) => self.run(move |s| f(&Reader(&s.lock()))).await,
        }
    }

    /// `f` run on the connection if it is free now; `f` back if it is taken.
    fn read_in_place<R, F: FnOnce(&Reader<'_>) -> R>(&self, f: F) -> std::result::Result<R, F> {
        match self.conn.try_lock() {
            Ok(conn) => Ok(f(&Reader(&conn))),
            Err(std::sync::TryLockError::Poisoned(e)) => Ok(f(&Reader(&e.into_inner()))),
            Err(std::sync::TryLockError::WouldBlock) => Err(f),
        }
    }

    pub fn group(&self, scope: &Scope, name: &str) -> Result<Option<GroupRow>> {
        Reader(&self.lock()).group(scope, name)
    }

    pub fn group_by_id(&self, id: i64) -> Result<Option<GroupRow>> {
        Reader(&self.lock()).group_by_id(id)
    }

    pub fn containers(&self, group_id: i64) -> Result<Vec<ContainerRow>> {
        Reader(&self.lock()).containers(group_id)
    }

    /// Events of a group: `(container, event)`, container `None` for group events.
    pub fn events(&self, group_id: i64) -> Result<Vec<(Option<String>, Event)>> {
        Reader(&self.lock()).events(group_id)
    }
}

impl Reader<'_> {
    pub fn group(&self, scope: &Scope, name: &str) -> Result<Option<GroupRow>> {
        self.one_group(
            "g.subscription = ?1 AND g.resource_group_lc = ?2 AND g.name = ?3",
            params![
                scope.subscription,
                scope.resource_group.to_lowercase(),
                name
            ],
        )
    }

    pub fn group_by_id(&self, id: i64) -> Result<Option<GroupRow>> {
        self.one_group("g.id = ?1", params![id])
    }

    /// The group that `filter` (on `g`, the group, and `r`, its resource group) selects.
    fn one_group(&self, filter: &str, params: impl rusqlite::Params) -> Result<Option<GroupRow>> {
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM container_groups g JOIN resource_groups r ON r.subscription = g.subscription AND r.name_lc = g.resource_group_lc WHERE {filter}"
        );
        let row = self
            .0
            .prepare_cached(&sql)?
            .query_row(params, group_from_row)
            .optional()?;
        row.map(StoredGroup::parse).transpose()
    }

    pub fn containers(&self, group_id: i64) -> Result<Vec<ContainerRow>> {
        let conn = self.0;
        let mut stmt = conn.prepare_cached(
            "SELECT name, init, restart_count, current_state, previous_state, image_digest FROM containers WHERE group_id = ?1 ORDER BY rowid",
        )?;
        let rows = stmt
            .query_map(params![group_id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, bool>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(name, init, restart_count, cur, prev, image_digest)| {
                let current =
                    serde_json::from_str(&cur).map_err(|e| Error::Corrupt(e.to_string()))?;
                let previous = prev
                    .map(|p| serde_json::from_str(&p))
                    .transpose()
                    .map_err(|e| Error::Corrupt(e.to_string()))?;
                Ok(ContainerRow {
                    name,
                    init,
                    restart_count,
                    current,
                    previous,
                    image_digest,
                })
            })
            .collect()
    }

    /// Events of a group: `(container, event)`, container `None` for group events.
    pub fn events(&self, group_id: i64) -> Result<Vec<(Option<String>, Event)>> {
        let conn = self.0;
        let mut stmt = conn.prepare_cached(
            "SELECT container, name, message, type, count, first_ts, last_ts FROM events WHERE group_id = ?1 ORDER BY id",
        )?;
        let rows = stmt
            .query_map(params![group_id], |r| {
                Ok((
                    r.get(0)?,
                    Event {
                        name: r.get(1)?,
                        message: r.get(2)?,
                        kind: r.get(3)?,
                        count: r.get(4)?,
                        first_timestamp: r.get(5)?,
                        last_timestamp: r.get(6)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::super::PutGroup;
    use super::super::groups::tests::{fresh, spec};

    #[tokio::test]
    async fn a_read_waits_for_a_held_connection_off_the_reactor() {
        let (dir, store, scope, base) = fresh("read");
        store
            .put_group(PutGroup::plain(&scope, "a", &spec("a"), (base, base + 3)))
            .unwrap();
        // Another thread holds the connection for a while, as a commit with its fsync does.
        let held = store.clone();
        let (taken_tx, taken) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            let _conn = held.lock();
            taken_tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(300));
        });
        taken.recv().unwrap();
        // This test's runtime has one thread: if the read waited on it, nothing else could run.
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            })
        };
        let n = scope.clone();
        let g = store.read(move |r| r.group(&n, "a")).await.unwrap();
        assert_eq!(g.expect("the group").name, "a");
        assert!(
            ticks.load(std::sync::atomic::Ordering::Relaxed) >= 5,
            "the runtime went on while the read waited"
        );
        ticker.abort();
        holder.join().unwrap();
        // With the connection free, the read runs in place.
        assert!(
            store
                .read(move |r| r.group(&scope, "b"))
                .await
                .unwrap()
                .is_none()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
