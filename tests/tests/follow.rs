//! A follow of a container's log that spans a restart: the last run's lines, a marker, then
//! the new run's lines (DESIGN.md §6), on the same open stream.

use std::time::{Duration, Instant};
use waci_tests::arm::{self, group_body};
use waci_tests::platform::TestPlatform;

#[tokio::test]
async fn a_follow_marks_a_restart_and_goes_on() {
    let p = TestPlatform::start().await;
    // Prints two lines and fails, so OnFailure starts it again after a short back-off.
    let body = group_body(
        "waci/hello-cli",
        &[],
        "OnFailure",
        &[
            "hello-cli",
            "--lines",
            "2",
            "--interval-ms",
            "200",
            "--exit",
            "1",
        ],
    );
    p.create("follow", "flaky", body).await;
    let path = format!(
        "{}/containers/main/logs?follow=true",
        TestPlatform::group_path("follow", "flaky")
    );
    let mut resp = p
        .http
        .get(arm::url(&p.api, &path))
        .bearer_auth(&p.token)
        .send()
        .await
        .expect("a follow");
    assert_eq!(resp.status(), 200);

    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Until the second restart's marker and the line after it: two runs seen whole.
    while !text.contains("restarted (restart 2)\nhello from waci/hello-cli") {
        assert!(Instant::now() < deadline, "no restart marker in:\n{text}");
        match tokio::time::timeout(Duration::from_secs(30), resp.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("the follow ended ({other:?}) after:\n{text}"),
        }
    }
    // Each run's lines, in order, with a marker between one run and the next.
    let first = "[waci] container main restarted (restart 1)\n";
    let (before, after) = text.split_once(first).expect("the first marker");
    assert!(before.ends_with("line 2\nexiting with 1\n"), "{text}");
    assert!(
        after.starts_with("hello from waci/hello-cli\n"),
        "the new run's lines come after the marker:\n{text}"
    );
    assert_eq!(
        text.matches("[waci] container main restarted").count(),
        2,
        "{text}"
    );
}
