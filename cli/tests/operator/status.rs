//! The status written back, ACI's instance view, from given Pod statuses: Pending, Running,
//! a crash loop, Succeeded, OOMKilled, an image that cannot be pulled; and from the Service.

use super::group;
use k8s_openapi::api::core::v1::{Pod, Service};
use serde_json::{Value, json};
use waci::operator::plan::{self, Names};
use waci::operator::resource::ContainerGroupStatus;
use waci::operator::status::status;

fn spec() -> Value {
    json!({
        "restartPolicy": "OnFailure",
        "containers": [{"name": "web", "properties": {"image": "web:v1", "ports": [{"port": 80}]}}],
        "ipAddress": {"type": "Public", "ports": [{"port": 80}], "dnsNameLabel": "hello-demo"},
    })
}

/// The status of the group above when its Pod reports `pod_status`.
fn with_pod(pod_status: Option<Value>) -> ContainerGroupStatus {
    let cg = group("g", spec());
    let names = Names {
        zone: Some("apps.example.com".into()),
        ..Names::default()
    };
    let desired = plan::desired(&cg, &names).unwrap();
    let pod: Option<Pod> = pod_status.map(|s| {
        let mut pod = serde_json::to_value(&desired.objects.pod).unwrap();
        pod["status"] = s;
        serde_json::from_value(pod).unwrap()
    });
    status(&cg, Ok(&desired), pod.as_ref(), None)
}

fn containers(s: &ContainerGroupStatus) -> Value {
    serde_json::to_value(&s.containers).unwrap()
}

const T0: &str = "2026-12-05T00:00:00Z";
const T1: &str = "2026-12-05T00:00:07Z";

#[test]
fn no_pod_yet_is_pending() {
    let s = with_pod(None);
    assert_eq!(s.provisioning_state.as_deref(), Some("Pending"));
    assert_eq!(
        s.instance_view.as_ref().unwrap().state.as_deref(),
        Some("Pending")
    );
    assert_eq!(s.observed_generation, Some(1));
    assert_eq!(
        serde_json::to_value(&s.conditions).unwrap(),
        json!([
            {"type": "Accepted", "status": "True", "reason": "Valid"},
            {"type": "Ready", "status": "False"},
        ])
    );
}

#[test]
fn a_pending_pod_is_creating_with_its_containers_waiting() {
    let s = with_pod(Some(json!({"phase": "Pending", "containerStatuses": [{
        "name": "web", "image": "web:v1", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ContainerCreating"}},
    }]})));
    assert_eq!(s.provisioning_state.as_deref(), Some("Creating"));
    assert_eq!(
        s.instance_view.as_ref().unwrap().state.as_deref(),
        Some("Pending")
    );
    assert_eq!(
        containers(&s),
        json!([{"name": "web", "instanceView": {
            "restartCount": 0,
            "currentState": {"state": "Waiting", "detailStatus": "ContainerCreating"},
        }}])
    );
}

#[test]
fn a_running_pod_is_running_and_ready() {
    let s = with_pod(Some(json!({
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{
            "name": "web", "image": "web:v1", "imageID": "", "ready": true, "restartCount": 0,
            "state": {"running": {"startedAt": T0}},
        }],
    })));
    assert_eq!(s.provisioning_state.as_deref(), Some("Succeeded"));
    assert_eq!(
        s.instance_view.as_ref().unwrap().state.as_deref(),
        Some("Running")
    );
    assert_eq!(s.conditions[1].status, "True");
    assert_eq!(
        containers(&s),
        json!([{"name": "web", "instanceView": {
            "restartCount": 0,
            "currentState": {"state": "Running", "startTime": T0},
            "events": [{"name": "Started", "type": "Normal", "message": "Started container web",
                        "lastTimestamp": T0}],
        }}])
    );
}

#[test]
fn a_crash_loop_shows_the_restarts_the_last_exit_and_the_back_off() {
    let s = with_pod(Some(json!({"phase": "Running", "containerStatuses": [{
        "name": "web", "image": "web:v1", "imageID": "", "ready": false, "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff",
                              "message": "back-off 40s restarting failed container=web"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": T0, "finishedAt": T1}},
    }]})));
    assert_eq!(
        containers(&s),
        json!([{"name": "web", "instanceView": {
            "restartCount": 4,
            "currentState": {"state": "Waiting", "detailStatus": "CrashLoopBackOff"},
            "previousState": {"state": "Terminated", "exitCode": 1, "detailStatus": "Error",
                              "startTime": T0, "finishTime": T1},
            "events": [
                {"name": "Killing", "type": "Warning", "message": "Container web ended with exit code 1: Error",
                 "lastTimestamp": T1},
                {"name": "BackOff", "type": "Warning", "message": "back-off 40s restarting failed container=web"},
            ],
        }}])
    );
}

#[test]
fn a_succeeded_pod_is_a_finished_job() {
    let s = with_pod(Some(json!({"phase": "Succeeded", "containerStatuses": [{
        "name": "web", "image": "web:v1", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": T0, "finishedAt": T1}},
    }]})));
    assert_eq!(s.provisioning_state.as_deref(), Some("Succeeded"));
    assert_eq!(
        s.instance_view.as_ref().unwrap().state.as_deref(),
        Some("Succeeded")
    );
    assert_eq!(
        containers(&s)[0]["instanceView"]["currentState"],
        json!({"state": "Terminated", "exitCode": 0, "detailStatus": "Completed",
               "startTime": T0, "finishTime": T1})
    );
}

#[test]
fn an_out_of_memory_guest_is_oom_killed() {
    let s = with_pod(Some(json!({"phase": "Failed", "containerStatuses": [{
        "name": "web", "image": "web:v1", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": T0, "finishedAt": T1}},
    }]})));
    assert_eq!(
        s.instance_view.as_ref().unwrap().state.as_deref(),
        Some("Failed")
    );
    let view = &containers(&s)[0]["instanceView"];
    assert_eq!(view["currentState"]["detailStatus"], "OOMKilled");
    assert_eq!(view["currentState"]["exitCode"], 137);
    assert_eq!(
        view["events"][1]["message"],
        "Container web ended with exit code 137: OOMKilled"
    );
}

#[test]
fn an_image_that_cannot_be_pulled_fails_provisioning() {
    let s = with_pod(Some(json!({"phase": "Pending", "containerStatuses": [{
        "name": "web", "image": "web:v1", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"web:v1\""}},
    }]})));
    assert_eq!(s.provisioning_state.as_deref(), Some("Failed"));
    assert_eq!(
        containers(&s)[0]["instanceView"]["events"],
        json!([{"name": "BackOff", "type": "Warning", "message": "Back-off pulling image \"web:v1\""}])
    );
}

#[test]
fn the_ip_is_the_load_balancers_once_it_has_one_and_the_fqdn_is_the_groups() {
    let cg = group("g", spec());
    let names = Names {
        zone: Some("apps.example.com".into()),
        ..Names::default()
    };
    let desired = plan::desired(&cg, &names).unwrap();
    let mut service = serde_json::to_value(desired.objects.service.as_ref().unwrap()).unwrap();
    service["spec"]["clusterIP"] = json!("10.96.0.7");
    let waiting: Service = serde_json::from_value(service.clone()).unwrap();
    let s = status(&cg, Ok(&desired), None, Some(&waiting));
    assert_eq!(
        serde_json::to_value(s.ip_address).unwrap(),
        json!({"fqdn": "hello-demo.local.apps.example.com"})
    );
    service["status"] = json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}});
    let given: Service = serde_json::from_value(service).unwrap();
    let s = status(&cg, Ok(&desired), None, Some(&given));
    assert_eq!(
        serde_json::to_value(s.ip_address).unwrap(),
        json!({"ip": "203.0.113.9", "fqdn": "hello-demo.local.apps.example.com"})
    );
}

#[test]
fn a_refused_spec_fails_provisioning_with_the_parsers_code_and_message() {
    let cg = group(
        "g",
        json!({"restartPolicy": "Sometimes", "containers": [{"name": "web", "properties": {"image": "w"}}]}),
    );
    let e = plan::desired(&cg, &Names::default()).unwrap_err();
    let s = status(&cg, Err(&e), None, None);
    assert_eq!(s.provisioning_state.as_deref(), Some("Failed"));
    assert_eq!(
        serde_json::to_value(&s.conditions[0]).unwrap(),
        json!({"type": "Accepted", "status": "False", "reason": "InvalidRequestContent",
               "message": "'properties.restartPolicy' is 'Sometimes'; allowed values are: Always, OnFailure, Never. (field 'properties.restartPolicy')"})
    );
}
