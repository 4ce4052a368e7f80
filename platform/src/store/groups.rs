//! Resource groups, container groups, their containers, events and async operations.

use super::{Batch, Error, Reader, Result, Store};
use crate::model::{ContainerGroupSpec, ContainerState, Event, GroupState, Scope, now_rfc3339};
use rusqlite::{OptionalExtension, Row, params};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

#[derive(Debug, Clone)]
pub struct ResourceGroupRow {
    pub subscription: String,
    pub name: String,
    pub location: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct GroupRow {
    pub id: i64,
    pub subscription: String,
    /// The resource group's name as first written.
    pub resource_group: String,
    pub name: String,
    pub spec: ContainerGroupSpec,
    pub provisioning_state: String,
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

#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub resource_id: String,
    pub group_id: Option<i64>,
    pub status: String,
    pub start_time: String,
}

pub struct PutOutcome {
    pub group: GroupRow,
    pub created: bool,
}

const GROUP_COLUMNS: &str = "g.id, g.subscription, r.name, g.name, g.spec, g.provisioning_state, g.state, g.ip, g.fqdn, g.generation";

fn group_from_row(r: &Row<'_>) -> rusqlite::Result<(GroupRow, String)> {
    let spec: String = r.get(4)?;
    let ip: Option<u32> = r.get(7)?;
    Ok((
        GroupRow {
            id: r.get(0)?,
            subscription: r.get(1)?,
            resource_group: r.get(2)?,
            name: r.get(3)?,
            spec: ContainerGroupSpec {
                location: String::new(),
                tags: Default::default(),
                os_type: String::new(),
                restart_policy: crate::model::RestartPolicy::Never,
                containers: vec![],
                init_containers: vec![],
                volumes: vec![],
                registry_credentials: vec![],
                ip_address: None,
            },
            provisioning_state: r.get(5)?,
            state: GroupState::parse(&r.get::<_, String>(6)?),
            ip: ip.map(Ipv4Addr::from),
            fqdn: r.get(8)?,
            generation: r.get(9)?,
        },
        spec,
    ))
}

fn finish(pair: (GroupRow, String)) -> Result<GroupRow> {
    let (mut g, spec) = pair;
    g.spec =
        serde_json::from_str(&spec).map_err(|e| Error::Corrupt(format!("group {}: {e}", g.id)))?;
    Ok(g)
}

fn initial_states(spec: &ContainerGroupSpec) -> Vec<(String, bool)> {
    spec.init_containers
        .iter()
        .map(|c| (c.name.clone(), true))
        .chain(spec.containers.iter().map(|c| (c.name.clone(), false)))
        .collect()
}

impl Store {
    pub fn put_resource_group(
        &self,
        sub: &str,
        name: &str,
        location: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<(ResourceGroupRow, bool)> {
        let conn = self.lock_durable();
        let tags_json = serde_json::to_string(tags).unwrap_or_else(|_| "{}".into());
        let updated = conn
            .prepare_cached(
                "UPDATE resource_groups SET tags = ?3 WHERE subscription = ?1 AND name_lc = ?2",
            )?
            .execute(params![sub, name.to_lowercase(), tags_json])?;
        if updated == 0 {
            conn.prepare_cached("INSERT INTO resource_groups (subscription, name, name_lc, location, tags) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
                params![sub, name, name.to_lowercase(), location, tags_json],
            )?;
        }
        drop(conn);
        let row = self
            .resource_group(sub, name)?
            .ok_or_else(|| Error::Corrupt("resource group vanished".into()))?;
        Ok((row, updated == 0))
    }

    pub fn resource_group(&self, sub: &str, name: &str) -> Result<Option<ResourceGroupRow>> {
        let conn = self.lock();
        let row = conn
            .prepare_cached("SELECT subscription, name, location, tags FROM resource_groups WHERE subscription = ?1 AND name_lc = ?2")?.query_row(
                params![sub, name.to_lowercase()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?)),
            )
            .optional()?;
        Ok(
            row.map(|(subscription, name, location, tags)| ResourceGroupRow {
                subscription,
                name,
                location,
                tags: serde_json::from_str(&tags).unwrap_or_default(),
            }),
        )
    }

    pub fn list_resource_groups(&self, sub: &str) -> Result<Vec<ResourceGroupRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT name FROM resource_groups WHERE subscription = ?1 ORDER BY name_lc",
        )?;
        let names: Vec<String> = stmt
            .query_map(params![sub], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        drop(stmt);
        drop(conn);
        names
            .iter()
            .filter_map(|n| self.resource_group(sub, n).transpose())
            .collect()
    }

    /// Deletes an empty resource group. The caller deletes its container groups first.
    pub fn delete_resource_group(&self, sub: &str, name: &str) -> Result<bool> {
        let n = self
            .lock_durable()
            .prepare_cached("DELETE FROM resource_groups WHERE subscription = ?1 AND name_lc = ?2")?
            .execute(params![sub, name.to_lowercase()])?;
        Ok(n > 0)
    }

    /// Creates or replaces a container group in one transaction: the resource group (created
    /// if absent), an IP from `pool` (kept on update), the FQDN (`fqdn(nonce)`, unique), and
    /// fresh container rows. A taken label, an empty pool or a subscription at its quota of
    /// `max_groups` changes nothing. `operation` (id, resource id) records the create's
    /// async operation in the same transaction.
    pub fn put_group(
        &self,
        scope: &Scope,
        name: &str,
        spec: &ContainerGroupSpec,
        pool: (u32, u32),
        max_groups: u64,
        fqdn: &dyn Fn(&str) -> Option<String>,
        operation: Option<(&str, &str)>,
    ) -> Result<PutOutcome> {
        let mut conn = self.lock_durable();
        let tx = conn.transaction()?;
        let rg_lc = scope.resource_group.to_lowercase();
        tx.prepare_cached("INSERT OR IGNORE INTO resource_groups (subscription, name, name_lc, location, tags) VALUES (?1, ?2, ?3, ?4, '{}')")?.execute(
            params![scope.subscription, scope.resource_group, rg_lc, spec.location],
        )?;
        let existing: Option<(i64, Option<u32>, String)> = tx
            .prepare_cached("SELECT id, ip, nonce FROM container_groups WHERE subscription = ?1 AND resource_group_lc = ?2 AND name = ?3")?.query_row(
                params![scope.subscription, rg_lc, name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        if existing.is_none() {
            let count: u64 = tx
                .prepare_cached("SELECT groups FROM subscription_counts WHERE subscription = ?1")?
                .query_row(params![scope.subscription], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            if count >= max_groups {
                return Err(Error::QuotaReached { limit: max_groups });
            }
        }
        let nonce = existing
            .as_ref()
            .map(|e| e.2.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let fqdn = spec.ip_address.as_ref().and_then(|_| fqdn(&nonce));
        if let Some(f) = &fqdn {
            let holder: Option<(i64, String)> = tx
                .prepare_cached("SELECT id, name FROM container_groups WHERE fqdn = ?1")?
                .query_row(params![f], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((id, group)) = holder
                && Some(id) != existing.as_ref().map(|e| e.0)
            {
                let label = spec
                    .ip_address
                    .as_ref()
                    .and_then(|i| i.dns_name_label.clone())
                    .unwrap_or_default();
                return Err(Error::LabelTaken { label, group });
            }
        }
        let ip = match (&spec.ip_address, existing.as_ref().and_then(|e| e.1)) {
            (None, _) => None,
            (Some(_), Some(kept)) => Some(kept),
            (Some(_), None) => Some(allocate_ip(&tx, pool)?),
        };
        let spec_json = serde_json::to_string(spec).map_err(|e| Error::Corrupt(e.to_string()))?;
        let (id, created) = match &existing {
            Some((id, _, _)) => {
                tx.prepare_cached("UPDATE container_groups SET spec = ?2, provisioning_state = 'Pending', state = 'Pending', ip = ?3, fqdn = ?4, generation = generation + 1 WHERE id = ?1")?.execute(
                    params![id, spec_json, ip, fqdn],
                )?;
                tx.prepare_cached("DELETE FROM containers WHERE group_id = ?1")?
                    .execute(params![id])?;
                (*id, false)
            }
            None => {
                tx.prepare_cached("INSERT INTO container_groups (subscription, resource_group_lc, name, spec, provisioning_state, state, ip, fqdn, nonce, generation, created)
                     VALUES (?1, ?2, ?3, ?4, 'Pending', 'Pending', ?5, ?6, ?7, 1, ?8)")?.execute(
                    params![scope.subscription, rg_lc, name, spec_json, ip, fqdn, nonce, now_rfc3339()],
                )?;
                (tx.last_insert_rowid(), true)
            }
        };
        let waiting =
            serde_json::to_string(&ContainerState::waiting("Pending")).unwrap_or_default();
        for (cname, init) in initial_states(spec) {
            tx.prepare_cached("INSERT INTO containers (group_id, name, init, current_state) VALUES (?1, ?2, ?3, ?4)")?.execute(
                params![id, cname, init, waiting],
            )?;
        }
        // The async operation is made in the same transaction: one fsync per create.
        if let Some((op, resource_id)) = operation {
            tx.prepare_cached("INSERT INTO operations (id, subscription, resource_id, group_id, status, start_time, end_time) VALUES (?1, ?2, ?3, ?4, 'InProgress', ?5, NULL)")?.execute(
                params![op, scope.subscription, resource_id, id, now_rfc3339()],
            )?;
        }
        tx.commit()?;
        drop(conn);
        let group = self
            .group_by_id(id)?
            .ok_or_else(|| Error::Corrupt("group vanished".into()))?;
        Ok(PutOutcome { group, created })
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

    /// Groups of a subscription, optionally of one resource group; `None` lists every group.
    pub fn list_groups(&self, sub: Option<&str>, rg: Option<&str>) -> Result<Vec<GroupRow>> {
        let conn = self.lock();
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM container_groups g JOIN resource_groups r ON r.subscription = g.subscription AND r.name_lc = g.resource_group_lc
             WHERE (?1 IS NULL OR g.subscription = ?1) AND (?2 IS NULL OR g.resource_group_lc = ?2) ORDER BY g.resource_group_lc, g.name"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows: Vec<_> = stmt
            .query_map(params![sub, rg.map(str::to_lowercase)], group_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter().map(finish).collect()
    }

    /// Deletes a group with its containers, events and logs; its IP and FQDN are free at once.
    pub fn delete_group(&self, id: i64) -> Result<bool> {
        let conn = self.lock_durable();
        conn.prepare_cached("UPDATE operations SET group_id = NULL WHERE group_id = ?1")?
            .execute(params![id])?;
        Ok(conn
            .prepare_cached("DELETE FROM container_groups WHERE id = ?1")?
            .execute(params![id])?
            > 0)
    }

    /// Replaces a group's tags (PATCH); nothing else changes and nothing restarts.
    pub fn set_tags(&self, id: i64, tags: &BTreeMap<String, String>) -> Result<()> {
        let tags = serde_json::to_string(tags).map_err(|e| Error::Corrupt(e.to_string()))?;
        self.lock_durable().prepare_cached("UPDATE container_groups SET spec = json_set(spec, '$.tags', json(?2)) WHERE id = ?1")?.execute(
            params![id, tags],
        )?;
        Ok(())
    }

    /// Marks a group stopped by the user: state `Stopped`, every container terminated.
    pub fn mark_stopped(&self, id: i64) -> Result<()> {
        let mut conn = self.lock_durable();
        let tx = conn.transaction()?;
        tx.prepare_cached("UPDATE container_groups SET state = 'Stopped', generation = generation + 1 WHERE id = ?1")?.execute(params![id])?;
        let stopped = ContainerState {
            state: "Terminated".into(),
            finish_time: Some(now_rfc3339()),
            detail_status: Some("Stopped".into()),
            ..Default::default()
        };
        let stopped = serde_json::to_string(&stopped).map_err(|e| Error::Corrupt(e.to_string()))?;
        tx.prepare_cached("UPDATE containers SET previous_state = current_state, current_state = ?2 WHERE group_id = ?1 AND json_extract(current_state, '$.state') != 'Terminated'")?.execute(
            params![id, stopped],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Starts a group over (start, restart): a new generation, containers waiting again
    /// (restart counts kept), provisioning pending.
    pub fn restart_group(&self, id: i64) -> Result<Option<GroupRow>> {
        self.restart_groups(&[id])?;
        self.group_by_id(id)
    }

    /// [`Store::restart_group`] for many groups in one transaction (the boot resume).
    pub fn restart_groups(&self, ids: &[i64]) -> Result<()> {
        let mut conn = self.lock_durable();
        let tx = conn.transaction()?;
        let waiting =
            serde_json::to_string(&ContainerState::waiting("Pending")).unwrap_or_default();
        for id in ids {
            tx.prepare_cached("UPDATE container_groups SET generation = generation + 1, provisioning_state = 'Pending', state = 'Pending' WHERE id = ?1")?.execute(
                params![id],
            )?;
            tx.prepare_cached("UPDATE containers SET previous_state = current_state, current_state = ?2 WHERE group_id = ?1")?.execute(params![id, waiting])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records the pinned image a container's registry reference resolved to, for this
    /// generation's rows; later starts (restarts, a platform restart) run exactly it.
    pub fn set_image_digest(
        &self,
        group_id: i64,
        generation: i64,
        container: &str,
        pinned: &str,
    ) -> Result<()> {
        let conn = self.lock();
        conn.prepare_cached(
            "UPDATE containers SET image_digest = ?3
             WHERE group_id = ?1 AND name = ?2
               AND EXISTS (SELECT 1 FROM container_groups WHERE id = ?1 AND generation = ?4)",
        )?
        .execute(params![group_id, container, pinned, generation])?;
        Ok(())
    }

    pub fn create_operation(
        &self,
        id: &str,
        sub: &str,
        resource_id: &str,
        group_id: Option<i64>,
        status: &str,
    ) -> Result<()> {
        let now = now_rfc3339();
        let end = (status != "InProgress").then(|| now.clone());
        self.lock_durable().prepare_cached("INSERT INTO operations (id, subscription, resource_id, group_id, status, start_time, end_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
            params![id, sub, resource_id, group_id, status, now, end],
        )?;
        Ok(())
    }

    pub fn operation(&self, sub: &str, id: &str) -> Result<Option<Operation>> {
        let conn = self.lock();
        Ok(conn
            .prepare_cached("SELECT id, resource_id, group_id, status, start_time FROM operations WHERE subscription = ?1 AND id = ?2")?.query_row(
                params![sub, id],
                |r| Ok(Operation { id: r.get(0)?, resource_id: r.get(1)?, group_id: r.get(2)?, status: r.get(3)?, start_time: r.get(4)? }),
            )
            .optional()?)
    }
}

/// A free address of `pool` (inclusive bounds, as u32): the one above the highest in use
/// while the pool has room there (one index lookup, however many groups there are), else the
/// lowest free one.
fn allocate_ip(tx: &rusqlite::Transaction<'_>, (first, last): (u32, u32)) -> Result<u32> {
    let highest: Option<u32> = tx
        .prepare_cached("SELECT MAX(ip) FROM container_groups WHERE ip BETWEEN ?1 AND ?2")?
        .query_row(params![first, last], |r| r.get(0))?;
    match highest {
        None => return Ok(first),
        Some(h) if h < last => return Ok(h + 1),
        Some(_) => {}
    }
    let first_taken: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM container_groups WHERE ip = ?1)")?
        .query_row(params![first], |r| r.get(0))?;
    if !first_taken {
        return Ok(first);
    }
    let gap: Option<u32> = tx
        .prepare_cached(
            "SELECT g.ip + 1 FROM container_groups g
             WHERE g.ip >= ?1 AND g.ip < ?2 AND NOT EXISTS (SELECT 1 FROM container_groups h WHERE h.ip = g.ip + 1)
             ORDER BY g.ip LIMIT 1",
        )?
        .query_row(params![first, last], |r| r.get(0))
        .optional()?;
    gap.ok_or(Error::PoolExhausted)
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
        let pair = self
            .0
            .prepare_cached(&sql)?
            .query_row(params, group_from_row)
            .optional()?;
        pair.map(finish).transpose()
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

impl Batch<'_> {
    /// The `set_*` methods below change a group only while it is at `generation`, so a
    /// superseded supervisor cannot overwrite its successor's state.
    pub fn set_provisioning_state(&self, id: i64, generation: i64, state: &str) -> Result<()> {
        self.0.prepare_cached("UPDATE container_groups SET provisioning_state = ?3 WHERE id = ?1 AND generation = ?2")?.execute(
            params![id, generation, state],
        )?;
        Ok(())
    }

    pub fn set_group_state(&self, id: i64, generation: i64, state: GroupState) -> Result<()> {
        self.0
            .prepare_cached(
                "UPDATE container_groups SET state = ?3 WHERE id = ?1 AND generation = ?2",
            )?
            .execute(params![id, generation, state.as_str()])?;
        Ok(())
    }

    /// Moves a container to `current`; the old current state becomes `previous` when the
    /// state name changes (as ACI's instance view shows it).
    pub fn set_container_state(
        &self,
        group_id: i64,
        generation: i64,
        container: &str,
        current: &ContainerState,
        restarted: bool,
    ) -> Result<()> {
        let conn = self.0;
        let cur = serde_json::to_string(current).map_err(|e| Error::Corrupt(e.to_string()))?;
        conn.prepare_cached("UPDATE containers SET
                previous_state = CASE WHEN json_extract(current_state, '$.state') != ?3 THEN current_state ELSE previous_state END,
                current_state = ?4,
                restart_count = restart_count + ?5
             WHERE group_id = ?1 AND name = ?2
               AND EXISTS (SELECT 1 FROM container_groups WHERE id = ?1 AND generation = ?6)")?.execute(
            params![group_id, container, current.state, cur, restarted as i64, generation],
        )?;
        Ok(())
    }

    /// Records an event; a repeat of the newest one (same container, name and message) counts
    /// up instead of adding a row, as ACI does.
    pub fn add_event(
        &self,
        group_id: i64,
        container: Option<&str>,
        name: &str,
        message: &str,
        kind: &str,
    ) -> Result<()> {
        let conn = self.0;
        let now = now_rfc3339();
        let last: Option<(i64, String, String)> = conn
            .prepare_cached("SELECT id, name, message FROM events WHERE group_id = ?1 AND container IS ?2 ORDER BY id DESC LIMIT 1")?.query_row(
                params![group_id, container],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        match last {
            Some((id, n, m)) if n == name && m == message => {
                conn.prepare_cached(
                    "UPDATE events SET count = count + 1, last_ts = ?2 WHERE id = ?1",
                )?
                .execute(params![id, now])?;
            }
            _ => {
                conn.prepare_cached("INSERT INTO events (group_id, container, name, message, type, count, first_ts, last_ts) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6)")?.execute(
                    params![group_id, container, name, message, kind, now],
                )?;
            }
        }
        Ok(())
    }

    /// Ends every operation in progress on `group_id` with `status`, while the group is at
    /// `generation` (a superseded supervisor must not end its successor's operation).
    pub fn finish_operations(&self, group_id: i64, generation: i64, status: &str) -> Result<()> {
        self.0.prepare_cached("UPDATE operations SET status = ?2, end_time = ?3 WHERE group_id = ?1 AND status = 'InProgress'
               AND EXISTS (SELECT 1 FROM container_groups WHERE id = ?1 AND generation = ?4)")?.execute(
            params![group_id, status, now_rfc3339(), generation],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::{Limits, container_group};

    fn spec(name: &str) -> ContainerGroupSpec {
        let body = serde_json::json!({"location": "local", "properties": {
            "containers": [{"name": "web", "properties": {"image": "waci/hello-http",
                "ports": [{"port": 80}], "resources": {"requests": {"cpu": 1, "memoryInGB": 1}}}}],
            "ipAddress": {"type": "Public", "ports": [{"port": 80}]}}});
        let limits = Limits {
            max_cpu: 4.0,
            max_memory_gb: 16.0,
        };
        container_group(&body, name, "local", &limits, &|_| Ok(())).expect("a valid group")
    }

    /// A fresh store in a directory of its own (removed first), with the scope and the first
    /// pool address the tests use.
    fn fresh(tag: &str) -> (std::path::PathBuf, Store, Scope, u32) {
        let dir = std::env::temp_dir().join(format!("waci-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("waci.db")).unwrap();
        let scope = Scope {
            subscription: "sub".into(),
            resource_group: "rg".into(),
        };
        (dir, store, scope, u32::from(Ipv4Addr::new(127, 77, 9, 1)))
    }

    #[test]
    fn ips_go_upward_then_fill_the_gaps_then_run_out() {
        let (dir, store, scope, base) = fresh("ip");
        let pool = (base, base + 3);
        let put = |name: &str| {
            store
                .put_group(&scope, name, &spec(name), pool, 100, &|_| None, None)
                .map(|o| (o.group.id, u32::from(o.group.ip.expect("an IP")) - base))
        };
        let ids: Vec<(i64, u32)> = ["a", "b", "c", "d"]
            .iter()
            .map(|n| put(n).unwrap())
            .collect();
        assert_eq!(ids.iter().map(|x| x.1).collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert!(matches!(put("e"), Err(Error::PoolExhausted)));

        // The pool's top is taken: freed addresses are found again, lowest first.
        store.delete_group(ids[2].0).unwrap();
        store.delete_group(ids[0].0).unwrap();
        assert_eq!(put("f").unwrap().1, 0);
        assert_eq!(put("g").unwrap().1, 2);
        assert!(matches!(put("h"), Err(Error::PoolExhausted)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_batch_is_written_whole_or_not_at_all() {
        let (dir, store, scope, base) = fresh("batch");
        let g = store
            .put_group(
                &scope,
                "a",
                &spec("a"),
                (base, base + 3),
                100,
                &|_| None,
                Some(("op-1", "/rid")),
            )
            .unwrap()
            .group;
        let op_status = || store.operation("sub", "op-1").unwrap().unwrap().status;
        let failed: Result<()> = store.write(|w| {
            w.add_event(g.id, Some("web"), "Started", "started", "Normal")?;
            w.set_group_state(g.id, g.generation, GroupState::Running)?;
            Err(Error::Corrupt("the step failed".into()))
        });
        assert!(failed.is_err());
        assert!(store.events(g.id).unwrap().is_empty());
        assert_eq!(
            store.group_by_id(g.id).unwrap().unwrap().state,
            GroupState::Pending
        );

        store
            .write(|w| {
                w.add_event(g.id, Some("web"), "Started", "started", "Normal")?;
                w.set_provisioning_state(g.id, g.generation, "Succeeded")?;
                w.set_group_state(g.id, g.generation, GroupState::Running)
            })
            .unwrap();
        let after = store.group_by_id(g.id).unwrap().unwrap();
        assert_eq!(after.state, GroupState::Running);
        assert_eq!(after.provisioning_state, "Succeeded");
        assert_eq!(store.events(g.id).unwrap().len(), 1);
        // Writes for a superseded generation change nothing.
        store
            .write(|w| {
                w.set_group_state(g.id, g.generation - 1, GroupState::Failed)?;
                w.finish_operations(g.id, g.generation - 1, "Failed")
            })
            .unwrap();
        assert_eq!(
            store.group_by_id(g.id).unwrap().unwrap().state,
            GroupState::Running
        );
        assert_eq!(op_status(), "InProgress");
        store
            .write(|w| w.finish_operations(g.id, g.generation, "Succeeded"))
            .unwrap();
        assert_eq!(op_status(), "Succeeded");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_quota_counts_groups_as_they_come_and_go_and_after_an_upgrade() {
        let (dir, store, scope, base) = fresh("quota");
        let path = dir.join("waci.db");
        let put = |store: &Store, name: &str| {
            store.put_group(
                &scope,
                name,
                &spec(name),
                (base, base + 9),
                2,
                &|_| None,
                None,
            )
        };
        let a = put(&store, "a").unwrap().group.id;
        put(&store, "b").unwrap();
        assert!(matches!(
            put(&store, "c"),
            Err(Error::QuotaReached { limit: 2 })
        ));
        // An update at the quota is no new group.
        assert!(!put(&store, "b").unwrap().created);
        store.delete_group(a).unwrap();
        put(&store, "c").unwrap();
        assert!(matches!(
            put(&store, "d"),
            Err(Error::QuotaReached { limit: 2 })
        ));

        // A database from before the counts: they are counted once at open.
        store
            .lock()
            .execute_batch("DELETE FROM subscription_counts")
            .unwrap();
        drop(store);
        let store = Store::open(&path).unwrap();
        assert!(matches!(
            put(&store, "d"),
            Err(Error::QuotaReached { limit: 2 })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_read_waits_for_a_held_connection_off_the_reactor() {
        let (dir, store, scope, base) = fresh("read");
        store
            .put_group(
                &scope,
                "a",
                &spec("a"),
                (base, base + 3),
                100,
                &|_| None,
                None,
            )
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
