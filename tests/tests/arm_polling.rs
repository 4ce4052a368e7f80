//! Long-running operations as the Azure SDKs follow them. [`poll`] is azure-core's ARM
//! poller (`azure.mgmt.core.polling.arm_polling.ARMPolling` over
//! `azure.core.polling.base_polling`) in small: it follows `Azure-AsyncOperation` (else
//! `Location`, else takes the answer as the result), polls at once, then waits each answer's
//! `Retry-After` seconds (absent or 0: its default of 30 s) until the status is terminal,
//! and ends a PUT with a GET of the resource. The bound each test checks is the seconds the
//! poller was told to wait: an answer without `Retry-After` costs 30 and fails it.
//! The last test runs the real Azure SDK for Python (`tests/azure_sdk_lro.py`, from the
//! venv `.ci/run` installs) with the same bound on the delays its poller chose.

use serde_json::Value;
use std::time::Duration;
use waci_tests::*;

/// azure-core's polling interval when an answer has no usable `Retry-After`.
const SDK_DEFAULT_DELAY: u64 = 30;
/// What an operation on a group of built-in images may make a client wait, in all.
const MAX_WAITED: u64 = 2;

/// What the poller saw: the first answer, the operation's last status answer if it polled,
/// and for a PUT the final GET of the resource.
struct Polled {
    initial: Reply,
    operation: Option<Value>,
    final_get: Option<Reply>,
    /// `Retry-After` seconds the poller waited, summed.
    waited: u64,
}

fn header<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

/// `Retry-After` as azure-core reads it (`get_retry_after`, then `if delay:`).
fn delay_of(r: &Reply) -> u64 {
    match header(r, "retry-after").and_then(|v| v.parse::<u64>().ok()) {
        Some(0) | None => SDK_DEFAULT_DELAY,
        Some(s) => s,
    }
}

fn terminal(status: &str) -> bool {
    ["succeeded", "failed", "canceled"].contains(&status.to_lowercase().as_str())
}

/// Sends `method path` and follows it to its end as an ARM client does.
async fn poll(p: &TestPlatform, method: &str, path: &str, body: Option<Value>) -> Polled {
    let initial = p.call(method, path, body).await;
    assert!(
        [200, 201, 202, 204].contains(&initial.status),
        "{method} {path}: {} {}",
        initial.status,
        initial.text
    );
    assert!(
        header(&initial, "retry-after").is_some(),
        "{method} {path} answers Retry-After: {:?}",
        initial.headers
    );
    let Some(url) = header(&initial, "azure-asyncoperation").map(str::to_string) else {
        // This API names no `Location`; with neither header the answer is the result.
        assert!(
            header(&initial, "location").is_none(),
            "{:?}",
            initial.headers
        );
        return Polled {
            initial,
            operation: None,
            final_get: None,
            waited: 0,
        };
    };
    // The first poll comes at once; each later one after the last answer's Retry-After.
    let mut waited = 0;
    let mut last: Option<Reply> = None;
    loop {
        if let Some(r) = &last {
            let status = r.body["status"].as_str().unwrap_or_default();
            if terminal(status) {
                break;
            }
            let delay = delay_of(r);
            waited += delay;
            assert!(
                waited <= MAX_WAITED,
                "the poller would have waited {waited} s in all; the last status answer: {:?} {}",
                r.headers,
                r.text
            );
            tokio::time::sleep(Duration::from_secs(delay)).await;
        }
        let r = p.raw("GET", &url, Some(&p.token), None).await;
        assert_eq!(r.status, 200, "GET {url}: {}", r.text);
        last = Some(r);
    }
    let last = last.expect("polled at least once");
    assert_eq!(last.body["status"], "Succeeded", "{}", last.text);
    // A PUT ends with a GET of the resource; a DELETE or POST with the last status answer.
    let final_get = if method == "PUT" {
        Some(p.call("GET", path, None).await)
    } else {
        None
    };
    Polled {
        initial,
        operation: Some(last.body),
        final_get,
        waited,
    }
}

fn event_names_of(operation: &Value) -> Vec<String> {
    operation["properties"]["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_create_restart_start_and_delete_end_as_soon_as_the_group_is_done() {
    let p = TestPlatform::start().await;
    let path = TestPlatform::group_path("polled", "web");

    // Create: 201 naming the operation, ready within a second (a built-in image).
    let create = poll(&p, "PUT", &path, Some(hello_http())).await;
    assert_eq!(create.initial.status, 201, "{}", create.initial.text);
    assert_eq!(header(&create.initial, "retry-after"), Some("1"));
    let op = create.operation.as_ref().expect("the create is polled");
    let events = event_names_of(op);
    assert!(events.iter().any(|n| n == "Started"), "{op}");
    let group = create.final_get.expect("a PUT ends with a GET");
    assert_eq!(group.status, 200, "{}", group.text);
    assert_eq!(state(&group.body), "Running", "{}", group.text);
    assert_eq!(provisioning_state(&group.body), "Succeeded");
    assert!(create.waited <= MAX_WAITED);

    // Restart: 204 naming a new operation; it ends with the group running again.
    let restart = poll(&p, "POST", &format!("{path}/restart"), None).await;
    assert_eq!(restart.initial.status, 204, "{}", restart.initial.text);
    let op = restart.operation.expect("the restart is polled");
    assert_eq!(op["status"], "Succeeded", "{op}");
    assert_ne!(op["name"], create.operation.as_ref().unwrap()["name"]);
    assert_eq!(state(&p.get_group("polled", "web").await.body), "Running");

    // Stop (synchronous, no operation), then start: 202 naming an operation.
    let stop = p.call("POST", &format!("{path}/stop"), None).await;
    assert_eq!(stop.status, 204, "{}", stop.text);
    let start = poll(&p, "POST", &format!("{path}/start"), None).await;
    assert_eq!(start.initial.status, 202, "{}", start.initial.text);
    assert_eq!(
        start.operation.expect("the start is polled")["status"],
        "Succeeded"
    );
    assert_eq!(state(&p.get_group("polled", "web").await.body), "Running");

    // Delete: done when it answers, so the answer is the result and nothing is polled.
    let delete = poll(&p, "DELETE", &path, None).await;
    assert_eq!(delete.initial.status, 200, "{}", delete.initial.text);
    assert_eq!(header(&delete.initial, "retry-after"), Some("0"));
    assert!(delete.operation.is_none());
    assert_eq!(p.get_group("polled", "web").await.status, 404);

    // A resource group's delete likewise; deleting it again finds none.
    p.create("polled", "other", hello_http()).await;
    let rg = format!("/subscriptions/{SUB}/resourceGroups/polled");
    let delete = poll(&p, "DELETE", &rg, None).await;
    assert_eq!(delete.initial.status, 202, "{}", delete.initial.text);
    assert!(delete.operation.is_none());
    assert_eq!(p.get_group("polled", "other").await.status, 404);
    assert_eq!(p.call("DELETE", &rg, None).await.status, 204);
}

#[tokio::test]
async fn the_operation_answers_retry_after_while_in_progress_and_its_end_at_once() {
    let p = TestPlatform::start().await;
    // A file that is no component: the group fails to provision, and so does its create.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("broken.wasm");
    std::fs::write(&file, b"not a component").expect("write");
    let body = group_body(file.to_str().expect("utf-8"), &[], "Never", &[]);
    let put = p.create("polled", "fails", body).await;
    let url = header(&put, "azure-asyncoperation")
        .expect("an operation")
        .to_string();
    let op = eventually("the operation to end", Duration::from_secs(30), || async {
        let r = p.raw("GET", &url, Some(&p.token), None).await;
        match r.body["status"].as_str() {
            Some("InProgress") => {
                assert_eq!(header(&r, "retry-after"), Some("1"), "{:?}", r.headers);
                Err(r.text)
            }
            Some(_) => Ok(r),
            None => panic!("no status: {}", r.text),
        }
    })
    .await;
    assert_eq!(op.body["status"], "Failed", "{}", op.text);
    assert!(header(&op, "retry-after").is_none(), "{:?}", op.headers);
    assert!(!event_names_of(&op.body).is_empty(), "{}", op.text);
}

/// The Python of the venv `.ci/run` installs the Azure SDK into (`WACI_AZURE_PYTHON` to
/// choose another).
fn azure_python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("WACI_AZURE_PYTHON") {
        return p.into();
    }
    std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
        .join(".cache/waci-azure-venv/bin/python")
}

#[tokio::test]
async fn the_azure_sdk_for_python_creates_restarts_and_deletes_without_its_default_wait() {
    let p = TestPlatform::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/azure_sdk_lro.py");
    let python = azure_python();
    let out = tokio::process::Command::new(&python)
        .args([script, &p.api, &p.token, SUB])
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "running {}: {e}; `.ci/run` installs azure-mgmt-containerinstance (pip) into ~/.cache/waci-azure-venv",
                python.display()
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the SDK failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    let v: Value = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["create"]["provisioningState"], "Succeeded", "{v}");
    assert_eq!(v["create"]["state"], "Running", "{v}");
    assert_eq!(v["restart"]["state"], "Running", "{v}");
    assert_eq!(v["delete"]["provisioningState"], "Deleting", "{v}");
    let waited: f64 = v["waited"]
        .as_array()
        .expect("the delays")
        .iter()
        .filter_map(Value::as_f64)
        .sum();
    assert!(
        waited <= MAX_WAITED as f64,
        "the SDK's poller waited {waited} s: {v}"
    );
    assert_eq!(p.get_group("sdk", "web").await.status, 404);
}
