//! The `ContainerGroup` custom resource (`containerinstance.waci.dev/v1`, namespaced): its
//! `spec` is ACI's container group `properties` in their canonical spelling, its `status`
//! ACI's instance view. The CRD (`deploy/containergroup-crd.yaml`) is generated from these
//! types by `waci operator crd`.
//!
//! The schema says only the shape (names and JSON types); what is valid is the platform's
//! parser's to say ([`ContainerGroup::group_spec`]), so every field is optional here and a
//! spec `waci serve` refuses is refused with the same message, in the status. Enum values
//! stay strings for the same reason. This module knows no client and no cluster.

use crate::kubernetes;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use waci_platform::model::{self, VolumeSource, parse::FieldError};

/// The API group of the resource.
pub const API_GROUP: &str = "containerinstance.waci.dev";

/// A container group: ACI's `properties`, as `waci serve` takes them in a PUT body.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "containerinstance.waci.dev",
    version = "v1",
    kind = "ContainerGroup",
    plural = "containergroups",
    shortname = "cg",
    namespaced,
    status = "ContainerGroupStatus",
    derive = "PartialEq",
    doc = "A waci container group: ACI's container group properties, run as a Pod of the waci RuntimeClass.",
    printcolumn(
        name = "State",
        type_ = "string",
        json_path = ".status.instanceView.state"
    ),
    printcolumn(
        name = "Provisioning",
        type_ = "string",
        json_path = ".status.provisioningState"
    ),
    printcolumn(name = "IP", type_ = "string", json_path = ".status.ipAddress.ip"),
    printcolumn(
        name = "FQDN",
        type_ = "string",
        json_path = ".status.ipAddress.fqdn",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_type: Option<String>,
    /// `Always`, `OnFailure` or `Never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerDefinition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub init_containers: Vec<ContainerDefinition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_registry_credentials: Vec<ImageRegistryCredential>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<IpAddress>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ContainerDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<ContainerProperties>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// argv: the first word names the program, as in ACI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environment_variables: Vec<EnvironmentVariable>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// waci's extension: a service's requests served by warm instances kept between them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_reuse: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<ContainerProbe>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<ContainerProbe>,
}

/// ACI's `ContainerProbe`: one of `httpGet` and `exec`, and its timings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProbe {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<ProbeHttpGet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ProbeExec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProbeHttpGet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
    /// `http` or `https`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_headers: Vec<ProbeHttpHeader>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeHttpHeader {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ProbeExec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
}

/// A probe of the model in the resource's shape.
fn probe(p: &model::Probe) -> ContainerProbe {
    let n = |x: u32| Some(i64::from(x));
    let (http_get, exec) = match &p.action {
        model::ProbeAction::HttpGet(g) => (
            Some(ProbeHttpGet {
                path: Some(g.path.clone()),
                port: Some(i64::from(g.port)),
                scheme: Some(g.scheme.as_str().into()),
                http_headers: g
                    .http_headers
                    .iter()
                    .map(|(name, value)| ProbeHttpHeader {
                        name: Some(name.clone()),
                        value: Some(value.clone()),
                    })
                    .collect(),
            }),
            None,
        ),
        model::ProbeAction::Exec(command) => (
            None,
            Some(ProbeExec {
                command: command.clone(),
            }),
        ),
    };
    ContainerProbe {
        http_get,
        exec,
        initial_delay_seconds: n(p.initial_delay_seconds),
        period_seconds: n(p.period_seconds),
        failure_threshold: n(p.failure_threshold),
        success_threshold: n(p.success_threshold),
        timeout_seconds: n(p.timeout_seconds),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Port {
    /// `TCP` or `UDP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentVariable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Reaches the container through a Secret the operator makes, never through the Pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_value: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Resources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceAmounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceAmounts>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceAmounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    #[serde(
        default,
        rename = "memoryInGB",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory_in_gb: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDir>,
    /// File name → base64 content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<BTreeMap<String, String>>,
}

/// ACI's `emptyDir: {}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EmptyDir {}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImageRegistryCredential {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpAddress {
    /// `Public` (a LoadBalancer Service) or `Private` (a ClusterIP Service).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_name_label: Option<String>,
    /// `Unsecure`, `TenantReuse`, `SubscriptionReuse`, `ResourceGroupReuse` or `Noreuse`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_generated_domain_name_label_scope: Option<String>,
}

/// ACI's instance view of the group, from the Pod and Service the operator made.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Pending`, `Creating`, `Succeeded` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<IpAddressStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_view: Option<GroupInstanceView>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerStatus>,
    /// `Accepted` (the spec passed the parser, else its code and message) and `Ready`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IpAddressStatus {
    /// The Service's address: its load balancer's for `Public`, its cluster IP for `Private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The DNS name, published by external-dns from the Service's annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GroupInstanceView {
    /// `Pending`, `Running`, `Succeeded` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: String,
    pub instance_view: ContainerInstanceView,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstanceView {
    pub restart_count: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_state: Option<ContainerState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<ContainerState>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState {
    /// `Waiting`, `Running` or `Terminated`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Kubernetes' reason: `Completed`, `Error`, `OOMKilled`, `CrashLoopBackOff`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_status: Option<String>,
}

/// An event in ACI's shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// ACI's names: `Started`, `BackOff`, `Failed`, `Killing`.
    pub name: String,
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    /// `True` or `False`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ContainerGroup {
    /// The PUT body `waci serve` would take for this group.
    pub fn body(&self) -> Value {
        json!({"properties": self.spec})
    }

    /// The group as the platform's parser reads it, or its refusal, as `waci serve` would
    /// answer the same body.
    pub fn group_spec(&self) -> Result<model::ContainerGroupSpec, FieldError> {
        let name = self.metadata.name.as_deref().unwrap_or_default();
        kubernetes::parse_group(name, &self.body())
    }
}

/// The message `waci serve` answers for a refused field, word for word: made by the API's
/// own error type.
pub fn refusal_message(e: &FieldError) -> String {
    waci_platform::api::ApiError::from(e.clone()).message
}

/// A group in ACI's JSON shape (a PUT body, a file `create --file` reads) as a
/// `ContainerGroup` in its canonical spelling: parsed by the platform's parser first, so
/// ARM's tolerances (any case, ports as strings) are resolved before the cluster sees it.
pub fn from_body(name: &str, body: &Value) -> Result<ContainerGroup, FieldError> {
    let g = kubernetes::parse_group(name, body)?;
    Ok(ContainerGroup::new(name, properties(&g)))
}

/// A parsed group in the resource's spelling.
pub fn properties(g: &model::ContainerGroupSpec) -> ContainerGroupProperties {
    let port = |p: &model::Port| Port {
        protocol: Some(p.protocol.as_str().into()),
        port: Some(i64::from(p.port)),
    };
    let container = |c: &model::Container| ContainerDefinition {
        name: Some(c.name.clone()),
        properties: Some(ContainerProperties {
            image: Some(c.image.clone()),
            command: c.command.clone(),
            ports: c.ports.iter().map(port).collect(),
            environment_variables: c
                .env
                .iter()
                .map(|e| EnvironmentVariable {
                    name: Some(e.name.clone()),
                    value: e.value.clone(),
                    secure_value: e.secure_value.clone(),
                })
                .collect(),
            resources: Some(Resources {
                requests: Some(ResourceAmounts {
                    cpu: Some(c.requests.cpu),
                    memory_in_gb: Some(c.requests.memory_gb),
                }),
                limits: (c.limits != model::ResourceLimits::default()).then_some(ResourceAmounts {
                    cpu: c.limits.cpu,
                    memory_in_gb: c.limits.memory_gb,
                }),
            }),
            volume_mounts: c
                .volume_mounts
                .iter()
                .map(|m| VolumeMount {
                    name: Some(m.name.clone()),
                    mount_path: Some(m.mount_path.clone()),
                    read_only: m.read_only.then_some(true),
                })
                .collect(),
            instance_reuse: c.instance_reuse.then_some(true),
            liveness_probe: c.liveness_probe.as_ref().map(probe),
            readiness_probe: c.readiness_probe.as_ref().map(probe),
        }),
    };
    ContainerGroupProperties {
        os_type: Some(g.os_type.clone()),
        restart_policy: Some(g.restart_policy.as_str().into()),
        containers: g.containers.iter().map(container).collect(),
        init_containers: g.init_containers.iter().map(container).collect(),
        volumes: g
            .volumes
            .iter()
            .map(|v| Volume {
                name: Some(v.name.clone()),
                empty_dir: matches!(v.source, VolumeSource::EmptyDir).then_some(EmptyDir {}),
                secret: match &v.source {
                    VolumeSource::Secret(files) => Some(files.clone()),
                    VolumeSource::EmptyDir => None,
                },
            })
            .collect(),
        image_registry_credentials: g
            .registry_credentials
            .iter()
            .map(|c| ImageRegistryCredential {
                server: Some(c.server.clone()),
                username: c.username.clone(),
                password: c.password.clone(),
            })
            .collect(),
        ip_address: g.ip_address.as_ref().map(|ip| IpAddress {
            kind: Some(ip.kind.as_str().into()),
            ports: ip.ports.iter().map(port).collect(),
            dns_name_label: ip.dns_name_label.clone(),
            auto_generated_domain_name_label_scope: ip
                .dns_name_label
                .as_ref()
                .map(|_| ip.scope.as_str().into()),
        }),
    }
}
