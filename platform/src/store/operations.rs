//! ARM's async operations: what the `Azure-AsyncOperation` URL of a create names, read back
//! by its poller.
//!
//! A create's operation is written with its group in one transaction by
//! [`Store::put_group`]; the runtime ends a group's operations with its provisioning
//! (`Batch::finish_operations`). Other operations (a start's, a restart's) are made here.

use super::{Result, Store};
use crate::model::now_rfc3339;
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone)]
pub struct Operation {
    pub id: String,
    pub resource_id: String,
    pub group_id: Option<i64>,
    pub status: String,
    pub start_time: String,
}

impl Store {
    /// Records an operation; one whose `status` is not `InProgress` is ended at once.
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

    /// The operation `id` of a subscription.
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
