//! An in-memory Kubernetes API behind kube's own `Client` (tower-test's mock service): objects
//! by path; GET answers them or 404 in the API's `Status` shape; a server-side apply stores
//! the applied object (keeping its status, giving a Service a cluster IP as the API server
//! does); a status apply sets the status; DELETE removes. Every request is recorded.

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tower_test::mock;

/// The cluster IP every Service gets.
pub const CLUSTER_IP: &str = "10.96.0.7";

/// One request as the API saw it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Value,
}

#[derive(Clone, Default)]
pub struct FakeApi {
    objects: Arc<Mutex<BTreeMap<String, Value>>>,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl FakeApi {
    /// A client of a new, empty API.
    pub fn start() -> (Client, FakeApi) {
        let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
        let api = FakeApi::default();
        let state = api.clone();
        tokio::spawn(async move {
            let mut handle = std::pin::pin!(handle);
            while let Some((request, send)) = handle.next_request().await {
                send.send_response(state.answer(request).await);
            }
        });
        (Client::new(service, "default"), api)
    }

    pub fn put(&self, path: &str, object: Value) {
        self.objects.lock().unwrap().insert(path.into(), object);
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.objects.lock().unwrap().get(path).cloned()
    }

    pub fn paths(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }

    /// Every call since the last `take_calls`.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.expect("a request body");
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON request body")
        };
        let path = parts.uri.path().to_string();
        self.calls.lock().unwrap().push(Call {
            method: parts.method.clone(),
            path: path.clone(),
            query: parts.uri.query().unwrap_or_default().into(),
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().unwrap_or_default().to_string())
                .unwrap_or_default(),
            body: body.clone(),
        });
        let mut objects = self.objects.lock().unwrap();
        match parts.method {
            Method::GET => match objects.get(&path) {
                // A Pod's log is text.
                Some(Value::String(text)) if path.ends_with("/log") => {
                    Response::new(Body::from(text.clone().into_bytes()))
                }
                Some(o) => ok(o),
                None => match list(&objects, &path) {
                    Some(l) => ok(&l),
                    None => not_found(&path),
                },
            },
            Method::PATCH => {
                if let Some(owner) = path.strip_suffix("/status") {
                    let Some(o) = objects.get_mut(owner) else {
                        return not_found(owner);
                    };
                    o["status"] = body["status"].clone();
                    return ok(o);
                }
                let mut object = body;
                if let Some(old) = objects.get(&path) {
                    if let Some(status) = old.get("status") {
                        object["status"] = status.clone();
                    }
                    object["metadata"]["uid"] = old["metadata"]["uid"].clone();
                } else {
                    object["metadata"]["uid"] = json!(format!("uid-{}", objects.len()));
                }
                if object["kind"] == "Service" {
                    object["spec"]["clusterIP"] = json!(CLUSTER_IP);
                }
                objects.insert(path, object.clone());
                ok(&object)
            }
            Method::DELETE => match objects.remove(&path) {
                Some(o) => ok(&o),
                None => not_found(&path),
            },
            other => panic!("the fake API does not answer {other} {path}"),
        }
    }
}

/// A collection: the objects right under `path` (a namespace's), or of that kind in every
/// namespace when `path` names none.
fn list(objects: &BTreeMap<String, Value>, path: &str) -> Option<Value> {
    let (base, plural) = path.rsplit_once('/')?;
    if !["containergroups", "pods", "services", "secrets"].contains(&plural) {
        return None;
    }
    let items: Vec<Value> = objects
        .iter()
        .filter(|(p, _)| {
            let Some((dir, _)) = p.rsplit_once('/') else {
                return false;
            };
            dir == path
                || (!path.contains("/namespaces/")
                    && dir.starts_with(&format!("{base}/namespaces/"))
                    && dir.ends_with(&format!("/{plural}")))
        })
        .map(|(_, o)| o.clone())
        .collect();
    Some(
        json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items}),
    )
}

fn ok(object: &Value) -> Response<Body> {
    Response::new(Body::from(serde_json::to_vec(object).unwrap()))
}

fn not_found(path: &str) -> Response<Body> {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("{path} not found"), "reason": "NotFound", "code": 404,
    });
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .body(Body::from(serde_json::to_vec(&status).unwrap()))
        .unwrap()
}
