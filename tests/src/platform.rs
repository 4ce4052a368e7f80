//! `TestPlatform`: the real `waci serve` binary, started through [`crate::serve`] on port 0
//! in a temp dir with a /24 of its own, and what a test does with it as a user would: ARM
//! requests, `create`, waiting for a state or a log line, killing and restarting. Every
//! failure panics with the answer that was not what the test expected.

use crate::arm::{self, Reply};
use crate::local::waci_bin;
use crate::serve::Serve;
use crate::wait::eventually;
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const SUB: &str = "00000000-0000-0000-0000-000000000001";

/// How long a group may take to reach a state the test waits for.
const STATE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a log line may take to appear.
const LOG_TIMEOUT: Duration = Duration::from_secs(30);

/// Each platform of a test run gets a /24 of its own inside 127.77.0.0/16, so tests running
/// side by side can all bind port 80.
static NEXT_POOL: AtomicU32 = AtomicU32::new(0);

pub struct TestPlatform {
    pub data_dir: tempfile::TempDir,
    pub pool: String,
    serve: Serve,
    /// `http://127.0.0.1:<port>` of the ARM API.
    pub api: String,
    /// `http://127.0.0.1:<port>` of the front door.
    pub front_door: String,
    /// UDP and TCP address of the DNS server.
    pub dns: std::net::SocketAddr,
    pub token: String,
    pub http: reqwest::Client,
}

impl TestPlatform {
    pub async fn start() -> TestPlatform {
        Self::start_with(&[]).await
    }

    /// A platform whose log (at `WACI_LOG=info`) goes to [`TestPlatform::log_file`] rather
    /// than the test's stderr, for a test that reads it.
    pub async fn start_logged() -> TestPlatform {
        Self::start_inner(&[], true).await
    }

    /// The file [`TestPlatform::start_logged`] writes the platform's log to.
    pub fn log_file(&self) -> std::path::PathBuf {
        self.data_dir.path().join("serve.log")
    }

    pub async fn start_with(extra_args: &[&str]) -> TestPlatform {
        Self::start_inner(extra_args, false).await
    }

    async fn start_inner(extra_args: &[&str], logged: bool) -> TestPlatform {
        let n = NEXT_POOL.fetch_add(1, Ordering::Relaxed);
        let third = 1 + (std::process::id() % 10 * 25 + n) % 254;
        let pool = format!("127.77.{third}.0/24");
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut args = vec!["--ip-pool", &pool];
        args.extend_from_slice(extra_args);
        let log = logged.then(|| data_dir.path().join("serve.log"));
        let serve = Serve::start_logged(&waci_bin(), data_dir.path(), &args, log)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let mut p = TestPlatform {
            data_dir,
            pool: pool.clone(),
            api: String::new(),
            front_door: String::new(),
            dns: serve.endpoints.dns,
            token: String::new(),
            http: arm::client(),
            serve,
        };
        p.read_endpoints();
        p
    }

    fn read_endpoints(&mut self) {
        let e = &self.serve.endpoints;
        self.api = e.api.clone();
        self.front_door = e.front_door.clone();
        self.dns = e.dns;
        self.token = e.token.clone();
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        self.serve.kill();
    }

    /// Starts the platform again on the same data dir.
    pub async fn restart(&mut self) {
        self.serve
            .launch()
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        self.read_endpoints();
    }

    /// CPU time the platform's process has used so far, in clock ticks (user + system).
    pub fn cpu_ticks(&self) -> u64 {
        let pid = self.serve.pid().expect("the platform runs");
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("its /proc stat");
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 2..]
            .split(' ')
            .collect();
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    }

    pub fn group_path(rg: &str, name: &str) -> String {
        arm::group_path_in(SUB, rg, name)
    }

    pub fn group_path_in(sub: &str, rg: &str, name: &str) -> String {
        arm::group_path_in(sub, rg, name)
    }

    /// Sends a request with the admin token and `api-version` added.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = arm::url(&self.api, path);
        self.raw(method, &url, Some(&self.token), body.map(|b| b.to_string()))
            .await
    }

    /// Sends exactly what it is given.
    pub async fn raw(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        arm::request(&self.http, method, url, token, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }

    pub async fn put_group(&self, rg: &str, name: &str, body: Value) -> Reply {
        self.call("PUT", &Self::group_path(rg, name), Some(body))
            .await
    }

    /// PUTs a new group and asserts it was created (201).
    pub async fn create(&self, rg: &str, name: &str, body: Value) -> Reply {
        self.create_at(&Self::group_path(rg, name), body).await
    }

    /// PUTs a new group at `path` (in any subscription) and asserts it was created (201).
    pub async fn create_at(&self, path: &str, body: Value) -> Reply {
        self.put_expecting(path, body, 201).await
    }

    /// PUTs a group at `path` and asserts the answer's status, with the answer in the
    /// failure message.
    pub async fn put_expecting(&self, path: &str, body: Value, status: u16) -> Reply {
        let r = self.call("PUT", path, Some(body)).await;
        assert_eq!(
            r.status, status,
            "PUT {path} answered {} instead of {status}: {}",
            r.status, r.text
        );
        r
    }

    pub async fn get_group(&self, rg: &str, name: &str) -> Reply {
        self.call("GET", &Self::group_path(rg, name), None).await
    }

    /// Polls the group until `pred` holds; panics with the last answer after `timeout`.
    pub async fn wait_for(
        &self,
        rg: &str,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(
            &format!("group {rg}/{name} to be {what}"),
            timeout,
            || async {
                let r = self.get_group(rg, name).await;
                if r.status == 200 && pred(&r.body) {
                    Ok(r.body)
                } else {
                    Err(format!("{}: {}", r.status, r.text))
                }
            },
        )
        .await
    }

    /// Waits for `instanceView.state == state`.
    pub async fn wait_for_state(&self, rg: &str, name: &str, state: &str) -> Value {
        self.wait_for(rg, name, state, STATE_TIMEOUT, |g| {
            crate::json::state(g) == state
        })
        .await
    }

    /// A container's log content.
    pub async fn logs(&self, rg: &str, name: &str, container: &str) -> String {
        let r = self
            .call(
                "GET",
                &format!("{}/containers/{container}/logs", Self::group_path(rg, name)),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "logs: {}", r.text);
        r.body["content"].as_str().unwrap_or_default().to_string()
    }

    /// Polls the logs until they contain `needle`.
    pub async fn wait_for_log(
        &self,
        rg: &str,
        name: &str,
        container: &str,
        needle: &str,
    ) -> String {
        let what = format!("the logs of {name}/{container} to show {needle:?}");
        eventually(&what, LOG_TIMEOUT, || async {
            let logs = self.logs(rg, name, container).await;
            if logs.contains(needle) {
                Ok(logs)
            } else {
                Err(logs)
            }
        })
        .await
    }
}

impl Drop for TestPlatform {
    fn drop(&mut self) {
        // Before the temp dir goes: the platform must not outlive its data.
        self.kill();
    }
}
