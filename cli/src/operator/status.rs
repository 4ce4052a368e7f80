//! A `ContainerGroup`'s status, ACI's instance view, as a pure function of the resource's
//! verdict and the Pod and Service on the cluster: the group's state from the Pod's phase,
//! each container's current and previous state, restart count and events from its
//! container status, the IP from the Service.
//!
//! Events are derived from the states Kubernetes reports (a container started, backing off,
//! failing to pull, ended in error), with ACI's names; Kubernetes' own Event objects are
//! not read.

use super::plan::Desired;
use super::resource::{
    Condition, ContainerGroup, ContainerGroupStatus, ContainerInstanceView, ContainerState,
    ContainerStatus, Event, GroupInstanceView, IpAddressStatus, refusal_message,
};
use k8s_openapi::api::core::v1::{
    ContainerState as KState, ContainerStatus as KStatus, Pod, Service,
};
use waci_platform::model::parse::FieldError;

/// Waiting reasons that mean the group cannot start as it is (ACI's failed provisioning).
const FAILED_TO_START: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The status of `cg`, given the parser's verdict and what the cluster holds.
pub fn status(
    cg: &ContainerGroup,
    verdict: Result<&Desired, &FieldError>,
    pod: Option<&Pod>,
    service: Option<&Service>,
) -> ContainerGroupStatus {
    let pod_status = pod.and_then(|p| p.status.as_ref());
    let statuses = |init: bool| -> Vec<KStatus> {
        pod_status
            .and_then(|s| {
                if init {
                    s.init_container_statuses.clone()
                } else {
                    s.container_statuses.clone()
                }
            })
            .unwrap_or_default()
    };
    let all: Vec<KStatus> = statuses(true).into_iter().chain(statuses(false)).collect();
    let phase = pod_status.and_then(|s| s.phase.as_deref());
    let cannot_start = all
        .iter()
        .any(|c| waiting_reason(c.state.as_ref()).is_some_and(|r| FAILED_TO_START.contains(&r)));
    let provisioning = match (&verdict, phase) {
        (Err(_), _) => "Failed",
        (Ok(_), _) if cannot_start => "Failed",
        (Ok(_), None) => "Pending",
        (Ok(_), Some("Pending")) => "Creating",
        (Ok(_), Some(_)) => "Succeeded",
    };
    let state = match phase {
        Some(p @ ("Running" | "Succeeded" | "Failed")) => p,
        _ => "Pending",
    };
    let mut group_events = Vec::new();
    for c in pod_status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
    {
        if c.type_ == "PodScheduled" && c.status == "False" {
            group_events.push(Event {
                name: c
                    .reason
                    .clone()
                    .unwrap_or_else(|| "FailedScheduling".into()),
                kind: "Warning".into(),
                message: c.message.clone().unwrap_or_default(),
                last_timestamp: c.last_transition_time.as_ref().map(time),
            });
        }
    }
    let ready = pod_status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "Ready");
    let accepted = match verdict {
        Ok(_) => Condition {
            kind: "Accepted".into(),
            status: "True".into(),
            reason: Some("Valid".into()),
            message: None,
        },
        Err(e) => Condition {
            kind: "Accepted".into(),
            status: "False".into(),
            reason: Some(e.code.into()),
            message: Some(refusal_message(e)),
        },
    };
    let ready = Condition {
        kind: "Ready".into(),
        status: ready.map_or("False", |c| c.status.as_str()).into(),
        reason: ready.and_then(|c| c.reason.clone()),
        message: ready.and_then(|c| c.message.clone()),
    };
    ContainerGroupStatus {
        observed_generation: cg.metadata.generation,
        provisioning_state: Some(provisioning.into()),
        ip_address: ip_address(verdict.ok(), service),
        instance_view: Some(GroupInstanceView {
            state: Some(state.into()),
            events: group_events,
        }),
        containers: all.iter().map(container).collect(),
        conditions: vec![accepted, ready],
    }
}

/// The Service's address: a load balancer's ingress for `Public` (none until the cluster
/// gives one), the cluster IP for `Private`.
fn ip_address(desired: Option<&Desired>, service: Option<&Service>) -> Option<IpAddressStatus> {
    let fqdn = desired.and_then(|d| d.fqdn.clone());
    let service = service?;
    let spec = service.spec.as_ref();
    let ip = if spec.and_then(|s| s.type_.as_deref()) == Some("LoadBalancer") {
        service
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .and_then(|i| i.first())
            .and_then(|i| i.ip.clone().or_else(|| i.hostname.clone()))
    } else {
        spec.and_then(|s| s.cluster_ip.clone())
            .filter(|ip| ip != "None")
    };
    Some(IpAddressStatus { ip, fqdn })
}

fn container(c: &KStatus) -> ContainerStatus {
    let current = c.state.as_ref().map(state);
    let previous = c
        .last_state
        .as_ref()
        .map(state)
        .filter(|s| s.state != "Waiting");
    let mut events = Vec::new();
    let started = match c.state.as_ref() {
        Some(KState {
            running: Some(r), ..
        }) => r.started_at.as_ref(),
        Some(KState {
            terminated: Some(t),
            ..
        }) => t.started_at.as_ref(),
        _ => None,
    };
    if let Some(at) = started {
        events.push(Event {
            name: "Started".into(),
            kind: "Normal".into(),
            message: format!("Started container {}", c.name),
            last_timestamp: Some(time(at)),
        });
    }
    let terminated = c
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| c.last_state.as_ref().and_then(|s| s.terminated.as_ref()));
    if let Some(t) = terminated.filter(|t| t.exit_code != 0) {
        events.push(Event {
            name: "Killing".into(),
            kind: "Warning".into(),
            message: format!(
                "Container {} ended with exit code {}: {}",
                c.name,
                t.exit_code,
                t.reason.as_deref().unwrap_or("Error")
            ),
            last_timestamp: t.finished_at.as_ref().map(time),
        });
    }
    if let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
        let reason = w.reason.as_deref().unwrap_or_default();
        let name = match reason {
            "CrashLoopBackOff" | "ImagePullBackOff" => Some("BackOff"),
            r if FAILED_TO_START.contains(&r) => Some("Failed"),
            _ => None,
        };
        if let Some(name) = name {
            events.push(Event {
                name: name.into(),
                kind: "Warning".into(),
                message: w.message.clone().unwrap_or_else(|| reason.to_string()),
                last_timestamp: None,
            });
        }
    }
    ContainerStatus {
        name: c.name.clone(),
        instance_view: ContainerInstanceView {
            restart_count: c.restart_count,
            current_state: current,
            previous_state: previous,
            events,
        },
    }
}

fn state(s: &KState) -> ContainerState {
    if let Some(r) = &s.running {
        ContainerState {
            state: "Running".into(),
            start_time: r.started_at.as_ref().map(time),
            ..Default::default()
        }
    } else if let Some(t) = &s.terminated {
        ContainerState {
            state: "Terminated".into(),
            start_time: t.started_at.as_ref().map(time),
            finish_time: t.finished_at.as_ref().map(time),
            exit_code: Some(t.exit_code),
            detail_status: t.reason.clone(),
        }
    } else {
        ContainerState {
            state: "Waiting".into(),
            detail_status: s.waiting.as_ref().and_then(|w| w.reason.clone()),
            ..Default::default()
        }
    }
}

fn waiting_reason(s: Option<&KState>) -> Option<&str> {
    s?.waiting.as_ref()?.reason.as_deref()
}

fn time(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
