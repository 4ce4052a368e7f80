//! `TestPlatform`: the real `waci serve` binary, started on port 0 in a temp dir, and the
//! few helpers a test needs to act as a user would (ARM requests, waiting for a state,
//! killing and restarting the platform). [`browser`] drives the portal in a real Chromium;
//! [`registry`] starts a real OCI registry.

pub mod browser;
pub mod registry;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const API_VERSION: &str = "2025-09-01";
pub const SUB: &str = "00000000-0000-0000-0000-000000000001";

/// Each platform of a test run gets a /24 of its own inside 127.77.0.0/16, so tests running
/// side by side can all bind port 80.
static NEXT_POOL: AtomicU32 = AtomicU32::new(0);

/// The `waci` binary under test: `WACI_BIN`, else `waci-under-test`, which cargo builds
/// from the same entry point beside this test's own executable.
pub fn waci_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WACI_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> → target/<profile>/waci-under-test
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("waci-under-test");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace`",
        bin.display()
    );
    bin
}

/// A loopback port nothing listens on right now (for a server to take, or to find closed).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Where the guests built by the platform's build script live (for file-path images).
pub fn guest(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let build = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("build");
    let mut found = None;
    for entry in std::fs::read_dir(&build)
        .expect("target/<profile>/build")
        .flatten()
    {
        let p = entry.path().join("out/guests").join(format!("{name}.wasm"));
        if p.exists() {
            let newer = found
                .as_ref()
                .map(|f: &PathBuf| mtime(&p) > mtime(f))
                .unwrap_or(true);
            if newer {
                found = Some(p);
            }
        }
    }
    found.unwrap_or_else(|| panic!("guest {name} was not built"))
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH)
}

pub struct TestPlatform {
    pub data_dir: tempfile::TempDir,
    pub pool: String,
    child: Option<Child>,
    pub api: String,
    /// `http://127.0.0.1:<port>` of the front door.
    pub front_door: String,
    /// UDP and TCP address of the DNS server.
    pub dns: std::net::SocketAddr,
    pub token: String,
    pub http: reqwest::Client,
    extra_args: Vec<String>,
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestPlatform {
    pub async fn start() -> TestPlatform {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra_args: &[&str]) -> TestPlatform {
        let n = NEXT_POOL.fetch_add(1, Ordering::Relaxed);
        let third = 1 + (std::process::id() % 10 * 25 + n) % 254;
        let mut p = TestPlatform {
            data_dir: tempfile::tempdir().expect("temp dir"),
            pool: format!("127.77.{third}.0/24"),
            child: None,
            api: String::new(),
            front_door: String::new(),
            dns: "127.0.0.1:0".parse().expect("address"),
            token: String::new(),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
            extra_args: extra_args.iter().map(|s| s.to_string()).collect(),
        };
        p.launch().await;
        p
    }

    async fn launch(&mut self) {
        let endpoints = self.data_dir.path().join("endpoints.json");
        let _ = std::fs::remove_file(&endpoints);
        let mut cmd = Command::new(waci_bin());
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args([
                "--listen",
                "127.0.0.1:0",
                "--front-door-listen",
                "127.0.0.1:0",
                "--dns-listen",
                "127.0.0.1:0",
            ])
            .args(["--ip-pool", &self.pool])
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("starting waci serve");
        let deadline = Instant::now() + Duration::from_secs(120);
        let v = loop {
            if let Ok(text) = std::fs::read_to_string(&endpoints) {
                break serde_json::from_str::<Value>(&text).expect("endpoints.json is JSON");
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("waci serve exited early with {status}");
            }
            assert!(
                Instant::now() < deadline,
                "waci serve did not write endpoints.json within 120 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        self.api = v["api"]
            .as_str()
            .expect("endpoints.json names the api")
            .to_string();
        self.front_door = v["front_door"]
            .as_str()
            .expect("endpoints.json names the front door")
            .to_string();
        self.dns = v["dns"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("endpoints.json names the DNS server");
        self.token = std::fs::read_to_string(self.data_dir.path().join("token"))
            .expect("token file")
            .trim()
            .to_string();
        self.child = Some(child);
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// CPU time the platform's process has used so far, in clock ticks (user + system).
    pub fn cpu_ticks(&self) -> u64 {
        let pid = self.child.as_ref().expect("the platform runs").id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("its /proc stat");
        // The fields after the command name, which is in parentheses and may hold spaces.
        let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 2..]
            .split(' ')
            .collect();
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    }

    /// Starts the platform again on the same data dir.
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }

    pub fn group_path(rg: &str, name: &str) -> String {
        Self::group_path_in(SUB, rg, name)
    }

    pub fn group_path_in(sub: &str, rg: &str, name: &str) -> String {
        format!(
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups/{name}"
        )
    }

    /// Sends a request with the admin token and `api-version` added.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{sep}api-version={API_VERSION}", self.api);
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
        let mut req = self.http.request(method.parse().expect("method"), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn put_group(&self, rg: &str, name: &str, body: Value) -> Reply {
        self.call("PUT", &Self::group_path(rg, name), Some(body))
            .await
    }

    pub async fn get_group(&self, rg: &str, name: &str) -> Reply {
        self.call("GET", &Self::group_path(rg, name), None).await
    }

    /// Polls the group until `pred` holds; panics with the last body after `timeout`.
    pub async fn wait_for(
        &self,
        rg: &str,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let r = self.get_group(rg, name).await;
            if r.status == 200 && pred(&r.body) {
                return r.body;
            }
            assert!(
                Instant::now() < deadline,
                "group {rg}/{name} did not become {what} within {timeout:?}; last answer {}: {}",
                r.status,
                r.text
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits for `instanceView.state == state`.
    pub async fn wait_for_state(&self, rg: &str, name: &str, state: &str) -> Value {
        self.wait_for(rg, name, state, Duration::from_secs(60), |b| {
            b["properties"]["instanceView"]["state"] == state
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
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let logs = self.logs(rg, name, container).await;
            if logs.contains(needle) {
                return logs;
            }
            assert!(
                Instant::now() < deadline,
                "logs of {name}/{container} never showed {needle:?}; they were:\n{logs}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// What a run of the `waci` CLI left: its exit status and output.
pub struct CliRun {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    /// Asserts the command succeeded, and returns its output for more checks.
    pub fn ok(self) -> CliRun {
        assert!(
            self.status.success(),
            "waci failed with {}:\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts the command failed with a non-zero exit status.
    pub fn failed(self) -> CliRun {
        assert!(
            !self.status.success() && self.status.code().is_some(),
            "waci should have failed, but exited with {}:\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// `waci <line>`, the line split as a shell would, with nothing of the caller's environment
/// that would point it at another platform.
pub fn waci_command(line: &str) -> tokio::process::Command {
    let args = shlex::split(line).unwrap_or_else(|| panic!("unbalanced quotes in {line:?}"));
    let mut cmd = tokio::process::Command::new(waci_bin());
    cmd.args(args);
    for var in [
        "WACI_ENDPOINT",
        "WACI_TOKEN",
        "WACI_HOME",
        "WACI_SUBSCRIPTION",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", std::env::temp_dir().join("waci-tests-no-home"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs a `waci` command to its end, capturing its output.
pub async fn run_cli(mut cmd: tokio::process::Command) -> CliRun {
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("{cmd:?} did not end within 120 s"))
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    CliRun {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl TestPlatform {
    /// `waci <line>` pointed at this platform by `WACI_ENDPOINT`, `WACI_TOKEN` and
    /// `WACI_SUBSCRIPTION`, as a user's shell would.
    pub fn cli(&self, line: &str) -> tokio::process::Command {
        let mut cmd = waci_command(line);
        cmd.env("WACI_ENDPOINT", &self.api)
            .env("WACI_TOKEN", &self.token)
            .env("WACI_SUBSCRIPTION", SUB);
        cmd
    }

    /// Runs `waci <line>` against this platform to its end.
    pub async fn waci(&self, line: &str) -> CliRun {
        run_cli(self.cli(line)).await
    }
}

impl Drop for TestPlatform {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A one-container group body.
pub fn group_body(image: &str, ports: &[u16], restart_policy: &str, command: &[&str]) -> Value {
    let ports_json: Vec<Value> = ports
        .iter()
        .map(|p| json!({"protocol": "TCP", "port": p}))
        .collect();
    let mut props = json!({
        "osType": "Linux",
        "restartPolicy": restart_policy,
        "containers": [{"name": "main", "properties": {
            "image": image,
            "command": command,
            "ports": ports_json,
            "resources": {"requests": {"cpu": 1.0, "memoryInGB": 0.5}}
        }}]
    });
    if !ports.is_empty() {
        props["ipAddress"] = json!({"type": "Public", "ports": ports_json});
    }
    json!({"location": "local", "properties": props})
}

/// A plain HTTP GET to a group's address, as user agent `waci-tests/1`.
pub async fn http_get(url: &str) -> Result<(u16, String), String> {
    http_get_as(url, "waci-tests/1").await
}

/// A plain HTTP GET with the given user agent (services log it).
pub async fn http_get_as(url: &str, agent: &str) -> Result<(u16, String), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .get(url)
        .header("user-agent", agent)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await.map_err(|e| e.to_string())?))
}

pub mod dns {
    //! A small DNS client over the real wire format (hickory-proto), UDP or TCP.

    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{Name, RData, RecordType};
    use std::net::{Ipv4Addr, SocketAddr};
    use std::str::FromStr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Debug)]
    pub struct Answer {
        pub rcode: ResponseCode,
        pub authoritative: bool,
        pub a: Vec<Ipv4Addr>,
        pub answer_types: Vec<RecordType>,
        pub authority_types: Vec<RecordType>,
    }

    fn query(name: &str, rtype: RecordType) -> Vec<u8> {
        let mut msg = Message::new(rand_id(), MessageType::Query, OpCode::Query);
        msg.add_query(Query::query(
            Name::from_str(name).expect("a DNS name"),
            rtype,
        ));
        msg.to_vec().expect("encodes")
    }

    fn rand_id() -> u16 {
        (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos()
            & 0xffff) as u16
    }

    fn answer(bytes: &[u8]) -> Answer {
        let msg = Message::from_vec(bytes).expect("a DNS response");
        Answer {
            rcode: msg.metadata.response_code,
            authoritative: msg.metadata.authoritative,
            a: msg
                .answers
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) => Some(a.0),
                    _ => None,
                })
                .collect(),
            answer_types: msg.answers.iter().map(|r| r.record_type()).collect(),
            authority_types: msg.authorities.iter().map(|r| r.record_type()).collect(),
        }
    }

    pub async fn udp(server: SocketAddr, name: &str, rtype: RecordType) -> Answer {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("udp socket");
        sock.send_to(&query(name, rtype), server)
            .await
            .expect("send");
        let mut buf = vec![0u8; 4096];
        let (n, _) =
            tokio::time::timeout(std::time::Duration::from_secs(5), sock.recv_from(&mut buf))
                .await
                .expect("a DNS answer within 5 s")
                .expect("recv");
        answer(&buf[..n])
    }

    pub async fn tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Answer {
        let mut s = tokio::net::TcpStream::connect(server)
            .await
            .expect("tcp connect");
        let q = query(name, rtype);
        s.write_all(&(q.len() as u16).to_be_bytes())
            .await
            .expect("write");
        s.write_all(&q).await.expect("write");
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.expect("length");
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).await.expect("message");
        answer(&buf)
    }
}
