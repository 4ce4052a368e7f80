//! `waci/files-http`: a service that exposes its file system and environment over HTTP, so
//! tests can check what a container can see: mounted volumes, sandbox walls, env vars.
//!
//! Routes (GET only; anything else gets a one-line help text with 200):
//! - `/read?path=P`: 200 with the file's bytes, or 404 `error: <io error>`
//! - `/list?path=P`: 200 with the directory's entry names, one per line (sorted), or 404
//! - `/write?path=P&text=T`: writes T to P; 200 `written`, or 500 `error: <io error>`
//! - `/env`: 200 with every env var as `K=V` lines (sorted)
//! - `/dirty`: 200 with `calls=N dirty=D`: how many requests this instance has seen (a static
//!   counter) and how many bytes of a 3 MiB static scratch area were not zero; then it
//!   writes the whole area. A fresh instance per request always answers `calls=1 dirty=0`.
//!
//! - `/trap`: the instance traps (a Rust panic) before it answers
//!
//! A route that needs `path` and lacks it answers 400. Query values are percent-decoded
//! (`+` is a space, as in HTML forms). Every request logs `<method> <path+query>`.
//!
//! std::fs and std::env reach beyond the wasi:http/proxy world (wasi:filesystem,
//! wasi:cli/environment); the platform links those for services too.

use std::io::Write as _;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(FilesHttp);

struct FilesHttp;

const HELP: &str =
    "files-http: GET /read?path=P | /list?path=P | /write?path=P&text=T | /env | /dirty | /trap\n";

const TEXT: &str = "text/plain; charset=utf-8";
const BYTES: &str = "application/octet-stream";

/// What a route answers: status, content type, body.
type Reply = (u16, &'static str, Vec<u8>);

impl wasip2::exports::http::incoming_handler::Guest for FilesHttp {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let method = request.method();
        let target = request.path_with_query().unwrap_or_else(|| "/".into());
        println!("{} {target}", method_name(&method));
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let params = parse_query(query);
        let (status, content_type, body) = match (method, path) {
            (Method::Get, "/read") => read(&params),
            (Method::Get, "/list") => list(&params),
            (Method::Get, "/write") => write(&params),
            (Method::Get, "/env") => env(),
            (Method::Get, "/dirty") => dirty(),
            (Method::Get, "/trap") => panic!("trapping as asked"),
            _ => text(200, HELP.into()),
        };
        respond(response_out, status, content_type, &body);
    }
}

fn read(params: &[(String, String)]) -> Reply {
    let Some(path) = param(params, "path") else {
        return missing("path");
    };
    match std::fs::read(path) {
        Ok(bytes) => (200, BYTES, bytes),
        Err(e) => text(404, format!("error: {e}\n")),
    }
}

fn list(params: &[(String, String)]) -> Reply {
    let Some(path) = param(params, "path") else {
        return missing("path");
    };
    let entries = std::fs::read_dir(path).and_then(|dir| {
        dir.map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<Vec<String>>>()
    });
    match entries {
        Ok(mut names) => {
            names.sort();
            let body: String = names.iter().map(|n| format!("{n}\n")).collect();
            text(200, body)
        }
        Err(e) => text(404, format!("error: {e}\n")),
    }
}

fn write(params: &[(String, String)]) -> Reply {
    let Some(path) = param(params, "path") else {
        return missing("path");
    };
    let content = param(params, "text").unwrap_or("");
    match std::fs::write(path, content) {
        Ok(()) => text(200, "written\n".into()),
        Err(e) => text(500, format!("error: {e}\n")),
    }
}

fn env() -> Reply {
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    let body: String = vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    text(200, body)
}

static CALLS: AtomicU32 = AtomicU32::new(0);
/// Larger than the pages a reused instance slot keeps resident, so both ways a slot is reset
/// (copied back in place, and handed back to the kernel) are seen.
static SCRATCH: [AtomicU8; 3 << 20] = [const { AtomicU8::new(0) }; 3 << 20];

fn dirty() -> Reply {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    let dirty = SCRATCH
        .iter()
        .filter(|b| b.load(Ordering::Relaxed) != 0)
        .count();
    for b in &SCRATCH {
        b.store(0xA5, Ordering::Relaxed);
    }
    text(200, format!("calls={calls} dirty={dirty}\n"))
}

fn text(status: u16, body: String) -> Reply {
    (status, TEXT, body.into_bytes())
}

fn missing(name: &str) -> Reply {
    text(400, format!("error: missing query parameter `{name}`\n"))
}

/// The first value of `name`, as `?a=1&a=2` in most servers.
fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Splits `a=1&b=x%20y` into decoded pairs; a key without `=` has an empty value.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (a space in form-encoded queries). A `%` not followed by
/// two hex digits is kept as it is; bytes that are not UTF-8 become U+FFFD.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |at: usize| bytes.get(at).copied().and_then(hex);
                match (digit(i + 1), digit(i + 2)) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn method_name(m: &Method) -> String {
    match m {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(s) => s.clone(),
    }
}

fn respond(response_out: ResponseOutparam, status: u16, content_type: &str, body: &[u8]) {
    let headers = Fields::new();
    let _ = headers.set("content-type", &[content_type.as_bytes().to_vec()]);
    let response = OutgoingResponse::new(headers);
    // Valid codes only come from this file, so this cannot fail.
    let _ = response.set_status_code(status);
    let body_out = response.body().expect("a new response has a body");
    ResponseOutparam::set(response_out, Ok(response));
    let Ok(mut stream) = body_out.write() else {
        return;
    };
    // The std::io::Write impl loops over check-write, so bodies of any size go through.
    if stream
        .write_all(body)
        .and_then(|()| std::io::Write::flush(&mut stream))
        .is_err()
    {
        return;
    }
    drop(stream);
    let _ = OutgoingBody::finish(body_out, None);
}
