//! Access (DESIGN.md §10): scoped tokens made with `waci token create` see only their
//! subscription; other subscriptions answer 404 as if absent; revoked and expired tokens
//! stop working; the token file and database are private to their owner.

use std::os::unix::fs::PermissionsExt;
use waci_tests::*;

#[tokio::test]
async fn a_scoped_token_sees_only_its_subscription() {
    let p = TestPlatform::start().await;
    // Two tenants' groups, made with the admin token.
    let team_a = TestPlatform::group_path_in("team-a", "rg", "web");
    let team_b = TestPlatform::group_path_in("team-b", "rg", "web");
    for path in [&team_a, &team_b] {
        p.create_at(path, group_body("waci/hello-cli", &[], "Never", &[]))
            .await;
    }
    let made = p
        .waci("token create --subscription team-a --expires 7d")
        .await
        .ok()
        .json();
    let token = made["token"]
        .as_str()
        .expect("the new token is shown once")
        .to_string();
    let id = made["id"].as_str().unwrap().to_string();
    assert_eq!(made["subscription"], "team-a");
    assert!(made["expires"].as_str().is_some());

    let url = |path: &str| format!("{}{path}?api-version={API_VERSION}", p.api);
    assert_eq!(
        p.raw("GET", &url(&team_a), Some(&token), None).await.status,
        200,
        "its own subscription"
    );
    let other = p.raw("GET", &url(&team_b), Some(&token), None).await;
    assert_eq!(
        other.status, 404,
        "another subscription is absent: {}",
        other.text
    );
    let put_other = p
        .raw(
            "PUT",
            &url(&TestPlatform::group_path_in("team-b", "rg", "new")),
            Some(&token),
            Some(group_body("waci/hello-cli", &[], "Never", &[]).to_string()),
        )
        .await;
    assert_eq!(put_other.status, 404, "and cannot be written");
    let list = p
        .raw(
            "GET",
            &url("/subscriptions/team-a/providers/Microsoft.ContainerInstance/containerGroups"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        list.body["value"].as_array().map(Vec::len),
        Some(1),
        "lists show only its own groups"
    );
    assert_eq!(
        p.raw("GET", &format!("{}/tokens", p.api), Some(&token), None)
            .await
            .status,
        404,
        "the token API is the admin's"
    );
    // The CLI with a scoped token, as a team member would use it.
    let shown = run_cli({
        let mut c = waci_command("container show -g rg -n web");
        c.env("WACI_ENDPOINT", &p.api)
            .env("WACI_TOKEN", &token)
            .env("WACI_SUBSCRIPTION", "team-a");
        c
    })
    .await
    .ok()
    .json();
    assert_eq!(shown["name"], "web");

    let listed = p.waci("token list").await.ok().json();
    let text = listed.to_string();
    assert!(
        text.contains(&id) && !text.contains(&token),
        "list shows ids, never secrets: {text}"
    );
    p.waci(&format!("token revoke {id}")).await.ok();
    assert_eq!(
        p.raw("GET", &url(&team_a), Some(&token), None).await.status,
        401,
        "a revoked token stops working"
    );
    p.waci(&format!("token revoke {id}")).await.failed();

    let mut stored = std::fs::read(p.data_dir.path().join("waci.db")).expect("the database");
    stored.extend(std::fs::read(p.data_dir.path().join("waci.db-wal")).unwrap_or_default());
    assert!(
        !stored.windows(token.len()).any(|w| w == token.as_bytes()),
        "the token itself is never stored"
    );
    for file in ["token", "waci.db"] {
        let mode = std::fs::metadata(p.data_dir.path().join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file} is private");
    }
}
