//! Serves a service container (`wasi:http/incoming-handler`): one fresh instance per
//! request, as `wasmtime serve` does, or with `instanceReuse` a warm instance kept between
//! requests (`warm.rs`), on every bound port of the group's IP.
//!
//! Invariant: a guest's failure (trap, out of memory, time limit) answers that request
//! with a 5xx of its own and never reaches the platform or other requests. The statuses
//! chosen here are the data plane's (what a guest's client sees when the guest cannot
//! answer), each a named constant below; the control API's are chosen in `api` alone.

use super::command::{Exit, classify};
use super::cpu::{Gated, Scheduler};
use super::engine::{Engines, Tiered};
use super::host::{Host, Sandbox};
use super::probe::Admission;
use super::warm::{Lease, Warm};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The body of a response to a guest's client (a guest's own, or one of ours): what the front
/// door and a group's ports send, without naming wasmtime's types.
pub type ResponseBody = HyperOutgoingBody;

/// A whole response body of `bytes`.
pub fn full_body(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The statuses a service request gets when its guest cannot answer it: data-plane
/// statuses, seen by a guest's clients, never by the control API.
pub mod status {
    use hyper::StatusCode;

    /// The guest's sandbox could not be made (a volume cannot be opened), or the guest
    /// trapped, ran out of memory or returned without setting a response.
    pub const GUEST_FAILED: StatusCode = StatusCode::INTERNAL_SERVER_ERROR;
    /// The request could not be handed to the guest (wasi:http refused its head).
    pub const BAD_REQUEST: StatusCode = StatusCode::BAD_REQUEST;
    /// The guest answered with a wasi:http error code instead of a response: like a proxy
    /// whose upstream failed.
    pub const GUEST_ERROR_CODE: StatusCode = StatusCode::BAD_GATEWAY;
    /// The guest did not answer within the request time limit (DESIGN.md §4).
    pub const OUT_OF_TIME: StatusCode = StatusCode::GATEWAY_TIMEOUT;
    /// The guest was still running at the end of its group's stop grace, and was cut.
    pub const STOPPING: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
    /// The container is not ready (its readiness probe has not passed, or it is being
    /// restarted): like a load balancer with no healthy backend.
    pub const NOT_READY: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
}

/// Everything needed to answer a request for one service container.
pub struct Service {
    pub engines: Arc<Engines>,
    /// Its code; a request takes the best there is when it starts.
    pub pre: Tiered<ProxyPre<Host>>,
    pub sandbox: Sandbox,
    /// A request running longer than this answers [`status::OUT_OF_TIME`] and its instance
    /// is dropped.
    pub request_timeout: Duration,
    /// Called when a request's guest fails, so the container's events show it.
    pub on_failure: Box<dyn Fn(Exit) + Send + Sync>,
    /// Cancelled when the container's group stops: a run still going gets the drain grace,
    /// then is cut.
    pub stopping: CancellationToken,
    /// Counts every run in flight, on a handler's task or on its own; the supervisor waits
    /// for them once its ports are closed, so a stopped group leaves no instance behind.
    pub runs: TaskTracker,
    /// The warm instances of a container with `instanceReuse`; `None`: a fresh instance
    /// per request.
    pub reuse: Option<Arc<Warm>>,
    /// Whether its clients' requests are let in: closed while its readiness probe has not
    /// passed or while it is being restarted. Probes and siblings on `localhost` are not held
    /// back by it.
    pub admission: Admission,
}

fn plain(status: hyper::StatusCode, text: &str) -> hyper::Response<ResponseBody> {
    let mut resp = hyper::Response::new(full_body(text.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

impl Service {
    /// Answers one request with a fresh instance of the guest (or a warm one, with
    /// `instanceReuse`), and counts it (its status
    /// class and the time to its response head) in the sandbox's stats.
    pub async fn handle<B>(
        self: &Arc<Self>,
        req: hyper::Request<B>,
    ) -> hyper::Response<ResponseBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let started = std::time::Instant::now();
        let resp = self.answer(req).await;
        self.sandbox
            .stats
            .record(resp.status().as_u16(), started.elapsed());
        resp
    }

    async fn answer<B>(self: &Arc<Self>, req: hyper::Request<B>) -> hyper::Response<ResponseBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let mut lease: Option<Lease> = match &self.reuse {
            // Beyond the pool's bound a request waits for a free instance, within its time
            // limit.
            Some(warm) => match tokio::time::timeout(self.request_timeout, warm.lease()).await {
                Ok(lease) => Some(lease),
                Err(_) => {
                    return plain(
                        status::OUT_OF_TIME,
                        "the service did not answer in time: every warm instance stayed busy\n",
                    );
                }
            },
            None => None,
        };
        let warm = lease.as_mut().and_then(|l| l.instance.take());
        // One engine's code for the store and the instance in it.
        let pre = self.pre.current().clone();
        let (mut store, mut proxy) = match warm {
            Some(instance) => (instance.store, Some(instance.proxy)),
            None => match self.sandbox.store(pre.instance_pre().engine()) {
                Ok(s) => (s, None),
                Err(e) => {
                    return plain(
                        status::GUEST_FAILED,
                        &format!("the service cannot start: {e}\n"),
                    );
                }
            },
        };
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http_view()
            .new_incoming_request(Scheme::Http, req);
        let out = store.data_mut().http_view().new_response_outparam(tx);
        let (req, out) = match (req, out) {
            (Ok(r), Ok(o)) => (r, o),
            (Err(e), _) | (_, Err(e)) => {
                return plain(status::BAD_REQUEST, &format!("bad request: {e}\n"));
            }
        };
        let this = self.clone();
        let mut run = Run::new(self, async move {
            let call = async {
                let proxy = match proxy.take() {
                    Some(warm) => warm,
                    None => pre.instantiate_async(&mut store).await?,
                };
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await?;
                wasmtime::Result::<_>::Ok(proxy)
            };
            let called = tokio::time::timeout(this.request_timeout, call).await;
            // A trap, a time-out or a cut throws the instance away (with the lease).
            let ended = match called {
                Ok(Ok(proxy)) => {
                    if let (Some(warm), Some(lease)) = (&this.reuse, lease) {
                        warm.give_back(lease, store, proxy, &this.sandbox);
                    }
                    return Ended::Returned;
                }
                Ok(Err(e)) => Ended::Failed(classify(&e)),
                Err(_) => Ended::OutOfTime,
            };
            (this.on_failure)(match &ended {
                Ended::Failed(exit) => exit.clone(),
                _ => Exit::Trap("request time limit exceeded".into()),
            });
            ended
        });
        // The first slice runs on this connection's task: a small guest answers and ends in
        // it, with no task of its own and no wake-up across threads. The time limit bounds
        // the wait for the answer too, as the instance ends at it.
        let first = std::future::poll_fn(|cx| {
            if let Poll::Ready(answer) = Pin::new(&mut rx).poll(cx) {
                return Poll::Ready(First::Answered(answer));
            }
            match Pin::new(&mut run).poll(cx) {
                Poll::Ready(ended) => Poll::Ready(First::Ended(ended)),
                // Still running after its first slice: the rest goes to the guest pool.
                Poll::Pending if run.has_run() => Poll::Ready(First::Going),
                // Waiting for its first slot.
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        let (answer, ended) = match first {
            // Answered (a streamed body, work after the answer): the rest of the run goes on
            // in the guest pool.
            First::Answered(Ok(answer)) => {
                drop(run.detach());
                return answered(answer);
            }
            // The guest dropped its response outparam unset; its end says why.
            First::Answered(Err(_)) => (None, Run::ended(run.detach()).await),
            First::Ended(ended) => (rx.try_recv().ok(), ended),
            First::Going => {
                let mut rest = run.detach();
                tokio::select! {
                    biased;
                    answer = &mut rx => match answer {
                        Ok(answer) => return answered(answer),
                        Err(_) => (None, Run::ended(rest).await),
                    },
                    ended = &mut rest => (rx.try_recv().ok(), Run::ended_with(ended)),
                }
            }
        };
        if let Some(answer) = answer {
            return answered(answer);
        }
        match ended {
            Ended::Returned => plain(
                status::GUEST_FAILED,
                "the service ended without a response\n",
            ),
            Ended::OutOfTime => plain(status::OUT_OF_TIME, "the service did not answer in time\n"),
            Ended::Cut => plain(status::STOPPING, "the container group is stopping\n"),
            Ended::Failed(Exit::OutOfMemory) => {
                plain(status::GUEST_FAILED, "the service ran out of memory\n")
            }
            Ended::Failed(exit) => plain(
                status::GUEST_FAILED,
                &format!("the service failed: {}\n", exit.detail_status()),
            ),
        }
    }
}

/// What a guest set as its response: the response, or the error code it answered with.
type Answer =
    Result<hyper::Response<ResponseBody>, wasmtime_wasi_http::p2::bindings::http::types::ErrorCode>;

fn answered(answer: Answer) -> hyper::Response<ResponseBody> {
    answer.unwrap_or_else(|code| {
        plain(
            status::GUEST_ERROR_CODE,
            &format!("the service failed: {code:?}\n"),
        )
    })
}

/// How a request's instance ended.
enum Ended {
    Returned,
    Failed(Exit),
    OutOfTime,
    /// Still running at the end of its group's stop grace.
    Cut,
}

/// How the first slice of a request's run left it.
enum First {
    Answered(Result<Answer, tokio::sync::oneshot::error::RecvError>),
    Ended(Ended),
    Going,
}

/// A request's instance. Its first slice runs on the handler's task; the rest of it, or all
/// of it if the handler is done first (its client left), goes on in the guest pool, so a
/// guest never stops halfway because its client left. Once the group stops, a run still
/// going gets the drain grace and is then cut, wherever it runs; a run whose connection is
/// dropped during a stop (its grace is over) is cut at once.
struct Run {
    /// Each poll a slice of guest code, scheduled by the container's share of the cores.
    run: Option<Gated<Pin<Box<dyn Future<Output = Ended> + Send>>>>,
    pool: Arc<Scheduler>,
    /// Armed the first time the run does not end in one poll: the stop, then the grace.
    cut: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    stopping: CancellationToken,
    runs: TaskTracker,
    /// Counts this run among the service's runs until it is dropped.
    _counted: TaskTrackerToken,
    /// Already on the guest pool: dropping it never moves it again.
    detached: bool,
}

impl Run {
    fn new(service: &Service, run: impl Future<Output = Ended> + Send + 'static) -> Run {
        let run: Pin<Box<dyn Future<Output = Ended> + Send>> = Box::pin(run);
        Run {
            run: Some(service.sandbox.gate(run)),
            pool: service.engines.cpu.clone(),
            cut: None,
            stopping: service.stopping.clone(),
            runs: service.runs.clone(),
            _counted: service.runs.token(),
            detached: false,
        }
    }

    /// Whether a slice of the guest has run (rather than still waiting for its first slot).
    fn has_run(&self) -> bool {
        self.run.as_ref().is_none_or(|r| r.slices() > 0)
    }

    /// Moves the rest of the run to the guest pool; its end comes through the handle.
    fn detach(&mut self) -> tokio::task::JoinHandle<Ended> {
        let rest = Run {
            run: self.run.take(),
            pool: self.pool.clone(),
            cut: self.cut.take(),
            stopping: self.stopping.clone(),
            runs: self.runs.clone(),
            _counted: self.runs.token(),
            detached: true,
        };
        // `rest` counts itself among the runs, as this one did.
        self.pool.spawn(rest)
    }

    /// How a detached run ended: cut if the guest pool went away first (the platform
    /// stopping).
    async fn ended(rest: tokio::task::JoinHandle<Ended>) -> Ended {
        Self::ended_with(rest.await)
    }

    fn ended_with(r: Result<Ended, tokio::task::JoinError>) -> Ended {
        r.unwrap_or(Ended::Cut)
    }
}

impl Future for Run {
    type Output = Ended;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended> {
        let this = &mut *self;
        let Some(run) = this.run.as_mut() else {
            return Poll::Pending;
        };
        if let Poll::Ready(ended) = Pin::new(run).poll(cx) {
            this.run = None;
            return Poll::Ready(ended);
        }
        let stopping = &this.stopping;
        let cut = this.cut.get_or_insert_with(|| {
            let stopping = stopping.clone();
            Box::pin(async move {
                stopping.cancelled().await;
                tokio::time::sleep(super::DRAIN_GRACE).await;
            })
        });
        if cut.as_mut().poll(cx).is_ready() {
            this.run = None;
            return Poll::Ready(Ended::Cut);
        }
        Poll::Pending
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if !self.detached && self.run.is_some() && !self.stopping.is_cancelled() {
            drop(self.detach());
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

/// What a bound port serves: the service of its group's newest generation. An update points
/// it at the new generation's service while the port stays bound, so no connection is
/// refused; each request, on a new connection or a kept-alive one, goes to the service the
/// port serves when the request arrives.
pub struct Target(std::sync::RwLock<Arc<Service>>);

impl Target {
    pub fn new(service: Arc<Service>) -> Arc<Target> {
        Arc::new(Target(std::sync::RwLock::new(service)))
    }
    /// The service that answers the next request.
    pub fn get(&self) -> Arc<Service> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// From now on, requests go to `service`; those already running finish where they are.
    pub fn set(&self, service: Arc<Service>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = service;
    }
}

/// Serves `target` on `listener` until `cancel`; open connections then finish their
/// current request within the drain grace.
pub async fn accept_loop(listener: TcpListener, target: Arc<Target>, cancel: CancellationToken) {
    let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let service = target.get();
        async move {
            if !service.admission.is_open() {
                let resp = plain(status::NOT_READY, "the container is not ready\n");
                return Ok::<_, std::convert::Infallible>(resp);
            }
            Ok(service.handle(req).await)
        }
    });
    crate::http::serve(listener, svc, cancel, super::DRAIN_GRACE).await
}
