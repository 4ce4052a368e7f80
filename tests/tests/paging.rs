//! Lists come in pages, as ARM's do (issue: the API as ARM clients expect it): a page holds
//! at most 100 items and, while more follow, a `nextLink` on the platform's public URL with
//! the same path, api-version and a `$skipToken`. Following the links sees every item once,
//! in a stable order, even when groups come and go between pages; a bad token is a 400; the
//! CLI follows the links to the end.

use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use waci_tests::*;

/// The most items a page may hold (ARM's page size, which the platform uses).
const PAGE: usize = 100;

/// How many creates are in flight at once.
const CONCURRENT: usize = 16;

/// A quota the tests' hundreds of groups fit in (the default is 100).
const QUOTA: &[&str] = &["--max-groups-per-subscription", "1000"];

fn groups_in(rg: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups"
    )
}

fn groups_in_subscription() -> String {
    format!("/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/containerGroups")
}

fn resource_groups() -> String {
    format!("/subscriptions/{SUB}/resourceGroups")
}

/// A cheap group: `waci/hello-cli` once, never restarted, no IP.
fn job() -> Value {
    group_body("waci/hello-cli", &[], "Never", &[])
}

/// Creates `names` in `rg`, [`CONCURRENT`] at a time.
async fn create_all(p: &TestPlatform, rg: &str, names: &[String]) {
    futures::stream::iter(names)
        .map(|n| p.create(rg, n, job()))
        .buffer_unordered(CONCURRENT)
        .collect::<Vec<_>>()
        .await;
}

/// `prefix000`, `prefix001`, ...: names whose order is their number's.
fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

/// Follows a link as a client does: exactly the URL given, with the token.
async fn follow(p: &TestPlatform, link: &str) -> Reply {
    let r = p.raw("GET", link, Some(&p.token), None).await;
    assert_eq!(r.status, 200, "GET {link}: {}", r.text);
    r
}

/// Every page of the list at `path`, first to last, checking each page's bound and link.
async fn pages(p: &TestPlatform, path: &str) -> Vec<Vec<Value>> {
    let first = p.call("GET", path, None).await;
    assert_eq!(first.status, 200, "GET {path}: {}", first.text);
    let mut out = vec![];
    let mut page = first;
    loop {
        let items = page.body["value"]
            .as_array()
            .unwrap_or_else(|| panic!("a list answers a value array: {}", page.text))
            .clone();
        assert!(items.len() <= PAGE, "a page of {} items", items.len());
        out.push(items);
        let Some(link) = page.body.get("nextLink") else {
            break;
        };
        let link = link.as_str().expect("nextLink is a URL").to_string();
        assert!(
            !out.last().unwrap().is_empty(),
            "a page with a nextLink holds items"
        );
        assert!(
            link.starts_with(&format!("{}{path}?", p.api)),
            "{link} is the same path on the platform's URL"
        );
        assert!(
            link.contains(&format!("api-version={API_VERSION}")),
            "{link} carries the api-version"
        );
        assert!(
            link.to_lowercase().contains("$skiptoken="),
            "{link} carries a skip token"
        );
        assert!(out.len() < 50, "the links never end");
        page = follow(p, &link).await;
    }
    out
}

/// `resource group/name` of each item, in the order the pages gave them.
fn ids(pages: &[Vec<Value>]) -> Vec<String> {
    pages
        .iter()
        .flatten()
        .map(|g| {
            let id = g["id"].as_str().expect("an id");
            let rg = id.split('/').nth(4).expect("a resource group in the id");
            format!("{}/{}", rg.to_lowercase(), g["name"].as_str().unwrap())
        })
        .collect()
}

/// Asserts that `seen` holds each of `expected` exactly once.
fn exactly_once(seen: &[String], expected: impl IntoIterator<Item = String>) {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in seen {
        *counts.entry(s).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "seen more than once: {twice:?}");
    let mut expected: Vec<String> = expected.into_iter().collect();
    expected.sort();
    let mut seen = seen.to_vec();
    seen.sort();
    assert_eq!(seen, expected, "every item, once");
}

#[tokio::test]
async fn lists_come_in_pages_that_together_hold_every_group_once() {
    let p = TestPlatform::start_with(QUOTA).await;
    let many = numbered("g", 250);
    create_all(&p, "many", &many).await;
    create_all(&p, "Other", &numbered("o", 3)).await;

    // A resource group's list: three pages of at most 100, each group once, in name order.
    let walked = pages(&p, &groups_in("many")).await;
    assert!(walked.len() >= 3, "250 groups are three pages or more");
    let seen = ids(&walked);
    exactly_once(&seen, many.iter().map(|n| format!("many/{n}")));
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "pages follow one order");
    assert!(
        walked[0][0]["properties"].get("instanceView").is_none(),
        "lists omit instanceView"
    );
    assert_eq!(
        ids(&pages(&p, &groups_in("many")).await),
        seen,
        "a second walk sees the same order"
    );

    // The subscription's list spans both resource groups.
    let all = ids(&pages(&p, &groups_in_subscription()).await);
    exactly_once(
        &all,
        many.iter()
            .map(|n| format!("many/{n}"))
            .chain(numbered("o", 3).iter().map(|n| format!("other/{n}"))),
    );

    // Resource groups page the same way.
    let rgs = numbered("rg-", 130);
    let p = &p;
    futures::stream::iter(&rgs)
        .map(|rg| async move {
            let r = p
                .call(
                    "PUT",
                    &format!("{}/{rg}", resource_groups()),
                    Some(json!({})),
                )
                .await;
            assert_eq!(r.status, 201, "PUT resource group {rg}: {}", r.text);
        })
        .buffer_unordered(CONCURRENT)
        .collect::<Vec<_>>()
        .await;
    let walked = pages(p, &resource_groups()).await;
    assert!(
        walked.len() >= 2,
        "132 resource groups are two pages or more"
    );
    let names: Vec<String> = walked
        .iter()
        .flatten()
        .map(|rg| rg["name"].as_str().unwrap().to_string())
        .collect();
    exactly_once(
        &names,
        rgs.iter()
            .cloned()
            .chain(["many".to_string(), "Other".to_string()]),
    );

    // The CLI follows the links to the end.
    let listed = p.waci("container list -g many -o json").await.ok().json();
    let listed: Vec<String> = listed
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|g| format!("many/{}", g["name"].as_str().unwrap()))
        .collect();
    exactly_once(&listed, many.iter().map(|n| format!("many/{n}")));
    let everything = p.waci("container list -o json").await.ok().json();
    assert_eq!(everything.as_array().map(Vec::len), Some(253));
    let groups = p.waci("group list -o json").await.ok().json();
    assert_eq!(groups.as_array().map(Vec::len), Some(132));
}

#[tokio::test]
async fn groups_made_and_deleted_between_pages_shift_nothing() {
    let p = TestPlatform::start_with(QUOTA).await;
    let names = numbered("g", 130);
    create_all(&p, "churn", &names).await;

    let first = p.call("GET", &groups_in("churn"), None).await;
    let first_page = ids(&[first.body["value"].as_array().unwrap().clone()]);
    assert_eq!(first_page.len(), PAGE, "{}", first.text);
    let last = first_page.last().unwrap().trim_start_matches("churn/");
    assert_eq!(last, "g099");
    let link = first.body["nextLink"]
        .as_str()
        .expect("a nextLink")
        .to_string();

    // Between the pages: the page's last group goes (the link starts after it all the
    // same), so do one already seen and the first of the next page; one comes before the
    // link's place and one after it.
    for gone in ["g099", "g050", "g100"] {
        let r = p
            .call("DELETE", &TestPlatform::group_path("churn", gone), None)
            .await;
        assert_eq!(r.status, 200, "DELETE {gone}: {}", r.text);
    }
    create_all(&p, "churn", &["g000a".into(), "g099a".into()]).await;

    let second = follow(&p, &link).await;
    assert!(
        second.body.get("nextLink").is_none(),
        "the last page has no nextLink: {}",
        second.text
    );
    let second_page = ids(&[second.body["value"].as_array().unwrap().clone()]);
    let expected: Vec<String> = std::iter::once("g099a".to_string())
        .chain((101..130).map(|i| format!("g{i:03}")))
        .map(|n| format!("churn/{n}"))
        .collect();
    assert_eq!(
        second_page, expected,
        "the rest, from where the first page ended"
    );
    // The walk saw once every group that lived through it, and those deleted or made during
    // it at most once: g050 and g099 before their delete, g099a after the link's place; not
    // g100 (deleted before its page) or g000a (made before the link's place).
    let both: Vec<String> = first_page.into_iter().chain(second_page).collect();
    exactly_once(
        &both,
        names
            .iter()
            .filter(|n| n.as_str() != "g100")
            .cloned()
            .chain(["g099a".to_string()])
            .map(|n| format!("churn/{n}")),
    );
}

#[tokio::test]
async fn a_skip_token_the_list_did_not_issue_is_a_400_naming_it() {
    let p = TestPlatform::start_with(QUOTA).await;
    create_all(&p, "a", &numbered("g", 101)).await;
    create_all(&p, "b", &numbered("g", 1)).await;
    let first = p.call("GET", &groups_in("a"), None).await;
    let link = first.body["nextLink"]
        .as_str()
        .expect("a nextLink")
        .to_string();
    let (_, token) = link
        .split_once("$skipToken=")
        .expect("a $skipToken in the link");

    // Spelled as a client may: percent-encoded and in another case, it works.
    let encoded = format!("{}&%24SKIPTOKEN={token}", arm::url(&p.api, &groups_in("a")));
    let r = follow(&p, &encoded).await;
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(1));

    let mut tampered = token.to_string().into_bytes();
    tampered[token.len() / 2] = if tampered[token.len() / 2] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let tampered = String::from_utf8(tampered).unwrap();
    for (path, token) in [
        (groups_in("a"), "not-a-token"),
        (groups_in("a"), tampered.as_str()),
        (groups_in("a"), ""),
        // A real token, on another list.
        (groups_in("b"), token),
        (groups_in_subscription(), token),
        (resource_groups(), token),
    ] {
        let r = p
            .call("GET", &format!("{path}?$skipToken={token}"), None)
            .await;
        assert_eq!(r.status, 400, "{path} with {token:?}: {}", r.text);
        assert_eq!(
            r.body["error"]["code"], "InvalidQueryParameterValue",
            "{}",
            r.text
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("$skipToken"),
            "the message names the parameter: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn the_portal_lists_every_page() {
    // The portal works in the CLI's default subscription.
    const PORTAL_SUB: &str = "00000000-0000-0000-0000-000000000000";
    let p = TestPlatform::start_with(QUOTA).await;
    let names = numbered("g", 120);
    futures::stream::iter(&names)
        .map(|n| async {
            let path = TestPlatform::group_path_in(PORTAL_SUB, "many", n);
            p.create_at(&path, job()).await
        })
        .buffer_unordered(CONCURRENT)
        .collect::<Vec<_>>()
        .await;
    let mut b = waci_tests::browser::Browser::start("paging").await;
    b.goto(&format!("{}/?token={}", p.api, p.token)).await;
    b.wait_for_script(
        "return document.querySelectorAll('#group-table tbody tr').length",
        "a row for each of the 120 groups, over two pages",
        |v| v == &json!(names.len()),
    )
    .await;
    let last = b.text("#group-table tbody tr:last-child").await;
    assert!(last.contains("g119"), "{last}");
    b.screenshot("list").await;
    b.close().await;
}
