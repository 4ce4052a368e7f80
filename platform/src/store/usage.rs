//! What a subscription uses against its quotas: its container groups (kept counted by the
//! schema's triggers) and the CPU cores its groups' containers request.

use super::{Result, Store};
use rusqlite::{OptionalExtension, params};

/// A subscription's use of the platform.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub groups: u64,
    /// The cores requested by every container (not init container) of its groups.
    pub cores: f64,
}

impl Store {
    /// What `sub` uses: one read of its group count and one sum over its groups' specs.
    pub fn usage(&self, sub: &str) -> Result<Usage> {
        let conn = self.lock();
        let groups: u64 = conn
            .prepare_cached("SELECT groups FROM subscription_counts WHERE subscription = ?1")?
            .query_row(params![sub], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        let cores: f64 = conn
            .prepare_cached(
                "SELECT COALESCE(SUM(json_extract(c.value, '$.requests.cpu')), 0.0)
                 FROM container_groups g, json_each(g.spec, '$.containers') c
                 WHERE g.subscription = ?1",
            )?
            .query_row(params![sub], |r| r.get(0))?;
        Ok(Usage { groups, cores })
    }
}

#[cfg(test)]
mod tests {
    use super::Usage;

    #[test]
    fn usage_counts_the_subscriptions_groups_only() {
        let (dir, store, _) = crate::store::fresh_with_group("usage");
        assert_eq!(
            store.usage("s").unwrap(),
            Usage {
                groups: 1,
                cores: 0.0
            }
        );
        assert_eq!(
            store.usage("other").unwrap(),
            Usage {
                groups: 0,
                cores: 0.0
            }
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
