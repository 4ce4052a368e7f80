//! `net-web`: a service that, for every request, calls two neighbours and answers with what
//! they said, one line each:
//! - `http <status>: <first line of the body>` from a GET of `$CALL_HTTP`
//!   (default `http://localhost:8080/`), through `wasi:http/outgoing-handler`;
//! - `resp <reply>` from `PING` sent over TCP (std `TcpStream`) to `$CALL_RESP`
//!   (default `localhost:6379`).
//!
//! A call that fails answers `http error: ...` or `resp error: ...` instead; the status is
//! 200 either way, so the caller reads what happened.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingRequest, OutgoingResponse,
    RequestOptions, ResponseOutparam, Scheme,
};

wasip2::http::proxy::export!(NetWeb);

struct NetWeb;

/// Bound on each phase of the HTTP call.
const TIMEOUT_NS: u64 = 5_000_000_000;

fn call_http(url: &str) -> Result<String, String> {
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
    let future =
        outgoing_handler::handle(request, Some(options)).map_err(|e| format!("{url}: {e:?}"))?;
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
    while let Ok(chunk) = stream.blocking_read(64 * 1024) {
        bytes.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&bytes);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Ok(format!("{status}: {}", first.trim()))
}

fn call_resp(addr: &str) -> Result<String, String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    (&stream)
        .write_all(b"*1\r\n$4\r\nPING\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(|e| format!("read: {e}"))?;
    Ok(line.trim().to_string())
}

impl wasip2::exports::http::incoming_handler::Guest for NetWeb {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let http_url =
            std::env::var("CALL_HTTP").unwrap_or_else(|_| "http://localhost:8080/".into());
        let resp_addr = std::env::var("CALL_RESP").unwrap_or_else(|_| "localhost:6379".into());
        let http = match call_http(&http_url) {
            Ok(s) => format!("http {s}"),
            Err(e) => format!("http error: {e}"),
        };
        let resp = match call_resp(&resp_addr) {
            Ok(s) => format!("resp {s}"),
            Err(e) => format!("resp error: {e}"),
        };
        let page = format!("{http}\n{resp}\n");
        println!("{}", page.replace('\n', " | "));

        let headers = Fields::new();
        let _ = headers.set("content-type", &[b"text/plain; charset=utf-8".to_vec()]);
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("a new response has a body");
        ResponseOutparam::set(response_out, Ok(response));
        let out = body.write().expect("a new body has a stream");
        let _ = out.blocking_write_and_flush(page.as_bytes());
        drop(out);
        let _ = OutgoingBody::finish(body, None);
    }
}
