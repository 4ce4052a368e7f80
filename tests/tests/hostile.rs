//! Hostile conditions (issue: access and hostile input): a SIGKILL in the middle of a burst
//! of creates loses no acknowledged group and leaves nothing half-made; guests that try to
//! break out of their sandbox fail.
//!
//! Longer than 400 lines because each test is one whole attack, told start to end.

use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use waci_tests::*;

#[tokio::test]
async fn a_sigkill_during_two_hundred_creates_loses_no_acknowledged_group() {
    let mut p = TestPlatform::start_with(&["--max-groups-per-subscription", "1000"]).await;
    let acked = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (http, api, token, acked) = (
            p.http.clone(),
            p.api.clone(),
            p.token.clone(),
            acked.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut body = hello_http();
            body["properties"]["ipAddress"]["dnsNameLabel"] = json!(format!("burst-{i}"));
            let url = format!(
                "{api}{}?api-version={API_VERSION}",
                TestPlatform::group_path("burst", &format!("g{i}"))
            );
            let r = http.put(url).bearer_auth(token).json(&body).send().await;
            let ok = matches!(&r, Ok(resp) if resp.status().is_success());
            if ok {
                acked.fetch_add(1, Ordering::SeqCst);
            }
            (i, ok)
        }));
    }
    // Kill the platform once some creates are acknowledged and others are in flight.
    eventually_every(
        Duration::from_millis(2),
        "40 acknowledged creates",
        Duration::from_secs(60),
        || async {
            match acked.load(Ordering::SeqCst) {
                n if n >= 40 => Ok(()),
                n => Err(format!("{n} acknowledged")),
            }
        },
    )
    .await;
    p.kill();
    let mut acknowledged = HashSet::new();
    for t in tasks {
        let (i, ok) = t.await.expect("create task");
        if ok {
            acknowledged.insert(format!("g{i}"));
        }
    }
    assert!(
        acknowledged.len() < 200,
        "the kill came before every create finished"
    );

    // The platform owns its database while it runs: check the file as the kill left it.
    let db = p.data_dir.path().join("waci.db");
    let check: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    p.restart().await;

    // Every page of the list: creates in flight at the kill may have committed too, so there
    // can be more groups than one page holds.
    let mut list = p.call("GET", &format!("/subscriptions/{SUB}/resourceGroups/burst/providers/Microsoft.ContainerInstance/containerGroups"), None).await;
    let mut groups = Vec::new();
    loop {
        groups.extend(list.body["value"].as_array().cloned().unwrap_or_default());
        let Some(next) = list.body["nextLink"].as_str().map(str::to_string) else {
            break;
        };
        list = p.raw("GET", &next, Some(&p.token), None).await;
    }
    let listed: HashSet<String> = groups
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    for name in &acknowledged {
        assert!(listed.contains(name), "acknowledged group {name} was lost");
    }
    // Nothing half-made: every group has its IP and name, none shared.
    let mut ips = HashMap::new();
    for g in &groups {
        let ip = g["properties"]["ipAddress"]["ip"]
            .as_str()
            .expect("every group has its IP")
            .to_string();
        let fqdn = g["properties"]["ipAddress"]["fqdn"]
            .as_str()
            .expect("every group has its FQDN")
            .to_string();
        assert!(
            ips.insert(ip.clone(), fqdn.clone()).is_none(),
            "IP {ip} is held twice"
        );
        let a = waci_tests::dns::udp(p.dns, &fqdn, hickory_proto::rr::RecordType::A).await;
        assert_eq!(
            a.a.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            vec![ip.clone()],
            "{fqdn}"
        );
    }
    // Every acknowledged group runs again and answers on its IP.
    for name in &acknowledged {
        let g: Value = p.wait_for_state("burst", name, "Running").await;
        let ip = g["properties"]["ipAddress"]["ip"].as_str().unwrap();
        assert_eq!(
            http_get(&format!("http://{ip}/")).await.expect("answers").0,
            200,
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_guest_cannot_break_out_but_can_call_out() {
    let p = TestPlatform::start().await;
    let target = p.create("box", "target", hello_http()).await;
    let target_ip = ip_of(&target.body);
    p.wait_for_state("box", "target", "Running").await;
    let api = p.api.trim_start_matches("http://").to_string();
    let front = p.front_door.trim_start_matches("http://").to_string();

    let probe = |args: Vec<String>| {
        json!({"location": "local", "properties": {"restartPolicy": "Never",
            "volumes": [{"name": "data", "emptyDir": {}}],
            "containers": [{"name": "main", "properties": {"image": guest("sandbox-probe").to_str().unwrap(),
                "command": args, "volumeMounts": [{"name": "data", "mountPath": "/data"}]}}]}})
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let runs = [
        (
            "api",
            probe(s(&[
                "sandbox-probe",
                "--volume",
                "/data",
                "--connect",
                &api,
                "--http",
                &format!("http://{api}/subscriptions"),
            ])),
        ),
        (
            "front",
            probe(s(&["sandbox-probe", "--http", &format!("http://{front}/")])),
        ),
        (
            "out",
            probe(s(&[
                "sandbox-probe",
                "--connect",
                &format!("{target_ip}:80"),
                "--http",
                &format!("http://{target_ip}/from-a-guest"),
            ])),
        ),
    ];
    for (name, body) in &runs {
        p.create("box", name, body.clone()).await;
    }
    let mut out = HashMap::new();
    for (name, _) in &runs {
        p.wait_for_state("box", name, "Succeeded").await;
        out.insert(
            *name,
            // The last line each probe writes.
            p.wait_for_log("box", name, "main", "probe http-out").await,
        );
    }
    let line = |name: &str, probe: &str| -> String {
        out[name]
            .lines()
            .find(|l| l.starts_with(&format!("probe {probe}")))
            .unwrap_or_else(|| panic!("no {probe} line in {}", out[name]))
            .to_string()
    };
    for probe in ["etc-passwd", "dotdot", "host-env", "tcp-socket"] {
        let l = line("api", probe);
        assert!(l.contains(": denied"), "{l}");
    }
    assert!(
        line("api", "http-out").contains("denied"),
        "the control API is closed to guests: {}",
        line("api", "http-out")
    );
    assert!(
        line("front", "http-out").contains("denied"),
        "so is the front door: {}",
        line("front", "http-out")
    );
    assert!(
        line("out", "tcp-socket").contains("ALLOWED"),
        "a guest may connect to another group's IP: {}",
        line("out", "tcp-socket")
    );
    let outgoing = line("out", "http-out");
    assert!(
        outgoing.contains("ALLOWED") && outgoing.contains("200"),
        "outgoing HTTP to others works: {outgoing}"
    );
    p.wait_for_log("box", "target", "main", "GET /from-a-guest")
        .await;
}

/// Sends `head` (a request line and headers, no body; `{host}` is the API's address) on a
/// connection of its own and reads the first answer, within 10 s.
async fn send_head(p: &TestPlatform, head: &str) -> std::io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = p.api.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(head.replace("{host}", addr).as_bytes()).await?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("an answer or a close within 10 s")?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Sends only the head of a PUT whose Content-Length is 2 MiB and reads the answer.
async fn announce_huge_body(p: &TestPlatform, path: &str) -> String {
    let head = format!(
        "PUT {path}?api-version={API_VERSION} HTTP/1.1\r\nHost: {{host}}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        p.token,
        2 << 20
    );
    send_head(p, &head).await.expect("an answer")
}

#[tokio::test]
async fn oversized_and_malformed_input_is_refused_in_the_arm_shape() {
    let p = TestPlatform::start().await;
    let url = format!(
        "{}{}?api-version={API_VERSION}",
        p.api,
        TestPlatform::group_path("limits", "web")
    );
    // A client announcing a body over the limit is refused before it sends it.
    let r = announce_huge_body(&p, &TestPlatform::group_path("limits", "web")).await;
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    assert!(r.contains("\"code\":\"RequestEntityTooLarge\""), "{r}");
    // A head over 64 KiB (one enormous header) is refused, and the API goes on answering.
    let head = format!(
        "GET /subscriptions/{SUB}/resourceGroups?api-version={API_VERSION} HTTP/1.1\r\nHost: {{host}}\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(100 << 10)
    );
    // The platform may close while the head is still being written: that is a refusal too.
    let r = send_head(&p, &head).await.unwrap_or_default();
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 431"), "{r}");
    assert_eq!(
        p.call("GET", &format!("/subscriptions/{SUB}/resourceGroups"), None)
            .await
            .status,
        200
    );
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let r = p.raw("PUT", &url, Some(&p.token), Some(deep)).await;
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (400, Some("InvalidRequestContent")),
        "{}",
        r.text
    );
    let mut many_env = group_body("waci/hello-cli", &[], "Never", &[]);
    many_env["properties"]["containers"][0]["properties"]["environmentVariables"] = json!(
        (0..101)
            .map(|i| json!({"name": format!("V{i}"), "value": "x"}))
            .collect::<Vec<_>>()
    );
    let r = p.put_group("limits", "web", many_env).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 100 environment variables")
    );
    let long_name = "a".repeat(64);
    assert_eq!(
        p.put_group(
            "limits",
            &long_name,
            group_body("waci/hello-cli", &[], "Never", &[])
        )
        .await
        .status,
        400
    );
    assert_eq!(
        p.get_group("limits", "web").await.status,
        404,
        "nothing was stored"
    );
}

#[tokio::test]
async fn secrets_never_appear_in_any_answer_log_event_or_cli_output() {
    let p = TestPlatform::start().await;
    let (secure, password, file) = (
        "secure-value-7d1f",
        "registry-pass-9c2e",
        "secret-file-content-4b8a",
    );
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, file);
    let body = json!({"location": "local", "properties": {"restartPolicy": "Never",
        "imageRegistryCredentials": [{"server": "registry.example", "username": "me", "password": password}],
        "volumes": [{"name": "cfg", "secret": {"f.txt": b64}}],
        "containers": [{"name": "main", "properties": {"image": "waci/hello-cli",
            "command": ["hello-cli", "--read", "/cfg/f.txt"],
            "environmentVariables": [{"name": "API_KEY", "secureValue": secure}],
            "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]}}]}});
    let mut seen = Vec::new();
    let created = p.put_group("sec", "job", body.clone()).await;
    seen.push(created.text.clone());
    let op = created.headers["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_string();
    let g = p.wait_for_state("sec", "job", "Succeeded").await;
    seen.push(g.to_string());
    seen.push(p.raw("GET", &op, Some(&p.token), None).await.text);
    seen.push(
        p.call(
            "GET",
            &format!("/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/containerGroups"),
            None,
        )
        .await
        .text,
    );
    seen.push(p.put_group("sec", "job", body.clone()).await.text);
    let mut bad = body.clone();
    bad["properties"]["restartPolicy"] = json!("Sometimes");
    seen.push(p.put_group("sec", "bad", bad).await.text);
    for line in [
        "container show -g sec -n job",
        "container list",
        "container show -g sec -n job -o yaml",
        "container show -g sec -n job -o table",
    ] {
        seen.push(p.waci(line).await.ok().stdout);
    }
    let export = p.data_dir.path().join("export.yaml");
    let exported = p
        .waci(&format!(
            "container export -g sec -n job -f {}",
            export.display()
        ))
        .await;
    seen.push(exported.stdout + &exported.stderr);
    seen.push(std::fs::read_to_string(&export).unwrap_or_default());
    seen.push(
        p.waci("container show -g sec -n nope")
            .await
            .failed()
            .stderr,
    );
    for text in &seen {
        for secret in [secure, password, b64.as_str()] {
            assert!(
                !text.contains(secret),
                "a secret leaked: {secret} in {text}"
            );
        }
    }
    // The guest itself reads its secret file and prints its env: a guest's own output is
    // the user's, as in ACI. The platform writes no secret anywhere else.
    let logs = p.logs("sec", "job", "main").await;
    assert!(logs.contains(&format!("read /cfg/f.txt: {file}")), "{logs}");
    assert!(!logs.contains(password), "{logs}");
}

#[tokio::test]
async fn a_slow_client_is_cut_off_and_holds_up_no_one() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let p = TestPlatform::start().await;
    let addr = p.api.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow.write_all(b"GET /subscriptions HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("a partial head");
    // Others are served meanwhile.
    assert_eq!(p.get_group("any", "none").await.status, 404);
    // The platform gives up on the unfinished head after its header timeout (10 s).
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the slow connection was closed by the platform"
    );
}

#[tokio::test]
async fn a_second_platform_on_the_same_data_dir_is_refused_and_the_first_goes_on() {
    let p = TestPlatform::start().await;
    let second = tokio::process::Command::new(waci_bin())
        .arg("serve")
        .arg("--data-dir")
        .arg(p.data_dir.path())
        .args([
            "--listen",
            "127.0.0.1:0",
            "--front-door-listen",
            "127.0.0.1:0",
        ])
        .args([
            "--dns-listen",
            "127.0.0.1:0",
            "--ip-pool",
            "127.77.254.0/24",
        ])
        .env("HOME", std::env::temp_dir().join("waci-tests-no-home"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), second)
        .await
        .expect("the second platform gives up instead of waiting forever")
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("in use by another process"),
        "says why: {stderr}"
    );
    // The first platform goes on.
    p.create("demo", "still", hello_http()).await;
    p.wait_for_state("demo", "still", "Running").await;
}
