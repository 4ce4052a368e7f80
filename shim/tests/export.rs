//! The Pod that `waci container export --export-format kubernetes` writes for a
//! two-container group, replayed as the CRI calls kubelet would make for it: both containers
//! run on the shim with the manifest's images, args, env (a secure value through its
//! Secret), shared `emptyDir` volume, memory limits and port.
//!
//! The replayer is kubelet's smallest part: it resolves `secretKeyRef` from the exported
//! Secret, makes each `emptyDir` a node directory, and turns `resources.limits.memory` into
//! the CRI memory limit. Real kubelet adds everything else on top: the API server and
//! scheduling, image pulls, the Service's virtual IP (kube-proxy), probes, restarts by the
//! pod's policy, and status reporting.

mod node;

use node::{container_config, guest, wasm_image};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use waci_tests::eventually;

const GROUP: &str = r#"
name: two
properties:
  restartPolicy: OnFailure
  containers:
  - name: web
    properties:
      image: docker.io/waci/hello-http:two
      ports: [{port: 8080}]
      resources: {requests: {cpu: 0.5, memoryInGB: 0.25}}
      volumeMounts: [{name: shared, mountPath: /shared}]
  - name: job
    properties:
      image: docker.io/waci/hello-cli:two
      command: [hello-cli, --write, /shared/note, from-the-job]
      environmentVariables:
      - {name: GREETING, value: hello}
      - {name: TOKEN, secureValue: s3cret}
      resources: {requests: {cpu: 0.5, memoryInGB: 0.25}}
      volumeMounts: [{name: shared, mountPath: /shared}]
  volumes: [{name: shared, emptyDir: {}}]
  ipAddress: {type: Private, ports: [{port: 8080}]}
"#;

/// `256Mi` → bytes.
fn quantity(q: &str) -> i64 {
    let (n, unit) = q.split_at(q.find(|c: char| !c.is_ascii_digit()).unwrap_or(q.len()));
    let n: i64 = n.parse().expect("a number");
    n * match unit {
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "" => 1,
        other => panic!("unit {other}"),
    }
}

#[tokio::test]
async fn the_exported_pod_of_a_two_container_group_runs_on_the_shim() {
    // What `waci container export --export-format kubernetes --from-file` writes.
    let body: Value = serde_yaml::from_str::<Value>(GROUP).expect("yaml");
    let body = serde_json::json!({"location": "local", "properties": body["properties"]});
    let spec = waci::kubernetes::spec("two", &body).expect("a valid group");
    let manifests = waci::kubernetes::yaml(&waci::kubernetes::manifests("two", &spec));
    let objects: Vec<Value> = serde_yaml::Deserializer::from_str(&manifests)
        .map(|d| Value::deserialize(d).expect("a YAML document"))
        .collect();
    let kind = |k: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == k)
            .unwrap_or_else(|| panic!("no {k} in:\n{manifests}"))
    };
    assert_eq!(kind("RuntimeClass")["handler"], "waci");
    let pod = kind("Pod");
    assert_eq!(pod["spec"]["runtimeClassName"], "waci");
    let secret = &kind("Secret")["stringData"];
    assert_eq!(kind("Service")["spec"]["ports"][0]["port"], 8080);

    let mut node = node::start().await;
    for (file, reference) in [
        ("hello-http.wasm", "docker.io/waci/hello-http:two"),
        ("hello-cli.wasm", "docker.io/waci/hello-cli:two"),
    ] {
        let entry = format!("/{file}");
        node.import(&wasm_image(
            reference,
            file,
            &[&entry],
            guest(file.trim_end_matches(".wasm")),
        ))
        .await;
    }
    let volumes: HashMap<String, std::path::PathBuf> = pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            assert!(v.get("emptyDir").is_some(), "{v}");
            let name = v["name"].as_str().expect("a name").to_string();
            let dir = node.volume(&name);
            (name, dir)
        })
        .collect();

    let pod_config = node.pod_config("two");
    let sandbox = node.run_pod(&pod_config).await;
    let mut started = Vec::new();
    for c in pod["spec"]["containers"].as_array().expect("containers") {
        let name = c["name"].as_str().expect("a name");
        let env: Vec<(String, String)> = c["env"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let value = match &e["valueFrom"]["secretKeyRef"] {
                    Value::Null => e["value"].as_str().unwrap_or("").to_string(),
                    r => secret[r["key"].as_str().expect("a key")]
                        .as_str()
                        .expect("in the Secret")
                        .to_string(),
                };
                (e["name"].as_str().expect("a name").to_string(), value)
            })
            .collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let args: Vec<&str> = c["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let limit = quantity(
            c["resources"]["limits"]["memory"]
                .as_str()
                .expect("a memory limit"),
        );
        let mut config = container_config(
            name,
            c["image"].as_str().expect("an image"),
            &args,
            &env,
            limit,
        );
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            config.mounts.push(node::cri::Mount {
                container_path: m["mountPath"].as_str().expect("a path").into(),
                host_path: volumes[m["name"].as_str().expect("a volume")]
                    .display()
                    .to_string(),
                ..Default::default()
            });
        }
        let id = node
            .start_container(&sandbox, &pod_config, config.clone())
            .await;
        started.push((name.to_string(), id, config));
    }

    // The web container answers on the pod's IP at the port the manifest gave it.
    let ip = node.pod_ip(&sandbox).await;
    let url = format!("http://{ip}:8080/");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    eventually(
        &format!("{url} to answer 200"),
        Duration::from_secs(30),
        || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let status = client
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .status();
                if status == 200 {
                    Ok(())
                } else {
                    Err(status.to_string())
                }
            }
        },
    )
    .await;
    // The job ran with its args and env, its secure value from the Secret, and wrote into
    // the pod's shared volume.
    let (_, job, job_config) = started
        .iter()
        .find(|(n, _, _)| n == "job")
        .expect("the job");
    let status = node.exited(job).await;
    let log = node.log_file(&pod_config, job_config);
    assert_eq!(status.exit_code, 0, "{log}");
    for line in [
        "env GREETING=hello",
        "env TOKEN=s3cret",
        "wrote /shared/note",
    ] {
        assert!(
            log.contains(line),
            "{line:?} is not in the job's log:\n{log}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(volumes["shared"].join("note")).expect("the job's file"),
        "from-the-job"
    );
    let ids: Vec<&str> = started.iter().map(|(_, id, _)| id.as_str()).collect();
    node.remove_pod(&sandbox, &ids).await;
}
