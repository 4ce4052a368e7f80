//! Scoped access tokens (DESIGN.md §10): each sees one subscription, or, made for a
//! scraper, only `/metrics`. Only a hash of each token is stored; the token is shown once,
//! when it is made. Also the one count the metrics read from the store: groups by state.

use super::{Reader, Result, Store};
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub subscription: String,
    pub created: String,
    pub expires: Option<String>,
    /// May read `/metrics` and nothing else (its subscription is empty).
    pub metrics_only: bool,
}

impl Store {
    pub fn create_token(&self, row: &TokenRow, hash: &str) -> Result<()> {
        self.lock_durable().prepare_cached("INSERT INTO tokens (id, hash, subscription, created, expires, metrics_only) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?.execute(
            params![row.id, hash, row.subscription, row.created, row.expires, row.metrics_only],
        )?;
        Ok(())
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, subscription, created, expires, metrics_only FROM tokens ORDER BY created",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TokenRow {
                    id: r.get(0)?,
                    subscription: r.get(1)?,
                    created: r.get(2)?,
                    expires: r.get(3)?,
                    metrics_only: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// How many container groups are in each state (`instanceView.state`).
    pub fn count_groups_by_state(&self) -> Result<Vec<(String, u64)>> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare_cached("SELECT state, COUNT(*) FROM container_groups GROUP BY state")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    pub fn revoke_token(&self, id: &str) -> Result<bool> {
        Ok(self
            .lock_durable()
            .prepare_cached("DELETE FROM tokens WHERE id = ?1")?
            .execute(params![id])?
            > 0)
    }
}

impl Reader<'_> {
    /// The token whose hash is `hash`, with that hash as stored (for a constant-time check).
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<(TokenRow, String)>> {
        Ok(self
            .0
            .prepare_cached(
                "SELECT id, subscription, created, expires, hash, metrics_only FROM tokens WHERE hash = ?1",
            )?
            .query_row(params![hash], |r| {
                Ok((
                    TokenRow {
                        id: r.get(0)?,
                        subscription: r.get(1)?,
                        created: r.get(2)?,
                        expires: r.get(3)?,
                        metrics_only: r.get(5)?,
                    },
                    r.get(4)?,
                ))
            })
            .optional()?)
    }
}
