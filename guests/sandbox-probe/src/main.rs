//! `waci/sandbox-probe`: a command that tries to get out of its sandbox and prints one line
//! per attempt, `probe <name>: denied (<error>)` or `probe <name>: ALLOWED (<detail>)`, so
//! tests can assert that no line says ALLOWED. It always exits 0.
//!
//! Probes, in order:
//! - `etc-passwd`: read `/etc/passwd`
//! - `dotdot <dir>`: read `<dir>/../../../../etc/passwd`, for every preopened directory and
//!   every `--volume <dir>` argument (`probe dotdot: denied (...)` if there are none)
//! - `host-env`: ALLOWED if any of HOME, PATH, USER, CARGO_HOME is set
//! - `tcp-socket`: `TcpStream::connect` to `--connect <ip:port>` (default 127.0.0.1:80)
//! - `http-out`: only with `--http <url>`: a GET through wasi:http/outgoing-handler;
//!   ALLOWED with the status if any response comes back

use std::net::TcpStream;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, Method, OutgoingRequest, RequestOptions, Scheme};

/// Variables a host process has but a container should not inherit.
const HOST_VARS: &[&str] = &["HOME", "PATH", "USER", "CARGO_HOME"];
/// Default target of the TCP probe: a port on the host's loopback.
const DEFAULT_CONNECT: &str = "127.0.0.1:80";
/// Bound on each phase of the HTTP probe, so an allowed but unanswered request cannot hang
/// the probe (wasmtime's own default is ten minutes).
const HTTP_TIMEOUT_NS: u64 = 5_000_000_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| -> Option<&str> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };

    report(
        "etc-passwd",
        std::fs::read("/etc/passwd")
            .map(|b| format!("read {} bytes", b.len()))
            .map_err(|e| e.to_string()),
    );

    let mut dirs: Vec<String> = wasip2::filesystem::preopens::get_directories()
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    let volumes = args.windows(2).filter(|w| w[0] == "--volume");
    for w in volumes {
        if !dirs.contains(&w[1]) {
            dirs.push(w[1].clone());
        }
    }
    if dirs.is_empty() {
        report("dotdot", Err("no preopened directories".into()));
    }
    for dir in &dirs {
        let path = format!("{}/../../../../etc/passwd", dir.trim_end_matches('/'));
        report(
            &format!("dotdot {dir}"),
            std::fs::read(&path)
                .map(|b| format!("read {} bytes from {path}", b.len()))
                .map_err(|e| e.to_string()),
        );
    }

    let leaked: Vec<&str> = HOST_VARS
        .iter()
        .copied()
        .filter(|k| std::env::var_os(k).is_some())
        .collect();
    report(
        "host-env",
        if leaked.is_empty() {
            Err(format!("none of {} is set", HOST_VARS.join(", ")))
        } else {
            Ok(format!("{} set", leaked.join(", ")))
        },
    );

    let target = flag("--connect").unwrap_or(DEFAULT_CONNECT);
    report(
        "tcp-socket",
        TcpStream::connect(target)
            .map(|s| match s.peer_addr() {
                Ok(peer) => format!("connected to {peer}"),
                Err(_) => format!("connected to {target}"),
            })
            .map_err(|e| format!("{target}: {e}")),
    );

    if let Some(url) = flag("--http") {
        report("http-out", http_get(url));
    }
}

fn report(name: &str, outcome: Result<String, String>) {
    match outcome {
        Ok(detail) => println!("probe {name}: ALLOWED ({detail})"),
        Err(error) => println!("probe {name}: denied ({error})"),
    }
}

/// Sends `GET url` through wasi:http and returns the response status.
fn http_get(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url}: not scheme://authority/path"))?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.into()),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('?') => (&rest[..i], format!("/{}", &rest[i..])),
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };

    // No body is taken from the request, which sends it with an empty one.
    let request = OutgoingRequest::new(Fields::new());
    let invalid = |what: &str| format!("{url}: invalid {what}");
    request
        .set_method(&Method::Get)
        .map_err(|()| invalid("method"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|()| invalid("authority"))?;
    request
        .set_path_with_query(Some(&path))
        .map_err(|()| invalid("path"))?;
    let options = RequestOptions::new();
    // A host may refuse to take a timeout; the request is still worth trying.
    let _ = options.set_connect_timeout(Some(HTTP_TIMEOUT_NS));
    let _ = options.set_first_byte_timeout(Some(HTTP_TIMEOUT_NS));

    let future =
        outgoing_handler::handle(request, Some(options)).map_err(|e| format!("{url}: {e:?}"))?;
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(format!("{url}: status {}", response.status())),
        Some(Ok(Err(e))) => Err(format!("{url}: {e:?}")),
        Some(Err(())) => Err(format!("{url}: response already taken")),
        None => Err(format!("{url}: no response although ready")),
    }
}
