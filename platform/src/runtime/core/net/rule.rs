//! One `--allow-outbound`/`--deny-outbound` rule, `<CIDR>[:<port>]`, and its parser: in the
//! runtime core, which applies the rules (`policy.rs`), so the core builds without the
//! server's settings; `config` re-exports them for `waci serve`.

use std::net::{IpAddr, SocketAddr};

/// One `<CIDR>[:<port>]` of `--allow-outbound` or `--deny-outbound`: a range of addresses,
/// all their ports or one. The egress policy that applies these lives in
/// `runtime::core::net::policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundRule {
    /// The range's first address (host bits cleared) and its prefix length.
    pub net: IpAddr,
    pub prefix: u8,
    /// `None`: every port.
    pub port: Option<u16>,
}

impl OutboundRule {
    pub fn contains(&self, addr: SocketAddr) -> bool {
        let ip = addr.ip().to_canonical();
        self.port.is_none_or(|p| p == addr.port())
            && match (self.net, ip) {
                (IpAddr::V4(net), IpAddr::V4(ip)) => mask_v4(ip, self.prefix) == u32::from(net),
                (IpAddr::V6(net), IpAddr::V6(ip)) => mask_v6(ip, self.prefix) == u128::from(net),
                _ => false,
            }
    }

    /// How narrow the rule is: a longer prefix, then a port, wins over a wider rule.
    pub fn specificity(&self) -> u16 {
        u16::from(self.prefix) * 2 + u16::from(self.port.is_some())
    }
}

impl std::fmt::Display for OutboundRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = if self.net.is_ipv4() { 32 } else { 128 };
        let cidr = if self.prefix == full {
            self.net.to_string()
        } else {
            format!("{}/{}", self.net, self.prefix)
        };
        match (self.port, self.net) {
            (None, _) => write!(f, "{cidr}"),
            (Some(p), IpAddr::V4(_)) => write!(f, "{cidr}:{p}"),
            (Some(p), IpAddr::V6(_)) => write!(f, "[{cidr}]:{p}"),
        }
    }
}

fn mask_v4(ip: std::net::Ipv4Addr, prefix: u8) -> u32 {
    u32::from(ip)
        & u32::MAX
            .checked_shl(32 - u32::from(prefix.min(32)))
            .unwrap_or(0)
}

fn mask_v6(ip: std::net::Ipv6Addr, prefix: u8) -> u128 {
    u128::from(ip)
        & u128::MAX
            .checked_shl(128 - u32::from(prefix.min(128)))
            .unwrap_or(0)
}

/// The form every outbound rule takes, for error messages.
const OUTBOUND_FORM: &str = "<CIDR>[:<port>], such as 127.0.0.1:5432, 10.0.0.0/8 or [::1]:6379";

/// Parses `<CIDR>[:<port>]` (an address alone is a /32 or /128; IPv6 with a port in
/// brackets).
pub fn parse_outbound(s: &str) -> Result<OutboundRule, String> {
    let bad = |why: String| format!("'{s}' is not {OUTBOUND_FORM}: {why}");
    let s = s.trim();
    let (cidr, port) = if let Some(rest) = s.strip_prefix('[') {
        let (cidr, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("a '[' without its ']'".into()))?;
        match after {
            "" => (cidr, None),
            p => (
                cidr,
                Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad(format!("'{p}' after ']'")))?,
                ),
            ),
        }
    } else if s.matches(':').count() == 1 {
        let (cidr, p) = s.split_once(':').unwrap_or((s, ""));
        (cidr, Some(p))
    } else {
        (s, None)
    };
    let port = port
        .map(|p| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(format!("'{p}' is not a port from 1 to 65535")))
        })
        .transpose()?;
    let (addr, prefix) = match cidr.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (cidr, None),
    };
    let net: IpAddr = addr
        .parse()
        .map_err(|_| bad(format!("'{addr}' is not an IP address")))?;
    let full: u8 = if net.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => full,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= full)
            .ok_or_else(|| bad(format!("'{p}' is not a prefix length from 0 to {full}")))?,
    };
    let net = match net {
        IpAddr::V4(ip) => IpAddr::V4(mask_v4(ip, prefix).into()),
        IpAddr::V6(ip) => IpAddr::V6(mask_v6(ip, prefix).into()),
    };
    Ok(OutboundRule { net, prefix, port })
}
