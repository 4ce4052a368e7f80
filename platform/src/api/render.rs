//! The ARM JSON shape of our resources. Secrets (`secureValue`, registry passwords, secret
//! volume contents) are never written here: they come back as ACI returns them (`null`,
//! absent, `{}`).

use crate::model::*;
use crate::store::{ContainerRow, GroupRow, ResourceGroupRow};
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

fn ports(ports: &[Port]) -> Value {
    ports
        .iter()
        .map(|p| json!({"protocol": p.protocol.as_str(), "port": p.port}))
        .collect()
}

fn event(e: &Event) -> Value {
    json!({
        "count": e.count, "firstTimestamp": e.first_timestamp, "lastTimestamp": e.last_timestamp,
        "name": e.name, "message": e.message, "type": e.kind,
    })
}

fn state(s: &ContainerState) -> Value {
    let mut v = json!({"state": s.state});
    for (k, val) in [
        ("startTime", &s.start_time),
        ("finishTime", &s.finish_time),
        ("detailStatus", &s.detail_status),
    ] {
        if let Some(x) = val {
            v[k] = json!(x);
        }
    }
    if let Some(c) = s.exit_code {
        v["exitCode"] = json!(c);
    }
    v
}

fn container(c: &Container, view: Option<Value>) -> Value {
    let env: Vec<Value> = c
        .env
        .iter()
        .map(|e| match &e.secure_value {
            Some(_) => json!({"name": e.name, "secureValue": null}),
            None => json!({"name": e.name, "value": e.value.clone().unwrap_or_default()}),
        })
        .collect();
    let mut resources =
        json!({"requests": {"cpu": c.requests.cpu, "memoryInGB": c.requests.memory_gb}});
    if c.limits.cpu.is_some() || c.limits.memory_gb.is_some() {
        let mut l = json!({});
        if let Some(cpu) = c.limits.cpu {
            l["cpu"] = json!(cpu);
        }
        if let Some(m) = c.limits.memory_gb {
            l["memoryInGB"] = json!(m);
        }
        resources["limits"] = l;
    }
    let mounts: Vec<Value> = c
        .volume_mounts
        .iter()
        .map(|m| json!({"name": m.name, "mountPath": m.mount_path, "readOnly": m.read_only}))
        .collect();
    let mut props = json!({
        "image": c.image, "command": c.command, "ports": ports(&c.ports),
        "environmentVariables": env, "resources": resources,
    });
    if !mounts.is_empty() {
        props["volumeMounts"] = json!(mounts);
    }
    if let Some(v) = view {
        props["instanceView"] = v;
    }
    json!({"name": c.name, "properties": props})
}

/// The instance view data of a group: container rows and events (container `None` = group).
pub struct View<'a> {
    pub containers: &'a [ContainerRow],
    pub events: &'a [(Option<String>, Event)],
}

/// A container group as ARM returns it. `view` is `None` in lists, which omit `instanceView`.
pub fn group(g: &GroupRow, view: Option<&View<'_>>) -> Value {
    let s = &g.spec;
    let container_view = |name: &str| -> Option<Value> {
        let v = view?;
        let row = v.containers.iter().find(|c| c.name == name)?;
        let events: Vec<Value> = v
            .events
            .iter()
            .filter(|(c, _)| c.as_deref() == Some(name))
            .map(|(_, e)| event(e))
            .collect();
        let mut out = json!({"restartCount": row.restart_count, "currentState": state(&row.current), "events": events});
        if let Some(p) = &row.previous {
            out["previousState"] = state(p);
        }
        if let Some(d) = &row.image_digest {
            out["image"] = json!(d);
        }
        Some(out)
    };
    let volumes: Vec<Value> = s
        .volumes
        .iter()
        .map(|v| match &v.source {
            VolumeSource::EmptyDir => json!({"name": v.name, "emptyDir": {}}),
            VolumeSource::Secret(_) => json!({"name": v.name, "secret": {}}),
        })
        .collect();
    let creds: Vec<Value> = s
        .registry_credentials
        .iter()
        .map(|c| json!({"server": c.server, "username": c.username}))
        .collect();
    let mut props = json!({
        "sku": "Standard",
        "provisioningState": g.provisioning_state,
        "osType": s.os_type,
        "restartPolicy": s.restart_policy.as_str(),
        "containers": s.containers.iter().map(|c| container(c, container_view(&c.name))).collect::<Vec<_>>(),
        "initContainers": s.init_containers.iter().map(|c| container(c, container_view(&c.name))).collect::<Vec<_>>(),
        "volumes": volumes,
        "imageRegistryCredentials": creds,
    });
    if let Some(ip) = &s.ip_address {
        let mut v = json!({"type": ip.kind.as_str(), "ports": ports(&ip.ports)});
        if let Some(addr) = g.ip {
            v["ip"] = json!(addr.to_string());
        }
        if let Some(label) = &ip.dns_name_label {
            v["dnsNameLabel"] = json!(label);
            v["autoGeneratedDomainNameLabelScope"] = json!(ip.scope.as_str());
        }
        if let Some(f) = &g.fqdn {
            v["fqdn"] = json!(f);
        }
        props["ipAddress"] = v;
    }
    if let Some(v) = view {
        let events: Vec<Value> = v
            .events
            .iter()
            .filter(|(c, _)| c.is_none())
            .map(|(_, e)| event(e))
            .collect();
        props["instanceView"] = json!({"state": g.state.as_str(), "events": events});
    }
    json!({
        "id": group_id(&g.subscription, &g.resource_group, &g.name),
        "name": g.name,
        "type": format!("{PROVIDER}/containerGroups"),
        "location": s.location,
        "tags": s.tags,
        "properties": props,
    })
}
