//! The portal in a real browser (issue: the portal): the ACI quickstart done by clicking —
//! sign in with the link `waci serve` prints, create a hello-http group with a DNS name
//! label, watch it reach Running, open its FQDN, read its logs as they are written, delete
//! it — and a form whose mistakes are shown beside the fields they are about; and a group's
//! overview charting its requests live from the platform's metrics. Longer than 400 lines
//! because each test is one whole user story in the browser, told start to end.

use serde_json::json;
use waci_tests::browser::{Browser, DESKTOP, PHONE};
use waci_tests::*;

/// The subscription the portal works in (the CLI's default).
const PORTAL_SUB: &str = "00000000-0000-0000-0000-000000000000";

#[tokio::test]
async fn the_page_needs_no_token_but_the_api_behind_it_still_does() {
    let p = TestPlatform::start().await;
    let page = p.raw("GET", &format!("{}/", p.api), None, None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("<title>waci portal</title>"),
        "{}",
        page.text
    );
    assert_eq!(
        page.headers["referrer-policy"], "no-referrer",
        "the token never leaks in a Referer"
    );
    let script = p
        .raw("GET", &format!("{}/portal/app.js", p.api), None, None)
        .await;
    assert_eq!(script.status, 200);
    assert!(
        script.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // The page learns where the front door is and which quickstart images exist.
    let config = p
        .raw("GET", &format!("{}/portal/config", p.api), None, None)
        .await;
    let front_port: u64 = p.front_door.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(config.body["frontDoorPort"], front_port);
    assert_eq!(
        config.body["quickstartImages"][0]["image"],
        "waci/hello-http"
    );

    // Everything else still asks for the token.
    let list = p
        .raw(
            "GET",
            &format!(
                "{}/subscriptions/{PORTAL_SUB}/resourcegroups?api-version={API_VERSION}",
                p.api
            ),
            None,
            None,
        )
        .await;
    assert_eq!(list.status, 401, "{}", list.text);
    let missing = p
        .raw("GET", &format!("{}/portal/nope.js", p.api), None, None)
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn the_quickstart_in_a_browser_create_open_read_logs_delete() {
    let p = TestPlatform::start().await;
    let mut b = Browser::start("quickstart").await;

    // The link `waci serve` prints signs the tab in, and the token leaves the address bar.
    b.goto(&format!("{}/?token={}", p.api, p.token)).await;
    b.wait_for_text("h1", "the list of container groups", |t| {
        t == "Container groups"
    })
    .await;
    b.wait_for_text("#list-empty", "the empty list", |t| {
        t.contains("No container groups yet")
    })
    .await;
    let address = b.client.current_url().await.expect("url").to_string();
    assert!(
        !address.contains(&p.token),
        "the token stays in the address bar: {address}"
    );
    b.screenshot("signed-in").await;

    // Create: Basics, Networking, Review + create.
    b.click("#list-create").await;
    b.type_into("#f-resourceGroup", "quickstart").await;
    b.type_into("#f-name", "hello").await;
    assert_eq!(
        b.find("#f-quickstartImage")
            .await
            .prop("value")
            .await
            .ok()
            .flatten()
            .as_deref(),
        Some("waci/hello-http"),
        "the first quickstart image is offered"
    );
    b.screenshot("create-basics").await;
    b.click("#tab-networking").await;
    b.type_into("#f-dnsNameLabel", "hello-portal").await;
    b.type_into("#f-ports", "80").await;
    b.screenshot("create-networking").await;
    b.click("#create-submit").await;
    b.wait_for_text("#review", "the review", |t| t.contains("hello-portal"))
        .await;
    b.screenshot("create-review").await;
    b.click("#create-submit").await;

    // The group's page shows it start, without a reload, and its FQDN.
    b.wait_for_text("#g-state", "Running", |t| t == "Running")
        .await;
    let fqdn = b
        .wait_for_text("#g-fqdn", "the FQDN", |t| t.starts_with("hello-portal."))
        .await;
    assert!(fqdn.ends_with(".local.waci.localhost"), "{fqdn}");
    let api_view = p
        .call(
            "GET",
            &TestPlatform::group_path_in(PORTAL_SUB, "quickstart", "hello"),
            None,
        )
        .await;
    assert_eq!(
        api_view.body["properties"]["ipAddress"]["fqdn"],
        fqdn.as_str()
    );
    b.wait_for_text("#g-events", "the start events", |t| t.contains("Started"))
        .await;
    b.screenshot("running").await;

    // The FQDN opens the running app through the front door, in a new tab.
    let portal_tab = b.client.window().await.expect("window");
    b.click("#g-fqdn a").await;
    b.switch_to_new_tab(&portal_tab).await;
    b.wait_for_text("h1", "the hello page", |t| {
        t.contains("Welcome to WebAssembly Container Instances!")
    })
    .await;
    let app_url = b.client.current_url().await.expect("url").to_string();
    let front_port = p.front_door.rsplit(':').next().expect("front door port");
    assert_eq!(app_url, format!("http://{fqdn}:{front_port}/"));
    let agent = b
        .client
        .execute("return navigator.userAgent", vec![])
        .await
        .expect("user agent");
    let agent = agent.as_str().expect("a string").to_string();
    b.screenshot("hello-page").await;
    b.client.close_window().await.expect("close the app tab");
    b.client
        .switch_to_window(portal_tab)
        .await
        .expect("back to the portal");

    // Logs: the request just made, then a new one appearing while the log is open.
    b.click("#gtab-logs").await;
    b.wait_for_text("#log", "the browser's request", |t| {
        t.contains(&format!("GET / \"{agent}\""))
    })
    .await;
    b.wait_for_text("#log-status", "following", |t| t.contains("Following"))
        .await;
    b.screenshot("logs").await;
    let ip = api_view.body["properties"]["ipAddress"]["ip"]
        .as_str()
        .expect("an IP")
        .to_string();
    let (status, _) = http_get_as(&format!("http://{ip}:80/live"), "portal-test/live")
        .await
        .expect("the group answers");
    assert_eq!(status, 200);
    b.wait_for_text("#log", "the new request, followed live", |t| {
        t.contains("GET /live \"portal-test/live\"")
    })
    .await;
    b.click("#log-timestamps").await;
    b.wait_for_text("#log", "timestamped lines", |t| {
        t.lines()
            .any(|l| l.starts_with("20") && l.contains("GET /live"))
    })
    .await;
    b.screenshot("logs-timestamps").await;

    // Long names wrap instead of breaking the layout, at phone width too.
    let long_rg = format!("rg-{}", "x".repeat(86));
    let long_name = format!("long-{}", "n".repeat(58));
    let mut long = group_body("waci/hello-http", &[8080], "Always", &[]);
    long["properties"]["ipAddress"]["dnsNameLabel"] = json!(format!("l{}", "a".repeat(62)));
    p.create_at(
        &TestPlatform::group_path_in(PORTAL_SUB, &long_rg, &long_name),
        long,
    )
    .await;
    b.set_size(PHONE).await;
    b.click("#gtab-overview").await;
    b.assert_fits("the group's page").await;
    b.screenshot("phone-overview").await;
    b.click(".crumbs a").await;
    b.wait_for_text("#group-table", "both groups in the list", |t| {
        t.contains("hello") && t.contains(&long_name)
    })
    .await;
    b.assert_fits("the list").await;
    b.screenshot("phone-list").await;
    b.set_size(DESKTOP).await;
    b.screenshot("list").await;
    let list = b.text("#group-table").await;
    assert!(list.contains("Running") && list.contains(&fqdn), "{list}");

    // Delete, confirmed; the group leaves the list and the platform.
    b.click("#group-table a[href*='/hello/']").await;
    b.wait_for_text("#g-state", "Running", |t| t == "Running")
        .await;
    b.click("#g-delete").await;
    b.wait_for_text("#confirm-delete", "the confirmation", |t| {
        t.contains("hello")
    })
    .await;
    b.screenshot("confirm-delete").await;
    b.click("#confirm-yes").await;
    b.wait_for_text("h1", "the list", |t| t == "Container groups")
        .await;
    b.wait_for_script(
        "return document.querySelector(\"#group-table a[href*='/quickstart/hello/']\") === null \
         && document.querySelectorAll('#group-table tbody tr').length === 1",
        "the list without hello",
        |v| v == &json!(true),
    )
    .await;
    b.screenshot("deleted").await;
    let gone = p
        .call(
            "GET",
            &TestPlatform::group_path_in(PORTAL_SUB, "quickstart", "hello"),
            None,
        )
        .await;
    assert_eq!(gone.status, 404, "{}", gone.text);
    b.close().await;
}

#[tokio::test]
async fn the_form_shows_each_mistake_beside_its_field() {
    let p = TestPlatform::start().await;
    // Someone already holds the label this user will ask for.
    let mut first = hello_http();
    first["properties"]["ipAddress"]["dnsNameLabel"] = json!("popular-name");
    first["properties"]["ipAddress"]["autoGeneratedDomainNameLabelScope"] = json!("TenantReuse");
    p.create("demo", "first", first).await;

    // Without the link, the portal asks for the token; a wrong one is refused.
    let mut b = Browser::start("form-errors").await;
    b.goto(&format!("{}/", p.api)).await;
    b.type_into("#f-token", "not-the-token").await;
    b.click("#token-form button[type=submit]").await;
    b.wait_for_text("#f-token-error", "the API's refusal", |t| {
        t.contains("The access token is invalid")
    })
    .await;
    b.screenshot("token-refused").await;
    b.type_into("#f-token", &p.token).await;
    b.click("#token-form button[type=submit]").await;
    b.wait_for_text("h1", "the list", |t| t == "Container groups")
        .await;

    // The page catches what it can before asking the API (on a phone, this time)...
    b.set_size(PHONE).await;
    b.goto(&format!("{}/#/create", p.api)).await;
    b.type_into("#f-resourceGroup", "demo").await;
    b.type_into("#f-name", "second").await;
    b.click("#tab-networking").await;
    b.type_into("#f-dnsNameLabel", "No").await;
    b.click("#create-submit").await;
    b.wait_for_text("#f-dnsNameLabel-error", "the page's own check", |t| {
        t.contains("The DNS name label 'No' is invalid")
    })
    .await;
    b.screenshot("label-invalid").await;

    // ...and shows the API's message beside the field it names: the label is taken.
    b.type_into("#f-dnsNameLabel", "popular-name").await;
    b.click("#create-submit").await;
    b.wait_for_text("#review", "the review", |t| t.contains("popular-name"))
        .await;
    b.click("#create-submit").await;
    let message = b
        .wait_for_text("#f-dnsNameLabel-error", "the API's message", |t| {
            !t.is_empty()
        })
        .await;
    assert_eq!(
        message,
        "The DNS name label 'popular-name' in container group 'first' not available. Try using a different label."
    );
    assert_eq!(
        b.attr("#tab-networking", "aria-selected").await.as_deref(),
        Some("true"),
        "the form goes back to the step that holds the field"
    );
    assert_eq!(
        b.attr("#f-dnsNameLabel", "aria-invalid").await.as_deref(),
        Some("true")
    );
    let described = b
        .attr("#f-dnsNameLabel", "aria-describedby")
        .await
        .unwrap_or_default();
    assert!(described.contains("f-dnsNameLabel-error"), "{described}");
    b.assert_fits("the form").await;
    b.screenshot("label-taken").await;

    // An image the platform cannot read: the API names the image field.
    b.type_into("#f-dnsNameLabel", "another-name").await;
    b.click("#tab-basics").await;
    b.click("input[name=imageSource][value=other]").await;
    b.type_into("#f-image", "/no/such/component.wasm").await;
    b.click("#create-submit").await;
    b.wait_for_text("#review", "the review", |t| {
        t.contains("/no/such/component.wasm")
    })
    .await;
    b.click("#create-submit").await;
    b.wait_for_text("#f-image-error", "the API's message about the image", |t| {
        t.contains("image '/no/such/component.wasm' cannot be read")
    })
    .await;
    assert_eq!(
        b.attr("#tab-basics", "aria-selected").await.as_deref(),
        Some("true")
    );
    b.screenshot("image-unreadable").await;

    // Nothing was created by the refused attempts.
    let second = p
        .call(
            "GET",
            &TestPlatform::group_path_in(PORTAL_SUB, "demo", "second"),
            None,
        )
        .await;
    assert_eq!(second.status, 404, "{}", second.text);
    b.close().await;
}

#[tokio::test]
async fn a_groups_overview_charts_its_requests_live() {
    let p = TestPlatform::start().await;
    p.create_at(
        &TestPlatform::group_path_in(PORTAL_SUB, "live", "web"),
        hello_http(),
    )
    .await;
    let mut b = Browser::start("live-charts").await;
    b.goto(&format!(
        "{}/?token={}#/groups/live/web/overview",
        p.api, p.token
    ))
    .await;
    b.wait_for_text("#g-state", "Running", |t| t == "Running")
        .await;
    let ip = b
        .wait_for_text("#g-ip", "the group's IP", |t| t.starts_with("127.77."))
        .await;

    // Requests keep coming while the page reads its figures, as on a live service.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn({
        let (stop, url) = (stop.clone(), format!("http://{ip}/"));
        async move {
            let mut sent = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, _) = http_get(&url).await.expect("the group answers");
                assert_eq!(status, 200);
                sent += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            sent
        }
    });
    let rate = b
        .wait_for_text("#m-rps .chart-value", "a request rate above zero", |t| {
            t.replace(',', "").parse::<f64>().is_ok_and(|r| r > 0.0)
        })
        .await;
    let p99 = b
        .wait_for_text("#m-p99 .chart-value", "a p99 latency", |t| {
            t.starts_with('≤')
        })
        .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(load.await.expect("the load ran") > 0);
    b.wait_for_text("#m-memory .chart-value", "memory in MiB", |t| {
        t.ends_with("MiB")
    })
    .await;
    assert_eq!(b.text("#m-restarts .chart-value").await, "0");
    let drawn = b
        .attr("#m-memory polyline", "points")
        .await
        .unwrap_or_default();
    assert!(
        drawn.split(' ').count() >= 2,
        "the memory chart draws a point per reading: {drawn:?}"
    );
    b.screenshot("live-charts").await;
    eprintln!("live charts: {rate} requests/s, p99 {p99}");
    b.close().await;
}
