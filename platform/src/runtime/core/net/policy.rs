//! The egress policy (DESIGN.md §5): which addresses a guest may reach, over `wasi:sockets`
//! and outgoing HTTP alike. One rule for both, decided here and nowhere else:
//!
//! 1. the platform's own listeners (API, front door, DNS) are never reachable;
//! 2. otherwise the narrowest `--allow-outbound`/`--deny-outbound` rule that matches decides
//!    (a longer prefix, then a port, is narrower; a deny wins a tie);
//! 3. otherwise the defaults: the group-IP pool is open; the rest of the host's loopback
//!    (`127.0.0.0/8`, `::1`, and the unspecified address, which connects to it) and
//!    link-local `169.254.0.0/16` (cloud metadata) are closed; everything else is open.
//!
//! It knows addresses only: no sockets, no guest, no store.

use super::rule::OutboundRule;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// The policy of one platform, shared by every guest.
#[derive(Debug, Clone, Default)]
pub struct Egress {
    pub allow: Vec<OutboundRule>,
    pub deny: Vec<OutboundRule>,
    /// The group-IP pool (network, prefix): open although it is loopback.
    pub pool: Option<(Ipv4Addr, u8)>,
    /// The platform's own listeners.
    pub platform: Arc<[SocketAddr]>,
}

/// Why a destination is closed, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// What closes it ("the host's loopback is closed to guests by default").
    pub why: String,
    /// The flag that would open it, if any.
    pub allow_with: Option<String>,
}

impl Denial {
    /// The sentence of the container's Warning event.
    pub fn explain(&self, container: &str, addr: SocketAddr) -> String {
        let fix = match &self.allow_with {
            Some(flag) => format!(" Allow it with `waci serve {flag}`."),
            None => String::new(),
        };
        format!(
            "Container {container} was refused a connection to {addr}: {}.{fix}",
            self.why
        )
    }
}

/// Whether `target` reaches `listener`: the same port, and the same address or a listener
/// bound to every address.
pub fn reaches(target: &SocketAddr, listener: &SocketAddr) -> bool {
    target.port() == listener.port()
        && (target.ip().to_canonical() == listener.ip().to_canonical()
            || listener.ip().is_unspecified())
}

impl Egress {
    /// Whether `ip` is a group IP (of the pool, whether handed out or not).
    pub fn in_pool(&self, ip: IpAddr) -> bool {
        let (IpAddr::V4(v4), Some(pool)) = (ip.to_canonical(), self.pool) else {
            return false;
        };
        let (net, prefix) = pool;
        let mask = u32::MAX
            .checked_shl(32 - u32::from(prefix.min(32)))
            .unwrap_or(0);
        u32::from(v4) & mask == u32::from(net) & mask
    }

    /// Whether `ip` is the host's own loopback rather than a group's IP.
    pub fn is_host_loopback(&self, ip: IpAddr) -> bool {
        ip.to_canonical().is_loopback() && !self.in_pool(ip)
    }

    /// `Ok` if a guest may send to `addr`.
    pub fn decide(&self, addr: SocketAddr) -> Result<(), Denial> {
        let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
        if self.platform.iter().any(|l| reaches(&addr, l)) {
            return Err(Denial {
                why: "it is one of the platform's own listeners (API, front door or DNS), \
                      which guests never reach"
                    .into(),
                allow_with: None,
            });
        }
        let narrowest = |rules: &[OutboundRule]| {
            rules
                .iter()
                .filter(|r| r.contains(addr))
                .max_by_key(|r| r.specificity())
                .copied()
        };
        match (narrowest(&self.allow), narrowest(&self.deny)) {
            (Some(a), Some(d)) if a.specificity() > d.specificity() => return Ok(()),
            (_, Some(d)) => {
                return Err(Denial {
                    why: format!("`--deny-outbound {d}` closes it"),
                    allow_with: Some(format!("--allow-outbound {}", exact(addr))),
                });
            }
            (Some(_), None) => return Ok(()),
            (None, None) => {}
        }
        let ip = addr.ip();
        if self.in_pool(ip) {
            return Ok(());
        }
        let closed = if ip.is_loopback() || ip.is_unspecified() {
            "the host's own loopback is closed to guests by default"
        } else if matches!(ip, IpAddr::V4(v4) if v4.is_link_local()) {
            "link-local addresses (cloud metadata) are closed to guests by default"
        } else {
            return Ok(());
        };
        Err(Denial {
            why: closed.into(),
            allow_with: Some(format!("--allow-outbound {}", exact(addr))),
        })
    }
}

/// `addr` as the narrowest rule that opens it.
fn exact(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::core::net::rule::parse_outbound;

    fn policy(allow: &[&str], deny: &[&str]) -> Egress {
        Egress {
            allow: allow.iter().map(|r| parse_outbound(r).unwrap()).collect(),
            deny: deny.iter().map(|r| parse_outbound(r).unwrap()).collect(),
            pool: Some(("127.77.0.0".parse().unwrap(), 16)),
            platform: vec![
                "127.0.0.1:8080".parse().unwrap(),
                "0.0.0.0:8081".parse().unwrap(),
            ]
            .into(),
        }
    }

    /// `expected`: `Ok(())`, or a part of the reason and the flag that would open it.
    fn check(p: &Egress, addr: &str, expected: Result<(), (&str, Option<&str>)>) {
        let got = p.decide(addr.parse().unwrap());
        match (&got, expected) {
            (Ok(()), Ok(())) => {}
            (Err(d), Err((why, flag))) => {
                assert!(d.why.contains(why), "{addr}: {d:?}");
                assert_eq!(d.allow_with.as_deref(), flag, "{addr}");
            }
            _ => panic!("{addr}: {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn the_defaults_close_the_host_and_open_the_rest() {
        let p = policy(&[], &[]);
        check(&p, "93.184.215.14:443", Ok(()));
        check(&p, "10.1.2.3:5432", Ok(()));
        check(&p, "127.77.3.4:80", Ok(()));
        let lo = Err(("loopback", Some("--allow-outbound 127.0.0.1:5432")));
        check(&p, "127.0.0.1:5432", lo);
        check(
            &p,
            "0.0.0.0:5432",
            Err(("loopback", Some("--allow-outbound 0.0.0.0:5432"))),
        );
        check(
            &p,
            "[::1]:6379",
            Err(("loopback", Some("--allow-outbound [::1]:6379"))),
        );
        check(
            &p,
            "[::ffff:127.0.0.1]:22",
            Err(("loopback", Some("--allow-outbound 127.0.0.1:22"))),
        );
        check(
            &p,
            "169.254.169.254:80",
            Err(("link-local", Some("--allow-outbound 169.254.169.254:80"))),
        );
    }

    #[test]
    fn the_platforms_listeners_stay_closed_whatever_is_allowed() {
        let p = policy(&["127.0.0.0/8", "0.0.0.0/0"], &[]);
        check(&p, "127.0.0.1:8080", Err(("platform's own", None)));
        check(&p, "127.0.0.5:8081", Err(("platform's own", None)));
        check(&p, "127.77.0.9:8081", Err(("platform's own", None)));
        // A listener on one address is not reached through another.
        check(&p, "127.0.0.2:8080", Ok(()));
        check(&p, "127.0.0.1:5432", Ok(()));
    }

    #[test]
    fn the_narrowest_rule_decides() {
        let p = policy(
            &["127.0.0.1:5432", "10.1.2.3:5432"],
            &["10.0.0.0/8", "127.77.0.0/16:25"],
        );
        check(&p, "127.0.0.1:5432", Ok(()));
        check(
            &p,
            "127.0.0.1:5433",
            Err(("loopback", Some("--allow-outbound 127.0.0.1:5433"))),
        );
        check(&p, "10.1.2.3:5432", Ok(()));
        check(
            &p,
            "10.1.2.3:80",
            Err((
                "--deny-outbound 10.0.0.0/8",
                Some("--allow-outbound 10.1.2.3:80"),
            )),
        );
        check(
            &p,
            "127.77.0.1:25",
            Err((
                "--deny-outbound 127.77.0.0/16:25",
                Some("--allow-outbound 127.77.0.1:25"),
            )),
        );
        check(&p, "127.77.0.1:80", Ok(()));
        // A deny wins a tie.
        let tie = policy(&["10.0.0.0/8"], &["10.0.0.0/8"]);
        check(
            &tie,
            "10.0.0.1:1",
            Err(("--deny-outbound", Some("--allow-outbound 10.0.0.1:1"))),
        );
    }
}
