//! Whole reconciles through kube's client, against the in-memory API: what is applied and how
//! (server-side, under the operator's field manager), the status written back, a spec change
//! (the Pod made again, the Service kept) and a refused spec (nothing changes but the status).

use super::fake::{CLUSTER_IP, FakeApi};
use super::{NAMESPACE, group, owner};
use http::Method;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use waci::operator::plan::Names;
use waci::operator::reconcile::{Context, reconcile};
use waci::operator::resource::ContainerGroup;

const GROUP_PATH: &str =
    "/apis/containerinstance.waci.dev/v1/namespaces/team-a/containergroups/web";
const POD_PATH: &str = "/api/v1/namespaces/team-a/pods/web";
const SERVICE_PATH: &str = "/api/v1/namespaces/team-a/services/web";
const SECRET_PATH: &str = "/api/v1/namespaces/team-a/secrets/web";
const VOLUME_SECRET_PATH: &str = "/api/v1/namespaces/team-a/secrets/web-cfg";

fn spec(image: &str) -> Value {
    json!({
        "containers": [{"name": "web", "properties": {
            "image": image,
            "ports": [{"port": 80}],
            "environmentVariables": [{"name": "TOKEN", "secureValue": "s3cret"}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}],
        }}],
        "volumes": [{"name": "cfg", "secret": {"a.txt": "aGk="}}],
        "ipAddress": {"type": "Public", "ports": [{"port": 80}], "dnsNameLabel": "hello-demo"},
    })
}

/// The API holding `cg`, and a reconcile of it.
struct Cluster {
    api: FakeApi,
    context: Arc<Context>,
}

impl Cluster {
    fn new(cg: &ContainerGroup) -> Cluster {
        let (client, api) = FakeApi::start();
        api.put(GROUP_PATH, serde_json::to_value(cg).unwrap());
        let names = Names {
            zone: Some("apps.example.com".into()),
            ..Names::default()
        };
        Cluster {
            api,
            context: Arc::new(Context { client, names }),
        }
    }

    async fn reconcile(&self, cg: &ContainerGroup) -> Action {
        reconcile(Arc::new(cg.clone()), self.context.clone())
            .await
            .expect("a reconcile")
    }

    fn status(&self) -> Value {
        self.api.get(GROUP_PATH).unwrap()["status"].clone()
    }

    /// Each call as `METHOD path`.
    fn calls(&self) -> Vec<String> {
        self.api
            .take_calls()
            .iter()
            .map(|c| {
                if c.method == Method::PATCH {
                    assert_eq!(c.content_type, "application/apply-patch+yaml", "{c:?}");
                    assert!(c.query.contains("fieldManager=waci-operator"), "{c:?}");
                    assert!(c.query.contains("force=true"), "{c:?}");
                    // An apply names what it applies.
                    assert!(c.body["apiVersion"].is_string(), "{c:?}");
                    assert!(c.body["kind"].is_string(), "{c:?}");
                }
                format!("{} {}", c.method, c.path)
            })
            .collect()
    }
}

#[tokio::test]
async fn a_new_group_is_applied_owned_by_it_and_its_status_follows_the_pod_and_service() {
    let cg = group("web", spec("registry.example.com/web:v1"));
    let cluster = Cluster::new(&cg);
    let action = cluster.reconcile(&cg).await;
    assert_eq!(action, Action::requeue(Duration::from_secs(300)));
    assert_eq!(
        cluster.calls(),
        [
            format!("GET {POD_PATH}"),
            format!("GET {SERVICE_PATH}"),
            format!("PATCH {SECRET_PATH}"),
            format!("PATCH {VOLUME_SECRET_PATH}"),
            format!("PATCH {SERVICE_PATH}"),
            format!("PATCH {POD_PATH}"),
            format!("PATCH {GROUP_PATH}/status"),
        ]
    );
    // Deleting the group deletes them: each is owned by it, through the garbage collector.
    for path in [POD_PATH, SERVICE_PATH, SECRET_PATH, VOLUME_SECRET_PATH] {
        let object = cluster.api.get(path).expect(path);
        assert_eq!(
            object["metadata"]["ownerReferences"],
            owner("web"),
            "{path}"
        );
        assert_eq!(object["metadata"]["namespace"], NAMESPACE, "{path}");
    }
    let pod = cluster.api.get(POD_PATH).unwrap();
    assert_eq!(pod["spec"]["runtimeClassName"], "waci");
    assert_eq!(
        cluster.api.get(SECRET_PATH).unwrap()["stringData"],
        json!({"web.TOKEN": "s3cret"})
    );
    assert_eq!(
        cluster.status(),
        json!({
            "observedGeneration": 1,
            "provisioningState": "Pending",
            "ipAddress": {"fqdn": "hello-demo.local.apps.example.com"},
            "instanceView": {"state": "Pending"},
            "conditions": [
                {"type": "Accepted", "status": "True", "reason": "Valid"},
                {"type": "Ready", "status": "False"},
            ],
        })
    );

    // The kubelet starts it and the cloud gives the load balancer an address.
    let mut pod = cluster.api.get(POD_PATH).unwrap();
    pod["status"] = json!({"phase": "Running", "containerStatuses": [{
        "name": "web", "image": "registry.example.com/web:v1", "imageID": "", "ready": true,
        "restartCount": 0, "state": {"running": {"startedAt": "2026-12-05T00:00:00Z"}},
    }]});
    cluster.api.put(POD_PATH, pod);
    let mut service = cluster.api.get(SERVICE_PATH).unwrap();
    assert_eq!(service["spec"]["clusterIP"], CLUSTER_IP);
    service["status"] = json!({"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}});
    cluster.api.put(SERVICE_PATH, service);
    cluster.api.take_calls();
    cluster.reconcile(&cg).await;
    let calls = cluster.calls();
    assert!(
        !calls.iter().any(|c| c.starts_with("DELETE")),
        "an unchanged spec deletes nothing: {calls:?}"
    );
    let status = cluster.status();
    assert_eq!(status["provisioningState"], "Succeeded");
    assert_eq!(status["instanceView"]["state"], "Running");
    assert_eq!(status["ipAddress"]["ip"], "203.0.113.9");
    assert_eq!(
        status["containers"][0]["instanceView"]["currentState"]["state"],
        "Running"
    );
}

#[tokio::test]
async fn a_changed_spec_makes_the_pod_again_and_keeps_the_service() {
    let v1 = group("web", spec("registry.example.com/web:v1"));
    let cluster = Cluster::new(&v1);
    cluster.reconcile(&v1).await;
    let service_uid = cluster.api.get(SERVICE_PATH).unwrap()["metadata"]["uid"].clone();
    cluster.api.take_calls();

    let v2 = group("web", spec("registry.example.com/web:v2"));
    let action = cluster.reconcile(&v2).await;
    assert_eq!(action, Action::requeue(Duration::from_secs(2)));
    let calls = cluster.calls();
    assert!(calls.contains(&format!("DELETE {POD_PATH}")), "{calls:?}");
    assert!(!calls.contains(&format!("PATCH {POD_PATH}")), "{calls:?}");
    assert!(cluster.api.get(POD_PATH).is_none());

    // Once the old Pod is gone, the next look makes the new one.
    cluster.reconcile(&v2).await;
    let pod = cluster.api.get(POD_PATH).expect("the new Pod");
    assert_eq!(
        pod["spec"]["containers"][0]["image"],
        "registry.example.com/web:v2"
    );
    let service = cluster.api.get(SERVICE_PATH).unwrap();
    assert_eq!(
        service["metadata"]["uid"], service_uid,
        "the Service, and its address, stay"
    );
}

#[tokio::test]
async fn a_refused_spec_changes_nothing_but_the_status() {
    let good = group("web", spec("registry.example.com/web:v1"));
    let cluster = Cluster::new(&good);
    cluster.reconcile(&good).await;
    let before: Vec<(String, Option<Value>)> = cluster
        .api
        .paths()
        .into_iter()
        .filter(|p| p != GROUP_PATH)
        .map(|p| (p.clone(), cluster.api.get(&p)))
        .collect();
    cluster.api.take_calls();

    let mut bad = spec("registry.example.com/web:v2");
    bad["volumes"][0]["name"] = json!("Not_A_Name");
    let bad = group("web", bad);
    cluster.reconcile(&bad).await;
    assert_eq!(
        cluster.calls(),
        [
            format!("GET {POD_PATH}"),
            format!("GET {SERVICE_PATH}"),
            format!("PATCH {GROUP_PATH}/status"),
        ]
    );
    for (path, object) in before {
        assert_eq!(cluster.api.get(&path), object, "{path} is untouched");
    }
    let status = cluster.status();
    assert_eq!(status["provisioningState"], "Failed");
    assert_eq!(status["conditions"][0]["status"], "False");
    assert_eq!(
        status["conditions"][0]["message"],
        "The volume name 'Not_A_Name' is invalid. It can contain only lowercase letters, numbers and \
         hyphens, cannot start or end with a hyphen, and must be 1 to 63 characters long. \
         (field 'properties.volumes[0].name')"
    );
}
