//! The front door (DESIGN.md §5): one HTTP listener that routes by `Host` to a group's
//! first port, so `http://<fqdn>:8081/` opens a group from any browser with no DNS set-up.
//! The request goes to the group's service in-process, not through a second socket hop, and
//! bodies stream both ways.
//!
//! Its two statuses of its own are data-plane statuses, named below: what a browser sees for
//! a name no group answers to, or a group that is not running. The control API's statuses
//! are chosen in `api` alone.

use crate::directory::Directory;
use crate::runtime::{FrontService, ResponseBody, Runtime, full_body};
use bytes::Bytes;
use hyper::StatusCode;
use hyper::body::Incoming;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// No container group answers to the name the request was sent to.
const UNKNOWN_HOST: StatusCode = StatusCode::NOT_FOUND;
/// The name is a group's, but the group serves nothing now (stopped, starting, failed):
/// like a load balancer with no healthy backend.
const NOT_RUNNING: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
/// The group's service runs but is not ready (its readiness probe has not passed, or it is
/// being restarted after failing its liveness probe).
const NOT_READY: StatusCode = StatusCode::SERVICE_UNAVAILABLE;

fn not_ready(group: &str) -> hyper::Response<ResponseBody> {
    let group = html_escape(group);
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{group}: not ready</title></head>\
         <body><h1>Container group {group} is not ready</h1><p>Its container is running but not ready: \
         its readiness probe has not passed yet, or it is being restarted. Try again in a moment.</p></body></html>\n"
    );
    let mut resp = hyper::Response::new(full_body(page));
    *resp.status_mut() = NOT_READY;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut().insert(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from_static("1"),
    );
    resp
}

fn not_found(host: &str) -> hyper::Response<ResponseBody> {
    let page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Unknown name</title></head>\
         <body><h1>Unknown name</h1><p>No container group answers to <code>{}</code>.</p></body></html>\n",
        html_escape(host)
    );
    let mut resp = hyper::Response::new(full_body(page));
    *resp.status_mut() = UNKNOWN_HOST;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The host a request names, without port, from `Host` or the absolute URI.
fn host_of<B>(req: &hyper::Request<B>) -> String {
    let raw = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    if raw.starts_with('[') {
        return raw
            .split(']')
            .next()
            .unwrap_or_default()
            .trim_start_matches('[')
            .to_string();
    }
    match raw.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
        _ => raw,
    }
}

async fn route(
    req: hyper::Request<Incoming>,
    directory: &Directory,
    runtime: &Runtime,
) -> hyper::Response<ResponseBody> {
    let host = host_of(&req);
    let Some(entry) = directory.lookup(&host) else {
        return not_found(&host);
    };
    match runtime.front_service(entry.group_id) {
        FrontService::Serving(service) => service.handle(req).await,
        FrontService::NotReady(group) => not_ready(&group),
        FrontService::NotRunning => {
            let body = full_body(Bytes::from_static(b"The container group is not running.\n"));
            let mut resp = hyper::Response::new(body);
            *resp.status_mut() = NOT_RUNNING;
            resp
        }
    }
}

/// Serves the front door on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    directory: Arc<Directory>,
    runtime: Arc<Runtime>,
    shutdown: CancellationToken,
) {
    let svc = hyper::service::service_fn(move |req| {
        let (directory, runtime) = (directory.clone(), runtime.clone());
        async move { Ok::<_, std::convert::Infallible>(route(req, &directory, &runtime).await) }
    });
    crate::http::serve(listener, svc, shutdown, crate::runtime::DRAIN_GRACE).await
}

#[cfg(test)]
mod tests {
    use super::host_of;

    fn check(host: &str, expected: &str) {
        let req = hyper::Request::builder()
            .header("host", host)
            .body(())
            .unwrap();
        assert_eq!(host_of(&req), expected, "{host}");
    }

    #[test]
    fn host_without_port() {
        check(
            "myapp.local.waci.localhost:8081",
            "myapp.local.waci.localhost",
        );
        check("myapp.local.waci.localhost", "myapp.local.waci.localhost");
        check("127.0.0.1:80", "127.0.0.1");
    }
}
