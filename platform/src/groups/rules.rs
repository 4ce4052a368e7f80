//! The rules the group operations apply: which stored groups start again at boot, a group's
//! resource id, the FQDN its label gets, and the names published at boot.

use super::Settings;
use crate::directory::Directory;
use crate::model::names::{self, LabelScopeIds};
use crate::model::{ContainerGroupSpec, GroupState, RestartPolicy, Scope};
use crate::store::GroupRow;

/// Publishes every stored group's name: at boot, before the DNS server or front door answer.
pub fn publish_stored(directory: &Directory, groups: &[GroupRow]) {
    for g in groups {
        directory.publish(g.id, g.fqdn.as_deref(), g.ip);
    }
}

/// Whether the platform should start a stored group again at boot: not if the user
/// stopped it, nor if it finished for good under a policy that does not restart.
pub fn should_resume(g: &GroupRow) -> bool {
    match g.state {
        GroupState::Stopped => false,
        GroupState::Succeeded | GroupState::Failed => {
            g.spec.restart_policy == RestartPolicy::Always
        }
        GroupState::Pending | GroupState::Running => true,
    }
}

/// A group's ARM resource id (what its async operations name).
pub fn group_id(subscription: &str, resource_group: &str, name: &str) -> String {
    format!(
        "/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{PROVIDER}/containerGroups/{name}"
    )
}

/// The resource provider whose resources these are.
pub const PROVIDER: &str = "Microsoft.ContainerInstance";

/// The FQDN a spec's DNS name label gets in its scope (`nonce` is the group's own random
/// value, hashed in for `Noreuse`).
pub(super) fn fqdn_of(
    s: &Settings,
    scope: &Scope,
    spec: &ContainerGroupSpec,
    nonce: &str,
) -> Option<String> {
    let ip = spec.ip_address.as_ref()?;
    let label = ip.dns_name_label.as_ref()?;
    let ids = LabelScopeIds {
        tenant: &s.tenant,
        subscription: &scope.subscription,
        resource_group: &scope.resource_group,
    };
    Some(names::fqdn(
        label,
        ip.scope,
        &ids,
        nonce,
        &s.location,
        &s.zone,
    ))
}
