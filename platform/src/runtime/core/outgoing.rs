//! Outgoing HTTP from guests (`wasi:http/outgoing-handler`): allowed, as a container in ACI
//! can call out, except to the platform's own listeners (control API, front door, DNS),
//! which a guest must never reach.

use std::net::SocketAddr;
use std::sync::Arc;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// The platform's own addresses; a request that resolves to one of them is refused.
#[derive(Clone, Default)]
pub struct GuestHttpHooks {
    pub forbidden: Arc<[SocketAddr]>,
}

/// Whether `target` reaches `listener`: same port, and the same IP, or the listener is bound
/// to every address, or both are loopback (127.0.0.0/8 reaches 127.0.0.1 listeners via lo).
fn reaches(target: &SocketAddr, listener: &SocketAddr) -> bool {
    target.port() == listener.port()
        && (target.ip() == listener.ip()
            || listener.ip().is_unspecified()
            || (target.ip().is_loopback() && listener.ip().is_loopback()))
}

type Sent = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), Error>> + Send>,
    ),
    Error,
>;

impl WasiHttpHooks for GuestHttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        let forbidden = self.forbidden.clone();
        drop(fut);
        Box::new(async move {
            let uri = request.uri();
            let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
            let port = authority.port_u16().unwrap_or(
                if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
                    443
                } else {
                    80
                },
            );
            let targets: Vec<SocketAddr> =
                tokio::net::lookup_host((authority.host().trim_matches(['[', ']']), port))
                    .await
                    .map_err(|_| Error::DestinationNotFound)?
                    .collect();
            if targets
                .iter()
                .any(|t| forbidden.iter().any(|f| reaches(t, f)))
            {
                return Err(Error::DestinationIpProhibited);
            }
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            use http_body_util::BodyExt;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::reaches;

    fn check(target: &str, listener: &str, expected: bool) {
        assert_eq!(
            reaches(&target.parse().unwrap(), &listener.parse().unwrap()),
            expected,
            "{target} → {listener}"
        );
    }

    #[test]
    fn the_platforms_listeners_are_recognised() {
        check("127.0.0.1:8080", "127.0.0.1:8080", true);
        check("127.0.0.2:8080", "127.0.0.1:8080", true);
        check("127.0.0.1:8080", "0.0.0.0:8080", true);
        check("127.0.0.1:8081", "127.0.0.1:8080", false);
        check("127.77.0.1:80", "127.0.0.1:8080", false);
    }
}
