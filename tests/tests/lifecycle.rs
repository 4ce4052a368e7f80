//! Lifecycle, limits and sandbox (issue: lifecycle): restart policies, stop/start/restart,
//! multi-container groups with init containers and shared volumes, secrets, and guests that
//! misbehave without hurting anyone else.
//!
//! Longer than 400 lines because each test is one whole story of a group's life, told start
//! to end; splitting one would hide what it checks.

use base64::Engine as _;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use waci_tests::*;

/// Waits until the group's main container shows `n` requests cut off at the time limit.
async fn wait_for_time_limit_events(p: &TestPlatform, group: &str, n: i64) {
    p.wait_for(
        "bad",
        group,
        &format!("{n} time-limit events"),
        Duration::from_secs(30),
        |g| {
            events(g)
                .iter()
                .filter(|e| {
                    e["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("request time limit exceeded"))
                })
                .map(|e| e["count"].as_i64().unwrap_or(0))
                .sum::<i64>()
                == n
        },
    )
    .await;
}

fn command_group(policy: &str, image: &str, command: &[&str]) -> Value {
    group_body(image, &[], policy, command)
}

fn path_of(guest_name: &str) -> String {
    guest(guest_name).to_str().expect("utf-8 path").to_string()
}

#[tokio::test]
async fn restart_policies_behave_as_in_aci() {
    let p = TestPlatform::start().await;
    let crash = path_of("crash");
    let (exit_0, exit_1) = (
        ["hello-cli", "--exit", "0"].as_slice(),
        ["hello-cli", "--exit", "1"].as_slice(),
    );
    let trap = ["crash", "trap"].as_slice();
    // (group, restart policy, image, command)
    #[rustfmt::skip]
    let cases = [
        ("never-ok", "Never", "waci/hello-cli", exit_0),
        ("never-fail", "Never", "waci/hello-cli", exit_1),
        ("never-trap", "Never", crash.as_str(), trap),
        ("onfail-ok", "OnFailure", "waci/hello-cli", exit_0),
        ("onfail-fail", "OnFailure", "waci/hello-cli", exit_1),
        ("onfail-trap", "OnFailure", crash.as_str(), trap),
        ("always-ok", "Always", "waci/hello-cli", exit_0),
    ];
    for (name, policy, image, command) in cases {
        p.create("policies", name, command_group(policy, image, command))
            .await;
    }
    // Ended for good: no restarts.
    for (name, state, code) in [
        ("never-ok", "Succeeded", 0),
        ("never-fail", "Failed", 1),
        ("never-trap", "Failed", 1),
        ("onfail-ok", "Succeeded", 0),
    ] {
        let g = p.wait_for_state("policies", name, state).await;
        assert_eq!(exit_code(&g), Some(code), "{name}");
        assert_eq!(restart_count(&g), 0, "{name} is not restarted");
    }
    let trapped = p.get_group("policies", "never-trap").await.body;
    let detail = detail_status(&trapped).to_string();
    assert!(
        detail.starts_with("Trap: "),
        "a trap is Terminated with detailStatus saying so: {detail}"
    );
    // Restarted, with a back-off event each time, while the group counts as Running.
    for name in ["onfail-fail", "onfail-trap", "always-ok"] {
        let g = p
            .wait_for(
                "policies",
                name,
                "restarted twice",
                Duration::from_secs(30),
                |g| restart_count(g) >= 2,
            )
            .await;
        assert_eq!(
            state(&g),
            "Running",
            "{name}: a restarting group is Running"
        );
        assert!(
            events_text(&g).contains("BackOff"),
            "{name}: back-off events"
        );
    }
}

#[tokio::test]
async fn stop_frees_the_port_and_keeps_the_ip_and_start_serves_again() {
    let p = TestPlatform::start().await;
    let mut body = hello_http();
    body["properties"]["ipAddress"]["dnsNameLabel"] = json!("stopme");
    let created = p.put_group("life", "web", body).await;
    let ip = ip_of(&created.body);
    p.wait_for_state("life", "web", "Running").await;
    assert_eq!(
        http_get(&format!("http://{ip}/")).await.expect("serving").0,
        200
    );

    let group_path = TestPlatform::group_path("life", "web");
    assert_eq!(
        p.call("POST", &format!("{group_path}/stop"), None)
            .await
            .status,
        204
    );
    let stopped = p.get_group("life", "web").await.body;
    assert_eq!(state(&stopped), "Stopped");
    assert_eq!(
        stopped["properties"]["ipAddress"]["ip"],
        ip.as_str(),
        "a stopped group keeps its IP"
    );
    assert_eq!(
        stopped["properties"]["ipAddress"]["fqdn"], "stopme.local.waci.localhost",
        "and its name"
    );
    assert!(
        http_get(&format!("http://{ip}/")).await.is_err(),
        "no port answers while stopped"
    );

    assert_eq!(
        p.call("POST", &format!("{group_path}/start"), None)
            .await
            .status,
        202
    );
    p.wait_for_state("life", "web", "Running").await;
    assert_eq!(
        http_get(&format!("http://{ip}/"))
            .await
            .expect("serving again")
            .0,
        200
    );

    assert_eq!(
        p.call("POST", &format!("{group_path}/restart"), None)
            .await
            .status,
        204
    );
    p.wait_for_state("life", "web", "Running").await;
    assert_eq!(
        http_get(&format!("http://{ip}/after-restart"))
            .await
            .expect("serving after restart")
            .0,
        200
    );
}

#[tokio::test]
async fn containers_share_the_ip_and_an_empty_dir_and_an_init_container_runs_first() {
    let p = TestPlatform::start().await;
    let mount = json!([{"name": "shared", "mountPath": "/shared"}]);
    let body = json!({"location": "local", "properties": {
        "restartPolicy": "OnFailure",
        "volumes": [{"name": "shared", "emptyDir": {}}],
        "initContainers": [{"name": "prep", "properties": {"image": "waci/hello-cli",
            "command": ["hello-cli", "--write", "/shared/init.txt", "prepared by init"], "volumeMounts": mount}}],
        "containers": [
            {"name": "web", "properties": {"image": path_of("files-http"), "ports": [{"port": 80}], "volumeMounts": mount,
                "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}}}},
            {"name": "echo", "properties": {"image": "waci/hello-http", "ports": [{"port": 8080}],
                "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}}}},
            {"name": "writer", "properties": {"image": "waci/hello-cli", "volumeMounts": mount,
                "command": ["hello-cli", "--write", "/shared/note.txt", "hello from writer"],
                "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}}}}],
        "ipAddress": {"type": "Public", "ports": [{"port": 80}, {"port": 8080}]}}});
    let created = p.create("multi", "app", body).await;
    let ip = ip_of(&created.body);
    let g = p.wait_for_state("multi", "app", "Running").await;
    let init = &g["properties"]["initContainers"][0]["properties"]["instanceView"]["currentState"];
    assert_eq!(
        (init["state"].as_str(), init["exitCode"].as_u64()),
        (Some("Terminated"), Some(0)),
        "the init container ran to completion"
    );

    let read = |path: &str| format!("http://{ip}/read?path={path}");
    assert_eq!(
        http_get(&read("/shared/init.txt")).await.unwrap(),
        (200, "prepared by init".into())
    );
    p.wait_for_log("multi", "app", "writer", "wrote /shared/note.txt")
        .await;
    assert_eq!(
        http_get(&read("/shared/note.txt")).await.unwrap(),
        (200, "hello from writer".into()),
        "one container reads what another wrote"
    );
    let (status, page) = http_get(&format!("http://{ip}:8080/")).await.unwrap();
    assert!(
        status == 200 && page.contains("Welcome"),
        "the second service answers on its own port of the same IP"
    );

    // An init container that fails fails the group, with its exit code in the events.
    let failing = json!({"location": "local", "properties": {"restartPolicy": "Always",
        "initContainers": [{"name": "prep", "properties": {"image": "waci/hello-cli", "command": ["hello-cli", "--exit", "4"]}}],
        "containers": [{"name": "web", "properties": {"image": "waci/hello-http", "ports": [{"port": 80}]}}],
        "ipAddress": {"type": "Public", "ports": [{"port": 80}]}}});
    p.create("multi", "broken", failing).await;
    let g = p.wait_for_state("multi", "broken", "Failed").await;
    assert!(
        g["properties"]["initContainers"][0]["properties"]["instanceView"]["events"]
            .to_string()
            .contains("exit code 4"),
        "{g}"
    );
    assert_eq!(
        current_state(&g)["state"],
        "Waiting",
        "the main container never started"
    );
}

#[tokio::test]
async fn secrets_reach_the_guest_and_nothing_else() {
    let p = TestPlatform::start().await;
    let secret_text = "s3cret-file-content";
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret_text);
    let body = json!({"location": "local", "properties": {"restartPolicy": "Always",
        "volumes": [{"name": "cfg", "secret": {"app.txt": b64}}, {"name": "scratch", "emptyDir": {}}],
        "containers": [{"name": "web", "properties": {"image": path_of("files-http"), "ports": [{"port": 80}],
            "environmentVariables": [{"name": "PLAIN", "value": "visible"}, {"name": "TOKEN", "secureValue": "hunter2-secure"}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}, {"name": "scratch", "mountPath": "/scratch", "readOnly": true}]}}],
        "ipAddress": {"type": "Public", "ports": [{"port": 80}]}}});
    let created = p.create("sec", "app", body).await;
    let ip = ip_of(&created.body);
    p.wait_for_state("sec", "app", "Running").await;
    let get = |q: &str| {
        let url = format!("http://{ip}{q}");
        async move { http_get(&url).await }
    };

    assert_eq!(
        get("/read?path=/cfg/app.txt").await.unwrap(),
        (200, secret_text.into()),
        "the secret file is readable"
    );
    assert_ne!(
        get("/write?path=/cfg/app.txt&text=x").await.unwrap().0,
        200,
        "secret volumes are read-only"
    );
    assert_ne!(
        get("/write?path=/scratch/x&text=x").await.unwrap().0,
        200,
        "readOnly is honoured"
    );
    let (_, env) = get("/env").await.unwrap();
    assert!(
        env.contains("PLAIN=visible") && env.contains("TOKEN=hunter2-secure"),
        "value and secureValue reach the guest: {env}"
    );
    assert!(
        !env.contains("HOME=") && !env.contains("PATH="),
        "no host env: {env}"
    );
    for escape in [
        "/etc/passwd",
        "/cfg/../../../etc/passwd",
        "/scratch/../cfg/app.txt",
    ] {
        let (status, text) = get(&format!("/read?path={escape}")).await.unwrap();
        assert_ne!(status, 200, "{escape} must not be readable: {text}");
    }

    let shown = p.get_group("sec", "app").await.text;
    let listed = p.call("GET", &format!("/subscriptions/{SUB}/resourceGroups/sec/providers/Microsoft.ContainerInstance/containerGroups"), None).await.text;
    for text in [&shown, &listed, &created.text] {
        assert!(
            !text.contains(&b64) && !text.contains(secret_text),
            "secret content never comes back: {text}"
        );
        assert!(
            !text.contains("hunter2-secure"),
            "secureValue never comes back: {text}"
        );
    }
    assert!(
        shown.contains("\"secret\":{}"),
        "a secret volume comes back empty, as in ACI: {shown}"
    );
    let logs = p.logs("sec", "app", "web").await;
    assert!(!logs.contains("hunter2-secure"));
}

#[tokio::test]
async fn stopping_a_group_cuts_its_running_requests_after_the_grace() {
    // A time limit far beyond the stop's grace (10 s), so only the stop can end the request.
    let p = TestPlatform::start_with(&["--request-timeout", "600"]).await;
    p.create(
        "cut",
        "spin",
        group_body(&path_of("spin-http"), &[80], "Always", &[]),
    )
    .await;
    let ip = ip_of(&p.wait_for_state("cut", "spin", "Running").await);
    let forever = format!("http://{ip}/forever");
    let spinning = tokio::spawn(async move { http_get(&forever).await });
    p.wait_for_log("cut", "spin", "main", "spinning on /forever")
        .await;

    let stop = p
        .call(
            "POST",
            &format!("{}/stop", TestPlatform::group_path("cut", "spin")),
            None,
        )
        .await;
    assert_eq!(stop.status, 204, "{}", stop.text);
    let answer = spinning.await.unwrap();
    assert!(
        !matches!(answer, Ok((200, _))),
        "the spinning request is cut, not answered: {answer:?}"
    );

    // The guest spun a whole core until the stop; once the stop has returned it is gone.
    let before = p.cpu_ticks();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = p.cpu_ticks() - before;
    assert!(
        used < 100,
        "the stopped group's instance still runs: the platform used {used} ticks in 2 s"
    );
}

#[tokio::test]
async fn misbehaving_guests_hurt_no_one() {
    let p = TestPlatform::start_with(&["--request-timeout", "2", "--max-log-lines", "1000"]).await;
    p.create("bad", "good", hello_http()).await;
    p.create(
        "bad",
        "spin",
        group_body(&path_of("spin-http"), &[80], "Always", &[]),
    )
    .await;
    let mut hog = command_group("Never", &path_of("memory-hog"), &["memory-hog"]);
    hog["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"] =
        json!(0.1);
    p.create("bad", "hog", hog).await;
    let flood = command_group(
        "Never",
        &path_of("log-flood"),
        &["log-flood", "--lines", "200000", "--bytes", "200"],
    );
    p.create("bad", "flood", flood).await;
    p.create(
        "bad",
        "deep",
        command_group("Never", &path_of("crash"), &["crash", "recurse"]),
    )
    .await;

    let good_ip = ip_of(&p.wait_for_state("bad", "good", "Running").await);
    let spin_ip = ip_of(&p.wait_for_state("bad", "spin", "Running").await);

    // The endless loop holds a request; everyone else is still served meanwhile.
    let forever = format!("http://{spin_ip}/forever");
    let spinning = tokio::spawn(async move { http_get(&forever).await });
    for i in 0..40 {
        let (status, _) = http_get(&format!("http://{good_ip}/ping-{i}"))
            .await
            .expect("the good group answers");
        assert_eq!(status, 200);
        assert_eq!(
            p.get_group("bad", "good").await.status,
            200,
            "the control API answers"
        );
    }
    let (status, _) = spinning
        .await
        .unwrap()
        .expect("the spinning request gets an answer");
    assert_eq!(
        status, 504,
        "the endless loop's request ends 504 at the time limit"
    );
    p.wait_for_log("bad", "spin", "main", "spinning on /forever")
        .await;
    wait_for_time_limit_events(&p, "spin", 1).await;

    // A client that leaves mid-request does not cut its instance short: it runs on to the
    // time limit like any other request, and is counted.
    let mut left = tokio::net::TcpStream::connect(format!("{spin_ip}:80"))
        .await
        .expect("connect to the spinning group");
    left.write_all(b"GET /left HTTP/1.1\r\nHost: spin\r\n\r\n")
        .await
        .expect("send a request");
    p.wait_for_log("bad", "spin", "main", "spinning on /left")
        .await;
    drop(left);
    wait_for_time_limit_events(&p, "spin", 2).await;

    let hog = p.wait_for_state("bad", "hog", "Failed").await;
    assert_eq!(detail_status(&hog), "OOMKilled", "{hog}");
    let deep = p.wait_for_state("bad", "deep", "Failed").await;
    assert!(detail_status(&deep).starts_with("Trap: "), "{deep}");

    p.wait_for_state("bad", "flood", "Succeeded").await;
    let logs = p
        .wait_for_log("bad", "flood", "main", "flood done 200000")
        .await;
    let lines = logs.lines().count();
    assert!(
        lines <= 1001,
        "the flood's log stays bounded: {lines} lines"
    );
    let first = logs.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("[waci] ") && first.contains("dropped"),
        "the drop is counted: {first}"
    );
    assert_eq!(
        http_get(&format!("http://{good_ip}/after"))
            .await
            .unwrap()
            .0,
        200,
        "and the good group still answers"
    );
}

#[tokio::test]
async fn quotas_and_the_runtime_limit_answer_as_aci_does() {
    let p = TestPlatform::start_with(&["--max-groups-per-subscription", "2", "--max-runtime", "1"])
        .await;
    let forever = command_group(
        "Never",
        "waci/hello-cli",
        &["hello-cli", "--lines", "100000", "--interval-ms", "100"],
    );
    p.create("quota", "one", forever.clone()).await;
    p.create("quota", "two", forever.clone()).await;
    let third = p.put_group("quota", "three", forever.clone()).await;
    assert_eq!(third.status, 409, "{}", third.text);
    assert_eq!(third.body["error"]["code"], "ContainerGroupQuotaReached");
    assert_eq!(
        p.get_group("quota", "three").await.status,
        404,
        "over quota stores nothing"
    );
    assert_eq!(
        p.put_group("quota", "one", forever.clone()).await.status,
        200,
        "an update is not a new group"
    );

    // --max-runtime ends a command that runs too long.
    let g = p.wait_for_state("quota", "two", "Failed").await;
    assert_eq!(detail_status(&g), "Timeout", "{g}");

    // ACI allows 60 containers in a group.
    let containers: Vec<Value> = (0..61)
        .map(|i| json!({"name": format!("c{i}"), "properties": {"image": "waci/hello-cli", "resources": {"requests": {"cpu": 0.01, "memoryInGB": 0.01}}}}))
        .collect();
    let crowded = json!({"location": "local", "properties": {"containers": containers}});
    assert_eq!(
        p.call("DELETE", &TestPlatform::group_path("quota", "one"), None)
            .await
            .status,
        200
    );
    let r = p.put_group("quota", "crowded", crowded).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 60 containers"),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn deleting_a_group_removes_its_volumes() {
    let p = TestPlatform::start().await;
    let body = json!({"location": "local", "properties": {"restartPolicy": "Never",
        "volumes": [{"name": "scratch", "emptyDir": {}}],
        "containers": [{"name": "main", "properties": {"image": "waci/hello-cli",
            "command": ["hello-cli", "--write", "/scratch/file.txt", "data"],
            "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}}]}});
    p.create("vol", "job", body).await;
    p.wait_for_state("vol", "job", "Succeeded").await;
    let volumes = p.data_dir.path().join("volumes");
    let count = || std::fs::read_dir(&volumes).map(|d| d.count()).unwrap_or(0);
    assert_eq!(count(), 1, "the group has its volume directory");
    assert_eq!(
        p.call("DELETE", &TestPlatform::group_path("vol", "job"), None)
            .await
            .status,
        200
    );
    assert_eq!(count(), 0, "deleting the group removed it");
}
