//! `net-client`: a command that reaches servers over `wasi:sockets` and `wasi:http` with the
//! standard library, as an ordinary program would, and prints one line per answer. It exits
//! 1 with the error on stderr (`error: <what>: <io error>`) when a step fails.
//!
//! - `net-client redis <host:port> <key> <value>`: RESP over TCP: `SET key value`, then
//!   `GET key`; prints `GET <key> = <value>`
//! - `net-client udp <host:port> <text>`: sends one datagram, prints the answer
//!   (`udp reply from <addr>: <text>`)
//! - `net-client http <url>`: a GET through `wasi:http/outgoing-handler`; prints
//!   `http <status>: <body>`
//! - `net-client resolve <name>`: prints `resolved <name>: <addresses>`
//! - `net-client bind <tcp|udp> <ip:port>`: binds (and for TCP listens), prints `bound <addr>`

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["redis", addr, key, value] => redis(addr, key, value),
        ["udp", addr, text] => udp(addr, text),
        ["http", url] => http::get(url),
        ["resolve", name] => resolve(name),
        ["bind", "tcp", addr] => std::net::TcpListener::bind(addr)
            .map(|l| {
                format!(
                    "bound {}",
                    l.local_addr().map(|a| a.to_string()).unwrap_or_default()
                )
            })
            .map_err(|e| format!("bind {addr}: {e}")),
        ["bind", "udp", addr] => UdpSocket::bind(addr)
            .map(|s| {
                format!(
                    "bound {}",
                    s.local_addr().map(|a| a.to_string()).unwrap_or_default()
                )
            })
            .map_err(|e| format!("bind {addr}: {e}")),
        _ => Err(format!("unknown arguments {args:?}")),
    };
    match result {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// One RESP command as an array of bulk strings.
fn command(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for p in parts {
        out.extend_from_slice(format!("${}\r\n{p}\r\n", p.len()).as_bytes());
    }
    out
}

/// Reads one RESP reply: a simple string, an error, an integer or a bulk string.
fn reply(r: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| format!("read: {e}"))?;
    let line = line.trim_end();
    match line.split_at(line.len().min(1)) {
        ("+", s) | (":", s) => Ok(Some(s.to_string())),
        ("-", e) => Err(format!("server error: {e}")),
        ("$", n) if n == "-1" => Ok(None),
        ("$", n) => {
            let n: usize = n.parse().map_err(|_| format!("bad length {n}"))?;
            let mut buf = vec![0; n + 2];
            std::io::Read::read_exact(r, &mut buf).map_err(|e| format!("read: {e}"))?;
            buf.truncate(n);
            Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
        }
        _ => Err(format!("unexpected reply {line:?}")),
    }
}

fn redis(addr: &str, key: &str, value: &str) -> Result<String, String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    // `try_clone` is not there on wasip2: read and write through shared references.
    let mut reader = BufReader::new(&stream);
    (&stream)
        .write_all(&command(&["SET", key, value]))
        .map_err(|e| format!("write: {e}"))?;
    let set = reply(&mut reader)?;
    println!("SET {key}: {}", set.unwrap_or_default());
    (&stream)
        .write_all(&command(&["GET", key]))
        .map_err(|e| format!("write: {e}"))?;
    let got = reply(&mut reader)?.unwrap_or_else(|| "(nil)".into());
    Ok(format!("GET {key} = {got}"))
}

fn udp(addr: &str, text: &str) -> Result<String, String> {
    let socket = UdpSocket::bind("0.0.0.0:0").map_err(|e| format!("bind: {e}"))?;
    // Not every host takes a timeout (wasip2's std does not); then the wait is unbounded.
    let _ = socket.set_read_timeout(Some(Duration::from_secs(5)));
    socket
        .send_to(text.as_bytes(), addr)
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut buf = [0; 1500];
    let (n, from) = socket
        .recv_from(&mut buf)
        .map_err(|e| format!("receive from {addr}: {e}"))?;
    Ok(format!(
        "udp reply from {from}: {}",
        String::from_utf8_lossy(&buf[..n])
    ))
}

fn resolve(name: &str) -> Result<String, String> {
    let addrs: Vec<String> = (name, 0)
        .to_socket_addrs()
        .map_err(|e| format!("resolve {name}: {e}"))?
        .map(|a| a.ip().to_string())
        .collect();
    Ok(format!("resolved {name}: {}", addrs.join(" ")))
}

mod http {
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{Fields, Method, OutgoingRequest, RequestOptions, Scheme};

    /// Bound on each phase, so an unanswered request cannot hang the command.
    const TIMEOUT_NS: u64 = 5_000_000_000;

    pub fn get(url: &str) -> Result<String, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let request = OutgoingRequest::new(Fields::new());
        let invalid = |what: &str| format!("{url}: invalid {what}");
        request
            .set_method(&Method::Get)
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&Scheme::Http))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| invalid("authority"))?;
        request
            .set_path_with_query(Some(path))
            .map_err(|()| invalid("path"))?;
        let options = RequestOptions::new();
        let _ = options.set_connect_timeout(Some(TIMEOUT_NS));
        let _ = options.set_first_byte_timeout(Some(TIMEOUT_NS));
        let future = outgoing_handler::handle(request, Some(options))
            .map_err(|e| format!("{url}: {e:?}"))?;
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(r))) => r,
            Some(Ok(Err(e))) => return Err(format!("{url}: {e:?}")),
            _ => return Err(format!("{url}: no response")),
        };
        let status = response.status();
        let body = response.consume().map_err(|()| "no body".to_string())?;
        let stream = body.stream().map_err(|()| "no body stream".to_string())?;
        let mut bytes = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(_) => break,
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        Ok(format!("http {status}: {}", text.trim()))
    }
}
