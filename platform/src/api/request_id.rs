//! The request id of every API answer, as ARM sends it: a fresh `x-ms-request-id` header,
//! the caller's `x-ms-correlation-request-id` echoed, and the same id on the platform's log
//! line for the request and on every line logged while it is handled, so a user's failing
//! call can be found in the platform's log. It also counts each answer into the API's
//! metrics, by the route's template (never the concrete path) and status class.

use super::AppRef;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");
pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-ms-correlation-request-id");

/// Tags a request and its answer with a new id. The span is at WARN so that it is kept
/// under the default log filter (`warn`): a warning or error logged while handling the
/// request carries the id. Each request gets a line of its own: at ERROR when the platform
/// failed (5xx), at INFO when the caller's request was refused (4xx: `WACI_LOG=info` shows
/// them without the flood of successes), at DEBUG otherwise.
pub async fn tag(State(app): State<AppRef>, req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let correlation = req.headers().get(&CORRELATION_ID).cloned();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let route = req.extensions().get::<MatchedPath>().cloned();
    let span = tracing::warn_span!("api", request_id = %id);
    let started = Instant::now();
    let mut resp = next.run(req).instrument(span).await;
    let status = resp.status().as_u16();
    let took = started.elapsed();
    let route = route.as_ref().map(MatchedPath::as_str);
    app.metrics.api.record(route, &method, status, took);
    let ms = took.as_secs_f64() * 1e3;
    if status >= 500 {
        tracing::error!(request_id = %id, %method, %path, status, ms, "api request failed");
    } else if status >= 400 {
        tracing::info!(request_id = %id, %method, %path, status, ms, "api request refused");
    } else {
        tracing::debug!(request_id = %id, %method, %path, status, ms, "api request");
    }
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(REQUEST_ID, v);
    }
    if let Some(c) = correlation {
        headers.insert(CORRELATION_ID, c);
    }
    resp
}
