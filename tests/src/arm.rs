//! Speaking ARM to a platform, as any client would: resource paths, the `api-version`
//! parameter, one request with a bearer token and its answer read whole, and the body of a
//! one-container group. Shared by the tests and the benchmarks; it neither judges a status
//! nor waits for anything (callers decide what an answer means).

use serde_json::{Value, json};

pub const API_VERSION: &str = "2025-09-01";

/// The resource path of a container group.
pub fn group_path_in(sub: &str, rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}"
    )
}

/// `api` (`http://host:port`) and `path` with `api-version` added.
pub fn url(api: &str, path: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{api}{path}{sep}api-version={API_VERSION}")
}

/// A client that talks to loopback only, whatever proxy the environment names.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()
        .expect("an HTTP client with no proxy and no TLS settings builds")
}

/// An answer read whole: its body as text and, where it is JSON, as JSON (else `Null`).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

/// Sends exactly what it is given: `token` as a bearer token, `body` as JSON text.
pub async fn request(
    http: &reqwest::Client,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<String>,
) -> reqwest::Result<Reply> {
    let method: reqwest::Method = method.parse().expect("an HTTP method");
    let mut req = http.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Reply {
        status,
        headers,
        body,
        text,
    })
}

/// A one-container group (`main`), its ports public on its own IP when it has any.
pub fn group_body(image: &str, ports: &[u16], restart_policy: &str, command: &[&str]) -> Value {
    let ports_json: Vec<Value> = ports
        .iter()
        .map(|p| json!({"protocol": "TCP", "port": p}))
        .collect();
    let mut props = json!({
        "osType": "Linux",
        "restartPolicy": restart_policy,
        "containers": [{"name": "main", "properties": {
            "image": image,
            "command": command,
            "ports": ports_json,
            "resources": {"requests": {"cpu": 1.0, "memoryInGB": 0.5}}
        }}]
    });
    if !ports.is_empty() {
        props["ipAddress"] = json!({"type": "Public", "ports": ports_json});
    }
    json!({"location": "local", "properties": props})
}

/// `waci/hello-http` on port 80 of its own IP, restarted always: the group most stories
/// start with.
pub fn hello_http() -> Value {
    group_body("waci/hello-http", &[80], "Always", &[])
}
