//! A minimal HTTP/1.1 GET over a fresh TCP connection: the cheapest way to ask "does this
//! address answer 200 yet?" many times a second without a client library's pools and retries.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a wait for a first 200 spaces its attempts.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Retry at once (yielding to the scheduler): for one waiter at a time, finest timing.
    Spin,
    /// Retry every millisecond: for many concurrent waiters, which would otherwise starve
    /// the machine they measure.
    Millisecond,
}

/// One GET of `path` with `Host: host`; the status code of the answer.
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: waci-bench\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.windows(2).any(|w| w == b"\r\n") {
            break;
        }
    }
    status_of(&buf).ok_or_else(|| std::io::Error::other("no HTTP status line"))
}

fn status_of(head: &[u8]) -> Option<u16> {
    let line = head.split(|b| *b == b'\r').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

/// Waits until `GET /` at `addr` answers 200; how long from `since` that took.
pub async fn until_200(
    addr: SocketAddr,
    since: Instant,
    pace: Pace,
    timeout: Duration,
) -> anyhow::Result<Duration> {
    let host = addr.to_string();
    loop {
        if let Ok(200) = get(addr, &host, "/").await {
            return Ok(since.elapsed());
        }
        if since.elapsed() > timeout {
            anyhow::bail!("{addr} did not answer 200 within {timeout:?}");
        }
        match pace {
            Pace::Spin => tokio::task::yield_now().await,
            Pace::Millisecond => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::status_of;

    #[test]
    fn status_lines() {
        assert_eq!(
            status_of(b"HTTP/1.1 200 OK\r\ncontent-type: x\r\n"),
            Some(200)
        );
        assert_eq!(
            status_of(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some(503)
        );
        assert_eq!(status_of(b"garbage\r\n"), None);
        assert_eq!(status_of(b""), None);
    }
}
