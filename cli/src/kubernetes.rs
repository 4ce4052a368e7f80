//! `waci container export --export-format kubernetes`: a container group as the Kubernetes
//! objects that run it on a cluster whose nodes have the waci shim (docs/kubernetes.md). The
//! same builder ([`group_objects`]) makes what `waci operator` applies for a `ContainerGroup`:
//! the RuntimeClass `waci`, a Secret for its secure values and one per secret volume, a Pod
//! with `runtimeClassName: waci` (its containers' probes as kubelet's), and a Service for its
//! ports. Built from k8s-openapi's types out of the group as the platform's parser validates
//! it, so what is exported is what `create` would accept.
//!
//! A Pod, not a Deployment: a group is one instance with ACI's restart policies, and a
//! Deployment allows only `restartPolicy: Always` (a job group, `OnFailure` or `Never`, would
//! not be one); a Pod keeps the group's policy as it is.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    Container as KContainer, ContainerPort, EmptyDirVolumeSource, EnvVar as KEnvVar, EnvVarSource,
    HTTPGetAction, HTTPHeader, Pod, PodSpec, Probe as KProbe, ResourceRequirements, Secret,
    SecretKeySelector, SecretVolumeSource, Service, ServicePort, ServiceSpec, Volume as KVolume,
    VolumeMount,
};
use k8s_openapi::api::node::v1::RuntimeClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::BTreeMap;
use waci_platform::model::{
    Container, ContainerGroupSpec, IpAddressType, Probe, ProbeAction, Protocol, VolumeSource, parse,
};

/// The RuntimeClass and its handler: containerd's runtime `io.containerd.waci.v1`.
pub const RUNTIME_CLASS: &str = "waci";
/// The label that ties a group's Pod and Service together.
pub const GROUP_LABEL: &str = "containerinstance.waci.dev/group";
/// The env var that tells the shim which port a service answers on.
pub const HTTP_PORT_ENV: &str = "WACI_HTTP_PORT";

/// The group a PUT body (or an exported group) defines, checked by the platform's own parser.
/// waci's per-group CPU and memory bounds are the platform's, not a cluster's, so they do not
/// apply here; image references are the cluster's to resolve. A secure value the API did not
/// return (`null`) becomes an empty one, for the user to fill in.
pub fn spec(name: &str, body: &Value) -> anyhow::Result<ContainerGroupSpec> {
    parse_group(name, body).map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))
}

/// [`spec`] with the parser's own error, code and field apart, for the operator's status.
pub fn parse_group(name: &str, body: &Value) -> Result<ContainerGroupSpec, parse::FieldError> {
    let mut body = body.clone();
    for list in ["containers", "initContainers"] {
        for c in body["properties"][list]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            for e in c["properties"]["environmentVariables"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                if let Some(v) = e.as_object_mut()
                    && v.get("secureValue").is_some_and(Value::is_null)
                {
                    v.insert("secureValue".into(), Value::String(String::new()));
                }
            }
        }
    }
    let location = body["location"].as_str().unwrap_or("local").to_string();
    let unbounded = parse::Limits {
        max_cpu: f64::MAX,
        max_memory_gb: f64::MAX,
    };
    parse::container_group(&body, name, &location, &unbounded, &|_| Ok(()))
}

/// The namespaced objects that run group `name`: what `export` writes after the RuntimeClass,
/// and what `waci operator` applies for a `ContainerGroup`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupObjects {
    /// The group's secure env values (when it has any), then one per `secret` volume.
    pub secrets: Vec<Secret>,
    pub pod: Pod,
    /// For the ports of the group's IP, when it has one with ports.
    pub service: Option<Service>,
}

/// The RuntimeClass every exported group runs under; the same object in every export.
pub fn runtime_class() -> RuntimeClass {
    RuntimeClass {
        metadata: meta(RUNTIME_CLASS, None),
        handler: RUNTIME_CLASS.into(),
        ..Default::default()
    }
}

/// The objects of group `name`, in the order to apply them.
pub fn manifests(name: &str, g: &ContainerGroupSpec) -> Vec<Value> {
    let objects = group_objects(name, g);
    let mut out = vec![to_value(&runtime_class())];
    out.extend(objects.secrets.iter().map(to_value));
    out.push(to_value(&objects.pod));
    out.extend(objects.service.iter().map(to_value));
    out
}

/// The Secrets, Pod and Service of group `name`.
pub fn group_objects(name: &str, g: &ContainerGroupSpec) -> GroupObjects {
    let mut secrets = Vec::new();
    let secure = secure_values(g);
    if !secure.is_empty() {
        secrets.push(Secret {
            metadata: meta(name, Some(name)),
            string_data: Some(secure),
            ..Default::default()
        });
    }
    let mut volumes = Vec::new();
    for v in &g.volumes {
        let source = match &v.source {
            VolumeSource::EmptyDir => KVolume {
                name: v.name.clone(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Default::default()
            },
            VolumeSource::Secret(files) => {
                let secret = format!("{name}-{}", v.name);
                secrets.push(Secret {
                    metadata: meta(&secret, Some(name)),
                    data: Some(
                        files
                            .iter()
                            .map(|(file, b64)| (file.clone(), ByteString(decode(b64))))
                            .collect(),
                    ),
                    ..Default::default()
                });
                KVolume {
                    name: v.name.clone(),
                    secret: Some(SecretVolumeSource {
                        secret_name: Some(secret),
                        ..Default::default()
                    }),
                    ..Default::default()
                }
            }
        };
        volumes.push(source);
    }
    let pod = Pod {
        metadata: meta(name, Some(name)),
        spec: Some(PodSpec {
            runtime_class_name: Some(RUNTIME_CLASS.into()),
            restart_policy: Some(g.restart_policy.as_str().into()),
            containers: g.containers.iter().map(|c| container(name, c)).collect(),
            init_containers: (!g.init_containers.is_empty()).then(|| {
                g.init_containers
                    .iter()
                    .map(|c| container(name, c))
                    .collect()
            }),
            volumes: (!volumes.is_empty()).then_some(volumes),
            ..Default::default()
        }),
        ..Default::default()
    };
    let service = g
        .ip_address
        .as_ref()
        .filter(|ip| !ip.ports.is_empty())
        .map(|ip| Service {
            metadata: meta(name, Some(name)),
            spec: Some(ServiceSpec {
                type_: Some(
                    match ip.kind {
                        IpAddressType::Public => "LoadBalancer",
                        IpAddressType::Private => "ClusterIP",
                    }
                    .into(),
                ),
                selector: Some(BTreeMap::from([(GROUP_LABEL.into(), name.into())])),
                ports: Some(
                    ip.ports
                        .iter()
                        .map(|p| ServicePort {
                            name: Some(format!(
                                "{}-{}",
                                protocol(p.protocol).to_lowercase(),
                                p.port
                            )),
                            port: i32::from(p.port),
                            target_port: Some(IntOrString::Int(i32::from(p.port))),
                            protocol: Some(protocol(p.protocol).into()),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        });
    GroupObjects {
        secrets,
        pod,
        service,
    }
}

/// One container: the image's entrypoint (the `.wasm` file) stays `argv[0]`, so the group's
/// `command` after its first word becomes `args`; its first port is the shim's
/// `WACI_HTTP_PORT`; secure values come from the group's Secret.
fn container(group: &str, c: &Container) -> KContainer {
    let mut env: Vec<KEnvVar> = c
        .env
        .iter()
        .map(|e| match (&e.value, &e.secure_value) {
            (_, Some(_)) => KEnvVar {
                name: e.name.clone(),
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: group.into(),
                        key: secure_key(&c.name, &e.name),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
            (value, None) => KEnvVar {
                name: e.name.clone(),
                value: Some(value.clone().unwrap_or_default()),
                ..Default::default()
            },
        })
        .collect();
    if let Some(first) = c.ports.first()
        && !c.env.iter().any(|e| e.name == HTTP_PORT_ENV)
    {
        env.push(KEnvVar {
            name: HTTP_PORT_ENV.into(),
            value: Some(first.port.to_string()),
            ..Default::default()
        });
    }
    let mut requests = BTreeMap::from([
        ("cpu".to_string(), cpu(c.requests.cpu)),
        ("memory".to_string(), memory(c.requests.memory_gb)),
    ]);
    let mut limits = BTreeMap::new();
    if let Some(v) = c.limits.cpu {
        limits.insert("cpu".to_string(), cpu(v));
    }
    // The shim caps a guest at the container's memory limit; ACI caps it at its request
    // when no limit is set, so the request is the limit then.
    limits.insert(
        "memory".to_string(),
        memory(c.limits.memory_gb.unwrap_or(c.requests.memory_gb)),
    );
    requests.retain(|_, q| q.0 != "0");
    KContainer {
        name: c.name.clone(),
        image: Some(c.image.clone()),
        args: (c.command.len() > 1).then(|| c.command[1..].to_vec()),
        env: (!env.is_empty()).then_some(env),
        ports: (!c.ports.is_empty()).then(|| {
            c.ports
                .iter()
                .map(|p| ContainerPort {
                    container_port: i32::from(p.port),
                    protocol: Some(protocol(p.protocol).into()),
                    ..Default::default()
                })
                .collect()
        }),
        resources: Some(ResourceRequirements {
            requests: Some(requests),
            limits: Some(limits),
            ..Default::default()
        }),
        volume_mounts: (!c.volume_mounts.is_empty()).then(|| {
            c.volume_mounts
                .iter()
                .map(|m| VolumeMount {
                    name: m.name.clone(),
                    mount_path: m.mount_path.clone(),
                    read_only: m.read_only.then_some(true),
                    ..Default::default()
                })
                .collect()
        }),
        liveness_probe: c.liveness_probe.as_ref().and_then(probe),
        readiness_probe: c.readiness_probe.as_ref().and_then(probe),
        ..Default::default()
    }
}

/// A probe as kubelet runs it: the same GET over the Pod's network, with the same timings.
/// An `exec` probe has none: kubelet would run its command through the runtime's exec,
/// which the shim does not offer, so it would fail every time (see [`exec_probes`]).
fn probe(p: &Probe) -> Option<KProbe> {
    let ProbeAction::HttpGet(get) = &p.action else {
        return None;
    };
    let headers: Vec<HTTPHeader> = get
        .http_headers
        .iter()
        .map(|(name, value)| HTTPHeader {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();
    let http_get = Some(HTTPGetAction {
        path: Some(get.path.clone()),
        port: IntOrString::Int(i32::from(get.port)),
        scheme: Some(get.scheme.as_str().to_ascii_uppercase()),
        http_headers: (!headers.is_empty()).then_some(headers),
        ..Default::default()
    });
    let seconds = |n: u32| Some(i32::try_from(n).unwrap_or(i32::MAX));
    Some(KProbe {
        http_get,
        initial_delay_seconds: seconds(p.initial_delay_seconds),
        period_seconds: seconds(p.period_seconds),
        failure_threshold: seconds(p.failure_threshold),
        success_threshold: seconds(p.success_threshold),
        timeout_seconds: seconds(p.timeout_seconds),
        ..Default::default()
    })
}

/// The group's `exec` probes, as `<container> <livenessProbe|readinessProbe>`: those its Pod
/// leaves out, which `export` says.
pub fn exec_probes(g: &ContainerGroupSpec) -> Vec<String> {
    let exec = |p: &Option<Probe>| {
        p.as_ref()
            .is_some_and(|p| matches!(p.action, ProbeAction::Exec(_)))
    };
    g.containers
        .iter()
        .flat_map(|c| {
            [
                (exec(&c.liveness_probe), "livenessProbe"),
                (exec(&c.readiness_probe), "readinessProbe"),
            ]
            .into_iter()
            .filter(|(is_exec, _)| *is_exec)
            .map(|(_, which)| format!("{} {which}", c.name))
        })
        .collect()
}

/// Every secure env value of the group, keyed `<container>.<variable>` in its Secret.
fn secure_values(g: &ContainerGroupSpec) -> BTreeMap<String, String> {
    g.containers
        .iter()
        .chain(&g.init_containers)
        .flat_map(|c| {
            c.env
                .iter()
                .filter_map(move |e| Some((secure_key(&c.name, &e.name), e.secure_value.clone()?)))
        })
        .collect()
}

fn secure_key(container: &str, variable: &str) -> String {
    format!("{container}.{variable}")
}

fn meta(name: &str, group: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        labels: group.map(|g| BTreeMap::from([(GROUP_LABEL.to_string(), g.to_string())])),
        ..Default::default()
    }
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}

/// Cores as millicores (`0.5` → `500m`).
fn cpu(cores: f64) -> Quantity {
    Quantity(format!("{}m", (cores * 1000.0).round() as u64))
}

/// ACI's GB (GiB, as waci caps them) as MiB (`0.5` → `512Mi`).
fn memory(gb: f64) -> Quantity {
    Quantity(format!("{}Mi", (gb * 1024.0).round() as u64))
}

fn decode(b64: &str) -> Vec<u8> {
    use base64::Engine as _;
    // The parser has checked it is base64 already.
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap_or_default()
}

fn to_value<T: serde::Serialize>(object: &T) -> Value {
    serde_json::to_value(object).expect("Kubernetes objects serialize to JSON")
}

/// The objects as one YAML stream, `---` between them, as `kubectl apply -f` reads it.
pub fn yaml(objects: &[Value]) -> String {
    objects
        .iter()
        .map(|o| serde_yaml::to_string(o).expect("JSON values serialize to YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn objects(properties: Value) -> Vec<Value> {
        let body = json!({"location": "local", "properties": properties});
        manifests("g", &spec("g", &body).expect("a valid group"))
    }

    fn kind<'a>(objects: &'a [Value], kind: &str) -> Option<&'a Value> {
        objects.iter().find(|o| o["kind"] == kind)
    }

    #[test]
    fn a_public_group_gets_a_load_balancer_its_secrets_and_a_pod_of_the_waci_runtime() {
        let objects = objects(json!({
            "restartPolicy": "Never",
            "containers": [{"name": "web", "properties": {
                "image": "registry.example.com/web:v1",
                "command": ["web", "--verbose"],
                "ports": [{"port": 8080}],
                "environmentVariables": [{"name": "KEY", "secureValue": "s"}],
                "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}},
                "volumeMounts": [{"name": "cfg", "mountPath": "/cfg", "readOnly": true}],
                "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 2},
            }}],
            "volumes": [{"name": "cfg", "secret": {"a.txt": "aGk="}}],
            "ipAddress": {"type": "Public", "ports": [{"port": 8080}]},
        }));
        let pod = kind(&objects, "Pod").expect("a Pod");
        assert_eq!(pod["spec"]["runtimeClassName"], "waci");
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        let web = &pod["spec"]["containers"][0];
        assert_eq!(web["args"], json!(["--verbose"]));
        assert_eq!(
            web["resources"]["requests"],
            json!({"cpu": "500m", "memory": "256Mi"})
        );
        assert_eq!(web["resources"]["limits"], json!({"memory": "256Mi"}));
        assert_eq!(
            web["readinessProbe"],
            json!({"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"},
                "initialDelaySeconds": 0, "periodSeconds": 2, "failureThreshold": 3,
                "successThreshold": 1, "timeoutSeconds": 1})
        );
        assert_eq!(
            web["env"],
            json!([
                {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "g", "key": "web.KEY"}}},
                {"name": "WACI_HTTP_PORT", "value": "8080"},
            ])
        );
        let secrets: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Secret").collect();
        assert_eq!(secrets[0]["stringData"], json!({"web.KEY": "s"}));
        assert_eq!(secrets[1]["metadata"]["name"], "g-cfg");
        assert_eq!(secrets[1]["data"], json!({"a.txt": "aGk="}));
        let service = kind(&objects, "Service").expect("a Service");
        assert_eq!(service["spec"]["type"], "LoadBalancer");
        assert_eq!(service["spec"]["selector"], json!({GROUP_LABEL: "g"}));
    }

    #[test]
    fn a_private_group_without_secrets_gets_a_cluster_ip_and_no_secret() {
        let objects = objects(json!({
            "containers": [{"name": "web", "properties": {
                "image": "registry.example.com/web:v1",
                "ports": [{"port": 80}],
                "resources": {"requests": {"cpu": 1, "memoryInGB": 1}},
            }}],
            "ipAddress": {"type": "Private", "ports": [{"port": 80}]},
        }));
        assert!(kind(&objects, "Secret").is_none());
        assert_eq!(
            kind(&objects, "Service").expect("a Service")["spec"]["type"],
            "ClusterIP"
        );
        let web = &kind(&objects, "Pod").expect("a Pod")["spec"]["containers"][0];
        assert!(web.get("args").is_none(), "{web}");
        assert_eq!(
            web["env"],
            json!([{"name": "WACI_HTTP_PORT", "value": "80"}])
        );
    }

    #[test]
    fn a_bad_group_is_refused_naming_the_field() {
        let body = json!({"location": "local", "properties": {"containers": []}});
        let e = spec("g", &body).unwrap_err().to_string();
        assert!(e.contains("containers"), "{e}");
    }
}
