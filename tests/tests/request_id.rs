//! ARM's request id: every answer of the control API carries a fresh `x-ms-request-id`
//! (and echoes the caller's `x-ms-correlation-request-id`), and the platform's log names the
//! same id beside the call, so a user's failing call can be found there.

use std::time::Duration;
use waci_tests::*;

fn request_id(r: &Reply) -> String {
    r.headers
        .get("x-ms-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| {
            panic!(
                "no x-ms-request-id on a {} answer: {:?}",
                r.status, r.headers
            )
        })
        .to_string()
}

#[tokio::test]
async fn every_answer_names_its_request_and_the_log_finds_a_failed_one() {
    let p = TestPlatform::start_logged().await;

    // Success, refusal and absence all carry an id, and no two calls share one.
    let created = p.create("rid", "web", hello_http()).await;
    let missing = p.get_group("rid", "nothing-here").await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    let bad = p
        .put_group(
            "rid",
            "bad",
            serde_json::json!({"properties": {"containers": []}}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let ids = [request_id(&created), request_id(&missing), request_id(&bad)];
    assert!(ids.iter().all(|id| uuid_like(id)), "{ids:?}");
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );

    // The caller's correlation id comes back as sent.
    let url = format!(
        "{}{}?api-version={API_VERSION}",
        p.api,
        TestPlatform::group_path("rid", "web")
    );
    let r = p
        .http
        .get(&url)
        .bearer_auth(&p.token)
        .header("x-ms-correlation-request-id", "corr-1234")
        .send()
        .await
        .expect("GET the group");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()
            .get("x-ms-correlation-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("corr-1234")
    );

    // The refused PUT's id is in the platform's log, on the line that says what was refused.
    let log = p.log_file();
    let line = eventually(
        "the refused call's line in the platform's log",
        Duration::from_secs(10),
        || async {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .find(|l| l.contains(&ids[2]))
                .map(str::to_string)
        },
    )
    .await;
    assert!(
        line.contains("status=400") && line.contains("PUT"),
        "{line}"
    );
    assert!(line.contains("/containerGroups/bad"), "{line}");
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}
