//! `waci-hello-native`: `guests/hello-http` as a native Linux program, the peer that runc
//! runs in the benchmarks' `kubernetes` section where the shim runs the component. It
//! answers what hello-http answers: the same page (the same file) to every request, with the
//! same content type, and one line per request on stdout (method, path, user agent). It
//! listens where the shim serves a component: `0.0.0.0:$WACI_HTTP_PORT`, default 80.
//!
//! HTTP/1.1 with std alone: a thread per connection, one request per connection
//! (`connection: close`), so it holds no runtime and no pool while idle.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

const PAGE: &str = include_str!("../../../guests/hello-http/src/page.html");
/// The listening port's env var, as the shim reads a service's.
const PORT_ENV: &str = "WACI_HTTP_PORT";
const DEFAULT_PORT: u16 = 80;

fn main() {
    let port = match std::env::var(PORT_ENV) {
        Err(_) => DEFAULT_PORT,
        Ok(v) => v.parse().unwrap_or_else(|_| {
            eprintln!("{PORT_ENV}={v:?} is not a port");
            std::process::exit(2)
        }),
    };
    let listener = TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| {
        eprintln!("binding 0.0.0.0:{port}: {e}");
        std::process::exit(1)
    });
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                std::thread::spawn(move || {
                    if let Err(e) = answer(stream) {
                        eprintln!("a request failed: {e}");
                    }
                });
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
}

/// Reads one request head and answers it with the page.
fn answer(stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("-").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    let mut agent = "-".to_string();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            break;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("user-agent")
        {
            agent = value.trim().to_string();
        }
    }
    println!("{method} {path} \"{agent}\"");
    let body = if method == "HEAD" { "" } else { PAGE };
    let mut out = &stream;
    write!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        PAGE.len()
    )?;
    out.flush()
}
