//! The shim on a node, driven through containerd's CRI exactly as kubelet drives it:
//! `RunPodSandbox` with the `waci` handler, the image imported (Debian's containerd 1.6
//! cannot unpack `application/wasm` layers, so the component is a `.wasm` file in an
//! ordinary tar layer, image config `architecture: wasm`), `CreateContainer`,
//! `StartContainer`, `ContainerStatus`, and at the end `StopPodSandbox`/`RemovePodSandbox`.

mod node;

use node::{Image, NODE_ONLY_ENV, container_config, guest};
use std::time::Duration;
use waci_tests::eventually;

/// The image of a guest component as a tar layer with `/<name>.wasm` as its entrypoint.
fn wasm_image<'a>(name: &'a str, reference: &'a str, entry: &'a [&'a str]) -> Image<'a> {
    node::wasm_image(
        reference,
        name,
        entry,
        guest(name.trim_end_matches(".wasm")),
    )
}

/// Every line of a CRI log file is `<RFC 3339 time> <stream> <F|P> <text>`; the lines of
/// `stream` with their text.
fn cri_lines(log: &str, stream: &str) -> Vec<String> {
    log.lines()
        .map(|line| {
            let mut parts = line.splitn(4, ' ');
            let (time, s, tag, text) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            assert!(
                time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
                    .is_ok(),
                "not a CRI log line (time): {line:?}"
            );
            assert!(
                matches!(s, "stdout" | "stderr"),
                "not a CRI log line (stream): {line:?}"
            );
            assert!(
                matches!(tag, "F" | "P"),
                "not a CRI log line (tag): {line:?}"
            );
            (s.to_string(), text.to_string())
        })
        .filter(|(s, _)| s == stream)
        .map(|(_, text)| text)
        .collect()
}

#[tokio::test]
async fn a_command_runs_with_its_args_and_env_its_exit_code_is_the_containers_and_its_output_is_in_the_cri_log()
 {
    let mut node = node::start().await;
    node.import(&wasm_image(
        "hello-cli.wasm",
        "docker.io/waci/hello-cli:test",
        &["/hello-cli.wasm"],
    ))
    .await;

    let pod_config = node.pod_config("hello");
    let pod = node.run_pod(&pod_config).await;
    let data = node.volume("data");
    let mut config = container_config(
        "hello",
        "docker.io/waci/hello-cli:test",
        &[
            "--write",
            "/data/greeting",
            "written by the guest",
            "--read",
            "/data/greeting",
            "--stderr",
            "to stderr",
            "--exit",
            "3",
        ],
        &[("GREETING", "hi from the pod spec")],
        0,
    );
    config.mounts.push(node::cri::Mount {
        container_path: "/data".into(),
        host_path: data.display().to_string(),
        ..Default::default()
    });
    let hello = node
        .start_container(&pod, &pod_config, config.clone())
        .await;
    let status = node.exited(&hello).await;
    assert_eq!(
        status.exit_code, 3,
        "the guest's exit code is the container's: {status:?}"
    );
    assert_eq!(status.reason, "Error");

    let log = node.log_file(&pod_config, &config);
    let stdout = cri_lines(&log, "stdout");
    for line in [
        "hello from waci/hello-cli",
        "arg[0]=/hello-cli.wasm",
        "arg[1]=--write",
        "env GREETING=hi from the pod spec",
        "wrote /data/greeting",
        "read /data/greeting: written by the guest",
    ] {
        assert!(
            stdout.iter().any(|l| l == line),
            "{line:?} is not in the CRI log:\n{log}"
        );
    }
    assert_eq!(cri_lines(&log, "stderr"), ["to stderr"], "{log}");
    // Its volume is the pod's: the node sees what the guest wrote.
    assert_eq!(
        std::fs::read_to_string(data.join("greeting")).expect("the guest's file on the node"),
        "written by the guest"
    );
    // The sandbox is waci's: the env of the spec, none of the node's.
    assert!(
        !log.contains(NODE_ONLY_ENV.0),
        "the node's env reached the guest:\n{log}"
    );

    node.remove_pod(&pod, &[&hello]).await;
}

#[tokio::test]
async fn the_second_pod_from_the_same_image_does_not_compile() {
    let mut node = node::start().await;
    node.import(&wasm_image(
        "hello-cli.wasm",
        "docker.io/waci/hello-cli:cache",
        &["/hello-cli.wasm"],
    ))
    .await;
    let mut compiled = Vec::new();
    for (i, name) in ["first", "second"].into_iter().enumerate() {
        let pod_config = node.pod_config(name);
        let pod = node.run_pod(&pod_config).await;
        // The container's root is not the guest's: its own component file is out of reach.
        let config = container_config(
            name,
            "docker.io/waci/hello-cli:cache",
            &["--read", "/hello-cli.wasm"],
            &[],
            0,
        );
        let c = node
            .start_container(&pod, &pod_config, config.clone())
            .await;
        assert_eq!(node.exited(&c).await.exit_code, 1);
        let log = node.log_file(&pod_config, &config);
        assert!(
            cri_lines(&log, "stdout")
                .iter()
                .any(|l| l.starts_with("read failed: ")),
            "{log}"
        );
        node.remove_pod(&pod, &[&c]).await;
        // The node's cache holds one compiled file for the component after either pod.
        let files: Vec<_> = std::fs::read_dir(&node.cache_dir)
            .expect("the node's cache dir")
            .flatten()
            .map(|e| (e.path(), e.metadata().and_then(|m| m.modified()).ok()))
            .filter(|(p, _)| p.extension().is_some_and(|x| x == "cwasm"))
            .collect();
        assert_eq!(files.len(), 1, "after pod {i}: {files:?}");
        compiled.push(files);
    }
    assert_eq!(
        compiled[0], compiled[1],
        "the second pod rewrote the compiled code"
    );
    let log = node.containerd_log();
    assert_eq!(
        log.matches("compiled in").count(),
        1,
        "one compilation on the node:\n{log}"
    );
    assert_eq!(
        log.matches("loaded from the node's compiled-code cache")
            .count(),
        1,
        "the second pod loaded the first one's code:\n{log}"
    );
}

#[tokio::test]
async fn a_service_answers_http_on_the_pod_ip_at_its_port() {
    let mut node = node::start().await;
    node.import(&wasm_image(
        "hello-http.wasm",
        "docker.io/waci/hello-http:test",
        &["/hello-http.wasm"],
    ))
    .await;
    let pod_config = node.pod_config("web");
    let pod = node.run_pod(&pod_config).await;
    let ip = node.pod_ip(&pod).await;
    let config = container_config(
        "web",
        "docker.io/waci/hello-http:test",
        &[],
        &[("WACI_HTTP_PORT", "8080")],
        256 << 20,
    );
    let web = node
        .start_container(&pod, &pod_config, config.clone())
        .await;
    let url = format!("http://{ip}:8080/from-the-test");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let page = eventually(
        &format!("{url} to answer 200"),
        Duration::from_secs(30),
        || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let r = client.get(&url).send().await.map_err(|e| e.to_string())?;
                if r.status() != 200 {
                    return Err(format!("{}", r.status()));
                }
                r.text().await.map_err(|e| e.to_string())
            }
        },
    )
    .await;
    assert!(page.contains("<html"), "{page}");
    let status = node.container_status(&web).await;
    assert_eq!(
        status.state,
        node::cri::ContainerState::ContainerRunning as i32
    );
    // One log line per request, in the CRI log.
    let lines = eventually("the request's log line", Duration::from_secs(10), || {
        let log = node.log_file(&pod_config, &config);
        async move {
            let lines = cri_lines(&log, "stdout");
            lines
                .iter()
                .any(|l| l.starts_with("GET /from-the-test "))
                .then_some(lines)
        }
    })
    .await;
    assert_eq!(lines.len(), 1, "{lines:?}");

    // kubelet's stop: SIGTERM drains the service, which ends on its own with 0 well within
    // the grace period (SIGKILL at its end would make it 137).
    node.stop_container(&web, 30).await;
    let stopped = node.exited(&web).await;
    assert_eq!(stopped.exit_code, 0, "{stopped:?}");

    node.remove_pod(&pod, &[&web]).await;
}

#[tokio::test]
async fn a_guest_over_its_memory_limit_ends_oom_killed() {
    let mut node = node::start().await;
    node.import(&wasm_image(
        "memory-hog.wasm",
        "docker.io/waci/memory-hog:test",
        &["/memory-hog.wasm"],
    ))
    .await;
    let pod_config = node.pod_config("hog");
    let pod = node.run_pod(&pod_config).await;
    let limit = 192 << 20;
    let config = container_config("hog", "docker.io/waci/memory-hog:test", &[], &[], limit);
    let hog = node
        .start_container(&pod, &pod_config, config.clone())
        .await;
    let status = node.exited(&hog).await;
    assert_eq!(status.exit_code, 137, "{status:?}");
    let status = eventually(
        "the container's reason to be OOMKilled",
        Duration::from_secs(10),
        || {
            let mut node_runtime = node.runtime.clone();
            let hog = hog.clone();
            async move {
                let s = node_runtime
                    .container_status(node::cri::ContainerStatusRequest {
                        container_id: hog,
                        verbose: false,
                    })
                    .await
                    .map_err(|e| e.to_string())?
                    .into_inner()
                    .status
                    .ok_or("no status")?;
                if s.reason == "OOMKilled" {
                    Ok(s)
                } else {
                    Err(format!("reason {:?}", s.reason))
                }
            }
        },
    )
    .await;
    // It got somewhere, and not past its limit.
    let log = node.log_file(&pod_config, &config);
    let allocated: Vec<u64> = cri_lines(&log, "stdout")
        .iter()
        .filter_map(|l| {
            l.strip_prefix("allocated ")?
                .strip_suffix(" MiB")?
                .parse()
                .ok()
        })
        .collect();
    let most = allocated.last().copied().unwrap_or(0);
    assert!(
        most >= 16 && most < (limit as u64 >> 20),
        "allocated {most} MiB under a {} MiB limit:\n{log}",
        limit >> 20
    );
    assert_eq!(status.exit_code, 137);
    node.remove_pod(&pod, &[&hog]).await;
}

#[tokio::test]
async fn a_container_of_another_user_compiles_for_itself_and_leaves_the_nodes_cache_alone() {
    let mut node = node::start().await;
    let mut image = wasm_image(
        "hello-cli.wasm",
        "docker.io/waci/hello-cli:user",
        &["/hello-cli.wasm"],
    );
    image.files.push(("tmp/", Vec::new(), 0o1777));
    node.import(&image).await;
    let pod_config = node.pod_config("user");
    let pod = node.run_pod(&pod_config).await;
    let mut config = container_config("user", "docker.io/waci/hello-cli:user", &[], &[], 0);
    if let Some(security) = config
        .linux
        .as_mut()
        .and_then(|l| l.security_context.as_mut())
    {
        security.run_as_user = Some(node::cri::Int64Value { value: 1000 });
    }
    let c = node
        .start_container(&pod, &pod_config, config.clone())
        .await;
    let status = node.exited(&c).await;
    let log = node.log_file(&pod_config, &config);
    assert_eq!(status.exit_code, 0, "{log}");
    assert!(
        cri_lines(&log, "stdout")
            .iter()
            .any(|l| l == "hello from waci/hello-cli"),
        "{log}"
    );
    let cached = std::fs::read_dir(&node.cache_dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(
        cached, 0,
        "a container of user 1000 wrote into the node's cache"
    );
    let containerd = node.containerd_log();
    assert!(
        containerd.contains("not this container's to write"),
        "{containerd}"
    );
    node.remove_pod(&pod, &[&c]).await;
}

#[tokio::test]
async fn a_guest_that_traps_ends_with_exit_code_1_and_says_why_in_its_log() {
    let mut node = node::start().await;
    node.import(&wasm_image(
        "crash.wasm",
        "docker.io/waci/crash:test",
        &["/crash.wasm"],
    ))
    .await;
    let pod_config = node.pod_config("crash");
    let pod = node.run_pod(&pod_config).await;
    let config = container_config("crash", "docker.io/waci/crash:test", &["trap"], &[], 0);
    let crash = node
        .start_container(&pod, &pod_config, config.clone())
        .await;
    let status = node.exited(&crash).await;
    assert_eq!(status.exit_code, 1, "{status:?}");
    assert_eq!(status.reason, "Error");
    let log = node.log_file(&pod_config, &config);
    assert_eq!(cri_lines(&log, "stdout"), ["about to trap"], "{log}");
    let stderr = cri_lines(&log, "stderr");
    assert!(
        stderr.iter().any(|l| l.starts_with("waci: Trap: ")),
        "the trap is not in the log:\n{log}"
    );
    node.remove_pod(&pod, &[&crash]).await;
}
