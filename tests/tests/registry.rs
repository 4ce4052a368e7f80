//! Images from OCI registries (DESIGN.md §4), against Debian's `docker-registry`: push with
//! `waci image push`, run by tag and by digest, private registries, every way a pull can
//! fail, and the blob and compiled-code caches (one pull for many groups, none after a
//! platform restart).
//!
//! Longer than 400 lines because each test is one whole pull story, told start to end.

use serde_json::{Value, json};
use std::time::Duration;
use waci_tests::registry::TestRegistry;
use waci_tests::*;

fn event_messages(g: &Value, name: &str) -> Vec<String> {
    events(g)
        .iter()
        .filter(|e| e["name"] == name)
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `waci image push <guest> <reference> [extra]`, returning what it printed.
async fn push(guest_name: &str, reference: &str, extra: &str) -> Value {
    let line = format!(
        "image push {} {reference} {extra}",
        guest(guest_name).display()
    );
    run_cli(waci_command(&line)).await.ok().json()
}

async fn serves(g: &Value) {
    let ip = g["properties"]["ipAddress"]["ip"].as_str().expect("an IP");
    let (status, page) = http_get(&format!("http://{ip}:80/"))
        .await
        .expect("the group answers");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("WebAssembly Container Instances"), "{page}");
}

#[tokio::test]
async fn a_pushed_component_runs_by_tag_and_by_digest_and_the_second_starts_without_a_pull() {
    let reg = TestRegistry::start().await;
    let p = TestPlatform::start().await;
    let tag = format!("{}/demo/hello:v1", reg.host);
    let pushed = push("hello-http", &tag, "").await;
    let manifest = pushed["digest"].as_str().expect("digest").to_string();
    assert!(manifest.starts_with("sha256:"), "{pushed}");
    assert_eq!(pushed["mediaType"], "application/wasm");

    // The layout is the CNCF Wasm one: application/wasm layer, wasm config.
    let m: Value = reqwest::Client::new()
        .get(format!("http://{}/v2/demo/hello/manifests/v1", reg.host))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .expect("manifest")
        .json()
        .await
        .expect("manifest JSON");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(m["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(m["layers"].as_array().map(Vec::len), Some(1));

    p.create("demo", "by-tag", group_body(&tag, &[80], "Always", &[]))
        .await;
    let g = p.wait_for_state("demo", "by-tag", "Running").await;
    serves(&g).await;
    let names = event_names(&g);
    for expected in ["Pulling", "Pulled", "Compiled", "Created", "Started"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    let pulled = event_messages(&g, "Pulled").join(" ");
    assert!(
        pulled.contains("bytes") && pulled.contains(" ms"),
        "{pulled}"
    );
    let pinned = format!("{}/demo/hello@{manifest}", reg.host);
    assert_eq!(
        main_view(&g)["image"],
        pinned.as_str(),
        "the tag is pinned at create"
    );

    // The same bits by digest: on disk already, compiled already: no Pulling, no Compiled.
    let by_digest = format!("{}/demo/hello@{manifest}", reg.host);
    p.create(
        "demo",
        "by-digest",
        group_body(&by_digest, &[80], "Always", &[]),
    )
    .await;
    let g2 = p.wait_for_state("demo", "by-digest", "Running").await;
    serves(&g2).await;
    let names = event_names(&g2);
    assert!(
        !names.iter().any(|n| n == "Pulling" || n == "Compiled"),
        "{names:?}"
    );
    assert!(
        event_messages(&g2, "Pulled")
            .iter()
            .any(|m| m.contains("already present on machine")),
        "{:?}",
        event_messages(&g2, "Pulled")
    );
    // The registry served the layer once.
    let layer = pushed["layerDigest"].as_str().expect("layer digest");
    assert_eq!(reg.blob_gets(layer), 1, "{}", reg.log());

    // A tag moved after create does not move a running group; a restart (as ACI's) pulls
    // the tag anew and pins what it names now.
    let moved = push("hello-cli", &tag, "").await;
    let moved = moved["digest"].as_str().expect("digest").to_string();
    let repinned = format!("{}/demo/hello@{moved}", reg.host);
    let g = p.get_group("demo", "by-tag").await.body;
    assert_eq!(
        main_view(&g)["image"],
        pinned.as_str(),
        "a moved tag moves nothing"
    );
    serves(&g).await;
    let r = p
        .call(
            "POST",
            &format!("{}/restart", TestPlatform::group_path("demo", "by-tag")),
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let g = p
        .wait_for(
            "demo",
            "by-tag",
            "the moved tag running",
            Duration::from_secs(60),
            |g| main_view(g)["image"] == repinned.as_str() && restart_count(g) >= 1,
        )
        .await;
    assert!(
        event_messages(&g, "Pulling")
            .iter()
            .any(|m| m.contains(&repinned)),
        "the restart pulled what the tag names now: {:?}",
        event_messages(&g, "Pulling")
    );
    // Restarts by the policy (hello-cli exits; the policy is Always) keep the pinned bits
    // even when the tag moves again.
    let back = push("hello-http", &tag, "").await;
    let back = format!(
        "{}/demo/hello@{}",
        reg.host,
        back["digest"].as_str().expect("digest")
    );
    let count = restart_count(&g);
    let g = p
        .wait_for(
            "demo",
            "by-tag",
            "restarts by the policy",
            Duration::from_secs(60),
            |g| restart_count(g) >= count + 2,
        )
        .await;
    assert_eq!(main_view(&g)["image"], repinned.as_str());

    // The CLI takes a registry image as any other.
    let out = p
        .waci(&format!(
            "container create -g demo -n cli-made --image {tag} --ports 80 --ip-address Public --restart-policy Never -o json"
        ))
        .await
        .ok()
        .json();
    // The tag names hello-http again.
    assert_eq!(provisioning_state(&out), "Succeeded", "{out}");
    assert_eq!(main_view(&out)["image"], back.as_str(), "{out}");
}

#[tokio::test]
async fn a_private_registry_needs_credentials_and_the_password_never_comes_back() {
    const PASSWORD: &str = "pw-8c1f-never-shown";
    let reg = TestRegistry::start_with_auth("alice", PASSWORD).await;
    let p = TestPlatform::start().await;
    let image = format!("{}/team/app:v1", reg.host);

    // Pushing needs the credentials too.
    let refused = run_cli(waci_command(&format!(
        "image push {} {image}",
        guest("hello-http").display()
    )))
    .await
    .failed();
    assert!(refused.stderr.contains("401"), "{}", refused.stderr);
    push(
        "hello-http",
        &image,
        &format!("--registry-username alice --registry-password {PASSWORD}"),
    )
    .await;

    // Without credentials: Waiting, a Failed event naming the 401, retried with back-off,
    // and the API stays healthy.
    p.create("demo", "anon", group_body(&image, &[80], "Always", &[]))
        .await;
    let g = p
        .wait_for(
            "demo",
            "anon",
            "a back-off after the 401",
            Duration::from_secs(30),
            |g| event_names(g).iter().any(|n| n == "BackOff"),
        )
        .await;
    assert_eq!(current_state(&g)["state"], "Waiting", "{g}");
    let failed = event_messages(&g, "Failed").join(" ");
    assert!(
        failed.contains("401") && failed.contains("needs credentials"),
        "{failed}"
    );
    let list = p
        .call(
            "GET",
            &format!("/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/containerGroups"),
            None,
        )
        .await;
    assert_eq!(list.status, 200);

    // Wrong password: the event says so.
    let mut body = group_body(&image, &[80], "Never", &[]);
    body["properties"]["imageRegistryCredentials"] =
        json!([{"server": reg.host, "username": "alice", "password": "wrong"}]);
    p.put_group("demo", "wrong", body).await;
    let g = p.wait_for_state("demo", "wrong", "Failed").await;
    let failed = event_messages(&g, "Failed").join(" ");
    assert!(
        failed.contains("401") && failed.contains("wrong"),
        "{failed}"
    );

    // With them (through the CLI, as az takes them): it runs.
    let out = p
        .waci(&format!(
            "container create -g demo -n private --image {image} --ports 80 --ip-address Public \
             --registry-username alice --registry-password {PASSWORD} -o json"
        ))
        .await
        .ok();
    assert!(
        !out.stdout.contains(PASSWORD),
        "the CLI printed the password"
    );
    let g = p.wait_for_state("demo", "private", "Running").await;
    serves(&g).await;
    assert_eq!(
        g["properties"]["imageRegistryCredentials"][0]["username"],
        "alice"
    );
    assert_eq!(
        g["properties"]["imageRegistryCredentials"][0]["server"],
        reg.host.as_str()
    );

    // The password is in no answer, event, log or CLI output.
    let mut seen = vec![out.stdout, out.stderr];
    for path in [
        TestPlatform::group_path("demo", "private"),
        TestPlatform::group_path("demo", "anon"),
        format!("/subscriptions/{SUB}/providers/Microsoft.ContainerInstance/containerGroups"),
        format!(
            "{}/containers/main/logs",
            TestPlatform::group_path("demo", "private")
        ),
    ] {
        seen.push(p.call("GET", &path, None).await.text);
    }
    seen.push(
        p.waci("container show -g demo -n private -o yaml")
            .await
            .ok()
            .stdout,
    );
    seen.push(p.waci("container export -g demo -n private").await.stdout);
    for text in seen {
        assert!(!text.contains(PASSWORD), "the password leaked:\n{text}");
    }
}

#[tokio::test]
async fn every_failed_pull_says_why_and_leaves_the_api_healthy() {
    let reg = TestRegistry::start().await;
    let p = TestPlatform::start().await;
    push("hello-http", &format!("{}/ok/hello:v1", reg.host), "").await;
    // A container image, not a component: a tar+gzip layer.
    reg.push_raw(
        "docker/image",
        "v1",
        b"\x1f\x8b not a component",
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )
    .await;
    // An application/wasm layer that holds no WebAssembly.
    reg.push_raw(
        "fake/wasm",
        "v1",
        b"{\"just\": \"json\"}",
        "application/wasm",
    )
    .await;
    // A core module, not a component.
    reg.push_raw("core/module", "v1", b"\0asm\x01\0\0\0", "application/wasm")
        .await;
    // A component as `oras push` lays it out (empty config, artifactType) runs as it is.
    let wasm = std::fs::read(guest("hello-http")).expect("guest");
    reg.push_raw("oras/hello", "v1", &wasm, "application/wasm")
        .await;
    let oras = format!("{}/oras/hello:v1", reg.host);
    p.put_group("demo", "oras", group_body(&oras, &[80], "Never", &[]))
        .await;
    let g = p.wait_for_state("demo", "oras", "Running").await;
    serves(&g).await;
    let down = format!("127.0.0.1:{}", free_port());

    let cases = [
        (
            "unknown-tag",
            format!("{}/ok/hello:nope", reg.host),
            "not found",
        ),
        (
            "unknown-repo",
            format!("{}/nobody/here:v1", reg.host),
            "not found",
        ),
        (
            "container-image",
            format!("{}/docker/image:v1", reg.host),
            "no application/wasm layer",
        ),
        (
            "json-blob",
            format!("{}/fake/wasm:v1", reg.host),
            "not WebAssembly",
        ),
        (
            "core-module",
            format!("{}/core/module:v1", reg.host),
            "core WebAssembly module",
        ),
        ("down", format!("{down}/any/thing:v1"), "cannot be reached"),
    ];
    for (name, image, _) in &cases {
        p.create("demo", name, group_body(image, &[80], "Never", &[]))
            .await;
    }
    for (name, image, why) in &cases {
        let g = p.wait_for_state("demo", name, "Failed").await;
        assert_eq!(current_state(&g)["state"], "Waiting", "{name}: {g}");
        assert_eq!(detail_status(&g), "ErrImagePull", "{name}");
        let failed = event_messages(&g, "Failed").join(" ");
        assert!(
            failed.contains(why) && failed.contains(image.as_str()),
            "{name}: {failed}"
        );
        assert_eq!(provisioning_state(&g), "Failed", "{name}");
    }
    // A malformed reference is bad input: 400, nothing stored.
    let r = p
        .put_group(
            "demo",
            "bad-ref",
            group_body("Registry/UPPER:case:twice", &[80], "Never", &[]),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("image"),
        "{}",
        r.text
    );
    assert_eq!(p.get_group("demo", "bad-ref").await.status, 404);

    // Under Always the pull is retried, and starts once the image exists.
    let late = format!("{}/late/hello:v1", reg.host);
    p.put_group("demo", "late", group_body(&late, &[80], "Always", &[]))
        .await;
    p.wait_for("demo", "late", "a back-off", Duration::from_secs(30), |g| {
        detail_status(g) == "ImagePullBackOff"
    })
    .await;
    push("hello-http", &late, "").await;
    let g = p.wait_for_state("demo", "late", "Running").await;
    serves(&g).await;
    // The CLI reports a failing pull at once, with the reason, and exits non-zero.
    let out = p
        .waci(&format!(
            "container create -g demo -n cli-missing --image {}/ok/hello:nope",
            reg.host
        ))
        .await
        .failed();
    assert!(out.stderr.contains("not found"), "{}", out.stderr);
}

#[tokio::test]
async fn fifty_groups_from_one_uncached_image_pull_and_compile_once_and_a_restart_needs_no_registry()
 {
    let mut reg = TestRegistry::start().await;
    let mut p = TestPlatform::start().await;
    let image = format!("{}/many/hello:v1", reg.host);
    let pushed = push("hello-http", &image, "").await;
    let layer = pushed["layerDigest"].as_str().expect("layer").to_string();

    let names: Vec<String> = (0..50).map(|i| format!("g{i:02}")).collect();
    let puts = names.iter().map(|n| {
        let body = group_body(&image, &[80], "Always", &[]);
        let p = &p;
        async move { p.create("many", n, body).await }
    });
    futures::future::join_all(puts).await;
    let mut compiled = 0;
    let mut downloaded = 0;
    for n in &names {
        let g = p.wait_for_state("many", n, "Running").await;
        compiled += event_messages(&g, "Compiled").len();
        downloaded += event_messages(&g, "Pulled")
            .iter()
            .filter(|m| m.contains(", downloaded)"))
            .count();
    }
    assert_eq!(compiled, 1, "one compile for 50 groups");
    assert_eq!(downloaded, 1, "one download for 50 groups");
    assert_eq!(
        reg.blob_gets(&layer),
        1,
        "the registry served the layer once"
    );

    // With the registry gone, a platform restart still starts every group: the tag was
    // pinned at create, and the blob and compiled code are on disk.
    reg.stop();
    p.restart().await;
    for n in names.iter().take(5) {
        let g = p.wait_for_state("many", n, "Running").await;
        let ip = g["properties"]["ipAddress"]["ip"].as_str().expect("ip");
        let (status, _) = http_get(&format!("http://{ip}:80/"))
            .await
            .expect("answers");
        assert_eq!(status, 200);
        let last_created = event_messages(&g, "Created").pop().unwrap_or_default();
        assert!(!last_created.contains("compiled in"), "{last_created}");
    }
}
