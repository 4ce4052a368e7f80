//! The ARM shape of a container group, as GET, PUT and DELETE answer it and lists show it
//! (without `instanceView`). These structs are both what is sent and what the OpenAPI
//! document describes (`ToSchema`), so the two cannot drift apart. Secrets (`secureValue`,
//! registry passwords, secret volume contents) are never written here: they come back as
//! ACI returns them (`null`, absent, `{}`).

use crate::groups::group_id;
use crate::model::{self as m, VolumeSource};
use crate::store::{ContainerRow, GroupRow};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The instance view data of a group: container rows and events (container `None` = group).
pub struct View<'a> {
    pub containers: &'a [ContainerRow],
    pub events: &'a [(Option<String>, m::Event)],
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

/// A container group as GET answers it (lists leave out `instanceView`).
#[derive(Serialize, ToSchema)]
pub struct ContainerGroup<'a> {
    pub id: String,
    pub name: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub location: &'a str,
    pub tags: &'a BTreeMap<String, String>,
    /// As given: one machine is one zone.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub zones: &'a [String],
    pub properties: ContainerGroupProperties<'a>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerGroupProperties<'a> {
    pub sku: &'static str,
    /// `Regular`, when the PUT said so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<&'a str>,
    /// Pending, Creating, Succeeded, Failed or Deleting.
    pub provisioning_state: &'a str,
    pub os_type: &'a str,
    /// Always, OnFailure or Never.
    pub restart_policy: &'static str,
    pub containers: Vec<Container<'a>>,
    pub init_containers: Vec<Container<'a>>,
    pub volumes: Vec<Volume<'a>>,
    pub image_registry_credentials: Vec<RegistryCredentialView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<IpAddress<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_view: Option<GroupInstanceView<'a>>,
}

/// A volume: `emptyDir: {}` or `secret: {}` (its files are never shown).
#[derive(Serialize, ToSchema)]
pub struct Volume<'a> {
    pub name: &'a str,
    #[serde(rename = "emptyDir", skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Empty>,
}

/// `{}`: what ACI shows of an emptyDir volume, and of a secret one.
#[derive(Serialize, ToSchema)]
pub struct Empty {}

/// A registry and its username; a password is never returned.
#[derive(Serialize, ToSchema)]
pub struct RegistryCredentialView<'a> {
    pub server: &'a str,
    pub username: Option<&'a str>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpAddress<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_name_label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Unsecure, TenantReuse, SubscriptionReuse, ResourceGroupReuse or Noreuse.
    pub auto_generated_domain_name_label_scope: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fqdn: Option<&'a str>,
}

#[derive(Serialize, ToSchema)]
pub struct Port {
    /// TCP or UDP.
    pub protocol: &'static str,
    pub port: u16,
}

#[derive(Serialize, ToSchema)]
pub struct GroupInstanceView<'a> {
    /// Pending, Running, Succeeded, Failed or Stopped.
    pub state: &'static str,
    pub events: Vec<Event<'a>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event<'a> {
    pub count: u32,
    pub first_timestamp: &'a str,
    pub last_timestamp: &'a str,
    pub name: &'a str,
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
}

#[derive(Serialize, ToSchema)]
pub struct Container<'a> {
    pub name: &'a str,
    pub properties: ContainerProperties<'a>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerProperties<'a> {
    /// `waci/<name>`, a path to a .wasm file, or `registry/repository:tag` (or `@sha256:...`).
    pub image: &'a str,
    pub command: &'a [String],
    pub ports: Vec<Port>,
    pub environment_variables: Vec<EnvironmentVariable<'a>>,
    pub resources: ResourceRequirements,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_mounts: Option<Vec<VolumeMount<'a>>>,
    /// Whether a service's requests are served by warm instances kept between requests;
    /// shown when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub instance_reuse: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<super::ContainerProbe<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<super::ContainerProbe<'a>>,
    /// As given (a documented no-op).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub security_context: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_view: Option<ContainerInstanceView<'a>>,
}

/// An environment variable; a secure one shows its name and `"secureValue": null`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentVariable<'a> {
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not", serialize_with = "null")]
    #[schema(value_type = Option<String>)]
    pub secure_value: bool,
}

fn null<S: serde::Serializer>(_: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_none()
}

#[derive(Serialize, ToSchema)]
pub struct ResourceRequirements {
    pub requests: Resources,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceLimits>,
}

#[derive(Serialize, ToSchema)]
pub struct Resources {
    pub cpu: f64,
    #[serde(rename = "memoryInGB")]
    pub memory_gb: f64,
}

#[derive(Serialize, ToSchema)]
pub struct ResourceLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<f64>,
    #[serde(rename = "memoryInGB", skip_serializing_if = "Option::is_none")]
    pub memory_gb: Option<f64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount<'a> {
    pub name: &'a str,
    pub mount_path: &'a str,
    pub read_only: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerInstanceView<'a> {
    pub restart_count: u32,
    pub current_state: ContainerState<'a>,
    pub events: Vec<Event<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_state: Option<ContainerState<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The pinned image (`registry/repository@sha256:...`) a registry tag resolved to.
    pub image: Option<&'a str>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerState<'a> {
    /// Waiting, Running or Terminated.
    pub state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

fn state_out(s: &m::ContainerState) -> ContainerState<'_> {
    ContainerState {
        state: &s.state,
        start_time: s.start_time.as_deref(),
        finish_time: s.finish_time.as_deref(),
        detail_status: s.detail_status.as_deref(),
        exit_code: s.exit_code,
    }
}

pub(super) fn event_out(e: &m::Event) -> Event<'_> {
    Event {
        count: e.count,
        first_timestamp: &e.first_timestamp,
        last_timestamp: &e.last_timestamp,
        name: &e.name,
        message: &e.message,
        kind: &e.kind,
    }
}

fn ports_out(ports: &[m::Port]) -> Vec<Port> {
    ports
        .iter()
        .map(|p| Port {
            protocol: p.protocol.as_str(),
            port: p.port,
        })
        .collect()
}

fn container_out<'a>(c: &'a m::Container, view: Option<&'a View<'a>>) -> Container<'a> {
    let instance_view = view.and_then(|v| {
        let row = v.containers.iter().find(|r| r.name == c.name)?;
        Some(ContainerInstanceView {
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
    let limits =
        (c.limits.cpu.is_some() || c.limits.memory_gb.is_some()).then_some(ResourceLimits {
            cpu: c.limits.cpu,
            memory_gb: c.limits.memory_gb,
        });
    Container {
        name: &c.name,
        properties: ContainerProperties {
            image: &c.image,
            command: &c.command,
            ports: ports_out(&c.ports),
            environment_variables: c
                .env
                .iter()
                .map(|e| match &e.secure_value {
                    Some(_) => EnvironmentVariable {
                        name: &e.name,
                        value: None,
                        secure_value: true,
                    },
                    None => EnvironmentVariable {
                        name: &e.name,
                        value: Some(e.value.as_deref().unwrap_or_default()),
                        secure_value: false,
                    },
                })
                .collect(),
            resources: ResourceRequirements {
                requests: Resources {
                    cpu: c.requests.cpu,
                    memory_gb: c.requests.memory_gb,
                },
                limits,
            },
            volume_mounts: (!c.volume_mounts.is_empty()).then(|| {
                c.volume_mounts
                    .iter()
                    .map(|m| VolumeMount {
                        name: &m.name,
                        mount_path: &m.mount_path,
                        read_only: m.read_only,
                    })
                    .collect()
            }),
            instance_reuse: c.instance_reuse,
            liveness_probe: c.liveness_probe.as_ref().map(super::probe::probe_out),
            readiness_probe: c.readiness_probe.as_ref().map(super::probe::probe_out),
            security_context: c.security_context.as_ref(),
            instance_view,
        },
    }
}

impl Serialize for GroupJson<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let (g, view) = (self.g, self.view);
        let s = &g.spec;
        let ip_address = s.ip_address.as_ref().map(|ip| IpAddress {
            kind: ip.kind.as_str(),
            ports: ports_out(&ip.ports),
            ip: g.ip.map(|a| a.to_string()),
            dns_name_label: ip.dns_name_label.as_deref(),
            // With a label, or when the PUT chose a scope other than the default.
            auto_generated_domain_name_label_scope: (ip.dns_name_label.is_some()
                || ip.scope != m::DnsScope::Unsecure)
                .then_some(ip.scope.as_str()),
            fqdn: g.fqdn.as_deref(),
        });
        ContainerGroup {
            id: group_id(&g.subscription, &g.resource_group, &g.name),
            name: &g.name,
            kind: "Microsoft.ContainerInstance/containerGroups",
            location: &s.location,
            tags: &s.tags,
            zones: &s.zones,
            properties: ContainerGroupProperties {
                sku: "Standard",
                priority: s.priority.as_deref(),
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
                    .map(|v| Volume {
                        name: &v.name,
                        empty_dir: matches!(v.source, VolumeSource::EmptyDir).then_some(Empty {}),
                        secret: matches!(v.source, VolumeSource::Secret(_)).then_some(Empty {}),
                    })
                    .collect(),
                image_registry_credentials: s
                    .registry_credentials
                    .iter()
                    .map(|c| RegistryCredentialView {
                        server: &c.server,
                        username: c.username.as_deref(),
                    })
                    .collect(),
                ip_address,
                instance_view: view.map(|v| GroupInstanceView {
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
