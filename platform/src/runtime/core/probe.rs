//! Probes of a service, in process: one `httpGet` handed to the container's [`Service`] as
//! the front door hands a request (no socket, no TLS), and the [`Admission`] (a service's
//! `admission`) that keeps its clients out while it is not ready.
//!
//! It knows nothing of thresholds, events or restarts: the supervisor counts the results.

use super::service::{ResponseBody, Service};
use crate::model::HttpGet;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What a probe's request says it is, as kubelet's say `kube-probe/<version>`.
const USER_AGENT: &str = "waci-probe/1";

/// Whether a service takes its clients' requests (at the group's IP and the front door):
/// closed while its readiness probe has not passed, or while it is being restarted. Probes
/// and siblings on `localhost` are not held back by it.
#[derive(Debug, Clone)]
pub struct Admission(Arc<AtomicBool>);

impl Admission {
    pub fn open() -> Admission {
        Admission(Arc::new(AtomicBool::new(true)))
    }
    pub fn closed() -> Admission {
        Admission(Arc::new(AtomicBool::new(false)))
    }
    pub fn is_open(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
    pub fn set(&self, open: bool) {
        self.0.store(open, Ordering::Release);
    }
}

/// One `httpGet` probe of `service` on its declared `port`: `Ok` for a status from 200 to
/// 399 within `timeout`, as Kubernetes counts them; else why not, in Kubernetes' words.
pub async fn http_get(
    service: &Arc<Service>,
    get: &HttpGet,
    timeout: Duration,
) -> Result<(), String> {
    let mut req = hyper::Request::builder()
        .method(hyper::Method::GET)
        .uri(get.path.as_str())
        .header(hyper::header::HOST, format!("localhost:{}", get.port))
        .header(hyper::header::USER_AGENT, USER_AGENT);
    for (name, value) in &get.http_headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let body =
        Empty::<Bytes>::new().map_err(|never| -> wasmtime_wasi_http::Error { match never {} });
    let req = req
        .body(body)
        .map_err(|e| format!("the probe's request is not valid HTTP: {e}"))?;
    match tokio::time::timeout(timeout, service.handle(req)).await {
        Err(_) => Err(format!(
            "Get \"{}://localhost:{}{}\": no answer within {} s",
            get.scheme.as_str(),
            get.port,
            get.path,
            timeout.as_secs()
        )),
        Ok(resp) => status_of(resp),
    }
}

fn status_of(resp: hyper::Response<ResponseBody>) -> Result<(), String> {
    let status = resp.status().as_u16();
    // The body is not read: dropping it ends the guest's stream.
    if (200..400).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {status}"))
    }
}
