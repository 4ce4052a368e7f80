//! What the tests find on this machine: the `waci` binary under test, the guests the
//! platform's build script built, a free loopback port, and a plain HTTP GET to a group (as
//! a user's browser or `curl` would send it, no token and no ARM).

use std::path::{Path, PathBuf};
use std::time::Duration;

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
