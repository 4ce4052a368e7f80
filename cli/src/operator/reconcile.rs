//! One reconcile of a `ContainerGroup`: read its Pod and Service, ask `plan` what should be,
//! delete what must go, server-side apply the rest under the operator's field manager, and
//! write the status `status` computes from what the cluster answered.
//!
//! A refused spec changes nothing on the cluster: the objects of the last accepted spec stay
//! as they are, and the status says why.

use super::plan::{self, Names};
use super::resource::{API_GROUP, ContainerGroup};
use super::status;
use k8s_openapi::api::core::v1::{Pod, Secret, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Client, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// The field manager of every apply, so the cluster knows which fields are the operator's.
pub const FIELD_MANAGER: &str = "waci-operator";
/// How soon to look again while an old Pod is going away to make room for a new one.
const RECREATE_POLL: Duration = Duration::from_secs(2);
/// How often a settled group is looked at again even when nothing was watched changing.
const RESYNC: Duration = Duration::from_secs(300);
/// How soon to try again after a failed request.
const RETRY: Duration = Duration::from_secs(10);

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub names: Names,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("a ContainerGroup without a namespace")]
    NoNamespace,
    #[error("{0}")]
    Kube(#[from] kube::Error),
}

/// Makes the cluster match `cg`, and says when to look again.
pub async fn reconcile(cg: Arc<ContainerGroup>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = cg.namespace().ok_or(Error::NoNamespace)?;
    let name = cg.name_any();
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut pod = pods.get_opt(&name).await?;
    let mut service = services.get_opt(&name).await?;
    let verdict = plan::desired(&cg, &ctx.names);
    let mut action = Action::requeue(RESYNC);
    match &verdict {
        Err(e) => {
            tracing::info!(group = %name, namespace = %namespace, field = %e.field, "spec refused: {}", e.message);
        }
        Ok(desired) => {
            let changes = plan::changes(desired, pod.as_ref(), service.as_ref());
            if changes.delete_service {
                services.delete(&name, &DeleteParams::default()).await?;
                service = None;
            }
            let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
            for s in &desired.objects.secrets {
                apply(&secrets, s).await?;
            }
            if let Some(s) = &desired.objects.service {
                service = Some(apply(&services, s).await?);
            }
            if changes.recreate_pod {
                tracing::info!(group = %name, namespace = %namespace, "the spec changed: making the Pod again");
                pods.delete(&name, &DeleteParams::default()).await?;
                action = Action::requeue(RECREATE_POLL);
            } else {
                pod = Some(apply(&pods, &desired.objects.pod).await?);
            }
        }
    }
    let status = status::status(&cg, verdict.as_ref(), pod.as_ref(), service.as_ref());
    let groups: Api<ContainerGroup> = Api::namespaced(ctx.client.clone(), &namespace);
    let body = serde_json::json!({
        "apiVersion": format!("{API_GROUP}/v1"),
        "kind": "ContainerGroup",
        "status": status,
    });
    groups
        .patch_status(&name, &params(), &Patch::Apply(&body))
        .await?;
    Ok(action)
}

/// After a failed reconcile: try again a little later.
pub fn error_policy(cg: Arc<ContainerGroup>, error: &Error, _: Arc<Context>) -> Action {
    tracing::warn!(group = %cg.name_any(), "reconcile failed: {error}");
    Action::requeue(RETRY)
}

async fn apply<K>(api: &Api<K>, object: &K) -> Result<K, kube::Error>
where
    K: kube::Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    api.patch(&name, &params(), &Patch::Apply(object)).await
}

/// Server-side apply, taking over fields another manager set: the group's spec decides.
fn params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}
