//! Guest stdout and stderr: every byte goes to the container's [`StreamSink`]. A guest never
//! waits on storage itself, only (through the stream's readiness) for room in the
//! [`LogSink`] when it writes faster than the sink takes its output.

use super::{LogSink, StreamSink};
use bytes::Bytes;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// The guest's view of one output stream of a container.
#[derive(Clone)]
pub struct LogOutput {
    stream: Arc<Mutex<dyn StreamSink>>,
    sink: Arc<dyn LogSink>,
}

impl LogOutput {
    pub fn new(stream: Arc<Mutex<dyn StreamSink>>, sink: Arc<dyn LogSink>) -> Self {
        LogOutput { stream, sink }
    }
    fn write_bytes(&self, bytes: &[u8]) {
        self.stream
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write(bytes);
    }
}

impl IsTerminal for LogOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for LogOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    /// Back-pressure: nothing may be written while the sink has no room.
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(if self.sink.has_room() { 64 * 1024 } else { 0 })
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogOutput {
    async fn ready(&mut self) {
        self.sink.wait_for_room().await;
    }
}

impl tokio::io::AsyncWrite for LogOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
