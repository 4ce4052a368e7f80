//! waci's peers, run on the same machine in the same run: `wasmtime` 48 (`run` and `serve`
//! on the same components) and Knot DNS (the same names from a zone file).

use anyhow::{Context, bail};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// A port free on 127.0.0.1 right now (the system picks it; a peer binds it a moment later).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

#[derive(Clone)]
pub struct Wasmtime {
    pub bin: PathBuf,
}

/// A running `wasmtime serve`; killed when dropped.
pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Wasmtime {
    pub fn version(&self) -> String {
        crate::tools::version(&self.bin.to_string_lossy(), &["--version"])
    }

    /// `wasmtime compile`: the peer's equivalent of waci's compiled-code cache.
    pub fn compile(&self, wasm: &Path, out: &Path) -> anyhow::Result<()> {
        let status = std::process::Command::new(&self.bin)
            .arg("compile")
            .arg(wasm)
            .arg("-o")
            .arg(out)
            .status()
            .context("running wasmtime compile")?;
        if !status.success() {
            bail!("wasmtime compile {} failed: {status}", wasm.display());
        }
        Ok(())
    }

    /// `wasmtime run --allow-precompiled <cwasm> args...` as one command line (for hyperfine).
    pub fn run_line(&self, cwasm: &Path, args: &[&str]) -> String {
        let mut line = format!(
            "{} run --allow-precompiled {}",
            self.bin.display(),
            cwasm.display()
        );
        for a in args {
            line.push(' ');
            line.push_str(a);
        }
        line
    }

    /// `wasmtime serve -Scli --addr <addr>` on a precompiled component, its stdout
    /// (what the guest prints) discarded or piped. Returns once spawned, not once serving.
    pub fn serve(
        &self,
        cwasm: &Path,
        addr: SocketAddr,
        pipe_stdout: bool,
    ) -> anyhow::Result<Served> {
        self.serve_with(cwasm, addr, pipe_stdout, &[])
    }

    /// [`Wasmtime::serve`] with more flags of `wasmtime serve` (`-C cache=n` for a start
    /// that compiles, whatever wasmtime's own cache holds).
    pub fn serve_with(
        &self,
        cwasm: &Path,
        addr: SocketAddr,
        pipe_stdout: bool,
        flags: &[&str],
    ) -> anyhow::Result<Served> {
        let child = Command::new(&self.bin)
            .arg("serve")
            .arg("-Scli")
            .args(flags)
            .arg("--addr")
            .arg(addr.to_string())
            .arg("--allow-precompiled")
            .arg(cwasm)
            .stdin(Stdio::null())
            .stdout(if pipe_stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting wasmtime serve")?;
        Ok(Served { child, addr })
    }
}

/// Knot DNS serving `zone` from a zone file, on its own port of 127.0.0.1.
pub struct Knot {
    child: Child,
    pub addr: SocketAddr,
}

impl Knot {
    /// Writes a config and a zone file holding `records` (FQDN → IP, with the SOA and NS the
    /// embedded server also answers), starts `knotd` and waits until it answers.
    pub async fn start(
        knotd: &Path,
        dir: &Path,
        zone: &str,
        records: &[(String, Ipv4Addr)],
    ) -> anyhow::Result<Knot> {
        std::fs::create_dir_all(dir.join("db"))?;
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut zf = format!(
            "$ORIGIN {zone}.\n$TTL 5\n@ 60 IN SOA ns hostmaster 1 3600 600 86400 60\n@ 60 IN NS ns\nns 60 IN A 127.0.0.1\n"
        );
        for (fqdn, ip) in records {
            zf.push_str(&format!("{fqdn}. 5 IN A {ip}\n"));
        }
        let zone_file = dir.join(format!("{zone}.zone"));
        std::fs::write(&zone_file, zf)?;
        let d = dir.display();
        let conf = format!(
            "server:\n    listen: 127.0.0.1@{port}\n    rundir: \"{d}\"\n    pidfile: \"{d}/knot.pid\"\n\
             log:\n  - target: stderr\n    any: error\n\
             database:\n    storage: \"{d}/db\"\n\
             zone:\n  - domain: {zone}\n    file: \"{}\"\n    zonefile-sync: -1\n    journal-content: none\n",
            zone_file.display()
        );
        let conf_file = dir.join("knot.conf");
        std::fs::write(&conf_file, conf)?;
        let child = Command::new(knotd)
            .arg("-c")
            .arg(&conf_file)
            .arg("-s")
            .arg(dir.join("knot.sock"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", knotd.display()))?;
        let mut knot = Knot { child, addr };
        let probe = records
            .first()
            .map(|(n, _)| n.clone())
            .unwrap_or_else(|| format!("ns.{zone}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if resolves(addr, &probe).await {
                return Ok(knot);
            }
            if let Some(status) = knot.child.try_wait()? {
                bail!(
                    "knotd exited with {status}; its config is {}",
                    conf_file.display()
                );
            }
            if Instant::now() > deadline {
                bail!("knotd did not answer for {probe} within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Whether `server` answers an A query for `name` with NOERROR and at least one record.
pub async fn resolves(server: SocketAddr, name: &str) -> bool {
    let name = name.to_string();
    tokio::task::spawn_blocking(move || -> Option<bool> {
        let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .ok()?;
        sock.send_to(&a_query(0x5eed, &name), server).ok()?;
        let mut buf = [0u8; 512];
        let (n, _) = sock.recv_from(&mut buf).ok()?;
        let ok = n >= 12
            && buf[0..2] == [0x5e, 0xed]
            && buf[3] & 0x0f == 0
            && u16::from_be_bytes([buf[6], buf[7]]) > 0;
        Some(ok)
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// A DNS query for `name`'s A record, recursion not desired.
fn a_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

#[cfg(test)]
mod tests {
    use super::a_query;

    #[test]
    fn query_wire_format() {
        let q = a_query(1, "ab.c.");
        assert_eq!(
            q,
            [
                0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, b'a', b'b', 1, b'c', 0, 0, 1, 0, 1
            ]
        );
    }
}
