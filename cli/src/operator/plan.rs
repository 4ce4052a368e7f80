//! What a `ContainerGroup` should be on the cluster, as a pure function of the resource and
//! what is there: the Secrets, Pod and Service `export` writes ([`kubernetes::group_objects`]),
//! in the resource's namespace, owned by it (so deleting it deletes them), the Service
//! annotated with the group's FQDN for external-dns; and whether the Pod must be made again.
//!
//! This module makes no request: `reconcile` applies what it says.

use super::resource::ContainerGroup;
use crate::kubernetes::{self, GroupObjects};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::ResourceExt;
use sha2::{Digest, Sha256};
use waci_platform::model::{ContainerGroupSpec, names, parse::FieldError};

/// The Pod's annotation holding a digest of its spec and the Secrets it reads at start: a Pod's
/// spec cannot change (but for images), so a different digest means a new Pod.
pub const POD_DIGEST_ANNOTATION: &str = "containerinstance.waci.dev/pod-digest";
/// The annotation external-dns reads a Service's DNS name from.
pub const EXTERNAL_DNS_ANNOTATION: &str = "external-dns.alpha.kubernetes.io/hostname";

/// How the operator names things: the FQDN rule of `waci serve` (DESIGN.md §5),
/// `<label>.<location>.<zone>`, with a hash segment for the label-reuse scopes.
#[derive(Debug, Clone, PartialEq)]
pub struct Names {
    /// The DNS zone external-dns publishes into; without one no FQDN is given.
    pub zone: Option<String>,
    pub location: String,
    /// Hashed into `TenantReuse` names (and with the subscription into the narrower ones).
    pub tenant: String,
    /// The subscription a cluster stands for; the resource group is the namespace.
    pub subscription: String,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            zone: None,
            location: "local".into(),
            tenant: "kubernetes".into(),
            subscription: "kubernetes".into(),
        }
    }
}

/// What the cluster should hold for a group the parser accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub objects: GroupObjects,
    pub fqdn: Option<String>,
}

/// The objects of `cg`, or the parser's refusal of its spec.
pub fn desired(cg: &ContainerGroup, names: &Names) -> Result<Desired, FieldError> {
    let spec = cg.group_spec()?;
    let name = cg.name_any();
    let mut objects = kubernetes::group_objects(&name, &spec);
    let owner = cg.controller_owner_ref(&());
    let namespace = cg.namespace();
    let own = |m: &mut ObjectMeta| {
        m.namespace = namespace.clone();
        m.owner_references = owner.clone().map(|o| vec![o]);
    };
    let digest = pod_digest(&objects);
    for s in &mut objects.secrets {
        own(&mut s.metadata);
    }
    own(&mut objects.pod.metadata);
    objects
        .pod
        .annotations_mut()
        .insert(POD_DIGEST_ANNOTATION.into(), digest);
    let fqdn = fqdn(cg, &spec, names);
    if let Some(service) = &mut objects.service {
        own(&mut service.metadata);
        if let Some(fqdn) = &fqdn {
            service
                .annotations_mut()
                .insert(EXTERNAL_DNS_ANNOTATION.into(), fqdn.clone());
        }
    }
    Ok(Desired { objects, fqdn })
}

/// The group's FQDN under the operator's zone, by `waci serve`'s rule: the namespace is the
/// resource group, and `Noreuse` hashes in the resource's uid, which lives as long as it does.
pub fn fqdn(cg: &ContainerGroup, spec: &ContainerGroupSpec, names: &Names) -> Option<String> {
    let zone = names.zone.as_deref()?;
    let ip = spec.ip_address.as_ref()?;
    let label = ip.dns_name_label.as_deref()?;
    let namespace = cg.namespace().unwrap_or_default();
    let ids = names::LabelScopeIds {
        tenant: &names.tenant,
        subscription: &names.subscription,
        resource_group: &namespace,
    };
    let uid = cg.uid().unwrap_or_default();
    Some(names::fqdn(
        label,
        ip.scope,
        &ids,
        &uid,
        &names.location,
        zone,
    ))
}

/// What must go before the desired objects are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Changes {
    /// The Pod there was made from another spec: delete it, and apply the new one once it is
    /// gone. The Service (and so its address) stays.
    pub recreate_pod: bool,
    /// The group has no ports any more: its Service goes.
    pub delete_service: bool,
}

pub fn changes(desired: &Desired, pod: Option<&Pod>, service: Option<&Service>) -> Changes {
    let want = desired.objects.pod.annotations().get(POD_DIGEST_ANNOTATION);
    Changes {
        recreate_pod: pod.is_some_and(|p| p.annotations().get(POD_DIGEST_ANNOTATION) != want),
        delete_service: service.is_some() && desired.objects.service.is_none(),
    }
}

/// A digest of what a running Pod cannot take in place: its spec, and the Secrets whose
/// values its containers read once, at start.
fn pod_digest(objects: &GroupObjects) -> String {
    let mut hash = Sha256::new();
    let spec = serde_json::to_vec(&objects.pod.spec).expect("a PodSpec serializes");
    hash.update(spec);
    for s in &objects.secrets {
        hash.update(serde_json::to_vec(s).expect("a Secret serializes"));
    }
    hex::encode(&hash.finalize()[..12])
}
