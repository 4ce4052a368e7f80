//! The platform's settings (DESIGN.md §2). Every field has a default that works on a fresh
//! machine; `waci serve` maps each to a flag and an env var.

use crate::model::parse::Limits;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Debug)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub front_door_listen: SocketAddr,
    pub dns_listen: SocketAddr,
    /// Group IPs come from here; the network and broadcast addresses are never handed out.
    pub ip_pool: (Ipv4Addr, u8),
    pub zone: String,
    pub location: String,
    pub limits: Limits,
    pub request_timeout: Duration,
    /// Time limit of one run of a command container; `None`: no limit (ACI has none).
    pub max_runtime: Option<Duration>,
    /// Container groups one subscription may hold (ACI's default quota is 100 per region).
    pub max_groups_per_subscription: u64,
    pub max_log_lines: u64,
    /// Threads of the guest pool, where guest code runs (ARCHITECTURE.md "CPU"): the cores
    /// guests share. Defaults to every core.
    pub guest_threads: usize,
    /// The API's base URL once bound (port 0 resolved), for async-operation headers.
    pub api_url: OnceLock<String>,
    /// What guests may reach beyond the default egress policy (`--allow-outbound`).
    pub allow_outbound: Vec<OutboundRule>,
    /// What guests may not reach although the default policy allows it (`--deny-outbound`).
    pub deny_outbound: Vec<OutboundRule>,
}

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

/// ACI's per-group maxima on its standard SKU are 4 CPUs and 16 GB; we take the same.
pub const DEFAULT_MAX_CPU: f64 = 4.0;
pub const DEFAULT_MAX_MEMORY_GB: f64 = 16.0;
/// ACI's default quota of container groups per subscription and region. We keep the same
/// default so scripts behave alike; raise it with `--max-groups-per-subscription`.
pub const DEFAULT_MAX_GROUPS_PER_SUBSCRIPTION: u64 = 100;

impl Config {
    pub fn default_data_dir() -> PathBuf {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."));
        home.join(".local/share/waci")
    }

    pub fn public_api_url(&self) -> &str {
        self.api_url.get().map(String::as_str).unwrap_or("")
    }

    /// First and last assignable address of the pool, as u32.
    pub fn ip_pool_range(&self) -> (u32, u32) {
        pool_range(self.ip_pool)
    }
}

pub fn pool_range((net, prefix): (Ipv4Addr, u8)) -> (u32, u32) {
    let mask: u32 = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix.min(32))
    };
    let first = u32::from(net) & mask;
    let last = first | !mask;
    if prefix >= 31 {
        (first, last)
    } else {
        (first + 1, last - 1)
    }
}

/// Parses `a.b.c.d/n`.
pub fn parse_pool(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (addr, prefix) = s
        .split_once('/')
        .ok_or_else(|| format!("'{s}' is not a CIDR range like 127.77.0.0/16"))?;
    let addr: Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("'{addr}' is not an IPv4 address"))?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= 32)
        .ok_or_else(|| format!("'{prefix}' is not a prefix length from 0 to 32"))?;
    if !addr.is_loopback() {
        return Err(format!(
            "the IP pool must lie in 127.0.0.0/8 (loopback); '{s}' does not"
        ));
    }
    Ok((addr, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ranges() {
        assert_eq!(
            pool_range(("127.77.0.0".parse().unwrap(), 16)),
            (
                u32::from(Ipv4Addr::new(127, 77, 0, 1)),
                u32::from(Ipv4Addr::new(127, 77, 255, 254))
            )
        );
        assert!(parse_pool("10.0.0.0/8").is_err());
        assert!(parse_pool("127.77.0.0/33").is_err());
        assert_eq!(parse_pool("127.77.0.0/16").unwrap().1, 16);
    }

    fn check(rule: &str, expected: Result<&str, &str>) {
        match (parse_outbound(rule), expected) {
            (Ok(r), Ok(shown)) => assert_eq!(r.to_string(), shown, "{rule}"),
            (Err(e), Err(part)) => assert!(
                e.contains(part) && e.contains("<CIDR>[:<port>]"),
                "{rule}: {e}"
            ),
            (got, _) => panic!("{rule}: {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn outbound_rules_parse() {
        check("127.0.0.1:5432", Ok("127.0.0.1:5432"));
        check("10.0.0.0/8", Ok("10.0.0.0/8"));
        check("10.1.2.3/8", Ok("10.0.0.0/8"));
        check("0.0.0.0/0:53", Ok("0.0.0.0/0:53"));
        check("[::1]:6379", Ok("[::1]:6379"));
        check("fd00::/8", Ok("fd00::/8"));
        check("::1", Ok("::1"));
        check("[fd00::/8]:443", Ok("[fd00::/8]:443"));
        check("localhost:5432", Err("not an IP address"));
        check("127.0.0.1:0", Err("not a port"));
        check("127.0.0.1:99999", Err("not a port"));
        check("10.0.0.0/33", Err("not a prefix length"));
        check("[::1", Err("without its ']'"));
        check("", Err("not an IP address"));
    }

    #[test]
    fn outbound_rules_match() {
        let r = parse_outbound("10.0.0.0/8").unwrap();
        assert!(r.contains("10.9.8.7:1".parse().unwrap()));
        assert!(!r.contains("11.0.0.1:1".parse().unwrap()));
        assert!(r.contains("[::ffff:10.0.0.1]:1".parse().unwrap()));
        let r = parse_outbound("127.0.0.1:5432").unwrap();
        assert!(r.contains("127.0.0.1:5432".parse().unwrap()));
        assert!(!r.contains("127.0.0.1:5433".parse().unwrap()));
        let all = parse_outbound("0.0.0.0/0").unwrap();
        assert!(all.contains("1.2.3.4:80".parse().unwrap()));
        assert!(!all.contains("[::1]:80".parse().unwrap()));
    }
}
