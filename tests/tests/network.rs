//! A group's network (issue: network): guests reach servers on the host over `wasi:sockets`
//! under the egress policy (Debian's `redis-server`), serve TCP and UDP on their group's IP
//! (Debian's `redis-cli` and `socat` as clients), and a flag that does not parse stops
//! `waci serve` at start. Each server is started by the test on loopback and stopped by pid.

use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use waci_tests::*;

/// A process the test started, killed by its pid when the test ends (pass or fail).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's `redis-server` on `127.0.0.1:<port>`, nothing saved, once it answers PING.
async fn redis_server(port: u16) -> Server {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--protected-mode", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (Debian's redis-server package; .ci/run installs it)");
    let server = Server(child);
    eventually(
        "redis-server to answer PING",
        Duration::from_secs(20),
        || async {
            let out = redis_cli("127.0.0.1", port, &["PING"]);
            if out == "PONG" { Ok(()) } else { Err(out) }
        },
    )
    .await;
    server
}

/// What Debian's `redis-cli -h <host> -p <port> <args>` prints, trimmed.
fn redis_cli(host: &str, port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", host, "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli (Debian's redis-tools package; .ci/run installs it)");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

/// A group of one command container from a built guest, with `ports` on the container and
/// on the group's IP.
fn command_group(guest_name: &str, command: &[&str], policy: &str, ports: &[(u16, &str)]) -> Value {
    let ports: Vec<Value> = ports
        .iter()
        .map(|(port, protocol)| json!({"protocol": protocol, "port": port}))
        .collect();
    let mut body = json!({"location": "local", "properties": {
        "osType": "Linux", "restartPolicy": policy,
        "containers": [{"name": "main", "properties": {
            "image": guest(guest_name).to_str().unwrap(), "command": command,
            "ports": ports,
            "resources": {"requests": {"cpu": 1.0, "memoryInGB": 0.5}}}}]}});
    if !ports.is_empty() {
        body["properties"]["ipAddress"] = json!({"type": "Public", "ports": ports});
    }
    body
}

/// The Warning events of the group's first container whose message mentions `needle`.
fn warnings_about(group: &Value, needle: &str) -> Vec<Value> {
    events(group)
        .iter()
        .filter(|e| {
            e["type"] == "Warning" && e["message"].as_str().is_some_and(|m| m.contains(needle))
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_guest_talks_to_redis_on_the_host_when_the_policy_allows_it() {
    let port = free_port();
    let _redis = redis_server(port).await;
    let allow = format!("127.0.0.1:{port}");
    let p = TestPlatform::start_with(&["--allow-outbound", &allow]).await;
    let target = format!("127.0.0.1:{port}");
    let body = command_group(
        "net-client",
        &[
            "net-client",
            "redis",
            &target,
            "greeting",
            "hello from a guest",
        ],
        "Never",
        &[],
    );
    p.create("net", "client", body).await;
    p.wait_for_state("net", "client", "Succeeded").await;
    p.wait_for_log("net", "client", "main", "GET greeting = hello from a guest")
        .await;
    // The value is in the real server, not just echoed by the guest.
    assert_eq!(
        redis_cli("127.0.0.1", port, &["GET", "greeting"]),
        "hello from a guest"
    );
}

#[tokio::test]
async fn a_port_the_policy_closes_fails_at_once_with_one_warning() {
    let port = free_port();
    let redis = redis_server(port).await;
    let p = TestPlatform::start().await;
    let target = format!("127.0.0.1:{port}");
    // Restarted on failure, so the guest tries again and again: still one Warning.
    let body = command_group(
        "net-client",
        &["net-client", "redis", &target, "k", "v"],
        "OnFailure",
        &[],
    );
    p.create("net", "denied", body).await;
    let logs = p
        .wait_for_log("net", "denied", "main", "error: connect")
        .await;
    assert!(
        logs.to_lowercase().contains("denied"),
        "an access-denied error: {logs}"
    );
    let group = p
        .wait_for(
            "net",
            "denied",
            "restarted twice",
            Duration::from_secs(60),
            |g| restart_count(g) >= 2,
        )
        .await;
    let warnings = warnings_about(&group, &target);
    assert_eq!(
        warnings.len(),
        1,
        "one Warning for the address: {}",
        events_text(&group)
    );
    let message = warnings[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("--allow-outbound {target}")),
        "the Warning names the flag that would allow it: {message}"
    );
    assert_eq!(warnings[0]["count"].as_i64().unwrap_or(1), 1, "{message}");
    assert_eq!(
        redis_cli("127.0.0.1", port, &["DBSIZE"]),
        "0",
        "nothing reached redis"
    );
    drop(redis);
}

#[tokio::test]
async fn the_platforms_own_listeners_stay_closed_even_when_loopback_is_allowed() {
    let p = TestPlatform::start_with(&["--allow-outbound", "127.0.0.0/8"]).await;
    let api = p.api.trim_start_matches("http://").to_string();
    let dns = p.dns.to_string();
    for (name, target) in [("api", api.as_str()), ("dns", dns.as_str())] {
        let body = command_group(
            "net-client",
            &["net-client", "redis", target, "k", "v"],
            "Never",
            &[],
        );
        p.create("net", name, body).await;
        p.wait_for_state("net", name, "Failed").await;
        let logs = p.wait_for_log("net", name, "main", "error: connect").await;
        assert!(logs.to_lowercase().contains("denied"), "{name}: {logs}");
        let group = p
            .wait_for("net", name, "warned", Duration::from_secs(30), |g| {
                !warnings_about(g, target).is_empty()
            })
            .await;
        let warning = warnings_about(&group, target);
        assert!(
            warning.len() == 1
                && warning[0]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("platform's own")),
            "{name}: {}",
            events_text(&group)
        );
    }
    // UDP to the DNS server is refused as well.
    let body = command_group(
        "net-client",
        &["net-client", "udp", &dns, "hello"],
        "Never",
        &[],
    );
    p.create("net", "dns-udp", body).await;
    p.wait_for_state("net", "dns-udp", "Failed").await;
    p.wait_for_log("net", "dns-udp", "main", "error: send to")
        .await;
}

#[tokio::test]
async fn a_tcp_server_guest_answers_redis_cli_on_its_groups_ip() {
    let p = TestPlatform::start().await;
    let body = command_group(
        "net-server",
        &["net-server", "resp", "6379"],
        "Always",
        &[(6379, "TCP")],
    );
    let created = p.create("net", "cache", body).await;
    let ip = ip_of(&created.body);
    p.wait_for_log("net", "cache", "main", &format!("listening on {ip}:6379"))
        .await;
    assert_eq!(redis_cli(&ip, 6379, &["PING"]), "PONG");
    assert_eq!(redis_cli(&ip, 6379, &["SET", "colour", "blue"]), "OK");
    assert_eq!(redis_cli(&ip, 6379, &["GET", "colour"]), "blue");
    p.wait_for_log("net", "cache", "main", "SET colour").await;

    // A port the container does not declare is refused in the guest, with one Warning.
    let body = command_group(
        "net-client",
        &["net-client", "bind", "tcp", "0.0.0.0:7000"],
        "Never",
        &[(6380, "TCP")],
    );
    p.create("net", "undeclared", body).await;
    p.wait_for_state("net", "undeclared", "Failed").await;
    let logs = p
        .wait_for_log("net", "undeclared", "main", "error: bind")
        .await;
    assert!(logs.to_lowercase().contains("denied"), "{logs}");
    let group = p
        .wait_for(
            "net",
            "undeclared",
            "warned",
            Duration::from_secs(30),
            |g| !warnings_about(g, "does not declare port 7000/TCP").is_empty(),
        )
        .await;
    assert_eq!(
        warnings_about(&group, "does not declare port 7000/TCP").len(),
        1,
        "{}",
        events_text(&group)
    );
}

#[tokio::test]
async fn a_udp_echo_guest_answers_socat_on_its_groups_ip() {
    let p = TestPlatform::start().await;
    let body = command_group(
        "net-server",
        &["net-server", "udp-echo", "5300"],
        "Always",
        &[(5300, "UDP")],
    );
    let created = p.create("net", "echo", body).await;
    let ip = ip_of(&created.body);
    p.wait_for_log(
        "net",
        "echo",
        "main",
        &format!("listening on {ip}:5300 (UDP)"),
    )
    .await;
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo 'hello over udp' | socat -t 3 - UDP:{ip}:5300"
        ))
        .output()
        .expect("socat (Debian's socat package; .ci/run installs it)");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "hello over udp",
        "socat: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.wait_for_log("net", "echo", "main", "bytes from 127.0.0.1:")
        .await;
}

#[tokio::test]
async fn a_port_held_by_another_process_is_reported_and_served_once_it_is_free() {
    let p = TestPlatform::start().await;
    // The first group of a platform gets the first address of its pool.
    let ip = p.pool.replace(".0/24", ".1");
    let holder = std::net::TcpListener::bind((ip.as_str(), 8080)).expect("holding the port");
    let body = json!({"location": "local", "properties": {"osType": "Linux",
        "containers": [{"name": "main", "properties": {"image": "waci/hello-http",
            "ports": [{"port": 8080}, {"port": 5353, "protocol": "UDP"}],
            "resources": {"requests": {"cpu": 1.0, "memoryInGB": 0.5}}}}],
        "ipAddress": {"type": "Public", "ports": [{"port": 8080}, {"port": 5353, "protocol": "UDP"}]}}});
    let created = p.create("net", "web", body).await;
    assert_eq!(ip_of(&created.body), ip, "the first address of the pool");
    let addr = format!("{ip}:8080");
    let group = p
        .wait_for(
            "net",
            "web",
            "showing the port not served",
            Duration::from_secs(30),
            |g| {
                detail_status(g).contains(&format!("Not serving {addr}"))
                    && !warnings_about(g, &addr).is_empty()
            },
        )
        .await;
    assert_eq!(
        state(&group),
        "Running",
        "its other ports and the front door still serve"
    );
    assert!(
        warnings_about(&group, &format!("{ip}:5353/UDP")).len() == 1,
        "a UDP port of a service is not silently ignored: {}",
        events_text(&group)
    );
    drop(holder);
    p.wait_for(
        "net",
        "web",
        "serving the port once free",
        Duration::from_secs(30),
        |g| detail_status(g).is_empty() && event_names(g).iter().any(|n| n == "Bound"),
    )
    .await;
    let (status, _) = http_get(&format!("http://{addr}/")).await.expect("GET");
    assert_eq!(status, 200);
}

/// `web` (a service on 80) with two siblings: `api`, hello-http on 8080, and `cache`, the
/// RESP server on 6379 (only `web`'s port is on the group's IP list).
fn app_group() -> Value {
    let resources = json!({"requests": {"cpu": 0.5, "memoryInGB": 0.25}});
    json!({"location": "local", "properties": {"osType": "Linux", "containers": [
        {"name": "web", "properties": {"image": guest("net-web").to_str().unwrap(),
            "ports": [{"port": 80}], "resources": resources}},
        {"name": "api", "properties": {"image": "waci/hello-http",
            "ports": [{"port": 8080}], "resources": resources}},
        {"name": "cache", "properties": {"image": guest("net-server").to_str().unwrap(),
            "command": ["net-server", "resp", "6379"],
            "ports": [{"port": 6379}], "resources": resources}}],
        "ipAddress": {"type": "Public", "ports": [{"port": 80}]}}})
}

#[tokio::test]
async fn containers_of_a_group_reach_each_other_on_localhost_and_no_one_else() {
    let p = TestPlatform::start().await;
    let first = ip_of(&p.create("net", "app", app_group()).await.body);
    p.wait_for_log("net", "app", "cache", "listening on").await;
    let (status, page) = http_get(&format!("http://{first}/"))
        .await
        .expect("GET web");
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("http 200: <!DOCTYPE html>"),
        "web reached api on localhost:8080: {page}"
    );
    assert!(
        page.contains("resp +PONG"),
        "web reached cache on localhost:6379: {page}"
    );
    p.wait_for_log("net", "app", "api", "GET /").await;

    // A second group of the same shape, but without a cache: its localhost is its own.
    let mut lonely = app_group();
    lonely["properties"]["containers"]
        .as_array_mut()
        .unwrap()
        .pop();
    let second = ip_of(&p.create("net", "lonely", lonely).await.body);
    p.wait_for_state("net", "lonely", "Running").await;
    let (status, page) = http_get(&format!("http://{second}/"))
        .await
        .expect("GET web");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("http 200:"), "its own api answers: {page}");
    assert!(
        page.contains("resp error: connect localhost:6379")
            && page.to_lowercase().contains("refused"),
        "nothing of the first group answers the second's localhost:6379: {page}"
    );
    let first_api = p.logs("net", "app", "api").await;
    assert_eq!(
        first_api.matches("GET /").count(),
        1,
        "one call, from its own web: {first_api}"
    );
    p.wait_for_log("net", "lonely", "api", "GET /").await;
}

#[tokio::test]
async fn a_guest_calls_another_group_by_its_fqdn_but_never_the_platform() {
    let p = TestPlatform::start().await;
    let body = json!({"location": "local", "properties": {"osType": "Linux",
        "containers": [{"name": "main", "properties": {"image": "waci/hello-http",
            "ports": [{"port": 80}], "resources": {"requests": {"cpu": 1.0, "memoryInGB": 0.5}}}}],
        "ipAddress": {"type": "Public", "ports": [{"port": 80}], "dnsNameLabel": "target-app"}}});
    let target = p.create("net", "target", body).await;
    let (fqdn, ip) = (fqdn_of(&target.body), ip_of(&target.body));
    p.wait_for_state("net", "target", "Running").await;

    let run = |name: &str, command: Vec<String>| {
        let command: Vec<&str> = command.iter().map(String::as_str).collect();
        (
            name.to_string(),
            command_group("net-client", &command, "Never", &[]),
        )
    };
    let api_port = p.api.rsplit(':').next().unwrap().to_string();
    let runs = [
        run(
            "resolve",
            vec!["net-client".into(), "resolve".into(), fqdn.clone()],
        ),
        run(
            "call",
            vec![
                "net-client".into(),
                "http".into(),
                format!("http://{fqdn}/by-name"),
            ],
        ),
        run(
            "unknown",
            vec![
                "net-client".into(),
                "resolve".into(),
                format!("nobody.{}", fqdn.split_once('.').unwrap().1),
            ],
        ),
        run(
            "api",
            vec![
                "net-client".into(),
                "http".into(),
                format!("http://localhost:{api_port}/"),
            ],
        ),
    ];
    for (name, body) in &runs {
        p.create("net", name, body.clone()).await;
    }
    p.wait_for_log("net", "resolve", "main", &format!("resolved {fqdn}: {ip}"))
        .await;
    p.wait_for_log("net", "call", "main", "http 200:").await;
    p.wait_for_log("net", "target", "main", "GET /by-name")
        .await;
    p.wait_for_log("net", "unknown", "main", "error: resolve")
        .await;
    // `localhost` of a group without an IP is the host's loopback, where the API listens.
    let logs = p.wait_for_log("net", "api", "main", "error:").await;
    assert!(
        logs.contains("DestinationIpProhibited"),
        "the API is closed by any name: {logs}"
    );
}

#[tokio::test]
async fn an_outbound_rule_that_does_not_parse_stops_serve_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(waci_bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--front-door-listen",
            "127.0.0.1:0",
        ])
        .args([
            "--dns-listen",
            "127.0.0.1:0",
            "--allow-outbound",
            "db.example:5432",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("waci serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "serve stopped: {stderr}");
    assert!(
        stderr.contains("--allow-outbound") && stderr.contains("<CIDR>[:<port>]"),
        "the message names the flag and the form: {stderr}"
    );
    assert!(
        !dir.path().join("endpoints.json").exists(),
        "nothing started"
    );
}
