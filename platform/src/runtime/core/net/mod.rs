//! A guest's network (DESIGN.md §5): what `wasi:sockets` and outgoing HTTP may do for one
//! container. [`Network`] holds the platform's egress policy ([`policy::Egress`]), the
//! group's IP and declared ports, and the names the platform answers itself; the sandbox
//! turns it into wasmtime-wasi's socket address check, and `sockets.rs` puts the few
//! `wasi:sockets` functions that must see the group in front of wasmtime-wasi's own:
//!
//! - a bind of a declared port on `0.0.0.0`, `127.0.0.1` or the group's IP lands on the
//!   group's IP; a bind of any other port is refused (port 0, an ephemeral port, is free);
//! - a connect to loopback on a port a container of the group declares goes to the group's
//!   IP; `localhost` resolves to the group's IP, and the platform's zone to group IPs;
//! - every connect and datagram sent is checked against the egress policy.
//!
//! Each refusal is explained once per container and address through [`Network::warnings`],
//! which the supervisor turns into a `Warning` event. No store, no API: the core only.

pub mod policy;
pub mod rule;
pub(crate) mod sockets;

use super::service::Service;
use crate::model::{Port, Protocol};
use policy::Egress;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};
use wasmtime_wasi::sockets::SocketAddrUse;

/// The names a platform answers for itself (its zone), without the host's resolver.
pub trait Names: Send + Sync {
    /// `None`: not a name of the zone (ask the host). `Some(None)`: a name of the zone that
    /// no group holds. `Some(Some(ip))`: that group's IP.
    fn resolve(&self, name: &str) -> Option<Option<Ipv4Addr>>;
}

impl std::fmt::Debug for dyn Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Names")
    }
}

/// A group's services by port, for outgoing HTTP to `localhost` handled in process. Filled
/// as the group's services start; weak, so a stopped service is gone.
pub type LocalServices = Arc<Mutex<HashMap<u16, Weak<Service>>>>;

/// At most this many distinct refusals are explained per container: past it a guest that
/// tries every address gets no more events (each refusal still fails in the guest).
const MAX_WARNINGS: usize = 64;

/// Explains each refusal once (per container and what was refused).
pub struct Warnings {
    seen: Mutex<HashSet<String>>,
    report: Box<dyn Fn(String) + Send + Sync>,
}

impl Warnings {
    pub fn new(report: impl Fn(String) + Send + Sync + 'static) -> Warnings {
        Warnings {
            seen: Mutex::new(HashSet::new()),
            report: Box::new(report),
        }
    }

    /// Reports `message()` unless `key` was reported before.
    pub fn once(&self, key: String, message: impl FnOnce() -> String) {
        let new = {
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            seen.len() < MAX_WARNINGS && seen.insert(key)
        };
        if new {
            (self.report)(message());
        }
    }
}

impl Default for Warnings {
    fn default() -> Self {
        Warnings::new(|_| {})
    }
}

/// The network of one container.
pub struct Network {
    pub container: Arc<str>,
    pub egress: Arc<Egress>,
    /// The group's IP, where its declared ports live; `None` if the group has no IP.
    pub group_ip: Option<Ipv4Addr>,
    /// Every port a container of the group declares.
    pub group_ports: Arc<[Port]>,
    /// The ports this container may bind itself: a command's declared ports (a service's are
    /// bound by the platform).
    pub own_ports: Vec<Port>,
    pub names: Option<Arc<dyn Names>>,
    pub local_services: LocalServices,
    pub warnings: Warnings,
    /// Who sent this container a datagram lately: a UDP server may answer them wherever
    /// they are (as a TCP server answers on the connection it accepted).
    pub peers: Peers,
}

/// At most this many recent UDP peers are remembered per container.
const MAX_PEERS: usize = 1024;

/// The recent senders of datagrams to a container, oldest forgotten first.
#[derive(Default)]
pub struct Peers(Mutex<(HashSet<SocketAddr>, std::collections::VecDeque<SocketAddr>)>);

impl Peers {
    fn heard(&self, addr: SocketAddr) {
        let mut peers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if peers.0.insert(addr) {
            peers.1.push_back(addr);
            if peers.1.len() > MAX_PEERS
                && let Some(old) = peers.1.pop_front()
            {
                peers.0.remove(&old);
            }
        }
    }

    fn knows(&self, addr: SocketAddr) -> bool {
        let peers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        peers.0.contains(&addr)
    }
}

impl Network {
    /// A network with the default policy around `platform` (the platform's listeners), in
    /// no group: it may connect out, bind nothing but ephemeral ports, and resolve through
    /// the host.
    pub fn isolated(container: Arc<str>, platform: Arc<[SocketAddr]>) -> Network {
        Network {
            container,
            egress: Arc::new(Egress {
                platform,
                ..Egress::default()
            }),
            group_ip: None,
            group_ports: Arc::from(vec![]),
            own_ports: vec![],
            names: None,
            local_services: LocalServices::default(),
            warnings: Warnings::default(),
            peers: Peers::default(),
        }
    }

    /// Whether a container of the group declares `port` for `protocol`.
    fn declared(&self, port: u16, protocol: Protocol) -> bool {
        self.group_ports
            .iter()
            .any(|p| p.port == port && p.protocol == protocol)
    }

    /// Where a bind of `addr` lands: a declared port on the unspecified address, loopback or
    /// the group's IP goes to the group's IP; anything else is left for [`Network::check`].
    pub fn bind_address(&self, addr: SocketAddr) -> SocketAddr {
        let ip = addr.ip().to_canonical();
        match self.group_ip {
            Some(g)
                if addr.port() != 0
                    && (ip.is_unspecified() || ip.is_loopback())
                    && addr.is_ipv4() =>
            {
                SocketAddr::from((g, addr.port()))
            }
            _ => addr,
        }
    }

    /// Where a connection to `addr` goes: loopback outside the pool on a port the group
    /// declares is the group's own `localhost`, its IP.
    pub fn connect_address(&self, addr: SocketAddr, protocol: Protocol) -> SocketAddr {
        match (self.group_ip, addr) {
            (Some(g), SocketAddr::V4(a))
                if self.egress.is_host_loopback(addr.ip()) && self.declared(a.port(), protocol) =>
            {
                SocketAddr::from((g, a.port()))
            }
            _ => addr,
        }
    }

    /// Whether `addr` is the group's own localhost (loopback or the group's IP) on a port
    /// of the group, for outgoing HTTP: `Some(port)` if so.
    pub fn local_port(&self, addr: SocketAddr) -> Option<u16> {
        let ip = addr.ip().to_canonical();
        let own =
            self.egress.is_host_loopback(ip) || self.group_ip.is_some_and(|g| ip == IpAddr::V4(g));
        (own && self.declared(addr.port(), Protocol::Tcp)).then_some(addr.port())
    }

    /// The running service of the group that declares `port`, if any.
    pub fn local_service(&self, port: u16) -> Option<Arc<Service>> {
        let services = self
            .local_services
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        services.get(&port).and_then(Weak::upgrade)
    }

    /// What the host's resolver is asked for `name`: the group's IP for `localhost`, a group
    /// IP for a name of the platform's zone; `Err(())` for a name of the zone no group holds.
    pub fn lookup_name(&self, name: &str) -> Result<String, ()> {
        let lower = name.trim_end_matches('.').to_ascii_lowercase();
        if lower == "localhost" {
            return Ok(self
                .group_ip
                .map_or_else(|| "127.0.0.1".to_string(), |g| g.to_string()));
        }
        match self.names.as_ref().and_then(|n| n.resolve(&lower)) {
            None => Ok(name.to_string()),
            Some(Some(ip)) => Ok(ip.to_string()),
            Some(None) => Err(()),
        }
    }

    /// The socket address check wasmtime-wasi asks before every bind, connect and send
    /// (`addr` already rewritten by [`Network::bind_address`]/[`Network::connect_address`]).
    pub fn check(&self, addr: SocketAddr, use_: SocketAddrUse) -> bool {
        match use_ {
            SocketAddrUse::TcpConnect => self.egress_allows(addr),
            SocketAddrUse::UdpSend => self.peers.knows(addr) || self.egress_allows(addr),
            SocketAddrUse::TcpBind => self.may_bind(addr, Protocol::Tcp),
            SocketAddrUse::UdpBind => self.may_bind(addr, Protocol::Udp),
            SocketAddrUse::UdpReceive => {
                self.peers.heard(addr);
                true
            }
            SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => true,
        }
    }

    /// The egress policy, with one Warning per refused address.
    pub fn egress_allows(&self, addr: SocketAddr) -> bool {
        match self.egress.decide(addr) {
            Ok(()) => true,
            Err(denial) => {
                self.warnings.once(format!("connect {addr}"), || {
                    denial.explain(&self.container, addr)
                });
                false
            }
        }
    }

    /// Ephemeral ports are free; a fixed port only if this container declares it, and only
    /// on the group's IP.
    pub fn may_bind(&self, addr: SocketAddr, protocol: Protocol) -> bool {
        if addr.port() == 0 {
            return true;
        }
        let name = protocol_name(protocol);
        let declared = self
            .own_ports
            .iter()
            .any(|p| p.port == addr.port() && p.protocol == protocol);
        let why = match self.group_ip {
            _ if !declared => format!(
                "the container does not declare port {}/{name}; declare it in the container's \
                 ports (and the group's ipAddress ports to expose it)",
                addr.port()
            ),
            None => "the group has no IP address; give it one with ipAddress".to_string(),
            Some(g) if addr.ip() != IpAddr::V4(g) => format!(
                "only the group's IP {g} (or 0.0.0.0 or 127.0.0.1, which land there) can be \
                 bound; there is no IPv6 address for groups"
            ),
            Some(_) => return true,
        };
        self.warnings.once(format!("bind {addr}/{name}"), || {
            format!(
                "Container {} was refused a bind of {addr}/{name}: {why}.",
                self.container
            )
        });
        false
    }

    /// A bind the policy allowed failed in the host (in use, privileged port): explained
    /// once, since the port is not served.
    pub fn bind_failed(&self, addr: SocketAddr, protocol: Protocol, reason: &str) {
        let name = protocol_name(protocol);
        let hint = if addr.port() < 1024 && reason.contains("access") {
            " Ports below 1024 need root or CAP_NET_BIND_SERVICE: run `setcap cap_net_bind_service=+ep <path to waci>`."
        } else {
            ""
        };
        self.warnings.once(format!("bind failed {addr}/{name} {reason}"), || {
            format!(
                "Container {} could not bind {addr}/{name}: {reason}; the port is not served until a bind succeeds.{hint}",
                self.container
            )
        });
    }
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
    }
}

#[cfg(test)]
mod tests {
    use super::rule::parse_outbound;
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Container `web` of a group at 127.77.0.5 whose containers declare 80 and 8080 (TCP)
    /// and 5300 (UDP); `web` itself declares 8080 and 5300. Counts its Warnings.
    fn web(allow: &[&str]) -> (Network, Arc<AtomicUsize>) {
        let warned = Arc::new(AtomicUsize::new(0));
        let count = warned.clone();
        let port = |port, protocol| Port { port, protocol };
        let net = Network {
            container: "web".into(),
            egress: Arc::new(Egress {
                allow: allow.iter().map(|r| parse_outbound(r).unwrap()).collect(),
                pool: Some(("127.77.0.0".parse().unwrap(), 16)),
                platform: vec!["127.0.0.1:8080".parse().unwrap()].into(),
                ..Egress::default()
            }),
            group_ip: Some("127.77.0.5".parse().unwrap()),
            group_ports: vec![
                port(80, Protocol::Tcp),
                port(8080, Protocol::Tcp),
                port(5300, Protocol::Udp),
            ]
            .into(),
            own_ports: vec![port(8080, Protocol::Tcp), port(5300, Protocol::Udp)],
            names: None,
            local_services: LocalServices::default(),
            warnings: Warnings::new(move |_| {
                count.fetch_add(1, Ordering::Relaxed);
            }),
            peers: Peers::default(),
        };
        (net, warned)
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn binds_of_declared_ports_land_on_the_groups_ip() {
        let (net, warned) = web(&[]);
        for asked in ["0.0.0.0:8080", "127.0.0.1:8080", "127.77.0.5:8080"] {
            assert_eq!(
                net.bind_address(addr(asked)),
                addr("127.77.0.5:8080"),
                "{asked}"
            );
        }
        assert_eq!(net.bind_address(addr("0.0.0.0:0")), addr("0.0.0.0:0"));
        assert!(net.may_bind(addr("127.77.0.5:8080"), Protocol::Tcp));
        assert!(net.may_bind(addr("127.77.0.5:5300"), Protocol::Udp));
        assert!(
            net.may_bind(addr("0.0.0.0:0"), Protocol::Tcp),
            "ephemeral ports are free"
        );
        assert_eq!(warned.load(Ordering::Relaxed), 0);
        // Not its own (80 is a sibling's), the wrong protocol, IPv6: refused, each once.
        for _ in 0..3 {
            assert!(!net.may_bind(addr("127.77.0.5:80"), Protocol::Tcp));
            assert!(!net.may_bind(addr("127.77.0.5:8080"), Protocol::Udp));
            assert!(!net.may_bind(addr("[::]:8080"), Protocol::Tcp));
        }
        assert_eq!(warned.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn localhost_is_the_group_on_its_declared_ports() {
        let (net, _) = web(&["127.0.0.1:5432"]);
        let tcp = |a: &str| net.connect_address(addr(a), Protocol::Tcp);
        assert_eq!(tcp("127.0.0.1:80"), addr("127.77.0.5:80"));
        assert_eq!(
            tcp("127.0.0.1:5432"),
            addr("127.0.0.1:5432"),
            "the host's, as allowed"
        );
        assert_eq!(
            tcp("127.77.0.9:80"),
            addr("127.77.0.9:80"),
            "another group's IP"
        );
        assert_eq!(tcp("10.0.0.1:80"), addr("10.0.0.1:80"));
        assert_eq!(net.local_port(addr("127.77.0.5:8080")), Some(8080));
        assert_eq!(net.local_port(addr("127.0.0.1:80")), Some(80));
        assert_eq!(net.local_port(addr("127.77.0.9:80")), None);
        assert_eq!(net.local_port(addr("127.0.0.1:81")), None);
        assert_eq!(net.lookup_name("LOCALHOST."), Ok("127.77.0.5".to_string()));
        assert_eq!(
            net.lookup_name("example.com"),
            Ok("example.com".to_string())
        );
    }

    #[test]
    fn a_udp_server_may_answer_whoever_sent_to_it() {
        let (net, warned) = web(&[]);
        let client = addr("127.0.0.1:40000");
        assert!(
            !net.check(client, SocketAddrUse::UdpSend),
            "the host's loopback is closed"
        );
        assert!(net.check(client, SocketAddrUse::UdpReceive));
        assert!(
            net.check(client, SocketAddrUse::UdpSend),
            "an answer to a datagram"
        );
        assert_eq!(warned.load(Ordering::Relaxed), 1);
    }
}
