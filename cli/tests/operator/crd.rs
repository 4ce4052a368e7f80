//! The CRD: the checked-in YAML is what the Rust types generate, and every example of
//! `examples/` becomes a `ContainerGroup` that kube's types read back and the CRD's own
//! OpenAPI v3 schema accepts, meaning the same group to the parser.

use serde::Deserialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use waci::operator::resource::{self, ContainerGroup};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

const CRD_FILE: &str = "deploy/containergroup-crd.yaml";

#[test]
fn the_checked_in_crd_is_the_one_the_types_generate() {
    let checked_in = std::fs::read_to_string(repo().join(CRD_FILE)).unwrap_or_default();
    assert!(
        checked_in == waci::operator::crd_yaml(),
        "{CRD_FILE} is not what the ContainerGroup types generate; rewrite it with\n  \
         cargo run -p waci -- operator crd > {CRD_FILE}"
    );
    let crd: Value = serde_yaml::from_str(&checked_in).unwrap();
    assert_eq!(crd["spec"]["group"], "containerinstance.waci.dev");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["versions"][0]["name"], "v1");
    assert_eq!(
        crd["spec"]["versions"][0]["subresources"],
        json!({"status": {}})
    );
}

/// The schema the API server checks a ContainerGroup against.
fn validator() -> jsonschema::Validator {
    let crd: Value = serde_yaml::from_str(&waci::operator::crd_yaml()).unwrap();
    let schema = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    assert!(schema.is_object(), "{crd}");
    jsonschema::validator_for(schema).expect("the CRD's schema is a JSON schema")
}

fn errors(validator: &jsonschema::Validator, object: &Value) -> Vec<String> {
    validator
        .iter_errors(object)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Each example as a name and an ACI body: the JSON files as the API takes them, the YAML
/// files as `container create --file` reads them; those of the examples' own directories
/// (the Python and JavaScript apps) too.
fn examples() -> Vec<(String, Value)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).unwrap() {
                files.push(inner.unwrap().path());
            }
        } else {
            files.push(path);
        }
    }
    let mut out = Vec::new();
    for path in files {
        let (name, body) = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => {
                let body: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let stem = path
                    .file_stem()
                    .unwrap()
                    .to_string_lossy()
                    .replace('_', "-");
                (body["name"].as_str().map_or(stem, str::to_string), body)
            }
            Some("yaml") => {
                let d = waci::yaml_file::load(&path, None, None)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                (d.name, d.body)
            }
            _ => continue,
        };
        out.push((name, body));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_example_is_a_container_group_the_crds_schema_accepts() {
    let validator = validator();
    let examples = examples();
    assert!(examples.len() >= 6, "{examples:?}");
    for (name, body) in examples {
        let cg = resource::from_body(&name, &body).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let object = serde_json::to_value(&cg).unwrap();
        let errors = errors(&validator, &object);
        assert!(errors.is_empty(), "{name}: {errors:?}\n{object:#}");
        let back: ContainerGroup = serde_json::from_value(object).unwrap();
        assert_eq!(back, cg, "{name}");
        // The resource means the same group as the file.
        let from_file = waci::kubernetes::parse_group(&name, &body).unwrap();
        let from_resource = back.group_spec().unwrap();
        assert_eq!(from_resource.containers, from_file.containers, "{name}");
        assert_eq!(
            from_resource.init_containers, from_file.init_containers,
            "{name}"
        );
        assert_eq!(from_resource.volumes, from_file.volumes, "{name}");
        assert_eq!(from_resource.ip_address, from_file.ip_address, "{name}");
        assert_eq!(
            from_resource.restart_policy, from_file.restart_policy,
            "{name}"
        );
    }
}

#[test]
fn the_schema_refuses_a_wrong_type() {
    let validator = validator();
    let object = json!({
        "apiVersion": "containerinstance.waci.dev/v1",
        "kind": "ContainerGroup",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "properties": {
            "image": "w", "ports": [{"port": "eighty"}],
        }}]},
    });
    let errors = errors(&validator, &object);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("/spec/containers/0/properties/ports/0/port")),
        "{errors:?}"
    );
}

#[test]
fn the_operators_role_grants_what_it_uses_and_nothing_more() {
    let text = std::fs::read_to_string(repo().join("deploy/operator.yaml")).unwrap();
    let role = serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).unwrap())
        .find(|o| o["kind"] == "ClusterRole")
        .expect("a ClusterRole");
    let mut granted = Vec::new();
    for rule in role["rules"].as_array().unwrap() {
        for group in rule["apiGroups"].as_array().unwrap() {
            for resource in rule["resources"].as_array().unwrap() {
                for verb in rule["verbs"].as_array().unwrap() {
                    granted.push(format!(
                        "{}/{} {}",
                        group.as_str().unwrap(),
                        resource.as_str().unwrap(),
                        verb.as_str().unwrap()
                    ));
                }
            }
        }
    }
    granted.sort();
    let group = "containerinstance.waci.dev";
    let mut wanted: Vec<String> = [
        // The controller lists and watches its resource, and applies its status.
        format!("{group}/containergroups get"),
        format!("{group}/containergroups list"),
        format!("{group}/containergroups watch"),
        format!("{group}/containergroups/status get"),
        format!("{group}/containergroups/status patch"),
        format!("{group}/containergroups/status update"),
    ]
    .into_iter()
    .chain(["pods", "services"].iter().flat_map(|r| {
        // Read, watched as owned objects, applied (patch; create when new), deleted.
        ["create", "delete", "get", "list", "patch", "watch"].map(|v| format!("/{r} {v}"))
    }))
    .chain(["/secrets create".into(), "/secrets patch".into()])
    .collect();
    wanted.sort();
    assert_eq!(granted, wanted);
}

#[test]
fn waci_s_own_extension_instance_reuse_goes_through_the_resource() {
    let body = json!({"properties": {"containers": [{"name": "web", "properties": {
        "image": "w", "ports": [{"port": 80}], "instanceReuse": true,
    }}]}});
    let cg = resource::from_body("web", &body).unwrap();
    let object = serde_json::to_value(&cg).unwrap();
    assert_eq!(
        object["spec"]["containers"][0]["properties"]["instanceReuse"],
        true
    );
    assert!(errors(&validator(), &object).is_empty());
    assert!(cg.group_spec().unwrap().containers[0].instance_reuse);
}

#[test]
fn probes_go_through_the_resource_and_its_schema() {
    let body = json!({"properties": {"containers": [{"name": "web", "properties": {
        "image": "w", "ports": [{"port": 80}],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 80}, "periodSeconds": 2},
        "livenessProbe": {"exec": {"command": ["cat", "/health/ok"]}, "failureThreshold": 5},
    }}]}});
    let cg = resource::from_body("web", &body).unwrap();
    let object = serde_json::to_value(&cg).unwrap();
    let props = &object["spec"]["containers"][0]["properties"];
    assert_eq!(props["readinessProbe"]["httpGet"]["path"], "/ready");
    assert_eq!(
        props["livenessProbe"]["exec"]["command"],
        json!(["cat", "/health/ok"])
    );
    assert!(errors(&validator(), &object).is_empty());
    let spec = cg.group_spec().unwrap();
    let c = &spec.containers[0];
    assert_eq!(c.readiness_probe.as_ref().unwrap().period_seconds, 2);
    assert_eq!(c.liveness_probe.as_ref().unwrap().failure_threshold, 5);
}
