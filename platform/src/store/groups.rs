//! Container groups: their put (with an IP from the pool, the FQDN and fresh container
//! rows, in one transaction), list (a page at a time, after a [`GroupKey`]), delete, tags,
//! the user's stop and start, and a container's pinned image.
//!
//! These are the writes a user is told are done: they commit at synchronous=FULL through
//! `lock_durable`. A taken label, an empty pool or a subscription at its quota changes
//! nothing. The reads of one group are in `reader.rs`; the runtime's writes in `batch.rs`.

use super::reader::{GROUP_COLUMNS, group_from_row};
use super::{Error, GroupRow, Result, Store};
use crate::model::{ContainerGroupSpec, ContainerState, Scope, now_rfc3339};
use rusqlite::{OptionalExtension, params};
use std::collections::BTreeMap;

/// Where a container group sits in the order lists are read in: its resource group (lower
/// case, as ARM compares names) and then its name, unique in a subscription and the order of
/// the index `UNIQUE (subscription, resource_group_lc, name)`. A page starts after such a key
/// (keyset paging), so groups created or deleted between two pages neither shift nor repeat
/// the rest, and the key need not exist any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKey {
    pub resource_group_lc: String,
    pub name: String,
}

impl GroupKey {
    /// The key of a group as read.
    pub fn of(group: &GroupRow) -> GroupKey {
        GroupKey {
            // The store writes `resource_group_lc` with the same lowering (`put_group`).
            resource_group_lc: group.resource_group.to_lowercase(),
            name: group.name.clone(),
        }
    }
}

/// One page of a list, in key order: at most the rows asked for, and whether more follow.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub more: bool,
}

impl<T> Page<T> {
    /// The page of `rows` read with a limit one over `limit`: the extra row only says that
    /// more follow.
    pub(super) fn of(mut rows: Vec<T>, limit: usize) -> Page<T> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        Page { items: rows, more }
    }
}

/// `limit` as SQLite's `LIMIT`, one over it (see [`Page::of`]).
pub(super) fn limit_plus_one(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1
}

/// What a container group's put writes: see [`Store::put_group`].
pub struct PutGroup<'a> {
    pub scope: &'a Scope,
    pub name: &'a str,
    pub spec: &'a ContainerGroupSpec,
    /// The addresses a new group's IP is taken from (inclusive bounds, as u32); a group
    /// keeps its IP across updates.
    pub ip_pool: (u32, u32),
    /// A subscription holding this many groups gets no new one ([`Error::QuotaReached`]).
    pub max_groups_per_subscription: u64,
    /// The FQDN of the group's DNS name label, given the group's nonce (which a `Noreuse`
    /// label hashes); `None` without a label.
    pub fqdn: &'a dyn Fn(&str) -> Option<String>,
    /// The create's async operation (id, resource id), recorded in the same transaction.
    pub operation: Option<(&'a str, &'a str)>,
}

/// The group as stored after a put.
pub struct PutOutcome {
    pub group: GroupRow,
    /// The put made a new group (not an update of one).
    pub created: bool,
    /// The put was the stored spec again, on a group that runs: nothing changed.
    pub unchanged: bool,
}

/// Each container's name and whether it is an init container, init containers first.
fn initial_states(spec: &ContainerGroupSpec) -> Vec<(String, bool)> {
    spec.init_containers
        .iter()
        .map(|c| (c.name.clone(), true))
        .chain(spec.containers.iter().map(|c| (c.name.clone(), false)))
        .collect()
}

impl Store {
    /// Creates or replaces a container group in one transaction: the resource group (created
    /// if absent), an IP from the pool (kept on update), the FQDN (unique), fresh container
    /// rows, and the create's async operation. A taken label, an empty pool or a
    /// subscription at its quota changes nothing.
    pub fn put_group(&self, put: PutGroup<'_>) -> Result<PutOutcome> {
        let PutGroup {
            scope,
            name,
            spec,
            ip_pool,
            max_groups_per_subscription: max_groups,
            fqdn,
            operation,
        } = put;
        let mut conn = self.lock_durable();
        let tx = conn.transaction()?;
        let rg_lc = scope.resource_group.to_lowercase();
        tx.prepare_cached("INSERT OR IGNORE INTO resource_groups (subscription, name, name_lc, location, tags) VALUES (?1, ?2, ?3, ?4, '{}')")?.execute(
            params![scope.subscription, scope.resource_group, rg_lc, spec.location],
        )?;
        let existing: Option<(i64, Option<u32>, String, String, String)> = tx
            .prepare_cached("SELECT id, ip, nonce, spec, state FROM container_groups WHERE subscription = ?1 AND resource_group_lc = ?2 AND name = ?3")?.query_row(
                params![scope.subscription, rg_lc, name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let spec_json = serde_json::to_string(spec).map_err(|e| Error::Corrupt(e.to_string()))?;
        // The same spec again on a group that runs (or is starting) changes nothing: no new
        // generation, no restart. Its operation is over as soon as it is made.
        if let Some((id, _, _, stored, state)) = &existing
            && *stored == spec_json
            && (state == "Running" || state == "Pending")
        {
            if let Some((op, resource_id)) = operation {
                let now = now_rfc3339();
                tx.prepare_cached("INSERT INTO operations (id, subscription, resource_id, group_id, status, start_time, end_time) VALUES (?1, ?2, ?3, ?4, 'Succeeded', ?5, ?5)")?.execute(
                    params![op, scope.subscription, resource_id, id, now],
                )?;
            }
            tx.commit()?;
            drop(conn);
            let group = self
                .group_by_id(*id)?
                .ok_or_else(|| Error::Corrupt("group vanished".into()))?;
            return Ok(PutOutcome {
                group,
                created: false,
                unchanged: true,
            });
        }
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
            (Some(_), None) => Some(allocate_ip(&tx, ip_pool)?),
        };
        let (id, created) = match &existing {
            Some((id, ..)) => {
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
        Ok(PutOutcome {
            group,
            created,
            unchanged: false,
        })
    }

    /// A page of the groups of a subscription, or of one of its resource groups: at most
    /// `limit`, the first after `after` in [`GroupKey`] order. One query on the index
    /// `(subscription, resource_group_lc, name)`, reading `limit + 1` rows whatever the
    /// table holds.
    pub fn list_groups_page(
        &self,
        sub: &str,
        rg: Option<&str>,
        after: Option<&GroupKey>,
        limit: usize,
    ) -> Result<Page<GroupRow>> {
        let (within_rg, rg_lc, name) = match (rg.map(str::to_lowercase), after) {
            // Within one resource group the key is the name; a key of another resource group
            // starts it at its first group or past its last.
            (Some(rg_lc), after) => {
                let name = match after {
                    None => String::new(),
                    Some(k) if k.resource_group_lc < rg_lc => String::new(),
                    Some(k) if k.resource_group_lc == rg_lc => k.name.clone(),
                    Some(_) => return Ok(Page::of(vec![], limit)),
                };
                (true, rg_lc, name)
            }
            (None, after) => {
                // Every stored key is above ('', ''): names are never empty.
                let (rg_lc, name) = after
                    .map(|k| (k.resource_group_lc.clone(), k.name.clone()))
                    .unwrap_or_default();
                (false, rg_lc, name)
            }
        };
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(&groups_page_sql(within_rg))?;
        let rows: Vec<_> = stmt
            .query_map(
                params![sub, rg_lc, name, limit_plus_one(limit)],
                group_from_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        drop(stmt);
        drop(conn);
        let rows = rows
            .into_iter()
            .map(|row| row.parse())
            .collect::<Result<_>>()?;
        Ok(Page::of(rows, limit))
    }

    /// Every group at once, optionally of one subscription and resource group: what the boot
    /// reads to publish names and resume groups. The API lists a page at a time
    /// ([`Store::list_groups_page`]).
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
        rows.into_iter().map(|row| row.parse()).collect()
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
    /// (restart counts kept), provisioning pending. Its registry tags are resolved anew, as
    /// ACI's restart pulls an updated image: the pinned digests are forgotten.
    pub fn restart_group(&self, id: i64) -> Result<Option<GroupRow>> {
        self.start_over(&[id], true)?;
        self.group_by_id(id)
    }

    /// [`Store::restart_group`] for many groups in one transaction, each keeping the images
    /// its tags were pinned to (the boot resume).
    pub fn restart_groups(&self, ids: &[i64]) -> Result<()> {
        self.start_over(ids, false)
    }

    fn start_over(&self, ids: &[i64], forget_pins: bool) -> Result<()> {
        let mut conn = self.lock_durable();
        let tx = conn.transaction()?;
        let waiting =
            serde_json::to_string(&ContainerState::waiting("Pending")).unwrap_or_default();
        for id in ids {
            tx.prepare_cached("UPDATE container_groups SET generation = generation + 1, provisioning_state = 'Pending', state = 'Pending' WHERE id = ?1")?.execute(
                params![id],
            )?;
            tx.prepare_cached("UPDATE containers SET previous_state = current_state, current_state = ?2 WHERE group_id = ?1")?.execute(params![id, waiting])?;
            if forget_pins {
                tx.prepare_cached("UPDATE containers SET image_digest = NULL WHERE group_id = ?1")?
                    .execute(params![id])?;
            }
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
}

/// The query of a page of groups (parameters: subscription, then the key the page starts
/// after, then the limit), of one resource group (`?2`) or of the subscription. Both read
/// one range of the index `(subscription, resource_group_lc, name)` in its order.
fn groups_page_sql(within_rg: bool) -> String {
    let after = if within_rg {
        "g.resource_group_lc = ?2 AND g.name > ?3"
    } else {
        "(g.resource_group_lc, g.name) > (?2, ?3)"
    };
    format!(
        "SELECT {GROUP_COLUMNS} FROM container_groups g JOIN resource_groups r ON r.subscription = g.subscription AND r.name_lc = g.resource_group_lc
         WHERE g.subscription = ?1 AND {after} ORDER BY g.resource_group_lc, g.name LIMIT ?4"
    )
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

#[cfg(test)]
#[path = "groups_tests.rs"]
pub(super) mod tests;
