//! The `waci` CLI as a user's shell runs it: a command line split as a shell would, run to
//! its end with its output captured, and asserted to succeed or fail.

use crate::local::waci_bin;
use crate::platform::{SUB, TestPlatform};
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;

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
