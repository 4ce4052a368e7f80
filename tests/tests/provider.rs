//! The resource provider's endpoints besides the groups, as ARM clients read them: the
//! operations it offers, a subscription's usages against its quotas, the location's
//! capabilities from `--max-cpu`/`--max-memory-gb`, and the images whose compiled code is
//! cached; and waci's one write among them, an image compiled ahead of its groups.

use serde_json::{Value, json};
use std::time::Duration;
use waci_tests::registry::TestRegistry;
use waci_tests::*;

fn location_path(sub: &str, what: &str) -> String {
    format!("/subscriptions/{sub}/providers/Microsoft.ContainerInstance/locations/local/{what}")
}

/// `(currentValue, limit)` of the usage named `name`.
fn usage(list: &Value, name: &str) -> (u64, u64) {
    let u = list["value"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["name"]["value"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"));
    assert_eq!(u["unit"], "Count", "{u}");
    (
        u["currentValue"].as_u64().expect("currentValue"),
        u["limit"].as_u64().expect("limit"),
    )
}

fn images(list: &Value) -> Vec<String> {
    list["value"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            assert_eq!(i["osType"], "Linux", "{i}");
            i["image"].as_str().expect("image").to_string()
        })
        .collect()
}

async fn get(p: &TestPlatform, path: &str) -> Value {
    let r = p.call("GET", path, None).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text);
    r.body
}

/// The `Retry-After` an answer tells an ARM poller, in seconds.
fn retry_after(reply: &Reply) -> Option<&str> {
    reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
}

/// A token scoped to `sub`.
async fn token_for(p: &TestPlatform, sub: &str) -> String {
    let made = p
        .waci(&format!("token create --subscription {sub}"))
        .await
        .ok()
        .json();
    made["token"].as_str().expect("a token").to_string()
}

/// The images `sub`'s list of cached images shows, read with a token scoped to `sub` (on
/// the path in lower case: ARM's paths are case-insensitive).
async fn cached_images_seen_by(p: &TestPlatform, sub: &str) -> Vec<String> {
    let token = token_for(p, sub).await;
    let url = format!(
        "{}{}?api-version={API_VERSION}",
        p.api,
        location_path(sub, "cachedimages")
    );
    let theirs = p.raw("GET", &url, Some(&token), None).await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    images(&theirs.body)
}

#[tokio::test]
async fn usages_follow_creates_and_deletes_and_capabilities_the_limits() {
    let p = TestPlatform::start_with(&[
        "--max-groups-per-subscription",
        "5",
        "--max-cpu",
        "2",
        "--max-memory-gb",
        "3",
    ])
    .await;
    let usages = location_path(SUB, "usages");
    let before = get(&p, &usages).await;
    assert_eq!(usage(&before, "ContainerGroups"), (0, 5));
    assert_eq!(
        usage(&before, "StandardCores"),
        (0, 10),
        "5 groups of 2 cores"
    );

    // hello_http asks for 1 core; a second group of 0.5 rounds the sum up.
    p.create("usage", "one", hello_http()).await;
    let mut half = group_body("waci/hello-cli", &[], "Never", &[]);
    half["properties"]["containers"][0]["properties"]["resources"]["requests"]["cpu"] = 0.5.into();
    p.create("usage", "two", half).await;
    let during = get(&p, &usages).await;
    assert_eq!(usage(&during, "ContainerGroups"), (2, 5));
    assert_eq!(
        usage(&during, "StandardCores"),
        (2, 10),
        "1.5 cores, rounded up"
    );
    // Another subscription's usage is its own.
    let other = get(&p, &location_path("other-sub", "usages")).await;
    assert_eq!(usage(&other, "ContainerGroups"), (0, 5));

    let path = TestPlatform::group_path("usage", "one");
    assert_eq!(p.call("DELETE", &path, None).await.status, 200);
    let after = get(&p, &usages).await;
    assert_eq!(usage(&after, "ContainerGroups"), (1, 5));
    assert_eq!(usage(&after, "StandardCores"), (1, 10));

    // Capabilities: the largest group this platform runs, in ACI's shape.
    let caps = get(&p, &location_path(SUB, "Capabilities")).await;
    let c = &caps["value"][0];
    assert_eq!(c["resourceType"], "containerGroups", "{caps}");
    assert_eq!(c["osType"], "Linux");
    assert_eq!(c["location"], "local");
    assert_eq!(c["capabilities"]["maxCpu"], 2.0);
    assert_eq!(c["capabilities"]["maxMemoryInGB"], 3.0);

    // A location the platform is not in is not found, by name.
    let r = p
        .call("GET", &usages.replace("/local/", "/westeurope/"), None)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(
        r.body["error"]["code"],
        "LocationNotAvailableForResourceType"
    );
    assert!(r.text.contains("westeurope"), "{}", r.text);
}

#[tokio::test]
async fn cached_images_list_an_image_once_compiled_to_its_own_subscription() {
    let reg = TestRegistry::start().await;
    let p = TestPlatform::start().await;
    let cached = location_path(SUB, "cachedImages");
    assert!(
        images(&get(&p, &cached).await).is_empty(),
        "nothing compiled yet"
    );

    p.create("cache", "web", hello_http()).await;
    p.wait_for_state("cache", "web", "Running").await;
    assert_eq!(images(&get(&p, &cached).await), vec!["waci/hello-http"]);

    // A registry image: its first put says a pull is ahead, a later one that it is ready.
    let tag = format!("{}/demo/cli:v1", reg.host);
    let line = format!("image push {} {tag}", guest("hello-cli").display());
    run_cli(waci_command(&line)).await.ok();
    let body = group_body(&tag, &[], "Never", &[]);
    let first = p.create("cache", "pulled", body.clone()).await;
    assert_eq!(retry_after(&first), Some("3"), "{:?}", first.headers);
    p.wait_for_state("cache", "pulled", "Succeeded").await;
    let listed = images(&get(&p, &cached).await);
    assert!(listed.contains(&tag), "{listed:?}");
    let second = p.create("cache", "again", body).await;
    assert_eq!(retry_after(&second), Some("1"), "{:?}", second.headers);

    // Another subscription sees the built-in images only: a registry name may be private.
    assert_eq!(
        cached_images_seen_by(&p, "team-b").await,
        vec!["waci/hello-http"]
    );
}

/// Events of `group`'s container `main` named `name`, as text.
fn named_events(group: &Value, name: &str) -> Vec<String> {
    events(group)
        .iter()
        .filter(|e| e["name"] == name)
        .map(|e| e["message"].to_string())
        .collect()
}

#[tokio::test]
async fn an_image_pushed_to_a_platform_is_compiled_before_its_first_group() {
    const PASSWORD: &str = "pw-ahead-3b9e";
    let reg = TestRegistry::start_with_auth("alice", PASSWORD).await;
    let p = TestPlatform::start().await;
    let cached = location_path(SUB, "cachedImages");
    let image = format!("{}/team/web:v1", reg.host);

    // Bad input changes nothing: each is a 400 naming what is wrong.
    for (body, code, names) in [
        (json!({}), "InvalidRequestContent", "image"),
        (
            json!({"image": "waci/hello-http", "tags": {}}),
            "InvalidRequestContent",
            "tags",
        ),
        (
            json!({"image": "no such image !"}),
            "InvalidImage",
            "no such image",
        ),
        (
            json!({"image": format!("{}/team/missing:v1", reg.host), "imageRegistryCredentials": [{"server": reg.host, "username": "alice", "password": PASSWORD}]}),
            "InaccessibleImage",
            "team/missing:v1",
        ),
        (json!({"image": image}), "InaccessibleImage", "team/web:v1"),
    ] {
        let r = p.call("POST", &cached, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body} → {}", r.text);
        assert_eq!(r.body["error"]["code"], code, "{body} → {}", r.text);
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(names), "{body} → {message}");
    }
    assert!(images(&get(&p, &cached).await).is_empty());

    // `waci image push` to a platform: it pushes, then the platform pulls with the push's
    // credentials and compiles.
    let line = format!(
        "image push {} {image} --registry-username alice --registry-password {PASSWORD}",
        guest("hello-http").display()
    );
    let pushed = p.waci(&line).await.ok().json();
    assert_eq!(pushed["compile"], "compiling on the platform", "{pushed}");
    eventually(
        "the pushed image in the list of cached images",
        Duration::from_secs(60),
        || async {
            let listed = images(&get(&p, &cached).await);
            listed
                .contains(&image)
                .then_some(())
                .ok_or(format!("{listed:?}"))
        },
    )
    .await;
    // Another subscription is not told of it.
    let theirs = cached_images_seen_by(&p, "team-b").await;
    assert!(!theirs.contains(&image), "{theirs:?}");

    // Its first group starts from the compiled code: "starts at once" to a poller, no
    // compile among its events.
    let mut body = group_body(&image, &[80], "Always", &[]);
    body["properties"]["imageRegistryCredentials"] =
        json!([{"server": reg.host, "username": "alice", "password": PASSWORD}]);
    let created = p.create("ahead", "web", body).await;
    assert_eq!(retry_after(&created), Some("1"), "{:?}", created.headers);
    let g = p.wait_for_state("ahead", "web", "Running").await;
    assert!(
        named_events(&g, "Compiled").is_empty(),
        "{}",
        events_text(&g)
    );
    let made = named_events(&g, "Created");
    assert!(
        made.iter()
            .any(|m| m.contains("compiled code already loaded")),
        "{}",
        events_text(&g)
    );
    let ip = g["properties"]["ipAddress"]["ip"].as_str().expect("an IP");
    let (status, page) = http_get(&format!("http://{ip}:80/"))
        .await
        .expect("it answers");
    assert_eq!(status, 200, "{page}");

    // Asked again, the platform says so at once.
    let again = p.call("POST", &cached, Some(json!({"image": image, "imageRegistryCredentials": [{"server": reg.host, "username": "alice", "password": PASSWORD}]}))).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["compiled"], true, "{}", again.text);
    assert!(
        again.body["digest"]
            .as_str()
            .unwrap_or_default()
            .starts_with("sha256:"),
        "{}",
        again.text
    );
    // Without a platform, the push is the push.
    let alone = run_cli(waci_command(&format!(
        "image push {} {}/team/other:v1 --registry-username alice --registry-password {PASSWORD}",
        guest("hello-http").display(),
        reg.host
    )))
    .await
    .ok()
    .json();
    assert!(
        alone["compile"]
            .as_str()
            .unwrap_or_default()
            .starts_with("not compiled ahead"),
        "{alone}"
    );
}

#[tokio::test]
async fn the_operation_list_is_open_to_every_token_and_the_rest_to_its_subscription() {
    let p = TestPlatform::start().await;
    let ops = get(&p, "/providers/Microsoft.ContainerInstance/operations").await;
    let names: Vec<&str> = ops["value"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| {
            assert_eq!(o["origin"], "User", "{o}");
            assert!(o["display"]["description"].is_string(), "{o}");
            o["name"].as_str().expect("name")
        })
        .collect();
    for expected in [
        "Microsoft.ContainerInstance/containerGroups/read",
        "Microsoft.ContainerInstance/containerGroups/write",
        "Microsoft.ContainerInstance/locations/usages/read",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }

    let token = token_for(&p, "team-a").await;
    let url = |path: &str| format!("{}{path}?api-version={API_VERSION}", p.api);
    let scoped = p
        .raw(
            "GET",
            &url("/PROVIDERS/microsoft.containerinstance/Operations"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(scoped.status, 200, "{}", scoped.text);
    assert_eq!(scoped.body, ops);
    let own = p
        .raw(
            "GET",
            &url(&location_path("team-a", "usages")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
    let theirs = p
        .raw(
            "GET",
            &url(&location_path(SUB, "usages")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(theirs.status, 404, "{}", theirs.text);
    // Still outside: the token API.
    let tokens = p
        .raw("GET", &format!("{}/tokens", p.api), Some(&token), None)
        .await;
    assert_eq!(tokens.status, 404, "{}", tokens.text);
    // Without api-version, as every ARM path.
    let bare = p
        .raw(
            "GET",
            &format!("{}/providers/Microsoft.ContainerInstance/operations", p.api),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(bare.status, 400, "{}", bare.text);
}
