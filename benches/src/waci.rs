//! The platform under test: a real `waci serve` process in a data dir of its own, and the
//! few API calls the benchmarks make (as any ARM client would: PUT, GET, logs).

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const API_VERSION: &str = "2025-09-01";
pub const SUB: &str = "00000000-0000-0000-0000-0000000000be";
pub const RG: &str = "bench";
/// Every service group listens here on its own IP (ports below 1024 would need root).
pub const PORT: u16 = 8080;
/// How long `waci serve` may take to bind everything (it compiles nothing at start).
const START_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Waci {
    bin: PathBuf,
    pub data_dir: PathBuf,
    extra_args: Vec<String>,
    child: Option<Child>,
    pub api: String,
    pub front_door: SocketAddr,
    pub dns: SocketAddr,
    token: String,
    http: reqwest::Client,
}

impl Waci {
    /// Starts `waci serve` on ports picked by the system, IPs from 127.77.0.0/16, and no quota
    /// that a benchmark could reach.
    pub async fn start(bin: &Path, data_dir: PathBuf, extra_args: &[&str]) -> anyhow::Result<Waci> {
        std::fs::create_dir_all(&data_dir)?;
        let mut w = Waci {
            bin: bin.to_path_buf(),
            data_dir,
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
            child: None,
            api: String::new(),
            front_door: "127.0.0.1:0".parse()?,
            dns: "127.0.0.1:0".parse()?,
            token: String::new(),
            http: reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(64)
                .build()?,
        };
        w.launch().await?;
        Ok(w)
    }

    /// Spawns the process and waits for `endpoints.json`; returns how long that took.
    pub async fn launch(&mut self) -> anyhow::Result<Duration> {
        let endpoints = self.data_dir.join("endpoints.json");
        let _ = std::fs::remove_file(&endpoints);
        let start = Instant::now();
        let mut child = Command::new(&self.bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(["--front-door-listen", "127.0.0.1:0"])
            .args(["--dns-listen", "127.0.0.1:0"])
            .args(["--ip-pool", "127.77.0.0/16"])
            .args(["--max-groups-per-subscription", "1000000"])
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let v: Value = loop {
            if let Ok(text) = std::fs::read_to_string(&endpoints)
                && let Ok(v) = serde_json::from_str(&text)
            {
                break v;
            }
            if let Some(status) = child.try_wait()? {
                bail!("waci serve exited early with {status}");
            }
            if start.elapsed() > START_TIMEOUT {
                bail!("waci serve wrote no endpoints.json within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let took = start.elapsed();
        let field = |k: &str| {
            v[k].as_str()
                .map(str::to_string)
                .with_context(|| format!("endpoints.json has no {k}"))
        };
        self.api = field("api")?;
        self.front_door = field("front_door")?.trim_start_matches("http://").parse()?;
        self.dns = field("dns")?.parse()?;
        self.token = std::fs::read_to_string(self.data_dir.join("token"))?
            .trim()
            .to_string();
        self.child = Some(child);
        Ok(took)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no chance to flush or clean up, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{sep}api-version={API_VERSION}", self.api)
    }

    pub fn group_path(name: &str) -> String {
        format!(
            "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerInstance/containerGroups/{name}"
        )
    }

    /// PUT a group; the created group's JSON (with its IP) on 200/201.
    pub async fn put(&self, name: &str, body: &Value) -> anyhow::Result<Value> {
        let resp = self
            .http
            .put(self.url(&Self::group_path(name)))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("PUT {name}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text)?)
    }

    /// The group's `instanceView.state` (`Pending`, `Running`, `Succeeded`, ...).
    pub async fn state(&self, name: &str) -> anyhow::Result<String> {
        let resp = self
            .http
            .get(self.url(&Self::group_path(name)))
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = resp.status();
        let v: Value = resp.json().await?;
        if !status.is_success() {
            bail!("GET {name}: {status}: {v}");
        }
        Ok(v["properties"]["instanceView"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Polls until the group's state is `want`, `pause` between an answer and the next poll
    /// (zero: back to back); fails on `Failed` or after `timeout`.
    pub async fn wait_state(
        &self,
        name: &str,
        want: &str,
        timeout: Duration,
        pause: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let state = self.state(name).await?;
            if state == want {
                return Ok(());
            }
            if state == "Failed" && want != "Failed" {
                bail!("group {name} failed");
            }
            if Instant::now() > deadline {
                bail!("group {name} is {state}, not {want}, after {timeout:?}");
            }
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// `tail` lines of a container's log.
    pub async fn logs(&self, name: &str, container: &str, tail: usize) -> anyhow::Result<String> {
        let path = format!(
            "{}/containers/{container}/logs?tail={tail}",
            Self::group_path(name)
        );
        let v: Value = self
            .http
            .get(self.url(&path))
            .bearer_auth(&self.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(v["content"].as_str().unwrap_or_default().to_string())
    }

    /// A live `follow` of a container's log, as `waci container logs --follow` reads it.
    pub async fn follow(&self, name: &str, container: &str) -> anyhow::Result<reqwest::Response> {
        let path = format!(
            "{}/containers/{container}/logs?follow=true",
            Self::group_path(name)
        );
        Ok(self
            .http
            .get(self.url(&path))
            .bearer_auth(&self.token)
            .send()
            .await?
            .error_for_status()?)
    }

    /// Proportional set size of the platform process, in bytes.
    pub fn pss(&self) -> Option<u64> {
        pss(self.pid()?)
    }
}

impl Drop for Waci {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The group's IP from a PUT or GET answer.
pub fn ip_of(group: &Value) -> anyhow::Result<Ipv4Addr> {
    group["properties"]["ipAddress"]["ip"]
        .as_str()
        .context("the group has no IP")?
        .parse()
        .context("the group's IP")
}

/// `waci/hello-http` on [`PORT`] of its own IP, restarted always, with a DNS name if given.
pub fn http_group(label: Option<&str>) -> Value {
    let ports = json!([{"protocol": "TCP", "port": PORT}]);
    let mut ip = json!({"type": "Public", "ports": ports});
    if let Some(l) = label {
        ip["dnsNameLabel"] = json!(l);
    }
    group("waci/hello-http", &[], "Always", Some(ip))
}

/// `waci/hello-cli` run once: it prints its arguments and environment and exits 0.
pub fn cli_group() -> Value {
    group("waci/hello-cli", &["hello-cli"], "Never", None)
}

/// A command from a component file, run once.
pub fn command_group(image: &Path, command: &[&str]) -> Value {
    group(&image.to_string_lossy(), command, "Never", None)
}

fn group(image: &str, command: &[&str], restart: &str, ip: Option<Value>) -> Value {
    let ports = if ip.is_some() {
        json!([{"protocol": "TCP", "port": PORT}])
    } else {
        json!([])
    };
    let mut props = json!({
        "osType": "Linux",
        "restartPolicy": restart,
        "containers": [{"name": "main", "properties": {
            "image": image,
            "command": command,
            "ports": ports,
            "resources": {"requests": {"cpu": 1.0, "memoryInGB": 0.5}}
        }}]
    });
    if let Some(ip) = ip {
        props["ipAddress"] = ip;
    }
    json!({"location": "local", "properties": props})
}

/// Proportional set size of a process (shared pages split among their sharers), in bytes:
/// fair between one platform process and many peer processes sharing one binary.
pub fn pss(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Pss:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
