//! The runtime's writes: a container's state, the group's, their events, the provisioning
//! state and the end of the group's async operations.
//!
//! A supervisor's step makes them together through [`Store::write`], as one transaction at
//! synchronous=NORMAL (runtime state survives a crash of the process and is rewritten at
//! boot anyway), so a reader never sees a state without the event that explains it. A
//! write that names a generation changes the group only while it is at that generation.

use super::{Error, Result, Store};
use crate::model::{ContainerState, GroupState, ProvisioningState, now_rfc3339};
use rusqlite::{Connection, OptionalExtension, params};

/// The runtime's writes of one step (a container's new state, the group's, their events,
/// the provisioning state), made together by [`Store::write`] as one transaction.
pub struct Batch<'a>(&'a Connection);

impl Store {
    /// Runs `f`'s writes as one transaction at synchronous=NORMAL: a supervisor's step costs
    /// one commit, and each page it touches goes to the WAL once, instead of once per
    /// statement. Nothing of it is written if `f` fails.
    pub fn write<R>(&self, f: impl FnOnce(&Batch<'_>) -> Result<R>) -> Result<R> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let r = f(&Batch(&tx))?;
        tx.commit()?;
        Ok(r)
    }
}

impl Batch<'_> {
    /// The `set_*` methods below change a group only while it is at `generation`, so a
    /// superseded supervisor cannot overwrite its successor's state.
    pub fn set_provisioning_state(
        &self,
        id: i64,
        generation: i64,
        state: ProvisioningState,
    ) -> Result<()> {
        self.0.prepare_cached("UPDATE container_groups SET provisioning_state = ?3 WHERE id = ?1 AND generation = ?2")?.execute(
            params![id, generation, state.as_str()],
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
    use super::super::PutGroup;
    use super::super::groups::tests::{fresh, spec};
    use super::*;

    #[test]
    fn a_batch_is_written_whole_or_not_at_all() {
        let (dir, store, scope, base) = fresh("batch");
        let g = store
            .put_group(PutGroup {
                operation: Some(("op-1", "/rid")),
                ..PutGroup::plain(&scope, "a", &spec("a"), (base, base + 3))
            })
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
                w.set_provisioning_state(g.id, g.generation, ProvisioningState::Succeeded)?;
                w.set_group_state(g.id, g.generation, GroupState::Running)
            })
            .unwrap();
        let after = store.group_by_id(g.id).unwrap().unwrap();
        assert_eq!(after.state, GroupState::Running);
        assert_eq!(after.provisioning_state, ProvisioningState::Succeeded);
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
}
