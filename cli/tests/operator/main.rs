//! `waci operator` and its `ContainerGroup` resource, with no cluster: the objects a group
//! becomes (`objects`), the status read back from Pods (`status`), whole reconciles through
//! kube's client over an in-memory API (`reconcile`, `fake`), and the CRD itself: checked in
//! as generated, and every example of `examples/` a resource its schema takes (`crd`); and the
//! container commands with `--context` against the same API (`cli`).

mod cli;
mod crd;
mod fake;
mod objects;
mod reconcile;
mod status;

use serde_json::{Value, json};
use waci::operator::resource::ContainerGroup;

pub const NAMESPACE: &str = "team-a";
pub const UID: &str = "5b0c6a52-9d1e-4f57-8f0e-0c7d1d2f3a41";

/// A `ContainerGroup` as the API server hands it to the operator.
pub fn group(name: &str, spec: Value) -> ContainerGroup {
    serde_json::from_value(json!({
        "apiVersion": "containerinstance.waci.dev/v1",
        "kind": "ContainerGroup",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": UID, "generation": 1},
        "spec": spec,
    }))
    .expect("a ContainerGroup")
}

/// The owner reference every object of group `name` carries: the garbage collector deletes
/// them when the group goes. (No `blockOwnerDeletion`: that would need the operator to be
/// allowed to update the group's finalizers, and a foreground delete need not wait on them.)
pub fn owner(name: &str) -> Value {
    json!([{
        "apiVersion": "containerinstance.waci.dev/v1",
        "kind": "ContainerGroup",
        "name": name,
        "uid": UID,
        "controller": true,
    }])
}

/// `metadata` of an object of group `name` called `object`.
pub fn meta(group: &str, object: &str) -> Value {
    json!({
        "name": object,
        "namespace": NAMESPACE,
        "labels": {"containerinstance.waci.dev/group": group},
        "ownerReferences": owner(group),
    })
}
