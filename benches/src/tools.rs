//! The load generators (Debian's `wrk`, `dnsperf`, `hyperfine`): how they are run, and
//! their reports parsed into numbers. Parsing is pure and tested against real output.

use anyhow::{Context, bail};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// What `wrk --latency` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkResult {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Non-2xx answers plus socket errors: a figure with errors is not a figure.
    pub errors: u64,
}

/// `wrk` with `threads`, `connections` for `duration`, optionally with a `Host` header.
pub async fn wrk(
    url: &str,
    host: Option<&str>,
    threads: usize,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<WrkResult> {
    let mut cmd = tokio::process::Command::new("wrk");
    cmd.arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--latency");
    if let Some(h) = host {
        cmd.arg("-H").arg(format!("Host: {h}"));
    }
    let out = cmd.arg(url).output().await.context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk {url} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    parse_wrk(&text).with_context(|| format!("reading wrk's report:\n{text}"))
}

pub fn parse_wrk(text: &str) -> Option<WrkResult> {
    let mut rps = None;
    let (mut p50, mut p99) = (None, None);
    let mut errors = 0;
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Requests/sec:") {
            rps = v.trim().parse().ok();
        } else if let Some(v) = t.strip_prefix("50%") {
            p50 = duration_ms(v.trim());
        } else if let Some(v) = t.strip_prefix("99%") {
            p99 = duration_ms(v.trim());
        } else if let Some(v) = t.strip_prefix("Non-2xx or 3xx responses:") {
            errors += v.trim().parse::<u64>().unwrap_or(0);
        } else if let Some(v) = t.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            errors += v
                .split(',')
                .filter_map(|p| p.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    Some(WrkResult {
        requests_per_sec: rps?,
        p50_ms: p50?,
        p99_ms: p99?,
        errors,
    })
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.01s`, `1.5m`.
fn duration_ms(v: &str) -> Option<f64> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

/// What `dnsperf` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsperfResult {
    pub qps: f64,
    pub avg_latency_ms: f64,
    pub lost: u64,
}

/// `dnsperf` against `server` with the queries in `data` for `duration`.
pub async fn dnsperf(
    server: std::net::SocketAddr,
    data: &Path,
    duration: Duration,
    clients: usize,
    outstanding: usize,
) -> anyhow::Result<DnsperfResult> {
    let out = tokio::process::Command::new("dnsperf")
        .arg("-s")
        .arg(server.ip().to_string())
        .arg("-p")
        .arg(server.port().to_string())
        .arg("-d")
        .arg(data)
        .arg("-l")
        .arg(duration.as_secs().max(1).to_string())
        .arg("-c")
        .arg(clients.to_string())
        .arg("-T")
        .arg("1")
        .arg("-q")
        .arg(outstanding.to_string())
        .arg("-t")
        .arg("2")
        .output()
        .await
        .context("running dnsperf")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("dnsperf failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    parse_dnsperf(&text).with_context(|| format!("reading dnsperf's report:\n{text}"))
}

pub fn parse_dnsperf(text: &str) -> Option<DnsperfResult> {
    let (mut qps, mut lat, mut lost) = (None, None, 0);
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Queries per second:") {
            qps = v.trim().parse().ok();
        } else if let Some(v) = t.strip_prefix("Average Latency (s):") {
            lat = v
                .split_whitespace()
                .next()
                .and_then(|s| s.parse::<f64>().ok())
                .map(|s| s * 1000.0);
        } else if let Some(v) = t.strip_prefix("Queries lost:") {
            lost = v.split_whitespace().next()?.parse().ok()?;
        }
    }
    Some(DnsperfResult {
        qps: qps?,
        avg_latency_ms: lat?,
        lost,
    })
}

/// `hyperfine -N` of one command line `runs` times (after a warm-up); each run's seconds.
pub async fn hyperfine(line: &str, runs: usize, json_out: &Path) -> anyhow::Result<Vec<f64>> {
    let status = tokio::process::Command::new("hyperfine")
        .args(["-N", "--style", "none", "--warmup", "3"])
        .arg("--runs")
        .arg(runs.max(2).to_string())
        .arg("--export-json")
        .arg(json_out)
        .arg(line)
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .context("running hyperfine")?;
    if !status.success() {
        bail!("hyperfine {line:?} failed: {status}");
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json_out)?)?;
    v["results"][0]["times"]
        .as_array()
        .context("hyperfine's JSON has no times")?
        .iter()
        .map(|t| t.as_f64().context("a time"))
        .collect()
}

/// The version number `tool args` prints (`wasmtime 48.0.8` → `48.0.8`), for the report.
pub fn version(tool: &str, args: &[&str]) -> String {
    match Command::new(tool).args(args).output() {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            version_in(&text).unwrap_or("?").to_string()
        }
        Err(_) => "missing".into(),
    }
}

/// The first word that looks like a version (`4.1.0` in `wrk debian/4.1.0-3+b2 [epoll]`).
fn version_in(text: &str) -> Option<&str> {
    text.split_whitespace()
        .map(|w| w.rsplit('/').next().unwrap_or(w))
        .map(|w| w.trim_start_matches('v').trim_end_matches([',', ')']))
        .map(|w| w.split(['-', '+']).next().unwrap_or(w))
        .find(|w| w.contains('.') && w.chars().next().is_some_and(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 3s test @ http://127.77.0.1:8080/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  394.21us   9.87ms   83.12%
    Req/Sec    10.61k   612.37    11.56k    70.00%
  Latency Distribution
     50%    1.46ms
     75%    1.68ms
     90%    1.95ms
     99%    2.89ms
  63306 requests in 3.00s, 40.24MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  21090.37
Transfer/sec:     13.41MB
";

    #[test]
    fn wrk_report() {
        assert_eq!(
            parse_wrk(WRK),
            Some(WrkResult {
                requests_per_sec: 21090.37,
                p50_ms: 1.46,
                p99_ms: 2.89,
                errors: 6
            })
        );
        assert_eq!(duration_ms("812.00us"), Some(0.812));
        assert_eq!(duration_ms("2.00s"), Some(2000.0));
        assert_eq!(parse_wrk("nothing"), None);
    }

    const DNSPERF: &str = "Statistics:

  Queries sent:         512345
  Queries completed:    512300 (99.99%)
  Queries lost:         45 (0.01%)

  Response codes:       NOERROR 512300 (100.00%)
  Average packet size:  request 50, response 66
  Run time (s):         10.000123
  Queries per second:   51229.368

  Average Latency (s):  0.001234 (min 0.000031, max 0.012345)
  Latency StdDev (s):   0.000456
";

    #[test]
    fn versions() {
        assert_eq!(
            version_in("wasmtime 48.0.8 (abc 2025-01-01)"),
            Some("48.0.8")
        );
        assert_eq!(version_in("knotd (Knot DNS), version 3.2.6"), Some("3.2.6"));
        assert_eq!(
            version_in("wrk debian/4.1.0-3+b2 [epoll] Copyright"),
            Some("4.1.0")
        );
        assert_eq!(version_in("hyperfine 1.15.0"), Some("1.15.0"));
        assert_eq!(version_in("Version 2.10.0"), Some("2.10.0"));
    }

    #[test]
    fn dnsperf_report() {
        assert_eq!(
            parse_dnsperf(DNSPERF),
            Some(DnsperfResult {
                qps: 51229.368,
                avg_latency_ms: 1.234,
                lost: 45
            })
        );
    }
}

/// Debian's `docker-registry` serving from `dir` on a free loopback port, until the child is
/// dropped; with its `host:port`.
pub async fn registry(dir: &Path) -> anyhow::Result<(tokio::process::Child, String)> {
    const BIN: &str = "/usr/bin/docker-registry";
    std::fs::create_dir_all(dir)?;
    let host = format!("127.0.0.1:{}", crate::peers::free_port()?);
    let config = dir.join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: {host}\n",
            dir.join("data").display()
        ),
    )?;
    let child = tokio::process::Command::new(BIN)
        .arg("serve")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("{BIN} (apt-get install docker-registry)"))?;
    let url = format!("http://{host}/v2/");
    let t = std::time::Instant::now();
    while !reqwest::get(&url)
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        if t.elapsed() > Duration::from_secs(20) {
            bail!("docker-registry did not answer on {url}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((child, host))
}
