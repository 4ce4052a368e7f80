//! The `wasi:sockets` functions that must know the guest's group, put in front of
//! wasmtime-wasi's own in the linker (everything else, and the sockets themselves, stay
//! wasmtime-wasi's): a bind goes to [`Network::bind_address`], a TCP connect to
//! [`Network::connect_address`], a name to [`Network::lookup_name`]; then wasmtime-wasi's
//! implementation does the rest, asking [`Network::check`] before any system call.
//!
//! It knows wasmtime-wasi's interface names and types, and nothing of the store or API.

use super::Network;
use crate::model::Protocol;
use crate::runtime::core::host::Host;
use std::net::SocketAddr;
use std::sync::Arc;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::Host as _;
use wasmtime_wasi::p2::bindings::sockets::network::{ErrorCode, Host as _, IpSocketAddress};
use wasmtime_wasi::p2::bindings::sockets::tcp::HostTcpSocket;
use wasmtime_wasi::p2::bindings::sockets::udp::HostUdpSocket;
use wasmtime_wasi::p2::{Network as WasiNetwork, SocketError, TcpSocket, UdpSocket};
use wasmtime_wasi::sockets::{WasiSocketsCtxView, WasiSocketsView};

/// The interfaces as wasmtime-wasi 48 registers them (guests importing any 0.2.x version
/// are matched to these by semver).
const TCP: &str = "wasi:sockets/tcp@0.2.12";
const UDP: &str = "wasi:sockets/udp@0.2.12";
const NAME_LOOKUP: &str = "wasi:sockets/ip-name-lookup@0.2.12";

/// A host function's result as the component model returns it: an error code for the
/// guest, or a trap for anything else.
fn lower<T>(
    view: &mut WasiSocketsCtxView<'_>,
    r: Result<T, SocketError>,
) -> wasmtime::Result<(Result<T, ErrorCode>,)> {
    Ok((match r {
        Ok(v) => Ok(v),
        Err(e) => Err(view.convert_error_code(e)?),
    },))
}

/// After a bind the policy allowed, a failure of the host's own (in use, privileged port)
/// is reported: that port is not served.
fn report_bind(net: &Network, addr: SocketAddr, protocol: Protocol, r: &Result<(), ErrorCode>) {
    if let Err(e) = r
        && addr.port() != 0
        && net.may_bind(addr, protocol)
    {
        let reason = match e {
            ErrorCode::AddressInUse => "the address is in use by another process".to_string(),
            ErrorCode::AccessDenied => "access denied by the host".to_string(),
            ErrorCode::AddressNotBindable => "the address does not exist on this host".to_string(),
            other => format!("{other:?}"),
        };
        net.bind_failed(addr, protocol, &reason);
    }
}

/// Puts the group-aware functions in front of wasmtime-wasi's (which must be in `linker`
/// already).
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut tcp = linker.instance(TCP)?;
    tcp.func_wrap_async(
        "[method]tcp-socket.start-bind",
        |mut store: StoreContextMut<'_, Host>,
         (this, network, addr): (Resource<TcpSocket>, Resource<WasiNetwork>, IpSocketAddress)| {
            Box::new(async move {
                let host = store.data_mut();
                let net = host.net.clone();
                let addr = net.bind_address(addr.into());
                let mut view = host.sockets();
                let r = HostTcpSocket::start_bind(&mut view, this, network, addr.into()).await;
                let r = lower(&mut view, r)?;
                report_bind(&net, addr, Protocol::Tcp, &r.0);
                Ok(r)
            })
        },
    )?;
    tcp.func_wrap(
        "[method]tcp-socket.start-connect",
        |mut store: StoreContextMut<'_, Host>,
         (this, network, addr): (Resource<TcpSocket>, Resource<WasiNetwork>, IpSocketAddress)| {
            let host = store.data_mut();
            let addr = host.net.connect_address(addr.into(), Protocol::Tcp);
            let mut view = host.sockets();
            let r = HostTcpSocket::start_connect(&mut view, this, network, addr.into());
            lower(&mut view, r)
        },
    )?;
    let mut udp = linker.instance(UDP)?;
    udp.func_wrap_async(
        "[method]udp-socket.start-bind",
        |mut store: StoreContextMut<'_, Host>,
         (this, network, addr): (Resource<UdpSocket>, Resource<WasiNetwork>, IpSocketAddress)| {
            Box::new(async move {
                let host = store.data_mut();
                let net = host.net.clone();
                let addr = net.bind_address(addr.into());
                let mut view = host.sockets();
                let r = HostUdpSocket::start_bind(&mut view, this, network, addr.into()).await;
                let r = lower(&mut view, r)?;
                report_bind(&net, addr, Protocol::Udp, &r.0);
                Ok(r)
            })
        },
    )?;
    let mut lookup = linker.instance(NAME_LOOKUP)?;
    lookup.func_wrap(
        "resolve-addresses",
        |mut store: StoreContextMut<'_, Host>, (network, name): (Resource<WasiNetwork>, String)| {
            let host = store.data_mut();
            let net: Arc<Network> = host.net.clone();
            let mut view = host.sockets();
            match net.lookup_name(&name) {
                Ok(name) => {
                    let r = view.resolve_addresses(network, name);
                    lower(&mut view, r)
                }
                Err(()) => Ok((Err(ErrorCode::NameUnresolvable),)),
            }
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
