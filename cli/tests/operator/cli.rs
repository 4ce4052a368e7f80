//! `waci container ... --context`: the container commands against a cluster's
//! `ContainerGroup` resources, here the in-memory API.

use super::fake::FakeApi;
use http::Method;
use serde_json::{Value, json};
use waci::cluster;

const GROUPS: &str = "/apis/containerinstance.waci.dev/v1/namespaces/demo/containergroups";

/// An example file's body, as `container create --file` reads it (no `apiVersion`, `name`
/// or `type`: the API takes `location`, `tags` and `properties`).
fn example(file: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(file);
    waci::yaml_file::load(&path, None, None).unwrap().body
}

#[tokio::test]
async fn create_applies_the_file_as_a_resource_in_its_canonical_spelling_and_hides_secrets() {
    let (client, api) = FakeApi::start();
    // Written as Microsoft's examples write it: memoryInGb, protocol tcp, a quoted port.
    let body = example("multi-container.yaml");
    let shown = cluster::create(&client, "demo", "web-and-sidecar", &body)
        .await
        .unwrap();
    let calls = api.take_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].method, Method::PATCH);
    assert_eq!(calls[0].path, format!("{GROUPS}/web-and-sidecar"));
    assert!(
        calls[0].query.contains("fieldManager=waci-cli"),
        "{:?}",
        calls[0]
    );
    let stored = api.get(&format!("{GROUPS}/web-and-sidecar")).unwrap();
    assert_eq!(
        stored["spec"]["containers"][1]["properties"]["resources"],
        json!({"requests": {"cpu": 0.5, "memoryInGB": 0.25}})
    );
    assert_eq!(
        stored["spec"]["ipAddress"]["ports"],
        json!([{"protocol": "TCP", "port": 80}])
    );
    assert_eq!(shown["name"], "web-and-sidecar");
    assert_eq!(shown["properties"]["containers"][0]["name"], "web");

    let env = cluster::create(&client, "demo", "env-demo", &example("env.yaml"))
        .await
        .unwrap();
    let stored = api.get(&format!("{GROUPS}/env-demo")).unwrap();
    let vars = |g: &Value| g["containers"][0]["properties"]["environmentVariables"][1].clone();
    assert_eq!(
        vars(&stored["spec"]),
        json!({"name": "API_KEY", "secureValue": "not-shown-by-the-api"})
    );
    assert_eq!(
        vars(&env["properties"]),
        json!({"name": "API_KEY", "secureValue": null}),
        "a secure value is never shown"
    );
}

#[tokio::test]
async fn create_refuses_what_waci_serve_refuses_before_sending_anything() {
    let (client, api) = FakeApi::start();
    let mut body = example("quickstart.yaml");
    body["properties"]["ipAddress"]["dnsNameLabel"] = json!("ab");
    let e = cluster::create(&client, "demo", "hello", &body)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("InvalidDnsNameLabel: The DNS name label 'ab' is invalid."),
        "{e}"
    );
    assert!(api.take_calls().is_empty());
}

#[tokio::test]
async fn show_list_logs_and_delete_read_the_resource_its_status_and_its_pods_log() {
    let (client, api) = FakeApi::start();
    cluster::create(&client, "demo", "hello", &example("quickstart.yaml"))
        .await
        .unwrap();
    // The operator's status, as it writes it.
    let path = format!("{GROUPS}/hello");
    let mut cg = api.get(&path).unwrap();
    cg["status"] = json!({
        "provisioningState": "Succeeded",
        "ipAddress": {"ip": "203.0.113.9", "fqdn": "hello-demo.local.apps.example.com"},
        "instanceView": {"state": "Running"},
        "containers": [{"name": "hello", "instanceView": {"restartCount": 2,
            "currentState": {"state": "Running", "startTime": "2026-12-05T00:00:00Z"}}}],
    });
    api.put(&path, cg);
    let shown = cluster::show(&client, "demo", "hello").await.unwrap();
    let p = &shown["properties"];
    assert_eq!(p["provisioningState"], "Succeeded");
    assert_eq!(p["instanceView"]["state"], "Running");
    assert_eq!(p["ipAddress"]["ip"], "203.0.113.9");
    assert_eq!(p["ipAddress"]["fqdn"], "hello-demo.local.apps.example.com");
    assert_eq!(
        p["containers"][0]["properties"]["instanceView"]["restartCount"],
        2
    );
    let missing = cluster::show(&client, "demo", "nope")
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.starts_with("ResourceNotFound"), "{missing}");

    cluster::create(&client, "other", "job", &example("job.yaml"))
        .await
        .unwrap();
    let names = |groups: Vec<Value>| -> Vec<String> {
        groups
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(cluster::list(&client, Some("demo")).await.unwrap()),
        ["hello"]
    );
    let mut all = names(cluster::list(&client, None).await.unwrap());
    all.sort();
    assert_eq!(all, ["hello", "job"]);

    api.put(
        "/api/v1/namespaces/demo/pods/hello/log",
        json!("GET / 200\n"),
    );
    api.take_calls();
    let text = cluster::logs(
        &client,
        "demo",
        "hello",
        Some("hello".into()),
        Some(5),
        false,
    )
    .await
    .unwrap();
    assert_eq!(text, "GET / 200\n");
    let calls = api.take_calls();
    assert!(calls[0].query.contains("container=hello"), "{calls:?}");
    assert!(calls[0].query.contains("tailLines=5"), "{calls:?}");

    cluster::delete(&client, "demo", "hello").await.unwrap();
    assert!(api.get(&path).is_none());
}
