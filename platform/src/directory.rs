//! The directory: which FQDN names which group, and at which IP. The DNS server and the
//! front door read it; the API writes it right after the store commits, so a name resolves
//! from the moment a PUT returns until its DELETE returns (DESIGN.md §5).
//! In memory only: at boot it is filled from the store, which stays the truth.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, RwLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub group_id: i64,
    pub ip: Ipv4Addr,
}

#[derive(Default)]
pub struct Directory {
    names: RwLock<Names>,
}

#[derive(Default)]
struct Names {
    /// Lowercase FQDN without the trailing dot → entry.
    by_name: HashMap<String, Entry>,
    /// A group's name, so that replacing or withdrawing it needs no search.
    by_group: HashMap<i64, String>,
}

/// The zone's names as guests resolve them: from the directory, not the host's resolver, so
/// group A reaches group B by its FQDN.
pub struct ZoneNames {
    /// Lowercase, without the trailing dot.
    pub zone: String,
    pub directory: Arc<Directory>,
}

impl crate::runtime::core::net::Names for ZoneNames {
    fn resolve(&self, name: &str) -> Option<Option<Ipv4Addr>> {
        let name = normalize(name);
        let in_zone = name == self.zone
            || name
                .strip_suffix(self.zone.as_str())
                .is_some_and(|label| label.ends_with('.'));
        in_zone.then(|| self.directory.lookup(&name).map(|e| e.ip))
    }
}

impl Directory {
    /// Publishes `fqdn` for a group, replacing whatever name the group had before.
    pub fn publish(&self, group_id: i64, fqdn: Option<&str>, ip: Option<Ipv4Addr>) {
        let mut names = self.names.write().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = names.by_group.remove(&group_id)
            && names
                .by_name
                .get(&old)
                .is_some_and(|e| e.group_id == group_id)
        {
            names.by_name.remove(&old);
        }
        if let (Some(name), Some(ip)) = (fqdn, ip) {
            let name = normalize(name);
            names.by_name.insert(name.clone(), Entry { group_id, ip });
            names.by_group.insert(group_id, name);
        }
    }

    /// Withdraws every name of a group.
    pub fn withdraw(&self, group_id: i64) {
        self.publish(group_id, None, None);
    }

    pub fn lookup(&self, name: &str) -> Option<Entry> {
        self.names
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_name
            .get(&normalize(name))
            .copied()
    }

    pub fn len(&self) -> usize {
        self.names
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .by_name
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_moves_and_withdraws_names() {
        let d = Directory::default();
        let ip = Ipv4Addr::new(127, 77, 0, 1);
        d.publish(1, Some("App.local.waci.localhost."), Some(ip));
        assert_eq!(
            d.lookup("app.LOCAL.waci.localhost"),
            Some(Entry { group_id: 1, ip })
        );
        d.publish(1, Some("other.local.waci.localhost"), Some(ip));
        assert_eq!(d.lookup("app.local.waci.localhost"), None);
        assert!(d.lookup("other.local.waci.localhost").is_some());
        d.withdraw(1);
        assert!(d.is_empty());
    }

    #[test]
    fn a_name_taken_over_stays_with_its_new_group() {
        let d = Directory::default();
        let (a, b) = (Ipv4Addr::new(127, 77, 0, 1), Ipv4Addr::new(127, 77, 0, 2));
        d.publish(1, Some("app.local.waci.localhost"), Some(a));
        // Group 2 takes the name before group 1's withdrawal lands.
        d.publish(2, Some("app.local.waci.localhost"), Some(b));
        d.withdraw(1);
        assert_eq!(
            d.lookup("app.local.waci.localhost"),
            Some(Entry { group_id: 2, ip: b })
        );
        d.withdraw(2);
        assert!(d.is_empty());
    }
}
