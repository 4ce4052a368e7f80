//! `waci container export --export-format kubernetes` as a user runs it: from a group of
//! the platform (whose secure values the API never returns) and from a YAML file with no
//! platform at all. What the exported Pod does on a node is `shim/tests/export.rs`'s story.

use serde::Deserialize;
use serde_json::{Value, json};
use waci_tests::{TestPlatform, run_cli, waci_command};

/// The YAML stream's documents.
fn documents(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("the exported file");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("a YAML document"))
        .collect()
}

fn kinds(objects: &[Value]) -> Vec<&str> {
    objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap_or("?"))
        .collect()
}

#[tokio::test]
async fn a_group_of_the_platform_exports_as_the_objects_that_run_it_on_kubernetes() {
    let p = TestPlatform::start().await;
    p.waci(
        "container create -g demo -n web --image waci/hello-http --ports 8080 \
         --ip-address Public -e GREETING=hi --secure-environment-variables TOKEN=s3cret",
    )
    .await
    .ok();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("web.yaml");
    let run = p
        .waci(&format!(
            "container export --format kubernetes -g demo -n web -f {}",
            file.display()
        ))
        .await
        .ok();
    // The API never returns a secure value: the export says which one to fill in.
    assert!(run.stderr.contains("TOKEN"), "{}", run.stderr);
    let objects = documents(&file);
    assert_eq!(
        kinds(&objects),
        ["RuntimeClass", "Secret", "Pod", "Service"]
    );
    assert_eq!(objects[0]["handler"], "waci");
    assert_eq!(objects[1]["stringData"], json!({"web.TOKEN": ""}));
    let pod = &objects[2];
    assert_eq!(pod["spec"]["runtimeClassName"], "waci");
    let web = &pod["spec"]["containers"][0];
    assert_eq!(web["image"], "waci/hello-http");
    assert_eq!(
        web["env"],
        json!([
            {"name": "GREETING", "value": "hi"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "web", "key": "web.TOKEN"}}},
            {"name": "WACI_HTTP_PORT", "value": "8080"},
        ])
    );
    assert_eq!(
        web["ports"],
        json!([{"containerPort": 8080, "protocol": "TCP"}])
    );
    let service = &objects[3];
    assert_eq!(service["spec"]["type"], "LoadBalancer");
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(service["spec"]["selector"], pod["metadata"]["labels"]);
}

#[tokio::test]
async fn a_yaml_file_exports_with_no_platform_and_a_bad_one_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("job.yaml");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    // No platform runs for this data dir: a file needs none.
    let mut cmd = waci_command(&format!(
        "container export --export-format kubernetes --from-file {examples}/job.yaml -f {}",
        out.display()
    ));
    cmd.env("WACI_HOME", dir.path());
    run_cli(cmd).await.ok();
    let objects = documents(&out);
    assert_eq!(kinds(&objects), ["RuntimeClass", "Pod"]);
    let pod = &objects[1];
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    assert_eq!(
        pod["spec"]["containers"][0]["args"],
        json!(["--lines", "3", "--interval-ms", "100"])
    );

    // A file the API would refuse is refused the same way, naming the field, and nothing is
    // written.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: bad\nproperties:\n  containers: []\n").expect("bad file");
    let refused = dir.path().join("refused.yaml");
    let mut cmd = waci_command(&format!(
        "container export --format kubernetes --from-file {} -f {}",
        bad.display(),
        refused.display()
    ));
    cmd.env("WACI_HOME", dir.path());
    let run = run_cli(cmd).await.failed();
    assert!(
        run.stderr.contains("properties.containers"),
        "{}",
        run.stderr
    );
    assert!(!refused.exists());
}
