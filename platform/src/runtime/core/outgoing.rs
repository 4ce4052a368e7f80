//! Outgoing HTTP from guests (`wasi:http/outgoing-handler`), under the same rule as sockets
//! (`net::policy`): a request whose resolved addresses the egress policy closes (the
//! platform's own listeners always) is refused with `DestinationIpProhibited` and one
//! Warning. `localhost` on a port a sibling service declares is answered by that service in
//! process, with no socket, as the front door does; the platform's zone names resolve to
//! group IPs without the host's resolver.
//!
//! The check is on the addresses resolved before the request is sent; for a name outside
//! the zone the connection resolves it again, so a name that changes its answer in between
//! is not caught.

use super::net::Network;
use crate::model::Protocol;
use std::net::SocketAddr;
use std::sync::Arc;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// The network the requests of one instance go out on.
#[derive(Clone)]
pub struct GuestHttpHooks {
    pub net: Arc<Network>,
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
        let net = self.net.clone();
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
            let host = authority.host().trim_matches(['[', ']']).to_string();
            let asked = net
                .lookup_name(&host)
                .map_err(|()| Error::DestinationNotFound)?;
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((asked.as_str(), port))
                .await
                .map_err(|_| Error::DestinationNotFound)?
                .collect();
            let targets: Vec<SocketAddr> = resolved
                .iter()
                .map(|a| net.connect_address(*a, Protocol::Tcp))
                .collect();
            // The group's own localhost: its service, in process.
            if let Some(service) = targets
                .iter()
                .find_map(|t| net.local_port(*t))
                .and_then(|p| net.local_service(p))
            {
                let response = service.handle(request).await;
                return Ok((
                    response,
                    Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
                ));
            }
            let refused = targets.iter().filter(|t| !net.egress_allows(**t)).count();
            if refused > 0 || targets.is_empty() {
                return Err(Error::DestinationIpProhibited);
            }
            // A name the platform answered, or loopback that is the group's: the connection
            // goes to the address decided here, not to what the host would resolve.
            let request = if asked != host || targets != resolved {
                redirect(request, targets[0])?
            } else {
                request
            };
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            use http_body_util::BodyExt;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

/// `request` sent to `to`, keeping the name it was made for in its `Host` header.
fn redirect(
    mut request: http::Request<WasiBody>,
    to: SocketAddr,
) -> Result<http::Request<WasiBody>, Error> {
    let mut parts = request.uri().clone().into_parts();
    if let Some(a) = &parts.authority
        && !request.headers().contains_key(http::header::HOST)
        && let Ok(v) = http::HeaderValue::from_str(a.as_str())
    {
        request.headers_mut().insert(http::header::HOST, v);
    }
    parts.authority = Some(
        to.to_string()
            .parse()
            .map_err(|_| Error::HttpRequestUriInvalid)?,
    );
    *request.uri_mut() = http::Uri::from_parts(parts).map_err(|_| Error::HttpRequestUriInvalid)?;
    Ok(request)
}
