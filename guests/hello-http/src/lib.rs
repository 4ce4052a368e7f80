//! `waci/hello-http`: the quickstart service. Answers every request with a small HTML page
//! (as ACI's aci-helloworld does) and prints one log line per request: method, path, user
//! agent.

use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(HelloHttp);

struct HelloHttp;

/// The page, also served by the benchmark's native peer (`benches/hello-native`).
const PAGE: &str = include_str!("page.html");

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

impl wasip2::exports::http::incoming_handler::Guest for HelloHttp {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let method = method_name(&request.method());
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let agent = request
            .headers()
            .get("user-agent")
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_else(|| "-".into());
        println!("{method} {path} \"{agent}\"");

        let headers = Fields::new();
        let _ = headers.set("content-type", &[b"text/html; charset=utf-8".to_vec()]);
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("a new response has a body");
        ResponseOutparam::set(response_out, Ok(response));
        if method != "HEAD" {
            let out = body.write().expect("a new body has a stream");
            // blocking_write_and_flush takes at most 4096 bytes at a time.
            for chunk in PAGE.as_bytes().chunks(4096) {
                if out.blocking_write_and_flush(chunk).is_err() {
                    return;
                }
            }
            drop(out);
        }
        let _ = OutgoingBody::finish(body, None);
    }
}
