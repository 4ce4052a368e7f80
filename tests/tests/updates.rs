//! Updates: a PUT of the spec a running group already has changes nothing (no new
//! generation, no restart, its operation over at once), while a PUT that changes the spec,
//! or the same spec on a stopped group, starts it again. A running group's update has no
//! gap: under steady traffic, no request fails and each is answered by the old or the new
//! version.

use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use waci_tests::arm::hello_http;
use waci_tests::json::{current_state, event_names, ip_of, restart_count};
use waci_tests::platform::TestPlatform;

const RG: &str = "updates";

#[tokio::test]
async fn the_same_spec_again_changes_nothing() {
    let p = TestPlatform::start().await;
    p.create(RG, "web", hello_http()).await;
    let running = p.wait_for_state(RG, "web", "Running").await;
    let started = current_state(&running)["startTime"].clone();
    let events = event_names(&running);
    let ip = ip_of(&running);

    let again = p
        .put_expecting(&TestPlatform::group_path(RG, "web"), hello_http(), 200)
        .await;
    assert_eq!(
        again.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        again.text
    );
    // Its operation is over as soon as it is made.
    let op_url = again
        .headers
        .get("azure-asyncoperation")
        .and_then(|v| v.to_str().ok())
        .expect("an operation")
        .to_string();
    let op = p.raw("GET", &op_url, Some(&p.token), None).await;
    assert_eq!(op.body["status"], "Succeeded", "{}", op.text);

    // Nothing restarted: the same start, the same events, the same count, still answering.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = p.get_group(RG, "web").await.body;
    assert_eq!(waci_tests::json::state(&after), "Running");
    assert_eq!(current_state(&after)["startTime"], started);
    assert_eq!(event_names(&after), events);
    assert_eq!(restart_count(&after), restart_count(&running));
    let (status, _) = waci_tests::local::http_get(&format!("http://{ip}/"))
        .await
        .expect("an answer");
    assert_eq!(status, 200);

    // A changed spec does start a new generation: its containers start again.
    let mut changed = hello_http();
    changed["properties"]["containers"][0]["properties"]["environmentVariables"] =
        json!([{"name": "GREETING", "value": "changed"}]);
    let r = p
        .put_expecting(&TestPlatform::group_path(RG, "web"), changed, 200)
        .await;
    assert_ne!(
        r.body["properties"]["provisioningState"], "Failed",
        "{}",
        r.text
    );
    let restarted = p
        .wait_for(
            RG,
            "web",
            "running its new spec",
            Duration::from_secs(60),
            |g| waci_tests::json::state(g) == "Running" && current_state(g)["startTime"] != started,
        )
        .await;
    assert_eq!(ip_of(&restarted), ip, "an update keeps the group's IP");

    // The same spec on a stopped group starts it.
    let stop = p
        .call(
            "POST",
            &format!("{}/stop", TestPlatform::group_path(RG, "web")),
            None,
        )
        .await;
    assert!(stop.status < 300, "{}", stop.text);
    p.wait_for_state(RG, "web", "Stopped").await;
    let mut same = hello_http();
    same["properties"]["containers"][0]["properties"]["environmentVariables"] =
        json!([{"name": "GREETING", "value": "changed"}]);
    p.put_expecting(&TestPlatform::group_path(RG, "web"), same, 200)
        .await;
    p.wait_for_state(RG, "web", "Running").await;
}

/// `waci/files-http` (it answers `/env` with its variables) with `VERSION=<version>`, on
/// port 80 of its own IP, with the DNS name label `label`.
fn versioned(version: &str, label: &str) -> serde_json::Value {
    let mut body = waci_tests::arm::group_body(
        waci_tests::local::guest("files-http")
            .to_str()
            .expect("a UTF-8 path"),
        &[80],
        "Always",
        &[],
    );
    body["properties"]["containers"][0]["properties"]["environmentVariables"] =
        json!([{"name": "VERSION", "value": version}]);
    body["properties"]["ipAddress"]["dnsNameLabel"] = json!(label);
    body
}

/// What the clients saw: answers by version, and every failure in words.
#[derive(Default)]
struct Seen {
    versions: std::collections::BTreeMap<String, usize>,
    failures: Vec<String>,
}

/// Sends requests one after another with `client` until `stop`, and tells what came back.
async fn traffic(client: reqwest::Client, url: String, stop: Arc<AtomicBool>) -> Seen {
    let mut seen = Seen::default();
    while !stop.load(Ordering::Relaxed) {
        match client.get(&url).send().await {
            Ok(r) => {
                let status = r.status();
                let body = r.text().await.unwrap_or_else(|e| format!("(body: {e})"));
                let version = body
                    .lines()
                    .find_map(|l| l.strip_prefix("VERSION="))
                    .map(str::to_string);
                match (status.as_u16(), version) {
                    (200, Some(v)) => *seen.versions.entry(v).or_default() += 1,
                    _ => seen.failures.push(format!("{status}: {body}")),
                }
            }
            Err(e) => seen.failures.push(format!("{e:?}")),
        }
    }
    seen
}

#[tokio::test]
async fn an_update_under_traffic_fails_no_request() {
    let p = TestPlatform::start().await;
    p.create(RG, "live", versioned("1", "live-update")).await;
    let first = p.wait_for_state(RG, "live", "Running").await;
    let ip = ip_of(&first);

    // Clients on kept-alive connections and on a new connection per request, at the group's
    // IP and through the front door by name.
    let front: std::net::SocketAddr = p
        .front_door
        .trim_start_matches("http://")
        .parse()
        .expect("the front door's address");
    let fqdn = waci_tests::json::fqdn_of(&first);
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for fresh in [false, false, true, true] {
        let mut b = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if fresh {
            b = b.pool_max_idle_per_host(0);
        }
        let client = b.build().expect("a client");
        clients.push(tokio::spawn(traffic(
            client,
            format!("http://{ip}/env"),
            stop.clone(),
        )));
    }
    let by_name = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .resolve(&fqdn, front)
        .build()
        .expect("a client");
    clients.push(tokio::spawn(traffic(
        by_name,
        format!("http://{fqdn}:{}/env", front.port()),
        stop.clone(),
    )));

    // Two updates while the requests flow: the image's env changes each time.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for version in ["2", "3"] {
        let r = p
            .put_expecting(
                &TestPlatform::group_path(RG, "live"),
                versioned(version, "live-update"),
                200,
            )
            .await;
        assert_ne!(
            r.body["properties"]["provisioningState"], "Failed",
            "{}",
            r.text
        );
        p.wait_for(
            RG,
            "live",
            "the new generation serving",
            Duration::from_secs(60),
            |g| {
                waci_tests::json::state(g) == "Running"
                    && waci_tests::json::provisioning_state(g) == "Succeeded"
            },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, Ordering::Relaxed);

    let mut all = Seen::default();
    for c in clients {
        let seen = c.await.expect("a client task");
        for (v, n) in seen.versions {
            *all.versions.entry(v).or_default() += n;
        }
        all.failures.extend(seen.failures);
    }
    assert!(
        all.failures.is_empty(),
        "{} failed requests (answers by version {:?}): {:?}",
        all.failures.len(),
        all.versions,
        &all.failures[..all.failures.len().min(10)]
    );
    let versions: Vec<&str> = all.versions.keys().map(String::as_str).collect();
    assert_eq!(versions, ["1", "2", "3"], "{:?}", all.versions);
    let after = p.get_group(RG, "live").await.body;
    assert_eq!(ip_of(&after), ip, "the group keeps its IP");
    // The last version serves alone now.
    let (status, page) = waci_tests::local::http_get(&format!("http://{ip}/env"))
        .await
        .expect("an answer");
    assert_eq!(status, 200);
    assert!(page.contains("VERSION=3"), "{page}");
}
