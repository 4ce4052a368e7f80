//! `waci container attach` and the API's attach socket: a user watches a job start and sees
//! what it writes from then on, live, until it ends (exec's socket is `exec.rs`'s).

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use waci_tests::*;

#[tokio::test]
async fn attach_prints_the_start_then_the_output_live_until_the_job_ends() {
    let p = TestPlatform::start().await;
    // A job that writes a line every 200 ms for a few seconds, then ends.
    let body = group_body(
        "waci/hello-cli",
        &[],
        "Never",
        &["hello-cli", "--lines", "15", "--interval-ms", "200"],
    );
    p.create("live", "job", body).await;

    let mut cmd = p.cli("container attach -g live -n job");
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("waci container attach starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("reading attach output") {
            seen.push(line);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("attach ends by itself when the job ends");
    let status = child.wait().await.expect("attach exits");
    assert!(
        status.success(),
        "attach exits 0 when the container ends: {seen:?}"
    );
    let text = seen.join("\n");
    assert!(
        text.contains("Started"),
        "the start events come first: {text}"
    );
    assert!(
        text.contains("line 15") && text.contains("exiting with 0"),
        "the output is streamed to the end: {text}"
    );
    let first_line = seen
        .iter()
        .position(|l| l.starts_with("line "))
        .expect("some output lines");
    assert!(
        seen[..first_line]
            .iter()
            .any(|l| l.starts_with("Pulling") || l.starts_with("Started")),
        "{text}"
    );
}

#[tokio::test]
async fn attach_and_exec_answer_a_socket_with_a_one_time_password() {
    let p = TestPlatform::start().await;
    let body = hello_http();
    p.create("live", "web", body).await;
    // Exec needs the container running; attach does not.
    p.wait_for_state("live", "web", "Running").await;
    let path = format!(
        "{}/containers/main",
        TestPlatform::group_path("live", "web")
    );
    let session = p.call("POST", &format!("{path}/attach"), None).await;
    assert_eq!(session.status, 200, "{}", session.text);
    let uri = session.body["webSocketUri"].as_str().expect("webSocketUri");
    assert!(uri.starts_with("ws://"), "{uri}");
    assert!(
        session.body["password"]
            .as_str()
            .is_some_and(|p| p.len() >= 16)
    );

    let exec = p
        .call(
            "POST",
            &format!("{path}/exec"),
            Some(serde_json::json!({"command": "sh", "terminalSize": {"rows": 24, "cols": 80}})),
        )
        .await;
    assert_eq!(exec.status, 200, "{}", exec.text);
    let exec_uri = exec.body["webSocketUri"].as_str().expect("webSocketUri");
    assert!(
        exec_uri.starts_with("ws://") && exec_uri != uri,
        "{exec_uri}"
    );
    assert_ne!(exec.body["password"], session.body["password"]);
    let missing = p
        .call(
            "POST",
            &format!(
                "{}/containers/nope/attach",
                TestPlatform::group_path("live", "web")
            ),
            None,
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["code"], "ContainerNotFound");
}
