//! Metrics (DESIGN.md §11): a real Prometheus (Debian's `prometheus`) scrapes `/metrics`
//! with a metrics-only token and sees exactly the requests a group served, with a latency
//! histogram it can take a quantile of; the metrics-only token reads nothing else, and a
//! scoped token cannot read `/metrics`. DNS answers and the compile cache are counted too.

use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use waci_tests::*;

/// Requests the test sends to the group.
const SENT: u32 = 37;

/// A Prometheus server of the test's own, killed (by its pid) when the test ends.
struct Prometheus {
    child: Child,
    url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts Prometheus on a free loopback port, scraping `target` every second with the
/// token in `token_file`.
fn prometheus(dir: &std::path::Path, target: &str, token_file: &std::path::Path) -> Prometheus {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: waci\n    metrics_path: /metrics\n\
             \x20   authorization:\n      credentials_file: {}\n\
             \x20   static_configs:\n      - targets: ['{target}']\n",
            token_file.display()
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("/usr/bin/prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Debian's prometheus is installed (.ci/run installs it)");
    Prometheus {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// The value of the first series `query` returns, if Prometheus has one yet.
async fn query(prom: &Prometheus, query: &str) -> Result<f64, String> {
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/query", prom.url))
        .query(&[("query", query)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = resp.json().await.map_err(|e| e.to_string())?;
    let value = body["data"]["result"][0]["value"][1]
        .as_str()
        .ok_or_else(|| format!("no series yet: {body}"))?;
    value.parse().map_err(|e| format!("{value}: {e}"))
}

#[tokio::test]
async fn prometheus_scrapes_what_a_group_served() {
    let p = TestPlatform::start().await;
    p.create("demo", "hello", hello_http()).await;
    let group = p.wait_for_state("demo", "hello", "Running").await;
    let ip = ip_of(&group);
    for _ in 0..SENT {
        let (status, _) = http_get(&format!("http://{ip}:80/")).await.unwrap();
        assert_eq!(status, 200);
    }

    let made = p.waci("token create --metrics-only").await.ok().json();
    let token = made["token"].as_str().expect("the token, shown once");
    assert_eq!(made["metricsOnly"], true, "{made}");
    let scoped = p
        .waci("token create --subscription team-a")
        .await
        .ok()
        .json();
    let scoped = scoped["token"].as_str().unwrap();

    // Who may read what.
    let metrics_url = format!("{}/metrics", p.api);
    let arm_url = format!(
        "{}{}?api-version={API_VERSION}",
        p.api,
        TestPlatform::group_path("demo", "hello")
    );
    let status = |token: &str, url: &str| {
        let (token, url) = (token.to_string(), url.to_string());
        let p = &p;
        async move { p.raw("GET", &url, Some(&token), None).await.status }
    };
    assert_eq!(
        status(&p.token, &metrics_url).await,
        200,
        "the admin reads /metrics"
    );
    assert_eq!(
        status(token, &metrics_url).await,
        200,
        "so does a metrics-only token"
    );
    assert!(
        [401, 404].contains(&status(token, &arm_url).await),
        "a metrics-only token reads nothing else"
    );
    let tokens_url = format!("{}/tokens", p.api);
    assert_eq!(
        status(token, &tokens_url).await,
        404,
        "not even the token list"
    );
    assert_eq!(
        status(scoped, &metrics_url).await,
        404,
        "a scoped token cannot read every subscription's metrics"
    );

    // The API's requests are counted by route template, never by the concrete path.
    let text = p.raw("GET", &metrics_url, Some(&p.token), None).await.text;
    let api: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("waci_api_requests_total{"))
        .collect();
    assert!(
        api.iter().any(|l| l.contains("route=\"/subscriptions/{")),
        "{text}"
    );
    assert!(!api.iter().any(|l| l.contains("/demo/")), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, token).unwrap();
    let target = p.api.trim_start_matches("http://");
    let prom = prometheus(dir.path(), target, &token_file);

    let served =
        "waci_container_http_requests_total{group=\"hello\",container=\"main\",status=\"2xx\"}";
    let seen = eventually(
        "Prometheus to see every request",
        Duration::from_secs(60),
        || async {
            match query(&prom, served).await {
                Ok(v) if v == f64::from(SENT) => Ok(v),
                Ok(v) => Err(format!("{v} requests")),
                Err(e) => Err(e),
            }
        },
    )
    .await;
    assert_eq!(seen, f64::from(SENT));
    let p99 = "histogram_quantile(0.99, waci_container_http_request_duration_seconds_bucket{group=\"hello\"})";
    let latency = eventually("a p99 latency", Duration::from_secs(30), || async {
        query(&prom, p99).await.and_then(|v| {
            (v.is_finite() && v > 0.0)
                .then_some(v)
                .ok_or(format!("{v}"))
        })
    })
    .await;
    assert!(latency.is_finite(), "{latency}");
    // Serving 37 requests took the guest some time on the platform's threads.
    let cpu = query(
        &prom,
        "waci_container_cpu_seconds_total{group=\"hello\",container=\"main\"}",
    )
    .await
    .unwrap();
    assert!(cpu > 0.0 && cpu < 60.0, "cpu seconds: {cpu}");
    let up = query(&prom, "up{job=\"waci\"}").await.unwrap();
    assert_eq!(up, 1.0, "the scrape itself succeeds");
    let info = query(&prom, "waci_build_info").await.unwrap();
    assert_eq!(info, 1.0);

    // A deleted group's series are gone from the next scrape.
    let deleted = p
        .call("DELETE", &TestPlatform::group_path("demo", "hello"), None)
        .await;
    assert!(deleted.status < 300, "{}", deleted.text);
    let text = p.raw("GET", &metrics_url, Some(&p.token), None).await.text;
    assert!(!text.contains("group=\"hello\""), "{text}");
}

/// The value of one sample line of `/metrics` (its name with its labels, as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn dns_answers_and_the_compile_cache_are_counted() {
    let p = TestPlatform::start().await;
    // Two groups of one image: the first load compiles, the second is served from the cache.
    for (name, label) in [("first", "metrics-first"), ("second", "metrics-second")] {
        let mut body = hello_http();
        body["properties"]["ipAddress"]["dnsNameLabel"] = serde_json::json!(label);
        p.create("dns", name, body).await;
        p.wait_for_state("dns", name, "Running").await;
    }
    let known = waci_tests::dns::udp(
        p.dns,
        "metrics-first.local.waci.localhost.",
        hickory_proto::rr::RecordType::A,
    )
    .await;
    assert_eq!(known.rcode, hickory_proto::op::ResponseCode::NoError);
    for _ in 0..2 {
        let unknown = waci_tests::dns::udp(
            p.dns,
            "nobody.local.waci.localhost.",
            hickory_proto::rr::RecordType::A,
        )
        .await;
        assert_eq!(unknown.rcode, hickory_proto::op::ResponseCode::NXDomain);
    }

    let url = format!("{}/metrics", p.api);
    let text = p.raw("GET", &url, Some(&p.token), None).await.text;
    let noerror = sample(&text, "waci_dns_queries_total{rcode=\"NOERROR\"}");
    assert!(noerror.is_some_and(|n| n >= 1.0), "{text}");
    let nxdomain = sample(&text, "waci_dns_queries_total{rcode=\"NXDOMAIN\"}");
    assert!(nxdomain.is_some_and(|n| n >= 2.0), "{text}");
    let misses = sample(&text, "waci_compile_cache_misses_total").unwrap_or(0.0);
    let hits = sample(&text, "waci_compile_cache_hits_total").unwrap_or(0.0);
    assert!(
        misses >= 1.0 && hits >= 1.0,
        "misses {misses}, hits {hits}\n{text}"
    );
    let compile = sample(&text, "waci_compile_seconds_total").unwrap_or(0.0);
    assert!(compile > 0.0, "a compile took time: {compile}\n{text}");
}
