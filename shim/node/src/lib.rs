//! `waci-node`: a Kubernetes node without kubelet, for the shim's tests and the benchmarks.
//! `TestNode` is a private containerd (Debian's 1.6) with its own root, state, socket and
//! CNI config under a temp dir, the `waci` runtime pointing at the shim binary it is given
//! beside containerd's own `runc`, a pause image built here, and a CRI client on its socket
//! that makes the calls kubelet makes. Stopped by its pid when dropped. It panics, with
//! containerd's log where it helps, when the node does not do what kubelet expects: it is
//! made for tests (a benchmark runs it on a task of its own and reports the panic).
//!
//! - `lib.rs`: the node, its CNI bridge, the pause image, cleaning up
//! - `pods.rs`: kubelet's CRI calls and configs, and the processes of a pod
//! - `image.rs`: the OCI archives it imports
//!
//! What real kubelet adds on top of these calls: it pulls images from registries (here they
//! are imported), mounts the pod's volumes and service-account token, sets the security
//! context, seccomp profile and DNS config, runs probes, restarts by policy, and garbage
//! collects exited containers.

pub mod image;
mod pods;

use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tonic::transport::Channel;
use waci_tests::eventually;

pub use image::{Image, wasm_image};
/// The CRI's messages and clients, for callers that make calls of their own.
pub use k8s_cri::v1 as cri;
pub use pods::container_config;

/// Debian's containerd, runc and CNI plugins, which `.ci/run` installs.
const CONTAINERD: &str = "/usr/bin/containerd";
const CTR: &str = "/usr/bin/ctr";
const CNI_BIN: &str = "/usr/lib/cni";
/// What a node cannot start without, and the package each comes from.
const NEEDS: &[(&str, &str)] = &[
    (CONTAINERD, "containerd"),
    (CTR, "containerd"),
    ("/usr/bin/containerd-shim-runc-v2", "containerd"),
    ("/usr/sbin/runc", "runc"),
    ("/usr/lib/cni/bridge", "containernetworking-plugins"),
    ("/usr/lib/cni/host-local", "containernetworking-plugins"),
];
/// containerd's CRI plugin keeps its pods and images in this namespace.
const K8S_NAMESPACE: &str = "k8s.io";
/// The sandbox image the node's containerd is told to use; imported, never pulled.
pub const PAUSE_IMAGE: &str = "waci.test/pause:1";
/// An env var of the node (containerd and the shim have it), which no guest may see.
pub const NODE_ONLY_ENV: (&str, &str) = ("WACI_NODE_ONLY", "the-node-s-own");
/// The RuntimeClass handler, as a pod's `runtimeClassName: waci` reaches containerd.
pub const HANDLER: &str = "waci";
/// containerd's own runtime (`io.containerd.runc.v2`), the node's default, under this handler.
pub const RUNC_HANDLER: &str = "runc";

/// The pause program: holds the pod's namespaces until told to stop.
const PAUSE_C: &str = r#"
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
static void stop(int s) { (void)s; _exit(0); }
static void reap(int s) { (void)s; while (waitpid(-1, 0, WNOHANG) > 0) {} }
int main(void) {
    signal(SIGINT, stop);
    signal(SIGTERM, stop);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
"#;

static NODES: AtomicU32 = AtomicU32::new(0);

pub struct TestNode {
    dir: tempfile::TempDir,
    containerd: Child,
    /// `/waci-test-<pid>-<n>`: every pod's cgroup is under it, so a process left in it is a
    /// process the pod left behind.
    cgroup_parent: String,
    /// The CNI bridge of this node's pods, which the bridge plugin leaves behind.
    bridge: String,
    pub runtime: RuntimeServiceClient<Channel>,
    pub images: ImageServiceClient<Channel>,
    /// The node's compiled-code cache (`WACI_SHIM_CACHE_DIR` of the shim).
    pub cache_dir: PathBuf,
}

/// A guest component built by the platform's build script, under `profile_dir`
/// (`<target>/<profile>`, which holds `build/*/out/guests`): the newest build of it.
pub fn guest(profile_dir: &Path, name: &str) -> Vec<u8> {
    let build = profile_dir.join("build");
    let newest = std::fs::read_dir(&build)
        .unwrap_or_else(|e| panic!("{}: {e}", build.display()))
        .flatten()
        .map(|e| e.path().join("out/guests").join(format!("{name}.wasm")))
        .filter(|p| p.exists())
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    let path =
        newest.unwrap_or_else(|| panic!("guest {name} is not built under {}", build.display()));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

impl TestNode {
    /// Starts a node whose `waci` runtime is the binary `shim` (`containerd-shim-waci-v1`).
    /// Needs root, as containerd does.
    pub async fn start(shim: &Path) -> TestNode {
        for (bin, package) in NEEDS {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: install Debian's {package} (`.ci/run` installs containerd, runc and containernetworking-plugins)"
            );
        }
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(euid, 0, "a node needs root: containerd, runc and CNI do");
        // containerd finds the runtime `io.containerd.waci.v1` by this name on its `PATH`.
        assert!(
            shim.ends_with("containerd-shim-waci-v1") && shim.exists(),
            "{} is not a containerd-shim-waci-v1 binary",
            shim.display()
        );
        let shim_dir = shim.parent().unwrap_or(Path::new("/"));
        let n = NODES.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let dir = tempfile::Builder::new()
            .prefix("waci-node")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        let cache_dir = d.join("cache");
        let cgroup_parent = format!("/waci-test-{pid}-{n}");
        // A /24 and a bridge of its own, so nodes of parallel tests never meet.
        let subnet = format!(
            "10.{}.{}.0/24",
            100 + (pid % 100),
            (n * 37 + pid / 100) % 250
        );
        let bridge = format!("waci{:x}", (pid * 16 + n) & 0xff_ffff);
        std::fs::create_dir_all(d.join("cni")).expect("cni dir");
        std::fs::write(
            d.join("cni/10-waci.conflist"),
            serde_json::to_vec_pretty(&serde_json::json!({
                "cniVersion": "0.4.0",
                "name": "waci-test",
                "plugins": [{
                    "type": "bridge",
                    "bridge": bridge,
                    "isGateway": true,
                    "ipMasq": false,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": subnet}]],
                        "dataDir": d.join("cni-ipam"),
                    },
                }],
            }))
            .expect("json"),
        )
        .expect("writing the CNI config");

        let pause = build_pause(d);
        let sock = d.join("containerd.sock");
        std::fs::write(
            d.join("config.toml"),
            format!(
                r#"version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{sock}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{HANDLER}]
      runtime_type = "io.containerd.waci.v1"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{cni}"
"#,
                root = d.join("root").display(),
                state = d.join("state").display(),
                sock = sock.display(),
                opt = d.join("opt").display(),
                cni = d.join("cni").display(),
            ),
        )
        .expect("writing containerd's config");
        let log = std::fs::File::create(d.join("containerd.log")).expect("log file");
        let path = format!(
            "{}:{}",
            shim_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let containerd = Command::new(CONTAINERD)
            .arg("--config")
            .arg(d.join("config.toml"))
            .env("PATH", path)
            .env("WACI_SHIM_CACHE_DIR", &cache_dir)
            .env(NODE_ONLY_ENV.0, NODE_ONLY_ENV.1)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("starting containerd");

        let channel = eventually(
            "containerd's socket to accept",
            Duration::from_secs(30),
            || {
                let sock = sock.clone();
                async move { connect(&sock).await }
            },
        )
        .await;
        let mut node = TestNode {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
            dir,
            containerd,
            cgroup_parent,
            bridge,
            cache_dir,
        };
        let mut runtime = node.runtime.clone();
        eventually(
            "the CRI runtime and network to be ready",
            Duration::from_secs(30),
            || {
                let mut runtime = runtime.clone();
                async move {
                    let status = runtime
                        .status(StatusRequest { verbose: false })
                        .await
                        .map_err(|e| e.to_string())?
                        .into_inner()
                        .status
                        .ok_or("no status")?;
                    let ready = status.conditions.iter().all(|c| c.status);
                    if ready && !status.conditions.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("{:?}", status.conditions))
                    }
                }
            },
        )
        .await;
        let _ = &mut runtime;
        node.import(&Image {
            name: PAUSE_IMAGE,
            platform: ("linux", "amd64"),
            entrypoint: &["/pause"],
            files: vec![("pause", pause, 0o755)],
        })
        .await;
        node
    }

    /// Imports `image` into the CRI plugin's namespace, as a pull would, and waits until
    /// the CRI plugin sees it.
    pub async fn import(&mut self, image: &Image<'_>) {
        let file = self.dir.path().join(format!(
            "image-{}.tar",
            NODES.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&file, image.archive()).expect("writing the image archive");
        let out = Command::new(CTR)
            .arg("--address")
            .arg(self.dir.path().join("containerd.sock"))
            .args([
                "--namespace",
                K8S_NAMESPACE,
                "images",
                "import",
                "--all-platforms",
            ])
            .arg(&file)
            .output()
            .expect("running ctr");
        assert!(
            out.status.success(),
            "ctr images import {}: {}{}",
            image.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let images = self.images.clone();
        let name = image.name.to_string();
        eventually(
            &format!("the CRI plugin to list {name}"),
            Duration::from_secs(20),
            || {
                let mut images = images.clone();
                let name = name.clone();
                async move {
                    images
                        .image_status(ImageStatusRequest {
                            image: Some(ImageSpec {
                                image: name,
                                ..Default::default()
                            }),
                            verbose: false,
                        })
                        .await
                        .ok()
                        .and_then(|r| r.into_inner().image)
                }
            },
        )
        .await;
    }

    /// A directory of the node for a pod's volume (a `hostPath`, as kubelet mounts an
    /// `emptyDir`).
    pub fn volume(&self, name: &str) -> PathBuf {
        let dir = self.dir.path().join("volumes").join(name);
        std::fs::create_dir_all(&dir).expect("volume dir");
        dir
    }

    pub fn containerd_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }
}

async fn connect(sock: &Path) -> Result<Channel, String> {
    if !sock.exists() {
        return Err("no socket yet".into());
    }
    let sock = sock.to_path_buf();
    tonic::transport::Endpoint::try_from("http://[::]:0")
        .map_err(|e| e.to_string())?
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let sock = sock.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(sock).await?,
                ))
            }
        }))
        .await
        .map_err(|e| e.to_string())
}

/// Compiles the pause program statically (gcc and libc.a come with Rust's toolchain needs on
/// Debian) into `dir`.
fn build_pause(dir: &Path) -> Vec<u8> {
    let src = dir.join("pause.c");
    let out = dir.join("pause");
    std::fs::write(&src, PAUSE_C).expect("pause.c");
    let built = Command::new("cc")
        .args(["-static", "-Os", "-o"])
        .arg(&out)
        .arg(&src)
        .output()
        .expect("running cc");
    assert!(
        built.status.success(),
        "cc pause.c: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    std::fs::read(&out).expect("the pause binary")
}

/// The pids of every process for which `matches` holds.
fn processes_with(matches: impl Fn(u32) -> bool) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|&pid| pid != std::process::id() && matches(pid))
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for TestNode {
    /// Stops containerd by its pid; whatever a failed test left running under this node
    /// (its shims, which carry this node's socket path in their arguments, and the pods'
    /// processes, in this node's cgroups) is killed by pid, its mounts are detached, and its
    /// bridge and cgroups are removed.
    fn drop(&mut self) {
        let pid = self.containerd.id();
        // SAFETY: signals the process we started.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let _ = self.containerd.wait();
        let d = self.dir.path().display().to_string();
        let cgroup_parent = format!("{}/", self.cgroup_parent);
        let left = processes_with(|p| {
            let cmdline = std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let cgroup = std::fs::read_to_string(format!("/proc/{p}/cgroup")).unwrap_or_default();
            cmdline.contains(&d) || cgroup.contains(&cgroup_parent)
        });
        // The network namespaces of pods not removed: containerd pins each under
        // /run/netns, where nothing would remove them once their processes are gone.
        let pinned = pinned_netns(&left);
        for pid in left {
            // SAFETY: these processes belong to this node: its shims and its pods.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
        for ns in pinned {
            let _ = Command::new("umount").arg(&ns).status();
            let _ = std::fs::remove_file(&ns);
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|p| p.starts_with(&d))
            .collect();
        points.reverse();
        for p in points {
            let _ = Command::new("umount").arg("-l").arg(p).status();
        }
        let _ = Command::new("ip")
            .args(["link", "delete", &self.bridge])
            .stderr(Stdio::null())
            .status();
        for controller in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = remove_cgroup(
                &controller
                    .path()
                    .join(self.cgroup_parent.trim_start_matches('/')),
            );
        }
    }
}

/// The files under `/run/netns` that pin the network namespace of one of `pids`.
fn pinned_netns(pids: &[u32]) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let host = std::fs::metadata("/proc/self/ns/net").map(|m| m.ino()).ok();
    let inodes: Vec<u64> = pids
        .iter()
        .filter_map(|p| std::fs::metadata(format!("/proc/{p}/ns/net")).ok())
        .map(|m| m.ino())
        .filter(|ino| Some(*ino) != host)
        .collect();
    std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::metadata(p)
                .map(|m| inodes.contains(&m.ino()))
                .unwrap_or(false)
        })
        .collect()
}

/// Removes a cgroup directory and the empty ones below it.
fn remove_cgroup(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)?.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let _ = remove_cgroup(&e.path());
        }
    }
    std::fs::remove_dir(dir)
}
