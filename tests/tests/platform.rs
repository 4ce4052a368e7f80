//! The platform end to end (issue: the walking skeleton): create, serve, log, fail, reject
//! bad input, survive SIGKILL, delete — against the real `waci serve`.

use serde_json::{Value, json};
use waci_tests::*;

#[tokio::test]
async fn hello_http_serves_its_page_on_its_own_ip_and_logs_the_request() {
    let p = TestPlatform::start().await;
    let created = p.create("demo", "hello", hello_http()).await;
    assert!(
        created.headers.get("azure-asyncoperation").is_some(),
        "PUT answers with the async-operation header"
    );
    assert_eq!(provisioning_state(&created.body), "Pending");

    let group = p.wait_for_state("demo", "hello", "Running").await;
    let ip = ip_of(&group);
    assert!(ip.starts_with("127.77."), "{ip}");
    let (status, page) = http_get(&format!("http://{ip}:80/"))
        .await
        .expect("the group answers on its IP");
    assert_eq!(status, 200);
    assert!(
        page.contains("Welcome to WebAssembly Container Instances"),
        "{page}"
    );

    let logs = p
        .wait_for_log("demo", "hello", "main", "GET / \"waci-tests/1\"")
        .await;
    assert!(logs.lines().count() >= 1);
    let stamped = p
        .call(
            "GET",
            &format!(
                "{}/containers/main/logs?timestamps=true&tail=1",
                TestPlatform::group_path("demo", "hello")
            ),
            None,
        )
        .await;
    let line = stamped.body["content"].as_str().unwrap();
    assert!(
        line.starts_with("20") && line.contains("T") && line.contains("GET /"),
        "timestamped line: {line}"
    );

    // The async operation the PUT named reports success.
    let op_url = created.headers["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_string();
    let op = p.raw("GET", &op_url, Some(&p.token), None).await;
    assert_eq!(op.status, 200, "{}", op.text);
    assert_eq!(op.body["status"], "Succeeded");
    assert!(
        op.body["id"]
            .as_str()
            .unwrap()
            .ends_with("/containerGroups/hello")
    );
}

#[tokio::test]
async fn two_groups_both_serve_port_80_each_on_its_own_ip() {
    let p = TestPlatform::start().await;
    for name in ["one", "two"] {
        p.create("demo", name, hello_http()).await;
    }
    let one = ip_of(&p.wait_for_state("demo", "one", "Running").await);
    let two = ip_of(&p.wait_for_state("demo", "two", "Running").await);
    assert_ne!(one, two);
    for ip in [&one, &two] {
        let (status, _) = http_get(&format!("http://{ip}:80/"))
            .await
            .expect("answers");
        assert_eq!(status, 200);
    }
    p.wait_for_log("demo", "one", "main", "GET /").await;
    p.wait_for_log("demo", "two", "main", "GET /").await;

    let list = p.call("GET", &format!("/subscriptions/{SUB}/resourceGroups/demo/providers/Microsoft.ContainerInstance/containerGroups"), None).await;
    assert_eq!(
        list.body["value"].as_array().map(Vec::len),
        Some(2),
        "{}",
        list.text
    );
    assert!(
        list.body["value"][0]["properties"]
            .get("instanceView")
            .is_none(),
        "lists omit instanceView"
    );
    let by_sub = p
        .call(
            "GET",
            &format!("/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/containerGroups"),
            None,
        )
        .await;
    assert_eq!(by_sub.body["value"].as_array().map(Vec::len), Some(2));
}

/// Instance slots are reused, and reset between requests by copying pages back and by
/// handing them to the kernel: no request may see what an earlier one wrote.
#[tokio::test]
async fn every_request_meets_a_pristine_instance() {
    let p = TestPlatform::start().await;
    p.create(
        "demo",
        "fresh",
        group_body(
            guest("files-http").to_str().expect("utf-8 path"),
            &[80],
            "Always",
            &[],
        ),
    )
    .await;
    let ip = ip_of(&p.wait_for_state("demo", "fresh", "Running").await);
    let url = format!("http://{ip}:80/dirty");
    for _ in 0..10 {
        assert_eq!(
            http_get(&url).await.expect("answers"),
            (200, "calls=1 dirty=0\n".to_string())
        );
    }
    // Side by side, so that several slots are in use and then reused.
    for _ in 0..3 {
        let answers = futures::future::join_all((0..8).map(|_| http_get(&url))).await;
        for a in answers {
            assert_eq!(a.expect("answers"), (200, "calls=1 dirty=0\n".to_string()));
        }
    }
}

#[tokio::test]
async fn a_command_succeeds_or_fails_with_its_exit_code_and_output_in_the_logs() {
    let p = TestPlatform::start().await;
    let ok = group_body("waci/hello-cli", &[], "Never", &["hello-cli", "greeting"]);
    p.create("jobs", "ok", ok).await;
    let mut failing = group_body(
        "waci/hello-cli",
        &[],
        "Never",
        &["hello-cli", "--exit", "3"],
    );
    failing["properties"]["containers"][0]["properties"]["environmentVariables"] =
        json!([{"name": "COLOR", "value": "blue"}]);
    p.create("jobs", "bad", failing).await;

    let ok = p.wait_for_state("jobs", "ok", "Succeeded").await;
    assert_eq!(current_state(&ok)["state"], "Terminated");
    assert_eq!(exit_code(&ok), Some(0));
    assert_eq!(detail_status(&ok), "Completed");
    assert_eq!(provisioning_state(&ok), "Succeeded");
    let logs = p.wait_for_log("jobs", "ok", "main", "exiting with 0").await;
    assert!(logs.contains("arg[1]=greeting"), "{logs}");

    let bad = p.wait_for_state("jobs", "bad", "Failed").await;
    assert_eq!(exit_code(&bad), Some(3));
    let logs = p
        .wait_for_log("jobs", "bad", "main", "exiting with 3")
        .await;
    assert!(
        logs.contains("env COLOR=blue"),
        "the guest sees its env: {logs}"
    );
    assert!(
        !logs.contains("env HOME=") && !logs.contains("env PATH="),
        "no host env leaks: {logs}"
    );
    let events = events_text(&bad);
    for name in ["Pulling", "Pulled", "Created", "Started", "Failed"] {
        assert!(
            events.contains(&format!("\"name\":\"{name}\"")),
            "event {name} in {events}"
        );
    }
}

#[tokio::test]
async fn a_group_runs_from_a_local_wasm_file() {
    let p = TestPlatform::start().await;
    let path = guest("hello-http");
    p.create(
        "files",
        "web",
        group_body(path.to_str().unwrap(), &[8080], "Always", &[]),
    )
    .await;
    let ip = ip_of(&p.wait_for_state("files", "web", "Running").await);
    let (status, page) = http_get(&format!("http://{ip}:8080/"))
        .await
        .expect("answers");
    assert_eq!(status, 200);
    assert!(page.contains("Welcome"));
}

#[tokio::test]
async fn bad_requests_answer_the_right_error_and_change_nothing() {
    let p = TestPlatform::start().await;
    p.create(
        "keep",
        "existing",
        group_body("waci/hello-cli", &[], "Never", &[]),
    )
    .await;
    let snapshot = || async {
        let r = p
            .call(
                "GET",
                &format!(
                    "/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/containerGroups"
                ),
                None,
            )
            .await;
        let rgs = p
            .call("GET", &format!("/subscriptions/{SUB}/resourcegroups"), None)
            .await;
        (
            r.body["value"]
                .as_array()
                .map(|v| v.iter().map(|g| g["id"].clone()).collect::<Vec<_>>()),
            rgs.body["value"].as_array().map(Vec::len),
        )
    };
    let before = snapshot().await;

    let with_port = |port: Value| {
        let mut b = hello_http();
        b["properties"]["containers"][0]["properties"]["ports"][0]["port"] = port.clone();
        b["properties"]["ipAddress"]["ports"][0]["port"] = port;
        b
    };
    let mut dup_ports = hello_http();
    dup_ports["properties"]["containers"][0]["properties"]["ports"] =
        json!([{"port": 80}, {"port": 80}]);
    let mut neg_mem = hello_http();
    neg_mem["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"] =
        json!(-1);
    let mut bad_mount = hello_http();
    bad_mount["properties"]["containers"][0]["properties"]["volumeMounts"] =
        json!([{"name": "data", "mountPath": "/data"}]);
    let good = hello_http().to_string();
    let path = |name: &str| format!("{}{}", p.api, TestPlatform::group_path("newrg", name));
    let v = format!("api-version={API_VERSION}");

    let web = format!("{}?{v}", path("web"));
    let token = Some(p.token.as_str());
    // (what, url, token, body, status, code, field named in the message)
    #[rustfmt::skip]
    let cases: Vec<(&str, String, Option<&str>, String, u16, &str, &str)> = vec![
        ("missing api-version", path("web"), token, good.clone(), 400, "MissingApiVersionParameter", "api-version"),
        ("unknown api-version", format!("{}?api-version=1999-01-01", path("web")), token, good.clone(), 400, "InvalidApiVersionParameter", "2025-09-01"),
        ("bad group name", format!("{}?{v}", path("Bad_Name")), token, good.clone(), 400, "InvalidResourceName", "Bad_Name"),
        ("port 0", web.clone(), token, with_port(json!(0)).to_string(), 400, "InvalidRequestContent", "ports[0].port"),
        ("port 70000", web.clone(), token, with_port(json!(70000)).to_string(), 400, "InvalidRequestContent", "ports[0].port"),
        ("duplicate ports", web.clone(), token, dup_ports.to_string(), 400, "InvalidRequestContent", "ports[1].port"),
        ("negative memory", web.clone(), token, neg_mem.to_string(), 400, "InvalidRequestContent", "memoryInGB"),
        ("unknown image", web.clone(), token, group_body("waci/nope", &[80], "Always", &[]).to_string(), 400, "InvalidImage", "image"),
        ("undeclared volume", web.clone(), token, bad_mount.to_string(), 400, "InvalidRequestContent", "volumeMounts[0].name"),
        ("malformed JSON", web.clone(), token, "{\"location\": ".into(), 400, "InvalidRequestContent", "could not be deserialized"),
        ("no token", web.clone(), None, good.clone(), 401, "AuthenticationFailed", "Authorization"),
        ("wrong token", web.clone(), Some("not-the-token"), good.clone(), 401, "InvalidAuthenticationToken", "invalid"),
    ];
    for (what, url, token, body, status, code, mention) in cases {
        let r = p.raw("PUT", &url, token, Some(body)).await;
        assert_eq!(r.status, status, "{what}: {}", r.text);
        assert_eq!(r.body["error"]["code"], code, "{what}: {}", r.text);
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(mention),
            "{what}: message {message:?} should mention {mention:?}"
        );
        assert_eq!(snapshot().await, before, "{what} changed the store");
    }
    let missing = p.get_group("keep", "absent").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["code"], "ResourceNotFound");
}

#[tokio::test]
async fn sigkill_and_restart_lose_nothing() {
    let mut p = TestPlatform::start().await;
    p.create("prod", "web", hello_http()).await;
    p.create(
        "prod",
        "job",
        group_body(
            "waci/hello-cli",
            &[],
            "Never",
            &["hello-cli", "--exit", "0"],
        ),
    )
    .await;
    let ip = ip_of(&p.wait_for_state("prod", "web", "Running").await);
    p.wait_for_state("prod", "job", "Succeeded").await;
    http_get(&format!("http://{ip}:80/before-kill"))
        .await
        .expect("answers");
    p.wait_for_log("prod", "web", "main", "GET /before-kill")
        .await;
    let job_logs = p
        .wait_for_log("prod", "job", "main", "exiting with 0")
        .await;

    p.restart().await;

    let web = p.wait_for_state("prod", "web", "Running").await;
    let events = events_text(&web);
    assert!(
        events.contains("compiled code from cache"),
        "a restart does not recompile: {events}"
    );
    assert_eq!(ip_of(&web), ip, "the group keeps its IP");
    let (status, _) = http_get(&format!("http://{ip}:80/after-restart"))
        .await
        .expect("serving again");
    assert_eq!(status, 200);
    let logs = p
        .wait_for_log("prod", "web", "main", "GET /after-restart")
        .await;
    assert!(
        logs.contains("GET /before-kill"),
        "old logs survive: {logs}"
    );
    let job = p.wait_for_state("prod", "job", "Succeeded").await;
    assert_eq!(exit_code(&job), Some(0));
    assert_eq!(
        p.logs("prod", "job", "main").await,
        job_logs,
        "a finished Never job is not run again"
    );
}

#[tokio::test]
async fn delete_frees_the_group_its_port_and_its_ip() {
    let p = TestPlatform::start().await;
    p.create("tmp", "gone", hello_http()).await;
    let ip = ip_of(&p.wait_for_state("tmp", "gone", "Running").await);
    assert_eq!(
        http_get(&format!("http://{ip}:80/"))
            .await
            .expect("answers")
            .0,
        200
    );

    let deleted = p
        .call("DELETE", &TestPlatform::group_path("tmp", "gone"), None)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert_eq!(p.get_group("tmp", "gone").await.status, 404);
    assert!(
        http_get(&format!("http://{ip}:80/")).await.is_err(),
        "the port no longer accepts connections"
    );
    assert_eq!(
        p.call("DELETE", &TestPlatform::group_path("tmp", "gone"), None)
            .await
            .status,
        204
    );

    let again = p.create("tmp", "next", hello_http()).await;
    assert_eq!(ip_of(&again.body), ip, "the freed IP is given out again");
}
