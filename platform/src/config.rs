//! The platform's settings (DESIGN.md §2). Every field has a default that works on a fresh
//! machine; `waci serve` maps each to a flag and an env var.

use crate::model::parse::Limits;
use std::net::{Ipv4Addr, SocketAddr};
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

pub use crate::runtime::core::net::rule::{OutboundRule, parse_outbound};

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
