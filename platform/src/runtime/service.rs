//! Serves a service container (`wasi:http/incoming-handler`): one fresh instance per
//! request, as `wasmtime serve` does, on every bound port of the group's IP.
//!
//! Invariant: a guest's failure (trap, out of memory, time limit) answers that request
//! with a 5xx of its own and never reaches the platform or other requests.

use super::command::{Exit, classify};
use super::engine::Engines;
use super::host::{Host, Sandbox};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// Everything needed to answer a request for one service container.
pub struct Service {
    pub engines: Arc<Engines>,
    pub pre: ProxyPre<Host>,
    pub sandbox: Sandbox,
    /// A request running longer than this answers 504 and its instance is dropped.
    pub request_timeout: Duration,
    /// Called when a request's guest fails, so the container's events show it.
    pub on_failure: Box<dyn Fn(Exit) + Send + Sync>,
}

fn plain(status: u16, text: &str) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from(text.to_string()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

impl Service {
    /// Answers one request with a fresh instance of the guest.
    pub async fn handle<B>(
        self: &Arc<Self>,
        req: hyper::Request<B>,
    ) -> hyper::Response<HyperOutgoingBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let mut store = match self.sandbox.store(&self.engines.engine) {
            Ok(s) => s,
            Err(e) => return plain(500, &format!("the service cannot start: {e}\n")),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http_view()
            .new_incoming_request(Scheme::Http, req);
        let out = store.data_mut().http_view().new_response_outparam(tx);
        let (req, out) = match (req, out) {
            (Ok(r), Ok(o)) => (r, o),
            (Err(e), _) | (_, Err(e)) => return plain(400, &format!("bad request: {e}\n")),
        };
        let pre = self.pre.clone();
        let limit = self.request_timeout;
        let this = self.clone();
        let task = tokio::spawn(async move {
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            };
            match tokio::time::timeout(limit, run).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => {
                    let exit = classify(&e);
                    (this.on_failure)(exit.clone());
                    Some(exit)
                }
                Err(_) => Some(Exit::Trap("request time limit exceeded".into())),
            }
        });
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(Ok(resp))) => resp,
            Ok(Ok(Err(code))) => plain(502, &format!("the service failed: {code:?}\n")),
            Ok(Err(_)) => match task.await {
                Ok(Some(Exit::OutOfMemory)) => plain(500, "the service ran out of memory\n"),
                Ok(Some(Exit::Trap(m))) if m.contains("time limit") => {
                    plain(504, "the service did not answer in time\n")
                }
                Ok(Some(exit)) => plain(
                    500,
                    &format!("the service failed: {}\n", exit.detail_status()),
                ),
                Ok(None) => plain(500, "the service ended without a response\n"),
                Err(_) => plain(500, "the service failed\n"),
            },
            Err(_) => {
                task.abort();
                plain(504, "the service did not answer in time\n")
            }
        }
    }
}

trait HttpView {
    fn http_view(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_>;
}
impl HttpView for Host {
    fn http_view(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpView::http(self)
    }
}

/// Serves `service` on `listener` until `cancel`; open connections then finish their
/// current request within the drain grace.
pub async fn accept_loop(listener: TcpListener, service: Arc<Service>, cancel: CancellationToken) {
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let service = service.clone();
        async move { Ok::<_, std::convert::Infallible>(service.handle(req).await) }
    });
    crate::http::serve(listener, svc, cancel, super::DRAIN_GRACE).await
}
