//! The boot rule: which stored groups start again.

use super::*;
use crate::model::{GroupState, RestartPolicy};

fn group(state: GroupState, policy: RestartPolicy) -> GroupRow {
    let body = serde_json::json!({"properties": {"restartPolicy": policy.as_str(), "containers": [
        {"name": "c", "properties": {"image": "waci/hello-cli", "resources": {"requests": {"cpu": 1, "memoryInGB": 1}}}}]}});
    let limits = crate::model::parse::Limits {
        max_cpu: 4.0,
        max_memory_gb: 16.0,
    };
    let spec =
        crate::model::parse::container_group(&body, "g", "local", &limits, &|_| Ok(())).unwrap();
    GroupRow {
        id: 1,
        subscription: "s".into(),
        resource_group: "rg".into(),
        name: "g".into(),
        spec,
        provisioning_state: crate::model::ProvisioningState::Succeeded,
        state,
        ip: None,
        fqdn: None,
        generation: 1,
    }
}

fn check(state: GroupState, policy: RestartPolicy, expected: bool) {
    assert_eq!(
        should_resume(&group(state, policy)),
        expected,
        "{state:?} under {policy:?}"
    );
}

#[test]
fn stopped_and_finished_groups_stay_down_at_boot() {
    use GroupState::*;
    use RestartPolicy::*;
    check(Stopped, Always, false);
    check(Succeeded, Always, true);
    check(Failed, Always, true);
    check(Succeeded, OnFailure, false);
    check(Failed, Never, false);
    check(Running, Never, true);
    check(Pending, OnFailure, true);
}
