//! The client's own rules: endpoints, tokens, ARM URLs, next links.

use super::*;

fn check(status: u16, body: &str, expected: &str) {
    let e = api_error(StatusCode::from_u16(status).unwrap(), body);
    assert_eq!(e.to_string(), expected, "{status} {body}");
}

#[test]
fn api_errors_keep_the_code_and_message_of_the_api() {
    check(
        404,
        r#"{"error":{"code":"ResourceNotFound","message":"The Resource 'x' was not found."}}"#,
        "(ResourceNotFound) The Resource 'x' was not found.",
    );
    check(502, "", "(BadGateway) the API answered 502 Bad Gateway");
    check(
        500,
        "boom",
        "(InternalServerError) the API answered 500 Internal Server Error: boom",
    );
}

#[test]
fn urls_carry_the_subscription_and_api_version() {
    let c = Client::new(&Connection {
        endpoint: Some("http://127.0.0.1:9/".into()),
        token: Some("t".into()),
        data_dir: None,
        subscription: "sub".into(),
    })
    .unwrap();
    assert_eq!(
        c.group_url(
            "rg",
            "web",
            &["containers", "web", "logs"],
            &[("tail", "3".into())]
        )
        .as_str(),
        "http://127.0.0.1:9/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ContainerInstance/containerGroups/web/containers/web/logs?api-version=2025-09-01&tail=3"
    );
    assert_eq!(
        c.resource_group_url(None).as_str(),
        "http://127.0.0.1:9/subscriptions/sub/resourceGroups?api-version=2025-09-01"
    );
}

#[test]
fn a_next_link_is_followed_on_the_clients_own_base_url() {
    let client = |endpoint: &str| {
        Client::new(&Connection {
            endpoint: Some(endpoint.into()),
            token: Some("t".into()),
            data_dir: None,
            subscription: "sub".into(),
        })
        .unwrap()
    };
    let link = "http://0.0.0.0:8080/subscriptions/sub/resourceGroups?api-version=2025-09-01&$skipToken=a-b_c";
    assert_eq!(
        client("http://127.0.0.1:9/")
            .on_base(link)
            .unwrap()
            .as_str(),
        "http://127.0.0.1:9/subscriptions/sub/resourceGroups?api-version=2025-09-01&$skipToken=a-b_c"
    );
    assert_eq!(
        client("https://example.test/waci/")
            .on_base(link)
            .unwrap()
            .as_str(),
        "https://example.test/waci/subscriptions/sub/resourceGroups?api-version=2025-09-01&$skipToken=a-b_c"
    );
    assert!(client("http://127.0.0.1:9").on_base("/relative").is_err());
}
