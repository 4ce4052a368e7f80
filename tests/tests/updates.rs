//! Updates: a PUT of the spec a running group already has changes nothing (no new
//! generation, no restart, its operation over at once), while a PUT that changes the spec,
//! or the same spec on a stopped group, starts it again.

use serde_json::json;
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
