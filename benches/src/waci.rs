//! The platform under test as the benchmarks drive it: a `waci serve` started by the test
//! harness's `serve` (the same process handling as the end-to-end tests), and the few ARM
//! calls the benchmarks make through its `arm` (PUT, GET, logs), each an error rather than
//! a panic so a run can report it.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use waci_tests::arm::{self, Reply};
use waci_tests::serve::Serve;

pub const SUB: &str = "00000000-0000-0000-0000-0000000000be";
pub const RG: &str = "bench";
/// Every service group listens here on its own IP (ports below 1024 would need root).
pub const PORT: u16 = 8080;

pub struct Waci {
    serve: Serve,
    pub front_door: SocketAddr,
    pub dns: SocketAddr,
    http: reqwest::Client,
}

impl Waci {
    /// Starts `waci serve` on ports picked by the system, IPs from 127.77.0.0/16, and no quota
    /// that a benchmark could reach.
    pub async fn start(bin: &Path, data_dir: PathBuf, extra_args: &[&str]) -> anyhow::Result<Waci> {
        std::fs::create_dir_all(&data_dir)?;
        let mut args = vec![
            "--ip-pool",
            "127.77.0.0/16",
            "--max-groups-per-subscription",
            "1000000",
        ];
        args.extend_from_slice(extra_args);
        let serve = Serve::start(bin, &data_dir, &args).await?;
        let mut w = Waci {
            front_door: SocketAddr::from(([127, 0, 0, 1], 0)),
            dns: serve.endpoints.dns,
            http: arm::client(),
            serve,
        };
        w.read_endpoints()?;
        Ok(w)
    }

    /// Starts the process again on its data dir and waits for `endpoints.json`; returns how
    /// long that took.
    pub async fn launch(&mut self) -> anyhow::Result<Duration> {
        let took = self.serve.launch().await?;
        self.read_endpoints()?;
        Ok(took)
    }

    fn read_endpoints(&mut self) -> anyhow::Result<()> {
        let e = &self.serve.endpoints;
        self.front_door = e
            .front_door
            .trim_start_matches("http://")
            .parse()
            .with_context(|| format!("the front door's address {}", e.front_door))?;
        self.dns = e.dns;
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.serve.pid()
    }

    /// SIGKILL: no chance to flush or clean up, as in a crash.
    pub fn kill(&mut self) {
        self.serve.kill();
    }

    /// An ARM call with the admin token; an error on a transport failure or a status other
    /// than 2xx.
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Reply> {
        let e = &self.serve.endpoints;
        let r = arm::request(
            &self.http,
            method,
            &arm::url(&e.api, path),
            Some(&e.token),
            body.map(Value::to_string),
        )
        .await
        .with_context(|| format!("{method} {path}"))?;
        if !(200..300).contains(&r.status) {
            bail!("{method} {path}: {}: {}", r.status, r.text);
        }
        Ok(r)
    }

    /// `waci <args>` run by `bin` against this platform (endpoint, token, subscription in its
    /// environment, as a user's shell would give them); an error unless it exits 0.
    pub async fn cli(&self, bin: &Path, args: &[&str]) -> anyhow::Result<String> {
        let e = &self.serve.endpoints;
        let out = tokio::process::Command::new(bin)
            .args(args)
            .env("WACI_ENDPOINT", &e.api)
            .env("WACI_TOKEN", &e.token)
            .env("WACI_SUBSCRIPTION", SUB)
            .output()
            .await?;
        if !out.status.success() {
            bail!(
                "waci {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The images the platform lists as compiled (`cachedImages`).
    pub async fn cached_images(&self) -> anyhow::Result<Vec<String>> {
        let path = format!(
            "/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/locations/local/cachedImages"
        );
        let v = self.call("GET", &path, None).await?.body;
        Ok(v["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["image"].as_str().map(str::to_string))
            .collect())
    }

    /// DELETE a group.
    pub async fn delete(&self, name: &str) -> anyhow::Result<()> {
        self.call("DELETE", &Self::group_path(name), None).await?;
        Ok(())
    }

    /// `/metrics`, as the admin reads it.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        Ok(self.call("GET", "/metrics", None).await?.text)
    }

    /// One GET of a group, timed to its answer.
    pub async fn timed_get(&self, name: &str) -> anyhow::Result<Duration> {
        let t = Instant::now();
        self.call("GET", &Self::group_path(name), None).await?;
        Ok(t.elapsed())
    }

    pub fn group_path(name: &str) -> String {
        arm::group_path_in(SUB, RG, name)
    }

    /// PUT a group; the created group's JSON (with its IP) on 200/201.
    pub async fn put(&self, name: &str, body: &Value) -> anyhow::Result<Value> {
        Ok(self
            .call("PUT", &Self::group_path(name), Some(body))
            .await?
            .body)
    }

    /// The group's `instanceView.state` (`Pending`, `Running`, `Succeeded`, ...).
    pub async fn state(&self, name: &str) -> anyhow::Result<String> {
        let g = self.call("GET", &Self::group_path(name), None).await?.body;
        Ok(waci_tests::state(&g).to_string())
    }

    /// Polls until the group's state is `want`, `pause` between an answer and the next poll
    /// (zero: back to back, so the time to a state is measured to the answer); fails on
    /// `Failed` or after `timeout`.
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
        let v = self.call("GET", &path, None).await?.body;
        Ok(v["content"].as_str().unwrap_or_default().to_string())
    }

    /// A live `follow` of a container's log, as `waci container logs --follow` reads it.
    pub async fn follow(&self, name: &str, container: &str) -> anyhow::Result<reqwest::Response> {
        let path = format!(
            "{}/containers/{container}/logs?follow=true",
            Self::group_path(name)
        );
        let e = &self.serve.endpoints;
        Ok(self
            .http
            .get(arm::url(&e.api, &path))
            .bearer_auth(&e.token)
            .send()
            .await?
            .error_for_status()?)
    }

    /// Proportional set size of the platform process, in bytes.
    pub fn pss(&self) -> Option<u64> {
        pss(self.pid()?)
    }
}

/// The group's IP from a PUT or GET answer.
pub fn ip_of(group: &Value) -> anyhow::Result<Ipv4Addr> {
    waci_tests::ip(group)
        .context("the group has no IP")?
        .parse()
        .context("the group's IP")
}

/// `waci/hello-http` on [`PORT`] of its own IP, restarted always, with a DNS name if given.
pub fn http_group(label: Option<&str>) -> Value {
    let mut g = waci_tests::group_body("waci/hello-http", &[PORT], "Always", &[]);
    if let Some(l) = label {
        g["properties"]["ipAddress"]["dnsNameLabel"] = json!(l);
    }
    g
}

/// `waci/hello-cli` run once: it prints its arguments and environment and exits 0.
pub fn cli_group() -> Value {
    waci_tests::group_body("waci/hello-cli", &[], "Never", &["hello-cli"])
}

/// A command from a component file, run once.
pub fn command_group(image: &Path, command: &[&str]) -> Value {
    waci_tests::group_body(&image.to_string_lossy(), &[], "Never", command)
}

/// Proportional set size of a process (shared pages split among their sharers), in bytes:
/// fair between one platform process and many peer processes sharing one binary.
pub fn pss(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Pss:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
