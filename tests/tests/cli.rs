//! The `waci` CLI end to end (issue: the CLI): the real binary against the real platform, as
//! a user who knows `az container` would drive it — the quickstart from create to delete
//! and back from its export, live logs, every example, output formats, stop and start.
//! `cli_errors.rs` holds the edges: finding the platform, errors, help.
//!
//! Longer than 400 lines because each test is one whole user session, told start to end.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;
use waci_tests::*;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// `create` returns once the group runs: a short job may be running still, or done.
fn assert_started(group: &Value) {
    assert!(
        matches!(state(group), "Running" | "Succeeded"),
        "create returned before the group ran: {group:#}"
    );
}

/// Reads lines from a running `waci` until one contains `needle`, or panics at `deadline`.
async fn read_until(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    needle: &str,
    deadline: Instant,
) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Ok(Ok(None)) => panic!("the output ended before {needle:?}; it was:\n{seen:#?}"),
            Ok(Err(e)) => panic!("reading the output: {e}"),
            Err(_) => panic!("no {needle:?} within the deadline; the output was:\n{seen:#?}"),
        }
    }
}

#[tokio::test]
async fn the_quickstart_from_create_to_delete_and_back_from_its_export() {
    let p = TestPlatform::start().await;

    // Create with a DNS label: the command waits and prints the running group.
    let created = p
        .waci("container create -g demo -n hello --image waci/hello-http --ports 80 --dns-name-label hello-demo")
        .await
        .ok()
        .json();
    assert_eq!(state(&created), "Running", "{created:#}");

    // show: Running, with an IP and the FQDN of the label.
    let shown = p.waci("container show -g demo -n hello").await.ok().json();
    assert_eq!(state(&shown), "Running");
    let ip = shown["properties"]["ipAddress"]["ip"]
        .as_str()
        .expect("an IP")
        .to_string();
    assert!(ip.starts_with("127.77."), "{ip}");
    let fqdn = shown["properties"]["ipAddress"]["fqdn"]
        .as_str()
        .expect("an FQDN");
    assert_eq!(fqdn, "hello-demo.local.waci.localhost");

    // HTTP to the IP, and the request in the logs.
    let (status, page) = http_get(&format!("http://{ip}/")).await.expect("the page");
    assert_eq!(status, 200);
    assert!(
        page.contains("Welcome to WebAssembly Container Instances"),
        "{page}"
    );
    eventually(
        "`waci container logs` to show the request",
        Duration::from_secs(30),
        || async {
            let logs = p.waci("container logs -g demo -n hello").await.ok();
            if logs.stdout.contains("GET / \"waci-tests/1\"") {
                Ok(())
            } else {
                Err(logs.stdout)
            }
        },
    )
    .await;

    // logs --follow prints a line written after it started.
    let mut follow = p.cli("container logs -g demo -n hello --follow");
    follow.stdout(std::process::Stdio::piped());
    let mut child = follow.spawn().expect("waci container logs --follow");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    read_until(&mut lines, "waci-tests/1", deadline).await;
    assert_eq!(
        http_get_as(&format!("http://{ip}/"), "after-follow/1")
            .await
            .expect("the page")
            .0,
        200
    );
    read_until(&mut lines, "GET / \"after-follow/1\"", deadline).await;
    child.start_kill().expect("stopping the follow");
    let _ = child.wait().await;

    // export → delete → create --file gives the same group back.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("hello.yaml");
    let file = file.display();
    p.waci(&format!("container export -g demo -n hello -f {file}"))
        .await
        .ok();
    let exported: Value =
        serde_yaml::from_str(&std::fs::read_to_string(file.to_string()).unwrap()).expect("YAML");
    assert_eq!(exported["apiVersion"], "2025-09-01");
    assert_eq!(exported["name"], "hello");
    assert_eq!(
        exported["properties"]["ipAddress"]["dnsNameLabel"],
        "hello-demo"
    );
    for added in ["instanceView", "provisioningState", "sku"] {
        assert!(
            exported["properties"].get(added).is_none(),
            "{added} in {exported:#?}"
        );
    }
    assert!(exported.get("id").is_none());

    let deleted = p
        .waci("container delete -g demo -n hello --yes")
        .await
        .ok()
        .json();
    assert_eq!(deleted["name"], "hello");
    assert_eq!(p.get_group("demo", "hello").await.status, 404);

    let again = p
        .waci(&format!("container create -g demo --file {file}"))
        .await
        .ok()
        .json();
    assert_eq!(state(&again), "Running");
    assert_eq!(again["properties"]["ipAddress"]["fqdn"], fqdn);
    let new_ip = again["properties"]["ipAddress"]["ip"].as_str().unwrap();
    assert_eq!(http_get(&format!("http://{new_ip}/")).await.unwrap().0, 200);
    p.waci("container delete -g demo -n hello -y").await.ok();
    assert_eq!(p.get_group("demo", "hello").await.status, 404);
}

#[tokio::test]
async fn logs_follow_prints_a_job_as_it_runs_and_ends_when_the_job_does() {
    let p = TestPlatform::start().await;
    p.waci("container create -g jobs -n ticker --image waci/hello-cli --restart-policy Never --command-line 'hello-cli --lines 6 --interval-ms 300' --no-wait")
    .await
    .ok();
    // run_cli gives up after 120 s: the follow ends by itself when the job does.
    let followed = p
        .waci("container logs -g jobs -n ticker --follow")
        .await
        .ok();
    for n in 1..=6 {
        assert!(
            followed.stdout.contains(&format!("line {n}\n")),
            "{}",
            followed.stdout
        );
    }
    assert!(
        followed.stdout.contains("exiting with 0"),
        "{}",
        followed.stdout
    );
    p.wait_for_state("jobs", "ticker", "Succeeded").await;

    let tail = p
        .waci("container logs -g jobs -n ticker --tail 1 --timestamps")
        .await
        .ok();
    assert_eq!(tail.stdout.lines().count(), 1, "{}", tail.stdout);
    assert!(
        tail.stdout.starts_with("20") && tail.stdout.contains("exiting with 0"),
        "{}",
        tail.stdout
    );
}

#[tokio::test]
async fn a_job_from_flags_gets_its_command_line_and_env_and_the_secret_stays_hidden() {
    let p = TestPlatform::start().await;
    let job = p
        .waci("container create -g jobs -n greeter --image waci/hello-cli --restart-policy Never --command-line \"hello-cli 'two words' --exit 0\" --environment-variables GREETING=hi COLOR=blue --secure-environment-variables API_KEY=s3cret-value --cpu 0.5 --memory 0.25")
        .await
        .ok();
    assert_started(&job.json());
    assert!(!job.stdout.contains("s3cret-value"), "{}", job.stdout);
    p.wait_for_state("jobs", "greeter", "Succeeded").await;

    let logs = p
        .waci("container logs -g jobs -n greeter")
        .await
        .ok()
        .stdout;
    for line in [
        "arg[1]=two words",
        "env GREETING=hi",
        "env COLOR=blue",
        "env API_KEY=s3cret-value",
    ] {
        assert!(logs.contains(line), "{line:?} not in\n{logs}");
    }
    let shown = p
        .waci("container show -g jobs -n greeter -o yaml")
        .await
        .ok()
        .stdout;
    assert!(
        shown.contains("API_KEY") && !shown.contains("s3cret-value"),
        "{shown}"
    );
}

/// The state each example reaches, and a line its logs show.
const EXAMPLES: &[(&str, &str, &str, &str)] = &[
    ("quickstart.yaml", "hello", "Running", "GET / "),
    ("quickstart.json", "hello-json", "Running", "GET / "),
    ("job.yaml", "job", "Succeeded", "line 3"),
    ("job.json", "job-json", "Succeeded", "env GREETING=hello"),
    (
        "multi-container.yaml",
        "web-and-sidecar",
        "Running",
        "GET / ",
    ),
    (
        "env.yaml",
        "env-demo",
        "Succeeded",
        "env GREETING=hello from the environment",
    ),
];

#[tokio::test]
async fn every_example_creates_and_reaches_its_expected_state() {
    // The directories are the apps in other languages, which `languages.rs` builds and runs.
    let mut files: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples/")
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut listed: Vec<String> = EXAMPLES.iter().map(|e| e.0.to_string()).collect();
    listed.sort();
    assert_eq!(
        files, listed,
        "every file in examples/ has its expectation here"
    );

    let p = TestPlatform::start().await;
    for (file, name, expected, log_line) in EXAMPLES {
        let path = examples_dir().join(file);
        let mut line = format!("container create -g examples --file {}", path.display());
        if file.ends_with(".json") {
            // The JSON examples are request bodies for curl: they carry no name.
            line.push_str(&format!(" -n {name}"));
        }
        let group = p.waci(&line).await.ok().json();
        assert_started(&group);
        assert_eq!(group["name"], *name, "{file}");
        p.wait_for_state("examples", name, expected).await;
        if let Some(ip) = group["properties"]["ipAddress"]["ip"].as_str() {
            let (status, _) = http_get(&format!("http://{ip}/")).await.expect("answers");
            assert_eq!(status, 200, "{file}");
        }
        let first = group["properties"]["containers"][0]["name"]
            .as_str()
            .unwrap();
        p.wait_for_log("examples", name, first, log_line).await;
        p.waci(&format!("container delete -g examples -n {name} --yes"))
            .await
            .ok();
    }
}

#[tokio::test]
async fn output_formats_parse_or_have_azs_header() {
    let p = TestPlatform::start().await;
    p.waci("container create -g demo -n web --image waci/hello-http --ip-address Public -o none")
        .await
        .ok();

    let list = p.waci("container list").await.ok().json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list:#}");
    let yaml: Value = serde_yaml::from_str(
        &p.waci("container show -g demo -n web -o yaml")
            .await
            .ok()
            .stdout,
    )
    .expect("-o yaml is YAML");
    assert_eq!(yaml["name"], "web");

    let table = p.waci("container list -g demo -o table").await.ok().stdout;
    let mut rows = table.lines();
    let header: Vec<&str> = rows.next().unwrap_or_default().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "Name",
            "ResourceGroup",
            "Status",
            "Image",
            "IP:ports",
            "FQDN"
        ],
        "{table}"
    );
    assert!(
        rows.next().unwrap_or_default().starts_with("----"),
        "{table}"
    );
    let row = rows.next().unwrap_or_default();
    assert!(
        row.starts_with("web ") && row.contains("waci/hello-http") && row.contains(":80"),
        "{table}"
    );

    let ip = p
        .waci("container show -g demo -n web --query properties.ipAddress.ip -o tsv")
        .await
        .ok()
        .stdout;
    assert!(
        ip.trim().starts_with("127.77.") && ip.lines().count() == 1,
        "{ip:?}"
    );
    let names = p
        .waci("container list --query [].name -o tsv")
        .await
        .ok()
        .stdout;
    assert_eq!(names, "web\n");

    p.waci("group create -n empty --tags team=web").await.ok();
    let groups = p.waci("group list -o table").await.ok().stdout;
    assert!(
        groups.starts_with("Name") && groups.contains("empty"),
        "{groups}"
    );
    assert!(
        groups.contains("demo"),
        "a group made by create is listed: {groups}"
    );
}

#[tokio::test]
async fn stop_start_restart_and_deleting_a_resource_group() {
    let p = TestPlatform::start().await;
    let created = p
        .waci("container create -g life -n web --image waci/hello-http --ip-address public")
        .await
        .ok()
        .json();
    let ip = ip_of(&created);

    p.waci("container stop -g life -n web").await.ok();
    assert_eq!(state(&p.get_group("life", "web").await.body), "Stopped");
    assert!(
        http_get(&format!("http://{ip}/")).await.is_err(),
        "a stopped group does not answer"
    );

    p.waci("container start -g life -n web").await.ok();
    assert_eq!(state(&p.get_group("life", "web").await.body), "Running");
    assert_eq!(http_get(&format!("http://{ip}/")).await.unwrap().0, 200);

    p.waci("container restart -g life -n web").await.ok();
    assert_eq!(state(&p.get_group("life", "web").await.body), "Running");

    // Deleting the resource group deletes the container group in it.
    p.waci("group delete -n life --yes").await.ok();
    assert_eq!(p.get_group("life", "web").await.status, 404);
    let left = p.waci("group list").await.ok().json();
    assert_eq!(left, serde_json::json!([]));
}

#[tokio::test]
async fn a_relative_wasm_path_is_made_absolute_before_it_is_sent() {
    let p = TestPlatform::start().await;
    let wasm = guest("hello-cli");
    let mut cmd = p.cli(
        "container create -g demo -n local-file --image ./hello-cli.wasm --restart-policy Never",
    );
    cmd.current_dir(wasm.parent().unwrap());
    let group = run_cli(cmd).await.ok().json();
    assert_started(&group);
    p.wait_for_state("demo", "local-file", "Succeeded").await;
    assert_eq!(
        group["properties"]["containers"][0]["properties"]["image"],
        wasm.to_str().unwrap()
    );
}
