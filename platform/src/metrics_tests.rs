//! The text `/metrics` renders, for counters with known values, read back by a strict
//! parser of the Prometheus text format (version 0.0.4).

use super::*;
use crate::runtime::ContainerStats;
use prometheus_client::collector::Collector;
use std::collections::BTreeMap;

/// Fixed stats, encoded by the same functions as the live collectors.
#[derive(Debug)]
struct Fixed {
    groups: Vec<GroupStats>,
    lines: HashMap<(i64, Arc<str>), LineCounts>,
    cache: Arc<CacheStats>,
    dns: Arc<DnsStats>,
}

impl Collector for Fixed {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), fmt::Error> {
        encode_containers(&mut e, self.groups.clone(), &self.lines)?;
        encode_platform(&mut e, &self.cache, &self.dns, &[("Running".into(), 2)])
    }
}

/// A sample: its name, its labels, its value.
type Sample = (String, BTreeMap<String, String>, f64);

/// Parses `text` strictly: every line a `# HELP`, a `# TYPE` or a sample of the family
/// its `# TYPE` announced, names and label names valid, label values quoted and escaped,
/// values numbers; each family's HELP and TYPE once, before its samples.
fn parse(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    let name_ok = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut types = BTreeMap::new();
    let mut helps = BTreeMap::new();
    let mut samples = Vec::new();
    let mut current = String::new();
    assert!(text.ends_with('\n'), "the text ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a name and text");
            assert!(name_ok(name), "HELP of a bad name: {line}");
            assert!(!help.trim().is_empty(), "empty HELP: {line}");
            assert!(
                helps.insert(name.to_string(), ()).is_none(),
                "HELP twice: {line}"
            );
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a name and a type");
            assert!(name_ok(name), "TYPE of a bad name: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "unknown type: {line}"
            );
            assert!(helps.contains_key(name), "TYPE before its HELP: {line}");
            assert!(types.insert(name.to_string(), kind.to_string()).is_none());
            current = name.to_string();
            continue;
        }
        assert!(
            !line.starts_with('#'),
            "a comment that is no HELP or TYPE: {line}"
        );
        let (name, labels, value) = match line.find('{') {
            Some(open) => {
                let close = line.rfind('}').expect("labels are closed");
                (
                    &line[..open],
                    &line[open + 1..close],
                    line[close + 1..].trim_start(),
                )
            }
            None => {
                let (n, v) = line.split_once(' ').expect("a sample has a value");
                (n, "", v)
            }
        };
        assert!(name_ok(name), "bad sample name: {line}");
        let kind = &types[&current];
        let allowed: Vec<String> = match kind.as_str() {
            "histogram" => ["_bucket", "_sum", "_count"]
                .iter()
                .map(|s| format!("{current}{s}"))
                .collect(),
            _ => vec![current.clone()],
        };
        assert!(
            allowed.iter().any(|a| a == name),
            "{name} outside its family {current}"
        );
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        samples.push((name.to_string(), parse_labels(labels, line), value));
    }
    (types, samples)
}

fn parse_labels(mut s: &str, line: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    while !s.is_empty() {
        let (key, rest) = s
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad label: {line}"));
        assert!(
            key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !key.is_empty(),
            "bad label name: {line}"
        );
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c @ ('\\' | '"'))) => value.push(c),
                    _ => panic!("bad escape: {line}"),
                },
                Some((i, '"')) => break i,
                Some((_, c)) => value.push(c),
                None => panic!("unclosed label value: {line}"),
            }
        };
        assert!(
            out.insert(key.to_string(), value).is_none(),
            "label twice: {line}"
        );
        s = rest[end + 1..]
            .strip_prefix(',')
            .unwrap_or(&rest[end + 1..]);
    }
    out
}

fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && want
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
}

#[test]
fn the_text_is_strict_prometheus_with_known_values() {
    let web = Arc::new(ContainerStats::default());
    for _ in 0..37 {
        web.record(200, Duration::from_millis(2));
    }
    web.record(503, Duration::from_secs(20));
    let group = GroupStats {
        id: 7,
        subscription: "sub".into(),
        resource_group: "rg \"quoted\"".into(),
        name: "web".into(),
        containers: vec![("app".into(), web)],
    };
    let mut lines = HashMap::new();
    lines.insert(
        (7, Arc::from("app")),
        LineCounts {
            stored: 5,
            dropped: 1,
        },
    );
    let cache = Arc::new(CacheStats::default());
    cache.hits.fetch_add(3, Relaxed);
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Fixed {
        groups: vec![group],
        lines,
        cache,
        dns: Arc::default(),
    }));
    let api = ApiStats::default();
    let route = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}";
    api.record(
        Some(route),
        &http::Method::PUT,
        201,
        Duration::from_millis(3),
    );
    api.record(None, &http::Method::GET, 404, Duration::from_micros(20));
    registry.register("waci_api_requests", "API requests.", api.requests.clone());
    registry.register(
        "waci_api_request_duration_seconds",
        "API latency.",
        api.latency.clone(),
    );
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();

    let (types, samples) = parse(&text);
    let app = [
        ("group", "web"),
        ("container", "app"),
        ("resource_group", "rg \"quoted\""),
    ];
    let two = [app.as_slice(), &[("status", "2xx")]].concat();
    assert_eq!(
        value(&samples, "waci_container_http_requests_total", &two),
        Some(37.0),
        "{text}"
    );
    let five = [app.as_slice(), &[("status", "5xx")]].concat();
    assert_eq!(
        value(&samples, "waci_container_http_requests_total", &five),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "waci_container_log_lines_dropped_total", &app),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "waci_compile_cache_hits_total", &[]),
        Some(3.0)
    );
    assert_eq!(
        value(&samples, "waci_container_groups", &[("state", "Running")]),
        Some(2.0)
    );
    let version = [("version", env!("CARGO_PKG_VERSION"))];
    assert_eq!(value(&samples, "waci_build_info", &version), Some(1.0));
    assert_eq!(
        value(
            &samples,
            "waci_api_requests_total",
            &[("route", route), ("status", "2xx")]
        ),
        Some(1.0)
    );
    // Every histogram has its buckets up to +Inf, a sum and a count equal to +Inf's.
    for (name, kind) in &types {
        if kind != "histogram" {
            continue;
        }
        let buckets: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.0 == format!("{name}_bucket"))
            .collect();
        assert!(!buckets.is_empty(), "{name} has buckets");
        let inf: Vec<&&Sample> = buckets
            .iter()
            .filter(|s| s.1.get("le").map(String::as_str) == Some("+Inf"))
            .collect();
        assert!(!inf.is_empty(), "{name} has +Inf");
        for b in &inf {
            let mut own = b.1.clone();
            own.remove("le");
            let count = samples
                .iter()
                .find(|s| s.0 == format!("{name}_count") && s.1 == own);
            let sum = samples
                .iter()
                .find(|s| s.0 == format!("{name}_sum") && s.1 == own);
            assert_eq!(count.map(|s| s.2), Some(b.2), "{name} count = +Inf bucket");
            assert!(sum.is_some(), "{name} has a sum");
        }
    }
    let latency = [app.as_slice(), &[("le", "0.005")]].concat();
    assert_eq!(
        value(
            &samples,
            "waci_container_http_request_duration_seconds_bucket",
            &latency
        ),
        Some(37.0)
    );
    // No label carries a concrete path, an id or a query.
    assert!(!text.contains("?") && !text.contains("id=\"7\""));
}
