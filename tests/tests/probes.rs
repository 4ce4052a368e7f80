//! Probes as ACI runs them (issue 20): a readiness probe keeps every client out, at the
//! group's IP and at the front door, until it passes; a liveness probe that starts failing
//! kills the container and restarts it under the restart policy, or ends it under `Never`.
//!
//! The guest is `files-http`, whose `/read?path=P` answers 200 while file P exists and 404
//! once it does not, and which logs every request it gets. The health file sits in a volume
//! the test reaches on the host (`<data dir>/volumes/<group id>/<volume>`): each request is
//! a fresh instance, so the file is the only state a probe can see change.

use base64::Engine as _;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use waci_tests::*;

/// How long a probe outcome may take to show: a few periods of 1 s on a loaded machine.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

fn files_http() -> String {
    guest("files-http")
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

/// A group of one `files-http` container named `main` on port 80, with `volume` mounted at
/// `/health` and `probes` added to its properties.
fn probed_group(policy: &str, label: &str, volume: Value, probes: Value) -> Value {
    let mut properties = json!({
        "image": files_http(), "ports": [{"port": 80}],
        "volumeMounts": [{"name": "health", "mountPath": "/health"}],
        "resources": {"requests": {"cpu": 0.5, "memoryInGB": 0.25}}
    });
    for (k, v) in probes.as_object().expect("probes") {
        properties[k] = v.clone();
    }
    json!({"location": "local", "properties": {
        "restartPolicy": policy,
        "containers": [{"name": "main", "properties": properties}],
        "volumes": [volume],
        "ipAddress": {"type": "Public", "ports": [{"port": 80}], "dnsNameLabel": label}
    }})
}

/// The host directory of volume `name` of the platform's only group.
fn volume_dir(p: &TestPlatform, name: &str) -> PathBuf {
    let root = p.data_dir.path().join("volumes");
    let groups: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("the volumes directory")
        .map(|e| e.expect("an entry").path())
        .collect();
    assert_eq!(
        groups.len(),
        1,
        "one group's volumes in {root:?}: {groups:?}"
    );
    groups[0].join(name)
}

/// A GET through the front door to the group named `fqdn`.
async fn front_door_get(p: &TestPlatform, fqdn: &str, path: &str) -> (u16, String) {
    let front: std::net::SocketAddr = p
        .front_door
        .trim_start_matches("http://")
        .parse()
        .expect("front door address");
    let client = reqwest::Client::builder()
        .no_proxy()
        .resolve(fqdn, front)
        .build()
        .expect("client");
    let resp = client
        .get(format!("http://{fqdn}:{}{path}", front.port()))
        .send()
        .await
        .expect("the front door answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// Waits until a GET of `path` at the group's IP answers 200.
async fn served(ip: &str, path: &str, what: &str) {
    eventually(what, PROBE_TIMEOUT, || async {
        match http_get(&format!("http://{ip}:80{path}")).await {
            Ok((200, _)) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// The summed count of the main container's events whose message contains `text`.
fn event_count(g: &Value, text: &str) -> i64 {
    events(g)
        .iter()
        .filter(|e| e["message"].as_str().is_some_and(|m| m.contains(text)))
        .map(|e| e["count"].as_i64().unwrap_or(0))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_keeps_clients_out_until_the_probe_passes() {
    let mut p = TestPlatform::start().await;
    let probe = json!({"readinessProbe": {
        "httpGet": {"path": "/read?path=/health/ready", "port": 80},
        "periodSeconds": 1
    }});
    let body = probed_group(
        "Always",
        "probe-ready",
        json!({"name": "health", "emptyDir": {}}),
        probe,
    );
    p.create("rg", "ready", body).await;
    let g = p.wait_for_state("rg", "ready", "Running").await;
    assert!(
        detail_status(&g).starts_with("Not ready"),
        "a container whose readiness probe has not passed is shown as not ready: {}",
        detail_status(&g)
    );
    let ip = ip_of(&g);
    let fqdn = fqdn_of(&g);

    // The probe fails (no file yet) more than once, as one event counting up.
    p.wait_for(
        "rg",
        "ready",
        "failing its readiness probe twice",
        PROBE_TIMEOUT,
        |g| {
            event_count(
                g,
                "Readiness probe failed: HTTP probe failed with statuscode: 404",
            ) >= 2
        },
    )
    .await;
    let g = p.get_group("rg", "ready").await.body;
    let unhealthy: Vec<&Value> = events(&g)
        .iter()
        .filter(|e| e["name"] == "Unhealthy")
        .collect();
    assert_eq!(
        unhealthy.len(),
        1,
        "repeated probe failures are one event with a count: {}",
        events_text(&g)
    );

    // Clients are held back at the group's IP and at the front door.
    for i in 0..3 {
        let (status, text) = http_get(&format!("http://{ip}:80/env?before-ready-{i}"))
            .await
            .expect("the group's IP answers");
        assert_eq!(status, 503, "not ready at the group's IP: {text}");
    }
    let (status, page) = front_door_get(&p, &fqdn, "/env?before-ready-front").await;
    assert_eq!(status, 503, "{page}");
    assert!(
        page.contains("ready")
            && page.contains("not ready")
            && page.contains("Container group ready"),
        "the front door's page names the group and says it is not ready: {page}"
    );

    // The health file appears: the probe passes and traffic flows.
    std::fs::write(volume_dir(&p, "health").join("ready"), "yes").expect("write the file");
    served(
        &ip,
        "/env?after-ready",
        "the group's IP to answer once ready",
    )
    .await;
    let (status, _) = front_door_get(&p, &fqdn, "/env?after-ready-front").await;
    assert_eq!(status, 200, "the front door serves a ready group");
    let g = p.get_group("rg", "ready").await.body;
    assert_eq!(current_state(&g)["state"], "Running");
    assert!(
        !detail_status(&g).contains("Not ready"),
        "ready: {}",
        detail_status(&g)
    );

    // No request of a client reached the container before it was ready: its log shows the
    // probes, then the requests made after.
    let logs = p
        .wait_for_log("rg", "ready", "main", "after-ready-front")
        .await;
    assert!(
        !logs.contains("before-ready"),
        "a request reached the container before it was ready:\n{logs}"
    );
    let first_client = logs.find("after-ready").expect("a client's request");
    assert!(
        logs[..first_client].contains("GET /read?path=/health/ready"),
        "the probes came first:\n{logs}"
    );

    // The probe is part of the stored spec: it survives a restart of the platform and runs
    // again (the emptyDir keeps its file, so the group becomes ready again).
    p.kill();
    p.restart().await;
    let g = p.wait_for_state("rg", "ready", "Running").await;
    let probe = &g["properties"]["containers"][0]["properties"]["readinessProbe"];
    assert_eq!(
        probe["httpGet"]["path"], "/read?path=/health/ready",
        "{probe}"
    );
    assert_eq!(probe["periodSeconds"], 1, "{probe}");
    assert_eq!(
        probe["failureThreshold"], 3,
        "ACI's default comes back: {probe}"
    );
    let ip = ip_of(&g);
    served(
        &ip,
        "/env?after-restart",
        "the group to be ready again after the restart",
    )
    .await;
}

/// A group whose liveness probe reads a file of a secret volume, which exists from the start.
fn liveness_group(policy: &str, label: &str) -> Value {
    let alive = base64::engine::general_purpose::STANDARD.encode("yes");
    probed_group(
        policy,
        label,
        json!({"name": "health", "secret": {"alive": alive}}),
        json!({"livenessProbe": {
            "httpGet": {"path": "/read?path=/health/alive", "port": 80},
            "periodSeconds": 1, "failureThreshold": 2
        }}),
    )
}

/// Waits until the liveness probe has passed a few times, then removes its file.
async fn make_liveness_fail(p: &TestPlatform, name: &str) {
    p.wait_for_state("rg", name, "Running").await;
    eventually(
        "the liveness probe to pass three times",
        PROBE_TIMEOUT,
        || async {
            let logs = p.logs("rg", name, "main").await;
            let probes = logs.matches("GET /read?path=/health/alive").count();
            if probes >= 3 { Ok(()) } else { Err(logs) }
        },
    )
    .await;
    let g = p.get_group("rg", name).await.body;
    assert_eq!(
        restart_count(&g),
        0,
        "a passing probe kills nothing: {}",
        events_text(&g)
    );
    std::fs::remove_file(volume_dir(p, "health").join("alive")).expect("remove the file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_liveness_restarts_the_container_with_acis_events() {
    let p = TestPlatform::start().await;
    p.create("rg", "live", liveness_group("Always", "probe-live"))
        .await;
    make_liveness_fail(&p, "live").await;
    let g = p
        .wait_for(
            "rg",
            "live",
            "restarted after failing its liveness probe",
            PROBE_TIMEOUT,
            |g| restart_count(g) >= 1,
        )
        .await;
    let text = events_text(&g);
    for expected in [
        "Liveness probe failed: HTTP probe failed with statuscode: 404",
        "Container main failed liveness probe, will be restarted",
    ] {
        assert!(text.contains(expected), "event {expected:?} in {text}");
    }
    let names = event_names(&g);
    for name in ["Unhealthy", "Killing", "BackOff"] {
        assert!(names.iter().any(|n| n == name), "a {name} event: {names:?}");
    }
    assert!(
        event_count(&g, "Liveness probe failed") >= 2,
        "failureThreshold 2: two failures before the kill, counted: {text}"
    );
    // It keeps failing (the file is gone for good), so it is killed and restarted again.
    let g = p
        .wait_for("rg", "live", "restarted twice", PROBE_TIMEOUT, |g| {
            restart_count(g) >= 2
        })
        .await;
    assert_eq!(state(&g), "Running", "under Always the group goes on");
    let previous = &main_view(&g)["previousState"];
    assert_eq!(previous["state"], "Terminated", "{previous}");
    assert_eq!(previous["exitCode"], 137, "{previous}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_liveness_under_never_ends_the_group_failed() {
    let p = TestPlatform::start().await;
    p.create("rg", "once", liveness_group("Never", "probe-once"))
        .await;
    make_liveness_fail(&p, "once").await;
    let g = p.wait_for_state("rg", "once", "Failed").await;
    let current = current_state(&g);
    assert_eq!(current["state"], "Terminated", "{current}");
    assert_eq!(current["exitCode"], 137, "{current}");
    assert!(
        detail_status(&g).contains("liveness probe failed"),
        "{}",
        detail_status(&g)
    );
    assert_eq!(restart_count(&g), 0, "Never restarts nothing");
    assert!(
        events_text(&g).contains("Container main failed liveness probe, will not be restarted"),
        "{}",
        events_text(&g)
    );
    let (status, _) = http_get(&format!("http://{}:80/env", ip_of(&g)))
        .await
        .expect("the group's IP answers");
    assert_eq!(status, 503, "a killed container takes no requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_takes_traffic_only_once_its_readiness_probe_passes() {
    let p = TestPlatform::start().await;
    let group = |version: &str, health_file: &str| {
        let mut body = probed_group(
            "Always",
            "probe-update",
            json!({"name": "health", "emptyDir": {}}),
            json!({"readinessProbe": {
                "httpGet": {"path": format!("/read?path=/health/{health_file}"), "port": 80},
                "periodSeconds": 1
            }}),
        );
        body["properties"]["containers"][0]["properties"]["environmentVariables"] =
            json!([{"name": "VERSION", "value": version}]);
        body
    };
    p.create("rg", "upd", group("one", "ready-one")).await;
    let ip = ip_of(&p.wait_for_state("rg", "upd", "Running").await);
    let health = volume_dir(&p, "health");
    std::fs::write(health.join("ready-one"), "yes").expect("write the file");
    served(&ip, "/env", "version one to be ready").await;

    // Version two's probe reads a file that is not there yet: version one serves meanwhile.
    let r = p.put_group("rg", "upd", group("two", "ready-two")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    p.wait_for(
        "rg",
        "upd",
        "version two failing its probe",
        PROBE_TIMEOUT,
        |g| event_count(g, "Readiness probe failed") >= 2,
    )
    .await;
    for _ in 0..5 {
        let (status, env) = http_get(&format!("http://{ip}:80/env"))
            .await
            .expect("answers");
        assert_eq!(
            status, 200,
            "the old version serves until the new one is ready"
        );
        assert!(env.contains("VERSION=one"), "{env}");
    }
    std::fs::write(health.join("ready-two"), "yes").expect("write the file");
    eventually(
        "version two to take over once ready",
        PROBE_TIMEOUT,
        || async {
            match http_get(&format!("http://{ip}:80/env")).await {
                Ok((200, env)) if env.contains("VERSION=two") => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exec_liveness_probe_runs_its_command_in_the_container() {
    let p = TestPlatform::start().await;
    let alive = base64::engine::general_purpose::STANDARD.encode("yes");
    let body = probed_group(
        "Always",
        "probe-exec",
        json!({"name": "health", "secret": {"alive": alive}}),
        json!({"livenessProbe": {
            "exec": {"command": ["cat", "/health/alive"]},
            "periodSeconds": 1, "failureThreshold": 2
        }}),
    );
    p.create("rg", "exec-live", body).await;
    let g = p.wait_for_state("rg", "exec-live", "Running").await;
    let probe = &g["properties"]["containers"][0]["properties"]["livenessProbe"];
    assert_eq!(
        probe["exec"]["command"],
        json!(["cat", "/health/alive"]),
        "{probe}"
    );
    assert_eq!(probe["periodSeconds"], 1, "{probe}");

    // While the file is there, `cat` exits 0 every second: nothing fails, nothing restarts.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let g = p.get_group("rg", "exec-live").await.body;
    let text = events_text(&g);
    assert!(!text.contains("probe failed"), "{text}");
    assert_eq!(restart_count(&g), 0, "{text}");

    std::fs::remove_file(volume_dir(&p, "health").join("alive")).expect("remove the file");
    let g = p
        .wait_for(
            "rg",
            "exec-live",
            "restarted after failing its exec liveness probe",
            PROBE_TIMEOUT,
            |g| restart_count(g) >= 1,
        )
        .await;
    let text = events_text(&g);
    for expected in [
        "Liveness probe failed: ",
        "/health/alive",
        "Container main failed liveness probe, will be restarted",
    ] {
        assert!(text.contains(expected), "event {expected:?} in {text}");
    }
    // The probe's runs are not the container's: nothing of `cat` is in its logs.
    let logs = p.logs("rg", "exec-live", "main").await;
    assert!(!logs.contains("yes"), "{logs}");
}
