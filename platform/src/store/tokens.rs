//! Scoped access tokens (DESIGN.md §10): each sees one subscription. Only a hash of each
//! token is stored; the token is shown once, when it is made.

use super::{Reader, Result, Store};
use rusqlite::{OptionalExtension, params};

#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub subscription: String,
    pub created: String,
    pub expires: Option<String>,
}

impl Store {
    pub fn create_token(&self, row: &TokenRow, hash: &str) -> Result<()> {
        self.lock_durable().prepare_cached("INSERT INTO tokens (id, hash, subscription, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
            params![row.id, hash, row.subscription, row.created, row.expires],
        )?;
        Ok(())
    }

    pub fn list_tokens(&self) -> Result<Vec<TokenRow>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, subscription, created, expires FROM tokens ORDER BY created",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TokenRow {
                    id: r.get(0)?,
                    subscription: r.get(1)?,
                    created: r.get(2)?,
                    expires: r.get(3)?,
                })
            })?
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
                "SELECT id, subscription, created, expires, hash FROM tokens WHERE hash = ?1",
            )?
            .query_row(params![hash], |r| {
                Ok((
                    TokenRow {
                        id: r.get(0)?,
                        subscription: r.get(1)?,
                        created: r.get(2)?,
                        expires: r.get(3)?,
                    },
                    r.get(4)?,
                ))
            })
            .optional()?)
    }
}
