//! One accept loop for every HTTP listener of the platform (control API, front door, group
//! ports): keep-alive HTTP/1 and HTTP/2, a limit on how long a client may take to send its
//! request head (so slow clients cannot hold connections open), and a graceful drain on
//! shutdown: open connections finish their current request within `drain`.

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// A client that has not sent a whole request head within this time is disconnected.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head a client may send (hyper's default is 400 KiB; a request line
/// and headers of a sane client fit in far less).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Serves `service` on every connection `listener` accepts, until `cancel`; then waits up
/// to `drain` for open connections to finish their current request.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    cancel: CancellationToken,
    drain: Duration,
) where
    S: hyper::service::Service<hyper::Request<Incoming>, Response = hyper::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Each connection task holds a clone; the drain waits until only this one is left.
    let open = Arc::new(());
    loop {
        let (stream, _) = tokio::select! {
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = cancel.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let (service, cancel, held) = (service.clone(), cancel.clone(), open.clone());
        tokio::spawn(async move {
            let _held = held;
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES);
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = cancel.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(drain, conn).await;
                }
            }
        });
    }
    let deadline = tokio::time::Instant::now() + drain;
    while Arc::strong_count(&open) > 1 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
