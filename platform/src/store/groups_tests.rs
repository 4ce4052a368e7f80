//! Container groups in the store: puts, IPs, quotas, pages, and the fixtures other store
//! tests share.

use super::*;
use crate::model::parse::{Limits, container_group};
use std::net::Ipv4Addr;

pub(in crate::store) fn spec(name: &str) -> ContainerGroupSpec {
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

impl<'a> PutGroup<'a> {
    /// A put of `spec` as `name` with no DNS name label, no async operation and a quota of
    /// 100, for tests to vary with `..`.
    pub(in crate::store) fn plain(
        scope: &'a Scope,
        name: &'a str,
        spec: &'a ContainerGroupSpec,
        ip_pool: (u32, u32),
    ) -> PutGroup<'a> {
        PutGroup {
            scope,
            name,
            spec,
            ip_pool,
            max_groups_per_subscription: 100,
            fqdn: &|_| None,
            operation: None,
        }
    }
}

/// A fresh store in a directory of its own (removed first), with the scope and the first
/// pool address the tests use.
pub(in crate::store) fn fresh(tag: &str) -> (std::path::PathBuf, Store, Scope, u32) {
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
            .put_group(PutGroup::plain(&scope, name, &spec(name), pool))
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

/// Puts groups named `names` into resource group `rg` of `scope`'s subscription.
fn put_all(store: &Store, scope: &Scope, rg: &str, names: &[&str]) -> Vec<i64> {
    let scope = Scope {
        subscription: scope.subscription.clone(),
        resource_group: rg.into(),
    };
    names
        .iter()
        .map(|n| {
            let mut spec = spec(n);
            spec.ip_address = None;
            store
                .put_group(PutGroup {
                    max_groups_per_subscription: 1000,
                    ..PutGroup::plain(&scope, n, &spec, (0, 0))
                })
                .unwrap()
                .group
                .id
        })
        .collect()
}

/// `(resource group, name)` of each group of a page.
fn names(page: &Page<GroupRow>) -> Vec<(String, String)> {
    page.items
        .iter()
        .map(|g| (g.resource_group.clone(), g.name.clone()))
        .collect()
}

#[test]
fn pages_follow_the_key_order_across_resource_groups_and_changes_between_pages() {
    let (dir, store, scope, _) = fresh("pages");
    put_all(&store, &scope, "B", &["b1", "b2"]);
    let a = put_all(&store, &scope, "a", &["a1", "a2", "a3"]);
    put_all(&store, &scope, "c", &["c1"]);
    let page = |rg: Option<&str>, after: Option<&GroupKey>, limit| {
        store.list_groups_page("sub", rg, after, limit).unwrap()
    };
    let first = page(None, None, 2);
    assert_eq!(
        names(&first),
        [("a".into(), "a1".into()), ("a".into(), "a2".into())]
    );
    assert!(first.more);
    let cursor = GroupKey::of(first.items.last().unwrap());
    // Between two pages: the cursor's own group goes, one before it and one after it come.
    store.delete_group(a[1]).unwrap();
    put_all(&store, &scope, "a", &["a0", "a25"]);
    let second = page(None, Some(&cursor), 3);
    assert_eq!(
        names(&second),
        [
            ("a".into(), "a25".into()),
            ("a".into(), "a3".into()),
            ("B".into(), "b1".into())
        ]
    );
    assert!(second.more);
    let third = page(None, Some(&GroupKey::of(&second.items[2])), 3);
    assert_eq!(
        names(&third),
        [("B".into(), "b2".into()), ("c".into(), "c1".into())]
    );
    assert!(!third.more, "the last page says no more follow");
    // Exactly a page left: no more after it.
    let exact = page(None, Some(&GroupKey::of(&second.items[2])), 2);
    assert_eq!(exact.items.len(), 2);
    assert!(!exact.more);

    // One resource group (named without case); a key of another starts it or ends it.
    let b = page(Some("b"), None, 1);
    assert_eq!(names(&b), [("B".into(), "b1".into())]);
    assert!(b.more);
    let b2 = page(Some("b"), Some(&GroupKey::of(&b.items[0])), 1);
    assert_eq!(names(&b2), [("B".into(), "b2".into())]);
    assert!(!b2.more);
    let from_a = page(Some("B"), Some(&cursor), 10);
    assert_eq!(from_a.items.len(), 2);
    let from_c = page(Some("B"), Some(&GroupKey::of(&third.items[1])), 10);
    assert!(from_c.items.is_empty() && !from_c.more);
    // Another subscription sees none of them.
    assert!(
        store
            .list_groups_page("other", None, None, 10)
            .unwrap()
            .items
            .is_empty()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_page_is_one_index_range_read_never_a_scan_or_a_sort() {
    let (dir, store, _, _) = fresh("plan");
    let conn = store.lock();
    let plan = |sql: &str| -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let all: [&dyn rusqlite::ToSql; 4] = [&"s", &"rg", &"x", &101];
        let n = stmt.parameter_count();
        let rows: Vec<String> = stmt
            .query_map(&all[..n], |r| r.get::<_, String>(3))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        rows.join("; ")
    };
    for sql in [
        groups_page_sql(false),
        groups_page_sql(true),
        super::super::resource_groups::PAGE_SQL.to_string(),
    ] {
        let p = plan(&sql);
        assert!(p.contains("SEARCH") && p.contains(">"), "{sql}: {p}");
        assert!(!p.contains("TEMP B-TREE"), "{sql}: sorts: {p}");
        assert!(!p.contains("SCAN"), "{sql}: scans: {p}");
    }
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_quota_counts_groups_as_they_come_and_go_and_after_an_upgrade() {
    let (dir, store, scope, base) = fresh("quota");
    let path = dir.join("waci.db");
    let put = |store: &Store, name: &str| {
        store.put_group(PutGroup {
            max_groups_per_subscription: 2,
            ..PutGroup::plain(&scope, name, &spec(name), (base, base + 9))
        })
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
