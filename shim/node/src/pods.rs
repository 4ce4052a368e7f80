//! The CRI calls kubelet makes for a pod and its containers, and the configs it sends with
//! them, as `TestNode` methods; and the processes that run a pod.

use super::{HANDLER, TestNode, processes_with};
use k8s_cri::v1::*;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use waci_tests::eventually;

impl TestNode {
    /// The pod's config as kubelet sends it: its metadata, log directory, cgroup parent, and
    /// a PID namespace per container.
    pub fn pod_config(&self, name: &str) -> PodSandboxConfig {
        let uid = format!("uid-{name}");
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.into(),
                uid: uid.clone(),
                namespace: "default".into(),
                attempt: 0,
            }),
            hostname: name.into(),
            log_directory: self
                .dir
                .path()
                .join("pods")
                .join(&uid)
                .display()
                .to_string(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: self.cgroup_parent.clone(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(namespaces()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// `RunPodSandbox` with the `waci` handler; the pod's id.
    pub async fn run_pod(&mut self, config: &PodSandboxConfig) -> String {
        self.run_pod_with(config, HANDLER).await
    }

    /// `RunPodSandbox` with the runtime `handler` (a pod's RuntimeClass): [`HANDLER`] or
    /// [`super::RUNC_HANDLER`]; the pod's id.
    pub async fn run_pod_with(&mut self, config: &PodSandboxConfig, handler: &str) -> String {
        self.runtime
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: handler.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", self.containerd_log()))
            .into_inner()
            .pod_sandbox_id
    }

    /// The pod's IP, from `PodSandboxStatus`.
    pub async fn pod_ip(&mut self, pod: &str) -> String {
        self.runtime
            .pod_sandbox_status(PodSandboxStatusRequest {
                pod_sandbox_id: pod.into(),
                verbose: false,
            })
            .await
            .expect("PodSandboxStatus")
            .into_inner()
            .status
            .and_then(|s| s.network)
            .map(|n| n.ip)
            .filter(|ip| !ip.is_empty())
            .expect("the pod has an IP")
    }

    /// `CreateContainer` then `StartContainer`; the container's id.
    pub async fn start_container(
        &mut self,
        pod: &str,
        pod_config: &PodSandboxConfig,
        config: ContainerConfig,
    ) -> String {
        let id = self
            .runtime
            .create_container(CreateContainerRequest {
                pod_sandbox_id: pod.into(),
                config: Some(config),
                sandbox_config: Some(pod_config.clone()),
            })
            .await
            .unwrap_or_else(|e| panic!("CreateContainer: {e}\n{}", self.containerd_log()))
            .into_inner()
            .container_id;
        self.runtime
            .start_container(StartContainerRequest {
                container_id: id.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("StartContainer: {e}\n{}", self.containerd_log()));
        id
    }

    pub async fn container_status(&mut self, id: &str) -> ContainerStatus {
        self.runtime
            .container_status(ContainerStatusRequest {
                container_id: id.into(),
                verbose: false,
            })
            .await
            .expect("ContainerStatus")
            .into_inner()
            .status
            .expect("a status")
    }

    /// `StopContainer` with a grace period, as kubelet stops a container: SIGTERM, then
    /// SIGKILL once `timeout` seconds have passed.
    pub async fn stop_container(&mut self, id: &str, timeout: i64) {
        self.runtime
            .stop_container(StopContainerRequest {
                container_id: id.into(),
                timeout,
            })
            .await
            .unwrap_or_else(|e| panic!("StopContainer: {e}\n{}", self.containerd_log()));
    }

    /// Waits until the container has exited and gives its status.
    pub async fn exited(&mut self, id: &str) -> ContainerStatus {
        let runtime = self.runtime.clone();
        let log = self.dir.path().join("containerd.log");
        eventually(
            &format!("container {id} to exit"),
            Duration::from_secs(60),
            || {
                let mut runtime = runtime.clone();
                let log = log.clone();
                async move {
                    let s = runtime
                        .container_status(ContainerStatusRequest {
                            container_id: id.into(),
                            verbose: false,
                        })
                        .await
                        .map_err(|e| e.to_string())?
                        .into_inner()
                        .status
                        .ok_or("no status")?;
                    if s.state == ContainerState::ContainerExited as i32 {
                        Ok(s)
                    } else {
                        let tail = std::fs::read_to_string(log).unwrap_or_default();
                        let tail = &tail[tail.len().saturating_sub(3000)..];
                        Err(format!(
                            "state {} (reason {:?})\ncontainerd's log ends:\n{tail}",
                            s.state, s.reason
                        ))
                    }
                }
            },
        )
        .await
    }

    /// The container's CRI log file, as kubelet reads it for `kubectl logs`.
    pub fn log_file(&self, pod_config: &PodSandboxConfig, container: &ContainerConfig) -> String {
        let path = Path::new(&pod_config.log_directory).join(&container.log_path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `StopPodSandbox` and `RemovePodSandbox`, as kubelet does when a pod is deleted; then
    /// waits until no process is left in the pod's cgroups and no mount of the pod or its
    /// containers is left on the node.
    pub async fn remove_pod(&mut self, pod: &str, containers: &[&str]) {
        self.remove_pods(&[(pod, containers)]).await;
    }

    /// [`Self::remove_pod`] of several pods, each with its containers; then waits until no
    /// process is left in any pod's cgroup of the node and no mount of these pods is left.
    pub async fn remove_pods(&mut self, pods: &[(&str, &[&str])]) {
        for (pod, _) in pods {
            self.runtime
                .stop_pod_sandbox(StopPodSandboxRequest {
                    pod_sandbox_id: pod.to_string(),
                })
                .await
                .unwrap_or_else(|e| panic!("StopPodSandbox: {e}\n{}", self.containerd_log()));
            self.runtime
                .remove_pod_sandbox(RemovePodSandboxRequest {
                    pod_sandbox_id: pod.to_string(),
                })
                .await
                .unwrap_or_else(|e| panic!("RemovePodSandbox: {e}\n{}", self.containerd_log()));
        }
        let ids: Vec<String> = pods
            .iter()
            .flat_map(|(pod, containers)| std::iter::once(*pod).chain(containers.iter().copied()))
            .map(String::from)
            .collect();
        let cgroup_parent = self.cgroup_parent.clone();
        eventually(
            "no process and no mount of the pod to be left",
            Duration::from_secs(30),
            || {
                let ids = ids.clone();
                let cgroup_parent = cgroup_parent.clone();
                async move {
                    let mounts =
                        std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
                    let left: Vec<&str> = mounts
                        .lines()
                        .filter(|l| ids.iter().any(|id| l.contains(id.as_str())))
                        .collect();
                    if !left.is_empty() {
                        return Err(format!("mounts left:\n{}", left.join("\n")));
                    }
                    let procs = processes_with(|pid| {
                        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                            .unwrap_or_default();
                        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                            .unwrap_or_default();
                        cgroup.contains(&format!("{cgroup_parent}/"))
                            || ids.iter().any(|id| cmdline.contains(id.as_str()))
                    });
                    if procs.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("processes left: {procs:?}"))
                    }
                }
            },
        )
        .await;
    }

    /// Every process that runs the pod `pod` with its `containers`: the shim processes
    /// containerd started for them (those given `-id <pod or container>`; a shim that groups
    /// a pod's containers, as runc's does, is started for the pod alone) and everything they
    /// started (the pause container, the containers' processes), found by parent pid. Sorted.
    pub fn pod_processes(&self, pod: &str, containers: &[&str]) -> Vec<u32> {
        let ids: Vec<&[u8]> = std::iter::once(pod)
            .chain(containers.iter().copied())
            .map(str::as_bytes)
            .collect();
        let shims = processes_with(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.windows(2)
                .any(|w| w[0] == b"-id" && ids.contains(&w[1]))
        });
        let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
        for pid in processes_with(|_| true) {
            if let Some(parent) = parent_of(pid) {
                children.entry(parent).or_default().push(pid);
            }
        }
        let mut found = Vec::new();
        let mut next = shims;
        while let Some(pid) = next.pop() {
            if !found.contains(&pid) {
                found.push(pid);
                next.extend(children.get(&pid).into_iter().flatten());
            }
        }
        found.sort_unstable();
        found
    }
}

/// The parent pid of `pid`, from `/proc/<pid>/stat` (its fourth field, after the command
/// name in parentheses, which may itself hold spaces and parentheses).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// A PID namespace per container, as kubelet asks unless `shareProcessNamespace`.
fn namespaces() -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Pod as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

/// A container's config as kubelet sends it: `image`, `command`/`args`, env, its log path
/// under the pod's log directory, its memory limit, its own PID namespace.
pub fn container_config(
    name: &str,
    image: &str,
    args: &[&str],
    env: &[(&str, &str)],
    memory_limit: i64,
) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: image.into(),
            ..Default::default()
        }),
        args: args.iter().map(|s| s.to_string()).collect(),
        envs: env
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.to_string(),
                value: v.to_string(),
            })
            .collect(),
        log_path: format!("{name}/0.log"),
        linux: Some(LinuxContainerConfig {
            resources: Some(LinuxContainerResources {
                memory_limit_in_bytes: memory_limit,
                ..Default::default()
            }),
            security_context: Some(LinuxContainerSecurityContext {
                namespace_options: Some(namespaces()),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}
