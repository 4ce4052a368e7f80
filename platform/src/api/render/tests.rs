//! The container group's ARM shape, checked against the JSON an ACI client expects.

use super::group::{View, group};
use crate::model::parse::{Limits, container_group};
use crate::model::*;
use crate::store::{ContainerRow, GroupRow};
use serde_json::json;

fn state(s: &str, exit: Option<i32>) -> ContainerState {
    ContainerState {
        state: s.into(),
        start_time: Some("t1".into()),
        finish_time: exit.map(|_| "t2".into()),
        exit_code: exit,
        detail_status: exit.map(|_| "Error".into()),
    }
}

fn event(name: &str) -> Event {
    Event {
        name: name.into(),
        message: format!("{name} it"),
        kind: "Normal".into(),
        count: 1,
        first_timestamp: "t0".into(),
        last_timestamp: "t0".into(),
    }
}

#[test]
fn a_group_is_written_in_arms_shape_without_its_secrets() {
    let body = json!({"location": "local", "tags": {"a": "b"}, "properties": {
        "restartPolicy": "OnFailure",
        "containers": [{"name": "web", "properties": {"image": "waci/hello-http", "command": ["x"],
            "environmentVariables": [{"name": "A", "value": "1"}, {"name": "S", "secureValue": "hidden"}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/cfg", "readOnly": true}],
            "ports": [{"port": 80}], "resources": {"requests": {"cpu": 0.5, "memoryInGB": 1.5}, "limits": {"cpu": 1}}}}],
        "initContainers": [{"name": "init", "properties": {"image": "waci/hello-cli", "resources": {"requests": {"cpu": 1, "memoryInGB": 1}}}}],
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "secret": {"f.txt": "aGk="}}],
        "imageRegistryCredentials": [{"server": "r.example", "username": "u", "password": "p"}],
        "ipAddress": {"type": "Public", "ports": [{"port": 80}], "dnsNameLabel": "myapp"}}});
    let limits = Limits {
        max_cpu: 4.0,
        max_memory_gb: 16.0,
    };
    let spec = container_group(&body, "g", "local", &limits, &|_| Ok(())).unwrap();
    let g = GroupRow {
        id: 7,
        subscription: "sub".into(),
        resource_group: "RG".into(),
        name: "g".into(),
        spec,
        provisioning_state: ProvisioningState::Succeeded,
        state: GroupState::Running,
        ip: Some(std::net::Ipv4Addr::new(127, 77, 0, 9)),
        fqdn: Some("myapp.local.waci.localhost".into()),
        generation: 2,
    };
    let containers = vec![
        ContainerRow {
            name: "init".into(),
            init: true,
            restart_count: 0,
            current: state("Terminated", Some(0)),
            previous: None,
            image_digest: None,
        },
        ContainerRow {
            name: "web".into(),
            init: false,
            restart_count: 1,
            current: state("Running", None),
            previous: Some(state("Terminated", Some(3))),
            image_digest: Some("r.example/web@sha256:00".into()),
        },
    ];
    let events = vec![
        (None, event("Group")),
        (Some("web".into()), event("Started")),
    ];
    let view = View {
        containers: &containers,
        events: &events,
    };
    let out = serde_json::to_value(group(&g, Some(&view))).unwrap();
    let web_view = json!({"restartCount": 1, "image": "r.example/web@sha256:00",
        "currentState": {"state": "Running", "startTime": "t1"},
        "previousState": {"state": "Terminated", "startTime": "t1", "finishTime": "t2", "exitCode": 3, "detailStatus": "Error"},
        "events": [{"name": "Started", "message": "Started it", "type": "Normal", "count": 1, "firstTimestamp": "t0", "lastTimestamp": "t0"}]});
    let expected = json!({
        "id": "/subscriptions/sub/resourceGroups/RG/providers/Microsoft.ContainerInstance/containerGroups/g",
        "name": "g", "type": "Microsoft.ContainerInstance/containerGroups", "location": "local",
        "tags": {"a": "b"},
        "properties": {
            "sku": "Standard", "provisioningState": "Succeeded", "osType": "Linux",
            "restartPolicy": "OnFailure",
            "containers": [{"name": "web", "properties": {"image": "waci/hello-http", "command": ["x"],
                "ports": [{"protocol": "TCP", "port": 80}],
                "environmentVariables": [{"name": "A", "value": "1"}, {"name": "S", "secureValue": null}],
                "resources": {"requests": {"cpu": 0.5, "memoryInGB": 1.5}, "limits": {"cpu": 1.0}},
                "volumeMounts": [{"name": "cfg", "mountPath": "/cfg", "readOnly": true}],
                "instanceView": web_view}}],
            "initContainers": [{"name": "init", "properties": {"image": "waci/hello-cli", "command": [],
                "ports": [], "environmentVariables": [],
                "resources": {"requests": {"cpu": 1.0, "memoryInGB": 1.0}},
                "instanceView": {"restartCount": 0, "events": [],
                    "currentState": {"state": "Terminated", "startTime": "t1", "finishTime": "t2", "exitCode": 0, "detailStatus": "Error"}}}}],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "secret": {}}],
            "imageRegistryCredentials": [{"server": "r.example", "username": "u"}],
            "ipAddress": {"type": "Public", "ports": [{"protocol": "TCP", "port": 80}], "ip": "127.77.0.9",
                "dnsNameLabel": "myapp", "autoGeneratedDomainNameLabelScope": "Unsecure",
                "fqdn": "myapp.local.waci.localhost"},
            "instanceView": {"state": "Running", "events": [{"name": "Group", "message": "Group it",
                "type": "Normal", "count": 1, "firstTimestamp": "t0", "lastTimestamp": "t0"}]}
        }
    });
    assert_eq!(out, expected, "\n{out:#}");
    let text = serde_json::to_string(&group(&g, Some(&view))).unwrap();
    assert!(!text.contains("hidden") && !text.contains("aGk=") && !text.contains("\"p\""));

    // In lists: no instance views; a DELETE answers with `Deleting`.
    let listed = serde_json::to_value(group(&g, None).provisioning("Deleting")).unwrap();
    assert_eq!(listed["properties"]["provisioningState"], "Deleting");
    assert!(!listed.to_string().contains("instanceView"));
}
