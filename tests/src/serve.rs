//! One `waci serve` process, as both the tests and the benchmarks start it: on port 0 for
//! every listener, in a data dir of the caller's, with the endpoints and the admin token read
//! back from the files the platform writes there. It knows nothing of what is asked of the
//! platform afterwards (that is `arm`), and it returns errors instead of panicking, so a
//! benchmark can report them.

use anyhow::{Context, bail};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `waci serve` may take to bind everything (it compiles nothing at start, but a
/// loaded machine running tests side by side is slow).
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// Between looks for `endpoints.json`: short, because the benchmarks time the start-up.
const START_POLL: Duration = Duration::from_millis(1);

/// Where a running platform listens, as its `endpoints.json` and `token` say.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `http://127.0.0.1:<port>` of the ARM API.
    pub api: String,
    /// `http://127.0.0.1:<port>` of the front door.
    pub front_door: String,
    /// UDP and TCP address of the DNS server.
    pub dns: SocketAddr,
    /// The admin token.
    pub token: String,
}

/// A `waci serve` process; killed (SIGKILL) when dropped.
pub struct Serve {
    bin: PathBuf,
    data_dir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
    /// Where the platform's log goes at `WACI_LOG=info`, if not to the caller's stderr.
    log: Option<PathBuf>,
    pub endpoints: Endpoints,
}

impl Serve {
    /// Starts `bin serve` on `data_dir` with every listener on `127.0.0.1:0` and `args` after
    /// (an `--ip-pool`, quotas, limits), and waits until it has written its endpoints.
    pub async fn start(bin: &Path, data_dir: &Path, args: &[&str]) -> anyhow::Result<Serve> {
        Self::start_logged(bin, data_dir, args, None).await
    }

    /// [`Serve::start`], with the platform's log at `WACI_LOG=info` written to `log` (a file
    /// a test reads back) when given.
    pub async fn start_logged(
        bin: &Path,
        data_dir: &Path,
        args: &[&str],
        log: Option<PathBuf>,
    ) -> anyhow::Result<Serve> {
        let mut serve = Serve {
            bin: bin.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            args: args.iter().map(|s| s.to_string()).collect(),
            child: None,
            log,
            endpoints: Endpoints {
                api: String::new(),
                front_door: String::new(),
                dns: SocketAddr::from(([127, 0, 0, 1], 0)),
                token: String::new(),
            },
        };
        serve.launch().await?;
        Ok(serve)
    }

    /// Starts the process again on the same data dir (killing it first if it runs) and waits
    /// for `endpoints.json`; returns how long that took.
    pub async fn launch(&mut self) -> anyhow::Result<Duration> {
        self.kill();
        let endpoints = self.data_dir.join("endpoints.json");
        let _ = std::fs::remove_file(&endpoints);
        let start = Instant::now();
        let mut command = Command::new(&self.bin);
        match &self.log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("opening {}", path.display()))?;
                command.env("WACI_LOG", "info").stderr(file);
            }
            None => {
                command.stderr(Stdio::inherit());
            }
        }
        let mut child = command
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--listen", "127.0.0.1:0"])
            .args(["--front-door-listen", "127.0.0.1:0"])
            .args(["--dns-listen", "127.0.0.1:0"])
            .args(&self.args)
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {} serve", self.bin.display()))?;
        let v: Value = loop {
            // The file may be seen half-written: read it again until it parses.
            if let Ok(text) = std::fs::read_to_string(&endpoints)
                && let Ok(v) = serde_json::from_str(&text)
            {
                break v;
            }
            if let Some(status) = child.try_wait()? {
                bail!("waci serve exited early with {status}");
            }
            if start.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                bail!("waci serve wrote no endpoints.json within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(START_POLL).await;
        };
        let took = start.elapsed();
        // From here on the child is ours to kill, whatever fails below.
        self.child = Some(child);
        let field = |k: &str| {
            v[k].as_str()
                .map(str::to_string)
                .with_context(|| format!("endpoints.json names no {k}: {v}"))
        };
        self.endpoints = Endpoints {
            api: field("api")?,
            front_door: field("front_door")?,
            dns: field("dns")?
                .parse()
                .context("the DNS address in endpoints.json")?,
            token: std::fs::read_to_string(self.data_dir.join("token"))
                .context("the token file")?
                .trim()
                .to_string(),
        };
        Ok(took)
    }

    /// SIGKILL: no chance to flush or clean up, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}
