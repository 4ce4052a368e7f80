//! `waci container create|show|list|logs|delete --context <kubeconfig context>`: the same
//! commands against a Kubernetes cluster running `waci operator`, through `ContainerGroup`
//! resources. The resource group is the namespace; a group is shown in ACI's shape (its spec
//! as `properties`, its status as the instance view), so `-o table` and `--query` read it as
//! they read the platform's; logs are the Pod's.
//!
//! A group is parsed by the platform's parser before anything is sent, and goes to the
//! cluster in the resource's canonical spelling; this module knows kube's client, not HTTP.

use crate::operator::resource::{self, ContainerGroup};
use anyhow::Context;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams};
use kube::config::KubeConfigOptions;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

/// The field manager of the CLI's applies: the spec is the user's, the status the operator's.
pub const FIELD_MANAGER: &str = "waci-cli";

/// A client of the cluster of kubeconfig context `context`.
pub async fn connect(context: &str) -> anyhow::Result<Client> {
    let options = KubeConfigOptions {
        context: Some(context.into()),
        ..Default::default()
    };
    let config = kube::Config::from_kubeconfig(&options)
        .await
        .with_context(|| format!("reading the kubeconfig context '{context}'"))?;
    Ok(Client::try_from(config)?)
}

/// Creates or updates group `name` in `namespace` from an ACI body, and answers it.
pub async fn create(
    client: &Client,
    namespace: &str,
    name: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let cg = resource::from_body(name, body)
        .map_err(|e| anyhow::anyhow!("{}: {}", e.code, resource::refusal_message(&e)))?;
    let groups: Api<ContainerGroup> = Api::namespaced(client.clone(), namespace);
    let applied = groups
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&cg),
        )
        .await?;
    Ok(aci_view(&applied))
}

pub async fn show(client: &Client, namespace: &str, name: &str) -> anyhow::Result<Value> {
    let groups: Api<ContainerGroup> = Api::namespaced(client.clone(), namespace);
    match groups.get_opt(name).await? {
        Some(cg) => Ok(aci_view(&cg)),
        None => anyhow::bail!(
            "ResourceNotFound: The Resource 'Microsoft.ContainerInstance/containerGroups/{name}' under resource group '{namespace}' was not found."
        ),
    }
}

/// The groups of `namespace`, or of every namespace.
pub async fn list(client: &Client, namespace: Option<&str>) -> anyhow::Result<Vec<Value>> {
    let groups: Api<ContainerGroup> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let list = groups.list(&ListParams::default()).await?;
    Ok(list.items.iter().map(aci_view).collect())
}

/// Deletes group `name`; its Pod, Secrets and Service go with it (they are owned by it).
pub async fn delete(client: &Client, namespace: &str, name: &str) -> anyhow::Result<()> {
    let groups: Api<ContainerGroup> = Api::namespaced(client.clone(), namespace);
    groups.delete(name, &DeleteParams::default()).await?;
    Ok(())
}

/// The log of a container of group `name`: its Pod's (the Pod has the group's name).
pub async fn logs(
    client: &Client,
    namespace: &str,
    name: &str,
    container: Option<String>,
    tail: Option<u64>,
    timestamps: bool,
) -> anyhow::Result<String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = LogParams {
        container,
        tail_lines: tail.map(|t| t as i64),
        timestamps,
        ..Default::default()
    };
    Ok(pods.logs(name, &params).await?)
}

/// A resource in ACI's JSON shape: the spec as `properties`, with the status where ACI keeps
/// it (provisioning state, the IP and FQDN, the group's and each container's instance view).
pub fn aci_view(cg: &ContainerGroup) -> Value {
    let mut properties = serde_json::to_value(&cg.spec).expect("a spec serializes");
    // Secure values are never shown, as the API never returns them.
    for list in ["containers", "initContainers"] {
        for c in properties[list].as_array_mut().into_iter().flatten() {
            for e in c["properties"]["environmentVariables"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                if e.get("secureValue").is_some() {
                    e["secureValue"] = Value::Null;
                }
            }
        }
    }
    if let Some(status) = &cg.status {
        properties["provisioningState"] = json!(status.provisioning_state);
        properties["instanceView"] = json!(status.instance_view);
        if let Some(ip) = &status.ip_address
            && properties["ipAddress"].is_object()
        {
            properties["ipAddress"]["ip"] = json!(ip.ip);
            properties["ipAddress"]["fqdn"] = json!(ip.fqdn);
        }
        for list in ["containers", "initContainers"] {
            for c in properties[list].as_array_mut().into_iter().flatten() {
                if let Some(s) = status
                    .containers
                    .iter()
                    .find(|s| c["name"] == s.name.as_str())
                {
                    c["properties"]["instanceView"] = json!(s.instance_view);
                }
            }
        }
    }
    json!({
        "name": cg.name_any(),
        "type": "Microsoft.ContainerInstance/containerGroups",
        "resourceGroup": cg.namespace(),
        "properties": properties,
    })
}
