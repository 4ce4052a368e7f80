//! Warm instance reuse (`instanceReuse: true`, DESIGN.md §4): a service's requests are served
//! by warm instances kept between requests, so module state persists as in a process; a
//! trap throws its instance away; requests beyond the pool's bound wait instead of failing;
//! the default stays one fresh instance per request.

use serde_json::{Value, json};
use waci_tests::json::ip_of;
use waci_tests::local::{guest, http_get};
use waci_tests::platform::TestPlatform;

const RG: &str = "reuse";

/// `waci/files-http` on port 80, its requests served by warm instances if `reuse`.
fn files_http(reuse: bool, cpu: f64) -> Value {
    let mut body = waci_tests::arm::group_body(
        guest("files-http").to_str().expect("a UTF-8 path"),
        &[80],
        "Always",
        &[],
    );
    let c = &mut body["properties"]["containers"][0]["properties"];
    c["resources"]["requests"]["cpu"] = json!(cpu);
    if reuse {
        c["instanceReuse"] = json!(true);
    }
    body
}

/// `/dirty`'s count of the requests the answering instance has seen.
async fn calls(ip: &str) -> u32 {
    let (status, page) = http_get(&format!("http://{ip}/dirty"))
        .await
        .expect("an answer");
    assert_eq!(status, 200, "{page}");
    page.split_whitespace()
        .find_map(|w| w.strip_prefix("calls="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {page:?}"))
}

#[tokio::test]
async fn a_warm_instance_keeps_its_state_between_requests_until_it_traps() {
    let p = TestPlatform::start().await;
    // A quarter of a core: a pool of one instance, so each request finds the one before
    // it.
    p.create(RG, "warm", files_http(true, 0.25)).await;
    let g = p.wait_for_state(RG, "warm", "Running").await;
    assert_eq!(
        g["properties"]["containers"][0]["properties"]["instanceReuse"], true,
        "GET shows what the PUT asked for"
    );
    let ip = ip_of(&g);

    // One request after another: the same instance, which remembers each.
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(calls(&ip).await);
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);

    // A trap throws that instance away: the next request gets a fresh one.
    let (status, _) = http_get(&format!("http://{ip}/trap"))
        .await
        .expect("an answer");
    assert_eq!(status, 500);
    assert_eq!(calls(&ip).await, 1, "a fresh instance after the trap");
    assert_eq!(calls(&ip).await, 2);

    // Without the property, each request has a fresh instance.
    p.create(RG, "fresh", files_http(false, 1.0)).await;
    let fresh = ip_of(&p.wait_for_state(RG, "fresh", "Running").await);
    for _ in 0..3 {
        assert_eq!(calls(&fresh).await, 1);
    }
}

#[tokio::test]
async fn requests_beyond_the_pool_wait_for_a_warm_instance() {
    let p = TestPlatform::start().await;
    // Half a core: a pool of two instances.
    p.create(RG, "small", files_http(true, 0.5)).await;
    let ip = ip_of(&p.wait_for_state(RG, "small", "Running").await);
    let answers = futures::future::join_all((0..24).map(|_| {
        let url = format!("http://{ip}/dirty");
        async move { http_get(&url).await }
    }))
    .await;
    let mut most = 0;
    for a in answers {
        let (status, page) = a.expect("an answer");
        assert_eq!(status, 200, "{page}");
        let n: u32 = page
            .split_whitespace()
            .find_map(|w| w.strip_prefix("calls="))
            .and_then(|n| n.parse().ok())
            .expect("a count");
        most = most.max(n);
    }
    // 24 requests on at most two instances: one of them saw at least twelve.
    assert!(most >= 12, "the busiest instance saw {most} requests");
}

#[tokio::test]
async fn the_cli_asks_for_reuse_and_an_init_container_cannot() {
    let p = TestPlatform::start().await;
    let out = p
        .waci(&format!(
            "container create -g {RG} -n by-cli --image {} --ports 80 --ip-address Public --cpu 0.25 --instance-reuse -o json",
            guest("files-http").display()
        ))
        .await
        .ok()
        .json();
    assert_eq!(
        out["properties"]["containers"][0]["properties"]["instanceReuse"], true,
        "{out}"
    );
    let ip = ip_of(&out);
    assert_eq!(calls(&ip).await, 1);
    assert_eq!(calls(&ip).await, 2);

    let mut body = files_http(false, 1.0);
    body["properties"]["initContainers"] = json!([{"name": "setup", "properties": {
        "image": "waci/hello-cli", "instanceReuse": true,
        "resources": {"requests": {"cpu": 1.0, "memoryInGB": 0.5}}}}]);
    let r = p
        .put_expecting(&TestPlatform::group_path(RG, "init"), body, 400)
        .await;
    assert!(
        r.text.contains("instanceReuse"),
        "the error names the field: {}",
        r.text
    );
}
