//! The ARM JSON shape of our resources. Secrets (`secureValue`, registry passwords, secret
//! volume contents) are never written here: they come back as ACI returns them (`null`,
//! absent, `{}`).

use crate::model::*;
use crate::store::{ContainerRow, GroupRow, ResourceGroupRow};
use serde::Serialize;
use serde_json::{Value, json};

pub const PROVIDER: &str = "Microsoft.ContainerInstance";

pub fn group_id(sub: &str, rg: &str, name: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/{PROVIDER}/containerGroups/{name}")
}

pub fn resource_group(rg: &ResourceGroupRow) -> Value {
    json!({
        "id": format!("/subscriptions/{}/resourceGroups/{}", rg.subscription, rg.name),
        "name": rg.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": rg.location,
        "tags": rg.tags,
        "properties": {"provisioningState": "Succeeded"},
    })
}

/// The instance view data of a group: container rows and events (container `None` = group).
pub struct View<'a> {
    pub containers: &'a [ContainerRow],
    pub events: &'a [(Option<String>, Event)],
}

/// A container group as ARM returns it, written straight to JSON (no tree of values in
/// between: the GET of a group is the platform's most frequent answer). `view` is `None`
/// in lists, which omit `instanceView`.
pub fn group<'a>(g: &'a GroupRow, view: Option<&'a View<'a>>) -> GroupJson<'a> {
    GroupJson {
        g,
        view,
        provisioning: g.provisioning_state.as_str(),
    }
}

/// See [`group`].
pub struct GroupJson<'a> {
    g: &'a GroupRow,
    view: Option<&'a View<'a>>,
    provisioning: &'a str,
}

impl<'a> GroupJson<'a> {
    /// The same group with another provisioning state (a DELETE answers `Deleting`).
    pub fn provisioning(mut self, state: &'a str) -> Self {
        self.provisioning = state;
        self
    }
}

#[derive(Serialize)]
struct GroupOut<'a> {
    id: String,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    location: &'a str,
    tags: &'a std::collections::BTreeMap<String, String>,
    properties: GroupProps<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupProps<'a> {
    sku: &'static str,
    provisioning_state: &'a str,
    os_type: &'a str,
    restart_policy: &'static str,
    containers: Vec<ContainerOut<'a>>,
    init_containers: Vec<ContainerOut<'a>>,
    volumes: Vec<VolumeOut<'a>>,
    image_registry_credentials: Vec<CredentialOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_address: Option<IpOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_view: Option<GroupViewOut<'a>>,
}

#[derive(Serialize)]
struct VolumeOut<'a> {
    name: &'a str,
    #[serde(rename = "emptyDir", skip_serializing_if = "Option::is_none")]
    empty_dir: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<Empty>,
}

/// `{}`: what ACI shows of an emptyDir volume, and of a secret one.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct CredentialOut<'a> {
    server: &'a str,
    username: &'a Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IpOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    ports: Vec<PortOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dns_name_label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_generated_domain_name_label_scope: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fqdn: Option<&'a str>,
}

#[derive(Serialize)]
struct PortOut {
    protocol: &'static str,
    port: u16,
}

#[derive(Serialize)]
struct GroupViewOut<'a> {
    state: &'static str,
    events: Vec<EventOut<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventOut<'a> {
    count: u32,
    first_timestamp: &'a str,
    last_timestamp: &'a str,
    name: &'a str,
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

#[derive(Serialize)]
struct ContainerOut<'a> {
    name: &'a str,
    properties: ContainerProps<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerProps<'a> {
    image: &'a str,
    command: &'a [String],
    ports: Vec<PortOut>,
    environment_variables: Vec<EnvOut<'a>>,
    resources: ResourcesOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume_mounts: Option<Vec<MountOut<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance_view: Option<ContainerViewOut<'a>>,
}

/// An environment variable; a secure one shows its name and `"secureValue": null`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvOut<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not", serialize_with = "null")]
    secure_value: bool,
}

fn null<S: serde::Serializer>(_: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_none()
}

#[derive(Serialize)]
struct ResourcesOut {
    requests: RequestsOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<LimitsOut>,
}

#[derive(Serialize)]
struct RequestsOut {
    cpu: f64,
    #[serde(rename = "memoryInGB")]
    memory_gb: f64,
}

#[derive(Serialize)]
struct LimitsOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<f64>,
    #[serde(rename = "memoryInGB", skip_serializing_if = "Option::is_none")]
    memory_gb: Option<f64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MountOut<'a> {
    name: &'a str,
    mount_path: &'a str,
    read_only: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerViewOut<'a> {
    restart_count: u32,
    current_state: StateOut<'a>,
    events: Vec<EventOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_state: Option<StateOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateOut<'a> {
    state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finish_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
}

fn state_out(s: &ContainerState) -> StateOut<'_> {
    StateOut {
        state: &s.state,
        start_time: s.start_time.as_deref(),
        finish_time: s.finish_time.as_deref(),
        detail_status: s.detail_status.as_deref(),
        exit_code: s.exit_code,
    }
}

fn event_out(e: &Event) -> EventOut<'_> {
    EventOut {
        count: e.count,
        first_timestamp: &e.first_timestamp,
        last_timestamp: &e.last_timestamp,
        name: &e.name,
        message: &e.message,
        kind: &e.kind,
    }
}

fn ports_out(ports: &[Port]) -> Vec<PortOut> {
    ports
        .iter()
        .map(|p| PortOut {
            protocol: p.protocol.as_str(),
            port: p.port,
        })
        .collect()
}

fn container_out<'a>(c: &'a Container, view: Option<&'a View<'a>>) -> ContainerOut<'a> {
    let instance_view = view.and_then(|v| {
        let row = v.containers.iter().find(|r| r.name == c.name)?;
        Some(ContainerViewOut {
            restart_count: row.restart_count,
            current_state: state_out(&row.current),
            events: v
                .events
                .iter()
                .filter(|(n, _)| n.as_deref() == Some(c.name.as_str()))
                .map(|(_, e)| event_out(e))
                .collect(),
            previous_state: row.previous.as_ref().map(state_out),
            image: row.image_digest.as_deref(),
        })
    });
    let limits = (c.limits.cpu.is_some() || c.limits.memory_gb.is_some()).then_some(LimitsOut {
        cpu: c.limits.cpu,
        memory_gb: c.limits.memory_gb,
    });
    ContainerOut {
        name: &c.name,
        properties: ContainerProps {
            image: &c.image,
            command: &c.command,
            ports: ports_out(&c.ports),
            environment_variables: c
                .env
                .iter()
                .map(|e| match &e.secure_value {
                    Some(_) => EnvOut {
                        name: &e.name,
                        value: None,
                        secure_value: true,
                    },
                    None => EnvOut {
                        name: &e.name,
                        value: Some(e.value.as_deref().unwrap_or_default()),
                        secure_value: false,
                    },
                })
                .collect(),
            resources: ResourcesOut {
                requests: RequestsOut {
                    cpu: c.requests.cpu,
                    memory_gb: c.requests.memory_gb,
                },
                limits,
            },
            volume_mounts: (!c.volume_mounts.is_empty()).then(|| {
                c.volume_mounts
                    .iter()
                    .map(|m| MountOut {
                        name: &m.name,
                        mount_path: &m.mount_path,
                        read_only: m.read_only,
                    })
                    .collect()
            }),
            instance_view,
        },
    }
}

impl Serialize for GroupJson<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let (g, view) = (self.g, self.view);
        let s = &g.spec;
        let ip_address = s.ip_address.as_ref().map(|ip| IpOut {
            kind: ip.kind.as_str(),
            ports: ports_out(&ip.ports),
            ip: g.ip.map(|a| a.to_string()),
            dns_name_label: ip.dns_name_label.as_deref(),
            auto_generated_domain_name_label_scope: ip
                .dns_name_label
                .as_ref()
                .map(|_| ip.scope.as_str()),
            fqdn: g.fqdn.as_deref(),
        });
        GroupOut {
            id: group_id(&g.subscription, &g.resource_group, &g.name),
            name: &g.name,
            kind: "Microsoft.ContainerInstance/containerGroups",
            location: &s.location,
            tags: &s.tags,
            properties: GroupProps {
                sku: "Standard",
                provisioning_state: self.provisioning,
                os_type: &s.os_type,
                restart_policy: s.restart_policy.as_str(),
                containers: s
                    .containers
                    .iter()
                    .map(|c| container_out(c, view))
                    .collect(),
                init_containers: s
                    .init_containers
                    .iter()
                    .map(|c| container_out(c, view))
                    .collect(),
                volumes: s
                    .volumes
                    .iter()
                    .map(|v| VolumeOut {
                        name: &v.name,
                        empty_dir: matches!(v.source, VolumeSource::EmptyDir).then_some(Empty {}),
                        secret: matches!(v.source, VolumeSource::Secret(_)).then_some(Empty {}),
                    })
                    .collect(),
                image_registry_credentials: s
                    .registry_credentials
                    .iter()
                    .map(|c| CredentialOut {
                        server: &c.server,
                        username: &c.username,
                    })
                    .collect(),
                ip_address,
                instance_view: view.map(|v| GroupViewOut {
                    state: g.state.as_str(),
                    events: v
                        .events
                        .iter()
                        .filter(|(c, _)| c.is_none())
                        .map(|(_, e)| event_out(e))
                        .collect(),
                }),
            },
        }
        .serialize(ser)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse::{Limits, container_group};
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
}
