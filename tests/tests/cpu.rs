//! CPU as ACI means it: spinning and hogging guests never stall the platform or their
//! neighbours, `limits.cpu` caps a container (throttled, never killed, and shown), and under
//! contention the cores are shared in proportion to `requests.cpu`, whether a container's
//! CPU comes from one command or from many requests in flight.
//!
//! Nothing here is a wall-clock limit: the tests check what happened (answers, events, the
//! CPU each container got relative to the others or to its cap). Figures are the benchmark's
//! (`benches/run neighbours`).

use serde_json::{Value, json};
use std::time::{Duration, Instant};
use waci_tests::arm::group_body;
use waci_tests::json::{events_text, ip_of, state};
use waci_tests::local::guest;
use waci_tests::platform::TestPlatform;
use waci_tests::wait::eventually;

const RG: &str = "cpu";

fn spin() -> String {
    guest("spin").to_str().expect("utf-8 path").to_string()
}

/// A one-container group running `waci/spin`, with the given CPU request and limit.
fn spinner(request: f64, limit: Option<f64>) -> Value {
    let mut body = group_body(&spin(), &[], "Always", &["spin"]);
    let resources = &mut body["properties"]["containers"][0]["properties"]["resources"];
    resources["requests"]["cpu"] = json!(request);
    if let Some(limit) = limit {
        resources["limits"] = json!({ "cpu": limit });
    }
    body
}

/// The `/metrics` samples of container `main` of group `group` named `metric`.
async fn metric(p: &TestPlatform, group: &str, metric: &str) -> f64 {
    let text = p
        .raw("GET", &format!("{}/metrics", p.api), Some(&p.token), None)
        .await
        .text;
    let series = format!("{metric}{{subscription=");
    text.lines()
        .filter(|l| l.starts_with(&series))
        .filter(|l| l.contains(&format!("group=\"{group}\",container=\"main\"")))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {metric} for group {group} in:\n{text}"))
}

async fn cpu_seconds(p: &TestPlatform, group: &str) -> f64 {
    metric(p, group, "waci_container_cpu_seconds_total").await
}

/// Creates `name` and waits until it runs and its guest has used some CPU: it really spins.
async fn start_spinning(p: &TestPlatform, name: &str, body: Value) {
    p.create(RG, name, body).await;
    p.wait_for_state(RG, name, "Running").await;
    eventually(
        &format!("{name} to use CPU"),
        Duration::from_secs(60),
        || async {
            let used = cpu_seconds(p, name).await;
            if used > 0.05 {
                Ok(used)
            } else {
                Err(format!("{used} s"))
            }
        },
    )
    .await;
}

/// The CPU seconds each of `groups` gets over the next `window`.
async fn cpu_over(p: &TestPlatform, groups: &[&str], window: Duration) -> (Vec<f64>, Duration) {
    let mut before = Vec::new();
    for g in groups {
        before.push(cpu_seconds(p, g).await);
    }
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let mut got = Vec::new();
    for (g, b) in groups.iter().zip(before) {
        got.push(cpu_seconds(p, g).await - b);
    }
    (got, started.elapsed())
}

#[tokio::test]
async fn the_platform_answers_while_guests_spin_and_hog_memory() {
    let p = TestPlatform::start().await;
    start_spinning(&p, "spin-a", spinner(1.0, None)).await;
    start_spinning(&p, "spin-b", spinner(1.0, None)).await;
    // The hog grows to its 1 GB cap, is OOMKilled and starts again, over and over.
    let mut hog = group_body(
        guest("memory-hog").to_str().unwrap(),
        &[],
        "Always",
        &["memory-hog"],
    );
    hog["properties"]["containers"][0]["properties"]["resources"]["requests"]["memoryInGB"] =
        json!(1.0);
    p.create(RG, "hog", hog).await;
    let mut web = waci_tests::arm::hello_http();
    web["properties"]["ipAddress"]["dnsNameLabel"] = json!("cpu-web");
    p.create(RG, "web", web).await;
    let group = p.wait_for_state(RG, "web", "Running").await;
    let ip = ip_of(&group);

    // The data plane, the control API, DNS and logs all answer, every time.
    for i in 0..100 {
        let (status, body) = waci_tests::local::http_get(&format!("http://{ip}/n{i}"))
            .await
            .unwrap_or_else(|e| panic!("request {i} to the web group failed: {e}"));
        assert_eq!(status, 200, "{body}");
    }
    for _ in 0..20 {
        let r = p.get_group(RG, "web").await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let listed = p
        .call(
            "GET",
            &format!(
                "/subscriptions/{}/resourceGroups/{RG}/providers/Microsoft.ContainerInstance/containerGroups",
                waci_tests::platform::SUB
            ),
            None,
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.body["value"].as_array().map(Vec::len), Some(4));
    let answer = waci_tests::dns::udp(
        p.dns,
        "cpu-web.local.waci.localhost.",
        hickory_proto::rr::RecordType::A,
    )
    .await;
    assert_eq!(answer.rcode, hickory_proto::op::ResponseCode::NoError);
    let logs = p.logs(RG, "web", "main").await;
    assert!(logs.contains("/n99"), "{logs}");

    // The neighbours went on the whole time: spinning, not killed or throttled.
    for g in ["spin-a", "spin-b"] {
        let r = p.get_group(RG, g).await;
        assert_eq!(state(&r.body), "Running", "{}", r.text);
        assert!(!events_text(&r.body).contains("Throttled"), "{}", r.text);
    }
    let hogged = p
        .wait_for(
            RG,
            "hog",
            "OOMKilled at least once",
            Duration::from_secs(60),
            |g| events_text(g).contains("OOMKilled"),
        )
        .await;
    assert!(events_text(&hogged).contains("OOMKilled"));
}

#[tokio::test]
async fn a_cpu_limit_throttles_a_container_and_shows_it() {
    let p = TestPlatform::start().await;
    // A twentieth of a core: 5 ms per 100 ms period, less than one slice, so the guest is
    // throttled in every period it runs, however busy the machine.
    start_spinning(&p, "limited", spinner(0.05, Some(0.05))).await;
    start_spinning(&p, "free", spinner(1.0, None)).await;

    let (got, window) = cpu_over(&p, &["limited", "free"], Duration::from_secs(3)).await;
    // The cap is an upper bound: a busy machine can only give the guest less. A twentieth of
    // a core, plus one period's quota and a slice of slack for where the window cuts.
    let cap = 0.05 * window.as_secs_f64() + 0.005 + 0.05;
    assert!(
        got[0] <= cap,
        "the limited spinner used {:.3} s of CPU in {window:?} (cap {cap:.3} s); the free one {:.3} s",
        got[0],
        got[1]
    );

    let throttled = metric(&p, "limited", "waci_container_cpu_throttled_seconds_total").await;
    assert!(throttled > 0.0, "throttled seconds: {throttled}");
    let throttles = metric(&p, "limited", "waci_container_cpu_throttles_total").await;
    assert!(throttles >= 1.0, "throttles: {throttles}");
    let free = metric(&p, "free", "waci_container_cpu_throttled_seconds_total").await;
    assert_eq!(free, 0.0, "a container without a limit is never throttled");

    // Throttled, never killed, and said once.
    let g = p
        .wait_for(RG, "limited", "throttled", Duration::from_secs(30), |g| {
            events_text(g).contains("Throttled")
        })
        .await;
    assert_eq!(state(&g), "Running");
    let events = events_text(&g);
    assert!(
        events.contains("reached its CPU limit of 0.05 cores"),
        "{events}"
    );
    let throttled_events = g["properties"]["containers"][0]["properties"]["instanceView"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "Throttled")
        .map(|e| e["count"].as_u64().unwrap_or(1))
        .sum::<u64>();
    assert_eq!(throttled_events, 1, "{events}");
    assert_eq!(
        metric(&p, "free", "waci_container_cpu_throttles_total").await,
        0.0
    );

    // A limit below the request is refused, and changes nothing.
    let r = p.put_group(RG, "bad", spinner(1.0, Some(0.5))).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        r.body["error"]["code"], "InvalidRequestContent",
        "{}",
        r.text
    );
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("limits.cpu"), "{message}");
    assert_eq!(p.get_group(RG, "bad").await.status, 404);
}

#[tokio::test]
async fn cores_are_shared_in_proportion_to_cpu_requests() {
    // One guest thread: one core for all guests, so every spinner contends for it.
    let p = TestPlatform::start_with(&["--guest-threads", "1"]).await;
    start_spinning(&p, "one-a", spinner(1.0, None)).await;
    start_spinning(&p, "one-b", spinner(1.0, None)).await;
    start_spinning(&p, "half", spinner(0.5, None)).await;

    let (got, _) = cpu_over(&p, &["one-a", "one-b", "half"], Duration::from_secs(5)).await;
    let [a, b, half] = got[..] else {
        unreachable!()
    };
    assert!(a > 0.0 && b > 0.0 && half > 0.0, "{got:?}");
    // Equal requests, equal CPU within 10%.
    assert!(
        (a - b).abs() <= 0.1 * a.max(b),
        "equal requests got {a:.3} s and {b:.3} s"
    );
    // Half the request, half the CPU (within 20%).
    let ratio = half / ((a + b) / 2.0);
    assert!(
        (0.4..=0.6).contains(&ratio),
        "a request of 0.5 got {half:.3} s beside {a:.3} s and {b:.3} s for 1.0 (ratio {ratio:.2})"
    );
}

#[tokio::test]
async fn a_service_with_many_requests_in_flight_does_not_starve_a_command() {
    let p = TestPlatform::start_with(&["--guest-threads", "1", "--request-timeout", "8"]).await;
    start_spinning(&p, "command", spinner(1.0, None)).await;
    let spin_http = guest("spin-http").to_str().unwrap().to_string();
    p.create(RG, "service", group_body(&spin_http, &[80], "Always", &[]))
        .await;
    let group = p.wait_for_state(RG, "service", "Running").await;
    let ip = ip_of(&group);

    // Sixteen requests that each spin until their time limit, all in flight at once.
    let mut inflight = Vec::new();
    for i in 0..16 {
        let url = format!("http://{ip}/spin-{i}");
        inflight.push(tokio::spawn(async move {
            waci_tests::local::http_get(&url).await
        }));
    }
    p.wait_for_log(RG, "service", "main", "spinning on /spin-15")
        .await;
    let (got, _) = cpu_over(&p, &["command", "service"], Duration::from_secs(3)).await;
    let [command, service] = got[..] else {
        unreachable!()
    };
    // Shares are per container, not per instance: one command beside sixteen requests
    // still gets about half the core.
    let share = command / (command + service);
    assert!(
        (0.35..=0.65).contains(&share),
        "the command got {command:.3} s of CPU, the service's 16 requests {service:.3} s (share {share:.2})"
    );
    // And the other way round: the service's requests ran too, and end at their limit.
    assert!(service > 0.0);
    for r in inflight {
        let (status, _) = r.await.unwrap().expect("an answer");
        assert_eq!(status, 504);
    }
}
