//! The exact objects a group becomes, by table: what the reconcile applies, less the Pod's
//! spec digest (checked on its own).

use super::{NAMESPACE, group, meta};
use serde_json::{Value, json};
use waci::operator::plan::{self, Names, POD_DIGEST_ANNOTATION};
use waci_platform::model::{DnsScope, names};

const ZONE: &str = "apps.example.com";

fn names_with_zone() -> Names {
    Names {
        zone: Some(ZONE.into()),
        ..Names::default()
    }
}

/// The objects the operator applies for `spec`, in order, with the Pod's digest taken out.
fn applied(spec: Value) -> Vec<Value> {
    let cg = group("g", spec);
    let desired = plan::desired(&cg, &names_with_zone()).expect("an accepted spec");
    let mut out: Vec<Value> = desired
        .objects
        .secrets
        .iter()
        .map(|s| serde_json::to_value(s).unwrap())
        .collect();
    let mut pod = serde_json::to_value(&desired.objects.pod).unwrap();
    let digest = pod["metadata"]["annotations"][POD_DIGEST_ANNOTATION]
        .as_str()
        .expect("the Pod carries its digest")
        .to_string();
    assert_eq!(digest.len(), 24, "{digest}");
    assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()), "{digest}");
    pod["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    out.push(pod);
    out.extend(
        desired
            .objects
            .service
            .iter()
            .map(|s| serde_json::to_value(s).unwrap()),
    );
    out
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta("g", "g"), "spec": spec})
}

fn resources(cpu: &str, memory: &str) -> Value {
    json!({"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}})
}

fn check(case: &str, spec: Value, expected: Vec<Value>) {
    let got = applied(spec);
    assert_eq!(
        got,
        expected,
        "{case}: got\n{}",
        serde_json::to_string_pretty(&got).unwrap()
    );
}

#[test]
fn each_group_becomes_exactly_the_objects_export_writes_owned_by_the_resource() {
    check(
        "one container",
        json!({"containers": [{"name": "web", "properties": {
            "image": "registry.example.com/web:v1",
            "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}},
        }}]}),
        vec![pod(json!({
            "runtimeClassName": "waci",
            "restartPolicy": "Always",
            "containers": [{
                "name": "web",
                "image": "registry.example.com/web:v1",
                "resources": resources("500m", "256Mi"),
            }],
        }))],
    );
    check(
        "init containers",
        json!({
            "restartPolicy": "OnFailure",
            "initContainers": [{"name": "setup", "properties": {
                "image": "registry.example.com/setup:v1", "command": ["setup", "--once"],
            }}],
            "containers": [{"name": "job", "properties": {"image": "registry.example.com/job:v1"}}],
        }),
        vec![pod(json!({
            "runtimeClassName": "waci",
            "restartPolicy": "OnFailure",
            "initContainers": [{
                "name": "setup",
                "image": "registry.example.com/setup:v1",
                "args": ["--once"],
                "resources": resources("1000m", "1536Mi"),
            }],
            "containers": [{
                "name": "job",
                "image": "registry.example.com/job:v1",
                "resources": resources("1000m", "1536Mi"),
            }],
        }))],
    );
    check(
        "secure environment values",
        json!({"containers": [{"name": "app", "properties": {
            "image": "registry.example.com/app:v1",
            "environmentVariables": [
                {"name": "GREETING", "value": "hello"},
                {"name": "TOKEN", "secureValue": "s3cret"},
            ],
            "resources": {"requests": {"cpu": 1, "memoryInGB": 1}},
        }}]}),
        vec![
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("g", "g"),
                   "stringData": {"app.TOKEN": "s3cret"}}),
            pod(json!({
                "runtimeClassName": "waci",
                "restartPolicy": "Always",
                "containers": [{
                    "name": "app",
                    "image": "registry.example.com/app:v1",
                    "env": [
                        {"name": "GREETING", "value": "hello"},
                        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "g", "key": "app.TOKEN"}}},
                    ],
                    "resources": resources("1000m", "1024Mi"),
                }],
            })),
        ],
    );
    check(
        "volumes",
        json!({
            "volumes": [{"name": "scratch", "emptyDir": {}}, {"name": "cfg", "secret": {"a.txt": "aGk="}}],
            "containers": [{"name": "app", "properties": {
                "image": "registry.example.com/app:v1",
                "resources": {"requests": {"cpu": 1, "memoryInGB": 1}, "limits": {"cpu": 2, "memoryInGB": 2}},
                "volumeMounts": [
                    {"name": "scratch", "mountPath": "/scratch"},
                    {"name": "cfg", "mountPath": "/cfg", "readOnly": true},
                ],
            }}],
        }),
        vec![
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta("g", "g-cfg"),
                   "data": {"a.txt": "aGk="}}),
            pod(json!({
                "runtimeClassName": "waci",
                "restartPolicy": "Always",
                "volumes": [
                    {"name": "scratch", "emptyDir": {}},
                    {"name": "cfg", "secret": {"secretName": "g-cfg"}},
                ],
                "containers": [{
                    "name": "app",
                    "image": "registry.example.com/app:v1",
                    "resources": {
                        "requests": {"cpu": "1000m", "memory": "1024Mi"},
                        "limits": {"cpu": "2000m", "memory": "2048Mi"},
                    },
                    "volumeMounts": [
                        {"name": "scratch", "mountPath": "/scratch"},
                        {"name": "cfg", "mountPath": "/cfg", "readOnly": true},
                    ],
                }],
            })),
        ],
    );
    let web = |port: u16| {
        json!({"name": "web", "properties": {
            "image": "registry.example.com/web:v1",
            "ports": [{"port": port}],
            "resources": {"requests": {"cpu": 1, "memoryInGB": 0.5}},
        }})
    };
    let web_pod = |port: u16| {
        pod(json!({
            "runtimeClassName": "waci",
            "restartPolicy": "Always",
            "containers": [{
                "name": "web",
                "image": "registry.example.com/web:v1",
                "env": [{"name": "WACI_HTTP_PORT", "value": port.to_string()}],
                "ports": [{"containerPort": port, "protocol": "TCP"}],
                "resources": resources("1000m", "512Mi"),
            }],
        }))
    };
    let service = |port: u16, kind: &str, annotations: Option<Value>| {
        let mut meta = meta("g", "g");
        if let Some(a) = annotations {
            meta["annotations"] = a;
        }
        json!({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {
            "type": kind,
            "selector": {"containerinstance.waci.dev/group": "g"},
            "ports": [{"name": format!("tcp-{port}"), "port": port, "targetPort": port, "protocol": "TCP"}],
        }})
    };
    check(
        "ports on a private IP",
        json!({"containers": [web(8080)], "ipAddress": {"type": "Private", "ports": [{"port": 8080}]}}),
        vec![web_pod(8080), service(8080, "ClusterIP", None)],
    );
    check(
        "a DNS name label",
        json!({"containers": [web(80)], "ipAddress": {
            "type": "Public", "ports": [{"protocol": "TCP", "port": 80}], "dnsNameLabel": "hello-demo",
        }}),
        vec![
            web_pod(80),
            service(
                80,
                "LoadBalancer",
                Some(
                    json!({"external-dns.alpha.kubernetes.io/hostname": "hello-demo.local.apps.example.com"}),
                ),
            ),
        ],
    );
}

#[test]
fn a_reuse_scope_hashes_the_namespace_in_as_the_resource_group_as_waci_serve_does() {
    let spec = |scope: &str| {
        json!({
            "containers": [{"name": "web", "properties": {"image": "w", "ports": [{"port": 80}]}}],
            "ipAddress": {"ports": [{"port": 80}], "dnsNameLabel": "hello-demo",
                          "autoGeneratedDomainNameLabelScope": scope},
        })
    };
    let fqdn = |scope: &str| {
        plan::desired(&group("g", spec(scope)), &names_with_zone())
            .unwrap()
            .fqdn
            .expect("an FQDN")
    };
    let ids = names::LabelScopeIds {
        tenant: "kubernetes",
        subscription: "kubernetes",
        resource_group: NAMESPACE,
    };
    let rule = |scope| names::fqdn("hello-demo", scope, &ids, "", "local", ZONE);
    assert_eq!(
        fqdn("ResourceGroupReuse"),
        rule(DnsScope::ResourceGroupReuse)
    );
    assert_eq!(fqdn("TenantReuse"), rule(DnsScope::TenantReuse));
    assert_ne!(fqdn("TenantReuse"), fqdn("ResourceGroupReuse"));
    let hashed = fqdn("TenantReuse");
    assert!(
        hashed.starts_with("hello-demo.") && hashed.ends_with(".local.apps.example.com"),
        "{hashed}"
    );
    // Without a zone there is no name to publish.
    let none = plan::desired(&group("g", spec("Unsecure")), &Names::default()).unwrap();
    assert_eq!(none.fqdn, None);
    let annotations = none.objects.service.unwrap().metadata.annotations;
    assert_eq!(annotations, None);
}

#[test]
fn a_spec_change_recreates_the_pod_and_keeps_the_service_and_an_unchanged_spec_changes_nothing() {
    let spec = |image: &str| {
        json!({
            "containers": [{"name": "web", "properties": {"image": image, "ports": [{"port": 80}]}}],
            "ipAddress": {"ports": [{"port": 80}]},
        })
    };
    let names = Names::default();
    let v1 = plan::desired(&group("g", spec("web:v1")), &names).unwrap();
    let there = (Some(&v1.objects.pod), v1.objects.service.as_ref());
    assert_eq!(
        plan::changes(&v1, there.0, there.1),
        plan::Changes::default()
    );
    let v2 = plan::desired(&group("g", spec("web:v2")), &names).unwrap();
    assert_eq!(
        plan::changes(&v2, there.0, there.1),
        plan::Changes {
            recreate_pod: true,
            delete_service: false
        }
    );
    let no_ports = plan::desired(
        &group(
            "g",
            json!({"containers": [{"name": "web", "properties": {"image": "web:v1"}}]}),
        ),
        &names,
    )
    .unwrap();
    assert_eq!(
        plan::changes(&no_ports, there.0, there.1),
        plan::Changes {
            recreate_pod: true,
            delete_service: true
        }
    );
}

#[test]
fn a_spec_the_parser_refuses_gives_no_objects_and_the_message_waci_serve_gives() {
    let cg = group(
        "g",
        json!({"containers": [{"name": "web", "properties": {"image": "w", "ports": [{"port": 80}]}}],
               "ipAddress": {"ports": [{"port": 80}], "dnsNameLabel": "ab"}}),
    );
    let e = plan::desired(&cg, &names_with_zone()).unwrap_err();
    assert_eq!(e.code, "InvalidDnsNameLabel");
    assert_eq!(
        waci::operator::resource::refusal_message(&e),
        "The DNS name label 'ab' is invalid. It can contain only lowercase letters, numbers and \
         hyphens; the first character must be a letter and the last a letter or number; it must be \
         5 to 63 characters long. (field 'properties.ipAddress.dnsNameLabel')"
    );
    // A group name Kubernetes allows and ACI does not is refused too.
    let dotted = group(
        "my.group",
        json!({"containers": [{"name": "web", "properties": {"image": "w"}}]}),
    );
    assert_eq!(
        plan::desired(&dotted, &Names::default()).unwrap_err().code,
        "InvalidResourceName"
    );
}

#[test]
fn an_exec_probe_stays_in_the_resource_and_out_of_the_pod() {
    let spec = json!({"containers": [{"name": "web", "properties": {
        "image": "r.example.com/web:1", "ports": [{"port": 80}],
        "resources": {"requests": {"cpu": 1, "memoryInGB": 1}},
        "livenessProbe": {"exec": {"command": ["cat", "/health/ok"]}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 80}, "periodSeconds": 2},
    }}]});
    let objects = applied(spec.clone());
    let pod = objects.iter().find(|o| o["kind"] == "Pod").expect("a Pod");
    let c = &pod["spec"]["containers"][0];
    assert!(c.get("livenessProbe").is_none(), "{c:#}");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/ready", "{c:#}");
    assert_eq!(c["readinessProbe"]["periodSeconds"], 2, "{c:#}");
    let g = waci::kubernetes::parse_group("g", &json!({"properties": spec})).unwrap();
    assert_eq!(
        waci::kubernetes::exec_probes(&g),
        vec!["web livenessProbe".to_string()]
    );
}
