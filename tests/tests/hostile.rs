//! Hostile conditions (issue: access and hostile input): a SIGKILL in the middle of a burst
//! of creates loses no acknowledged group and leaves nothing half-made; guests that try to
//! break out of their sandbox fail.

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
            let mut body = group_body("waci/hello-http", &[80], "Always", &[]);
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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::SeqCst) < 40 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no creates were acknowledged"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
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

    p.restart().await;
    let db = p.data_dir.path().join("waci.db");
    let check: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");

    let list = p.call("GET", &format!("/subscriptions/{SUB}/resourceGroups/burst/providers/Microsoft.ContainerInstance/containerGroups"), None).await;
    let groups = list.body["value"].as_array().cloned().unwrap_or_default();
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
    let target = p
        .put_group(
            "box",
            "target",
            group_body("waci/hello-http", &[80], "Always", &[]),
        )
        .await;
    let target_ip = target.body["properties"]["ipAddress"]["ip"]
        .as_str()
        .unwrap()
        .to_string();
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
        assert_eq!(
            p.put_group("box", name, body.clone()).await.status,
            201,
            "{name}"
        );
    }
    let mut out = HashMap::new();
    for (name, _) in &runs {
        p.wait_for_state("box", name, "Succeeded").await;
        out.insert(
            *name,
            // The last line each probe writes.
            p.wait_for_log("box", name, "main", "probe http-out")
                .await,
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
        line("out", "tcp-socket").contains("denied"),
        "raw sockets are not granted"
    );
    let outgoing = line("out", "http-out");
    assert!(
        outgoing.contains("ALLOWED") && outgoing.contains("200"),
        "outgoing HTTP to others works: {outgoing}"
    );
    p.wait_for_log("box", "target", "main", "GET /from-a-guest")
        .await;
}
