//! Resource groups: ARM's folders of container groups, with their location and tags.
//!
//! A container group's put creates its resource group if absent (see
//! [`Store::put_group`]); deleting a resource group's container groups first is the
//! caller's part.

use super::groups::{Page, limit_plus_one};
use super::{Error, Result, Store};
use rusqlite::{OptionalExtension, params};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct ResourceGroupRow {
    pub subscription: String,
    pub name: String,
    pub location: String,
    pub tags: BTreeMap<String, String>,
}

/// The query of a page of resource groups (parameters: subscription, the lower-case name the
/// page starts after, the limit): one range of the primary key, in its order.
pub(super) const PAGE_SQL: &str = "SELECT subscription, name, location, tags FROM resource_groups
     WHERE subscription = ?1 AND name_lc > ?2 ORDER BY name_lc LIMIT ?3";

impl ResourceGroupRow {
    /// Where the resource group sits in the order lists are read in (see
    /// [`Store::list_resource_groups_page`]): its name in lower case, as ARM compares names.
    pub fn key(&self) -> String {
        // The store writes `name_lc` with the same lowering (`put_resource_group`).
        self.name.to_lowercase()
    }
}

impl Store {
    /// Creates a resource group, or replaces its tags (its location stays); the row, and
    /// whether it was created.
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

    /// A page of a subscription's resource groups: at most `limit`, the first whose
    /// lower-case name is after `after` (keyset paging: resource groups made or deleted
    /// between two pages neither shift nor repeat the rest). One query on the primary key
    /// `(subscription, name_lc)`, reading `limit + 1` rows whatever the table holds.
    pub fn list_resource_groups_page(
        &self,
        sub: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<ResourceGroupRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(PAGE_SQL)?;
        let rows: Vec<(String, String, String, String)> = stmt
            .query_map(
                params![sub, after.unwrap_or(""), limit_plus_one(limit)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?
            .collect::<rusqlite::Result<_>>()?;
        let rows = rows
            .into_iter()
            .map(|(subscription, name, location, tags)| ResourceGroupRow {
                subscription,
                name,
                location,
                tags: serde_json::from_str(&tags).unwrap_or_default(),
            })
            .collect();
        Ok(Page::of(rows, limit))
    }

    /// Deletes an empty resource group. The caller deletes its container groups first.
    pub fn delete_resource_group(&self, sub: &str, name: &str) -> Result<bool> {
        let n = self
            .lock_durable()
            .prepare_cached("DELETE FROM resource_groups WHERE subscription = ?1 AND name_lc = ?2")?
            .execute(params![sub, name.to_lowercase()])?;
        Ok(n > 0)
    }
}
