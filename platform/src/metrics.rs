//! The platform's metrics (DESIGN.md §11), served by the API at `GET /metrics` in the
//! Prometheus text format through the `prometheus-client` crate.
//!
//! Nothing here sits on a request's path: the runtime core, the compiled-code cache, the
//! DNS handler and the log hub keep plain atomic counters of their own, and the collectors
//! below read them when Prometheus scrapes. Only the control API's requests are counted here
//! directly ([`ApiStats`], by route template: never a concrete path).
//!
//! **Invariant:** labels are bounded: names of groups and containers that exist, status
//! classes, route templates, states, DNS response codes — never a path, an id or a query
//! string. A stopped or deleted group's series disappear with its stats in the runtime.

use crate::dns::DnsStats;
use crate::logs::{LineCounts, LogHub};
use crate::runtime::engine::CacheStats;
use crate::runtime::{GroupStats, Runtime};
use crate::store::Store;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds, in seconds, of the control API's latency buckets.
const API_BUCKETS: [f64; 7] = [0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10.0];

/// Everything `/metrics` shows, registered once at start.
pub struct Metrics {
    registry: Registry,
    store: Store,
    states: Arc<GroupStates>,
    /// The control API's requests, counted by the API's request layer.
    pub api: ApiStats,
}

/// What the platform's parts count, for [`Metrics::new`].
pub struct Sources {
    pub runtime: Arc<Runtime>,
    pub logs: Arc<LogHub>,
    pub dns: Arc<DnsStats>,
    pub store: Store,
}

impl Metrics {
    pub fn new(sources: Sources) -> Arc<Metrics> {
        let mut registry = Registry::default();
        let states = Arc::new(GroupStates::default());
        let api = ApiStats::default();
        registry.register(
            "waci_api_requests",
            "Control API requests answered, by route template, method and status class.",
            api.requests.clone(),
        );
        registry.register(
            "waci_api_request_duration_seconds",
            "Time the control API took to answer, by route template.",
            api.latency.clone(),
        );
        registry.register_collector(Box::new(Platform {
            runtime: sources.runtime.clone(),
            dns: sources.dns,
            states: states.clone(),
        }));
        registry.register_collector(Box::new(Containers {
            runtime: sources.runtime,
            logs: sources.logs,
        }));
        Arc::new(Metrics {
            registry,
            store: sources.store,
            states,
            api,
        })
    }

    /// The metrics now, in the Prometheus text format; one store query (groups by state).
    pub async fn render(&self) -> Result<String, crate::store::Error> {
        let states = self.store.run(|s| s.count_groups_by_state()).await?;
        Ok(self.encode(states))
    }

    fn encode(&self, states: Vec<(String, u64)>) -> String {
        *self.states.0.lock().unwrap_or_else(|e| e.into_inner()) = states;
        let mut out = String::new();
        // Writing into a String cannot fail; a collector's error would be a bug of ours.
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "encoding the metrics failed");
        }
        out
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    route: String,
    method: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

fn api_histogram() -> Histogram {
    Histogram::new(API_BUCKETS)
}

/// The control API's requests by route template (axum's `MatchedPath`), method and status
/// class, and their latency by route template.
#[derive(Clone)]
pub struct ApiStats {
    requests: Family<ApiLabels, Counter>,
    latency: Family<RouteLabel, Histogram, fn() -> Histogram>,
}

impl Default for ApiStats {
    fn default() -> ApiStats {
        ApiStats {
            requests: Family::default(),
            latency: Family::new_with_constructor(api_histogram),
        }
    }
}

impl ApiStats {
    /// Counts one answered request. `route` is the route's template (`None`: no route
    /// matched); `method` is counted only if it is one of HTTP's own.
    pub fn record(&self, route: Option<&str>, method: &http::Method, status: u16, took: Duration) {
        let route = route.unwrap_or("unmatched").to_string();
        let known = [
            "GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
        ];
        let method = if known.contains(&method.as_str()) {
            method.as_str()
        } else {
            "other"
        };
        let labels = ApiLabels {
            route: route.clone(),
            method: method.to_string(),
            status: class(status),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&RouteLabel { route })
            .observe(took.as_secs_f64());
    }
}

/// `2xx` for 200..=299, and so on; anything outside 100..=599 is `5xx` or `1xx`.
fn class(status: u16) -> &'static str {
    ["1xx", "2xx", "3xx", "4xx", "5xx"][usize::from((status / 100).clamp(1, 5)) - 1]
}

/// Groups by state as the store counted them for this scrape.
#[derive(Debug, Default)]
struct GroupStates(Mutex<Vec<(String, u64)>>);

/// The platform-wide metrics: build info, groups by state, the compiled-code cache, DNS.
struct Platform {
    runtime: Arc<Runtime>,
    dns: Arc<DnsStats>,
    states: Arc<GroupStates>,
}

impl fmt::Debug for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Platform")
    }
}

fn counter(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), fmt::Error> {
    let m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(m)
}

impl prometheus_client::collector::Collector for Platform {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), fmt::Error> {
        let states = self
            .states
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        encode_platform(&mut e, self.runtime.cache_stats(), &self.dns, &states)
    }
}

/// Build info, groups by state, the compiled-code cache and DNS answers.
fn encode_platform(
    e: &mut DescriptorEncoder,
    cache: &CacheStats,
    dns: &DnsStats,
    states: &[(String, u64)],
) -> Result<(), fmt::Error> {
    let mut m = e.encode_descriptor(
        "waci_build_info",
        "The running waci's version; always 1.",
        None,
        MetricType::Gauge,
    )?;
    let version = [("version", env!("CARGO_PKG_VERSION"))];
    ConstGauge::new(1i64).encode(m.encode_family(&version)?)?;

    let mut m = e.encode_descriptor(
        "waci_container_groups",
        "Container groups by state (instanceView.state).",
        None,
        MetricType::Gauge,
    )?;
    for (state, n) in states.iter() {
        let labels = [("state", state.as_str())];
        ConstGauge::new(*n as i64).encode(m.encode_family(&labels)?)?;
    }

    counter(
        e,
        "waci_compile_cache_hits",
        "Component loads served from the compiled-code cache (memory or disk).",
        cache.hits.load(Relaxed),
    )?;
    counter(
        e,
        "waci_compile_cache_misses",
        "Component loads that had to compile.",
        cache.misses.load(Relaxed),
    )?;
    let m = e.encode_descriptor(
        "waci_compile_seconds",
        "Time spent compiling components.",
        None,
        MetricType::Counter,
    )?;
    let nanos = cache.compile_nanos.load(Relaxed);
    ConstCounter::new(nanos as f64 / 1e9).encode(m)?;

    let mut m = e.encode_descriptor(
        "waci_dns_queries",
        "DNS queries answered, by response code.",
        None,
        MetricType::Counter,
    )?;
    for (code, n) in dns.answers() {
        let labels = [("rcode", code)];
        ConstCounter::new(n).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Each running container's metrics, read from the runtime's stats and the log hub's counts.
struct Containers {
    runtime: Arc<Runtime>,
    logs: Arc<LogHub>,
}

impl fmt::Debug for Containers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Containers")
    }
}

/// One container's labels: subscription, resource group, group, container.
type Labels<'a> = [(&'static str, &'a str); 4];

fn labels<'a>(g: &'a GroupStats, container: &'a str) -> Labels<'a> {
    [
        ("subscription", g.subscription.as_str()),
        ("resource_group", g.resource_group.as_str()),
        ("group", g.name.as_str()),
        ("container", container),
    ]
}

impl prometheus_client::collector::Collector for Containers {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), fmt::Error> {
        encode_containers(&mut e, self.runtime.stats(), &self.logs.line_counts())
    }
}

/// Each container's requests, latency, instances, restarts, log lines and memory.
fn encode_containers(
    e: &mut DescriptorEncoder,
    mut groups: Vec<GroupStats>,
    lines: &HashMap<(i64, Arc<str>), LineCounts>,
) -> Result<(), fmt::Error> {
    groups.sort_by(|a, b| {
        (&a.subscription, &a.resource_group, &a.name).cmp(&(
            &b.subscription,
            &b.resource_group,
            &b.name,
        ))
    });
    let all = || {
        groups
            .iter()
            .flat_map(|g| g.containers.iter().map(move |(c, s)| (g, c, s)))
    };

    let mut m = e.encode_descriptor(
        "waci_container_http_requests",
        "HTTP requests a service container answered, by status class.",
        None,
        MetricType::Counter,
    )?;
    for (g, c, s) in all() {
        for (i, status) in ["1xx", "2xx", "3xx", "4xx", "5xx"].into_iter().enumerate() {
            let n = s.requests(i + 1);
            if n > 0 {
                let l = (labels(g, c), [("status", status)]);
                ConstCounter::new(n).encode(m.encode_family(&l)?)?;
            }
        }
    }
    let mut m = e.encode_descriptor(
        "waci_container_http_request_duration_seconds",
        "Time from a request to its response head, per service container.",
        None,
        MetricType::Histogram,
    )?;
    for (g, c, s) in all() {
        let l = s.latency();
        if l.count > 0 {
            let own = labels(g, c);
            let mut f = m.encode_family(&own)?;
            f.encode_histogram::<NoLabelSet>(l.sum_seconds, l.count, &l.buckets, None)?;
        }
    }
    type Read<'a> = &'a dyn Fn(i64, &Arc<str>, &crate::runtime::ContainerStats) -> u64;
    let counters: [(&str, &str, Read); 5] = [
        (
            "waci_container_instances_started",
            "Instances started: one per service request, one per command run.",
            &|_, _, s| s.instances.load(Relaxed),
        ),
        (
            "waci_container_restarts",
            "Runs of a command container started again under the restart policy.",
            &|_, _, s| s.restarts.load(Relaxed),
        ),
        (
            "waci_container_cpu_throttles",
            "Times a slice of a container's guests was held back by its CPU limit (limits.cpu).",
            &|_, _, s| s.throttled().1,
        ),
        (
            "waci_container_log_lines_stored",
            "Lines of a container's output stored.",
            &|g, c, _| lines.get(&(g, c.clone())).map_or(0, |l| l.stored),
        ),
        (
            "waci_container_log_lines_dropped",
            "Lines of a container's output dropped because the log queue was full.",
            &|g, c, _| lines.get(&(g, c.clone())).map_or(0, |l| l.dropped),
        ),
    ];
    for (name, help, read) in counters {
        let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (g, c, s) in all() {
            ConstCounter::new(read(g.id, c, s)).encode(m.encode_family(&labels(g, c))?)?;
        }
    }
    type Seconds<'a> = &'a dyn Fn(&crate::runtime::ContainerStats) -> f64;
    let seconds: [(&str, &str, Seconds); 2] = [
        (
            "waci_container_cpu_seconds",
            "Seconds of CPU a container's guests used (the thread CPU time of their slices, instantiation included).",
            &|s| s.cpu_seconds(),
        ),
        (
            "waci_container_cpu_throttled_seconds",
            "Seconds a container's guests waited because they had used their CPU limit (limits.cpu) for the period.",
            &|s| s.throttled().0,
        ),
    ];
    for (name, help, read) in seconds {
        let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
        for (g, c, s) in all() {
            ConstCounter::new(read(s)).encode(m.encode_family(&labels(g, c))?)?;
        }
    }
    let mut m = e.encode_descriptor(
        "waci_container_memory_bytes",
        "Bytes of linear memory held by a container's live instances.",
        None,
        MetricType::Gauge,
    )?;
    for (g, c, s) in all() {
        let bytes = i64::try_from(s.memory_bytes()).unwrap_or(i64::MAX);
        ConstGauge::new(bytes).encode(m.encode_family(&labels(g, c))?)?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
